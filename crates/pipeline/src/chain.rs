//! Mailman 3's default posting chain (mailman3.md §5.1): the rules in order, each link either
//! jumping to a decision, detouring through the header-match chain, or deferring (record the
//! hit, go on); `any` then holds a post for which any deferred rule hit.
//!
//! ```text
//!  dmarc-mitigation     jump   reject | discard (per dmarc_mitigate_action; lists that mitigate)
//!  no-senders           jump   discard
//!  approved             jump   accept
//!  loop                 jump   reject (loop)       Mailman: discard
//!  banned-address       jump   reject (banned)     Mailman: discard
//!  truth                detour header-match chain
//!  emergency            jump   hold
//!  member-moderation    jump   moderation chain (the recorded action)
//!  nonmember-moderation jump   moderation chain
//!  administrivia, implicit-dest, max-recipients, max-size,
//!  news-moderation, no-subject, digests, suspicious-header   defer
//!  any                  jump   hold
//!  truth                jump   accept
//! ```
//!
//! The header-match chain runs the site's `header_checks` (deferring), then holds (or does the
//! site's action) if any rule has hit so far, then the list's `header_matches`, each jumping to
//! its own action (`None`: the site's action; `defer`: record and go on). Mail to `-owner` takes
//! the owner chain instead: accept. `dmarc-mitigation` reads the From domain's DMARC policy
//! from [`crate::MessageFacts::dmarc`] (the daemon looks it up in DNS before running the
//! chain); for `munge_from` and `wrap_message` it never hits but sets [`ChainResult::dmarc`],
//! which the daemon passes to [`crate::handlers::dmarc`] for the members' copy.
//!
//! [`early`] is the same chain without its deferring links, for the LMTP server at the end of
//! data: it only has to know whether the post is refused or discarded. Deferred hits can only
//! end in `any` (hold) after every jumping link has missed, so leaving them out never changes a
//! reject or a discard, nor the reasons that precede it; [`early`] and [`run`] walk the same
//! links through one function. What `early` does not do: record rule names, or tell accept
//! from hold (the incoming runner runs the whole chain again and decides).

use mailcast_model::Action;
use mailcast_model::settings::DmarcMitigateAction;

use crate::Refusal;
use crate::encoded_word::Value;
use crate::message::Message;
use crate::rewrite::Rewrite;
use crate::rules::{Rule, RuleContext, RuleOutcome, header_match};

/// What happens to the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Distribute it.
    Accept,
    /// Keep it for a moderator.
    Hold,
    /// Refuse it.
    Reject(RejectKind),
    /// Drop it silently.
    Discard,
}

/// Why a post is refused; decides the LMTP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// The post came back to the list (`550 5.4.6 Routing loop detected`).
    Loop,
    /// A sender is banned (`550 5.7.1 <reason>`).
    Banned,
    /// A moderation action or a header rule says reject (`550 5.7.1 <reason>`).
    Policy,
}

/// The chain's decision and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainResult {
    /// What happens to the post.
    pub disposition: Disposition,
    /// The reasons of every rule that hit, for moderators and notices.
    pub reasons: Vec<String>,
    /// Names of the rules that hit, in order (Mailman's `rule_hits`).
    pub rule_hits: Vec<String>,
    /// Names of the rules that missed, in order (Mailman's `rule_misses`).
    pub rule_misses: Vec<String>,
    /// The sender the decision is about (Mailman's `moderation_sender`).
    pub moderation_sender: Option<String>,
    /// The message to keep instead of the received one, when the rules changed it (an
    /// approval password was removed); `None` means the received bytes.
    pub rewritten: Option<Vec<u8>>,
    /// `dmarc-mitigation` says the members' copy is to be munged or wrapped (Mailman's
    /// `msgdata['dmarc']`); see [`crate::handlers::dmarc`].
    pub dmarc: bool,
}

/// What the LMTP server learns from [`early`]: only the outcomes it acts on at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Early {
    /// The chain rejects the post: refuse it with this (the text [`ChainResult::refusal`]
    /// gives for the same post).
    Refuse(Refusal),
    /// The chain discards the post; the reasons of the rules that hit and can decide (deferred
    /// hits are not looked for), in order.
    Discard(Vec<String>),
    /// The chain accepts or holds the post; the incoming runner decides which.
    Store,
}

impl ChainResult {
    /// The LMTP refusal for a rejected post; `None` for the other dispositions.
    pub fn refusal(&self) -> Option<Refusal> {
        let Disposition::Reject(kind) = self.disposition else {
            return None;
        };
        Some(refusal_for(kind, &self.reasons))
    }

