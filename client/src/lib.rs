//! Async client for ectd and for any server that speaks etcd's v3 gRPC API.
//!
//! The client deliberately stays close to the wire: the typed methods on
//! [`Client`] take and return the raw `etcdserverpb` messages, so every field
//! etcd defines (revisions, sort options, `prev_kv`, compare targets, …) is
//! reachable without waiting for a wrapper to grow an option. Services that
//! have no typed method yet are available through the raw tonic clients
//! ([`Client::kv`], [`Client::watch`], [`Client::lease`], …).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ectd_client::Error> {
//! use ectd_client::{Client, KeyRange};
//! use ectd_client::proto::etcdserverpb::RangeRequest;
//!
//! let client = Client::connect(&["127.0.0.1:2379".to_string()]).await?;
//! client.put_kv("foo/a", "1").await?;
//! let range = KeyRange::prefix("foo/");
//! let resp = client
//!     .range(RangeRequest { key: range.key, range_end: range.range_end, ..Default::default() })
//!     .await?;
//! assert_eq!(resp.count, 1);
//! # Ok(())
//! # }
//! ```
//!
//! Cluster operations follow the same style: [`Client::member_list`],
//! [`Client::member_add`], [`Client::status`], [`Client::move_leader`], …
//! take and return the `etcdserverpb` messages, and
//! [`Client::endpoint_status`] asks one particular endpoint.
//!
//! The crate also ships `ectl`, a command-line tool that is flag- and
//! output-compatible with `etcdctl` 3.4 for the key-value commands and the
//! cluster commands (`member`, `endpoint`, `move-leader`).

#![warn(missing_docs)]

mod client;
mod cluster;
mod error;
mod range;

pub use client::{Client, ConnectOptions};
pub use error::Error;
pub use range::{prefix_range_end, KeyRange};

/// The wire types and gRPC stubs (`etcdserverpb`, `mvccpb`, …) the client
/// speaks, re-exported so callers need no direct dependency on `ectd-proto`
/// and always use the same version as the client.
pub use ectd_proto as proto;
