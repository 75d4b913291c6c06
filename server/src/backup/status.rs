//! `snapshot status`: what an etcd backend database file holds.

use std::cell::Cell;
use std::path::Path;

use serde::Serialize;

use super::bolt::BoltFile;
use super::layout;
use super::BackupError;

/// A snapshot file's summary, as etcd's tools print it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotStatus {
    /// CRC-32C of every bucket name, key and value, in bbolt order.
    pub hash: u32,
    /// The newest main revision in the history.
    pub revision: i64,
    /// Keys in every bucket.
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    /// Bytes the database uses.
    #[serde(rename = "totalSize")]
    pub total_size: u64,
}

/// Reads the database at `path` (its trailing digest, if any, is ignored).
pub fn status(path: &Path) -> Result<SnapshotStatus, BackupError> {
    std::fs::metadata(path).map_err(|source| BackupError::io(path, source))?;
    let db = BoltFile::open(path)?;
    let mut st = SnapshotStatus {
        total_size: db.size(),
        ..Default::default()
    };
    let hash = Cell::new(0u32);
    let in_key_bucket = Cell::new(false);
    db.for_each_bucket(
        &mut |name| {
            hash.set(crc32c::crc32c_append(hash.get(), name));
            in_key_bucket.set(name == layout::KEY);
            Ok(())
        },
        &mut |k, v, is_bucket| {
            let mut h = crc32c::crc32c_append(hash.get(), k);
            if !is_bucket {
                h = crc32c::crc32c_append(h, v);
            }
            hash.set(h);
            if in_key_bucket.get() {
                if let Some((main, _, _)) = layout::parse_rev_key(k) {
                    st.revision = main;
                }
            }
            st.total_key += 1;
            Ok(())
        },
    )?;
    st.hash = hash.get();
    Ok(st)
}
