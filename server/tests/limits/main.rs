//! Malformed and oversized requests: each must get etcd's error (code, and message
//! where etcd gives an `etcdserver: ...` one), and afterwards the server must still
//! be up and answer a Range correctly — never a crash, never a hang. Requests that
//! crash the reference etcd 3.4 are sent to ectd alone, which is held to what any
//! answer must satisfy.
//!
//! These talk to the servers through the generated tonic stubs and a raw byte
//! codec rather than the project's client, to control exactly what goes on the
//! wire (message sizes, enum values outside the declared ones, invalid protobuf).

#[path = "../common/mod.rs"]
mod common;

mod wire;

use std::time::Duration;

use common::{within, Ectd, Etcd, Member};
use ectd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::{
    request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;
use tonic::transport::Channel;
use tonic::{Code, Status};

const SENTINEL_KEY: &[u8] = b"sentinel";
const SENTINEL_VALUE: &[u8] = b"alive";

/// What an answer amounts to for these tests: success, or a code and message.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Ok,
    Err(Code, String),
}

fn answer<T>(r: Result<tonic::Response<T>, Status>) -> Answer {
    match r {
        Ok(_) => Answer::Ok,
        Err(s) => Answer::Err(s.code(), s.message().to_string()),
    }
}

async fn channel(m: &Member) -> Channel {
    let ep = tonic::transport::Endpoint::from_shared(m.endpoint())
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20));
    within(10, "connecting", ep.connect())
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", m.endpoint()))
}

async fn kv(m: &Member) -> KvClient<Channel> {
    // No client-side caps: the server's limits are what is under test.
    KvClient::new(channel(m).await)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Puts the sentinel key that [`assert_serves`] reads back.
async fn put_sentinel(m: &Member) {
    let mut c = kv(m).await;
    within(
        10,
        "putting the sentinel",
        c.put(PutRequest {
            key: SENTINEL_KEY.to_vec(),
            value: SENTINEL_VALUE.to_vec(),
            ..Default::default()
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("putting the sentinel on {:?}: {e}", m.kind()));
}

/// The server is still running and answers a linearizable Range correctly, on a
/// fresh connection, within a few seconds.
async fn assert_serves(m: &mut Member, after: &str) {
    m.assert_running();
    let mut c = kv(m).await;
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        c.range(RangeRequest {
            key: SENTINEL_KEY.to_vec(),
            ..Default::default()
        }),
    )
    .await;
    let resp = match r {
        Ok(Ok(r)) => r.into_inner(),
        Ok(Err(e)) => panic!(
            "{:?} fails a Range after {after}: {e}\n{}",
            m.kind(),
            m.stderr_tail(30)
        ),
        Err(_) => panic!(
            "{:?} hangs on a Range after {after}\n{}",
            m.kind(),
            m.stderr_tail(30)
        ),
    };
    assert_eq!(
        resp.kvs.len(),
        1,
        "{:?} lost the sentinel after {after}: {resp:?}",
        m.kind()
    );
    assert_eq!(resp.kvs[0].value, SENTINEL_VALUE, "after {after}");
    m.assert_running();
}

fn put_of(size: usize) -> PutRequest {
    PutRequest {
        key: b"big".to_vec(),
        value: vec![b'v'; size],
        ..Default::default()
    }
}

fn txn_puts(n: usize) -> TxnRequest {
    TxnRequest {
        compare: vec![],
        success: (0..n)
            .map(|i| RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: format!("op/{i:03}").into_bytes(),
                    value: b"v".to_vec(),
                    ..Default::default()
                })),
            })
            .collect(),
        failure: vec![],
    }
}

/// Differences from etcd, collected so that one run reports all of them.
#[derive(Default)]
struct Diffs(Vec<String>);

impl Diffs {
    /// Records a difference unless `a` (etcd) and `b` (ectd) agree: same code
    /// always, same message when etcd's is one of its own (`etcdserver: ...`)
    /// rather than the gRPC library's.
    fn check(&mut self, what: &str, a: &Answer, b: &Answer) {
        let same = match (a, b) {
            (Answer::Err(ca, ma), Answer::Err(cb, mb)) => {
                ca == cb && (!ma.starts_with("etcdserver: ") || ma == mb)
            }
            _ => a == b,
        };
        if !same {
            self.0
                .push(format!("{what}:\n  etcd: {a:?}\n  ectd: {b:?}"));
        }
    }

    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} answers differ between etcd and ectd:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Sends one request to both servers, records any difference in `$diffs`, checks
