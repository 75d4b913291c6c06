use rocksdb::WriteBatch;

use super::*;
use crate::engine::Engine;

/// key, value, create_revision, mod_revision, version.
type Row = (String, String, i64, i64, i64);

struct T {
    _dir: tempfile::TempDir,
    store: Store,
}

fn open() -> T {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Engine::open(dir.path()).unwrap());
    T { _dir: dir, store }
}

impl T {
    fn write(&self, f: impl FnOnce(&mut WriteTxn<'_>)) -> i64 {
        let mut batch = WriteBatch::default();
        let mut txn = self.store.write_txn(&mut batch);
        f(&mut txn);
        let (rev, _) = txn.finish();
        self.store.commit(batch, rev, self.store.compact_rev());
        rev
    }

    fn put(&self, k: &str, v: &str) -> i64 {
        self.write(|t| {
            t.put(k.as_bytes(), v.as_bytes().to_vec(), 0);
        })
    }

    fn del(&self, k: &str, end: RangeEnd<'_>) -> i64 {
        self.write(|t| {
            t.delete_range(k.as_bytes(), end);
        })
    }

    fn get(&self, k: &str, end: RangeEnd<'_>, rev: i64) -> Result<Vec<Row>, MvccError> {
        let view = self.store.read_view();
        let rr = view.range(
            k.as_bytes(),
            end,
            RangeOptions {
                rev,
                ..Default::default()
            },
        )?;
        Ok(rr
            .kvs
            .into_iter()
            .map(|kv| {
                (
                    String::from_utf8(kv.key).unwrap(),
                    String::from_utf8(kv.value).unwrap(),
                    kv.create_revision,
                    kv.mod_revision,
                    kv.version,
                )
            })
            .collect())
    }

    fn compact(&self, rev: i64) {
        self.store.check_compact(rev).unwrap();
        self.store
            .commit(WriteBatch::default(), self.store.current_rev(), rev);
        self.store.compact_physically(rev, 1000);
    }
}

fn kv(k: &str, v: &str, c: i64, m: i64, ver: i64) -> Row {
    (k.into(), v.into(), c, m, ver)
}

#[test]
fn revisions_versions_and_generations() {
    let t = open();
    assert_eq!(t.store.current_rev(), 1);
    assert_eq!(t.put("a", "1"), 2);
    assert_eq!(t.put("a", "2"), 3);
    assert_eq!(
        t.get("a", RangeEnd::Single, 0).unwrap(),
        vec![kv("a", "2", 2, 3, 2)]
    );
    assert_eq!(t.del("a", RangeEnd::Single), 4);
    assert_eq!(t.get("a", RangeEnd::Single, 0).unwrap(), vec![]);
    // Deleting nothing makes no revision.
    assert_eq!(t.del("a", RangeEnd::Single), 4);
    // A new generation starts over.
    assert_eq!(t.put("a", "3"), 5);
    assert_eq!(
        t.get("a", RangeEnd::Single, 0).unwrap(),
        vec![kv("a", "3", 5, 5, 1)]
    );
    // History.
    assert_eq!(
        t.get("a", RangeEnd::Single, 2).unwrap(),
        vec![kv("a", "1", 2, 2, 1)]
    );
    assert_eq!(t.get("a", RangeEnd::Single, 4).unwrap(), vec![]);
    assert_eq!(t.get("a", RangeEnd::Single, 6), Err(MvccError::FutureRev));
}

#[test]
fn sub_revisions_within_one_txn() {
    let t = open();
    let rev = t.write(|txn| {
        txn.put(b"x", b"1".to_vec(), 0);
        txn.put(b"y", b"1".to_vec(), 0);
        // The txn's own reads see its writes.
        let rr = txn
            .range(b"x", RangeEnd::Unbounded, RangeOptions::default())
            .unwrap();
        assert_eq!(rr.count, 2);
        assert_eq!(rr.rev, 2);
        let deleted = txn.delete_range(b"x", RangeEnd::Single);
        assert_eq!(deleted.len(), 1);
        assert_eq!(txn.changes().len(), 3);
    });
    assert_eq!(rev, 2);
    assert_eq!(
        t.get("x", RangeEnd::Unbounded, 0).unwrap(),
        vec![kv("y", "1", 2, 2, 1)]
    );
}

#[test]
fn ranges_with_zero_and_ff_bytes() {
    let t = open();
    for k in ["a", "a\0", "a\0b", "ab", "b", "\u{7f}"] {
        t.put(k, "v");
    }
    let keys =
        |r: Vec<(String, String, i64, i64, i64)>| r.into_iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(
        keys(t.get("a", RangeEnd::Before(b"b"), 0).unwrap()),
        vec!["a", "a\0", "a\0b", "ab"]
    );
    assert_eq!(
        keys(t.get("a\0", RangeEnd::Before(b"a\x01"), 0).unwrap()),
        vec!["a\0", "a\0b"]
    );
    assert_eq!(
        keys(t.get("b", RangeEnd::Unbounded, 0).unwrap()),
        vec!["b", "\u{7f}"]
    );
    assert_eq!(
        keys(t.get("b", RangeEnd::Before(b"a"), 0).unwrap()),
        Vec::<String>::new()
    );
}

#[test]
fn limit_and_count() {
    let t = open();
    for i in 0..10 {
        t.put(&format!("k{i}"), "v");
    }
    t.del("k3", RangeEnd::Single);
    let view = t.store.read_view();
    let rr = view
        .range(
            b"k",
            RangeEnd::Before(b"l"),
            RangeOptions {
                limit: 4,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(rr.count, 9);
    assert_eq!(rr.kvs.len(), 4);
    assert_eq!(rr.kvs[3].key, b"k4");
    let rr = view
        .range(
            b"k",
            RangeEnd::Before(b"l"),
            RangeOptions {
                count_only: true,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((rr.count, rr.kvs.len()), (9, 0));
}

#[test]
fn compaction_keeps_latest_live_versions_only() {
    let t = open();
    t.put("a", "1"); // 2
    t.put("a", "2"); // 3
    t.put("b", "1"); // 4
    t.del("b", RangeEnd::Single); // 5
    t.put("c", "1"); // 6
    t.put("a", "3"); // 7
    t.compact(5);
    assert_eq!(t.store.compact_rev(), 5);
    assert_eq!(t.get("a", RangeEnd::Single, 4), Err(MvccError::Compacted));
    // At the compact revision itself, the state is intact.
    assert_eq!(
        t.get("a", RangeEnd::Unbounded, 5).unwrap(),
        vec![kv("a", "2", 2, 3, 2)]
    );
    assert_eq!(
        t.get("a", RangeEnd::Unbounded, 6).unwrap(),
        vec![kv("a", "2", 2, 3, 2), kv("c", "1", 6, 6, 1)]
    );
    assert_eq!(
        t.get("a", RangeEnd::Single, 0).unwrap(),
        vec![kv("a", "3", 2, 7, 3)]
    );
    assert_eq!(t.store.check_compact(5), Err(MvccError::Compacted));
    assert_eq!(t.store.check_compact(8), Err(MvccError::FutureRev));
    // Versions removed from disk: a(2), b(4), b tombstone(5); kept a(3), c(6), a(7).
    let db = t.store.engine().db();
    let n = db
        .iterator_cf(
            t.store.engine().cf(crate::engine::Cf::Kv),
            rocksdb::IteratorMode::Start,
        )
        .count();
    assert_eq!(n, 3);
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(Engine::open(dir.path()).unwrap());
        let mut batch = WriteBatch::default();
        let mut txn = store.write_txn(&mut batch);
        txn.put(b"k", b"v".to_vec(), 0);
        let (rev, _) = txn.finish();
        store.commit(batch, rev, store.compact_rev());
        store.engine().flush().unwrap();
    }
    let store = Store::open(Engine::open(dir.path()).unwrap());
    assert_eq!(store.current_rev(), 2);
    let rr = store
        .read_view()
        .range(b"k", RangeEnd::Single, RangeOptions::default())
        .unwrap();
    assert_eq!(rr.kvs[0].value, b"v");
}

#[test]
fn ranges_over_keys_with_few_and_many_versions() {
    // Version counts around the scan's step limit, so that both stepping over a
    // key's older versions and seeking past them are exercised; some keys end
    // deleted, and the reads go to the current revision and to older ones.
    let t = open();
    let versions = [1usize, 7, 8, 9, 30, 2];
    let mut history: Vec<(i64, Vec<Row>)> = Vec::new();
    let mut live: std::collections::BTreeMap<String, Row> = Default::default();
    for round in 0..30 {
        for (i, n) in versions.iter().enumerate() {
            if round >= *n {
                continue;
            }
            let k = format!("k{i}");
            let v = format!("v{round}");
            let rev = t.put(&k, &v);
            let row = live
                .entry(k.clone())
                .or_insert((k, String::new(), rev, 0, 0));
            row.1 = v;
            row.3 = rev;
            row.4 += 1;
            history.push((rev, live.values().cloned().collect()));
        }
    }
    for k in ["k1", "k4"] {
        let rev = t.del(k, RangeEnd::Single);
        live.remove(k);
        history.push((rev, live.values().cloned().collect()));
    }
    t.put("l", "outside");
    for (rev, want) in &history {
        assert_eq!(
            &t.get("k", RangeEnd::Before(b"l"), *rev).unwrap(),
            want,
            "at {rev}"
        );
        let count = t
            .store
            .read_view()
            .range(
                b"k",
                RangeEnd::Before(b"l"),
                RangeOptions {
                    rev: *rev,
                    count_only: true,
                    ..Default::default()
                },
            )
            .unwrap()
            .count;
        assert_eq!(count, want.len(), "count at {rev}");
    }
    let now: Vec<Row> = live.values().cloned().collect();
    assert_eq!(t.get("k", RangeEnd::Before(b"l"), 0).unwrap(), now);
    assert_eq!(
        t.get("k", RangeEnd::Unbounded, 0).unwrap().len(),
        now.len() + 1
    );
}

#[test]
fn staged_transactions_match_transactions_committed_one_by_one() {
    // The same pseudo-random sequence of transactions goes to two stores: one
    // commits each on its own, the other stages them in runs of varying length.
    // Every transaction must see the same state (its changes carry the versions
    // it replaced, its reads what it read) and both stores must end up alike.
    let one = open();
    let staged_store = open();
    let mut stage = Staged::default();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut run_left = 0;
    for step in 0..600 {
        let ops: Vec<(u64, String, String)> = (0..1 + rand(3))
            .map(|_| {
                let k = format!("k{:02}", rand(24));
                let e = format!("k{:02}", rand(24));
                (rand(10), k, e)
            })
            .collect();
        // Runs the ops in `txn`; false means the transaction fails and is dropped.
        let run = |txn: &mut WriteTxn<'_>| -> (bool, Vec<Row>) {
            let mut read = Vec::new();
            for (op, k, e) in &ops {
                match op {
                    0..=4 => txn.put(k.as_bytes(), format!("v{step}").into_bytes(), 0),
                    5 => {
                        txn.delete_range(k.as_bytes(), RangeEnd::Single);
                    }
                    6 => {
                        txn.delete_range(k.as_bytes(), RangeEnd::Before(e.as_bytes()));
                    }
                    7 | 8 => {
                        let rr = txn
                            .range(k.as_bytes(), RangeEnd::Unbounded, RangeOptions::default())
                            .unwrap();
                        read.extend(rr.kvs.into_iter().map(|kv| {
                            (
                                String::from_utf8(kv.key).unwrap(),
                                String::from_utf8(kv.value).unwrap(),
                                kv.create_revision,
                                kv.mod_revision,
                                kv.version,
                            )
                        }));
                        read.push((String::new(), String::new(), 0, txn.rev(), 0));
                    }
                    _ => return (false, read),
                }
            }
            (true, read)
        };

        let mut batch = WriteBatch::default();
        let mut txn = one.store.write_txn(&mut batch);
        let (ok, read_one) = run(&mut txn);
        let done_one = ok.then(|| txn.finish());
        if let Some((rev, _)) = &done_one {
            one.store.commit(batch, *rev, one.store.compact_rev());
        }

        let mut txn = stage.txn(&staged_store.store);
        let (ok_staged, read_staged) = run(&mut txn);
        assert_eq!(ok, ok_staged);
        assert_eq!(read_one, read_staged, "reads of step {step}");
        if let Some(done) = ok.then(|| txn.finish_with_writes()) {
            let (rev, changes, written) = done;
            assert_eq!(
                done_one.as_ref().map(|d| (d.0, &d.1)),
                Some((rev, &changes)),
                "step {step}"
            );
            stage.absorb(rev, written);
        }

        if run_left == 0 {
            run_left = rand(12);
            let (batch, rev) = stage.take();
            let rev = rev.unwrap_or_else(|| staged_store.store.current_rev());
            staged_store
                .store
                .commit(batch, rev, staged_store.store.compact_rev());
            assert_eq!(staged_store.store.current_rev(), one.store.current_rev());
            assert_eq!(
                staged_store.get("k", RangeEnd::Unbounded, 0).unwrap(),
                one.get("k", RangeEnd::Unbounded, 0).unwrap(),
                "after step {step}"
            );
        } else {
            run_left -= 1;
        }
    }
    let (batch, rev) = stage.take();
    let rev = rev.unwrap_or_else(|| staged_store.store.current_rev());
    staged_store
        .store
        .commit(batch, rev, staged_store.store.compact_rev());
    for rev in 1..=one.store.current_rev() {
        assert_eq!(
            staged_store.get("k", RangeEnd::Unbounded, rev).unwrap(),
            one.get("k", RangeEnd::Unbounded, rev).unwrap(),
            "history at {rev}"
        );
    }
}
