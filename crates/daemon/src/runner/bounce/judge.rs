//! What a message to `-bounces` means for the list: the addresses that failed and whether
//! each failure counts, from the VERP address it came to and the bounce crate's reading of
//! the message. Pure.
//!
//! Mailman 3's order (`runners/bounce.py`), with mailcast's refinements:
//! 1. Not a bounce at all (an auto-reply, an ARF complaint, challenge-response): nothing,
//!    even at a VERP address.
//! 2. A probe's VERP address: the probe bounced, unless the report says only "delayed".
//! 3. A member's VERP address: the address is the member's, whatever the report names. A
//!    report with only temporary failures (or only successes) does not count; a permanent
//!    failure does, unless every permanent failure in it is the poster's domain policy.
//!    A report nobody can read counts as permanent (Mailman assumes VERP bounces are).
//! 4. No VERP: every permanent failure the report names, each counted unless caused by the
//!    poster's domain policy; temporary failures are logged and not counted.
//! 5. Nothing usable: an unrecognized bounce, forwarded as `forward_unrecognized_bounces_to`
//!    says.

use mailcast_bounce::verp::Verp;
use mailcast_bounce::{Class, NotABounce, PolicyCause, Recipient, Report, Verdict};

/// One failed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) address: String,
    pub(crate) class: Class,
    pub(crate) status: Option<String>,
    pub(crate) diagnostic: Option<String>,
    pub(crate) policy: Option<PolicyCause>,
    /// `verp`, the report's format, or `smtp`.
    pub(crate) source: &'static str,
}

impl Finding {
    /// Whether it counts towards the member's score.
    pub(crate) fn counts(&self) -> bool {
        self.class == Class::Permanent && self.policy.is_none()
    }

    /// The metrics label: `permanent`, `temporary` or `policy`.
    pub(crate) fn label(&self) -> &'static str {
        match (self.class, self.policy) {
            (Class::Permanent, Some(_)) => "policy",
            (Class::Permanent, None) => "permanent",
            _ => "temporary",
        }
    }
}

/// What to do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// Not a bounce: drop it.
    NotABounce(NotABounce),
    /// Only successes or delays that concern nobody: drop it.
    Nothing,
    /// The probe with this token bounced.
    ProbeBounced { token: String, finding: Finding },
    /// These addresses failed.
    Failed(Vec<Finding>),
    /// Nothing recognisable: forward or discard.
    Unrecognized,
}

pub(crate) fn judge(verp: Option<Verp>, report: &Report) -> Judgement {
    if let Verdict::NotABounce(kind) = report.verdict {
        return Judgement::NotABounce(kind);
    }
    let source = match report.verdict {
        Verdict::Bounce(format) => format.as_str(),
        _ => "verp",
    };
    match verp {
        Some(Verp::Probe(token)) => match for_verp(report, source, "") {
            Some(finding) if finding.class == Class::Temporary => Judgement::Nothing,
            Some(finding) => Judgement::ProbeBounced { token, finding },
            None => Judgement::Nothing,
        },
        Some(Verp::Member(address)) => match for_verp(report, source, &address) {
            Some(finding) => Judgement::Failed(vec![finding]),
            None => Judgement::Nothing,
        },
        None => {
            if report.recipients.is_empty() {
                return Judgement::Unrecognized;
            }
            let failed: Vec<Finding> = report
                .recipients
                .iter()
                .filter(|r| r.class != Class::NotFailure)
                .map(|r| finding(r, r.address.clone(), source))
                .collect();
            if failed.is_empty() {
                Judgement::Nothing
            } else {
                Judgement::Failed(failed)
            }
        }
    }
}

/// The one finding for a VERP address: the report's permanent failure (the one naming the
/// address first), else its temporary one; a permanent failure for an unreadable report.
fn for_verp(report: &Report, source: &'static str, address: &str) -> Option<Finding> {
    if report.recipients.is_empty() {
        return Some(Finding {
            address: address.to_string(),
            class: Class::Permanent,
            status: None,
            diagnostic: None,
            policy: None,
            source,
        });
    }
    let named = |r: &Recipient| r.address.eq_ignore_ascii_case(address);
    let permanent: Vec<&Recipient> = report
        .recipients
        .iter()
        .filter(|r| r.class == Class::Permanent)
        .collect();
    let chosen = if permanent.is_empty() {
        report
            .recipients
            .iter()
            .find(|r| r.class == Class::Temporary)?
    } else {
        // Counted unless every permanent failure is the poster's domain policy.
        let pick = |ok: &dyn Fn(&Recipient) -> bool| permanent.iter().copied().find(|r| ok(r));
        pick(&|r| r.poster_policy.is_none() && named(r))
            .or_else(|| pick(&|r| r.poster_policy.is_none()))
            .or_else(|| pick(&named))
            .unwrap_or(permanent[0])
    };
    Some(finding(chosen, address.to_string(), source))
}

