//! `header-match`: the dynamic rules of the header-match chain, from the site's
//! `[antispam] header_checks` and the list's `header_matches`. Each one searches a header's
//! values (in every MIME part, as Mailman does) case-insensitively for a regex, matching both
//! the raw unfolded value and its RFC 2047-decoded text.

use super::{RuleContext, RuleOutcome};
use crate::message::{Message, decode_text};
use crate::patterns::HeaderPattern;

/// Runs one header-match rule.
pub(crate) fn check(ctx: &RuleContext<'_>, pattern: &HeaderPattern) -> RuleOutcome {
    let message = ctx.message;
    let top = top_level_values(message, &pattern.header);
    let nested = part_values(message.raw(), &pattern.header);
    for value in top.into_iter().chain(nested) {
        let decoded = decode_text(value.as_bytes());
        if pattern.regex.is_match(&value) || pattern.regex.is_match(&decoded) {
            return RuleOutcome::hit(
                ctx,
                format!(
                    "Header \"{}: {}\" matched a header rule",
                    pattern.header, value
                ),
            );
        }
    }
    RuleOutcome::miss()
}

/// The rule's name as Mailman records it.
pub fn rule_name(scope: &str, index: usize) -> String {
    format!("header-match-{scope}-{index}")
}

fn top_level_values(message: &Message<'_>, header: &str) -> Vec<String> {
    message
        .fields_named(header)
        .map(|f| message.unfolded(f))
        .collect()
}

/// Values of `header` in the headers of MIME parts below the top level.
fn part_values(raw: &[u8], header: &str) -> Vec<String> {
    let Some(parsed) = mail_parser::MessageParser::new()
        .with_mime_headers()
        .default_header_raw()
        .parse(raw)
    else {
        return Vec::new();
    };
    parsed
        .parts
        .iter()
        .skip(1)
        .flat_map(|part| part.headers.iter())
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(header))
        .map(|h| {
            let start = h.offset_start as usize;
            let end = (h.offset_end as usize).min(raw.len());
            crate::message::unfold(raw.get(start..end).unwrap_or_default())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::compile_header_patterns;
    use crate::rules::scenario::Scenario;

    fn hit(raw: &str, header: &str, regex: &str) -> bool {
        let mut problems = Vec::new();
        let pattern = compile_header_patterns([(header, regex)], "test", &mut problems).remove(0);
        Scenario::new(raw).with_ctx(|ctx| check(ctx, &pattern).hit)
    }

    #[test]
    fn header_match_table() {
        assert!(hit("X-Spam-Flag: YES\n\nhi\n", "x-spam-flag", "yes"));
        assert!(!hit("X-Spam-Flag: NO\n\nhi\n", "x-spam-flag", "yes"));
        assert!(hit(
            "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\nhi\n",
            "subject",
            "grüße"
        ));
        assert!(hit(
            "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\nhi\n",
            "subject",
            "utf-8"
        ));
        assert!(!hit("Subject: hello\n\nhi\n", "x-spam-flag", ".*"));
        let multipart = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/x-evil\n\nx\n--b--\n";
        assert!(hit(multipart, "content-type", "x-evil"));
    }
}
