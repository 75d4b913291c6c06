//! Compaction hashes: the hash of the history each compaction covered, recorded
//! when its deletions finish, so the leader can compare members' histories at the
//! same compaction without hashing anything again (etcd 3.5's compaction-hash
//! check, see `server::compact_check`).
//!
//! The hash of the compaction at C, following the compaction at P, is the CRC-32
//! of every `kv` record (key and value bytes, in revision order) with a main
//! revision above P and at or below C, together with the records at or below P
//! that P's compaction kept. That is exactly what [`super::Store::hash_kv`] at C
//! answers on a member whose compact revision is P, so a member that has not
//! compacted at C yet can be compared with one that has.
//!
//! The compactor feeds the hash one batch at a time, keeping the running CRC in
//! the compaction's stored progress, so a compaction stopped midway still records
//! its hash when it finishes. A compaction that starts while another one's
//! deletions were left unfinished records nothing: what it would hash below its
//! predecessor depends on how far that one got.

use crate::engine::schema::meta;
use crate::engine::{Cf, Engine};

/// Compaction hashes kept: the newest ones, as etcd keeps the last ten.
pub const KEPT: usize = 10;

/// Bytes of one recorded hash: revision (u64 BE), compact revision (u64 BE),
/// hash (u32 BE).
const ENTRY_LEN: usize = 8 + 8 + 4;

/// The hash of the history a compaction covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionHash {
    /// The compaction's revision.
    pub revision: i64,
    /// The compact revision it followed (0 for the first): the hash covers every
    /// version above it up to `revision`, and the versions at or below it that its
    /// compaction kept.
    pub compact_revision: i64,
    /// CRC-32 of those versions' `kv` records.
    pub hash: u32,
}

/// A compaction hash under way: the CRC of the records examined so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialHash {
    /// The compact revision the compaction follows.
    pub compact_revision: i64,
    /// CRC-32 of the records hashed so far (0 before the first).
    pub crc: u32,
}

impl PartialHash {
    /// The hash of a compaction following the one at `compact_revision`, before
    /// any record.
    pub fn start(compact_revision: i64) -> PartialHash {
        PartialHash {
            compact_revision: compact_revision.max(0),
            crc: 0,
        }
    }

    /// A hasher that continues from the records hashed so far.
    pub fn hasher(&self) -> crc32fast::Hasher {
        crc32fast::Hasher::new_with_initial(self.crc)
    }

    /// The finished hash of the compaction at `revision`.
    pub fn finish(self, revision: i64) -> CompactionHash {
        CompactionHash {
            revision,
            compact_revision: self.compact_revision,
            hash: self.crc,
        }
    }
}

/// Adds one `kv` record to a hash, as both the compaction hash and `HashKV` do.
pub fn add_record(h: &mut crc32fast::Hasher, key: &[u8], value: &[u8]) {
    h.update(key);
    h.update(value);
}

fn encode(hashes: &[CompactionHash]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hashes.len() * ENTRY_LEN);
    for h in hashes {
        out.extend_from_slice(&(h.revision as u64).to_be_bytes());
        out.extend_from_slice(&(h.compact_revision as u64).to_be_bytes());
        out.extend_from_slice(&h.hash.to_be_bytes());
    }
    out
}

/// Decodes the stored list; bytes that do not make a whole entry are left out
/// (a damaged list loses hashes to compare, never stops the member).
fn decode(b: &[u8]) -> Vec<CompactionHash> {
    b.chunks_exact(ENTRY_LEN)
        .map(|e| CompactionHash {
            revision: u64::from_be_bytes(e[..8].try_into().expect("8 bytes")) as i64,
            compact_revision: u64::from_be_bytes(e[8..16].try_into().expect("8 bytes")) as i64,
            hash: u32::from_be_bytes(e[16..].try_into().expect("4 bytes")),
        })
        .collect()
}

/// The recorded compaction hashes, oldest first (at most [`KEPT`]).
pub fn recorded(engine: &Engine) -> Vec<CompactionHash> {
    match engine.get(Cf::Meta, meta::COMPACT_HASHES) {
        Ok(Some(v)) => decode(&v),
        Ok(None) => Vec::new(),
        Err(err) => {
            tracing::warn!(error = %err, "reading the recorded compaction hashes failed");
            Vec::new()
        }
    }
}

/// The recorded hash of the compaction at `revision`, if this member has one.
pub fn recorded_at(engine: &Engine, revision: i64) -> Option<CompactionHash> {
    recorded(engine)
        .into_iter()
        .find(|h| h.revision == revision)
}

/// The stored list with `h` added (replacing one of the same revision), oldest
/// first, trimmed to the newest [`KEPT`].
pub(super) fn with_recorded(engine: &Engine, h: CompactionHash) -> Vec<u8> {
    let mut list = recorded(engine);
    list.retain(|o| o.revision != h.revision);
    list.push(h);
    list.sort_by_key(|o| o.revision);
    let excess = list.len().saturating_sub(KEPT);
    list.drain(..excess);
    encode(&list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_keeps_the_newest_ten_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        assert!(recorded(&engine).is_empty());
        for rev in (1..=15).rev().chain([7]) {
            let h = CompactionHash {
                revision: rev * 10,
                compact_revision: (rev - 1) * 10,
                hash: rev as u32 + 1000,
            };
            let mut batch = rocksdb::WriteBatch::default();
            batch.put_cf(
                engine.cf(Cf::Meta),
                meta::COMPACT_HASHES,
                with_recorded(&engine, h),
            );
            engine.write(batch).unwrap();
        }
        let got = recorded(&engine);
        let revs: Vec<i64> = got.iter().map(|h| h.revision).collect();
        assert_eq!(revs, (6..=15).map(|r| r * 10).collect::<Vec<_>>());
        assert_eq!(
            recorded_at(&engine, 70),
            Some(CompactionHash {
                revision: 70,
                compact_revision: 60,
                hash: 1007
            })
        );
        assert_eq!(recorded_at(&engine, 50), None);
    }

    #[test]
    fn a_damaged_list_loses_only_what_is_damaged() {
        let h = CompactionHash {
            revision: 5,
            compact_revision: 2,
            hash: 0xdead_beef,
        };
        let mut b = encode(&[h]);
        b.extend_from_slice(&[1, 2, 3]);
        assert_eq!(decode(&b), vec![h]);
        assert!(decode(&[9; 7]).is_empty());
    }

    #[test]
    fn a_hash_continued_batch_by_batch_equals_one_pass() {
        let records: Vec<(Vec<u8>, Vec<u8>)> = (0..50)
            .map(|i| (vec![i as u8; 16], format!("value {i}").into_bytes()))
            .collect();
        let mut whole = crc32fast::Hasher::new();
        for (k, v) in &records {
            add_record(&mut whole, k, v);
        }
        let mut partial = PartialHash::start(-1);
        assert_eq!(partial.compact_revision, 0);
        for chunk in records.chunks(7) {
            let mut h = partial.hasher();
            for (k, v) in chunk {
                add_record(&mut h, k, v);
            }
            partial.crc = h.finalize();
        }
        assert_eq!(partial.finish(60).hash, whole.finalize());
    }
}
