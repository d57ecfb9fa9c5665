//! Content filtering: Mailman's `mime-delete` handler (mailman3-more.md §4), the first
//! handler an accepted post meets, after the rules and moderation and before `cleanse` and
//! `cook-headers`.
//!
//! With `filter_content` on, [`run`] does Mailman's steps in Mailman's order:
//! 1. the whole message against `filter_types`/`pass_types` (full type or main type) and the
//!    extension of its file name against `filter_extensions`/`pass_extensions`;
//! 2. the same for every part, depth first, dropping the parts that match and the
//!    multiparts that became empty (`filter::filter_parts`);
//! 3. with `collapse_alternatives`, every `multipart/alternative` becomes its first part;
//! 4. every multipart left with one part becomes that part (not `multipart/signed`);
//! 5. with `convert_html_to_plaintext`, every `text/html` part becomes `text/plain`
//!    (`html.rs`);
//! 6. a multipart of an empty part and one other becomes the other;
//! 7. when parts were removed or converted, `X-Content-Filtered-By` ([`FILTERED_BY`]).
//!
//! When the message as a whole is filtered, or nothing is left of it, the result is
//! [`Outcome::Disposed`] with what `filter_action` asks for; the daemon acts on it (discard,
//! reject with the reason, forward to the owners and moderators, preserve for the operator).
//! Matching is case-insensitive on both sides (`filter::Matcher` says why that differs from
//! Mailman). Mailman's `filter_report` (off by default) is not implemented: no report part is
//! added. The tree is in `tree.rs`: parts nobody changed keep their bytes.

mod filter;
mod html;
mod tree;

use std::fmt;

use mailcast_model::settings::FilterAction;

use crate::context::ListContext;
use crate::encoded_word::{self, Value};
use crate::header_block::{HeaderBlock, ParseError};

use filter::{Matcher, Verdict};
use tree::Part;

/// The value of the `X-Content-Filtered-By` field added to a filtered post. Mailman writes
/// `Mailman/MimeDel <version>`; mailcast names itself, without a version so that the bytes of
/// a filtered post do not change with a release.
pub const FILTERED_BY: &str = "mailcast/MimeDel";

/// The subject of the owners' notice for `filter_action = forward` (Mailman's text).
pub const FORWARD_SUBJECT: &str = "Content filter message notification";

/// The text of the owners' notice for `filter_action = forward` (Mailman's text), to go
/// with the filtered post attached.
pub fn forward_text(list: &ListContext) -> String {
    format!(
        "The attached message matched the {} mailing list's content\n\
         filtering rules and was prevented from being forwarded on to the list\n\
         membership.  You are receiving the only remaining copy of the discarded\n\
         message.\n\n",
        list.display_name()
    )
}

/// Why a message could not be filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The message's header section cannot be read.
    #[error("the post cannot be filtered: {0}")]
    Header(#[from] ParseError),
}

/// What content filtering makes of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Filtering is off, or the post passes as it is: distribute the original bytes.
    Unchanged,
    /// The filtered post, to go on through the handlers.
    Filtered(Vec<u8>),
    /// Nothing of the post is to be distributed.
    Disposed(Disposal),
}

/// A post content filtering took away as a whole, and what to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disposal {
    /// What to do (from `filter_action`).
    pub action: Disposition,
    /// `filter_action` as set: `hold`, `accept` and `defer` mean nothing here and are treated
    /// as discard, as in Mailman (which logs them as invalid).
    pub configured: FilterAction,
    /// Why.
    pub reason: Reason,
}

/// What happens to a post filtered away (Mailman's `dispose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Dropped.
    Discard,
    /// Refused, with a notice with [`Reason`] to the poster.
    Reject,
    /// Sent to the list's owners and moderators ([`FORWARD_SUBJECT`], [`forward_text`]),
    /// then dropped.
    Forward,
    /// Kept for the site operator, then dropped.
    Preserve,
}

