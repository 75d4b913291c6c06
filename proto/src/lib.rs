//! Wire types and gRPC stubs for ectd.
//!
//! The packages `mvccpb`, `authpb`, `etcdserverpb`, `v3lockpb` and
//! `v3electionpb` are wire-compatible with etcd's v3 API (as of etcd 3.6):
//! package, service, method, message, field and enum names, field numbers,
//! field types and enum values are identical, so etcd's own clients can talk
//! to ectd unchanged and messages encoded by either side decode on the other.
//! Rust identifiers follow prost's conventions (`peerURLs` becomes
//! `peer_ur_ls`, `TTL` becomes `ttl`, `HashKVRequest` becomes
//! `HashKvRequest`, service `KV` becomes `kv_server::Kv`), which does not
//! affect the wire.
//!
//! `raftcmd` is ectd's own: the payload of its raft log entries. It reuses
//! the `etcdserverpb` request messages but is never seen by clients. `peer`
//! is ectd's own member-to-member protocol on the peer port.
//!
//! Each package is a sibling module so that cross-package references in the
//! generated code (`super::mvccpb::KeyValue`) resolve.

pub use prost_types;

/// Every package above as a `FileDescriptorSet` (`prost_types`): field names,
/// numbers and types, read by the JSON gateway to decode requests as etcd's
/// gateway does.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// Keys, values and change events (`mvccpb`).
#[allow(clippy::all)]
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
    include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
}

/// Users, roles and permissions (`authpb`).
#[allow(clippy::all)]
pub mod authpb {
    tonic::include_proto!("authpb");
    include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
}

/// The KV, Watch, Lease, Cluster, Maintenance and Auth services
/// (`etcdserverpb`).
#[allow(clippy::all)]
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
}

/// The Lock service (`v3lockpb`).
#[allow(clippy::all)]
pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.serde.rs"));
}

/// The Election service (`v3electionpb`).
#[allow(clippy::all)]
pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.serde.rs"));
}

/// Member-to-member traffic on the peer port (`peer`), ectd's own.
#[allow(clippy::all)]
pub mod peer {
    tonic::include_proto!("peer");
}

/// ectd's raft log entry payload (`raftcmd`).
#[allow(clippy::all)]
pub mod raftcmd {
    tonic::include_proto!("raftcmd");
}
