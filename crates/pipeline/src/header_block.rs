//! The header section of a message as exact byte ranges.
//!
//! [`HeaderBlock::scan`] splits the header section into fields, each a range of the original
//! bytes that covers the field name, the colon, the value, every folded continuation line and
//! the line terminator. The ranges are contiguous and cover the section exactly, so a rewrite
//! can copy untouched fields byte for byte. The scanner is strict: a section whose first line
//! is a continuation, a line without a colon before the first blank line, a NUL byte, or no
//! field at all is refused, which is what intake answers with `550 5.6.0`.
//!
//! This module does not decode values (see [`crate::message`]) and does not look at the body.

/// Why a header section cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The message has no header field at all.
    #[error("the message has no header section")]
    NoHeaders,
    /// The first header line starts with white space.
    #[error("the first header line is a continuation line")]
    LeadingContinuation,
    /// A line in the header section is neither a field nor a continuation.
    #[error("header line {line} has no field name and colon")]
    MissingColon {
        /// 1-based line number in the header section.
        line: usize,
    },
    /// A NUL byte appears in the header section.
    #[error("the header section contains a NUL byte")]
    Nul,
}

/// One header field: `raw[start..end]` is the whole field including its line terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Offset of the first byte of the field name.
    pub start: usize,
    /// Offset of the colon that ends the field name.
    pub colon: usize,
    /// Offset just after the field's last line terminator (or the end of the input).
    pub end: usize,
}

impl Field {
    /// The field name as written (case preserved, trailing white space before the colon removed).
    pub fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw[self.start..self.colon].trim_ascii_end()
    }

    /// Whether the field is named `name` (ASCII case-insensitive).
    pub fn is(&self, raw: &[u8], name: &str) -> bool {
        self.name(raw).eq_ignore_ascii_case(name.as_bytes())
    }

    /// The raw value: everything after the colon, folding and line terminator included.
    pub fn raw_value<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.colon + 1..self.end]
    }
}

/// The line terminator a message uses; new header lines are written with the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eol {
    /// `\r\n`, as received over LMTP.
    Crlf,
    /// A bare `\n` (messages from files or a lenient intake).
    Lf,
}

impl Eol {
    /// The terminator's bytes.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Eol::Crlf => b"\r\n",
            Eol::Lf => b"\n",
        }
    }

    /// The terminator as a string.
    pub fn as_str(self) -> &'static str {
        match self {
            Eol::Crlf => "\r\n",
            Eol::Lf => "\n",
        }
    }
}

/// The fields of a header section, with where the body starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBlock {
    /// The fields in order.
    pub fields: Vec<Field>,
    /// Offset where the fields end: the blank separator line starts here (or the input ends).
    pub fields_end: usize,
    /// Offset of the first body byte (after the blank line); equal to the input length when
    /// there is no body.
    pub body_offset: usize,
    /// The line terminator of the first line.
    pub eol: Eol,
}

impl HeaderBlock {
    /// Scans the header section at the start of `raw`.
    pub fn scan(raw: &[u8]) -> Result<HeaderBlock, ParseError> {
        let eol = match memchr_newline(raw, 0) {
            Some(i) if i > 0 && raw[i - 1] == b'\r' => Eol::Crlf,
            Some(_) => Eol::Lf,
            None => Eol::Crlf,
        };
        let mut fields: Vec<Field> = Vec::new();
        let mut pos = 0;
        let mut line_no = 0;
        while pos < raw.len() {
            line_no += 1;
            let line_end = memchr_newline(raw, pos).map_or(raw.len(), |i| i + 1);
            let line = &raw[pos..line_end];
            if line.contains(&0) {
                return Err(ParseError::Nul);
            }
            if line == b"\r\n" || line == b"\n" {
                if fields.is_empty() {
                    return Err(ParseError::NoHeaders);
                }
                return Ok(HeaderBlock {
                    fields,
                    fields_end: pos,
                    body_offset: line_end,
                    eol,
                });
            }
            if line[0] == b' ' || line[0] == b'\t' {
                match fields.last_mut() {
                    Some(field) => field.end = line_end,
                    None => return Err(ParseError::LeadingContinuation),
                }
            } else {
                let colon = field_colon(line).ok_or(ParseError::MissingColon { line: line_no })?;
                fields.push(Field {
                    start: pos,
                    colon: pos + colon,
                    end: line_end,
                });
            }
            pos = line_end;
        }
        if fields.is_empty() {
            return Err(ParseError::NoHeaders);
        }
        Ok(HeaderBlock {
            fields,
            fields_end: raw.len(),
            body_offset: raw.len(),
            eol,
        })
    }

