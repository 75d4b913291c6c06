//! Distributed locks (the `v3lockpb.Lock` service) and a mutex that
//! manages the lease a lock lives on.
//!
//! A lock named `name` is held through a key `name/<lease ID in hex>`
//! attached to the holder's lease; waiters queue by the creation revision
//! of their keys. Deleting the key (unlocking) or losing the lease releases
//! the lock.

use crate::client::Client;
use crate::keep_alive::{KeepAliveEnd, LeaseKeeper};
use crate::proto::etcdserverpb::ResponseHeader;
use crate::proto::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};
use crate::Error;

impl Client {
    /// `Lock.Lock`: blocks until the lock `name` is held on behalf of
    /// `lease`, and returns the key that stands for it. This call is not
    /// bounded by the command timeout (waiting for a lock may legitimately
    /// take long); drop the future to stop waiting.
    pub async fn acquire_lock(
        &self,
        name: impl Into<Vec<u8>>,
        lease: i64,
    ) -> Result<LockResponse, Error> {
        let request = LockRequest {
            name: name.into(),
            lease,
        };
        self.with_token_retry(|| {
            let mut lock = self.lock();
            let request = request.clone();
            async move { Ok(lock.lock(request).await?.into_inner()) }
        })
        .await
    }

    /// `Lock.Unlock`: releases the lock held through `key` (the key
    /// [`Client::acquire_lock`] returned) by deleting that key.
    pub async fn unlock(&self, key: impl Into<Vec<u8>>) -> Result<UnlockResponse, Error> {
        let request = UnlockRequest { key: key.into() };
        self.unary(request, |req| {
            let mut lock = self.lock();
            async move { lock.unlock(req).await }
        })
        .await
    }
}

/// A lock together with the lease it lives on, like clientv3's
/// `concurrency.Mutex` on a session: [`LeasedMutex::lock`] grants a lease,
/// keeps it alive and acquires the lock; [`HeldLock::release`] unlocks and
/// revokes the lease.
#[derive(Debug, Clone)]
pub struct LeasedMutex {
    client: Client,
    name: Vec<u8>,
    ttl: i64,
}

impl LeasedMutex {
    /// A mutex for the lock `name` whose lease has a TTL of `ttl` seconds:
    /// how long the lock outlives a holder that stopped renewing it.
    pub fn new(client: &Client, name: impl Into<Vec<u8>>, ttl: i64) -> LeasedMutex {
        LeasedMutex {
            client: client.clone(),
            name: name.into(),
            ttl,
        }
    }

    /// Grants a lease, starts keeping it alive and waits until the lock is
    /// held. If acquiring fails, the lease is revoked again.
    pub async fn lock(&self) -> Result<HeldLock, Error> {
        let lease = self.client.lease_grant(self.ttl, 0).await?.id;
        let keeper = LeaseKeeper::start(&self.client, lease);
        match self.client.acquire_lock(self.name.clone(), lease).await {
            Ok(resp) => Ok(HeldLock {
                client: self.client.clone(),
                key: resp.key,
                header: resp.header,
                keeper,
            }),
            Err(err) => {
                drop(keeper);
                let _ = self.client.lease_revoke(lease).await;
                Err(err)
            }
        }
    }
}

/// A held lock. Dropping it without [`HeldLock::release`] stops renewing
/// the lease, so the lock is released when the lease expires, one TTL
/// later.
#[derive(Debug)]
pub struct HeldLock {
    client: Client,
    key: Vec<u8>,
    header: Option<ResponseHeader>,
    keeper: LeaseKeeper,
}

impl HeldLock {
    /// The key that stands for the lock: `name/<lease ID in hex>`.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The header of the answer that granted the lock; its revision is the
    /// revision at which the lock was acquired.
    pub fn header(&self) -> Option<ResponseHeader> {
        self.header
    }

    /// The lease the lock lives on.
    pub fn lease(&self) -> i64 {
        self.keeper.id()
    }

    /// Resolves when the lease is lost (and with it the lock), which
    /// happens when it could not be renewed in time or was revoked by
    /// someone else.
    pub async fn lost(&mut self) -> KeepAliveEnd {
        self.keeper.lost().await
    }

    /// Unlocks and revokes the lease. The lease is revoked even if
    /// unlocking failed, which releases the lock too; the first error is
    /// returned. A lease that is already gone counts as revoked.
    pub async fn release(self) -> Result<(), Error> {
        let HeldLock {
            client,
            key,
            keeper,
            ..
        } = self;
        let lease = keeper.id();
        drop(keeper);
        let unlocked = client.unlock(key).await;
        let revoked = client.lease_revoke(lease).await;
        unlocked?;
        match revoked {
            Err(err) if err.code() == Some(tonic::Code::NotFound) => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
