use std::time::Duration;

use ectd_proto::etcdserverpb::WatchCreateRequest;
use rocksdb::WriteBatch;

use super::*;
use crate::engine::Engine;

struct T {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    hub: Arc<Hub>,
}

fn open() -> T {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(Engine::open(dir.path()).unwrap()));
    let headers = Headers {
        cluster_id: 1,
        member_id: 2,
        status: Arc::default(),
    };
    let hub = Hub::new(store.clone(), headers, 1 << 20);
    T {
        _dir: dir,
        store,
        hub,
    }
}

impl T {
    /// Writes one revision the way apply does, and tells the hub.
    fn write(&self, ops: &[(&str, Option<&str>)]) -> i64 {
        let mut batch = WriteBatch::default();
        let mut txn = self.store.write_txn(&mut batch);
        for (k, v) in ops {
            match v {
                Some(v) => {
                    txn.put(k.as_bytes(), v.as_bytes().to_vec(), 0);
                }
                None => {
                    txn.delete_range(k.as_bytes(), crate::mvcc::RangeEnd::Single);
                }
            }
        }
        let (rev, changes) = txn.finish();
        self.store.commit(batch, rev, self.store.compact_rev());
        self.hub.notify(rev, &changes);
        rev
    }
}

fn create(key: &str, end: &str, start: i64, prev_kv: bool) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
        start_revision: start,
        prev_kv,
        ..Default::default()
    }
}

async fn next(s: &WatchStream) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("a response within 5s")
        .expect("stream open")
}

/// (revision, key, value or None for a delete) of every event of `r`.
fn evs(r: &WatchResponse) -> Vec<(i64, String, Option<String>)> {
    r.events
        .iter()
        .map(|e| {
            let kv = e.kv.as_ref().unwrap();
            let key = String::from_utf8(kv.key.clone()).unwrap();
            let v = (e.r#type == EventType::Put as i32)
                .then(|| String::from_utf8(kv.value.clone()).unwrap());
            (kv.mod_revision, key, v)
        })
        .collect()
}

#[tokio::test]
async fn synced_watcher_gets_each_revision_whole_and_in_order() {
    let t = open();
    let s = t.hub.open_stream();
    s.create(&create("a", "b", 0, false));
    let created = next(&s).await;
    assert!(created.created);
    assert_eq!(created.watch_id, 0);
    assert_eq!(created.header.unwrap().revision, 1);
    t.write(&[("a1", Some("x")), ("zz", Some("no")), ("a2", Some("y"))]);
    t.write(&[("a1", None)]);
    let r = next(&s).await;
    assert_eq!(
        evs(&r),
        vec![
            (2, "a1".into(), Some("x".into())),
            (2, "a2".into(), Some("y".into()))
        ]
    );
    assert_eq!(r.header.unwrap().revision, 2);
    assert_eq!(evs(&next(&s).await), vec![(3, "a1".into(), None)]);
}

#[tokio::test]
async fn history_replay_then_live_with_prev_kv() {
    let t = open();
    t.write(&[("k", Some("1"))]);
    t.write(&[("k", Some("2"))]);
    t.write(&[("k", None)]);
    let s = t.hub.open_stream();
    s.create(&create("k", "", 3, true));
    assert!(next(&s).await.created);
    let r = next(&s).await;
    assert_eq!(
        evs(&r),
        vec![(3, "k".into(), Some("2".into())), (4, "k".into(), None)]
    );
    assert_eq!(r.events[0].prev_kv.as_ref().unwrap().value, b"1");
    assert_eq!(r.events[1].prev_kv.as_ref().unwrap().value, b"2");
    // Live again: the next change arrives through the hub.
    tokio::time::sleep(Duration::from_millis(50)).await;
    t.write(&[("k", Some("3"))]);
    let r = next(&s).await;
    assert_eq!(evs(&r), vec![(5, "k".into(), Some("3".into()))]);
    assert!(
        r.events[0].prev_kv.is_none(),
        "a create has no previous version"
    );
}

#[tokio::test]
async fn slow_stream_falls_behind_and_catches_up_without_loss() {
    let t = open();
    let slow = t.hub.open_stream();
    let fast = t.hub.open_stream();
    slow.create(&create("k", "", 0, false));
    fast.create(&create("k", "", 0, false));
    assert!(next(&slow).await.created);
    assert!(next(&fast).await.created);
    let mut fast_seen = Vec::new();
    for i in 0..3000 {
        t.write(&[("k", Some(&i.to_string()))]);
        while let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(0), fast.next()).await {
            fast_seen.extend(evs(&r));
        }
    }
    while fast_seen.len() < 3000 {
        fast_seen.extend(evs(&next(&fast).await));
    }
    // The slow stream was never read while writing: at most one outbox queued.
    let mut slow_seen = Vec::new();
    while slow_seen.len() < 3000 {
        slow_seen.extend(evs(&next(&slow).await));
    }
    let want: Vec<_> = (0..3000)
        .map(|i| (i as i64 + 2, "k".to_string(), Some(i.to_string())))
        .collect();
    assert_eq!(fast_seen, want);
    assert_eq!(slow_seen, want);
    assert_eq!(t.hub.synced_count(), 2, "both end up synced again");
}

