//! The backend quota (`--quota-backend-bytes`): how much a write costs and
//! whether it still fits, as etcd charges it.
//!
//! The size charged against the quota is the member's real on-disk size
//! ([`Engine::size_bytes`](crate::engine::Engine::size_bytes)): live SST files
//! plus memtables of every column family.

use ectd_proto::etcdserverpb::{request_op, PutRequest, TxnRequest};

/// etcd's quota when none is given (`--quota-backend-bytes 0`): 2 GiB.
pub const DEFAULT_BYTES: i64 = 2 << 30;
/// The largest quota etcd recommends (8 GiB); a larger one is used, with a
/// warning.
pub const MAX_BYTES: i64 = 8 << 30;
/// What etcd charges for a lease on top of nothing.
pub const LEASE_COST: u64 = 64;
/// What etcd charges for a key's metadata on top of its key and value.
const KV_OVERHEAD: u64 = 256;

/// The quota a member holds writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Bytes the backend may reach; `None` when the quota is disabled (a
    /// negative `--quota-backend-bytes`, as in etcd).
    limit: Option<u64>,
}

impl Default for Quota {
    fn default() -> Quota {
        Quota::from_flag(0)
    }
}

impl Quota {
    /// The quota `--quota-backend-bytes` asks for: 0 is etcd's default, a
    /// negative value disables the quota.
    pub fn from_flag(bytes: i64) -> Quota {
        Quota {
            limit: match bytes {
                0 => Some(DEFAULT_BYTES as u64),
                b if b < 0 => None,
                b => Some(b as u64),
            },
        }
    }

    /// The quota in bytes as the `etcd_server_quota_backend_bytes` gauge shows
    /// it, given the flag's value (etcd shows a disabled quota as its negative
    /// setting).
    pub fn gauge_value(flag: i64) -> f64 {
        if flag == 0 {
            DEFAULT_BYTES as f64
        } else {
            flag as f64
        }
    }

    /// The bytes the backend may reach, `None` when the quota is disabled.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether a write costing `cost` fits while the backend holds `size` bytes:
    /// a request that writes nothing always does.
    pub fn available(&self, size: u64, cost: u64) -> bool {
        match self.limit {
            _ if cost == 0 => true,
            None => true,
            Some(limit) => size.saturating_add(cost) < limit,
        }
    }

    /// Whether the quota is enforced at all.
    pub fn enabled(&self) -> bool {
        self.limit.is_some()
    }
}

/// What a put costs: its key and value plus etcd's per-key overhead.
pub fn put_cost(r: &PutRequest) -> u64 {
    KV_OVERHEAD + r.key.len() as u64 + r.value.len() as u64
}

/// What a txn costs: the puts of its costlier branch (only its own puts, not
/// those of nested txns, as etcd counts).
pub fn txn_cost(r: &TxnRequest) -> u64 {
    let branch = |ops: &[ectd_proto::etcdserverpb::RequestOp]| -> u64 {
        ops.iter()
            .map(|op| match &op.request {
                Some(request_op::Request::RequestPut(p)) => put_cost(p),
                _ => 0,
            })
            .sum()
    };
    branch(&r.success).max(branch(&r.failure))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::etcdserverpb::RequestOp;

    #[test]
    fn costs_and_limits() {
        let put = PutRequest {
            key: b"k".to_vec(),
            value: vec![0; 10],
            ..Default::default()
        };
        assert_eq!(put_cost(&put), 267);
        let op = |p: &PutRequest| RequestOp {
            request: Some(request_op::Request::RequestPut(p.clone())),
        };
        let txn = TxnRequest {
            success: vec![op(&put)],
            failure: vec![op(&put), op(&put)],
            ..Default::default()
        };
        assert_eq!(txn_cost(&txn), 534);
        assert_eq!(txn_cost(&TxnRequest::default()), 0);
        let q = Quota::from_flag(1000);
        assert!(q.available(700, 299));
        assert!(!q.available(700, 300));
        assert!(q.available(5000, 0), "a request that writes nothing fits");
        assert!(Quota::from_flag(-1).available(u64::MAX, 1));
        assert!(!Quota::from_flag(0).available(DEFAULT_BYTES as u64, 1));
    }
}
