//! NOSPACE in a 3-member cluster, and etcdctl 3.4's alarm commands.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::alarm_request::AlarmAction;
use ectd_client::proto::etcdserverpb::{
    request_op, AlarmRequest, AlarmType, CompactionRequest, DefragmentRequest, DeleteRangeRequest,
    LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, StatusRequest, TxnRequest,
};
use ectd_client::Client;
use tempfile::TempDir;
use tonic::Code;

use crate::common::{
    require_etcd_binary, wait_output, Cluster, Ectd, Etcd, Kind, CTL_TIMEOUT, ETCDCTL,
};
use crate::{connect, raised_alarms, run};

/// The small quota of one member: 4 MiB.
const QUOTA: &str = "4194304";
const NO_SPACE: &str = "etcdserver: mvcc: database space exceeded";

fn etcdctl(endpoints: &[String], args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(require_etcd_binary(ETCDCTL));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ETCDCTL_") {
            cmd.env_remove(&k);
        }
    }
    let child = cmd
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["--dial-timeout=5s", "--command-timeout=10s"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning etcdctl");
    let (status, out, err) = wait_output(child, CTL_TIMEOUT, &format!("etcdctl {args:?}"));
    (
        status.code(),
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

async fn member_id(c: &Client) -> u64 {
    let s = c
        .maintenance()
        .status(StatusRequest {})
        .await
        .expect("status")
        .into_inner();
    s.header.map_or(0, |h| h.member_id)
}

async fn leader_index(clients: &[Client], ids: &[u64]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(s) = clients[0].maintenance().status(StatusRequest {}).await {
            let leader = s.into_inner().leader;
            if let Some(i) = ids.iter().position(|id| *id == leader) {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn put(k: &str, v: &[u8]) -> PutRequest {
    PutRequest {
        key: k.as_bytes().to_vec(),
        value: v.to_vec(),
        ..Default::default()
    }
}

fn expect_nospace<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, what: &str) {
    match r {
        Err(s) if s.code() == Code::ResourceExhausted && s.message() == NO_SPACE => {}
        other => panic!("{what}: expected {NO_SPACE:?}, got {other:?}"),
    }
}

/// A follower with a 4 MiB quota, the others with etcd's default: writes through
/// the leader fill the follower until applying one no longer fits; it raises
/// NOSPACE for itself, and from then on every member refuses puts, txns with
/// puts and lease grants, while reads, deletes and compaction work. Compaction,
/// defragmentation and `etcdctl alarm disarm` bring writes back.
#[test]
fn a_full_member_raises_nospace_for_the_whole_cluster() {
    run(async {
        let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
        let mut clients = Vec::new();
        for m in &cl.members {
            clients.push(connect(&m.endpoint()).await);
        }
        let mut ids = Vec::new();
        for c in &clients {
            ids.push(member_id(c).await);
        }
        let leader = leader_index(&clients, &ids).await;
        let small = (leader + 1) % 3;
        // The follower comes back on its data with the small quota.
        cl.members[small].kill9();
        let mut cfg = cl.config(
            cl.members[small].name(),
            cl.members[small].ports(),
            &cl.initial_cluster_of(&[0, 1, 2]),
            "new",
        );
        cfg.extra_args = vec!["--quota-backend-bytes".into(), QUOTA.into()];
        cl.members[small] = cl.new_member(&cfg);
        cl.members[small].launch();
        cl.members[small].wait_ready(Duration::from_secs(30));
        clients[small] = connect(&cl.members[small].endpoint()).await;
        let writer = &clients[leader];

        let value = vec![b'x'; 64 << 10];
        let mut refused = None;
        for i in 0..400 {
            match writer.kv().put(put(&format!("fill/{i:04}"), &value)).await {
                Ok(_) => {}
                Err(s) => {
                    refused = Some((i, s));
                    break;
                }
            }
        }
        let (i, status) = refused.expect("400 puts of 64 KiB never filled a 4 MiB quota");
        assert_eq!(
            status.code(),
            Code::ResourceExhausted,
            "put {i}: {status:?}"
        );
        assert_eq!(status.message(), NO_SPACE, "put {i}");

        // Every member lists the alarm, raised by the small member for itself.
        for (n, c) in clients.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got = raised_alarms(c).await;
                if got == vec![(ids[small], AlarmType::Nospace as i32)] {
                    break;
                }
                assert!(Instant::now() < deadline, "member {n} lists {got:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let s = c
                .maintenance()
                .status(StatusRequest {})
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                s.errors,
                vec![format!("memberID:{} alarm:NOSPACE ", ids[small])],
                "member {n}"
            );
        }
        // Writes are refused on every member; reads and deletes work.
        for (n, c) in clients.iter().enumerate() {
            expect_nospace(c.kv().put(put("k", b"v")).await, &format!("put on {n}"));
            let txn = TxnRequest {
                compare: vec![],
                success: vec![RequestOp {
                    request: Some(request_op::Request::RequestPut(put("t", b"v"))),
                }],
                failure: vec![],
            };
            expect_nospace(c.kv().txn(txn).await, &format!("txn on {n}"));
            let grant = LeaseGrantRequest { ttl: 60, id: 0 };
            expect_nospace(c.lease().lease_grant(grant).await, &format!("grant on {n}"));
            let r = c
                .kv()
                .range(RangeRequest {
                    key: b"fill/0000".to_vec(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("get on {n}: {e}"))
                .into_inner();
            assert_eq!(r.count, 1, "get on {n}");
        }
        let (code, out, err) = etcdctl(&cl.endpoints(), &["alarm", "list"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, format!("memberID:{} alarm:NOSPACE \n", ids[small]));
        let (code, out, err) = etcdctl(&cl.endpoints(), &["endpoint", "status", "-w", "json"]);
        assert_eq!(code, Some(0), "{err}");
        let statuses: serde_json::Value = serde_json::from_str(&out).expect("json status");
        for s in statuses.as_array().expect("a list") {
            assert_eq!(
                s["Status"]["errors"],
                serde_json::json!([format!("memberID:{} alarm:NOSPACE ", ids[small])]),
                "{s}"
            );
        }
        let (code, out, err) = etcdctl(&cl.endpoints(), &["endpoint", "status"]);
        assert_eq!(code, Some(0), "{err}");
        for line in out.lines() {
            assert!(
                line.ends_with(&format!(", memberID:{} alarm:NOSPACE ", ids[small])),
                "{line}"
            );
        }

        // Make room: delete everything, compact, defragment every member.
        let del = writer
            .kv()
            .delete_range(DeleteRangeRequest {
                key: b"fill/".to_vec(),
                range_end: b"fill0".to_vec(),
                ..Default::default()
            })
            .await
            .expect("delete under NOSPACE")
            .into_inner();
        assert_eq!(del.deleted, i as i64);
        let rev = del.header.map_or(0, |h| h.revision);
        writer
            .kv()
            .compact(CompactionRequest {
                revision: rev,
                physical: true,
            })
            .await
            .expect("compaction under NOSPACE");
        for c in &clients {
            c.maintenance()
                .defragment(DefragmentRequest {})
                .await
                .expect("defragment");
        }
        let size = clients[small]
            .maintenance()
            .status(StatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .db_size;
        assert!(size < 4 << 20, "defragmented size {size}");
        // Still capped until the alarm is disarmed.
        expect_nospace(writer.kv().put(put("k", b"v")).await, "put before disarm");
        let (code, out, err) = etcdctl(&cl.endpoints(), &["alarm", "disarm"]);
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, format!("memberID:{} alarm:NOSPACE \n", ids[small]));
        for (n, c) in clients.iter().enumerate() {
            assert!(
                raised_alarms(c).await.is_empty(),
                "member {n} still lists alarms"
            );
            c.kv()
                .put(put("after", b"v"))
                .await
                .unwrap_or_else(|e| panic!("put on {n} after disarm: {e}"));
        }
        let (code, out, err) = etcdctl(&cl.endpoints(), &["alarm", "list"]);
        assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");
    });
}

/// etcdctl's `alarm list`, `alarm disarm` and `endpoint status` print the same
/// for etcd 3.4 and ectd with NOSPACE raised (member ids masked).
#[test]
fn etcdctl_alarm_commands_print_as_for_etcd() {
    run(async {
        let etcd_dir = TempDir::new().unwrap();
        let ectd_dir = TempDir::new().unwrap();
        let etcd = Etcd::start_with(etcd_dir.path(), &[]);
        let ectd = Ectd::start(ectd_dir.path(), &[]);
        let mut shown = Vec::new();
        for m in [&etcd, &ectd] {
            let c = connect(&m.endpoint()).await;
            let id = member_id(&c).await;
            c.maintenance()
                .alarm(AlarmRequest {
                    action: AlarmAction::Activate as i32,
                    member_id: id,
                    alarm: AlarmType::Nospace as i32,
                })
                .await
                .expect("raise NOSPACE");
            let mask = |s: String| {
                s.replace(&id.to_string(), "<id>")
                    .replace(&format!("{id:x}"), "<hex-id>")
            };
            let eps = [m.endpoint()];
            let mut outputs = Vec::new();
            for args in [
                &["alarm", "list"][..],
                &["put", "k", "v"],
                &["endpoint", "status", "-w", "fields"],
                &["alarm", "disarm"],
                &["alarm", "disarm"],
                &["alarm", "list"],
                &["put", "k", "v"],
            ] {
                let (code, out, err) = etcdctl(&eps, args);
                let messages: Vec<String> = err
                    .lines()
                    .filter(|l| !l.starts_with("{\"level\""))
                    .map(str::to_string)
                    .collect();
                let out = if args[0] == "endpoint" {
                    // Sizes, versions, indexes and terms differ; the errors line is
                    // what is compared.
                    out.lines()
                        .filter(|l| l.starts_with("\"Errors\""))
                        .collect::<Vec<_>>()
                        .join("\n")
                } else {
                    out
                };
                outputs.push(format!(
                    "{args:?}: exit {code:?}\n{}\n{messages:?}",
                    mask(out)
                ));
            }
            shown.push(outputs);
        }
        assert_eq!(shown[0], shown[1], "etcd (left) and ectd (right) differ");
    });
}
