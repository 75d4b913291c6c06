//! Leader election (the `v3electionpb.Election` service).
//!
//! Candidates for the election `name` each put a key `name/<lease ID in
//! hex>` on their lease; the candidate whose key has the lowest creation
//! revision leads, and the value of its key is the leader's proclamation.
//! A leader that resigns or loses its lease hands leadership to the next
//! candidate in line.

use futures::{Stream, StreamExt};

use crate::client::Client;
use crate::proto::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest, LeaderResponse, ProclaimRequest,
    ProclaimResponse, ResignRequest, ResignResponse,
};
use crate::Error;

impl Client {
    /// `Election.Campaign`: enters the election `name` as a candidate
    /// proposing `value`, on behalf of `lease`, and blocks until this
    /// candidate leads. The returned [`LeaderKey`] proves leadership to
    /// [`Client::proclaim`] and [`Client::resign`]. Not bounded by the
    /// command timeout; dropping the future withdraws the candidacy (the
    /// server deletes the candidate's key).
    pub async fn campaign(
        &self,
        name: impl Into<Vec<u8>>,
        lease: i64,
        value: impl Into<Vec<u8>>,
    ) -> Result<CampaignResponse, Error> {
        let request = CampaignRequest {
            name: name.into(),
            lease,
            value: value.into(),
        };
        self.with_token_retry(|| {
            let mut election = self.election();
            let request = request.clone();
            async move { Ok(election.campaign(request).await?.into_inner()) }
        })
        .await
    }

    /// `Election.Proclaim`: replaces the leader's proclamation with `value`,
    /// if `leader` still leads.
    pub async fn proclaim(
        &self,
        leader: LeaderKey,
        value: impl Into<Vec<u8>>,
    ) -> Result<ProclaimResponse, Error> {
        let request = ProclaimRequest {
            leader: Some(leader),
            value: value.into(),
        };
        self.unary(request, |req| {
            let mut election = self.election();
            async move { election.proclaim(req).await }
        })
        .await
    }

    /// `Election.Leader`: the current leader's key and proclamation. An
    /// election without a leader fails with etcd's status `Unknown`,
    /// `election: no leader`.
    pub async fn leader(&self, name: impl Into<Vec<u8>>) -> Result<LeaderResponse, Error> {
        let request = LeaderRequest { name: name.into() };
        self.unary(request, |req| {
            let mut election = self.election();
            async move { election.leader(req).await }
        })
        .await
    }

    /// `Election.Observe`: the current leader's proclamation (once there
    /// is a leader), then every later proclamation and every new leader's,
    /// in revision order. Each item carries the leader's key-value pair.
    ///
    /// The call starts when the stream is first polled. etcd answers it
    /// only once the election has a leader, so a failure to reach the
    /// server arrives through the stream too. The stream ends when the
    /// server ends it; it is not resumed.
    pub fn observe(
        &self,
        name: impl Into<Vec<u8>>,
    ) -> impl Stream<Item = Result<LeaderResponse, Error>> + Send + 'static {
        let mut election = self.election();
        let request = LeaderRequest { name: name.into() };
        futures::stream::once(async move { election.observe(request).await }).flat_map(|opened| {
            match opened {
                Ok(leaders) => leaders
                    .into_inner()
                    .map(|item| item.map_err(Error::from))
                    .left_stream(),
                Err(status) => futures::stream::iter([Err(Error::from(status))]).right_stream(),
            }
        })
    }

    /// `Election.Resign`: gives up leadership held through `leader`,
    /// deleting its key so that the next candidate leads.
    pub async fn resign(&self, leader: LeaderKey) -> Result<ResignResponse, Error> {
        let request = ResignRequest {
            leader: Some(leader),
        };
        self.unary(request, |req| {
            let mut election = self.election();
            async move { election.resign(req).await }
        })
        .await
    }
}
