//! State snapshots received from the leader, on the receiver's disk.
//!
//! The receiver alone decides where a snapshot's files go: each incoming stream
//! gets a fresh directory under `<data-dir>/member/snap`, named by a number this
//! member picked. The raft message that goes with the files carries only that
//! number (eight bytes, big-endian) in `snapshot.data`, and the raft loop turns it
//! back into a directory through [`SnapshotInbox::take`]. Nothing a peer sends names
//! a path; a number the inbox never handed out names nothing.
//!
//! Bounds, all chosen by the receiver: one stream at a time (a stream silent for
//! [`CHUNK_TIMEOUT`] is ended), at most [`MAX_SNAPSHOT_BYTES`] and
//! [`MAX_SNAPSHOT_FILES`] per snapshot, file names that are plain names, every file
//! exactly the size and CRC-32 its sender listed, and at most [`MAX_WAITING`]
//! received snapshots kept on disk waiting for the raft loop.

// Every refusal here becomes the RPC's answer as it is; boxing tonic's Status only
// to unbox it at each handler would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ectd_proto::peer::{SnapshotChunk, SnapshotFile};
use tonic::{Status, Streaming};

/// The largest snapshot a member accepts, in bytes on disk: four times etcd's
/// largest recommended backend (8 GiB). A sender listing more is refused before a
/// byte is written.
pub const MAX_SNAPSHOT_BYTES: u64 = 32 << 30;
/// The most files a snapshot may list (a RocksDB export holds a handful per
/// column family).
pub const MAX_SNAPSHOT_FILES: usize = 10_000;
/// The longest file name a snapshot may list.
const MAX_NAME_LEN: usize = 255;
/// Received snapshots kept waiting for the raft loop; older ones are deleted when a
/// newer one arrives (raft only ever wants the newest).
const MAX_WAITING: usize = 2;
/// Prefix of the directories incoming streams write into.
const INCOMING_PREFIX: &str = "in-";
/// Longest wait for a stream's next chunk: a sender that went silent must not hold
/// the one receiving slot (and so every later snapshot) for ever.
const CHUNK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

struct Waiting {
    token: u64,
    dir: PathBuf,
}

/// Where received snapshots wait between their stream and their install.
pub struct SnapshotInbox {
    dir: PathBuf,
    waiting: Mutex<(u64, VecDeque<Waiting>)>,
    /// One incoming stream at a time: a second one is refused, not queued.
    receiving: tokio::sync::Semaphore,
}

/// A snapshot stream being received into a directory of its own.
pub struct Incoming<'a> {
    inbox: &'a SnapshotInbox,
    token: u64,
    dir: PathBuf,
    _permit: tokio::sync::SemaphorePermit<'a>,
    delivered: bool,
}

impl SnapshotInbox {
    /// An inbox under `snap_dir`; directories an earlier run left half-received are
    /// deleted.
    pub fn new(snap_dir: PathBuf) -> SnapshotInbox {
        if let Ok(entries) = std::fs::read_dir(&snap_dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(INCOMING_PREFIX) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        SnapshotInbox {
            dir: snap_dir,
            waiting: Mutex::new((rand::random::<u32>() as u64, VecDeque::new())),
            receiving: tokio::sync::Semaphore::new(1),
        }
    }

    /// Starts receiving a snapshot, or refuses while another one is arriving.
    pub fn begin(&self) -> Result<Incoming<'_>, Status> {
        let permit = self
            .receiving
            .try_acquire()
            .map_err(|_| Status::resource_exhausted("a snapshot is already being received"))?;
        let token = {
            let mut w = self.waiting.lock().expect("inbox lock");
            w.0 += 1;
            w.0
        };
        Ok(Incoming {
            inbox: self,
            token,
            dir: self.dir.join(format!("{INCOMING_PREFIX}{token:016x}")),
            _permit: permit,
            delivered: false,
        })
    }

    /// Whether `data` (a MsgSnapshot's `snapshot.data`) names a snapshot waiting here.
    pub fn holds(&self, data: &[u8]) -> bool {
        let Some(token) = token_of(data) else {
            return false;
        };
        let w = self.waiting.lock().expect("inbox lock");
        w.1.iter().any(|s| s.token == token)
    }

    /// The directory of the waiting snapshot `data` names, no longer waiting; the
    /// caller owns (and deletes) it from here on.
    pub fn take(&self, data: &[u8]) -> Option<PathBuf> {
        let token = token_of(data)?;
        let mut w = self.waiting.lock().expect("inbox lock");
        let at = w.1.iter().position(|s| s.token == token)?;
        w.1.remove(at).map(|s| s.dir)
    }
}

fn token_of(data: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(data.try_into().ok()?))
}

