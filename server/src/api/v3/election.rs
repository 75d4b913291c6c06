//! `v3electionpb.Election`: etcd's leader election, run inside the member.
//!
//! A candidate for `name` with lease L writes `name/<L in hex>` with its value; the
//! candidate whose key was created first leads. Campaign returns once every key
//! created before the candidate's is gone; the `LeaderKey` it returns (key and
//! create revision) is the proof Proclaim and Resign check, so a deposed leader's
//! writes are refused. As with locks, keeping the lease alive is the caller's job,
//! and a campaign without a lease gets a 60-second lease of its own.

use std::pin::Pin;
use std::sync::Arc;

use ectd_proto::etcdserverpb::{ResponseHeader, TxnRequest, WatchCreateRequest};
use ectd_proto::mvccpb::{event::EventType, KeyValue};
use ectd_proto::v3electionpb::election_server::Election;
use ectd_proto::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest, LeaderResponse, ProclaimRequest,
    ProclaimResponse, ResignRequest, ResignResponse,
};
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use super::kv::{reject_learner, require_leader};
use super::recipes::{
    self, created_at, delete_op, first_created, get, lease_key, prefix_end, put_op, range_of,
    range_op, recipe_status, Local,
};
use crate::error::Error;
use crate::server::Server;

/// The Election service of one member.
pub struct ElectionService {
    local: Local,
}

impl ElectionService {
    /// An Election service backed by `server`.
    pub fn new(server: Arc<Server>) -> ElectionService {
        ElectionService {
            local: Local::new(server),
        }
    }
}

fn prefix_of(name: &[u8]) -> Vec<u8> {
    let mut p = name.to_vec();
    p.push(b'/');
    p
}

/// Writes `value` under the leader's key if it still holds it.
async fn proclaim(
    local: &Local,
    leader: &LeaderKey,
    value: &[u8],
) -> Result<ResponseHeader, Error> {
    let resp = local
        .txn(TxnRequest {
            compare: vec![created_at(&leader.key, leader.rev)],
            success: vec![put_op(&leader.key, value, leader.lease)],
            failure: vec![],
        })
        .await?;
    if !resp.succeeded {
        return Err(Error::ElectionNotLeader);
    }
    Ok(resp.header.expect("filled header"))
}

/// Deletes the leader's key if it still holds it.
async fn resign(local: &Local, leader: &LeaderKey) -> Result<ResponseHeader, Error> {
    let resp = local
        .txn(TxnRequest {
            compare: vec![created_at(&leader.key, leader.rev)],
            success: vec![delete_op(&leader.key)],
            failure: vec![],
        })
        .await?;
    Ok(resp.header.expect("filled header"))
}

async fn campaign(local: &Local, mut req: CampaignRequest) -> Result<CampaignResponse, Error> {
    req.lease = local.session_lease(req.lease).await?;
    let prefix = prefix_of(&req.name);
    let key = lease_key(&prefix, req.lease);
    let resp = local
        .txn(TxnRequest {
            compare: vec![created_at(&key, 0)],
            success: vec![put_op(&key, &req.value, req.lease)],
            failure: vec![range_op(get(&key))],
        })
        .await?;
    let header = resp.header;
    let mut leader = LeaderKey {
        name: req.name.clone(),
        key: key.clone(),
        rev: header.as_ref().map_or(0, |h| h.revision),
        lease: req.lease,
    };
    if !resp.succeeded {
        let kv = range_of(&resp, 0).kvs.first().cloned().unwrap_or_default();
        leader.rev = kv.create_revision;
        if kv.value != req.value {
            if let Err(e) = proclaim(local, &leader, &req.value).await {
                let _ = resign(local, &leader).await;
                return Err(e);
            }
        }
    }
    let undo = {
        let (local, leader) = (local.clone(), leader.clone());
        recipes::Undo::new(move || {
            tokio::spawn(async move {
                let _ = resign(&local, &leader).await;
            });
        })
    };
    if let Err(e) = local.wait_deletes(&prefix, leader.rev - 1).await {
        drop(undo);
        return Err(e);
    }
    undo.disarm();
    Ok(CampaignResponse {
        header,
        leader: Some(leader),
    })
}

/// The current leader's key-value and the header of the read that found it.
async fn leader(local: &Local, name: &[u8]) -> Result<(ResponseHeader, Option<KeyValue>), Error> {
    let resp = local.range(first_created(&prefix_of(name))).await?;
    Ok((
        resp.header.expect("filled header"),
        resp.kvs.into_iter().next(),
    ))
}

