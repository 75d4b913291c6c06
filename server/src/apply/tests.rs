//! Staging: key-value commands in a row share one engine write and see each other;
//! anything else commits the stage first.

use std::sync::Arc;
use std::time::Duration;

use ectd_proto::etcdserverpb::{
    compare, request_op, Compare, LeaseGrantRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest,
};
use ectd_proto::raftcmd::{command::Op, Command};
use prost::Message as _;

use super::{Applier, Output};
use crate::auth::token::{SimpleTokens, Tokens};
use crate::auth::AuthStore;
use crate::engine::Engine;
use crate::error::Error;
use crate::lease::Lessor;
use crate::mvcc::{KvRead, RangeEnd, RangeOptions, Store};
use crate::v2::V2Store;

struct T {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    applier: Applier,
    index: u64,
}

fn open() -> T {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(Engine::open(dir.path()).unwrap()));
    let lessor = Arc::new(Lessor::load(store.engine()));
    let v2 = V2Store::load(store.engine());
    let tokens = Tokens::Simple(SimpleTokens::new(Duration::from_secs(300)));
    let auth = Arc::new(AuthStore::load(store.engine(), tokens, 4));
    let applier = Applier::new(store.clone(), lessor, v2, auth);
    T {
        _dir: dir,
        store,
        applier,
        index: 0,
    }
}

fn put(k: &str, v: &str) -> Op {
    Op::Put(PutRequest {
        key: k.into(),
        value: v.into(),
        ..Default::default()
    })
}

fn txn(compare: Vec<Compare>, success: Vec<RequestOp>) -> Op {
    Op::Txn(TxnRequest {
        compare,
        success,
        failure: Vec::new(),
    })
}

fn op_put(k: &str, v: &str, ignore_value: bool) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: k.into(),
            value: v.into(),
            ignore_value,
            ..Default::default()
        })),
    }
}

fn op_delete(k: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            ectd_proto::etcdserverpb::DeleteRangeRequest {
                key: k.into(),
                ..Default::default()
            },
        )),
    }
}

fn value_is(k: &str, v: &str) -> Compare {
    Compare {
        key: k.into(),
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Value as i32,
        target_union: Some(compare::TargetUnion::Value(v.into())),
        ..Default::default()
    }
}

impl T {
    fn apply(&mut self, op: Op) -> super::Applied {
        self.index += 1;
        let cmd = Command {
            request_id: self.index,
            op: Some(op),
            ..Default::default()
        };
        self.applier.apply(self.index, 1, &cmd.encode_to_vec())
    }

    /// The committed value of `k`, as readers see it.
    fn read(&self, k: &str) -> Option<Vec<u8>> {
        let rr = self
            .store
            .read_view()
            .range(k.as_bytes(), RangeEnd::Single, RangeOptions::default())
            .unwrap();
        rr.kvs.into_iter().next().map(|kv| kv.value)
    }
}

#[test]
fn staged_commands_see_each_other_and_stay_unseen_until_committed() {
    let mut t = open();
    assert_eq!(t.apply(put("k", "v1")).revision, 2);
    assert!(t.applier.has_staged());
    assert_eq!(t.read("k"), None, "nothing staged is visible to readers");
    assert_eq!(t.store.current_rev(), 1);

    // A txn staged behind the put compares against it.
    let done = t.apply(txn(
        vec![value_is("k", "v1")],
        vec![op_put("k", "v2", false)],
    ));
    match done.outcome {
        Ok(Output::Txn(r)) => assert!(r.succeeded, "the compare sees the staged put"),
        other => panic!("txn: {other:?}"),
    }
    assert_eq!(done.revision, 3);
    assert_eq!(done.changes[0].prev_kv.as_ref().unwrap().value, b"v1");
    assert_eq!(done.changes[0].kv.as_ref().unwrap().version, 2);

    // A txn that fails half-way (its second op needs the key its first deleted)
    // leaves nothing behind, and the next command does not see its delete.
    let done = t.apply(txn(Vec::new(), vec![op_delete("k"), op_put("k", "", true)]));
    assert_eq!(done.outcome, Err(Error::KeyNotFound));
    assert_eq!(done.revision, 3);
    let done = t.apply(put("k", "v3"));
    assert_eq!(done.revision, 4);
    assert_eq!(done.changes[0].prev_kv.as_ref().unwrap().value, b"v2");
    assert!(t.applier.has_staged());

    t.applier.commit_staged();
    assert!(!t.applier.has_staged());
    assert_eq!(t.read("k").unwrap(), b"v3");
    assert_eq!(t.store.current_rev(), 4);
    assert_eq!(t.applier.persisted_applied_index(), t.index);
}

#[test]
fn other_commands_commit_the_stage_first() {
    let mut t = open();
    t.apply(put("k", "v1"));
    t.apply(put("k", "v2"));
    // A range at an explicit revision may name a staged one: the stage is
    // committed before it, so it reads the version written there.
    let done = t.apply(txn(
        Vec::new(),
        vec![RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key: "k".into(),
                revision: 2,
                ..Default::default()
            })),
        }],
    ));
    assert!(!t.applier.has_staged());
    match done.outcome {
        Ok(Output::Txn(r)) => match &r.responses[0].response {
            Some(ectd_proto::etcdserverpb::response_op::Response::ResponseRange(rr)) => {
                assert_eq!(rr.kvs[0].value, b"v1")
            }
            other => panic!("range response: {other:?}"),
        },
        other => panic!("txn: {other:?}"),
    }
    assert_eq!(t.read("k").unwrap(), b"v2");

    t.apply(put("k", "v3"));
    assert!(t.applier.has_staged());
    let done = t.apply(Op::LeaseGrant(LeaseGrantRequest { ttl: 60, id: 7 }));
    assert!(matches!(done.outcome, Ok(Output::LeaseGrant(_))));
    assert!(!t.applier.has_staged());
    assert_eq!(t.read("k").unwrap(), b"v3");
    assert_eq!(t.applier.persisted_applied_index(), t.index);
}
