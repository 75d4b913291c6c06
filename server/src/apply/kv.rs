//! etcd's KV operations over the MVCC store: range shaping (filters, sort, limit),
//! put, delete, txn with compares, and the checks etcd makes before applying them.
//! Used by the apply task for writes and by the read path for ranges and read-only
//! txns, so both give byte-identical answers.

use ectd_proto::etcdserverpb::{
    compare, range_request, request_op, response_op, Compare, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
    ResponseHeader, ResponseOp, TxnRequest, TxnResponse,
};
use ectd_proto::mvccpb::KeyValue;

use crate::error::Error;
use crate::mvcc::{KvRead, RangeEnd, RangeOptions, WriteTxn};

/// A header carrying only a revision, as etcd leaves the headers of a txn's inner
/// responses (the top-level header is filled by the API layer).
pub fn rev_header(revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        revision,
        ..Default::default()
    })
}

/// Serves a range request against `r`, shaping the result exactly as etcd does.
pub fn range(r: &impl KvRead, req: &RangeRequest) -> Result<RangeResponse, Error> {
    use range_request::{SortOrder, SortTarget};
    let filtered = req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    let mut limit = if req.sort_order != SortOrder::None as i32 || filtered {
        0
    } else {
        req.limit.max(0) as usize
    };
    if limit > 0 {
        limit += 1; // one extra tells whether there are more
    }
    let opts = RangeOptions {
        limit,
        rev: req.revision,
        count_only: req.count_only,
    };
    let mut rr = r.range(&req.key, RangeEnd::from_request(&req.range_end), opts)?;
    if req.max_mod_revision != 0 {
        rr.kvs.retain(|kv| kv.mod_revision <= req.max_mod_revision);
    }
    if req.min_mod_revision != 0 {
        rr.kvs.retain(|kv| kv.mod_revision >= req.min_mod_revision);
    }
    if req.max_create_revision != 0 {
        rr.kvs
            .retain(|kv| kv.create_revision <= req.max_create_revision);
    }
    if req.min_create_revision != 0 {
        rr.kvs
            .retain(|kv| kv.create_revision >= req.min_create_revision);
    }
    let mut order = req.sort_order;
    if req.sort_target != SortTarget::Key as i32 && order == SortOrder::None as i32 {
        order = SortOrder::Ascend as i32;
    }
    if order != SortOrder::None as i32 {
        let target = SortTarget::try_from(req.sort_target).unwrap_or(SortTarget::Key);
        fn key_of(target: SortTarget, kv: &KeyValue) -> SortKey<'_> {
            match target {
                SortTarget::Key => SortKey::Bytes(&kv.key),
                SortTarget::Version => SortKey::Int(kv.version),
                SortTarget::Create => SortKey::Int(kv.create_revision),
                SortTarget::Mod => SortKey::Int(kv.mod_revision),
                SortTarget::Value => SortKey::Bytes(&kv.value),
            }
        }
        if order == SortOrder::Descend as i32 {
            rr.kvs
                .sort_by(|a, b| key_of(target, b).cmp(&key_of(target, a)));
        } else {
            rr.kvs
                .sort_by(|a, b| key_of(target, a).cmp(&key_of(target, b)));
        }
    }
    let mut more = false;
    if req.limit > 0 && rr.kvs.len() > req.limit as usize {
        rr.kvs.truncate(req.limit as usize);
        more = true;
    }
    if req.keys_only {
        for kv in &mut rr.kvs {
            kv.value.clear();
        }
    }
    Ok(RangeResponse {
        header: rev_header(rr.rev),
        kvs: rr.kvs,
        more,
        count: rr.count as i64,
    })
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

/// Whether a lease exists, as the state being applied knows it.
pub type LeaseExists<'a> = &'a dyn Fn(i64) -> bool;

/// Applies a put inside `txn`. `ignore_value`/`ignore_lease` need the key to exist;
/// a lease must exist.
pub fn put(
    txn: &mut WriteTxn<'_>,
    leases: LeaseExists<'_>,
    req: &PutRequest,
) -> Result<PutResponse, Error> {
    if req.lease != 0 && !req.ignore_lease && !leases(req.lease) {
        return Err(Error::LeaseNotFound);
    }
    let prev = if req.ignore_value || req.ignore_lease || req.prev_kv {
        txn.latest(&req.key)
    } else {
        None
    };
    if (req.ignore_value || req.ignore_lease) && prev.is_none() {
        return Err(Error::KeyNotFound);
    }
    let value = match (&prev, req.ignore_value) {
        (Some(p), true) => p.value.clone(),
        _ => req.value.clone(),
    };
    let lease = match (&prev, req.ignore_lease) {
        (Some(p), true) => p.lease,
        _ => req.lease,
    };
    txn.put(&req.key, value, lease);
    Ok(PutResponse {
        header: rev_header(txn.rev()),
        prev_kv: if req.prev_kv { prev } else { None },
    })
}

