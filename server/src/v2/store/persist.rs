//! Loading the v2 store from its column family and writing committed changes
//! back to it.

use super::*;

impl V2Store {
    /// Loads the store from the engine's `v2` column family.
    pub fn load(engine: &Engine) -> Arc<V2Store> {
        let s = Arc::new(V2Store {
            state: RwLock::default(),
            stats: StoreStats::default(),
            expiring: AtomicU64::new(0),
        });
        s.reload(engine);
        s
    }

    /// Replaces the in-memory state with what the engine holds (after a snapshot
    /// is installed). Watchers are dropped, as etcd drops them on recovery.
    pub fn reload(&self, engine: &Engine) {
        let mut st = State {
            root: Node::dir(0, 0),
            auth_root: Node::dir(0, 0),
            ..State::default()
        };
        let db = engine.db();
        let mut it = db.raw_iterator_cf(engine.cf(Cf::V2));
        it.seek_to_first();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            let v = it.value().expect("valid iterator has a value");
            match k.first() {
                Some(&prefix @ (keys::NODE | keys::AUTH_NODE)) => {
                    let p = String::from_utf8_lossy(&k[1..]).into_owned();
                    let rec = V2Node::decode(v)
                        .unwrap_or_else(|e| panic!("undecodable v2 node {p}: {e}"));
                    let tree = if prefix == keys::NODE {
                        Tree::Keys
                    } else {
                        Tree::Auth
                    };
                    st.insert_loaded(tree, &p, rec);
                }
                Some(&keys::EVENT) => {
                    let rec =
                        V2Event::decode(v).unwrap_or_else(|e| panic!("undecodable v2 event: {e}"));
                    st.history.push_back(Arc::new(Event::from_record(rec)));
                }
                _ if k == keys::INDEX => {
                    st.index = u64::from_be_bytes(v.try_into().expect("u64 v2 index"));
                }
                _ if k == keys::VERSION_SET => st.version_set = true,
                _ => {}
            }
            it.next();
        }
        let mut old = self.write();
        old.watchers.clear();
        old.watcher_count = 0;
        st.next_watcher = old.next_watcher;
        *old = st;
        self.expiring.store(
            old.ttl.first().map_or(0, |(e, _)| *e as u64),
            Ordering::Release,
        );
    }
}

impl State {
    pub(super) fn insert_loaded(&mut self, tree: Tree, p: &str, rec: V2Node) {
        let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
        let Some((name, parents)) = parts.split_last() else {
            return;
        };
        if rec.expiration != 0 && tree == Tree::Keys {
            self.ttl.insert((rec.expiration, p.to_string()));
        }
        let mut cur = match tree {
            Tree::Keys => &mut self.root,
            Tree::Auth => &mut self.auth_root,
        };
        for c in parents {
            let children = cur.children.get_or_insert_with(BTreeMap::new);
            cur = children
                .entry(c.to_string())
                .or_insert_with(|| Node::dir(0, 0));
        }
        let node = Node {
            created: rec.created_index,
            modified: rec.modified_index,
            expiration: rec.expiration,
            value: rec.value,
            children: if rec.dir { Some(BTreeMap::new()) } else { None },
        };
        let children = cur.children.get_or_insert_with(BTreeMap::new);
        match children.get_mut(*name) {
            // A child loaded before its directory's own record keeps its place.
            Some(existing) => {
                let kids = existing.children.take();
                *existing = Node {
                    children: if node.is_dir() {
                        kids.or(node.children.clone())
                    } else {
                        None
                    },
                    ..node
                };
            }
            None => {
                children.insert(name.to_string(), node);
            }
        }
    }

    /// Writes this apply's changes into its batch: touched nodes, new events (the
    /// history trimmed to its last 1,000), and the index.
    pub(super) fn persist(&mut self, w: Writes<'_>, index_before: u64) {
        let Writes {
            engine,
            batch,
            mut touched,
        } = w;
        let cf = engine.cf(Cf::V2);
        touched.sort();
        touched.dedup();
        let node_key = match self.tree {
            Tree::Keys => keys::node_key,
            Tree::Auth => keys::auth_node_key,
        };
        for p in touched {
            match self.lookup(&p) {
                Ok(n) => batch.put_cf(cf, node_key(&p), n.record().encode_to_vec()),
                Err(_) => batch.delete_cf(cf, node_key(&p)),
            }
        }
        for e in self.history.iter().rev() {
            if e.index() <= index_before {
                break;
            }
            batch.put_cf(
                cf,
                keys::event_key(e.index()),
                e.to_record().encode_to_vec(),
            );
        }
        while self.history.len() > HISTORY {
            if let Some(old) = self.history.pop_front() {
                batch.delete_cf(cf, keys::event_key(old.index()));
            }
        }
        if self.index != index_before {
            batch.put_cf(cf, keys::INDEX, self.index.to_be_bytes());
        }
    }
}
