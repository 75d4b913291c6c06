//! Streams opened on both servers (Watch, LeaseKeepAlive, Observe) and how their
//! asynchronous answers are collected and compared.
//!
//! Each stream is read by its own task into a channel, so nothing a server sends
//! is lost while the test talks to the other one. A comparison takes from etcd
//! the number of messages the test expects (then waits a quiet period for any
//! extra), takes from ectd as many as etcd sent (or as many as arrive before the
//! timeout, then a quiet period), and compares the two sequences whole.

use crate::harness::*;
use crate::render::clip;
use crate::rpc::{rev_of, Item, Scrub};
use ectd_client::proto::etcdserverpb::watch_request::RequestUnion;
use ectd_client::proto::etcdserverpb::{
    LeaseKeepAliveRequest, LeaseKeepAliveResponse, WatchCancelRequest, WatchCreateRequest,
    WatchProgressRequest, WatchRequest, WatchResponse,
};
use ectd_client::proto::v3electionpb::LeaderResponse;
use ectd_client::Client;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// How long a stream must stay silent before its answers are taken as complete.
pub(crate) const QUIET: Duration = Duration::from_millis(400);

/// How long to wait for the answers a test expects.
pub(crate) const STREAM_WAIT: Duration = Duration::from_secs(10);

/// The messages of one server-side stream, as they arrive. An error ends it.
pub(crate) struct Feed<T> {
    rx: mpsc::UnboundedReceiver<Item<T>>,
    task: JoinHandle<()>,
}

impl<T> Drop for Feed<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T: Send + 'static> Feed<T> {
    /// Opens the stream `open` returns and forwards its messages.
    pub(crate) fn spawn<Fut>(open: Fut) -> Feed<T>
    where
        Fut: Future<Output = Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>>
            + Send
            + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut s = match open.await {
                Ok(r) => r.into_inner(),
                Err(st) => {
                    let _ = tx.send(Err(Failure::from_status(&st)));
                    return;
                }
            };
            loop {
                match s.message().await {
                    Ok(Some(m)) => {
                        if tx.send(Ok(m)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(st) => {
                        let _ = tx.send(Err(Failure::from_status(&st)));
                        return;
                    }
                }
            }
        });
        Feed { rx, task }
    }

    /// Takes messages until `want` have arrived or `within` has passed, then
    /// until the stream has been silent for [`QUIET`].
    pub(crate) async fn take(&mut self, want: usize, within: Duration) -> Vec<Item<T>> {
        let mut got = Vec::new();
        let deadline = Instant::now() + within;
        while got.len() < want {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => got.push(m),
                Ok(None) | Err(_) => return got,
            }
        }
        while let Ok(Some(m)) = tokio::time::timeout(QUIET, self.rx.recv()).await {
            got.push(m);
        }
        got
    }

    /// Everything that has arrived so far.
    pub(crate) fn drain(&mut self) -> Vec<Item<T>> {
        let mut got = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            got.push(m);
        }
        got
    }
}

/// A bidirectional stream: requests go in through `tx`, answers come out of the
/// feed. Requests may be queued before the server answers the call itself (etcd
/// sends the response headers only with the first message).
pub(crate) struct Duplex<Q, T> {
    tx: mpsc::UnboundedSender<Q>,
    feed: Feed<T>,
}

impl<Q: Send + 'static, T: Send + 'static> Duplex<Q, T> {
    fn open<F, Fut>(f: F) -> Duplex<Q, T>
    where
        F: FnOnce(UnboundedReceiverStream<Q>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>>
            + Send
            + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        Duplex {
            tx,
            feed: Feed::spawn(f(UnboundedReceiverStream::new(rx))),
        }
    }

    fn send(&self, q: Q) {
        // A closed stream shows up as missing answers.
        let _ = self.tx.send(q);
    }
}

/// The same stream opened on both servers.
pub(crate) struct Both<Q, T> {
    etcd: Duplex<Q, T>,
    ectd: Duplex<Q, T>,
    /// Requests sent since the last comparison, shown with a mismatch.
    sent: Vec<String>,
}

