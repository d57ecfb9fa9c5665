//! Bulk copies: one body, one envelope sender, a whole batch of recipients per transaction.
//!
//! A batch is one SMTP transaction, unless the relay limits recipients per transaction: it
//! then answers `452 4.5.3` (too many recipients) to the RCPTs beyond its limit, and RFC 5321
//! §4.5.3.1.10 asks the client to send those in another transaction at once rather than treat
//! them as deferred. That is what happens here, as long as each transaction delivers to at
//! least one recipient (so a relay that refuses everything with 452 cannot make us loop).
//! Decoration happened in the pipeline; this module does not touch the body.

use std::sync::Arc;

use mailcast_outbound::{EnhancedCode, Envelope, RcptOutcome, Relay};

use crate::outbox::job::RcptLine;

/// What every copy of a bulk job shares.
pub(super) struct Bulk {
    /// The envelope sender (the list's `-bounces` address, the site owner, or a notice's).
    pub mail_from: String,
    /// The message, as it goes out.
    pub body: Arc<[u8]>,
}

impl Bulk {
    /// Sends the message to every recipient line of a batch; one outcome per line, in order.
    /// Returns the outcomes and the number of transactions it took.
    pub async fn send(&self, relay: &Relay, lines: &[String]) -> (Vec<RcptOutcome>, u64) {
        let rcpts: Vec<String> = lines
            .iter()
            .map(|line| RcptLine::parse(line).address.to_owned())
            .collect();
        let mut envelope = Envelope::new(self.mail_from.clone(), rcpts);
        let mut outcomes = relay.transaction(&envelope, &self.body).await;
        let mut transactions = 1;
        // The indices (into `lines`) sent in the latest transaction.
        let mut round: Vec<usize> = (0..lines.len()).collect();
        loop {
            let progressed = round.iter().any(|&i| outcomes[i].is_delivered());
            round.retain(|&i| too_many_recipients(&outcomes[i]));
            if round.is_empty() || !progressed {
                return (outcomes, transactions);
            }
            envelope.rcpts = round
                .iter()
                .map(|&i| RcptLine::parse(&lines[i]).address.to_owned())
                .collect();
            let retried = relay.transaction(&envelope, &self.body).await;
            transactions += 1;
            for (&i, outcome) in round.iter().zip(retried) {
                outcomes[i] = outcome;
            }
        }
    }
}

/// RFC 5321's "too many recipients": 452 with 4.5.3, or 452 without an enhanced code.
fn too_many_recipients(outcome: &RcptOutcome) -> bool {
    match outcome {
        RcptOutcome::Deferred { code, enhanced, .. } => {
            *code == 452 && enhanced.is_none_or(|e| e == EnhancedCode::new(4, 5, 3))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_452_too_many_recipients_is_sent_again() {
        let deferred = |code, enhanced| RcptOutcome::Deferred {
            code,
            enhanced,
            text: "x".into(),
        };
        assert!(too_many_recipients(&deferred(
            452,
            Some(EnhancedCode::new(4, 5, 3))
        )));
        assert!(too_many_recipients(&deferred(452, None)));
        assert!(!too_many_recipients(&deferred(
            452,
            Some(EnhancedCode::new(4, 3, 1))
        )));
        assert!(!too_many_recipients(&deferred(451, None)));
        assert!(!too_many_recipients(&RcptOutcome::Delivered));
    }
}
