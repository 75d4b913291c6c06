//! v2 auth on a three-member cluster: changes made through any member reach
//! every member, which then enforces them alike, also after a restart. Run
//! against ectd and against real etcd 3.4 with the same checks: etcd passing
//! them is what shows that they describe etcd's behaviour.

use std::time::{Duration, Instant};

use crate::callers::{json_put, role, user, Caller, ROOT};
use crate::common::{Cluster, Kind};
use crate::harness::REQUEST_TIMEOUT;
use crate::http::{self, Request, Response};

fn send(cl: &Cluster, member: usize, req: &Request) -> Response {
    http::send(cl.members[member].client_port(), req, REQUEST_TIMEOUT)
        .unwrap_or_else(|e| panic!("member {member}: {req}: {e}\n{}", cl.log_tails(20)))
}

fn expect(cl: &Cluster, member: usize, what: &str, req: Request, status: u16) -> Response {
    let r = send(cl, member, &req);
    assert_eq!(
        r.head.status,
        status,
        "{:?} member {member}: {what}: {req} answered {}",
        cl.kind(),
        String::from_utf8_lossy(&r.body)
    );
    r
}

/// Waits until `member` has applied the store index `index`.
fn caught_up(cl: &Cluster, member: usize, index: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let at = send(cl, member, &Request::get("/v2/keys/")).etcd_index();
        if at.is_some_and(|i| i >= index) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{:?} member {member} stays at index {at:?}, short of {index}",
            cl.kind()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What every member must enforce once auth is on.
fn enforced(cl: &Cluster, member: usize, users: &str) {
    let alice = Caller::Basic("alice", "alice-pw");
    let on = expect(cl, member, "status", Request::get("/v2/auth/enable"), 200);
    assert_eq!(on.json()["enabled"], true, "member {member}");
    expect(
        cl,
        member,
        "users without credentials",
        Request::get("/v2/auth/users"),
        401,
    );
    let listed = expect(
        cl,
        member,
        "users as root",
        ROOT.on(Request::get("/v2/auth/users")),
        200,
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.body),
        users,
        "member {member}"
    );
    expect(
        cl,
        member,
        "alice reads",
        alice.on(Request::get("/v2/keys/pub/a")),
        200,
    );
    let put = alice.on(Request::put("/v2/keys/pub/a").form("value=2"));
    expect(cl, member, "alice writes", put, 401);
    let wrong = Caller::Basic("alice", "nope").on(Request::get("/v2/keys/pub/a"));
    expect(cl, member, "a wrong password", wrong, 401);
    expect(
        cl,
        member,
        "the guest reads",
        Request::get("/v2/keys/pub/a"),
        200,
    );
}

fn replicated(kind: Kind) {
    let mut cl = Cluster::start(kind, 3, &["--enable-v2"]);
    // Each change through a different member; followers pass them on.
    let root = json_put(&user("root"), r#"{"user":"root","password":"root-pw"}"#);
    expect(&cl, 0, "create root", root, 201);
    let reader = json_put(
        &role("reader"),
        r#"{"role":"reader","permissions":{"kv":{"read":["/pub/*"]}}}"#,
    );
    expect(&cl, 1, "create reader", reader, 201);
    let alice = json_put(
        &user("alice"),
        r#"{"user":"alice","password":"alice-pw","roles":["reader"]}"#,
    );
    expect(&cl, 2, "create alice", alice, 200);
    expect(&cl, 1, "enable", Request::put("/v2/auth/enable"), 200);
    let put = ROOT.on(Request::put("/v2/keys/pub/a").form("value=1"));
    let index = expect(&cl, 2, "root writes", put, 201)
        .etcd_index()
        .expect("X-Etcd-Index");
    let users = String::from_utf8_lossy(
        &expect(
            &cl,
            0,
            "users",
            ROOT.on(Request::get("/v2/auth/users")),
            200,
        )
        .body,
    )
    .into_owned();
    for m in 0..3 {
        caught_up(&cl, m, index);
        enforced(&cl, m, &users);
    }
    // The same index everywhere: auth writes took the same indexes.
    let at: Vec<Option<u64>> = (0..3)
        .map(|m| send(&cl, m, &Request::get("/v2/keys/")).etcd_index())
        .collect();
    assert!(at.iter().all(|i| *i == at[0]), "{kind:?}: indexes {at:?}");

    cl.members[2].restart();
    caught_up(&cl, 2, index);
    enforced(&cl, 2, &users);

    expect(
        &cl,
        2,
        "disable",
        ROOT.on(Request::delete("/v2/auth/enable")),
        200,
    );
    let index = send(&cl, 2, &Request::get("/v2/keys/"))
        .etcd_index()
        .unwrap_or(0);
    for m in 0..3 {
        caught_up(&cl, m, index);
        let off = expect(&cl, m, "status", Request::get("/v2/auth/enable"), 200);
        assert_eq!(off.json()["enabled"], false, "{kind:?} member {m}");
        expect(
            &cl,
            m,
            "users once off",
            Request::get("/v2/auth/users"),
            200,
        );
    }
}

#[test]
fn replicated_to_every_member_ectd() {
    replicated(Kind::Ectd);
}

#[test]
fn replicated_to_every_member_etcd() {
    replicated(Kind::Etcd);
}
