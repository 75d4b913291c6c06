//! Maintenance and Cluster calls by caller (root, a user with a role, a user
//! without one, no token, a forged token): which of them etcd 3.4 keeps for
//! root, which it lets anyone make, and with which error it refuses.
//!
//! etcd 3.4 lets any caller with a valid token, or none, compact, move the
//! leader and raise or clear alarms (MoveLeader even with a forged token);
//! ectd keeps those for root. Where etcd lets a caller other than root
//! through, the case is a gap ([`ROOT_ONLY`]).

use crate::call::*;
use crate::cast::*;
use crate::common::free_port;
use crate::harness::{Expect, Item, Options, Pair, Seen, Side, Who};
use ectd_client::proto::etcdserverpb::alarm_request::AlarmAction;
use ectd_client::proto::etcdserverpb::{AlarmType, CompactionRequest};

/// Why ectd refuses callers other than root where etcd 3.4 lets them through.
const ROOT_ONLY: &str = "ectd requires root to compact, move the leader or change alarms; \
                         etcd 3.4 checks no permission there";

/// Why root's HashKV answer has another shape on ectd.
const HASHKV_35: &str = "HashKV answers as etcd 3.5 (hash_revision, no compact_revision of -1)";

/// Sends a call ectd keeps for root: a gap wherever etcd did not refuse
/// `who`, not root, for who they are (it let them through, or answered about
/// the request itself).
async fn root_only(p: &mut Pair, label: &str, who: Who, call: Call) -> Seen {
    p.gap_where(
        label,
        who,
        call,
        ROOT_ONLY,
        Expect::Refused,
        |etcd: &Item| who != ROOT && !Expect::Refused.admits(etcd),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_and_cluster_by_caller_match_etcd() {
    let mut p = Pair::start(
        "auth: maintenance and cluster by caller",
        Options::default(),
    )
    .await;
    provision(&mut p).await;
    for (name, who) in KINDS {
        let get_alarms = Call::Alarm {
            action: AlarmAction::Get,
            member: MemberRef::Id(0),
            alarm: AlarmType::None,
        };
        let cases = [
            ("status", Call::Status),
            ("defragment", Call::Defragment),
            ("snapshot", Call::Snapshot),
            ("hash", Call::Hash),
            ("hashkv", Call::HashKv(0)),
            ("alarm list", get_alarms),
            ("member list", Call::MemberList),
            (
                "member update of itself, same URL",
                Call::MemberUpdate(MemberRef::Own),
            ),
            (
                "member promote of no member",
                Call::MemberPromote(MemberRef::Id(0x1234)),
            ),
            (
                "member remove of no member",
                Call::MemberRemove(MemberRef::Id(0x1234)),
            ),
        ];
        for (label, call) in cases {
            let label = format!("{name}: {label}");
            // Root passes the auth check; what it then gets is another gap.
            match (&call, who == ROOT) {
                (Call::HashKv(_), true) => {
                    p.gap(&label, who, call, HASHKV_35, Expect::Success).await;
                }
                _ => {
                    p.case(&label, who, call).await;
                }
            }
        }
        root_only(
            &mut p,
            &format!("{name}: move leader to itself"),
            who,
            Call::MoveLeader(MemberRef::Own),
        )
        .await;
        root_only(
            &mut p,
            &format!("{name}: move leader to no member"),
            who,
            Call::MoveLeader(MemberRef::Id(0x1234)),
        )
        .await;
        add_learner(&mut p, name, who).await;
    }
    // Compaction moves what HashKV answers, so it comes after every HashKV.
    for (name, who) in KINDS {
        let put = p
            .must(
                &format!("{name}: root writes z-compact"),
                ROOT,
                put("z-compact", name),
            )
            .await;
        let revision = put["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .expect("a revision in the put answer");
        root_only(
            &mut p,
            &format!("{name}: compact to the current revision"),
            who,
            Call::Compact(CompactionRequest {
                revision,
                physical: false,
            }),
        )
        .await;
    }
    alarms(&mut p).await;
    p.finish(80);
}

/// `who` adds a learner (which never starts: a learner does not count for
/// quorum, so the single member keeps serving); root removes it again.
async fn add_learner(p: &mut Pair, name: &'static str, who: Who) {
    let url = format!("http://127.0.0.1:{}", free_port());
    let learn = move |side: &mut Side, r: &Item| {
        if let Some(id) = r
            .as_ref()
            .ok()
            .and_then(|v| v["member"]["ID"].as_str())
            .and_then(|s| s.parse().ok())
        {
            side.names.learnt.push((name, id));
        }
    };
    let added = p
        .case_learning(
            &format!("{name}: member add of a learner"),
            who,
            Call::MemberAdd {
                peer_urls: vec![url],
                learner: true,
            },
            learn,
        )
        .await;
    if added.0.is_ok() {
        p.case(
            &format!("{name}: member list with the learner"),
            ROOT,
            Call::MemberList,
        )
        .await;
        p.case(
            &format!("{name}: promote the learner that never started"),
            who,
            Call::MemberPromote(MemberRef::Added(name)),
        )
        .await;
        p.must(
            &format!("{name}: root removes the learner"),
            ROOT,
            Call::MemberRemove(MemberRef::Added(name)),
        )
        .await;
    }
}

/// Raising and clearing an alarm by caller. A raised NOSPACE alarm refuses
/// writes until it is cleared. Where etcd let a caller other than root raise it
/// and ectd did not (a gap), the two stores part ways until root clears it.
async fn alarms(p: &mut Pair) {
    let alarm = |action| Call::Alarm {
        action,
        member: MemberRef::Own,
        alarm: AlarmType::Nospace,
    };
    const NONE_RAISED: &str = "ectd raised no alarm for a caller other than root";
    for (name, who) in KINDS {
        let activate = format!("{name}: activate NOSPACE");
        let raised = if who == ROOT {
            p.case(&activate, who, alarm(AlarmAction::Activate)).await
        } else {
            root_only(p, &activate, who, alarm(AlarmAction::Activate)).await
        };
        if raised.0.is_err() {
            continue;
        }
        let put_label = format!("{name}: put while etcd has NOSPACE raised");
        let put_call = put("after-alarm", name);
        let list_label = format!("{name}: root lists alarms while etcd has NOSPACE raised");
        let list = alarm(AlarmAction::Get);
        let deactivate = format!("{name}: deactivate NOSPACE");
        if who == ROOT {
            p.case(&put_label, ROOT, put_call).await;
            p.case(&list_label, ROOT, list).await;
            p.case(&deactivate, who, alarm(AlarmAction::Deactivate))
                .await;
        } else {
            p.gap(&put_label, ROOT, put_call, NONE_RAISED, Expect::Success)
                .await;
            p.gap(&list_label, ROOT, list, NONE_RAISED, Expect::Success)
                .await;
            root_only(p, &deactivate, who, alarm(AlarmAction::Deactivate)).await;
        }
        p.case(
            &format!("{name}: root clears NOSPACE, already cleared"),
            ROOT,
            alarm(AlarmAction::Deactivate),
        )
        .await;
    }
}
