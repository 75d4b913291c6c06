//! Malformed and oversized requests: each must get etcd's error (code, and message
//! where etcd gives an `etcdserver: ...` one), and afterwards the server must still
//! be up and answer a Range correctly — never a crash, never a hang. Requests that
//! crash the reference etcd 3.4 are sent to ectd alone, which is held to what any
//! answer must satisfy.
//!
//! These talk to the servers through the generated tonic stubs and a raw byte
//! codec rather than the project's client, to control exactly what goes on the
//! wire (message sizes, enum values outside the declared ones, invalid protobuf).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Buf, BufMut};
use common::{within, Ectd, Etcd, Member};
use ectd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::{
    request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
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

/// A codec that sends and receives message bodies as raw bytes, to put invalid
/// protobuf on the wire.
#[derive(Default, Clone)]
struct RawCodec;

#[derive(Default, Clone)]
struct RawEncoder;

#[derive(Default, Clone)]
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

async fn raw_call(m: &Member, path: &'static str, body: Vec<u8>) -> Answer {
    let mut g = tonic::client::Grpc::new(channel(m).await);
    within(10, "waiting for the channel", g.ready())
        .await
        .expect("channel ready");
    let r = within(
        10,
        &format!("raw call to {path} on {:?}", m.kind()),
        g.unary(
            tonic::Request::new(body),
            PathAndQuery::from_static(path),
            RawCodec,
        ),
    )
    .await;
    answer(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_wire_is_refused_and_survived() {
    let Both {
        mut etcd,
        mut ectd,
        _dirs,
    } = start_both(&[]).await;
    const RANGE: &str = "/etcdserverpb.KV/Range";
    let mut d = Diffs::default();

    // Hand-made invalid protobuf, compared with etcd by code (the messages come
    // from two different protobuf libraries).
    let cases: Vec<(&str, &'static str, Vec<u8>)> = vec![
        ("invalid wire type 7", RANGE, vec![0xff; 16]),
        ("truncated varint", RANGE, vec![0x0a, 0x80]),
        ("length past the end", RANGE, vec![0x0a, 0x10, b'a']),
        ("bytes field sent as varint", RANGE, vec![0x08, 0x01]),
        ("field number 0", RANGE, vec![0x02, 0x01, b'a']),
        (
            "overlong varint",
            RANGE,
            vec![
                0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ),
        (
            "truncated put",
            "/etcdserverpb.KV/Put",
            vec![0x0a, 0x05, b'k', b'e'],
        ),
        (
            "truncated txn",
            "/etcdserverpb.KV/Txn",
            vec![0x12, 0x20, 0x12, 0x02],
        ),
        (
            "truncated compaction",
            "/etcdserverpb.KV/Compact",
            vec![0x08],
        ),
    ];
    for (what, path, body) in cases {
        let a = raw_call(&etcd, path, body.clone()).await;
        let b = raw_call(&ectd, path, body).await;
        let code = |x: &Answer| match x {
            Answer::Ok => None,
            Answer::Err(c, _) => Some(*c),
        };
        assert!(code(&a).is_some(), "{what}: etcd accepted it: {a:?}");
        if code(&a) != code(&b) {
            d.0.push(format!("{what}:\n  etcd: {a:?}\n  ectd: {b:?}"));
        }
        assert_serves(&mut etcd, what).await;
        assert_serves(&mut ectd, what).await;
    }

    // Valid protobuf that clients may legitimately send: compared exactly.
    let valid: Vec<(&str, &'static str, Vec<u8>)> = vec![
        ("empty body: an empty RangeRequest", RANGE, vec![]),
        ("unknown field 99 is skipped", RANGE, {
            let mut b = vec![0x0a, 0x08];
            b.extend_from_slice(SENTINEL_KEY);
            b.extend_from_slice(&[0x98, 0x06, 0x01]);
            b
        }),
        ("repeated key field: last one wins", RANGE, {
            let mut b = vec![0x0a, 0x01, b'z', 0x0a, 0x08];
            b.extend_from_slice(SENTINEL_KEY);
            b
        }),
    ];
    for (what, path, body) in valid {
        let a = raw_call(&etcd, path, body.clone()).await;
        let b = raw_call(&ectd, path, body).await;
        if a != b {
            d.0.push(format!("{what}:\n  etcd: {a:?}\n  ectd: {b:?}"));
        }
        assert_serves(&mut etcd, what).await;
        assert_serves(&mut ectd, what).await;
    }

    // Unknown methods and services.
    for path in ["/etcdserverpb.KV/Nope", "/etcdserverpb.Nope/Range"] {
        let a = raw_call(&etcd, path, vec![]).await;
        let b = raw_call(&ectd, path, vec![]).await;
        assert!(
            matches!(a, Answer::Err(Code::Unimplemented, _)),
            "{path} on etcd: {a:?}"
        );
        if !matches!(b, Answer::Err(Code::Unimplemented, _)) {
            d.0.push(format!("{path}:\n  etcd: {a:?}\n  ectd: {b:?}"));
        }
        assert_serves(&mut ectd, path).await;
    }

    // Random bytes as a Range body, to ectd only: random bytes can decode into a
    // RangeRequest with an unknown sort target, which crashes etcd 3.4. Any answer
    // will do as long as one comes and the server survives.
    let seed: u64 = rand::random();
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..50 {
        let len = rng.gen_range(1..200);
        let body: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let what = format!("random body #{i} (seed {seed}): {body:?}");
        let _ = raw_call(&ectd, RANGE, body).await;
        assert_serves(&mut ectd, &what).await;
    }

    // Garbage below gRPC: raw bytes on the TCP port, with and without the HTTP/2
    // connection preface.
    for (what, prefix) in [
        ("raw TCP garbage", &b""[..]),
        (
            "HTTP/2 preface then garbage",
            &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        ),
        (
            "HTTP/1.1 request line then garbage",
            &b"POST /etcdserverpb.KV/Range HTTP/1.1\r\n"[..],
        ),
    ] {
        let mut body = prefix.to_vec();
        body.extend((0..64 * 1024).map(|_| rng.gen::<u8>()));
        for m in [&mut etcd, &mut ectd] {
            let mut s = TcpStream::connect(("127.0.0.1", m.client_port())).expect("connecting");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            s.set_write_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            // The server may hang up mid-write; that is a fine answer.
            let _ = s.write_all(&body);
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            drop(s);
            assert_serves(m, what).await;
        }
    }
    d.finish();
}

/// A put with `ignore_value`/`ignore_lease` after a from-key delete (`range_end`
/// `"\0"`) covering its key, in one txn. etcd 3.4 checks such puts against the
/// state before the txn and relies on its duplicate-key check, which sees a
/// from-key delete as an empty interval, to rule out the delete; the put then
/// fails mid-apply and etcd panics. There is no reference answer to compare with,
/// so this holds ectd to what must be true of any answer: it comes promptly, it
/// refuses the txn whole (InvalidArgument, as both of etcd's candidate errors —
/// duplicate key, key not found — are), nothing is applied, and the member keeps
/// serving, also after a restart that replays its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_that_crashes_etcd_3_4_is_refused_and_survived() {
    let dir = TempDir::new().expect("temp dir");
    let mut ectd = Ectd::start(dir.path(), &[]);
    put_sentinel(&ectd).await;
    let mut c = kv(&ectd).await;
    let put = |key: &[u8], value: &[u8]| PutRequest {
        key: key.to_vec(),
        value: value.to_vec(),
        ..Default::default()
    };
    within(10, "seeding", c.put(put(b"t/a", b"1")))
        .await
        .expect("seeding");
    within(10, "seeding", c.put(put(b"t/b", b"2")))
        .await
        .expect("seeding");
    let before = within(
        10,
        "reading",
        c.range(RangeRequest {
            key: b"t/".to_vec(),
            range_end: b"t0".to_vec(),
            ..Default::default()
        }),
    )
    .await
    .expect("reading")
    .into_inner();

    let cases: Vec<(&str, PutRequest)> = vec![
        (
            "ignore_lease",
            PutRequest {
                ignore_lease: true,
                ..put(b"t/b", b"3")
            },
        ),
        (
            "ignore_value",
            PutRequest {
                ignore_value: true,
                ..put(b"t/b", b"")
            },
        ),
    ];
    for (what, p) in cases {
        let what = format!("txn: delete from t/ to the end, then put t/b with {what}");
        let t = TxnRequest {
            compare: vec![],
            success: vec![
                RequestOp {
                    request: Some(request_op::Request::RequestDeleteRange(
                        DeleteRangeRequest {
                            key: b"t/".to_vec(),
                            range_end: vec![0],
                            prev_kv: false,
                        },
                    )),
                },
                RequestOp {
                    request: Some(request_op::Request::RequestPut(p)),
                },
            ],
            failure: vec![],
        };
        let a = answer(within(15, &what, c.txn(t)).await);
        assert!(
            matches!(a, Answer::Err(Code::InvalidArgument, _)),
            "{what}: want the txn refused with InvalidArgument, got {a:?}\n{}",
            ectd.stderr_tail(30)
        );
        assert_serves(&mut ectd, &what).await;
        let mut c2 = kv(&ectd).await;
        let now = within(
            10,
            "reading",
            c2.range(RangeRequest {
                key: b"t/".to_vec(),
                range_end: b"t0".to_vec(),
                ..Default::default()
            }),
        )
        .await
        .expect("reading")
        .into_inner();
        assert_eq!(
            now.kvs, before.kvs,
            "{what}: a refused txn changed the store"
        );
    }
    ectd.restart();
    assert_serves(&mut ectd, "a restart after the txns").await;
}

/// Opens a Watch stream, sends `body` as its one request message, and says what
/// came back first: a response (`Ok`) or the status that ended the stream. The
/// stream's own end without an error counts as `Ok` too.
async fn raw_watch(m: &Member, body: Vec<u8>) -> Answer {
    let mut g = tonic::client::Grpc::new(channel(m).await);
    within(10, "waiting for the channel", g.ready())
        .await
        .expect("channel ready");
    let what = format!("raw watch on {:?}", m.kind());
    let opened = within(
        10,
        &what,
        g.streaming(
            tonic::Request::new(futures::stream::iter(vec![body])),
            PathAndQuery::from_static("/etcdserverpb.Watch/Watch"),
            RawCodec,
        ),
    )
    .await;
    let mut stream = match opened {
        Ok(r) => r.into_inner(),
        Err(s) => return Answer::Err(s.code(), s.message().to_string()),
    };
    match within(10, &what, stream.message()).await {
        Ok(_) => Answer::Ok,
        Err(s) => Answer::Err(s.code(), s.message().to_string()),
    }
}

/// The Watch service decodes its requests itself: invalid protobuf and an
/// oversized request are refused with etcd's codes, a valid request sent as raw
/// bytes is answered, and the member keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_a_watch_stream_is_refused_and_survived() {
    let Both {
        mut etcd,
        mut ectd,
        _dirs,
    } = start_both(&[]).await;
    let mut d = Diffs::default();
    // A create request for the sentinel key, as bytes: field 1 (create_request),
    // holding field 1 (key).
    let mut create = vec![
        0x0a,
        SENTINEL_KEY.len() as u8 + 2,
        0x0a,
        SENTINEL_KEY.len() as u8,
    ];
    create.extend_from_slice(SENTINEL_KEY);
    // The same with a 3 MiB key: past the default 1.5 MiB limit and its allowance.
    let big = 3 * MIB;
    let mut oversized = vec![0x0a];
    let mut inner = vec![0x0a];
    prost::encoding::encode_varint(big as u64, &mut inner);
    inner.resize(inner.len() + big, b'k');
    prost::encoding::encode_varint(inner.len() as u64, &mut oversized);
    oversized.extend(inner);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid wire type 7", vec![0xff; 16]),
        ("truncated create request", vec![0x0a, 0x10, 0x0a]),
        ("oversized create request", oversized),
        ("valid create request as raw bytes", create),
    ];
    for (what, body) in cases {
        let a = raw_watch(&etcd, body.clone()).await;
        let b = raw_watch(&ectd, body).await;
        let code = |x: &Answer| match x {
            Answer::Ok => None,
            Answer::Err(c, _) => Some(*c),
        };
        if code(&a) != code(&b) {
            d.0.push(format!("{what}:\n  etcd: {a:?}\n  ectd: {b:?}"));
        }
        assert_serves(&mut etcd, what).await;
        assert_serves(&mut ectd, what).await;
    }
    // An unknown method of the Watch service.
    let path = "/etcdserverpb.Watch/Nope";
    let a = raw_call(&etcd, path, vec![]).await;
    let b = raw_call(&ectd, path, vec![]).await;
    assert!(
        matches!(a, Answer::Err(Code::Unimplemented, _)),
        "{path} on etcd: {a:?}"
    );
    if !matches!(b, Answer::Err(Code::Unimplemented, _)) {
        d.0.push(format!("{path}:\n  etcd: {a:?}\n  ectd: {b:?}"));
    }
    assert_serves(&mut ectd, path).await;
    d.finish();
}
