//! The peer port's gRPC service: what other members send this one.
//!
//! It trusts nothing it is sent. A raft message is stepped only when its batch names
//! this cluster and this member, comes from a current member (not this one, not a
//! removed one), is a type that travels between members, and carries numbers within
//! sane bounds; snapshots arrive only through the `Snapshot` RPC, into a directory
//! the [`SnapshotInbox`] chose. Decoded bytes per call and bytes queued for the raft
//! loop are bounded; a peer past a bound is refused (raft tolerates the lost
//! messages and the sender reconnects). Refusals name no secret.

// Every refusal here becomes the RPC's answer as it is; boxing tonic's Status only
// to unbox it at each handler would buy nothing.
#![allow(clippy::result_large_err)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use ectd_proto::peer::peer_server::Peer;
use ectd_proto::peer::{
    HashKvRequest, HashKvResponse, MembersRequest, MembersResponse, MessageBatch, SnapshotAck,
    SnapshotChunk, StreamAck,
};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use tonic::{Request, Response, Status, Streaming};

use super::node::Request as RaftRequest;
use super::snapshot_inbox::SnapshotInbox;

/// Bytes of raft messages received from peers and not yet stepped by the raft loop
/// above which further batches are refused: a raft loop that far behind gains
/// nothing from more input, and memory stays bounded whatever peers send.
pub const MAX_QUEUED_BYTES: usize = 256 << 20;
/// Terms, indexes and commit indexes at or above this are refused as absurd: a
/// cluster electing a leader every millisecond would take thousands of years to
/// reach it.
const ABSURD: u64 = 1 << 48;

/// The largest gRPC message the peer port decodes: a batch of raft messages the
/// sender bounds at [`super::transport::BATCH_BYTES`], plus one message holding an
/// entry as large as the client port admits.
pub fn max_peer_message_bytes(max_request_bytes: usize) -> usize {
    super::transport::BATCH_BYTES + 2 * max_request_bytes + (4 << 20)
}

/// What the peer service needs to know about the cluster's membership.
pub trait Directory: Send + Sync {
    /// The membership, if `token` is this cluster's token; otherwise why not
    /// (without the token itself).
    fn members(&self, token: &str) -> Result<MembersResponse, String>;
    /// Whether `id` was removed from the cluster.
    fn is_removed(&self, id: u64) -> bool;
    /// Whether `id` is a current member other than this one.
    fn is_peer(&self, id: u64) -> bool;
    /// Whether this member is still running (false while it stops).
    fn serving(&self) -> bool;
}

/// Resolves once `closing` turns true or its sender is gone; never without one.
async fn closed(closing: Option<tokio::sync::watch::Receiver<bool>>) {
    match closing {
        Some(mut rx) => {
            let _ = rx.wait_for(|c| *c).await;
        }
        None => std::future::pending().await,
    }
}

/// Hashes this member's keyspace for a peer's corruption check.
pub trait KvHasher: Send + Sync {
    /// The hash of the keyspace history up to `revision` (0 = current), or
    /// etcd's error for a revision compacted or not yet written.
    fn hash_kv(&self, revision: i64) -> Result<HashKvResponse, Status>;
    /// The hash this member recorded when it compacted at `revision`, if it
    /// keeps one: cheap, nothing is hashed.
    fn compaction_hash(&self, revision: i64) -> Option<HashKvResponse>;
}

/// The metadata key marking a refusal as "you were removed"; only such a refusal
/// makes the sender stop, never a refusal for any other reason.
pub const REMOVED_MARK: &str = "ectd-member-removed";

/// Bytes handed to the raft loop and not yet stepped; dropped once stepped.
pub struct Queued {
    backlog: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.backlog.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Answers the peer port's gRPC service.
pub struct PeerService {
    cluster_id: u64,
    id: u64,
    raft: Mutex<Sender<RaftRequest>>,
    inbox: Arc<SnapshotInbox>,
    directory: Box<dyn Directory>,
    backlog: Arc<AtomicUsize>,
    received_bytes: Option<prometheus::IntCounterVec>,
    hasher: Option<Arc<dyn KvHasher>>,
    /// One hash at a time: each reads the whole history.
    hashing: Arc<tokio::sync::Semaphore>,
    /// Turns true when the member starts shutting down: open message streams end
    /// then, rather than holding the peer port open until its grace runs out.
    closing: Option<tokio::sync::watch::Receiver<bool>>,
}

impl PeerService {
    /// A peer service for member `id` of cluster `cluster_id`, feeding the raft
    /// loop through `raft`; received snapshots go to `inbox`; `directory` answers
    /// membership questions.
    pub fn new(
        cluster_id: u64,
        id: u64,
        raft: Sender<RaftRequest>,
        inbox: Arc<SnapshotInbox>,
        directory: Box<dyn Directory>,
    ) -> PeerService {
        PeerService {
            cluster_id,
            id,
            raft: Mutex::new(raft),
            inbox,
            directory,
            backlog: Arc::default(),
            received_bytes: None,
            hasher: None,
            hashing: Arc::new(tokio::sync::Semaphore::new(1)),
            closing: None,
        }
    }

