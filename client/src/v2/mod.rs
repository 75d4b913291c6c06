//! A client for etcd's v2 HTTP API, which ectd serves with `--enable-v2`
//! (as etcd 3.4 does): the keys API (`/v2/keys`), the members API
//! (`/v2/members`), `/v2/machines` and `/health`.
//!
//! The v2 store is a tree of keys and directories with TTLs, addressed by
//! path. Every change gets the next store index; a watch asks for the
//! first change at or after an index. Answers carry the node acted on
//! ([`Node`]), the node before a change and the current index
//! (`X-Etcd-Index`) in a [`Response`]; refusals carry one of etcd's v2
//! error codes ([`KeysError`]).
//!
//! The client speaks HTTP/1.1 over plain TCP or TLS (`https://` endpoints,
//! with the same [`TlsOptions`](crate::TlsOptions) as the v3 client) and
//! fails over between endpoints as etcd's Go client does.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ectd_client::v2::Error> {
//! use ectd_client::v2::{Client, ClientOptions, GetOptions, KeysError, WatchOptions};
//!
//! let client = Client::new(&["http://127.0.0.1:2379"], ClientOptions::default())?;
//! client.sync().await?; // use every member's client URL from now on
//!
//! let created = client.create("/config/subnet", "10.1.0.0/16", Some(60)).await?;
//! match client.create("/config/subnet", "other", None).await {
//!     Err(err) if err.code() == Some(KeysError::NODE_EXIST) => {}
//!     other => panic!("expected error 105, got {other:?}"),
//! }
//! client
//!     .compare_and_swap("/config/subnet", "10.2.0.0/16", Some("10.1.0.0/16"), None)
//!     .await?;
//!
//! let listing = client
//!     .get("/config", &GetOptions { recursive: true, sorted: true, quorum: true })
//!     .await?;
//! for node in listing.node.children() {
//!     println!("{} = {}", node.key, node.value);
//! }
//!
//! // Every change after the create, one at a time.
//! let mut options = WatchOptions {
//!     wait_index: Some(created.node.modified_index + 1),
//!     recursive: true,
//! };
//! let event = client.watch("/config", &options).await?;
//! println!("{} {}", event.response.action, event.response.node.key);
//! options.wait_index = Some(event.next_index);
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod http;
mod keys;
mod members;
mod node;
mod url;

pub use client::{Client, ClientOptions, RequestHook, RequestInfo};
pub use error::{ClusterError, EndpointError, EndpointErrorKind, Error, KeysError};
pub use keys::{
    DeleteOptions, GetOptions, PrevExist, SetOptions, WatchEvent, WatchOptions, Watcher,
};
pub use members::Member;
pub use node::{Node, Response};
