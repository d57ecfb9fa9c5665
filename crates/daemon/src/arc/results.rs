//! `Authentication-Results` fields (RFC 8601) in a message's header block: whose they are
//! (the authserv-id), which survive validation, and ours read back when a copy is sealed.
//! Pure: bytes in, bytes out; the body is never touched.
//!
//! Validation keeps the fields whose authserv-id is trusted, removes every other one (a
//! field claiming our authserv-id that we did not write is a forgery), and puts ours on top.
//! At seal time the topmost field with our authserv-id is therefore the one validation
//! wrote: its `arc=` result gives the new seal's `cv=`, its text the
//! `ARC-Authentication-Results`.

/// `Authentication-Results`, as the header is named.
pub const FIELD: &str = "Authentication-Results";

/// Our `Authentication-Results`, read back from a copy about to be sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ours {
    /// The field's value on one line, whitespace runs made one space (the form relaxed
    /// canonicalization gives it), starting with the authserv-id.
    pub text: String,
    /// The `arc=` result (`pass`, `fail`, `none`, …), lower case; `none` when absent.
    pub arc: String,
}

/// The message with the `Authentication-Results` fields whose authserv-id is not in
/// `trusted` removed and `Authentication-Results: <value>` put on top, with the line ending
/// the message uses. `trusted` is lower case.
pub fn replace(message: &[u8], value: &str, trusted: &[String]) -> Vec<u8> {
    let eol: &[u8] = if ends_lines_with_crlf(message) {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut out = Vec::with_capacity(message.len() + value.len() + 32);
    out.extend_from_slice(FIELD.as_bytes());
    out.extend_from_slice(b": ");
    for (n, line) in value.split("\r\n").enumerate() {
        if n > 0 {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(line.as_bytes());
    }
    out.extend_from_slice(eol);
    let (fields, body) = split_header(message);
    for field in fields {
        if let Some(value) = ar_value(field) {
            let kept = authserv_id(value)
                .is_some_and(|id| trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)));
            if !kept {
                continue;
            }
        }
        out.extend_from_slice(field);
    }
    out.extend_from_slice(body);
    out
}

/// The topmost `Authentication-Results` of `authserv_id`, if the message has one.
pub fn ours(message: &[u8], authserv_id: &str) -> Option<Ours> {
    let (fields, _) = split_header(message);
    let value = fields.into_iter().find_map(|field| {
        let value = ar_value(field)?;
        authserv_id_is(value, authserv_id).then_some(value)
    })?;
    let text = one_line(value);
    let arc = method_result(&text, "arc").unwrap_or_else(|| "none".into());
    Some(Ours { text, arc })
}

/// The values of the `Authentication-Results` fields whose authserv-id is in `trusted`, on
/// one line each, in order.
pub fn trusted(message: &[u8], trusted: &[String]) -> Vec<String> {
    let (fields, _) = split_header(message);
    fields
        .into_iter()
        .filter_map(ar_value)
        .filter(|value| {
            authserv_id(value).is_some_and(|id| trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)))
        })
        .map(one_line)
        .collect()
}

/// Whether the field value `value` names `authserv_id` (case-insensitively).
fn authserv_id_is(value: &[u8], wanted: &str) -> bool {
    authserv_id(value).is_some_and(|id| id.eq_ignore_ascii_case(wanted))
}

/// The results of a one-line value after its authserv-id, each `method=result …`, split at
/// the semicolons outside comments and quoted strings; `none` (no result) gives none.
pub fn resinfos(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped) = (0u32, false, false);
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ';' if !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .skip(1)
        .map(str::trim)
        .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case("none"))
        .collect()
}

/// The method a resinfo reports (`spf` in `spf=pass smtp.mailfrom=…`), lower case.
pub fn method(resinfo: &str) -> String {
    let resinfo = skip_cfws(resinfo);
    let end = resinfo
        .find(|c: char| c == '=' || c == '/' || c.is_whitespace())
        .unwrap_or(resinfo.len());
    resinfo[..end].to_ascii_lowercase()
}

/// The authserv-id that starts an `Authentication-Results` value: after comments and
/// whitespace, a token or a quoted string.
pub fn authserv_id(value: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(value);
    let rest = skip_cfws(&text);
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut id = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(id).filter(|id| !id.is_empty()),
                '\\' => id.extend(chars.next()),
                c => id.push(c),
            }
        }
        return None;
    }
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .unwrap_or(rest.len());
    Some(rest[..end].to_string()).filter(|id| !id.is_empty())
}

/// The result of `wanted` in a one-line value (`…; arc=pass …`), lower case.
fn method_result(text: &str, wanted: &str) -> Option<String> {
    resinfos(text).into_iter().find_map(|resinfo| {
        if method(resinfo) != wanted {
            return None;
        }
        let (_, result) = resinfo.split_once('=')?;
        let result = skip_cfws(result);
        let end = result
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(result.len());
        Some(result[..end].to_ascii_lowercase()).filter(|r| !r.is_empty())
    })
}

