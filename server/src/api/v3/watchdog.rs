//! Streams opened with `hasleader=true` end with `etcdserver: no leader` once the
//! member has known no leader for three election timeouts, as etcd ends them, so a
//! client cut off from the cluster moves to another member instead of waiting on a
//! stream that can no longer receive anything new.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tonic::{Request, Status};

use crate::error::Error;
use crate::server::Server;

/// Election timeouts without a leader after which a stream is ended.
const LEADERLESS_CHECKS: u32 = 3;

/// Resolves to the status ending a stream, or never if the request did not ask for
/// a leader.
pub type Watchdog = Pin<Box<dyn Future<Output = Status> + Send>>;

/// Whether the request carries `hasleader=true`.
pub fn wants_leader<T>(req: &Request<T>) -> bool {
    req.metadata()
        .get("hasleader")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// A watchdog for a stream of `server`.
pub fn watchdog(server: &Arc<Server>, wanted: bool) -> Watchdog {
    if !wanted {
        return Box::pin(std::future::pending());
    }
    let server = Arc::downgrade(server);
    Box::pin(async move {
        let mut leaderless = 0;
        loop {
            let every = match server.upgrade() {
                Some(s) => s.limits().election_timeout,
                None => return Error::Stopped.into(),
            };
            tokio::time::sleep(every).await;
            let Some(s) = server.upgrade() else {
                return Error::Stopped.into();
            };
            if s.raft_status().leader() == 0 {
                leaderless += 1;
                if leaderless >= LEADERLESS_CHECKS {
                    return Error::NoLeader.into();
                }
            } else {
                leaderless = 0;
            }
        }
    })
}
