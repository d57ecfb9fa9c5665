//! The scheduler's bookkeeping: which entries are queued, in flight or waiting for a timer,
//! and which one runs next.
//!
//! Every entry the board knows is in exactly one of these three states, so it can never be
//! handed out twice at once. An entry's stage decides its queue: `incoming` work in one,
//! delivery work (`outgoing`, and `deferred` jobs that are due) in another, `archive` work in
//! a third; each queue is FIFO and they take turns. Archive work has at most
//! [`Board::with_archive_limit`] entries in flight, so a slow archiver (HyperKitty near its
//! deadline) never holds the workers delivery needs. Timers hold deferred jobs until their `not_before`, failed
//! entries until their backoff ends, and jobs whose parent is still being processed.
//!
//! Pure data: no I/O, no clock (callers pass `Instant`s), no tokio. Tested on its own below.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use mailcast_spool::{EntryId, Stage};

/// One entry to process in one stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Work {
    /// The stage it is in.
    pub stage: Stage,
    /// The entry.
    pub id: EntryId,
}

impl Work {
    /// A delivery job in `outgoing`.
    pub(crate) fn outgoing(id: EntryId) -> Work {
        Work {
            stage: Stage::Outgoing,
            id,
        }
    }

    /// A post waiting for the archivers in `archive`.
    pub(crate) fn archive(id: EntryId) -> Work {
        Work {
            stage: Stage::Archive,
            id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Queued,
    InFlight,
    Waiting(Instant, Stage),
}

/// Queues, the in-flight set and timers.
#[derive(Debug)]
pub(crate) struct Board {
    known: HashMap<EntryId, State>,
    incoming: VecDeque<Work>,
    delivery: VecDeque<Work>,
    archive: VecDeque<Work>,
    /// Which queue is tried first next: incoming, delivery, archive.
    turn: usize,
    archive_in_flight: HashSet<EntryId>,
    archive_limit: usize,
    timers: BTreeSet<(Instant, Work)>,
}

impl Default for Board {
    fn default() -> Board {
        Board::with_archive_limit(usize::MAX)
    }
}

impl Board {
    /// A board that has at most `limit` (at least 1) archive entries in flight.
    pub fn with_archive_limit(limit: usize) -> Board {
        Board {
            known: HashMap::new(),
            incoming: VecDeque::new(),
            delivery: VecDeque::new(),
            archive: VecDeque::new(),
            turn: 0,
            archive_in_flight: HashSet::new(),
            archive_limit: limit.max(1),
            timers: BTreeSet::new(),
        }
    }

    /// Queues `work` unless the entry is known already. With `force`, an entry waiting for a
    /// timer is taken off it and queued (its parent finished; an operator made it due).
    pub fn enqueue(&mut self, work: Work, force: bool) {
        match self.known.get(&work.id).copied() {
            Some(State::Queued | State::InFlight) => return,
            Some(State::Waiting(at, stage)) if force => {
                self.timers.remove(&(
                    at,
                    Work {
                        stage,
                        id: work.id.clone(),
                    },
                ));
            }
            Some(State::Waiting(..)) => return,
            None => {}
        }
        self.known.insert(work.id.clone(), State::Queued);
        match work.stage {
            Stage::Incoming | Stage::Command | Stage::Bounces => self.incoming.push_back(work),
            Stage::Archive => self.archive.push_back(work),
            _ => self.delivery.push_back(work),
        }
    }

    /// Puts `work` on a timer until `at`, replacing an earlier timer of the same entry.
    /// Queued and in-flight entries are left alone.
    pub fn wait(&mut self, work: Work, at: Instant) {
        match self.known.get(&work.id).copied() {
            Some(State::Queued | State::InFlight) => return,
            Some(State::Waiting(old, stage)) => {
                self.timers.remove(&(
                    old,
                    Work {
                        stage,
                        id: work.id.clone(),
                    },
                ));
            }
            None => {}
        }
        self.known
            .insert(work.id.clone(), State::Waiting(at, work.stage));
        self.timers.insert((at, work));
    }

    /// Whether the entry is queued or in flight.
    pub fn is_busy(&self, id: &EntryId) -> bool {
        matches!(self.known.get(id), Some(State::Queued | State::InFlight))
    }

    /// The next work to start, marked in flight: the queues take turns, and archive work
    /// waits while its limit is in flight.
    pub fn start_next(&mut self) -> Option<Work> {
        let archive_open = self.archive_in_flight.len() < self.archive_limit;
        let (queue, work) = (0..3).map(|i| (self.turn + i) % 3).find_map(|queue| {
            let work = match queue {
                0 => self.incoming.pop_front(),
                1 => self.delivery.pop_front(),
                _ if archive_open => self.archive.pop_front(),
                _ => None,
            };
            work.map(|w| (queue, w))
        })?;
        self.turn = (queue + 1) % 3;
        if work.stage == Stage::Archive {
            self.archive_in_flight.insert(work.id.clone());
        }
        self.known.insert(work.id.clone(), State::InFlight);
        Some(work)
    }

    /// Forgets an entry whose work finished (the caller then queues or times what follows).
    pub fn finish(&mut self, id: &EntryId) {
        self.known.remove(id);
        self.archive_in_flight.remove(id);
    }

    /// When the earliest timer fires.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Queues every entry whose timer is at or before `now`.
    pub fn fire(&mut self, now: Instant) {
        while self.timers.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, work)) = self.timers.pop_first() else {
                break;
            };
            self.known.remove(&work.id);
            self.enqueue(work, false);
        }
    }

    /// How many entries are queued, in flight or waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.known.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn work(stage: Stage, n: u32) -> Work {
        Work {
            stage,
            id: EntryId::parse(&format!("0061b4c3d2e1f-{n:08x}")).unwrap(),
        }
    }

    fn drain(board: &mut Board) -> Vec<Work> {
        std::iter::from_fn(|| board.start_next()).collect()
    }

    #[test]
    fn an_entry_is_handed_out_once_until_it_finishes() {
        let mut board = Board::default();
        let a = work(Stage::Incoming, 1);
        board.enqueue(a.clone(), false);
        board.enqueue(a.clone(), true);
        assert_eq!(drain(&mut board), vec![a.clone()]);
        board.enqueue(a.clone(), true);
        board.wait(a.clone(), Instant::now());
        assert!(board.start_next().is_none(), "in flight: not queued again");
        board.finish(&a.id);
        board.enqueue(a.clone(), false);
        assert_eq!(drain(&mut board), vec![a]);
    }

    #[test]
    fn queues_are_fifo_and_take_turns() {
        let mut board = Board::default();
        for n in 0..3 {
            board.enqueue(work(Stage::Incoming, n), false);
            board.enqueue(work(Stage::Outgoing, 10 + n), false);
        }
        board.enqueue(work(Stage::Deferred, 20), false);
        let order: Vec<u32> = drain(&mut board)
            .iter()
            .map(|w| u32::from_str_radix(&w.id.as_str()[14..], 16).unwrap())
            .collect();
        assert_eq!(order, vec![0, 10, 1, 11, 2, 12, 20]);
    }

    #[test]
    fn archive_work_takes_turns_within_its_limit() {
        let mut board = Board::with_archive_limit(1);
        for n in 0..3 {
            board.enqueue(work(Stage::Archive, n), false);
            board.enqueue(work(Stage::Outgoing, 10 + n), false);
        }
        let first: Vec<Work> = drain(&mut board);
        let stages: Vec<Stage> = first.iter().map(|w| w.stage).collect();
        assert_eq!(
            stages,
            vec![
                Stage::Outgoing,
                Stage::Archive,
                Stage::Outgoing,
                Stage::Outgoing
            ],
            "one archive entry in flight at most"
        );
        board.finish(&first[1].id);
        assert_eq!(board.start_next().map(|w| w.stage), Some(Stage::Archive));
        assert!(board.start_next().is_none());
    }

    #[test]
    fn timers_fire_in_order_and_only_force_overrides_them() {
        let mut board = Board::default();
        let now = Instant::now();
        let (a, b) = (work(Stage::Deferred, 1), work(Stage::Outgoing, 2));
        board.wait(a.clone(), now + Duration::from_secs(20));
        board.wait(b.clone(), now + Duration::from_secs(10));
        assert_eq!(board.next_timer(), Some(now + Duration::from_secs(10)));
        board.enqueue(a.clone(), false);
        assert!(
            board.start_next().is_none(),
            "a scan does not cut a backoff short"
        );
        board.fire(now + Duration::from_secs(10));
        assert_eq!(drain(&mut board), vec![b.clone()]);
        // A rescheduled timer replaces the old one.
        board.wait(a.clone(), now + Duration::from_secs(5));
        assert_eq!(board.next_timer(), Some(now + Duration::from_secs(5)));
        board.enqueue(a.clone(), true);
        assert_eq!(board.next_timer(), None);
        assert_eq!(drain(&mut board), vec![a.clone()]);
        board.finish(&a.id);
        board.finish(&b.id);
        assert_eq!(board.len(), 0);
    }
}
