//! No unauthorised access under load: on a 3-member cluster with auth on, an
//! administrator keeps granting and revoking each role's right to its key
//! prefix while users read, write, run txns and open watches through every
//! member, and the leader is killed half-way: the member the administrator
//! is connected to, made leader first if need be, so that the
//! administrator's client has to move to another member. From the history, no operation
//! may have succeeded without the right it needed at the point of the log
//! where it took effect.
//!
//! Where an operation falls in the log comes from revisions. Every
//! permission change is bracketed by two marker writes, so it took effect
//! between their revisions; an operation whose revision is inside a change's
//! bracket may have seen the right before or after the change, one outside
//! every bracket saw exactly the rights of the last change before it. A
//! change whose request failed (the kill) is bracketed by the marker before
//! it and one written after its outcome is known, read back from the role.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::authpb::{permission::Type as PermType, Permission};
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::{
    request_op, watch_request, Compare, MoveLeaderRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest, WatchCreateRequest, WatchRequest,
};
use ectd_client::{Client, ConnectOptions, Credentials, Error};
use futures::StreamExt as _;

const ROLES: usize = 3;
const RUN: Duration = Duration::from_secs(24);
const KILL_AT: Duration = Duration::from_secs(9);

fn prefix(i: usize) -> String {
    format!("k/{i}/")
}

fn prefix_end(i: usize) -> String {
    format!("k/{i}0")
}

/// One permission change: role `role` holds its right (`granted`) from
/// somewhere in `[lo, hi)` on.
#[derive(Debug, Clone)]
struct Change {
    role: usize,
    lo: i64,
    hi: i64,
    granted: bool,
}

/// What users did: `(user, kind, target prefix, revision)` of every success.
type Successes = Arc<Mutex<Vec<(usize, &'static str, usize, i64)>>>;

async fn client(endpoints: &[String], user: &str) -> Client {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(3),
    };
    let c = within(10, "connecting", Client::connect_with(endpoints, options))
        .await
        .expect("connect");
    within(
        20,
        "logging in",
        c.with_credentials(Credentials::new(user, format!("{user}-pw"))),
    )
    .await
    .unwrap_or_else(|e| panic!("login of {user}: {e}"))
}

async fn marker(root: &Client, n: &mut u64) -> Option<i64> {
    *n += 1;
    let put = PutRequest {
        key: b"marker".to_vec(),
        value: n.to_string().into_bytes(),
        ..Default::default()
    };
    match root.put(put).await {
        Ok(r) => Some(header_rev(&r.header)),
        Err(e) => {
            eprintln!("administrator: marker put {n} failed: {e}");
            None
        }
    }
}

