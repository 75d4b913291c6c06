//! One watch stream: its watchers, its outbox, and the task that brings its lagging
//! watchers up to date from history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ectd_proto::etcdserverpb::{WatchCreateRequest, WatchResponse};
use ectd_proto::mvccpb::{event::EventType, Event};
use tokio::sync::Notify;

use super::frame::Frame;
use super::outbox::{Outbox, Refused, Room};
use super::{fragment, Hub, Spec};
use crate::mvcc::KvRead as _;

/// Most history events, and bytes of them, read per catch-up round (whole
/// revisions are read, so a round may hold one revision's worth more).
const CATCH_UP_EVENTS: usize = 1000;
const CATCH_UP_BYTES: usize = 2 << 20;

/// etcd's message for a create whose range is empty.
const EMPTY_RANGE: &str = "mvcc: watcher range is empty";
/// etcd's message for a client-chosen watch id that is in use on the stream.
const DUPLICATE_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";

/// One watcher: where it is in history and where its responses go.
pub(super) struct Watcher {
    pub(super) id: i64,
    /// Tells this watcher apart from a later one that reuses its id.
    pub(super) serial: u64,
    pub(super) spec: Arc<Spec>,
    /// The first revision not yet sent.
    pub(super) next_rev: i64,
    pub(super) stream: Arc<StreamShared>,
}

#[derive(Default)]
struct StreamState {
    /// Watch id -> serial of every watcher not cancelled.
    live: HashMap<i64, u64>,
    next_id: i64,
    next_serial: u64,
    /// Watchers waiting for the catch-up task.
    lagging: Vec<Watcher>,
    /// Watchers the catch-up task is working on.
    catching: usize,
    /// A progress request arrived while some watcher was behind.
    progress_pending: bool,
    closed: bool,
}

impl StreamState {
    fn is_live(&self, w: &Watcher) -> bool {
        self.live.get(&w.id) == Some(&w.serial)
    }
}

/// The part of a stream the hub and the catch-up task share.
pub(crate) struct StreamShared {
    pub(super) id: u64,
    pub(super) outbox: Outbox,
    state: Mutex<StreamState>,
    wake: Notify,
}

impl StreamShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().expect("watch stream lock")
    }

    /// Hands `w` to the catch-up task.
    pub(super) fn fall_behind(self: Arc<Self>, w: Watcher) {
        let mut st = self.lock();
        if st.closed || !st.is_live(&w) {
            return;
        }
        st.lagging.push(w);
        drop(st);
        self.wake.notify_one();
    }
}

/// A client's watch stream (or an internal one): create and cancel watchers, ask
/// for progress, and take the responses in the order they must be sent.
pub struct WatchStream {
    hub: Arc<Hub>,
    shared: Arc<StreamShared>,
    task: tokio::task::JoinHandle<()>,
}

fn progress(hub: &Hub, rev: i64) -> WatchResponse {
    WatchResponse {
        header: hub.header(rev),
        watch_id: -1,
        ..Default::default()
    }
}

impl WatchStream {
    pub(super) fn open(hub: Arc<Hub>, id: u64) -> WatchStream {
        let shared = Arc::new(StreamShared {
            id,
            outbox: Outbox::default(),
            state: Mutex::default(),
            wake: Notify::new(),
        });
        let task = tokio::spawn(catch_up(hub.clone(), shared.clone()));
        WatchStream { hub, shared, task }
    }

