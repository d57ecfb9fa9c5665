//! How a recipient gets its class, status and poster-policy cause, for DSN blocks
//! ([`dsn_recipient`]) and for text reports ([`text_recipient`]).
//!
//! DSN blocks: the Status code decides (RFC 3463), but `Action: delayed` is always
//! Temporary and `Action: delivered|relayed|expanded` always NotFailure, and a 4.x.x code is
//! never Permanent whatever the Action says. Without a usable Status the status is taken from
//! the diagnostic text, then the SMTP reply code in it, then the Action alone (`failed` →
//! Permanent).
//!
//! Text reports: the status code in the diagnostic, else its SMTP reply code (5xx → Permanent,
//! 4xx → Temporary), else its wording ("permanently", "will retry", "delayed", "still
//! trying", and "vorübergehend", "temporaire", "temporal", "temporaneo", "tijdelijk",
//! "tymczasowy"...), else the format's default, which the detector passes (Permanent where the
//! format itself means permanent failure, such as qmail's "permanent error").

use std::sync::LazyLock;

use regex::Regex;

use crate::diagnostic::fold;
use crate::policy::poster_policy;
use crate::report::{Class, Recipient};
use crate::status::{classify_status, find_status, reply_class};

/// Wording that says whether a failure is final; the leftmost match decides.
static WORDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)will (?:be )?retr(?:y|ied)|still trying|delayed|tempor(?:ar|ai|al|an|á)|not yet been delivered",
        r"|will continue|try again later|deferred|vorübergehend|tijdelijk|tymczasow",
        r"|permanent|giving up|given up|gave up|dauerhaft|d[ée]finiti",
    ))
    .expect("valid regex")
});

/// Which of the [`WORDING`] matches mean a permanent failure.
static PERMANENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:permanent|giving up|given up|gave up|dauerhaft|d[ée]finiti)")
        .expect("valid regex")
});

/// The DSN `Action:` field, lower-cased and without comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// `failed` (and OpenSMTPD's non-standard `error`).
    Failed,
    /// `delayed`.
    Delayed,
    /// `delivered`, `relayed` or `expanded`.
    Success,
    /// Missing or unknown.
    Unknown,
}

impl Action {
    /// Reads an Action value such as `failed` or `delayed (retrying)`.
    pub(crate) fn parse(value: &str) -> Action {
        let v = value.trim().to_ascii_lowercase();
        if v.starts_with("fail") || v.starts_with("error") {
            Action::Failed
        } else if v.starts_with("delayed") {
            Action::Delayed
        } else if ["delivered", "relayed", "expanded"]
            .iter()
            .any(|a| v.starts_with(a))
        {
            Action::Success
        } else {
            Action::Unknown
        }
    }
}

/// A recipient of a DSN block.
pub(crate) fn dsn_recipient(
    address: String,
    action: Action,
    status: Option<&str>,
    diagnostic: Option<&str>,
) -> Recipient {
    let diagnostic = diagnostic.and_then(fold);
    let diag = diagnostic.as_deref().unwrap_or("");
    let status = status.and_then(find_status).or_else(|| find_status(diag));
    let by_code = status
        .as_deref()
        .and_then(classify_status)
        .or_else(|| reply_class(diag));
    let class = match (action, by_code) {
        (Action::Delayed, _) => Class::Temporary,
        (Action::Success, _) => Class::NotFailure,
        (_, Some(class)) => class,
        (Action::Failed | Action::Unknown, None) => Class::Permanent,
    };
    let poster_policy = poster_policy(diag).or_else(|| status.as_deref().and_then(poster_policy));
    Recipient {
        address,
        class,
        status,
        diagnostic,
        poster_policy,
    }
}

