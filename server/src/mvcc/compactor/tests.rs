use std::time::Duration;

use rocksdb::WriteBatch;

use super::*;
use crate::engine::Cf;
use crate::mvcc::compaction::{self, Progress};
use crate::mvcc::{CompactionHash, KvRead as _, RangeEnd, RangeOptions, Revision, Store};

fn open(dir: &std::path::Path) -> Store {
    Store::open(Engine::open(dir).unwrap())
}

/// Writes `n` revisions over keys `k0`..`k4`: mostly puts, every seventh a
/// delete, so keys die and come back.
fn write_history(store: &Store, n: usize) {
    for i in 0..n {
        let mut batch = WriteBatch::default();
        let mut txn = store.write_txn(&mut batch);
        let key = format!("k{}", i % 5);
        if i % 7 == 6 {
            txn.delete_range(key.as_bytes(), RangeEnd::Single);
        } else {
            txn.put(key.as_bytes(), format!("v{i}").into_bytes(), 0);
        }
        let (rev, _) = txn.finish();
        store.commit(batch, rev, store.compact_rev());
    }
}

/// key, value, create revision, mod revision, version.
type Row = (Vec<u8>, Vec<u8>, i64, i64, i64);

/// Every key-value at `rev`, as a read sees it.
fn read_all(store: &Store, rev: i64) -> Vec<Row> {
    store
        .read_view()
        .range(
            b"\0",
            RangeEnd::Unbounded,
            RangeOptions {
                rev,
                ..Default::default()
            },
        )
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| {
            (
                kv.key,
                kv.value,
                kv.create_revision,
                kv.mod_revision,
                kv.version,
            )
        })
        .collect()
}

/// Records the compaction at `rev` as applying it does: the compact revision only.
fn compact_logically(store: &Store, rev: i64) {
    store.check_compact(rev).unwrap();
    store.commit(WriteBatch::default(), store.current_rev(), rev);
}

fn count(store: &Store, cf: Cf) -> usize {
    let e = store.engine();
    let mut it = e.db().raw_iterator_cf(e.cf(cf));
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    n
}

#[test]
fn batches_are_bounded_and_reads_from_the_compact_revision_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write_history(&store, 300);
    let current = store.current_rev();
    let at = 200;
    let reads: Vec<_> = (at..=current).map(|r| (r, read_all(&store, r))).collect();
    compact_logically(&store, at);
    let (hash, compact_rev, _) = store.hash_kv(0).unwrap();
    assert_eq!(compact_rev, at);
    assert_eq!(compaction::pending(store.engine()), Some(at));

    let mut from = compaction::resume_point(store.engine(), at);
    assert_eq!(from.next, Revision { main: 0, sub: 0 });
    let mut batches = 0;
    let mut removed = 0;
    loop {
        let out = compaction::compact_batch(store.engine(), from, 7);
        batches += 1;
        removed += out.removed;
        assert!(out.examined <= 7, "{out:?}");
        // Between batches: every readable revision reads as before, and the kv
        // hash is the same as once the compaction is done.
        for (r, want) in &reads {
            assert_eq!(
                &read_all(&store, *r),
                want,
                "read at {r} after batch {batches}"
            );
        }
        assert_eq!(store.hash_kv(0).unwrap().0, hash, "after batch {batches}");
        match out.next {
            Some(n) => {
                assert_eq!(n.target, at);
                assert!(n.hash.is_some());
                assert_eq!(compaction::progress(store.engine()), Some(n));
                from = n;
            }
            None => break,
        }
    }
    // 200 revisions at or below the compact revision (1 is the empty store's),
    // examined 7 at a time.
    assert_eq!(batches, 199usize.div_ceil(7));
    assert_eq!(compaction::pending(store.engine()), None);
    assert_eq!(compaction::progress(store.engine()), None);
    assert_eq!(compaction::finished(store.engine()), at);
    // What is left: each key's live version at the compact revision, and
    // everything after it.
    let live_at = reads[0].1.len();
    assert_eq!(count(&store, Cf::Kv), live_at + (current - at) as usize);
    assert_eq!(count(&store, Cf::Index), count(&store, Cf::Kv));
    assert_eq!(removed, 199 - live_at);
    // Running it again finds nothing to do.
    assert_eq!(store.compact_physically(at, 7), 0);
}

