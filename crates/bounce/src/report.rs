//! What an analysis says about a message: the [`Report`], its [`Verdict`] and the
//! [`Recipient`]s it names, with their [`Class`] and, for refusals caused by the poster's
//! domain, the [`PolicyCause`].
//!
//! These are plain data; [`analyse`](crate::analyse) builds them and the daemon stores and
//! counts them. Every enum has an `as_str` for metrics labels and logs.

/// The result of [`analyse`](crate::analyse): a verdict and, for a bounce, the recipients the
/// report names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What the message is.
    pub verdict: Verdict,
    /// Every recipient the report names, each once, in report order; empty unless the verdict
    /// is [`Verdict::Bounce`].
    pub recipients: Vec<Recipient>,
}

impl Report {
    /// A report with no recipients (not a bounce, or unrecognized).
    pub(crate) fn without_recipients(verdict: Verdict) -> Report {
        Report {
            verdict,
            recipients: Vec::new(),
        }
    }
}

/// What a message at a `-bounces` address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A delivery report the crate could read; `recipients` lists every address it names
    /// (failed, delayed, delivered...).
    Bounce(Format),
    /// Not a bounce at all: never counts, even when it arrives at a VERP address.
    NotABounce(NotABounce),
    /// Nothing recognisable: no report format matched, no address extracted.
    Unrecognized,
}

/// Kinds of automatic mail that reach a `-bounces` address without being bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotABounce {
    /// An RFC 3834 automatic response: vacation notices, out-of-office replies, ticket
    /// acknowledgements.
    AutoReply,
    /// An abuse report in the Abuse Reporting Format (RFC 5965, `report-type=feedback-report`).
    Complaint,
    /// A challenge-response system (TMDA, Spam Arrest, Boxbe style) asking the sender to prove
    /// it is a person before the mail is delivered.
    ChallengeResponse,
}

impl NotABounce {
    /// A stable lower-case name: `auto-reply`, `complaint`, `challenge-response`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotABounce::AutoReply => "auto-reply",
            NotABounce::Complaint => "complaint",
            NotABounce::ChallengeResponse => "challenge-response",
        }
    }
}

/// The report format a bounce was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RFC 3464 / RFC 6533 delivery status notification (`message/delivery-status`), whoever
    /// sent it.
    Dsn,
    /// qmail's QSBMF and its derivatives.
    Qmail,
    /// Exim's text bounces and delay warnings.
    Exim,
    /// Postfix's text report without a delivery-status part.
    Postfix,
    /// Sendmail's pre-DSN text report.
    Sendmail,
    /// Microsoft Exchange and Office 365 text reports.
    Exchange,
    /// Gmail's text reports.
    Gmail,
    /// Yahoo's text reports.
    Yahoo,
    /// Lotus Notes / Domino.
    LotusNotes,
    /// Novell GroupWise.
    GroupWise,
    /// Generic English and non-English texts with a recipient list after an intro sentence.
    SimpleText,
}

impl Format {
    /// A stable lower-case name used as a metrics label: `dsn`, `qmail`, `exim`, `postfix`,
    /// `sendmail`, `exchange`, `gmail`, `yahoo`, `lotus-notes`, `groupwise`, `simple-text`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Dsn => "dsn",
            Format::Qmail => "qmail",
            Format::Exim => "exim",
            Format::Postfix => "postfix",
            Format::Sendmail => "sendmail",
            Format::Exchange => "exchange",
            Format::Gmail => "gmail",
            Format::Yahoo => "yahoo",
            Format::LotusNotes => "lotus-notes",
            Format::GroupWise => "groupwise",
            Format::SimpleText => "simple-text",
        }
    }
}

/// One address a report names, with what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address as reported, without angle brackets or `rfc822;`/`utf-8;` prefix, its domain
    /// lower-cased (RFC 6533 utf-8 addresses decoded: `xtext`/`unitext` \x{HHHH} escapes
    /// resolved).
    pub address: String,
    /// Whether delivery failed for good, failed for now, or did not fail.
    pub class: Class,
    /// RFC 3463 status, "5.1.1", when the report gives one (from Status:, else from the
    /// diagnostic text).
    pub status: Option<String>,
    /// One line (whitespace folded), at most 500 chars: the Diagnostic-Code / SMTP reply / human
    /// text.
    pub diagnostic: Option<String>,
    /// Some when the refusal was because of the *poster's* domain policy (DMARC, SPF or DKIM
    /// alignment), see [`poster_policy`](crate::poster_policy).
    pub poster_policy: Option<PolicyCause>,
}

/// The outcome class of one recipient (RFC 3463 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Failed for good (5.x.x, or a format that only reports permanent failures).
    Permanent,
    /// Failed for now; the reporting MTA may still retry (4.x.x, `Action: delayed`).
    Temporary,
    /// Not a failure (2.x.x, `Action: delivered|relayed|expanded`).
    NotFailure,
}

impl Class {
    /// `permanent`, `temporary` or `not-failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Permanent => "permanent",
            Class::Temporary => "temporary",
            Class::NotFailure => "not-failure",
        }
    }
}

/// Which of the poster's domain authentication policies a receiver enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyCause {
    /// DMARC (RFC 7489), including RFC 7372's "multiple authentication checks failed".
    Dmarc,
    /// SPF (RFC 7208).
    Spf,
    /// DKIM (RFC 6376).
    Dkim,
}

impl PolicyCause {
    /// `dmarc`, `spf` or `dkim`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyCause::Dmarc => "dmarc",
            PolicyCause::Spf => "spf",
            PolicyCause::Dkim => "dkim",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stable() {
        let formats = [
            (Format::Dsn, "dsn"),
            (Format::Qmail, "qmail"),
            (Format::Exim, "exim"),
            (Format::Postfix, "postfix"),
            (Format::Sendmail, "sendmail"),
            (Format::Exchange, "exchange"),
            (Format::Gmail, "gmail"),
            (Format::Yahoo, "yahoo"),
            (Format::LotusNotes, "lotus-notes"),
            (Format::GroupWise, "groupwise"),
            (Format::SimpleText, "simple-text"),
        ];
        for (format, label) in formats {
            assert_eq!(format.as_str(), label);
        }
        assert_eq!(Class::Permanent.as_str(), "permanent");
        assert_eq!(Class::Temporary.as_str(), "temporary");
        assert_eq!(Class::NotFailure.as_str(), "not-failure");
        assert_eq!(PolicyCause::Dmarc.as_str(), "dmarc");
        assert_eq!(PolicyCause::Spf.as_str(), "spf");
        assert_eq!(PolicyCause::Dkim.as_str(), "dkim");
        assert_eq!(NotABounce::AutoReply.as_str(), "auto-reply");
    }
}
