//! Consensus: the raft loop that owns raft-rs's `RawNode`, its log storage and the
//! WAL. It knows nothing of what entries mean; committed entries leave it over a
//! channel that `server.rs` wires to the apply task.

mod logger;
mod node;
mod peer_service;
mod snapshot_inbox;
mod storage;
mod transport;

pub use node::{
    channel, spawn, Durable, Progress, RaftHandle, RaftSettings, RaftStatus, Request, ToApply,
};
pub use peer_service::{max_peer_message_bytes, Directory, KvHasher, PeerService};
pub use snapshot_inbox::SnapshotInbox;
pub use storage::{LogStore, SnapshotSource};
pub use transport::Transport;