impl<Q, T> Both<Q, T>
where
    Q: Clone + Debug + Send + 'static,
    T: Debug + PartialEq + Scrub + Brief + Send + 'static,
{
    /// Sends `q` on both streams.
    pub(crate) fn send(&mut self, q: Q) {
        self.sent.push(format!("{q:?}"));
        self.etcd.send(q.clone());
        self.ectd.send(q);
    }

    /// Takes `want` answers from etcd (panicking if it sends fewer: the test is
    /// wrong about etcd) and as many from ectd, lets `fix` normalise them, and
    /// compares. Returns etcd's answers.
    pub(crate) async fn expect_with(
        &mut self,
        p: &mut Pair,
        label: &str,
        want: usize,
        fix: impl Fn(&mut Vec<Item<T>>),
    ) -> Vec<Item<T>> {
        let mut a = self.etcd.feed.take(want, STREAM_WAIT).await;
        assert!(
            a.len() >= want,
            "{label}: etcd sent {} answers where the test expects {want}: {}\nafter {}",
            a.len(),
            clip(format!("{a:?}")),
            clip(format!("{:?}", self.sent))
        );
        let mut b = self.ectd.feed.take(a.len(), STREAM_WAIT).await;
        a.scrub();
        b.scrub();
        fix(&mut a);
        fix(&mut b);
        let sent = std::mem::take(&mut self.sent);
        p.check(label, &sent, &Seq(&a), &Seq(&b));
        a
    }

    /// [`Both::expect_with`] comparing the sequences exactly.
    pub(crate) async fn expect(&mut self, p: &mut Pair, label: &str, want: usize) -> Vec<Item<T>> {
        self.expect_with(p, label, want, |_| {}).await
    }

    /// Waits `d`, then compares everything both streams sent meanwhile (for
    /// answers whose number depends on time, such as progress notifications).
    pub(crate) async fn expect_during(
        &mut self,
        p: &mut Pair,
        label: &str,
        d: Duration,
        fix: impl Fn(&mut Vec<Item<T>>),
    ) -> Vec<Item<T>> {
        tokio::time::sleep(d).await;
        let mut a = self.etcd.feed.drain();
        let mut b = self.ectd.feed.drain();
        a.scrub();
        b.scrub();
        fix(&mut a);
        fix(&mut b);
        let sent = std::mem::take(&mut self.sent);
        p.check(label, &sent, &Seq(&a), &Seq(&b));
        a
    }
}

/// A stream's answers as a mismatch shows them: a one-line outline of each
/// (where the message type has one), then the answers in full.
#[derive(PartialEq)]
pub(crate) struct Seq<'a, T>(&'a [Item<T>]);

/// A short outline of a stream message, for mismatch reports.
pub(crate) trait Brief {
    fn brief(&self) -> Option<String> {
        None
    }
}

impl Brief for LeaseKeepAliveResponse {}
impl Brief for LeaderResponse {}

impl Brief for WatchResponse {
    fn brief(&self) -> Option<String> {
        let mut s = format!("rev {} id {}", rev_of(&self.header), self.watch_id);
        for (set, flag) in [
            (self.created, "created"),
            (self.canceled, "canceled"),
            (self.fragment, "fragment"),
        ] {
            if set {
                s.push(' ');
                s.push_str(flag);
            }
        }
        if self.compact_revision != 0 {
            s.push_str(&format!(" compact {}", self.compact_revision));
        }
        if !self.cancel_reason.is_empty() {
            s.push_str(&format!(" {:?}", self.cancel_reason));
        }
        if !self.events.is_empty() {
            let mods: Vec<i64> = self
                .events
                .iter()
                .map(|e| e.kv.as_ref().map_or(0, |kv| kv.mod_revision))
                .collect();
            s.push_str(&format!(
                " {} events (mod {}..={})",
                self.events.len(),
                mods.iter().min().unwrap_or(&0),
                mods.iter().max().unwrap_or(&0)
            ));
        }
        Some(s)
    }
}

impl<T: Debug + Brief> Debug for Seq<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let outline: Vec<String> = self
            .0
            .iter()
            .filter_map(|i| match i {
                Ok(t) => t.brief(),
                Err(e) => Some(format!("{e:?}")),
            })
            .collect();
        if !outline.is_empty() {
            write!(f, "{} answers {{{}}} ", self.0.len(), outline.join("; "))?;
        }
        write!(f, "{:?}", self.0)
    }
}

// ------------------------------------------------------------------ watch

/// A watch stream on each server.
pub(crate) type Watches = Both<WatchRequest, WatchResponse>;