    /// The message to store (held) or pass to the handlers (accepted), as Mailman's accept and
    /// hold chains leave it: the kept bytes with `X-Mailman-Rule-Hits` and
    /// `X-Mailman-Rule-Misses` (rule names joined by `; `) appended. Such headers already in
    /// the post are removed first, so a poster cannot forge them.
    pub fn annotate(&self, received: &[u8]) -> Vec<u8> {
        let kept = self.rewritten.as_deref().unwrap_or(received);
        let Ok(message) = Message::parse(kept) else {
            return kept.to_vec();
        };
        let mut rewrite = Rewrite::new(&message);
        rewrite
            .remove("X-Mailman-Rule-Hits")
            .remove("X-Mailman-Rule-Misses");
        if !self.rule_hits.is_empty() {
            rewrite.append(
                "X-Mailman-Rule-Hits",
                Value::Raw(&self.rule_hits.join("; ")),
            );
        }
        if !self.rule_misses.is_empty() {
            rewrite.append(
                "X-Mailman-Rule-Misses",
                Value::Raw(&self.rule_misses.join("; ")),
            );
        }
        rewrite.finish()
    }
}

/// The refusal for a reject of `kind`, given the reasons recorded up to it.
fn refusal_for(kind: RejectKind, reasons: &[String]) -> Refusal {
    match kind {
        RejectKind::Loop => Refusal {
            code: 550,
            enhanced: "5.4.6",
            text: "Routing loop detected".to_string(),
        },
        RejectKind::Banned | RejectKind::Policy => Refusal {
            code: 550,
            enhanced: "5.7.1",
            text: one_line(
                reasons
                    .last()
                    .map_or("Message rejected by the list's policy", String::as_str),
            ),
        },
    }
}

/// The text as one SMTP reply line: control characters (CR, LF, ...) become spaces and runs
/// of white space one space, so a multi-line reason (a wrapped DMARC notice) reads as a
/// sentence and can never start a new reply line.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Where a link goes when its rule hits.
#[derive(Debug, Clone, Copy)]
enum Then {
    Jump(Disposition),
    /// Jump to the moderation chain: the recorded moderation action decides (also the dmarc
    /// chain, whose rule records reject or discard).
    Moderation,
    /// Record the hit and continue.
    Defer,
    /// Record the hit and continue; the header-match chain acts on the site checks' hits
    /// right after them, so unlike [`Then::Defer`] an early walk runs these links too.
    Collect,
}

/// The default posting chain after the header-match detour point is split in two halves.
const BEFORE_HEADER_MATCH: &[(Rule, Then)] = &[
    (Rule::NoSenders, Then::Jump(Disposition::Discard)),
    (Rule::Approved, Then::Jump(Disposition::Accept)),
    (
        Rule::Loop,
        Then::Jump(Disposition::Reject(RejectKind::Loop)),
    ),
    (
        Rule::BannedAddress,
        Then::Jump(Disposition::Reject(RejectKind::Banned)),
    ),
];

const AFTER_HEADER_MATCH: &[(Rule, Then)] = &[
    (Rule::Emergency, Then::Jump(Disposition::Hold)),
    (Rule::MemberModeration, Then::Moderation),
    (Rule::NonmemberModeration, Then::Moderation),
    (Rule::Administrivia, Then::Defer),
    (Rule::ImplicitDest, Then::Defer),
    (Rule::MaxRecipients, Then::Defer),
    (Rule::MaxSize, Then::Defer),
    (Rule::NewsModeration, Then::Defer),
    (Rule::NoSubject, Then::Defer),
    (Rule::Digests, Then::Defer),
    (Rule::SuspiciousHeader, Then::Defer),
];

/// Runs the posting chain (or the owner chain for `-owner` mail) over a post.
pub fn run(ctx: &RuleContext<'_>) -> ChainResult {
    let mut run = Run::new(Walk::Full);
    let disposition = walk(ctx, &mut run).unwrap_or(Disposition::Accept);
    run.finish(disposition)
}

/// Runs the chain as far as it can end in a reject or a discard: [`run`] without the deferring
/// links and without recording rule names. For every post, `early` refuses exactly when `run`
/// rejects (with the same refusal) and discards exactly when `run` discards; anything else is
/// [`Early::Store`].
pub fn early(ctx: &RuleContext<'_>) -> Early {
    let mut run = Run::new(Walk::Early);
    match walk(ctx, &mut run) {
        Some(Disposition::Reject(kind)) => Early::Refuse(refusal_for(kind, &run.reasons)),
        Some(Disposition::Discard) => Early::Discard(run.reasons),
        Some(Disposition::Accept | Disposition::Hold) | None => Early::Store,
    }
}

