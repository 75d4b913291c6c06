//! v2 and v3 on one cluster: the v2 store index (`X-Etcd-Index`) moves with v2
//! writes and membership changes only, the v3 revision with v3 writes only;
//! failed compares move neither; the two keyspaces do not see each other's keys;
//! and each API's watchers see only their own API's writes.

use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::watch_request::RequestUnion;
use ectd_client::proto::etcdserverpb::{
    Compare, DeleteRangeRequest, MemberAddRequest, MemberRemoveRequest, PutRequest, RangeRequest,
    TxnRequest,
};
use ectd_client::proto::etcdserverpb::{WatchRequest, WatchResponse};
use ectd_client::proto::mvccpb::event::EventType;
use ectd_client::{prefix_range_end, Client, ConnectOptions};
use hyper::Method;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Streaming;

use crate::common::{free_port, watch_prefix, within, Cluster, Kind};
use crate::http::{self, Event};
use crate::support::*;
use crate::watcher::*;

/// How long an idle cluster is watched for index changes.
const STILL: Duration = Duration::from_secs(2);

/// One step of the interleaving.
#[derive(Debug, Clone, Copy)]
enum Op {
    V2Put(usize),
    V2Delete(usize),
    /// A v2 compare-and-swap whose `prevValue` does not match (412, errorCode 101).
    V2FailedCas(usize),
    V3Put(usize),
    V3Delete(usize),
    /// A v3 txn whose compare fails and whose else branch is empty.
    V3FailedTxn(usize),
}

use Op::*;

const PLAN: &[Op] = &[
    V2Put(0),
    V3Put(0),
    V3Put(1),
    V2Put(1),
    V2Put(2),
    V3Delete(0),
    V2Delete(0),
    V2FailedCas(1),
    V3Put(2),
    V3FailedTxn(1),
    V2Put(1),
    V3Put(1),
    V3Put(3),
    V2Put(3),
    V2Delete(2),
    V3Delete(2),
    V2Put(4),
    V3Put(4),
];

fn v2_key(n: usize) -> String {
    format!("/mix/k{n}")
}

fn v3_key(n: usize) -> String {
    format!("mix/k{n}")
}

async fn connect(endpoint: &str) -> Client {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(10),
    };
    Client::connect_with(&[endpoint.to_string()], options)
        .await
        .unwrap_or_else(|e| panic!("connecting to {endpoint}: {e}"))
}

/// The v2 store index a member reports on a quorum read of the root.
async fn v2_index(endpoint: &str) -> u64 {
    let r = http::get(endpoint, "/", &[("quorum", "true")])
        .await
        .unwrap_or_else(|e| panic!("GET / on {endpoint}: {e}"));
    assert_eq!(r.status, 200, "GET / on {endpoint}: {}", r.body);
    r.index("GET /")
}

/// The v3 revision a member reports on a linearizable range.
async fn v3_revision(c: &Client) -> i64 {
    let r = within(
        10,
        "linearizable range",
        c.range(RangeRequest {
            key: b"mix/".to_vec(),
            range_end: prefix_range_end(b"mix/"),
            ..Default::default()
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("range on {}: {e}", c.endpoint()));
    r.header.map_or(0, |h| h.revision)
}

/// Panics unless every member reports `index` and `revision`.
async fn assert_everywhere(
    eps: &[String],
    clients: &[Client],
    index: u64,
    revision: i64,
    when: &str,
) {
    for (i, (ep, c)) in eps.iter().zip(clients).enumerate() {
        assert_eq!(v2_index(ep).await, index, "{when}: v2 index on m{}", i + 1);
        assert_eq!(
            v3_revision(c).await,
            revision,
            "{when}: v3 revision on m{}",
            i + 1
        );
    }
}

/// A v3 watch of `mix/` from `start`, its create request sent with the call
/// (etcd answers a watch call only once it has a request), created. The call
/// lasts while the returned request side is kept.
async fn open_v3_watch(
    c: &Client,
    start: i64,
) -> (
    mpsc::UnboundedSender<WatchRequest>,
    Streaming<WatchResponse>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(watch_prefix(
            "mix/", start, false,
        ))),
    })
    .expect("queueing the create request");
    let mut stream = within(
        10,
        "opening a v3 watch",
        c.watch().watch(UnboundedReceiverStream::new(rx)),
    )
    .await
    .unwrap_or_else(|e| panic!("opening a v3 watch: {e}"))
    .into_inner();
    let created = within(10, "the v3 watch created", stream.message()).await;
    assert!(
        matches!(&created, Ok(Some(r)) if r.created && !r.canceled),
        "the v3 watch should be created: {created:?}"
    );
    (tx, stream)
}

