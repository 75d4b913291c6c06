//! Raft traffic between members over gRPC on the peer port.
//!
//! Sending: one task per peer drains that peer's queue into a long-lived client
//! stream, in batches. A peer that cannot be reached is reported to raft
//! (`report_unreachable`) and reconnected with backoff; messages queued meanwhile are
//! dropped, which raft tolerates. Receiving: [`PeerService`] checks the cluster id and
//! hands every message to the raft loop.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ectd_proto::peer::peer_client::PeerClient;
use ectd_proto::peer::peer_server::Peer;
use ectd_proto::peer::{
    MembersRequest, MembersResponse, MessageBatch, SnapshotAck, SnapshotChunk, SnapshotFile,
    StreamAck,
};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::node::Request as RaftRequest;

/// Messages queued for one peer before further ones are dropped.
const QUEUE_LEN: usize = 4096;
/// Most messages sent in one batch.
const BATCH_LEN: usize = 512;

struct PeerLink {
    urls: Vec<String>,
    queue: mpsc::Sender<Message>,
    task: tokio::task::JoinHandle<()>,
}

/// Sends raft messages to the other members.
pub struct Transport {
    cluster_id: u64,
    id: u64,
    raft: Sender<RaftRequest>,
    removed: Arc<tokio::sync::Notify>,
    runtime: tokio::runtime::Handle,
    peers: Mutex<HashMap<u64, PeerLink>>,
}

impl Transport {
    /// A transport for member `id` of cluster `cluster_id`; feedback (unreachable
    /// peers) goes to the raft loop through `raft`, and `removed` is notified when a
    /// peer refuses this member as removed from the cluster. Must be created inside
    /// a tokio runtime; its tasks run there.
    pub fn new(
        cluster_id: u64,
        id: u64,
        raft: Sender<RaftRequest>,
        removed: Arc<tokio::sync::Notify>,
    ) -> Arc<Transport> {
        Arc::new(Transport {
            cluster_id,
            id,
            raft,
            removed,
            runtime: tokio::runtime::Handle::current(),
            peers: Mutex::new(HashMap::new()),
        })
    }

    /// Sets the peers to talk to (every member but this one) and their peer URLs.
    pub fn set_peers(&self, peers: &[(u64, Vec<String>)]) {
        let mut links = self.peers.lock().expect("peers lock");
        links.retain(|id, link| {
            let keep = peers.iter().any(|(p, urls)| p == id && *urls == link.urls);
            if !keep {
                link.task.abort();
            }
            keep
        });
        for (id, urls) in peers {
            if *id == self.id || links.contains_key(id) {
                continue;
            }
            let (tx, rx) = mpsc::channel(QUEUE_LEN);
            let task = self.runtime.spawn(run_link(
                self.cluster_id,
                self.id,
                *id,
                urls.clone(),
                rx,
                self.raft.clone(),
                self.removed.clone(),
            ));
            links.insert(
                *id,
                PeerLink {
                    urls: urls.clone(),
                    queue: tx,
                    task,
                },
            );
        }
    }

    /// Queues `msgs` for their recipients without blocking; messages to unknown or
    /// saturated peers are dropped and the peer reported unreachable.
    pub fn send(&self, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        let links = self.peers.lock().expect("peers lock");
        for m in msgs {
            let to = m.to;
            if m.get_msg_type() == MessageType::MsgSnapshot {
                match links.get(&to) {
                    Some(link) => {
                        self.runtime.spawn(send_snapshot(
                            self.cluster_id,
                            self.id,
                            link.urls.clone(),
                            m,
                            self.raft.clone(),
                        ));
                    }
                    None => {
                        let _ = self
                            .raft
                            .send(RaftRequest::ReportSnapshot { to, ok: false });
                    }
                }
                continue;
            }
            let delivered = links.get(&to).is_some_and(|l| l.queue.try_send(m).is_ok());
            if !delivered {
                let _ = self.raft.send(RaftRequest::Unreachable(to));
            }
        }
    }

    /// Stops every link.
    pub fn stop(&self) {
        for (_, link) in self.peers.lock().expect("peers lock").drain() {
            link.task.abort();
        }
    }
}

fn http_url(u: &str) -> String {
    if u.starts_with("http://") || u.starts_with("https://") {
        u.to_string()
    } else {
        format!("http://{u}")
    }
}

async fn connect(urls: &[String]) -> Option<PeerClient<tonic::transport::Channel>> {
    for u in urls {
        let Ok(ep) = tonic::transport::Endpoint::from_shared(http_url(u)) else {
            continue;
        };
        let ep = ep
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Ok(ch) = ep.connect().await {
            return Some(
                PeerClient::new(ch)
                    .max_decoding_message_size(usize::MAX)
                    .max_encoding_message_size(usize::MAX),
            );
        }
    }
    None
}

