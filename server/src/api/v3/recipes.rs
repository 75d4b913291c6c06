//! The building blocks of etcd's lock and election recipes, run inside the member:
//! txns and reads through the same paths as client requests, and waiting for keys
//! to be deleted through the member's own watchers. As in etcd, the recipes do not
//! keep the caller's lease alive: that stays the client's job.

use std::sync::Arc;

use ectd_proto::etcdserverpb::{
    compare, range_request, request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest,
    RangeResponse, RequestOp, ResponseHeader, TxnRequest, TxnResponse, WatchCreateRequest,
};
use ectd_proto::mvccpb::event::EventType;
use ectd_proto::raftcmd::command::Op;

use crate::apply::{kv, Output};
use crate::error::Error;
use crate::server::Server;

/// The end of the range of every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The status a recipe's failure reaches the client with. etcd runs its recipes
/// through an internal client, whose errors reach the caller as plain messages
/// (gRPC code Unknown) whatever their code was.
pub fn recipe_status(e: Error) -> tonic::Status {
    tonic::Status::unknown(e.to_string())
}

/// The key of `prefix`'s entry for `lease`: the lease id as Go's `%x` prints it
/// (a negative id keeps its sign).
pub fn lease_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    let id = if lease < 0 {
        format!("-{:x}", (lease as i128).unsigned_abs())
    } else {
        format!("{lease:x}")
    };
    key.extend_from_slice(id.as_bytes());
    key
}

/// `create_revision(key) == rev`.
pub fn created_at(key: &[u8], rev: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Create as i32,
        key: key.to_vec(),
        target_union: Some(compare::TargetUnion::CreateRevision(rev)),
        range_end: Vec::new(),
    }
}

/// A put op.
pub fn put_op(key: &[u8], value: &[u8], lease: i64) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
            ..Default::default()
        })),
    }
}

/// A delete op of one key.
pub fn delete_op(key: &[u8]) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.to_vec(),
                ..Default::default()
            },
        )),
    }
}

/// A range op.
pub fn range_op(req: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(req)),
    }
}

/// A get of one key.
pub fn get(key: &[u8]) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        ..Default::default()
    }
}

/// The key under `prefix` created first (the owner of a lock, the leader of an
/// election), optionally only among keys created at or before `max_create_rev`
/// (then the one created last).
pub fn first_created(prefix: &[u8]) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: range_request::SortOrder::Ascend as i32,
        sort_target: range_request::SortTarget::Create as i32,
        ..Default::default()
    }
}

/// The key under `prefix` created last at or before `max_create_rev`.
pub fn last_created_before(prefix: &[u8], max_create_rev: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: range_request::SortOrder::Descend as i32,
        sort_target: range_request::SortTarget::Create as i32,
        max_create_revision: max_create_rev,
        ..Default::default()
    }
}

/// The range response of op `i` of a txn response.
pub fn range_of(resp: &TxnResponse, i: usize) -> &RangeResponse {
    match resp.responses.get(i).and_then(|r| r.response.as_ref()) {
        Some(ectd_proto::etcdserverpb::response_op::Response::ResponseRange(r)) => r,
        other => panic!("txn op {i} answered {other:?}, not a range"),
    }
}

/// The TTL of the lease a lock or campaign without a lease gets (etcd's session
/// default).
pub const SESSION_TTL: i64 = 60;

/// Runs KV requests on behalf of a recipe, as the user who asked for it: each
/// is checked as the same request from that user would be.
#[derive(Clone)]
pub struct Local {
    server: Arc<Server>,
    id: crate::auth::Identity,
}

impl Local {
    /// Requests served by `server` (no user yet).
    pub fn new(server: Arc<Server>) -> Local {
        Local { server, id: None }
    }

    /// The same, on behalf of the sender of `req`.
    pub async fn as_sender_of<T>(&self, req: &tonic::Request<T>) -> Result<Local, tonic::Status> {
        let id = self.server.identity(req).await.map_err(recipe_status)?;
        Ok(Local {
            server: self.server.clone(),
            id,
        })
    }

