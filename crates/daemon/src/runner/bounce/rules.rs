//! Mailman 3's bounce rules as pure functions of a member's bounce state, the list's settings
//! and the time (passed in, never read): what one bounce does to the score, and what the
//! scheduled pass owes a member whose delivery is disabled.
//!
//! One bounce (`model/bounce.py` `process_event` in Mailman 3.3.10):
//! - a probe's bounce disables delivery;
//! - already disabled by bounces: nothing ("residual");
//! - a second bounce on the same UTC day: the score stays, `last_bounce_received` moves;
//! - otherwise the score goes up by 1, or starts again at 1 when the last bounce is older
//!   than `bounce_info_stale_after`;
//! - at `bounce_score_threshold`: a probe is sent (`[bounces] verp_probes`, the score goes
//!   back to 0 and delivery stays on), else delivery is disabled (score 0, no warnings sent
//!   yet, so the first warning goes out at the next pass).
//!
//! A failure that does not count (temporary, or caused by the poster's domain policy) is
//! logged and changes nothing. The scheduled pass: a disabled member gets a warning every
//! `bounce_you_are_disabled_warnings_interval` until `bounce_you_are_disabled_warnings` went
//! out, and is removed one interval after the last (at once when the count is 0).

use jiff::{SignedDuration, Timestamp};
use mailcast_model::DeliveryStatus;
use mailcast_model::settings::{ListSettings, Span};
use mailcast_store::{BounceContext, BounceState, BounceUpdate};

/// What one bounce did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scored {
    /// The address is not a member of the list: logged only.
    NotAMember,
    /// Logged only: a temporary failure, or the poster's domain policy.
    NotCounted,
    /// Delivery was already disabled by bounces.
    Residual,
    /// The member already bounced today.
    SameDay,
    /// The score went up (or started again).
    Counted { score: f64 },
    /// The threshold was reached: a probe is to be sent.
    Probe { score: f64 },
    /// The threshold was reached (or a probe bounced): delivery is now disabled.
    Disabled { score: f64 },
}

impl Scored {
    /// The event's `outcome` in the log.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scored::NotAMember => "not_member",
            Scored::NotCounted => "not_counted",
            Scored::Residual => "residual",
            Scored::SameDay => "same_day",
            Scored::Counted { .. } => "counted",
            Scored::Probe { .. } => "probe_sent",
            Scored::Disabled { .. } => "disabled",
        }
    }
}

/// The list settings the rules read, and the site's probe switch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rules {
    pub(crate) threshold: f64,
    pub(crate) stale_after: SignedDuration,
    pub(crate) probes: bool,
    pub(crate) warnings: u64,
    pub(crate) interval: SignedDuration,
    pub(crate) notify_increment: bool,
}

fn span(span: Span) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(span.seconds).unwrap_or(i64::MAX))
}

impl Rules {
    pub(crate) fn of(settings: &ListSettings, probes: bool) -> Rules {
        Rules {
            threshold: settings.bounce_score_threshold.0 as f64,
            stale_after: span(settings.bounce_info_stale_after),
            probes,
            warnings: settings.bounce_you_are_disabled_warnings.0,
            interval: span(settings.bounce_you_are_disabled_warnings_interval),
            notify_increment: settings.bounce_notify_owner_on_bounce_increment,
        }
    }

    /// Whether the owners hear of this increment: Mailman tells them of every counted bounce
    /// except the one that triggers a probe (and a probe's own bounce is no increment).
    pub(crate) fn tells_increment(&self, scored: Scored, context: BounceContext) -> bool {
        self.notify_increment
            && context == BounceContext::Normal
            && matches!(scored, Scored::Counted { .. } | Scored::Disabled { .. })
    }
}

fn utc_day(ts: Timestamp) -> jiff::civil::Date {
    jiff::tz::Offset::UTC.to_datetime(ts).date()
}

