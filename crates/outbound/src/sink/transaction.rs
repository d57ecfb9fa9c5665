//! The sink's side of a mail transaction: MAIL, RCPT, DATA, BDAT and the end of data, with
//! the script consulted at each step and the record of what was delivered.
//!
//! The connection loop, command parsing and reply flushing are in `session`; the rules are in
//! `script`. Not here: DSN parameters, SIZE beyond the MAIL check, and any content inspection.

use std::io;

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::script::{Decision, When};
use super::session::{Body, Flow, ServerSession};
use super::{Received, Shared};
use crate::reply::{EnhancedCode, Reply};

/// The transaction in progress.
pub(super) struct Txn {
    pub(super) mail_from: String,
    /// Recipients accepted at RCPT.
    pub(super) rcpts: Vec<String>,
    /// The message so far.
    pub(super) data: Vec<u8>,
    /// The body comes with BDAT (DATA is then refused).
    pub(super) bdat: bool,
    /// Reads that carried MAIL, RCPT, DATA or BDAT.
    pub(super) command_reads: u32,
    /// The read the last of those commands came in.
    pub(super) last_read: u64,
    /// A BDAT was refused: later chunks are refused until RSET.
    pub(super) failed: bool,
}

impl ServerSession<'_> {
    /// MAIL FROM: the size limit, the script, then a new transaction.
    pub(super) async fn mail<S: AsyncWrite + Unpin>(
        &mut self,
        address: String,
        size: usize,
        stream: &mut S,
    ) -> io::Result<Flow> {
        if !self.greeted {
            self.say_line("503 5.5.1 Say hello first");
            return Ok(Flow::Continue);
        }
        if self.txn.is_some() {
            self.say_line("503 5.5.1 Nested MAIL command");
            return Ok(Flow::Continue);
        }
        if self.shared.config.auth.is_some() && self.authenticated.is_none() {
            self.shared.count(|c| c.mail_refused += 1);
            self.say_line("530 5.7.0 Authentication required");
            return Ok(Flow::Continue);
        }
        let limit = self.shared.config.size.unwrap_or(0);
        if limit > 0 && size as u64 > limit {
            self.shared.count(|c| c.mail_refused += 1);
            self.say_line("552 5.3.4 Message size exceeds fixed limit");
            return Ok(Flow::Continue);
        }
        let reply =
            match decide(self.shared, &mut self.out, When::Mail, &[&address], stream).await? {
                Decision::Drop => return Ok(Flow::Drop),
                Decision::Reply(reply) => reply,
                Decision::Default => Reply::new(250, Some(EnhancedCode::new(2, 1, 0)), "Ok"),
            };
        if reply.is_positive() {
            self.txn = Some(Txn {
                mail_from: address,
                rcpts: Vec::new(),
                data: Vec::new(),
                bdat: false,
                command_reads: 1,
                last_read: self.read_no,
                failed: false,
            });
        } else {
            self.shared.count(|c| c.mail_refused += 1);
        }
        Ok(self.say(&reply))
    }

    /// RCPT TO: the recipient limit, the script, then the recipient is accepted.
    pub(super) async fn rcpt<S: AsyncWrite + Unpin>(
        &mut self,
        address: String,
        stream: &mut S,
    ) -> io::Result<Flow> {
        let shared = self.shared;
        let Some(txn) = self.txn.as_mut() else {
            self.say_line("503 5.5.1 Need MAIL command");
            return Ok(Flow::Continue);
        };
        note_read(txn, self.read_no);
        let max = shared.config.max_recipients;
        if max > 0 && txn.rcpts.len() >= max {
            shared.count(|c| c.rcpt_refused += 1);
            self.say_line("452 4.5.3 Too many recipients");
            return Ok(Flow::Continue);
        }
        let reply = match decide(shared, &mut self.out, When::Rcpt, &[&address], stream).await? {
            Decision::Drop => return Ok(Flow::Drop),
            Decision::Reply(reply) => reply,
            Decision::Default => Reply::new(250, Some(EnhancedCode::new(2, 1, 5)), "Ok"),
        };
        if reply.is_positive() {
            txn.rcpts.push(address);
        } else {
            shared.count(|c| c.rcpt_refused += 1);
        }
        Ok(self.say(&reply))
    }

    /// DATA: refused without recipients (554 in SMTP, 503 in LMTP), else 354 and the body.
    pub(super) async fn data<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> io::Result<Flow> {
        let Some(txn) = self.txn.as_mut() else {
            self.say_line("503 5.5.1 Need MAIL command");
            return Ok(Flow::Continue);
        };
        note_read(txn, self.read_no);
        if txn.rcpts.is_empty() {
            let lmtp = self.shared.config.lmtp;
            self.say_line(if lmtp {
                "503 5.5.1 No valid recipients"
            } else {
                "554 5.5.1 Error: no valid recipients"
            });
            return Ok(Flow::Continue);
        }
        if txn.bdat {
            self.say_line("503 5.5.1 DATA after BDAT");
            return Ok(Flow::Continue);
        }
        let keys = envelope_keys(txn);
        match decide(self.shared, &mut self.out, When::Data, &keys, stream).await? {
            Decision::Drop => Ok(Flow::Drop),
            Decision::Reply(reply) => {
                self.shared.count(|c| c.data_refused += 1);
                Ok(self.say(&reply))
            }
            Decision::Default => {
                // `self.txn` was checked to be there at the top of this function.
                let txn = self.txn.as_mut().expect("checked above");
                txn.data.clear();
                let mut receiver = DataReceiver::new();
                receiver.ingest(&mut b"\r\n".iter(), &mut txn.data);
                self.body = Body::Data(receiver);
                self.say_line("354 End data with <CR><LF>.<CR><LF>");
                Ok(Flow::Continue)
            }
        }
    }

    /// BDAT: the chunk is always read to its last octet, kept or thrown away.
    pub(super) async fn bdat<S: AsyncWrite + Unpin>(
        &mut self,
        chunk_size: usize,
        is_last: bool,
        stream: &mut S,
    ) -> io::Result<Flow> {
        self.shared.count(|c| c.bdat_chunks += 1);
        let lmtp = self.shared.config.lmtp;
        let usable = self
            .txn
            .as_ref()
            .is_some_and(|txn| !txn.rcpts.is_empty() && !txn.failed);
        if !usable {
            self.body = Body::Discard(BdatReceiver::new(chunk_size, is_last));
            // LMTP answers BDAT LAST without accepted recipients with no reply at all.
            if !(lmtp && is_last && self.txn.is_some()) {
                self.say_line("503 5.5.1 No valid recipients");
            }
            return Ok(Flow::Continue);
        }
        // `usable` implies a transaction.
        let txn = self.txn.as_mut().expect("checked above");
        note_read(txn, self.read_no);
        if !txn.bdat {
            txn.bdat = true;
            txn.data.clear();
            let keys = envelope_keys(txn);
            match decide(self.shared, &mut self.out, When::Data, &keys, stream).await? {
                Decision::Drop => return Ok(Flow::Drop),
                Decision::Reply(reply) => {
                    self.shared.count(|c| c.data_refused += 1);
                    if let Some(txn) = self.txn.as_mut() {
                        txn.failed = true;
                    }
                    self.body = Body::Discard(BdatReceiver::new(chunk_size, is_last));
                    return Ok(self.say(&reply));
                }
                Decision::Default => {}
            }
        }
        self.body = Body::Bdat(BdatReceiver::new(chunk_size, is_last));
        Ok(Flow::Continue)
    }

    /// The reply or replies to the end of data, and the record of what was delivered.
    pub(super) async fn end_of_data<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> io::Result<Flow> {
        let Some(mut txn) = self.txn.take() else {
            return Ok(Flow::Continue);
        };
        let mut delivered = Vec::new();
        let mut flow = Flow::Continue;
        if self.shared.config.lmtp {
            for rcpt in std::mem::take(&mut txn.rcpts) {
                match decide(self.shared, &mut self.out, When::DataEnd, &[&rcpt], stream).await? {
                    Decision::Drop => {
                        flow = Flow::Drop;
                        break;
                    }
                    Decision::Reply(reply) => {
                        self.shared.count(|c| c.data_refused += 1);
                        self.say(&reply);
                    }
                    Decision::Default => {
                        self.say_line(&format!("250 2.0.0 <{rcpt}> Delivered"));
                        delivered.push(rcpt);
                    }
                }
            }
        } else {
            let keys = envelope_keys(&txn);
            match decide(self.shared, &mut self.out, When::DataEnd, &keys, stream).await? {
                Decision::Drop => flow = Flow::Drop,
                Decision::Reply(reply) if !reply.is_positive() => {
                    self.shared.count(|c| c.data_refused += 1);
                    self.say(&reply);
                }
                decision => {
                    let queued = self.shared.next_queue_id();
                    match decision {
                        Decision::Reply(reply) => {
                            self.say(&reply);
                        }
                        _ => self.say_line(&format!("250 2.0.0 Ok: queued as {queued}")),
                    }
                    delivered = std::mem::take(&mut txn.rcpts);
                }
            }
        }
        if !delivered.is_empty() {
            let record_data = self.shared.config.record_data;
            self.shared.record(Received {
                connection: self.connection,
                mail_from: txn.mail_from,
                size: txn.data.len(),
                data: if record_data { txn.data } else { Vec::new() },
                rcpts: delivered,
                bdat: txn.bdat,
                command_reads: txn.command_reads,
                tls: self.tls,
                authenticated: self.authenticated.clone(),
            });
        }
        Ok(flow)
    }
}

/// Applies the script at `when`; sends the replies already due before a scripted delay.
pub(super) async fn decide<S: AsyncWrite + Unpin>(
    shared: &Shared,
    out: &mut Vec<u8>,
    when: When,
    keys: &[&str],
    stream: &mut S,
) -> io::Result<Decision> {
    if shared.has_delays(when) && !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    Ok(shared.decide(when, keys).await)
}

/// Counts the reads that carried this transaction's commands.
fn note_read(txn: &mut Txn, read_no: u64) {
    if txn.last_read != read_no {
        txn.last_read = read_no;
        txn.command_reads += 1;
    }
}

fn envelope_keys(txn: &Txn) -> Vec<&str> {
    std::iter::once(txn.mail_from.as_str())
        .chain(txn.rcpts.iter().map(String::as_str))
        .collect()
}
