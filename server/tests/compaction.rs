//! Compaction over a long history: the old versions go in bounded batches in the
//! background while reads and hashes stay right, `physical: true` waits for them,
//! and a member killed between batches finishes the job after a restart with the
//! same `HashKV` as before the kill.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http_get, within, Ectd, Member};
use ectd_client::proto::etcdserverpb::{
    CompactionRequest, DefragmentRequest, DeleteRangeRequest, HashKvRequest, PutRequest,
    RangeRequest, StatusRequest,
};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{prefix_range_end, Client, ConnectOptions};

const PREFIX: &str = "c/";
/// Keys the history is written over; one more, `c/del`, is put and deleted in turn.
const KEYS: usize = 8;

async fn connect(m: &Member) -> Client {
    // A physical compaction may take longer than etcdctl's 5 s command timeout.
    let options = ConnectOptions {
        command_timeout: Duration::from_secs(120),
        ..Default::default()
    };
    within(
        10,
        "connecting to ectd",
        Client::connect_with(&[m.endpoint()], options),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to {}: {e}", m.endpoint()))
}

/// The value of an unlabelled metric, read from `/metrics`.
fn metric(m: &Member, name: &str) -> f64 {
    let (code, body) = http_get(m.client_port(), "/metrics", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
    assert_eq!(code, 200, "GET /metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

/// Versions the compactor deleted since the member started.
fn deleted(m: &Member) -> usize {
    metric(m, "etcd_debugging_mvcc_db_compaction_keys_total") as usize
}

/// Writes `n` revisions: puts over [`KEYS`] keys from `clients` concurrent
/// writers, the first of which puts and deletes `c/del` in turn (every
/// revision holds exactly one change). Returns the last revision.
async fn write_history(c: &Client, n: usize, clients: usize) -> i64 {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..clients {
        let (c, next) = (c.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            let mut del_live = false;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return last;
                }
                let rev = if w == 0 && i % 50 == 0 {
                    let rev = if del_live {
                        let r = c
                            .delete_range(DeleteRangeRequest {
                                key: b"c/del".to_vec(),
                                ..Default::default()
                            })
                            .await;
                        r.map(|r| r.header.map_or(0, |h| h.revision))
                    } else {
                        c.put(PutRequest {
                            key: b"c/del".to_vec(),
                            value: format!("d{i}").into_bytes(),
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.header.map_or(0, |h| h.revision))
                    };
                    del_live = !del_live;
                    rev
                } else {
                    c.put(PutRequest {
                        key: format!("{PREFIX}k{}", i % KEYS).into_bytes(),
                        value: format!("v{i}").into_bytes(),
                        ..Default::default()
                    })
                    .await
                    .map(|r| r.header.map_or(0, |h| h.revision))
                };
                last = last.max(rev.unwrap_or_else(|e| panic!("write {i}: {e}")));
            }
        }));
    }
    let mut last = 0;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    last
}

/// Every key under [`PREFIX`] at `rev`.
async fn read_at(c: &Client, rev: i64) -> Result<Vec<KeyValue>, String> {
    c.range(RangeRequest {
        key: PREFIX.as_bytes().to_vec(),
        range_end: prefix_range_end(PREFIX.as_bytes()),
        revision: rev,
        ..Default::default()
    })
    .await
    .map(|r| r.kvs)
    .map_err(|e| e.to_string())
}

async fn hash_kv(c: &Client, rev: i64) -> (u32, i64) {
    let r = c
        .maintenance()
        .hash_kv(HashKvRequest { revision: rev })
        .await
        .unwrap_or_else(|e| panic!("HashKV at {rev}: {e}"))
        .into_inner();
    (r.hash, r.compact_revision)
}

async fn compact(c: &Client, revision: i64, physical: bool) -> Result<(), String> {
    c.compact(CompactionRequest { revision, physical })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

const COMPACTED: &str = "required revision has been compacted";

/// Polls until the compactor has deleted `want` versions since start.
async fn wait_deleted(m: &Member, want: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while deleted(m) < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} versions deleted after {secs}s",
            deleted(m)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn long_history_compacts_in_batches_while_reads_and_hashes_stay_right() {
    let dir = tempfile::tempdir().unwrap();
    let m = Ectd::start(dir.path(), &[]);
    let c = connect(&m).await;

    let started = Instant::now();
    let cur = write_history(&c, 200_000, 64).await;
    println!(
        "wrote 200000 revisions (to {cur}) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let at = cur - 500;
    let probe = [at, at + 250, cur];
    let mut before = Vec::new();
    for rev in probe {
        before.push(read_at(&c, rev).await.unwrap());
    }
    let live_at = before[0].len();
    // Revisions 2..=at hold one version each; each key live at `at` keeps one.
    let want = (at - 1) as usize - live_at;

    let t = Instant::now();
    compact(&c, at, false).await.unwrap();
    let answered = t.elapsed();
    let hash = hash_kv(&c, cur).await;
    let deleted_then = deleted(&m);
    println!(
        "Compact({at}) answered in {:.1} ms; {deleted_then} of {want} versions deleted by then",
        answered.as_secs_f64() * 1000.0
    );
    assert_eq!(hash.1, at);
    assert!(
        deleted_then < want,
        "the old versions are deleted after the answer, in the background"
    );

    // While the batches run: every readable revision reads as before, below the
    // compact revision reads are refused, and the kv hash does not move.
    let mut rounds = 0;
    while deleted(&m) < want {
        for (rev, want_kvs) in probe.iter().zip(&before) {
            assert_eq!(
                &read_at(&c, *rev).await.unwrap(),
                want_kvs,
                "read at {rev} during compaction"
            );
        }
        let err = read_at(&c, at - 1).await.unwrap_err();
        assert!(err.contains(COMPACTED), "{err}");
        assert_eq!(hash_kv(&c, cur).await, hash, "HashKV during compaction");
        rounds += 1;
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "compaction did not finish"
        );
    }
    println!(
        "compaction of {want} versions finished {:.1}s after the answer; {rounds} rounds of checks ran meanwhile",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(deleted(&m), want);
    for (rev, want_kvs) in probe.iter().zip(&before) {
        assert_eq!(&read_at(&c, *rev).await.unwrap(), want_kvs, "read at {rev}");
    }
    assert_eq!(hash_kv(&c, cur).await, hash, "HashKV after compaction");

    // Sizes: Status and /metrics report the same figures; defragmenting is online.
    let status = c
        .maintenance()
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    println!(
        "Status: dbSize {} dbSizeInUse {}",
        status.db_size, status.db_size_in_use
    );
    assert!(status.db_size > 0);
    assert!(status.db_size_in_use > 0 && status.db_size_in_use <= status.db_size);
    let total = metric(&m, "etcd_mvcc_db_total_size_in_bytes") as i64;
    let debugging = metric(&m, "etcd_debugging_mvcc_db_total_size_in_bytes") as i64;
    assert_eq!(total, debugging);
    assert!(
        (total - status.db_size).abs() <= status.db_size / 10,
        "metrics {total} vs Status {}",
        status.db_size
    );
    let in_use = metric(&m, "etcd_mvcc_db_total_size_in_use_in_bytes") as i64;
    assert!(in_use > 0 && in_use <= total);
    let t = Instant::now();
    let defrag = {
        let c = c.clone();
        tokio::spawn(async move { c.maintenance().defragment(DefragmentRequest {}).await })
    };
    // Writes and reads are served while it runs.
    for i in 0..20 {
        c.put(PutRequest {
            key: format!("{PREFIX}during-defrag").into_bytes(),
            value: format!("{i}").into_bytes(),
            ..Default::default()
        })
        .await
        .unwrap();
        read_at(&c, 0).await.unwrap();
    }
    let resp = defrag.await.unwrap().unwrap().into_inner();
    assert!(
        resp.header.is_none(),
        "etcd answers Defragment without a header"
    );
    let after = c
        .maintenance()
        .status(StatusRequest {})
        .await
        .unwrap()
        .into_inner();
    println!(
        "Defragment took {:.1} ms; dbSize {} -> {}, dbSizeInUse {} -> {}",
        t.elapsed().as_secs_f64() * 1000.0,
        status.db_size,
        after.db_size,
        status.db_size_in_use,
        after.db_size_in_use
    );

    // `physical: true` answers once the old versions are gone.
    let cur2 = write_history(&c, 2_000, 8).await.max(cur + 21);
    let live_at2 = read_at(&c, cur2).await.unwrap().len();
    let kept_before = live_at + (cur2 - at) as usize;
    let want2 = kept_before - live_at2;
    compact(&c, cur2, true).await.unwrap();
    assert_eq!(
        deleted(&m),
        want + want2,
        "every old version deleted when Compact(physical) answers"
    );
    // Asking again answers "compacted", also only once the deletion is done.
    let err = compact(&c, cur2, true).await.unwrap_err();
    assert!(err.contains(COMPACTED), "{err}");
}

/// The `ectd` built with failpoints, when there is one: `ECTD_FAILPOINTS_BIN`, or
/// `failpoints/ectd` in the build directory (where `scripts/test.sh` puts it).
fn failpoints_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ECTD_FAILPOINTS_BIN") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join("failpoints").join("ectd"))
        .find(|p| p.is_file())
}

/// A light write load on other keys, so the member keeps applying (and flushing
/// its state every `--snapshot-count` entries) while the compaction runs.
fn background_writes(c: &Client) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (c.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let mut i = 0u64;
        while !s.load(Ordering::Relaxed) {
            let put = c.put(PutRequest {
                key: format!("other/{}", i % 100).into_bytes(),
                value: vec![b'x'; 100],
                ..Default::default()
            });
            if tokio::time::timeout(Duration::from_secs(5), put)
                .await
                .map_or(true, |r| r.is_err())
            {
                // The member is being killed.
                return;
            }
            i += 1;
        }
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_killed_between_batches_finishes_the_compaction_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Ectd::start(
        dir.path(),
        &[
            "--experimental-compaction-batch-limit",
            "200",
            "--experimental-compaction-sleep-interval",
            "100ms",
            "--snapshot-count",
            "300",
        ],
    );
    let c = connect(&m).await;
    let cur = write_history(&c, 40_000, 32).await;
    let at = cur - 100;
    let reads_at = read_at(&c, at).await.unwrap();
    let want = (at - 1) as usize - reads_at.len();
    compact(&c, at, false).await.unwrap();
    // What HashKV must say whenever and wherever the deletion is finished.
    let reference = hash_kv(&c, cur).await;

    // Kill -9 once some batches are done, many before the end.
    let (stop, writes) = background_writes(&c);
    wait_deleted(&m, 3_000, 60).await;
    let at_kill = deleted(&m);
    assert!(at_kill < want, "the compaction must still be running");
    m.kill9();
    stop.store(true, Ordering::Relaxed);
    let _ = writes.await;
    println!("killed with {at_kill} of {want} versions deleted");

    m.restart();
    assert!(
        m.stderr_tail(400)
            .contains("resuming an unfinished compaction"),
        "the restarted member takes the compaction up again\n{}",
        m.stderr_tail(40)
    );
    let c = connect(&m).await;
    // Already compacted; with `physical` the answer waits for the deletion.
    let err = compact(&c, at, true).await.unwrap_err();
    assert!(err.contains(COMPACTED), "{err}");
    let after_restart = deleted(&m);
    println!("after the restart {after_restart} more versions were deleted");
    assert!(after_restart <= want);
    assert_eq!(
        hash_kv(&c, cur).await,
        reference,
        "HashKV after the resumed compaction"
    );
    assert_eq!(read_at(&c, at).await.unwrap(), reads_at);

    // The same through the failpoint between batches, when a build has it.
    let Some(fp) = failpoints_binary() else {
        println!(
            "no ectd with failpoints (ECTD_FAILPOINTS_BIN or <target>/failpoints/ectd): \
             the failpoint part is not run"
        );
        return;
    };
    drop(c);
    let cur = {
        let c = connect(&m).await;
        write_history(&c, 10_000, 32).await
    };
    let at = cur - 10;
    m.restart_with(
        Some(&fp),
        &[("FAILPOINTS", "compact_between_batches=3*off->panic")],
    );
    m.wait_serving();
    let c = connect(&m).await;
    let reads_at = read_at(&c, at).await.unwrap();
    compact(&c, at, false).await.unwrap();
    let reference = hash_kv(&c, cur).await;
    let (stop, writes) = background_writes(&c);
    let exit = m.wait_exit(Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    let _ = writes.await;
    assert!(
        exit.is_some_and(|st| !st.success()),
        "the failpoint after the fourth batch ends the member\n{}",
        m.stderr_tail(40)
    );
    m.restart_with(Some(std::path::Path::new(env!("CARGO_BIN_EXE_ectd"))), &[]);
    m.wait_serving();
    let c = connect(&m).await;
    let err = compact(&c, at, true).await.unwrap_err();
    assert!(err.contains(COMPACTED), "{err}");
    assert_eq!(
        hash_kv(&c, cur).await,
        reference,
        "HashKV after the failpoint crash"
    );
    assert_eq!(read_at(&c, at).await.unwrap(), reads_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_auto_compaction_compacts_what_is_older_than_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    // A bare integer would be hours; a duration is taken as it is.
    let m = Ectd::start(dir.path(), &["--auto-compaction-retention=1s"]);
    let c = connect(&m).await;
    let started = Instant::now();
    let mut first = 0;
    while started.elapsed() < Duration::from_millis(3500) {
        let r = c
            .put(PutRequest {
                key: b"auto/k".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
        if first == 0 {
            first = r.header.map_or(0, |h| h.revision);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, compacted) = hash_kv(&c, 0).await;
    println!("first write at revision {first}; compacted to {compacted} after 3.5 s");
    // Compactions at about 1 s, 2 s and 3 s, each to the revision of about 1.1 s
    // before: well past the first writes by now.
    assert!(compacted > first, "compact revision {compacted}");
    let err = c
        .range(RangeRequest {
            key: b"auto/k".to_vec(),
            revision: first,
            ..Default::default()
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(COMPACTED), "{err}");
    assert!(m
        .stderr_tail(200)
        .contains("completed auto periodic compaction"));
}
