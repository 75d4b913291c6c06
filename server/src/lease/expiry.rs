//! The leader's lease duties: revoke leases whose deadline passed, and checkpoint
//! remaining TTLs. Followers run the task too but act only while they lead.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::LeaseRevokeRequest;
use ectd_proto::raftcmd::{command::Op, LeaseCheckpoint, LeaseRemaining};

use crate::error::Error;
use crate::server::Server;

/// How often deadlines are checked.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// Most revokes proposed per check (etcd revokes at most 1,000 leases a second).
const REVOKES_PER_CHECK: usize = 100;

/// Leases per checkpoint command, so one command stays far below the request size
/// limit.
const CHECKPOINT_CHUNK: usize = 10_000;

/// Settings of the expiry task.
#[derive(Debug, Clone, Copy)]
pub struct ExpirySettings {
    /// Grace every lease gets when this member becomes leader.
    pub promote_grace: Duration,
    /// How often the leader checkpoints remaining TTLs (zero: never).
    pub checkpoint_interval: Duration,
}

/// Runs until the server is dropped or stopped.
pub async fn run(server: Weak<Server>, settings: ExpirySettings) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut leading = false;
    let mut last_checkpoint = Instant::now();
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(s) = server.upgrade() else { return };
        if s.is_stopped() {
            return;
        }
        let leader_now = s.raft_status().leader() == s.member_id();
        if leader_now && !leading {
            s.lessor().promote(settings.promote_grace);
            last_checkpoint = Instant::now();
        }
        leading = leader_now;
        if !leading {
            in_flight.lock().expect("in-flight lock").clear();
            continue;
        }
        let now = Instant::now();
        for id in s.lessor().expired(now, REVOKES_PER_CHECK) {
            if !in_flight.lock().expect("in-flight lock").insert(id) {
                continue;
            }
            let (server, in_flight) = (server.clone(), in_flight.clone());
            tokio::spawn(async move {
                let Some(s) = server.upgrade() else { return };
                let res = s.propose(Op::LeaseRevoke(LeaseRevokeRequest { id })).await;
                match res {
                    Ok(_) => tracing::debug!(lease = format!("{id:x}"), "revoked expired lease"),
                    Err(Error::LeaseNotFound) => {}
                    Err(e) => {
                        tracing::warn!(lease = format!("{id:x}"), error = %e, "revoking an expired lease failed; will retry")
                    }
                }
                in_flight.lock().expect("in-flight lock").remove(&id);
            });
        }
        let interval = settings.checkpoint_interval;
        if !interval.is_zero() && now.duration_since(last_checkpoint) >= interval {
            last_checkpoint = now;
            let leases: Vec<LeaseRemaining> = s
                .lessor()
                .remaining_all(now)
                .into_iter()
                .map(|(id, remaining_ms)| LeaseRemaining { id, remaining_ms })
                .collect();
            for chunk in leases.chunks(CHECKPOINT_CHUNK) {
                let leases = chunk.to_vec();
                let server = server.clone();
                tokio::spawn(async move {
                    let Some(s) = server.upgrade() else { return };
                    let op = Op::LeaseCheckpoint(LeaseCheckpoint { leases });
                    if let Err(e) = s.propose(op).await {
                        tracing::debug!(error = %e, "checkpointing leases failed");
                    }
                });
            }
        }
    }
}
