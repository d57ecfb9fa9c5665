//! Digests (mailman3-more.md §1): accumulating accepted posts, closing a digest, building it
//! and queueing it through the outbox.
//!
//! ```text
//! runner::incoming (accepted post) ──▶ collect: the post, as the handlers left it (before
//!      decoration), into the store's next digest; then the size trigger (close)
//! admin `digests --send/--periodic`, REST POST …/digest, the daily schedule ──▶ close
//! close (store, under the list's row lock) ──▶ a digest_issue with the numbers before the bump
//! send: claim an issue (one node), build the MIME and plain digests (pipeline::digest),
//!       queue one job per kind to its recipients (outbox), mark it sent
//! ```
//!
//! - A post is in exactly one digest: adding it is idempotent by its spool entry, and
//!   closing moves every waiting post in the same transaction that bumps the numbers.
//! - Each digest is sent once, by whichever node claims it; a claim older than
//!   [`send::CLAIM_LEASE`] is taken over (the node died). The jobs' ids derive from the
//!   issue, so a node that crashed after queueing and is re-run finds them. What remains: a
//!   crash between queueing and recording the digest as sent, after its jobs were already
//!   delivered and removed (milliseconds), sends it again.
//! - The schedule ([`periodic`]) replaces Mailman's cron job: once a day at `[digests]
//!   send_time` (UTC), every list with `digest_send_periodic` sends what waited then.

pub mod collect;
pub mod manual;
pub mod periodic;
pub mod send;

use jiff::Timestamp;
use mailcast_model::settings::DigestFrequency;
use mailcast_pipeline::digest::numbering::Numbers;
use mailcast_store::DigestNumbers;

/// The numbers after a digest closed (or `--bump`) at `at`: Mailman's
/// `bump_digest_number_and_volume`.
pub fn bumped(frequency: DigestFrequency, numbers: DigestNumbers, at: Timestamp) -> DigestNumbers {
    let next = Numbers {
        volume: numbers.volume,
        number: numbers.next_number,
        last_sent_at: numbers.last_sent_at,
    }
    .bumped(frequency, at);
    DigestNumbers {
        volume: next.volume,
        next_number: next.number,
        last_sent_at: next.last_sent_at,
    }
}
