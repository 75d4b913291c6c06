//! Alarm calls and the requests made while an alarm is raised, against real
//! etcd 3.4 and ectd: the same answers, code and message included. Member ids
//! differ between the two, so the member's own id is shown as `SELF`.

use ectd_client::proto::etcdserverpb::alarm_request::AlarmAction;
use ectd_client::proto::etcdserverpb::{
    request_op, AlarmRequest, AlarmResponse, CompactionRequest, DeleteRangeRequest,
    LeaseGrantRequest, LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, StatusRequest,
    TxnRequest,
};
use ectd_client::Client;
use tempfile::TempDir;

use crate::common::{Ectd, Etcd, Member};
use crate::{connect, outcome, run};

/// One server under test, with its own member id.
struct Side {
    _member: Member,
    _dir: TempDir,
    client: Client,
    id: u64,
}

impl Side {
    async fn start(etcd: bool) -> Side {
        let dir = TempDir::new().expect("temp dir");
        let member = if etcd {
            Etcd::start_with(dir.path(), &[])
        } else {
            // Compared with etcd 3.4, ectd reports that release (3.5 and later
            // put a header on alarm answers).
            Ectd::start(dir.path(), &["--etcd-version=3.4.23"])
        };
        let client = connect(&member.endpoint()).await;
        let status = client
            .maintenance()
            .status(StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        let id = status.header.map_or(0, |h| h.member_id);
        Side {
            _member: member,
            _dir: dir,
            client,
            id,
        }
    }

    fn alarms(&self, r: AlarmResponse) -> String {
        let mut items: Vec<String> = r
            .alarms
            .iter()
            .map(|m| {
                let who = if m.member_id == self.id && m.member_id != 0 {
                    "SELF".to_string()
                } else {
                    m.member_id.to_string()
                };
                format!("{who}:{}", m.alarm)
            })
            .collect();
        // etcd lists alarms in Go's map order.
        items.sort();
        format!("header={} alarms=[{}]", r.header.is_some(), items.join(","))
    }

    /// Runs `call` and renders its outcome; `SELF` in a member id position is
    /// this side's id.
    async fn call(&self, call: &Call) -> String {
        let c = &self.client;
        let member = |m: u64| if m == SELF { self.id } else { m };
        match call {
            Call::Alarm(action, m, alarm) => {
                let req = AlarmRequest {
                    action: *action,
                    member_id: member(*m),
                    alarm: *alarm,
                };
                outcome(c.maintenance().alarm(req).await, |r| self.alarms(r))
            }
            Call::StatusErrors => outcome(c.maintenance().status(StatusRequest {}).await, |r| {
                let self_text = format!("memberID:{} ", self.id);
                let errs: Vec<String> = r
                    .errors
                    .iter()
                    .map(|e| e.replace(&self_text, "memberID:SELF "))
                    .collect();
                format!("errors={errs:?}")
            }),
            Call::Put(k) => {
                let req = PutRequest {
                    key: k.as_bytes().to_vec(),
                    value: b"v".to_vec(),
                    ..Default::default()
                };
                outcome(c.kv().put(req).await, |r| {
                    format!("rev={}", r.header.map_or(0, |h| h.revision))
                })
            }
            Call::Txn(t) => outcome(c.kv().txn(t.clone()).await, |r| {
                format!(
                    "succeeded={} rev={} responses={}",
                    r.succeeded,
                    r.header.map_or(0, |h| h.revision),
                    r.responses.len()
                )
            }),
            Call::Delete(k) => {
                let req = DeleteRangeRequest {
                    key: k.as_bytes().to_vec(),
                    ..Default::default()
                };
                outcome(c.kv().delete_range(req).await, |r| {
                    format!(
                        "deleted={} rev={}",
                        r.deleted,
                        r.header.map_or(0, |h| h.revision)
                    )
                })
            }
            Call::Range(k, serializable) => {
                let req = RangeRequest {
                    key: k.as_bytes().to_vec(),
                    serializable: *serializable,
                    ..Default::default()
                };
                outcome(c.kv().range(req).await, |r| {
                    format!(
                        "count={} rev={}",
                        r.count,
                        r.header.map_or(0, |h| h.revision)
                    )
                })
            }
            Call::Compact(rev) => {
                let req = CompactionRequest {
                    revision: *rev,
                    physical: false,
                };
                outcome(c.kv().compact(req).await, |_| "compacted".to_string())
            }
            Call::LeaseGrant(id) => {
                let req = LeaseGrantRequest { ttl: 60, id: *id };
                let asked = *id;
                outcome(c.lease().lease_grant(req).await, |r| {
                    let id = if asked == 0 {
                        "picked".to_string()
                    } else {
                        r.id.to_string()
                    };
                    format!("id={id} ttl={} error={:?}", r.ttl, r.error)
                })
            }
            Call::LeaseRevoke(id) => {
                let req = LeaseRevokeRequest { id: *id };
                outcome(c.lease().lease_revoke(req).await, |_| "revoked".to_string())
            }
        }
    }
}

/// Stands for the member's own id.
const SELF: u64 = u64::MAX;

enum Call {
    Alarm(i32, u64, i32),
    StatusErrors,
    Put(&'static str),
    Txn(TxnRequest),
    Delete(&'static str),
    Range(&'static str, bool),
    Compact(i64),
    LeaseGrant(i64),
    LeaseRevoke(i64),
}

const GET: i32 = AlarmAction::Get as i32;
const ACTIVATE: i32 = AlarmAction::Activate as i32;
const DEACTIVATE: i32 = AlarmAction::Deactivate as i32;
const NONE: i32 = 0;
const NOSPACE: i32 = 1;
const CORRUPT: i32 = 2;

fn put_op(k: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: k.as_bytes().to_vec(),
            value: b"t".to_vec(),
            ..Default::default()
        })),
    }
}