/// Opens a watch stream on both servers.
pub(crate) fn watches(p: &Pair) -> Watches {
    let open = |c: &Client| {
        let mut w = c.watch();
        Duplex::open(move |rx| async move { w.watch(rx).await })
    };
    Both {
        etcd: open(p.etcd()),
        ectd: open(p.ectd()),
        sent: Vec::new(),
    }
}

/// A create request for `[key, end)` (etcd's conventions for `end`: empty for
/// one key, `"\0"` for every key from `key` on).
pub(crate) fn watch_on(key: &[u8], end: &[u8]) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.to_vec(),
        range_end: end.to_vec(),
        ..Default::default()
    }
}

pub(crate) fn create(c: WatchCreateRequest) -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(c)),
    }
}

pub(crate) fn cancel(watch_id: i64) -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CancelRequest(WatchCancelRequest { watch_id })),
    }
}

pub(crate) fn progress() -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
    }
}

impl Watches {
    /// Creates a watcher and compares the `created` answer.
    pub(crate) async fn create(&mut self, p: &mut Pair, label: &str, c: WatchCreateRequest) {
        self.send(create(c));
        self.expect(p, label, 1).await;
    }
}

/// For streams with several watchers: the answers of each watch id in the order
/// they arrived. etcd hands one revision's events to its watchers in Go map
/// order, so only the order within one watcher is defined.
pub(crate) fn per_watcher(items: &mut Vec<Item<WatchResponse>>) {
    let mut groups: BTreeMap<i64, Vec<Item<WatchResponse>>> = BTreeMap::new();
    let mut errors = Vec::new();
    for it in items.drain(..) {
        match &it {
            Ok(r) => groups.entry(r.watch_id).or_default().push(it),
            Err(_) => errors.push(it),
        }
    }
    items.extend(groups.into_values().flatten());
    items.extend(errors);
}

/// Whether `r` is a progress notification (no events, no state change).
pub(crate) fn is_progress(r: &WatchResponse) -> bool {
    r.events.is_empty() && !r.created && !r.canceled && r.compact_revision == 0
}

/// Collapses runs of identical progress notifications into one: how many arrive
/// in a quiet period depends on where the timer ticks fall.
pub(crate) fn collapse_progress(items: &mut Vec<Item<WatchResponse>>) {
    items.dedup_by(|b, a| matches!((a, b), (Ok(x), Ok(y)) if is_progress(x) && x == y));
}

// ------------------------------------------------------------------ lease keep-alive

/// A keep-alive stream on each server.
pub(crate) type KeepAlives = Both<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;

/// Opens a keep-alive stream on both servers.
pub(crate) fn keep_alives(p: &Pair) -> KeepAlives {
    let open = |c: &Client| {
        let mut l = c.lease();
        Duplex::open(move |rx| async move { l.lease_keep_alive(rx).await })
    };
    Both {
        etcd: open(p.etcd()),
        ectd: open(p.ectd()),
        sent: Vec::new(),
    }
}

// ------------------------------------------------------------------ server streams

/// A server-streaming call (Observe) made on both servers.
pub(crate) struct Observed<T> {
    etcd: Feed<T>,
    ectd: Feed<T>,
    request: String,
}

impl<T: Debug + PartialEq + Scrub + Brief + Send + 'static> Observed<T> {
    /// Makes the call `f(client, q)` on both servers.
    pub(crate) fn open<Q, F, Fut>(p: &Pair, q: Q, f: F) -> Observed<T>
    where
        Q: Clone + Debug,
        F: Fn(Client, Q) -> Fut,
        Fut: Future<Output = Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>>
            + Send
            + 'static,
    {
        Observed {
            etcd: Feed::spawn(f(p.etcd().clone(), q.clone())),
            ectd: Feed::spawn(f(p.ectd().clone(), q.clone())),
            request: format!("{q:?}"),
        }
    }

    /// Like [`Both::expect`].
    pub(crate) async fn expect(&mut self, p: &mut Pair, label: &str, want: usize) -> Vec<Item<T>> {
        let mut a = self.etcd.take(want, STREAM_WAIT).await;
        assert!(
            a.len() >= want,
            "{label}: etcd sent {} answers where the test expects {want}: {}",
            a.len(),
            clip(format!("{a:?}"))
        );
        let mut b = self.ectd.take(a.len(), STREAM_WAIT).await;
        a.scrub();
        b.scrub();
        p.check(label, &self.request, &Seq(&a), &Seq(&b));
        a
    }
}