impl Disposition {
    /// The disposition `filter_action` asks for.
    pub fn of(action: FilterAction) -> Disposition {
        match action {
            FilterAction::Reject => Disposition::Reject,
            FilterAction::Forward => Disposition::Forward,
            FilterAction::Preserve => Disposition::Preserve,
            FilterAction::Discard
            | FilterAction::Hold
            | FilterAction::Accept
            | FilterAction::Defer => Disposition::Discard,
        }
    }
}

/// Why a post was filtered away; `Display` gives Mailman's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Its type is in `filter_types`.
    TypeDisallowed,
    /// `pass_types` is set and does not name its type.
    TypeNotAllowed,
    /// Its file name's extension is in `filter_extensions`.
    ExtensionDisallowed,
    /// `pass_extensions` is set and does not name its file name's extension.
    ExtensionNotAllowed,
    /// Every part was filtered.
    Empty,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::TypeDisallowed => "The message's content type was explicitly disallowed",
            Reason::TypeNotAllowed => "The message's content type was not explicitly allowed",
            Reason::ExtensionDisallowed => "The message's file extension was explicitly disallowed",
            Reason::ExtensionNotAllowed => {
                "The message's file extension was not explicitly allowed"
            }
            Reason::Empty => "After content filtering, the message was empty",
        })
    }
}

impl From<Verdict> for Reason {
    fn from(verdict: Verdict) -> Reason {
        match verdict {
            Verdict::TypeDisallowed => Reason::TypeDisallowed,
            Verdict::TypeNotAllowed => Reason::TypeNotAllowed,
            Verdict::ExtensionDisallowed => Reason::ExtensionDisallowed,
            Verdict::ExtensionNotAllowed => Reason::ExtensionNotAllowed,
        }
    }
}

/// Filters the content of a post (`raw`, as the chain accepted it) for `list`.
pub fn run(raw: &[u8], list: &ListContext) -> Result<Outcome, FilterError> {
    let settings = list.settings();
    if !settings.filter_content {
        return Ok(Outcome::Unchanged);
    }
    let eol = HeaderBlock::scan(raw)?.eol;
    let mut root = Part::parse_message(raw)?;
    let dispose = |reason: Reason| {
        Ok(Outcome::Disposed(Disposal {
            action: Disposition::of(settings.filter_action),
            configured: settings.filter_action,
            reason,
        }))
    };
    let matcher = Matcher::new(settings);
    // 1. The message as a whole.
    if let Some(verdict) = matcher.verdict(&root) {
        return dispose(verdict.into());
    }
    let outer_type = root.ctype.clone();
    let parts_before = root.walk_count();
    // 2. Its parts.
    if root.is_multipart() && !filter::filter_parts(&mut root, &matcher) {
        return dispose(Reason::Empty);
    }
    // 3. Alternatives.
    if settings.collapse_alternatives {
        filter::collapse_alternatives(&mut root);
        if outer_type == "multipart/alternative"
            && let Some(children) = root.children_mut()
            && !children.is_empty()
        {
            let first = children.remove(0);
            filter::reset_payload(&mut root, first);
        }
    }
    // 4. Single-part multiparts.
    filter::recast(&mut root);
    let mut changed = parts_before != root.walk_count();
    // 5. HTML.
    if settings.convert_html_to_plaintext {
        changed |= html::to_plaintext(&mut root, eol) > 0;
    }
    // 6. An empty body and one attachment.
    if let Some(children) = root.children_mut()
        && children.len() == 2
        && children[0].is_empty_leaf()
    {
        let useful = children.remove(1);
        filter::reset_payload(&mut root, useful);
        changed = true;
    }
    // 7. The mark.
    if changed {
        let field = encoded_word::field("X-Content-Filtered-By", Value::Raw(FILTERED_BY), eol);
        root.edit_header(&[], &[field]);
    }
    if root.is_pristine() {
        return Ok(Outcome::Unchanged);
    }
    let mut out = Vec::with_capacity(raw.len());
    root.write(eol, &mut out);
    if !root.is_multipart() && !out.ends_with(b"\n") {
        // A part that became the message lost the line break its delimiter owned.
        out.extend_from_slice(eol.as_bytes());
    }
    Ok(Outcome::Filtered(out))
}

#[cfg(test)]
mod tests;
