//! What the pipeline is told about the world: the list (a snapshot of its settings), the site,
//! each sender's standing on the list, the message's metadata, and a recipient.
//!
//! The daemon fills these from the store and the spool metadata; the pipeline never looks
//! anything up itself. A [`ListContext`] compiles the list's regular expressions and
//! decoration templates once, so the daemon should keep one per list snapshot (it is `Send +
//! Sync`) and rebuild it when the settings change. Patterns that do not compile are skipped,
//! as Mailman skips them, and reported by [`ListContext::problems`] for the daemon to log.

use mailcast_model::settings::ListSettings;
use mailcast_model::{Action, EmailAddress, ListAddress, MemberRole};

use crate::archive::ArchiveLinks;
use crate::patterns::{AddressPatterns, HeaderPattern, compile_header_patterns};
use crate::template::Template;

/// Site-wide facts the rules and handlers need (Mailman's `[mailman]` and `[antispam]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteFacts {
    /// The site owner's address (`$site_email`).
    pub site_email: String,
    /// `[antispam] header_checks`: `(header, regex)` pairs checked before the list's own.
    pub header_checks: Vec<(String, String)>,
    /// `[antispam] jump_chain`: what a site header check hit does (Mailman: hold).
    pub header_checks_action: Action,
    /// `[mailman] hold_digest`: hold posts whose Subject looks like a digest.
    pub hold_digest: bool,
    /// `[mailman] email_commands_max_lines`: body lines the administrivia rule reads.
    pub email_commands_max_lines: usize,
}

impl Default for SiteFacts {
    fn default() -> SiteFacts {
        SiteFacts {
            site_email: "postmaster@localhost".to_string(),
            header_checks: Vec::new(),
            header_checks_action: Action::Hold,
            hold_digest: false,
            email_commands_max_lines: 10,
        }
    }
}

/// A list as the pipeline sees it: address, settings snapshot, site facts, and everything
/// compiled from them.
#[derive(Debug, Clone)]
pub struct ListContext {
    address: ListAddress,
    settings: ListSettings,
    site: SiteFacts,
    pub(crate) compiled: Compiled,
    /// The archivers enabled for the list, with their links (none by default).
    archivers: Vec<ArchiveLinks>,
}

/// Regular expressions and templates compiled from the settings.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub(crate) site_checks: Vec<HeaderPattern>,
    pub(crate) header_matches: Vec<(HeaderPattern, Option<Action>)>,
    pub(crate) bounce_matching: Vec<HeaderPattern>,
    pub(crate) accept_nonmembers: AddressPatterns,
    pub(crate) hold_nonmembers: AddressPatterns,
    pub(crate) reject_nonmembers: AddressPatterns,
    pub(crate) discard_nonmembers: AddressPatterns,
    pub(crate) acceptable_aliases: AddressPatterns,
    pub(crate) dmarc_addresses: AddressPatterns,
    pub(crate) header_template: Template,
    pub(crate) footer_template: Template,
    pub(crate) subject_prefix: Option<regex::Regex>,
    pub(crate) problems: Vec<String>,
}

/// The per-recipient placeholders of decorations (mailman3.md §7.6).
pub(crate) const RECIPIENT_PLACEHOLDERS: &[&str] = &[
    "member",
    "user_email",
    "user_delivered_to",
    "user_language",
    "user_name",
    "user_name_or_address",
    "user_name_or_email",
    "user_address",
];