#[test]
fn a_compaction_stopped_midway_resumes_where_it_stood() {
    let dir = tempfile::tempdir().unwrap();
    let reference_dir = tempfile::tempdir().unwrap();
    let at = 150;
    let reference = open(reference_dir.path());
    write_history(&reference, 250);
    compact_logically(&reference, at);
    reference.compact_physically(at, 1000);
    let want = reference.hash_kv(0).unwrap();
    let want_reads = read_all(&reference, at);
    let want_kv = count(&reference, Cf::Kv);

    let next = {
        let store = open(dir.path());
        write_history(&store, 250);
        compact_logically(&store, at);
        let mut from = compaction::resume_point(store.engine(), at);
        for _ in 0..3 {
            from = compaction::compact_batch(store.engine(), from, 10)
                .next
                .unwrap();
        }
        // What a flush made durable before the member went down.
        store.engine().flush().unwrap();
        from
    };
    let store = open(dir.path());
    assert_eq!(compaction::pending(store.engine()), Some(at));
    assert_eq!(compaction::resume_point(store.engine(), at), next);
    // A later compaction does not take up another one's progress, and records
    // no hash over its unfinished deletions.
    assert_eq!(
        compaction::resume_point(store.engine(), at + 1),
        Progress {
            target: at + 1,
            next: Revision { main: 0, sub: 0 },
            hash: None
        }
    );
    let compactor = Compactor::start(
        store.engine().clone(),
        CompactorSettings {
            batch_limit: 10,
            sleep: Duration::from_millis(1),
        },
        None,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), compactor.wait_finished(at))
            .await
            .expect("the resumed compaction finishes")
            .unwrap();
    });
    compactor.stop();
    assert_eq!(store.hash_kv(0).unwrap(), want);
    // The hash carried through the progress is the one an uninterrupted
    // compaction records.
    assert_eq!(reference.compaction_hashes().len(), 1);
    assert_eq!(store.compaction_hashes(), reference.compaction_hashes());
    assert_eq!(read_all(&store, at), want_reads);
    assert_eq!(count(&store, Cf::Kv), want_kv);
    assert_eq!(compaction::pending(store.engine()), None);
}

#[test]
fn compactions_queue_in_order_and_release_their_waiters() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write_history(&store, 400);
    let compactor = Compactor::start(
        store.engine().clone(),
        CompactorSettings {
            batch_limit: 20,
            sleep: Duration::from_millis(2),
        },
        None,
    );
    assert_eq!(compactor.finished(), -1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    compact_logically(&store, 100);
    compactor.schedule(100);
    compact_logically(&store, 300);
    compactor.schedule(300);
    // An older or equal revision never queues behind a newer one.
    compactor.schedule(300);
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), compactor.wait_finished(100))
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(20), compactor.wait_finished(300))
            .await
            .unwrap()
            .unwrap();
    });
    assert_eq!(compactor.finished(), 300);
    assert_eq!(compaction::finished(store.engine()), 300);

    // Held off, the compactor touches nothing; released, it goes on.
    write_history(&store, 50);
    let before = count(&store, Cf::Kv);
    {
        let _hold = compactor.hold();
        compact_logically(&store, 420);
        compactor.schedule(420);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(count(&store, Cf::Kv), before);
        assert_eq!(compactor.finished(), 300);
    }
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), compactor.wait_finished(420))
            .await
            .unwrap()
            .unwrap();
    });
    assert!(count(&store, Cf::Kv) < before);

    // Stopping releases anyone still waiting, with an error.
    compactor.stop();
    let waited = rt.block_on(compactor.wait_finished(10_000));
    assert!(waited.is_err());
}

#[test]
fn queue_is_bounded_by_replacing_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write_history(&store, 10);
    let compactor = Compactor::start(store.engine().clone(), CompactorSettings::default(), None);
    {
        let _hold = compactor.hold();
        for rev in 1..=(MAX_QUEUED as i64 + 20) {
            compactor.schedule(rev);
        }
        let q = compactor.shared.queue.lock().unwrap();
        assert_eq!(q.targets.len(), MAX_QUEUED);
        assert_eq!(q.targets.back(), Some(&(MAX_QUEUED as i64 + 20)));
    }
    compactor.stop();
}

#[test]
fn state_replaced_while_held_brings_its_own_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write_history(&store, 200);
    let compactor = Compactor::start(
        store.engine().clone(),
        CompactorSettings {
            batch_limit: 10,
            sleep: Duration::from_millis(1),
        },
        None,
    );
    {
        let hold = compactor.hold();
        compactor.schedule(50);
        // What installing a snapshot does: the state changes underneath (here,
        // to one recording a compaction at 120 not yet carried out).
        compact_logically(&store, 120);
        hold.reload();
        let q = compactor.shared.queue.lock().unwrap();
        assert_eq!(q.targets, [120]);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), compactor.wait_finished(120))
            .await
            .unwrap()
            .unwrap();
    });
    assert_eq!(compaction::finished(store.engine()), 120);
    compactor.stop();
}

