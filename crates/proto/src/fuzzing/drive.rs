//! The fake shell: drives a session through a script, answers it pseudo-randomly, and
//! records everything the oracle needs (input as fed, action positions, output, messages).
//!
//! It checks only what the shell itself can see: API contracts (answers accepted, misuse
//! refused), RCPT indexes, and that a spilled-plus-final body adds up to the announced size.

use std::collections::HashMap;
use std::sync::Arc;

use super::script::{Action, Script};
use crate::Reply;
use crate::lmtp::{Session, Step, UsageError, Verdict};

/// A shell action, positioned in the input stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mark {
    Timeout,
    Shutdown,
    Eof,
}

/// A message the session handed over, and how the shell answered it.
#[derive(Debug)]
pub(super) struct Delivered {
    pub(super) recipients: usize,
    pub(super) chunked: bool,
    pub(super) body: Vec<u8>,
    pub(super) replies: Vec<Reply>,
}

/// Everything that happened.
#[derive(Debug, Default)]
pub(super) struct Record {
    /// All bytes fed, in order.
    pub(super) input: Vec<u8>,
    /// Actions, at the input length when they happened.
    pub(super) marks: Vec<(usize, Mark)>,
    pub(super) output: Vec<u8>,
    pub(super) messages: Vec<Delivered>,
    pub(super) closed: bool,
}

/// Runs the script.
pub(super) fn run(script: &Script) -> Result<Record, String> {
    let mut shell = Shell {
        session: Session::new(Arc::new(script.config.clone())),
        rng: script.seed | 1,
        record: Record::default(),
        spilled: HashMap::new(),
        accepted: 0,
    };
    shell.session.greeting();
    shell.pump()?;
    for action in &script.actions {
        if shell.record.closed {
            break;
        }
        let at = shell.record.input.len();
        match action {
            Action::Read(bytes) => {
                shell.record.input.extend_from_slice(bytes);
                shell.session.feed(bytes);
            }
            Action::Timeout => {
                shell.record.marks.push((at, Mark::Timeout));
                shell.session.timeout();
            }
            Action::Shutdown => {
                shell.record.marks.push((at, Mark::Shutdown));
                shell.session.begin_shutdown();
            }
            Action::Eof => {
                shell.record.marks.push((at, Mark::Eof));
                shell.session.eof();
            }
        }
        shell.pump()?;
    }
    let output = shell.session.take_output();
    shell.record.output.extend(output);
    Ok(shell.record)
}

struct Shell {
    session: Session,
    rng: u64,
    record: Record,
    /// Body bytes taken with `take_body`, by body number.
    spilled: HashMap<u64, Vec<u8>>,
    /// Recipients accepted so far in the current transaction, as the shell counts them.
    accepted: usize,
}

impl Shell {
    fn random(&mut self, below: u64) -> u64 {
        // xorshift64: deterministic, no dependency.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below
    }

    /// Polls until the session needs input or closes, answering what it asks.
    fn pump(&mut self) -> Result<(), String> {
        loop {
            match self.session.poll() {
                Step::NeedInput => {
                    if self.session.in_data() && self.random(2) == 0 {
                        let id = self.session.body_id().ok_or("in_data without body_id")?;
                        let bytes = self.session.take_body();
                        self.spilled.entry(id).or_default().extend(bytes);
                    }
                    if self.session.answer_rcpt(Verdict::Accept) != Err(UsageError::NoRcptPending) {
                        return Err("answer_rcpt accepted without a pending RCPT".into());
                    }
                    let output = self.session.take_output();
                    self.record.output.extend(output);
                    return Ok(());
                }
                Step::Rcpt(rcpt) => {
                    if rcpt.index == 0 {
                        self.accepted = 0;
                    }
                    if rcpt.index != self.accepted {
                        return Err(format!(
                            "RCPT index {} after {} accepted",
                            rcpt.index, self.accepted
                        ));
                    }
                    let verdict = match self.random(20) {
                        0..=13 => Verdict::Accept,
                        14 => Verdict::AcceptWith(Reply::new(250, (2, 1, 5), "Recipient ok")),
                        15..=17 => Verdict::Reject(Reply::no_such_list()),
                        _ => Verdict::Reject(Reply::temporary_failure()),
                    };
                    if matches!(verdict, Verdict::Accept | Verdict::AcceptWith(_)) {
                        self.accepted += 1;
                    }
                    self.session
                        .answer_rcpt(verdict)
                        .map_err(|e| e.to_string())?;
                }
                Step::Message(tx) => {
                    if tx.recipients.len() != self.accepted || tx.recipients.is_empty() {
                        return Err(format!(
                            "message for {} recipients, shell accepted {}",
                            tx.recipients.len(),
                            self.accepted
                        ));
                    }
                    let mut body = self.spilled.remove(&tx.body_id).unwrap_or_default();
                    body.extend_from_slice(&tx.body);
                    if body.len() as u64 != tx.size {
                        return Err(format!(
                            "body of {} octets announced as {}",
                            body.len(),
                            tx.size
                        ));
                    }
                    let wrong = vec![Reply::ok(); tx.recipients.len() + 1];
                    if !matches!(
                        self.session.answer_message(wrong),
                        Err(UsageError::ReplyCount { .. })
                    ) {
                        return Err("answer_message accepted a wrong reply count".into());
                    }
                    let replies: Vec<Reply> = (0..tx.recipients.len())
                        .map(|_| match self.random(10) {
                            0..=6 => Reply::ok(),
                            7 => Reply::temporary_failure(),
                            8 => Reply::new(550, (5, 7, 1), "Rejected by list policy"),
                            _ => Reply::new(552, (5, 2, 3), "Too big for this list"),
                        })
                        .collect();
                    self.session
                        .answer_message(replies.clone())
                        .map_err(|e| e.to_string())?;
                    self.accepted = 0;
                    self.record.messages.push(Delivered {
                        recipients: tx.recipients.len(),
                        chunked: tx.chunked,
                        body,
                        replies,
                    });
                }
                Step::Close => {
                    self.record.closed = true;
                    let output = self.session.take_output();
                    self.record.output.extend(output);
                    return Ok(());
                }
            }
        }
    }
}