/// How much of the chain a walk covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Every link, names recorded ([`run`]).
    Full,
    /// Only the links that can jump, names not recorded ([`early`]).
    Early,
}

/// Walks the chain; `Some` when a link jumped, `None` when the walk reached its end. At the end
/// of a full walk, `any` holds the post if a deferred rule hit.
fn walk(ctx: &RuleContext<'_>, run: &mut Run) -> Option<Disposition> {
    if ctx.facts.to_owner {
        return Some(Disposition::Accept);
    }
    // Mailman records `dmarc-mitigation` among the misses of every post; we record it only
    // for a list that mitigates, so the headers of other lists' posts stay as they were.
    if ctx.list.settings().dmarc_mitigate_action != DmarcMitigateAction::NoMitigation
        && let Some(decided) = run.check(ctx, Rule::DmarcMitigation, Then::Moderation)
    {
        return Some(decided);
    }
    for &(rule, then) in BEFORE_HEADER_MATCH {
        if let Some(decided) = run.check(ctx, rule, then) {
            return Some(decided);
        }
    }
    if let Some(decided) = header_match_chain(ctx, run) {
        return Some(decided);
    }
    for &(rule, then) in AFTER_HEADER_MATCH {
        if let Some(decided) = run.check(ctx, rule, then) {
            return Some(decided);
        }
    }
    // `any`: a deferred rule hit.
    (run.n_hits > 0).then_some(Disposition::Hold)
}

fn header_match_chain(ctx: &RuleContext<'_>, run: &mut Run) -> Option<Disposition> {
    let compiled = &ctx.list.compiled;
    let site_action = ctx.list.site().header_checks_action;
    for (i, pattern) in compiled.site_checks.iter().enumerate() {
        run.link(
            || header_match::rule_name("config", i),
            || header_match::check(ctx, pattern),
            Then::Collect,
        );
    }
    // Only the site checks can have hit by now: every link before them jumps when it hits.
    if run.n_hits > 0 {
        return action_disposition(site_action);
    }
    let list_id = ctx.list.address().list_id();
    for (i, (pattern, action)) in compiled.header_matches.iter().enumerate() {
        let then = match action.unwrap_or(site_action) {
            Action::Defer => Then::Defer,
            other => action_disposition(other).map_or(Then::Defer, Then::Jump),
        };
        if let Some(decided) = run.link(
            || header_match::rule_name(&list_id, i),
            || header_match::check(ctx, pattern),
            then,
        ) {
            return Some(decided);
        }
    }
    None
}

/// The moderation chain: a recorded action becomes a disposition.
fn action_disposition(action: Action) -> Option<Disposition> {
    match action {
        Action::Accept => Some(Disposition::Accept),
        Action::Hold => Some(Disposition::Hold),
        Action::Reject => Some(Disposition::Reject(RejectKind::Policy)),
        Action::Discard => Some(Disposition::Discard),
        Action::Defer => None,
    }
}

/// The state of one chain run (Mailman's msgdata keys).
#[derive(Debug)]
struct Run {
    walk: Walk,
    /// Rules that hit so far, named or not.
    n_hits: usize,
    hits: Vec<String>,
    misses: Vec<String>,
    reasons: Vec<String>,
    moderation_sender: Option<String>,
    rewritten: Option<Vec<u8>>,
    dmarc: bool,
}

impl Run {
    fn new(walk: Walk) -> Run {
        Run {
            walk,
            n_hits: 0,
            hits: Vec::new(),
            misses: Vec::new(),
            reasons: Vec::new(),
            moderation_sender: None,
            rewritten: None,
            dmarc: false,
        }
    }

    /// Runs a built-in rule as a link.
    fn check(&mut self, ctx: &RuleContext<'_>, rule: Rule, then: Then) -> Option<Disposition> {
        self.link(|| rule.name().to_string(), || rule.check(ctx), then)
    }

