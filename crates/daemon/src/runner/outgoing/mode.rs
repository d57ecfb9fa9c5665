//! Bulk or one copy per recipient, VERP or not: Mailman 3's rules for a post (mailman3.md §6).
//!
//! - A list with `personalize = individual | full` gets one copy per recipient; its envelope
//!   senders are VERP-encoded only when `[smtp] verp_personalized_deliveries` is on.
//! - Any other list is VERP-encoded (and therefore delivered one copy per recipient) when
//!   `[smtp] verp_delivery_interval` says so: 0 never, 1 always, N for every post whose number
//!   is a multiple of N.
//! - Everything else is bulk: one decorated body, many recipients per transaction.
//!
//! The incoming path needs the answer too: a post delivered one copy per recipient must leave
//! the handlers *undecorated* (`ProcessOptions::decorate = false`), because each copy is
//! decorated with its recipient's footer. Owner mail and notices are always bulk.

use mailcast_model::settings::{ListSettings, Personalization};

use crate::config::SmtpSettings;
use crate::outbox::job::Mode;

/// How a post is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPlan {
    /// Bulk or one copy per recipient.
    pub mode: Mode,
    /// Whether each copy's envelope sender is VERP-encoded.
    pub verp: bool,
}

impl DeliveryPlan {
    /// The plan for everything that is not a post to the members: one body, plain sender.
    pub const BULK: DeliveryPlan = DeliveryPlan {
        mode: Mode::Bulk,
        verp: false,
    };

    /// Whether the handlers must decorate the post (bulk), or leave the decoration to the
    /// outgoing runner because each copy gets its own (`ProcessOptions::decorate`).
    pub fn decorate_in_pipeline(&self) -> bool {
        self.mode == Mode::Bulk
    }
}

/// The delivery plan of post number `post_number` on a list with `list` settings.
pub fn plan_for_post(smtp: &SmtpSettings, list: &ListSettings, post_number: u64) -> DeliveryPlan {
    decide(
        list.personalize,
        smtp.verp_personalized_deliveries,
        smtp.verp_delivery_interval,
        post_number,
    )
}

fn decide(
    personalize: Personalization,
    verp_personalized: bool,
    verp_interval: u64,
    post_number: u64,
) -> DeliveryPlan {
    if personalize != Personalization::None {
        return DeliveryPlan {
            mode: Mode::Personalized,
            verp: verp_personalized,
        };
    }
    let verp = match verp_interval {
        0 => false,
        1 => true,
        n => post_number.is_multiple_of(n),
    };
    DeliveryPlan {
        mode: if verp { Mode::Personalized } else { Mode::Bulk },
        verp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailman_rules() {
        use Mode::{Bulk, Personalized};
        use Personalization::{Full, Individual, None};
        for (personalize, verp_personalized, interval, post, mode, verp) in [
            (None, false, 0, 7, Bulk, false),
            (None, true, 0, 7, Bulk, false),
            (None, false, 1, 7, Personalized, true),
            (None, false, 3, 7, Bulk, false),
            (None, false, 3, 9, Personalized, true),
            (Individual, false, 0, 7, Personalized, false),
            (Individual, true, 0, 7, Personalized, true),
            (Full, false, 1, 7, Personalized, false),
            (Full, true, 3, 7, Personalized, true),
        ] {
            let plan = decide(personalize, verp_personalized, interval, post);
            assert_eq!(
                plan,
                DeliveryPlan { mode, verp },
                "{personalize:?} {verp_personalized} {interval} {post}"
            );
            assert_eq!(plan.decorate_in_pipeline(), mode == Bulk);
        }
    }
}
