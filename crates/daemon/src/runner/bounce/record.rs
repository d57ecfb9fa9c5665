//! Recording one failed address: the event, the member's new score under its row lock, and
//! the mail the rules call for (owners' notices, the probe), for bounces read from a report
//! and for permanent failures at delivery time alike.
//!
//! The mail is created while the lock is held, before the commit, with ids derived from the
//! failure's origin; the event carries the failure's key. So a failure handled again after a
//! crash either finds its event (nothing more to do) or finds its mail (created once). A
//! probe's token is read back from a probe job that already exists for the same reason.

use jiff::{SignedDuration, Timestamp};
use mailcast_model::{EmailAddress, Mailbox};
use mailcast_pipeline::ListContext;
use mailcast_pipeline::bounce_notice::OwnerNotice;
use mailcast_spool::{EntryId, Stage};
use mailcast_store::{BounceContext, BounceLock, NewBounceEvent};
use tracing::{info, warn};

use super::judge::Finding;
use super::rules::{Rules, Scored, score};
use crate::admin::Admin;

/// How long a probe waits for its bounce (Mailman's `PENDABLE_LIFETIME`).
const PROBE_LIFETIME: SignedDuration = SignedDuration::from_hours(24 * 10);

/// One failure to record.
pub(crate) struct Failure<'a> {
    pub(crate) finding: Finding,
    pub(crate) context: BounceContext,
    pub(crate) at: Timestamp,
    pub(crate) message_id: Option<String>,
    /// Unique per failure: `<entry>/<index>`.
    pub(crate) key: String,
    /// The entry (report or delivery job) the failure came from, for the mail's ids.
    pub(crate) origin: EntryId,
    /// The failure's index within its origin.
    pub(crate) index: usize,
    /// The report, attached to the notices (none for failures at delivery time).
    pub(crate) report: Option<&'a [u8]>,
}

/// Records `failure` on `list`; `probes` is `[smtp] verp_probes`. Returns what it did, or
/// `None` if it had been recorded before.
pub(crate) async fn record(
    admin: &Admin,
    list: &ListContext,
    probes: bool,
    failure: Failure<'_>,
) -> anyhow::Result<Option<Scored>> {
    let label = failure.finding.label();
    metrics::counter!("mailcast_bounces_total", "class" => label).increment(1);
    let Ok(address) = EmailAddress::parse(&failure.finding.address) else {
        warn!(address = %failure.finding.address, "a bounce names an address that is not one; ignored");
        return Ok(Some(Scored::NotAMember));
    };
    let mut lock = match admin.store.lock_for_bounce(list.address(), &address).await {
        Ok(lock) => lock,
        // The list was removed since: nobody is left to score.
        Err(mailcast_store::Error::NotFound(_)) => return Ok(Some(Scored::NotAMember)),
        Err(e) => return Err(e.into()),
    };
    if lock.recorded(&failure.key).await?.is_some() {
        return Ok(None);
    }
    let rules = Rules::of(list.settings(), probes);
    let (scored, update) = match lock.member() {
        None => (Scored::NotAMember, None),
        Some(state) => score(
            state,
            &rules,
            failure.at,
            failure.context,
            failure.finding.counts(),
        ),
    };
    notify(admin, list, &mut lock, &rules, scored, &failure).await?;
    let event = NewBounceEvent {
        source_key: Some(failure.key.clone()),
        email: address.clone(),
        at: failure.at,
        message_id: failure.message_id.clone(),
        context: failure.context,
        class: label.to_string(),
        status: failure.finding.status.clone(),
        diagnostic: failure.finding.diagnostic.clone(),
        source: failure.finding.source.to_string(),
        outcome: scored.as_str().to_string(),
    };
    if !lock.record(&event, update.as_ref()).await? {
        return Ok(None);
    }
    match scored {
        Scored::Disabled { score } => {
            metrics::counter!("mailcast_bounce_members_disabled_total").increment(1);
            info!(list = %list.address(), member = %address, score, "delivery disabled by bounces");
        }
        Scored::Probe { score } => {
            info!(list = %list.address(), member = %address, score, "bounce threshold reached; probe sent");
        }
        Scored::Counted { score } => {
            info!(list = %list.address(), member = %address, score, "bounce score incremented");
        }
        _ => {}
    }
    Ok(Some(scored))
}

/// Creates the mail `scored` calls for, while `lock` is held.
async fn notify(
    admin: &Admin,
    list: &ListContext,
    lock: &mut BounceLock,
    rules: &Rules,
    scored: Scored,
    failure: &Failure<'_>,
) -> anyhow::Result<()> {
    let Some(state) = lock.member().cloned() else {
        return Ok(());
    };
    let member = Mailbox {
        display_name: state.display_name.clone(),
        address: state.email.clone(),
    };
    let id = |what: &str| failure.origin.derive(&format!("b{}{what}", failure.index));
    if rules.tells_increment(scored, failure.context) {
        admin
            .outbox
            .bounce_owner_notice(
                list,
                OwnerNotice::Increment,
                &member,
                failure.report,
                id("inc")?,
            )
            .await?;
    }
    match scored {
        Scored::Disabled { .. } if list.settings().bounce_notify_owner_on_disable => {
            admin
                .outbox
                .bounce_owner_notice(
                    list,
                    OwnerNotice::Disable,
                    &member,
                    failure.report,
                    id("dis")?,
                )
                .await?;
        }
        Scored::Probe { .. } => {
            let job = id("prb")?;
            let token = match probe_token_of(admin, &job).await? {
                Some(token) => token,
                None => crate::ids::token(),
            };
            let sender = mailcast_bounce::verp::encode_probe(list.address(), &token);
            admin
                .outbox
                .probe(list, &member, &sender, failure.report, job)
                .await?;
            lock.add_probe(&token, failure.at, failure.at + PROBE_LIFETIME)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The token of the probe job `job` if it already exists (a crash after creating it).
async fn probe_token_of(admin: &Admin, job: &EntryId) -> anyhow::Result<Option<String>> {
    let id = job.clone();
    let spool = admin.spool.clone();
    let meta = tokio::task::spawn_blocking(move || {
        for stage in [Stage::Outgoing, Stage::Deferred] {
            match spool.read_meta(stage, &id) {
                Ok(meta) => return Ok(Some(meta)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    })
    .await??;
    Ok(meta.and_then(|meta| {
        let (local, _) = meta.mail_from.rsplit_once('@')?;
        let (_, token) = local.split_once('+')?;
        Some(token.to_string())
    }))
}