fn finding(r: &Recipient, address: String, source: &'static str) -> Finding {
    Finding {
        address,
        class: r.class,
        status: r.status.clone(),
        diagnostic: r.diagnostic.clone(),
        policy: r.poster_policy,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcast_bounce::Format;

    fn rcpt(address: &str, class: Class, policy: Option<PolicyCause>) -> Recipient {
        Recipient {
            address: address.to_string(),
            class,
            status: None,
            diagnostic: None,
            poster_policy: policy,
        }
    }

    fn report(recipients: Vec<Recipient>) -> Report {
        let verdict = if recipients.is_empty() {
            Verdict::Unrecognized
        } else {
            Verdict::Bounce(Format::Dsn)
        };
        Report {
            verdict,
            recipients,
        }
    }

    fn member(a: &str) -> Option<Verp> {
        Some(Verp::Member(a.to_string()))
    }

    fn outcome(j: &Judgement) -> Vec<(String, &'static str)> {
        match j {
            Judgement::Failed(f) => f.iter().map(|f| (f.address.clone(), f.label())).collect(),
            Judgement::ProbeBounced { finding, .. } => vec![("probe".into(), finding.label())],
            Judgement::NotABounce(_) => vec![("not-a-bounce".into(), "")],
            Judgement::Nothing => vec![],
            Judgement::Unrecognized => vec![("unrecognized".into(), "")],
        }
    }

    /// The VERP address, the report, and the (address, label) findings expected.
    type Row = (Option<Verp>, Report, Vec<(&'static str, &'static str)>);

    #[test]
    fn verp_dsn_and_policy_combine_as_documented() {
        use Class::*;
        let dmarc = Some(PolicyCause::Dmarc);
        let table: Vec<Row> = vec![
            (
                member("a@x.org"),
                report(vec![]),
                vec![("a@x.org", "permanent")],
            ),
            (
                member("a@x.org"),
                report(vec![rcpt("other@y.org", Permanent, None)]),
                vec![("a@x.org", "permanent")],
            ),
            (
                member("a@x.org"),
                report(vec![rcpt("a@x.org", Temporary, None)]),
                vec![("a@x.org", "temporary")],
            ),
            (
                member("a@x.org"),
                report(vec![rcpt("a@x.org", NotFailure, None)]),
                vec![],
            ),
            (
                member("a@x.org"),
                report(vec![rcpt("a@x.org", Permanent, dmarc)]),
                vec![("a@x.org", "policy")],
            ),
            (
                member("a@x.org"),
                report(vec![
                    rcpt("a@x.org", Permanent, dmarc),
                    rcpt("a@x.org", Permanent, None),
                ]),
                vec![("a@x.org", "permanent")],
            ),
            (
                None,
                report(vec![
                    rcpt("a@x.org", Permanent, None),
                    rcpt("b@x.org", Temporary, None),
                    rcpt("c@x.org", NotFailure, None),
                    rcpt("d@x.org", Permanent, dmarc),
                ]),
                vec![
                    ("a@x.org", "permanent"),
                    ("b@x.org", "temporary"),
                    ("d@x.org", "policy"),
                ],
            ),
            (
                None,
                report(vec![rcpt("c@x.org", NotFailure, None)]),
                vec![],
            ),
            (None, report(vec![]), vec![("unrecognized", "")]),
            (
                Some(Verp::Probe("t".into())),
                report(vec![]),
                vec![("probe", "permanent")],
            ),
            (
                Some(Verp::Probe("t".into())),
                report(vec![rcpt("a@x.org", Temporary, None)]),
                vec![],
            ),
            (
                member("a@x.org"),
                Report {
                    verdict: Verdict::NotABounce(NotABounce::AutoReply),
                    recipients: vec![],
                },
                vec![("not-a-bounce", "")],
            ),
        ];
        for (i, (verp, report, expected)) in table.into_iter().enumerate() {
            let got = outcome(&judge(verp, &report));
            let expected: Vec<(String, &str)> = expected
                .into_iter()
                .map(|(a, l)| (a.to_string(), l))
                .collect();
            assert_eq!(got, expected, "row {i}");
        }
    }
}
