//! etcd's v2 API: a replicated store of files and directories with its own index,
//! TTLs and event history (separate from the v3 keyspace, as in etcd), the HTTP
//! API that serves it with `--enable-v2`, and v2 auth over that API.

pub mod auth;
pub mod event;
pub mod form;
pub mod gojson;
pub mod http;
pub mod json;
pub mod members;
pub mod path;
pub mod stats;
pub mod store;

use std::sync::Weak;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ectd_proto::raftcmd::{command::Op, V2Request};

pub use event::{Event, V2Error};
pub use stats::Counter;
pub use store::V2Store;

use crate::server::Server;

/// How often the leader looks for expired keys, as etcd's SYNC interval.
const SYNC_INTERVAL: Duration = Duration::from_millis(500);

/// The leader's expiry sweep: when a key's TTL has run out by the leader's clock,
/// it proposes a SYNC with that time, and every member expires the same keys at
/// the same index. Followers never expire keys on their own clock.
pub async fn expire_keys(server: Weak<Server>) {
    let mut ticker = tokio::time::interval(SYNC_INTERVAL);
    loop {
        ticker.tick().await;
        let Some(s) = server.upgrade() else { return };
        if s.is_stopped() {
            return;
        }
        if s.raft_status().leader() != s.member_id() {
            continue;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        if s.v2().next_expiration().is_some_and(|e| e <= now) {
            let op = Op::V2(V2Request {
                method: "SYNC".into(),
                time: now,
                ..Default::default()
            });
            if let Err(e) = s.propose(op).await {
                tracing::debug!(error = %e, "proposing the v2 expiry sweep; will retry");
            }
        }
    }
}

#[cfg(test)]
mod tests;
