//! Helpers shared by the scenarios: running a test, talking to members, and
//! comparing what they hold.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::{within, Cluster, Member, ELECTION_MS};
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::{
    request_op, Compare, DeleteRangeRequest, HashKvRequest, HashKvResponse, PutRequest,
    RangeRequest, RangeResponse, RequestOp, StatusRequest, StatusResponse,
};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{prefix_range_end, Client, ConnectOptions, Error};
use tonic::Code;

/// How long the measured failover may take: three election timeouts.
pub(crate) const FAILOVER_BOUND: Duration = Duration::from_millis(3 * ELECTION_MS);

/// How often the failover test starts a new write attempt while there is no
/// leader; the only slack the failover bound gets.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_millis(50);

/// etcd's refusal to promote a learner that has not caught up.
pub(crate) const NOT_IN_SYNC: &str =
    "etcdserver: can only promote a learner member which is in sync with leader";

/// Runs one test on its own runtime, after every other test of this file has
/// finished.
pub(crate) fn run(test: impl Future<Output = ()>) {
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

pub(crate) async fn connect_with(m: &Member, command_timeout: Duration) -> Client {
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

pub(crate) async fn connect(m: &Member) -> Client {
    connect_with(m, Duration::from_secs(5)).await
}

pub(crate) async fn connect_all(cl: &Cluster) -> Vec<Client> {
    let mut out = Vec::new();
    for m in &cl.members {
        out.push(connect(m).await);
    }
    out
}

/// Runs a raw tonic call with a deadline, turning its outcome into the client's
/// error type (a missing answer becomes [`Error::Timeout`]).
pub(crate) async fn rpc<T>(
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
pub(crate) fn expect_rpc_error<T: std::fmt::Debug>(
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

pub(crate) async fn status(c: &Client) -> Result<StatusResponse, Error> {
    let mut m = c.maintenance();
    rpc(Duration::from_secs(2), m.status(StatusRequest {})).await
}

pub(crate) fn header_rev(h: &Option<ectd_client::proto::etcdserverpb::ResponseHeader>) -> i64 {
    h.as_ref().map_or(0, |h| h.revision)
}

/// Each member's id, from its own Status.
pub(crate) async fn member_ids(clients: &[Client]) -> Vec<u64> {
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
pub(crate) async fn agreed_leader(
    clients: &[Client],
    ids: &[u64],
    which: &[usize],
) -> (usize, u64) {
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

pub(crate) fn range_req(prefix: &str, serializable: bool, revision: i64) -> RangeRequest {
    RangeRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_range_end(prefix.as_bytes()),
        serializable,
        revision,
        ..Default::default()
    }
}

/// A linearizable read of everything under `prefix`, through `c`.
pub(crate) async fn read_prefix(c: &Client, prefix: &str) -> RangeResponse {
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
pub(crate) async fn read_local(
    c: &Client,
    prefix: &str,
    revision: i64,
) -> Result<RangeResponse, Error> {
    c.range(range_req(prefix, true, revision)).await
}

pub(crate) fn show(kv: &KeyValue) -> String {
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
pub(crate) fn same_kvs(a: &[KeyValue], b: &[KeyValue]) -> Result<(), String> {
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

pub(crate) async fn hash_kv(c: &Client, revision: i64) -> Result<HashKvResponse, Error> {
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
pub(crate) async fn assert_same_hash(
    clients: &[Client],
    which: &[usize],
    rev: i64,
    when: &str,
) -> u32 {
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
pub(crate) async fn current_rev(c: &Client) -> i64 {
    header_rev(&read_prefix(c, "\0").await.header)
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` and the
/// last `None` reason after `limit`.
pub(crate) async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
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

pub(crate) fn op_put(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            ..Default::default()
        })),
    }
}

pub(crate) fn op_del(key: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            },
        )),
    }
}

pub(crate) fn cmp_version_greater(key: &str, version: i64) -> Compare {
    Compare {
        result: CompareResult::Greater as i32,
        target: CompareTarget::Version as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(TargetUnion::Version(version)),
        range_end: Vec::new(),
    }
}
