//! The peer port trusts nothing it is sent. A process that is not a member but
//! knows the cluster id (every client response header carries it) forges raft
//! messages and snapshot streams against a running 3-member cluster: snapshots
//! naming directories outside the data dir, file names that climb out of it,
//! absurd terms and commit indexes, garbage and oversized frames, a wrong cluster
//! token. Afterwards no directory outside the data dirs has been touched, every
//! member keeps every key, and the cluster keeps serving writes.
//!
//! Unknown paths on the client port answer 404, as on etcd.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{http_get, Cluster, Kind};
use ectd_client::proto::etcdserverpb::{PutRequest, RangeRequest, StatusRequest};
use ectd_client::Client;
use ectd_proto::peer::peer_client::PeerClient;
use ectd_proto::peer::{MembersRequest, MessageBatch, SnapshotChunk, SnapshotFile};
use protobuf::Message as _;
use raft::prelude::{Message, MessageType};
use tonic::Code;

const KEYS: usize = 20;

fn raft_msg(t: MessageType, from: u64, to: u64) -> Message {
    let mut m = Message::default();
    m.set_msg_type(t);
    m.from = from;
    m.to = to;
    m.term = 1;
    m
}

fn snapshot_msg(from: u64, to: u64, data: &str) -> Message {
    let mut m = raft_msg(MessageType::MsgSnapshot, from, to);
    m.term = 1 << 20;
    let snap = m.mut_snapshot();
    snap.data = data.as_bytes().to_vec().into();
    snap.mut_metadata().index = 1 << 30;
    snap.mut_metadata().term = 1 << 20;
    m
}

async fn peer_client(port: u16) -> PeerClient<tonic::transport::Channel> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .expect("dialing the peer port");
    PeerClient::new(ch)
        .max_encoding_message_size(usize::MAX)
        .max_decoding_message_size(usize::MAX)
}

async fn send_batch(port: u16, batch: MessageBatch) -> tonic::Status {
    let mut c = peer_client(port).await;
    match tokio::time::timeout(
        Duration::from_secs(10),
        c.stream(futures::stream::iter(vec![batch])),
    )
    .await
    .expect("the peer port answers a forged batch")
    {
        Ok(_) => panic!("a forged batch was accepted"),
        Err(s) => s,
    }
}

async fn send_snapshot(port: u16, chunks: Vec<SnapshotChunk>) -> tonic::Status {
    let mut c = peer_client(port).await;
    match tokio::time::timeout(
        Duration::from_secs(10),
        c.snapshot(futures::stream::iter(chunks)),
    )
    .await
    .expect("the peer port answers a forged snapshot")
    {
        Ok(_) => panic!("a forged snapshot was accepted"),
        Err(s) => s,
    }
}

