//! The raft write-ahead log: segment files under `<data-dir>/member/wal`, each
//! preallocated to its full size and filled front to back.
//!
//! Every record is framed as `magic u32 | length u32 | type u8 | crc32 u32 | payload`
//! (little-endian; the CRC covers type and payload). Writes are buffered per Ready and
//! made durable by one `fdatasync` in [`Wal::sync`] (group commit). Because the space is
//! reserved up front, a sync never has to record a new file size; the zeros after the
//! last record mark the end of the data.
//!
//! On open, a damaged record at the very end of the newest segment (a write torn by a
//! crash) is cut away with a warning. A damaged record anywhere else, or one
//! followed by a valid record, refuses startup with [`WalError::Corrupt`] naming the file
//! and offset: acknowledged entries are never dropped silently.

mod record;
mod segment;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::prelude::{Entry, HardState};

use record::encode_record;
pub use record::RecordType;
use segment::{list_segments, read_segment, segment_name, SegmentEnd};

/// A segment's preallocated size; a new segment is started once the current one's
/// records pass it.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Errors of the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// An I/O error on a WAL file.
    #[error("wal: {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record that is damaged and is not the torn tail of the log.
    #[error("wal: corrupt record in {path} at offset {offset}: {reason}; refusing to start (the log holds acknowledged entries)")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the damaged record.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the log held when it was opened.
#[derive(Debug, Default)]
pub struct Replay {
    /// Raft entries in index order, conflicting suffixes already resolved.
    pub entries: Vec<Entry>,
    /// The last persisted hard state.
    pub hard_state: HardState,
    /// `(index, term)` of the last snapshot marker, if any.
    pub snapshot: Option<(u64, u64)>,
}

/// An open write-ahead log positioned at the end of its newest segment.
pub struct Wal {
    dir: PathBuf,
    file: File,
    path: PathBuf,
    seq: u64,
    /// Where the next record goes: the end of the data in the current segment.
    size: u64,
    buf: Vec<u8>,
    /// `(seq, first index, path)` of every segment, oldest first.
    segments: Vec<(u64, u64, PathBuf)>,
    last_index: u64,
    /// Where fdatasync latency is recorded, if metrics are attached.
    fsync_latency: Option<prometheus::Histogram>,
}

