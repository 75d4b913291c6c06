//! Lease keep-alives. The leader renews a lease in memory, as etcd's leader does,
//! once it has made sure a quorum still follows it (at most every half election
//! timeout); it then replicates what it renewed, so that every member restarts
//! the TTL and a new leader keeps it. A follower cannot answer for the leader: its
//! keep-alives go through raft, and its client waits for them. Either way
//! keep-alives are coalesced: every one that arrives while a proposal is in flight
//! goes into the next one, so a burst costs one raft entry, not one each.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use ectd_proto::raftcmd::{command::Op, LeaseRenew};
use tokio::sync::{mpsc, oneshot};

use super::Server;
use crate::apply::Output;
use crate::error::Error;

/// A keep-alive waiting for its proposal: the lease and who wants its TTL.
pub(super) type RenewWaiter = (i64, oneshot::Sender<Result<i64, Error>>);

/// Most leases renewed by one proposal.
const MAX_PER_PROPOSAL: usize = 10_000;

/// Least time between two replications of the leader's renewals. Far below the
/// grace a new leader gives every lease (an election timeout), so a renewal the
/// old leader answered but did not replicate cannot make a lease expire early.
const REPLICATE_SPACING: Duration = Duration::from_millis(10);

/// What the leader needs to answer keep-alives itself: when it last made sure a
/// quorum follows it, and the leases it renewed in memory and has not replicated
/// yet (each once, so bounded by the number of leases).
#[derive(Default)]
pub(super) struct LeaderRenewals {
    ids: Mutex<HashSet<i64>>,
    wake: tokio::sync::Notify,
    confirmed: Mutex<Option<Instant>>,
}

/// Renews lease `id` on this member if it leads: its TTL, or `None` when the
/// keep-alive must go through raft (not the leader, leadership not confirmed, or
/// a lease this member does not hold live: not granted here yet, or past its
/// deadline and being revoked).
///
/// A leader cut off from the others, or whose raft loop is stuck, must not tell a
/// client its lease lives on: the leader answers only within half an election
/// timeout of starting a ReadIndex round that a quorum acknowledged. With
/// check-quorum, a follower that heard that round's heartbeat votes for no one
/// else for an election timeout, so no other leader can have revoked the lease.
pub(super) async fn renew_on_leader(s: &Server, id: i64) -> Option<i64> {
    let leads = || s.raft_status().leader() == s.member_id();
    if !leads() {
        return None;
    }
    let valid_for = s.limits().election_timeout / 2;
    let fresh = |at: Option<Instant>| at.is_some_and(|t| t.elapsed() < valid_for);
    if !fresh(*s.leader_renewals.confirmed.lock().expect("confirmed lock")) {
        // A round that answers this call starts after it, so `started` is no
        // later than the heartbeats that confirmed the leadership.
        let started = Instant::now();
        if s.read_barrier().await.is_err() || !leads() {
            return None;
        }
        let mut at = s.leader_renewals.confirmed.lock().expect("confirmed lock");
        *at = Some(at.map_or(started, |t| t.max(started)));
    }
    let ttl = s.lessor().renew_live(id)?;
    s.leader_renewals.add(id);
    Some(ttl)
}

impl LeaderRenewals {
    fn add(&self, id: i64) {
        let first = {
            let mut ids = self.ids.lock().expect("renewals lock");
            ids.insert(id) && ids.len() == 1
        };
        if first {
            self.wake.notify_one();
        }
    }

    fn take(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.ids.lock().expect("renewals lock").drain().collect();
        ids.sort_unstable();
        ids
    }
}

/// Replicates the leader's in-memory renewals, one proposal at a time.
pub(super) async fn replicate_renewals(
    server: Weak<Server>,
    pending: std::sync::Arc<LeaderRenewals>,
) {
    loop {
        // Wakes now and then to notice the server is gone.
        if tokio::time::timeout(Duration::from_secs(1), pending.wake.notified())
            .await
            .is_err()
        {
            if server.strong_count() == 0 {
                break;
            }
            continue;
        }
        tokio::time::sleep(REPLICATE_SPACING).await;
        let ids = pending.take();
        if ids.is_empty() {
            continue;
        }
        let Some(s) = server.upgrade() else { break };
        for chunk in ids.chunks(MAX_PER_PROPOSAL) {
            // Renewing twice is harmless, and a lease revoked meanwhile is
            // answered with TTL 0: only a failure is worth a word.
            if let Err(e) = propose_renew(&s, chunk.to_vec()).await {
                tracing::warn!(leases = chunk.len(), error = %e, "replicating lease renewals failed");
            }
        }
    }
}

/// Proposes one renewal. A renewal not applied within an election timeout is
/// proposed again (renewing twice is harmless): a follower's proposal forwarded to
/// a leader that died is lost without a word, and waiting the whole request
/// timeout for it would let leases expire under a new leader while their clients
/// are keeping them alive.
async fn propose_renew(s: &Server, ids: Vec<i64>) -> Result<Output, Error> {
    let deadline = tokio::time::Instant::now() + s.limits().request_timeout;
    loop {
        let op = Op::LeaseRenew(LeaseRenew { ids: ids.clone() });
        let attempt = tokio::time::timeout(s.limits().election_timeout, s.propose(op));
        match attempt.await {
            Ok(Err(Error::NoLeader | Error::Timeout)) => {
                // Dropped while there is no leader: try again shortly.
                tokio::time::sleep(s.limits().election_timeout / 10).await;
            }
            Ok(res) => return res,
            Err(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Timeout);
        }
        tracing::debug!(
            leases = ids.len(),
            "lease renewal not applied yet; proposing again"
        );
    }
}

/// Proposes queued keep-alives, one proposal at a time.
pub(super) async fn renew_batcher(
    server: Weak<Server>,
    mut rx: mpsc::UnboundedReceiver<RenewWaiter>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_PER_PROPOSAL {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let Some(s) = server.upgrade() else { break };
        let mut ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        match propose_renew(&s, ids).await {
            Ok(Output::LeaseRenewed(ttls)) => {
                let ttls: HashMap<i64, i64> = ttls.into_iter().collect();
                for (id, reply) in batch {
                    let _ = reply.send(Ok(ttls.get(&id).copied().unwrap_or(0)));
                }
            }
            Ok(other) => panic!("a lease renewal applied as {other:?}"),
            Err(e) => {
                for (_, reply) in batch {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
