//! The cases, in the order they are sent. Later cases depend on what earlier
//! ones wrote (revisions, compaction, added members), on both sides alike.

use ectd_client::proto::etcdserverpb::downgrade_request::DowngradeAction;
use ectd_client::proto::etcdserverpb::maintenance_client::MaintenanceClient;
use ectd_client::proto::etcdserverpb::DowngradeRequest;

use crate::common::Ectd;
use crate::harness::{At, Call, Id, Pair, Reference, Url};
use At::{Follower, Leader};

const VALIDATE: i32 = DowngradeAction::Validate as i32;
const ENABLE: i32 = DowngradeAction::Enable as i32;
const CANCEL: i32 = DowngradeAction::Cancel as i32;

/// Why answers may differ while a downgrade is enabled.
const CLUSTER_VERSION_KEPT: &str = "etcd 3.6 lowers its cluster and storage versions to the \
                                    target at its next version check (every 4 s); ectd keeps \
                                    them, its members never running as the older release";

/// Why a snapshot's version may differ on a member that has just started.
const STORAGE_VERSION_LATE: &str = "etcd 3.6 records its storage version some seconds after \
                                    start and names none in snapshot messages until then; ectd \
                                    names it from the start";

/// Why a member add of an existing member's URLs fails otherwise.
const SAME_URLS: &str = "etcd derives the new member's id from its peer URLs and refuses \
                         the add as \"member ID already exist\"; ectd names the URL";

/// Why a learner's update differs on etcd 3.4.
const UPDATE_LEARNER_34: &str = "etcd 3.4 answers a learner's update as a voter (is_learner false)";

/// Why promoting a removed member through a follower differs on etcd 3.4.
const PROMOTE_REMOVED_34: &str = "etcd 3.4's follower times out (\"request timed out\") promoting \
                                  a removed member; ectd answers \"member not found\"";

/// Why a HashKV at the compaction revision differs on etcd 3.6.
const HASH_AT_COMPACTION: &str = "etcd 3.6 answers a HashKV at the compaction revision from the \
                                  hash it kept before compacting, with compact revision -1";

