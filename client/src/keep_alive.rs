//! Keeping one lease alive in the background for as long as its holder
//! needs it.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::Client;
use crate::proto::etcdserverpb::{LeaseKeepAliveRequest, LeaseKeepAliveResponse};

/// How long the lease is assumed to live before the first renewal has told
/// the keeper its real TTL (clientv3 assumes the same).
const FIRST_DEADLINE: Duration = Duration::from_secs(5);

/// How long to wait before reopening a keep-alive stream that failed, so a
/// server that is down does not turn into a busy loop.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Why a [`LeaseKeeper`] stopped renewing its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveEnd {
    /// The server answered a renewal with TTL 0: the lease has expired or
    /// was revoked, and the keys attached to it are gone.
    Gone,
    /// No renewal got through before the lease's estimated expiry, so it
    /// must be presumed expired.
    Expired,
}

/// What a [`LeaseKeeper`] knows about its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct KeepAliveState {
    /// The answer to the latest successful renewal (the TTL the lease was
    /// renewed to, in seconds, and the header); `None` before the first.
    pub last: Option<LeaseKeepAliveResponse>,
    /// How many renewals have succeeded so far.
    pub renewals: u64,
    /// When the lease expires unless it is renewed again: the latest
    /// renewal plus its TTL, measured on the local clock.
    pub expires_at: Instant,
    /// Set once the keeper has stopped for good.
    pub ended: Option<KeepAliveEnd>,
}

/// Keeps one lease alive from a background task: renews it right away and
/// then every TTL/3, reopening the keep-alive stream if it breaks.
///
/// The task stops when the lease is gone (a renewal answered with TTL 0),
/// when no renewal got through before the lease would have expired, or when
/// the keeper is dropped. Dropping it does not revoke the lease: the lease
/// then simply expires one TTL after its last renewal.
#[derive(Debug)]
pub struct LeaseKeeper {
    id: i64,
    state: watch::Receiver<KeepAliveState>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// Starts keeping lease `id` alive through `client`'s connection. Must
    /// be called within a tokio runtime.
    pub fn start(client: &Client, id: i64) -> LeaseKeeper {
        let (publish, state) = watch::channel(KeepAliveState {
            last: None,
            renewals: 0,
            expires_at: Instant::now() + FIRST_DEADLINE,
            ended: None,
        });
        let task = tokio::spawn(keep_alive(client.clone(), id, publish));
        LeaseKeeper { id, state, task }
    }

    /// The lease being kept alive.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// A snapshot of what the keeper knows now.
    pub fn state(&self) -> KeepAliveState {
        self.state.borrow().clone()
    }

    /// The TTL (seconds) the lease was last renewed to, if it has been.
    pub fn ttl(&self) -> Option<i64> {
        self.state.borrow().last.as_ref().map(|resp| resp.ttl)
    }

    /// When the lease expires unless it is renewed again.
    pub fn expires_at(&self) -> Instant {
        self.state.borrow().expires_at
    }

    /// Waits for the next successful renewal after the last one this method
    /// returned, and returns its answer; `None` once the keeper has stopped.
    /// Renewals that happen while nobody waits are not queued: only the
    /// latest is returned.
    pub async fn next_renewal(&mut self) -> Option<LeaseKeepAliveResponse> {
        loop {
            if self.state.borrow().ended.is_some() {
                return None;
            }
            if self.state.changed().await.is_err() {
                return None;
            }
            let state = self.state.borrow_and_update();
            if state.ended.is_some() {
                return None;
            }
            if let Some(last) = &state.last {
                return Some(*last);
            }
        }
    }

    /// Waits until the keeper stops and says why.
    pub async fn lost(&mut self) -> KeepAliveEnd {
        loop {
            if let Some(end) = self.state.borrow_and_update().ended {
                return end;
            }
            if self.state.changed().await.is_err() {
                // The task is gone without saying why (it panicked or
                // was aborted): nothing renews the lease any more.
                return self.state.borrow().ended.unwrap_or(KeepAliveEnd::Expired);
            }
        }
    }

    /// Stops renewing the lease (as dropping the keeper does).
    pub fn stop(self) {}
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The background task: renews until the lease is gone or expired.
async fn keep_alive(client: Client, id: i64, publish: watch::Sender<KeepAliveState>) {
    let end = loop {
        match renew_on_one_stream(&client, id, &publish).await {
            Err(end) => break end,
            Ok(()) => {
                // The stream broke; try a new one unless the lease will have
                // run out by then.
                let retry_at = Instant::now() + RETRY_PAUSE;
                if retry_at >= publish.borrow().expires_at {
                    break KeepAliveEnd::Expired;
                }
                tokio::time::sleep_until(retry_at).await;
            }
        }
    };
    publish.send_modify(|state| state.ended = Some(end));
}

/// Renews the lease over one keep-alive stream until the stream breaks
/// (`Ok`) or the keeper has to stop (`Err`).
async fn renew_on_one_stream(
    client: &Client,
    id: i64,
    publish: &watch::Sender<KeepAliveState>,
) -> Result<(), KeepAliveEnd> {
    let (requests, outgoing) = mpsc::channel(1);
    let outgoing = futures::stream::unfold(outgoing, |mut outgoing| async move {
        outgoing.recv().await.map(|request| (request, outgoing))
    });
    // The first renewal is queued before the call starts: a server may
    // hold back its response headers until it has something to answer.
    let renewal = LeaseKeepAliveRequest { id };
    if requests.send(renewal).await.is_err() {
        return Ok(());
    }
    let deadline = publish.borrow().expires_at;
    let connection = client.link().generation();
    let mut lease = client.lease();
    let opened = tokio::time::timeout_at(deadline, lease.lease_keep_alive(outgoing));
    let mut responses = match opened.await {
        Ok(Ok(responses)) => responses.into_inner(),
        Ok(Err(status)) => {
            client.link().recover(connection, &status).await;
            return Ok(());
        }
        Err(_) => return Err(KeepAliveEnd::Expired),
    };
    loop {
        let deadline = publish.borrow().expires_at;
        let resp = match tokio::time::timeout_at(deadline, responses.next()).await {
            Ok(Some(Ok(resp))) => resp,
            Ok(Some(Err(status))) => {
                client.link().recover(connection, &status).await;
                return Ok(());
            }
            Ok(None) => return Ok(()),
            Err(_) => return Err(KeepAliveEnd::Expired),
        };
        if resp.ttl <= 0 {
            return Err(KeepAliveEnd::Gone);
        }
        let now = Instant::now();
        let ttl = Duration::from_secs(resp.ttl.unsigned_abs());
        publish.send_modify(|state| {
            state.last = Some(resp);
            state.renewals += 1;
            state.expires_at = now + ttl;
        });
        tokio::time::sleep_until(now + ttl / 3).await;
        if requests.send(renewal).await.is_err() {
            return Ok(());
        }
    }
}