/// that both still serve, and returns etcd's answer.
macro_rules! same_answer {
    ($diffs:expr, $etcd:expr, $ectd:expr, $what:expr, |$c:ident| $call:expr) => {{
        let what: &str = $what;
        let a = {
            let mut $c = kv(&$etcd).await;
            answer(within(30, &format!("etcd: {what}"), $call).await)
        };
        let b = {
            let mut $c = kv(&$ectd).await;
            answer(within(30, &format!("ectd: {what}"), $call).await)
        };
        $diffs.check(what, &a, &b);
        assert_serves(&mut $etcd, what).await;
        assert_serves(&mut $ectd, what).await;
        a
    }};
}

struct Both {
    etcd: Member,
    ectd: Member,
    _dirs: [TempDir; 2],
}

async fn start_both(extra: &[&str]) -> Both {
    let etcd_dir = TempDir::new().expect("temp dir");
    let ectd_dir = TempDir::new().expect("temp dir");
    let etcd = Etcd::start_with(etcd_dir.path(), extra);
    let ectd = Ectd::start(ectd_dir.path(), extra);
    put_sentinel(&etcd).await;
    put_sentinel(&ectd).await;
    Both {
        etcd,
        ectd,
        _dirs: [etcd_dir, ectd_dir],
    }
}

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_with_default_limits() {
    let Both {
        mut etcd,
        mut ectd,
        _dirs,
    } = start_both(&[]).await;
    let mut d = Diffs::default();

    // --max-request-bytes defaults to 1.5 MiB; gRPC accepts that plus 512 KiB.
    let a = same_answer!(d, etcd, ectd, "put just under --max-request-bytes", |c| c
        .put(put_of(3 * MIB / 2 - 1024)));
    assert_eq!(a, Answer::Ok);
    let a = same_answer!(
        d,
        etcd,
        ectd,
        "put over --max-request-bytes, under 2 MiB",
        |c| c.put(put_of(3 * MIB / 2 + 64 * 1024))
    );
    assert_eq!(
        a,
        Answer::Err(
            Code::InvalidArgument,
            "etcdserver: request is too large".into()
        )
    );
    let a = same_answer!(d, etcd, ectd, "put just under 2 MiB", |c| c
        .put(put_of(2 * MIB - 64)));
    assert!(matches!(a, Answer::Err(Code::InvalidArgument, _)), "{a:?}");
    let a = same_answer!(d, etcd, ectd, "put over 2 MiB", |c| c
        .put(put_of(2 * MIB + 1024)));
    assert!(
        matches!(a, Answer::Err(Code::ResourceExhausted, _)),
        "{a:?}"
    );
    let a = same_answer!(d, etcd, ectd, "put of 5 MiB", |c| c.put(put_of(5 * MIB)));
    assert!(
        matches!(a, Answer::Err(Code::ResourceExhausted, _)),
        "{a:?}"
    );
    same_answer!(d, etcd, ectd, "range with a key over 2 MiB", |c| c.range(
        RangeRequest {
            key: vec![b'k'; 2 * MIB + 10],
            ..Default::default()
        }
    ));
    same_answer!(d, etcd, ectd, "txn of puts totalling 1.6 MiB", |c| c.txn(
        TxnRequest {
            compare: vec![],
            success: (0..4)
                .map(|i| RequestOp {
                    request: Some(request_op::Request::RequestPut(PutRequest {
                        key: format!("t{i}").into_bytes(),
                        value: vec![b'x'; 400 * 1024],
                        ..Default::default()
                    })),
                })
                .collect(),
            failure: vec![],
        }
    ));

    // The write just under the limit is readable.
    let mut c = kv(&ectd).await;
    let r = within(
        10,
        "reading the big value back",
        c.range(RangeRequest {
            key: b"big".to_vec(),
            ..Default::default()
        }),
    )
    .await
    .expect("range of the big value")
    .into_inner();
    assert_eq!(r.kvs.len(), 1);
    assert_eq!(r.kvs[0].value.len(), 3 * MIB / 2 - 1024);

    // Too many ops, at the default --max-txn-ops of 128.
    let a = same_answer!(d, etcd, ectd, "txn with 128 ops", |c| c.txn(txn_puts(128)));
    assert_eq!(a, Answer::Ok);
    let a = same_answer!(d, etcd, ectd, "txn with 129 ops", |c| c.txn(txn_puts(129)));
    assert_eq!(
        a,
        Answer::Err(
            Code::InvalidArgument,
            "etcdserver: too many operations in txn request".into()
        )
    );
    same_answer!(d, etcd, ectd, "txn with 10000 ops", |c| c
        .txn(txn_puts(10_000)));

    // Empty keys everywhere a key is required.
    let empty_key = Answer::Err(
        Code::InvalidArgument,
        "etcdserver: key is not provided".into(),
    );
    let a = same_answer!(d, etcd, ectd, "range with an empty key", |c| c
        .range(RangeRequest::default()));
    assert_eq!(a, empty_key);
    let a = same_answer!(d, etcd, ectd, "put with an empty key", |c| c
        .put(PutRequest::default()));
    assert_eq!(a, empty_key);
    let a = same_answer!(d, etcd, ectd, "delete with an empty key", |c| c
        .delete_range(DeleteRangeRequest::default()));
    assert_eq!(a, empty_key);
    let a = same_answer!(d, etcd, ectd, "txn compare with an empty key", |c| c.txn(
        TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Version as i32,
                key: vec![],
                target_union: Some(TargetUnion::Version(0)),
                range_end: vec![],
            }],
            success: vec![],
            failure: vec![],
        }
    ));
    assert_eq!(a, empty_key);
    d.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_are_enforced() {
    let Both {
        mut etcd,
        mut ectd,
        _dirs,
    } = start_both(&["--max-request-bytes", "10000", "--max-txn-ops", "4"]).await;
    let mut d = Diffs::default();

    let a = same_answer!(d, etcd, ectd, "put under a 10000-byte limit", |c| c
        .put(put_of(9000)));
    assert_eq!(a, Answer::Ok);
    let a = same_answer!(d, etcd, ectd, "put over a 10000-byte limit", |c| c
        .put(put_of(12_000)));
    assert_eq!(
        a,
        Answer::Err(
            Code::InvalidArgument,
            "etcdserver: request is too large".into()
        )
    );
    // The gRPC limit follows: --max-request-bytes plus 512 KiB.
    let a = same_answer!(d, etcd, ectd, "put over the gRPC limit", |c| c
        .put(put_of(600_000)));
    assert!(
        matches!(a, Answer::Err(Code::ResourceExhausted, _)),
        "{a:?}"
    );
    let a = same_answer!(d, etcd, ectd, "txn with 4 ops under --max-txn-ops 4", |c| c
        .txn(txn_puts(4)));
    assert_eq!(a, Answer::Ok);
    let a = same_answer!(d, etcd, ectd, "txn with 5 ops under --max-txn-ops 4", |c| c
        .txn(txn_puts(5)));
    assert_eq!(
        a,
        Answer::Err(
            Code::InvalidArgument,
            "etcdserver: too many operations in txn request".into()
        )
    );
    d.finish();
}

