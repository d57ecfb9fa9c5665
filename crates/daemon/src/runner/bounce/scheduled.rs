//! The scheduled side of bounce processing, run by the maintenance timer: warnings to members
//! whose delivery is disabled, their removal after the last warning, stale scores back to 0,
//! and expired probes.
//!
//! Each disabled member is claimed in the store (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and
//! its due step re-computed under the claim, so when several nodes run this pass at once each
//! warning and each removal happens once. The warning's job id names the member and the
//! warning's number, so a node that crashed after creating it and before committing finds it
//! again instead of sending a second one.

use jiff::{SignedDuration, Timestamp};
use mailcast_model::Mailbox;
use mailcast_pipeline::bounce_notice::OwnerNotice;
use mailcast_spool::EntryId;
use mailcast_store::{DisabledClaim, RequestKind};
use tracing::{info, warn};

use super::rules::{Due, Rules, due, warned};
use crate::admin::{Admin, AdminError};

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pass {
    pub(crate) warnings: u64,
    pub(crate) removed: u64,
    pub(crate) reset: u64,
    pub(crate) probes_expired: u64,
}

/// Runs one pass at `now`; `probes` is `[smtp] verp_probes`.
pub(crate) async fn run(admin: &Admin, probes: bool, now: Timestamp) -> anyhow::Result<Pass> {
    let mut pass = Pass::default();
    for disabled in admin.store.disabled_by_bounces().await? {
        let Some(claim) = admin
            .store
            .claim_disabled_member(disabled.member_id)
            .await?
        else {
            continue;
        };
        match step(admin, probes, now, claim).await {
            Ok(Some(Due::Warn(_))) => pass.warnings += 1,
            Ok(Some(Due::Remove)) => pass.removed += 1,
            Ok(_) => {}
            Err(e) => {
                warn!(member = %disabled.member_id, list = %disabled.list, error = %e, "bounce warning or removal failed; tried again next time")
            }
        }
    }
    for list in admin.directory.snapshot().lists() {
        if !list.settings.process_bounces {
            continue;
        }
        let stale = SignedDuration::from_secs(
            i64::try_from(list.settings.bounce_info_stale_after.seconds).unwrap_or(i64::MAX),
        );
        let before = now.checked_sub(stale).unwrap_or(Timestamp::MIN);
        match admin.store.reset_stale_scores(&list.address, before).await {
            Ok(n) => pass.reset += n,
            Err(mailcast_store::Error::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    pass.probes_expired = admin.store.expire_probes(now).await?;
    Ok(pass)
}

/// Carries out what `claim`'s member is due, if anything.
async fn step(
    admin: &Admin,
    probes: bool,
    now: Timestamp,
    claim: DisabledClaim,
) -> anyhow::Result<Option<Due>> {
    let rules = Rules::of(&claim.settings, probes);
    let step = due(&claim.state, &rules, now);
    if !claim.settings.process_bounces || step == Due::Nothing {
        claim.release().await?;
        return Ok(None);
    }
    let list = match admin.list_context(&claim.list).await {
        Ok(list) => list,
        Err(AdminError::NoSuchList(_)) => {
            claim.release().await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let member = Mailbox {
        display_name: claim.state.display_name.clone(),
        address: claim.state.email.clone(),
    };
    let id =
        |what: &str| EntryId::parse(&format!("bounce-{}-{what}", claim.state.member_id.simple()));
    match step {
        Due::Nothing => unreachable!("handled above"),
        Due::Warn(n) => {
            admin
                .outbox
                .disabled_warning(&list, &member, id(&format!("w{n}"))?)
                .await?;
            let update = warned(&claim.state, n, now);
            let (address, list_address) = (member.address.clone(), claim.list.clone());
            claim.commit(&update).await?;
            metrics::counter!("mailcast_bounce_warnings_total").increment(1);
            info!(list = %list_address, member = %address, warning = n, "disabled-delivery warning sent");
        }
        Due::Remove => {
            let settings = list.settings();
            if settings.send_goodbye_message {
                admin.outbox.goodbye(&list, &member, id("bye")?).await?;
            }
            if settings.bounce_notify_owner_on_removal {
                admin
                    .outbox
                    .bounce_owner_notice(&list, OwnerNotice::Removal, &member, None, id("rm")?)
                    .await?;
            } else if settings.admin_notify_mchanges {
                admin
                    .outbox
                    .membership_change(&list, RequestKind::Unsubscription, &member, id("rm")?)
                    .await?;
            }
            claim.remove().await?;
            metrics::counter!("mailcast_bounce_members_removed_total").increment(1);
            info!(list = %list.address(), member = %member.address, "removed after the last bounce warning");
        }
    }
    Ok(Some(step))
}
