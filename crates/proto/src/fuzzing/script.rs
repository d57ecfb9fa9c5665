//! Turns arbitrary bytes into a session script: a configuration and a sequence of client
//! reads and shell actions, biased towards plausible LMTP so that fuzzing gets deep.
//!
//! Nothing here checks anything; it only builds input.

use crate::lmtp::{BareLineEndings, Config};

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The client's bytes, given to `feed` in one call.
    Read(Vec<u8>),
    /// The shell's timer fires.
    Timeout,
    /// The daemon begins a graceful shutdown.
    Shutdown,
    /// The client closes its side.
    Eof,
}

/// A configuration, a seed for the fake shell, and the actions.
#[derive(Clone, Debug)]
pub struct Script {
    /// The session configuration.
    pub config: Config,
    /// Seed of the fake shell's pseudo-random answers.
    pub seed: u64,
    /// What happens, in order.
    pub actions: Vec<Action>,
}

/// Command lines the script can pick, `{}` replaced by a number from the input.
const TEMPLATES: &[&str] = &[
    "LHLO client.example\r\n",
    "MAIL FROM:<sender@example.org>\r\n",
    "MAIL FROM:<>\r\n",
    "MAIL FROM:<s@example.org> BODY=8BITMIME SIZE={}\r\n",
    "MAIL FROM:<s@example.org> SMTPUTF8\r\n",
    "RCPT TO:<list{}@lists.example>\r\n",
    "RCPT TO:<list{}@lists.example>\r\n",
    "RCPT TO:<list{}@lists.example>\r\n",
    "DATA\r\n",
    "RSET\r\n",
    "NOOP\r\n",
    "QUIT\r\n",
    "HELO x\r\n",
    "VRFY x\r\n",
    "EXPN x\r\n",
    "HELP\r\n",
    "RCPT TO:<bad\r\n",
    "MAIL FROM:<a@b.example> RET=FULL\r\n",
    "XYZZY {}\r\n",
    "RCPT TO:<j\u{f6}rg{}@lists.example>\r\n",
    "DATA\n",
    "LHLO\r\n",
    "BDAT {}\r\n",
    "RCPT TO:<list{}@lists.example> NOTIFY=NEVER\r\n",
];

impl Script {
    /// Decodes a script; every byte string gives one.
    pub fn from_bytes(data: &[u8]) -> Script {
        let mut bytes = Reader { data, pos: 0 };
        let flags = bytes.byte();
        let small = flags & 4 != 0;
        let config = Config {
            hostname: "lists.example".to_owned(),
            chunking: flags & 1 != 0,
            bare_line_endings: if flags & 2 != 0 {
                BareLineEndings::Accept
            } else {
                BareLineEndings::Reject
            },
            max_message_size: if small { 300 } else { 33_554_432 },
            max_recipients: if small { 3 } else { 1000 },
            max_line_length: if small { 40 } else { 65_536 },
            max_command_line: if small { 64 } else { 2048 },
            max_errors: if small { 6 } else { 20 },
        };
        let mut seed = 0u64;
        for _ in 0..8 {
            seed = seed << 8 | u64::from(bytes.byte());
        }
        let mut actions = Vec::new();
        let mut read = Vec::new();
        while !bytes.done() {
            match bytes.byte() % 16 {
                0 => {
                    let len = usize::from(bytes.byte());
                    read.extend_from_slice(bytes.take(len));
                }
                1 => {
                    let len = usize::from(bytes.byte());
                    read.extend(text(bytes.take(len)));
                    read.extend_from_slice(b"\r\n.\r\n");
                }
                2 => {
                    let len = usize::from(bytes.byte() % 40);
                    let last = bytes.byte() & 1 == 1;
                    chunk(&mut read, &text(bytes.take(len)), last);
                }
                3 => actions.push(Action::Read(std::mem::take(&mut read))),
                4 => {
                    flush(&mut read, &mut actions);
                    actions.push(match bytes.byte() % 8 {
                        0 => Action::Eof,
                        1..=3 => Action::Timeout,
                        _ => Action::Shutdown,
                    });
                }
                5..=9 => transaction(&mut bytes, &mut read),
                _ => {
                    let template = TEMPLATES[usize::from(bytes.byte()) % TEMPLATES.len()];
                    let number = bytes.byte();
                    let number = if small { number % 5 } else { number };
                    read.extend_from_slice(template.replace("{}", &number.to_string()).as_bytes());
                }
            }
        }
        flush(&mut read, &mut actions);
        Script {
            config,
            seed,
            actions,
        }
    }
}

/// A whole transaction: maybe LHLO, MAIL, one to four RCPTs, then DATA or BDAT chunks.
fn transaction(bytes: &mut Reader<'_>, read: &mut Vec<u8>) {
    let shape = bytes.byte();
    if shape & 1 == 1 {
        read.extend_from_slice(b"LHLO client.example\r\n");
    }
    read.extend_from_slice(b"MAIL FROM:<sender@example.org>\r\n");
    for idx in 0..=(shape >> 1 & 3) {
        read.extend_from_slice(format!("RCPT TO:<list{idx}@lists.example>\r\n").as_bytes());
    }
    let len = usize::from(bytes.byte());
    let body = text(bytes.take(len));
    if shape & 8 == 0 {
        read.extend_from_slice(b"DATA\r\n");
        read.extend_from_slice(&body);
        read.extend_from_slice(b"\r\n.\r\n");
    } else {
        let split = body.len() / 2;
        chunk(read, &body[..split], false);
        chunk(read, &body[split..], true);
    }
}

/// A BDAT command and its octets.
fn chunk(read: &mut Vec<u8>, octets: &[u8], last: bool) {
    let suffix = if last { " LAST" } else { "" };
    read.extend_from_slice(format!("BDAT {}{suffix}\r\n", octets.len()).as_bytes());
    read.extend_from_slice(octets);
}

/// Maps arbitrary bytes to mostly mail-like text: letters and CRLF lines, with dots at line
/// starts, and now and then a bare CR, bare LF, NUL or 8-bit character.
fn text(bytes: &[u8]) -> Vec<u8> {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 :-<>@";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        match byte % 64 {
            letter @ 0..=47 => out.push(LETTERS[usize::from(letter)]),
            48..=53 => out.extend_from_slice(b"\r\n"),
            54..=56 => out.extend_from_slice(b"\r\n."),
            57 => out.push(b'.'),
            58 => out.push(b'\n'),
            59 => out.push(b'\r'),
            60 => out.push(0),
            61 => out.extend_from_slice(b"\r\n..\r\n"),
            62 => out.extend_from_slice(b"\r\n\r\n"),
            _ => out.extend_from_slice("\u{e9}".as_bytes()),
        }
    }
    out
}

fn flush(read: &mut Vec<u8>, actions: &mut Vec<Action>) {
    if !read.is_empty() {
        actions.push(Action::Read(std::mem::take(read)));
    }
}

/// A cursor that yields zeros once the data runs out.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        byte
    }

    fn take(&mut self, len: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + len).min(self.data.len());
        self.pos = start + len;
        &self.data[start..end]
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}
