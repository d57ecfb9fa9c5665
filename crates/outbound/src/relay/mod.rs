//! A relay: the connections to one SMTP or LMTP server, pooled and bounded, and the two ways
//! to deliver through them.
//!
//! - [`Relay::transaction`] runs one transaction on a pooled connection: the building block for
//!   personalised and VERP delivery, where the daemon runs many one-recipient transactions
//!   concurrently. It costs a semaphore permit, a pool lock and the outcome vector; buffers
//!   belong to the connection and are reused.
//! - [`Relay::deliver`] splits a recipient list into transactions of at most `max_recipients`
//!   and runs them over up to `max_connections` connections at once (see `deliver`).
//! - [`Relay::send_all`] runs many transactions, each with its own message, on one connection
//!   at a time, pipelined across transactions: how personalised copies go out (see `run`).
//!
//! Strategies, in one place: at most `max_connections` connections are open at any time, busy
//! or idle (a permit is held while a connection is in use, and a new one is opened only when
//! no idle one is left); the most recently used idle connection is reused first, after a
//! non-blocking check that the server has not closed it; a connection is closed after
//! `max_transactions_per_connection` transactions, after `idle_timeout` unused, and after any
//! session failure; a transaction that failed on a *reused* connection before the end of data
//! (a server that closed an idle connection under us) runs again once on a fresh connection,
//! which cannot duplicate the message.
//!
//! TLS and AUTH are set up when a connection is opened (`Connection::connect_secured`); a
//! failure there (no STARTTLS on offer when it is required, a failed handshake or certificate
//! check, refused credentials) is a session failure like an unreachable relay: every
//! recipient waiting for the connection is deferred, and the reason is logged once per outage.
//! With `opportunistic`, a failed handshake is followed at once by a plain session on a new
//! connection (as Postfix's `may` does): the relay's certificate is not checked in that mode,
//! so whoever can break the handshake could as well strip STARTTLS from the EHLO reply.
//!
//! Not here: retries with backoff, MX lookup.

mod deliver;
mod pool;
mod run;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Semaphore;

use crate::config::RelayConfig;
use crate::connection::{Connection, Target};
use crate::envelope::Envelope;
use crate::outcome::RcptOutcome;
use crate::protocol::SessionConfig;
use crate::security::{SessionSecurity, TlsMode};
use crate::tls::TlsClient;
use crate::trouble::{SessionErrorKind, Stage};
use pool::Pool;
pub use run::MessageSource;

/// Counters of a relay since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Connections opened (greeting and hello done).
    pub connections_opened: u64,
    /// Attempts to open a connection that failed (connect, greeting or hello).
    pub connect_failures: u64,
    /// Transactions started on a connection.
    pub transactions: u64,
    /// Transactions run again on a fresh connection because a pooled one had been closed.
    pub retries: u64,
    /// Idle connections in the pool now.
    pub idle_connections: usize,
}

/// Pooled connections to one relay. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    config: RelayConfig,
    target: Target,
    session: SessionConfig,
    security: SessionSecurity,
    /// The TLS client, or why it could not be built (every connection then fails with it).
    tls: Result<Option<Arc<TlsClient>>, String>,
    permits: Semaphore,
    pool: Pool,
    reaper_started: AtomicBool,
    /// Whether the last attempt to open a connection failed (for logging outages once).
    unreachable: AtomicBool,
    connections_opened: AtomicU64,
    connect_failures: AtomicU64,
    transactions: AtomicU64,
    retries: AtomicU64,
}

/// The result of one transaction, and whether the relay could not be reached at all.
struct Attempt {
    outcomes: Vec<RcptOutcome>,
    unreachable: bool,
}

impl Relay {
    /// A relay with an empty pool; connections are opened on demand.
    pub fn new(config: RelayConfig) -> Relay {
        let tls = TlsClient::new(&config.tls, &config.host)
            .map(|client| client.map(Arc::new))
            .map_err(|error| error.to_string());
        if let Err(error) = &tls {
            tracing::error!(relay = %config.target(), %error, "TLS to the relay cannot be set up; mail to it is deferred");
        }
        let inner = Inner {
            target: config.target(),
            session: config.session_config(),
            security: config.session_security(),
            tls,
            permits: Semaphore::new(config.max_connections.max(1)),
            pool: Pool::default(),
            reaper_started: AtomicBool::new(false),
            unreachable: AtomicBool::new(false),
            connections_opened: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            config,
        };
        Relay {
            inner: Arc::new(inner),
        }
    }

    /// The configuration the relay was made with.
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// Runs exactly one transaction on a pooled connection (opening one if none is idle) and
    /// returns one outcome per recipient, in envelope order. Never fails: a relay that cannot
    /// be reached defers every recipient.
    pub async fn transaction(&self, envelope: &Envelope, body: &[u8]) -> Vec<RcptOutcome> {
        self.attempt(&envelope.mail_from, &envelope.rcpts, body)
            .await
            .outcomes
    }

