//! `rfc_2369`: the list headers. Any List-* header the post already has is removed (a post
//! from another list must not carry that list's headers), then `List-Id` is added, followed
//! (when `include_rfc2369_headers` is on) by the RFC 2369 headers in Mailman's (sorted)
//! order:
//!
//! ```text
//! List-Id: Ant <ant.example.com>
//! List-Archive: <url>                               (see below)
//! Archived-At: <permalink>                          (see below; not for digests)
//! List-Help: <mailto:ant-request@example.com?subject=help>
//! List-Owner: <mailto:ant-owner@example.com>
//! List-Post: <mailto:ant@example.com>              (NO when allow_list_posts is off)
//! List-Subscribe: <mailto:ant-join@example.com>
//! List-Unsubscribe: <mailto:ant-leave@example.com>
//! ```
//!
//! `List-Archive` and `Archived-At` (RFC 5064) are written, as in Mailman's `rfc-2369`, only
//! when `archive_policy` is not `never` and at least one archiver is enabled for the list
//! ([`crate::ListContext::archivers`]); like Mailman, at most one of each, the last enabled
//! archiver that has a URL winning. `List-Archive` comes from the list's `archive_url` (a
//! mailcast extension, first in that order) or an archiver's list URL; `Archived-At` from an
//! archiver's permalink of the post's `Message-ID-Hash`. A digest never gets `Archived-At`. A
//! post that will not be archived (`X-No-Archive`, `X-Archive: no`) gets no `Archived-At`
//! either, where Mailman still writes one that leads nowhere. The poster's own `Archived-At`
//! and `List-Archive` are always removed.
//!
//! The List-Id phrase is the list's display name (Mailman 3.3 uses the description). The RFC
//! 8058 one-click URL names one member, so it is added per copy by
//! [`crate::personalize::Personalizer`], never here.

use mailcast_model::settings::ArchivePolicy;

use super::HandlerContext;
use crate::archive::wants_archive;
use crate::encoded_word::{Value, mailbox};
use crate::rewrite::Rewrite;

/// Every header this handler owns; existing ones are removed.
const LIST_HEADERS: &[&str] = &[
    "List-Id",
    "List-Archive",
    "List-Help",
    "List-Owner",
    "List-Post",
    "List-Subscribe",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Archived-At",
];

/// Runs the handler.
pub fn run(ctx: &HandlerContext<'_>, rewrite: &mut Rewrite<'_>) {
    let list = ctx.list;
    let settings = list.settings();
    let address = list.address();
    for name in LIST_HEADERS {
        rewrite.remove(name);
    }
    let list_id = mailbox(Some(list.display_name()), &address.list_id());
    let list_id = if list_id.starts_with('<') || list_id.contains(" <") {
        list_id
    } else {
        format!("<{list_id}>")
    };
    rewrite.append("List-Id", Value::Raw(&list_id));
    if !settings.include_rfc2369_headers {
        return;
    }
    let (list_archive, archived_at) = archive_links(ctx);
    if let Some(url) = list_archive {
        rewrite.append("List-Archive", Value::Raw(&format!("<{url}>")));
    }
    if let Some(url) = archived_at {
        rewrite.append("Archived-At", Value::Raw(&format!("<{url}>")));
    }
    let help = format!("<mailto:{}?subject=help>", address.sub_address("request"));
    let owner = format!("<mailto:{}>", address.sub_address("owner"));
    let post = if settings.allow_list_posts {
        format!("<mailto:{}>", address.posting_address())
    } else {
        "NO".to_string()
    };
    let subscribe = format!("<mailto:{}>", address.sub_address("join"));
    let unsubscribe = format!("<mailto:{}>", address.sub_address("leave"));
    rewrite
        .append("List-Help", Value::Raw(&help))
        .append("List-Owner", Value::Raw(&owner))
        .append("List-Post", Value::Raw(&post))
        .append("List-Subscribe", Value::Raw(&subscribe))
        .append("List-Unsubscribe", Value::Raw(&unsubscribe));
}

/// The `List-Archive` and `Archived-At` URLs of the post, if any (see the module text).
fn archive_links(ctx: &HandlerContext<'_>) -> (Option<String>, Option<String>) {
    let settings = ctx.list.settings();
    let archivers = ctx.list.archivers();
    if settings.archive_policy == ArchivePolicy::Never || archivers.is_empty() {
        return (None, None);
    }
    let own = Some(settings.archive_url.0.trim())
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let list_archive = archivers
        .iter()
        .filter_map(|a| a.list_url.clone())
        .next_back()
        .or(own);
    let hash = ctx
        .message
        .text("Message-ID-Hash")
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    let archived = wants_archive(ctx.message, settings, ctx.is_digest);
    let archived_at = hash.filter(|_| archived).and_then(|hash| {
        archivers
            .iter()
            .filter_map(|a| a.permalink.as_ref())
            .next_back()
            .map(|p| p.of(&hash))
    });
    (list_archive, archived_at)
}

#[cfg(test)]
mod tests {
    use crate::archive::{ArchiveLinks, Permalink};
    use crate::handlers::testing_list::process;
    use crate::handlers::{ProcessOptions, virgin};
    use mailcast_model::settings::{ArchivePolicy, ListSettings};

