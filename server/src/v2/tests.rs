//! The v2 store applied directly: semantics, persistence, history and expiry.

use std::sync::Arc;

use ectd_proto::raftcmd::V2Request;
use rocksdb::WriteBatch;

use super::event::code;
use super::{Counter, Event, V2Error, V2Store};
use crate::engine::{Cf, Engine};

const SEC: i64 = 1_000_000_000;
/// A fixed "now" in 2026, so expirations are past the year-2000 floor.
const T0: i64 = 1_796_000_000 * SEC;

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    store: Arc<V2Store>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        let store = V2Store::load(&engine);
        Fixture {
            _dir: dir,
            engine,
            store,
        }
    }

    fn apply(&self, req: V2Request) -> Result<Event, V2Error> {
        let mut batch = WriteBatch::default();
        let res = self.store.apply(&self.engine, &mut batch, &req);
        self.engine.write(batch).unwrap();
        res
    }

    fn put(&self, path: &str, value: &str) -> Result<Event, V2Error> {
        self.apply(put(path, value))
    }

    fn reopened(&self) -> Arc<V2Store> {
        V2Store::load(&self.engine)
    }
}

fn put(path: &str, value: &str) -> V2Request {
    V2Request {
        method: "PUT".into(),
        path: path.into(),
        value: value.as_bytes().to_vec(),
        time: T0,
        ..Default::default()
    }
}

fn get_json(s: &V2Store, path: &str) -> String {
    s.get(path, true, T0).map(|(e, _)| e.to_json()).unwrap()
}

#[test]
fn writes_follow_etcds_rules() {
    let f = Fixture::new();
    let e = f.put("/a/b", "1").unwrap();
    assert_eq!((e.action, e.index()), ("set", 1));
    assert!(e.is_created());
    // Create refuses an existing key without taking an index.
    let err = f
        .apply(V2Request {
            prev_exist: 1,
            ..put("/a/b", "2")
        })
        .unwrap_err();
    assert_eq!(
        (err.code, err.cause.as_str(), err.index),
        (code::NODE_EXIST, "/a/b", 1)
    );
    // Compare-and-swap on value and index.
    let err = f
        .apply(V2Request {
            prev_value: b"9".to_vec(),
            has_prev_value: true,
            prev_index: 7,
            ..put("/a/b", "2")
        })
        .unwrap_err();
    assert_eq!(err.cause, "[9 != 1] [7 != 1]");
    let e = f
        .apply(V2Request {
            prev_value: b"1".to_vec(),
            has_prev_value: true,
            ..put("/a/b", "2")
        })
        .unwrap();
    assert_eq!(
        (e.action, e.index(), e.node.created_index),
        ("compareAndSwap", 2, 1)
    );
    // A file is not a directory, a directory is not a file.
    assert_eq!(f.put("/a/b/c", "x").unwrap_err().code, code::NOT_DIR);
    assert_eq!(f.put("/a", "x").unwrap_err().code, code::NOT_FILE);
    let del = |dir: bool, recursive: bool| V2Request {
        method: "DELETE".into(),
        path: "/a".into(),
        dir,
        recursive,
        ..Default::default()
    };
    assert_eq!(f.apply(del(false, false)).unwrap_err().code, code::NOT_FILE);
    assert_eq!(
        f.apply(del(true, false)).unwrap_err().code,
        code::DIR_NOT_EMPTY
    );
    let e = f.apply(del(true, true)).unwrap();
    assert_eq!((e.action, e.index(), e.node.dir), ("delete", 3, true));
    assert_eq!(
        f.store.get("/a", false, T0).unwrap_err().code,
        code::KEY_NOT_FOUND
    );
    // In-order keys are named by the index that creates them.
    let e = f
        .apply(V2Request {
            method: "POST".into(),
            ..put("/q", "x")
        })
        .unwrap();
    assert_eq!(e.node.key, "/q/00000000000000000004");
    assert_eq!(f.put("/", "x").unwrap_err().code, code::ROOT_READ_ONLY);
}

