//! Mailman 3's named templates (`list:user:notice:welcome`, ...): their English defaults, the
//! overrides a site, domain or list sets, and the two text operations Mailman applies to them,
//! [`expand`] (safe `$placeholder` substitution) and [`wrap`] (paragraph filling).
//!
//! The defaults are mailcast's own wording, carrying the information and the placeholders of
//! Mailman 3.3.10's English files; they live in `crates/pipeline/templates/en/`, one file per
//! template, named after the template with `:` replaced by `.`. As in Mailman, the digest and
//! regular footers default to `list:member:generic:footer`. Besides Mailman's names
//! ([`NAMES`]) there are mailcast's own ([`MAILCAST_NAMES`]) for notices Mailman does not send.
//!
//! Looking overrides up (site, then domain, then list; fetching URIs) is the daemon's: it
//! hands the texts to [`Overrides`]. The message decorations do not come from here: they keep
//! the list settings `header_text` / `footer_text` (see [`crate::handlers::decorate`]).

mod wrap;

use std::collections::BTreeMap;

pub use wrap::wrap;

use crate::context::ListContext;
use crate::template::substitute;

/// Every template name Mailman 3.3.10 knows (its `ALL_TEMPLATES`, plus `help` and
/// `list:member:generic:footer`, which it ships as files).
pub const NAMES: &[&str] = &[
    "domain:admin:notice:new-list",
    "help",
    "list:admin:action:post",
    "list:admin:action:subscribe",
    "list:admin:action:unsubscribe",
    "list:admin:notice:disable",
    "list:admin:notice:increment",
    "list:admin:notice:pending",
    "list:admin:notice:removal",
    "list:admin:notice:subscribe",
    "list:admin:notice:unrecognized",
    "list:admin:notice:unsubscribe",
    "list:member:digest:footer",
    "list:member:digest:header",
    "list:member:digest:masthead",
    "list:member:generic:footer",
    "list:member:regular:footer",
    "list:member:regular:header",
    "list:user:action:invite",
    "list:user:action:subscribe",
    "list:user:action:unsubscribe",
    "list:user:notice:goodbye",
    "list:user:notice:hold",
    "list:user:notice:no-more-today",
    "list:user:notice:post",
    "list:user:notice:probe",
    "list:user:notice:refuse",
    "list:user:notice:rejected",
    "list:user:notice:warning",
    "list:user:notice:welcome",
];

/// Templates of notices mailcast sends and Mailman does not: a held post discarded after
/// `max_days_to_hold` days, to its poster and to the moderators.
pub const MAILCAST_NAMES: &[&str] = &[
    "list:admin:notice:held-expired",
    "list:user:notice:held-expired",
];

/// The English default of a template (Mailman's or mailcast's own), `None` for an unknown
/// name. Several of Mailman's defaults are empty (`list:user:notice:goodbye`, the headers).
pub fn default_text(name: &str) -> Option<&'static str> {
    macro_rules! en {
        ($file:literal) => {
            include_str!(concat!("../../templates/en/", $file, ".txt"))
        };
    }
    Some(match name {
        "domain:admin:notice:new-list" => en!("domain.admin.notice.new-list"),
        "help" => en!("help"),
        "list:admin:action:post" => en!("list.admin.action.post"),
        "list:admin:action:subscribe" => en!("list.admin.action.subscribe"),
        "list:admin:action:unsubscribe" => en!("list.admin.action.unsubscribe"),
        "list:admin:notice:disable" => en!("list.admin.notice.disable"),
        "list:admin:notice:held-expired" => en!("list.admin.notice.held-expired"),
        "list:admin:notice:increment" => en!("list.admin.notice.increment"),
        "list:admin:notice:pending" => en!("list.admin.notice.pending"),
        "list:admin:notice:removal" => en!("list.admin.notice.removal"),
        "list:admin:notice:subscribe" => en!("list.admin.notice.subscribe"),
        "list:admin:notice:unrecognized" => en!("list.admin.notice.unrecognized"),
        "list:admin:notice:unsubscribe" => en!("list.admin.notice.unsubscribe"),
        "list:member:digest:header" => en!("list.member.digest.header"),
        "list:member:digest:masthead" => en!("list.member.digest.masthead"),
        "list:member:digest:footer"
        | "list:member:generic:footer"
        | "list:member:regular:footer" => en!("list.member.generic.footer"),
        "list:member:regular:header" => en!("list.member.regular.header"),
        "list:user:action:invite" => en!("list.user.action.invite"),
        "list:user:action:subscribe" => en!("list.user.action.subscribe"),
        "list:user:action:unsubscribe" => en!("list.user.action.unsubscribe"),
        "list:user:notice:goodbye" => en!("list.user.notice.goodbye"),
        "list:user:notice:held-expired" => en!("list.user.notice.held-expired"),
        "list:user:notice:hold" => en!("list.user.notice.hold"),
        "list:user:notice:no-more-today" => en!("list.user.notice.no-more-today"),
        "list:user:notice:post" => en!("list.user.notice.post"),
        "list:user:notice:probe" => en!("list.user.notice.probe"),
        "list:user:notice:refuse" => en!("list.user.notice.refuse"),
        "list:user:notice:rejected" => en!("list.user.notice.rejected"),
        "list:user:notice:warning" => en!("list.user.notice.warning"),
        "list:user:notice:welcome" => en!("list.user.notice.welcome"),
        _ => return None,
    })
}