    /// Counters since the relay was made.
    pub fn stats(&self) -> RelayStats {
        let inner = &self.inner;
        RelayStats {
            connections_opened: inner.connections_opened.load(Ordering::Relaxed),
            connect_failures: inner.connect_failures.load(Ordering::Relaxed),
            transactions: inner.transactions.load(Ordering::Relaxed),
            retries: inner.retries.load(Ordering::Relaxed),
            idle_connections: inner.pool.len(),
        }
    }

    /// Closes every idle connection politely (QUIT), for shutdown.
    pub async fn close_idle(&self) {
        for connection in self.inner.pool.drain() {
            connection.quit().await;
        }
    }

    async fn attempt(&self, mail_from: &str, rcpts: &[String], body: &[u8]) -> Attempt {
        if rcpts.is_empty() {
            return Attempt {
                outcomes: Vec::new(),
                unreachable: false,
            };
        }
        let inner = &self.inner;
        // The semaphore is never closed, so acquiring can only wait, not fail.
        let _permit = inner
            .permits
            .acquire()
            .await
            .expect("relay semaphore is never closed");
        let mut retried = false;
        loop {
            // A retry never takes another pooled connection: it may have gone stale the same way.
            let pooled = if retried {
                None
            } else {
                inner.pool.checkout(inner.config.idle_timeout)
            };
            let (mut connection, reused) = match pooled {
                Some(connection) => (connection, true),
                None => match self.open().await {
                    Ok(connection) => (connection, false),
                    Err(outcome) => {
                        return Attempt {
                            outcomes: vec![outcome; rcpts.len()],
                            unreachable: true,
                        };
                    }
                },
            };
            inner.transactions.fetch_add(1, Ordering::Relaxed);
            match connection.send_parts(mail_from, rcpts, body).await {
                Ok(outcomes) => {
                    self.checkin(connection);
                    return Attempt {
                        outcomes,
                        unreachable: false,
                    };
                }
                Err(error) if reused && !retried && !error.may_have_delivered() => {
                    tracing::debug!(relay = %inner.target, %error, "pooled connection failed; retrying on a new one");
                    inner.retries.fetch_add(1, Ordering::Relaxed);
                    retried = true;
                }
                Err(error) => {
                    tracing::debug!(relay = %inner.target, %error, "session with the relay failed");
                    return Attempt {
                        outcomes: error.into_outcomes(),
                        unreachable: false,
                    };
                }
            }
        }
    }

    /// Opens a connection; on failure, the outcome for every recipient that needed it.
    async fn open(&self) -> Result<Connection, RcptOutcome> {
        let inner = &self.inner;
        match self.connect().await {
            Ok(connection) => {
                inner.connections_opened.fetch_add(1, Ordering::Relaxed);
                if inner.unreachable.swap(false, Ordering::Relaxed) {
                    tracing::info!(relay = %inner.target, "the relay can be reached again");
                }
                Ok(connection)
            }
            Err(error) => {
                inner.connect_failures.fetch_add(1, Ordering::Relaxed);
                // Logged once per outage; every deferred recipient carries the details.
                if !inner.unreachable.swap(true, Ordering::Relaxed) {
                    tracing::warn!("cannot open a session with relay {}: {error}", inner.target);
                }
                Err(error.unanswered_outcome())
            }
        }
    }

    /// Connects with the relay's TLS and AUTH settings; with `opportunistic`, a failed
    /// handshake is followed by a plain session.
    async fn connect(&self) -> Result<Connection, crate::SessionError> {
        let inner = &self.inner;
        let timeouts = inner.config.timeouts;
        let tls = match &inner.tls {
            Ok(tls) => tls.clone(),
            Err(why) => {
                let kind = SessionErrorKind::Tls(why.clone());
                return Err(crate::SessionError::new(kind, Stage::Connect));
            }
        };
        let security = inner.security.clone();
        let session = inner.session.clone();
        let result =
            Connection::connect_secured(&inner.target, session, security, tls, timeouts).await;
        let failed_handshake = matches!(&result, Err(error)
            if error.stage() == Stage::Tls && matches!(error.kind(), SessionErrorKind::Tls(_)));
        if !(failed_handshake && inner.security.starttls == TlsMode::Opportunistic) {
            return result;
        }
        if let Err(error) = &result {
            tracing::warn!(relay = %inner.target, %error, "TLS handshake with the relay failed; going on in plain text ([smtp] tls = \"opportunistic\")");
        }
        let plain = SessionSecurity {
            starttls: TlsMode::Off,
            ..inner.security.clone()
        };
        Connection::connect_secured(&inner.target, inner.session.clone(), plain, None, timeouts)
            .await
    }

    /// Returns a connection after a transaction: to the pool, or closed.
    fn checkin(&self, connection: Connection) {
        let inner = &self.inner;
        let config = &inner.config;
        let worn_out = config.max_transactions_per_connection > 0
            && connection.transactions() >= config.max_transactions_per_connection;
        if !connection.is_usable() {
            return;
        }
        if worn_out || config.idle_timeout.is_zero() {
            tokio::spawn(connection.quit());
            return;
        }
        inner.pool.put(connection);
        if !inner.reaper_started.swap(true, Ordering::Relaxed) {
            pool::spawn_reaper(Arc::downgrade(&self.inner));
        }
    }
}
