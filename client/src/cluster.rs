//! Membership and maintenance calls: the Cluster service and the parts of
//! the Maintenance service that operate a cluster (status, leadership).

use crate::client::Client;
use crate::proto::etcdserverpb::{
    MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse, MoveLeaderRequest, MoveLeaderResponse,
    StatusRequest, StatusResponse,
};
use crate::{ConnectOptions, Error};

impl Client {
    /// `Cluster.MemberList`: every member the cluster knows, voting members
    /// and learners alike. A member that was added but has not started yet
    /// has an empty name and no client URLs.
    pub async fn member_list(
        &self,
        request: MemberListRequest,
    ) -> Result<MemberListResponse, Error> {
        self.unary(request, |req| {
            let mut cluster = self.cluster();
            async move { cluster.member_list(req).await }
        })
        .await
    }

    /// `Cluster.MemberAdd`: registers a new member (a learner when
    /// `is_learner` is set) by its peer URLs. The member itself must then be
    /// started with the configuration the response describes.
    pub async fn member_add(&self, request: MemberAddRequest) -> Result<MemberAddResponse, Error> {
        self.unary(request, |req| {
            let mut cluster = self.cluster();
            async move { cluster.member_add(req).await }
        })
        .await
    }

    /// `Cluster.MemberRemove`: removes the member with the given ID.
    pub async fn member_remove(
        &self,
        request: MemberRemoveRequest,
    ) -> Result<MemberRemoveResponse, Error> {
        self.unary(request, |req| {
            let mut cluster = self.cluster();
            async move { cluster.member_remove(req).await }
        })
        .await
    }

    /// `Cluster.MemberUpdate`: replaces a member's peer URLs.
    pub async fn member_update(
        &self,
        request: MemberUpdateRequest,
    ) -> Result<MemberUpdateResponse, Error> {
        self.unary(request, |req| {
            let mut cluster = self.cluster();
            async move { cluster.member_update(req).await }
        })
        .await
    }

    /// `Cluster.MemberPromote`: turns a learner that has caught up with the
    /// leader into a voting member.
    pub async fn member_promote(
        &self,
        request: MemberPromoteRequest,
    ) -> Result<MemberPromoteResponse, Error> {
        self.unary(request, |req| {
            let mut cluster = self.cluster();
            async move { cluster.member_promote(req).await }
        })
        .await
    }

    /// `Maintenance.Status` of the member this client is connected to: its
    /// ID, the leader it follows, raft progress, database size and alarms.
    pub async fn status(&self, request: StatusRequest) -> Result<StatusResponse, Error> {
        self.unary(request, |req| {
            let mut maintenance = self.maintenance();
            async move { maintenance.status(req).await }
        })
        .await
    }

    /// `Maintenance.Status` of one particular endpoint: connects to exactly
    /// that endpoint (never to another one, as [`Client::connect_with`] might
    /// with several) and asks it, in plaintext; over TLS, connect with
    /// [`Client::connect_tls`] and call [`Client::status`]. The connection
    /// is dropped afterwards.
    pub async fn endpoint_status(
        endpoint: &str,
        options: ConnectOptions,
    ) -> Result<StatusResponse, Error> {
        let client = Client::connect_with(&[endpoint.to_string()], options).await?;
        client.status(StatusRequest::default()).await
    }

    /// `Maintenance.MoveLeader`: hands leadership to the member
    /// `target_id`. Only the current leader can do that, so the client must
    /// be connected to it (see [`StatusResponse::leader`] and the member ID
    /// in the status header).
    pub async fn move_leader(
        &self,
        request: MoveLeaderRequest,
    ) -> Result<MoveLeaderResponse, Error> {
        self.unary(request, |req| {
            let mut maintenance = self.maintenance();
            async move { maintenance.move_leader(req).await }
        })
        .await
    }
}
