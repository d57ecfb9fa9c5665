//! The resident index: committed entries that so far exist only in the write-ahead log.
//!
//! After the log's `fdatasync` the writer puts every entry of the batch here (its envelope,
//! and where its body is: in the segment, and for recent records also in a bounded in-memory
//! cache) before it acknowledges the batch. From then on the entry is usable through every
//! read and write call of the spool, exactly like an entry in a stage directory, until it
//! leaves the index in one of three ways:
//! - **materialized**: the materializer wrote its files (it was still present
//!   `materialize_after` after its commit, or the index grew past its bound);
//! - **moved**: a caller moved it to another stage (or rewrote it durably), which writes its
//!   files there;
//! - **consumed**: a caller removed it; the id goes to the consumed log, no file is written.
//!
//! A thread that writes files for an entry, or removes it, first **claims** it; others that
//! want to change the same entry wait until the claim is given back. Readers never wait:
//! an entry stays in the index, unchanged, until its files are complete, so looking here
//! first and in the stage directories second never misses an entry.
//!
//! Memory stays bounded: an entry here costs its envelope (a few hundred bytes); record bytes
//! are cached up to `body_cache` bytes (newest first) and otherwise re-read from the segment
//! (the page cache). This module keeps the books; it performs no I/O except reading bodies.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::id::EntryId;
use crate::meta::{BodyDigest, EntryMeta};
use crate::stage::Stage;
use crate::wal::record::Record;
use crate::wal::segment;

/// Where the body of a resident entry can be read.
#[derive(Debug, Clone)]
pub(crate) enum BodySource {
    /// The committed record's bytes, still in memory; the body is `range` within them.
    Cached(Arc<Vec<u8>>, Range<usize>),
    /// In a log segment (open even if a checkpoint has unlinked it since).
    Segment {
        /// A read handle on the segment.
        file: Arc<File>,
        /// Sequence number of the segment (for error messages).
        seq: u64,
        /// Offset of the body in the segment.
        offset: u64,
        /// Length of the body.
        len: u64,
    },
}

impl BodySource {
    /// Reads the body as it is.
    pub fn read_raw(&self) -> Result<Vec<u8>> {
        match self {
            BodySource::Cached(bytes, range) => Ok(bytes[range.clone()].to_vec()),
            BodySource::Segment {
                file,
                seq,
                offset,
                len,
            } => segment::read_at(file, *offset, *len, *seq),
        }
    }

    /// Reads the body and checks it against `meta`; a mismatch is [`Error::Corrupt`].
    pub fn read_checked(&self, meta: &EntryMeta) -> Result<Vec<u8>> {
        let bytes = self.read_raw()?;
        if BodyDigest::of(&bytes).matches(meta) {
            Ok(bytes)
        } else {
            Err(Error::Corrupt {
                id: meta.id.to_string(),
                reason: "body in the write-ahead log does not match its envelope".into(),
            })
        }
    }
}

/// A resident entry claimed by the caller: nobody else writes its files or removes it until
/// the claim is given back ([`Index::unclaim`]) or the entry leaves ([`Index::release`]).
#[derive(Debug)]
pub(crate) struct Claimed {
    /// The entry's current envelope.
    pub meta: EntryMeta,
    /// Where its body is.
    pub body: BodySource,
}

/// What [`Index::claim`] found.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Not resident: look in the stage directories.
    NotResident,
    /// Resident, but claimed by another thread: wait and ask again.
    Busy,
    /// Resident in another stage than the one asked for.
    Elsewhere,
    /// Claimed for the caller.
    Claimed(Box<Claimed>),
}

/// The records of one materializer round that are due, with their claimed entries.
#[derive(Debug)]
pub(crate) struct Due {
    /// Where the body is.
    pub body: BodySource,
    /// The claimed entries of the record, in record order.
    pub metas: Vec<EntryMeta>,
}

#[derive(Debug)]
struct Slot {
    meta: EntryMeta,
    record: u64,
    claimed: bool,
}

