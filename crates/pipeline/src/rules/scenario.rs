//! Test scenarios for rules and chains: a message (written with `\n`, sent with `\r\n`), the
//! list `ant@example.com` with Mailman's defaults plus overrides, and the senders' standing.

use mailcast_model::settings::ListSettings;
use mailcast_model::{Action, ListAddress, MemberRole};

use super::{Rule, RuleContext, RuleOutcome};
use crate::context::{ListContext, MessageFacts, SenderFacts, SiteFacts};
use crate::message::Message;

pub(crate) struct Scenario {
    raw: Vec<u8>,
    settings: ListSettings,
    site: SiteFacts,
    senders: Vec<SenderFacts>,
    envelope: Option<String>,
    pub(crate) facts: MessageFacts,
}

impl Scenario {
    pub(crate) fn new(text: &str) -> Scenario {
        let raw = text.replace('\n', "\r\n").into_bytes();
        Scenario {
            facts: MessageFacts {
                original_size: raw.len() as u64,
                ..MessageFacts::default()
            },
            raw,
            settings: ListSettings::defaults_for(&Scenario::address()),
            site: SiteFacts::default(),
            senders: Vec::new(),
            envelope: None,
        }
    }

    pub(crate) fn address() -> ListAddress {
        ListAddress::parse("ant@example.com").expect("a valid list address")
    }

    /// Replaces the message with these exact bytes (no line-end conversion).
    pub(crate) fn raw(mut self, raw: Vec<u8>) -> Scenario {
        self.raw = raw;
        self
    }

    pub(crate) fn settings(mut self, edit: impl FnOnce(&mut ListSettings)) -> Scenario {
        edit(&mut self.settings);
        self
    }

    pub(crate) fn site(mut self, edit: impl FnOnce(&mut SiteFacts)) -> Scenario {
        edit(&mut self.site);
        self
    }

    pub(crate) fn sender(
        mut self,
        address: &str,
        roles: &[MemberRole],
        action: Option<Action>,
        banned: bool,
    ) -> Scenario {
        self.senders.push(SenderFacts {
            address: address.to_string(),
            roles: roles.to_vec(),
            moderation_action: action,
            banned,
            member_of: Vec::new(),
        });
        self
    }

    pub(crate) fn member(self, address: &str) -> Scenario {
        self.sender(address, &[MemberRole::Member], None, false)
    }

    pub(crate) fn envelope(mut self, sender: &str) -> Scenario {
        self.envelope = Some(sender.to_string());
        self
    }

    pub(crate) fn facts(mut self, edit: impl FnOnce(&mut MessageFacts)) -> Scenario {
        edit(&mut self.facts);
        self
    }

    pub(crate) fn list(&self) -> ListContext {
        ListContext::new(
            Scenario::address(),
            self.settings.clone(),
            self.site.clone(),
        )
    }

    pub(crate) fn with_ctx<R>(&self, f: impl FnOnce(&RuleContext<'_>) -> R) -> R {
        let list = self.list();
        let message = Message::parse(&self.raw).expect("scenario messages parse");
        let ctx = RuleContext::new(
            &message,
            &list,
            &self.senders,
            self.envelope.as_deref(),
            self.facts,
        );
        f(&ctx)
    }

    pub(crate) fn check(&self, rule: Rule) -> RuleOutcome {
        self.with_ctx(|ctx| rule.check(ctx))
    }
}