async fn run_link(
    cluster_id: u64,
    from: u64,
    to: u64,
    urls: Vec<String>,
    mut queue: mpsc::Receiver<Message>,
    raft: Sender<RaftRequest>,
    removed: Arc<tokio::sync::Notify>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(mut client) = connect(&urls).await else {
            let _ = raft.send(RaftRequest::Unreachable(to));
            while queue.try_recv().is_ok() {}
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            continue;
        };
        backoff = Duration::from_millis(50);
        let (tx, rx) = mpsc::channel::<MessageBatch>(16);
        let call = tokio::spawn(async move {
            client
                .stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
        });
        tracing::debug!(peer = format!("{to:x}"), "peer stream open");
        loop {
            let Some(first) = queue.recv().await else {
                call.abort();
                return;
            };
            let mut messages = vec![first.write_to_bytes().expect("encoding a raft message")];
            while messages.len() < BATCH_LEN {
                match queue.try_recv() {
                    Ok(m) => messages.push(m.write_to_bytes().expect("encoding a raft message")),
                    Err(_) => break,
                }
            }
            let batch = MessageBatch {
                cluster_id,
                from,
                to,
                messages,
            };
            if tx.send(batch).await.is_err() {
                break;
            }
        }
        // The stream ended: find out whether the peer refused us as removed.
        drop(tx);
        if let Ok(Ok(Err(status))) = tokio::time::timeout(Duration::from_millis(200), call).await {
            if status.code() == tonic::Code::PermissionDenied {
                tracing::warn!(peer = format!("{to:x}"), "{}", status.message());
                removed.notify_one();
                return;
            }
        }
        let _ = raft.send(RaftRequest::Unreachable(to));
        tracing::debug!(peer = format!("{to:x}"), "peer stream broke; reconnecting");
    }
}

/// Bytes of snapshot data per chunk.
const SNAPSHOT_CHUNK: usize = 1 << 20;

/// Streams the snapshot a MsgSnapshot names (its data is the export directory) and
/// reports the outcome to raft.
async fn send_snapshot(
    cluster_id: u64,
    from: u64,
    urls: Vec<String>,
    m: Message,
    raft: Sender<RaftRequest>,
) {
    let to = m.to;
    fail::fail_point!("snapshot_before_send");
    let ok = match stream_snapshot(cluster_id, from, &urls, m).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(peer = format!("{to:x}"), error = %e, "sending a snapshot failed");
            false
        }
    };
    let _ = raft.send(RaftRequest::ReportSnapshot { to, ok });
    if !ok {
        let _ = raft.send(RaftRequest::Unreachable(to));
    }
}

async fn stream_snapshot(
    cluster_id: u64,
    from: u64,
    urls: &[String],
    m: Message,
) -> Result<(), String> {
    let dir =
        std::path::PathBuf::from(String::from_utf8_lossy(&m.get_snapshot().data).into_owned());
    let mut chunks = vec![SnapshotChunk {
        cluster_id,
        from,
        to: m.to,
        message: m.write_to_bytes().map_err(|e| e.to_string())?,
        file: String::new(),
        data: Vec::new(),
        files: Vec::new(),
    }];
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let data = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        chunks[0].files.push(SnapshotFile {
            name: name.clone(),
            size: data.len() as u64,
            crc32: crc32fast::hash(&data),
        });
        for part in data.chunks(SNAPSHOT_CHUNK) {
            chunks.push(SnapshotChunk {
                cluster_id,
                from,
                to: m.to,
                message: Vec::new(),
                file: name.clone(),
                data: part.to_vec(),
                files: Vec::new(),
            });
        }
    }
    let mut client = connect(urls).await.ok_or("peer unreachable")?;
    client
        .snapshot(futures::stream::iter(chunks))
        .await
        .map_err(|e| e.message().to_string())?;
    Ok(())
}