    /// The first field named `name` (ASCII case-insensitive).
    pub fn first(&self, raw: &[u8], name: &str) -> Option<Field> {
        self.fields.iter().copied().find(|f| f.is(raw, name))
    }
}

/// The length of the header section at the start of `raw`, including the blank line that ends
/// it: `raw[..n]` is the header section and `raw[n..]` the body.
///
/// `None` means there is no blank line in `raw`: either the section is not complete yet (keep
/// reading) or, at the end of the data, the message has no body and all of it is the header
/// section. The function does not validate the fields (see [`HeaderBlock::scan`]).
pub fn split_header_section(raw: &[u8]) -> Option<usize> {
    if raw.starts_with(b"\r\n") {
        return Some(2);
    }
    if raw.starts_with(b"\n") {
        return Some(1);
    }
    let mut pos = 0;
    while let Some(i) = memchr_newline(raw, pos) {
        let next = i + 1;
        match raw.get(next..) {
            Some([b'\n', ..]) => return Some(next + 1),
            Some([b'\r', b'\n', ..]) => return Some(next + 2),
            _ => pos = next,
        }
    }
    None
}

/// Offset of the colon ending a valid field name in `line`, if the line starts a field. A
/// field name is printable ASCII without spaces; white space before the colon is tolerated
/// (RFC 5322 obsolete syntax).
fn field_colon(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line[..colon].trim_ascii_end();
    let valid = !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(colon)
}

fn memchr_newline(raw: &[u8], from: usize) -> Option<usize> {
    raw[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cover_the_header_section_exactly() {
        let raw = b"From: a@example.com\r\nSubject: hello\r\n  world\r\nX-Empty:\r\n\r\nbody\r\n";
        let block = HeaderBlock::scan(raw).unwrap();
        assert_eq!(block.fields.len(), 3);
        assert_eq!(block.fields[0].start, 0);
        for pair in block.fields.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert_eq!(block.fields[2].end, block.fields_end);
        assert_eq!(&raw[block.body_offset..], b"body\r\n");
        assert_eq!(block.fields[1].raw_value(raw), b" hello\r\n  world\r\n");
        assert_eq!(block.fields[1].name(raw), b"Subject");
        assert_eq!(block.eol, Eol::Crlf);
    }

    #[test]
    fn headers_only_message_has_an_empty_body() {
        let raw = b"Subject: x\r\nTo: y@example.com";
        let block = HeaderBlock::scan(raw).unwrap();
        assert_eq!(block.fields.len(), 2);
        assert_eq!(block.body_offset, raw.len());
    }

    #[test]
    fn malformed_sections_are_refused() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"", ParseError::NoHeaders),
            (b"\r\nbody", ParseError::NoHeaders),
            (b" folded: first\r\n\r\n", ParseError::LeadingContinuation),
            (
                b"From: a\r\nthis is not a header\r\n\r\n",
                ParseError::MissingColon { line: 2 },
            ),
            (
                b"From: a\r\n: no name\r\n\r\n",
                ParseError::MissingColon { line: 2 },
            ),
            (
                b"From a@b Mon Jan  1 00:00:00 2024\r\n\r\n",
                ParseError::MissingColon { line: 1 },
            ),
            (b"From: a\0b\r\n\r\n", ParseError::Nul),
        ];
        for (raw, want) in cases {
            assert_eq!(
                HeaderBlock::scan(raw).unwrap_err(),
                *want,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn obsolete_space_before_colon_is_accepted() {
        let block = HeaderBlock::scan(b"Subject : hi\n\n").unwrap();
        assert_eq!(block.eol, Eol::Lf);
        assert!(block.fields[0].is(b"Subject : hi\n\n", "subject"));
    }

    #[test]
    fn split_header_section_finds_the_blank_line() {
        assert_eq!(split_header_section(b"A: 1\r\nB: 2\r\n\r\nbody"), Some(14));
        assert_eq!(split_header_section(b"A: 1\n\nbody"), Some(6));
        assert_eq!(split_header_section(b"A: 1\r\nB: 2\r\n"), None);
        assert_eq!(split_header_section(b"\r\nbody"), Some(2));
        // A NUL in the body does not matter to the split.
        assert_eq!(split_header_section(b"A: 1\r\n\r\n\0"), Some(8));
    }
}
