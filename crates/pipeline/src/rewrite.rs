//! Body-preserving header rewriting by splicing.
//!
//! A [`Rewrite`] starts from a parsed [`Message`] and records edits to its header fields:
//! remove every field with a name, append a field at the end of the header block, insert one
//! at the top, or replace a field's value where it stands. [`Rewrite::finish`] writes the new
//! header block followed by the original body bytes, untouched. Fields that were not edited are
//! copied byte for byte (folding, order, case), so a DKIM signature over them still verifies.
//! New values go through [`crate::encoded_word::field`]: encoded when not ASCII, folded at 78
//! columns, and unable to inject a header line.
//!
//! This module never changes the body; [`crate::handlers::decorate`] does that when a footer
//! must be added.

use std::borrow::Cow;

use crate::encoded_word::{self, Value};
use crate::header_block::Eol;
use crate::message::{Message, unfold};

/// One header field in the output: a borrowed original or a newly rendered one.
#[derive(Debug, Clone)]
struct Slot<'m> {
    /// The field name as written.
    name: Cow<'m, [u8]>,
    /// The whole field, name to line terminator.
    bytes: Cow<'m, [u8]>,
    /// Offset of the colon in `bytes`.
    colon: usize,
    /// Removed fields stay in place (so indices stay valid) but are not written.
    removed: bool,
}

/// Pending edits of a message's header block.
#[derive(Debug, Clone)]
pub struct Rewrite<'m> {
    raw: &'m [u8],
    slots: Vec<Slot<'m>>,
    separator: &'m [u8],
    body: &'m [u8],
    eol: Eol,
}

impl<'m> Rewrite<'m> {
    /// Starts a rewrite of `message` with no edits.
    pub fn new(message: &Message<'m>) -> Rewrite<'m> {
        let raw = message.raw();
        let block = message.block();
        let slots = block
            .fields
            .iter()
            .map(|f| Slot {
                name: Cow::Borrowed(f.name(raw)),
                bytes: Cow::Borrowed(&raw[f.start..f.end]),
                colon: f.colon - f.start,
                removed: false,
            })
            .collect();
        Rewrite {
            raw,
            slots,
            separator: &raw[block.fields_end..block.body_offset],
            body: message.body(),
            eol: message.eol(),
        }
    }

    /// The line terminator new fields are written with.
    pub fn eol(&self) -> Eol {
        self.eol
    }

    /// The original message bytes.
    pub fn original(&self) -> &'m [u8] {
        self.raw
    }

    /// Removes every field named `name` (ASCII case-insensitive), original or added.
    pub fn remove(&mut self, name: &str) -> &mut Self {
        for slot in self
            .slots
            .iter_mut()
            .filter(|s| s.name.eq_ignore_ascii_case(name.as_bytes()))
        {
            slot.removed = true;
        }
        self
    }

    /// Removes every field whose name (lower-cased) satisfies `predicate`.
    pub fn remove_where(&mut self, predicate: impl Fn(&str) -> bool) -> &mut Self {
        for slot in self.slots.iter_mut() {
            if predicate(&String::from_utf8_lossy(&slot.name).to_ascii_lowercase()) {
                slot.removed = true;
            }
        }
        self
    }

    /// Appends a field at the end of the header block.
    pub fn append(&mut self, name: &str, value: Value<'_>) -> &mut Self {
        let slot = self.render(name, value);
        self.slots.push(slot);
        self
    }

    /// Inserts a field at the top of the header block.
    pub fn prepend(&mut self, name: &str, value: Value<'_>) -> &mut Self {
        let slot = self.render(name, value);
        self.slots.insert(0, slot);
        self
    }

