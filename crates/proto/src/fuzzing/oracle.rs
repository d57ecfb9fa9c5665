//! The client-side model: replays the recorded input like a pipelining LMTP client that reads
//! every reply, and checks the session's output and messages against RFC 2033 and our
//! contract (see the module documentation of `fuzzing`).
//!
//! The model frames input itself (lines end at LF; DATA ends at CRLF.CRLF; BDAT takes its
//! count) and follows the transaction from the replies (a 2xx to MAIL opens it, a 2xx to
//! RCPT adds an accepted recipient). It never looks inside the session.

use memchr::memchr;
use smtp_proto::Request;

use super::drive::{Mark, Record};
use super::reference::{self, Outcome};
use super::wire::{self, WireReply};
use crate::Reply;
use crate::lmtp::Config;

/// Checks a run; `Err` names the first broken promise, `Ok` counts the replies.
pub(super) fn check(config: &Config, record: &Record) -> Result<usize, String> {
    let mut model = Model {
        config,
        record,
        replies: wire::parse(&record.output)?,
        next_reply: 0,
        next_message: 0,
        next_mark: 0,
        pos: 0,
        greeted: false,
        tx: None,
        errors: 0,
        shutdown: false,
        closed: false,
    };
    model.run()?;
    if model.next_reply != model.replies.len() {
        return Err(format!(
            "extra replies: {:?}",
            &model.replies[model.next_reply..]
        ));
    }
    if model.next_message != record.messages.len() {
        return Err("the session handed over a message the model did not expect".into());
    }
    if model.closed != record.closed {
        return Err(format!(
            "session closed: {}, model closed: {}",
            record.closed, model.closed
        ));
    }
    Ok(model.replies.len())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunking {
    NotStarted,
    Receiving,
    Failed,
}

#[derive(Debug)]
struct Tx {
    accepted: usize,
    chunking: Chunking,
    chunks: Vec<u8>,
}

struct Model<'a> {
    config: &'a Config,
    record: &'a Record,
    replies: Vec<WireReply>,
    next_reply: usize,
    next_message: usize,
    next_mark: usize,
    /// Input consumed so far.
    pos: usize,
    greeted: bool,
    tx: Option<Tx>,
    errors: usize,
    shutdown: bool,
    closed: bool,
}