    /// Runs a link and records its outcome; returns the decision when the link jumps. An
    /// early walk skips deferring links: they record a hit at most, never decide.
    fn link(
        &mut self,
        name: impl FnOnce() -> String,
        check: impl FnOnce() -> RuleOutcome,
        then: Then,
    ) -> Option<Disposition> {
        let named = self.walk == Walk::Full;
        if !named && matches!(then, Then::Defer) {
            return None;
        }
        let outcome = check();
        if outcome.rewritten.is_some() {
            self.rewritten = outcome.rewritten;
        }
        self.dmarc |= outcome.dmarc;
        if !outcome.hit {
            if named {
                self.misses.push(name());
            }
            return None;
        }
        self.n_hits += 1;
        if named {
            self.hits.push(name());
        }
        self.reasons.extend(outcome.reasons);
        if outcome.moderation_sender.is_some() {
            self.moderation_sender = outcome.moderation_sender;
        }
        match then {
            Then::Jump(disposition) => Some(disposition),
            Then::Moderation => outcome.moderation_action.and_then(action_disposition),
            Then::Defer | Then::Collect => None,
        }
    }

    fn finish(self, disposition: Disposition) -> ChainResult {
        ChainResult {
            disposition,
            reasons: self.reasons,
            rule_hits: self.hits,
            rule_misses: self.misses,
            moderation_sender: self.moderation_sender,
            rewritten: self.rewritten,
            dmarc: self.dmarc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::scenario::Scenario;
    use mailcast_model::settings::{HeaderMatch, Line};
    use mailcast_model::{Action, MemberRole};

    const POST: &str = "From: anne@example.com\nTo: ant@example.com\nSubject: hello\nMessage-ID: <a@example.com>\n\nhi\n";

    fn run_chain(s: &Scenario) -> ChainResult {
        s.with_ctx(run)
    }

    fn member_post() -> Scenario {
        Scenario::new(POST).member("anne@example.com")
    }

    #[test]
    fn every_path_of_the_posting_chain() {
        type Case = (&'static str, Scenario, Disposition, &'static [&'static str]);
        let cases: Vec<Case> = vec![
            (
                "member post accepted",
                member_post(),
                Disposition::Accept,
                &[],
            ),
            (
                "no senders",
                Scenario::new("To: ant@example.com\nSubject: x\n\nhi\n"),
                Disposition::Discard,
                &["no-senders"],
            ),
            (
                "approved skips moderation",
                Scenario::new(&POST.replace("Subject", "Approved: pw\nSubject"))
                    .settings(|s| s.moderator_password = Some(Line("pw".into()))),
                Disposition::Accept,
                &["approved"],
            ),
            (
                "loop rejected",
                Scenario::new(&POST.replace("Subject", "X-BeenThere: ant@example.com\nSubject"))
                    .member("anne@example.com"),
                Disposition::Reject(RejectKind::Loop),
                &["loop"],
            ),
            (
                "banned rejected",
                Scenario::new(POST).sender("anne@example.com", &[MemberRole::Member], None, true),
                Disposition::Reject(RejectKind::Banned),
                &["banned-address"],
            ),
            (
                "emergency",
                member_post().settings(|s| s.emergency = true),
                Disposition::Hold,
                &["emergency"],
            ),
            (
                "moderated member held",
                Scenario::new(POST).sender(
                    "anne@example.com",
                    &[MemberRole::Member],
                    Some(Action::Hold),
                    false,
                ),
                Disposition::Hold,
                &["member-moderation"],
            ),
            (
                "member accept skips the size check",
                Scenario::new(POST)
                    .sender(
                        "anne@example.com",
                        &[MemberRole::Member],
                        Some(Action::Accept),
                        false,
                    )
                    .facts(|f| f.original_size = 10_000_000),
                Disposition::Accept,
                &["member-moderation"],
            ),
            (
                "non-member held",
                Scenario::new(POST),
                Disposition::Hold,
                &["nonmember-moderation"],
            ),
            (
                "non-member rejected",
                Scenario::new(POST).settings(|s| s.default_nonmember_action = Action::Reject),
                Disposition::Reject(RejectKind::Policy),
                &["nonmember-moderation"],
            ),
            (
                "non-member discarded",
                Scenario::new(POST).settings(|s| s.default_nonmember_action = Action::Discard),
                Disposition::Discard,
                &["nonmember-moderation"],
            ),
            (
                "deferred hits are held together",
                Scenario::new("From: anne@example.com\nTo: x@example.com\n\nhi\n")
                    .member("anne@example.com"),
                Disposition::Hold,
                &["implicit-dest", "no-subject"],
            ),
            (
                "too big",
                member_post().facts(|f| f.original_size = 41 * 1024),
                Disposition::Hold,
                &["max-size"],
            ),
            (
                "header match discards",
                Scenario::new(&POST.replace("Subject", "X-Spam: yes\nSubject"))
                    .member("anne@example.com")
                    .settings(|s| {
                        s.header_matches = vec![HeaderMatch {
                            header: "x-spam".into(),
                            pattern: "yes".into(),
                            action: Some(Action::Discard),
                        }]
                    }),
                Disposition::Discard,
                &["header-match-ant.example.com-0"],
            ),
            (
                "header match without action holds",
                Scenario::new(&POST.replace("Subject", "X-Spam: yes\nSubject"))
                    .member("anne@example.com")
                    .settings(|s| {
                        s.header_matches = vec![HeaderMatch {
                            header: "x-spam".into(),
                            pattern: "yes".into(),
                            action: None,
                        }]
                    }),
                Disposition::Hold,
                &["header-match-ant.example.com-0"],
            ),
            (
                "site header check holds before list moderation",
                Scenario::new(&POST.replace("Subject", "X-Virus: found\nSubject"))
                    .sender(
                        "anne@example.com",
                        &[MemberRole::Member],
                        Some(Action::Accept),
                        false,
                    )
                    .site(|s| s.header_checks = vec![("X-Virus".into(), "found".into())]),
                Disposition::Hold,
                &["header-match-config-0"],
            ),
            (
                "owner mail is accepted",
                Scenario::new("Subject: x\n\nhi\n").facts(|f| f.to_owner = true),
                Disposition::Accept,
                &[],
            ),
        ];
        for (name, scenario, disposition, hits) in cases {
            let result = run_chain(&scenario);
            assert_eq!(result.disposition, disposition, "{name}: {result:?}");
            assert_eq!(result.rule_hits, *hits, "{name}");
        }
    }

    #[test]
    fn hold_reasons_and_sender_are_recorded() {
        let result = run_chain(&Scenario::new(
            "From: nobody@example.net\nTo: ant@example.com\n\nhi\n",
        ));
        assert_eq!(result.disposition, Disposition::Hold);
        assert_eq!(
            result.reasons,
            vec!["The message is not from a list member"]
        );
        assert_eq!(
            result.moderation_sender.as_deref(),
            Some("nobody@example.net")
        );
        assert!(result.rule_misses.starts_with(&[
            "no-senders".to_string(),
            "approved".into(),
            "loop".into()
        ]));
    }

    #[test]
    fn refusals_map_to_lmtp_replies() {
        let loop_post =
            Scenario::new(&POST.replace("Subject", "List-Id: <ant.example.com>\nSubject"));
        let refusal = run_chain(&loop_post).refusal().unwrap();
        assert_eq!(
            (refusal.code, refusal.enhanced, refusal.text.as_str()),
            (550, "5.4.6", "Routing loop detected")
        );
        let banned = Scenario::new(POST).sender("anne@example.com", &[], None, true);
        let refusal = run_chain(&banned).refusal().unwrap();
        assert_eq!((refusal.code, refusal.enhanced), (550, "5.7.1"));
        assert_eq!(
            refusal.text,
            "The sender address anne@example.com is banned from this list"
        );
        let rejected =
            Scenario::new(POST).settings(|s| s.default_nonmember_action = Action::Reject);
        assert_eq!(
            run_chain(&rejected).refusal().unwrap().text,
            "The message is not from a list member"
        );
        assert_eq!(run_chain(&member_post()).refusal(), None);
    }

    #[test]
    fn annotation_records_hits_and_misses_and_drops_forged_ones() {
        let s = Scenario::new(&POST.replace("Subject", "X-Mailman-Rule-Hits: approved\nSubject"))
            .member("anne@example.com");
        let result = run_chain(&s);
        let raw = POST
            .replace("Subject", "X-Mailman-Rule-Hits: approved\nSubject")
            .replace('\n', "\r\n");
        let out = String::from_utf8(result.annotate(raw.as_bytes())).unwrap();
        assert!(!out.contains("X-Mailman-Rule-Hits"), "{out}");
        assert!(
            out.contains(
                "X-Mailman-Rule-Misses: no-senders; approved; loop; banned-address; emergency;"
            ),
            "{out}"
        );
        assert!(out.ends_with("\r\n\r\nhi\r\n"), "{out}");
    }

    #[test]
    fn approval_password_is_removed_whatever_the_outcome() {
        let s = Scenario::new(&POST.replace("Subject", "Approved: wrong\nSubject"))
            .settings(|s| s.moderator_password = Some(Line("pw".into())));
        let result = run_chain(&s);
        assert_eq!(result.disposition, Disposition::Hold);
        let kept = String::from_utf8(result.rewritten.unwrap()).unwrap();
        assert!(!kept.contains("Approved"), "{kept}");
    }
}
