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
//! Over TLS, [`Client::connect_tls`] takes the same endpoints and a
//! [`TlsOptions`] with the files etcdctl takes as `--cacert`, `--cert` and
//! `--key`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), ectd_client::Error> {
//! use ectd_client::{Client, ConnectOptions, TlsOptions};
//!
//! let tls = TlsOptions {
//!     ca_file: Some("/etc/ectd/ca.pem".into()),
//!     cert_file: Some("/etc/ectd/client.pem".into()),
//!     key_file: Some("/etc/ectd/client.key".into()),
//!     ..Default::default()
//! };
//! let endpoints = ["https://etcd-0.example:2379".to_string()];
//! let client = Client::connect_tls(&endpoints, ConnectOptions::default(), &tls).await?;
//! client.put_kv("foo", "bar").await?;
//! # Ok(())
//! # }
//! ```
//!
//! Cluster operations follow the same style: [`Client::member_list`],
//! [`Client::member_add`], [`Client::status`], [`Client::move_leader`], …
//! take and return the `etcdserverpb` messages, and
//! [`Client::endpoint_status`] asks one particular endpoint.
//!
//! Beyond single calls:
//!
//! - leases: [`Client::lease_grant`], [`Client::lease_time_to_live`], … and
//!   a [`LeaseKeeper`] that renews one lease in the background;
//! - watches: [`Client::open_watch`] returns a [`Watcher`] that resumes
//!   after a broken stream without losing or repeating an event;
//! - locks and elections: [`Client::acquire_lock`], [`Client::campaign`],
//!   [`Client::observe`], … and a [`LeasedMutex`] that manages its lease.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ectd_client::Error> {
//! use ectd_client::{Client, KeyRange};
//! use ectd_client::proto::etcdserverpb::WatchCreateRequest;
//!
//! let client = Client::connect(&["127.0.0.1:2379".to_string()]).await?;
//! let range = KeyRange::prefix("jobs/");
//! let create = WatchCreateRequest {
//!     key: range.key,
//!     range_end: range.range_end,
//!     prev_kv: true,
//!     ..Default::default()
//! };
//! let mut watcher = client.open_watch(create).await?;
//! while let Some(resp) = watcher.recv().await {
//!     for event in resp?.events {
//!         println!("{:?}", event.kv);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! With authentication enabled on the server, [`Client::with_credentials`]
//! logs in and every later call carries the token, renewed when the server
//! refuses it; users, roles and permissions are managed with
//! [`Client::user_add`], [`Client::role_grant_permission`], … and
//! [`Client::auth_enable`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), ectd_client::Error> {
//! use ectd_client::{Client, Credentials};
//!
//! let client = Client::connect(&["127.0.0.1:2379".to_string()])
//!     .await?
//!     .with_credentials(Credentials::new("root", "secret"))
//!     .await?;
//! client.put_kv("foo", "bar").await?;
//! # Ok(())
//! # }
//! ```
//!
//! etcd's v2 HTTP API (`/v2/keys`, `/v2/members`), which ectd serves with
//! `--enable-v2`, has a client of its own in [`v2`].
//!
//! The crate also ships `ectl`, a command-line tool that is flag- and
//! output-compatible with `etcdctl` 3.4 for the key-value commands, the
//! cluster commands (`member`, `endpoint`, `move-leader`), `watch`,
//! `lease`, `lock`, `elect`, and `auth`, `user` and `role`.

#![warn(missing_docs)]

mod auth;
mod client;
mod cluster;
mod election;
mod error;
mod keep_alive;
mod lease;
mod link;
mod lock;
mod range;
mod tls;
mod token;
pub mod v2;
mod watch;

pub use client::{Client, ConnectOptions, TokenChannel};
pub use error::Error;
pub use keep_alive::{KeepAliveEnd, KeepAliveState, LeaseKeeper};
pub use lock::{HeldLock, LeasedMutex};
pub use range::{prefix_range_end, KeyRange};
pub use tls::TlsOptions;
pub use token::{Credentials, TokenInterceptor};
pub use watch::{is_progress_notify, ProgressRequester, Watcher};

/// The wire types and gRPC stubs (`etcdserverpb`, `mvccpb`, …) the client
/// speaks, re-exported so callers need no direct dependency on `ectd-proto`
/// and always use the same version as the client.
pub use ectd_proto as proto;
