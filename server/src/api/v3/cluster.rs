//! `etcdserverpb.Cluster`: membership listing and changes.

use std::sync::Arc;

use ectd_proto::etcdserverpb::cluster_server::Cluster;
use ectd_proto::etcdserverpb::{
    Member, MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};
use ectd_proto::raftcmd;
use tonic::{Request, Response, Status};

use super::kv::reject_learner;
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

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Request<MemberAddRequest>,
    ) -> Result<Response<MemberAddResponse>, Status> {
        reject_learner(&self.server)?;
        let r = req.into_inner();
        let (member, members) = reconfig::add(&self.server, r.peer_ur_ls, r.is_learner).await?;
        Ok(Response::new(MemberAddResponse {
            header: Some(self.server.header(0)),
            member: Some(to_wire(member)),
            members: to_wire_all(members),
        }))
    }

    async fn member_remove(
        &self,
        req: Request<MemberRemoveRequest>,
    ) -> Result<Response<MemberRemoveResponse>, Status> {
        reject_learner(&self.server)?;
        let members = reconfig::remove(&self.server, req.into_inner().id).await?;
        Ok(Response::new(MemberRemoveResponse {
            header: Some(self.server.header(0)),
            members: to_wire_all(members),
        }))
    }

    async fn member_update(
        &self,
        req: Request<MemberUpdateRequest>,
    ) -> Result<Response<MemberUpdateResponse>, Status> {
        reject_learner(&self.server)?;
        let r = req.into_inner();
        let members = reconfig::update(&self.server, r.id, r.peer_ur_ls).await?;
        Ok(Response::new(MemberUpdateResponse {
            header: Some(self.server.header(0)),
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
            header: Some(self.server.header(0)),
            members: to_wire_all(self.server.members()),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<MemberPromoteRequest>,
    ) -> Result<Response<MemberPromoteResponse>, Status> {
        reject_learner(&self.server)?;
        let members = reconfig::promote(&self.server, req.into_inner().id).await?;
        Ok(Response::new(MemberPromoteResponse {
            header: Some(self.server.header(0)),
            members: to_wire_all(members),
        }))
    }
}
