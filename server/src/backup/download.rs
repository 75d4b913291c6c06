//! `Maintenance.Snapshot`: the keyspace as an etcd backend database, streamed
//! in chunks and followed by its SHA-256, as etcd sends it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ectd_proto::etcdserverpb::SnapshotResponse;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::Status;

use crate::server::Server;

/// Bytes of database per message, as etcd sends them.
const CHUNK: usize = 32 * 1024;
/// Messages queued ahead of a slow reader.
const QUEUED: usize = 8;
/// Name prefix of a download being staged.
const STAGED_PREFIX: &str = "download-";

/// Removes downloads a previous run left staged in `dir`.
pub fn clear_staged(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(STAGED_PREFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A staged file, removed when the download ends however it ends.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes a point-in-time copy of `server`'s state to a staged file and returns
/// the messages that carry it: chunks with the bytes still to come, then the
/// digest with `remaining_bytes` 0. Writes go on meanwhile; the stream holds at
/// most a few chunks in memory.
pub async fn start(
    server: &Arc<Server>,
) -> Result<mpsc::Receiver<Result<SnapshotResponse, Status>>, Status> {
    let permit = server
        .downloads()
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Status::unavailable("etcdserver: server stopped"))?;
    let dir = server.snap_dir().to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| Status::internal(e.to_string()))?;
    let staged = Staged(dir.join(format!("{STAGED_PREFIX}{:016x}.db", rand::random::<u64>())));
    let engine = server.store().engine().clone();
    let version = server.etcd_version().to_string();
    // etcd 3.6 and later name the storage version in every message.
    let release = crate::api::v3::downgrade::MinorVersion::of_reported(&version);
    let storage_version =
        if release >= (crate::api::v3::downgrade::MinorVersion { major: 3, minor: 6 }) {
            format!("{}.{}.0", release.major, release.minor)
        } else {
            String::new()
        };
    let (tx, rx) = mpsc::channel(QUEUED);
    let (exported_tx, exported_rx) = tokio::sync::oneshot::channel();
    // A thread of its own, at a lower CPU priority than the member's request and
    // apply threads: on a busy member the copy waits, not the writes.
    std::thread::Builder::new()
        .name("snapshot-download".into())
        .spawn(move || {
            let _permit = permit;
            crate::priority::lower_this_thread();
            let started = std::time::Instant::now();
            let exported = match super::export(&engine, &staged.0, &version) {
                Ok(e) => e,
                Err(e) => {
                    let _ = exported_tx.send(Err(e.to_string()));
                    return;
                }
            };
            tracing::info!(
                bytes = exported.size,
                revision = exported.revision,
                took_ms = started.elapsed().as_millis() as u64,
                "sending database snapshot to client"
            );
            let _ = exported_tx.send(Ok(()));
            if let Err(e) = send(&staged, exported.size, &storage_version, &tx) {
                let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
            }
        })
        .map_err(|e| Status::internal(e.to_string()))?;
    match exported_rx.await {
        Ok(Ok(())) => Ok(rx),
        Ok(Err(e)) => Err(Status::internal(e)),
        Err(_) => Err(Status::internal("snapshot download failed")),
    }
}

fn send(
    staged: &Staged,
    total: u64,
    version: &str,
    tx: &mpsc::Sender<Result<SnapshotResponse, Status>>,
) -> std::io::Result<()> {
    let mut f = std::fs::File::open(&staged.0)?;
    let mut h = Sha256::new();
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(CHUNK as u64) as usize;
        let mut buf = vec![0u8; n];
        f.read_exact(&mut buf)?;
        h.update(&buf);
        sent += n as u64;
        let msg = SnapshotResponse {
            remaining_bytes: total - sent,
            blob: buf,
            version: version.to_string(),
            header: None,
        };
        fail::fail_point!("snapshot_download_between_chunks");
        if tx.blocking_send(Ok(msg)).is_err() {
            // The client went away.
            return Ok(());
        }
    }
    let _ = tx.blocking_send(Ok(SnapshotResponse {
        remaining_bytes: 0,
        blob: h.finalize().to_vec(),
        version: version.to_string(),
        header: None,
    }));
    Ok(())
}