fn chunk(
    cluster_id: u64,
    from: u64,
    to: u64,
    m: &Message,
    files: Vec<SnapshotFile>,
) -> SnapshotChunk {
    SnapshotChunk {
        cluster_id,
        from,
        to,
        message: m.write_to_bytes().unwrap(),
        file: String::new(),
        data: Vec::new(),
        files,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_peer_traffic_is_refused_and_loses_nothing() {
    let cluster = Cluster::start(Kind::Ectd, 3, &[]);
    let endpoints = cluster.endpoints();
    let mut clients = Vec::new();
    for e in &endpoints {
        clients.push(
            Client::connect(std::slice::from_ref(e))
                .await
                .expect("connect"),
        );
    }
    for i in 0..KEYS {
        clients[i % 3]
            .put(PutRequest {
                key: format!("k{i:03}").into_bytes(),
                value: b"v".to_vec(),
                ..Default::default()
            })
            .await
            .expect("put");
    }
    let mut ids = Vec::new();
    let mut cluster_id = 0;
    for c in &clients {
        let s = c
            .maintenance()
            .status(StatusRequest {})
            .await
            .unwrap()
            .into_inner();
        let h = s.header.unwrap();
        ids.push(h.member_id);
        cluster_id = h.cluster_id;
    }
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("precious"), b"keep me").unwrap();
    let victim_path = victim.path().display().to_string();
    let outsider = 0xdead_beef_u64;
    let target = &cluster.members[0];
    let port = target.ports().peer;
    let me = ids[0];

    // A snapshot message on the stream, from a non-member, naming the victim.
    let m = snapshot_msg(outsider, me, &victim_path);
    let s = send_batch(
        port,
        MessageBatch {
            cluster_id,
            from: outsider,
            to: me,
            messages: vec![m.write_to_bytes().unwrap()],
        },
    )
    .await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");

    // The same claiming to be a member: a snapshot never travels on the stream.
    let m = snapshot_msg(ids[1], me, &victim_path);
    let s = send_batch(
        port,
        MessageBatch {
            cluster_id,
            from: ids[1],
            to: me,
            messages: vec![m.write_to_bytes().unwrap()],
        },
    )
    .await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");

    // Absurd terms and commit indexes, from an outsider and from a member's id.
    for from in [outsider, ids[1]] {
        let mut hb = raft_msg(MessageType::MsgHeartbeat, from, me);
        hb.term = u64::MAX;
        hb.commit = u64::MAX;
        let s = send_batch(
            port,
            MessageBatch {
                cluster_id,
                from,
                to: me,
                messages: vec![hb.write_to_bytes().unwrap()],
            },
        )
        .await;
        assert!(
            matches!(s.code(), Code::PermissionDenied | Code::InvalidArgument),
            "{s:?}"
        );
    }
    // Local-only raft signals (a forged MsgHup would start an election).
    let hup = raft_msg(MessageType::MsgHup, ids[1], me);
    let s = send_batch(
        port,
        MessageBatch {
            cluster_id,
            from: ids[1],
            to: me,
            messages: vec![hup.write_to_bytes().unwrap()],
        },
    )
    .await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    // Another cluster, another recipient, garbage.
    let ok_msg = raft_msg(MessageType::MsgHeartbeatResponse, ids[1], me)
        .write_to_bytes()
        .unwrap();
    for (cid, to, raw) in [
        (cluster_id ^ 1, me, ok_msg.clone()),
        (cluster_id, me ^ 1, ok_msg.clone()),
        (cluster_id, me, vec![0xff; 64]),
    ] {
        let s = send_batch(
            port,
            MessageBatch {
                cluster_id: cid,
                from: ids[1],
                to,
                messages: vec![raw],
            },
        )
        .await;
        assert_ne!(s.code(), Code::Ok, "{s:?}");
    }
    // An oversized batch is refused before it is decoded.
    let s = send_batch(
        port,
        MessageBatch {
            cluster_id,
            from: ids[1],
            to: me,
            messages: vec![vec![0u8; 40 << 20]],
        },
    )
    .await;
    assert!(
        matches!(s.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{s:?}"
    );

    // Snapshot streams: from an outsider; from a member's id with file names that
    // leave the directory or sizes past the bound.
    let m = snapshot_msg(outsider, me, &victim_path);
    let s = send_snapshot(port, vec![chunk(cluster_id, outsider, me, &m, Vec::new())]).await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    let m = snapshot_msg(ids[1], me, &victim_path);
    for name in ["../../../escape", "/etc/passwd", "..", ""] {
        let files = vec![SnapshotFile {
            name: name.into(),
            size: 1,
            crc32: 0,
        }];
        let mut first = chunk(cluster_id, ids[1], me, &m, files);
        first.file = name.into();
        first.data = b"x".to_vec();
        let s = send_snapshot(port, vec![first]).await;
        assert_eq!(s.code(), Code::InvalidArgument, "{name:?}: {s:?}");
    }
    let huge = vec![SnapshotFile {
        name: "kv.sst".into(),
        size: 1 << 50,
        crc32: 0,
    }];
    let s = send_snapshot(port, vec![chunk(cluster_id, ids[1], me, &m, huge)]).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    // A file that grows past its listed size is cut off at once.
    let listed = vec![SnapshotFile {
        name: "kv.sst".into(),
        size: 4,
        crc32: 0,
    }];
    let mut chunks = vec![chunk(cluster_id, ids[1], me, &m, listed)];
    chunks.push(SnapshotChunk {
        file: "kv.sst".into(),
        data: vec![0u8; 1 << 20],
        ..chunks[0].clone()
    });
    let s = send_snapshot(port, chunks).await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");

    // Raw garbage on the peer port.
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = tcp.write_all(&[0x55; 4096]);
    let mut sink = Vec::new();
    let _ = tcp.read_to_end(&mut sink);

    // A wrong cluster token is refused without being told the right one.
    let s = peer_client(port)
        .await
        .members(MembersRequest {
            cluster_token: "guess".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::FailedPrecondition);
    assert!(!s.message().contains(cluster.token()), "{}", s.message());

    // Nothing outside the data dirs was touched; every member keeps every key and
    // the cluster still takes writes.
    assert_eq!(
        std::fs::read(victim.path().join("precious")).unwrap(),
        b"keep me"
    );
    clients[0]
        .put(PutRequest {
            key: b"after".to_vec(),
            value: b"ok".to_vec(),
            ..Default::default()
        })
        .await
        .expect("a put after the forgeries");
    for c in &clients {
        let r = c
            .range(RangeRequest {
                key: b"\0".to_vec(),
                range_end: b"\0".to_vec(),
                count_only: true,
                ..Default::default()
            })
            .await
            .expect("range");
        assert_eq!(r.count, KEYS as i64 + 1, "{}", c.endpoint());
    }
}

#[test]
fn unknown_client_paths_answer_404() {
    let cluster = Cluster::start(Kind::Ectd, 1, &[]);
    let port = cluster.members[0].ports().client;
    // The binary users run has no failpoints endpoint.
    for path in [
        "/metrics-nope",
        "/v2/keys-nope",
        "/nothing/here",
        "/debug/failpoints",
        "/debug/failpoints/wal_before_sync",
    ] {
        let (status, body) = http_get(port, path, Duration::from_secs(5)).unwrap();
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body, "404 page not found\n", "{path}");
    }
    // Under /v3/ the JSON gateway answers, with its own 404 as etcd's gateway.
    let (status, body) = http_get(port, "/v3/kv/nope", Duration::from_secs(5)).unwrap();
    assert_eq!((status, body.as_str()), (404, "Not Found\n"));
    let (status, _) = http_get(port, "/health", Duration::from_secs(5)).unwrap();
    assert_eq!(status, 200);
}
