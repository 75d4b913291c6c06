//! The v2 store: etcd's v2 tree of files and directories with its own index, TTLs
//! and a 1,000-event history, changed only by applying committed commands.
//!
//! The tree lives in memory for reads; every change is also written into the
//! apply's RocksDB batch (the `v2` column family), so it is durable with the
//! applied index and travels in state snapshots. Apply reads no clock: TTLs shown
//! in events are counted from the time the proposer put in the command.
//!
//! etcd keeps more than keys in this store: its v2 auth records live under `/2`
//! beside the keys (`/1`), and their writes take indexes like any other. Here they
//! are a second tree (see [`Tree`]) changed by the same commands with the same
//! rules, so the index moves exactly as etcd's; their events stay in the history
//! (a `waitIndex` counts them) but no watcher ever sees them.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ectd_proto::raftcmd::{V2Event, V2Node, V2Request};
use prost::Message as _;
use rocksdb::WriteBatch;
use tokio::sync::mpsc;

use super::event::{code, Event, NodeView, V2Error};
use super::path;
use super::stats::{Counter, StoreStats};
use crate::engine::schema::v2 as keys;
use crate::engine::{Cf, Engine};

/// How many events the history keeps, as in etcd.
pub const HISTORY: usize = 1000;

/// How many events a watcher may have waiting before it is dropped, as in etcd.
const WATCHER_BUFFER: usize = 100;

/// Expirations before 2000-01-01 mean "no expiration", as in etcd.
const MIN_EXPIRATION: i64 = 946_684_800 * 1_000_000_000;

/// Which of the store's trees a command works on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Tree {
    /// The keys clients read and write (etcd's `/1`), by their path below it.
    #[default]
    Keys,
    /// The v2 auth records, by their full path in etcd's store (`/2/...`).
    Auth,
}

/// A node of the tree.
#[derive(Debug, Clone, Default)]
struct Node {
    created: u64,
    modified: u64,
    /// Unix nanoseconds; 0 = permanent.
    expiration: i64,
    value: Vec<u8>,
    /// `Some` for a directory.
    children: Option<BTreeMap<String, Node>>,
}

impl Node {
    fn dir(index: u64, expiration: i64) -> Node {
        Node {
            created: index,
            modified: index,
            expiration,
            value: Vec::new(),
            children: Some(BTreeMap::new()),
        }
    }

    fn is_dir(&self) -> bool {
        self.children.is_some()
    }

    fn record(&self) -> V2Node {
        V2Node {
            dir: self.is_dir(),
            value: self.value.clone(),
            created_index: self.created,
            modified_index: self.modified,
            expiration: self.expiration,
        }
    }
}

/// Expiration and TTL as etcd shows them at `now`: the TTL is rounded up.
fn expiration_and_ttl(expiration: i64, now: i64) -> (i64, i64) {
    if expiration == 0 {
        return (0, 0);
    }
    let left = expiration.saturating_sub(now);
    let mut ttl = left / 1_000_000_000;
    if left % 1_000_000_000 > 0 {
        ttl += 1;
    }
    (expiration, ttl)
}

/// A node's view; with `recursive`, a directory lists its children (hidden ones
/// left out) all the way down.
fn repr(n: &Node, key: &str, recursive: bool, now: i64) -> NodeView {
    let mut v = NodeView::new(key, n.modified, n.created);
    (v.expiration, v.ttl) = expiration_and_ttl(n.expiration, now);
    match &n.children {
        Some(children) => {
            v.dir = true;
            if recursive {
                v.nodes = list(children, key, true, now);
            }
        }
        None => v.value = Some(n.value.clone()),
    }
    v
}

fn list(children: &BTreeMap<String, Node>, key: &str, recursive: bool, now: i64) -> Vec<NodeView> {
    children
        .iter()
        .filter(|(name, _)| !name.starts_with('_'))
        .map(|(name, c)| repr(c, &path::join(key, name), recursive, now))
        .collect()
}

