//! The MIME tree content filtering works on: each part's header fields and body as byte
//! ranges of the post, read the way Python's `email` package reads them, and written back.
//!
//! A part that no step edits is written back byte for byte, so filtering one attachment
//! leaves every other part exactly as received. Reading is lenient and bounded, never a panic:
//! - a multipart without a `boundary` parameter, or whose boundary never occurs, is a leaf
//!   (Python: `NoBoundaryInMultipartDefect`, `StartBoundaryNotFoundDefect`);
//! - a missing close delimiter ends the last part at the end of the body;
//! - a part whose header lines cannot be read is an opaque `text/plain` leaf;
//! - below [`MAX_DEPTH`] levels of nesting, containers are leaves.
//!
//! `message/rfc822` parts are containers of one part, the attached message (as in Python,
//! where `is_multipart()` is true for them); other `message/*` types are leaves.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{ContentType, HeaderValue};

use crate::header_block::{Eol, HeaderBlock, ParseError};

/// Containers nested deeper than this are read as leaves (their bytes are kept as they are).
pub(crate) const MAX_DEPTH: usize = 40;

/// One MIME part.
#[derive(Debug, Clone)]
pub(crate) struct Part<'a> {
    /// The header fields, each with its line terminator (no blank separator line).
    pub(crate) header: Cow<'a, [u8]>,
    /// The body.
    pub(crate) body: Body<'a>,
    /// `type/subtype`, lower-cased, with Python's defaults when absent or invalid.
    pub(crate) ctype: String,
    /// The file name (`Content-Disposition` `filename`, else `Content-Type` `name`).
    pub(crate) filename: Option<String>,
    /// The part as received, while nothing has changed it.
    original: Option<&'a [u8]>,
}

