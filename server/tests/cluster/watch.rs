//! Watchers under write load while the leader is killed: every watcher, wherever
//! it is and however often its stream breaks, sees exactly the store's history of
//! its range.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{within, Cluster, Kind, WatchConn};
use crate::helpers::*;
use crate::watch_history::{check_watcher, History, KeyRange, Received, WriteOp};
use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeRequest, PutRequest, RequestOp, TxnRequest, WatchCreateRequest,
};
use ectd_client::proto::mvccpb::Event;
use ectd_client::{Client, ConnectOptions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

/// How long the writers write.
const WRITE_FOR: Duration = Duration::from_secs(20);
/// When (seconds into the writes) the leader is killed; it is restarted soon after.
const KILL_AT: [u64; 3] = [4, 10, 16];
/// How many writers write at once.
const WRITERS: usize = 3;
/// Keys `w/k0`..: the watched key set.
const KEYS: usize = 8;
/// Keys `o/k0`..: written too, outside the `w/` prefix.
const OTHER_KEYS: usize = 3;
/// How long a watcher may take to reach the last revision once it is known.
const CATCH_UP: Duration = Duration::from_secs(30);

fn wkey(i: usize) -> Vec<u8> {
    format!("w/k{i}").into_bytes()
}

fn okey(i: usize) -> Vec<u8> {
    format!("o/k{i}").into_bytes()
}

// ---------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------

#[derive(Default)]
struct WriterLog {
    /// Revision -> the operations of the acknowledged write that made it.
    acked: Vec<(i64, Vec<WriteOp>)>,
    failed: BTreeMap<String, usize>,
}

fn put_op(k: Vec<u8>, v: &str) -> (RequestOp, WriteOp) {
    let req = PutRequest {
        key: k.clone(),
        value: v.as_bytes().to_vec(),
        ..Default::default()
    };
    let op = RequestOp {
        request: Some(ectd_client::proto::etcdserverpb::request_op::Request::RequestPut(req)),
    };
    (op, WriteOp::Put(k))
}

fn del_op(k: Vec<u8>, end: Option<Vec<u8>>) -> (RequestOp, WriteOp) {
    let req = DeleteRangeRequest {
        key: k.clone(),
        range_end: end.clone().unwrap_or_default(),
        ..Default::default()
    };
    let op = RequestOp {
        request: Some(
            ectd_client::proto::etcdserverpb::request_op::Request::RequestDeleteRange(req),
        ),
    };
    (op, WriteOp::Delete(k, end))
}

/// One branch of a txn: distinct keys, some put, some deleted; sometimes a delete
/// of the range `w/k4`..`w/k8` with the other operations outside that range.
fn branch(rng: &mut StdRng, value: &str) -> Vec<(RequestOp, WriteOp)> {
    let with_range = rng.gen_bool(0.2);
    let mut keys: Vec<Vec<u8>> = if with_range {
        (0..KEYS / 2).map(wkey).collect()
    } else {
        (0..KEYS).map(wkey).collect()
    };
    keys.extend((0..OTHER_KEYS).map(okey));
    keys.shuffle(rng);
    let n = rng.gen_range(1..=4);
    let mut ops: Vec<_> = keys
        .into_iter()
        .take(n)
        .map(|k| {
            if rng.gen_bool(0.7) {
                put_op(k, value)
            } else {
                del_op(k, None)
            }
        })
        .collect();
    if with_range {
        let at = rng.gen_range(0..=ops.len());
        ops.insert(at, del_op(wkey(KEYS / 2), Some(wkey(KEYS))));
    }
    ops
}

/// Writes random puts, deletes and txns through the members in turn until `stop`.
async fn writer(id: usize, clients: Vec<Client>, seed: u64, stop: Arc<AtomicBool>) -> WriterLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = WriterLog::default();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let c = &clients[n % clients.len()];
        let value = format!("w{id}-{n}");
        let roll = rng.gen_range(0..100);
        let result: Result<Option<(i64, Vec<WriteOp>)>, ectd_client::Error> = if roll < 30 {
            let k = if rng.gen_bool(0.85) {
                wkey(rng.gen_range(0..KEYS))
            } else {
                okey(rng.gen_range(0..OTHER_KEYS))
            };
            let (_, op) = put_op(k.clone(), &value);
            c.put_kv(k, value.clone())
                .await
                .map(|r| Some((header_rev(&r.header), vec![op])))
        } else if roll < 50 {
            let (k, end) = if rng.gen_bool(0.4) {
                (wkey(KEYS / 2), Some(wkey(KEYS)))
            } else {
                (wkey(rng.gen_range(0..KEYS)), None)
            };
            let (_, op) = del_op(k.clone(), end.clone());
            c.delete_range(DeleteRangeRequest {
                key: k,
                range_end: end.unwrap_or_default(),
                ..Default::default()
            })
            .await
            .map(|r| (r.deleted > 0).then(|| (header_rev(&r.header), vec![op])))
        } else {
            let cmp = cmp_version_greater(
                &String::from_utf8_lossy(&wkey(rng.gen_range(0..KEYS))),
                rng.gen_range(0..4),
            );
            let success = branch(&mut rng, &value);
            let failure = branch(&mut rng, &value);
            let req = TxnRequest {
                compare: vec![cmp],
                success: success.iter().map(|(o, _)| o.clone()).collect(),
                failure: failure.iter().map(|(o, _)| o.clone()).collect(),
            };
            c.txn(req).await.map(|r| {
                let taken = if r.succeeded { success } else { failure };
                let wrote = taken.iter().any(|(_, o)| matches!(o, WriteOp::Put(_)))
                    || r.responses.iter().any(|op| {
                        matches!(&op.response,
                            Some(response_op::Response::ResponseDeleteRange(d)) if d.deleted > 0)
                    });
                wrote.then(|| {
                    let ops = taken.into_iter().map(|(_, o)| o).collect();
                    (header_rev(&r.header), ops)
                })
            })
        };
        match result {
            Ok(Some(acked)) => log.acked.push(acked),
            Ok(None) => {}
            Err(e) => {
                *log.failed.entry(e.to_string()).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    log
}

// ---------------------------------------------------------------------------
// Watchers
// ---------------------------------------------------------------------------

/// What a watcher watches and where it starts.
#[derive(Clone)]
struct WatcherSpec {
    name: &'static str,
    range: KeyRange,
    /// 0: from the member's next revision.
    start: i64,
    prev_kv: bool,
    member: usize,
}

struct WatchLog {
    spec: WatcherSpec,
    /// The first revision the watcher is owed.
    start: i64,
    got: Received,
    /// One line per broken stream, and the member the watcher resumed on.
    resumes: Vec<String>,
    failure: Option<String>,
}

async fn dial(endpoint: &str) -> Option<Client> {
    let options = ConnectOptions {
        dial_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_secs(5),
    };
    Client::connect_with(&[endpoint.to_string()], options)
        .await
        .ok()
}

/// Watches `spec` until it has been sent revision `last` (once known), resuming on
/// the next member from its last seen revision + 1 whenever its stream breaks.
async fn watcher(
    spec: WatcherSpec,
    endpoints: Vec<String>,
    mut last: watch::Receiver<i64>,
) -> WatchLog {
    let mut log = WatchLog {
        spec: spec.clone(),
        start: spec.start,
        got: Received::default(),
        resumes: Vec::new(),
        failure: None,
    };
    let mut m = spec.member;
    // The next revision the watcher is owed; 0 until the first `created` tells it.
    let mut next = spec.start;
    let mut known_at: Option<Instant> = None;
    let done = |next: i64, last: i64| last > 0 && next > last;
    'stream: loop {
        if done(next, *last.borrow()) {
            return log;
        }
        if let Some(t) = known_at {
            if t.elapsed() > CATCH_UP {
                log.failure = Some(format!(
                    "did not reach revision {} within {CATCH_UP:?} (next revision {next})",
                    *last.borrow()
                ));
                return log;
            }
        }
        let conn = match dial(&endpoints[m]).await {
            Some(c) => WatchConn::open(&c).await.ok(),
            None => None,
        };
        let Some(mut conn) = conn else {
            m = (m + 1) % endpoints.len();
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        conn.create(WatchCreateRequest {
            key: spec.range.key.clone(),
            range_end: spec.range.end.clone(),
            start_revision: next,
            prev_kv: spec.prev_kv,
            ..Default::default()
        });
        loop {
            tokio::select! {
                r = conn.next() => match r {
                    Ok(Some(resp)) if resp.canceled => {
                        log.failure = Some(format!("canceled on m{}: {resp:?}", m + 1));
                        return log;
                    }
                    Ok(Some(resp)) if resp.created => {
                        if next == 0 {
                            next = header_rev(&resp.header) + 1;
                            log.start = next;
                        }
                    }
                    Ok(Some(resp)) => {
                        if let Some(kv) = resp.events.last().and_then(|e| e.kv.as_ref()) {
                            next = kv.mod_revision + 1;
                            log.got.responses.push((m, resp.events));
                        }
                        if done(next, *last.borrow()) {
                            return log;
                        }
                    }
                    other => {
                        let from = m;
                        m = (m + 1) % endpoints.len();
                        log.resumes.push(format!(
                            "stream on m{} ended ({}); resuming on m{} from revision {next}",
                            from + 1,
                            match other {
                                Ok(_) => "end of stream".to_string(),
                                Err(s) => format!("{:?} {}", s.code(), s.message()),
                            },
                            m + 1
                        ));
                        continue 'stream;
                    }
                },
                _ = last.changed(), if known_at.is_none() => {
                    known_at = Some(Instant::now());
                    if done(next, *last.borrow()) {
                        return log;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if known_at.is_some_and(|t| t.elapsed() > CATCH_UP) {
                        continue 'stream;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[test]
fn watchers_see_the_exact_history_across_leader_kills() {
    run(watch_under_leader_kills());
}

fn prefix(p: &str) -> KeyRange {
    KeyRange {
        key: p.as_bytes().to_vec(),
        end: ectd_client::prefix_range_end(p.as_bytes()),
    }
}

fn single(k: &str) -> KeyRange {
    KeyRange {
        key: k.as_bytes().to_vec(),
        end: Vec::new(),
    }
}

fn spec(name: &'static str, range: KeyRange, start: i64, prev_kv: bool, m: usize) -> WatcherSpec {
    WatcherSpec {
        name,
        range,
        start,
        prev_kv,
        member: m,
    }
}

async fn watch_under_leader_kills() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let endpoints = cl.endpoints();
    let mut clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let seed: u64 = rand::random();
    eprintln!("watch test seed {seed}");

    let (last_tx, last_rx) = watch::channel(0i64);
    let mut watchers = Vec::new();
    let mut spawn_watcher = |s: WatcherSpec| {
        watchers.push(tokio::spawn(watcher(s, endpoints.clone(), last_rx.clone())));
    };
    let all = KeyRange {
        key: vec![0],
        end: vec![0],
    };
    spawn_watcher(spec("w/ from now", prefix("w/"), 0, false, 0));
    spawn_watcher(spec("w/ from 1 prev_kv", prefix("w/"), 1, true, 1));
    spawn_watcher(spec("w/k3 from now prev_kv", single("w/k3"), 0, true, 2));
    spawn_watcher(spec("all keys from now prev_kv", all.clone(), 0, true, 0));
    spawn_watcher(spec("o/ from now prev_kv", prefix("o/"), 0, true, 1));
    // Let the watchers be created before the first write.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for id in 0..WRITERS {
        let mut cs = Vec::new();
        for m in &cl.members {
            cs.push(connect_with(m, Duration::from_secs(2)).await);
        }
        let s = stop.clone();
        writers.push(tokio::spawn(writer(id, cs, seed + id as u64, s)));
    }
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let early_rev = current_rev(&clients[0]).await;

    let mut kills = Vec::new();
    let old_range = KeyRange {
        key: b"w/k2".to_vec(),
        end: b"w/k6".to_vec(),
    };
    let mut late = vec![
        (
            7,
            spec(
                "w/k2..w/k6 from an early revision prev_kv",
                old_range,
                early_rev,
                true,
                1,
            ),
        ),
        (13, spec("w/k0 from 2", single("w/k0"), 2, false, 2)),
    ];
    for at in KILL_AT {
        for (when, s) in std::mem::take(&mut late) {
            if when < at {
                tokio::time::sleep_until((t0 + Duration::from_secs(when)).into()).await;
                spawn_watcher(s);
            } else {
                late.push((when, s));
            }
        }
        tokio::time::sleep_until((t0 + Duration::from_secs(at)).into()).await;
        let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
        let rev = current_rev(&clients[(leader + 1) % 3]).await;
        cl.members[leader].kill9();
        let killed = Instant::now();
        let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        let (new, _) = agreed_leader(&clients, &ids, &survivors).await;
        kills.push(format!(
            "{:.1}s: killed leader m{} near revision {rev}; m{} led {:?} later",
            (killed - t0).as_secs_f64(),
            leader + 1,
            new + 1,
            killed.elapsed()
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| cl.members[leader].restart());
        clients[leader] = connect(&cl.members[leader]).await;
    }
    tokio::time::sleep_until((t0 + WRITE_FOR).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked: BTreeMap<i64, Vec<WriteOp>> = BTreeMap::new();
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    for w in writers {
        let log = within(20, "writer stopping", w).await.expect("writer task");
        for (rev, ops) in log.acked {
            if let Some(other) = acked.insert(rev, ops.clone()) {
                panic!("two writes acknowledged at revision {rev}: {other:?} and {ops:?}");
            }
        }
        for (e, n) in log.failed {
            *failed.entry(e).or_default() += n;
        }
    }
    tokio::task::block_in_place(|| cl.wait_all_ready());
    // Let any write whose client gave up settle before the last revision is taken.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The last write changes a key of every watcher, so every watcher is owed it.
    let mut ops: Vec<_> = (0..KEYS).map(|i| put_op(wkey(i), "end")).collect();
    ops.extend((0..OTHER_KEYS).map(|i| put_op(okey(i), "end")));
    let end = TxnRequest {
        success: ops.iter().map(|(o, _)| o.clone()).collect(),
        ..Default::default()
    };
    let last = eventually(Duration::from_secs(20), "the last write", || async {
        clients[0].txn(end.clone()).await.map_err(|e| e.to_string())
    })
    .await;
    let last_rev = header_rev(&last.header);
    acked.insert(last_rev, ops.into_iter().map(|(_, o)| o).collect());
    let _ = last_tx.send(last_rev);
    eprintln!(
        "writes done after {:?}: last revision {last_rev}, {} acknowledged writes made a \
         revision; failures: {failed:?}; kills: {kills:#?}",
        t0.elapsed(),
        acked.len()
    );

    // A fresh watcher of every key from revision 1 on each member, after the fact.
    for m in 0..3 {
        spawn_watcher(spec("all keys from 1, afterwards", all.clone(), 1, true, m));
    }
    let mut logs = Vec::new();
    for w in watchers {
        logs.push(within(60, "watcher task", w).await.expect("watcher task"));
    }
    let now = current_rev(&clients[0]).await;
    assert_eq!(
        now, last_rev,
        "the store moved past the last write ({last_rev}) to {now} with no writer running"
    );
    assert_same_hash(&clients, &[0, 1, 2], last_rev, "after the watch test").await;
    let reference = logs.last().expect("reference watcher");
    let order: Vec<Event> = reference
        .got
        .responses
        .iter()
        .flat_map(|(_, evs)| evs.clone())
        .collect();
    let history = History::read(&clients[0], last_rev, &acked, &order).await;
    eprintln!(
        "history: {} changes in revisions 2..={last_rev}, {} revisions ordered by an \
         acknowledged write",
        history.changes.len(),
        history.ordered_by_writes
    );

    let mut errors = Vec::new();
    let mut resumed = 0;
    for log in &logs {
        let s = &log.spec;
        let events: usize = log.got.responses.iter().map(|(_, e)| e.len()).sum();
        eprintln!(
            "watcher {:?} (started on m{}, from revision {}): {events} events in {} \
             responses, {} resumptions: {:#?}",
            s.name,
            s.member + 1,
            log.start,
            log.got.responses.len(),
            log.resumes.len(),
            log.resumes
        );
        resumed += log.resumes.len();
        let mut errs = check_watcher(&history, &s.range, log.start, s.prev_kv, &log.got);
        errs.extend(log.failure.clone());
        errors.extend(
            errs.into_iter()
                .map(|e| format!("watcher {:?}: {e}", s.name)),
        );
    }
    assert!(
        errors.is_empty(),
        "{} watcher errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(
        resumed > 0,
        "no watcher stream broke: the leader kills did not exercise resumption"
    );
    eprintln!(
        "watch test: {} watchers, {resumed} resumptions, took {:?}",
        logs.len(),
        started.elapsed()
    );
}