/// `s` without its leading whitespace and comments (nested parentheses, RFC 5322 §3.2.2).
fn skip_cfws(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        let Some(inner) = s.strip_prefix('(') else {
            return s;
        };
        let mut depth = 1;
        let mut end = inner.len();
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        s = &inner[end.min(inner.len())..];
    }
}

/// A field value unfolded, whitespace runs made one space, trimmed.
fn one_line(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value of an `Authentication-Results` field (name, colon and folded lines included in
/// `field`), or `None` for another field.
fn ar_value(field: &[u8]) -> Option<&[u8]> {
    let colon = field.iter().position(|&b| b == b':')?;
    let name = field[..colon].trim_ascii_end();
    name.eq_ignore_ascii_case(FIELD.as_bytes())
        .then(|| &field[colon + 1..])
}

/// The header fields (each with its continuation lines and line ends) and the rest: the
/// empty line and the body.
fn split_header(message: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < message.len() {
        let end = message[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(message.len(), |i| pos + i + 1);
        let line = &message[pos..end];
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.is_empty() {
            break;
        }
        let continuation = line[0] == b' ' || line[0] == b'\t';
        if !continuation && pos > start {
            fields.push(&message[start..pos]);
            start = pos;
        }
        pos = end;
    }
    if pos > start {
        fields.push(&message[start..pos]);
    }
    (fields, &message[pos..])
}

/// Whether the first line of the message ends with CRLF.
fn ends_lines_with_crlf(message: &[u8]) -> bool {
    message
        .iter()
        .position(|&b| b == b'\n')
        .is_none_or(|i| i > 0 && message[i - 1] == b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=a@example.com\r\n\
Authentication-Results: (forged) lists.example.org; arc=pass\r\n\
From: a@example.com\r\n\
authentication-results: \"other.example\"; dkim=fail\r\n\
Subject: hi\r\n\
\r\n\
Authentication-Results: lists.example.org; in the body, untouched\r\n";

    #[test]
    fn authserv_ids_are_read_past_comments_and_quotes() {
        assert_eq!(
            authserv_id(b" mx.example.org; spf=pass").as_deref(),
            Some("mx.example.org")
        );
        assert_eq!(
            authserv_id(b" (c (nested)) mx 1; none").as_deref(),
            Some("mx")
        );
        assert_eq!(authserv_id(b" \"q\\\"d\"; none").as_deref(), Some("q\"d"));
        assert_eq!(authserv_id(b"   ;").as_deref(), None);
    }

    #[test]
    fn untrusted_and_forged_fields_go_ours_comes_first() {
        let trusted = vec!["mx.example.org".to_string()];
        let ours = "lists.example.org;\r\n\tdkim=none;\r\n\tarc=none";
        let out = replace(POST.as_bytes(), ours, &trusted);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Authentication-Results: lists.example.org;\r\n\tdkim=none;\r\n\tarc=none\r\n\
Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=a@example.com\r\n\
From: a@example.com\r\n\
Subject: hi\r\n\
\r\n\
Authentication-Results: lists.example.org; in the body, untouched\r\n"
        );
        let back = super::ours(text.as_bytes(), "LISTS.example.org").unwrap();
        assert_eq!(back.text, "lists.example.org; dkim=none; arc=none");
        assert_eq!(back.arc, "none");
        assert_eq!(
            super::trusted(text.as_bytes(), &trusted),
            ["mx.example.org; spf=pass smtp.mailfrom=a@example.com"]
        );
    }

    #[test]
    fn bare_lf_messages_keep_their_line_ends() {
        let out = replace(
            b"From: a\nAuthentication-Results: x; none\n\nbody\n",
            "me; arc=pass",
            &[],
        );
        assert_eq!(
            out,
            b"Authentication-Results: me; arc=pass\nFrom: a\n\nbody\n"
        );
    }

    #[test]
    fn resinfos_split_outside_comments_and_quotes() {
        let text = "mx 1; spf=pass (a; b) smtp.mailfrom=\"x;y\"@example.com; dkim/1=fail; none";
        let parts = resinfos(text);
        assert_eq!(
            parts,
            [
                "spf=pass (a; b) smtp.mailfrom=\"x;y\"@example.com",
                "dkim/1=fail"
            ]
        );
        assert_eq!(method(parts[0]), "spf");
        assert_eq!(method(parts[1]), "dkim");
        assert!(resinfos("mx; none").is_empty());
    }

    #[test]
    fn the_arc_result_is_read_from_ours_only() {
        let message = b"Authentication-Results: lists.example.org; dkim=pass header.d=x;\r\n \
arc=fail (signature failed) smtp.remote-ip=1.2.3.4\r\n\
Authentication-Results: mx.example.org; arc=pass\r\n\r\n";
        let ours = super::ours(message, "lists.example.org").unwrap();
        assert_eq!(ours.arc, "fail");
        assert_eq!(
            ours.text,
            "lists.example.org; dkim=pass header.d=x; arc=fail (signature failed) smtp.remote-ip=1.2.3.4"
        );
        assert_eq!(super::ours(message, "nobody.example"), None);
        let absent = super::ours(b"Authentication-Results: me; dkim=pass\r\n\r\n", "me").unwrap();
        assert_eq!(absent.arc, "none");
    }
}
