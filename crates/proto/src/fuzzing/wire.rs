//! A strict parser for the server's output: reply lines as RFC 5321 §4.2 and RFC 2034 have
//! them, nothing else. Independent of the session's reply writer.

/// One reply as read from the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct WireReply {
    pub(super) code: u16,
    /// `class.subject.detail`, if every line carries one.
    pub(super) enhanced: Option<String>,
    /// The text of each line, enhanced code removed.
    pub(super) lines: Vec<String>,
}

/// Splits the output into replies; `Err` if anything is malformed.
pub(super) fn parse(output: &[u8]) -> Result<Vec<WireReply>, String> {
    let text = std::str::from_utf8(output).map_err(|e| format!("output not UTF-8: {e}"))?;
    if !text.is_empty() && !text.ends_with("\r\n") {
        return Err(format!("output does not end with CRLF: {:?}", tail(text)));
    }
    let mut replies = Vec::new();
    let mut current: Option<WireReply> = None;
    for line in text.split_terminator("\r\n") {
        if line.contains(['\r', '\n']) {
            return Err(format!("bare CR or LF in reply line {line:?}"));
        }
        let (code, rest) = line
            .split_at_checked(3)
            .ok_or(format!("short line {line:?}"))?;
        let code: u16 = code
            .parse()
            .ok()
            .filter(|c| (200..600).contains(c))
            .ok_or(format!("bad code in {line:?}"))?;
        let (more, rest) = match rest.as_bytes().first() {
            None => (false, ""),
            Some(b' ') => (false, &rest[1..]),
            Some(b'-') => (true, &rest[1..]),
            Some(_) => return Err(format!("bad separator in {line:?}")),
        };
        let (enhanced, text) = split_enhanced(rest, code);
        let reply = match current.take() {
            Some(mut reply) => {
                if reply.code != code || reply.enhanced != enhanced {
                    return Err(format!("inconsistent multi-line reply at {line:?}"));
                }
                reply.lines.push(text.to_owned());
                reply
            }
            None => WireReply {
                code,
                enhanced,
                lines: vec![text.to_owned()],
            },
        };
        if more {
            current = Some(reply);
        } else {
            replies.push(reply);
        }
    }
    if current.is_some() {
        return Err("unterminated multi-line reply".into());
    }
    Ok(replies)
}

/// Splits a leading `c.s.d ` enhanced code off, if there is one whose class matches `code`.
fn split_enhanced(rest: &str, code: u16) -> (Option<String>, &str) {
    let token = rest.split(' ').next().unwrap_or("");
    let parts: Vec<&str> = token.split('.').collect();
    let numeric =
        |part: &&str| (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    if parts.len() == 3
        && parts.iter().all(numeric)
        && parts[0].len() == 1
        && parts[0] == (code / 100).to_string()
    {
        let text = rest[token.len()..].strip_prefix(' ').unwrap_or("");
        return (Some(token.to_owned()), text);
    }
    (None, rest)
}

fn tail(text: &str) -> &str {
    let start = text.char_indices().rev().nth(40).map_or(0, |(i, _)| i);
    &text[start..]
}
