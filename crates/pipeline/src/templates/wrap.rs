//! Mailman's `utilities.string.wrap`: fill a text paragraph by paragraph to a column, the way
//! autoresponses, welcome and goodbye messages and owner notices are laid out.
//!
//! Paragraphs are separated by empty lines (kept) and by changes of indentation. A paragraph
//! whose first line starts with white space is copied verbatim; any other paragraph is
//! filled like Python's `textwrap.TextWrapper(width, break_on_hyphens=False,
//! fix_sentence_endings=True)`: tabs expanded, white space runs joined, two spaces after a
//! sentence end, words longer than a line cut. Widths count characters (code points), as
//! Python's `len` does. This module knows nothing about placeholders ([`super::expand`]).

use crate::pytext::{is_ascii_space, is_space, splitlines};

/// Wraps `text` to `width` columns the way Mailman's `wrap` does (Mailman uses 70).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut add_paragraph_break = false;
    for paragraph in paragraphs(text) {
        if add_paragraph_break {
            out.push('\n');
            add_paragraph_break = false;
        }
        if paragraph.is_empty() || paragraph == "\n" {
            out.push('\n');
        } else if paragraph.starts_with(is_ascii_space) {
            out.push_str(&paragraph);
        } else {
            out.push_str(&fill(&paragraph, width));
            add_paragraph_break = true;
        }
    }
    out
}

/// Cuts the text into paragraphs: each empty line is a paragraph of its own, and a change
/// between indented and unindented lines starts a new one.
fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut paragraph = String::new();
    let mut last_indented = false;
    for line in splitlines(text, true) {
        let indented = line.starts_with(is_ascii_space);
        if line == "\n" {
            if !paragraph.is_empty() {
                paragraphs.push(std::mem::take(&mut paragraph));
            }
            paragraphs.push("\n".to_string());
            last_indented = false;
        } else if last_indented != indented {
            if !paragraph.is_empty() {
                paragraphs.push(std::mem::take(&mut paragraph));
            }
            paragraph.push_str(line);
            last_indented = indented;
        } else {
            paragraph.push_str(line);
        }
    }
    if !paragraph.is_empty() {
        paragraphs.push(paragraph);
    }
    paragraphs
}

/// `TextWrapper.fill`: the wrapped lines joined with `\n`, without a final line break.
fn fill(text: &str, width: usize) -> String {
    let mut chunks = chunks(&munge_whitespace(text));
    fix_sentence_endings(&mut chunks);
    wrap_chunks(chunks, width.max(1)).join("\n")
}

/// Tabs expanded to multiples of 8 and every ASCII white space character made a space.
fn munge_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut column = 0;
    for c in text.chars() {
        match c {
            '\t' => {
                let spaces = 8 - column % 8;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            '\n' | '\r' => {
                out.push(' ');
                column = 0;
            }
            c if is_ascii_space(c) => {
                out.push(' ');
                column += 1;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

/// Words and runs of spaces, alternating, none empty.
fn chunks(text: &str) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for c in text.chars() {
        let space = c == ' ';
        if space != in_space && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
        }
        in_space = space;
        current.push(c);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A single space after a word ending a sentence (`[a-z][.!?]["']?`) becomes two.
fn fix_sentence_endings(chunks: &mut [String]) {
    let mut i = 0;
    while i + 1 < chunks.len() {
        if chunks[i + 1] == " " && ends_sentence(&chunks[i]) {
            chunks[i + 1] = "  ".to_string();
            i += 2;
        } else {
            i += 1;
        }
    }
}

fn ends_sentence(word: &str) -> bool {
    let mut rev = word.chars().rev().peekable();
    if matches!(rev.peek(), Some('"' | '\'')) {
        rev.next();
    }
    matches!(rev.next(), Some('.' | '!' | '?')) && matches!(rev.next(), Some('a'..='z'))
}

fn is_blank(chunk: &str) -> bool {
    chunk.chars().all(is_space)
}

/// `TextWrapper._wrap_chunks` without indents or a line limit.
fn wrap_chunks(mut chunks: Vec<String>, width: usize) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    let mut lines: Vec<String> = Vec::new();
    chunks.reverse();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut line_len = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| is_blank(c)) {
            chunks.pop();
        }
        while let Some(chunk) = chunks.last() {
            let l = len(chunk);
            if line_len + l > width {
                break;
            }
            line_len += l;
            line.extend(chunks.pop());
        }
        if let Some(chunk) = chunks.last_mut()
            && len(chunk) > width
        {
            // Cut the long word: as much as fits goes on this line.
            let space_left = width - line_len;
            let cut = chunk
                .char_indices()
                .nth(space_left)
                .map_or(chunk.len(), |(i, _)| i);
            let rest = chunk.split_off(cut);
            line.push(std::mem::replace(chunk, rest));
        }
        if line.last().is_some_and(|c| is_blank(c)) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs and what Mailman 3.3.10's `wrap` (CPython 3.11 `textwrap`) returns for them.
    const CASES: &[(&str, usize, &str)] = &[
        ("", 70, ""),
        ("short\n", 70, "short"),
        (
            "Hello world.  This is a test of the wrapping of a long paragraph that goes on and on. And on.\n\n  indented line stays   as is\n  second\nback to normal text here which is also quite long and should wrap around somewhere.\n",
            70,
            "Hello world.  This is a test of the wrapping of a long paragraph that\ngoes on and on.  And on.\n\n  indented line stays   as is\n  second\nback to normal text here which is also quite long and should wrap\naround somewhere.",
        ),
        (
            "one\ntwo   three\tfour\n\n\n\nfive. Six! seven? \"eight.\" Nine.\n",
            20,
            "one two   three\nfour\n\n\n\nfive.  Six!  seven?\n\"eight.\"  Nine.",
        ),
        (
            "supercalifragilisticexpialidocious-and-more-of-it word\n",
            10,
            "supercalif\nragilistic\nexpialidoc\nious-and-m\nore-of-it\nword",
        ),
        (
            "para one\n  indented\nnot indented\n\nend",
            70,
            "para one\n  indented\nnot indented\n\nend",
        ),
        (
            "Grüße aus Köln, wo die Straßenbahn fährt. Ähnlich überall.",
            25,
            "Grüße aus Köln, wo die\nStraßenbahn fährt.\nÄhnlich überall.",
        ),
        ("A. B.  C.\r\nx", 70, "A. B.  C.  x"),
        ("  leading\n\ntrailing   \n", 5, "  leading\n\ntrail\ning"),
        // A word cut where nothing is left on the line keeps the space before it.
        ("abcd toolongword", 5, "abcd \ntoolo\nngwor\nd"),
        ("ab cd", 2, "ab\ncd"),
        ("tab\tin\tthe\tmiddle", 70, "tab     in      the     middle"),
    ];

    #[test]
    fn wraps_like_mailman() {
        for &(text, width, want) in CASES {
            assert_eq!(wrap(text, width), want, "{text:?} at {width}");
        }
    }
}
