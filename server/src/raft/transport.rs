//! Raft traffic between members over gRPC on the peer port.
//!
//! Sending: one task per peer drains that peer's queue into a long-lived client
//! stream, in batches. A peer that cannot be reached is reported to raft
//! (`report_unreachable`) and reconnected with backoff; messages queued meanwhile are
//! dropped, which raft tolerates. Receiving is [`super::peer_service`]'s.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ectd_proto::peer::peer_client::PeerClient;
use ectd_proto::peer::{MessageBatch, SnapshotChunk, SnapshotFile};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use tokio::sync::mpsc;

use super::node::Request as RaftRequest;
use super::snapshot_inbox::SnapshotInbox;

/// Messages queued for one peer before further ones are dropped.
const QUEUE_LEN: usize = 4096;
/// Most messages sent in one batch.
const BATCH_LEN: usize = 512;
/// A batch stops growing once its messages hold this many bytes (the receiver
/// bounds what it decodes accordingly).
pub const BATCH_BYTES: usize = 8 << 20;

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
    inbox: Arc<SnapshotInbox>,
    tls: Option<Arc<rustls::ClientConfig>>,
    stopped: std::sync::atomic::AtomicBool,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Transport {
    /// A transport for member `id` of cluster `cluster_id`; feedback (unreachable
    /// peers) goes to the raft loop through `raft`, and `removed` is notified when a
    /// peer refuses this member as removed from the cluster; snapshots received
    /// from the leader wait in `inbox`; `https://` peers are reached with `tls`.
    /// Must be created inside a tokio runtime; its tasks run there.
    pub fn new(
        cluster_id: u64,
        id: u64,
        raft: Sender<RaftRequest>,
        removed: Arc<tokio::sync::Notify>,
        inbox: Arc<SnapshotInbox>,
        tls: Option<Arc<rustls::ClientConfig>>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Arc<Transport> {
        Arc::new(Transport {
            cluster_id,
            id,
            raft,
            removed,
            runtime: tokio::runtime::Handle::current(),
            peers: Mutex::new(HashMap::new()),
            inbox,
            tls,
            stopped: Default::default(),
            metrics,
        })
    }

    /// Where snapshots received from the leader wait for the raft loop.
    pub fn inbox(&self) -> &Arc<SnapshotInbox> {
        &self.inbox
    }

    /// Whether `id` is one of the members this one talks to.
    pub fn is_peer(&self, id: u64) -> bool {
        self.peers.lock().expect("peers lock").contains_key(&id)
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
                Link {
                    cluster_id: self.cluster_id,
                    from: self.id,
                    to: *id,
                    urls: urls.clone(),
                    tls: self.tls.clone(),
                },
                PeerCounters {
                    sent_bytes: self
                        .metrics
                        .peer_sent
                        .with_label_values(&[&format!("{id:x}")]),
                    failures: self
                        .metrics
                        .peer_sent_failures
                        .with_label_values(&[&format!("{id:x}")]),
                },
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
                            Link {
                                cluster_id: self.cluster_id,
                                from: self.id,
                                to,
                                urls: link.urls.clone(),
                                tls: self.tls.clone(),
                            },
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
            let heartbeat = m.get_msg_type() == MessageType::MsgHeartbeat;
            let delivered = links.get(&to).is_some_and(|l| l.queue.try_send(m).is_ok());
            if !delivered {
                if heartbeat {
                    self.metrics.heartbeat_send_failures.inc();
                }
                let _ = self.raft.send(RaftRequest::Unreachable(to));
            }
        }
    }

    /// Whether [`Transport::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Stops every link.
    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        for (_, link) in self.peers.lock().expect("peers lock").drain() {
            link.task.abort();
        }
    }
}

async fn connect(
    urls: &[String],
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Option<PeerClient<tonic::transport::Channel>> {
    for u in urls {
        match crate::tls::connect::channel(u, tls, Duration::from_secs(1)).await {
            Ok(ch) => {
                return Some(
                    PeerClient::new(ch)
                        .max_decoding_message_size(usize::MAX)
                        .max_encoding_message_size(usize::MAX),
                )
            }
            Err(e) => tracing::debug!(error = %e, "dialing a peer failed"),
        }
    }
    None
}

/// One peer's transport counters, resolved when its link starts.
struct PeerCounters {
    sent_bytes: prometheus::IntCounter,
    failures: prometheus::IntCounter,
}

/// Where one peer is and how to reach it.
struct Link {
    cluster_id: u64,
    from: u64,
    to: u64,
    urls: Vec<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

async fn run_link(
    link: Link,
    counters: PeerCounters,
    mut queue: mpsc::Receiver<Message>,
    raft: Sender<RaftRequest>,
    removed: Arc<tokio::sync::Notify>,
) {
    let Link {
        cluster_id,
        from,
        to,
        ..
    } = link;
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(mut client) = connect(&link.urls, link.tls.as_ref()).await else {
            counters.failures.inc();
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
            let mut bytes = messages[0].len();
            while messages.len() < BATCH_LEN && bytes < BATCH_BYTES {
                match queue.try_recv() {
                    Ok(m) => {
                        let raw = m.write_to_bytes().expect("encoding a raft message");
                        bytes += raw.len();
                        messages.push(raw);
                    }
                    Err(_) => break,
                }
            }
            counters.sent_bytes.inc_by(bytes as u64);
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
            // Only a refusal marked as a removal stops this member: a peer that has
            // not yet applied our addition also refuses us, and must not.
            if status.code() == tonic::Code::PermissionDenied
                && status
                    .metadata()
                    .get(super::peer_service::REMOVED_MARK)
                    .is_some()
            {
                tracing::warn!(peer = format!("{to:x}"), "{}", status.message());
                removed.notify_one();
                return;
            }
        }
        counters.failures.inc();
        let _ = raft.send(RaftRequest::Unreachable(to));
        tracing::debug!(peer = format!("{to:x}"), "peer stream broke; reconnecting");
    }
}

/// Bytes of snapshot data per chunk.
const SNAPSHOT_CHUNK: usize = 1 << 20;

/// Streams the snapshot a MsgSnapshot names (its data is the export directory) and
/// reports the outcome to raft.
async fn send_snapshot(link: Link, m: Message, raft: Sender<RaftRequest>) {
    let to = m.to;
    fail::fail_point!("snapshot_before_send");
    let ok = match stream_snapshot(&link, m).await {
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

async fn stream_snapshot(link: &Link, mut m: Message) -> Result<(), String> {
    let (cluster_id, from) = (link.cluster_id, link.from);
    // `data` names the export directory on this member's disk; the receiver picks
    // its own location, so the path does not travel.
    let dir = std::path::PathBuf::from(
        String::from_utf8_lossy(&std::mem::take(&mut m.mut_snapshot().data)).into_owned(),
    );
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
    let mut client = connect(&link.urls, link.tls.as_ref())
        .await
        .ok_or("peer unreachable")?;
    client
        .snapshot(futures::stream::iter(chunks))
        .await
        .map_err(|e| e.message().to_string())?;
    Ok(())
}