/// A part's body.
#[derive(Debug, Clone)]
pub(crate) enum Body<'a> {
    /// Content, as it stands in the message (still transfer-encoded).
    Leaf(Cow<'a, [u8]>),
    /// A multipart's parts between its delimiters.
    Multipart {
        boundary: String,
        preamble: &'a [u8],
        parts: Vec<Part<'a>>,
        epilogue: &'a [u8],
    },
    /// A `message/rfc822` part: the attached message (none once filtered away).
    Message(Vec<Part<'a>>),
}

impl<'a> Part<'a> {
    /// Reads a whole message. The top-level header must be readable (intake checked it).
    pub(crate) fn parse_message(raw: &'a [u8]) -> Result<Part<'a>, ParseError> {
        let block = HeaderBlock::scan(raw)?;
        Ok(Part::from_block(raw, &block, "text/plain", 0))
    }

    /// Reads one part; `default_type` is the type without a Content-Type header.
    fn parse(raw: &'a [u8], default_type: &str, depth: usize) -> Part<'a> {
        if raw.starts_with(b"\r\n") || raw.starts_with(b"\n") {
            // No header fields at all: the defaults, and the body after the blank line.
            let skip = if raw[0] == b'\r' { 2 } else { 1 };
            return Part {
                header: Cow::Borrowed(&[]),
                body: Body::Leaf(Cow::Borrowed(&raw[skip..])),
                ctype: default_type.to_string(),
                filename: None,
                original: Some(raw),
            }
            .into_container(raw, skip, depth);
        }
        match HeaderBlock::scan(raw) {
            Ok(block) => Part::from_block(raw, &block, default_type, depth),
            Err(_) => Part {
                header: Cow::Borrowed(&[]),
                body: Body::Leaf(Cow::Borrowed(raw)),
                ctype: "text/plain".to_string(),
                filename: None,
                original: Some(raw),
            },
        }
    }

    fn from_block(
        raw: &'a [u8],
        block: &HeaderBlock,
        default_type: &str,
        depth: usize,
    ) -> Part<'a> {
        let header = &raw[..block.fields_end];
        let value = |name: &str| {
            block
                .fields
                .iter()
                .find(|f| f.is(raw, name))
                .map(|f| f.raw_value(raw))
        };
        let content_type = value("Content-Type").and_then(parse_params);
        let ctype = content_type
            .as_ref()
            .and_then(|ct| {
                let sub = ct.subtype()?;
                let main = ct.ctype();
                (!main.is_empty() && !sub.is_empty()).then(|| format!("{main}/{sub}"))
            })
            .map(|t| t.to_ascii_lowercase())
            .unwrap_or_else(|| default_type.to_string());
        let filename = value("Content-Disposition")
            .and_then(parse_params)
            .and_then(|cd| cd.attribute("filename").map(str::to_string))
            .or_else(|| {
                content_type
                    .as_ref()
                    .and_then(|ct| ct.attribute("name").map(str::to_string))
            })
            .filter(|n| !n.trim().is_empty());
        let boundary = content_type
            .as_ref()
            .and_then(|ct| ct.attribute("boundary"))
            .filter(|b| !b.is_empty())
            .map(str::to_string);
        let part = Part {
            header: Cow::Borrowed(header),
            body: Body::Leaf(Cow::Borrowed(&raw[block.body_offset..])),
            ctype,
            filename,
            original: Some(raw),
        };
        match boundary {
            Some(boundary) if part.ctype.starts_with("multipart/") && depth < MAX_DEPTH => {
                part.into_multipart(raw, block.body_offset, boundary, depth)
            }
            _ => part.into_container(raw, block.body_offset, depth),
        }
    }

    /// A `message/rfc822` leaf becomes the container of the attached message.
    fn into_container(mut self, raw: &'a [u8], body_at: usize, depth: usize) -> Part<'a> {
        let body = &raw[body_at..];
        if self.ctype == "message/rfc822" && depth < MAX_DEPTH && !body.is_empty() {
            self.body = Body::Message(vec![Part::parse(body, "text/plain", depth + 1)]);
        }
        self
    }

    fn into_multipart(
        mut self,
        raw: &'a [u8],
        body_at: usize,
        boundary: String,
        depth: usize,
    ) -> Part<'a> {
        let body = &raw[body_at..];
        let Some(split) = split_multipart(body, boundary.as_bytes()) else {
            return self;
        };
        let default_type = if self.ctype == "multipart/digest" {
            "message/rfc822"
        } else {
            "text/plain"
        };
        let parts = split
            .parts
            .into_iter()
            .map(|range| Part::parse(&body[range], default_type, depth + 1))
            .collect();
        self.body = Body::Multipart {
            boundary,
            preamble: &body[..split.preamble_end],
            parts,
            epilogue: &body[split.epilogue_start..],
        };
        self
    }

    /// The children of a container (`None` for a leaf).
    pub(crate) fn children(&self) -> Option<&Vec<Part<'a>>> {
        match &self.body {
            Body::Leaf(_) => None,
            Body::Multipart { parts, .. } | Body::Message(parts) => Some(parts),
        }
    }

    /// The children of a container, to edit them; who removes or replaces one must
    /// [`Part::touch`] the container (a changed child is noticed without it).
    pub(crate) fn children_mut(&mut self) -> Option<&mut Vec<Part<'a>>> {
        match &mut self.body {
            Body::Leaf(_) => None,
            Body::Multipart { parts, .. } | Body::Message(parts) => Some(parts),
        }
    }

    /// Python's `is_multipart()`.
    pub(crate) fn is_multipart(&self) -> bool {
        self.children().is_some()
    }

    /// The main type (`text` of `text/plain`).
    pub(crate) fn maintype(&self) -> &str {
        self.ctype.split('/').next().unwrap_or("")
    }

    /// Whether the part is a leaf with no content at all (Python: `get_payload() == ''`).
    pub(crate) fn is_empty_leaf(&self) -> bool {
        matches!(&self.body, Body::Leaf(content) if content.is_empty())
    }

    /// The number of parts, this one included, as Python's `msg.walk()` counts them.
    pub(crate) fn walk_count(&self) -> usize {
        1 + self
            .children()
            .map_or(0, |c| c.iter().map(Part::walk_count).sum())
    }

    /// Calls `f` on every leaf, depth first (descending into attached messages).
    pub(crate) fn for_each_leaf(&mut self, f: &mut impl FnMut(&mut Part<'a>)) {
        match self.children_mut() {
            Some(children) => children.iter_mut().for_each(|c| c.for_each_leaf(f)),
            None => f(self),
        }
    }

    /// The value of the header field `name` as written (folding included), if present.
    pub(crate) fn field_raw(&self, name: &str) -> Option<Vec<u8>> {
        let fields = fields_of(&self.header);
        fields
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, whole)| whole.to_vec())
    }

    /// Edits the header: removes the fields named in `remove`, then appends `add` (whole
    /// fields, line terminator included).
    pub(crate) fn edit_header(&mut self, remove: &[&str], add: &[Vec<u8>]) {
        let fields = fields_of(&self.header);
        let mut out = Vec::with_capacity(self.header.len() + 128);
        for (name, whole) in fields {
            if !remove
                .iter()
                .any(|r| name.eq_ignore_ascii_case(r.as_bytes()))
            {
                out.extend_from_slice(whole);
            }
        }
        for field in add {
            out.extend_from_slice(field);
        }
        self.header = Cow::Owned(out);
        self.original = None;
    }

    /// Replaces the body of a leaf (the part then counts as changed).
    pub(crate) fn set_leaf(&mut self, content: Vec<u8>) {
        self.body = Body::Leaf(Cow::Owned(content));
        self.original = None;
    }

    /// Marks the part as changed.
    pub(crate) fn touch(&mut self) {
        self.original = None;
    }

    /// Whether the part and everything in it is as received.
    pub(crate) fn is_pristine(&self) -> bool {
        self.original.is_some()
            && self
                .children()
                .is_none_or(|c| c.iter().all(Part::is_pristine))
    }

    /// Writes the part: the original bytes when nothing changed, else header, blank line and
    /// body, with `eol` for the lines this writes.
    pub(crate) fn write(&self, eol: Eol, out: &mut Vec<u8>) {
        if let Some(original) = self.original.filter(|_| self.is_pristine()) {
            out.extend_from_slice(original);
            return;
        }
        out.extend_from_slice(&self.header);
        if !self.header.is_empty() && !self.header.ends_with(b"\n") {
            out.extend_from_slice(eol.as_bytes());
        }
        out.extend_from_slice(eol.as_bytes());
        match &self.body {
            Body::Leaf(content) => out.extend_from_slice(content),
            Body::Message(parts) => {
                for part in parts {
                    part.write(eol, out);
                }
            }
            Body::Multipart {
                boundary,
                preamble,
                parts,
                epilogue,
            } => {
                out.extend_from_slice(preamble);
                for part in parts {
                    out.extend_from_slice(b"--");
                    out.extend_from_slice(boundary.as_bytes());
                    out.extend_from_slice(eol.as_bytes());
                    part.write(eol, out);
                    // The line break that belongs to the next delimiter.
                    out.extend_from_slice(eol.as_bytes());
                }
                out.extend_from_slice(b"--");
                out.extend_from_slice(boundary.as_bytes());
                out.extend_from_slice(b"--");
                if epilogue.is_empty() {
                    out.extend_from_slice(eol.as_bytes());
                } else {
                    out.extend_from_slice(epilogue);
                }
            }
        }
    }
}