/// The bad peer URLs.
fn bad_urls() -> [(&'static str, Vec<Url>); 5] {
    [
        ("no URL", vec![]),
        ("no scheme", vec![Url::Raw("127.0.0.1:2380")]),
        ("a path", vec![Url::Raw("http://127.0.0.1:2380/path")]),
        ("ftp", vec![Url::Raw("ftp://127.0.0.1:2380")]),
        ("no port", vec![Url::Raw("http://127.0.0.1")]),
    ]
}

fn at_least(p: &Pair, minor: u32) -> bool {
    let m: u32 = p
        .version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    m >= minor
}

/// Writes, hashes at revisions before, at and after a compaction.
async fn hashes(p: &mut Pair, at: At) {
    p.case("put a", Call::Put("a", "1")).await;
    p.case("put b", Call::Put("b", "2")).await;
    p.case("put a again", Call::Put("a", "3")).await;
    p.case("hash", Call::Hash(at)).await;
    p.case("hashkv at 0 (latest)", Call::HashKv(at, 0)).await;
    p.case("hashkv at the current revision", Call::HashKv(at, 4))
        .await;
    p.case("hashkv at an older revision", Call::HashKv(at, 2))
        .await;
    p.case("hashkv at a future revision", Call::HashKv(at, 100))
        .await;
    p.case("hashkv at a negative revision", Call::HashKv(at, -1))
        .await;
    p.case("compact at 3", Call::Compact(3)).await;
    p.case("hashkv below the compaction", Call::HashKv(at, 2))
        .await;
    if at_least(p, 6) {
        p.gap(
            "hashkv at the compaction",
            Call::HashKv(at, 3),
            HASH_AT_COMPACTION,
        )
        .await;
    } else {
        p.case("hashkv at the compaction", Call::HashKv(at, 3))
            .await;
    }
    p.case("hashkv at 0 after compaction", Call::HashKv(at, 0))
        .await;
    p.case("hash after compaction", Call::Hash(at)).await;
}

/// The Maintenance calls that change nothing.
async fn maintenance(p: &mut Pair, at: At) {
    p.case("status", Call::Status(at)).await;
    p.case("defragment", Call::Defragment(at)).await;
    p.case("status after defragment", Call::Status(at)).await;
    p.case("alarm list", Call::AlarmList(at)).await;
    if at_least(p, 6) {
        p.gap("snapshot", Call::Snapshot(at), STORAGE_VERSION_LATE)
            .await;
    } else {
        p.case("snapshot", Call::Snapshot(at)).await;
    }
}

/// Member changes refused for the request itself.
async fn bad_member_changes(p: &mut Pair, at: At) {
    for (what, urls) in bad_urls() {
        p.case(
            &format!("member add with {what}"),
            Call::MemberAdd(at, "bad", urls, true),
        )
        .await;
    }
    p.case(
        "member add of the leader's peer URL",
        Call::MemberAdd(at, "dup", vec![Url::Peer(Leader)], true),
    )
    .await;
    p.case(
        "member add with a URL twice",
        Call::MemberAdd(
            at,
            "twice",
            vec![Url::Fresh("twice"), Url::Fresh("twice")],
            true,
        ),
    )
    .await;
    // etcd takes it; removed again, so that the next learner is allowed.
    p.case(
        "member remove of the learner with a URL twice",
        Call::MemberRemove(at, Id::Added("twice")),
    )
    .await;
    p.case(
        "member remove of no member",
        Call::MemberRemove(at, Id::Raw(0x1234)),
    )
    .await;
    p.case(
        "member update of no member",
        Call::MemberUpdate(at, Id::Raw(0x1234), vec![Url::Fresh("nobody")]),
    )
    .await;
    p.case(
        "member promote of no member",
        Call::MemberPromote(at, Id::Raw(0x1234)),
    )
    .await;
    p.case(
        "member promote of a voter",
        Call::MemberPromote(at, Id::Of(Leader)),
    )
    .await;
    p.case(
        "member update of the leader to its own URL",
        Call::MemberUpdate(at, Id::Of(Leader), vec![Url::Peer(Leader)]),
    )
    .await;
}

/// A learner that never starts: added, moved to, promoted, updated, removed.
async fn learner(p: &mut Pair, at: At) {
    p.case(
        "member add of a learner",
        Call::MemberAdd(at, "learner", vec![Url::Fresh("learner")], true),
    )
    .await;
    p.case("member list with the learner", Call::MemberList(at, true))
        .await;
    p.case(
        "member add of a second learner",
        Call::MemberAdd(at, "learner2", vec![Url::Fresh("learner2")], true),
    )
    .await;
    p.gap(
        "member add of the learner's URL",
        Call::MemberAdd(at, "dup", vec![Url::Fresh("learner")], true),
        SAME_URLS,
    )
    .await;
    p.case(
        "move leader to the learner",
        Call::MoveLeader(Leader, Id::Added("learner")),
    )
    .await;
    p.case(
        "member promote of a learner not in sync",
        Call::MemberPromote(at, Id::Added("learner")),
    )
    .await;
    p.case(
        "member update of the leader to the learner's URL",
        Call::MemberUpdate(at, Id::Of(Leader), vec![Url::Fresh("learner")]),
    )
    .await;
    let update = Call::MemberUpdate(at, Id::Added("learner"), vec![Url::Fresh("moved")]);
    if at_least(p, 5) {
        p.case("member update of the learner", update).await;
    } else {
        p.gap("member update of the learner", update, UPDATE_LEARNER_34)
            .await;
    }
    p.case("status with a learner", Call::Status(at)).await;
    p.case(
        "member remove of the learner",
        Call::MemberRemove(at, Id::Added("learner")),
    )
    .await;
    p.case(
        "member remove of the removed learner",
        Call::MemberRemove(at, Id::Added("learner")),
    )
    .await;
    p.case(
        "member update of the removed learner",
        Call::MemberUpdate(at, Id::Added("learner"), vec![Url::Fresh("again")]),
    )
    .await;
    let promote = Call::MemberPromote(at, Id::Added("learner"));
    if !at_least(p, 5) && matches!(at, Follower) {
        p.gap(
            "member promote of the removed learner",
            promote,
            PROMOTE_REMOVED_34,
        )
        .await;
    } else {
        p.case("member promote of the removed learner", promote)
            .await;
    }
    p.case(
        "member add of the removed learner's URL",
        Call::MemberAdd(at, "again", vec![Url::Fresh("moved")], true),
    )
    .await;
    p.case(
        "member remove of the re-added learner",
        Call::MemberRemove(at, Id::Added("again")),
    )
    .await;
}

/// Leadership transfers that fail or change nothing.
async fn move_leader(p: &mut Pair) {
    p.case(
        "move leader to itself",
        Call::MoveLeader(Leader, Id::Of(Leader)),
    )
    .await;
    p.case(
        "move leader to no member",
        Call::MoveLeader(Leader, Id::Raw(0x1234)),
    )
    .await;
    p.case("move leader to id 0", Call::MoveLeader(Leader, Id::Raw(0)))
        .await;
}

/// A single member.
pub async fn one_member(r: &Reference) {
    let mut p = Pair::start(r, 1).await;
    p.case("member list", Call::MemberList(Leader, false)).await;
    p.case("member list, linearizable", Call::MemberList(Leader, true))
        .await;
    maintenance(&mut p, Leader).await;
    hashes(&mut p, Leader).await;
    move_leader(&mut p).await;
    bad_member_changes(&mut p, Leader).await;
    learner(&mut p, Leader).await;
    p.case("status after the learner", Call::Status(Leader))
        .await;
    // Two voters with one started would lose quorum: etcd's strict
    // reconfiguration check refuses.
    p.case(
        "member add of a voter that is not started",
        Call::MemberAdd(Leader, "voter", vec![Url::Fresh("voter")], false),
    )
    .await;
    p.finish();
}

/// Three members, m1 leading: the same calls on the leader and on a follower.
pub async fn three_members(r: &Reference) {
    let mut p = Pair::start(r, 3).await;
    // etcd refuses membership changes ("unhealthy cluster") until its leader
    // has seen every member active for 5 s; leadership moved at start.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    for at in [Leader, Follower] {
        p.case(&format!("{at:?}: member list"), Call::MemberList(at, false))
            .await;
        p.case(
            &format!("{at:?}: member list, linearizable"),
            Call::MemberList(at, true),
        )
        .await;
    }
    maintenance(&mut p, Leader).await;
    maintenance(&mut p, Follower).await;
    hashes(&mut p, Follower).await;
    p.case("leader: hashkv at 0", Call::HashKv(Leader, 0)).await;
    move_leader(&mut p).await;
    p.case(
        "move leader, asking a follower",
        Call::MoveLeader(Follower, Id::Of(Follower)),
    )
    .await;
    bad_member_changes(&mut p, Follower).await;
    learner(&mut p, Follower).await;
    p.case(
        "move leader to a follower",
        Call::MoveLeader(Leader, Id::Of(Follower)),
    )
    .await;
    p.case("status after the move", Call::Status(Leader)).await;
    p.case("follower status after the move", Call::Status(Follower))
        .await;
    p.finish();
}

