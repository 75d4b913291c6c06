//! Calls to the services that have no [`Req`](crate::harness::Req) (Lease, Lock,
//! Election): the same call sent to both servers through the raw tonic clients,
//! the answers scrubbed of what identifies the cluster, then compared whole.
//!
//! Calls that block by design (a Lock or Campaign behind another holder) are
//! started on both servers as tasks ([`Pair::start_call`]) so the test can check
//! that both are still waiting, release them, and compare the answers later.

use crate::harness::*;
use ectd_client::proto::etcdserverpb::{
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse,
    LeaseTimeToLiveResponse, ResponseHeader, WatchResponse,
};
use ectd_client::proto::v3electionpb::{
    CampaignResponse, LeaderResponse, ProclaimResponse, ResignResponse,
};
use ectd_client::proto::v3lockpb::{LockResponse, UnlockResponse};
use ectd_client::Client;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;

/// One server's answer to a call, or to one message of a stream.
pub(crate) type Item<T> = Result<T, Failure>;

/// etcd's answer to a compared call, for the steps that build on it (most
/// ignore it, so it is no `#[must_use]` `Result`).
pub(crate) struct Answer<T>(pub(crate) Item<T>);

/// Zeroes what legitimately differs between two clusters: `cluster_id` and
/// `member_id` of every header the message holds.
pub(crate) trait Scrub {
    fn scrub(&mut self);
}

macro_rules! scrub_header {
    ($($t:ty),* $(,)?) => {
        $(impl Scrub for $t {
            fn scrub(&mut self) {
                scrub(&mut self.header);
            }
        })*
    };
}

scrub_header!(
    LeaseGrantResponse,
    LeaseRevokeResponse,
    LeaseKeepAliveResponse,
    LeaseTimeToLiveResponse,
    LeaseLeasesResponse,
    WatchResponse,
    LockResponse,
    UnlockResponse,
    CampaignResponse,
    ProclaimResponse,
    ResignResponse,
    LeaderResponse,
);

impl<T: Scrub> Scrub for Item<T> {
    fn scrub(&mut self) {
        if let Ok(t) = self {
            t.scrub();
        }
    }
}

impl<T: Scrub> Scrub for Vec<T> {
    fn scrub(&mut self) {
        self.iter_mut().for_each(Scrub::scrub);
    }
}

/// The revision in a header, 0 if there is none.
pub(crate) fn rev_of(h: &Option<ResponseHeader>) -> i64 {
    h.as_ref().map_or(0, |h| h.revision)
}

/// Runs one call, bounded by [`WAIT_TIMEOUT`]: a hang is an answer too.
pub(crate) async fn call<T, Fut>(fut: Fut) -> Item<T>
where
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match tokio::time::timeout(WAIT_TIMEOUT, fut).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => Err(Failure::from_status(&s)),
        Err(_) => Err(Failure::timeout(WAIT_TIMEOUT)),
    }
}

/// A call started on both servers and not yet answered.
pub(crate) struct Pending<T> {
    label: String,
    request: String,
    etcd: JoinHandle<Item<T>>,
    ectd: JoinHandle<Item<T>>,
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        self.etcd.abort();
        self.ectd.abort();
    }
}

impl<T: Debug + PartialEq + Scrub + Send + 'static> Pending<T> {
    /// Records whether each server has answered yet; both must agree.
    pub(crate) fn check_waiting(&self, p: &mut Pair, label: &str, waiting: bool) {
        let etcd = !self.etcd.is_finished();
        let ectd = !self.ectd.is_finished();
        assert_eq!(
            etcd,
            waiting,
            "{label}: etcd {} {} [{}]; the test expects otherwise",
            if etcd { "still waits on" } else { "answered" },
            self.label,
            self.request
        );
        p.check(
            &format!("{label}: is {} still waiting", self.label),
            &self.request,
            &etcd,
            &ectd,
        );
    }

    /// Waits for both answers and compares them; returns etcd's.
    pub(crate) async fn finish(mut self, p: &mut Pair) -> Answer<T> {
        let mut a = join(&mut self.etcd).await;
        let mut b = join(&mut self.ectd).await;
        a.scrub();
        b.scrub();
        let label = self.label.clone();
        p.check(&label, &self.request, &a, &b);
        Answer(a)
    }
}

async fn join<T>(h: &mut JoinHandle<Item<T>>) -> Item<T> {
    match tokio::time::timeout(WAIT_TIMEOUT, h).await {
        Ok(r) => r.expect("a call task panicked"),
        Err(_) => Err(Failure::timeout(WAIT_TIMEOUT)),
    }
}

impl Pair {
    /// Sends `req` through `f` to etcd, then to ectd, lets `fix` apply the
    /// normalisations the caller documents (both answers are already scrubbed),
    /// compares, and returns etcd's answer.
    pub(crate) async fn unary_with<Q, T, F, Fut>(
        &mut self,
        label: &str,
        req: Q,
        f: F,
        fix: impl FnOnce(&mut Item<T>, &mut Item<T>),
    ) -> Answer<T>
    where
        Q: Clone + Debug,
        T: Debug + PartialEq + Scrub,
        F: Fn(Client, Q) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut a = call(f(self.etcd().clone(), req.clone())).await;
        let mut b = call(f(self.ectd().clone(), req.clone())).await;
        a.scrub();
        b.scrub();
        fix(&mut a, &mut b);
        self.check(label, &req, &a, &b);
        Answer(a)
    }

    /// [`Pair::unary_with`] without normalisation.
    pub(crate) async fn unary<Q, T, F, Fut>(&mut self, label: &str, req: Q, f: F) -> Answer<T>
    where
        Q: Clone + Debug,
        T: Debug + PartialEq + Scrub,
        F: Fn(Client, Q) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.unary_with(label, req, f, |_, _| {}).await
    }

    /// Starts `req` on etcd, then on ectd, without waiting for the answers, and
    /// gives the servers `settle` to take it (so that calls started later are
    /// ordered after it).
    pub(crate) async fn start_call<Q, T, F, Fut>(
        &mut self,
        label: &str,
        req: Q,
        f: F,
        settle: Duration,
    ) -> Pending<T>
    where
        Q: Clone + Debug + Send + 'static,
        T: Send + 'static,
        F: Fn(Client, Q) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>> + Send + 'static,
    {
        let etcd = tokio::spawn(call(f(self.etcd().clone(), req.clone())));
        let ectd = tokio::spawn(call(f(self.ectd().clone(), req.clone())));
        tokio::time::sleep(settle).await;
        Pending {
            label: label.to_string(),
            request: format!("{req:?}"),
            etcd,
            ectd,
        }
    }
}