#[tokio::test]
async fn compacted_start_is_cancelled_with_the_compact_revision() {
    let t = open();
    for i in 0..5 {
        t.write(&[("k", Some(&i.to_string()))]);
    }
    t.store
        .commit(WriteBatch::default(), t.store.current_rev(), 4);
    t.store.compact_physically(4, 1000);
    let s = t.hub.open_stream();
    s.create(&create("k", "", 2, false));
    assert!(next(&s).await.created);
    let r = next(&s).await;
    assert!(r.canceled);
    assert_eq!(r.compact_revision, 4);
    assert_eq!(r.watch_id, 0);
}

#[tokio::test]
async fn ids_filters_cancel_and_progress() {
    let t = open();
    let s = t.hub.open_stream();
    s.create(&WatchCreateRequest {
        watch_id: 7,
        key: b"k".to_vec(),
        filters: vec![FilterType::Nodelete as i32],
        ..Default::default()
    });
    assert_eq!(next(&s).await.watch_id, 7);
    s.create(&WatchCreateRequest {
        watch_id: 7,
        key: b"k".to_vec(),
        ..Default::default()
    });
    let dup = next(&s).await;
    assert!(dup.created && dup.canceled && dup.watch_id == -1);
    assert_eq!(dup.cancel_reason, DUP_REASON);
    s.create(&create("b", "a", 0, false));
    let empty = next(&s).await;
    assert_eq!(empty.cancel_reason, "mvcc: watcher range is empty");
    t.write(&[("k", Some("v"))]);
    t.write(&[("k", None)]);
    t.write(&[("k", Some("w"))]);
    assert_eq!(
        evs(&next(&s).await),
        vec![(2, "k".into(), Some("v".into()))]
    );
    assert_eq!(
        evs(&next(&s).await),
        vec![(4, "k".into(), Some("w".into()))]
    );
    s.request_progress();
    let p = next(&s).await;
    assert_eq!((p.watch_id, p.header.unwrap().revision), (-1, 4));
    s.cancel(7);
    let c = next(&s).await;
    assert!(c.canceled && c.watch_id == 7);
    t.write(&[("k", Some("x"))]);
    s.request_progress();
    let p = next(&s).await;
    assert!(
        p.events.is_empty() && p.watch_id == -1,
        "no event after cancel"
    );
}

const DUP_REASON: &str = "mvcc: duplicate watch ID provided on the WatchStream";

/// A catch-up whose next response cannot fit beside what is already queued must wait
/// for the client to read rather than retry at once: retrying in a loop that never
/// yielded froze every other task on the runtime (here, the reader itself).
#[test]
fn catch_up_waits_for_room_for_a_large_response() {
    let (done, finished) = std::sync::mpsc::channel();
    let run = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let t = open();
            let big = "x".repeat(5 << 19);
            // 2.5 MiB in one revision, then 7.5 MiB in the next: the first round sends
            // the first alone; the second does not fit beside it.
            let first = t.write(&[("a", Some(&big))]);
            let second = t.write(&[("b", Some(&big)), ("c", Some(&big)), ("d", Some(&big))]);
            let s = t.hub.open_stream();
            s.create(&create("a", "e", first, false));
            assert!(next(&s).await.created);
            let mut got = Vec::new();
            while got.len() < 4 {
                got.extend(evs(&next(&s).await).into_iter().map(|(r, k, _)| (r, k)));
            }
            let want = [(first, "a"), (second, "b"), (second, "c"), (second, "d")];
            let want: Vec<_> = want.iter().map(|(r, k)| (*r, k.to_string())).collect();
            assert_eq!(got, want);
        });
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => run.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(run.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the catch-up never let the reader run")
        }
    }
}

