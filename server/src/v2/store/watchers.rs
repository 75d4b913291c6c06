//! The v2 store's watchers and event history: who waits on which key, what a
//! committed change wakes, and the scan of the last events for `waitIndex`.

use super::*;

/// A watcher waiting for events.
pub(super) struct Watcher {
    pub(super) id: u64,
    pub(super) recursive: bool,
    pub(super) stream: bool,
    pub(super) since: u64,
    pub(super) tx: mpsc::Sender<Arc<Event>>,
}

/// What a watch request gets: events to send, and the index it started at.
pub struct Watch {
    /// The store's index when the watch began (`X-Etcd-Index`).
    pub start_index: u64,
    /// Events as they come; closed when the watch is over.
    pub events: mpsc::Receiver<Arc<Event>>,
    /// Removes the watcher when dropped.
    pub guard: WatchGuard,
}

/// Removes a watcher from the store when the request ends.
pub struct WatchGuard {
    pub(super) store: std::sync::Weak<V2Store>,
    pub(super) key: String,
    pub(super) id: u64,
    /// Keeps a stream answered from history open: as in etcd, such a stream is
    /// not registered for later changes, yet it does not end either.
    pub(super) _held: Option<mpsc::Sender<Arc<Event>>>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if self.id == 0 {
            return;
        }
        if let Some(s) = self.store.upgrade() {
            let mut st = s.write();
            st.remove_watcher(&self.key, self.id);
        }
    }
}

impl V2Store {
    /// Starts a watch on `key` from index `since` (0 = the next change).
    pub fn watch(
        self: &Arc<Self>,
        key: &str,
        recursive: bool,
        stream: bool,
        since: u64,
    ) -> Result<Watch, V2Error> {
        let mut st = self.write();
        let start_index = st.index;
        let since = if since == 0 { st.index + 1 } else { since };
        let found = st.scan(key, recursive, since).map_err(|mut e| {
            e.index = start_index;
            e
        })?;
        let (tx, rx) = mpsc::channel(WATCHER_BUFFER);
        let mut guard = WatchGuard {
            store: Arc::downgrade(self),
            key: key.to_string(),
            id: 0,
            _held: None,
        };
        if let Some(e) = found {
            let _ = tx.try_send(e);
            if stream {
                guard._held = Some(tx);
            }
        } else {
            st.next_watcher += 1;
            let id = st.next_watcher;
            guard.id = id;
            st.watchers
                .entry(key.to_string())
                .or_default()
                .push(Watcher {
                    id,
                    recursive,
                    stream,
                    since,
                    tx,
                });
            st.watcher_count += 1;
        }
        Ok(Watch {
            start_index,
            events: rx,
            guard,
        })
    }
}

impl State {
    /// Adds a refresh to the history, or any other change to the history and to
    /// its watchers.
    pub(super) fn add_event(&mut self, e: Event) {
        let e = Arc::new(e);
        if e.refresh {
            self.add_history_arc(e);
        } else {
            self.add_event_arc(e);
        }
    }

    pub(super) fn add_event_arc(&mut self, e: Arc<Event>) {
        self.add_history_arc(e.clone());
        let key = e.node.key.clone();
        let mut cur = String::from("/");
        self.notify_watchers(&e, "/", false);
        for seg in key.split('/').filter(|s| !s.is_empty()) {
            cur = path::join(&cur, seg);
            self.notify_watchers(&e, &cur, false);
        }
    }

    pub(super) fn add_history(&mut self, e: Event) {
        self.add_history_arc(Arc::new(e));
    }

    pub(super) fn add_history_arc(&mut self, mut e: Arc<Event>) {
        if self.tree == Tree::Auth {
            // An auth record's change takes its index; no key watch may see it.
            Arc::make_mut(&mut e).internal = true;
        }
        self.history.push_back(e);
    }

    pub(super) fn notify_watchers(&mut self, e: &Arc<Event>, at: &str, deleted: bool) {
        if self.tree == Tree::Auth {
            return;
        }
        let Some(list) = self.watchers.get_mut(at) else {
            return;
        };
        let original = e.node.key == at;
        if !original && path::is_hidden(at, &e.node.key) {
            return;
        }
        let before = list.len();
        list.retain(|w| {
            if !((w.recursive || original || deleted) && e.index() >= w.since) {
                return true;
            }
            match w.tx.try_send(e.clone()) {
                Ok(()) => w.stream,
                // A watcher that cannot keep up (or went away) is dropped.
                Err(_) => false,
            }
        });
        let removed = before - list.len();
        if list.is_empty() {
            self.watchers.remove(at);
        }
        self.watcher_count -= removed;
    }

    pub(super) fn remove_watcher(&mut self, key: &str, id: u64) {
        if let Some(list) = self.watchers.get_mut(key) {
            let before = list.len();
            list.retain(|w| w.id != id);
            self.watcher_count -= before - list.len();
            if list.is_empty() {
                self.watchers.remove(key);
            }
        }
    }

    /// The first event at or after `since` that a watch on `key` sees.
    pub(super) fn scan(
        &self,
        key: &str,
        recursive: bool,
        since: u64,
    ) -> Result<Option<Arc<Event>>, V2Error> {
        let start = self.history.front().map_or(0, |e| e.index());
        let last = self.history.back().map_or(0, |e| e.index());
        if since < start {
            return Err(V2Error::new(
                code::EVENT_INDEX_CLEARED,
                format!("the requested history has been cleared [{start}/{since}]"),
                0,
            ));
        }
        if since > last {
            return Ok(None);
        }
        let prefix = if key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        let offset = (since - start) as usize;
        for e in self.history.iter().skip(offset) {
            if e.refresh || e.internal {
                continue;
            }
            let mut ok = e.node.key == key || (recursive && e.node.key.starts_with(&prefix));
            if matches!(e.action, "delete" | "expire") {
                if let Some(prev) = &e.prev_node {
                    ok = ok || (prev.dir && key.starts_with(&prev.key));
                }
            }
            if ok {
                return Ok(Some(e.clone()));
            }
        }
        Ok(None)
    }
}
