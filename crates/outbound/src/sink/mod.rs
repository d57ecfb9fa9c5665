//! An in-process SMTP/LMTP server that plays the members' mail servers in tests and benchmarks.
//!
//! [`Sink::start`] listens on 127.0.0.1 with a free port ([`Sink::start_unix`] on a Unix
//! socket), accepts any number of connections, and records every transaction it accepted:
//! sender, delivered recipients, and the exact data octets after dot-unstuffing. It speaks the
//! protocol faithfully (see `session`: PIPELINING, BDAT, several transactions per connection,
//! RSET, QUIT, LMTP's reply per recipient) and its behaviour is scriptable (see `script`):
//! refusals by sender or recipient, temporary refusals N times then acceptance, delays,
//! hang-ups. Counters say what it saw; [`Sink::wait_for_recipients`] waits for deliveries.
//! Given a certificate ([`SinkTls`]) it offers STARTTLS or speaks implicit TLS; given
//! credentials ([`SinkAuth`]) it offers AUTH PLAIN and LOGIN and wants them before MAIL.
//!
//! Behind the `sink` feature: production builds do not carry it. Never for production traffic:
//! it accepts every recipient, stores everything in memory and has no limits but the script's.

mod auth;
mod pki;
mod script;
mod session;
mod transaction;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use auth::SinkAuth;
pub use pki::TestPki;
pub use script::{Action, Rule, When, reply};

use crate::config::RelayConfig;
use crate::connection::Target;
use script::Decision;
use session::ServerSession;

/// How the sink presents itself and behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Speak LMTP (LHLO only, one reply per recipient after the data) instead of SMTP.
    pub lmtp: bool,
    /// The name in the greeting and the EHLO/LHLO reply.
    pub hostname: String,
    /// Offer PIPELINING. Without it, a client that does not wait for each reply is counted in
    /// [`SinkCounters::pipelining_violations`].
    pub pipelining: bool,
    /// Offer CHUNKING (BDAT).
    pub chunking: bool,
    /// Answer EHLO (SMTP); `false` plays an old server that only knows HELO.
    pub ehlo: bool,
    /// Offer SIZE with this limit (0: no fixed limit) and refuse larger `MAIL ... SIZE=`.
    pub size: Option<u64>,
    /// Recipients accepted per transaction (more get 452 4.5.3); 0 means unlimited.
    pub max_recipients: usize,
    /// Keep the data octets of each transaction (turn off for long benchmarks).
    pub record_data: bool,
    /// Close a connection idle this long with `421 4.4.2`, as a real server's timeout does.
    pub idle_timeout: Option<Duration>,
    /// The scripted behaviour, tried in order.
    pub script: Vec<Rule>,
    /// TLS: STARTTLS offered, or implicit TLS. `None`: STARTTLS is not offered (454).
    pub tls: Option<SinkTls>,
    /// AUTH PLAIN and LOGIN with these credentials, required before MAIL.
    pub auth: Option<SinkAuth>,
}

/// The sink's TLS: its certificate and key, and how it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkTls {
    /// The certificate chain, PEM.
    pub cert_file: PathBuf,
    /// The private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub key_file: PathBuf,
    /// TLS from the first octet instead of STARTTLS.
    pub implicit: bool,
    /// Answer STARTTLS with 220, then hang up instead of the handshake (a broken TLS setup).
    pub fail_handshake: bool,
}

impl SinkConfig {
    /// An SMTP server offering PIPELINING, 8BITMIME, SMTPUTF8 and ENHANCEDSTATUSCODES.
    pub fn smtp() -> SinkConfig {
        SinkConfig {
            lmtp: false,
            hostname: "sink.test".into(),
            pipelining: true,
            chunking: false,
            ehlo: true,
            size: None,
            max_recipients: 0,
            record_data: true,
            idle_timeout: None,
            script: Vec::new(),
            tls: None,
            auth: None,
        }
    }

    /// An LMTP server offering the same.
    pub fn lmtp() -> SinkConfig {
        SinkConfig {
            lmtp: true,
            ..SinkConfig::smtp()
        }
    }

    /// Adds a rule to the script.
    pub fn rule(mut self, when: When, pattern: &str, action: Action) -> SinkConfig {
        self.script.push(Rule::new(when, pattern, action));
        self
    }
}

