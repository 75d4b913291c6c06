//! ectd's member: a key-value store that speaks etcd's v3 protocol, replicated with
//! raft, keeping its MVCC keyspace in RocksDB.
//!
//! Data flows top to bottom:
//!
//! - [`api`]: gRPC and HTTP facades — check requests, call the server, map errors.
//! - [`server`]: proposals waited on by request id, linearizable read barrier.
//! - [`raft`]: the raft loop, sole owner of raft-rs's `RawNode`; hands committed
//!   entries to apply over a channel.
//! - [`apply`]: decodes commands and changes the store, one write batch per row of
//!   key-value entries (any other entry alone), then tells the [`watch`] hub of the
//!   changes and the [`lease`] lessor of lease changes.
//! - [`alarm`]: raised alarms (NOSPACE, CORRUPT) and the backend quota.
//! - [`downgrade`]: the cluster's downgrade state.
//! - [`metrics`]: Prometheus metrics under etcd's names.
//! - [`mvcc`]: etcd's revision model over [`engine`] (RocksDB).
//! - [`wal`]: the raft log on disk.
//!
//! [`bootstrap`] opens a data directory; [`run`] serves a member until shutdown on
//! the [`listener`]s, with [`tls`] where the URLs are `https://`; [`failpoints`]
//! names the spots fault-injection tests can interrupt; [`priority`] keeps
//! background threads (compaction, snapshot downloads) behind requests.

pub mod alarm;
pub mod api;
pub mod apply;
pub mod auth;
pub mod backup;
pub mod bootstrap;
pub mod coalesce;
pub mod config;
pub mod downgrade;
pub mod engine;
pub mod error;
pub mod failpoints;
pub mod lease;
pub mod listener;
pub mod membership;
pub mod metrics;
pub mod mvcc;
pub mod priority;
pub mod raft;
pub mod reconfig;
pub mod run;
pub mod server;
pub mod snapshot;
pub mod tls;
pub mod v2;
pub mod wal;
pub mod watch;

pub use config::Config;
pub use run::run;
