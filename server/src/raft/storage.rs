//! raft-rs's view of the log: entries since the last compaction point, the hard
//! state and the configuration, kept in memory and mirrored durably by the WAL.

use std::collections::VecDeque;

use protobuf::Message as _;
use raft::prelude::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError, NO_LIMIT};

/// Produces state snapshots for members that fell behind the log.
pub trait SnapshotSource: Send {
    /// A snapshot for member `to` at an index of at least `min_index` whose
    /// configuration includes `to` (a member refuses a snapshot that leaves it out), or
    /// `None` while one is being prepared (raft asks again later).
    fn snapshot(&self, min_index: u64, to: u64) -> Option<Snapshot>;
}

/// The raft log as raft-rs reads it. Every mutation here is made by the raft loop
/// only after (or together with) writing the same thing to the WAL.
pub struct LogStore {
    hard_state: HardState,
    conf_state: ConfState,
    /// Index and term of the entry just before `entries[0]`.
    offset_index: u64,
    offset_term: u64,
    /// A deque, so that dropping applied entries from the front does not move
    /// the ones kept.
    entries: VecDeque<Entry>,
    source: Option<Box<dyn SnapshotSource>>,
}

impl LogStore {
    /// A log restored from the WAL replay.
    pub fn new(
        hard_state: HardState,
        conf_state: ConfState,
        offset: (u64, u64),
        entries: Vec<Entry>,
    ) -> LogStore {
        if let Some(first) = entries.first() {
            assert_eq!(
                first.index,
                offset.0 + 1,
                "log entries do not start after the offset"
            );
        }
        LogStore {
            hard_state,
            conf_state,
            offset_index: offset.0,
            offset_term: offset.1,
            entries: entries.into(),
            source: None,
        }
    }

    /// Where snapshots for lagging followers come from.
    pub fn set_snapshot_source(&mut self, source: Box<dyn SnapshotSource>) {
        self.source = Some(source);
    }

    /// Replaces the log with an installed snapshot's position and configuration.
    pub fn apply_snapshot(&mut self, index: u64, term: u64, cs: ConfState) {
        self.entries.clear();
        self.offset_index = index;
        self.offset_term = term;
        self.conf_state = cs;
        if self.hard_state.commit < index {
            self.hard_state.commit = index;
        }
        if self.hard_state.term < term {
            self.hard_state.term = term;
        }
    }

    /// The persisted hard state.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// Replaces the hard state.
    pub fn set_hard_state(&mut self, hs: HardState) {
        self.hard_state = hs;
    }

    /// Records a new commit index.
    pub fn set_commit(&mut self, commit: u64) {
        self.hard_state.commit = commit;
    }

    /// Replaces the configuration (after a conf change is applied).
    pub fn set_conf_state(&mut self, cs: ConfState) {
        self.conf_state = cs;
    }

    /// Appends entries, replacing any conflicting suffix.
    pub fn append(&mut self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        assert!(
            first.index > self.offset_index,
            "appending entry {} at or below the compaction point {}",
            first.index,
            self.offset_index
        );
        let keep = (first.index - self.offset_index - 1) as usize;
        assert!(
            keep <= self.entries.len(),
            "gap before appended entry {}",
            first.index
        );
        self.entries.truncate(keep);
        self.entries.extend(ents.iter().cloned());
    }

    /// Drops entries below `index` from memory (they remain applied in the state
    /// machine); keeps at least the entry before `index` as the offset.
    pub fn compact_to(&mut self, index: u64) {
        if index <= self.offset_index + 1 {
            return;
        }
        let last = self.last();
        let index = index.min(last + 1);
        let drop = (index - self.offset_index - 1) as usize;
        let new_offset = &self.entries[drop - 1];
        self.offset_term = new_offset.term;
        self.offset_index = new_offset.index;
        self.entries.drain(..drop);
    }

    fn last(&self) -> u64 {
        self.offset_index + self.entries.len() as u64
    }
}

