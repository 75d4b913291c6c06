//! Lease keep-alives, coalesced: every keep-alive that arrives while one proposal
//! is in flight goes into the next one, so a burst of keep-alives costs one raft
//! entry instead of one each.

use std::collections::HashMap;
use std::sync::Weak;

use ectd_proto::raftcmd::{command::Op, LeaseRenew};
use tokio::sync::{mpsc, oneshot};

use super::Server;
use crate::apply::Output;
use crate::error::Error;

/// A keep-alive waiting for its proposal: the lease and who wants its TTL.
pub(super) type RenewWaiter = (i64, oneshot::Sender<Result<i64, Error>>);

/// Most leases renewed by one proposal.
const MAX_PER_PROPOSAL: usize = 10_000;

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
