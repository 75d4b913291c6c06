//! Watchers: streams of the keyspace's changes, from any revision still in history.
//!
//! A watcher is either *synced* — it has been sent every change up to the hub's
//! revision, and apply hands it new changes as they are committed — or *lagging*,
//! and its stream's catch-up task feeds it from history (the revision-ordered `kv`
//! column family) until it reaches the hub's revision again. Apply never waits for
//! a watcher: when a stream's bounded outbox is full, its watcher simply becomes
//! lagging. A watcher therefore sees every change of its range exactly once, in
//! revision order, all changes of one revision in one response (unless fragmented);
//! a slow client delays only its own stream and costs at most one full outbox.

mod fragment;
mod frame;
mod outbox;
mod stream;

use std::sync::{Arc, Mutex};

use rustc_hash::{FxHashMap, FxHashSet};

use ectd_proto::etcdserverpb::{watch_create_request::FilterType, WatchCreateRequest};
use ectd_proto::etcdserverpb::{ResponseHeader, WatchResponse};
use ectd_proto::mvccpb::{event::EventType, Event};

use crate::mvcc::Store;
use crate::raft::RaftStatus;
pub use frame::Frame;
use frame::SharedEvents;
use outbox::Refused;
pub use stream::WatchStream;
use stream::Watcher;

/// What a watcher watches, after etcd's normalisation of the create request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The (first) key.
    pub key: Vec<u8>,
    /// Where the range ends.
    pub end: End,
    /// Send each change's previous version.
    pub prev_kv: bool,
    /// Leave out PUT events.
    pub no_put: bool,
    /// Leave out DELETE events.
    pub no_delete: bool,
    /// Send periodic progress notifications while idle.
    pub progress_notify: bool,
    /// Split responses larger than the request size limit.
    pub fragment: bool,
}

/// The end of a watched range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum End {
    /// Only the key itself.
    Single,
    /// Every key at or after the key.
    Unbounded,
    /// Keys before this one.
    Before(Vec<u8>),
}

impl Spec {
    /// The spec of a create request, normalised as etcd does: an empty key means
    /// `"\0"`, a `range_end` of `"\0"` means every key from the key on.
    pub fn from_request(req: &WatchCreateRequest) -> Spec {
        let key = if req.key.is_empty() {
            vec![0]
        } else {
            req.key.clone()
        };
        let end = match req.range_end.as_slice() {
            [] => End::Single,
            [0] => End::Unbounded,
            e => End::Before(e.to_vec()),
        };
        Spec {
            key,
            end,
            prev_kv: req.prev_kv,
            no_put: req.filters.contains(&(FilterType::Noput as i32)),
            no_delete: req.filters.contains(&(FilterType::Nodelete as i32)),
            progress_notify: req.progress_notify,
            fragment: req.fragment,
        }
    }

    /// Whether the range is empty (a `range_end` not after the key).
    pub fn is_empty_range(&self) -> bool {
        matches!(&self.end, End::Before(e) if e.as_slice() <= self.key.as_slice())
    }

    /// Whether `key` is watched.
    pub fn matches(&self, key: &[u8]) -> bool {
        in_range(&self.key, &self.end, key)
    }

    /// Whether the watcher is told of `ev` (its key and the event filters).
    pub fn wants(&self, ev: &Event) -> bool {
        self.wants_type(ev) && ev.kv.as_ref().is_some_and(|kv| self.matches(&kv.key))
    }

    /// Whether the event filters let `ev` through, whatever its key.
    fn wants_type(&self, ev: &Event) -> bool {
        let put = ev.r#type == EventType::Put as i32;
        !((put && self.no_put) || (!put && self.no_delete))
    }
}

/// Whether `k` lies in the range from `key` to `end`.
fn in_range(key: &[u8], end: &End, k: &[u8]) -> bool {
    match end {
        End::Single => k == key,
        End::Unbounded => k >= key,
        End::Before(e) => k >= key && k < e.as_slice(),
    }
}

/// A synced watcher's place in the hub: its stream and its watch id.
type WatcherRef = (u64, i64);

/// A watched range: its first key and its end.
type Range = (Vec<u8>, End);

struct Synced {
    watcher: Watcher,
    /// No events were sent since the last progress tick.
    quiet: bool,
}

