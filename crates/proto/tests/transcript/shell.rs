//! The fake shell that plays a [`Transcript`]: feeds the client bytes in pieces chosen by a
//! [`Feeding`], answers RCPTs and messages from the transcript's rules, spills bodies with
//! `take_body` if asked, and records the output and the events.

use std::collections::HashMap;

use mailcast_proto::Reply;
use mailcast_proto::lmtp::{BodyType, Session, Step, Transaction, Verdict};

use super::{Item, Target, Transcript, escape};

/// How the client bytes are cut into `feed` calls.
#[derive(Clone, Copy, Debug)]
pub enum Feeding {
    /// Each run of client lines in one call.
    Whole,
    /// One byte per call.
    Bytewise,
    /// Pieces of 1, 2, 3, ... 61 bytes, then again from 1, across the whole input.
    Cycling,
    /// Whole, except that the input is cut in two at this offset.
    SplitAt(usize),
}

/// What the session did.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub output: Vec<u8>,
    pub events: Vec<String>,
}

/// Plays the transcript.
pub fn run(transcript: &Transcript, feeding: Feeding, spill: bool) -> Result<Outcome, String> {
    let mut shell = Shell {
        transcript,
        session: Session::new(transcript.config.clone()),
        spill,
        spilled: HashMap::new(),
        accepted: 0,
        outcome: Outcome {
            output: Vec::new(),
            events: Vec::new(),
        },
    };
    shell.session.greeting();
    let mut offset = 0;
    let mut cycle = 0;
    for item in &transcript.items {
        if shell.session.is_closed() {
            break;
        }
        match item {
            Item::Bytes(bytes) => {
                for piece in pieces(bytes, feeding, offset, &mut cycle) {
                    if shell.session.is_closed() {
                        break;
                    }
                    shell.session.feed(piece);
                    shell.pump()?;
                }
                offset += bytes.len();
            }
            Item::Timeout => shell.session.timeout(),
            Item::Shutdown => shell.session.begin_shutdown(),
            Item::Eof => shell.session.eof(),
        }
        shell.pump()?;
    }
    Ok(shell.outcome)
}

fn pieces<'a>(
    bytes: &'a [u8],
    feeding: Feeding,
    offset: usize,
    cycle: &mut usize,
) -> Vec<&'a [u8]> {
    match feeding {
        Feeding::Whole => vec![bytes],
        Feeding::Bytewise => bytes.chunks(1).collect(),
        Feeding::SplitAt(at) if (offset..offset + bytes.len()).contains(&at) => {
            let (head, tail) = bytes.split_at(at - offset);
            vec![head, tail]
        }
        Feeding::SplitAt(_) => vec![bytes],
        Feeding::Cycling => {
            let mut out = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                *cycle = *cycle % 61 + 1;
                let (piece, tail) = rest.split_at((*cycle).min(rest.len()));
                out.push(piece);
                rest = tail;
            }
            out
        }
    }
}

struct Shell<'a> {
    transcript: &'a Transcript,
    session: Session,
    spill: bool,
    spilled: HashMap<u64, Vec<u8>>,
    accepted: usize,
    outcome: Outcome,
}

impl Shell<'_> {
    fn pump(&mut self) -> Result<(), String> {
        loop {
            match self.session.poll() {
                Step::NeedInput => {
                    if self.spill && self.session.in_data() {
                        let id = self
                            .session
                            .body_id()
                            .ok_or("in_data() without body_id()")?;
                        let taken = self.session.take_body();
                        self.spilled.entry(id).or_default().extend(taken);
                    }
                    let output = self.session.take_output();
                    self.outcome.output.extend(output);
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
                    let rule = self
                        .transcript
                        .rcpt_rules
                        .iter()
                        .find(|(pattern, _)| glob(pattern, &rcpt.forward_path));
                    let verdict = match rule {
                        None => Verdict::Accept,
                        Some((_, reply)) if reply.is_positive() => {
                            Verdict::AcceptWith(reply.clone())
                        }
                        Some((_, reply)) => Verdict::Reject(reply.clone()),
                    };
                    if !matches!(verdict, Verdict::Reject(_)) {
                        self.accepted += 1;
                    }
                    self.session
                        .answer_rcpt(verdict)
                        .map_err(|e| e.to_string())?;
                }
                Step::Message(mut tx) => {
                    if tx.recipients.len() != self.accepted {
                        return Err("message recipients differ from accepted RCPTs".into());
                    }
                    let mut body = self.spilled.remove(&tx.body_id).unwrap_or_default();
                    body.append(&mut tx.body);
                    if body.len() as u64 != tx.size {
                        return Err(format!(
                            "body is {} octets, size says {}",
                            body.len(),
                            tx.size
                        ));
                    }
                    tx.body = body;
                    self.outcome.events.push(render(&tx));
                    let replies = self.replies(&tx.recipients);
                    self.session
                        .answer_message(replies)
                        .map_err(|e| e.to_string())?;
                    self.accepted = 0;
                }
                Step::Close => {
                    let output = self.session.take_output();
                    self.outcome.output.extend(output);
                    if self.outcome.events.last().is_none_or(|e| e != "close") {
                        self.outcome.events.push("close".to_owned());
                    }
                    return Ok(());
                }
            }
        }
    }

    fn replies(&self, recipients: &[String]) -> Vec<Reply> {
        let rules = &self.transcript.message_rules;
        recipients
            .iter()
            .enumerate()
            .map(|(idx, path)| {
                rules
                    .iter()
                    .find(|(target, _)| match target {
                        Target::Index(n) => *n == idx + 1,
                        Target::Pattern(pattern) => glob(pattern, path),
                    })
                    .map_or_else(Reply::ok, |(_, reply)| reply.clone())
            })
            .collect()
    }
}

/// `message from=<...> to=<...>,<...> [BODY=...] [SMTPUTF8] [SIZE=n] via=data|bdat data="..."`.
pub fn render(tx: &Transaction) -> String {
    let path = |p: &String| format!("<{}>", escape(p.as_bytes()));
    let to: Vec<String> = tx.recipients.iter().map(path).collect();
    let mut line = format!(
        "message from={} to={}",
        path(&tx.reverse_path),
        to.join(",")
    );
    match tx.params.body {
        Some(BodyType::SevenBit) => line.push_str(" BODY=7BIT"),
        Some(BodyType::EightBitMime) => line.push_str(" BODY=8BITMIME"),
        None => {}
    }
    if tx.params.smtputf8 {
        line.push_str(" SMTPUTF8");
    }
    if let Some(size) = tx.params.size {
        line.push_str(&format!(" SIZE={size}"));
    }
    let via = if tx.chunked { "bdat" } else { "data" };
    line.push_str(&format!(" via={via} data=\"{}\"", escape(&tx.body)));
    line
}

/// Glob match with `*` only.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|skip| {
                    text.is_char_boundary(head.len() + skip)
                        && glob(tail, &text[head.len() + skip..])
                })
        }
    }
}