/// Watchers sharing a range are matched together but each gets its own response;
/// cancelling one leaves the others (and the single-key and other-range ones) intact.
#[tokio::test]
async fn watchers_sharing_a_range_each_get_the_change() {
    let t = open();
    let a = t.hub.open_stream();
    let b = t.hub.open_stream();
    for _ in 0..3 {
        a.create(&create("a", "c", 0, false));
    }
    a.create(&create("b", "", 0, false));
    a.create(&create("x", "z", 0, false));
    b.create(&create("a", "c", 0, true));
    let mut ids = Vec::new();
    for _ in 0..5 {
        let r = next(&a).await;
        assert!(r.created);
        ids.push(r.watch_id);
    }
    assert!(next(&b).await.created);
    a.cancel(ids[1]);
    assert!(next(&a).await.canceled);
    assert_eq!(t.hub.synced_count(), 5);

    let first = t.write(&[("b", Some("1"))]);
    let second = t.write(&[("b", Some("2")), ("y", Some("3"))]);
    let mut got = Vec::new();
    for _ in 0..3 {
        let r = next(&a).await;
        got.push((r.watch_id, evs(&r)));
    }
    for _ in 0..4 {
        let r = next(&a).await;
        got.push((r.watch_id, evs(&r)));
    }
    got.sort();
    let b1 = (first, "b".to_string(), Some("1".to_string()));
    let b2 = (second, "b".to_string(), Some("2".to_string()));
    let y = (second, "y".to_string(), Some("3".to_string()));
    let mut want = vec![
        (ids[0], vec![b1.clone()]),
        (ids[0], vec![b2.clone()]),
        (ids[2], vec![b1.clone()]),
        (ids[2], vec![b2.clone()]),
        (ids[3], vec![b1.clone()]),
        (ids[3], vec![b2.clone()]),
        (ids[4], vec![y]),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), a.next())
            .await
            .is_err(),
        "nothing more for stream a"
    );
    let r = next(&b).await;
    assert_eq!(evs(&r), vec![b1]);
    let r = next(&b).await;
    assert_eq!(evs(&r), vec![b2]);
    assert_eq!(
        r.events[0].prev_kv.as_ref().map(|kv| kv.value.clone()),
        Some(b"1".to_vec()),
        "prev_kv only for the watcher that asked for it"
    );
}

/// Watchers of one range with different shapes (filters, previous versions,
/// fragmenting) are each sent their own selection of a revision, though the
/// events of watchers of the same shape are encoded once and shared.
#[tokio::test]
async fn one_range_many_shapes_each_get_their_own_events() {
    use ectd_proto::etcdserverpb::watch_create_request::FilterType;
    let t = open();
    t.write(&[("a", Some("old"))]);
    let s = t.hub.open_stream();
    let mut plain = create("a", "c", 0, false);
    let with_prev = create("a", "c", 0, true);
    let mut no_put = create("a", "c", 0, true);
    no_put.filters = vec![FilterType::Noput as i32];
    let mut no_delete = create("a", "c", 0, false);
    no_delete.filters = vec![FilterType::Nodelete as i32];
    plain.watch_id = 10;
    let mut twin = plain.clone();
    twin.watch_id = 11;
    let mut fragmented = create("a", "c", 0, false);
    fragmented.fragment = true;
    fragmented.watch_id = 20;
    for (id, c) in [(1, with_prev), (2, no_put), (3, no_delete)]
        .into_iter()
        .map(|(id, mut c)| {
            c.watch_id = id;
            (id, c)
        })
        .chain([(10, plain), (11, twin), (20, fragmented)])
    {
        s.create(&c);
        assert_eq!(next(&s).await.watch_id, id);
    }
    let big = "v".repeat(600 << 10);
    let rev = t.write(&[("a", None), ("b", Some(&big)), ("b2", Some(&big))]);
    let mut got = std::collections::BTreeMap::new();
    let mut fragments = Vec::new();
    while got.len() < 6 {
        let r = next(&s).await;
        assert_eq!(r.header.unwrap().revision, rev);
        if r.watch_id == 20 {
            fragments.push(r.fragment);
            let e: &mut Vec<_> = got.entry(20).or_default();
            e.extend(r.events.clone());
            if r.fragment {
                continue;
            }
        } else {
            assert!(!r.fragment, "only the watcher that asked is fragmented");
            got.insert(r.watch_id, r.events.clone());
        }
    }
    let keys = |id: i64| -> Vec<(String, bool, bool)> {
        got[&id]
            .iter()
            .map(|e| {
                let kv = e.kv.as_ref().unwrap();
                (
                    String::from_utf8(kv.key.clone()).unwrap(),
                    e.r#type == EventType::Put as i32,
                    e.prev_kv.is_some(),
                )
            })
            .collect()
    };
    let all = vec![
        ("a".to_string(), false, false),
        ("b".to_string(), true, false),
        ("b2".to_string(), true, false),
    ];
    assert_eq!(keys(10), all);
    assert_eq!(keys(11), all);
    assert_eq!(keys(20), all);
    // 1.2 MB in fragments of at most 1 MB: the delete and the first put, then
    // the second put.
    assert_eq!(fragments, [true, false]);
    assert_eq!(
        keys(1),
        vec![
            ("a".to_string(), false, true),
            all[1].clone(),
            all[2].clone()
        ]
    );
    assert_eq!(keys(2), vec![("a".to_string(), false, true)]);
    assert_eq!(keys(3), all[1..].to_vec());
    assert_eq!(got[&1][0].prev_kv.as_ref().unwrap().value, b"old");
}