    /// Creates a watcher. Queues the `created` response (with the watch id, or -1
    /// and the reason when the request is refused) before any of its events.
    pub fn create(&self, req: &WatchCreateRequest) {
        let spec = Spec::from_request(req);
        let mut hub = self.hub.lock();
        let mut st = self.shared.lock();
        if st.closed {
            return;
        }
        let cur = hub.rev;
        let header = self.hub.header(cur);
        let refused = |reason: &str| WatchResponse {
            header,
            watch_id: -1,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..Default::default()
        };
        if spec.is_empty_range() {
            self.shared
                .outbox
                .force_push(Frame::One(refused(EMPTY_RANGE)));
            return;
        }
        let id = if req.watch_id != 0 {
            if st.live.contains_key(&req.watch_id) {
                self.shared
                    .outbox
                    .force_push(Frame::One(refused(DUPLICATE_ID)));
                return;
            }
            req.watch_id
        } else {
            while st.live.contains_key(&st.next_id) {
                st.next_id += 1;
            }
            st.next_id += 1;
            st.next_id - 1
        };
        st.next_serial += 1;
        let serial = st.next_serial;
        st.live.insert(id, serial);
        self.shared.outbox.force_push(Frame::One(WatchResponse {
            header,
            watch_id: id,
            created: true,
            ..Default::default()
        }));
        let next_rev = if req.start_revision == 0 {
            cur + 1
        } else {
            req.start_revision
        };
        let w = Watcher {
            id,
            serial,
            spec: Arc::new(spec),
            next_rev,
            stream: self.shared.clone(),
        };
        if next_rev > cur {
            hub.insert(w);
        } else {
            st.lagging.push(w);
            drop(st);
            self.shared.wake.notify_one();
        }
    }

    /// Refuses a create request without creating anything: queues a `created`
    /// and `canceled` response with watch id -1 and `reason`.
    pub fn refuse(&self, reason: &str) {
        let hub = self.hub.lock();
        let st = self.shared.lock();
        if st.closed {
            return;
        }
        let header = self.hub.header(hub.rev);
        drop(st);
        drop(hub);
        self.shared.outbox.force_push(Frame::One(WatchResponse {
            header,
            watch_id: -1,
            created: true,
            canceled: true,
            cancel_reason: reason.to_string(),
            ..Default::default()
        }));
    }

    /// Cancels watcher `watch_id`; queues the `canceled` response. Unknown ids are
    /// ignored, as etcd ignores them.
    pub fn cancel(&self, watch_id: i64) {
        let mut hub = self.hub.lock();
        let mut st = self.shared.lock();
        if st.live.remove(&watch_id).is_none() {
            return;
        }
        hub.remove((self.shared.id, watch_id));
        st.lagging.retain(|w| w.id != watch_id);
        self.shared.outbox.force_push(Frame::One(WatchResponse {
            header: self.hub.header(hub.rev),
            watch_id,
            canceled: true,
            ..Default::default()
        }));
    }

    /// Queues a progress notification (watch id -1) with the hub's revision once
    /// every watcher of the stream is synced, so the revision it reports is one
    /// every watcher has really reached.
    pub fn request_progress(&self) {
        let hub = self.hub.lock();
        let mut st = self.shared.lock();
        if st.lagging.is_empty() && st.catching == 0 {
            self.shared
                .outbox
                .force_push(Frame::One(progress(&self.hub, hub.rev)));
        } else {
            st.progress_pending = true;
        }
    }

    /// The next response to send; `None` once the stream is closed.
    pub async fn next(&self) -> Option<WatchResponse> {
        self.next_frame().await.map(Frame::into_response)
    }

    /// The next response to send as it is queued (shared events stay encoded);
    /// `None` once the stream is closed.
    pub async fn next_frame(&self) -> Option<Frame> {
        self.shared.outbox.pop().await
    }

    /// Waits until the outbox has room, so requests are taken from the client only
    /// as fast as it reads responses.
    pub async fn writable(&self) {
        self.shared.outbox.writable().await
    }

    /// Removes every watcher and drops what is queued.
    pub fn close(&self) {
        let mut hub = self.hub.lock();
        let mut st = self.shared.lock();
        st.closed = true;
        for (id, _) in st.live.drain() {
            hub.remove((self.shared.id, id));
        }
        st.lagging.clear();
        self.shared.outbox.close();
        drop(st);
        self.shared.wake.notify_one();
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.close();
        self.task.abort();
    }
}

/// Whether `ev` created its key (no previous version to send).
fn is_create(ev: &Event) -> bool {
    ev.r#type == EventType::Put as i32
        && ev
            .kv
            .as_ref()
            .is_some_and(|kv| kv.create_revision == kv.mod_revision)
}

/// The catch-up task of one stream.
async fn catch_up(hub: Arc<Hub>, shared: Arc<StreamShared>) {
    loop {
        let work = {
            let mut st = shared.lock();
            if st.closed {
                return;
            }
            let work = std::mem::take(&mut st.lagging);
            st.catching += work.len();
            work
        };
        if work.is_empty() {
            shared.wake.notified().await;
            continue;
        }
        let taken = work.len();
        let (rest, blocked) = catch_up_round(&hub, &shared, work);
        resync(&hub, &shared, rest, taken);
        match blocked {
            Some(room) => shared.outbox.room_for(room).await,
            // A round is synchronous work; let the stream's sender and other tasks run
            // between rounds of a long catch-up.
            None => tokio::task::yield_now().await,
        }
    }
}