/// Sort enums outside the declared values. etcd 3.5 (the version ectd reports)
/// refuses them with `invalid sort option`. etcd 3.4 checks nothing: it ignores an
/// unknown order, and an unknown target makes it dereference a nil sorter and
/// crash, so these are not sent to the reference server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sort_options_are_refused() {
    let dir = TempDir::new().expect("temp dir");
    let mut ectd = Ectd::start(dir.path(), &[]);
    put_sentinel(&ectd).await;
    let invalid = Answer::Err(
        Code::InvalidArgument,
        "etcdserver: invalid sort option".into(),
    );
    for (order, target) in [
        (7, 0),
        (0, 7),
        (1, 7),
        (7, 1),
        (-1, 0),
        (0, -1),
        (3, 0),
        (0, 5),
        (i32::MAX, i32::MIN),
    ] {
        let mut c = kv(&ectd).await;
        let what = format!("range with sort_order {order}, sort_target {target}");
        let a = answer(
            within(
                10,
                &what,
                c.range(RangeRequest {
                    key: b"a".to_vec(),
                    range_end: vec![0],
                    sort_order: order,
                    sort_target: target,
                    ..Default::default()
                }),
            )
            .await,
        );
        assert_eq!(a, invalid, "{what}");
        assert_serves(&mut ectd, &what).await;
        let what = format!("{what} inside a txn");
        let a = answer(
            within(
                10,
                &what,
                c.txn(TxnRequest {
                    compare: vec![],
                    success: vec![RequestOp {
                        request: Some(request_op::Request::RequestRange(RangeRequest {
                            key: b"a".to_vec(),
                            sort_order: order,
                            sort_target: target,
                            ..Default::default()
                        })),
                    }],
                    failure: vec![],
                }),
            )
            .await,
        );
        assert_eq!(a, invalid, "{what}");
        assert_serves(&mut ectd, &what).await;
    }
}
