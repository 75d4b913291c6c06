//! Multi-member clusters across processes: replication, leader failure, minority
//! partitions, members wiped and added back, the membership API as etcdctl drives
//! it, leadership transfer, and crashes of the whole cluster.
//!
//! Every member is a real `ectd` process on 127.0.0.1 with etcd's clustering flags
//! and short raft timings (heartbeat 50 ms, election timeout 500 ms). Partitions
//! are made with SIGSTOP: a stopped member neither answers nor sends anything,
//! which to the others is the same as a cut network.
//!
//! The tests run one at a time: the leader-failure test measures how long writes
//! stop, and on a small machine several clusters electing leaders at once would
//! measure each other rather than ectd.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{http_get, within, Cluster, Kind, Member, ELECTION_MS};
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::{
    request_op, CompactionRequest, Compare, DeleteRangeRequest, HashKvRequest, HashKvResponse,
    Member as WireMember, MemberAddRequest, MemberListRequest, MemberPromoteRequest,
    MemberRemoveRequest, MemberUpdateRequest, MoveLeaderRequest, PutRequest, RangeRequest,
    RangeResponse, RequestOp, StatusRequest, StatusResponse, TxnRequest,
};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{prefix_range_end, Client, ConnectOptions, Error};
use rand::Rng;
use tonic::Code;

/// How long the measured failover may take: three election timeouts.
const FAILOVER_BOUND: Duration = Duration::from_millis(3 * ELECTION_MS);

/// How often the failover test starts a new write attempt while there is no
/// leader; the only slack the failover bound gets.
const RETRY_INTERVAL: Duration = Duration::from_millis(50);

/// etcd's refusal to promote a learner that has not caught up.
const NOT_IN_SYNC: &str =
    "etcdserver: can only promote a learner member which is in sync with leader";

/// Runs one test on its own runtime, after every other test of this file has
/// finished.
fn run(test: impl Future<Output = ()>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test);
}

// ---------------------------------------------------------------------------
// Talking to members
// ---------------------------------------------------------------------------

async fn connect_with(m: &Member, command_timeout: Duration) -> Client {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(5),
        command_timeout,
    };
    within(
        10,
        "connecting",
        Client::connect_with(&[m.endpoint()], options),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to {} ({}): {e}", m.name(), m.endpoint()))
}

async fn connect(m: &Member) -> Client {
    connect_with(m, Duration::from_secs(5)).await
}

async fn connect_all(cl: &Cluster) -> Vec<Client> {
    let mut out = Vec::new();
    for m in &cl.members {
        out.push(connect(m).await);
    }
    out
}

/// Runs a raw tonic call with a deadline, turning its outcome into the client's
/// error type (a missing answer becomes [`Error::Timeout`]).
async fn rpc<T>(
    limit: Duration,
    fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => Err(Error::Rpc {
            code: s.code(),
            message: s.message().to_string(),
        }),
        Err(_) => Err(Error::Timeout),
    }
}

/// Panics unless `r` failed with exactly `code` and `message`.
fn expect_rpc_error<T: std::fmt::Debug>(
    r: Result<T, Error>,
    code: Code,
    message: &str,
    what: &str,
) {
    match r {
        Err(Error::Rpc {
            code: c,
            message: m,
        }) if c == code && m == message => {}
        other => panic!("{what}: expected {code:?} {message:?}, got {other:?}"),
    }
}

async fn status(c: &Client) -> Result<StatusResponse, Error> {
    let mut m = c.maintenance();
    rpc(Duration::from_secs(2), m.status(StatusRequest {})).await
}

fn header_rev(h: &Option<ectd_client::proto::etcdserverpb::ResponseHeader>) -> i64 {
    h.as_ref().map_or(0, |h| h.revision)
}

/// Each member's id, from its own Status.
async fn member_ids(clients: &[Client]) -> Vec<u64> {
    let mut ids = Vec::new();
    for c in clients {
        let s = status(c)
            .await
            .unwrap_or_else(|e| panic!("status of {}: {e}", c.endpoint()));
        ids.push(s.header.map_or(0, |h| h.member_id));
    }
    ids
}

/// Polls Status on the members `which` until all of them name the same leader
/// and that leader is one of them; returns its index and its term.
async fn agreed_leader(clients: &[Client], ids: &[u64], which: &[usize]) -> (usize, u64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = Vec::new();
        for &i in which {
            seen.push(status(&clients[i]).await.map(|s| (s.leader, s.raft_term)));
        }
        if let Ok(first) = &seen[0] {
            let agree = seen
                .iter()
                .all(|s| matches!(s, Ok((l, _)) if *l == first.0));
            if let Some(&idx) = which.iter().find(|&&i| ids[i] == first.0) {
                if agree && first.0 != 0 {
                    let term = seen.iter().flatten().map(|s| s.1).max().unwrap_or(0);
                    return (idx, term);
                }
            }
        }
        if Instant::now() > deadline {
            panic!(
                "members {which:?} (ids {:x?}) do not agree on a leader among them: {seen:?}",
                which.iter().map(|&i| ids[i]).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn range_req(prefix: &str, serializable: bool, revision: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_range_end(prefix.as_bytes()),
        serializable,
        revision,
        ..Default::default()
    }
}

/// A linearizable read of everything under `prefix`, through `c`.
async fn read_prefix(c: &Client, prefix: &str) -> RangeResponse {
    within(
        20,
        "linearizable range",
        c.range(range_req(prefix, false, 0)),
    )
    .await
    .unwrap_or_else(|e| panic!("linearizable range {prefix} on {}: {e}", c.endpoint()))
}

/// A serializable read of everything under `prefix` as of `revision` (0: the
/// member's latest), answered from `c`'s own store.
async fn read_local(c: &Client, prefix: &str, revision: i64) -> Result<RangeResponse, Error> {
    c.range(range_req(prefix, true, revision)).await
}

fn show(kv: &KeyValue) -> String {
    format!(
        "{}={} (create {}, mod {}, version {})",
        String::from_utf8_lossy(&kv.key),
        String::from_utf8_lossy(&kv.value),
        kv.create_revision,
        kv.mod_revision,
        kv.version
    )
}

/// `Ok` if both lists hold the same key-values, else the first difference.
fn same_kvs(a: &[KeyValue], b: &[KeyValue]) -> Result<(), String> {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return Err(format!("{} vs {}", show(x), show(y)));
        }
    }
    if a.len() != b.len() {
        return Err(format!("{} keys vs {} keys", a.len(), b.len()));
    }
    Ok(())
}