/// Applies one bounce received `at` to `state`. `counts` is false for failures that are
/// logged only. Returns what happened and the fields to write (`None`: unchanged).
pub(crate) fn score(
    state: &BounceState,
    rules: &Rules,
    at: Timestamp,
    context: BounceContext,
    counts: bool,
) -> (Scored, Option<BounceUpdate>) {
    if !counts {
        return (Scored::NotCounted, None);
    }
    let disabled = state.delivery_status == DeliveryStatus::ByBounces;
    if context == BounceContext::Probe {
        if disabled {
            return (Scored::Residual, None);
        }
        return (
            Scored::Disabled { score: 0.0 },
            Some(disable(state, at, 0.0)),
        );
    }
    if disabled {
        return (Scored::Residual, None);
    }
    let mut update = state.update();
    if state
        .last_bounce_received
        .is_some_and(|last| utc_day(last) == utc_day(at))
    {
        update.last_bounce_received = Some(at);
        return (Scored::SameDay, Some(update));
    }
    let stale = state
        .last_bounce_received
        .is_none_or(|last| last < at - rules.stale_after);
    let score = if stale { 1.0 } else { state.score + 1.0 };
    update.score = score;
    update.last_bounce_received = Some(at);
    if score < rules.threshold {
        return (Scored::Counted { score }, Some(update));
    }
    if rules.probes {
        update.score = 0.0;
        return (Scored::Probe { score }, Some(update));
    }
    let mut update = disable(state, at, 0.0);
    update.last_bounce_received = Some(at);
    (Scored::Disabled { score }, Some(update))
}

fn disable(state: &BounceState, at: Timestamp, score: f64) -> BounceUpdate {
    BounceUpdate {
        score,
        last_bounce_received: state.last_bounce_received,
        delivery_status: DeliveryStatus::ByBounces,
        last_warning_sent: None,
        total_warnings_sent: 0,
        disabled_at: Some(at),
    }
}

/// What the scheduled pass owes a member disabled by bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Nothing yet.
    Nothing,
    /// Warning number `n` (1 for the first).
    Warn(u64),
    /// Removal from the list.
    Remove,
}

/// The step due for `state` at `now`.
pub(crate) fn due(state: &BounceState, rules: &Rules, now: Timestamp) -> Due {
    if state.delivery_status != DeliveryStatus::ByBounces {
        return Due::Nothing;
    }
    let interval_passed = state
        .last_warning_sent
        .is_none_or(|last| last + rules.interval <= now);
    if state.total_warnings_sent < rules.warnings {
        return if interval_passed {
            Due::Warn(state.total_warnings_sent + 1)
        } else {
            Due::Nothing
        };
    }
    if interval_passed || rules.warnings == 0 {
        Due::Remove
    } else {
        Due::Nothing
    }
}

