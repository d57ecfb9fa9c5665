//! Personalized copies: one transaction per recipient, each copy rendered for its recipient
//! (Mailman's individual delivery, used for `personalize = individual | full` and for VERP).
//!
//! The job body is the handlers' output *without* decoration; [`Personalizer`] (prepared once
//! per job) fills the header and footer placeholders for each recipient and, for `full`, sets
//! `To:`. A batch goes out as one pipelined run on one connection ([`Relay::send_all`]): the
//! next copy's envelope follows the previous copy's end of data in the same write, so a copy
//! costs about one round trip. Copies are rendered one at a time as the connection asks for
//! them, into buffers handed back when a transaction is over, so a 100,000-member delivery
//! holds a couple of rendered copies per connection in memory. When the list is gone, or the
//! body does not parse, copies go out as stored (logged once per job). The envelope sender is
//! the list's `-bounces` address, VERP-encoded when the job says so. With `[web]` configured,
//! each copy of a post carries its member's one-click unsubscribe URL (RFC 8058). With `[arc]`
//! on, each rendered copy of a post is sealed; with a DKIM key for the list's domain, each
//! rendered copy is signed last.

use std::collections::VecDeque;
use std::sync::Arc;

use mailcast_model::{EmailAddress, ListAddress};
use mailcast_outbound::{EnhancedCode, Message, MessageSource, RcptOutcome, Relay};
use mailcast_pipeline::RecipientFacts;
use mailcast_pipeline::personalize::Personalizer;

use crate::arc::Sealer;
use crate::dkim::DomainSigner;
use crate::oneclick::OneClickLinks;
use crate::outbox::job::RcptLine;
use mailcast_bounce::verp::encode as verp_sender;
use tracing::warn;

/// What every copy of a personalized job shares.
pub(super) struct Personalized {
    /// The list, for VERP addresses.
    pub list: ListAddress,
    /// The envelope sender when VERP is off or impossible for a recipient.
    pub mail_from: String,
    /// Whether to VERP-encode each copy's envelope sender.
    pub verp: bool,
    /// The prepared renderer, or `None` to send the stored body as it is.
    pub personalizer: Option<Personalizer>,
    /// The stored body (the template of each copy).
    pub body: Arc<[u8]>,
    /// Makes each member's RFC 8058 one-click URL, when `[web]` is configured.
    pub one_click: Option<OneClickLinks>,
    /// Seals each rendered copy (ARC) when `[arc]` is on and the job is a post or owner mail.
    pub arc: Option<Arc<Sealer>>,
    /// Signs each rendered copy as the list's domain, when it has a DKIM key.
    pub dkim: Option<Arc<DomainSigner>>,
}

impl Personalized {
    /// Sends each recipient line of a batch its own copy, pipelined on one connection at a
    /// time. Returns one outcome per line, in order, and the number of transactions started.
    pub async fn send(&self, relay: &Relay, lines: &[String]) -> (Vec<RcptOutcome>, u64) {
        let mut source = BatchCopies {
            job: self,
            lines,
            next: 0,
            sent: VecDeque::new(),
            outcomes: vec![None; lines.len()],
            spare: Vec::new(),
            transactions: 0,
        };
        relay.send_all(&mut source).await;
        let transactions = source.transactions;
        // `send_all` answers every message it took; the fallback keeps the one-outcome-per-line
        // promise unbreakable, and is temporary because a retry is cheaper than a lost copy.
        let outcomes = source
            .outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or_else(no_outcome))
            .collect();
        (outcomes, transactions)
    }

    /// Builds the copy for one recipient into `message`, reusing its buffers; `false` when the
    /// line is not an address.
    fn build(&self, line: &str, message: &mut Message) -> bool {
        let rcpt = RcptLine::parse(line);
        let Ok(address) = EmailAddress::parse(rcpt.address) else {
            return false;
        };
        let mail_from = match self.verp {
            true => verp_sender(&self.list, address.original())
                .unwrap_or_else(|| self.mail_from.clone()),
            false => self.mail_from.clone(),
        };
        message.envelope.mail_from = mail_from;
        message.envelope.rcpts.clear();
        message.envelope.rcpts.push(address.original().to_owned());
        message.body.clear();
        match &self.personalizer {
            Some(personalizer) => {
                let url = self.one_click.as_ref().map(|l| l.url(&self.list, &address));
                let facts = RecipientFacts {
                    address: &address,
                    display_name: rcpt.display_name,
                    language: None,
                    one_click: url.as_deref(),
                };
                personalizer.render(&facts, &mut message.body);
            }
            None => message.body.extend_from_slice(&self.body),
        }
        // After every per-recipient change: a seal per copy (it covers the rendered body),
        // then a signature per copy (mail-auth 0.13 has
        // no way to reuse a body hash, and the body differs per member when the footer does).
        if let Some(sealer) = &self.arc
            && let Err(err) = sealer.seal_in_place(&mut message.body)
        {
            warn!(error = %err, "sending a copy without an ARC seal");
        }
        if let Some(signer) = &self.dkim
            && let Err(err) = signer.sign_in_place(&mut message.body)
        {
            warn!(error = %err, "sending a copy unsigned");
        }
        true
    }
}

/// The copies of one batch, produced as the connection asks for them and answered in order.
struct BatchCopies<'a> {
    job: &'a Personalized,
    lines: &'a [String],
    /// The next line to build a copy for.
    next: usize,
    /// The line index of each copy handed out and not yet answered, in order.
    sent: VecDeque<usize>,
    outcomes: Vec<Option<RcptOutcome>>,
    /// Messages handed back, whose buffers the next copies reuse.
    spare: Vec<Message>,
    transactions: u64,
}

impl MessageSource for BatchCopies<'_> {
    fn next_message(&mut self) -> Option<Message> {
        while self.next < self.lines.len() {
            let index = self.next;
            self.next += 1;
            let mut message = self.spare.pop().unwrap_or_default();
            if self.job.build(&self.lines[index], &mut message) {
                self.sent.push_back(index);
                self.transactions += 1;
                return Some(message);
            }
            self.spare.push(message);
            self.outcomes[index] = Some(invalid_recipient());
        }
        None
    }

    fn finished(&mut self, message: Message, mut outcomes: Vec<RcptOutcome>) {
        if let Some(index) = self.sent.pop_front() {
            self.outcomes[index] = Some(outcomes.pop().unwrap_or_else(no_outcome));
        }
        self.spare.push(message);
    }

    fn abandon(&mut self, outcome: &RcptOutcome) {
        // Nothing needs building to be told the relay is down.
        for index in self.next..self.lines.len() {
            let valid = EmailAddress::parse(RcptLine::parse(&self.lines[index]).address).is_ok();
            self.outcomes[index] = Some(match valid {
                true => outcome.clone(),
                false => invalid_recipient(),
            });
        }
        self.next = self.lines.len();
    }
}

/// The outcome of a recipient line that is not an address (never sent).
fn invalid_recipient() -> RcptOutcome {
    RcptOutcome::Failed {
        code: 553,
        enhanced: Some(EnhancedCode::new(5, 1, 3)),
        text: "recipient address is not valid (not sent)".into(),
    }
}

/// The outcome when the relay reported none for a copy: temporary, so it is tried again.
fn no_outcome() -> RcptOutcome {
    RcptOutcome::Deferred {
        code: 451,
        enhanced: Some(EnhancedCode::new(4, 3, 0)),
        text: "the relay reported no outcome".into(),
    }
}
