//! Python's rules for cutting text into lines and words, which Mailman's command finder and
//! `wrap` depend on: `str.splitlines` (eleven line boundaries, not just `\n`) and the
//! whitespace of `str.split()` / `str.strip()` (Unicode white space plus the four ASCII
//! separators `\x1c`..`\x1f`).
//!
//! Only these two rules live here; what is done with the lines is the callers' business.

/// Whether Python's `str.isspace` holds for `c`.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Whether `c` is one of `string.whitespace` (`' \t\n\r\x0b\x0c'`).
pub(crate) fn is_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// Python's `str.split()` without arguments: runs of white space separate words.
pub(crate) fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(is_space).filter(|w| !w.is_empty())
}

/// Python's `str.strip()` without arguments.
pub(crate) fn strip(line: &str) -> &str {
    line.trim_matches(is_space)
}

/// Python's `str.splitlines(keepends)`: lines end at `\n`, `\r\n`, `\r`, `\x0b`, `\x0c`,
/// `\x1c`, `\x1d`, `\x1e`, `\x85`, U+2028 and U+2029; a final line without an end is kept, and
/// an empty text has no lines.
pub(crate) fn splitlines(text: &str, keepends: bool) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end_len = match c {
            '\r' if matches!(chars.peek(), Some((_, '\n'))) => {
                chars.next();
                2
            }
            '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}'
            | '\u{2028}' | '\u{2029}' => c.len_utf8(),
            _ => continue,
        };
        let end = i + end_len;
        lines.push(if keepends {
            &text[start..end]
        } else {
            &text[start..i]
        });
        start = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_table() {
        // Expected values are what CPython 3.11 returns.
        for (text, without, with) in [
            ("", vec![], vec![]),
            ("a", vec!["a"], vec!["a"]),
            ("a\n", vec!["a"], vec!["a\n"]),
            (
                "a\r\nb\rc\n\nd",
                vec!["a", "b", "c", "", "d"],
                vec!["a\r\n", "b\r", "c\n", "\n", "d"],
            ),
            (
                "x\u{b}y\u{c}z\u{1c}w",
                vec!["x", "y", "z", "w"],
                vec!["x\u{b}", "y\u{c}", "z\u{1c}", "w"],
            ),
            (
                "p\u{85}q\u{2028}r\u{2029}",
                vec!["p", "q", "r"],
                vec!["p\u{85}", "q\u{2028}", "r\u{2029}"],
            ),
            ("\r\r\n", vec!["", ""], vec!["\r", "\r\n"]),
        ] {
            assert_eq!(splitlines(text, false), without, "{text:?}");
            assert_eq!(splitlines(text, true), with, "{text:?}");
        }
    }

    #[test]
    fn words_and_strip_use_python_white_space() {
        for (line, want, stripped) in [
            (
                "  confirm   abc \t",
                vec!["confirm", "abc"],
                "confirm   abc",
            ),
            ("a\u{1f}b\u{a0}c", vec!["a", "b", "c"], "a\u{1f}b\u{a0}c"),
            ("\u{3000}x\u{1c}", vec!["x"], "x"),
            ("", vec![], ""),
        ] {
            assert_eq!(words(line).collect::<Vec<_>>(), want, "{line:?}");
            assert_eq!(strip(line), stripped, "{line:?}");
        }
        assert!(is_ascii_space('\u{c}') && !is_ascii_space('\u{a0}'));
    }
}
