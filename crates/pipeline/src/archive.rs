//! What the pipeline knows about a list's archives: the links each enabled archiver gives
//! (`List-Archive`, `Archived-At`; mailman3-more.md §2.1, §2.2) and Mailman's `to-archive`
//! skip rules.
//!
//! The daemon decides which archivers are enabled for a list (site and list switches) and
//! passes their links in with [`crate::ListContext::with_archivers`]; the pipeline only
//! renders headers from them and from the post's `Message-ID-Hash`. A permalink is pure
//! computation from that hash, so it can be written before the archiver has seen the post.

use mailcast_model::settings::{ArchivePolicy, ListSettings};

use crate::message::Message;

/// The links one enabled archiver gives for a list (Mailman's `list_url` and `permalink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLinks {
    /// The archiver's name (`mbox`, `prototype`, `hyperkitty`).
    pub name: String,
    /// The URL of the list's archive, for `List-Archive`; `None` when it has no web view.
    pub list_url: Option<String>,
    /// The permalink of a post, for `Archived-At`; `None` when posts have no URL.
    pub permalink: Option<Permalink>,
}

/// A permalink as `prefix` + the post's `Message-ID-Hash` + `suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permalink {
    /// Everything before the hash.
    pub prefix: String,
    /// Everything after the hash.
    pub suffix: String,
}

impl Permalink {
    /// The permalink of the post whose `Message-ID-Hash` is `hash`.
    pub fn of(&self, hash: &str) -> String {
        format!("{}{hash}{}", self.prefix, self.suffix)
    }
}

/// Mailman's `to-archive` handler: whether a post goes to the list's archivers. Not a digest,
/// `archive_policy` not `never`, no `X-No-Archive` header (any value), and no `X-Archive: no`
/// (any case). `X-No-Archive` does not keep a post out of digests.
pub fn wants_archive(message: &Message<'_>, settings: &ListSettings, is_digest: bool) -> bool {
    if is_digest || settings.archive_policy == ArchivePolicy::Never {
        return false;
    }
    if message.has("X-No-Archive") {
        return false;
    }
    !message
        .fields_named("X-Archive")
        .any(|f| message.unfolded(f).trim().eq_ignore_ascii_case("no"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testing_list::list;

    fn wants(headers: &str, edit: impl FnOnce(&mut ListSettings)) -> bool {
        let raw = format!("From: a@example.com\r\n{headers}Subject: s\r\n\r\nbody\r\n");
        let message = Message::parse(raw.as_bytes()).unwrap();
        let ctx = list(edit);
        wants_archive(&message, ctx.settings(), false)
    }

    #[test]
    fn skip_rules_follow_mailman() {
        assert!(wants("", |_| {}));
        assert!(!wants("X-No-Archive: yes\r\n", |_| {}));
        assert!(!wants("X-No-Archive: no\r\n", |_| {}), "any value");
        assert!(!wants("X-No-Archive:\r\n", |_| {}), "even empty");
        assert!(!wants("X-Archive: No\r\n", |_| {}));
        assert!(!wants("X-Archive:  no \r\n", |_| {}));
        assert!(wants("X-Archive: yes\r\n", |_| {}));
        assert!(!wants("", |s| s.archive_policy = ArchivePolicy::Never));
        assert!(wants("", |s| s.archive_policy = ArchivePolicy::Private));
        let raw = b"From: a@example.com\r\n\r\nb\r\n";
        let message = Message::parse(raw).unwrap();
        assert!(!wants_archive(&message, list(|_| {}).settings(), true));
    }

    #[test]
    fn permalinks_wrap_the_hash() {
        let p = Permalink {
            prefix: "https://x/list/ant@example.com/message/".into(),
            suffix: "/".into(),
        };
        assert_eq!(p.of("ABC"), "https://x/list/ant@example.com/message/ABC/");
    }
}