#[test]
fn the_store_reloads_exactly_from_its_column_family() {
    let f = Fixture::new();
    f.put("/a/b", "1").unwrap();
    f.apply(V2Request {
        expiration: T0 + 30 * SEC,
        ..put("/a/t", "ttl")
    })
    .unwrap();
    f.put("/_hidden", "h").unwrap();
    f.apply(V2Request {
        method: "DELETE".into(),
        path: "/a/b".into(),
        ..Default::default()
    })
    .unwrap();
    let again = f.reopened();
    assert_eq!(again.index(), f.store.index());
    assert_eq!(get_json(&again, "/"), get_json(&f.store, "/"));
    assert_eq!(get_json(&again, "/_hidden"), get_json(&f.store, "/_hidden"));
    assert_eq!(again.next_expiration(), Some(T0 + 30 * SEC));
    // The history survives too: a watch from index 1 sees the first write.
    let mut w = again.watch("/a/b", false, false, 1).unwrap();
    let e = w.events.try_recv().unwrap();
    assert_eq!((e.action, e.index()), ("set", 1));
}

#[test]
fn the_history_keeps_the_last_thousand_events() {
    let f = Fixture::new();
    for i in 0..1005 {
        f.put("/k", &i.to_string()).unwrap();
    }
    let err = f.store.watch("/k", false, false, 5).err().unwrap();
    assert_eq!(err.code, code::EVENT_INDEX_CLEARED);
    assert_eq!(err.cause, "the requested history has been cleared [6/5]");
    assert_eq!(err.index, 1005);
    let mut w = f.store.watch("/k", false, false, 6).unwrap();
    assert_eq!(w.events.try_recv().unwrap().index(), 6);
    let mut n = 0;
    let mut it = f.engine.db().raw_iterator_cf(f.engine.cf(Cf::V2));
    it.seek_to_first();
    while it.valid() {
        n += usize::from(it.key().unwrap()[0] == b'e');
        it.next();
    }
    assert_eq!(n, 1000);
}