#[derive(Default)]
struct HubState {
    /// Every change up to this revision has been handed to the synced watchers.
    rev: i64,
    synced: FxHashMap<WatcherRef, Synced>,
    /// Single-key watchers by key.
    by_key: FxHashMap<Vec<u8>, FxHashSet<WatcherRef>>,
    /// Range watchers by range: a change is matched once against each distinct
    /// range, however many watchers share it.
    ranged: FxHashMap<Range, FxHashSet<WatcherRef>>,
    next_stream: u64,
}

impl HubState {
    fn insert(&mut self, watcher: Watcher) {
        let r = (watcher.stream.id, watcher.id);
        if watcher.spec.end == End::Single {
            self.by_key
                .entry(watcher.spec.key.clone())
                .or_default()
                .insert(r);
        } else {
            self.ranged
                .entry((watcher.spec.key.clone(), watcher.spec.end.clone()))
                .or_default()
                .insert(r);
        }
        self.synced.insert(
            r,
            Synced {
                watcher,
                quiet: true,
            },
        );
    }

    fn remove(&mut self, r: WatcherRef) -> Option<Watcher> {
        let s = self.synced.remove(&r)?;
        let spec = &s.watcher.spec;
        if spec.end == End::Single {
            if let Some(set) = self.by_key.get_mut(&spec.key) {
                set.remove(&r);
                if set.is_empty() {
                    self.by_key.remove(&spec.key);
                }
            }
        } else {
            let range = (spec.key.clone(), spec.end.clone());
            if let Some(set) = self.ranged.get_mut(&range) {
                set.remove(&r);
                if set.is_empty() {
                    self.ranged.remove(&range);
                }
            }
        }
        Some(s.watcher)
    }
}

/// What the hub needs to write complete response headers (fragmenting counts
/// their bytes).
pub struct Headers {
    /// The cluster's id.
    pub cluster_id: u64,
    /// This member's id.
    pub member_id: u64,
    /// Where the current term comes from.
    pub status: Arc<RaftStatus>,
}

impl Headers {
    fn at(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.member_id,
            revision,
            raft_term: self.status.term(),
        })
    }
}

/// Every watcher of a member. Apply tells it of each committed revision.
pub struct Hub {
    state: Mutex<HubState>,
    store: Arc<Store>,
    headers: Headers,
    /// Responses larger than this are fragmented for watchers that allow it.
    max_response_bytes: usize,
}

impl Hub {
    /// A hub over `store`, starting at its current revision. Responses above
    /// `max_response_bytes` are fragmented for watchers that ask for it.
    pub fn new(store: Arc<Store>, headers: Headers, max_response_bytes: usize) -> Arc<Hub> {
        let rev = store.current_rev();
        Arc::new(Hub {
            state: Mutex::new(HubState {
                rev,
                ..Default::default()
            }),
            store,
            headers,
            max_response_bytes,
        })
    }

    /// A complete response header at `revision`.
    fn header(&self, revision: i64) -> Option<ResponseHeader> {
        self.headers.at(revision)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().expect("watch hub lock")
    }

    /// Opens a stream on which watchers are created.
    pub fn open_stream(self: &Arc<Self>) -> WatchStream {
        let id = {
            let mut st = self.lock();
            st.next_stream += 1;
            st.next_stream
        };
        WatchStream::open(self.clone(), id)
    }

    /// The revision every synced watcher has been brought to.
    pub fn rev(&self) -> i64 {
        self.lock().rev
    }

    /// Number of synced watchers (for tests and metrics).
    pub fn synced_count(&self) -> usize {
        self.lock().synced.len()
    }