/// One round: cancels watchers whose next revision was compacted, then sends each
/// of the others the next stretch of history it has not seen. Returns the watchers
/// still running and, if the outbox refused a response, the room it needed. Never
/// waits, so no RocksDB snapshot is held while the client is slow.
fn catch_up_round(
    hub: &Hub,
    shared: &Arc<StreamShared>,
    work: Vec<Watcher>,
) -> (Vec<Watcher>, Option<Room>) {
    let view = hub.store.read_view();
    let target = view.rev();
    let compact = view.compact_rev();
    let mut running = Vec::with_capacity(work.len());
    for mut w in work {
        if w.next_rev < compact {
            // The id stays taken until the client cancels it, as in etcd.
            let st = shared.lock();
            if st.is_live(&w) {
                shared.outbox.force_push(Frame::One(WatchResponse {
                    header: hub.header(0),
                    watch_id: w.id,
                    canceled: true,
                    compact_revision: compact,
                    ..Default::default()
                }));
            }
        } else {
            if w.next_rev <= 0 {
                // A negative start revision at or after the compact revision
                // replays nothing: the watcher starts from now, as etcd's does.
                w.next_rev = target + 1;
            }
            running.push(w);
        }
    }
    let Some(from) = running.iter().map(|w| w.next_rev).min() else {
        return (running, None);
    };
    if from > target {
        return (running, None);
    }
    let (events, covered) = view.history(from.max(1), target, CATCH_UP_EVENTS, CATCH_UP_BYTES);
    let mut out = Vec::with_capacity(running.len());
    let mut blocked = None;
    for mut w in running {
        if blocked.is_some() || w.next_rev > covered {
            out.push(w);
            continue;
        }
        let evs: Vec<Event> = events
            .iter()
            .filter(|ev| {
                ev.kv
                    .as_ref()
                    .is_some_and(|kv| kv.mod_revision >= w.next_rev)
                    && w.spec.wants(ev)
            })
            .map(|ev| {
                let mut ev = ev.clone();
                if w.spec.prev_kv && !is_create(&ev) {
                    let kv = ev.kv.as_ref().expect("filtered on kv");
                    ev.prev_kv = view.version_before(&kv.key, kv.mod_revision);
                }
                ev
            })
            .collect();
        if evs.is_empty() {
            w.next_rev = covered + 1;
            out.push(w);
            continue;
        }
        let resp = WatchResponse {
            header: hub.header(target),
            watch_id: w.id,
            events: evs,
            ..Default::default()
        };
        let msgs = fragment::split(resp, w.spec.fragment, hub.max_response_bytes)
            .into_iter()
            .map(Frame::One)
            .collect();
        let st = shared.lock();
        if !st.is_live(&w) {
            continue;
        }
        match shared.outbox.try_push(msgs) {
            Ok(()) => {
                w.next_rev = covered + 1;
                out.push(w);
            }
            Err(Refused::Full(room)) => {
                blocked = Some(room);
                out.push(w);
            }
            Err(Refused::Closed) => {}
        }
        drop(st);
    }
    (out, blocked)
}

/// Moves the watchers that reached the hub's revision back to the hub; the others
/// wait for the next round. Sends a pending progress notification once all are
/// synced.
fn resync(hub: &Hub, shared: &Arc<StreamShared>, watchers: Vec<Watcher>, taken: usize) {
    let mut hub_st = hub.lock();
    let mut st = shared.lock();
    st.catching -= taken;
    for w in watchers {
        if !st.is_live(&w) {
            continue;
        }
        if w.next_rev > hub_st.rev {
            hub_st.insert(w);
        } else {
            st.lagging.push(w);
        }
    }
    if st.progress_pending && st.lagging.is_empty() && st.catching == 0 {
        st.progress_pending = false;
        shared
            .outbox
            .force_push(Frame::One(progress(hub, hub_st.rev)));
    }
}
