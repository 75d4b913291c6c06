//! Request builders and the small helpers the hand-written cases share.

use crate::harness::*;
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use ectd_client::proto::etcdserverpb::{
    request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};

pub(crate) fn range(key: &[u8], end: &[u8]) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        range_end: end.to_vec(),
        ..Default::default()
    }
}

pub(crate) fn get(key: &[u8]) -> RangeRequest {
    range(key, b"")
}

pub(crate) fn put(key: &[u8], value: &[u8]) -> PutRequest {
    PutRequest {
        key: key.to_vec(),
        value: value.to_vec(),
        ..Default::default()
    }
}

pub(crate) fn del(key: &[u8], end: &[u8]) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.to_vec(),
        range_end: end.to_vec(),
        prev_kv: false,
    }
}

pub(crate) fn txn(
    compare: Vec<Compare>,
    success: Vec<RequestOp>,
    failure: Vec<RequestOp>,
) -> TxnRequest {
    TxnRequest {
        compare,
        success,
        failure,
    }
}

pub(crate) fn cmp(
    key: &[u8],
    target: CompareTarget,
    result: CompareResult,
    union: TargetUnion,
) -> Compare {
    Compare {
        result: result as i32,
        target: target as i32,
        key: key.to_vec(),
        target_union: Some(union),
        range_end: Vec::new(),
    }
}

pub(crate) fn op_range(r: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(r)),
    }
}

pub(crate) fn op_put(r: PutRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(r)),
    }
}

pub(crate) fn op_del(r: DeleteRangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(r)),
    }
}

pub(crate) fn op_txn(r: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestTxn(r)),
    }
}

/// etcd's `GetPrefixRangeEnd`: the first key after every key with prefix `p`;
/// `"\0"` (every key from `p` on) if `p` is all 0xff.
pub(crate) fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            *end.last_mut().unwrap() += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

pub(crate) fn header_rev(o: &Seen) -> Option<i64> {
    let h = match o.0.as_ref().ok()? {
        Resp::Range(r) => r.header.as_ref(),
        Resp::Put(r) => r.header.as_ref(),
        Resp::Delete(r) => r.header.as_ref(),
        Resp::Txn(r) => r.header.as_ref(),
        Resp::Compact(r) => r.header.as_ref(),
    };
    h.map(|h| h.revision)
}

/// Writes that must succeed on etcd: a setup step that fails would make every
/// later case meaningless.
pub(crate) async fn must(p: &mut Pair, label: &str, req: Req) -> i64 {
    let o = p.case(label, req).await;
    match &o.0 {
        Ok(_) => header_rev(&o).expect("a header"),
        Err(e) => panic!("setup step {label} failed on etcd: {e:?}"),
    }
}

pub(crate) const ORDERS: [SortOrder; 3] = [SortOrder::None, SortOrder::Ascend, SortOrder::Descend];
pub(crate) const TARGETS: [SortTarget; 5] = [
    SortTarget::Key,
    SortTarget::Version,
    SortTarget::Create,
    SortTarget::Mod,
    SortTarget::Value,
];
pub(crate) const RESULTS: [CompareResult; 4] = [
    CompareResult::Equal,
    CompareResult::Greater,
    CompareResult::Less,
    CompareResult::NotEqual,
];
