//! `rfc_2369`: the list headers. Any List-* header the post already has is removed (a post
//! from another list must not carry that list's headers), then `List-Id` is added, followed
//! (when `include_rfc2369_headers` is on) by the RFC 2369 headers in Mailman's (sorted)
//! order:
//!
//! ```text
//! List-Id: Ant <ant.example.com>
//! List-Archive: <archive_url>                      (when set and archiving is not "never")
//! List-Help: <mailto:ant-request@example.com?subject=help>
//! List-Owner: <mailto:ant-owner@example.com>
//! List-Post: <mailto:ant@example.com>              (NO when allow_list_posts is off)
//! List-Subscribe: <mailto:ant-join@example.com>
//! List-Unsubscribe: <mailto:ant-leave@example.com>
//! ```
//!
//! The List-Id phrase is the list's display name (Mailman 3.3 uses the description). The RFC
//! 8058 one-click URL names one member, so it is added per copy by
//! [`crate::personalize::Personalizer`], never here.

use mailcast_model::settings::ArchivePolicy;

use super::HandlerContext;
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
    let archive = settings.archive_url.0.trim();
    if !archive.is_empty() && settings.archive_policy != ArchivePolicy::Never {
        rewrite.append("List-Archive", Value::Raw(&format!("<{archive}>")));
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

#[cfg(test)]
mod tests {
    use crate::handlers::testing_list::process;

    const POST: &str = "From: a@example.com\nList-Id: <other.example.org>\nList-Post: <mailto:other@example.org>\nSubject: s\n\nb\n";

    fn tail(out: &str) -> &str {
        let headers = out.split("\r\n\r\n").next().unwrap();
        &headers[headers.find("List-Id").unwrap()..]
    }

    #[test]
    fn list_headers_replace_the_posters() {
        let out = process(POST, |s| {
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