    /// Replaces the value of the first field named `name` where it stands and removes the
    /// other fields of that name. Returns `false` (and changes nothing) when there is none.
    pub fn replace(&mut self, name: &str, value: Value<'_>) -> bool {
        let mut matching = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.removed && s.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(i, _)| i);
        let Some(first) = matching.next() else {
            return false;
        };
        let rest: Vec<usize> = matching.collect();
        // Keep the name's original spelling.
        let spelled = String::from_utf8_lossy(&self.slots[first].name).into_owned();
        self.slots[first] = self.render(&spelled, value);
        for i in rest {
            self.slots[i].removed = true;
        }
        true
    }

    /// Replaces the first field named `name` in place, or appends one when there is none.
    pub fn set(&mut self, name: &str, value: Value<'_>) -> &mut Self {
        if !self.replace(name, value) {
            self.append(name, value);
        }
        self
    }

    /// Whether a field named `name` is present after the edits so far.
    pub fn has(&self, name: &str) -> bool {
        self.live()
            .any(|s| s.name.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The raw values (after the colon, folding included) of the fields named `name`, after
    /// the edits so far.
    pub fn raw_values(&self, name: &str) -> Vec<&[u8]> {
        self.live()
            .filter(|s| s.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|s| &s.bytes[s.colon + 1..])
            .collect()
    }

    /// The unfolded values of the fields named `name`, after the edits so far.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.raw_values(name).into_iter().map(unfold).collect()
    }

    /// Writes the header block (fields and the blank separator line) into `out`.
    pub fn write_headers(&self, out: &mut Vec<u8>) {
        for slot in self.live() {
            out.extend_from_slice(&slot.bytes);
            if !slot.bytes.ends_with(b"\n") {
                // A headers-only message may end without a line terminator.
                out.extend_from_slice(self.eol.as_bytes());
            }
        }
        if self.separator.is_empty() {
            out.extend_from_slice(self.eol.as_bytes());
        } else {
            out.extend_from_slice(self.separator);
        }
    }

    /// The new header block, blank line included.
    pub fn headers(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() - self.body.len() + 256);
        self.write_headers(&mut out);
        out
    }

    /// The new message: the edited header block followed by the original body bytes.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + 512);
        self.write_headers(&mut out);
        out.extend_from_slice(self.body);
        out
    }

    /// The new header block followed by `body` (for handlers that rewrote the body).
    pub fn finish_with_body(&self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len() + body.len() + 512);
        self.write_headers(&mut out);
        out.extend_from_slice(body);
        out
    }

    fn live(&self) -> impl Iterator<Item = &Slot<'m>> {
        self.slots.iter().filter(|s| !s.removed)
    }

    fn render(&self, name: &str, value: Value<'_>) -> Slot<'m> {
        let bytes = encoded_word::field(name, value, self.eol);
        Slot {
            name: Cow::Owned(name.as_bytes().to_vec()),
            colon: name.len(),
            bytes: Cow::Owned(bytes),
            removed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RAW: &[u8] = b"Received: from x\r\n\tby y\r\nFROM: a@example.com\r\nSubject: old\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\nbody line\r\n";

    fn rewrite(edit: impl FnOnce(&mut Rewrite<'_>)) -> String {
        let msg = Message::parse(RAW).unwrap();
        let mut rw = Rewrite::new(&msg);
        edit(&mut rw);
        String::from_utf8(rw.finish()).unwrap()
    }

    #[test]
    fn no_edit_is_the_identity() {
        assert_eq!(rewrite(|_| {}).as_bytes(), RAW);
    }

    #[test]
    fn each_operation_splices_only_what_it_touches() {
        let out = rewrite(|rw| {
            rw.remove("x-DUP");
            rw.append("X-New", Value::Text("n"));
            rw.prepend("Return-Path", Value::Raw("<a@example.com>"));
            assert!(rw.replace("subject", Value::Text("new")));
            assert!(!rw.replace("X-Absent", Value::Text("v")));
        });
        assert_eq!(
            out,
            "Return-Path: <a@example.com>\r\nReceived: from x\r\n\tby y\r\nFROM: a@example.com\r\nSubject: new\r\nX-New: n\r\n\r\nbody line\r\n"
        );
    }

    #[test]
    fn replace_keeps_position_and_drops_duplicates() {
        let out = rewrite(|rw| {
            rw.set("X-Dup", Value::Text("3"));
        });
        assert!(out.contains("Subject: old\r\nX-Dup: 3\r\n\r\n"), "{out}");
    }

    #[test]
    fn values_see_earlier_edits() {
        let msg = Message::parse(RAW).unwrap();
        let mut rw = Rewrite::new(&msg);
        rw.remove("x-dup").append("X-Dup", Value::Text("9"));
        assert_eq!(rw.values("x-dup"), vec!["9"]);
        assert!(!rw.has("x-absent"));
    }

    #[test]
    fn appending_to_an_unterminated_headers_only_message() {
        let msg = Message::parse(b"Subject: x").unwrap();
        let mut rw = Rewrite::new(&msg);
        rw.append("X-A", Value::Text("1"));
        assert_eq!(rw.finish(), b"Subject: x\r\nX-A: 1\r\n\r\n");
    }

    proptest! {
        #[test]
        fn any_rewrite_keeps_the_body_bytes(
            body in proptest::collection::vec(any::<u8>(), 0..400),
            value in "\\PC{0,120}",
            ops in proptest::collection::vec(0u8..5, 0..6),
        ) {
            let mut raw = b"From: a@example.com\r\nSubject: s\r\nX-A: 1\r\n\r\n".to_vec();
            raw.extend_from_slice(&body);
            let msg = Message::parse(&raw).unwrap();
            let mut rw = Rewrite::new(&msg);
            for op in ops {
                match op {
                    0 => { rw.remove("x-a"); }
                    1 => { rw.append("X-B", Value::Text(&value)); }
                    2 => { rw.prepend("X-C", Value::Raw(&value)); }
                    3 => { rw.replace("subject", Value::Text(&value)); }
                    _ => { rw.set("X-A", Value::Text(&value)); }
                }
            }
            let out = rw.finish();
            prop_assert!(out.ends_with(&body));
            let reparsed = Message::parse(&out).unwrap();
            prop_assert_eq!(reparsed.body(), &body[..]);
        }
    }
}
