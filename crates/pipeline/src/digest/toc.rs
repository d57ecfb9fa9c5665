//! The table of contents of a digest ("Today's Topics"), laid out as Mailman's `add_to_toc`.
//!
//! One entry per post, numbered from 1: ` NN. <subject> (<author>)`, where the subject loses
//! the list's subject prefix (keeping a leading `Re:`), `(no subject)` stands in for a missing
//! one, and the author is the display name of the first `From` address, else its address.
//! The text is wrapped at 65 columns (as in Mailman, only from entry 10 on: entries 1-9 start
//! with a space, and Mailman's `wrap` leaves indented paragraphs alone); the author goes on the last line unless that would pass
//! 70 columns. First lines are indented two spaces, continuation lines six.

use crate::message::Message;
use crate::templates::wrap;

/// The heading the table starts with (followed by an empty line).
pub const HEADING: &str = "Today's Topics:";

/// Builds the table of contents for these posts (already parsed).
pub fn table(posts: &[Message<'_>], subject_prefix: &str) -> String {
    let mut out = format!("{HEADING}\n\n");
    for (index, post) in posts.iter().enumerate() {
        entry(&mut out, index + 1, post, subject_prefix);
    }
    out
}

fn entry(out: &mut String, count: usize, post: &Message<'_>, subject_prefix: &str) {
    let subject = post
        .subject()
        .map(|s| one_line(&s))
        .unwrap_or_else(|| "(no subject)".to_string());
    let subject = without_prefix(&subject, subject_prefix);
    let author = post
        .addresses("From")
        .into_iter()
        .next()
        .map(|a| a.name.filter(|n| !n.trim().is_empty()).unwrap_or(a.email))
        .map(|name| format!(" ({})", one_line(&name)))
        .unwrap_or_default();
    let wrapped = wrap(&format!("{count:2}. {subject}"), 65);
    let mut lines: Vec<String> = wrapped.split('\n').map(str::to_string).collect();
    let last = lines.last_mut().expect("split gives at least one line");
    if last.chars().count() + author.chars().count() > 70 {
        lines.push(author);
    } else {
        last.push_str(&author);
    }
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str("  ");
            out.push_str(line);
        } else {
            out.push_str("      ");
            out.push_str(line.trim_start());
        }
        out.push('\n');
    }
}

/// The text on one line: line breaks (and the white space around them) become one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The subject without the list's prefix: `^(re:? *)?<prefix>`, case-insensitive, cut out
/// with any `Re:` before it kept.
fn without_prefix(subject: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        return subject.to_string();
    }
    let lower = subject.to_lowercase();
    let mut start = 0;
    if lower.starts_with("re") {
        let mut at = 2;
        if lower[at..].starts_with(':') {
            at += 1;
        }
        at += lower[at..].len() - lower[at..].trim_start_matches(' ').len();
        if lower[at..].starts_with(&prefix.to_lowercase()) {
            start = at;
        }
    }
    let rest = &lower[start..];
    if rest.starts_with(&prefix.to_lowercase()) && lower.len() == subject.len() {
        let end = start + prefix.len();
        return format!("{}{}", &subject[..start], &subject[end..]);
    }
    subject.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(raw: &str) -> Message<'_> {
        Message::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn entries_are_numbered_stripped_and_credited() {
        let raws = [
            "From: Anne Person <anne@example.com>\nSubject: [Ant] Hello\n\nx\n",
            "From: bob@example.com\nSubject: Re: [ant] Hello\n\nx\n",
            "From: carl@example.com\n\nx\n",
        ];
        let posts: Vec<_> = raws.iter().map(|r| post(r)).collect();
        assert_eq!(
            table(&posts, "[Ant] "),
            "Today's Topics:\n\n   1. Hello (Anne Person)\n   2. Re: Hello (bob@example.com)\n   3. (no subject) (carl@example.com)\n"
        );
    }

    #[test]
    fn long_subjects_wrap_from_entry_ten_and_the_author_may_get_a_line() {
        let subject = "word ".repeat(14);
        let long =
            format!("From: Someone With A Long Name <s@example.com>\nSubject: {subject}\n\nx\n");
        let short = "From: a@b.example\nSubject: s\n\nx\n".to_string();
        let mut raws = vec![long.clone()];
        raws.extend(std::iter::repeat_n(short, 8));
        raws.push(long);
        let posts: Vec<_> = raws.iter().map(|r| post(r)).collect();
        let toc = table(&posts, "");
        let lines: Vec<&str> = toc.lines().skip(2).collect();
        // Entries 1-9 start with a space, and Mailman's wrap leaves indented text alone.
        // The author would pass 70 columns, so gets a line of its own.
        assert_eq!(lines[0], format!("   1. {}", subject.trim()));
        assert_eq!(lines[1], "      (Someone With A Long Name)");
        assert_eq!(lines[9], "   9. s (a@b.example)");
        assert_eq!(
            lines[10],
            "  10. word word word word word word word word word word word word"
        );
        assert_eq!(lines[11], "      word word (Someone With A Long Name)");
        assert_eq!(lines.len(), 12);
    }

    #[test]
    fn the_prefix_is_cut_only_at_the_start() {
        assert_eq!(without_prefix("[Ant] x", "[Ant] "), "x");
        assert_eq!(without_prefix("RE:[ANT] x", "[Ant] "), "RE:x");
        assert_eq!(without_prefix("re  [ant] x", "[Ant] "), "re  x");
        assert_eq!(without_prefix("x [Ant] y", "[Ant] "), "x [Ant] y");
        assert_eq!(without_prefix("Fwd: [Ant] y", "[Ant] "), "Fwd: [Ant] y");
    }
}
