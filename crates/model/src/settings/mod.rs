//! A list's settings, under Mailman 3's attribute names, with Mailman 3's defaults.
//!
//! [`ListSettings`] is a plain struct with one typed field per setting, so the pipeline reads
//! `settings.default_nonmember_action` directly. The `list_settings!` table below also
//! generates the name-based access the CLI (`lists show`, `lists set`), the store (one JSON
//! document per list) and the REST API need: every setting has a name, a type, a default and a
//! validator, declared once.
//!
//! Read-only attributes that Mailman derives (`posting_address`, `list_id`, `post_id`, ...) are
//! not settings; the store and the REST layer compute them.

mod value;
mod vocab;

pub use value::{Count, Line, SettingValue, Span, Text};
pub use vocab::*;

use serde_json::{Map, Value};

use crate::list::ListAddress;
use crate::member::Action;

/// Why a setting could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// No setting has this name.
    #[error("unknown setting {0:?} (see `mailcast lists show` for the names)")]
    Unknown(String),
    /// The value does not fit the setting's type or vocabulary.
    #[error("invalid value for {key}: {reason}")]
    Invalid {
        /// The setting's name.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

/// One entry of `header_matches`: a header, a regular expression and an optional action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    /// Header name, lower-cased.
    pub header: String,
    /// Regular expression matched against each value of the header.
    pub pattern: String,
    /// What to do on a match; `None` means the site default (hold).
    pub action: Option<Action>,
}

impl SettingValue for Vec<HeaderMatch> {
    fn type_name() -> String {
        r#"JSON list of {"header": ..., "pattern": ..., "action": ...}"#.into()
    }
    fn parse_cli(s: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(s).map_err(|e| format!("invalid JSON: {e}"))?;
        Self::from_json(&v)
    }
    fn from_json(v: &Value) -> Result<Self, String> {
        let Value::Array(items) = v else {
            return Err(format!("{v} is not a list"));
        };
        items
            .iter()
            .map(|item| {
                let field = |k: &str| item.get(k).and_then(Value::as_str);
                let header = field("header").ok_or("each entry needs a \"header\"")?;
                let pattern = field("pattern").ok_or("each entry needs a \"pattern\"")?;
                if header.is_empty() || header.contains([':', ' ', '\r', '\n']) {
                    return Err(format!("{header:?} is not a header name"));
                }
                let action = match item.get("action") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(a)) => Some(Action::parse(a).map_err(|e| e.to_string())?),
                    Some(other) => return Err(format!("{other} is not an action")),
                };
                Ok(HeaderMatch {
                    header: header.to_ascii_lowercase(),
                    pattern: pattern.to_string(),
                    action,
                })
            })
            .collect()
    }
    fn to_json(&self) -> Value {
        Value::Array(
            self.iter()
                .map(|m| {
                    serde_json::json!({
                        "header": m.header,
                        "pattern": m.pattern,
                        "action": m.action.map(|a| a.as_str()),
                    })
                })
                .collect(),
        )
    }
}

/// Describes one setting for help output.
#[derive(Debug, Clone)]
pub struct SettingInfo {
    /// The Mailman 3 attribute name.
    pub name: &'static str,
    /// The accepted type or vocabulary.
    pub type_name: String,
    /// One line of documentation.
    pub doc: &'static str,
}