/// The scenario; see the module documentation.
pub(crate) async fn index_apart_from_revision(kind: Kind) {
    let cl = Cluster::start(kind, 3, ENABLE_V2);
    let eps = cl.endpoints();
    let mut clients = Vec::new();
    for ep in &eps {
        clients.push(connect(ep).await);
    }
    let mut index = v2_index(&eps[0]).await;
    let mut revision = v3_revision(&clients[0]).await;
    assert_everywhere(&eps, &clients, index, revision, "at the start").await;
    // Nothing moves the index on its own: an etcd member serves clients only once
    // its own attributes are published, so a cluster whose members all answer has
    // nothing left to write.
    tokio::time::sleep(STILL).await;
    assert_everywhere(
        &eps,
        &clients,
        index,
        revision,
        &format!("{STILL:?} after every member answered, with no writes"),
    )
    .await;

    let v2_watcher = Watcher::spawn("v2 watcher of /", vec![eps[1].clone()], "/", index + 1);
    let (_v3_requests, mut v3_watch) = open_v3_watch(&clients[2], revision + 1).await;

    let mut v2_writes: Vec<(&str, String, u64)> = Vec::new();
    let mut v3_writes: Vec<(EventType, String, i64)> = Vec::new();
    for (step, op) in PLAN.iter().enumerate() {
        let ep = &eps[step % 3];
        let c = &clients[step % 3];
        let when = format!("step {step} ({op:?} through m{})", step % 3 + 1);
        match *op {
            V2Put(n) => {
                let r = http::put(ep, &v2_key(n), Some(&format!("v2-{step}")), &[])
                    .await
                    .unwrap_or_else(|e| panic!("{when}: {e}"));
                assert!(
                    (r.status == 200 || r.status == 201) && r.action() == "set",
                    "{when}: HTTP {} {}",
                    r.status,
                    r.body
                );
                index += 1;
                assert_eq!(r.index(&when), index, "{when}: X-Etcd-Index of the write");
                assert_eq!(r.modified_index(), Some(index), "{when}: {}", r.body);
                v2_writes.push(("set", v2_key(n), index));
            }
            V2Delete(n) => {
                let path = http::keys_path(&v2_key(n), &[]);
                let r = http::send_within(http::REQUEST_TIMEOUT, ep, Method::DELETE, &path, None)
                    .await
                    .unwrap_or_else(|e| panic!("{when}: {e}"));
                assert_eq!(r.status, 200, "{when}: {}", r.body);
                index += 1;
                assert_eq!(r.index(&when), index, "{when}: X-Etcd-Index of the delete");
                v2_writes.push(("delete", v2_key(n), index));
            }
            V2FailedCas(n) => {
                let r = http::put(ep, &v2_key(n), Some("x"), &[("prevValue", "no such value")])
                    .await
                    .unwrap_or_else(|e| panic!("{when}: {e}"));
                assert_eq!(
                    (r.status, r.error_code()),
                    (412, Some(101)),
                    "{when}: {}",
                    r.body
                );
                assert_eq!(
                    r.body.get("index").and_then(serde_json::Value::as_u64),
                    Some(index),
                    "{when}: a failed compare reports the current index: {}",
                    r.body
                );
            }
            V3Put(n) => {
                let r = c
                    .put(PutRequest {
                        key: v3_key(n).into_bytes(),
                        value: format!("v3-{step}").into_bytes(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{when}: {e}"));
                revision += 1;
                assert_eq!(r.header.map(|h| h.revision), Some(revision), "{when}");
                v3_writes.push((EventType::Put, v3_key(n), revision));
            }
            V3Delete(n) => {
                let r = c
                    .delete_range(DeleteRangeRequest {
                        key: v3_key(n).into_bytes(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{when}: {e}"));
                assert_eq!(r.deleted, 1, "{when}: deleted");
                revision += 1;
                assert_eq!(r.header.map(|h| h.revision), Some(revision), "{when}");
                v3_writes.push((EventType::Delete, v3_key(n), revision));
            }
            V3FailedTxn(n) => {
                let r = c
                    .txn(TxnRequest {
                        compare: vec![Compare {
                            result: CompareResult::Equal as i32,
                            target: CompareTarget::Value as i32,
                            key: v3_key(n).into_bytes(),
                            target_union: Some(TargetUnion::Value(b"no such value".to_vec())),
                            range_end: Vec::new(),
                        }],
                        success: vec![],
                        failure: vec![],
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{when}: {e}"));
                assert!(!r.succeeded, "{when}: the compare should fail");
                assert_eq!(r.header.map(|h| h.revision), Some(revision), "{when}");
            }
        }
        // The other API's counter did not move: read through another member.
        let other = (step + 1) % 3;
        assert_eq!(
            v2_index(&eps[other]).await,
            index,
            "{when}: v2 index on m{}",
            other + 1
        );
        assert_eq!(
            v3_revision(&clients[other]).await,
            revision,
            "{when}: v3 revision on m{}",
            other + 1
        );
    }
    assert_everywhere(&eps, &clients, index, revision, "after the interleaving").await;

    // The keyspaces are apart: v2 sees no v3 key and v3 no v2 key.
    for n in 0..5 {
        let r = http::get(&eps[0], &format!("/mix/k{n}"), &[("quorum", "true")])
            .await
            .unwrap_or_else(|e| panic!("GET /mix/k{n}: {e}"));
        let v2_value = r
            .node()
            .get("value")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        if let Some(v) = &v2_value {
            assert!(v.starts_with("v2-"), "/mix/k{n} through v2 shows {v:?}");
        }
        let kvs = clients[0]
            .get(v3_key(n))
            .await
            .unwrap_or_else(|e| panic!("get {}: {e}", v3_key(n)))
            .kvs;
        for kv in &kvs {
            assert!(
                kv.value.starts_with(b"v3-"),
                "{} through v3 shows {:?}",
                v3_key(n),
                String::from_utf8_lossy(&kv.value)
            );
        }
    }
    let root = http::get(&eps[0], "/", &[("recursive", "true"), ("quorum", "true")])
        .await
        .unwrap_or_else(|e| panic!("GET / recursive: {e}"));
    let top: Vec<&str> = root
        .node()
        .get("nodes")
        .and_then(serde_json::Value::as_array)
        .map(|ns| ns.iter().filter_map(|n| n["key"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        top,
        ["/mix"],
        "v2's root holds only the v2 writes: {}",
        root.body
    );

    // Membership changes move the v2 index as in etcd 3.4 (the member list lives
    // in the v2 store: one write to add, two to remove) and never the revision.
    let peer = format!("http://127.0.0.1:{}", free_port());
    // etcd refuses reconfiguration until every member has been connected for a
    // while (strict reconfiguration checks); that refusal writes nothing.
    let deadline = Instant::now() + Duration::from_secs(20);
    let added = loop {
        let r = clients[0]
            .member_add(MemberAddRequest {
                peer_ur_ls: vec![peer.clone()],
                is_learner: true,
            })
            .await;
        match r {
            Ok(added) => break added,
            Err(e) if Instant::now() < deadline && e.to_string().contains("unhealthy cluster") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("adding a learner at {peer}: {e}"),
        }
    };
    let id = added.member.map(|m| m.id).expect("the added member");
    index += 1;
    assert_everywhere(&eps, &clients, index, revision, "after adding a learner").await;
    clients[1]
        .member_remove(MemberRemoveRequest { id })
        .await
        .unwrap_or_else(|e| panic!("removing the learner {id:x}: {e}"));
    index += 2;
    assert_everywhere(
        &eps,
        &clients,
        index,
        revision,
        "after removing the learner",
    )
    .await;

    // One more write of each kind lands right after.
    let r = http::put(&eps[2], "/mix/last", Some("v2-last"), &[])
        .await
        .unwrap_or_else(|e| panic!("the last v2 write: {e}"));
    index += 1;
    assert_eq!(r.index("the last v2 write"), index, "{}", r.body);
    v2_writes.push(("set", "/mix/last".into(), index));
    let r = clients[0]
        .put_kv("mix/last", "v3-last")
        .await
        .unwrap_or_else(|e| panic!("the last v3 write: {e}"));
    revision += 1;
    assert_eq!(
        r.header.map(|h| h.revision),
        Some(revision),
        "the last v3 write"
    );
    v3_writes.push((EventType::Put, "mix/last".into(), revision));

    // Each API's watcher saw exactly its own writes.
    until_all(
        &[&v2_watcher],
        Duration::from_secs(10),
        "the v2 watcher",
        |l| l.last_index() >= index,
    )
    .await;
    let seen: Vec<(String, String, u64)> = v2_watcher
        .stop()
        .await
        .plain()
        .into_iter()
        .map(|e: Event| (e.action, e.key, e.modified_index))
        .collect();
    let want: Vec<(String, String, u64)> = v2_writes
        .iter()
        .map(|(a, k, i)| (a.to_string(), k.clone(), *i))
        .collect();
    assert_eq!(seen, want, "the v2 watcher of / from the start");

    let mut got: Vec<(EventType, String, i64)> = Vec::new();
    while got.len() < v3_writes.len() {
        let r = within(10, "v3 watch events", v3_watch.message())
            .await
            .unwrap_or_else(|e| panic!("v3 watch: {e}"))
            .unwrap_or_else(|| panic!("v3 watch ended after {got:?}"));
        for e in r.events {
            let kv = e.kv.unwrap_or_default();
            got.push((
                EventType::try_from(e.r#type).unwrap_or(EventType::Put),
                String::from_utf8_lossy(&kv.key).into_owned(),
                kv.mod_revision,
            ));
        }
    }
    assert_eq!(got, v3_writes, "the v3 watcher of mix/ from the start");
}
