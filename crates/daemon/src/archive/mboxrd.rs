//! The mboxrd format, pure: the `From ` line that starts a message and the record appended
//! for one message (RFC 4155; the "rd" quoting, which can be undone exactly).
//!
//! A record is `From <sender> <asctime>\n`, the message with its CRLF line ends written as LF
//! (the Unix mbox convention that mutt, Python's `mailbox` and `grep` expect) and every line
//! that matches `^>*From ` given one more `>`, a final LF if the message lacks one, and one
//! empty line. Python's `mailbox.mbox` reads such a record back as exactly the quoted message.

use jiff::Timestamp;

/// The `From ` line (without its LF): the envelope sender, `MAILER-DAEMON` for the null
/// sender, and the receipt time in UTC as C's `asctime` writes it.
pub fn from_line(sender: &str, received_at: Timestamp) -> String {
    let sender: String = sender
        .trim()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let sender = if sender.is_empty() {
        "MAILER-DAEMON".to_string()
    } else {
        sender
    };
    format!(
        "From {sender} {}",
        received_at.strftime("%a %b %e %H:%M:%S %Y")
    )
}

/// Whether `line` (without its line end) must get one more `>`.
fn needs_quoting(line: &[u8]) -> bool {
    let rest = &line[line.iter().take_while(|&&b| b == b'>').count()..];
    rest.starts_with(b"From ")
}

/// The message's lines as stored: CRLF to LF, `^>*From ` quoted, ending with LF.
pub fn quote(message: &[u8]) -> Vec<u8> {
    rewrite_lines(message, true)
}

/// The message with Unix line ends (CRLF to LF, a final LF added), not quoted: how the
/// prototype archiver's Maildir files are written, as Python's `mailbox` writes them.
pub fn unix_lines(message: &[u8]) -> Vec<u8> {
    rewrite_lines(message, false)
}

fn rewrite_lines(message: &[u8], quoting: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut rest = message;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if quoting && needs_quoting(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        rest = next;
    }
    out
}

/// The whole record appended for one message.
pub fn record(from_line: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(from_line.len() + message.len() + 80);
    out.extend_from_slice(from_line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&quote(message));
    out.push(b'\n');
    out
}

/// Where the last complete record of `tail` (the end of an mbox file) ends: the length to
/// keep after a crash tore the last append. A file written only through [`record`] ends with
/// an empty line; anything after the last `\n\nFrom ` (or a `From ` at the start) that does
/// not is cut. `None`: nothing to cut.
pub fn torn_tail(tail: &[u8], tail_starts_at_file_start: bool) -> Option<usize> {
    if tail.is_empty() || tail.ends_with(b"\n\n") {
        return None;
    }
    let boundary = tail
        .windows(7)
        .rposition(|w| w == b"\n\nFrom ")
        .map(|i| i + 2);
    match boundary {
        Some(at) => Some(at),
        None if tail_starts_at_file_start => Some(0),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn from_lines_look_like_asctime() {
        assert_eq!(
            from_line("ann@example.com", at("2026-12-07T08:04:05Z")),
            "From ann@example.com Mon Dec  7 08:04:05 2026"
        );
        assert_eq!(
            from_line("", at("2026-01-17T23:59:59Z")),
            "From MAILER-DAEMON Sat Jan 17 23:59:59 2026"
        );
        assert_eq!(
            from_line("\"a b\"@example.com", at("2026-01-17T23:59:59Z")),
            "From \"a_b\"@example.com Sat Jan 17 23:59:59 2026"
        );
    }

    #[test]
    fn from_lines_in_the_body_are_quoted_reversibly() {
        let message = b"Subject: s\r\n\r\nFrom here\r\n>From there\r\n>>From x\r\nFrom\r\n From y\r\nFromage\r\n";
        assert_eq!(
            quote(message),
            b"Subject: s\n\n>From here\n>>From there\n>>>From x\nFrom\n From y\nFromage\n"
        );
    }

    #[test]
    fn records_end_with_an_empty_line() {
        let from = "From a@example.com Mon Dec  7 08:04:05 2026";
        assert_eq!(
            record(from, b"A: b\r\n\r\nno final newline"),
            b"From a@example.com Mon Dec  7 08:04:05 2026\nA: b\n\nno final newline\n\n"
        );
        assert_eq!(record(from, b"A: b\n\nx\n").len(), from.len() + 1 + 8 + 1);
        assert!(quote(b"a\rb\r\n").starts_with(b"a\rb\n"), "a lone CR stays");
        assert_eq!(unix_lines(b"A: b\r\n\r\nFrom x"), b"A: b\n\nFrom x\n");
    }

    #[test]
    fn a_torn_append_is_cut_at_the_last_record() {
        let one = record("From a Mon Dec  7 08:04:05 2026", b"A: b\r\n\r\nx\r\n");
        let mut file = one.clone();
        assert_eq!(torn_tail(&file, true), None);
        file.extend_from_slice(b"From a Mon Dec  7 08:04:06 2026\nA: b\n\nhal");
        assert_eq!(torn_tail(&file, true), Some(one.len()));
        assert_eq!(
            torn_tail(b"From a Mon Dec  7 08:04:06 2026\nA:", true),
            Some(0)
        );
        assert_eq!(torn_tail(b"no boundary in this window", false), None);
        assert_eq!(torn_tail(b"", true), None);
    }
}
