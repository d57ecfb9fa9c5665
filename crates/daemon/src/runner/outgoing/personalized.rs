//! Personalized copies: one transaction per recipient, each copy rendered for its recipient
//! (Mailman's individual delivery, used for `personalize = individual | full` and for VERP).
//!
//! The job body is the handlers' output *without* decoration; [`Personalizer`] (prepared once
//! per job) fills the header and footer placeholders for each recipient and, for `full`, sets
//! `To:`. Each worker renders into its own buffer, reused from one recipient to the next, so a
//! 100,000-member delivery holds only one rendered copy per connection in memory. When the
//! list is gone, or the body does not parse, copies go out as stored (logged once per job).
//! The envelope sender is the list's `-bounces` address, VERP-encoded when the job says so.

use std::sync::Arc;

use mailcast_model::{EmailAddress, ListAddress};
use mailcast_outbound::{EnhancedCode, Envelope, RcptOutcome, Relay};
use mailcast_pipeline::RecipientFacts;
use mailcast_pipeline::personalize::Personalizer;

use super::job::RcptLine;
use super::verp::verp_sender;

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
}

impl Personalized {
    /// Renders the copy for one recipient line into `buffer` and sends it in its own
    /// transaction.
    pub async fn send(&self, relay: &Relay, line: &str, buffer: &mut Vec<u8>) -> RcptOutcome {
        let rcpt = RcptLine::parse(line);
        let Ok(address) = EmailAddress::parse(rcpt.address) else {
            return invalid_recipient();
        };
        let mail_from = match self.verp {
            true => verp_sender(&self.list, address.original())
                .unwrap_or_else(|| self.mail_from.clone()),
            false => self.mail_from.clone(),
        };
        let envelope = Envelope::new(mail_from, [address.original()]);
        let body: &[u8] = match &self.personalizer {
            Some(personalizer) => {
                buffer.clear();
                let facts = RecipientFacts {
                    address: &address,
                    display_name: rcpt.display_name,
                    language: None,
                };
                personalizer.render(&facts, buffer);
                buffer
            }
            None => &self.body,
        };
        let mut outcomes = relay.transaction(&envelope, body).await;
        // One recipient in, one outcome out; the fallback keeps that promise unbreakable, and
        // is temporary because a retry is cheaper than a lost copy.
        outcomes.pop().unwrap_or_else(|| RcptOutcome::Deferred {
            code: 451,
            enhanced: Some(EnhancedCode::new(4, 3, 0)),
            text: "the relay reported no outcome".into(),
        })
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
