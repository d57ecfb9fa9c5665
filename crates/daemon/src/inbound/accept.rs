//! The LMTP server's decisions: RCPT verdicts and the per-recipient end-of-data replies.
//!
//! At the end of data: apply Mailman's intake fix-ups (or refuse everything with `550 5.6.0`
//! when the message cannot be parsed), plan each recipient ([`super::plan`]), commit the stored
//! ones through the spool's group commit, and only then answer `250` for them. Every failure on
//! the way (a list that vanished between RCPT and DATA, a full disk, a failed fsync, an internal
//! error) is a reply for exactly the recipients it concerns; internal failures are 4xx, never 5xx
//! and never 250. Identical recipients in one transaction are stored once and answered alike.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use mailcast_pipeline::Refusal;
use mailcast_pipeline::intake;
use mailcast_proto::Reply;
use mailcast_proto::lmtp::{Config as SessionConfig, Transaction, Verdict};
use mailcast_spool::{Body, Committer, EntryId, SpillFile, Spool, Submission};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::lmtp::connection::Timeouts;
use super::plan::{self, Plan, Planner};
use crate::directory::Directory;
use crate::posting::Posting;

/// The part of a large message already taken from the session: its header section in memory
/// and what followed it in a spill file.
pub struct Spilled {
    /// The header section (blank line included), as received.
    pub head: Vec<u8>,
    /// The bytes after the header section.
    pub file: SpillFile,
}

/// A completed transaction, with the part of its body already spilled to disk.
pub struct Received {
    /// What the session collected.
    pub transaction: Transaction,
    /// The leading part of the message, if it was spilled.
    pub spill: Option<Spilled>,
    /// Part of the body was lost writing the spill file: answer 4xx.
    pub spill_failed: bool,
}

/// Limits of the listener and its sessions.
#[derive(Debug, Clone)]
pub struct AcceptorLimits {
    pub session: Arc<SessionConfig>,
    pub timeouts: Timeouts,
    pub spill_threshold: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

/// Shared by every LMTP connection.
pub struct Acceptor {
    limits: AcceptorLimits,
    hostname: String,
    directory: Directory,
    posting: Arc<Posting>,
    spool: Spool,
    committer: Committer,
    /// The resolver for DMARC policies at LMTP time.
    dns: Option<crate::dns::Dns>,
}

impl Acceptor {
    /// Wires the acceptor.
    pub fn new(
        limits: AcceptorLimits,
        hostname: String,
        directory: Directory,
        posting: Arc<Posting>,
        spool: Spool,
        committer: Committer,
    ) -> Acceptor {
        Acceptor {
            limits,
            hostname,
            directory,
            posting,
            spool,
            committer,
            dns: None,
        }
    }

    /// Looks up DMARC policies at LMTP time with `dns` (else the incoming runner does).
    pub fn with_dns(mut self, dns: crate::dns::Dns) -> Acceptor {
        self.dns = Some(dns);
        self
    }

    pub fn session_config(&self) -> Arc<SessionConfig> {
        self.limits.session.clone()
    }
    pub fn timeouts(&self) -> Timeouts {
        self.limits.timeouts
    }
    pub fn spill_threshold(&self) -> usize {
        self.limits.spill_threshold
    }
    pub fn max_connections(&self) -> usize {
        self.limits.max_connections
    }
    pub fn max_connections_per_ip(&self) -> usize {
        self.limits.max_connections_per_ip
    }

    /// A spill file in the spool's `tmp/`.
    pub fn create_spill(&self) -> mailcast_spool::Result<SpillFile> {
        self.spool.create_spill()
    }

    /// The RCPT verdict: a list address is accepted, anything else is `550 5.1.1`.
    pub fn check_recipient(&self, forward_path: &str) -> Verdict {
        match plan::resolve(&self.directory.snapshot(), forward_path) {
            Ok(_) => Verdict::Accept,
            Err(refusal) => {
                metrics::counter!("mailcast_lmtp_rcpt_refused_total").increment(1);
                Verdict::Reject(to_reply(&refusal))
            }
        }
    }

