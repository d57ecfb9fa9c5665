//! The envelope that Postfix's virtual(8) left in a Maildir message: the `Return-Path:` and
//! `Delivered-To:` fields it prepends to every message it delivers.
//!
//! virtual(8) writes `Return-Path: <sender>` (`<>` for the null sender), `X-Original-To:` and
//! `Delivered-To: recipient` (with its `+extension`, case as received) above the message, with
//! bare LF line ends. The topmost field of each name is the one this delivery added; older
//! `Delivered-To:` fields further down come from earlier hops and are ignored. Pure parsing of
//! a header section: no I/O, and it never fails (a message without these fields gets `None`).

/// The envelope fields found at the top of a Maildir message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// The envelope sender from the first `Return-Path:` (empty for the null sender).
    pub return_path: Option<String>,
    /// The recipient from the first `Delivered-To:`, as written.
    pub delivered_to: Option<String>,
}

/// Reads [`Trace`] from the start of a message (`head` may stop anywhere, even mid-line).
pub fn read_trace(head: &[u8]) -> Trace {
    let mut trace = Trace::default();
    for (name, value) in fields(head) {
        if name.eq_ignore_ascii_case(b"return-path") && trace.return_path.is_none() {
            trace.return_path = Some(sender_of(&value));
        } else if name.eq_ignore_ascii_case(b"delivered-to") && trace.delivered_to.is_none() {
            let address = strip_brackets(&value);
            if !address.is_empty() {
                trace.delivered_to = Some(address.to_string());
            }
        }
        if trace.return_path.is_some() && trace.delivered_to.is_some() {
            break;
        }
    }
    trace
}

/// The header fields of `head` as (name, unfolded value), up to the blank line that ends the
/// header section. Lines end in LF or CRLF; a last line without its line end is dropped, since
/// it may have been cut by the caller's read limit.
fn fields(head: &[u8]) -> Vec<(&[u8], String)> {
    let mut out: Vec<(&[u8], String)> = Vec::new();
    let mut rest = head;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        rest = &rest[end + 1..];
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A continuation line belongs to the previous field.
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let value = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_string();
            out.push((&line[..colon], value));
        }
    }
    out
}

/// The address inside optional angle brackets, trimmed.
fn strip_brackets(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(value)
        .trim()
}

/// The envelope sender of a `Return-Path:` value; `<>` and `MAILER-DAEMON` are the null sender.
fn sender_of(value: &str) -> String {
    let address = strip_brackets(value);
    if address.eq_ignore_ascii_case("MAILER-DAEMON") {
        String::new()
    } else {
        address.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(return_path: Option<&str>, delivered_to: Option<&str>) -> Trace {
        Trace {
            return_path: return_path.map(String::from),
            delivered_to: delivered_to.map(String::from),
        }
    }

    #[test]
    fn postfix_virtual_fields() {
        // As virtual(8) writes them (tests/postfix.rs delivers through a real one).
        let head = b"Return-Path: <a@remote.test>\nX-Original-To: list+ext@vm.test\n\
            Delivered-To: list+ext@vm.test\nReceived: from x\n\tby y;\n\tMon, 30 Nov 2026\n\
            Delivered-To: older@elsewhere.test\nSubject: hi\n\nDelivered-To: body@x\n";
        assert_eq!(
            read_trace(head),
            trace(Some("a@remote.test"), Some("list+ext@vm.test"))
        );
    }

    #[test]
    fn table() {
        let cases: &[(&[u8], Trace)] = &[
            (
                b"Return-Path: <>\nDelivered-To: l@d\n\n",
                trace(Some(""), Some("l@d")),
            ),
            (
                b"return-path: MAILER-DAEMON\r\ndelivered-to: <L@D>\r\n\r\n",
                trace(Some(""), Some("L@D")),
            ),
            (b"Subject: x\n\nReturn-Path: <a@b>\n", trace(None, None)),
            (
                b"Delivered-To:\n  l@d\nReturn-Path:\n <a@b>\n\n",
                trace(Some("a@b"), Some("l@d")),
            ),
            (
                b"Delivered-To: \nReturn-Path: <a@b>\n\n",
                trace(Some("a@b"), None),
            ),
            // A cut last line is not trusted.
            (
                b"Return-Path: <a@b>\nDelivered-To: l@exam",
                trace(Some("a@b"), None),
            ),
            (b"", trace(None, None)),
            (
                b"no colon line\nReturn-Path: <a@b>\n",
                trace(Some("a@b"), None),
            ),
        ];
        for (head, expected) in cases {
            assert_eq!(
                &read_trace(head),
                expected,
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }
}
