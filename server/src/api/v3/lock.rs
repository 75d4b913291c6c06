//! `v3lockpb.Lock`: etcd's distributed mutex, run inside the member.
//!
//! Locking `name` with lease L writes the key `name/<L in hex>` (empty value,
//! attached to L) unless it exists, then waits until every key under `name/`
//! created before it is deleted. The key's create revision orders the waiters, and
//! its revision is the fencing token: a holder's writes can be made conditional on
//! it. If the caller goes away before acquiring, the key is deleted. Keeping the
//! lease alive is the caller's job, while it waits too (etcd's lock service does
//! not keep it alive either). Without a lease (0), the lock gets a 60-second lease
//! of its own, as etcd's does.

use std::sync::Arc;

use ectd_proto::etcdserverpb::TxnRequest;
use ectd_proto::v3lockpb::lock_server::Lock;
use ectd_proto::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};
use tonic::{Request, Response, Status};

use super::kv::{reject_learner, require_leader};
use super::recipes::{
    self, created_at, first_created, get, lease_key, put_op, range_of, range_op, recipe_status,
    Local,
};
use crate::error::Error;
use crate::server::Server;

/// The Lock service of one member.
pub struct LockService {
    local: Local,
}

impl LockService {
    /// A Lock service backed by `server`.
    pub fn new(server: Arc<Server>) -> LockService {
        LockService {
            local: Local::new(server),
        }
    }
}

async fn lock(local: &Local, name: &[u8], lease: i64) -> Result<LockResponse, Error> {
    let lease = local.session_lease(lease).await?;
    let mut prefix = name.to_vec();
    prefix.push(b'/');
    let key = lease_key(&prefix, lease);
    let resp = local
        .txn(TxnRequest {
            compare: vec![created_at(&key, 0)],
            success: vec![put_op(&key, b"", lease), range_op(first_created(&prefix))],
            failure: vec![range_op(get(&key)), range_op(first_created(&prefix))],
        })
        .await?;
    let my_rev = if resp.succeeded {
        resp.header.as_ref().map_or(0, |h| h.revision)
    } else {
        range_of(&resp, 0)
            .kvs
            .first()
            .map_or(0, |kv| kv.create_revision)
    };
    let owner = range_of(&resp, 1).kvs.first().map(|kv| kv.create_revision);
    if owner.unwrap_or(my_rev) == my_rev {
        return Ok(LockResponse {
            header: resp.header,
            key,
        });
    }
    let undo = {
        let local = local.clone();
        let key = key.clone();
        recipes::Undo::new(move || {
            tokio::spawn(async move {
                let _ = local.delete(&key).await;
            });
        })
    };
    let waited = local.wait_deletes(&prefix, my_rev - 1).await;
    let header = match waited {
        Ok(h) => h,
        Err(e) => {
            drop(undo);
            return Err(e);
        }
    };
    undo.disarm();
    Ok(LockResponse {
        header: Some(header),
        key,
    })
}

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, req: Request<LockRequest>) -> Result<Response<LockResponse>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let r = req.into_inner();
        let resp = lock(&local, &r.name, r.lease)
            .await
            .map_err(recipe_status)?;
        Ok(Response::new(resp))
    }

    async fn unlock(
        &self,
        req: Request<UnlockRequest>,
    ) -> Result<Response<UnlockResponse>, Status> {
        require_leader(self.local.server(), &req)?;
        reject_learner(self.local.server())?;
        let local = self.local.as_sender_of(&req).await?;
        let r = req.into_inner();
        if r.key.is_empty() {
            return Err(recipe_status(Error::EmptyKey));
        }
        let header = local.delete(&r.key).await.map_err(recipe_status)?;
        Ok(Response::new(UnlockResponse {
            header: Some(header),
        }))
    }
}
