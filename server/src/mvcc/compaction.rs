//! Physical compaction: deleting, in bounded batches, the versions a compaction made
//! unreadable.
//!
//! Applying a compaction at revision C only moves the compact revision (reads below
//! it are refused from then on) and records C in `meta` (`compact_revision`). The
//! versions themselves go afterwards, a batch at a time, in revision order: each
//! batch examines at most `limit` records of the `kv` column family at or below C,
//! deletes those no read at or after C can reach, and records in the same RocksDB
//! write how far it got (`compact_progress`), or, for the last batch, that C is done
//! (`finished_compact_revision`). So a member stopped at any point resumes where its
//! last batch ended, and a batch holds nothing the apply task needs. Each batch also
//! feeds the records it examines to the compaction's hash (see [`super::hash`]),
//! carried in the progress and recorded by the last batch.
//!
//! Why reads at or after C stay right while batches run: a read at R >= C uses, per
//! key, the newest version at or below R. If that version is newer than C nothing
//! touches it; if it is at or below C it is the key's newest version at or below C,
//! which is kept when it is a put. When it is a tombstone it goes, but every older
//! version of the key is older in revision order too, so it went in the same batch
//! or an earlier one: the key reads as absent either way.

use std::collections::HashMap;

use ectd_proto::mvccpb::KeyValue;
use prost::Message as _;
use rocksdb::WriteBatch;

use super::hash::{self, CompactionHash, PartialHash};
use super::keys::{encode_key, index_key, split_index_key, Revision, KIND_PUT, REV_LEN};
use crate::engine::schema::meta;
use crate::engine::{Cf, Engine};

/// How far the physical part of a compaction has come, as stored in `meta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The compaction's revision.
    pub target: i64,
    /// The next `kv` record to examine.
    pub next: Revision,
    /// The compaction's hash so far; `None` when this compaction records none
    /// (it started over another one's unfinished deletions, or its progress was
    /// stored by a release that did not hash).
    pub hash: Option<PartialHash>,
}

/// Bytes of a stored progress without a hash; one with a hash has
/// [`HASH_PART_LEN`] more.
const PROGRESS_LEN: usize = 8 + REV_LEN;
/// The compact revision followed (u64 BE) and the CRC so far (u32 BE).
const HASH_PART_LEN: usize = 8 + 4;

impl Progress {
    /// A compaction at `target` about to examine its first record.
    fn first(target: i64, hash: Option<PartialHash>) -> Progress {
        Progress {
            target,
            next: Revision { main: 0, sub: 0 },
            hash,
        }
    }

    fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PROGRESS_LEN + HASH_PART_LEN);
        out.extend_from_slice(&(self.target as u64).to_be_bytes());
        out.extend_from_slice(&self.next.encode());
        if let Some(h) = self.hash {
            out.extend_from_slice(&(h.compact_revision as u64).to_be_bytes());
            out.extend_from_slice(&h.crc.to_be_bytes());
        }
        out
    }

    fn decode(b: &[u8]) -> Progress {
        assert!(
            b.len() == PROGRESS_LEN || b.len() == PROGRESS_LEN + HASH_PART_LEN,
            "meta compact_progress has {} bytes",
            b.len()
        );
        let hash = (b.len() > PROGRESS_LEN).then(|| {
            let h = &b[PROGRESS_LEN..];
            PartialHash {
                compact_revision: u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) as i64,
                crc: u32::from_be_bytes(h[8..].try_into().expect("4 bytes")),
            }
        });
        Progress {
            target: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")) as i64,
            next: Revision::decode(&b[8..PROGRESS_LEN]),
            hash,
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// `kv` records examined.
    pub examined: usize,
    /// Versions deleted (each from `kv` and `index`).
    pub removed: usize,
    /// Where the next batch starts; `None` when the compaction is finished.
    pub next: Option<Progress>,
    /// The compaction's hash, recorded by its last batch (if it hashed).
    pub recorded: Option<CompactionHash>,
}

fn read_meta(engine: &Engine, key: &[u8]) -> Option<Vec<u8>> {
    engine
        .get(Cf::Meta, key)
        .unwrap_or_else(|err| panic!("reading meta {}: {err}", String::from_utf8_lossy(key)))
}