/// Sends every leader of `name` and every change of a leader's value, in order,
/// until the receiver goes away or reading fails.
async fn observe(local: Local, name: Vec<u8>, tx: mpsc::Sender<Result<LeaderResponse, Status>>) {
    let prefix = prefix_of(&name);
    let hub = local.server().hub().clone();
    loop {
        let (mut header, kv) = match leader(&local, &name).await {
            Ok(found) => found,
            Err(e) => {
                let _ = tx.send(Err(recipe_status(e))).await;
                return;
            }
        };
        let kv = match kv {
            Some(kv) => kv,
            None => {
                // No leader yet: wait for the first candidate's key.
                let stream = hub.open_stream();
                stream.create(&WatchCreateRequest {
                    key: prefix.clone(),
                    range_end: prefix_end(&prefix),
                    start_revision: header.revision,
                    ..Default::default()
                });
                let mut first = None;
                while first.is_none() {
                    let Some(resp) = stream.next().await else {
                        return;
                    };
                    if resp.canceled {
                        break;
                    }
                    first = resp
                        .events
                        .into_iter()
                        .find(|e| e.r#type == EventType::Put as i32)
                        .and_then(|e| e.kv);
                }
                let Some(kv) = first else { continue };
                header = local.server().header(kv.mod_revision);
                kv
            }
        };
        let key = kv.key.clone();
        let resp = LeaderResponse {
            header: Some(header),
            kv: Some(kv),
        };
        if tx.send(Ok(resp)).await.is_err() {
            return;
        }
        // Follow this leader's key until it is deleted.
        let stream = hub.open_stream();
        stream.create(&WatchCreateRequest {
            key: key.clone(),
            start_revision: header.revision + 1,
            ..Default::default()
        });
        'leader: while let Some(resp) = stream.next().await {
            if resp.canceled {
                break;
            }
            let rev = resp.header.map_or(0, |h| h.revision);
            for ev in resp.events {
                if ev.r#type == EventType::Delete as i32 {
                    break 'leader;
                }
                let out = LeaderResponse {
                    header: Some(local.server().header(rev)),
                    kv: ev.kv,
                };
                if tx.send(Ok(out)).await.is_err() {
                    return;
                }
            }
        }
    }
}

type ObserveStream = Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(
        &self,
        req: Request<CampaignRequest>,
    ) -> Result<Response<CampaignResponse>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let resp = campaign(&local, req.into_inner())
            .await
            .map_err(recipe_status)?;
        Ok(Response::new(resp))
    }

    async fn proclaim(
        &self,
        req: Request<ProclaimRequest>,
    ) -> Result<Response<ProclaimResponse>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let r = req.into_inner();
        let leader = r.leader.ok_or(recipe_status(Error::MissingLeaderKey))?;
        let header = proclaim(&local, &leader, &r.value)
            .await
            .map_err(recipe_status)?;
        Ok(Response::new(ProclaimResponse {
            header: Some(header),
        }))
    }

    async fn leader(
        &self,
        req: Request<LeaderRequest>,
    ) -> Result<Response<LeaderResponse>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let (header, kv) = leader(&local, &req.into_inner().name)
            .await
            .map_err(recipe_status)?;
        let kv = kv.ok_or(recipe_status(Error::ElectionNoLeader))?;
        Ok(Response::new(LeaderResponse {
            header: Some(header),
            kv: Some(kv),
        }))
    }

    type ObserveStream = ObserveStream;

    async fn observe(
        &self,
        req: Request<LeaderRequest>,
    ) -> Result<Response<Self::ObserveStream>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let (tx, rx) = mpsc::channel(16);
        let task = tokio::spawn(observe(local.clone(), req.into_inner().name, tx));
        // The task ends when the client goes away (its sends fail); abort it then
        // too, in case it is waiting for a change.
        struct AbortOnDrop(tokio::task::JoinHandle<()>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let guard = AbortOnDrop(task);
        let out = futures::stream::unfold((rx, guard), |(mut rx, guard)| async move {
            let item = rx.recv().await?;
            Some((item, (rx, guard)))
        });
        Ok(Response::new(Box::pin(out)))
    }

    async fn resign(
        &self,
        req: Request<ResignRequest>,
    ) -> Result<Response<ResignResponse>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let leader = req
            .into_inner()
            .leader
            .ok_or(recipe_status(Error::MissingLeaderKey))?;
        let header = resign(&local, &leader).await.map_err(recipe_status)?;
        Ok(Response::new(ResignResponse {
            header: Some(header),
        }))
    }
}