    /// Hands the changes of revision `rev`, just committed, to the synced watchers.
    /// Never waits: a watcher whose stream cannot take its response now falls
    /// behind and catches up from history. Each stream's outbox is locked and woken
    /// once per revision, however many of its watchers the revision concerns.
    ///
    /// The events are encoded once per watched range and shape (filters and
    /// previous versions): every watcher sent the same events shares their bytes.
    pub fn notify(&self, rev: i64, changes: &[Event]) {
        let mut st = self.lock();
        st.rev = rev;
        if st.synced.is_empty() {
            return;
        }
        let header = self.header(rev);
        // Per stream: the watchers concerned and the responses of each.
        type Batch = (Arc<stream::StreamShared>, Vec<WatcherRef>, Vec<Vec<Frame>>);
        let mut batches: FxHashMap<u64, Batch> = FxHashMap::default();
        {
            let st = &*st;
            let mut deliver = |selected: &[u32], set: &FxHashSet<WatcherRef>| {
                let mut shapes: [Option<Option<Arc<SharedEvents>>>; 8] = Default::default();
                for r in set {
                    let Some(s) = st.synced.get(r) else { continue };
                    let w = &s.watcher;
                    if w.next_rev > rev {
                        continue;
                    }
                    let spec = &w.spec;
                    let shape = usize::from(spec.no_put)
                        | usize::from(spec.no_delete) << 1
                        | usize::from(spec.prev_kv) << 2;
                    let shared = shapes[shape].get_or_insert_with(|| {
                        let evs = selected
                            .iter()
                            .map(|&i| &changes[i as usize])
                            .filter(|ev| spec.wants_type(ev));
                        let shared = SharedEvents::encode(evs, spec.prev_kv);
                        (!shared.is_empty()).then(|| Arc::new(shared))
                    });
                    let Some(events) = shared else { continue };
                    let frame = Frame::Shared {
                        header,
                        watch_id: w.id,
                        events: events.clone(),
                    };
                    let msgs = if spec.fragment
                        && events.len() >= 2
                        && frame.encoded_len() >= self.max_response_bytes
                    {
                        fragment::split(frame.into_response(), true, self.max_response_bytes)
                            .into_iter()
                            .map(Frame::One)
                            .collect()
                    } else {
                        vec![frame]
                    };
                    let batch = batches
                        .entry(w.stream.id)
                        .or_insert_with(|| (w.stream.clone(), Vec::new(), Vec::new()));
                    batch.1.push(*r);
                    batch.2.push(msgs);
                }
            };
            if !st.by_key.is_empty() {
                let mut keyed: FxHashMap<&[u8], Vec<u32>> = FxHashMap::default();
                for (i, ev) in changes.iter().enumerate() {
                    let Some(kv) = &ev.kv else { continue };
                    if st.by_key.contains_key(&kv.key) {
                        keyed.entry(&kv.key).or_default().push(i as u32);
                    }
                }
                for (key, selected) in keyed {
                    if let Some(set) = st.by_key.get(key) {
                        deliver(&selected, set);
                    }
                }
            }
            let mut selected = Vec::new();
            for ((key, end), set) in &st.ranged {
                selected.clear();
                selected.extend(changes.iter().enumerate().filter_map(|(i, ev)| {
                    let kv = ev.kv.as_ref()?;
                    in_range(key, end, &kv.key).then_some(i as u32)
                }));
                if !selected.is_empty() {
                    deliver(&selected, set);
                }
            }
        }
        for (stream, refs, msgs) in batches.into_values() {
            let results = stream.outbox.try_push_each(msgs);
            for (r, pushed) in refs.into_iter().zip(results) {
                match pushed {
                    Ok(()) => {
                        if let Some(s) = st.synced.get_mut(&r) {
                            s.quiet = false;
                        }
                    }
                    Err(Refused::Full(_)) => {
                        let mut w = st.remove(r).expect("watcher just found");
                        w.next_rev = rev;
                        w.stream.clone().fall_behind(w);
                    }
                    Err(Refused::Closed) => {
                        st.remove(r);
                    }
                }
            }
        }
    }

    /// The state was replaced (a snapshot was installed) at revision `rev`: every
    /// synced watcher catches up from the new history.
    pub fn reset(&self, rev: i64) {
        let mut st = self.lock();
        let old = st.rev;
        st.rev = rev;
        let refs: Vec<WatcherRef> = st.synced.keys().copied().collect();
        for r in refs {
            let mut w = st.remove(r).expect("listed watcher");
            w.next_rev = w.next_rev.max(old + 1);
            if w.next_rev <= rev {
                w.stream.clone().fall_behind(w);
            } else {
                st.insert(w);
            }
        }
    }

    /// Sends a progress notification to every synced watcher that asked for them
    /// and was sent no events since the previous call.
    pub fn progress_tick(&self) {
        let mut st = self.lock();
        let rev = st.rev;
        for s in st.synced.values_mut() {
            if !s.watcher.spec.progress_notify {
                continue;
            }
            if s.quiet {
                let resp = WatchResponse {
                    header: self.header(rev),
                    watch_id: s.watcher.id,
                    ..Default::default()
                };
                // A full outbox means the client is busy with events anyway.
                let _ = s.watcher.stream.outbox.try_push(vec![Frame::One(resp)]);
            }
            s.quiet = true;
        }
    }
}

#[cfg(test)]
mod tests;