    /// A list with the mbox archiver (no URLs) and, with `web`, a HyperKitty-like one.
    fn archivers(web: bool) -> Vec<ArchiveLinks> {
        let mut v = vec![ArchiveLinks {
            name: "mbox".into(),
            list_url: None,
            permalink: None,
        }];
        if web {
            v.push(ArchiveLinks {
                name: "hyperkitty".into(),
                list_url: Some("https://hk.example.com/list/ant@example.com/".into()),
                permalink: Some(Permalink {
                    prefix: "https://hk.example.com/list/ant@example.com/message/".into(),
                    suffix: "/".into(),
                }),
            });
        }
        v
    }

    fn run_with(text: &str, web: bool, edit: impl FnOnce(&mut ListSettings)) -> String {
        let raw = text.replace('\n', "\r\n");
        let list = crate::handlers::testing_list::list(edit).with_archivers(archivers(web));
        let options = ProcessOptions {
            post_number: 7,
            decorate: false,
            anonymous_message_id: "anon.1@example.com",
            remove_dkim_headers: false,
        };
        let out = crate::handlers::process(raw.as_bytes(), &list, &options).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn process_archived(text: &str, edit: impl FnOnce(&mut ListSettings)) -> String {
        run_with(text, false, edit)
    }

    const HASHED: &str = "From: a@example.com\nMessage-ID: <m1@example.com>\nMessage-ID-Hash: HASH1\nArchived-At: <https://elsewhere/x>\nSubject: s\n\nb\n";

    #[test]
    fn archive_headers_need_an_enabled_archiver() {
        let out = process(POST, |s| {
            s.archive_url.0 = "https://lists.example.com/ant/".into()
        });
        assert!(!out.contains("List-Archive"), "no archiver enabled: {out}");
        let out = process_archived(POST, |s| {
            s.archive_url.0 = "https://lists.example.com/ant/".into();
            s.archive_policy = ArchivePolicy::Never;
        });
        assert!(!out.contains("List-Archive"), "policy never: {out}");
        let out = run_with(HASHED, false, |_| {});
        assert!(
            !out.contains("List-Archive") && !out.contains("Archived-At"),
            "{out}"
        );
    }

    #[test]
    fn archived_at_is_the_permalink_of_the_hash() {
        let out = run_with(HASHED, true, |s| {
            s.archive_url.0 = "https://lists.example.com/ant/".into()
        });
        assert!(
            out.contains(
                "List-Archive: <https://hk.example.com/list/ant@example.com/>\r\n\
Archived-At: <https://hk.example.com/list/ant@example.com/message/HASH1/>\r\n"
            ),
            "{out}"
        );
        assert!(
            !out.contains("elsewhere"),
            "the poster's Archived-At goes: {out}"
        );
        assert_eq!(out.matches("List-Archive").count(), 1, "{out}");
        let private = run_with(HASHED, true, |s| s.archive_policy = ArchivePolicy::Private);
        assert!(private.contains("Archived-At: <"), "{private}");
        let off = run_with(HASHED, true, |s| s.include_rfc2369_headers = false);
        assert!(
            !off.contains("Archived-At") && !off.contains("List-Archive"),
            "{off}"
        );
    }

    #[test]
    fn no_archived_at_for_posts_kept_out_or_digests() {
        for header in ["X-No-Archive: yes\n", "X-Archive: NO\n"] {
            let text = HASHED.replace("Subject", &format!("{header}Subject"));
            let out = run_with(&text, true, |_| {});
            assert!(out.contains("List-Archive: <"), "{out}");
            assert!(!out.contains("Archived-At"), "{out}");
        }
        let raw = HASHED.replace('\n', "\r\n");
        let list = crate::handlers::testing_list::list(|_| {}).with_archivers(archivers(true));
        let digest = String::from_utf8(virgin(raw.as_bytes(), &list).unwrap()).unwrap();
        assert!(digest.contains("List-Archive: <"), "{digest}");
        assert!(!digest.contains("Archived-At"), "{digest}");
    }

    const POST: &str = "From: a@example.com\nList-Id: <other.example.org>\nList-Post: <mailto:other@example.org>\nSubject: s\n\nb\n";

    fn tail(out: &str) -> &str {
        let headers = out.split("\r\n\r\n").next().unwrap();
        &headers[headers.find("List-Id").unwrap()..]
    }

    #[test]
    fn list_headers_replace_the_posters() {
        let out = process_archived(POST, |s| {
            s.archive_url.0 = "https://lists.example.com/ant/".into()
        });
        assert_eq!(
            tail(&out),
            "List-Id: Ant <ant.example.com>\r\n\
List-Archive: <https://lists.example.com/ant/>\r\n\
List-Help: <mailto:ant-request@example.com?subject=help>\r\n\
List-Owner: <mailto:ant-owner@example.com>\r\n\
List-Post: <mailto:ant@example.com>\r\n\
List-Subscribe: <mailto:ant-join@example.com>\r\n\
List-Unsubscribe: <mailto:ant-leave@example.com>"
        );
        assert!(
            !out.contains("other@example.org") && !out.contains("other.example.org"),
            "{out}"
        );
    }

    #[test]
    fn switches_and_hooks() {
        let out = process(POST, |s| s.include_rfc2369_headers = false);
        assert_eq!(tail(&out), "List-Id: Ant <ant.example.com>");
        let out = process(POST, |s| {
            s.allow_list_posts = false;
            s.display_name.0 = "Ants, Inc.".into();
        });
        assert!(out.contains("List-Post: NO\r\n"), "{out}");
        assert!(
            out.contains("List-Id: \"Ants, Inc.\" <ant.example.com>\r\n"),
            "{out}"
        );
        assert!(
            !out.contains("List-Unsubscribe-Post"),
            "only personalized copies: {out}"
        );
    }
}