fn read_rev(engine: &Engine, key: &[u8]) -> Option<i64> {
    read_meta(engine, key).map(|v| {
        u64::from_be_bytes(v.as_slice().try_into().unwrap_or_else(|_| {
            panic!(
                "meta {} is not a u64 ({} bytes)",
                String::from_utf8_lossy(key),
                v.len()
            )
        })) as i64
    })
}

/// The revision whose physical compaction finished last (-1 if none did).
pub fn finished(engine: &Engine) -> i64 {
    read_rev(engine, meta::FINISHED_COMPACT_REVISION).unwrap_or(-1)
}

/// The stored progress of an unfinished physical compaction, if any.
pub fn progress(engine: &Engine) -> Option<Progress> {
    read_meta(engine, meta::COMPACT_PROGRESS).map(|v| Progress::decode(&v))
}

/// The compaction whose physical part is still to do, as the database records it:
/// the last compaction applied, when it is newer than the last one finished.
pub fn pending(engine: &Engine) -> Option<i64> {
    let scheduled = read_rev(engine, meta::COMPACT_REVISION)?;
    (scheduled > finished(engine)).then_some(scheduled)
}

/// Where the physical compaction at `target` goes on from: its stored progress, or
/// the first revision when none is stored for it. A compaction starting afresh
/// hashes what it covers when the deletions of every compaction before it are
/// complete, and not when another compaction's progress is left over.
pub fn resume_point(engine: &Engine, target: i64) -> Progress {
    match progress(engine) {
        Some(p) if p.target == target => p,
        Some(_) => Progress::first(target, None),
        None => Progress::first(target, Some(PartialHash::start(finished(engine)))),
    }
}

/// The newest version of the key encoded as `enc` at or below `target`, if it is a
/// put (the one version of the key a compaction at `target` keeps).
fn kept_version(
    it: &mut rocksdb::DBRawIteratorWithThreadMode<'_, rocksdb::DB>,
    enc: &[u8],
    target: i64,
) -> Option<Revision> {
    let mut seek = enc.to_vec();
    seek.extend_from_slice(
        &Revision {
            main: target,
            sub: i64::MAX,
        }
        .encode_inverted(),
    );
    it.seek(&seek);
    if !it.valid() {
        if let Err(err) = it.status() {
            panic!("rocksdb index seek during compaction at {target} failed: {err}");
        }
        return None;
    }
    let (k_enc, rev) = split_index_key(it.key().expect("valid iterator has a key"));
    (k_enc == enc && it.value().expect("valid iterator has a value") == [KIND_PUT]).then_some(rev)
}

