//! Lease commands as apply runs them: what each writes into the batch, and what the
//! lessor must learn once the batch is committed.

use ectd_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeRequest, LeaseRevokeResponse,
};
use ectd_proto::raftcmd::{LeaseCheckpoint, LeaseRecord, LeaseRenew};
use rocksdb::WriteBatch;

use super::kv::rev_header;
use crate::error::Error;
use crate::lease::{self, Lessor};
use crate::mvcc::{RangeEnd, Store, WriteTxn};

/// What the lessor learns from a committed lease command.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A lease was granted.
    Granted { id: i64, ttl: i64 },
    /// A lease was revoked.
    Revoked(i64),
    /// Leases were kept alive.
    Renewed(Vec<i64>),
    /// Remaining TTLs in milliseconds.
    Checkpointed(Vec<(i64, i64)>),
}

impl Effect {
    /// Tells the lessor.
    pub fn apply_to(self, lessor: &Lessor) {
        match self {
            Effect::Granted { id, ttl } => lessor.granted(id, ttl),
            Effect::Revoked(id) => lessor.revoked(id),
            Effect::Renewed(ids) => ids.iter().for_each(|id| {
                lessor.renewed(*id);
            }),
            Effect::Checkpointed(all) => all
                .iter()
                .for_each(|(id, ms)| lessor.checkpointed(*id, *ms)),
        }
    }
}

/// Grants a lease whose id and TTL the proposer already settled.
pub fn grant(
    store: &Store,
    lessor: &Lessor,
    batch: &mut WriteBatch,
    req: &LeaseGrantRequest,
) -> Result<(LeaseGrantResponse, Effect), Error> {
    if req.id == 0 {
        return Err(Error::LeaseNotFound);
    }
    if lessor.exists(req.id) {
        return Err(Error::LeaseExists);
    }
    let rec = LeaseRecord {
        id: req.id,
        ttl: req.ttl,
        remaining_ms: 0,
    };
    lease::put_record(store.engine(), batch, &rec);
    let resp = LeaseGrantResponse {
        header: rev_header(store.current_rev()),
        id: req.id,
        ttl: req.ttl,
        error: String::new(),
    };
    Ok((
        resp,
        Effect::Granted {
            id: req.id,
            ttl: req.ttl,
        },
    ))
}

/// Revokes a lease: its attached keys are deleted in one revision, in key order.
pub fn revoke(
    txn: &mut WriteTxn<'_>,
    lessor: &Lessor,
    req: &LeaseRevokeRequest,
) -> Result<(LeaseRevokeResponse, Effect), Error> {
    if !lessor.exists(req.id) {
        return Err(Error::LeaseNotFound);
    }
    for key in txn.lease_keys(req.id) {
        txn.delete_range(&key, RangeEnd::Single);
    }
    txn.delete_lease_record(req.id);
    Ok((
        LeaseRevokeResponse {
            header: rev_header(crate::mvcc::KvRead::rev(txn)),
        },
        Effect::Revoked(req.id),
    ))
}

/// Keeps leases alive. Returns each lease's TTL (0 for a lease that no longer
/// exists, as etcd answers a keep-alive of an unknown lease).
pub fn renew(
    store: &Store,
    lessor: &Lessor,
    batch: &mut WriteBatch,
    req: &LeaseRenew,
) -> (Vec<(i64, i64)>, Effect) {
    let mut ttls = Vec::with_capacity(req.ids.len());
    let mut renewed = Vec::with_capacity(req.ids.len());
    for &id in &req.ids {
        match lessor.get(id) {
            Some(l) => {
                let rec = LeaseRecord {
                    id,
                    ttl: l.ttl,
                    remaining_ms: 0,
                };
                lease::put_record(store.engine(), batch, &rec);
                ttls.push((id, l.ttl));
                renewed.push(id);
            }
            None => ttls.push((id, 0)),
        }
    }
    (ttls, Effect::Renewed(renewed))
}

/// Records the leader's remaining TTLs.
pub fn checkpoint(
    store: &Store,
    lessor: &Lessor,
    batch: &mut WriteBatch,
    req: &LeaseCheckpoint,
) -> Effect {
    let mut done = Vec::with_capacity(req.leases.len());
    for r in &req.leases {
        if let Some(l) = lessor.get(r.id) {
            let rec = LeaseRecord {
                id: r.id,
                ttl: l.ttl,
                remaining_ms: r.remaining_ms.max(1),
            };
            lease::put_record(store.engine(), batch, &rec);
            done.push((r.id, r.remaining_ms));
        }
    }
    Effect::Checkpointed(done)
}