/// The administrator: toggles one role's right at a time, each bracketed by
/// markers, until `stop`.
async fn churn(root: Client, stop: Arc<AtomicBool>) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut granted = [false; ROLES];
    let mut n = 0u64;
    let mut turn = 0usize;
    let mut failures = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            eprintln!("administrator: {turn} attempts, {failures} failed");
            return changes;
        }
        let Some(lo) = marker(&root, &mut n).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let role = (turn * 7 + turn / 3) % ROLES;
        turn += 1;
        let name = format!("r{role}");
        let attempt = if granted[role] {
            root.role_revoke_permission(&name, prefix(role), prefix_end(role))
                .await
                .map(|_| ())
        } else {
            let p = Permission {
                perm_type: PermType::Readwrite as i32,
                key: prefix(role).into_bytes(),
                range_end: prefix_end(role).into_bytes(),
            };
            root.role_grant_permission(&name, p).await.map(|_| ())
        };
        if attempt.is_err() {
            failures += 1;
            // The change may still take effect: wait until it certainly has
            // or has not, then read the role back.
            tokio::time::sleep(Duration::from_secs(8)).await;
        }
        let mut tries = 0u32;
        let now = loop {
            match root.role_get(&name).await {
                Ok(r) => break !r.perm.is_empty(),
                Err(e) => {
                    tries += 1;
                    if tries.is_multiple_of(20) {
                        eprintln!("administrator: reading r{role} back failed {tries} times: {e}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
            }
        };
        let hi = loop {
            if let Some(rev) = marker(&root, &mut n).await {
                break rev;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if attempt.is_ok() {
            assert_ne!(
                now, granted[role],
                "an acknowledged change to r{role} did not show"
            );
        }
        if now != granted[role] {
            changes.push(Change {
                role,
                lo,
                hi,
                granted: now,
            });
            granted[role] = now;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// One user: mixes puts, ranges, txns and watch creations on every prefix.
async fn user(c: Client, me: usize, done: Successes, until: Instant) -> usize {
    let mut attempts = 0;
    let mut i = 0usize;
    while Instant::now() < until {
        i += 1;
        attempts += 1;
        let target = (i * 5 + me) % ROLES;
        let key = format!("{}{me}-{i}", prefix(target)).into_bytes();
        let (kind, r): (&'static str, Result<i64, Error>) = match i % 4 {
            0 => (
                "put",
                c.put(PutRequest {
                    key,
                    value: b"v".to_vec(),
                    ..Default::default()
                })
                .await
                .map(|r| header_rev(&r.header)),
            ),
            1 => (
                "range",
                c.range(RangeRequest {
                    key: prefix(target).into_bytes(),
                    range_end: prefix_end(target).into_bytes(),
                    count_only: true,
                    ..Default::default()
                })
                .await
                .map(|r| header_rev(&r.header)),
            ),
            2 => {
                let txn = TxnRequest {
                    compare: vec![Compare {
                        result: CompareResult::Equal as i32,
                        target: CompareTarget::Version as i32,
                        key: key.clone(),
                        target_union: Some(TargetUnion::Version(0)),
                        ..Default::default()
                    }],
                    success: vec![RequestOp {
                        request: Some(request_op::Request::RequestPut(PutRequest {
                            key,
                            value: b"t".to_vec(),
                            ..Default::default()
                        })),
                    }],
                    failure: vec![],
                };
                ("txn", c.txn(txn).await.map(|r| header_rev(&r.header)))
            }
            _ => ("watch", open_watch(&c, target).await),
        };
        if let Ok(rev) = r {
            done.lock().unwrap().push((me, kind, target, rev));
        }
    }
    attempts
}

/// Opens a watch on a prefix; the revision of its `created` answer if it was
/// created (not refused).
async fn open_watch(c: &Client, target: usize) -> Result<i64, Error> {
    let create = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: prefix(target).into_bytes(),
                range_end: prefix_end(target).into_bytes(),
                ..Default::default()
            },
        )),
    };
    let mut w = c.watch();
    let stream = futures::stream::iter(vec![create]).chain(futures::stream::pending());
    let answer = tokio::time::timeout(Duration::from_secs(3), async move {
        let mut resp = w.watch(stream).await?.into_inner();
        resp.next().await.transpose()
    })
    .await;
    match answer {
        Ok(Ok(Some(r))) if r.created && !r.canceled => Ok(header_rev(&r.header)),
        Ok(Ok(_)) => Err(Error::Timeout),
        Ok(Err(s)) => Err(Error::Rpc {
            code: s.code(),
            message: s.message().to_string(),
        }),
        Err(_) => Err(Error::Timeout),
    }
}

/// How many revisions a watch's permission check may precede the revision
/// its `created` answer is stamped with (the check comes first, and other
/// clients' writes may land in between).
const WATCH_SLACK: i64 = 50;

/// Whether role `role` may have held its right at revision `rev`: for sure
/// after a change's bracket, either way inside it (and, for a watch, within
/// [`WATCH_SLACK`] revisions after it).
fn may_hold(changes: &[Change], role: usize, rev: i64, watch: bool) -> bool {
    let slack = if watch { WATCH_SLACK } else { 0 };
    let mut held = false;
    let mut possible = Vec::new();
    for c in changes.iter().filter(|c| c.role == role) {
        if c.lo <= rev && rev < c.hi + slack {
            possible.push(!c.granted);
            possible.push(c.granted);
        }
        if c.hi <= rev {
            held = c.granted;
        }
    }
    possible.push(held);
    possible.contains(&true)
}

#[test]
fn no_operation_succeeds_without_the_right_it_needed() {
    run(churn_under_load());
}

async fn churn_under_load() {
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let endpoints = cl.endpoints();
    let setup = connect(&cl.members[0]).await;
    setup.user_add("root", "root-pw").await.expect("root");
    setup
        .user_grant_role("root", "root")
        .await
        .expect("root role");
    for i in 0..ROLES {
        setup.role_add(format!("r{i}")).await.expect("role");
        setup
            .user_add(format!("u{i}"), format!("u{i}-pw"))
            .await
            .expect("user");
        setup
            .user_grant_role(format!("u{i}"), format!("r{i}"))
            .await
            .expect("grant role");
    }
    setup.auth_enable().await.expect("auth enable");

    let root = client(&endpoints, "root").await;
    let admin_member = endpoints
        .iter()
        .position(|e| *e == root.endpoint())
        .expect("the administrator is connected to a member");
    let stop = Arc::new(AtomicBool::new(false));
    let admin = tokio::spawn(churn(root, stop.clone()));
    let done: Successes = Arc::default();
    let until = Instant::now() + RUN;
    let mut users = Vec::new();
    for i in 0..ROLES {
        // Each user starts on a different member.
        let mut mine = endpoints.clone();
        mine.rotate_left(i % endpoints.len());
        let c = client(&mine, &format!("u{i}")).await;
        users.push(tokio::spawn(user(c, i, done.clone(), until)));
    }

    // The member killed is both the leader and the one the administrator
    // is connected to, so that its client has to move mid-change.
    tokio::time::sleep(KILL_AT).await;
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    if leader != admin_member {
        let via = client(&[endpoints[leader].clone()], "root").await;
        let mut m = via.maintenance();
        m.move_leader(MoveLeaderRequest {
            target_id: ids[admin_member],
        })
        .await
        .expect("moving the leader to the administrator's member");
        let (now, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
        assert_eq!(now, admin_member, "the leader did not move");
    }
    cl.members[admin_member].kill9();
    eprintln!(
        "killed the leader m{}, the administrator's member",
        admin_member + 1
    );

    let mut attempts = 0;
    for u in users {
        attempts += u.await.expect("user task");
    }
    stop.store(true, Ordering::Relaxed);
    let changes = within(60, "the administrator stopping", admin)
        .await
        .expect("admin task");
    let done = done.lock().unwrap().clone();

    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unauthorised = Vec::new();
    let mut allowed = 0;
    for &(user, kind, target, rev) in &done {
        *by_kind.entry(kind).or_default() += 1;
        let ok = target == user && may_hold(&changes, target, rev, kind == "watch");
        if ok {
            allowed += 1;
        } else {
            unauthorised.push((user, kind, target, rev));
        }
    }
    eprintln!(
        "{} permission changes, {attempts} operations attempted, {} succeeded ({by_kind:?}), \
         {allowed} checked as allowed",
        changes.len(),
        done.len()
    );
    assert!(
        unauthorised.is_empty(),
        "operations succeeded without the right they needed (user, kind, prefix, revision): \
         {unauthorised:?}\nchanges: {changes:?}"
    );
    assert!(
        changes.len() >= 20,
        "too few permission changes to mean anything: {changes:?}"
    );
    for kind in ["put", "range", "txn", "watch"] {
        assert!(
            by_kind.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} ever succeeded, so nothing was checked: {by_kind:?}"
        );
    }
}