    /// Ends every open message stream once `closing` turns true (or its sender
    /// is gone).
    pub fn close_on(mut self, closing: tokio::sync::watch::Receiver<bool>) -> PeerService {
        self.closing = Some(closing);
        self
    }

    /// Answers peers' hash requests with `h`.
    pub fn hash_with(mut self, h: Arc<dyn KvHasher>) -> PeerService {
        self.hasher = Some(h);
        self
    }

    /// Counts the bytes of raft messages received, per sending peer, in `v`
    /// (label `From`).
    pub fn count_received(mut self, v: prometheus::IntCounterVec) -> PeerService {
        self.received_bytes = Some(v);
        self
    }

    fn raft(&self) -> Sender<RaftRequest> {
        self.raft.lock().expect("raft sender lock").clone()
    }

    /// Checks the addressing of a batch or snapshot stream: this cluster, this
    /// member, from a current member.
    fn check_sender(&self, cluster_id: u64, from: u64, to: u64) -> Result<(), Status> {
        if cluster_id != self.cluster_id {
            return Err(Status::failed_precondition(format!(
                "cluster ID mismatch: local {:x}, remote {cluster_id:x}",
                self.cluster_id
            )));
        }
        if to != self.id {
            return Err(Status::failed_precondition(format!(
                "message for member {to:x} sent to member {:x}",
                self.id
            )));
        }
        // A member that is stopping knows nothing about anyone any more: it must not
        // tell a peer it is not a member.
        if !self.directory.serving() {
            return Err(Status::unavailable("the member is stopping"));
        }
        // A current peer is not removed: the transport's peers follow every
        // applied membership change, so the stored removals are read only for a
        // sender that is not one.
        if self.directory.is_peer(from) {
            return Ok(());
        }
        // A removed member does not learn of its removal through raft (nobody sends
        // it the log any more); it learns it here and stops.
        if self.directory.is_removed(from) {
            let mut status = Status::permission_denied(
                "the member has been permanently removed from the cluster",
            );
            status.metadata_mut().insert(
                REMOVED_MARK,
                tonic::metadata::MetadataValue::from_static("true"),
            );
            return Err(status);
        }
        Err(Status::permission_denied(format!(
            "member {from:x} is not a member of this cluster"
        )))
    }