    /// The server.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    fn fill(&self, header: Option<ResponseHeader>) -> Option<ResponseHeader> {
        Some(self.server.header(header.map_or(0, |h| h.revision)))
    }

    /// A txn through raft; the response header is complete.
    pub async fn txn(&self, req: TxnRequest) -> Result<TxnResponse, Error> {
        match self.server.propose_as(Op::Txn(req), &self.id).await? {
            Output::Txn(mut resp) => {
                resp.header = self.fill(resp.header);
                Ok(resp)
            }
            o => panic!("apply answered a txn with {o:?}"),
        }
    }

    /// The lease a recipe's key is written with: `lease` if given, else, as
    /// etcd's lock and election services do with lease 0, a new lease of
    /// [`SESSION_TTL`] seconds that nothing keeps alive past the request.
    pub async fn session_lease(&self, lease: i64) -> Result<i64, Error> {
        if lease != 0 {
            return Ok(lease);
        }
        let id = loop {
            let id = (rand::random::<u64>() >> 1) as i64;
            if id != 0 && !self.server.lessor().exists(id) {
                break id;
            }
        };
        let grant = ectd_proto::etcdserverpb::LeaseGrantRequest {
            ttl: SESSION_TTL.max(self.server.limits().min_lease_ttl),
            id,
        };
        match self
            .server
            .propose_as(Op::LeaseGrant(grant), &self.id)
            .await?
        {
            Output::LeaseGrant(resp) if resp.error.is_empty() => Ok(resp.id),
            Output::LeaseGrant(_) => Err(Error::LeaseExists),
            o => panic!("apply answered a lease grant with {o:?}"),
        }
    }

    /// A linearizable range; the response header is complete.
    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse, Error> {
        self.server.read_barrier().await?;
        let auth = self.server.auth();
        auth.check_range(&self.id, &req.key, &req.range_end)?;
        let view = self.server.store().read_view();
        let mut resp = kv::range(&view, &req)?;
        auth.check_not_stale(&self.id)?;
        resp.header = self.fill(resp.header);
        Ok(resp)
    }

    /// Deletes one key; returns the response header.
    pub async fn delete(&self, key: &[u8]) -> Result<ResponseHeader, Error> {
        match self
            .server
            .propose_as(
                Op::DeleteRange(DeleteRangeRequest {
                    key: key.to_vec(),
                    ..Default::default()
                }),
                &self.id,
            )
            .await?
        {
            Output::DeleteRange(resp) => Ok(self.fill(resp.header).expect("filled header")),
            o => panic!("apply answered a delete with {o:?}"),
        }
    }

    /// Waits until every key under `prefix` created at or before `max_create_rev`
    /// is gone; returns the header of the read that found none.
    pub async fn wait_deletes(
        &self,
        prefix: &[u8],
        max_create_rev: i64,
    ) -> Result<ResponseHeader, Error> {
        loop {
            let resp = self
                .range(last_created_before(prefix, max_create_rev))
                .await?;
            let header = resp.header.expect("filled header");
            let Some(kv) = resp.kvs.first() else {
                return Ok(header);
            };
            self.wait_delete(&kv.key, header.revision).await;
        }
    }

    /// Waits for a deletion of `key` after revision `rev` (returns early if the
    /// history needed was compacted: callers re-read).
    pub async fn wait_delete(&self, key: &[u8], rev: i64) {
        let stream = self.server.hub().open_stream();
        stream.create(&WatchCreateRequest {
            key: key.to_vec(),
            start_revision: rev + 1,
            ..Default::default()
        });
        while let Some(resp) = stream.next().await {
            if resp.canceled {
                return;
            }
            if resp
                .events
                .iter()
                .any(|e| e.r#type == EventType::Delete as i32)
            {
                return;
            }
        }
    }
}

/// Runs `cleanup` in the background if dropped while armed: recipes that are
/// interrupted (the client went away) undo what they wrote, as etcd's do when their
/// context is cancelled.
pub struct Undo {
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Undo {
    /// Arms `cleanup`.
    pub fn new(cleanup: impl FnOnce() + Send + 'static) -> Undo {
        Undo {
            cleanup: Some(Box::new(cleanup)),
        }
    }

    /// The work completed: nothing to undo.
    pub fn disarm(mut self) {
        self.cleanup = None;
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(f) = self.cleanup.take() {
            f();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_print_ids_as_go_does() {
        assert_eq!(lease_key(b"l/", 0x694d), b"l/694d".to_vec());
        assert_eq!(lease_key(b"l/", -3), b"l/-3".to_vec());
        assert_eq!(lease_key(b"l/", i64::MIN), b"l/-8000000000000000".to_vec());
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"a/"), b"a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }
}
