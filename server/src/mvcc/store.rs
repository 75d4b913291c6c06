//! The keyspace's shared state: current and compact revisions, and the publication
//! of applied batches to readers.

use std::sync::RwLock;

use rocksdb::WriteBatch;

use super::keys::{split_index_key, Revision, KIND_PUT, REV_LEN};
use super::read::{ReadView, Source};
use super::txn::WriteTxn;
use super::MvccError;
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
        Store {
            engine,
            revs: RwLock::new(Revs { current, compacted }),
        }
    }

    /// Re-reads the revisions after the state was replaced underneath (snapshot
    /// install).
    pub fn reload(&self) {
        let current = read_u64(&self.engine, meta::REVISION).unwrap_or(1) as i64;
        let compacted = read_u64(&self.engine, meta::COMPACT_REVISION).map_or(-1, |r| r as i64);
        *self.revs.write().expect("revs lock") = Revs { current, compacted };
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
        WriteTxn::new(&self.engine, revs.current, revs.compacted, batch)
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

    /// Puts into `batch` the physical compaction at `rev`: every version older than
    /// `rev` goes, except each key's latest version at `rev` if it is live; tombstones
    /// at or before `rev` go too. Returns the number of versions removed.
    pub fn compact_into(&self, rev: i64, batch: &mut WriteBatch) -> usize {
        let db = self.engine.db();
        let index = self.engine.cf(Cf::Index);
        let kv = self.engine.cf(Cf::Kv);
        let mut it = db.raw_iterator_cf(index);
        it.seek_to_first();
        let mut removed = 0;
        let mut current_key: Vec<u8> = Vec::new();
        let mut kept_one = false;
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            let (enc, r) = split_index_key(k);
            if enc != current_key.as_slice() {
                current_key = enc.to_vec();
                kept_one = false;
            }
            if r.main <= rev {
                let live = it.value().expect("valid iterator has a value") == [KIND_PUT];
                if !kept_one && live {
                    kept_one = true;
                } else {
                    kept_one = true;
                    batch.delete_cf(index, k);
                    batch.delete_cf(kv, r.encode());
                    removed += 1;
                }
            }
            it.next();
        }
        if let Err(err) = it.status() {
            panic!("rocksdb scan during compaction at {rev} failed: {err}");
        }
        removed
    }

    /// A CRC-32 over every version stored at or below `rev` (0 = current), in
    /// revision order; equal on every member that applied the same log. Returns the
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
        it.seek_to_first();
        let mut h = crc32fast::Hasher::new();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            if Revision::decode(k).main > at {
                break;
            }
            h.update(k);
            h.update(it.value().expect("valid iterator has a value"));
            it.next();
        }
        Ok((h.finalize(), revs.compacted.max(0), at))
    }

    /// A CRC-32 over the whole keyspace's storage (history and index).
    pub fn hash_all(&self) -> u32 {
        let snap = self.engine.db().snapshot();
        let mut h = crc32fast::Hasher::new();
        for cf in [Cf::Kv, Cf::Index] {
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

/// The byte key of the `kv` record at `rev`.
pub(super) fn kv_key(rev: Revision) -> [u8; REV_LEN] {
    rev.encode()
}