impl ListContext {
    /// Builds the context for one list, compiling its patterns and decoration templates.
    pub fn new(address: ListAddress, settings: ListSettings, site: SiteFacts) -> ListContext {
        let mut problems = Vec::new();
        let site_checks = compile_header_patterns(
            site.header_checks
                .iter()
                .map(|(h, p)| (h.as_str(), p.as_str())),
            "[antispam] header_checks",
            &mut problems,
        );
        let header_matches = settings
            .header_matches
            .iter()
            .filter_map(|m| {
                let compiled = compile_header_patterns(
                    [(m.header.as_str(), m.pattern.as_str())],
                    "header_matches",
                    &mut problems,
                );
                compiled.into_iter().next().map(|p| (p, m.action))
            })
            .collect();
        let bounce_lines =
            parse_bounce_matching_headers(&settings.bounce_matching_headers.0, &mut problems);
        let bounce_matching = compile_header_patterns(
            bounce_lines.iter().map(|(h, p)| (h.as_str(), p.as_str())),
            "bounce_matching_headers",
            &mut problems,
        );
        let mut patterns =
            |name: &str, entries: &[String]| AddressPatterns::compile(name, entries, &mut problems);
        let accept_nonmembers =
            patterns("accept_these_nonmembers", &settings.accept_these_nonmembers);
        let hold_nonmembers = patterns("hold_these_nonmembers", &settings.hold_these_nonmembers);
        let reject_nonmembers =
            patterns("reject_these_nonmembers", &settings.reject_these_nonmembers);
        let discard_nonmembers = patterns(
            "discard_these_nonmembers",
            &settings.discard_these_nonmembers,
        );
        let acceptable_aliases = patterns("acceptable_aliases", &settings.acceptable_aliases);
        let dmarc_addresses = patterns("dmarc_addresses", &settings.dmarc_addresses);
        let known = |name: &str| list_placeholder(&address, &settings, &site, name);
        let deferred = |name: &str| RECIPIENT_PLACEHOLDERS.contains(&name);
        let header_template = Template::compile(&settings.header_text.0, known, deferred);
        let footer_template = Template::compile(&settings.footer_text.0, known, deferred);
        let subject_prefix =
            crate::handlers::subject_prefix::prefix_pattern(&settings.subject_prefix.0);
        let compiled = Compiled {
            site_checks,
            header_matches,
            bounce_matching,
            accept_nonmembers,
            hold_nonmembers,
            reject_nonmembers,
            discard_nonmembers,
            acceptable_aliases,
            dmarc_addresses,
            header_template,
            footer_template,
            subject_prefix,
            problems,
        };
        ListContext {
            address,
            settings,
            site,
            compiled,
            archivers: Vec::new(),
        }
    }

    /// The context with these archivers enabled for the list (the daemon decides which:
    /// site and list switches), in the order their headers are chosen (the last link wins).
    pub fn with_archivers(mut self, archivers: Vec<ArchiveLinks>) -> ListContext {
        self.archivers = archivers;
        self
    }

    /// The archivers enabled for the list.
    pub fn archivers(&self) -> &[ArchiveLinks] {
        &self.archivers
    }

    /// The list's posting address.
    pub fn address(&self) -> &ListAddress {
        &self.address
    }

    /// The settings snapshot.
    pub fn settings(&self) -> &ListSettings {
        &self.settings
    }

    /// The site facts.
    pub fn site(&self) -> &SiteFacts {
        &self.site
    }

    /// Settings that could not be compiled (bad regular expressions, malformed
    /// `bounce_matching_headers` lines); they are skipped.
    pub fn problems(&self) -> &[String] {
        &self.compiled.problems
    }

    /// The value of a list-level template placeholder (`$listname`, `$display_name`,
    /// `$request_email`, ...: Mailman's `expand` and decoration substitutions), `None` for a
    /// name that is not one.
    pub fn placeholder(&self, name: &str) -> Option<String> {
        list_placeholder(&self.address, &self.settings, &self.site, name)
    }

    /// The list's display name, or its name when the setting is empty.
    pub fn display_name(&self) -> &str {
        let name = self.settings.display_name.0.trim();
        if name.is_empty() {
            self.address.name().as_str()
        } else {
            name
        }
    }
}

/// The value of a list-level template placeholder (Mailman's `expand` and
/// `decorate_template` dictionaries).
fn list_placeholder(
    address: &ListAddress,
    settings: &ListSettings,
    site: &SiteFacts,
    name: &str,
) -> Option<String> {
    Some(match name {
        "listname" | "fqdn_listname" => address.posting_address(),
        "list_name" | "short_listname" => address.name().to_string(),
        "domain" | "mail_host" => address.domain().to_string(),
        "display_name" => settings.display_name.0.clone(),
        "list_id" => address.list_id(),
        "request_email" | "request_address" => address.sub_address("request"),
        "owner_email" => address.sub_address("owner"),
        "description" => settings.description.0.clone(),
        "info" => settings.info.0.clone(),
        "site_email" => site.site_email.clone(),
        "language" => settings.preferred_language.0.clone(),
        _ => return None,
    })
}

/// Parses `bounce_matching_headers`: `Header: regex` lines; blank lines and lines starting with
/// `#` are skipped, lines without a colon are reported.
fn parse_bounce_matching_headers(text: &str, problems: &mut Vec<String>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((header, pattern)) => {
                out.push((header.trim().to_string(), pattern.trim_start().to_string()))
            }
            None => problems.push(format!(
                "bounce_matching_headers: not a 'Header: regex' line: {line:?}"
            )),
        }
    }
    out
}