/// Whether `name` is a template mailcast knows: one of [`NAMES`] or [`MAILCAST_NAMES`].
pub fn is_known(name: &str) -> bool {
    default_text(name).is_some()
}

/// The template texts set for one list (site, domain or list scope, the most specific one
/// already chosen by the daemon); everything else falls back to the English default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    texts: BTreeMap<String, String>,
}

impl Overrides {
    /// No overrides: every template has its default text.
    pub fn new() -> Overrides {
        Overrides::default()
    }

    /// Sets the text of template `name` (replacing an earlier one).
    pub fn set(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.texts.insert(name.into(), text.into());
    }

    /// The override of `name`, if one is set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }

    /// The text of `name`: the override, else the default, else (an unknown name) nothing.
    pub fn text<'a>(&'a self, name: &str) -> &'a str {
        self.get(name)
            .or_else(|| default_text(name))
            .unwrap_or_default()
    }
}

impl<N: Into<String>, T: Into<String>> FromIterator<(N, T)> for Overrides {
    fn from_iter<I: IntoIterator<Item = (N, T)>>(iter: I) -> Overrides {
        let mut overrides = Overrides::new();
        for (name, text) in iter {
            overrides.set(name, text);
        }
        overrides
    }
}

/// Mailman's `expand`: `$name` and `${name}` replaced by the `extra` value of that name (the
/// last one given wins) or else the list's placeholder ([`ListContext::placeholder`]);
/// unknown placeholders stay as written and `$$` becomes `$`. Nothing else in the text
/// changes (line ends and trailing spaces included).
pub fn expand(text: &str, list: &ListContext, extra: &[(&str, String)]) -> String {
    substitute(text, |name| {
        extra
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .or_else(|| list.placeholder(name))
    })
}

#[cfg(test)]
mod tests {
    use mailcast_model::settings::DEFAULT_FOOTER;

    use super::*;
    use crate::handlers::testing_list;

