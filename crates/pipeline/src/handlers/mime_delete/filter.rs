//! The steps of Mailman's `mime_delete` over the tree: which parts a list's types and
//! extensions remove, the recursive filtering, collapsing `multipart/alternative` and
//! recasting single-part multiparts (mailman3-more.md §4.2).

use mailcast_model::settings::ListSettings;

use super::tree::Part;

/// A list's `filter_*` and `pass_*` settings, lower-cased.
///
/// Mailman lower-cases the message's types and extensions but compares them with the lists
/// as stored, so an entry written `Text/HTML` or `EXE` never matches anything. mailcast
/// lower-cases (and trims) the entries too: matching is case-insensitive on both sides, which
/// is what every list owner who wrote such an entry meant.
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    filter_types: Vec<String>,
    pass_types: Vec<String>,
    filter_extensions: Vec<String>,
    pass_extensions: Vec<String>,
}

/// Why a part (or the whole message) is filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    TypeDisallowed,
    TypeNotAllowed,
    ExtensionDisallowed,
    ExtensionNotAllowed,
}

fn lowered(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

impl Matcher {
    pub(crate) fn new(settings: &ListSettings) -> Matcher {
        Matcher {
            filter_types: lowered(&settings.filter_types),
            pass_types: lowered(&settings.pass_types),
            filter_extensions: lowered(&settings.filter_extensions),
            pass_extensions: lowered(&settings.pass_extensions),
        }
    }

    /// Whether `part` is filtered, and why: its full type or main type in `filter_types`,
    /// or neither in a non-empty `pass_types`; then its file name's extension in
    /// `filter_extensions`, or not in a non-empty `pass_extensions` (a part without an
    /// extension passes the extension checks).
    pub(crate) fn verdict(&self, part: &Part<'_>) -> Option<Verdict> {
        let ctype = part.ctype.as_str();
        let mtype = part.maintype();
        let listed = |list: &[String]| list.iter().any(|t| t == ctype || t == mtype);
        if listed(&self.filter_types) {
            return Some(Verdict::TypeDisallowed);
        }
        if !self.pass_types.is_empty() && !listed(&self.pass_types) {
            return Some(Verdict::TypeNotAllowed);
        }
        let ext = part.filename.as_deref().and_then(extension)?;
        if self.filter_extensions.contains(&ext) {
            return Some(Verdict::ExtensionDisallowed);
        }
        if !self.pass_extensions.is_empty() && !self.pass_extensions.contains(&ext) {
            return Some(Verdict::ExtensionNotAllowed);
        }
        None
    }
}

/// The extension of a file name as Python's `os.path.splitext` gives it, without the dot and
/// lower-cased: after the last dot of the last path component, leading dots not counting;
/// `None` when there is none or it is empty.
pub(crate) fn extension(filename: &str) -> Option<String> {
    let base = filename.rsplit('/').next().unwrap_or(filename);
    let stem_start = base.len() - base.trim_start_matches('.').len();
    let dot = base[stem_start..].rfind('.')? + stem_start;
    let ext = &base[dot + 1..];
    (!ext.is_empty()).then(|| ext.to_lowercase())
}

/// Mailman's `filter_parts`: removes, depth first, every child that `matcher` filters and
/// every container child that became empty. Returns whether `part` keeps anything (a
/// container that had children and lost them all does not).
pub(crate) fn filter_parts(part: &mut Part<'_>, matcher: &Matcher) -> bool {
    let Some(children) = part.children_mut() else {
        return true;
    };
    let before = children.len();
    children.retain_mut(|child| filter_parts(child, matcher) && matcher.verdict(child).is_none());
    let after = children.len();
    if after != before {
        part.touch();
    }
    !(after == 0 && before > 0)
}

/// Mailman's `collapse_multipart_alternatives`: inside every container, a
/// `multipart/alternative` child is replaced by its first alternative (inside a
/// `message/rfc822`, the attached message keeps its header and takes the alternative's
/// content); one without any alternative is dropped.
pub(crate) fn collapse_alternatives(part: &mut Part<'_>) {
    if !part.is_multipart() {
        return;
    }
    let in_message = part.ctype == "message/rfc822";
    let Some(children) = part.children_mut() else {
        return;
    };
    let mut out = Vec::with_capacity(children.len());
    let mut replaced = false;
    for mut sub in std::mem::take(children) {
        if sub.ctype == "multipart/alternative" && sub.is_multipart() {
            replaced = true;
            let first = sub
                .children_mut()
                .and_then(|c| (!c.is_empty()).then(|| c.remove(0)));
            let Some(first) = first else { continue };
            if in_message {
                reset_payload(&mut sub, first);
                out.push(sub);
            } else {
                out.push(first);
            }
        } else {
            collapse_alternatives(&mut sub);
            out.push(sub);
        }
    }
    if let Some(children) = part.children_mut() {
        *children = out;
    }
    if replaced {
        part.touch();
    }
}

/// Mailman's `recast_multipart`: a multipart with exactly one part becomes that part
/// (recursively), except `multipart/signed` (a signature may cover it) and the attached
/// message of a `message/rfc822`.
pub(crate) fn recast(part: &mut Part<'_>) {
    if part.ctype == "multipart/signed" {
        return;
    }
    let Some(children) = part.children() else {
        return;
    };
    if children.len() == 1 && part.ctype != "message/rfc822" {
        let only = part
            .children_mut()
            .map(std::mem::take)
            .and_then(|mut c| c.pop());
        if let Some(only) = only {
            reset_payload(part, only);
            recast(part);
        }
    } else if let Some(children) = part.children_mut() {
        children.iter_mut().for_each(recast);
    }
}

/// Mailman's `reset_payload`: `part` takes `sub`'s content and its `Content-Type` (or
/// `text/plain`), `Content-Disposition` and `Content-Description`; the other header fields of
/// `part` stay. Unlike Mailman, which decodes a leaf's content and encodes it again for its
/// charset, the content keeps its bytes and `sub`'s `Content-Transfer-Encoding` comes along:
/// the same text, not re-encoded.
pub(crate) fn reset_payload<'a>(part: &mut Part<'a>, sub: Part<'a>) {
    let eol = if part.header.windows(2).any(|w| w == b"\r\n") || part.header.is_empty() {
        "\r\n"
    } else {
        "\n"
    };
    let mut add = Vec::new();
    match sub.field_raw("Content-Type") {
        Some(field) => add.push(field),
        None => add.push(format!("Content-Type: text/plain{eol}").into_bytes()),
    }
    for name in [
        "Content-Disposition",
        "Content-Description",
        "Content-Transfer-Encoding",
    ] {
        add.extend(sub.field_raw(name));
    }
    part.edit_header(
        &[
            "Content-Type",
            "Content-Disposition",
            "Content-Description",
            "Content-Transfer-Encoding",
        ],
        &add,
    );
    part.ctype = sub.ctype;
    part.filename = sub.filename;
    part.body = sub.body;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_splitext() {
        assert_eq!(extension("report.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("archive.tar.gz").as_deref(), Some("gz"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("..hidden.txt").as_deref(), Some("txt"));
        assert_eq!(extension("noext"), None);
        assert_eq!(extension("trailing."), None);
        assert_eq!(extension("dir.d/file"), None);
    }
}