/// Applies a delete-range inside `txn`.
pub fn delete_range(txn: &mut WriteTxn<'_>, req: &DeleteRangeRequest) -> DeleteRangeResponse {
    let deleted = txn.delete_range(&req.key, RangeEnd::from_request(&req.range_end));
    DeleteRangeResponse {
        header: rev_header(txn.rev()),
        deleted: deleted.len() as i64,
        prev_kvs: if req.prev_kv { deleted } else { Vec::new() },
    }
}

/// Whether a txn only reads (then it is served without going through raft).
pub fn txn_is_read_only(req: &TxnRequest) -> bool {
    req.success
        .iter()
        .chain(&req.failure)
        .all(|op| match &op.request {
            Some(request_op::Request::RequestRange(_)) => true,
            Some(request_op::Request::RequestTxn(t)) => txn_is_read_only(t),
            _ => false,
        })
}

/// The outcome of every compare of a txn and of the nested txns on its chosen
/// branch, all evaluated against the state before the txn runs.
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

impl Path {
    fn evaluate(r: &impl KvRead, req: &TxnRequest) -> Path {
        let succeeded = req.compare.iter().all(|c| compare(r, c));
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        let nested = ops
            .iter()
            .filter_map(|op| match &op.request {
                Some(request_op::Request::RequestTxn(t)) => Some(Path::evaluate(r, t)),
                _ => None,
            })
            .collect();
        Path { succeeded, nested }
    }

    fn ops<'r>(&self, req: &'r TxnRequest) -> &'r [RequestOp] {
        if self.succeeded {
            &req.success
        } else {
            &req.failure
        }
    }
}

fn compare(r: &impl KvRead, c: &Compare) -> bool {
    let rr = match r.range(
        &c.key,
        RangeEnd::from_request(&c.range_end),
        RangeOptions::default(),
    ) {
        Ok(rr) => rr,
        Err(_) => return false,
    };
    if rr.kvs.is_empty() {
        if c.target == compare::CompareTarget::Value as i32 {
            // A missing key has no value to compare, not an empty one.
            return false;
        }
        return compare_kv(c, &KeyValue::default());
    }
    rr.kvs.iter().all(|kv| compare_kv(c, kv))
}

fn compare_kv(c: &Compare, kv: &KeyValue) -> bool {
    use compare::{CompareResult, CompareTarget, TargetUnion};
    use std::cmp::Ordering;
    let int = |v: i64| -> i64 { v };
    let ord = match CompareTarget::try_from(c.target) {
        Ok(CompareTarget::Value) => {
            let want: &[u8] = match &c.target_union {
                Some(TargetUnion::Value(v)) => v,
                _ => &[],
            };
            kv.value.as_slice().cmp(want)
        }
        Ok(CompareTarget::Create) => kv.create_revision.cmp(&match c.target_union {
            Some(TargetUnion::CreateRevision(v)) => int(v),
            _ => 0,
        }),
        Ok(CompareTarget::Mod) => kv.mod_revision.cmp(&match c.target_union {
            Some(TargetUnion::ModRevision(v)) => int(v),
            _ => 0,
        }),
        Ok(CompareTarget::Version) => kv.version.cmp(&match c.target_union {
            Some(TargetUnion::Version(v)) => int(v),
            _ => 0,
        }),
        Ok(CompareTarget::Lease) => kv.lease.cmp(&match c.target_union {
            Some(TargetUnion::Lease(v)) => int(v),
            _ => 0,
        }),
        Err(_) => Ordering::Equal,
    };
    match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => ord == Ordering::Equal,
        Ok(CompareResult::NotEqual) => ord != Ordering::Equal,
        Ok(CompareResult::Greater) => ord == Ordering::Greater,
        Ok(CompareResult::Less) => ord == Ordering::Less,
        Err(_) => true,
    }
}

/// Which ops a pass over a txn's chosen path checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CheckPass {
    Puts,
    Ranges,
}

