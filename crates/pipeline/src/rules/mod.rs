//! The posting rules of Mailman 3 (mailman3.md §5.2), one module per rule, all the same shape:
//! `pub fn check(ctx: &RuleContext<'_>) -> RuleOutcome`, a pure function of the message, the
//! list snapshot and the senders' standing. A rule says hit or miss and, on a hit, why (the
//! reasons a moderator sees), and for moderation rules which action and which sender.
//!
//! Rules do not decide what happens to the post; the [`crate::chain`] does. The dynamic
//! `header-match` rules (site `header_checks`, list `header_matches`) are in [`header_match`].

pub mod administrivia;
pub mod approved;
pub mod banned_address;
mod body_lines;
pub mod digests;
pub mod dmarc_mitigation;
pub mod emergency;
pub mod header_match;
pub mod implicit_dest;
pub mod r#loop;
pub mod max_recipients;
pub mod max_size;
pub mod member_moderation;
pub mod news_moderation;
pub mod no_senders;
pub mod no_subject;
pub mod nonmember_moderation;
pub mod suspicious_header;

#[cfg(test)]
pub(crate) mod scenario;

use mailcast_model::Action;

use crate::context::{ListContext, MessageFacts, SenderFacts};
use crate::message::Message;

/// Everything a rule may look at.
#[derive(Debug, Clone)]
pub struct RuleContext<'a> {
    /// The post.
    pub message: &'a Message<'a>,
    /// The list it was posted to.
    pub list: &'a ListContext,
    /// The post's senders (Mailman's `msg.senders`, in that order) with their standing.
    pub senders: Vec<SenderFacts>,
    /// The envelope sender, if not null.
    pub envelope_sender: Option<&'a str>,
    /// The message's metadata.
    pub facts: MessageFacts,
}

impl<'a> RuleContext<'a> {
    /// Builds the context. The senders are computed from the message and the envelope sender;
    /// `known` gives the standing of those the daemon looked up (an address missing from it is
    /// an unknown non-member).
    pub fn new(
        message: &'a Message<'a>,
        list: &'a ListContext,
        known: &[SenderFacts],
        envelope_sender: Option<&'a str>,
        facts: MessageFacts,
    ) -> RuleContext<'a> {
        let senders = message.senders(envelope_sender);
        RuleContext::for_senders(message, list, &senders, known, envelope_sender, facts)
    }

    /// Builds the context from the senders the caller already computed with
    /// `message.senders(envelope_sender)` (to look their facts up), instead of parsing the
    /// address fields again; otherwise the same as [`RuleContext::new`].
    pub fn for_senders(
        message: &'a Message<'a>,
        list: &'a ListContext,
        senders: &[String],
        known: &[SenderFacts],
        envelope_sender: Option<&'a str>,
        facts: MessageFacts,
    ) -> RuleContext<'a> {
        let senders = senders
            .iter()
            .map(|address| {
                known
                    .iter()
                    .find(|f| f.address.eq_ignore_ascii_case(address))
                    .map(|f| SenderFacts {
                        address: address.clone(),
                        roles: f.roles.clone(),
                        moderation_action: f.moderation_action,
                        banned: f.banned,
                        member_of: f.member_of.clone(),
                    })
                    .unwrap_or_else(|| SenderFacts::unknown(address))
            })
            .collect();
        RuleContext {
            message,
            list,
            senders,
            envelope_sender,
            facts,
        }
    }

    /// The first sender (Mailman's `msg.sender`), if any.
    pub fn sender(&self) -> Option<&str> {
        self.senders.first().map(|s| s.address.as_str())
    }

    /// Whether any sender is banned.
    pub fn any_banned(&self) -> bool {
        self.senders.iter().any(|s| s.banned)
    }
}

/// A rule's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleOutcome {
    /// Whether the rule matched.
    pub hit: bool,
    /// Why, for moderators and rejection notices.
    pub reasons: Vec<String>,
    /// The sender the decision is about (Mailman's `moderation_sender`).
    pub moderation_sender: Option<String>,
    /// For the moderation rules: the action to take.
    pub moderation_action: Option<Action>,
    /// For the approved rule: the message with the approval password removed.
    pub rewritten: Option<Vec<u8>>,
    /// For `dmarc-mitigation`: the post is to be munged or wrapped by the DMARC handler
    /// (Mailman's `msgdata['dmarc']`), recorded whether the rule hit or not.
    pub dmarc: bool,
}

impl RuleOutcome {
    /// No match.
    pub fn miss() -> RuleOutcome {
        RuleOutcome::default()
    }

    /// A match for `reason`, about the context's first sender.
    pub fn hit(ctx: &RuleContext<'_>, reason: impl Into<String>) -> RuleOutcome {
        RuleOutcome {
            hit: true,
            reasons: vec![reason.into()],
            moderation_sender: ctx.sender().map(str::to_string),
            ..RuleOutcome::default()
        }
    }
}

/// The built-in rules, by Mailman name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `approved`
    Approved,
    /// `emergency`
    Emergency,
    /// `loop`
    Loop,
    /// `banned-address`
    BannedAddress,
    /// `member-moderation`
    MemberModeration,
    /// `nonmember-moderation`
    NonmemberModeration,
    /// `administrivia`
    Administrivia,
    /// `implicit-dest`
    ImplicitDest,
    /// `max-recipients`
    MaxRecipients,
    /// `max-size`
    MaxSize,
    /// `news-moderation`
    NewsModeration,
    /// `no-subject`
    NoSubject,
    /// `digests`
    Digests,
    /// `suspicious-header`
    SuspiciousHeader,
    /// `no-senders`
    NoSenders,
    /// `dmarc-mitigation`
    DmarcMitigation,
}

impl Rule {
    /// Mailman's name of the rule, as recorded in `rule_hits` and `rule_misses`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Approved => "approved",
            Rule::Emergency => "emergency",
            Rule::Loop => "loop",
            Rule::BannedAddress => "banned-address",
            Rule::MemberModeration => "member-moderation",
            Rule::NonmemberModeration => "nonmember-moderation",
            Rule::Administrivia => "administrivia",
            Rule::ImplicitDest => "implicit-dest",
            Rule::MaxRecipients => "max-recipients",
            Rule::MaxSize => "max-size",
            Rule::NewsModeration => "news-moderation",
            Rule::NoSubject => "no-subject",
            Rule::Digests => "digests",
            Rule::SuspiciousHeader => "suspicious-header",
            Rule::NoSenders => "no-senders",
            Rule::DmarcMitigation => "dmarc-mitigation",
        }
    }

    /// Runs the rule.
    pub fn check(self, ctx: &RuleContext<'_>) -> RuleOutcome {
        match self {
            Rule::Approved => approved::check(ctx),
            Rule::Emergency => emergency::check(ctx),
            Rule::Loop => r#loop::check(ctx),
            Rule::BannedAddress => banned_address::check(ctx),
            Rule::MemberModeration => member_moderation::check(ctx),
            Rule::NonmemberModeration => nonmember_moderation::check(ctx),
            Rule::Administrivia => administrivia::check(ctx),
            Rule::ImplicitDest => implicit_dest::check(ctx),
            Rule::MaxRecipients => max_recipients::check(ctx),
            Rule::MaxSize => max_size::check(ctx),
            Rule::NewsModeration => news_moderation::check(ctx),
            Rule::NoSubject => no_subject::check(ctx),
            Rule::Digests => digests::check(ctx),
            Rule::SuspiciousHeader => suspicious_header::check(ctx),
            Rule::NoSenders => no_senders::check(ctx),
            Rule::DmarcMitigation => dmarc_mitigation::check(ctx),
        }
    }
}