impl Incoming<'_> {
    /// What the raft message's `snapshot.data` must carry for this snapshot.
    pub fn token(&self) -> Vec<u8> {
        self.token.to_be_bytes().to_vec()
    }

    /// Writes the stream's files, which must be exactly those `manifest` lists.
    pub async fn receive(
        &mut self,
        stream: &mut Streaming<SnapshotChunk>,
        manifest: &[SnapshotFile],
    ) -> Result<(), Status> {
        check_listing(manifest).map_err(Status::invalid_argument)?;
        receive_files(stream, &self.dir, manifest).await
    }

    /// Hands the received files to the raft loop, deleting the oldest waiting
    /// snapshot if too many wait.
    pub fn deliver(mut self) {
        self.delivered = true;
        let mut w = self.inbox.waiting.lock().expect("inbox lock");
        w.1.push_back(Waiting {
            token: self.token,
            dir: self.dir.clone(),
        });
        while w.1.len() > MAX_WAITING {
            if let Some(old) = w.1.pop_front() {
                let _ = std::fs::remove_dir_all(old.dir);
            }
        }
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        if !self.delivered {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether a sender's file list is one this member will receive: plain names,
/// each once, within the count and size bounds.
fn check_listing(manifest: &[SnapshotFile]) -> Result<(), String> {
    if manifest.len() > MAX_SNAPSHOT_FILES {
        return Err(format!(
            "a snapshot of {} files is over the limit of {MAX_SNAPSHOT_FILES}",
            manifest.len()
        ));
    }
    let mut total: u64 = 0;
    let mut seen = std::collections::HashSet::new();
    for f in manifest {
        if !is_plain_name(&f.name) {
            return Err("a snapshot file name must be a plain file name".into());
        }
        if !seen.insert(f.name.as_str()) {
            return Err("a snapshot file is listed twice".into());
        }
        total = total.saturating_add(f.size);
    }
    if total > MAX_SNAPSHOT_BYTES {
        return Err(format!(
            "a snapshot of {total} bytes is over the limit of {MAX_SNAPSHOT_BYTES}"
        ));
    }
    Ok(())
}

/// A name that stays inside the directory it is joined to: not empty, not `.` or
/// `..`, no separator or NUL, not too long.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
}

/// Writes a snapshot stream's files into `dir` (created), refusing any byte past a
/// file's listed size, then checks every listed file arrived whole (size and
/// CRC-32) and nothing else did.
async fn receive_files(
    stream: &mut Streaming<SnapshotChunk>,
    dir: &Path,
    manifest: &[SnapshotFile],
) -> Result<(), Status> {
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| Status::internal(format!("writing a received snapshot: {e}"));
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let mut got: HashMap<String, (u64, crc32fast::Hasher)> = HashMap::new();
    loop {
        let next = tokio::time::timeout(CHUNK_TIMEOUT, stream.message())
            .await
            .map_err(|_| Status::deadline_exceeded("the snapshot stream went silent"))??;
        let Some(chunk) = next else { break };
        let Some(listed) = manifest.iter().find(|f| f.name == chunk.file) else {
            return Err(Status::invalid_argument(
                "a snapshot chunk names a file that is not in the snapshot's file list",
            ));
        };
        let (size, crc) = got.entry(chunk.file.clone()).or_default();
        *size += chunk.data.len() as u64;
        if *size > listed.size {
            return Err(Status::invalid_argument(
                "a snapshot file is larger than its listed size",
            ));
        }
        crc.update(&chunk.data);
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(&listed.name))
            .await
            .map_err(io)?;
        f.write_all(&chunk.data).await.map_err(io)?;
        f.sync_all().await.map_err(io)?;
    }
    let got = got
        .into_iter()
        .map(|(name, (size, crc))| (name, (size, crc.finalize())))
        .collect();
    check_manifest(manifest, &got).map_err(Status::data_loss)?;
    // What is on disk must be exactly what arrived.
    for file in manifest.iter().filter(|f| f.size > 0) {
        let on_disk = tokio::fs::metadata(dir.join(&file.name))
            .await
            .map_err(io)?
            .len();
        if on_disk != file.size {
            return Err(Status::data_loss(format!(
                "snapshot file {} holds {on_disk} bytes on disk, {} arrived",
                file.name, file.size
            )));
        }
    }
    Ok(())
}

