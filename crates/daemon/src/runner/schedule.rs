//! The scheduler: the runners' event loop, the scans, and the worker tasks it spawns. The
//! strategies are listed in the `runner` module documentation; the bookkeeping behind them
//! (queues, in-flight set, timers) is `board`.
//!
//! The loop waits for one of: a worker finished, a wake-up, the periodic scan, a timer. It
//! does file I/O only through `spawn_blocking` (scans), and never decides what happens to an
//! entry: the workers call [`incoming`] and [`outgoing`], and [`failure`] when they fail.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use mailcast_spool::{Durability, EntryId, Spool, Stage};
use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, field, info_span, warn};

use super::archive::retry::Archived;
use super::board::{Board, Work};
use super::failure;
use super::{RunnerContext, SCAN_INTERVAL, Wakeup, incoming, outgoing};
use super::{bounce, command};

/// How long a job waits before looking again whether its parent entry is gone.
const PARENT_WAIT: Duration = Duration::from_secs(2);
/// After a delivery finished, the `deferred` stage is scanned this much later (the delivery
/// may have created a retry job there), at most once per delay.
const DEFERRED_SCAN_DELAY: Duration = Duration::from_millis(200);
/// A requested scan waits this long, so that a burst of requests (a Maildir reader adopting
/// many files) costs one scan.
const SCAN_REQUEST_DELAY: Duration = Duration::from_millis(20);
/// The stages the runners consume.
pub const STAGES: &[Stage] = &[
    Stage::Incoming,
    Stage::Command,
    Stage::Bounces,
    Stage::Outgoing,
    Stage::Deferred,
    Stage::Archive,
];

/// What became of a piece of work.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Finished; these entries it created are ready to be processed.
    Done(Vec<Work>),
    /// Not finished: look at it again at this time.
    Wait(Work, Instant),
    /// It left the runners' stages (shunted, quarantined, or removed by someone else).
    Gone,
}

/// The scheduler's state.
pub(crate) struct Scheduler {
    ctx: RunnerContext,
    /// Kept so that the wake-up channel never closes while the scheduler runs.
    _wake_tx: mpsc::UnboundedSender<Wakeup>,
    board: Board,
    full_scan_at: Option<Instant>,
    deferred_scan_at: Option<Instant>,
    tasks: JoinSet<(Work, Verdict)>,
    running: HashMap<Id, Work>,
}

impl Scheduler {
    pub(crate) fn new(ctx: RunnerContext, wake_tx: mpsc::UnboundedSender<Wakeup>) -> Scheduler {
        // A quarter of the workers at most for the archivers (at least one).
        let board = Board::with_archive_limit(ctx.settings.runner.concurrency / 4);
        Scheduler {
            ctx,
            _wake_tx: wake_tx,
            board,
            full_scan_at: None,
            deferred_scan_at: None,
            tasks: JoinSet::new(),
            running: HashMap::new(),
        }
    }