/// Checks every op of one kind on the chosen path before anything is applied, so a
/// txn applies whole or not at all. Puts are checked in a first pass, ranges in a
/// second, which decides which error a txn with several problems reports.
/// `first_rev` is the oldest readable revision (-1 before any compaction).
fn check_path(
    r: &impl KvRead,
    leases: LeaseExists<'_>,
    first_rev: i64,
    req: &TxnRequest,
    path: &Path,
    pass: CheckPass,
) -> Result<(), Error> {
    let mut nested = path.nested.iter();
    for op in path.ops(req) {
        match &op.request {
            Some(request_op::Request::RequestRange(rr)) if pass == CheckPass::Ranges => {
                if rr.revision == 0 {
                    continue;
                }
                if rr.revision > r.rev() {
                    return Err(Error::FutureRev);
                }
                if rr.revision < first_rev {
                    return Err(Error::Compacted);
                }
            }
            Some(request_op::Request::RequestPut(p)) if pass == CheckPass::Puts => {
                if (p.ignore_value || p.ignore_lease)
                    && r.range(&p.key, RangeEnd::Single, RangeOptions::default())?
                        .kvs
                        .is_empty()
                {
                    return Err(Error::KeyNotFound);
                }
                if p.lease != 0 && !p.ignore_lease && !leases(p.lease) {
                    return Err(Error::LeaseNotFound);
                }
            }
            Some(request_op::Request::RequestTxn(t)) => {
                let p = nested.next().expect("a path entry per nested txn");
                check_path(r, leases, first_rev, t, p, pass)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Serves a read-only txn against a consistent view.
pub fn txn_read(r: &impl KvRead, compacted: i64, req: &TxnRequest) -> Result<TxnResponse, Error> {
    let path = Path::evaluate(r, req);
    check_path(r, &|_| false, compacted, req, &path, CheckPass::Ranges)?;
    let responses = read_ops(r, req, &path);
    Ok(TxnResponse {
        header: rev_header(r.rev()),
        succeeded: path.succeeded,
        responses,
    })
}

fn read_ops(r: &impl KvRead, req: &TxnRequest, path: &Path) -> Vec<ResponseOp> {
    let mut nested = path.nested.iter();
    path.ops(req)
        .iter()
        .map(|op| {
            let response = match &op.request {
                Some(request_op::Request::RequestRange(rr)) => {
                    response_op::Response::ResponseRange(
                        range(r, rr)
                            .unwrap_or_else(|e| panic!("range checked before the txn failed: {e}")),
                    )
                }
                Some(request_op::Request::RequestTxn(t)) => {
                    let p = nested.next().expect("a path entry per nested txn");
                    response_op::Response::ResponseTxn(TxnResponse {
                        header: Some(ResponseHeader::default()),
                        succeeded: p.succeeded,
                        responses: read_ops(r, t, p),
                    })
                }
                other => panic!("write op {other:?} in a read-only txn"),
            };
            ResponseOp {
                response: Some(response),
            }
        })
        .collect()
}

/// Applies a txn that may write. Compares see the state before the txn; each op sees
/// the ops before it.
pub fn txn_write(
    txn: &mut WriteTxn<'_>,
    leases: LeaseExists<'_>,
    compacted: i64,
    req: &TxnRequest,
) -> Result<TxnResponse, Error> {
    let path = Path::evaluate(txn, req);
    check_path(txn, leases, compacted, req, &path, CheckPass::Puts)?;
    check_path(txn, leases, compacted, req, &path, CheckPass::Ranges)?;
    let responses = write_ops(txn, leases, req, &path)?;
    Ok(TxnResponse {
        header: rev_header(txn.rev()),
        succeeded: path.succeeded,
        responses,
    })
}

/// Runs the chosen branch op by op. An op can still fail here although the checks
/// passed — e.g. an `ignore_value` put of a key an earlier op of the same txn deleted
/// — and then the whole txn fails: the caller discards everything it wrote.
fn write_ops(
    txn: &mut WriteTxn<'_>,
    leases: LeaseExists<'_>,
    req: &TxnRequest,
    path: &Path,
) -> Result<Vec<ResponseOp>, Error> {
    let mut nested = path.nested.iter();
    let mut out = Vec::new();
    for op in path.ops(req) {
        let response = match &op.request {
            Some(request_op::Request::RequestRange(rr)) => {
                response_op::Response::ResponseRange(range(txn, rr)?)
            }
            Some(request_op::Request::RequestPut(p)) => {
                response_op::Response::ResponsePut(put(txn, leases, p)?)
            }
            Some(request_op::Request::RequestDeleteRange(d)) => {
                response_op::Response::ResponseDeleteRange(delete_range(txn, d))
            }
            Some(request_op::Request::RequestTxn(t)) => {
                let p = nested.next().expect("a path entry per nested txn");
                response_op::Response::ResponseTxn(TxnResponse {
                    header: Some(ResponseHeader::default()),
                    succeeded: p.succeeded,
                    responses: write_ops(txn, leases, t, p)?,
                })
            }
            None => return Err(Error::KeyNotFound),
        };
        out.push(ResponseOp {
            response: Some(response),
        });
    }
    Ok(out)
}