/// One sender address's standing on the list (the daemon computes it for each address of
/// [`crate::message::Message::senders`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderFacts {
    /// The address, lower-cased.
    pub address: String,
    /// The roles the address has on the list. Mailman counts an address as a member when it,
    /// or another address of the same user, has the `member` role; the daemon folds the
    /// user's other addresses in here.
    pub roles: Vec<MemberRole>,
    /// The address's own moderation action: that of its `member` row when it is a member,
    /// otherwise that of its `nonmember` row; `None` means the list default applies.
    pub moderation_action: Option<Action>,
    /// Whether the address matches a list or site ban (literal or `^regex`).
    pub banned: bool,
    /// Posting addresses of the lists named by `@list` entries of
    /// `accept_these_nonmembers` that this address is a member of.
    pub member_of: Vec<String>,
}

impl SenderFacts {
    /// Facts for an address unknown to the list.
    pub fn unknown(address: &str) -> SenderFacts {
        SenderFacts {
            address: address.to_lowercase(),
            ..SenderFacts::default()
        }
    }

    /// Whether the address is a (regular) member of the list.
    pub fn is_member(&self) -> bool {
        self.roles.contains(&MemberRole::Member)
    }
}

/// Metadata about the message that is not in it (Mailman's `msgdata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageFacts {
    /// Size in octets as received, before intake added fields (`original_size`).
    pub original_size: u64,
    /// A moderator approved the message (it is being re-injected after a hold).
    pub moderator_approved: bool,
    /// The message was sent to the `-owner` address: the owner chain accepts it.
    pub to_owner: bool,
    /// The message came from the NNTP gateway.
    pub from_usenet: bool,
    /// The DMARC policy of the From domain, as the daemon found it in DNS
    /// ([`crate::rules::dmarc_mitigation::domain_to_query`] says whether to look).
    pub dmarc: FromDmarc,
}

/// What DNS said about the DMARC policy of the post's From domain (mailman3-more.md §3.2):
/// the daemon looks it up (`_dmarc.<domain>`, then the organizational domain with `sp=`)
/// and the `dmarc-mitigation` rule decides on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FromDmarc {
    /// Not looked up: the list does not mitigate, or `dmarc_addresses` already decided.
    #[default]
    NotLookedUp,
    /// `p=` (or the organizational domain's `sp=`) is `reject` or `quarantine`: mitigate.
    Strict,
    /// No record, a policy of `none`, or several records (RFC 7489 §6.6.3): no mitigation.
    Lax,
    /// The lookup failed (timeout, SERVFAIL, no name server): Mailman mitigates when in doubt.
    Failed,
}

/// One recipient of a personalised delivery.
#[derive(Debug, Clone, Copy)]
pub struct RecipientFacts<'a> {
    /// The address delivered to (its original spelling is `$user_delivered_to`).
    pub address: &'a EmailAddress,
    /// The member's display name, if known.
    pub display_name: Option<&'a str>,
    /// The member's preferred language, if known (`$user_language`).
    pub language: Option<&'a str>,
    /// The member's RFC 8058 one-click unsubscribe URL (it names the member, so only a
    /// personalized copy can carry it), if the site serves the endpoint.
    pub one_click: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_patterns_are_reported_and_skipped() {
        let address = ListAddress::parse("ant@example.com").unwrap();
        let mut settings = ListSettings::defaults_for(&address);
        settings.accept_these_nonmembers = vec!["^(unclosed".into(), "ok@example.com".into()];
        settings.bounce_matching_headers.0 = "no colon here\nTo: (\n# comment\n".into();
        let ctx = ListContext::new(address, settings, SiteFacts::default());
        assert_eq!(ctx.problems().len(), 3, "{:?}", ctx.problems());
        assert_eq!(ctx.compiled.accept_nonmembers.len(), 1);
    }

    #[test]
    fn default_footer_is_expanded_for_the_list() {
        let address = ListAddress::parse("ant@example.com").unwrap();
        let settings = ListSettings::defaults_for(&address);
        let ctx = ListContext::new(address, settings, SiteFacts::default());
        let footer = ctx.compiled.footer_template.render(|_| None);
        assert!(
            footer.contains("Ant mailing list -- ant@example.com\n"),
            "{footer}"
        );
        assert!(
            footer.contains("send an email to ant-leave@example.com\n"),
            "{footer}"
        );
        assert!(ctx.compiled.header_template.is_empty());
    }
}