    #[test]
    fn every_name_has_a_default_and_unknown_names_have_none() {
        assert_eq!(NAMES.len(), 30);
        for name in NAMES.iter().chain(MAILCAST_NAMES) {
            assert!(is_known(name), "{name}");
            assert!(!NAMES.contains(name) || !MAILCAST_NAMES.contains(name));
        }
        for name in [
            "",
            "welcome",
            "list:user:notice:nope",
            "list.user.notice.welcome",
        ] {
            assert!(!is_known(name), "{name}");
            assert_eq!(default_text(name), None);
        }
        let mut sorted = NAMES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, NAMES, "NAMES is sorted");
    }

    /// The defaults use the placeholders Mailman's English files use, so that overrides
    /// written for Mailman and our defaults are expanded with the same values.
    #[test]
    fn defaults_carry_mailmans_placeholders() {
        for (name, placeholders) in [
            (
                "domain:admin:notice:new-list",
                &["$listname", "$request_email", "$site_email"][..],
            ),
            (
                "list:admin:action:post",
                &["$listname", "$sender_email", "$subject", "$reasons"],
            ),
            ("list:admin:action:subscribe", &["$member", "$listname"]),
            (
                "list:admin:notice:pending",
                &["$listname", "$count", "$data"],
            ),
            ("list:admin:notice:subscribe", &["$member", "$display_name"]),
            (
                "list:member:digest:masthead",
                &[
                    "$display_name",
                    "$listname",
                    "$request_email",
                    "$owner_email",
                ],
            ),
            (
                "list:user:action:invite",
                &[
                    "$user_email",
                    "$short_listname",
                    "$domain",
                    "$request_email",
                    "$token",
                    "$owner_email",
                ],
            ),
            (
                "list:user:action:subscribe",
                &[
                    "$domain",
                    "$user_email",
                    "$request_email",
                    "$token",
                    "$owner_email",
                ],
            ),
            (
                "list:user:action:unsubscribe",
                &[
                    "$domain",
                    "$user_email",
                    "$request_email",
                    "$token",
                    "$owner_email",
                ],
            ),
            (
                "list:user:notice:hold",
                &["$listname", "$subject", "$reasons"],
            ),
            (
                "list:user:notice:no-more-today",
                &["$sender_email", "$listname", "$count", "$owner_email"],
            ),
            ("list:user:notice:post", &["$subject", "$display_name"]),
            (
                "list:user:notice:probe",
                &["$listname", "$sender_email", "$owner_email"],
            ),
            (
                "list:user:notice:refuse",
                &["$listname", "$request", "$reason", "$owner_email"],
            ),
            ("list:user:notice:rejected", &["$listname", "$reasons"]),
            (
                "list:user:notice:warning",
                &["$listname", "$sender_email", "$owner_email"],
            ),
            (
                "list:user:notice:welcome",
                &["$display_name", "$listname", "$request_email"],
            ),
        ] {
            let text = default_text(name).unwrap();
            for placeholder in placeholders {
                assert!(text.contains(placeholder), "{name} lacks {placeholder}");
            }
        }
        for empty in [
            "list:user:notice:goodbye",
            "list:member:regular:header",
            "list:member:digest:header",
        ] {
            assert_eq!(default_text(empty), Some(""), "{empty}");
        }
        for footer in [
            "list:member:digest:footer",
            "list:member:regular:footer",
            "list:member:generic:footer",
        ] {
            assert_eq!(default_text(footer), Some(DEFAULT_FOOTER), "{footer}");
        }
    }

    #[test]
    fn overrides_win_over_defaults() {
        let overrides: Overrides = [("list:user:notice:post", "Got it: $subject")]
            .into_iter()
            .collect();
        assert_eq!(overrides.text("list:user:notice:post"), "Got it: $subject");
        assert_eq!(overrides.get("list:user:notice:welcome"), None);
        assert_eq!(
            overrides.text("list:user:notice:welcome"),
            default_text("list:user:notice:welcome").unwrap()
        );
        assert_eq!(overrides.text("no:such:template"), "");
    }

    #[test]
    fn expand_table() {
        let list = testing_list::list(|s| s.description.0 = "All about ants".into());
        for (text, extra, want) in [
            (
                "$listname / ${short_listname} / $domain",
                vec![],
                "ant@example.com / ant / example.com",
            ),
            (
                "$request_email $owner_email $list_id",
                vec![],
                "ant-request@example.com ant-owner@example.com ant.example.com",
            ),
            ("$display_name: $description", vec![], "Ant: All about ants"),
            ("$site_email $language", vec![], "postmaster@localhost en"),
            (
                "$token and ${token}s",
                vec![("token", "abc".to_string())],
                "abc and abcs",
            ),
            (
                "$display_name",
                vec![
                    ("display_name", "Other".to_string()),
                    ("display_name", "Last".to_string()),
                ],
                "Last",
            ),
            (
                "$unknown ${also_unknown} $$5 $",
                vec![],
                "$unknown ${also_unknown} $5 $",
            ),
            ("trailing  \r\nkept  \n", vec![], "trailing  \r\nkept  \n"),
            (
                "$count",
                vec![("count", "$listname".to_string())],
                "$listname",
            ),
        ] {
            assert_eq!(expand(text, &list, &extra), want, "{text:?}");
        }
    }
}