/// Examines at most `limit` (at least one) `kv` records from `from.next` up to
/// main revision `from.target` inclusive, adds each to the compaction's hash,
/// deletes every version a compaction at the target does not keep, and records
/// the progress (or the end, with the hash) in the same write.
pub fn compact_batch(engine: &Engine, from: Progress, limit: usize) -> BatchOutcome {
    let target = from.target;
    let limit = limit.max(1);
    let db = engine.db();
    let (kv_cf, index_cf) = (engine.cf(Cf::Kv), engine.cf(Cf::Index));
    let mut batch = WriteBatch::default();
    let mut it = db.raw_iterator_cf(kv_cf);
    let mut index_it = db.raw_iterator_cf(index_cf);
    // A key's kept version does not change while its compaction runs (later writes
    // are newer than `target`), so one lookup per key and batch is enough; the
    // cache holds at most `limit` keys.
    let mut kept: HashMap<Vec<u8>, Option<Revision>> = HashMap::new();
    let (mut examined, mut removed) = (0, 0);
    // The records hashed: every one above the previous compact revision, and
    // those at or below it that the previous compaction keeps (after its
    // deletions that is all of them; the check keeps the hash equal to `HashKV`'s
    // even over a database written elsewhere, such as an imported backup).
    let mut hasher = from.hash.map(|h| h.hasher());
    let mut kept_before: HashMap<Vec<u8>, Option<Revision>> = HashMap::new();
    it.seek(from.next.encode());
    let mut next = None;
    while it.valid() {
        let rev = Revision::decode(it.key().expect("valid iterator has a key"));
        if rev.main > target {
            break;
        }
        if examined == limit {
            next = Some(rev);
            break;
        }
        examined += 1;
        let v = it.value().expect("valid iterator has a value");
        let kv = KeyValue::decode(&v[1..])
            .unwrap_or_else(|err| panic!("undecodable kv at {rev:?} during compaction: {err}"));
        if let (Some(h), Some(p)) = (hasher.as_mut(), from.hash) {
            let covered = survives(
                &mut index_it,
                &mut kept_before,
                usize::MAX,
                &kv.key,
                v[0],
                rev,
                p.compact_revision,
            );
            if covered {
                hash::add_record(h, &rev.encode(), v);
            }
        }
        let keep = survives(
            &mut index_it,
            &mut kept,
            usize::MAX,
            &kv.key,
            v[0],
            rev,
            target,
        );
        if !keep {
            batch.delete_cf(kv_cf, rev.encode());
            batch.delete_cf(index_cf, index_key(&kv.key, rev));
            removed += 1;
        }
        it.next();
    }
    if let Err(err) = it.status() {
        panic!("rocksdb scan during compaction at {target} failed: {err}");
    }
    let meta_cf = engine.cf(Cf::Meta);
    let hashed = from.hash.zip(hasher).map(|(h, hasher)| PartialHash {
        crc: hasher.finalize(),
        ..h
    });
    let mut recorded = None;
    let next = match next {
        Some(next) => {
            let p = Progress {
                target,
                next,
                hash: hashed,
            };
            batch.put_cf(meta_cf, meta::COMPACT_PROGRESS, p.encode());
            Some(p)
        }
        None => {
            batch.delete_cf(meta_cf, meta::COMPACT_PROGRESS);
            batch.put_cf(
                meta_cf,
                meta::FINISHED_COMPACT_REVISION,
                (target as u64).to_be_bytes(),
            );
            if let Some(h) = hashed {
                let h = h.finish(target);
                batch.put_cf(
                    meta_cf,
                    meta::COMPACT_HASHES,
                    hash::with_recorded(engine, h),
                );
                recorded = Some(h);
            }
            None
        }
    };
    engine
        .write(batch)
        .unwrap_or_else(|err| panic!("writing a compaction batch at {target}: {err}"));
    BatchOutcome {
        examined,
        removed,
        next,
        recorded,
    }
}

/// Runs the physical compaction at `target` to its end on the calling thread, from
/// where it stands; returns the versions removed. For callers without a background
/// compactor (tools, tests).
pub fn run_to_end(engine: &Engine, target: i64, limit: usize) -> usize {
    if finished(engine) >= target {
        return 0;
    }
    let mut from = resume_point(engine, target);
    let mut removed = 0;
    loop {
        let out = compact_batch(engine, from, limit);
        removed += out.removed;
        match out.next {
            Some(n) => from = n,
            None => return removed,
        }
    }
}

/// Whether the stored version at `rev` (of the key `key`, of kind `kind`) survives a
/// compaction at `compacted`: versions above it always do; at or below it only each
/// key's newest version, and only when that is a put. `cache` remembers the answer
/// per key; it is cleared when it grows past `cache_limit` keys.
pub(super) fn survives(
    index_it: &mut rocksdb::DBRawIteratorWithThreadMode<'_, rocksdb::DB>,
    cache: &mut HashMap<Vec<u8>, Option<Revision>>,
    cache_limit: usize,
    key: &[u8],
    kind: u8,
    rev: Revision,
    compacted: i64,
) -> bool {
    if rev.main > compacted {
        return true;
    }
    if kind != KIND_PUT {
        return false;
    }
    if cache.len() >= cache_limit {
        cache.clear();
    }
    let enc = encode_key(key);
    let newest = *cache
        .entry(enc)
        .or_insert_with_key(|enc| kept_version(index_it, enc, compacted));
    newest == Some(rev)
}