#[derive(Debug)]
struct RecordSlot {
    seq: u64,
    /// Offset of the body in the segment.
    body_at: u64,
    /// The body's range within `bytes`.
    body: Range<usize>,
    committed: Instant,
    ids: Vec<EntryId>,
    /// Entries of this record still in the index.
    left: usize,
    bytes: Option<Arc<Vec<u8>>>,
}

/// The index proper. Every method runs under the committer's state lock.
#[derive(Debug, Default)]
pub(crate) struct Index {
    entries: HashMap<EntryId, Slot>,
    /// Records in commit order; record number `first + i` is `records[i]`.
    records: VecDeque<RecordSlot>,
    first: u64,
    /// Records numbered below this have no cached bytes.
    cache_from: u64,
    cached: u64,
    per_stage: [usize; Stage::ALL.len()],
}

impl Index {
    /// Number of resident entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is resident.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the entries of a committed `record` that starts at `offset` in segment `seq`, and
    /// caches its bytes, evicting the oldest cached records beyond `cache_limit` bytes.
    pub fn insert(&mut self, seq: u64, offset: u64, record: Record, cache_limit: u64) {
        let number = self.first + self.records.len() as u64;
        let Record { bytes, body, metas } = record;
        let ids: Vec<EntryId> = metas.iter().map(|m| m.id.clone()).collect();
        for meta in metas {
            self.per_stage[meta.stage.index()] += 1;
            let slot = Slot {
                meta,
                record: number,
                claimed: false,
            };
            self.entries.insert(slot.meta.id.clone(), slot);
        }
        self.cached += bytes.len() as u64;
        self.records.push_back(RecordSlot {
            seq,
            body_at: offset + body.start as u64,
            body,
            committed: Instant::now(),
            left: ids.len(),
            ids,
            bytes: Some(Arc::new(bytes)),
        });
        self.evict(cache_limit);
    }

    fn evict(&mut self, limit: u64) {
        let end = self.first + self.records.len() as u64;
        self.cache_from = self.cache_from.max(self.first);
        while self.cached > limit && self.cache_from < end {
            let index = (self.cache_from - self.first) as usize;
            if let Some(bytes) = self.records[index].bytes.take() {
                self.cached -= bytes.len() as u64;
            }
            self.cache_from += 1;
        }
    }

    fn record(&self, number: u64) -> &RecordSlot {
        // Slots only refer to records that are still in the deque (a record leaves it only
        // when none of its entries is left).
        &self.records[(number - self.first) as usize]
    }

    /// The envelope of a resident entry.
    pub fn meta(&self, id: &EntryId) -> Option<&EntryMeta> {
        self.entries.get(id).map(|slot| &slot.meta)
    }

    /// The resident entries in `stage`.
    pub fn ids_in(&self, stage: Stage) -> Vec<EntryId> {
        if self.per_stage[stage.index()] == 0 {
            return Vec::new();
        }
        self.entries
            .values()
            .filter(|slot| slot.meta.stage == stage)
            .map(|slot| slot.meta.id.clone())
            .collect()
    }

    /// Where the body of resident entry `id` is; `reader` gives the segment read handles.
    pub fn body(
        &self,
        id: &EntryId,
        reader: impl Fn(u64) -> Option<Arc<File>>,
    ) -> Option<Result<BodySource>> {
        let slot = self.entries.get(id)?;
        Some(self.source(slot.record, reader))
    }

    fn source(&self, number: u64, reader: impl Fn(u64) -> Option<Arc<File>>) -> Result<BodySource> {
        let record = self.record(number);
        if let Some(bytes) = &record.bytes {
            return Ok(BodySource::Cached(bytes.clone(), record.body.clone()));
        }
        let file = reader(record.seq).ok_or_else(|| Error::Corrupt {
            id: record
                .ids
                .first()
                .map_or_else(String::new, |id| id.to_string()),
            reason: format!("write-ahead log segment {} is not open", record.seq),
        })?;
        Ok(BodySource::Segment {
            file,
            seq: record.seq,
            offset: record.body_at,
            len: record.body.len() as u64,
        })
    }

