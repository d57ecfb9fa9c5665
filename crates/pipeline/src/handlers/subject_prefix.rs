//! `subject_prefix`: puts the list's `subject_prefix` in front of the Subject, once.
//!
//! As Mailman does it: the Subject is decoded (RFC 2047); every occurrence of the prefix is
//! removed (with `%d` in the prefix matching any number); a leading run of `Re:`, `Aw:`, `Sv:`
//! or `Vs:` (optionally `Re[2]:`) becomes a single `Re: ` after the prefix; an empty Subject
//! becomes `(no subject)`; `%d` (or `%05d`) is replaced by the post number and `%%` by `%`.
//! The new Subject replaces the old one where it stood and is re-encoded in the charset of the
//! poster's first encoded word when that charset can represent it, UTF-8 otherwise.

use std::sync::OnceLock;

use regex::Regex;

use super::HandlerContext;
use crate::charset::Charset;
use crate::encoded_word::Value;
use crate::message::decode_text;
use crate::rewrite::Rewrite;

/// Runs the handler.
pub fn run(ctx: &HandlerContext<'_>, rewrite: &mut Rewrite<'_>) {
    let prefix = ctx.list.settings().subject_prefix.0.as_str();
    if prefix.trim().is_empty() {
        return;
    }
    let raw = rewrite
        .raw_values("Subject")
        .first()
        .map(|v| v.to_vec())
        .unwrap_or_default();
    let pattern = ctx.list.compiled.subject_prefix.as_ref();
    let subject = new_subject(&decode_text(&raw), prefix, pattern, ctx.options.post_number);
    let charset = first_charset(&raw).unwrap_or(Charset::Utf8);
    rewrite.set("Subject", Value::TextIn(&subject, charset));
}

/// The prefixed subject for a decoded `subject`; `pattern` is [`prefix_pattern`] of `prefix`.
pub(crate) fn new_subject(
    subject: &str,
    prefix: &str,
    pattern: Option<&Regex>,
    post_number: u64,
) -> String {
    let subject = subject.lines().collect::<Vec<_>>().join("");
    let mut text = if subject.trim().is_empty() {
        "(no subject)".to_string()
    } else {
        match pattern {
            Some(pattern) => pattern.replace_all(&subject, "").trim_start().to_string(),
            None => subject.replace(prefix.trim(), "").trim_start().to_string(),
        }
    };
    let mut recolon = "";
    if let Some(m) = reply_marker().find(&text) {
        text = text[m.end()..].to_string();
        recolon = "Re: ";
    }
    format!("{}{recolon}{text}", format_prefix(prefix, post_number))
}

/// Mailman's `RE_PATTERN`: a leading run of reply markers.
fn reply_marker() -> &'static Regex {
    static MARKER: OnceLock<Regex> = OnceLock::new();
    // A literal pattern; it always compiles.
    MARKER.get_or_init(|| {
        Regex::new(r"(?i)^\s*((RE|AW|SV|VS)(\[\d+\])?\s*:\s*)+").expect("valid regex")
    })
}

/// The prefix as a pattern: literal text, with each `%d`-style number matching any number
/// (compiled once per list by [`crate::ListContext`]).
pub(crate) fn prefix_pattern(prefix: &str) -> Option<Regex> {
    let number = number_placeholder();
    let mut pattern = String::new();
    let mut last = 0;
    for m in number.find_iter(prefix) {
        pattern.push_str(&regex::escape(&prefix[last..m.start()].replace("%%", "%")));
        pattern.push_str(r"\s*\d+\s*");
        last = m.end();
    }
    pattern.push_str(&regex::escape(&prefix[last..].replace("%%", "%")));
    Regex::new(&pattern).ok()
}

fn number_placeholder() -> &'static Regex {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    // A literal pattern; it always compiles.
    NUMBER.get_or_init(|| Regex::new(r"%(0?)(\d*)d").expect("valid regex"))
}

