//! The keyspace's shared state: current and compact revisions, and the publication
//! of applied batches to readers.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::RwLock;

use ectd_proto::mvccpb::event::EventType;
use ectd_proto::mvccpb::KeyValue;
use prost::Message as _;

use rocksdb::WriteBatch;

use super::compaction;
use super::hash::{self, CompactionHash};
use super::keys::{Revision, REV_LEN};
use super::read::{KvRead, RangeOptions, ReadView, Source};
use super::txn::Change;
use super::txn::{Overlay, WriteTxn};
use super::MvccError;
use super::RangeEnd;
use crate::engine::schema::meta;
use crate::engine::{Cf, Engine};

#[derive(Debug, Clone, Copy)]
struct Revs {
    current: i64,
    compacted: i64,
}

/// The MVCC store. Readers open [`ReadView`]s; the apply task is the only writer.
pub struct Store {
    engine: Engine,
    revs: RwLock<Revs>,
    stats: Stats,
}

/// Counts of what the store has served since it opened, for metrics: atomics, so
/// counting takes no lock.
#[derive(Debug, Default)]
pub struct Stats {
    puts: AtomicU64,
    deletes: AtomicU64,
    ranges: AtomicU64,
    txns: AtomicU64,
    keys: AtomicI64,
}

impl Stats {
    /// Counts one range read.
    pub fn note_range(&self) {
        self.ranges.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts one transaction.
    pub fn note_txn(&self) {
        self.txns.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts the puts and deletes of a committed write, and the live keys they
    /// add or remove.
    pub fn note_changes(&self, changes: &[Change]) {
        let (mut puts, mut deletes, mut keys) = (0u64, 0u64, 0i64);
        for c in changes {
            if c.r#type == EventType::Put as i32 {
                puts += 1;
                if c.prev_kv.is_none() {
                    keys += 1;
                }
            } else {
                deletes += 1;
                keys -= 1;
            }
        }
        self.puts.fetch_add(puts, Ordering::Relaxed);
        self.deletes.fetch_add(deletes, Ordering::Relaxed);
        self.keys.fetch_add(keys, Ordering::Relaxed);
    }
    /// Puts since open.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }
    /// Keys deleted since open.
    pub fn deletes(&self) -> u64 {
        self.deletes.load(Ordering::Relaxed)
    }
    /// Ranges since open.
    pub fn ranges(&self) -> u64 {
        self.ranges.load(Ordering::Relaxed)
    }
    /// Transactions since open.
    pub fn txns(&self) -> u64 {
        self.txns.load(Ordering::Relaxed)
    }
    /// Live keys.
    pub fn keys(&self) -> i64 {
        self.keys.load(Ordering::Relaxed)
    }
}

fn read_u64(engine: &Engine, key: &[u8]) -> Option<u64> {
    engine
        .get(Cf::Meta, key)
        .unwrap_or_else(|err| panic!("reading meta {}: {err}", String::from_utf8_lossy(key)))
        .map(|v| u64::from_be_bytes(v.as_slice().try_into().expect("meta values are u64")))
}

impl Store {
    /// Opens the store over `engine`; an empty database starts at revision 1, as
    /// etcd's does.
    pub fn open(engine: Engine) -> Store {
        let current = read_u64(&engine, meta::REVISION).unwrap_or(1) as i64;
        // Before any compaction the oldest readable revision is "-1", as in etcd:
        // compacting at revision 0 is allowed once.
        let compacted = read_u64(&engine, meta::COMPACT_REVISION).map_or(-1, |r| r as i64);
        let store = Store {
            engine,
            revs: RwLock::new(Revs { current, compacted }),
            stats: Stats::default(),
        };
        store.count_keys();
        store
    }

    /// Sets the live-key count from the keyspace (at open and after a snapshot
    /// replaced it): one count-only scan.
    fn count_keys(&self) {
        let n = self
            .read_view()
            .range(
                b"\0",
                RangeEnd::Unbounded,
                RangeOptions {
                    count_only: true,
                    ..Default::default()
                },
            )
            .map_or(0, |r| r.count);
        self.stats.keys.store(n as i64, Ordering::Relaxed);
    }

    /// What the store has served since open.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Re-reads the revisions after the state was replaced underneath (snapshot
    /// install).
    pub fn reload(&self) {
        let current = read_u64(&self.engine, meta::REVISION).unwrap_or(1) as i64;
        let compacted = read_u64(&self.engine, meta::COMPACT_REVISION).map_or(-1, |r| r as i64);
        *self.revs.write().expect("revs lock") = Revs { current, compacted };
        self.count_keys();
    }

    /// The engine underneath.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The current revision (the last committed write transaction's).
    pub fn current_rev(&self) -> i64 {
        self.revs.read().expect("revs lock").current
    }

    /// The revision of the last compaction (-1 if none).
    pub fn compact_rev(&self) -> i64 {
        self.revs.read().expect("revs lock").compacted
    }

    /// A consistent view at the current revision, for concurrent readers.
    pub fn read_view(&self) -> ReadView<'_> {
        let revs = self.revs.read().expect("revs lock");
        let snap = self.engine.db().snapshot();
        ReadView {
            source: Source::Snapshot(&self.engine, snap),
            rev: revs.current,
            compact_rev: revs.compacted,
        }
    }

    /// Starts a write transaction whose writes go into `batch`.
    pub fn write_txn<'a>(&'a self, batch: &'a mut WriteBatch) -> WriteTxn<'a> {
        let revs = *self.revs.read().expect("revs lock");
        WriteTxn::new(&self.engine, revs.current, revs.compacted, batch, None)
    }