    /// Claims resident entry `id` in `stage` for the caller.
    pub fn claim(
        &mut self,
        id: &EntryId,
        stage: Stage,
        reader: impl Fn(u64) -> Option<Arc<File>>,
    ) -> Result<Claim> {
        let Some(slot) = self.entries.get(id) else {
            return Ok(Claim::NotResident);
        };
        if slot.claimed {
            return Ok(Claim::Busy);
        }
        if slot.meta.stage != stage {
            return Ok(Claim::Elsewhere);
        }
        let (number, meta) = (slot.record, slot.meta.clone());
        let body = self.source(number, reader)?;
        if let Some(slot) = self.entries.get_mut(id) {
            slot.claimed = true;
        }
        Ok(Claim::Claimed(Box::new(Claimed { meta, body })))
    }

    /// Gives a claim back, optionally with a rewritten envelope (same stage).
    pub fn unclaim(&mut self, id: &EntryId, meta: Option<EntryMeta>) {
        if let Some(slot) = self.entries.get_mut(id) {
            slot.claimed = false;
            if let Some(meta) = meta {
                self.per_stage[slot.meta.stage.index()] -= 1;
                self.per_stage[meta.stage.index()] += 1;
                slot.meta = meta;
            }
        }
    }

    /// Removes claimed entry `id` from the index (its files are written, or it was consumed);
    /// returns the segment of its record.
    pub fn release(&mut self, id: &EntryId) -> Option<u64> {
        let slot = self.entries.remove(id)?;
        self.per_stage[slot.meta.stage.index()] -= 1;
        let index = (slot.record - self.first) as usize;
        let record = &mut self.records[index];
        let seq = record.seq;
        record.left -= 1;
        if record.left == 0
            && let Some(bytes) = record.bytes.take()
        {
            self.cached -= bytes.len() as u64;
        }
        while self.records.front().is_some_and(|r| r.left == 0) {
            self.records.pop_front();
            self.first += 1;
        }
        Some(seq)
    }

    /// Claims the entries of the oldest records that are due: committed at least `after`
    /// ago, or beyond that the oldest ones while more than `keep` entries are resident. At
    /// most `max_records` records per call.
    pub fn take_due(
        &mut self,
        after: Duration,
        keep: usize,
        max_records: usize,
        reader: impl Fn(u64) -> Option<Arc<File>>,
    ) -> Vec<Due> {
        let now = Instant::now();
        let mut excess = self.entries.len().saturating_sub(keep);
        let mut due = Vec::new();
        for index in 0..self.records.len() {
            if due.len() >= max_records {
                break;
            }
            let record = &self.records[index];
            if record.left == 0 {
                continue;
            }
            if excess == 0 && now.duration_since(record.committed) < after {
                break; // Records are in commit order: the later ones are not due either.
            }
            let number = self.first + index as u64;
            let Ok(body) = self.source(number, &reader) else {
                continue; // Its segment is not readable: leave it to recovery.
            };
            let ids = record.ids.clone();
            let mut metas = Vec::new();
            for id in &ids {
                if let Some(slot) = self.entries.get_mut(id)
                    && !slot.claimed
                {
                    slot.claimed = true;
                    metas.push(slot.meta.clone());
                }
            }
            excess = excess.saturating_sub(metas.len());
            if !metas.is_empty() {
                due.push(Due { body, metas });
            }
        }
        due
    }