/// Downgrade requests on a single member.
pub async fn downgrade(r: &Reference) {
    let mut p = Pair::start(r, 1).await;
    for v in [
        "3.5",
        "3.5.0",
        "3.5.9",
        "3.4",
        "3.6",
        "3.7",
        "4.5",
        "2.5",
        "",
        "abc",
        "v3.5",
        "3",
        "3.5.0.0",
        "3.5.0-alpha",
        "3.5.0+meta",
        "3.5-rc",
        "03.05",
        " 3.5",
        "3.x",
    ] {
        p.case(
            &format!("validate {v:?}"),
            Call::Downgrade(Leader, VALIDATE, v),
        )
        .await;
    }
    p.case(
        "cancel without a downgrade",
        Call::Downgrade(Leader, CANCEL, ""),
    )
    .await;
    p.case("unknown action", Call::Downgrade(Leader, 7, "3.5"))
        .await;
    for v in ["3.4", "abc", ""] {
        p.case(&format!("enable {v:?}"), Call::Downgrade(Leader, ENABLE, v))
            .await;
    }
    p.case("status before enabling", Call::Status(Leader)).await;
    if r.version.starts_with("3.4") {
        p.case("enable \"3.3\"", Call::Downgrade(Leader, ENABLE, "3.3"))
            .await;
    } else {
        p.case(
            "enable the allowed version",
            Call::Downgrade(Leader, ENABLE, "3.5"),
        )
        .await;
        p.gap(
            "status while enabled",
            Call::Status(Leader),
            CLUSTER_VERSION_KEPT,
        )
        .await;
        p.gap(
            "validate while enabled",
            Call::Downgrade(Leader, VALIDATE, "3.5"),
            CLUSTER_VERSION_KEPT,
        )
        .await;
        p.gap(
            "enable again",
            Call::Downgrade(Leader, ENABLE, "3.5"),
            CLUSTER_VERSION_KEPT,
        )
        .await;
        p.gap(
            "cancel the downgrade",
            Call::Downgrade(Leader, CANCEL, ""),
            CLUSTER_VERSION_KEPT,
        )
        .await;
        p.gap(
            "status after the cancel",
            Call::Status(Leader),
            CLUSTER_VERSION_KEPT,
        )
        .await;
        p.gap(
            "cancel with none enabled",
            Call::Downgrade(Leader, CANCEL, ""),
            CLUSTER_VERSION_KEPT,
        )
        .await;
    }
    p.finish();
}