/// The paths of `n` (at `key`) and everything below it, children first.
fn subtree_paths(n: &Node, key: &str, out: &mut Vec<(String, i64)>) {
    if let Some(children) = &n.children {
        for (name, c) in children {
            subtree_paths(c, &path::join(key, name), out);
        }
    }
    out.push((key.to_string(), n.expiration));
}

/// The state under the store's lock.
#[derive(Default)]
struct State {
    root: Node,
    /// etcd's store root as the auth records see it: only `/2` is ever below it.
    auth_root: Node,
    /// The tree the command being applied works on; [`Tree::Keys`] at rest.
    tree: Tree,
    index: u64,
    /// Keys with a TTL, by expiration then path (the order they expire in).
    ttl: BTreeSet<(i64, String)>,
    version_set: bool,
    history: VecDeque<Arc<Event>>,
    watchers: HashMap<String, Vec<Watcher>>,
    watcher_count: usize,
    next_watcher: u64,
}

/// The v2 store of one member.
pub struct V2Store {
    state: RwLock<State>,
    /// Operation counters (`/v2/stats/store`).
    pub stats: StoreStats,
    expiring: AtomicU64,
}

/// Changes of one apply, written into its batch at the end.
struct Writes<'a> {
    engine: &'a Engine,
    batch: &'a mut WriteBatch,
    touched: Vec<String>,
}

mod persist;
mod watchers;
use watchers::Watcher;
pub use watchers::{Watch, WatchGuard};

impl V2Store {
    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's index.
    pub fn index(&self) -> u64 {
        self.read().index
    }

    /// The earliest expiration of any key (Unix nanoseconds), if one has a TTL.
    pub fn next_expiration(&self) -> Option<i64> {
        match self.expiring.load(Ordering::Acquire) {
            0 => None,
            e => Some(e as i64),
        }
    }

    /// How many watchers wait.
    pub fn watcher_count(&self) -> usize {
        self.read().watcher_count
    }

    /// Reads a node (a `get` event) as of `now` (Unix nanoseconds).
    /// Also returns the store's index.
    pub fn get(&self, p: &str, recursive: bool, now: i64) -> Result<(Event, u64), V2Error> {
        let st = self.read();
        let res = st.get(Tree::Keys, p, recursive, now).map(|e| (e, st.index));
        self.stats.count(Counter::Get, res.is_ok());
        res
    }

    /// Reads a v2 auth record by its store path (`/2/...`): a file's value, or a
    /// directory's children (hidden ones left out, as etcd lists them). Counted
    /// in the store's statistics like any read, as in etcd.
    pub fn get_auth(&self, p: &str) -> Result<Event, V2Error> {
        let res = self.read().get(Tree::Auth, p, false, 0);
        self.stats.count(Counter::Get, res.is_ok());
        res
    }

    /// Whether the v2 auth record at `p` exists (not counted as a read).
    pub fn has_auth(&self, p: &str) -> bool {
        self.read().lookup_in(Tree::Auth, p).is_ok()
    }