    /// Runs until `shutdown`, then waits for the work in flight.
    pub(crate) async fn run(
        mut self,
        mut wake_rx: mpsc::UnboundedReceiver<Wakeup>,
        shutdown: CancellationToken,
    ) {
        // The first tick is immediate: the start-up scan.
        let mut scan_tick = tokio::time::interval(SCAN_INTERVAL);
        scan_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.dispatch();
            let next_timer = self.next_timer();
            // Unbiased: under load no branch (timers, scans, wake-ups) waits for the others.
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.joined(joined);
                }
                Some(wakeup) = wake_rx.recv() => self.wakeup(wakeup),
                _ = scan_tick.tick() => self.scan(STAGES).await,
                () = sleep_until(next_timer), if next_timer.is_some() => self.fire_timers().await,
            }
        }
        debug!(in_flight = self.tasks.len(), "runners stopping");
        while let Some(joined) = self.tasks.join_next_with_id().await {
            if let Err(e) = joined {
                error!(error = %e, "a runner task failed during shutdown");
            }
        }
        self.ctx.relay.close_idle().await;
    }

    /// Starts queued work while there is capacity.
    fn dispatch(&mut self) {
        while self.tasks.len() < self.ctx.settings.runner.concurrency {
            let Some(work) = self.board.start_next() else {
                return;
            };
            let handle = self.tasks.spawn(process(self.ctx.clone(), work.clone()));
            self.running.insert(handle.id(), work);
        }
    }

    fn joined(&mut self, joined: Result<(Id, (Work, Verdict)), JoinError>) {
        match joined {
            Ok((task, (work, verdict))) => {
                self.running.remove(&task);
                self.board.finish(&work.id);
                self.settle(work, verdict);
            }
            Err(join_error) => {
                // A panic in processing counts as a failed attempt, like any error. The entry
                // stays in flight until the failure is recorded.
                let Some(work) = self.running.remove(&join_error.id()) else {
                    return;
                };
                let text = join_error.to_string();
                error!(entry = %work.id, error = %text, "processing an entry panicked");
                let (ctx, failed) = (self.ctx.clone(), work.clone());
                let handle = self.tasks.spawn(async move {
                    let err = anyhow::anyhow!("processing panicked: {text}");
                    let verdict = failure::record(&ctx, failed.stage, &failed.id, &err).await;
                    (failed, verdict)
                });
                self.running.insert(handle.id(), work);
            }
        }
    }

    fn settle(&mut self, work: Work, verdict: Verdict) {
        match verdict {
            Verdict::Done(children) => {
                if !matches!(
                    work.stage,
                    Stage::Incoming | Stage::Command | Stage::Bounces | Stage::Archive
                ) {
                    // A finished delivery may have left a retry job in `deferred`.
                    let at = Instant::now() + DEFERRED_SCAN_DELAY;
                    self.deferred_scan_at.get_or_insert(at);
                }
                for child in children {
                    self.board.enqueue(child, true);
                }
            }
            Verdict::Wait(work, at) => self.board.wait(work, at),
            Verdict::Gone => {}
        }
    }

    fn wakeup(&mut self, wakeup: Wakeup) {
        match wakeup {
            Wakeup::Committed(
                stage @ (Stage::Incoming
                | Stage::Command
                | Stage::Bounces
                | Stage::Outgoing
                | Stage::Archive),
                id,
            ) => {
                self.board.enqueue(Work { stage, id }, false);
            }
            Wakeup::Committed(Stage::Deferred, _) => {
                self.deferred_scan_at.get_or_insert_with(Instant::now);
            }
            // Other stages belong to other runners (or to operators).
            Wakeup::Committed(..) | Wakeup::DirectoryChanged => {}
            Wakeup::Scan => {
                self.full_scan_at
                    .get_or_insert_with(|| Instant::now() + SCAN_REQUEST_DELAY);
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        [
            self.board.next_timer(),
            self.full_scan_at,
            self.deferred_scan_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn fire_timers(&mut self) {
        let now = Instant::now();
        self.board.fire(now);
        if self.full_scan_at.is_some_and(|at| at <= now) {
            self.full_scan_at = None;
            self.deferred_scan_at = None;
            self.scan(STAGES).await;
        }
        if self.deferred_scan_at.is_some_and(|at| at <= now) {
            self.deferred_scan_at = None;
            self.scan(&[Stage::Deferred]).await;
        }
    }

    /// Lists `stages` and queues (or times) what is not known yet, oldest first.
    async fn scan(&mut self, stages: &'static [Stage]) {
        let found = match self
            .ctx
            .on_spool(move |spool| list_stages(spool, stages))
            .await
        {
            Ok(found) => found,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "cannot scan the spool");
                return;
            }
        };
        let now = Timestamp::now();
        for (stage, id, not_before) in found {
            let work = Work { stage, id };
            if stage != Stage::Deferred {
                self.board.enqueue(work, false);
                continue;
            }
            // For a deferred job the envelope is the truth: an operator may have made it due.
            if self.board.is_busy(&work.id) {
                continue;
            }
            match not_before.filter(|at| *at > now) {
                Some(at) => self.board.wait(work, instant_of(at, now)),
                None => self.board.enqueue(work, true),
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The monotonic instant of a wall-clock time (now if it is past).
fn instant_of(at: Timestamp, now: Timestamp) -> Instant {
    let ahead = at.duration_since(now);
    let ahead = Duration::try_from(ahead).unwrap_or(Duration::ZERO);
    Instant::now() + ahead.min(Duration::from_secs(366 * 24 * 3600))
}

/// The ids in `stages`, oldest first per stage, with the `not_before` of deferred ones.
fn list_stages(
    spool: &Spool,
    stages: &[Stage],
) -> mailcast_spool::Result<Vec<(Stage, EntryId, Option<Timestamp>)>> {
    let mut out = Vec::new();
    for &stage in stages {
        for id in spool.list(stage)? {
            let not_before = if stage == Stage::Deferred {
                match spool.read_meta(stage, &id) {
                    Ok(meta) => meta.not_before,
                    // Moved away meanwhile, or quarantined by the spool: nothing to schedule.
                    Err(_) => continue,
                }
            } else {
                None
            };
            out.push((stage, id, not_before));
        }
    }
    Ok(out)
}

/// One worker: processes `work` in a span, records a failure, reports the verdict.
async fn process(ctx: RunnerContext, work: Work) -> (Work, Verdict) {
    let span = info_span!(
        "entry",
        entry = %work.id,
        stage = %work.stage,
        list = field::Empty,
        message_id = field::Empty,
    );
    let started = Instant::now();
    let stage_label = work.stage.as_str();
    let verdict = async {
        let mut stage = work.stage;
        match attempt(&ctx, &work, &mut stage).await {
            Ok(verdict) => verdict,
            Err(err) => failure::record(&ctx, stage, &work.id, &err).await,
        }
    }
    .instrument(span)
    .await;
    metrics::histogram!("mailcast_runner_seconds", "stage" => stage_label)
        .record(started.elapsed().as_secs_f64());
    (work, verdict)
}

/// Processes `work`; `stage` follows the entry when it moves (for the failure record).
async fn attempt(ctx: &RunnerContext, work: &Work, stage: &mut Stage) -> anyhow::Result<Verdict> {
    let id = &work.id;
    match readiness(ctx, work).await? {
        Readiness::Ready => {}
        Readiness::Gone => {
            // A scan listed it just before another worker finished it, or an operator
            // removed it.
            debug!("the entry is gone");
            return Ok(Verdict::Gone);
        }
        Readiness::ParentPending => {
            debug!("waiting for the parent entry to finish");
            return Ok(Verdict::Wait(work.clone(), Instant::now() + PARENT_WAIT));
        }
    }
    match work.stage {
        Stage::Incoming => {
            let children = incoming::process(ctx, id).await?;
            Ok(Verdict::Done(children))
        }
        Stage::Command => {
            let children = command::process(ctx, id).await?;
            Ok(Verdict::Done(children))
        }
        Stage::Bounces => {
            let children = bounce::process(ctx, id).await?;
            Ok(Verdict::Done(children))
        }
        Stage::Outgoing | Stage::Deferred => {
            if work.stage == Stage::Deferred {
                match make_due(ctx, id).await? {
                    Due::Now => *stage = Stage::Outgoing,
                    Due::Later(at) => return Ok(Verdict::Wait(work.clone(), at)),
                    Due::Gone => return Ok(Verdict::Gone),
                }
            }
            outgoing::process(ctx, id).await?;
            Ok(Verdict::Done(Vec::new()))
        }
        Stage::Archive => match super::archive::run::process(ctx, id).await? {
            Archived::Done => Ok(Verdict::Done(Vec::new())),
            Archived::RetryAt(at) => Ok(Verdict::Wait(work.clone(), at)),
            Archived::Shunted => Ok(Verdict::Gone),
        },
        other => anyhow::bail!("the runners do not process the {other} stage"),
    }
}

enum Due {
    Now,
    Later(Instant),
    Gone,
}

/// Moves a due deferred job to `outgoing`; reports when it is due if it is not yet.
async fn make_due(ctx: &RunnerContext, id: &EntryId) -> anyhow::Result<Due> {
    let id = id.clone();
    ctx.on_spool(move |spool| {
        let meta = match spool.read_meta(Stage::Deferred, &id) {
            Ok(meta) => meta,
            Err(e) if e.is_not_found() => return Ok(Due::Gone),
            Err(e) => return Err(e),
        };
        let now = Timestamp::now();
        if let Some(at) = meta.not_before.filter(|at| *at > now) {
            return Ok(Due::Later(instant_of(at, now)));
        }
        spool.move_entry(
            &id,
            Stage::Deferred,
            Stage::Outgoing,
            Durability::Lazy,
            |m| m.not_before = None,
        )?;
        Ok(Due::Now)
    })
    .await
}

enum Readiness {
    Ready,
    Gone,
    ParentPending,
}

/// Whether `work` can be processed now: its entry is still in its stage, and no entry it
/// derives from (`a` for `a.out`; `a` and `a.held` for `a.held.out`) is still in `incoming`
/// or `held`, which would mean that the parent's processing has not finished, and that
/// sending the child now could send it twice after a crash (see the module documentation).
async fn readiness(ctx: &RunnerContext, work: &Work) -> anyhow::Result<Readiness> {
    let Work { stage, id } = work.clone();
    ctx.on_spool(move |spool| {
        let exists = |stage: Stage, id: &EntryId| match spool.summary(stage, id) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        };
        if !exists(stage, &id)? {
            return Ok(Readiness::Gone);
        }
        let text = id.as_str();
        for (end, _) in text.match_indices('.') {
            let Ok(parent) = EntryId::parse(&text[..end]) else {
                continue;
            };
            if exists(Stage::Incoming, &parent)?
                || exists(Stage::Command, &parent)?
                || exists(Stage::Bounces, &parent)?
                || exists(Stage::Held, &parent)?
            {
                return Ok(Readiness::ParentPending);
            }
        }
        Ok(Readiness::Ready)
    })
    .await
}
