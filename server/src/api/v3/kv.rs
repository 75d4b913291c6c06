//! `etcdserverpb.KV`: a thin facade that checks requests, proposes writes, serves
//! reads after the read barrier, and fills response headers.

use std::sync::Arc;

use ectd_proto::etcdserverpb::kv_server::Kv;
use ectd_proto::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use ectd_proto::raftcmd::command::Op;
use tonic::{Request, Response, Status};

use super::check;
use crate::alarm::quota;
use crate::apply::{kv, Output};
use crate::error::Error;
use crate::mvcc::KvRead as _;
use crate::server::Server;

/// The KV service of one member.
pub struct KvService {
    server: Arc<Server>,
}

impl KvService {
    /// A KV service backed by `server`.
    pub fn new(server: Arc<Server>) -> KvService {
        KvService { server }
    }
}

/// Refuses a request carrying `hasleader=true` while the member knows no leader.
pub fn require_leader<T>(server: &Server, req: &Request<T>) -> Result<(), Error> {
    if super::watchdog::wants_leader(req) && server.raft_status().leader() == 0 {
        return Err(Error::NoLeader);
    }
    Ok(())
}

/// A learner serves only serializable ranges (and status); everything else is
/// refused as etcd refuses it.
pub fn reject_learner(server: &Server) -> Result<(), Error> {
    if server.is_learner() {
        return Err(Error::NotSupportedForLearner);
    }
    Ok(())
}

fn unexpected(o: Output) -> Status {
    panic!("apply answered with the wrong kind of output: {o:?}")
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        require_leader(&self.server, &req)?;
        let id = self.server.identity(&req).await?;
        let r = req.into_inner();
        if !r.serializable {
            reject_learner(&self.server)?;
        }
        check::range(&r)?;
        if !r.serializable {
            self.server.read_barrier().await?;
        }
        let auth = self.server.auth();
        auth.check_range(&id, &r.key, &r.range_end)?;
        let view = self.server.store().read_view();
        self.server.store().stats().note_range();
        let mut resp = kv::range(&view, &r)?;
        auth.check_not_stale(&id)?;
        resp.header = Some(self.server.header(view.rev()));
        Ok(Response::new(resp))
    }

    async fn put(&self, req: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        // etcd checks the quota before anything else about the request.
        self.server
            .check_quota(quota::put_cost(req.get_ref()))
            .await?;
        let id = self.server.identity(&req).await?;
        let r = req.into_inner();
        check::put(&r)?;
        match self.server.propose_as(Op::Put(r), &id).await? {
            Output::Put(mut resp) => {
                let rev = resp.header.map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(rev));
                Ok(Response::new(resp))
            }
            o => Err(unexpected(o)),
        }
    }

    async fn delete_range(
        &self,
        req: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let id = self.server.identity(&req).await?;
        let r = req.into_inner();
        check::delete_range(&r)?;
        match self.server.propose_as(Op::DeleteRange(r), &id).await? {
            Output::DeleteRange(mut resp) => {
                let rev = resp.header.map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(rev));
                Ok(Response::new(resp))
            }
            o => Err(unexpected(o)),
        }
    }

    async fn txn(&self, req: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        self.server
            .check_quota(quota::txn_cost(req.get_ref()))
            .await?;
        let id = self.server.identity(&req).await?;
        let r = req.into_inner();
        check::txn(&r, self.server.limits().max_txn_ops)?;
        let mut resp = if kv::txn_is_read_only(&r) {
            if !txn_is_serializable(&r) {
                self.server.read_barrier().await?;
            }
            let auth = self.server.auth();
            if auth.enabled() {
                crate::auth::check_txn_for(&auth.state(), &id, &r)?;
            }
            let view = self.server.store().read_view();
            self.server.store().stats().note_txn();
            let resp = kv::txn_read(&view, view.compact_rev(), &r)?;
            auth.check_not_stale(&id)?;
            resp
        } else {
            match self.server.propose_as(Op::Txn(r), &id).await? {
                Output::Txn(resp) => resp,
                o => return Err(unexpected(o)),
            }
        };
        let rev = resp.header.map_or(0, |h| h.revision);
        resp.header = Some(self.server.header(rev));
        Ok(Response::new(resp))
    }

    async fn compact(
        &self,
        req: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let id = self.server.identity(&req).await?;
        let r = req.into_inner();
        let (physical, revision) = (r.physical, r.revision);
        let outcome = self.server.propose_as(Op::Compaction(r), &id).await;
        if physical {
            // As in etcd, a physical compaction answers once this member has
            // deleted the old versions: those of this compaction, or, when it was
            // refused as already compacted, those of the compaction that was.
            let until = match &outcome {
                Ok(_) => revision,
                Err(Error::Compacted) => self.server.store().compact_rev(),
                Err(_) => -1,
            };
            if until >= 0 && self.server.compactor().wait_finished(until).await.is_err() {
                return Err(Error::Stopped.into());
            }
        }
        match outcome? {
            Output::Compaction(mut resp) => {
                let rev = resp.header.map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(rev));
                Ok(Response::new(resp))
            }
            o => Err(unexpected(o)),
        }
    }
}

/// A read-only txn is served without a read barrier only if every range in it is
/// serializable, as etcd decides.
fn txn_is_serializable(r: &TxnRequest) -> bool {
    use ectd_proto::etcdserverpb::request_op::Request as Op;
    r.success
        .iter()
        .chain(&r.failure)
        .all(|op| match &op.request {
            Some(Op::RequestRange(rr)) => rr.serializable,
            Some(Op::RequestTxn(t)) => txn_is_serializable(t),
            _ => true,
        })
}