    /// Applies a committed v2 command, staging its changes in `batch`.
    pub fn apply(
        &self,
        engine: &Engine,
        batch: &mut WriteBatch,
        req: &V2Request,
    ) -> Result<Event, V2Error> {
        let mut st = self.write();
        let mut w = Writes {
            engine,
            batch,
            touched: Vec::new(),
        };
        let before = st.index;
        let p = req.path.as_str();
        if req.auth {
            st.tree = Tree::Auth;
        }
        // Auth records never expire.
        let exp = if req.auth { 0 } else { req.expiration };
        let t = req.time;
        let (counter, res) = match req.method.as_str() {
            "POST" => (
                Counter::Create,
                st.create(&mut w, p, req.dir, &req.value, true, exp, t),
            ),
            "PUT" => match req.prev_exist {
                2 if req.prev_index == 0 && !req.has_prev_value => (
                    Counter::Update,
                    st.update(&mut w, p, &req.value, exp, req.refresh, t),
                ),
                2 => (
                    Counter::CompareAndSwap,
                    st.cas(
                        &mut w,
                        p,
                        &req.prev_value,
                        req.prev_index,
                        &req.value,
                        exp,
                        req.refresh,
                        t,
                    ),
                ),
                1 => (
                    Counter::Create,
                    st.create(&mut w, p, req.dir, &req.value, false, exp, t),
                ),
                _ if req.prev_index > 0 || req.has_prev_value => (
                    Counter::CompareAndSwap,
                    st.cas(
                        &mut w,
                        p,
                        &req.prev_value,
                        req.prev_index,
                        &req.value,
                        exp,
                        req.refresh,
                        t,
                    ),
                ),
                _ => (
                    Counter::Set,
                    st.set(&mut w, p, req.dir, &req.value, exp, req.refresh, t),
                ),
            },
            "DELETE" if req.prev_index > 0 || req.has_prev_value => (
                Counter::CompareAndDelete,
                st.cad(&mut w, p, &req.prev_value, req.prev_index, t),
            ),
            "DELETE" => (
                Counter::Delete,
                st.delete(&mut w, p, req.dir, req.recursive, t),
            ),
            "SYNC" if !req.auth => {
                let n = st.expire(&mut w, t);
                self.stats.expired(n);
                // Nobody waits for a sweep; its answer only tells the new index.
                (Counter::None, Ok(Event::new("expire", "/", st.index, 0)))
            }
            other => {
                tracing::warn!(
                    method = other,
                    "ignoring a v2 command with an unknown method"
                );
                (Counter::None, Ok(Event::new("get", "/", st.index, 0)))
            }
        };
        if counter != Counter::None {
            self.stats.count(counter, res.is_ok());
        }
        st.persist(w, before);
        st.tree = Tree::Keys;
        self.expiring.store(
            st.ttl.first().map_or(0, |(e, _)| *e as u64),
            Ordering::Release,
        );
        res
    }

    /// Counts the indexes a membership change takes: etcd records membership in
    /// the same store, so its index moves with it, one index per record written
    /// (`kinds` says which writes, for the counters). `publish` also counts the
    /// first recording of the cluster version, which follows the first publish.
    pub fn bump(&self, engine: &Engine, batch: &mut WriteBatch, kinds: &[Counter], publish: bool) {
        let mut st = self.write();
        let before = st.index;
        let w = Writes {
            engine,
            batch,
            touched: Vec::new(),
        };
        let mut kinds = kinds.to_vec();
        if publish && !st.version_set {
            st.version_set = true;
            w.batch.put_cf(engine.cf(Cf::V2), keys::VERSION_SET, []);
            kinds.push(Counter::Set);
        }
        for kind in kinds {
            st.index += 1;
            let e = Event {
                internal: true,
                ..Event::new("set", "/0", st.index, st.index)
            };
            st.add_history(e);
            self.stats.count(kind, true);
        }
        st.persist(w, before);
    }
}

impl State {
    /// The root of `tree`.
    fn root(&self, tree: Tree) -> &Node {
        match tree {
            Tree::Keys => &self.root,
            Tree::Auth => &self.auth_root,
        }
    }

    /// The root of the tree the command being applied works on.
    fn root_mut(&mut self) -> &mut Node {
        match self.tree {
            Tree::Keys => &mut self.root,
            Tree::Auth => &mut self.auth_root,
        }
    }

    /// The node at `p` in the tree the command being applied works on.
    fn lookup(&self, p: &str) -> Result<&Node, V2Error> {
        self.lookup_in(self.tree, p)
    }

    fn lookup_in(&self, tree: Tree, p: &str) -> Result<&Node, V2Error> {
        let mut cur = self.root(tree);
        let mut cur_path = String::from("/");
        for c in p.split('/').filter(|c| !c.is_empty()) {
            let Some(children) = &cur.children else {
                return Err(V2Error::new(code::NOT_DIR, cur_path, self.index));
            };
            let next = path::join(&cur_path, c);
            match children.get(c) {
                Some(n) => cur = n,
                None => return Err(V2Error::new(code::KEY_NOT_FOUND, next, self.index)),
            }
            cur_path = next;
        }
        Ok(cur)
    }