    /// Counts `bytes` as queued for the raft loop, or refuses when too much is.
    fn enqueue(&self, bytes: usize) -> Result<Queued, Status> {
        let before = self.backlog.fetch_add(bytes, Ordering::AcqRel);
        let queued = Queued {
            backlog: self.backlog.clone(),
            bytes,
        };
        if before + bytes > MAX_QUEUED_BYTES && before > 0 {
            return Err(Status::resource_exhausted(
                "too many peer messages are waiting for the raft loop",
            ));
        }
        Ok(queued)
    }
}

/// Decodes a raft message from a batch sent by `from` to `to` and checks it is one
/// a member may send another over the stream.
fn vet(raw: &[u8], from: u64, to: u64) -> Result<Message, Status> {
    let mut m = Message::default();
    m.merge_from_bytes(raw)
        .map_err(|e| Status::invalid_argument(format!("undecodable raft message: {e}")))?;
    if m.from != from || m.to != to {
        return Err(Status::invalid_argument(
            "a raft message's sender or recipient differs from its batch's",
        ));
    }
    use MessageType::*;
    match m.get_msg_type() {
        MsgAppend
        | MsgAppendResponse
        | MsgRequestVote
        | MsgRequestVoteResponse
        | MsgRequestPreVote
        | MsgRequestPreVoteResponse
        | MsgHeartbeat
        | MsgHeartbeatResponse
        | MsgPropose
        | MsgReadIndex
        | MsgReadIndexResp
        | MsgTransferLeader
        | MsgTimeoutNow => {}
        // Snapshots come only through the Snapshot RPC; the rest are the raft
        // loop's own signals and never travel.
        other => {
            return Err(Status::invalid_argument(format!(
                "a {other:?} is not accepted on the peer stream"
            )))
        }
    }
    let absurd = [m.term, m.log_term, m.index, m.commit, m.reject_hint]
        .into_iter()
        .chain(m.get_entries().iter().flat_map(|e| [e.term, e.index]))
        .any(|n| n >= ABSURD);
    if absurd {
        return Err(Status::invalid_argument(
            "a raft message carries an out-of-range term or index",
        ));
    }
    Ok(m)
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn stream(
        &self,
        req: Request<Streaming<MessageBatch>>,
    ) -> Result<Response<StreamAck>, Status> {
        let mut stream = req.into_inner();
        let raft = self.raft();
        let mut received: Option<(u64, prometheus::IntCounter)> = None;
        let closing = closed(self.closing.clone());
        tokio::pin!(closing);
        loop {
            let batch = tokio::select! {
                next = stream.message() => match next? {
                    Some(batch) => batch,
                    None => break,
                },
                () = &mut closing => {
                    return Err(Status::unavailable("member is stopping"));
                }
            };
            self.check_sender(batch.cluster_id, batch.from, batch.to)?;
            if let Some(v) = &self.received_bytes {
                if received
                    .as_ref()
                    .is_none_or(|(from, _)| *from != batch.from)
                {
                    let c = v.with_label_values(&[&format!("{:x}", batch.from)]);
                    received = Some((batch.from, c));
                }
                let bytes: usize = batch.messages.iter().map(Vec::len).sum();
                if let Some((_, c)) = &received {
                    c.inc_by(bytes as u64);
                }
            }
            let mut vetted = Vec::with_capacity(batch.messages.len());
            for raw in &batch.messages {
                vetted.push((vet(raw, batch.from, self.id)?, raw.len()));
            }
            for (m, bytes) in vetted {
                let queued = self.enqueue(bytes)?;
                if raft.send(RaftRequest::Step(m, queued)).is_err() {
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
        self.check_sender(first.cluster_id, first.from, first.to)?;
        let mut m = Message::default();
        m.merge_from_bytes(&first.message)
            .map_err(|e| Status::invalid_argument(format!("undecodable snapshot message: {e}")))?;
        if m.get_msg_type() != MessageType::MsgSnapshot || m.from != first.from || m.to != self.id {
            return Err(Status::invalid_argument(
                "the first snapshot chunk must carry a MsgSnapshot from its sender",
            ));
        }
        let md = m.get_snapshot().get_metadata();
        if [m.term, md.index, md.term].into_iter().any(|n| n >= ABSURD) {
            return Err(Status::invalid_argument(
                "a snapshot carries an out-of-range term or index",
            ));
        }
        let mut incoming = self.inbox.begin()?;
        incoming.receive(&mut stream, &first.files).await?;
        // Whatever the sender put in `data` is replaced: the raft loop finds the
        // files through the inbox, by a number only this member hands out.
        m.mut_snapshot().data = incoming.token().into();
        incoming.deliver();
        let queued = self.enqueue(0)?;
        if self.raft().send(RaftRequest::Step(m, queued)).is_err() {
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

    async fn hash_kv(
        &self,
        req: Request<HashKvRequest>,
    ) -> Result<Response<HashKvResponse>, Status> {
        let r = req.into_inner();
        self.check_sender(r.cluster_id, r.from, self.id)?;
        let hasher = self
            .hasher
            .clone()
            .ok_or_else(|| Status::unimplemented("this member does not hash its keyspace"))?;
        if r.recorded {
            if let Some(h) = hasher.compaction_hash(r.revision) {
                return Ok(Response::new(h));
            }
        }
        let _turn = self
            .hashing
            .acquire()
            .await
            .map_err(|_| Status::unavailable("the member is stopping"))?;
        tokio::task::spawn_blocking(move || hasher.hash_kv(r.revision))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map(Response::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::prelude::Entry;

    fn encoded(m: &Message) -> Vec<u8> {
        m.write_to_bytes().unwrap()
    }

    fn msg(t: MessageType, from: u64, to: u64) -> Message {
        let mut m = Message::default();
        m.set_msg_type(t);
        m.from = from;
        m.to = to;
        m.term = 3;
        m
    }

    #[test]
    fn only_messages_members_exchange_pass() {
        let ok = msg(MessageType::MsgAppend, 1, 2);
        assert!(vet(&encoded(&ok), 1, 2).is_ok());
        for t in [
            MessageType::MsgSnapshot,
            MessageType::MsgHup,
            MessageType::MsgBeat,
            MessageType::MsgUnreachable,
            MessageType::MsgSnapStatus,
            MessageType::MsgCheckQuorum,
        ] {
            assert!(vet(&encoded(&msg(t, 1, 2)), 1, 2).is_err(), "{t:?}");
        }
        // Sender or recipient other than the batch's.
        assert!(vet(&encoded(&ok), 7, 2).is_err());
        assert!(vet(&encoded(&ok), 1, 9).is_err());
        // Absurd numbers.
        let mut absurd = msg(MessageType::MsgHeartbeat, 1, 2);
        absurd.commit = u64::MAX;
        assert!(vet(&encoded(&absurd), 1, 2).is_err());
        let mut absurd = msg(MessageType::MsgAppend, 1, 2);
        absurd.mut_entries().push(Entry {
            index: ABSURD,
            ..Default::default()
        });
        assert!(vet(&encoded(&absurd), 1, 2).is_err());
        let mut absurd = msg(MessageType::MsgRequestVote, 1, 2);
        absurd.term = u64::MAX;
        assert!(vet(&encoded(&absurd), 1, 2).is_err());
        // Garbage.
        assert!(vet(&[0xff, 0xff, 0xff, 0x01, 0x02], 1, 2).is_err());
    }
}