impl Wal {
    /// Opens the log in `dir` (creating it if missing), replays every segment and
    /// repairs a torn tail. Fails with [`WalError::Corrupt`] on damage elsewhere.
    pub fn open(dir: &Path) -> Result<(Wal, Replay), WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut segments = list_segments(dir).map_err(io_err(dir))?;
        let mut replay = Replay::default();
        let count = segments.len();
        let mut data_end = 0;
        for (i, (_, _, path)) in segments.iter().enumerate() {
            let is_last = i + 1 == count;
            let end = read_segment(path, is_last, &mut |ty, payload| {
                apply_record(&mut replay, ty, payload)
            })?;
            data_end = match end {
                SegmentEnd::Clean { end } => end,
                SegmentEnd::Torn { offset, len } => {
                    tracing::warn!(
                        file = %path.display(),
                        offset,
                        dropped_bytes = len - offset,
                        "wal: cutting a torn record off the end of the log"
                    );
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io_err(path))?;
                    // Truncating drops the damage; reserving the space again brings
                    // back zeros after the last record.
                    f.set_len(offset).map_err(io_err(path))?;
                    preallocate(&f, SEGMENT_BYTES).map_err(io_err(path))?;
                    f.sync_all().map_err(io_err(path))?;
                    offset
                }
            };
        }
        let last_index = replay.entries.last().map(|e| e.index).unwrap_or(0);
        if segments.is_empty() {
            let first = last_index + 1;
            let path = dir.join(segment_name(0, first));
            create_segment(dir, &path)?;
            segments.push((0, first, path));
            data_end = 0;
        }
        let (seq, _, path) = segments.last().cloned().expect("at least one segment");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // A segment written before segments were preallocated gets its space now.
        preallocate(&file, SEGMENT_BYTES).map_err(io_err(&path))?;
        let wal = Wal {
            dir: dir.to_path_buf(),
            file,
            path,
            seq,
            size: data_end,
            buf: Vec::with_capacity(64 * 1024),
            segments,
            last_index,
            fsync_latency: None,
        };
        Ok((wal, replay))
    }

    /// Buffers raft entries for the next [`Wal::flush`]/[`Wal::sync`]. An entry whose
    /// index is not past the last one replaces that suffix on replay.
    pub fn append_entries(&mut self, entries: &[Entry]) {
        for e in entries {
            let payload = e
                .write_to_bytes()
                .expect("encoding a raft entry cannot fail");
            encode_record(&mut self.buf, RecordType::Entry, &payload);
            self.last_index = e.index;
        }
    }

    /// Buffers a hard state record.
    pub fn set_hard_state(&mut self, hs: &HardState) {
        let payload = hs
            .write_to_bytes()
            .expect("encoding a hard state cannot fail");
        encode_record(&mut self.buf, RecordType::HardState, &payload);
    }

    /// Buffers a snapshot marker: entries up to `index` live in the state machine.
    pub fn mark_snapshot(&mut self, index: u64, term: u64) {
        let mut payload = Vec::with_capacity(16);
        payload.extend_from_slice(&index.to_le_bytes());
        payload.extend_from_slice(&term.to_le_bytes());
        encode_record(&mut self.buf, RecordType::Snapshot, &payload);
    }

    /// Records the latency of every later `fdatasync` in `h`.
    pub fn observe_fsyncs(&mut self, h: prometheus::Histogram) {
        self.fsync_latency = Some(h);
    }

    /// Writes buffered records to the current segment without syncing.
    pub fn flush(&mut self) -> Result<(), WalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.buf, self.size)
            .map_err(io_err(&self.path))?;
        self.size += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes buffered records and makes them durable with one `fdatasync`; then
    /// starts a new segment if the current one is full.
    pub fn sync(&mut self) -> Result<(), WalError> {
        self.flush()?;
        let started = std::time::Instant::now();
        self.file.sync_data().map_err(io_err(&self.path))?;
        if let Some(h) = &self.fsync_latency {
            h.observe(started.elapsed().as_secs_f64());
        }
        if self.size >= SEGMENT_BYTES {
            self.roll()?;
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<(), WalError> {
        let seq = self.seq + 1;
        let first = self.last_index + 1;
        let path = self.dir.join(segment_name(seq, first));
        let file = create_segment(&self.dir, &path)?;
        self.segments.push((seq, first, path.clone()));
        self.file = file;
        self.path = path;
        self.seq = seq;
        self.size = 0;
        Ok(())
    }

    /// Deletes whole segments holding only entries below `index`. The caller
    /// guarantees the state machine has durably absorbed everything below it and that
    /// a snapshot marker and hard state have been written to a newer segment.
    pub fn purge_before(&mut self, index: u64) -> Result<usize, WalError> {
        let mut removed = 0;
        // A segment may go once the segment after it starts at or below `index`.
        while self.segments.len() > 1 && self.segments[1].1 <= index {
            let (_, _, path) = self.segments.remove(0);
            fs::remove_file(&path).map_err(io_err(&path))?;
            removed += 1;
        }
        Ok(removed)
    }
}

fn apply_record(replay: &mut Replay, ty: RecordType, payload: &[u8]) -> Result<(), String> {
    match ty {
        RecordType::Entry => {
            let mut e = Entry::default();
            e.merge_from_bytes(payload).map_err(|e| e.to_string())?;
            if let Some(last) = replay.entries.last() {
                if e.index <= last.index {
                    let keep = replay.entries.partition_point(|x| x.index < e.index);
                    replay.entries.truncate(keep);
                } else if e.index != last.index + 1 {
                    return Err(format!(
                        "entry index {} does not follow {}",
                        e.index, last.index
                    ));
                }
            }
            replay.entries.push(e);
        }
        RecordType::HardState => {
            let mut hs = HardState::default();
            hs.merge_from_bytes(payload).map_err(|e| e.to_string())?;
            replay.hard_state = hs;
        }
        RecordType::Snapshot => {
            if payload.len() != 16 {
                return Err("snapshot marker of wrong length".into());
            }
            let index = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
            let term = u64::from_le_bytes(payload[8..].try_into().expect("8 bytes"));
            replay.entries.retain(|e| e.index > index);
            replay.snapshot = Some((index, term));
        }
    }
    Ok(())
}

/// Creates the segment file at `path` with its space reserved, durably.
fn create_segment(dir: &Path, path: &Path) -> Result<File, WalError> {
    let file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    preallocate(&file, SEGMENT_BYTES).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Reserves the first `len` bytes of `file` (reading as zeros), so that records
/// written into them change no file size. A filesystem that cannot reserve space
/// leaves the file to grow as records are written, which is slower but as safe.
fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    if file.metadata()?.len() >= len {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests;
