//! The materializer thread: writes the files of committed entries that are still resident
//! `materialize_after` after their commit.
//!
//! Most entries never get here: a runner removes or moves them within milliseconds, and then
//! no file is written in their first stage. For the others, the oldest first, it writes the
//! body once per record (straight under its final name) and links it under every other entry
//! of the record, then links each envelope into its stage (see `place`), and only then takes
//! the entries out of the resident index. It works ahead of time when more than
//! `max_resident` entries are resident, and takes everything at shutdown.
//!
//! Nothing is fsynced here: the records are durable in the log, and the next checkpoint's
//! `syncfs()` makes the files durable before the log segment goes. An entry whose files cannot
//! be written (full disk) stays resident, its half-written files removed, and is retried about
//! once a second; the writer slows acknowledgements down if that lets the resident set reach
//! its hard bound. This module never acknowledges submissions.

use std::time::{Duration, Instant};

use super::Shared;
use super::live::{LiveLog, State};
use super::resident::Due;
use crate::disk;
use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::meta::EntryMeta;
use crate::place;
use crate::stage::Stage;

/// How long after a failure the next attempt is made.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Records taken per round (the entries of a round are released together).
const ROUND: usize = 64;
/// At shutdown, how long to wait for entries other threads still hold.
const DRAIN_PATIENCE: Duration = Duration::from_secs(10);

/// Runs until shutdown has drained the resident index (or given up on what cannot be
/// written; recovery replays that from the log).
pub(crate) fn run(shared: &Shared) {
    yield_to_intake();
    let live = &shared.live;
    let mut retry_at: Option<Instant> = None;
    let mut drain_failures = 0;
    loop {
        let Some(round) = next_round(live, retry_at) else {
            break;
        };
        let draining = live.lock().draining;
        match materialize(shared, round) {
            Ok(()) => retry_at = None,
            Err(err) => {
                tracing::warn!(error = %err, "spool materialization failed; will retry");
                retry_at = Some(Instant::now() + RETRY_INTERVAL);
                if draining {
                    drain_failures += 1;
                    if drain_failures > 1 {
                        break;
                    }
                }
            }
        }
    }
    let left = live.lock().index.len();
    if left > 0 {
        tracing::error!(
            entries = left,
            "spool entries left unmaterialized; recovery will replay them from the log"
        );
    }
}

/// Lowers this thread's priority to the lowest (nice 19): its files are for operators and for
/// retiring log segments, never on the acknowledgement path, so while sessions and runners
/// want the CPU it takes only what they leave. It cannot starve for long: when the resident
/// set outgrows `max_resident` the writer slows acknowledgements down, which frees the CPU.
fn yield_to_intake() {
    let tid = rustix::thread::gettid();
    if let Err(err) = rustix::process::setpriority_process(Some(tid), 19) {
        tracing::debug!(error = %err, "cannot lower the materializer's priority");
    }
}

/// Waits until there is work and claims it; `None` when shutdown has drained everything (or
/// waited long enough for entries held elsewhere).
fn next_round(live: &LiveLog, retry_at: Option<Instant>) -> Option<Vec<Due>> {
    let mut state = live.lock();
    let mut drain_started: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if !state.draining
            && let Some(at) = retry_at.filter(|at| *at > now)
        {
            state = live.wait_materializer(state, at - now);
            continue;
        }
        let (after, keep) = if state.draining {
            (Duration::ZERO, 0)
        } else {
            (live.limits.materialize_after, live.limits.max_resident)
        };
        let State { index, wal, .. } = &mut *state;
        let due = index.take_due(after, keep, ROUND, |seq| wal.reader(seq));
        if !due.is_empty() {
            return Some(due);
        }
        if state.draining {
            if state.index.is_empty() {
                return None;
            }
            // What is left is held by other threads (a runner moving or removing it).
            let started = *drain_started.get_or_insert(now);
            if now.duration_since(started) >= DRAIN_PATIENCE {
                return None;
            }
            state = live.wait_materializer(state, Duration::from_millis(50));
            continue;
        }
        let timeout = state.index.next_due(live.limits.materialize_after).map_or(
            Duration::from_secs(1),
            |at| {
                at.saturating_duration_since(now)
                    .clamp(Duration::from_millis(1), Duration::from_secs(1))
            },
        );
        state = live.wait_materializer(state, timeout);
    }
}

/// Writes the files of one round's records; entries written leave the index, the others are
/// given back. Stops at the first failure.
fn materialize(shared: &Shared, round: Vec<Due>) -> Result<()> {
    let mut written: Vec<EntryId> = Vec::new();
    let mut result = Ok(());
    let mut records = round.into_iter();
    for due in records.by_ref() {
        if let Err(err) = write_record(shared, &due, &mut written) {
            let unwritten: Vec<&EntryMeta> = due
                .metas
                .iter()
                .filter(|m| !written.contains(&m.id))
                .collect();
            give_back(shared, unwritten);
            result = Err(err);
            break;
        }
    }
    for due in records {
        give_back(shared, due.metas.iter().collect());
    }
    shared.live.release(&written);
    result
}

/// Writes the body and the envelopes of one record's claimed entries.
fn write_record(shared: &Shared, due: &Due, written: &mut Vec<EntryId>) -> Result<()> {
    let (layout, disk) = (&shared.spool.layout, &shared.spool.disk);
    let Some(first) = due.metas.first() else {
        return Ok(());
    };
    let (body, corrupt) = match due.body.read_checked(first) {
        Ok(body) => (body, false),
        Err(Error::Corrupt { reason, .. }) => {
            // The log was damaged under us: keep what it holds for an operator.
            tracing::error!(id = %first.id, %reason, "moving entries with a damaged body to corrupt/");
            (due.body.read_raw()?, true)
        }
        Err(err) => return Err(err),
    };
    place::write_fresh_body(layout, disk, &first.id, &body)?;
    for meta in &due.metas[1..] {
        place::link_body(layout, disk, &first.id, &meta.id)?;
    }
    for meta in &due.metas {
        let stage = if corrupt { Stage::Corrupt } else { meta.stage };
        place::write_fresh_envelope(layout, disk, stage, meta)?;
        written.push(meta.id.clone());
    }
    Ok(())
}

/// Removes what a failed attempt left of `metas` (their bodies; their envelopes were never
/// linked) and gives their claims back.
fn give_back(shared: &Shared, metas: Vec<&EntryMeta>) {
    for meta in metas {
        let _ = disk::remove_if_exists(&shared.spool.layout.body_path(&meta.id));
        shared.live.unclaim(&meta.id, None);
    }
}
