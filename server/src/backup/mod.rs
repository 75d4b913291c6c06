//! Backups in etcd's format: the `Maintenance.Snapshot` download, `snapshot
//! status`, and restoring a member's data directory from an ectd or etcd snapshot
//! (or from a stopped etcd member's database).
//!
//! etcd's snapshot is its bbolt backend database followed by the SHA-256 of the
//! database bytes. ectd writes the same buckets with the same encodings from a
//! point-in-time view of its RocksDB state (see [`layout`]), so etcd's own tools
//! read, check and restore it, and reads etcd's files back into RocksDB.

pub mod bolt;
pub mod download;
pub mod export;
pub mod import;
pub mod layout;
pub mod restore;
pub mod status;

use std::path::Path;

pub use export::{export, Exported};
pub use import::{import, verify_hash, Imported};
pub use restore::{restore, RestoreOptions};
pub use status::{status, SnapshotStatus};

/// Why a backup could not be written, read or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The bbolt database could not be written or read.
    #[error("bbolt: {0}")]
    Bolt(String),
    /// The state machine's database failed.
    #[error(transparent)]
    Rocks(#[from] rocksdb::Error),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A record is not what etcd's layout says it is.
    #[error("snapshot format: {0}")]
    Format(String),
    /// The snapshot's digest is missing or wrong.
    #[error("{0}")]
    Hash(String),
    /// The restore options are wrong.
    #[error("{0}")]
    Options(String),
}

impl BackupError {
    fn bolt(e: bbolt_rs::Error) -> BackupError {
        BackupError::Bolt(e.to_string())
    }

    fn io(path: &Path, source: std::io::Error) -> BackupError {
        BackupError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