impl Model<'_> {
    fn run(&mut self) -> Result<(), String> {
        let greeting = self.next("greeting")?;
        if greeting.code != 220 || greeting.enhanced.is_some() {
            return Err(format!("bad greeting {greeting:?}"));
        }
        let input = &self.record.input;
        loop {
            self.marks(0, self.pos + 1)?;
            if self.closed || self.pos >= input.len() {
                return Ok(());
            }
            let Some(lf) = memchr(b'\n', &input[self.pos..]) else {
                return self.marks(self.pos + 1, usize::MAX);
            };
            let end = self.pos + lf + 1;
            self.marks(self.pos + 1, end)?;
            if self.closed {
                return Ok(());
            }
            let line = &input[self.pos..end];
            self.pos = end;
            self.command(line)?;
            if self.shutdown && self.tx.is_none() && !self.closed {
                self.expect_close(421, "4.3.2", "after the transaction, with shutdown pending")?;
            }
        }
    }

    /// Applies the shell actions positioned in `lo..hi`.
    fn marks(&mut self, lo: usize, hi: usize) -> Result<(), String> {
        while let Some(&(at, mark)) = self.record.marks.get(self.next_mark) {
            if self.closed || at >= hi {
                return Ok(());
            }
            if at < lo {
                return Err(format!("model lost track of the action at {at}"));
            }
            self.next_mark += 1;
            match mark {
                Mark::Timeout => self.expect_close(421, "4.4.2", "timeout")?,
                Mark::Eof => self.closed = true,
                Mark::Shutdown if self.tx.is_none() => {
                    self.expect_close(421, "4.3.2", "shutdown while idle")?;
                }
                Mark::Shutdown => self.shutdown = true,
            }
        }
        Ok(())
    }

    fn command(&mut self, line: &[u8]) -> Result<(), String> {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let verb_len = memchr(b' ', content).unwrap_or(content.len());
        let verb = content[..verb_len].to_ascii_uppercase();
        let args_blank = content[verb_len..].iter().all(|&b| b == b' ' || b == b'\t');
        let what = String::from_utf8_lossy(content).into_owned();
        if line.len() > self.config.max_command_line {
            let reply = self.next(&what)?;
            expect(&reply, 500, "5.5.2", &what)?;
            return self.count_error(&reply);
        }
        match verb.as_slice() {
            b"BDAT" if self.config.chunking => {
                if let Ok(Request::Bdat {
                    chunk_size,
                    is_last,
                }) = Request::parse(&mut line.iter())
                {
                    return self.bdat(chunk_size, is_last);
                }
                let reply = self.next(&what)?;
                expect(&reply, 501, "5.5.4", &what)?;
                self.count_error(&reply)
            }
            b"DATA" => self.data(args_blank, &what),
            b"LHLO" => {
                let reply = self.next(&what)?;
                if reply.code == 250 {
                    let hostname = &self.config.hostname;
                    if reply.enhanced.is_some() || reply.lines.first() != Some(hostname) {
                        return Err(format!("bad LHLO reply {reply:?}"));
                    }
                    self.greeted = true;
                    self.tx = None;
                    return Ok(());
                }
                expect(&reply, 501, "5.5.4", &what)?;
                self.count_error(&reply)
            }
            b"MAIL" => {
                let reply = self.next(&what)?;
                if !self.greeted || self.tx.is_some() {
                    expect(&reply, 503, "5.5.1", &what)?;
                } else if reply.code == 250 {
                    expect(&reply, 250, "2.1.0", &what)?;
                    self.tx = Some(Tx {
                        accepted: 0,
                        chunking: Chunking::NotStarted,
                        chunks: Vec::new(),
                    });
                } else if ![501, 552, 553, 555].contains(&reply.code) {
                    return Err(format!("{what}: unexpected {reply:?}"));
                }
                self.count_error(&reply)
            }
            b"RCPT" => {
                let reply = self.next(&what)?;
                let max = self.config.max_recipients;
                match self.tx.as_mut() {
                    Some(tx) if self.greeted && tx.chunking == Chunking::NotStarted => {
                        if reply.code / 100 == 2 {
                            tx.accepted += 1;
                            if tx.accepted > max {
                                return Err(format!("{what}: recipient {} accepted", tx.accepted));
                            }
                        } else if reply.code == 452 && tx.accepted < max {
                            return Err(format!("{what}: 452 with {} accepted", tx.accepted));
                        }
                    }
                    _ => expect(&reply, 503, "5.5.1", &what)?,
                }
                self.count_error(&reply)
            }
            b"RSET" => {
                let reply = self.next(&what)?;
                if reply.code == 250 {
                    self.tx = None;
                }
                self.count_error(&reply)
            }
            b"QUIT" => self.expect_close(221, "2.0.0", &what),
            b"HELO" | b"EHLO" => {
                let reply = self.next(&what)?;
                expect(&reply, 500, "5.5.1", &what)?;
                self.count_error(&reply)
            }
            _ => {
                let reply = self.next(&what)?;
                if reply.code / 100 == 3 {
                    return Err(format!("{what}: unexpected {reply:?}"));
                }
                self.count_error(&reply)
            }
        }
    }

    fn data(&mut self, args_blank: bool, what: &str) -> Result<(), String> {
        let reply = self.next(what)?;
        let refusal = match &self.tx {
            _ if !self.greeted => Some((503, "5.5.1")),
            None => Some((503, "5.5.1")),
            Some(tx) if tx.chunking != Chunking::NotStarted || tx.accepted == 0 => {
                Some((503, "5.5.1"))
            }
            Some(_) if !args_blank => Some((501, "5.5.4")),
            Some(_) => None,
        };
        if let Some((code, enhanced)) = refusal {
            expect(&reply, code, enhanced, what)?;
            return self.count_error(&reply);
        }
        if reply.code != 354 || reply.enhanced.is_some() {
            return Err(format!("{what}: expected 354, got {reply:?}"));
        }
        let input = &self.record.input;
        let start = self.pos;
        let Some(end) = reference::data_end(input, start) else {
            self.pos = input.len();
            return self.marks(start, usize::MAX);
        };
        self.marks(start, end)?;
        if self.closed {
            return Ok(());
        }
        self.pos = end;
        let content = reference::unstuff(&input[start..end - 3]);
        self.end_of_message(&content)
    }

    fn bdat(&mut self, size: usize, last: bool) -> Result<(), String> {
        let input = &self.record.input;
        let start = self.pos;
        let what = format!("BDAT {size}{}", if last { " LAST" } else { "" });
        let end = start.saturating_add(size);
        if end > input.len() {
            self.pos = input.len();
            return self.marks(start, usize::MAX);
        }
        self.marks(start, end)?;
        if self.closed {
            return Ok(());
        }
        self.pos = end;
        let refused = !self.greeted
            || self
                .tx
                .as_ref()
                .is_none_or(|tx| tx.chunking == Chunking::Failed);
        if refused {
            let reply = self.next(&what)?;
            expect(&reply, 503, "5.5.1", &what)?;
            return self.count_error(&reply);
        }
        let Some(tx) = self.tx.as_mut() else {
            return Ok(());
        };
        if tx.accepted == 0 {
            if last {
                // RFC 2033 §4.3: no reply at all.
                self.tx = None;
                return Ok(());
            }
            tx.chunking = Chunking::Failed;
            let reply = self.next(&what)?;
            return expect(&reply, 503, "5.5.1", &what);
        }
        tx.chunks.extend_from_slice(&input[start..end]);
        tx.chunking = Chunking::Receiving;
        if last {
            let content = std::mem::take(&mut tx.chunks);
            return self.end_of_message(&content);
        }
        let reply = self.next(&what)?;
        expect(&reply, 250, "2.0.0", &what)?;
        if reply.lines != [format!("{size} octets received")] {
            return Err(format!("{what}: bad chunk reply {reply:?}"));
        }
        Ok(())
    }

    fn end_of_message(&mut self, content: &[u8]) -> Result<(), String> {
        let tx = self.tx.take().ok_or("end of message without transaction")?;
        match reference::judge(content, self.config) {
            Outcome::Refuse(code, enhanced, text) => {
                for idx in 0..tx.accepted {
                    let reply = self.next("end of data")?;
                    expect(&reply, code, enhanced, "end of data")?;
                    if reply.lines != [text] {
                        return Err(format!("refusal {idx}: {reply:?}, expected {text:?}"));
                    }
                }
            }
            Outcome::Deliver(body) => {
                let message = self
                    .record
                    .messages
                    .get(self.next_message)
                    .ok_or("a message was due but none was handed over")?;
                self.next_message += 1;
                if message.recipients != tx.accepted {
                    return Err(format!(
                        "message for {} recipients, {} accepted",
                        message.recipients, tx.accepted
                    ));
                }
                if message.body != body {
                    return Err(format!(
                        "body {:?} differs from reference {:?}",
                        String::from_utf8_lossy(&message.body),
                        String::from_utf8_lossy(&body)
                    ));
                }
                for given in &message.replies {
                    let reply = self.next("end of data")?;
                    if !same(&reply, given) {
                        return Err(format!("end-of-data reply {reply:?}, shell gave {given:?}"));
                    }
                }
                if message.replies.iter().any(Reply::is_positive) {
                    self.errors = 0;
                }
            }
        }
        Ok(())
    }

    /// Counts a bad-command reply; at the limit, expects the 421 and closes.
    fn count_error(&mut self, reply: &WireReply) -> Result<(), String> {
        let bad = [500, 501, 502, 503, 553, 555].contains(&reply.code)
            && reply.lines != ["No valid recipients"];
        if bad {
            self.errors += 1;
            if self.errors >= self.config.max_errors {
                self.expect_close(421, "4.7.0", "error limit")?;
            }
        }
        Ok(())
    }

    fn expect_close(&mut self, code: u16, enhanced: &str, what: &str) -> Result<(), String> {
        let reply = self.next(what)?;
        expect(&reply, code, enhanced, what)?;
        self.closed = true;
        Ok(())
    }

    fn next(&mut self, what: &str) -> Result<WireReply, String> {
        let reply = self
            .replies
            .get(self.next_reply)
            .cloned()
            .ok_or(format!("no reply to {what:?}"))?;
        self.next_reply += 1;
        let plain = reply.code == 220
            || reply.code == 354
            || (reply.code == 250 && what.to_ascii_uppercase().starts_with("LHLO"));
        if !plain && reply.enhanced.is_none() {
            return Err(format!("{what}: reply without enhanced code {reply:?}"));
        }
        Ok(reply)
    }
}

fn expect(reply: &WireReply, code: u16, enhanced: &str, what: &str) -> Result<(), String> {
    if reply.code != code || reply.enhanced.as_deref() != Some(enhanced) {
        return Err(format!("{what}: expected {code} {enhanced}, got {reply:?}"));
    }
    Ok(())
}

fn same(wire: &WireReply, given: &Reply) -> bool {
    let enhanced = given.enhanced().map(|e| e.to_string());
    wire.code == given.code() && wire.enhanced == enhanced && wire.lines == given.lines()
}