    /// The end-of-data replies: exactly one per accepted recipient, in order.
    pub async fn deliver(&self, received: Received) -> Vec<Reply> {
        let n = received.transaction.recipients.len();
        let started = Instant::now();
        let replies = match self.try_deliver(received).await {
            Ok(replies) => replies,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "cannot accept message");
                vec![temporary_failure(); n]
            }
        };
        debug_assert_eq!(replies.len(), n);
        metrics::histogram!("mailcast_lmtp_delivery_seconds")
            .record(started.elapsed().as_secs_f64());
        for r in &replies {
            let result = match r.code() {
                250 => "accepted",
                400..=499 => "deferred",
                _ => "refused",
            };
            metrics::counter!("mailcast_lmtp_recipients_total", "result" => result).increment(1);
        }
        replies
    }

    async fn try_deliver(&self, received: Received) -> anyhow::Result<Vec<Reply>> {
        let Received {
            transaction: tx,
            spill,
            spill_failed,
        } = received;
        let n = tx.recipients.len();
        if spill_failed {
            return Ok(vec![temporary_failure(); n]);
        }
        let Transaction {
            reverse_path,
            recipients,
            body,
            size,
            ..
        } = tx;
        let generated_id = crate::ids::message_id(&self.hostname);
        // The message as it will be stored, in the buffer the session filled: the fixed header
        // section spliced over the received one. For a spilled message, the fixed header
        // section alone (the rest is in the file).
        let (message, spill) = match spill {
            None => match intake::fix_message_in_place(body, &reverse_path, &generated_id) {
                Ok(message) => (message, None),
                Err(e) => return Ok(vec![to_reply(&e.refusal()); n]),
            },
            Some(Spilled { head, mut file }) => {
                file.write_all(&body)?;
                match intake::fix_headers(&head, &reverse_path, &generated_id) {
                    Ok(fixed) => (fixed, Some(file)),
                    Err(e) => return Ok(vec![to_reply(&e.refusal()); n]),
                }
            }
        };

        let snapshot = self.directory.snapshot();
        let mut replies: Vec<Option<Reply>> = vec![None; n];
        // Index of the first occurrence of each recipient (case-insensitively).
        let first: Vec<usize> = (0..n)
            .map(|i| {
                (0..i)
                    .find(|&j| recipients[j].eq_ignore_ascii_case(&recipients[i]))
                    .unwrap_or(i)
            })
            .collect();
        let mut envelopes = Vec::new();
        let mut stored = Vec::new();
        // What the posting rules see: the whole message, or only its header section when the
        // body was spilled to disk.
        let mut planner = Planner::new(&snapshot, &self.posting, &reverse_path, &message, size)
            .with_dns(self.dns.as_ref());
        if spill.is_some() {
            planner = planner.headers_only();
        }
        for i in (0..n).filter(|&i| first[i] == i) {
            match planner.plan(&recipients[i]).await? {
                Plan::Store(envelope) => {
                    envelopes.push(envelope);
                    stored.push(i);
                }
                Plan::Refuse(refusal) => replies[i] = Some(to_reply(&refusal)),
                Plan::Discard(reason) => {
                    debug!(%reason, "post discarded by list policy");
                    metrics::counter!("mailcast_posts_total", "result" => "discarded").increment(1);
                    replies[i] = Some(Reply::new(250, (2, 0, 0), "Ok: discarded by list policy"));
                }
            }
        }
        drop(planner);
        if !envelopes.is_empty() {
            let body = match spill {
                None => Body::Bytes(message),
                Some(spill) => Body::Spilled {
                    head: message,
                    spill,
                },
            };
            let mut submission = Submission::new(body, envelopes);
            submission.original_size = Some(size);
            match self.commit(submission).await {
                Ok(ids) => {
                    for (&i, id) in stored.iter().zip(&ids) {
                        replies[i] =
                            Some(Reply::new(250, (2, 0, 0), format!("Ok: queued as {id}")));
                    }
                }
                Err(e) => {
                    warn!(error = %e, "commit failed");
                    for &i in &stored {
                        replies[i] = Some(spool_failure(&e));
                    }
                }
            }
        }
        Ok((0..n)
            .map(|i| replies[first[i]].clone().unwrap_or_else(temporary_failure))
            .collect())
    }

    async fn commit(&self, submission: Submission) -> mailcast_spool::Result<Vec<EntryId>> {
        let (tx, rx) = oneshot::channel();
        self.committer.submit(
            submission,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        rx.await.unwrap_or(Err(mailcast_spool::Error::ShutDown))
    }
}

/// A pipeline refusal as an LMTP reply.
pub fn to_reply(refusal: &Refusal) -> Reply {
    let mut parts = refusal
        .enhanced
        .split('.')
        .map(|p| p.parse::<u16>().unwrap_or(0));
    let class = parts.next().unwrap_or(5) as u8;
    let (subject, detail) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    Reply::new(refusal.code, (class, subject, detail), refusal.text.clone())
}

fn temporary_failure() -> Reply {
    Reply::new(
        451,
        (4, 3, 0),
        "Requested action aborted: error in processing, try again later",
    )
}

/// A spool failure is always temporary; a full disk says so.
fn spool_failure(e: &mailcast_spool::Error) -> Reply {
    if let mailcast_spool::Error::Io { source, .. } = e
        && source.raw_os_error() == Some(28)
    {
        return Reply::new(
            452,
            (4, 3, 1),
            "Insufficient system storage, try again later",
        );
    }
    temporary_failure()
}