/// Flips a bit in the value of the `kv` record at `rev`, as a failing disk would.
fn alter_history(store: &Store, rev: i64) {
    let e = store.engine();
    let key = Revision { main: rev, sub: 0 }.encode();
    let mut v = e
        .get(Cf::Kv, &key)
        .unwrap()
        .expect("a record at the revision");
    let last = v.len() - 1;
    v[last] ^= 0x01;
    let mut batch = WriteBatch::default();
    batch.put_cf(e.cf(Cf::Kv), key, v);
    e.write(batch).unwrap();
}

#[test]
fn a_compaction_records_the_hash_kv_answered_just_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write_history(&store, 300);
    assert!(store.compaction_hashes().is_empty());

    // The first compaction follows none: compact revision 0.
    let (first, crev, rev) = store.hash_kv(100).unwrap();
    assert_eq!((crev, rev), (0, 100));
    compact_logically(&store, 100);
    store.compact_physically(100, 9);
    let recorded = store.compaction_hash(100).expect("a recorded hash");
    assert_eq!(
        recorded,
        CompactionHash {
            revision: 100,
            compact_revision: 0,
            hash: first
        }
    );

    // The next one follows it, and covers what the first kept.
    let (second, crev, _) = store.hash_kv(250).unwrap();
    assert_eq!(crev, 100);
    assert_ne!(second, first);
    compact_logically(&store, 250);
    store.compact_physically(250, 7);
    assert_eq!(
        store.compaction_hashes(),
        vec![
            recorded,
            CompactionHash {
                revision: 250,
                compact_revision: 100,
                hash: second
            }
        ]
    );

    // A member that applied the compaction at 100 but has not deleted anything
    // yet answers the same hash at 250: members compare whatever their
    // compactors' progress.
    let lagging_dir = tempfile::tempdir().unwrap();
    let lagging = open(lagging_dir.path());
    write_history(&lagging, 300);
    compact_logically(&lagging, 100);
    let from = compaction::resume_point(lagging.engine(), 100);
    compaction::compact_batch(lagging.engine(), from, 13);
    assert_eq!(lagging.hash_kv(250).unwrap(), (second, 100, 250));
}

#[test]
fn changed_history_changes_the_compaction_hash() {
    /// Compacts at 60 then 150 over 200 revisions, changing the record at
    /// `altered` before the first compaction or between the two.
    fn hashes(altered: Option<(i64, bool)>) -> Vec<CompactionHash> {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        write_history(&store, 200);
        if let Some((rev, false)) = altered {
            alter_history(&store, rev);
        }
        compact_logically(&store, 60);
        store.compact_physically(60, 1000);
        if let Some((rev, true)) = altered {
            alter_history(&store, rev);
        }
        compact_logically(&store, 150);
        store.compact_physically(150, 1000);
        store.compaction_hashes()
    }
    let want = hashes(None);
    assert_eq!(want.len(), 2);
    // A version the first compaction covers.
    let got = hashes(Some((40, false)));
    assert_ne!(got[0].hash, want[0].hash);
    // A version above the first compaction that the second covers.
    let got = hashes(Some((121, false)));
    assert_eq!(got[0], want[0]);
    assert_ne!(got[1].hash, want[1].hash);
    // The version the first compaction kept of a key (k3's put at 60), changed
    // after it: the second compaction covers it too.
    let got = hashes(Some((60, true)));
    assert_eq!(got[0], want[0]);
    assert_ne!(got[1].hash, want[1].hash);
    assert_eq!(got[1].compact_revision, 60);
}

#[test]
fn a_compaction_over_unfinished_deletions_records_no_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write_history(&store, 200);
    compact_logically(&store, 80);
    let from = compaction::resume_point(store.engine(), 80);
    compaction::compact_batch(store.engine(), from, 10);
    // The compaction at 80 is left midway (a newer one replaced it, or the
    // member went down before it resumed).
    compact_logically(&store, 160);
    assert!(compaction::resume_point(store.engine(), 160).hash.is_none());
    store.compact_physically(160, 10);
    assert_eq!(compaction::finished(store.engine()), 160);
    assert!(store.compaction_hashes().is_empty());
    // The next compaction hashes again.
    write_history(&store, 20);
    let (want, _, _) = store.hash_kv(210).unwrap();
    compact_logically(&store, 210);
    store.compact_physically(210, 10);
    assert_eq!(
        store.compaction_hashes(),
        vec![CompactionHash {
            revision: 210,
            compact_revision: 160,
            hash: want
        }]
    );
}