    /// Starts a write transaction that follows uncommitted ones: it begins at
    /// `begin_rev` and reads through their `overlay`.
    pub(super) fn write_txn_after<'a>(
        &'a self,
        batch: &'a mut WriteBatch,
        overlay: &'a Overlay,
        begin_rev: i64,
    ) -> WriteTxn<'a> {
        let revs = *self.revs.read().expect("revs lock");
        WriteTxn::new(
            &self.engine,
            begin_rev,
            revs.compacted,
            batch,
            Some(overlay),
        )
    }

    /// Writes `batch` (which must carry the applied index) and publishes the revisions
    /// it produced to readers in one step.
    pub fn commit(&self, mut batch: WriteBatch, current: i64, compacted: i64) {
        let mut revs = self.revs.write().expect("revs lock");
        if current != revs.current {
            assert!(
                current > revs.current,
                "revision went back from {} to {current}",
                revs.current
            );
            batch.put_cf(
                self.engine.cf(Cf::Meta),
                meta::REVISION,
                (current as u64).to_be_bytes(),
            );
        }
        if compacted != revs.compacted {
            batch.put_cf(
                self.engine.cf(Cf::Meta),
                meta::COMPACT_REVISION,
                (compacted as u64).to_be_bytes(),
            );
        }
        self.engine
            .write(batch)
            .unwrap_or_else(|err| panic!("committing the batch for revision {current}: {err}"));
        *revs = Revs { current, compacted };
    }

    /// Checks that a compaction at `rev` is allowed: not already compacted, not in
    /// the future.
    pub fn check_compact(&self, rev: i64) -> Result<(), MvccError> {
        let revs = *self.revs.read().expect("revs lock");
        if rev <= revs.compacted {
            return Err(MvccError::Compacted);
        }
        if rev > revs.current {
            return Err(MvccError::FutureRev);
        }
        Ok(())
    }

    /// Deletes, on the calling thread, every version the compaction at `rev` made
    /// unreadable, in batches of `batch_limit` records (see [`compaction`]); returns
    /// how many went. The member does this on its compactor thread instead.
    pub fn compact_physically(&self, rev: i64, batch_limit: usize) -> usize {
        compaction::run_to_end(&self.engine, rev, batch_limit)
    }

    /// A CRC-32 over every version a read at or after the compact revision can
    /// reach, up to `rev` (0 = current), in revision order; equal on every member
    /// that applied the same log, whether or not the physical part of the last
    /// compaction has finished there (versions it will delete are left out, as
    /// etcd leaves out the revisions its compaction does not keep). Returns the
    /// hash, the compact revision and the revision hashed.
    pub fn hash_kv(&self, rev: i64) -> Result<(u32, i64, i64), MvccError> {
        let revs = *self.revs.read().expect("revs lock");
        let at = if rev <= 0 { revs.current } else { rev };
        if at > revs.current {
            return Err(MvccError::FutureRev);
        }
        if at < revs.compacted {
            return Err(MvccError::Compacted);
        }
        let snap = self.engine.db().snapshot();
        let mut it = snap.raw_iterator_cf(self.engine.cf(Cf::Kv));
        let mut index_it = snap.raw_iterator_cf(self.engine.cf(Cf::Index));
        let mut kept = std::collections::HashMap::new();
        it.seek_to_first();
        let mut h = crc32fast::Hasher::new();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            let r = Revision::decode(k);
            if r.main > at {
                break;
            }
            let v = it.value().expect("valid iterator has a value");
            let reachable = r.main > revs.compacted || {
                let kv = KeyValue::decode(&v[1..])
                    .unwrap_or_else(|err| panic!("undecodable kv at {r:?}: {err}"));
                compaction::survives(
                    &mut index_it,
                    &mut kept,
                    HASH_CACHE_KEYS,
                    &kv.key,
                    v[0],
                    r,
                    revs.compacted,
                )
            };
            if reachable {
                hash::add_record(&mut h, k, v);
            }
            it.next();
        }
        if let Err(err) = it.status() {
            panic!("rocksdb scan for the kv hash at {at} failed: {err}");
        }
        Ok((h.finalize(), revs.compacted.max(0), at))
    }

    /// The hashes recorded by this member's last compactions (at most
    /// [`hash::KEPT`]), oldest first.
    pub fn compaction_hashes(&self) -> Vec<CompactionHash> {
        hash::recorded(&self.engine)
    }

    /// The hash this member recorded when it compacted at `revision`, if it still
    /// keeps it.
    pub fn compaction_hash(&self, revision: i64) -> Option<CompactionHash> {
        hash::recorded_at(&self.engine, revision)
    }

    /// A CRC-32 over the whole keyspace's storage (history and index).
    pub fn hash_all(&self) -> u32 {
        let snap = self.engine.db().snapshot();
        let mut h = crc32fast::Hasher::new();
        for cf in [Cf::Kv, Cf::Index] {
            // Each part is named in the hash, so even an empty store hashes to
            // something other than zero (a zero hash reads as "no hash").
            h.update(format!("{cf:?}").as_bytes());
            let mut it = snap.raw_iterator_cf(self.engine.cf(cf));
            it.seek_to_first();
            while it.valid() {
                h.update(it.key().expect("valid iterator has a key"));
                h.update(it.value().expect("valid iterator has a value"));
                it.next();
            }
        }
        h.finalize()
    }
}

/// Keys whose kept version [`Store::hash_kv`] remembers at once.
const HASH_CACHE_KEYS: usize = 4096;

/// The byte key of the `kv` record at `rev`.
pub(super) fn kv_key(rev: Revision) -> [u8; REV_LEN] {
    rev.encode()
}