/// Whether the files received (name → size, CRC-32) are exactly the ones listed.
fn check_manifest(
    manifest: &[SnapshotFile],
    got: &HashMap<String, (u64, u32)>,
) -> Result<(), String> {
    for file in manifest {
        let (size, crc) = got
            .get(&file.name)
            .copied()
            .unwrap_or((0, crc32fast::hash(&[])));
        if size != file.size || crc != file.crc32 {
            return Err(format!(
                "snapshot file {} arrived with {size} bytes (CRC-32 {crc:08x}); the sender has {} bytes ({:08x})",
                file.name, file.size, file.crc32
            ));
        }
    }
    match got
        .keys()
        .find(|name| !manifest.iter().any(|f| &f.name == *name))
    {
        Some(extra) => Err(format!("snapshot file {extra} is not in the file list")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, data: &[u8]) -> SnapshotFile {
        SnapshotFile {
            name: name.into(),
            size: data.len() as u64,
            crc32: crc32fast::hash(data),
        }
    }

    fn received(files: &[(&str, &[u8])]) -> HashMap<String, (u64, u32)> {
        files
            .iter()
            .map(|(n, d)| (n.to_string(), (d.len() as u64, crc32fast::hash(d))))
            .collect()
    }

    #[test]
    fn only_whole_snapshots_pass_the_manifest_check() {
        let manifest = [listed("kv.sst", b"0123456789"), listed("meta.sst", b"abc")];
        let whole = received(&[("kv.sst", b"0123456789"), ("meta.sst", b"abc")]);
        assert_eq!(check_manifest(&manifest, &whole), Ok(()));
        // Truncated, interleaved with another stream's bytes, missing, or unlisted.
        let truncated = received(&[("kv.sst", b"01234"), ("meta.sst", b"abc")]);
        assert!(check_manifest(&manifest, &truncated).is_err());
        let mixed = received(&[("kv.sst", b"0123401234"), ("meta.sst", b"abc")]);
        assert!(check_manifest(&manifest, &mixed).is_err());
        let missing = received(&[("kv.sst", b"0123456789")]);
        assert!(check_manifest(&manifest, &missing).is_err());
        let extra = received(&[
            ("kv.sst", b"0123456789"),
            ("meta.sst", b"abc"),
            ("lease.sst", b"x"),
        ]);
        assert!(check_manifest(&manifest, &extra).is_err());
    }

    #[test]
    fn listings_that_leave_the_directory_or_the_bounds_are_refused() {
        assert!(check_listing(&[listed("000012.sst", b"x")]).is_ok());
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "/etc/passwd",
            "a\\b",
            "a\0b",
        ] {
            assert!(check_listing(&[listed(bad, b"x")]).is_err(), "{bad:?}");
        }
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert!(check_listing(&[listed(&long, b"x")]).is_err());
        assert!(check_listing(&[listed("a", b"x"), listed("a", b"x")]).is_err());
        let huge = SnapshotFile {
            name: "big".into(),
            size: MAX_SNAPSHOT_BYTES + 1,
            crc32: 0,
        };
        assert!(check_listing(&[huge]).is_err());
        let split = [
            SnapshotFile {
                name: "a".into(),
                size: u64::MAX,
                crc32: 0,
            },
            SnapshotFile {
                name: "b".into(),
                size: u64::MAX,
                crc32: 0,
            },
        ];
        assert!(check_listing(&split).is_err());
        let many: Vec<_> = (0..=MAX_SNAPSHOT_FILES)
            .map(|i| listed(&format!("{i}"), b""))
            .collect();
        assert!(check_listing(&many).is_err());
    }

    #[tokio::test]
    async fn only_numbers_the_inbox_handed_out_name_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("in-stale")).unwrap();
        let inbox = SnapshotInbox::new(tmp.path().to_path_buf());
        assert!(!tmp.path().join("in-stale").exists(), "leftovers deleted");
        // A path, garbage, or a number never handed out names nothing.
        for data in [&b"/etc"[..], b"", b"12345678", &[0xff; 9]] {
            assert!(!inbox.holds(data));
            assert!(inbox.take(data).is_none());
        }
        let incoming = inbox.begin().unwrap();
        assert!(inbox.begin().is_err(), "one stream at a time");
        let token = incoming.token();
        std::fs::create_dir_all(&incoming.dir).unwrap();
        assert!(!inbox.holds(&token), "not before delivery");
        incoming.deliver();
        assert!(inbox.holds(&token));
        let dir = inbox.take(&token).unwrap();
        assert!(dir.starts_with(tmp.path()));
        assert!(inbox.take(&token).is_none(), "taken once");
        // An abandoned stream leaves nothing behind.
        let incoming = inbox.begin().unwrap();
        let abandoned = incoming.dir.clone();
        std::fs::create_dir_all(&abandoned).unwrap();
        drop(incoming);
        assert!(!abandoned.exists());
        // Only the newest few wait; older ones are deleted.
        let mut tokens = Vec::new();
        for _ in 0..MAX_WAITING + 2 {
            let incoming = inbox.begin().unwrap();
            std::fs::create_dir_all(&incoming.dir).unwrap();
            tokens.push((incoming.token(), incoming.dir.clone()));
            incoming.deliver();
        }
        let (oldest, oldest_dir) = &tokens[0];
        assert!(!inbox.holds(oldest) && !oldest_dir.exists());
        assert!(inbox.holds(&tokens.last().unwrap().0));
    }
}