/// A header field as `(name, whole field)`.
type FieldBytes<'h> = (&'h [u8], &'h [u8]);

/// The header fields of a header section (none when it does not scan).
fn fields_of(header: &[u8]) -> Vec<FieldBytes<'_>> {
    match HeaderBlock::scan(header) {
        Ok(block) => block
            .fields
            .iter()
            .map(|f| (f.name(header), &header[f.start..f.end]))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Parses a `Content-Type`-like value (also `Content-Disposition`) with its parameters
/// (RFC 2231 and encoded words decoded by mail-parser).
fn parse_params(raw_value: &[u8]) -> Option<ContentType<'static>> {
    let mut terminated = raw_value.to_vec();
    if !terminated.ends_with(b"\n") {
        terminated.extend_from_slice(b"\r\n");
    }
    match MessageStream::new(&terminated).parse_content_type() {
        HeaderValue::ContentType(ct) => Some(ContentType {
            c_type: ct.c_type.into_owned().into(),
            c_subtype: ct.c_subtype.map(|s| s.into_owned().into()),
            attributes: ct.attributes.map(|attrs| {
                attrs
                    .into_iter()
                    .map(|a| mail_parser::Attribute {
                        name: a.name.into_owned().into(),
                        value: a.value.into_owned().into(),
                    })
                    .collect()
            }),
        }),
        _ => None,
    }
}

/// Where a multipart body's parts are.
struct Split {
    preamble_end: usize,
    parts: Vec<std::ops::Range<usize>>,
    epilogue_start: usize,
}

/// Finds the delimiter lines `--boundary` (RFC 2046 §5.1.1: at the start of a line, then
/// optional white space). The line break before a delimiter belongs to it. `None` when the
/// boundary never occurs.
fn split_multipart(body: &[u8], boundary: &[u8]) -> Option<Split> {
    // (start, after the delimiter line, close)
    let mut delimiters: Vec<(usize, usize, bool)> = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let line_end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| pos + i + 1);
        let line = &body[pos..line_end];
        if let Some(rest) = line
            .strip_prefix(b"--")
            .and_then(|r| r.strip_prefix(boundary))
        {
            let (close, rest) = match rest.strip_prefix(b"--") {
                Some(after) => (true, after),
                None => (false, rest),
            };
            if rest.iter().all(|b| b.is_ascii_whitespace()) {
                delimiters.push((pos, line_end, close));
                if close {
                    break;
                }
            }
        }
        pos = line_end;
    }
    let first = delimiters.first()?;
    // The line break before a delimiter is part of it.
    let before = |at: usize| {
        if at >= 2 && &body[at - 2..at] == b"\r\n" {
            at - 2
        } else if at >= 1 && body[at - 1] == b'\n' {
            at - 1
        } else {
            at
        }
    };
    let preamble_end = first.0;
    let mut parts = Vec::new();
    for pair in delimiters.windows(2) {
        let (_, after, close) = pair[0];
        if close {
            break;
        }
        parts.push(after..before(pair[1].0).max(after));
    }
    let last = *delimiters.last()?;
    let epilogue_start = if last.2 {
        // Whatever follows `--boundary--` (its line break included) is the epilogue.
        last.0 + 2 + boundary.len() + 2
    } else {
        // No close delimiter: the last part runs to the end.
        parts.push(last.1..body.len());
        body.len()
    };
    Some(Split {
        preamble_end,
        parts,
        epilogue_start,
    })
}