/// The prefix with `%d`, `%Nd`, `%0Nd` replaced by the post number and `%%` by `%`.
fn format_prefix(prefix: &str, post_number: u64) -> String {
    let formatted = number_placeholder().replace_all(prefix, |caps: &regex::Captures<'_>| {
        let width: usize = caps[2].parse().unwrap_or(0);
        if &caps[1] == "0" {
            format!("{post_number:0width$}")
        } else {
            format!("{post_number:width$}")
        }
    });
    formatted.replace("%%", "%")
}

/// The charset of the first encoded word of a raw Subject value.
fn first_charset(raw: &[u8]) -> Option<Charset> {
    let text = String::from_utf8_lossy(raw);
    if !raw.is_ascii() {
        // RFC 6532 UTF-8 header.
        return Some(Charset::Utf8);
    }
    let start = text.find("=?")? + 2;
    let rest = &text[start..];
    let label = &rest[..rest.find('?')?];
    // RFC 2231 language suffix: charset*language.
    let label = label.split('*').next().unwrap_or(label);
    Charset::from_label(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list::process;

    #[test]
    fn subject_table() {
        for (subject, prefix, want) in [
            ("Hello", "[Ant] ", "[Ant] Hello"),
            ("[Ant] Hello", "[Ant] ", "[Ant] Hello"),
            ("Re: [Ant] Hello", "[Ant] ", "[Ant] Re: Hello"),
            ("RE: Re: AW: [Ant] Hello", "[Ant] ", "[Ant] Re: Hello"),
            ("Re[2]: Hello", "[Ant] ", "[Ant] Re: Hello"),
            ("Sv: [Ant] [Ant] Hello", "[Ant] ", "[Ant] Re: Hello"),
            ("", "[Ant] ", "[Ant] (no subject)"),
            ("[Ant]", "[Ant] ", "[Ant] [Ant]"),
            ("Hello", "[Ant %d] ", "[Ant 7] Hello"),
            ("Re: [Ant 6] Hello", "[Ant %d] ", "[Ant 7] Re: Hello"),
            ("Hello", "[Ant %05d] ", "[Ant 00007] Hello"),
            ("Hello", "100%% [Ant] ", "100% [Ant] Hello"),
            ("Reply hazy", "[Ant] ", "[Ant] Reply hazy"),
        ] {
            let pattern = prefix_pattern(prefix);
            assert_eq!(
                new_subject(subject, prefix, pattern.as_ref(), 7),
                want,
                "{subject:?} with {prefix:?}"
            );
        }
    }

    #[test]
    fn encoded_subjects_keep_their_charset() {
        let out = process(
            "From: a@example.com\nSubject: Re: [Ant] =?iso-8859-1?q?Caf=E9?=\n\nb\n",
            |_| {},
        );
        assert!(
            out.contains("Subject: [Ant] Re: =?iso-8859-1?Q?Caf=E9?=\r\n"),
            "{out}"
        );
        let out = process(
            "From: a@example.com\nSubject: =?utf-8?b?5pel5pys?=\n\nb\n",
            |_| {},
        );
        assert!(
            out.contains("Subject: [Ant] =?utf-8?B?5pel5pys?=\r\n"),
            "{out}"
        );
    }

    #[test]
    fn subject_is_replaced_in_place_or_added() {
        let out = process("Subject: hi\nFrom: a@example.com\n\nb\n", |_| {});
        assert!(
            out.starts_with("Subject: [Ant] hi\r\nFrom: a@example.com\r\n"),
            "{out}"
        );
        let out = process("From: a@example.com\n\nb\n", |_| {});
        assert!(out.contains("Subject: [Ant] (no subject)\r\n"), "{out}");
        let out = process("Subject: hi\n\nb\n", |s| s.subject_prefix.0 = "  ".into());
        assert!(out.starts_with("Subject: hi\r\n"), "{out}");
    }
}
