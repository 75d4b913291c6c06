//! Alarms, the backend quota and the corruption checks, across processes.
//!
//! - `differential.rs`: the same Alarm calls, and the requests refused or let
//!   through while NOSPACE or CORRUPT is raised, sent to real etcd 3.4 and to
//!   ectd (single members); the answers must be the same.
//! - `nospace.rs`: a 3-member ectd cluster where one member has a small quota is
//!   filled until that member raises NOSPACE; every member then refuses writes,
//!   and after compaction, defragmentation and `etcdctl alarm disarm` takes them
//!   again. etcdctl 3.4's `alarm list`, `alarm disarm` and `endpoint status`.
//! - `corrupt.rs`: one member's RocksDB state changed behind its back; the
//!   start-up check refuses to start it and the leader's periodic check raises
//!   CORRUPT.
//! - `compact_hash.rs`: the compaction-hash check raises CORRUPT after a
//!   compaction covers a follower's changed history, and nothing while members'
//!   histories agree, their deletions still under way or not.
//!
//! The tests run one at a time (each starts its own servers).

#[path = "../common/mod.rs"]
mod common;

mod compact_hash;
mod corrupt;
mod differential;
mod nospace;

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::alarm_request::AlarmAction;
use ectd_client::proto::etcdserverpb::{AlarmRequest, AlarmType, PutRequest};
use ectd_client::{Client, ConnectOptions};
use tonic::Code;

use common::{Cluster, Member};

/// Runs one test on its own runtime, after every other test of this file.
pub(crate) fn run(test: impl Future<Output = ()>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test);
}

/// A client of the member at `endpoint`.
pub(crate) async fn connect(endpoint: &str) -> Client {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(10),
    };
    Client::connect_with(&[endpoint.to_string()], options)
        .await
        .unwrap_or_else(|e| panic!("connecting to {endpoint}: {e}"))
}

/// A call's outcome in a form both servers can be compared on.
pub(crate) fn outcome<T>(
    r: Result<tonic::Response<T>, tonic::Status>,
    ok: impl FnOnce(T) -> String,
) -> String {
    match r {
        Ok(resp) => format!("ok {}", ok(resp.into_inner())),
        Err(s) => format!("error {:?} {:?}", s.code(), s.message()),
    }
}

/// The raised alarms as (member id, type), through `c`.
pub(crate) async fn raised_alarms(c: &Client) -> Vec<(u64, i32)> {
    let r = c
        .maintenance()
        .alarm(AlarmRequest {
            action: AlarmAction::Get as i32,
            member_id: 0,
            alarm: AlarmType::None as i32,
        })
        .await
        .expect("alarm list")
        .into_inner();
    r.alarms.iter().map(|m| (m.member_id, m.alarm)).collect()
}

/// Every member's log so far, one after the other.
pub(crate) fn all_logs(cl: &Cluster) -> String {
    cl.members
        .iter()
        .map(|m| std::fs::read_to_string(m.log_path()).unwrap_or_default())
        .collect()
}

/// Waits (up to 10 s) until `m` refuses a put as etcd does under CORRUPT, and
/// returns the client that saw it.
pub(crate) async fn refuses_writes_as_corrupt(m: &Member) -> Client {
    let c = connect(&m.endpoint()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c
            .kv()
            .put(PutRequest {
                key: b"after".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            })
            .await;
        match r {
            Err(s) if s.code() == Code::DataLoss => {
                assert_eq!(s.message(), "etcdserver: corrupt cluster");
                return c;
            }
            other => assert!(
                Instant::now() < deadline,
                "{}: put answered {other:?}",
                m.name()
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