/// A downgrade request's answer: the cluster version (the answer must carry a
/// header), or the error's code and message.
async fn ask(
    m: &MaintenanceClient<tonic::transport::Channel>,
    action: i32,
    version: &str,
) -> Result<String, (tonic::Code, String)> {
    let req = DowngradeRequest {
        action,
        version: version.to_string(),
    };
    match m.clone().downgrade(req).await {
        Ok(r) => {
            let r = r.into_inner();
            assert!(r.header.is_some(), "a downgrade answer has a header");
            Ok(r.version)
        }
        Err(e) => Err((e.code(), e.message().to_string())),
    }
}

/// ectd at its default version against etcd 3.5.17's answers, as
/// `server/etcdserver/v3_server.go` of that release gives them.
pub async fn downgrade_3_5() {
    use tonic::Code;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ectd = Ectd::start(dir.path(), &[]);
    let m = MaintenanceClient::connect(ectd.endpoint())
        .await
        .expect("connecting");
    let invalid_target = Err((
        Code::InvalidArgument,
        "etcdserver: invalid downgrade target version".to_string(),
    ));
    let bad_format = Err((
        Code::InvalidArgument,
        "etcdserver: wrong downgrade target version format".to_string(),
    ));
    assert_eq!(ask(&m, VALIDATE, "3.4").await, Ok("3.5.0".to_string()));
    assert_eq!(ask(&m, VALIDATE, "3.4.7").await, Ok("3.5.0".to_string()));
    assert_eq!(ask(&m, VALIDATE, "3.5").await, invalid_target);
    assert_eq!(ask(&m, VALIDATE, "3.3").await, invalid_target);
    assert_eq!(ask(&m, VALIDATE, "abc").await, bad_format);
    assert_eq!(ask(&m, VALIDATE, "").await, bad_format);
    assert_eq!(ask(&m, ENABLE, "3.5").await, invalid_target);
    assert_eq!(ask(&m, ENABLE, "x").await, bad_format);
    assert_eq!(
        ask(&m, CANCEL, "").await,
        Err((
            Code::FailedPrecondition,
            "etcdserver: no inflight downgrade job".to_string()
        ))
    );
    let in_progress = Err((
        Code::FailedPrecondition,
        "etcdserver: cluster has a downgrade job in progress".to_string(),
    ));
    // ENABLE records the target through the log; while it is enabled, VALIDATE
    // and ENABLE of the same target are refused, a wrong target still first.
    assert_eq!(ask(&m, ENABLE, "3.4").await, Ok("3.5.0".to_string()));
    assert_eq!(ask(&m, VALIDATE, "3.4").await, in_progress);
    assert_eq!(ask(&m, ENABLE, "3.4.2").await, in_progress);
    assert_eq!(ask(&m, ENABLE, "3.3").await, invalid_target);
    // The state survives a restart of the member.
    drop(m);
    ectd.restart();
    let mut m = MaintenanceClient::connect(ectd.endpoint())
        .await
        .expect("connecting again");
    assert_eq!(ask(&m, VALIDATE, "3.4").await, in_progress);
    // CANCEL clears it; a second CANCEL finds nothing in progress.
    assert_eq!(ask(&m, CANCEL, "").await, Ok("3.5.0".to_string()));
    assert_eq!(
        ask(&m, CANCEL, "").await,
        Err((
            Code::FailedPrecondition,
            "etcdserver: no inflight downgrade job".to_string()
        ))
    );
    assert_eq!(ask(&m, VALIDATE, "3.4").await, Ok("3.5.0".to_string()));
    m.status(ectd_client::proto::etcdserverpb::StatusRequest {})
        .await
        .expect("status");
}
