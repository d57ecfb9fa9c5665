//! The two clients the generator can drive, behind one shape: the lean [`LmtpClient`] (the
//! default) and `mailcast_outbound::Connection` in LMTP mode, kept to compare the two.
//!
//! The outbound connection neither keeps the text of a 250 nor tells when the end of data was
//! written, so with it the latency is the whole transaction (MAIL to the last reply) and there
//! are no queue ids. This module translates; it neither retries nor counts.

use std::time::{Duration, Instant};

use mailcast_outbound::protocol::SessionConfig;
use mailcast_outbound::{Connection, EnhancedCode, RcptOutcome, Target, Timeouts};

use crate::client::{LmtpClient, Phase};
use crate::wire::Reply;

/// Which client sends the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientKind {
    /// This crate's client: reply texts kept, latency measured from the end of data.
    #[default]
    Lean,
    /// `mailcast_outbound::Connection` with `lmtp: true`.
    Outbound,
}

/// One transaction's result, whichever client ran it.
pub(crate) struct Attempt {
    /// One verdict per recipient, in envelope order.
    pub verdicts: Vec<Reply>,
    /// See the module doc for what it spans; `None` when no data was sent.
    pub latency: Option<Duration>,
}

/// The connection broke during a transaction.
pub(crate) struct Broken {
    /// The server may have committed the message before the connection broke.
    pub may_have_committed: bool,
    /// What happened, for the report.
    pub reason: String,
}

/// An open session of either kind.
pub(crate) enum Driver {
    Lean(LmtpClient),
    Outbound(Connection),
}

impl Driver {
    /// Opens a session, or says why not.
    pub async fn connect(
        kind: ClientKind,
        target: &Target,
        helo_name: &str,
        limit: Duration,
    ) -> Result<Driver, String> {
        match kind {
            ClientKind::Lean => LmtpClient::connect(target, helo_name, limit)
                .await
                .map(Driver::Lean)
                .map_err(|error| error.to_string()),
            ClientKind::Outbound => {
                let config = SessionConfig {
                    helo_name: helo_name.to_string(),
                    lmtp: true,
                    use_chunking: false,
                };
                let timeouts = Timeouts {
                    connect: limit,
                    command: limit,
                    data: limit,
                };
                Connection::connect(target, config, timeouts)
                    .await
                    .map(Driver::Outbound)
                    .map_err(|error| error.to_string())
            }
        }
    }

    /// Runs one transaction.
    pub async fn send(
        &mut self,
        mail_from: &str,
        rcpts: &[String],
        message: &[u8],
    ) -> Result<Attempt, Broken> {
        match self {
            Driver::Lean(client) => match client.send(mail_from, rcpts, message).await {
                Ok(exchange) => Ok(Attempt {
                    verdicts: exchange.verdicts,
                    latency: exchange.latency,
                }),
                Err(error) => Err(Broken {
                    may_have_committed: error.phase == Phase::AwaitingReplies,
                    reason: error.to_string(),
                }),
            },
            Driver::Outbound(connection) => {
                let started = Instant::now();
                match connection.send_parts(mail_from, rcpts, message).await {
                    Ok(outcomes) => Ok(Attempt {
                        verdicts: outcomes.iter().map(verdict).collect(),
                        latency: Some(started.elapsed()),
                    }),
                    Err(error) => Err(Broken {
                        may_have_committed: error.may_have_delivered(),
                        reason: error.to_string(),
                    }),
                }
            }
        }
    }

    /// Says QUIT.
    pub async fn quit(self) {
        match self {
            Driver::Lean(client) => client.quit().await,
            Driver::Outbound(connection) => connection.quit().await,
        }
    }
}

fn verdict(outcome: &RcptOutcome) -> Reply {
    match outcome.reply() {
        None => Reply::new(250, Some(EnhancedCode::new(2, 0, 0)), ""),
        Some(reply) => reply,
    }
}