/// One transaction the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Which connection it came on (1 for the first accepted connection, and so on).
    pub connection: u64,
    /// The reverse-path, without angle brackets.
    pub mail_from: String,
    /// The recipients the message was delivered to (accepted at RCPT and at the end of data).
    pub rcpts: Vec<String>,
    /// The message octets: unstuffed DATA without the terminator, or the BDAT chunks.
    /// Empty when [`SinkConfig::record_data`] is off.
    pub data: Vec<u8>,
    /// The number of message octets, recorded or not.
    pub size: usize,
    /// Whether the body came with BDAT.
    pub bdat: bool,
    /// How many reads carried the transaction's MAIL, RCPT and DATA/BDAT commands: 1 when the
    /// client pipelined them in one write.
    pub command_reads: u32,
    /// Whether the transaction came over TLS.
    pub tls: bool,
    /// The user the client authenticated as, if it did.
    pub authenticated: Option<String>,
}

/// What the sink has seen since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Transactions that delivered to at least one recipient.
    pub transactions: u64,
    /// Recipients delivered.
    pub delivered: u64,
    /// MAIL commands refused.
    pub mail_refused: u64,
    /// RCPT commands refused.
    pub rcpt_refused: u64,
    /// DATA/BDAT refused, or (per recipient in LMTP) refusals at the end of data.
    pub data_refused: u64,
    /// RSET commands.
    pub rsets: u64,
    /// QUIT commands.
    pub quits: u64,
    /// BDAT commands.
    pub bdat_chunks: u64,
    /// Commands sent ahead of a reply although PIPELINING was not offered.
    pub pipelining_violations: u64,
    /// Unknown commands and commands with bad syntax.
    pub bad_commands: u64,
    /// Connections closed because they were idle for the configured time.
    pub idle_closed: u64,
    /// Connections closed by a scripted hang-up.
    pub dropped: u64,
    /// Reads that returned data: about one per client write, so a client that pipelines
    /// across transactions shows about one read per transaction.
    pub reads: u64,
    /// TLS handshakes completed (STARTTLS or implicit).
    pub tls_sessions: u64,
    /// AUTH exchanges that succeeded.
    pub auth_successes: u64,
    /// AUTH exchanges refused with 535.
    pub auth_failures: u64,
}

/// [`Sink::wait_for_recipients`] ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("the sink saw {delivered} delivered recipients, not {wanted}, within {waited:?}")]
pub struct WaitTimedOut {
    /// Recipients delivered when the time ran out.
    pub delivered: u64,
    /// Recipients waited for.
    pub wanted: u64,
    /// How long it waited.
    pub waited: Duration,
}

/// A running sink; dropping it stops the listener and every connection.
pub struct Sink {
    shared: Arc<Shared>,
    endpoint: Endpoint,
    accept: JoinHandle<()>,
}

enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Sink {
    /// Starts a sink on 127.0.0.1 with a port of the system's choice.
    pub async fn start(config: SinkConfig) -> io::Result<Sink> {
        let acceptor = match &config.tls {
            Some(tls) => Some(acceptor(tls)?),
            None => None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared::new(config, acceptor);
        let accept = tokio::spawn(accept_tcp(listener, shared.clone()));
        Ok(Sink {
            shared,
            endpoint: Endpoint::Tcp(addr),
            accept,
        })
    }

    /// Starts a sink on a Unix-domain socket at `path` (which must not exist yet).
    pub async fn start_unix(path: impl AsRef<Path>, config: SinkConfig) -> io::Result<Sink> {
        let path = path.as_ref().to_path_buf();
        let listener = UnixListener::bind(&path)?;
        let shared = Shared::new(config, None);
        let accept = tokio::spawn(accept_unix(listener, shared.clone()));
        Ok(Sink {
            shared,
            endpoint: Endpoint::Unix(path),
            accept,
        })
    }

    /// Where clients connect.
    pub fn target(&self) -> Target {
        match &self.endpoint {
            Endpoint::Tcp(addr) => Target::Tcp {
                host: addr.ip().to_string(),
                port: addr.port(),
            },
            Endpoint::Unix(path) => Target::Unix(path.clone()),
        }
    }

    /// A relay configuration pointing at this sink, in its protocol, with the other settings
    /// at their defaults.
    pub fn relay_config(&self) -> RelayConfig {
        let mut config = RelayConfig {
            lmtp: self.shared.config.lmtp,
            ..RelayConfig::default()
        };
        match &self.endpoint {
            Endpoint::Tcp(addr) => {
                config.host = addr.ip().to_string();
                config.port = addr.port();
            }
            Endpoint::Unix(path) => config.unix_socket = Some(path.clone()),
        }
        config
    }

    /// Every transaction accepted so far, in the order they completed.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().received.clone()
    }

    /// The counters so far.
    pub fn counters(&self) -> SinkCounters {
        self.shared.lock().counters
    }

    /// Waits until at least `wanted` recipients were delivered in total, or `timeout` passed.
    pub async fn wait_for_recipients(
        &self,
        wanted: u64,
        timeout: Duration,
    ) -> Result<(), WaitTimedOut> {
        let mut delivered = self.shared.delivered.subscribe();
        let waited = tokio::time::timeout(timeout, delivered.wait_for(|&n| n >= wanted)).await;
        match waited {
            // The sender lives in `self.shared`, so the channel cannot close while we wait.
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(WaitTimedOut {
                delivered: *self.shared.delivered.borrow(),
                wanted,
                waited: timeout,
            }),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every connection.
        self.accept.abort();
        if let Endpoint::Unix(path) = &self.endpoint {
            let _ = std::fs::remove_file(path);
        }
    }
}

async fn accept_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let id = shared.next_connection();
                let shared = shared.clone();
                connections.spawn(async move {
                    let _ = ServerSession::new(&shared, id).serve_tcp(stream).await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn accept_unix(listener: UnixListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let id = shared.next_connection();
                let shared = shared.clone();
                connections.spawn(async move {
                    let _ = ServerSession::new(&shared, id).serve(stream).await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// State shared by the sink's handle and its connections.
struct Shared {
    config: SinkConfig,
    acceptor: Option<TlsAcceptor>,
    state: Mutex<State>,
    delivered: watch::Sender<u64>,
    queue_ids: AtomicU64,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    counters: SinkCounters,
    /// How often each counted-reply rule answered each key.
    hits: HashMap<(usize, String), u32>,
}

impl Shared {
    fn new(config: SinkConfig, acceptor: Option<TlsAcceptor>) -> Arc<Shared> {
        Arc::new(Shared {
            config,
            acceptor,
            state: Mutex::new(State::default()),
            delivered: watch::Sender::new(0),
            queue_ids: AtomicU64::new(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Critical sections are plain updates; a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, update: impl FnOnce(&mut SinkCounters)) {
        update(&mut self.lock().counters);
    }

    fn next_connection(&self) -> u64 {
        let mut state = self.lock();
        state.counters.connections += 1;
        state.counters.connections
    }

    fn next_queue_id(&self) -> u64 {
        self.queue_ids.fetch_add(1, Ordering::Relaxed)
    }

    fn record(&self, received: Received) {
        let delivered = received.rcpts.len() as u64;
        {
            let mut state = self.lock();
            state.counters.transactions += 1;
            state.counters.delivered += delivered;
            state.received.push(received);
        }
        self.delivered.send_modify(|total| *total += delivered);
    }

    fn has_delays(&self, when: When) -> bool {
        self.config
            .script
            .iter()
            .any(|rule| rule.when == when && matches!(rule.action, Action::Delay(_)))
    }

    /// Applies the rules of `when` to `keys` (see `script`).
    async fn decide(&self, when: When, keys: &[&str]) -> Decision {
        for (index, rule) in self.config.script.iter().enumerate() {
            if rule.when != when {
                continue;
            }
            let Some(key) = rule.matching_key(keys) else {
                continue;
            };
            match &rule.action {
                Action::Delay(delay) => tokio::time::sleep(*delay).await,
                Action::Reply(reply) => return Decision::Reply(reply.clone()),
                Action::Drop => return Decision::Drop,
                Action::ReplyTimes(times, reply) => {
                    let mut state = self.lock();
                    let hits = state
                        .hits
                        .entry((index, key.to_ascii_lowercase()))
                        .or_insert(0);
                    if *hits < *times {
                        *hits += 1;
                        return Decision::Reply(reply.clone());
                    }
                }
            }
        }
        Decision::Default
    }
}

/// The TLS server side from the certificate and key files.
fn acceptor(tls: &SinkTls) -> io::Result<TlsAcceptor> {
    let pem = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    };
    let cert_pem = pem(&tls.cert_file)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::other(format!("{}: {e:?}", tls.cert_file.display())))?;
    let key = PrivateKeyDer::from_pem_slice(&pem(&tls.key_file)?)
        .map_err(|e| io::Error::other(format!("{}: {e:?}", tls.key_file.display())))?;
    let config = ServerConfig::builder_with_provider(crate::tls::ring_provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(io::Error::other)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
