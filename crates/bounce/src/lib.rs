//! mailcast's bounce analysis: what a message that arrived at a list's `-bounces` address is,
//! and which recipients it reports on.
//!
//! The crate is pure: bytes in, a [`Report`] out; no files, no clock, no randomness, no store.
//! The daemon's bounce runner decides what a report means for a member's bounce score.
//!
//! # Pipeline
//!
//! 1. **VERP** ([`verp`]): the daemon first decodes the envelope recipient with
//!    [`verp::decode`]. A `Member` or `Probe` already says who bounced; the message is still
//!    analysed, because an auto-reply or a complaint at a VERP address must not count, and a
//!    report of a delay is not a failure.
//! 2. **Parsing** (`mail`, `prefix`): the message is parsed with `mail-parser` up to where
//!    the returned original starts; only the top-level parts are looked at, never what is
//!    inside a `message/rfc822` part.
//! 3. **Complaints**: an ARF report (RFC 5965, `report-type=feedback-report`) is
//!    [`NotABounce::Complaint`].
//! 4. **DSN** (`dsn`): every `message/delivery-status` and `message/global-delivery-status`
//!    part (RFC 3464, RFC 6533) is read block by block; failing that, `text/plain` parts that
//!    carry the same block structure. Any readable block makes the message a
//!    [`Format::Dsn`] bounce: a real DSN wins over everything after this step, including the
//!    `Auto-Submitted` header DSNs carry.
//! 5. **Not-a-bounce checks** (`not_bounce`), unless the message comes from a mail system
//!    (`MAILER-DAEMON`, `postmaster`, "Mail Delivery System", a `multipart/report`, an
//!    `X-Failed-Recipients` header): challenge-response requests (TMDA, Spam Arrest, Boxbe)
//!    are [`NotABounce::ChallengeResponse`]; auto-replies (`Auto-Submitted: auto-replied`,
//!    `X-Autoreply`, "Out of Office", "Abwesenheitsnotiz" subjects...) and read receipts
//!    (RFC 8098) are [`NotABounce::AutoReply`].
//! 6. **Detectors** (`detect`), for the formats MTAs and providers send instead of a DSN, in
//!    this order: qmail, Exim, Postfix, Sendmail, Exchange/Office 365, Gmail, Yahoo, Lotus
//!    Notes, GroupWise, generic English texts, then German, French, Spanish, Italian,
//!    Portuguese, Dutch and Polish texts; last, Exim's `X-Failed-Recipients` header. Each
//!    detector takes addresses only from the place its format lists failed recipients; the
//!    text after a returned-message separator (`returned`) is never read.
//! 7. Otherwise the message is [`Verdict::Unrecognized`].
//!
//! # Classification
//!
//! Each recipient gets a [`Class`]: from its RFC 3463 status ([`classify_status`]); a DSN's
//! `Action: delayed` is always Temporary and `delivered`/`relayed`/`expanded` always
//! NotFailure, and a 4.x.x code is never Permanent. Text formats without a status use the
//! SMTP reply code in the diagnostic (5xx, 4xx), then its wording ("permanently", "will
//! retry"), then the format's default. Each diagnostic is also checked with
//! [`poster_policy`]: a refusal because of the poster's DMARC, SPF or DKIM policy is not the
//! recipient's fault.
//!
//! # Limits
//!
//! Malformed input never panics (mail-parser's debug-build assertions are caught, see
//! `mail`), and the work is bounded:
//!
//! - at most 1 MiB of a message is parsed, and nothing of a returned original that comes last
//!   (RFC 6522 order) or follows an inline copy separator;
//! - at most 64 top-level parts are looked at, 64 KiB of each text part (delivery-status
//!   parts whole), and a few hundred lines after a detector's intro;
//! - at most 1,000 blocks per delivery-status part and 1,000 recipients per report are kept;
//! - each diagnostic is one line of at most 500 characters;
//! - every regex is compiled once, and the detectors' intros are found in one pass.
//!
//! Not recognised: reports that name the recipient only inside a sentence of a format not
//! listed above ("Ihre Nachricht an anne@example.net konnte nicht zugestellt werden"), HTML-only
//! reports whose text has no recognisable list, and bounces of formats not listed (they are
//! [`Verdict::Unrecognized`]; with a VERP address the daemon can still count them).
#![warn(missing_docs)]

mod address;
mod classify;
mod detect;
mod diagnostic;
mod dsn;
mod mail;
mod not_bounce;
mod pipeline;
mod policy;
mod prefix;
mod report;
mod returned;
mod status;
pub mod verp;

pub use pipeline::analyse;
pub use policy::poster_policy;
pub use report::{Class, Format, NotABounce, PolicyCause, Recipient, Report, Verdict};
pub use status::classify_status;
