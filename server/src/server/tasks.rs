//! A running member's background tasks: publishing its attributes, watch
//! progress notifications, and batched read barriers.

use std::time::Duration;

use super::*;

/// Announces this member's name and client URLs to the cluster once a leader
/// exists, as etcd members do after starting; retries until it is applied.
pub(super) async fn publish(server: std::sync::Weak<Server>) {
    loop {
        let Some(s) = server.upgrade() else { return };
        let known = membership::get(s.store.engine(), s.member_id);
        if known.is_some_and(|m| m.name == s.name && m.client_urls == s.client_urls) {
            s.published.send_replace(true);
            return;
        }
        if s.status.leader() != 0 {
            let op = Op::Publish(Publish {
                id: s.member_id,
                name: s.name.clone(),
                client_urls: s.client_urls.clone(),
            });
            match s.propose(op).await {
                Ok(_) => {
                    tracing::info!("published member attributes to the cluster");
                    s.published.send_replace(true);
                    return;
                }
                Err(Error::Stopped) => return,
                Err(e) => tracing::debug!(error = %e, "publishing member attributes; will retry"),
            }
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends watchers' periodic progress notifications.
pub(super) async fn progress_ticker(server: std::sync::Weak<Server>, every: Duration) {
    if every.is_zero() {
        return;
    }
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(s) = server.upgrade() else { return };
        if s.is_stopped() {
            return;
        }
        s.hub.progress_tick();
    }
}

/// Serves read barriers in rounds: one ReadIndex for everything queued since the
/// previous round, then waits for apply to reach the read index.
pub(super) async fn read_batcher(
    server: std::sync::Weak<Server>,
    mut rx: mpsc::UnboundedReceiver<ReadWaiter>,
) {
    let mut round: u64 = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(w) = rx.try_recv() {
            batch.push(w);
        }
        let Some(server) = server.upgrade() else {
            break;
        };
        round += 1;
        let result = server.read_index_round(round).await;
        if result.is_err() {
            server.metrics.slow_read_indexes.inc();
        }
        for w in batch {
            let _ = w.send(result.clone());
        }
    }
}

impl Server {
    /// One ReadIndex round: the read index, then apply reaching it.
    async fn read_index_round(&self, ctx: u64) -> Result<(), Error> {
        if self.status.leader() == 0 {
            return Err(Error::NoLeader);
        }
        let raft = self.raft_sender()?;
        let (tx, rx) = oneshot::channel();
        raft.send(Request::ReadIndex { ctx, reply: tx })
            .map_err(|_| Error::Stopped)?;
        let index = match tokio::time::timeout(self.limits.request_timeout, rx).await {
            Ok(Ok(i)) => i,
            Ok(Err(_)) => {
                return Err(if self.status.leader() == 0 {
                    Error::NoLeader
                } else {
                    Error::Timeout
                })
            }
            Err(_) => return Err(Error::Timeout),
        };
        let mut applied = self.applied.clone();
        let reached = tokio::time::timeout(self.limits.request_timeout, async {
            applied.wait_for(|a| *a >= index).await.is_ok()
        })
        .await;
        match reached {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::Stopped),
            Err(_) => Err(Error::Timeout),
        }
    }
}
