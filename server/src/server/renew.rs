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
        match s.propose(Op::LeaseRenew(LeaseRenew { ids })).await {
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
