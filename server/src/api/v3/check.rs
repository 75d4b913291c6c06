//! Request checks made before a request reaches raft, with etcd's errors and in
//! etcd's order.

use std::collections::HashSet;

use ectd_proto::etcdserverpb::{
    range_request, request_op, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

use crate::error::Error;

/// Checks a range request.
pub fn range(r: &RangeRequest) -> Result<(), Error> {
    if r.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if range_request::SortOrder::try_from(r.sort_order).is_err()
        || range_request::SortTarget::try_from(r.sort_target).is_err()
    {
        return Err(Error::InvalidSortOption);
    }
    Ok(())
}

/// Checks a put request.
pub fn put(r: &PutRequest) -> Result<(), Error> {
    if r.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    if r.ignore_value && !r.value.is_empty() {
        return Err(Error::ValueProvided);
    }
    if r.ignore_lease && r.lease != 0 {
        return Err(Error::LeaseProvided);
    }
    Ok(())
}

/// Checks a delete-range request.
pub fn delete_range(r: &DeleteRangeRequest) -> Result<(), Error> {
    if r.key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

/// Checks a txn: op counts, keys, every op, then that no key is written twice.
pub fn txn(r: &TxnRequest, max_ops: usize) -> Result<(), Error> {
    txn_ops(r, max_ops)?;
    Intervals::of(&r.success)?;
    Intervals::of(&r.failure)?;
    Ok(())
}

/// A nested txn may use only what its parent left of the op budget: `max_ops`
/// minus the parent's largest compare/success/failure count.
fn txn_ops(r: &TxnRequest, max_ops: usize) -> Result<(), Error> {
    let ops = r.compare.len().max(r.success.len()).max(r.failure.len());
    if ops > max_ops {
        return Err(Error::TooManyOps);
    }
    if r.compare.iter().any(|c| c.key.is_empty()) {
        return Err(Error::EmptyKey);
    }
    for op in r.success.iter().chain(&r.failure) {
        request(op, max_ops - ops)?;
    }
    Ok(())
}

fn request(op: &RequestOp, max_ops: usize) -> Result<(), Error> {
    match &op.request {
        Some(request_op::Request::RequestRange(r)) => range(r),
        Some(request_op::Request::RequestPut(r)) => put(r),
        Some(request_op::Request::RequestDeleteRange(r)) => delete_range(r),
        Some(request_op::Request::RequestTxn(r)) => txn_ops(r, max_ops),
        None => Err(Error::KeyNotFound),
    }
}

/// The keys a list of ops puts and the ranges it deletes, including nested txns.
/// Puts may not repeat or fall inside a delete; the two branches of one nested txn
/// may put the same key, since only one of them runs.
#[derive(Default)]
struct Intervals {
    puts: HashSet<Vec<u8>>,
    /// `[start, end)`; a single-key delete is `[key, key\0)`.
    dels: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Intervals {
    fn deletes(&self, k: &[u8]) -> bool {
        self.dels
            .iter()
            .any(|(s, e)| s.as_slice() <= k && k < e.as_slice())
    }

    fn of(ops: &[RequestOp]) -> Result<Intervals, Error> {
        let mut out = Intervals::default();
        for op in ops {
            if let Some(request_op::Request::RequestDeleteRange(d)) = &op.request {
                let end = if d.range_end.is_empty() {
                    let mut e = d.key.clone();
                    e.push(0);
                    e
                } else {
                    d.range_end.clone()
                };
                out.dels.push((d.key.clone(), end));
            }
        }
        for op in ops {
            let Some(request_op::Request::RequestTxn(t)) = &op.request else {
                continue;
            };
            let then = Intervals::of(&t.success)?;
            let els = Intervals::of(&t.failure)?;
            for k in &then.puts {
                if out.puts.contains(k) || out.deletes(k) {
                    return Err(Error::DuplicateKey);
                }
            }
            let mut added: Vec<Vec<u8>> = then.puts.iter().cloned().collect();
            for k in &els.puts {
                if (out.puts.contains(k) && !then.puts.contains(k)) || out.deletes(k) {
                    return Err(Error::DuplicateKey);
                }
                added.push(k.clone());
            }
            out.puts.extend(added);
            out.dels.extend(then.dels);
            out.dels.extend(els.dels);
        }
        for op in ops {
            let Some(request_op::Request::RequestPut(p)) = &op.request else {
                continue;
            };
            if out.puts.contains(&p.key) || out.deletes(&p.key) {
                return Err(Error::DuplicateKey);
            }
            out.puts.insert(p.key.clone());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::etcdserverpb::TxnRequest;

    fn put_op(k: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: k.into(),
                ..Default::default()
            })),
        }
    }

    fn del_op(k: &str, end: &str) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: k.into(),
                    range_end: end.into(),
                    ..Default::default()
                },
            )),
        }
    }

    fn txn_op(success: Vec<RequestOp>, failure: Vec<RequestOp>) -> RequestOp {
        RequestOp {
            request: Some(request_op::Request::RequestTxn(TxnRequest {
                compare: vec![],
                success,
                failure,
            })),
        }
    }

    fn check(success: Vec<RequestOp>) -> Result<(), Error> {
        txn(
            &TxnRequest {
                compare: vec![],
                success,
                failure: vec![],
            },
            128,
        )
    }

    #[test]
    fn duplicate_puts_are_refused() {
        assert_eq!(
            check(vec![put_op("a"), put_op("a")]),
            Err(Error::DuplicateKey)
        );
        assert_eq!(check(vec![put_op("a"), put_op("b")]), Ok(()));
    }

    #[test]
    fn put_inside_a_delete_is_refused() {
        assert_eq!(
            check(vec![del_op("a", "c"), put_op("b")]),
            Err(Error::DuplicateKey)
        );
        assert_eq!(
            check(vec![del_op("a", ""), put_op("a")]),
            Err(Error::DuplicateKey)
        );
        assert_eq!(check(vec![del_op("a", "b"), put_op("b")]), Ok(()));
        assert_eq!(check(vec![del_op("a", ""), del_op("a", "")]), Ok(()));
    }

    #[test]
    fn branches_of_a_nested_txn_may_share_keys() {
        assert_eq!(
            check(vec![txn_op(vec![put_op("a")], vec![put_op("a")])]),
            Ok(())
        );
        assert_eq!(
            check(vec![txn_op(vec![put_op("a")], vec![]), put_op("a")]),
            Err(Error::DuplicateKey)
        );
    }

    #[test]
    fn op_limit_and_empty_ops() {
        let many: Vec<RequestOp> = (0..129).map(|i| put_op(&format!("k{i}"))).collect();
        assert_eq!(check(many), Err(Error::TooManyOps));
        // A nested txn shares its parent's budget.
        let mut ops: Vec<RequestOp> = (0..100).map(|i| put_op(&format!("k{i}"))).collect();
        let nested: Vec<RequestOp> = (0..28).map(|i| put_op(&format!("n{i}"))).collect();
        ops.push(txn_op(nested, vec![]));
        assert_eq!(check(ops), Err(Error::TooManyOps));
        let mut ops: Vec<RequestOp> = (0..100).map(|i| put_op(&format!("k{i}"))).collect();
        let nested: Vec<RequestOp> = (0..27).map(|i| put_op(&format!("n{i}"))).collect();
        ops.push(txn_op(nested, vec![]));
        assert_eq!(check(ops), Ok(()));
        assert_eq!(
            check(vec![RequestOp { request: None }]),
            Err(Error::KeyNotFound)
        );
    }
}
