//! The periodic work, every `[site] maintenance_interval` (and once at start-up):
//! - carry out the decisions on held posts that other nodes recorded for this node's spool;
//! - discard held posts older than their list's `max_days_to_hold`, telling the poster;
//! - remove confirmation tokens that expired more than a week ago, and the keys of the posts
//!   of digests sent more than a week ago (kept so that a post re-processed after a crash is
//!   not put in a second digest);
//! - the scheduled bounce work (`bounce::scheduled`): warnings to members whose delivery is
//!   disabled, their removal after the last warning, stale scores, expired probes;
//! - digests: the daily periodic ones (`[digests] send_time`), and any closed digest not yet
//!   queued (closed by the CLI, or claimed by a node that died).
//!
//! Each step is an admin operation that is safe to run on several nodes at once: a held
//! post is expired only by the node whose spool holds it, and removing a request is atomic.
//! A failing step is logged and tried again next time; it never stops the daemon.

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::RunnerContext;

/// Runs the periodic work until `shutdown`.
pub(crate) async fn run(ctx: RunnerContext, shutdown: CancellationToken) {
    let admin = ctx.admin();
    let interval = ctx.settings.site.maintenance_interval;
    loop {
        match admin.apply_recorded_decisions().await {
            Ok(0) => {}
            Ok(n) => info!(
                decisions = n,
                "carried out decisions recorded on other nodes"
            ),
            Err(e) => warn!(error = %e, "cannot carry out recorded held decisions"),
        }
        match admin.expire_held().await {
            Ok(0) => {}
            Ok(n) => info!(posts = n, "held posts expired (max_days_to_hold)"),
            Err(e) => warn!(error = %e, "cannot expire held posts"),
        }
        match admin.expire_requests().await {
            Ok(0) => {}
            Ok(n) => info!(requests = n, "expired confirmation tokens removed"),
            Err(e) => warn!(error = %e, "cannot remove expired requests"),
        }
        let week_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(7 * 24);
        match ctx.store.prune_sent_digest_posts(week_ago).await {
            Ok(0) => {}
            Ok(n) => info!(
                posts = n,
                "keys of posts in digests sent a week ago removed"
            ),
            Err(e) => warn!(error = %e, "cannot prune the posts of sent digests"),
        }
        let probes = ctx.settings.smtp.verp_probes;
        match super::bounce::scheduled::run(&admin, probes, jiff::Timestamp::now()).await {
            Ok(pass) if pass == Default::default() => {}
            Ok(pass) => info!(?pass, "bounce warnings, removals and stale scores"),
            Err(e) => warn!(error = %e, "cannot do the scheduled bounce work"),
        }
        if ctx.settings.digests.periodic {
            match crate::digest::periodic::close_due(&admin, jiff::Timestamp::now()).await {
                Ok(closed) if closed.is_empty() => {}
                Ok(closed) => info!(digests = closed.len(), "periodic digests closed"),
                Err(e) => warn!(error = %e, "cannot close the periodic digests"),
            }
        }
        // Also digests closed elsewhere (the CLI, a node that died while sending).
        match crate::digest::send::send_closed(&admin).await {
            Ok(jobs) if jobs.is_empty() => {}
            Ok(jobs) => info!(jobs = jobs.len(), "digests queued"),
            Err(e) => warn!(error = %e, "cannot send the closed digests"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