fn delete_op(k: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(
            DeleteRangeRequest {
                key: k.as_bytes().to_vec(),
                ..Default::default()
            },
        )),
    }
}

fn range_op(k: &str) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(RangeRequest {
            key: k.as_bytes().to_vec(),
            ..Default::default()
        })),
    }
}

/// The writes and reads tried while an alarm is raised.
fn under_alarm(tag: &'static str) -> Vec<(String, Call)> {
    let txn = |success: Vec<RequestOp>, failure: Vec<RequestOp>| TxnRequest {
        compare: vec![],
        success,
        failure,
    };
    let nested = RequestOp {
        request: Some(request_op::Request::RequestTxn(txn(
            vec![put_op("n")],
            vec![],
        ))),
    };
    vec![
        (format!("{tag}: put"), Call::Put("k")),
        (
            format!("{tag}: txn with a put"),
            Call::Txn(txn(vec![put_op("t")], vec![])),
        ),
        (
            format!("{tag}: txn with a put in the failure branch"),
            Call::Txn(txn(vec![range_op("a")], vec![put_op("t")])),
        ),
        (
            format!("{tag}: txn with a delete"),
            Call::Txn(txn(vec![delete_op("zz")], vec![])),
        ),
        (
            format!("{tag}: read-only txn"),
            Call::Txn(txn(vec![range_op("a")], vec![])),
        ),
        (
            format!("{tag}: txn with a nested put"),
            Call::Txn(txn(vec![nested], vec![])),
        ),
        (format!("{tag}: lease grant"), Call::LeaseGrant(0)),
        (
            format!("{tag}: lease revoke of no lease"),
            Call::LeaseRevoke(12345),
        ),
        (format!("{tag}: delete"), Call::Delete("a")),
        (format!("{tag}: range"), Call::Range("a", false)),
        (format!("{tag}: serializable range"), Call::Range("a", true)),
        (format!("{tag}: compact"), Call::Compact(1)),
        (format!("{tag}: status"), Call::StatusErrors),
        (format!("{tag}: alarm list"), Call::Alarm(GET, 0, NONE)),
    ]
}

