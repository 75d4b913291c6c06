//! The storage engine: one RocksDB instance holding every column family ectd uses.
//!
//! Column families are declared once in [`schema`]; everything above this module
//! addresses them through [`Cf`]. State-machine writes go in with RocksDB's own WAL
//! disabled: the raft WAL is the source of truth, and `atomic_flush` keeps every
//! column family's flushed state mutually consistent, so the applied index stored
//! in `meta` never runs ahead of the data it describes.

pub mod schema;

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

pub use schema::Cf;

/// Errors raised by the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
}

/// A shared handle to the RocksDB instance under `<data-dir>/member/db`.
#[derive(Clone)]
pub struct Engine {
    db: Arc<DB>,
    /// Where commit latency is recorded, once metrics are attached.
    commit_latency: Arc<std::sync::OnceLock<prometheus::Histogram>>,
    /// The last size read for [`Engine::size_bytes_recent`].
    recent_size: Arc<RecentSize>,
}

/// A size read at most [`SIZE_REFRESH`] ago.
#[derive(Default)]
struct RecentSize {
    /// Milliseconds since [`clock_origin`] at the read, plus one (0: never read).
    at_ms: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
}

/// How old a size [`Engine::size_bytes_recent`] returns may be.
const SIZE_REFRESH: std::time::Duration = std::time::Duration::from_millis(10);

fn clock_origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

impl Engine {
    /// Opens (creating if missing) the database at `path` with every column family
    /// of [`schema::ALL`].
    pub fn open(path: &Path) -> Result<Engine, EngineError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_atomic_flush(true);
        opts.set_max_background_jobs(2);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let cfs = schema::ALL.iter().map(|cf| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Engine {
            db: Arc::new(db),
            commit_latency: Arc::default(),
            recent_size: Arc::default(),
        })
    }

    /// Records the latency of every later [`Engine::write`] (on every clone of
    /// this handle) in `h`; only the first call counts.
    pub fn observe_commits(&self, h: prometheus::Histogram) {
        let _ = self.commit_latency.set(h);
    }

    /// The raw RocksDB handle, for iterators and snapshots.
    pub fn db(&self) -> &DB {
        &self.db
    }

    /// The handle of column family `cf`.
    pub fn cf(&self, cf: Cf) -> &ColumnFamily {
        self.db
            .cf_handle(cf.name())
            .unwrap_or_else(|| panic!("column family {} missing after open", cf.name()))
    }

    /// Reads one value.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    /// Writes a batch atomically. Not synced: durability comes from the raft WAL,
    /// which is replayed from the applied index stored in the same batch.
    pub fn write(&self, batch: WriteBatch) -> Result<(), EngineError> {
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        fail::fail_point!("backend_before_commit");
        let started = std::time::Instant::now();
        self.db.write_opt(batch, &wo)?;
        if let Some(h) = self.commit_latency.get() {
            h.observe(started.elapsed().as_secs_f64());
        }
        fail::fail_point!("backend_after_commit");
        Ok(())
    }

    /// Flushes every memtable to SST files, so everything written so far survives
    /// a crash without the raft WAL.
    pub fn flush(&self) -> Result<(), EngineError> {
        let cfs: Vec<&ColumnFamily> = schema::ALL.iter().map(|c| self.cf(*c)).collect();
        self.db
            .flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default())?;
        Ok(())
    }

    /// Compacts every column family's whole key range, reclaiming space left by
    /// deletions (what etcd's defragmentation achieves for bbolt). Reads and writes
    /// go on meanwhile: the compaction is not exclusive, so RocksDB's own background
    /// compactions keep up with new writes, and the last level is rewritten too so
    /// deleted versions leave the files.
    pub fn compact_all(&self) -> Result<(), EngineError> {
        let mut opts = rocksdb::CompactOptions::default();
        opts.set_exclusive_manual_compaction(false);
        opts.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        for (i, cf) in schema::ALL.iter().enumerate() {
            if i > 0 {
                fail::fail_point!("defragment_between_column_families");
            }
            self.db
                .compact_range_cf_opt(self.cf(*cf), None::<&[u8]>, None::<&[u8]>, &opts);
        }
        Ok(())
    }

    /// [`Engine::size_bytes`] as read at most 10 ms ago: what the quota check
    /// of every write uses, so that writes do not each ask RocksDB.
    pub fn size_bytes_recent(&self) -> u64 {
        use std::sync::atomic::Ordering;
        let now = clock_origin().elapsed().as_millis() as u64 + 1;
        let at = self.recent_size.at_ms.load(Ordering::Acquire);
        if at != 0 && now.saturating_sub(at) < SIZE_REFRESH.as_millis() as u64 {
            return self.recent_size.bytes.load(Ordering::Relaxed);
        }
        let bytes = self.size_bytes();
        self.recent_size.bytes.store(bytes, Ordering::Relaxed);
        self.recent_size.at_ms.store(now, Ordering::Release);
        bytes
    }

    fn property_sum(&self, names: &[&str]) -> u64 {
        schema::ALL
            .iter()
            .map(|c| {
                let cf = self.cf(*c);
                names
                    .iter()
                    .map(|name| {
                        self.db
                            .property_int_value_cf(cf, *name)
                            .ok()
                            .flatten()
                            .unwrap_or(0)
                    })
                    .sum::<u64>()
            })
            .sum()
    }

    /// Estimated bytes of live data (RocksDB's `estimate-live-data-size` of every
    /// column family plus the memtables): what the database would shrink to if
    /// everything deleted or overwritten were compacted away. Never more than
    /// [`Engine::size_bytes`].
    pub fn size_in_use_bytes(&self) -> u64 {
        self.property_sum(&[
            "rocksdb.estimate-live-data-size",
            "rocksdb.cur-size-all-mem-tables",
        ])
        .min(self.size_bytes())
    }

    /// Bytes of the database: every SST file RocksDB keeps for the state machine,
    /// plus the memtables not yet flushed to one.
    pub fn size_bytes(&self) -> u64 {
        self.property_sum(&[
            "rocksdb.total-sst-files-size",
            "rocksdb.cur-size-all-mem-tables",
        ])
    }
}
