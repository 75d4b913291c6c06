//! `etcdserverpb.Lease`: grant, revoke, keep-alive, time-to-live and listing.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use ectd_proto::etcdserverpb::lease_server::Lease;
use ectd_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseStatus,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use ectd_proto::raftcmd::command::Op;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::kv::{reject_learner, require_leader};
use super::watchdog::{wants_leader, watchdog};
use crate::apply::Output;
use crate::error::Error;
use crate::lease::MAX_LEASE_TTL;
use crate::server::Server;

/// The Lease service of one member.
pub struct LeaseService {
    server: Arc<Server>,
}

impl LeaseService {
    /// A Lease service backed by `server`.
    pub fn new(server: Arc<Server>) -> LeaseService {
        LeaseService { server }
    }
}

fn unexpected(o: Output) -> Status {
    panic!("apply answered a lease request with {o:?}")
}

/// A lease id nobody uses: positive, as etcd picks them.
fn fresh_id(server: &Server) -> i64 {
    loop {
        let id = (rand::random::<u64>() >> 1) as i64;
        if id != 0 && !server.lessor().exists(id) {
            return id;
        }
    }
}

/// Reads one keep-alive and renews the lease; `None` when the client is done.
async fn keep_alive_once<S>(
    server: &Server,
    incoming: &mut S,
) -> Option<Result<LeaseKeepAliveResponse, Status>>
where
    S: Stream<Item = Result<LeaseKeepAliveRequest, Status>> + Unpin,
{
    let req = match incoming.next().await? {
        Ok(req) => req,
        Err(status) => return Some(Err(status)),
    };
    Some(match server.renew_lease(req.id).await {
        Ok(ttl) => Ok(LeaseKeepAliveResponse {
            header: Some(server.header(0)),
            id: req.id,
            ttl,
        }),
        Err(e) => Err(e.into()),
    })
}

/// The answers of one keep-alive call.
pub type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<LeaseKeepAliveResponse, Status>> + Send + 'static>>;

impl LeaseService {
    /// One keep-alive call over any source of requests (the gRPC stream, or the
    /// JSON gateway's request body); the answer is the same either way.
    #[allow(clippy::result_large_err)] // the error every gRPC method returns
    pub fn keep_alive<S>(&self, req: Request<S>) -> Result<KeepAliveStream, Status>
    where
        S: Stream<Item = Result<LeaseKeepAliveRequest, Status>> + Send + Unpin + 'static,
    {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let dog = watchdog(&self.server, wants_leader(&req));
        let incoming = req.into_inner();
        let server = self.server.clone();
        // Each keep-alive is answered before the next is read, as etcd does.
        let out = futures::stream::unfold(
            (incoming, server, Some(dog)),
            |(mut incoming, server, dog)| async move {
                let mut dog = dog?;
                let answer = tokio::select! {
                    answer = keep_alive_once(&server, &mut incoming) => answer?,
                    status = &mut dog => Err(status),
                };
                match answer {
                    Ok(resp) => Some((Ok(resp), (incoming, server, Some(dog)))),
                    Err(status) => Some((Err(status), (incoming, server, None))),
                }
            },
        );
        Ok(Box::pin(out))
    }
}

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Request<LeaseGrantRequest>,
    ) -> Result<Response<LeaseGrantResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        // etcd checks the quota before anything else about the request.
        self.server
            .check_quota(crate::alarm::quota::LEASE_COST)
            .await?;
        let id = self.server.identity(&req).await?;
        let mut r = req.into_inner();
        if r.ttl > MAX_LEASE_TTL {
            return Err(Error::LeaseTtlTooLarge.into());
        }
        r.ttl = r.ttl.max(self.server.limits().min_lease_ttl);
        if r.id == 0 {
            r.id = fresh_id(&self.server);
        }
        match self.server.propose_as(Op::LeaseGrant(r), &id).await? {
            Output::LeaseGrant(mut resp) => {
                let rev = resp.header.map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(rev));
                Ok(Response::new(resp))
            }
            o => Err(unexpected(o)),
        }
    }

    async fn lease_revoke(
        &self,
        req: Request<LeaseRevokeRequest>,
    ) -> Result<Response<LeaseRevokeResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let id = self.server.identity(&req).await?;
        let r = req.into_inner();
        match self.server.propose_as(Op::LeaseRevoke(r), &id).await? {
            Output::LeaseRevoke(mut resp) => {
                let rev = resp.header.map_or(0, |h| h.revision);
                resp.header = Some(self.server.header(rev));
                Ok(Response::new(resp))
            }
            o => Err(unexpected(o)),
        }
    }

    type LeaseKeepAliveStream = KeepAliveStream;

    async fn lease_keep_alive(
        &self,
        req: Request<Streaming<LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::LeaseKeepAliveStream>, Status> {
        self.keep_alive(req).map(Response::new)
    }

    async fn lease_time_to_live(
        &self,
        req: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let checked = req.get_ref().keys && self.server.auth().enabled();
        let id = if checked {
            self.server.identity(&req).await?
        } else {
            None
        };
        let r = req.into_inner();
        self.server.read_barrier().await?;
        let view = self.server.store().read_view();
        if checked {
            // Listing a lease's keys needs read access to each, as in etcd 3.5.
            if id.is_none() {
                return Err(Error::UserEmpty.into());
            }
            if self.server.lessor().exists(r.id) {
                for key in view.lease_keys(r.id) {
                    self.server.auth().check_range(&id, &key, &[])?;
                }
            }
        }
        let header = Some(self.server.header(0));
        let resp = match self.server.lessor().get(r.id) {
            None => LeaseTimeToLiveResponse {
                header,
                id: r.id,
                ttl: -1,
                ..Default::default()
            },
            Some(l) => LeaseTimeToLiveResponse {
                header,
                id: r.id,
                ttl: l.remaining(Instant::now()).as_secs() as i64,
                granted_ttl: l.ttl,
                keys: if r.keys {
                    view.lease_keys(r.id)
                } else {
                    Vec::new()
                },
            },
        };
        Ok(Response::new(resp))
    }

    async fn lease_leases(
        &self,
        req: Request<LeaseLeasesRequest>,
    ) -> Result<Response<LeaseLeasesResponse>, Status> {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let leases = self
            .server
            .lessor()
            .ids()
            .into_iter()
            .map(|id| LeaseStatus { id })
            .collect();
        Ok(Response::new(LeaseLeasesResponse {
            header: Some(self.server.header(0)),
            leases,
        }))
    }
}