    /// When the oldest resident record becomes due, if any is resident.
    pub fn next_due(&self, after: Duration) -> Option<Instant> {
        self.records
            .iter()
            .find(|r| r.left > 0)
            .map(|r| r.committed + after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;

    fn record(n: usize) -> Record {
        Record::encode(
            Body::Bytes(b"Subject: x\r\n\r\nhi\r\n".to_vec()),
            |digest| {
                (0..n)
                    .map(|_| {
                        let mut meta = EntryMeta::new(
                            EntryId::generate(),
                            Stage::Incoming,
                            "l@x",
                            "f@x",
                            "l@x",
                        );
                        meta.body_len = digest.len;
                        meta.body_hash = digest.hash.clone();
                        meta
                    })
                    .collect()
            },
        )
        .unwrap()
    }

    fn no_reader(_: u64) -> Option<Arc<File>> {
        None
    }

    #[test]
    fn entries_leave_and_records_are_dropped_in_order() {
        let mut index = Index::default();
        let (a, b) = (record(2), record(1));
        let a_ids: Vec<EntryId> = a.metas.iter().map(|m| m.id.clone()).collect();
        let b_id = b.metas[0].id.clone();
        index.insert(1, 16, a, u64::MAX);
        index.insert(1, 500, b, u64::MAX);
        assert_eq!(index.len(), 3);
        assert_eq!(index.ids_in(Stage::Incoming).len(), 3);
        assert!(index.ids_in(Stage::Held).is_empty());
        let Claim::Claimed(claimed) = index.claim(&b_id, Stage::Incoming, no_reader).unwrap()
        else {
            panic!("not claimed");
        };
        assert!(matches!(
            index.claim(&b_id, Stage::Incoming, no_reader).unwrap(),
            Claim::Busy
        ));
        assert!(matches!(
            index.claim(&a_ids[0], Stage::Held, no_reader).unwrap(),
            Claim::Elsewhere
        ));
        assert_eq!(
            claimed.body.read_checked(&claimed.meta).unwrap(),
            b"Subject: x\r\n\r\nhi\r\n"
        );
        assert_eq!(index.release(&b_id), Some(1));
        // The second record is empty but stays until the first one is gone.
        assert_eq!(index.records.len(), 2);
        for id in &a_ids {
            index.release(id);
        }
        assert!(index.records.is_empty() && index.is_empty());
        assert_eq!(index.cached, 0);
        assert_eq!(index.first, 2);
    }

    #[test]
    fn only_due_or_excess_records_are_taken_and_claims_are_skipped() {
        let mut index = Index::default();
        let records: Vec<Record> = (0..4).map(|_| record(1)).collect();
        let ids: Vec<EntryId> = records.iter().map(|r| r.metas[0].id.clone()).collect();
        for r in records {
            index.insert(1, 16, r, u64::MAX);
        }
        assert!(
            index
                .take_due(Duration::from_secs(60), 10, 100, no_reader)
                .is_empty()
        );
        let Claim::Claimed(_) = index.claim(&ids[0], Stage::Incoming, no_reader).unwrap() else {
            panic!("not claimed");
        };
        // Keep two: the two oldest unclaimed ones are taken.
        let due = index.take_due(Duration::from_secs(60), 2, 100, no_reader);
        let taken: Vec<&EntryId> = due.iter().map(|d| &d.metas[0].id).collect();
        assert_eq!(taken, vec![&ids[1], &ids[2]]);
        let due = index.take_due(Duration::ZERO, 0, 100, no_reader);
        assert_eq!(due.len(), 1, "claimed entries are not taken twice");
        assert_eq!(due[0].metas[0].id, ids[3]);
    }

    #[test]
    fn the_cache_keeps_the_newest_records_within_its_bound() {
        let mut index = Index::default();
        let records: Vec<Record> = (0..3).map(|_| record(1)).collect();
        let newest_two = (records[1].bytes.len() + records[2].bytes.len()) as u64;
        for r in records {
            index.insert(7, 16, r, newest_two);
        }
        assert_eq!(index.cached, newest_two);
        assert!(index.records[0].bytes.is_none());
        assert!(index.records[1].bytes.is_some() && index.records[2].bytes.is_some());
        let id = index.records[0].ids[0].clone();
        let body = index.body(&id, no_reader).unwrap();
        assert!(body.is_err(), "an evicted body is read from its segment");
    }
}
