//! `etcdserverpb.Cluster`: membership listing and changes.

use std::sync::Arc;

use ectd_proto::etcdserverpb::cluster_server::Cluster;
use ectd_proto::etcdserverpb::{
    Member, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse, ResponseHeader,
};
use ectd_proto::raftcmd;
use std::time::Duration;

use ectd_proto::etcdserverpb::cluster_client::ClusterClient;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use super::kv::reject_learner;
use crate::error::Error;
use crate::reconfig;
use crate::server::Server;

/// The Cluster service of one member.
pub struct ClusterService {
    server: Arc<Server>,
}

impl ClusterService {
    /// A Cluster service backed by `server`.
    pub fn new(server: Arc<Server>) -> ClusterService {
        ClusterService { server }
    }

    /// Membership answers carry no revision: they describe the cluster, not the
    /// keyspace, and etcd leaves the field unset.
    fn header(&self) -> ResponseHeader {
        ResponseHeader {
            revision: 0,
            ..self.server.header(0)
        }
    }
}

/// Membership changes are decided on the leader, which alone knows which voters are
/// up (etcd's strict reconfiguration check): a follower hands the request over to
/// the leader's client URL and relays the answer.
pub(crate) async fn leader_client(
    server: &Server,
) -> Result<Option<ClusterClient<Channel>>, Status> {
    let leader = server.raft_status().leader();
    if leader == 0 {
        return Err(Error::NoLeader.into());
    }
    if leader == server.member_id() {
        return Ok(None);
    }
    let urls = server
        .members()
        .into_iter()
        .find(|m| m.id == leader)
        .map(|m| m.client_urls)
        .unwrap_or_default();
    for url in urls {
        let Ok(ep) = Endpoint::from_shared(url) else {
            continue;
        };
        if let Ok(ch) = ep.connect_timeout(Duration::from_secs(2)).connect().await {
            return Ok(Some(ClusterClient::new(ch)));
        }
    }
    Err(Error::NoLeader.into())
}

/// The wire form of a member record.
pub fn to_wire(m: raftcmd::Member) -> Member {
    Member {
        id: m.id,
        name: m.name,
        peer_ur_ls: m.peer_urls,
        client_ur_ls: m.client_urls,
        is_learner: m.is_learner,
    }
}

fn to_wire_all(ms: Vec<raftcmd::Member>) -> Vec<Member> {
    ms.into_iter().map(to_wire).collect()
}

impl ClusterService {
    /// Refuses anyone but an administrator while auth is on, as etcd does for
    /// membership changes; the request's token, to forward to the leader.
    async fn admin<T>(
        &self,
        req: &Request<T>,
    ) -> Result<Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>, Status> {
        let id = self.server.identity(req).await?;
        self.server.auth().check_admin(&id)?;
        let md = req.metadata();
        Ok(md.get("token").or_else(|| md.get("authorization")).cloned())
    }
}

/// A request to the leader carrying the client's token. The leader's answer
/// is relayed with this member's header, as etcd answers from the member asked.
fn forward<T>(
    msg: T,
    token: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
) -> Request<T> {
    let mut req = Request::new(msg);
    if let Some(t) = token {
        req.metadata_mut().insert("token", t);
    }
    req
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        reject_learner(&self.server)?;
        let token = self.admin(&req).await?;
        let r = req.into_inner();
        if let Some(mut leader) = leader_client(&self.server).await? {
            let mut resp = leader.member_add(forward(r, token)).await?;
            resp.get_mut().header = Some(self.header());
            return Ok(resp);
        }
        let (member, members) = reconfig::add(&self.server, r.peer_ur_ls, r.is_learner).await?;
        Ok(Response::new(MemberAddResponse {
            header: Some(self.header()),
            member: Some(to_wire(member)),
            members: to_wire_all(members),
        }))
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        reject_learner(&self.server)?;
        let token = self.admin(&req).await?;
        let r = req.into_inner();
        if let Some(mut leader) = leader_client(&self.server).await? {
            let mut resp = leader.member_remove(forward(r, token)).await?;
            resp.get_mut().header = Some(self.header());
            return Ok(resp);
        }
        let members = reconfig::remove(&self.server, r.id).await?;
        Ok(Response::new(MemberRemoveResponse {
            header: Some(self.header()),
            members: to_wire_all(members),
        }))
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        reject_learner(&self.server)?;
        self.admin(&req).await?;
        let r = req.into_inner();
        let members = reconfig::update(&self.server, r.id, r.peer_ur_ls).await?;
        Ok(Response::new(MemberUpdateResponse {
            header: Some(self.header()),
            members: to_wire_all(members),
        }))
    }

    async fn member_list(
        &self,
        req: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if req.into_inner().linearizable {
            self.server.read_barrier().await?;
        }
        Ok(Response::new(MemberListResponse {
            header: Some(self.header()),
            members: to_wire_all(self.server.members()),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        reject_learner(&self.server)?;
        let token = self.admin(&req).await?;
        let r = req.into_inner();
        if let Some(mut leader) = leader_client(&self.server).await? {
            let mut resp = leader.member_promote(forward(r, token)).await?;
            resp.get_mut().header = Some(self.header());
            return Ok(resp);
        }
        let members = reconfig::promote(&self.server, r.id).await?;
        Ok(Response::new(MemberPromoteResponse {
            header: Some(self.header()),
            members: to_wire_all(members),
        }))
    }
}
