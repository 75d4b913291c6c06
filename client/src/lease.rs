//! The Lease service: granting, revoking, inspecting and renewing leases.
//!
//! A lease is a TTL the server counts down; keys attached to it are deleted
//! when it expires or is revoked. Keeping one alive for longer than a single
//! request is [`LeaseKeeper`](crate::LeaseKeeper)'s job.

use futures::StreamExt;

use crate::client::Client;
use crate::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use crate::Error;

/// The status etcd answers for a lease it does not know, reproduced when a
/// keep-alive reveals the same thing through a zero TTL.
const LEASE_NOT_FOUND: &str = "etcdserver: requested lease not found";

impl Client {
    /// `Lease.LeaseGrant`: creates a lease that expires `ttl` seconds after
    /// its last renewal. `id` 0 lets the server choose the ID; any other
    /// value asks for exactly that ID (and fails if it is taken). The server
    /// may raise a TTL below its minimum; the response says what was granted.
    pub async fn lease_grant(&self, ttl: i64, id: i64) -> Result<LeaseGrantResponse, Error> {
        let request = LeaseGrantRequest { ttl, id };
        self.unary(request, |req| {
            let mut lease = self.lease();
            async move { lease.lease_grant(req).await }
        })
        .await
    }

    /// `Lease.LeaseRevoke`: ends the lease now and deletes every key attached
    /// to it, in one revision (none if no key is attached).
    pub async fn lease_revoke(&self, id: i64) -> Result<LeaseRevokeResponse, Error> {
        let request = LeaseRevokeRequest { id };
        self.unary(request, |req| {
            let mut lease = self.lease();
            async move { lease.lease_revoke(req).await }
        })
        .await
    }

    /// `Lease.LeaseTimeToLive`: the granted and remaining TTL of a lease,
    /// and with `keys` the keys attached to it (in no particular order). A
    /// lease that does not exist (any more) is reported with TTL -1 rather
    /// than as an error.
    pub async fn lease_time_to_live(
        &self,
        id: i64,
        keys: bool,
    ) -> Result<LeaseTimeToLiveResponse, Error> {
        let request = LeaseTimeToLiveRequest { id, keys };
        self.unary(request, |req| {
            let mut lease = self.lease();
            async move { lease.lease_time_to_live(req).await }
        })
        .await
    }

    /// `Lease.LeaseLeases`: every lease the server holds.
    pub async fn lease_leases(&self) -> Result<LeaseLeasesResponse, Error> {
        self.unary(LeaseLeasesRequest {}, |req| {
            let mut lease = self.lease();
            async move { lease.lease_leases(req).await }
        })
        .await
    }

    /// Renews a lease once: resets its remaining TTL to the granted TTL and
    /// returns the new TTL. A lease the server no longer knows (it expired or
    /// was revoked) fails with etcd's `NotFound` status
    /// `etcdserver: requested lease not found`, as clientv3 reports it.
    pub async fn lease_keep_alive_once(&self, id: i64) -> Result<LeaseKeepAliveResponse, Error> {
        let resp = self
            .unary(LeaseKeepAliveRequest { id }, |req| {
                let mut lease = self.lease();
                // The request side stays open until the answer is in: a
                // server may end the call as soon as the client half-closes
                // it.
                let req = req.map(|renewal| {
                    futures::stream::iter([renewal]).chain(futures::stream::pending())
                });
                async move {
                    let mut responses = lease.lease_keep_alive(req).await?.into_inner();
                    match responses.next().await {
                        Some(Ok(resp)) => Ok(tonic::Response::new(resp)),
                        Some(Err(status)) => Err(status),
                        None => Err(tonic::Status::unavailable(
                            "keep-alive stream ended without a response",
                        )),
                    }
                }
            })
            .await?;
        if resp.ttl <= 0 {
            return Err(lease_not_found());
        }
        Ok(resp)
    }
}

/// etcd's answer for an unknown lease.
pub(crate) fn lease_not_found() -> Error {
    Error::Rpc {
        code: tonic::Code::NotFound,
        message: LEASE_NOT_FOUND.to_string(),
    }
}