macro_rules! list_settings {
    ($($(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr;)+) => {
        /// Every setting of a list. See the module documentation.
        #[derive(Debug, Clone, PartialEq)]
        pub struct ListSettings {
            $($(#[doc = $doc])+ pub $name: $ty,)+
        }

        impl ListSettings {
            /// The names of all settings, in declaration (alphabetical) order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name),)+];

            fn base_defaults() -> ListSettings {
                ListSettings { $($name: $default,)+ }
            }

            /// Name, type and documentation of every setting.
            pub fn describe() -> Vec<SettingInfo> {
                vec![$(SettingInfo {
                    name: stringify!($name),
                    type_name: <$ty as SettingValue>::type_name(),
                    doc: concat!($($doc),+).trim(),
                },)+]
            }

            /// The value of one setting as JSON.
            pub fn get(&self, key: &str) -> Result<Value, SettingError> {
                match key {
                    $(stringify!($name) => Ok(self.$name.to_json()),)+
                    _ => Err(SettingError::Unknown(key.to_string())),
                }
            }

            /// Sets one setting from command-line text, validating type and vocabulary.
            pub fn set_from_str(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
                let invalid = |reason: String| SettingError::Invalid { key: key.to_string(), reason };
                match key {
                    $(stringify!($name) => self.$name = <$ty as SettingValue>::parse_cli(value).map_err(invalid)?,)+
                    _ => return Err(SettingError::Unknown(key.to_string())),
                }
                Ok(())
            }

            /// Sets one setting from JSON (REST bodies), validating type and vocabulary.
            pub fn set_json(&mut self, key: &str, value: &Value) -> Result<(), SettingError> {
                let invalid = |reason: String| SettingError::Invalid { key: key.to_string(), reason };
                match key {
                    $(stringify!($name) => self.$name = <$ty as SettingValue>::from_json(value).map_err(invalid)?,)+
                    _ => return Err(SettingError::Unknown(key.to_string())),
                }
                Ok(())
            }

            /// All settings as one JSON object (the form the store keeps).
            pub fn to_json(&self) -> Map<String, Value> {
                let mut map = Map::new();
                $(map.insert(stringify!($name).to_string(), self.$name.to_json());)+
                map
            }
        }
    };
}

list_settings! {
    /// Extra addresses (or `^regex`) that count as the list for `require_explicit_destination`.
    acceptable_aliases: Vec<String> = Vec::new();
    /// Non-members (addresses, `^regex` or `@list`) whose posts are accepted.
    accept_these_nonmembers: Vec<String> = Vec::new();
    /// Tell the moderators at once when a post is held.
    admin_immed_notify: bool = true;
    /// Tell the owners about subscriptions and unsubscriptions.
    admin_notify_mchanges: bool = false;
    /// Hold posts that look like administrative requests (`subscribe`, `unsubscribe`, ...).
    administrivia: bool = true;
    /// Show the list in public list indexes.
    advertised: bool = true;
    /// Whether List-Post names the posting address (otherwise `NO`).
    allow_list_posts: bool = true;
    /// Hide the poster's identity.
    anonymous_list: bool = false;
    /// URL for the List-Archive header (a mailcast extension; empty: no List-Archive header).
    archive_url: Line = Line::default();
    /// Archive visibility: never, private or public.
    archive_policy: ArchivePolicy = ArchivePolicy::Public;
    /// How archivers render bodies.
    archive_rendering_mode: ArchiveRenderingMode = ArchiveRenderingMode::Text;
    /// Autoresponse to mail for the owners.
    autorespond_owner: ResponseAction = ResponseAction::None;
    /// Autoresponse to posts.
    autorespond_postings: ResponseAction = ResponseAction::None;
    /// Autoresponse to `-request` mail.
    autorespond_requests: ResponseAction = ResponseAction::None;
    /// How long between two autoresponses to the same sender.
    autoresponse_grace_period: Span = Span::days(90);
    /// Autoresponse text for owner mail.
    autoresponse_owner_text: Text = Text::default();
    /// Autoresponse text for posts.
    autoresponse_postings_text: Text = Text::default();
    /// Autoresponse text for `-request` mail.
    autoresponse_request_text: Text = Text::default();
    /// After this long without a bounce, a member's bounce score starts again.
    bounce_info_stale_after: Span = Span::days(7);
    /// `Header: regex` lines; a match makes the suspicious-header rule hit.
    bounce_matching_headers: Text = Text(DEFAULT_BOUNCE_MATCHING_HEADERS.to_string());
    /// Tell the owners whenever a member's bounce score goes up.
    bounce_notify_owner_on_bounce_increment: bool = false;
    /// Tell the owners when a member is disabled for bouncing.
    bounce_notify_owner_on_disable: bool = true;
    /// Tell the owners when a member is removed for bouncing.
    bounce_notify_owner_on_removal: bool = true;
    /// Bounce score at which delivery to a member is disabled.
    bounce_score_threshold: Count = Count(5);
    /// Warnings sent to a disabled member before removal.
    bounce_you_are_disabled_warnings: Count = Count(3);
    /// Time between those warnings.
    bounce_you_are_disabled_warnings_interval: Span = Span::days(7);
    /// Keep only the first part of multipart/alternative.
    collapse_alternatives: bool = true;
    /// Convert HTML parts to plain text.
    convert_html_to_plaintext: bool = false;
    /// Moderation action for members without their own.
    default_member_action: Action = Action::Defer;
    /// Moderation action for non-members without their own.
    default_nonmember_action: Action = Action::Hold;
    /// A one-line description of the list.
    description: Line = Line::default();
    /// Send digests periodically even if not full.
    digest_send_periodic: bool = true;
    /// Digest size (KB) that triggers sending.
    digest_size_threshold: f64 = 30.0;
    /// How often the digest volume number increases.
    digest_volume_frequency: DigestFrequency = DigestFrequency::Monthly;
    /// Whether members may choose digests.
    digests_enabled: bool = true;
    /// Non-members whose posts are discarded.
    discard_these_nonmembers: Vec<String> = Vec::new();
    /// The list's human name (default: its name, capitalised).
    display_name: Line = Line::default();
    /// Addresses (or `^regex`) whose posts get the DMARC mitigation whatever their domain's policy.
    dmarc_addresses: Vec<String> = Vec::new();
    /// DMARC mitigation.
    dmarc_mitigate_action: DmarcMitigateAction = DmarcMitigateAction::NoMitigation;
    /// Mitigate even when the From domain publishes no strict DMARC policy.
    dmarc_mitigate_unconditionally: bool = false;
    /// Text of DMARC rejection notices.
    dmarc_moderation_notice: Text = Text::default();
    /// Text for wrapped messages.
    dmarc_wrapped_message_text: Text = Text::default();
    /// Hold every post for moderation.
    emergency: bool = false;
    /// What content filtering does with a filtered message.
    filter_action: FilterAction = FilterAction::Discard;
    /// Enable content filtering.
    filter_content: bool = false;
    /// File extensions removed by content filtering.
    filter_extensions: Vec<String> = Vec::new();
    /// MIME types removed by content filtering.
    filter_types: Vec<String> = Vec::new();
    /// Remove the poster's Reply-To before munging.
    first_strip_reply_to: bool = false;
    /// Text of the message footer decoration (`list:member:regular:footer`); `$variables` allowed.
    footer_text: Text = Text(DEFAULT_FOOTER.to_string());
    /// Forward discarded posts to the moderators.
    forward_auto_discards: bool = true;
    /// Where unrecognised bounces go.
    forward_unrecognized_bounces_to: UnrecognizedBounceDisposition = UnrecognizedBounceDisposition::Administrators;
    /// Gateway news to mail.
    gateway_to_mail: bool = false;
    /// Gateway mail to news.
    gateway_to_news: bool = false;
    /// Header checks for the header-match rule.
    header_matches: Vec<HeaderMatch> = Vec::new();
    /// Text of the message header decoration (`list:member:regular:header`); `$variables` allowed.
    header_text: Text = Text::default();
    /// Non-members whose posts are held.
    hold_these_nonmembers: Vec<String> = Vec::new();
    /// Add the RFC 2369 List-* headers.
    include_rfc2369_headers: bool = true;
    /// Longer information about the list.
    info: Text = Text::default();
    /// The newsgroup this list gateways with.
    linked_newsgroup: Line = Line::default();
    /// Days after which held messages are discarded (0 = never).
    max_days_to_hold: Count = Count(0);
    /// Largest post in KB before it is held (0 = no limit).
    max_message_size: Count = Count(40);
    /// Posts with this many To+Cc recipients or more are held (0 = no limit).
    max_num_recipients: Count = Count(10);
    /// Who may see the member roster.
    member_roster_visibility: RosterVisibility = RosterVisibility::Moderators;
    /// Password for `Approved:` headers.
    moderator_password: Option<Line> = None;
    /// Newsgroup moderation.
    newsgroup_moderation: NewsgroupModeration = NewsgroupModeration::None;
    /// Prefix the subject on gatewayed news too.
    nntp_prefix_subject_too: bool = true;
    /// Pass these file extensions through content filtering.
    pass_extensions: Vec<String> = Vec::new();
    /// Pass these MIME types through content filtering.
    pass_types: Vec<String> = Vec::new();
    /// Personalised delivery: none, individual or full.
    personalize: Personalization = Personalization::None;
    /// The pipeline posts go through.
    posting_pipeline: Line = Line("default-posting-pipeline".to_string());
    /// The list's language.
    preferred_language: Line = Line("en".to_string());
    /// Process bounces for this list.
    process_bounces: bool = true;
    /// Non-members whose posts are rejected.
    reject_these_nonmembers: Vec<String> = Vec::new();
    /// Reply-To munging.
    reply_goes_to_list: ReplyToMunging = ReplyToMunging::NoMunging;
    /// The explicit Reply-To address.
    reply_to_address: Line = Line::default();
    /// Hold posts that do not name the list in To or Cc.
    require_explicit_destination: bool = true;
    /// Tell the poster when a post is held.
    respond_to_post_requests: bool = true;
    /// Send a goodbye message on unsubscription.
    send_goodbye_message: bool = true;
    /// Send a welcome message on subscription.
    send_welcome_message: bool = true;
    /// Prefix for the Subject of posts; `%d` is replaced by the post number.
    subject_prefix: Line = Line::default();
    /// How subscriptions are approved.
    subscription_policy: SubscriptionPolicy = SubscriptionPolicy::Confirm;
    /// How unsubscriptions are approved.
    unsubscription_policy: SubscriptionPolicy = SubscriptionPolicy::Confirm;
}

/// Settings that mailcast stores, under Mailman 3's names so that existing configurations
/// and clients keep them, but does not act on yet. `mailcast lists set` warns when one is
/// set and `lists show` marks them; a test (`crates/daemon/tests/settings_honesty.rs`)
/// checks that every name here is read by nothing and every other setting by something.
pub const NOT_ACTED_ON: &[&str] = &[
    "archive_rendering_mode",
    "gateway_to_mail",
    "gateway_to_news",
    "linked_newsgroup",
    "nntp_prefix_subject_too",
    "posting_pipeline",
];

/// Mailman 3's default `bounce_matching_headers`.
pub const DEFAULT_BOUNCE_MATCHING_HEADERS: &str = "\
# Lines that *start* with a '#' are comments.
to: friend@public.com
message-id: relay.comanche.denmark.eu
from: list@listme.com
from: .*@uplinkpro.com
";

/// Mailman 3's default regular footer (`list:member:regular:footer`, English).
pub const DEFAULT_FOOTER: &str = "\
_______________________________________________
$display_name mailing list -- $listname
To unsubscribe send an email to ${short_listname}-leave@${domain}
";

impl ListSettings {
    /// Whether `name` is a setting mailcast stores but does not act on ([`NOT_ACTED_ON`]).
    pub fn is_not_acted_on(name: &str) -> bool {
        NOT_ACTED_ON.contains(&name)
    }

    /// The defaults for a new list: Mailman 3's, with `display_name` the capitalised list name
    /// and `subject_prefix` `"[Display Name] "`.
    pub fn defaults_for(list: &ListAddress) -> ListSettings {
        let mut s = ListSettings::base_defaults();
        let name = list.name().as_str();
        let mut chars = name.chars();
        let display: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        s.subject_prefix = Line(format!("[{display}] "));
        s.display_name = Line(display);
        s
    }

    /// Rebuilds settings from the store's JSON document. Keys missing from the document (a
    /// setting added after the list was created) take their defaults; unknown keys are errors.
    pub fn from_json(
        list: &ListAddress,
        doc: &Map<String, Value>,
    ) -> Result<ListSettings, SettingError> {
        let mut s = ListSettings::defaults_for(list);
        for (k, v) in doc {
            s.set_json(k, v)?;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ListAddress {
        ListAddress::parse("ant@example.com").unwrap()
    }

    #[test]
    fn defaults_follow_mailman() {
        let s = ListSettings::defaults_for(&list());
        assert_eq!(s.display_name.0, "Ant");
        assert_eq!(s.subject_prefix.0, "[Ant] ");
        assert_eq!(s.default_member_action, Action::Defer);
        assert_eq!(s.default_nonmember_action, Action::Hold);
        assert_eq!(s.max_message_size, Count(40));
        assert_eq!(s.max_num_recipients, Count(10));
        assert_eq!(s.reply_goes_to_list, ReplyToMunging::NoMunging);
        assert_eq!(s.subscription_policy, SubscriptionPolicy::Confirm);
    }

    #[test]
    fn names_are_sorted_and_unique() {
        let mut sorted = ListSettings::NAMES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ListSettings::NAMES.len());
    }

    #[test]
    fn set_validates_type_and_vocabulary() {
        let mut s = ListSettings::defaults_for(&list());
        s.set_from_str("default_nonmember_action", "reject")
            .unwrap();
        assert_eq!(s.default_nonmember_action, Action::Reject);
        assert!(matches!(
            s.set_from_str("default_nonmember_action", "explode"),
            Err(SettingError::Invalid { .. })
        ));
        assert!(matches!(
            s.set_from_str("max_message_size", "big"),
            Err(SettingError::Invalid { .. })
        ));
        assert!(matches!(
            s.set_from_str("no_such_setting", "1"),
            Err(SettingError::Unknown(_))
        ));
        s.set_from_str(
            "header_matches",
            r#"[{"header":"X-Spam","pattern":"yes","action":"discard"}]"#,
        )
        .unwrap();
        assert_eq!(s.header_matches[0].action, Some(Action::Discard));
    }

    #[test]
    fn settings_not_acted_on_are_settings() {
        for name in NOT_ACTED_ON {
            assert!(
                ListSettings::NAMES.contains(name),
                "{name} is not a setting"
            );
        }
    }

    #[test]
    fn json_round_trip() {
        let mut s = ListSettings::defaults_for(&list());
        s.set_from_str("moderator_password", "secret").unwrap();
        s.set_from_str("accept_these_nonmembers", "a@x.example,^.*@y.example")
            .unwrap();
        let doc = s.to_json();
        assert_eq!(ListSettings::from_json(&list(), &doc).unwrap(), s);
    }
}