fn script() -> Vec<(String, Call)> {
    let mut s: Vec<(String, Call)> = vec![
        ("list, nothing raised".into(), Call::Alarm(GET, 0, NONE)),
        ("status, nothing raised".into(), Call::StatusErrors),
        ("put before".into(), Call::Put("a")),
        ("lease grant before".into(), Call::LeaseGrant(777)),
        (
            "clear NOSPACE not raised".into(),
            Call::Alarm(DEACTIVATE, SELF, NOSPACE),
        ),
        (
            "clear CORRUPT not raised".into(),
            Call::Alarm(DEACTIVATE, 0, CORRUPT),
        ),
        ("raise NONE".into(), Call::Alarm(ACTIVATE, SELF, NONE)),
        ("list after raising NONE".into(), Call::Alarm(GET, 0, NONE)),
        ("status with NONE raised".into(), Call::StatusErrors),
        ("put with NONE raised".into(), Call::Put("b")),
        ("clear NONE".into(), Call::Alarm(DEACTIVATE, SELF, NONE)),
        ("raise an unknown type".into(), Call::Alarm(ACTIVATE, 5, 9)),
        ("list the unknown type".into(), Call::Alarm(GET, 0, 9)),
        ("status with an unknown type".into(), Call::StatusErrors),
        (
            "clear the unknown type".into(),
            Call::Alarm(DEACTIVATE, 5, 9),
        ),
        ("raise NOSPACE".into(), Call::Alarm(ACTIVATE, SELF, NOSPACE)),
        (
            "raise NOSPACE again".into(),
            Call::Alarm(ACTIVATE, SELF, NOSPACE),
        ),
        ("list NOSPACE".into(), Call::Alarm(GET, 0, NOSPACE)),
        ("list CORRUPT".into(), Call::Alarm(GET, 0, CORRUPT)),
    ];
    s.extend(under_alarm("NOSPACE"));
    s.extend([
        (
            "raise NOSPACE for another member".into(),
            Call::Alarm(ACTIVATE, 99, NOSPACE),
        ),
        (
            "clear own NOSPACE, another left".into(),
            Call::Alarm(DEACTIVATE, SELF, NOSPACE),
        ),
        ("put with another's NOSPACE".into(), Call::Put("c")),
        (
            "clear the other NOSPACE".into(),
            Call::Alarm(DEACTIVATE, 99, NOSPACE),
        ),
        ("put after NOSPACE".into(), Call::Put("c")),
        ("raise CORRUPT".into(), Call::Alarm(ACTIVATE, 0, CORRUPT)),
    ]);
    s.extend(under_alarm("CORRUPT"));
    s.extend([
        (
            "raise NOSPACE over CORRUPT".into(),
            Call::Alarm(ACTIVATE, SELF, NOSPACE),
        ),
        ("put with both raised".into(), Call::Put("d")),
        ("delete with both raised".into(), Call::Delete("d")),
        (
            "clear NOSPACE, CORRUPT left".into(),
            Call::Alarm(DEACTIVATE, SELF, NOSPACE),
        ),
        ("put with CORRUPT left".into(), Call::Put("e")),
        ("status with CORRUPT left".into(), Call::StatusErrors),
        ("clear CORRUPT".into(), Call::Alarm(DEACTIVATE, 0, CORRUPT)),
        ("put after all".into(), Call::Put("f")),
        ("list at the end".into(), Call::Alarm(GET, 0, NONE)),
    ]);
    s
}

#[test]
fn alarm_calls_and_alarm_refusals_match_etcd() {
    run(async {
        let etcd = Side::start(true).await;
        let ectd = Side::start(false).await;
        let mut mismatches = Vec::new();
        let trace = std::env::var("ALARM_DIFF_TRACE").is_ok();
        let cases = script();
        for (label, call) in &cases {
            let want = etcd.call(call).await;
            let got = ectd.call(call).await;
            if trace {
                eprintln!("{label}: etcd {want}");
            }
            if want != got {
                mismatches.push(format!("{label}:\n  etcd: {want}\n  ectd: {got}"));
            }
        }
        // etcd 3.4 stops (the process exits) on an alarm action it does not
        // know; ectd answers it with no alarms, changing nothing.
        let unknown = ectd.call(&Call::Alarm(7, SELF, NOSPACE)).await;
        assert_eq!(unknown, "ok header=false alarms=[]");
        assert!(
            mismatches.is_empty(),
            "{} of {} cases differ:\n{}",
            mismatches.len(),
            cases.len(),
            mismatches.join("\n")
        );
    });
}