impl raft::Storage for LogStore {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState {
            hard_state: self.hard_state.clone(),
            conf_state: self.conf_state.clone(),
        })
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.offset_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        assert!(
            high <= self.last() + 1,
            "entries({low}, {high}) past last index {}",
            self.last()
        );
        let lo = (low - self.offset_index - 1) as usize;
        let hi = (high - self.offset_index - 1) as usize;
        let wanted = self.entries.range(lo..hi);
        let count = within_size(wanted.clone(), max_size.into());
        Ok(wanted.take(count).cloned().collect())
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.offset_index {
            return Ok(self.offset_term);
        }
        if idx < self.offset_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.offset_index - 1) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.offset_index + 1)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        // The snapshot must reach past the log's start, or the follower could not
        // continue from it with the entries the leader still has.
        let min = request_index.max(self.offset_index);
        match self.source.as_ref().and_then(|s| s.snapshot(min, to)) {
            Some(snap) => Ok(snap),
            None => Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            )),
        }
    }
}

/// How many of `entries` go into a reply of at most `max` bytes: as many as
/// fit, and the first one whatever its size (raft-rs's `limit_size` rule),
/// counted before any is copied.
fn within_size<'a>(entries: impl ExactSizeIterator<Item = &'a Entry>, max: Option<u64>) -> usize {
    let max = match max {
        None | Some(NO_LIMIT) => return entries.len(),
        Some(max) => max,
    };
    let mut size = 0u64;
    let mut count = 0;
    for entry in entries {
        size += u64::from(entry.compute_size());
        if count > 0 && size > max {
            break;
        }
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage as _;

    fn entry(index: u64, term: u64, len: usize) -> Entry {
        Entry {
            index,
            term,
            data: vec![b'x'; len].into(),
            ..Default::default()
        }
    }

    fn log(first: u64, last: u64) -> LogStore {
        let entries = (first..=last)
            .map(|i| entry(i, 1 + i / 10, (i % 7) as usize * 30))
            .collect();
        LogStore::new(
            HardState::default(),
            ConfState::default(),
            (first - 1, 1),
            entries,
        )
    }

    fn get(store: &LogStore, low: u64, high: u64, max: Option<u64>) -> Vec<u64> {
        store
            .entries(low, high, max, GetEntriesContext::empty(false))
            .unwrap()
            .iter()
            .map(|e| e.index)
            .collect()
    }

    #[test]
    fn replies_are_cut_to_size_as_raft_cuts_them() {
        let store = log(1, 60);
        for max in [
            None,
            Some(NO_LIMIT),
            Some(0),
            Some(1),
            Some(100),
            Some(250),
            Some(1000),
            Some(5000),
        ] {
            for (low, high) in [(1, 61), (5, 6), (10, 40), (59, 61)] {
                let mut expected: Vec<Entry> = store
                    .entries
                    .range((low - 1) as usize..(high - 1) as usize)
                    .cloned()
                    .collect();
                raft::util::limit_size(&mut expected, max);
                let expected: Vec<u64> = expected.iter().map(|e| e.index).collect();
                assert_eq!(
                    get(&store, low, high, max),
                    expected,
                    "entries({low}, {high}, {max:?})"
                );
            }
        }
    }

    #[test]
    fn compaction_appends_and_conflicts_keep_indexes_straight() {
        let mut store = log(1, 30);
        store.compact_to(11);
        assert_eq!(store.first_index().unwrap(), 11);
        assert_eq!(store.term(10).unwrap(), 2);
        assert!(matches!(
            store.term(9),
            Err(raft::Error::Store(StorageError::Compacted))
        ));
        assert_eq!(get(&store, 11, 14, None), [11, 12, 13]);
        // A conflicting suffix from index 25 on is replaced.
        store.append(&[entry(25, 9, 1), entry(26, 9, 1)]);
        assert_eq!(store.last_index().unwrap(), 26);
        assert_eq!(store.term(24).unwrap(), 3);
        assert_eq!(store.term(25).unwrap(), 9);
        // Compacting past the end keeps the last entry as the offset.
        store.compact_to(100);
        assert_eq!(store.first_index().unwrap(), 27);
        assert_eq!(store.last_index().unwrap(), 26);
        assert_eq!(store.term(26).unwrap(), 9);
        store.append(&[entry(27, 9, 1)]);
        assert_eq!(get(&store, 27, 28, Some(0)), [27]);
    }
}