async fn hash_kv(c: &Client, revision: i64) -> Result<HashKvResponse, Error> {
    let mut m = c.maintenance();
    rpc(
        Duration::from_secs(10),
        m.hash_kv(HashKvRequest { revision }),
    )
    .await
}

/// Waits until each member in `which` can hash revision `rev` (it may still be
/// applying) and asserts that all of them report the same hash and compaction
/// revision for it. Returns the hash.
async fn assert_same_hash(clients: &[Client], which: &[usize], rev: i64, when: &str) -> u32 {
    let mut hashes = Vec::new();
    for &i in which {
        let deadline = Instant::now() + Duration::from_secs(20);
        let h = loop {
            match hash_kv(&clients[i], rev).await {
                Ok(h) => break h,
                Err(e) if Instant::now() > deadline => {
                    panic!("{when}: HashKV({rev}) on m{}: {e}", i + 1)
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        assert_eq!(
            h.hash_revision,
            rev,
            "{when}: m{} hashed revision {} when asked for {rev}",
            i + 1,
            h.hash_revision
        );
        hashes.push((i, h.hash, h.compact_revision));
    }
    let (_, hash, compact) = hashes[0];
    assert!(
        hashes.iter().all(|&(_, h, c)| h == hash && c == compact),
        "{when}: members disagree on HashKV at revision {rev}: {}",
        hashes
            .iter()
            .map(|(i, h, c)| format!("m{}: hash {h:#010x} compact_revision {c}", i + 1))
            .collect::<Vec<_>>()
            .join(", ")
    );
    hash
}

/// The revision of a linearizable read through `c`: every write acknowledged
/// before the call is at or below it.
async fn current_rev(c: &Client) -> i64 {
    header_rev(&read_prefix(c, "\0").await.header)
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` and the
/// last `None` reason after `limit`.
async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(why) if Instant::now() > deadline => {
                panic!("{what}: not within {limit:?}; last: {why}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn op_put(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            ..Default::default()
        })),
    }
}

fn op_del(key: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            },
        )),
    }
}

fn cmp_version_greater(key: &str, version: i64) -> Compare {
    Compare {
        result: CompareResult::Greater as i32,
        target: CompareTarget::Version as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(TargetUnion::Version(version)),
        range_end: Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// 1. Replication
// ---------------------------------------------------------------------------

/// Puts, deletes, txns and a compaction, spread over every member; returns the
/// revision after the last write and the compaction revision.
async fn mixed_workload(clients: &[Client]) -> (i64, i64) {
    let n = clients.len();
    let mut last = 0;
    let mut compacted = 0;
    for i in 0..240usize {
        let c = &clients[i % n];
        let what = format!("mixed op {i} through m{}", i % n + 1);
        let rev = match i % 8 {
            0..=3 => {
                let key = format!("mix/{:02}", (i * 7) % 40);
                let r = within(10, &what, c.put_kv(key, format!("v{i}"))).await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
            4 => {
                let r = within(
                    10,
                    &what,
                    c.delete_range(DeleteRangeRequest {
                        key: format!("mix/{:02}", (i * 3) % 40).into_bytes(),
                        ..Default::default()
                    }),
                )
                .await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
            5 => {
                // A whole sub-range at once.
                let prefix = format!("mix/{}", i % 4);
                let r = within(
                    10,
                    &what,
                    c.delete_range(DeleteRangeRequest {
                        key: prefix.clone().into_bytes(),
                        range_end: prefix_range_end(prefix.as_bytes()),
                        ..Default::default()
                    }),
                )
                .await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
            _ => {
                // Which branch runs depends on the state the member applies it to.
                let key = format!("mix/{:02}", (i * 11) % 40);
                let txn = TxnRequest {
                    compare: vec![cmp_version_greater(&key, 1)],
                    success: vec![
                        op_put(&key, &format!("txn{i}")),
                        op_del(&format!("mix/{:02}", (i * 13 + 1) % 40)),
                    ],
                    failure: vec![op_put(&format!("mix/txn/{i}"), "failure branch")],
                };
                let r = within(10, &what, c.txn(txn)).await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
        };
        last = last.max(rev);
        if i == 160 {
            compacted = last - 30;
            let what = format!("compaction at {compacted} through m{}", i % n + 1);
            within(
                10,
                &what,
                c.compact(CompactionRequest {
                    revision: compacted,
                    physical: false,
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
    (last, compacted)
}

async fn replication(n: usize) {
    let started = Instant::now();
    let cl = Cluster::start(Kind::Ectd, n, &[]);
    let clients = connect_all(&cl).await;

    // A put through each member is at once visible through every member.
    let mut acked: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for (i, c) in clients.iter().enumerate() {
        let key = format!("rep/{i}");
        let value = format!("written through m{}", i + 1);
        let what = format!("put {key} through m{}", i + 1);
        let resp = within(10, &what, c.put_kv(key.clone(), value.clone()))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let rev = header_rev(&resp.header);
        acked.insert(key.clone(), (value.clone(), rev));
        for (j, r) in clients.iter().enumerate() {
            let what = format!(
                "linearizable get of {key} (put through m{}) on m{}",
                i + 1,
                j + 1
            );
            let got = within(10, &what, r.get(key.clone()))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                got.kvs.len() == 1
                    && got.kvs[0].value == value.as_bytes()
                    && got.kvs[0].mod_revision == rev,
                "{what}: acknowledged at revision {rev}, read {:?}",
                got.kvs.iter().map(show).collect::<Vec<_>>()
            );
            assert!(
                header_rev(&got.header) >= rev,
                "{what}: read at revision {} after a put at {rev}",
                header_rev(&got.header)
            );
        }
    }

    // With no write in between, every member reads the same keys at the same revision.
    let first = read_prefix(&clients[0], "rep/").await;
    for (j, c) in clients.iter().enumerate() {
        let view = read_prefix(c, "rep/").await;
        assert_eq!(
            header_rev(&view.header),
            header_rev(&first.header),
            "m{} reads at another revision than m1",
            j + 1
        );
        if let Err(d) = same_kvs(&view.kvs, &first.kvs) {
            panic!("m{} and m1 read different keys: {d}", j + 1);
        }
        let got: BTreeMap<String, (String, i64)> = view
            .kvs
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(&kv.key).into_owned(),
                    (
                        String::from_utf8_lossy(&kv.value).into_owned(),
                        kv.mod_revision,
                    ),
                )
            })
            .collect();
        assert_eq!(got, acked, "m{} does not hold what was acknowledged", j + 1);
    }

    // After a mixed workload all members hold the same history.
    let (rev, compacted) = mixed_workload(&clients).await;
    let all: Vec<usize> = (0..n).collect();
    let hash = assert_same_hash(&clients, &all, rev, "after the mixed workload").await;
    // The hash depends on the data, so equal hashes mean something.
    let earlier = assert_same_hash(&clients, &all, rev - 1, "one revision earlier").await;
    assert_ne!(
        hash,
        earlier,
        "HashKV gives the same hash for revisions {rev} and {}",
        rev - 1
    );
    let reference = read_local(&clients[0], "mix/", rev)
        .await
        .unwrap_or_else(|e| panic!("serializable range at {rev} on m1: {e}"));
    assert!(!reference.kvs.is_empty(), "the mixed workload left no key");
    for (j, c) in clients.iter().enumerate() {
        let view = read_local(c, "mix/", rev)
            .await
            .unwrap_or_else(|e| panic!("serializable range at {rev} on m{}: {e}", j + 1));
        if let Err(d) = same_kvs(&view.kvs, &reference.kvs) {
            panic!("at revision {rev}, m{} and m1 differ: {d}", j + 1);
        }
        // The compaction reached every member.
        match read_local(c, "mix/", compacted - 1).await {
            Err(e) if e.is_compacted() => {}
            other => panic!(
                "m{}: a read below the compaction at {compacted} gave {other:?}",
                j + 1
            ),
        }
    }
    eprintln!(
        "{n}-member replication: {} keys, revision {rev}, hash {hash:#010x}, {:?}",
        reference.kvs.len(),
        started.elapsed()
    );
}

#[test]
fn three_members_replicate() {
    run(replication(3));
}

#[test]
fn five_members_replicate() {
    run(replication(5));
}

// ---------------------------------------------------------------------------
// 2. Leader failure
// ---------------------------------------------------------------------------

#[test]
fn leader_kill_9_fails_over_and_the_old_leader_catches_up() {
    run(leader_failure());
}

async fn leader_failure() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (old, old_term) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    for (i, c) in clients.iter().enumerate() {
        within(
            10,
            "put before the kill",
            c.put_kv(format!("before/{i}"), "x"),
        )
        .await
        .unwrap_or_else(|e| panic!("put through m{}: {e}", i + 1));
    }
    let survivors: Vec<usize> = (0..3).filter(|&i| i != old).collect();

    cl.members[old].kill9();
    let killed = Instant::now();
    // A new attempt every RETRY_INTERVAL, alternating between the survivors,
    // without waiting for earlier ones: the first acknowledgement marks the end
    // of the outage, late by at most one interval.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut attempts = Vec::new();
    let mut ticker = tokio::time::interval(RETRY_INTERVAL);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let (key, rev, through, outage) = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let n = attempts.len();
                let via = survivors[n % survivors.len()];
                let c = clients[via].clone();
                let tx = tx.clone();
                attempts.push(tokio::spawn(async move {
                    let key = format!("failover/{n:04}");
                    let r = c.put_kv(key.clone(), "after the kill").await;
                    let _ = tx.send((key, via, r, killed.elapsed()));
                }));
            }
            Some((key, via, r, at)) = rx.recv() => match r {
                Ok(resp) => break (key, header_rev(&resp.header), via, at),
                Err(e) => *errors.entry(e.to_string()).or_default() += 1,
            },
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no write through the survivors within 20s of killing the leader m{}; errors: {errors:?}",
            old + 1
        );
    };
    for a in &attempts {
        a.abort();
    }
    eprintln!(
        "leader m{} killed: first write acknowledged after {outage:?} through m{} \
         ({} attempts, errors before: {errors:?})",
        old + 1,
        through + 1,
        attempts.len()
    );
    // Only a survivor counts as a leader here: still naming the killed member fails.
    let (new, new_term) = agreed_leader(&clients, &ids, &survivors).await;
    assert!(
        new_term > old_term,
        "new leader m{} has term {new_term}, not after {old_term}",
        new + 1
    );
    assert!(
        outage <= FAILOVER_BOUND + RETRY_INTERVAL,
        "writes stopped for {outage:?} after the leader was killed; the bound is 3 election \
         timeouts ({FAILOVER_BOUND:?}) plus the retry interval ({RETRY_INTERVAL:?})"
    );

    // Writes while the old leader is down.
    let mut down = BTreeMap::new();
    for i in 0..20 {
        let c = &clients[survivors[i % 2]];
        let key = format!("down/{i:02}");
        let r = within(
            10,
            "put while m is down",
            c.put_kv(key.clone(), format!("d{i}")),
        )
        .await
        .unwrap_or_else(|e| panic!("put {key} while the old leader is down: {e}"));
        down.insert(key, header_rev(&r.header));
    }
    down.insert(key, rev);

    // Back on its data, the old leader gets everything it missed.
    let restart = Instant::now();
    cl.members[old].restart();
    let c = connect(&cl.members[old]).await;
    let caught_up = eventually(
        Duration::from_secs(10),
        "the restarted member catching up",
        || async {
            let mut missing = Vec::new();
            for (key, &rev) in &down {
                let r = c
                    .range(RangeRequest {
                        key: key.as_bytes().to_vec(),
                        serializable: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                if r.kvs.len() != 1 || r.kvs[0].mod_revision != rev {
                    missing.push(format!(
                        "{key}@{rev}: {:?}",
                        r.kvs.iter().map(show).collect::<Vec<_>>()
                    ));
                }
            }
            if missing.is_empty() {
                Ok(restart.elapsed())
            } else {
                Err(format!(
                    "{} of {} writes missing or different: {missing:?}",
                    missing.len(),
                    down.len()
                ))
            }
        },
    )
    .await;
    let rev = current_rev(&clients[new]).await;
    let mut all_clients = clients.clone();
    all_clients[old] = c;
    assert_same_hash(
        &all_clients,
        &[0, 1, 2],
        rev,
        "after the old leader came back",
    )
    .await;
    eprintln!(
        "old leader back and caught up {caught_up:?} after its restart; test took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// 3. Minority partitions (SIGSTOP)
// ---------------------------------------------------------------------------

async fn partitions(n: usize) {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, n, &[]);
    let clients = connect_all(&cl).await;
    let short: Vec<Client> = {
        let mut v = Vec::new();
        for m in &cl.members {
            v.push(connect_with(m, Duration::from_secs(2)).await);
        }
        v
    };
    let ids = member_ids(&clients).await;
    let all: Vec<usize> = (0..n).collect();
    let (leader, _) = agreed_leader(&clients, &ids, &all).await;
    within(10, "first put", clients[leader].put_kv("part/k", "v0"))
        .await
        .expect("put part/k=v0");

    // A minority of followers stops: the majority goes on.
    let minority: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| i != leader)
        .take((n - 1) / 2)
        .collect();
    let majority: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| !minority.contains(i))
        .collect();
    for &i in &minority {
        cl.members[i].signal("STOP");
    }
    for &i in &majority {
        let key = format!("part/majority/{i}");
        let what = format!("put through m{} with m{minority:?} stopped", i + 1);
        let put = within(10, &what, clients[i].put_kv(key.clone(), "ok"))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        for &j in &majority {
            let what = format!(
                "linearizable get of {key} on m{} with {minority:?} stopped",
                j + 1
            );
            let got = within(10, &what, clients[j].get(key.clone()))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                got.kvs.len() == 1 && got.kvs[0].mod_revision == header_rev(&put.header),
                "{what}: {:?}",
                got.kvs.iter().map(show).collect::<Vec<_>>()
            );
        }
    }
    // A stopped member answers nothing, not even a serializable read. The raw
    // client sends no deadline, so the only way the call can end is the local
    // timeout.
    for &i in &minority {
        let mut kv = clients[i].kv();
        let r = rpc(
            Duration::from_secs(1),
            kv.range(RangeRequest {
                key: b"part/k".to_vec(),
                serializable: true,
                ..Default::default()
            }),
        )
        .await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "a SIGSTOPped member (m{}) answered: {r:?}",
            i + 1
        );
    }
    for &i in &minority {
        cl.members[i].signal("CONT");
    }
    cl.wait_all_ready();

    // The leader is isolated with stale data: stopped while the others elect a
    // new leader and overwrite part/k, then resumed while all the others stop.
    let (x, _) = agreed_leader(&clients, &ids, &all).await;
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != x).collect();
    cl.members[x].signal("STOP");
    let (new, _) = agreed_leader(&clients, &ids, &others).await;
    let v1 = within(10, "put part/k=v1", clients[new].put_kv("part/k", "v1"))
        .await
        .unwrap_or_else(|e| panic!("put part/k=v1 through the new leader m{}: {e}", new + 1));
    let v1_rev = header_rev(&v1.header);
    for &i in &others {
        cl.members[i].signal("STOP");
    }
    cl.members[x].signal("CONT");
    let port = cl.members[x].client_port();
    let health =
        tokio::task::spawn_blocking(move || http_get(port, "/health", Duration::from_secs(2)));
    let (read, write) = tokio::join!(
        short[x].get("part/k"),
        short[x].put_kv("part/isolated", "must not be acknowledged")
    );
    let health = health.await.expect("health probe thread");
    eprintln!(
        "isolated old leader m{}: linearizable read -> {:?}, write -> {:?}, /health -> {health:?}",
        x + 1,
        read.as_ref()
            .map(|r| r.kvs.iter().map(show).collect::<Vec<_>>()),
        write.as_ref().map(|r| header_rev(&r.header)),
    );
    assert!(
        read.is_err(),
        "a linearizable read through m{}, cut off from all other members, succeeded: {:?} \
         (part/k was overwritten with v1 at revision {v1_rev} while m{} was stopped)",
        x + 1,
        read.as_ref()
            .map(|r| r.kvs.iter().map(show).collect::<Vec<_>>()),
        x + 1
    );
    assert!(
        write.is_err(),
        "a write through m{}, cut off from all other members, was acknowledged: {write:?}",
        x + 1
    );
    assert!(
        !matches!(&health, Ok((200, body)) if body.contains("\"health\":\"true\"")),
        "/health of m{}, cut off from all other members, says it is healthy: {health:?}",
        x + 1
    );

    // Everyone back: all members converge on the majority's history.
    for &i in &others {
        cl.members[i].signal("CONT");
    }
    cl.wait_all_ready();
    let healed = within(
        10,
        "put after healing",
        clients[x].put_kv("part/healed", "yes"),
    )
    .await
    .unwrap_or_else(|e| panic!("put through m{} after healing: {e}", x + 1));
    let rev = header_rev(&healed.header);
    for (j, c) in clients.iter().enumerate() {
        let got = within(10, "get part/k", c.get("part/k"))
            .await
            .unwrap_or_else(|e| panic!("get part/k on m{}: {e}", j + 1));
        assert!(
            got.kvs.len() == 1 && got.kvs[0].value == b"v1" && got.kvs[0].mod_revision == v1_rev,
            "m{} reads part/k as {:?} after healing; v1 was acknowledged at {v1_rev}",
            j + 1,
            got.kvs.iter().map(show).collect::<Vec<_>>()
        );
        if let Err(Error::Rpc { message, .. }) = &write {
            // "no leader" means raft dropped the proposal: it can never apply.
            if message == "etcdserver: no leader" {
                let r = within(10, "get part/isolated", c.get("part/isolated")).await;
                let kvs = r.map(|r| r.kvs).unwrap_or_default();
                assert!(
                    kvs.is_empty(),
                    "m{}: a write refused with {message:?} was applied: {:?}",
                    j + 1,
                    kvs.iter().map(show).collect::<Vec<_>>()
                );
            }
        }
    }
    assert_same_hash(&clients, &all, rev, "after the partitions healed").await;
    eprintln!("{n}-member partitions: {:?}", started.elapsed());
}

#[test]
fn three_members_minority_partitions() {
    run(partitions(3));
}

#[test]
fn five_members_minority_partitions() {
    run(partitions(5));
}

// ---------------------------------------------------------------------------
// 4. A member wiped and added back
// ---------------------------------------------------------------------------

/// `total` puts over `keys` keys, `concurrency` at a time, spread over `clients`.
async fn load(clients: &[Client], prefix: &str, total: usize, keys: usize, concurrency: usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let c = clients[t % clients.len()].clone();
        let next = next.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let key = format!("{prefix}{:05}", i % keys);
                let value = format!("{i:08}-{}", "x".repeat(40 + i % 60));
                if let Err(e) = c.put_kv(key.clone(), value).await {
                    panic!("load put {key} through {}: {e}", c.endpoint());
                }
            }
        }));
    }
    for t in tasks {
        within(300, "load", t).await.expect("load task");
    }
}

#[test]
fn wiped_member_added_back_catches_up_from_a_snapshot() {
    run(wipe_and_add_back());
}

async fn wipe_and_add_back() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &["--snapshot-count", "100"]);
    let mut clients = connect_all(&cl).await;
    let mut ids = member_ids(&clients).await;
    let all = [0, 1, 2];
    let (leader, _) = agreed_leader(&clients, &ids, &all).await;

    // More entries than the leader keeps in memory: a new member cannot be
    // sent the log from its start and must be sent the state.
    let t = Instant::now();
    load(&clients, "wipe/", 12_000, 1_500, 48).await;
    let mid_rev = current_rev(&clients[leader]).await / 2;
    eprintln!("12000 puts in {:?}", t.elapsed());

    let v = all.iter().copied().find(|&i| i != leader).unwrap();
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != v).collect();
    let mut cluster = clients[leader].cluster();
    rpc(
        Duration::from_secs(10),
        cluster.member_remove(MemberRemoveRequest { id: ids[v] }),
    )
    .await
    .unwrap_or_else(|e| panic!("removing m{}: {e}", v + 1));
    let exited = cl.members[v].wait_exit(Duration::from_secs(10));
    assert!(
        exited.is_some(),
        "m{} still runs 10s after it was removed",
        v + 1
    );
    let data = cl.members[v].data_dir().to_path_buf();
    std::fs::remove_dir_all(&data).unwrap_or_else(|e| panic!("wiping {}: {e}", data.display()));

    let peer_url = cl.members[v].peer_url();
    let added = rpc(
        Duration::from_secs(10),
        cluster.member_add(MemberAddRequest {
            peer_ur_ls: vec![peer_url.clone()],
            is_learner: false,
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("adding {peer_url} back: {e}"));
    let new_id = added.member.map_or(0, |m| m.id);
    assert!(
        new_id != 0 && new_id != ids[v],
        "the member added back got id {new_id:x}; the removed one had {:x}",
        ids[v]
    );
    ids[v] = new_id;

    let initial = format!(
        "{},{}={peer_url}",
        cl.initial_cluster_of(&others),
        cl.members[v].name()
    );
    let cfg = cl.config(
        cl.members[v].name(),
        cl.members[v].ports(),
        &initial,
        "existing",
    );
    cl.members[v] = cl.new_member(&cfg);
    let t = Instant::now();
    cl.members[v].launch();
    cl.members[v].wait_ready(common::READY_TIMEOUT);
    let ready = t.elapsed();
    clients[v] = connect(&cl.members[v]).await;

    let rev = current_rev(&clients[leader]).await;
    for check_rev in [rev, mid_rev] {
        let reference = read_local(&clients[leader], "wipe/", check_rev)
            .await
            .unwrap_or_else(|e| panic!("serializable range at {check_rev} on the leader: {e}"));
        let view = eventually(
            Duration::from_secs(10),
            "the new member reaching the leader's revision",
            || async {
                read_local(&clients[v], "wipe/", check_rev)
                    .await
                    .map_err(|e| e.to_string())
            },
        )
        .await;
        if let Err(d) = same_kvs(&view.kvs, &reference.kvs) {
            panic!(
                "at revision {check_rev} the re-added m{} and the leader differ: {d}",
                v + 1
            );
        }
        assert_eq!(reference.kvs.len(), 1_500, "keys at revision {check_rev}");
    }
    assert_same_hash(&clients, &all, rev, "after the wiped member came back").await;
    // It is a voter again: it takes writes.
    within(
        10,
        "put through the re-added member",
        clients[v].put_kv("wipe/after", "ok"),
    )
    .await
    .unwrap_or_else(|e| panic!("put through the re-added m{}: {e}", v + 1));
    let status = status(&clients[v])
        .await
        .expect("status of the re-added member");
    assert_eq!(status.header.map_or(0, |h| h.member_id), new_id);
    // The premise of the scenario: the log the new member needed was no longer
    // there, so it was sent the state instead.
    let log = std::fs::read_to_string(cl.members[v].log_path()).unwrap_or_default();
    let this_run = log.rsplit("----- starting").next().unwrap_or_default();
    assert!(
        this_run.contains("installed a state snapshot"),
        "the re-added m{} caught up without installing a state snapshot; its log:\n{}",
        v + 1,
        cl.members[v].stderr_tail(40)
    );
    eprintln!(
        "re-added member ready {ready:?} after start; test took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// 5. Membership through the API, as etcdctl uses it
// ---------------------------------------------------------------------------

async fn member_list(c: &Client) -> Vec<WireMember> {
    let mut cluster = c.cluster();
    rpc(
        Duration::from_secs(10),
        cluster.member_list(MemberListRequest { linearizable: true }),
    )
    .await
    .unwrap_or_else(|e| panic!("member list through {}: {e}", c.endpoint()))
    .members
}

#[test]
fn learner_added_promoted_updated_and_removed() {
    run(membership_api());
}

async fn membership_api() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    let lc = &clients[leader];
    let mut cluster = lc.cluster();
    within(
        10,
        "put before the learner",
        lc.put_kv("learner/before", "1"),
    )
    .await
    .expect("put learner/before");

    // Add a learner.
    let ports = common::Ports::free();
    let peer_url = format!("http://127.0.0.1:{}", ports.peer);
    let added = rpc(
        Duration::from_secs(10),
        cluster.member_add(MemberAddRequest {
            peer_ur_ls: vec![peer_url.clone()],
            is_learner: true,
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("member add --learner {peer_url}: {e}"));
    let member = added.member.expect("MemberAdd names the new member");
    let id = member.id;
    assert!(
        member.is_learner && member.peer_ur_ls == [peer_url.clone()],
        "{member:?}"
    );
    let listed = member_list(&clients[(leader + 1) % 3]).await;
    let entry = listed.iter().find(|m| m.id == id);
    assert!(
        matches!(entry, Some(m) if m.is_learner && m.name.is_empty() && m.client_ur_ls.is_empty()),
        "a learner not started yet should be listed unnamed and without client URLs: {entry:?}"
    );

    // Not started, it holds none of the log: promotion is refused.
    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            cluster.member_promote(MemberPromoteRequest { id }),
        )
        .await,
        Code::FailedPrecondition,
        NOT_IN_SYNC,
        "promoting a learner that has not started",
    );

    // Start it.
    let initial = format!("{},m4={peer_url}", cl.initial_cluster_of(&[0, 1, 2]));
    let cfg = cl.config("m4", ports, &initial, "existing");
    let m4 = cl.new_member(&cfg);
    cl.members.push(m4);
    cl.members[3].launch();
    let learner = connect(&cl.members[3]).await;
    eventually(
        Duration::from_secs(20),
        "a serializable read on the learner",
        || {
            let learner = learner.clone();
            async move {
                let r = learner
                    .range(RangeRequest {
                        key: b"learner/before".to_vec(),
                        serializable: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                if r.kvs.len() == 1 {
                    Ok(())
                } else {
                    Err(format!("{} keys", r.kvs.len()))
                }
            }
        },
    )
    .await;
    cl.members[3].assert_running();
    // Like any member, a learner announces its name and client URLs once started.
    let m4_url = cl.members[3].endpoint();
    eventually(
        Duration::from_secs(10),
        "the learner publishing its attributes",
        || async {
            let listed = member_list(lc).await;
            match listed.iter().find(|m| m.id == id) {
                Some(m) if m.is_learner && m.name == "m4" && m.client_ur_ls == [m4_url.clone()] => {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let st = status(&learner).await.expect("status of the learner");
    assert!(st.is_learner, "Status of the learner: is_learner false");
    assert_eq!(st.header.map_or(0, |h| h.member_id), id);
    const LEARNER: &str = "etcdserver: rpc not supported for learner";
    expect_rpc_error(
        learner.put_kv("learner/write", "no").await,
        Code::Unavailable,
        LEARNER,
        "put through the learner",
    );
    expect_rpc_error(
        learner.get("learner/before").await,
        Code::Unavailable,
        LEARNER,
        "linearizable read through the learner",
    );

    // Promote it, as etcdctl's users do: retrying while it catches up.
    let t = Instant::now();
    let mut refusals = 0;
    loop {
        match rpc(
            Duration::from_secs(10),
            cluster.member_promote(MemberPromoteRequest { id }),
        )
        .await
        {
            Ok(_) => break,
            Err(Error::Rpc {
                code: Code::FailedPrecondition,
                message,
            }) if message == NOT_IN_SYNC => {
                refusals += 1;
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "the learner was not in sync within 20s ({refusals} refusals)"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("member promote {id:x}: {e}"),
        }
    }
    eprintln!(
        "learner promoted after {:?} ({refusals} refusals)",
        t.elapsed()
    );
    let listed = member_list(lc).await;
    let entry = listed.iter().find(|m| m.id == id);
    assert!(
        matches!(entry, Some(m) if !m.is_learner
            && m.name == "m4"
            && m.client_ur_ls == [cl.members[3].endpoint()]
            && m.peer_ur_ls == [peer_url.clone()]),
        "after promotion: {entry:?}"
    );
    assert_eq!(listed.len(), 4, "{listed:?}");
    let voter = eventually(
        Duration::from_secs(5),
        "the promoted member taking a write",
        || async {
            learner
                .put_kv("learner/after", "voter")
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let st = status(&learner)
        .await
        .expect("status of the promoted member");
    assert!(
        !st.is_learner,
        "Status of the promoted member still says learner"
    );

    // Update its peer URLs: to the same value, then to another member's.
    rpc(
        Duration::from_secs(10),
        cluster.member_update(MemberUpdateRequest {
            id,
            peer_ur_ls: vec![peer_url.clone()],
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("member update to the same peer URLs: {e}"));
    let taken = cl.members[0].peer_url();
    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            cluster.member_update(MemberUpdateRequest {
                id,
                peer_ur_ls: vec![taken.clone()],
            }),
        )
        .await,
        Code::FailedPrecondition,
        "etcdserver: Peer URLs already exists",
        "member update to m1's peer URLs",
    );
    let listed = member_list(lc).await;
    assert!(
        listed
            .iter()
            .any(|m| m.id == id && m.peer_ur_ls == [peer_url.clone()]),
        "the refused update changed the member: {listed:?}"
    );

    // Remove it: it leaves the list and stops by itself.
    rpc(
        Duration::from_secs(10),
        cluster.member_remove(MemberRemoveRequest { id }),
    )
    .await
    .unwrap_or_else(|e| panic!("member remove {id:x}: {e}"));
    let t = Instant::now();
    for (j, c) in clients.iter().enumerate() {
        let listed = member_list(c).await;
        assert!(
            listed.len() == 3 && listed.iter().all(|m| m.id != id),
            "m{} lists after the removal: {listed:?}",
            j + 1
        );
    }
    let exit = cl.members[3].wait_exit(Duration::from_secs(10));
    assert!(
        exit.is_some(),
        "the removed member still runs 10s after its removal\n{}",
        cl.members[3].stderr_tail(30)
    );
    eprintln!(
        "removed member exited with {exit:?} {:?} after its removal",
        t.elapsed()
    );
    within(
        10,
        "put after the removal",
        lc.put_kv("learner/removed", "yes"),
    )
    .await
    .expect("a put after the removal");
    let rev = current_rev(lc).await;
    assert!(rev > header_rev(&voter.header));
    assert_same_hash(&clients, &[0, 1, 2], rev, "after the member came and went").await;

    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            cluster.member_remove(MemberRemoveRequest {
                id: 0x1234_5678_9abc,
            }),
        )
        .await,
        Code::NotFound,
        "etcdserver: member not found",
        "member remove of an unknown id",
    );
    eprintln!("membership test took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// 6. Leadership transfer
// ---------------------------------------------------------------------------

#[test]
fn move_leader_to_a_follower() {
    run(move_leader());
}

async fn move_leader() {
    let cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let all = [0, 1, 2];
    let (leader, term) = agreed_leader(&clients, &ids, &all).await;
    let target = (leader + 1) % 3;
    let t = Instant::now();
    let mut m = clients[leader].maintenance();
    rpc(
        Duration::from_secs(10),
        m.move_leader(MoveLeaderRequest {
            target_id: ids[target],
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("move-leader from m{} to m{}: {e}", leader + 1, target + 1));
    let moved = t.elapsed();
    // Each member learns the new leader within a heartbeat or two.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut views = Vec::new();
        for c in &clients {
            views.push(status(c).await.map(|s| (s.leader, s.raft_term)));
        }
        if views
            .iter()
            .all(|v| matches!(v, Ok((l, _)) if *l == ids[target]))
        {
            let new_term = views.iter().flatten().map(|v| v.1).max().unwrap_or(0);
            assert!(new_term > term, "the transfer kept term {term}: {views:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "3s after MoveLeader to m{} ({:x}) the members report {views:?}",
            target + 1,
            ids[target]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("leadership moved in {moved:?}");
    within(
        10,
        "put after the transfer",
        clients[leader].put_kv("moved", "yes"),
    )
    .await
    .expect("a put after the transfer");

    // Only the leader transfers leadership.
    let mut m = clients[leader].maintenance();
    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            m.move_leader(MoveLeaderRequest {
                target_id: ids[(leader + 2) % 3],
            }),
        )
        .await,
        Code::FailedPrecondition,
        "etcdserver: not leader",
        "MoveLeader sent to a follower",
    );
    let (still, _) = agreed_leader(&clients, &ids, &all).await;
    assert_eq!(
        still, target,
        "MoveLeader through a follower moved the leader"
    );
}

// ---------------------------------------------------------------------------
// 7. The whole cluster killed at once
// ---------------------------------------------------------------------------

const CRASH_ROUNDS: usize = 3;
const WRITERS_PER_MEMBER: usize = 2;

fn crash_value(key: &str) -> Vec<u8> {
    let mut v = format!("{key}=").into_bytes();
    v.resize(16 + key.len() * 3, b'.');
    v
}

/// Puts distinct keys through `c` until stopped or until the cluster goes away;
/// returns every acknowledged put with its revision.
async fn crash_writer(c: Client, prefix: String, stop: Arc<AtomicBool>) -> Vec<(String, i64)> {
    let mut acked = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let key = format!("{prefix}{i:06}");
        let put = c.put(PutRequest {
            key: key.clone().into_bytes(),
            value: crash_value(&key),
            ..Default::default()
        });
        match tokio::time::timeout(Duration::from_secs(5), put).await {
            Ok(Ok(r)) => acked.push((key, header_rev(&r.header))),
            // In flight at the kill: it may or may not have committed.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    acked
}

#[test]
fn whole_cluster_kill_9_keeps_acknowledged_writes() {
    run(whole_cluster_crash());
}

async fn whole_cluster_crash() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut rng = rand::thread_rng();
    for round in 0..CRASH_ROUNDS {
        let clients = connect_all(&cl).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (i, c) in clients.iter().enumerate() {
            for w in 0..WRITERS_PER_MEMBER {
                let prefix = format!("fc/{round}/m{}/{w}/", i + 1);
                tasks.push(tokio::spawn(crash_writer(c.clone(), prefix, stop.clone())));
            }
        }
        let delay = Duration::from_millis(rng.gen_range(300..=800));
        tokio::time::sleep(delay).await;
        cl.kill9_all();
        stop.store(true, Ordering::Relaxed);
        let mut this_round = 0;
        for t in tasks {
            let acks = within(30, "writers noticing the kill", t)
                .await
                .expect("writer task");
            this_round += acks.len();
            acked.extend(acks);
        }
        assert!(
            this_round > 0,
            "round {round}: no write was acknowledged in {delay:?}"
        );

        let t = Instant::now();
        cl.restart_stopped();
        let restart = t.elapsed();
        let clients = connect_all(&cl).await;
        let mut first: Option<Vec<KeyValue>> = None;
        for (j, c) in clients.iter().enumerate() {
            let when = format!("round {round} (killed after {delay:?}), m{}", j + 1);
            let view = read_prefix(c, "fc/").await;
            let mut present: HashMap<&[u8], &KeyValue> = HashMap::new();
            let mut revs: HashMap<i64, &[u8]> = HashMap::new();
            for kv in &view.kvs {
                assert_eq!(
                    kv.value,
                    crash_value(&String::from_utf8_lossy(&kv.key)),
                    "{when}: {} holds a value never written to it",
                    show(kv)
                );
                if let Some(other) = revs.insert(kv.mod_revision, &kv.key) {
                    panic!(
                        "{when}: {} and {} share revision {}",
                        show(kv),
                        String::from_utf8_lossy(other),
                        kv.mod_revision
                    );
                }
                present.insert(&kv.key, kv);
            }
            let mut lost: Vec<String> = acked
                .iter()
                .filter_map(|(key, &rev)| match present.get(key.as_bytes()) {
                    None => Some(format!("{key} (acknowledged at {rev}) is missing")),
                    Some(kv) if kv.mod_revision != rev => Some(format!(
                        "{key} acknowledged at {rev} has mod_revision {}",
                        kv.mod_revision
                    )),
                    Some(_) => None,
                })
                .collect();
            lost.sort();
            assert!(
                lost.is_empty(),
                "{when}: {} of {} acknowledged writes lost or moved: {:?}",
                lost.len(),
                acked.len(),
                &lost[..lost.len().min(20)]
            );
            match &first {
                None => first = Some(view.kvs.clone()),
                Some(f) => {
                    if let Err(d) = same_kvs(&view.kvs, f) {
                        panic!("{when}: m{} and m1 differ after the restart: {d}", j + 1);
                    }
                }
            }
        }
        let r = within(
            10,
            "put after the restart",
            clients[round % 3].put_kv("probe/fc", "after"),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: put after the restart: {e}"));
        let rev = header_rev(&r.header);
        assert!(
            acked.values().all(|&a| a < rev),
            "round {round}: a put after the restart got revision {rev}, not after every acknowledged one"
        );
        assert_same_hash(
            &clients,
            &[0, 1, 2],
            rev,
            &format!("round {round}, after the restart"),
        )
        .await;
        eprintln!(
            "round {round}: killed after {delay:?}, {this_round} writes acknowledged, \
             cluster back in {restart:?}"
        );
    }
    eprintln!(
        "{} acknowledged writes survived {CRASH_ROUNDS} whole-cluster kills ({:?})",
        acked.len(),
        started.elapsed()
    );
}
