//! The transcript format of `testdata/lmtp/*.txt` (described in `testdata/lmtp/README.md`):
//! parsing a file into a [`Transcript`], and the escape syntax shared by client bytes,
//! expected output and expected events.

pub mod shell;

use std::sync::Arc;

use mailcast_proto::Reply;
use mailcast_proto::lmtp::{BareLineEndings, Config};

/// Something that happens on the client or shell side, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Client bytes (consecutive `C:`/`C|` lines, merged).
    Bytes(Vec<u8>),
    Timeout,
    Shutdown,
    Eof,
}

/// Which recipients a rule applies to.
#[derive(Clone, Debug)]
pub enum Target {
    /// A forward-path pattern, `*` matching any run of characters.
    Pattern(String),
    /// The Nth accepted recipient of a message (1-based).
    Index(usize),
}

/// A parsed transcript.
#[derive(Debug)]
pub struct Transcript {
    pub config: Arc<Config>,
    pub rcpt_rules: Vec<(String, Reply)>,
    pub message_rules: Vec<(Target, Reply)>,
    pub items: Vec<Item>,
    pub output: Vec<u8>,
    pub events: Vec<String>,
}

/// Parses a transcript file.
pub fn parse(text: &str) -> Result<Transcript, String> {
    let mut config = Config {
        hostname: "lists.example.org".to_owned(),
        ..Config::default()
    };
    let mut transcript = Transcript {
        config: Arc::new(Config::default()),
        rcpt_rules: Vec::new(),
        message_rules: Vec::new(),
        items: Vec::new(),
        output: Vec::new(),
        events: Vec::new(),
    };
    for (number, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", number + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let after = |prefix: &str| {
            line.strip_prefix(prefix)
                .map(|r| r.strip_prefix(' ').unwrap_or(r))
        };
        if let Some(rest) = after("C:") {
            let mut bytes = unescape(rest).map_err(at)?;
            bytes.extend_from_slice(b"\r\n");
            push_bytes(&mut transcript.items, bytes);
        } else if let Some(rest) = after("C|") {
            push_bytes(&mut transcript.items, unescape(rest).map_err(at)?);
        } else if let Some(rest) = after("S:") {
            transcript.output.extend(unescape(rest).map_err(at)?);
            transcript.output.extend_from_slice(b"\r\n");
        } else if let Some(rest) = line.strip_prefix("E: ") {
            transcript.events.push(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("A: ") {
            transcript.items.push(match rest.trim() {
                "timeout" => Item::Timeout,
                "shutdown" => Item::Shutdown,
                "eof" => Item::Eof,
                other => return Err(at(format!("unknown action {other:?}"))),
            });
        } else if let Some(rest) = line.strip_prefix("config ") {
            set_config(&mut config, rest.trim()).map_err(at)?;
        } else if let Some(rest) = line.strip_prefix("rcpt ") {
            let (pattern, reply) = rest
                .trim()
                .split_once(' ')
                .ok_or(at("rcpt needs a reply".into()))?;
            transcript
                .rcpt_rules
                .push((pattern.to_owned(), parse_reply(reply).map_err(at)?));
        } else if let Some(rest) = line.strip_prefix("message ") {
            let (target, reply) = rest
                .trim()
                .split_once(' ')
                .ok_or(at("message needs a reply".into()))?;
            let target = match target.strip_prefix('#') {
                Some(index) => Target::Index(index.parse().map_err(|_| at("bad index".into()))?),
                None => Target::Pattern(target.to_owned()),
            };
            transcript
                .message_rules
                .push((target, parse_reply(reply).map_err(at)?));
        } else {
            return Err(at(format!("cannot read {line:?}")));
        }
    }
    transcript.config = Arc::new(config);
    Ok(transcript)
}

fn push_bytes(items: &mut Vec<Item>, bytes: Vec<u8>) {
    match items.last_mut() {
        Some(Item::Bytes(previous)) => previous.extend(bytes),
        _ => items.push(Item::Bytes(bytes)),
    }
}

fn set_config(config: &mut Config, setting: &str) -> Result<(), String> {
    let (key, value) = setting.split_once('=').ok_or("config needs KEY=VALUE")?;
    let number = || value.parse::<usize>().map_err(|e| format!("{key}: {e}"));
    match key {
        "hostname" => config.hostname = value.to_owned(),
        "max_message_size" => config.max_message_size = number()? as u64,
        "max_recipients" => config.max_recipients = number()?,
        "max_line_length" => config.max_line_length = number()?,
        "max_command_line" => config.max_command_line = number()?,
        "max_errors" => config.max_errors = number()?,
        "chunking" => config.chunking = value == "true",
        "bare_line_endings" => {
            config.bare_line_endings = match value {
                "reject" => BareLineEndings::Reject,
                "accept" => BareLineEndings::Accept,
                _ => return Err(format!("bare_line_endings={value}?")),
            }
        }
        _ => return Err(format!("unknown config key {key}")),
    }
    Ok(())
}

/// `CODE X.Y.Z text`.
fn parse_reply(text: &str) -> Result<Reply, String> {
    let mut parts = text.splitn(3, ' ');
    let code: u16 = parts
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| "bad reply code")?;
    let enhanced: Vec<u16> = parts
        .next()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse().map_err(|_| "bad enhanced code"))
        .collect::<Result<_, _>>()?;
    let [class, subject, detail] = enhanced[..] else {
        return Err("bad enhanced code".into());
    };
    Ok(Reply::new(
        code,
        (class as u8, subject, detail),
        parts.next().unwrap_or(""),
    ))
}

/// Decodes `\r \n \t \0 \\ \" \xHH` and `\{N}X` (X, one character or escape, N times).
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let count: String = chars.by_ref().take_while(|&c| c != '}').collect();
            let count: usize = count
                .parse()
                .map_err(|_| format!("bad repeat count {count:?}"))?;
            let unit = match chars.next() {
                Some('\\') => escape_byte(&mut chars)?,
                Some(c) => {
                    let mut buf = [0; 4];
                    c.encode_utf8(&mut buf).as_bytes().to_vec()
                }
                None => return Err("repeat without a character".into()),
            };
            for _ in 0..count {
                out.extend_from_slice(&unit);
            }
            continue;
        }
        out.extend(escape_byte(&mut chars)?);
    }
    Ok(out)
}

fn escape_byte(chars: &mut impl Iterator<Item = char>) -> Result<Vec<u8>, String> {
    Ok(vec![match chars.next() {
        Some('r') => b'\r',
        Some('n') => b'\n',
        Some('t') => b'\t',
        Some('0') => 0,
        Some('\\') => b'\\',
        Some('"') => b'"',
        Some('x') => {
            let hex: String = chars.take(2).collect();
            u8::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?
        }
        other => return Err(format!("unknown escape \\{other:?}")),
    }])
}

/// The inverse of [`unescape`], with runs of 8 or more equal bytes written as `\{N}X`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut idx = 0;
    while idx < bytes.len() {
        let byte = bytes[idx];
        let run = bytes[idx..].iter().take_while(|&&b| b == byte).count();
        if run >= 8 {
            out.push_str(&format!("\\{{{run}}}"));
        }
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0 => out.push_str("\\0"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
        idx += if run >= 8 { run } else { 1 };
    }
    out
}