/// Writes a snapshot stream's files into `dir` (created), then checks every file the
/// sender listed arrived whole (size and CRC-32) and nothing else did.
async fn receive_files(
    stream: &mut Streaming<SnapshotChunk>,
    dir: &std::path::Path,
    manifest: &[SnapshotFile],
) -> Result<(), Status> {
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| Status::internal(format!("{}: {e}", dir.display()));
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let mut got: HashMap<String, (u64, crc32fast::Hasher)> = HashMap::new();
    while let Some(chunk) = stream.message().await? {
        let name = std::path::Path::new(&chunk.file);
        if chunk.file.is_empty() || name.components().count() != 1 {
            return Err(Status::invalid_argument("bad snapshot file name"));
        }
        if !manifest.iter().any(|f| f.name == chunk.file) {
            return Err(Status::invalid_argument(format!(
                "snapshot file {} is not in the snapshot's file list",
                chunk.file
            )));
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
            .await
            .map_err(io)?;
        f.write_all(&chunk.data).await.map_err(io)?;
        f.sync_all().await.map_err(io)?;
        let (size, crc) = got.entry(chunk.file).or_default();
        *size += chunk.data.len() as u64;
        crc.update(&chunk.data);
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

/// What the peer service needs to know about the cluster's membership.
pub trait Directory: Send + Sync {
    /// The membership, if `token` is this cluster's token; otherwise why not.
    fn members(&self, token: &str) -> Result<MembersResponse, String>;
    /// Whether `id` was removed from the cluster.
    fn is_removed(&self, id: u64) -> bool;
}

/// Answers the peer port's gRPC service.
pub struct PeerService {
    cluster_id: u64,
    raft: Mutex<Sender<RaftRequest>>,
    snap_dir: std::path::PathBuf,
    directory: Box<dyn Directory>,
    /// Numbers incoming snapshot streams, for their directories.
    streams: std::sync::atomic::AtomicU64,
}

impl PeerService {
    /// A peer service for cluster `cluster_id` feeding the raft loop; `members`
    /// answers membership queries for a given cluster token.
    pub fn new(
        cluster_id: u64,
        raft: Sender<RaftRequest>,
        snap_dir: std::path::PathBuf,
        directory: Box<dyn Directory>,
    ) -> PeerService {
        PeerService {
            cluster_id,
            raft: Mutex::new(raft),
            snap_dir,
            directory,
            streams: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn check_cluster(&self, id: u64) -> Result<(), Box<Status>> {
        if id != self.cluster_id {
            return Err(Box::new(Status::failed_precondition(format!(
                "cluster ID mismatch: local {:x}, remote {id:x}",
                self.cluster_id
            ))));
        }
        Ok(())
    }

    fn raft(&self) -> Sender<RaftRequest> {
        self.raft.lock().expect("raft sender lock").clone()
    }
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn stream(
        &self,
        req: Request<Streaming<MessageBatch>>,
    ) -> Result<Response<StreamAck>, Status> {
        let mut stream = req.into_inner();
        let raft = self.raft();
        while let Some(batch) = stream.message().await? {
            self.check_cluster(batch.cluster_id).map_err(|e| *e)?;
            // A removed member does not learn of its removal through raft (nobody
            // sends it the log any more); it learns it here and stops.
            if self.directory.is_removed(batch.from) {
                return Err(Status::permission_denied(
                    "the member has been permanently removed from the cluster",
                ));
            }
            for raw in batch.messages {
                let mut m = Message::default();
                m.merge_from_bytes(&raw).map_err(|e| {
                    Status::invalid_argument(format!("undecodable raft message: {e}"))
                })?;
                if raft.send(RaftRequest::Step(m)).is_err() {
                    return Err(Status::unavailable("member is stopping"));
                }
            }
        }
        Ok(Response::new(StreamAck {}))
    }

    async fn snapshot(
        &self,
        req: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<SnapshotAck>, Status> {
        let mut stream = req.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
        self.check_cluster(first.cluster_id).map_err(|e| *e)?;
        let mut m = Message::default();
        m.merge_from_bytes(&first.message)
            .map_err(|e| Status::invalid_argument(format!("undecodable snapshot message: {e}")))?;
        let index = m.get_snapshot().get_metadata().index;
        // Each stream gets its own directory: a retried send of the same snapshot must
        // never append into files another stream (or an earlier run of this member,
        // stopped mid-install) left there.
        let stream_no = self
            .streams
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nonce: u32 = rand::random();
        let dir = self.snap_dir.join(format!(
            "in-{:x}-{index}-{stream_no}-{nonce:08x}",
            first.from
        ));
        let received = receive_files(&mut stream, &dir, &first.files).await;
        if let Err(status) = received {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(status);
        }
        m.mut_snapshot().data = dir.to_string_lossy().as_bytes().to_vec().into();
        if self.raft().send(RaftRequest::Step(m)).is_err() {
            return Err(Status::unavailable("member is stopping"));
        }
        Ok(Response::new(SnapshotAck {}))
    }

    async fn members(
        &self,
        req: Request<MembersRequest>,
    ) -> Result<Response<MembersResponse>, Status> {
        self.directory
            .members(&req.into_inner().cluster_token)
            .map(Response::new)
            .map_err(Status::failed_precondition)
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
}