/// The fields after warning number `n` went out at `now`.
pub(crate) fn warned(state: &BounceState, n: u64, now: Timestamp) -> BounceUpdate {
    BounceUpdate {
        last_warning_sent: Some(now),
        total_warnings_sent: n,
        ..state.update()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailcast_model::{EmailAddress, ListAddress};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn member() -> BounceState {
        BounceState {
            member_id: Default::default(),
            email: EmailAddress::parse("anne@x.example").unwrap(),
            display_name: None,
            delivery_status: DeliveryStatus::Enabled,
            score: 0.0,
            last_bounce_received: None,
            last_warning_sent: None,
            total_warnings_sent: 0,
            disabled_at: None,
        }
    }

    fn rules(probes: bool) -> Rules {
        let list = ListAddress::parse("ant@example.org").unwrap();
        Rules::of(&ListSettings::defaults_for(&list), probes)
    }

    /// Applies bounces at the given times; returns each outcome's label.
    fn run(rules: &Rules, times: &[&str]) -> (Vec<&'static str>, BounceState) {
        let mut state = member();
        let mut seen = Vec::new();
        for t in times {
            let (scored, update) = score(&state, rules, at(t), BounceContext::Normal, true);
            seen.push(scored.as_str());
            if let Some(u) = update {
                state.score = u.score;
                state.last_bounce_received = u.last_bounce_received;
                state.delivery_status = u.delivery_status;
                state.total_warnings_sent = u.total_warnings_sent;
                state.last_warning_sent = u.last_warning_sent;
                state.disabled_at = u.disabled_at;
            }
        }
        (seen, state)
    }

    #[test]
    fn five_days_disable_and_same_day_bounces_count_once() {
        let days = [
            "2026-01-01T10:00:00Z",
            "2026-01-01T11:00:00Z",
            "2026-01-02T10:00:00Z",
            "2026-01-03T10:00:00Z",
            "2026-01-04T10:00:00Z",
            "2026-01-05T10:00:00Z",
            "2026-01-06T10:00:00Z",
        ];
        let (seen, state) = run(&rules(false), &days);
        assert_eq!(
            seen,
            [
                "counted", "same_day", "counted", "counted", "counted", "disabled", "residual"
            ]
        );
        assert_eq!(state.delivery_status, DeliveryStatus::ByBounces);
        assert_eq!(state.score, 0.0);
        assert_eq!(state.disabled_at, Some(at("2026-01-05T10:00:00Z")));
    }

    #[test]
    fn a_stale_score_starts_again_and_probes_replace_disabling() {
        let (seen, state) = run(
            &rules(false),
            &[
                "2026-01-01T00:00:00Z",
                "2026-01-02T00:00:00Z",
                "2026-01-20T00:00:00Z",
            ],
        );
        assert_eq!(seen, ["counted", "counted", "counted"]);
        assert_eq!(state.score, 1.0);
        let days: Vec<String> = (1..=5).map(|d| format!("2026-01-0{d}T00:00:00Z")).collect();
        let days: Vec<&str> = days.iter().map(String::as_str).collect();
        let (seen, state) = run(&rules(true), &days);
        assert_eq!(seen.last(), Some(&"probe_sent"));
        assert_eq!(
            (state.score, state.delivery_status),
            (0.0, DeliveryStatus::Enabled)
        );
        let (scored, update) = score(
            &state,
            &rules(true),
            at("2026-01-06T00:00:00Z"),
            BounceContext::Probe,
            true,
        );
        assert_eq!(scored, Scored::Disabled { score: 0.0 });
        assert_eq!(update.unwrap().delivery_status, DeliveryStatus::ByBounces);
        let (scored, update) = score(
            &member(),
            &rules(false),
            at("2026-01-06T00:00:00Z"),
            BounceContext::Normal,
            false,
        );
        assert_eq!((scored, update), (Scored::NotCounted, None));
    }

    #[test]
    fn warnings_go_out_at_the_interval_then_removal() {
        let rules = rules(false);
        let mut state = member();
        state.delivery_status = DeliveryStatus::ByBounces;
        let t0 = at("2026-02-01T00:00:00Z");
        let day = SignedDuration::from_hours(24);
        let mut steps = Vec::new();
        for d in 0..30 {
            let now = t0 + day * d;
            match due(&state, &rules, now) {
                Due::Nothing => {}
                Due::Warn(n) => {
                    steps.push(format!("day {d}: warning {n}"));
                    let u = warned(&state, n, now);
                    state.last_warning_sent = u.last_warning_sent;
                    state.total_warnings_sent = u.total_warnings_sent;
                }
                Due::Remove => {
                    steps.push(format!("day {d}: removed"));
                    break;
                }
            }
        }
        assert_eq!(
            steps,
            [
                "day 0: warning 1",
                "day 7: warning 2",
                "day 14: warning 3",
                "day 21: removed"
            ]
        );
        let mut none = rules;
        none.warnings = 0;
        assert_eq!(due(&state, &none, t0), Due::Remove);
        state.delivery_status = DeliveryStatus::Enabled;
        assert_eq!(due(&state, &rules, t0), Due::Nothing);
    }
}