/// A recipient of a text report, `default` being the format's class when the text says
/// nothing.
pub(crate) fn text_recipient(address: String, diagnostic: &str, default: Class) -> Recipient {
    let diagnostic = fold(diagnostic);
    let diag = diagnostic.as_deref().unwrap_or("");
    let status = find_status(diag);
    let class = status
        .as_deref()
        .and_then(classify_status)
        .or_else(|| reply_class(diag))
        .or_else(|| wording(diag))
        .unwrap_or(default);
    Recipient {
        address,
        class,
        status,
        poster_policy: poster_policy(diag),
        diagnostic,
    }
}

/// The class a text's wording implies, if it says.
pub(crate) fn wording(text: &str) -> Option<Class> {
    let found = WORDING.find(text)?;
    Some(if PERMANENT.is_match(found.as_str()) {
        Class::Permanent
    } else {
        Class::Temporary
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Class::{NotFailure, Permanent, Temporary};

    /// (Action, Status, Diagnostic-Code, class, reported status); "" is an absent field.
    const DSN_ROWS: &[(&str, &str, &str, Class, &str)] = &[
        ("failed", "5.1.1", "", Permanent, "5.1.1"),
        ("failed", "4.4.7", "", Temporary, "4.4.7"),
        ("delayed", "5.0.0", "", Temporary, "5.0.0"),
        ("delayed", "", "", Temporary, ""),
        ("delivered", "2.0.0", "", NotFailure, "2.0.0"),
        ("relayed", "5.1.1", "", NotFailure, "5.1.1"),
        ("failed", "5.x.y", "550 5.1.2 bad host", Permanent, "5.1.2"),
        ("failed", "", "452 mailbox full", Temporary, ""),
        ("failed", "", "", Permanent, ""),
        ("", "4.2.2 (over quota)", "", Temporary, "4.2.2"),
        ("", "", "", Permanent, ""),
    ];

    #[test]
    fn dsn_blocks_follow_status_and_action() {
        let opt = |s: &'static str| (!s.is_empty()).then_some(s);
        for &(action, status, diag, class, want) in DSN_ROWS {
            let r = dsn_recipient(
                "a@example.net".into(),
                Action::parse(action),
                opt(status),
                opt(diag),
            );
            assert_eq!(
                (r.class, r.status.as_deref()),
                (class, opt(want)),
                "{action:?} {status:?} {diag:?}"
            );
        }
    }

    #[test]
    fn actions_parse_leniently() {
        for (value, action) in [
            ("failed", Action::Failed),
            (" Failed ", Action::Failed),
            ("error", Action::Failed),
            ("delayed (will retry)", Action::Delayed),
            ("delivered", Action::Success),
            ("relayed", Action::Success),
            ("expanded", Action::Success),
            ("frobbed", Action::Unknown),
            ("", Action::Unknown),
        ] {
            assert_eq!(Action::parse(value), action, "{value:?}");
        }
    }

    /// (diagnostic, format default, class, reported status); "" is no status.
    const TEXT_ROWS: &[(&str, Class, Class, &str)] = &[
        ("said: 550 5.1.1 unknown", Temporary, Permanent, "5.1.1"),
        ("said: 452 mailbox full", Permanent, Temporary, ""),
        ("temporarily unavailable", Permanent, Temporary, ""),
        ("will be retried for 2 days", Permanent, Temporary, ""),
        ("failed permanently", Temporary, Permanent, ""),
        ("Boîte pleine, erreur temporaire", Permanent, Temporary, ""),
        ("Postfach vorübergehend gesperrt", Permanent, Temporary, ""),
        ("Errore permanente", Temporary, Permanent, ""),
        ("no such user", Permanent, Permanent, ""),
        ("", Temporary, Temporary, ""),
    ];

    #[test]
    fn text_reports_fall_back_to_reply_code_wording_and_default() {
        for &(diag, default, class, status) in TEXT_ROWS {
            let r = text_recipient("a@example.net".into(), diag, default);
            let want = (!status.is_empty()).then_some(status);
            assert_eq!((r.class, r.status.as_deref()), (class, want), "{diag:?}");
        }
    }
}
