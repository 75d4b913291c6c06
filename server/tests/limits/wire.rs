//! Bytes no client library would send: invalid protobuf, truncated or oversized
//! messages, unknown methods, on unary calls and on the Watch stream.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::{Code, Status};

use super::common::{within, Member};
use super::*;

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

/// Calls the method at `path`, which neither server has, on both: etcd answers
/// `Unimplemented` and ectd must too (a difference goes to `d`), and still serve.
async fn unknown_method(etcd: &Member, ectd: &mut Member, path: &'static str, d: &mut Diffs) {
    let a = raw_call(etcd, path, vec![]).await;
    let b = raw_call(ectd, path, vec![]).await;
    assert!(
        matches!(a, Answer::Err(Code::Unimplemented, _)),
        "{path} on etcd: {a:?}"
    );
    if !matches!(b, Answer::Err(Code::Unimplemented, _)) {
        d.0.push(format!("{path}:\n  etcd: {a:?}\n  ectd: {b:?}"));
    }
    assert_serves(ectd, path).await;
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
        unknown_method(&etcd, &mut ectd, path, &mut d).await;
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
    let before = range_t(&mut c).await;

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
        let now = range_t(&mut c2).await;
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
    unknown_method(&etcd, &mut ectd, "/etcdserverpb.Watch/Nope", &mut d).await;
    d.finish();
}

/// Every key under `t/`, as the txn tests above read them before and after.
async fn range_t(c: &mut KvClient<Channel>) -> ectd_proto::etcdserverpb::RangeResponse {
    within(
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
    .into_inner()
}
