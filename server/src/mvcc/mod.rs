//! The MVCC keyspace, with etcd's revision model.
//!
//! Every write transaction gets the next main revision; each operation inside it gets
//! the next sub revision. A key's versions carry `create_revision`, `mod_revision` and
//! `version`; a delete writes a tombstone that ends the key's generation. History
//! lives in RocksDB (see [`crate::engine::schema`]): the `kv` column family holds
//! every version by revision (and feeds watch history), the `index` column family
//! maps each key to its revisions newest first, so neither a read nor a restart needs
//! an in-memory index of all keys.

pub mod compaction;
pub mod compactor;
pub mod hash;
pub mod keys;
mod read;
mod staged;
mod store;
mod txn;

pub use compactor::{Compactor, CompactorSettings};
pub use hash::CompactionHash;
pub use keys::Revision;
pub use read::{KvRead, RangeOptions, RangeResult, ReadView};
pub use staged::Staged;
pub use store::Store;
pub use txn::{Change, Overlay, WriteTxn};

/// Errors of the MVCC layer that a client can cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MvccError {
    /// The requested revision is older than the last compaction.
    #[error("mvcc: required revision has been compacted")]
    Compacted,
    /// The requested revision has not been written yet.
    #[error("mvcc: required revision is a future revision")]
    FutureRev,
}

/// How a range's end is interpreted, after etcd's conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd<'a> {
    /// Only the key itself (an empty `range_end`).
    Single,
    /// Every key at or after the start key (`range_end` = `"\0"`).
    Unbounded,
    /// Keys in `[key, end)`.
    Before(&'a [u8]),
}

impl<'a> RangeEnd<'a> {
    /// Interprets a request's `range_end` field.
    pub fn from_request(range_end: &'a [u8]) -> RangeEnd<'a> {
        match range_end {
            [] => RangeEnd::Single,
            [0] => RangeEnd::Unbounded,
            end => RangeEnd::Before(end),
        }
    }

    /// Whether `k` lies in the range starting at `start`.
    pub fn contains(&self, start: &[u8], k: &[u8]) -> bool {
        match self {
            RangeEnd::Single => k == start,
            RangeEnd::Unbounded => k >= start,
            RangeEnd::Before(end) => k >= start && k < *end,
        }
    }
}

#[cfg(test)]
mod tests;