#[test]
fn watchers_see_what_etcd_shows_them() {
    let f = Fixture::new();
    let mut rec = f.store.watch("/d", true, true, 0).unwrap();
    let mut plain = f.store.watch("/d", false, false, 0).unwrap();
    f.put("/d/_hidden", "x").unwrap();
    f.put("/d/x", "1").unwrap();
    f.apply(V2Request {
        refresh: true,
        expiration: T0 + 10 * SEC,
        ..put("/d/x", "")
    })
    .unwrap();
    f.put("/d/x", "2").unwrap();
    let seen: Vec<u64> = std::iter::from_fn(|| rec.events.try_recv().ok())
        .map(|e| e.index())
        .collect();
    // Hidden keys and refreshes are not sent.
    assert_eq!(seen, vec![2, 4]);
    assert!(plain.events.try_recv().is_err());
    assert_eq!(f.store.watcher_count(), 2);
    drop(plain);
    assert_eq!(f.store.watcher_count(), 1);
    // Deleting the directory reaches a watcher of a key inside it.
    let mut inner = f.store.watch("/d/x", false, false, 0).unwrap();
    f.apply(V2Request {
        method: "DELETE".into(),
        path: "/d".into(),
        recursive: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(inner.events.try_recv().unwrap().action, "delete");
}

#[test]
fn expiry_happens_at_the_sweeps_time_in_expiration_order() {
    let f = Fixture::new();
    let ttl = |path: &str, secs: i64| V2Request {
        expiration: T0 + secs * SEC,
        ..put(path, "v")
    };
    f.apply(ttl("/b", 2)).unwrap();
    f.apply(ttl("/a", 2)).unwrap();
    f.apply(ttl("/c", 1)).unwrap();
    f.apply(V2Request {
        dir: true,
        ..ttl("/dir", 3)
    })
    .unwrap();
    f.apply(ttl("/dir/inner", 100)).unwrap();
    f.apply(ttl("/later", 60)).unwrap();
    let mut w = f.store.watch("/", true, true, 0).unwrap();
    let sync = |at: i64| V2Request {
        method: "SYNC".into(),
        time: T0 + at * SEC,
        ..Default::default()
    };
    f.apply(sync(0)).unwrap();
    assert!(w.events.try_recv().is_err(), "nothing is due yet");
    f.apply(sync(5)).unwrap();
    let expired: Vec<(String, u64)> = std::iter::from_fn(|| w.events.try_recv().ok())
        .map(|e| {
            assert_eq!(e.action, "expire");
            (e.node.key.clone(), e.index())
        })
        .collect();
    let keys: Vec<&str> = expired.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["/c", "/a", "/b", "/dir"]);
    assert_eq!(expired[0].1, 7);
    assert_eq!(f.store.next_expiration(), Some(T0 + 60 * SEC));
    assert!(f.store.stats.to_json(0).contains("\"expireCount\":4"));
    assert_eq!(f.reopened().next_expiration(), Some(T0 + 60 * SEC));
}

#[test]
fn membership_changes_take_indexes_as_in_etcd() {
    let f = Fixture::new();
    let mut batch = WriteBatch::default();
    // Three members added, each publishing; the first publish also records the
    // cluster version.
    for _ in 0..3 {
        f.store
            .bump(&f.engine, &mut batch, &[Counter::Create], false);
    }
    for _ in 0..3 {
        f.store.bump(&f.engine, &mut batch, &[Counter::Set], true);
    }
    f.engine.write(batch).unwrap();
    assert_eq!(f.store.index(), 7);
    assert_eq!(f.reopened().index(), 7);
    // Membership indexes are invisible to key watchers.
    let mut w = f.store.watch("/", true, false, 1).unwrap();
    assert!(w.events.try_recv().is_err());
    assert_eq!(f.put("/k", "v").unwrap().index(), 8);
}

#[test]
fn auth_records_take_indexes_but_are_not_keys() {
    let f = Fixture::new();
    let auth = |path: &str, dir: bool, value: &str| V2Request {
        dir,
        prev_exist: 1,
        auth: true,
        // Auth records never expire, whatever a command says.
        expiration: T0 + SEC,
        ..put(path, value)
    };
    let mut all = f.store.watch("/", true, true, 0).unwrap();
    let mut two = f.store.watch("/2", true, true, 0).unwrap();
    assert_eq!(f.apply(auth("/2", true, "")).unwrap().index(), 1);
    assert_eq!(f.apply(auth("/2/users", true, "")).unwrap().index(), 2);
    let e = f.apply(auth("/2/users/u", false, "{}")).unwrap();
    assert_eq!((e.action, e.index()), ("create", 3));
    // A refused write takes no index.
    let err = f.apply(auth("/2/users/u", false, "{}")).unwrap_err();
    assert_eq!((err.code, err.index), (code::NODE_EXIST, 3));
    assert_eq!(f.store.next_expiration(), None);
    assert!(all.events.try_recv().is_err() && two.events.try_recv().is_err());

    // Records are read apart from the keys, which do not show them.
    let users = f.store.get_auth("/2/users").unwrap();
    assert_eq!(users.node.nodes.len(), 1);
    assert_eq!(
        f.store.get_auth("/2/users/u").unwrap().node.value,
        Some(b"{}".to_vec())
    );
    assert!(f.store.has_auth("/2"));
    assert_eq!(
        f.store.get("/2", false, T0).unwrap_err().code,
        code::KEY_NOT_FOUND
    );
    assert_eq!(
        get_json(&f.store, "/"),
        "{\"action\":\"get\",\"node\":{\"dir\":true}}\n"
    );

    // A key at the same path is a different node.
    assert_eq!(f.put("/2/users/u", "key").unwrap().index(), 4);
    assert_eq!(two.events.try_recv().unwrap().index(), 4);
    assert_eq!(
        f.store.get_auth("/2/users/u").unwrap().node.value,
        Some(b"{}".to_vec())
    );
    // A watch from before the records skips them in the history.
    let mut from = f.store.watch("/", true, false, 1).unwrap();
    assert_eq!(from.events.try_recv().unwrap().index(), 4);

    let again = f.reopened();
    assert_eq!(again.index(), 4);
    assert_eq!(
        again.get_auth("/2/users/u").unwrap().node.value,
        Some(b"{}".to_vec())
    );
    assert_eq!(again.get("/2/users/u", false, T0).unwrap().1, 4);
    let e = f
        .apply(V2Request {
            method: "DELETE".into(),
            path: "/2/users/u".into(),
            auth: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((e.action, e.index()), ("delete", 5));
    assert!(!f.reopened().has_auth("/2/users/u"));
    assert_eq!(
        f.reopened()
            .get("/2/users/u", false, T0)
            .unwrap()
            .0
            .node
            .value,
        Some(b"key".to_vec())
    );
}