    fn lookup_mut(&mut self, p: &str) -> Option<&mut Node> {
        let mut cur = self.root_mut();
        for c in p.split('/').filter(|c| !c.is_empty()) {
            cur = cur.children.as_mut()?.get_mut(c)?;
        }
        Some(cur)
    }

    fn get(&self, tree: Tree, p: &str, recursive: bool, now: i64) -> Result<Event, V2Error> {
        let n = self.lookup_in(tree, p)?;
        let mut e = Event::new("get", p, n.modified, n.created);
        (e.node.expiration, e.node.ttl) = expiration_and_ttl(n.expiration, now);
        match &n.children {
            Some(children) => {
                e.node.dir = true;
                e.node.nodes = list(children, p, recursive, now);
            }
            None => e.node.value = Some(n.value.clone()),
        }
        Ok(e)
    }

    /// Removes the node at `p` (which exists) and everything below it; returns
    /// the removed paths, children first.
    fn remove(&mut self, w: &mut Writes<'_>, p: &str) -> Vec<String> {
        let (parent, name) = path::split(p);
        let Some(node) = self
            .lookup_mut(parent)
            .and_then(|d| d.children.as_mut())
            .and_then(|c| c.remove(name))
        else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        subtree_paths(&node, p, &mut removed);
        removed
            .into_iter()
            .map(|(rp, exp)| {
                if exp != 0 {
                    self.ttl.remove(&(exp, rp.clone()));
                }
                w.touched.push(rp.clone());
                rp
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        dir: bool,
        value: &[u8],
        unique: bool,
        expiration: i64,
        now: i64,
    ) -> Result<Event, V2Error> {
        let e = self.internal_create(w, p, dir, value, unique, false, expiration, "create", now)?;
        self.add_event(e.clone());
        Ok(e)
    }

    #[allow(clippy::too_many_arguments)]
    fn internal_create(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        dir: bool,
        value: &[u8],
        unique: bool,
        replace: bool,
        expiration: i64,
        action: &'static str,
        now: i64,
    ) -> Result<Event, V2Error> {
        let cur = self.index;
        let next = cur + 1;
        let p = if unique {
            path::clean(&format!("{p}/{next:020}"))
        } else {
            p.to_string()
        };
        if p == "/" {
            return Err(V2Error::new(code::ROOT_READ_ONLY, "/", cur));
        }
        let expiration = if expiration < MIN_EXPIRATION {
            0
        } else {
            expiration
        };
        let (dir_path, name) = path::split(&p);
        // Walk to the parent, making missing directories on the way.
        // (Matched here rather than through `root_mut` so that the TTL index can
        // be updated while the parent is held.)
        let mut node = match self.tree {
            Tree::Keys => &mut self.root,
            Tree::Auth => &mut self.auth_root,
        };
        let mut node_path = String::from("/");
        for c in dir_path.split('/').filter(|c| !c.is_empty()) {
            let child_path = path::join(&node_path, c);
            let children = node
                .children
                .as_mut()
                .expect("walked through directories only");
            let child = children.entry(c.to_string()).or_insert_with(|| {
                w.touched.push(child_path.clone());
                Node::dir(next, 0)
            });
            if !child.is_dir() {
                return Err(V2Error::new(code::NOT_DIR, child_path, cur));
            }
            node = child;
            node_path = child_path;
        }
        let mut e = Event::new(action, &p, next, next);
        let children = node.children.as_mut().expect("parent is a directory");
        if let Some(existing) = children.get(name) {
            if !replace {
                return Err(V2Error::new(code::NODE_EXIST, p, cur));
            }
            if existing.is_dir() {
                return Err(V2Error::new(code::NOT_FILE, p, cur));
            }
            e.prev_node = Some(repr(existing, &p, false, now));
            if existing.expiration != 0 {
                self.ttl.remove(&(existing.expiration, p.clone()));
            }
        }
        let new = if dir {
            e.node.dir = true;
            Node::dir(next, expiration)
        } else {
            e.node.value = Some(value.to_vec());
            Node {
                created: next,
                modified: next,
                expiration,
                value: value.to_vec(),
                children: None,
            }
        };
        let children = self
            .lookup_mut(dir_path)
            .and_then(|d| d.children.as_mut())
            .expect("parent is a directory");
        children.insert(name.to_string(), new);
        if expiration != 0 {
            self.ttl.insert((expiration, p.clone()));
            (e.node.expiration, e.node.ttl) = expiration_and_ttl(expiration, now);
        }
        w.touched.push(p);
        self.index = next;
        Ok(e)
    }

    #[allow(clippy::too_many_arguments)]
    fn set(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        dir: bool,
        value: &[u8],
        expiration: i64,
        refresh: bool,
        now: i64,
    ) -> Result<Event, V2Error> {
        let existing = match self.lookup(p) {
            Ok(n) => Some(n.clone()),
            Err(e) if e.code == code::KEY_NOT_FOUND => None,
            Err(e) => return Err(e),
        };
        let value = match (&existing, refresh) {
            (None, true) => return Err(self.lookup(p).expect_err("missing key")),
            (Some(n), true) => n.value.clone(),
            _ => value.to_vec(),
        };
        let mut e = self.internal_create(w, p, dir, &value, false, true, expiration, "set", now)?;
        if let Some(n) = &existing {
            e.prev_node = Some(repr(n, p, false, now));
        }
        e.refresh = refresh;
        self.add_event(e.clone());
        Ok(e)
    }

    fn update(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        value: &[u8],
        expiration: i64,
        refresh: bool,
        now: i64,
    ) -> Result<Event, V2Error> {
        let cur = self.index;
        if p == "/" {
            return Err(V2Error::new(code::ROOT_READ_ONLY, "/", cur));
        }
        let next = cur + 1;
        let n = self.lookup(p)?;
        if n.is_dir() && !value.is_empty() {
            return Err(V2Error::new(code::NOT_FILE, p, cur));
        }
        let value = if refresh {
            n.value.clone()
        } else {
            value.to_vec()
        };
        let mut e = Event::new("update", p, next, n.created);
        e.prev_node = Some(repr(n, p, false, now));
        let old_exp = n.expiration;
        let n = self.lookup_mut(p).expect("looked up");
        if n.is_dir() {
            // etcd leaves a directory's modified index as it was.
            e.node.dir = true;
        } else {
            n.value = value.clone();
            n.modified = next;
            e.node.value = Some(value);
        }
        n.expiration = expiration;
        (e.node.expiration, e.node.ttl) = expiration_and_ttl(expiration, now);
        self.retime(p, old_exp, expiration);
        w.touched.push(p.to_string());
        e.refresh = refresh;
        self.index = next;
        self.add_event(e.clone());
        Ok(e)
    }

    fn retime(&mut self, p: &str, old: i64, new: i64) {
        if old != 0 {
            self.ttl.remove(&(old, p.to_string()));
        }
        if new != 0 {
            self.ttl.insert((new, p.to_string()));
        }
    }

    fn compare(&self, n: &Node, prev_value: &[u8], prev_index: u64) -> Result<(), V2Error> {
        let index_ok = prev_index == 0 || n.modified == prev_index;
        let value_ok = prev_value.is_empty() || n.value == prev_value;
        let pv = String::from_utf8_lossy(prev_value);
        let nv = String::from_utf8_lossy(&n.value);
        let cause = match (value_ok, index_ok) {
            (true, true) => return Ok(()),
            (true, false) => format!("[{prev_index} != {}]", n.modified),
            (false, true) => format!("[{pv} != {nv}]"),
            (false, false) => format!("[{pv} != {nv}] [{prev_index} != {}]", n.modified),
        };
        Err(V2Error::new(code::TEST_FAILED, cause, self.index))
    }

    #[allow(clippy::too_many_arguments)]
    fn cas(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        prev_value: &[u8],
        prev_index: u64,
        value: &[u8],
        expiration: i64,
        refresh: bool,
        now: i64,
    ) -> Result<Event, V2Error> {
        let cur = self.index;
        if p == "/" {
            return Err(V2Error::new(code::ROOT_READ_ONLY, "/", cur));
        }
        let n = self.lookup(p)?;
        if n.is_dir() {
            return Err(V2Error::new(code::NOT_FILE, p, cur));
        }
        self.compare(n, prev_value, prev_index)?;
        let value = if refresh {
            n.value.clone()
        } else {
            value.to_vec()
        };
        let next = cur + 1;
        let mut e = Event::new("compareAndSwap", p, next, n.created);
        e.prev_node = Some(repr(n, p, false, now));
        let old_exp = n.expiration;
        let n = self.lookup_mut(p).expect("looked up");
        n.value = value.clone();
        n.modified = next;
        n.expiration = expiration;
        e.node.value = Some(value);
        (e.node.expiration, e.node.ttl) = expiration_and_ttl(expiration, now);
        self.retime(p, old_exp, expiration);
        w.touched.push(p.to_string());
        e.refresh = refresh;
        self.index = next;
        self.add_event(e.clone());
        Ok(e)
    }

    fn delete(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        dir: bool,
        recursive: bool,
        now: i64,
    ) -> Result<Event, V2Error> {
        let cur = self.index;
        if p == "/" {
            return Err(V2Error::new(code::ROOT_READ_ONLY, "/", cur));
        }
        let dir = dir || recursive;
        let n = self.lookup(p)?;
        let next = cur + 1;
        let mut e = Event::new("delete", p, next, n.created);
        e.prev_node = Some(repr(n, p, false, now));
        if let Some(children) = &n.children {
            e.node.dir = true;
            if !dir {
                return Err(V2Error::new(code::NOT_FILE, p, cur));
            }
            if !children.is_empty() && !recursive {
                return Err(V2Error::new(code::DIR_NOT_EMPTY, p, cur));
            }
        }
        let removed = self.remove(w, p);
        self.index = next;
        let e = Arc::new(e);
        for rp in &removed {
            self.notify_watchers(&e, rp, true);
        }
        self.add_event_arc(e.clone());
        Ok((*e).clone())
    }

    fn cad(
        &mut self,
        w: &mut Writes<'_>,
        p: &str,
        prev_value: &[u8],
        prev_index: u64,
        now: i64,
    ) -> Result<Event, V2Error> {
        let cur = self.index;
        let n = self.lookup(p)?;
        if n.is_dir() {
            let cause = if p == "/" { "" } else { p };
            return Err(V2Error::new(code::NOT_FILE, cause, cur));
        }
        self.compare(n, prev_value, prev_index)?;
        let next = cur + 1;
        let mut e = Event::new("compareAndDelete", p, next, n.created);
        e.prev_node = Some(repr(n, p, false, now));
        let removed = self.remove(w, p);
        self.index = next;
        let e = Arc::new(e);
        for rp in &removed {
            self.notify_watchers(&e, rp, true);
        }
        self.add_event_arc(e.clone());
        Ok((*e).clone())
    }

    /// Expires every key due by `now`, earliest first; returns how many.
    fn expire(&mut self, w: &mut Writes<'_>, now: i64) -> u64 {
        let mut n = 0;
        while let Some((exp, p)) = self.ttl.first().cloned() {
            if exp > now {
                break;
            }
            let Ok(node) = self.lookup(&p) else {
                self.ttl.remove(&(exp, p));
                continue;
            };
            let mut e = Event::new("expire", &p, self.index + 1, node.created);
            e.prev_node = Some(repr(node, &p, false, now));
            e.node.dir = node.is_dir();
            self.index += 1;
            let removed = self.remove(w, &p);
            let e = Arc::new(e);
            for rp in &removed {
                self.notify_watchers(&e, rp, true);
            }
            self.add_event_arc(e);
            n += 1;
        }
        n
    }
}
