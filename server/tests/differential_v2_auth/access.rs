//! Who may do what once v2 auth is on: keys read and written by users of
//! different roles, by the guest (no credentials), with wrong or malformed
//! credentials; recursive requests; `/v2/members` changes; and everything open
//! again once auth is off.

use crate::callers::{json_put, role, user, Caller, ROOT};
use crate::harness::Pair;
use crate::http::Request;
use crate::observe::Mode;

/// Users (password `<name>-pw`) and their roles.
const USERS: [(&str, &str); 5] = [
    ("alice", r#"["reader"]"#),
    ("will", r#"["writer"]"#),
    ("tess", r#"["tree"]"#),
    ("nora", "[]"),
    ("multi", r#"["reader","writer","missing"]"#),
];

fn setup(p: &mut Pair) {
    let roles = [
        ("reader", r#"{"read":["/pub/*","/doc"]}"#),
        ("writer", r#"{"read":["/w/*"],"write":["/w/*"]}"#),
        ("tree", r#"{"read":["/tree*"],"write":["/tree/x"]}"#),
    ];
    for (name, kv) in roles {
        p.case(
            &format!("create role {name}"),
            json_put(
                &role(name),
                &format!(r#"{{"role":"{name}","permissions":{{"kv":{kv}}}}}"#),
            ),
        );
    }
    p.case(
        "create root",
        json_put(&user("root"), r#"{"user":"root","password":"root-pw"}"#),
    );
    for (name, roles) in USERS {
        p.case(
            &format!("create {name}"),
            json_put(
                &user(name),
                &format!(r#"{{"user":"{name}","password":"{name}-pw","roles":{roles}}}"#),
            ),
        );
    }
    for key in ["/pub/a", "/doc", "/w/a", "/tree/x", "/tree/y/z", "/other"] {
        p.case(
            &format!("write {key}"),
            Request::put(&format!("/v2/keys{key}")).form("value=1"),
        );
    }
    p.case("enable auth", Request::put("/v2/auth/enable"));
}

/// The key requests every caller makes; `tag` keeps each caller's writes apart.
fn key_requests(tag: &str) -> Vec<(&'static str, Request)> {
    vec![
        ("read /pub/a", Request::get("/v2/keys/pub/a")),
        ("HEAD /pub/a", Request::new("HEAD", "/v2/keys/pub/a")),
        (
            "write /pub/b",
            Request::put("/v2/keys/pub/b").form(&format!("value={tag}")),
        ),
        ("read /doc", Request::get("/v2/keys/doc")),
        (
            "read /doc recursively",
            Request::get("/v2/keys/doc?recursive=true"),
        ),
        ("read /pub (the directory)", Request::get("/v2/keys/pub")),
        ("read /pub/", Request::get("/v2/keys/pub/")),
        ("read /w/a", Request::get("/v2/keys/w/a")),
        (
            "write /w/<tag>",
            Request::put(&format!("/v2/keys/w/{tag}")).form("value=1"),
        ),
        (
            "create in order in /w",
            Request::post("/v2/keys/w").form(&format!("value={tag}")),
        ),
        (
            "delete /w/<tag>",
            Request::delete(&format!("/v2/keys/w/{tag}")),
        ),
        (
            "delete a missing /w subtree recursively",
            Request::delete("/v2/keys/w/gone?recursive=true"),
        ),
        (
            "read /tree recursively",
            Request::get("/v2/keys/tree?recursive=true&sorted=true"),
        ),
        ("read /tree/x", Request::get("/v2/keys/tree/x")),
        (
            "write /tree/x",
            Request::put("/v2/keys/tree/x").form(&format!("value={tag}")),
        ),
        (
            "read /tree/y recursively",
            Request::get("/v2/keys/tree/y?recursive=true"),
        ),
        ("read /other", Request::get("/v2/keys/other")),
        ("list /", Request::get("/v2/keys/?sorted=true")),
        (
            "list / recursively",
            Request::get("/v2/keys/?recursive=true&sorted=true"),
        ),
        ("read /v2/keys without a slash", Request::get("/v2/keys")),
        (
            "a past event of /pub/a",
            Request::get("/v2/keys/pub/a?wait=true&waitIndex=1"),
        ),
        (
            "a malformed request",
            Request::get("/v2/keys/pub/a?recursive=maybe"),
        ),
    ]
}

/// Requests beyond the keys: membership, stats and auth administration.
fn other_requests() -> Vec<(&'static str, Request)> {
    vec![
        ("members", Request::get("/v2/members")),
        (
            "add a member (a body both refuse)",
            Request::post("/v2/members").body_with("application/json", b"{}".to_vec()),
        ),
        (
            "remove an unknown member",
            Request::delete("/v2/members/1234"),
        ),
        (
            "update an unknown member",
            Request::put("/v2/members/1234").body_with(
                "application/json",
                br#"{"peerURLs":["http://127.0.0.1:1"]}"#.to_vec(),
            ),
        ),
        ("store stats", Request::get("/v2/stats/store")),
        ("self stats", Request::get("/v2/stats/self")),
        ("auth status", Request::get("/v2/auth/enable")),
        ("users", Request::get("/v2/auth/users")),
        ("the reader role", Request::get(&role("reader"))),
    ]
}

fn as_each(
    p: &mut Pair,
    callers: &[(&str, Caller)],
    reqs: impl Fn(&str) -> Vec<(&'static str, Request)>,
) {
    for (name, who) in callers {
        let tag = name.split(' ').next().unwrap_or(name);
        for (label, req) in reqs(tag) {
            let req = who.on(req);
            let mode = Mode::of(&req.target, req.param("sorted").as_deref());
            p.case_in(&format!("{name}: {label}"), req, mode);
        }
    }
}

#[test]
fn keys_by_role() {
    let mut p = Pair::start("v2 auth: keys by role");
    setup(&mut p);
    let callers = [
        ("root", ROOT),
        ("alice", Caller::Basic("alice", "alice-pw")),
        ("will", Caller::Basic("will", "will-pw")),
        ("tess", Caller::Basic("tess", "tess-pw")),
        ("nora", Caller::Basic("nora", "nora-pw")),
        ("multi", Caller::Basic("multi", "multi-pw")),
        ("guest", Caller::Nobody),
    ];
    as_each(&mut p, &callers, key_requests);
    p.finish(150);
}

#[test]
fn credentials() {
    let mut p = Pair::start("v2 auth: credentials");
    setup(&mut p);
    let callers = [
        (
            "alice with a wrong password",
            Caller::Basic("alice", "bob-pw"),
        ),
        ("an unknown user", Caller::Basic("zed", "zed-pw")),
        (
            "lowercase basic",
            Caller::Header("basic YWxpY2U6YWxpY2UtcHc="),
        ),
        (
            "unpadded base64",
            Caller::Header("Basic YWxpY2U6YWxpY2UtcHc"),
        ),
        ("no colon", Caller::Header("Basic YWxpY2U=")),
        ("not base64", Caller::Header("Basic !!not base64!!")),
        ("a bearer token", Caller::Header("Bearer abc")),
        ("a bare Basic", Caller::Header("Basic")),
    ];
    let few = |_: &str| {
        vec![
            ("read /pub/a", Request::get("/v2/keys/pub/a")),
            ("write /w/a", Request::put("/v2/keys/w/a").form("value=2")),
            ("read /other", Request::get("/v2/keys/other")),
            ("users", Request::get("/v2/auth/users")),
        ]
    };
    as_each(&mut p, &callers, few);

    // Root and others on membership, stats and administration.
    let admins = [
        ("root", ROOT),
        ("alice", Caller::Basic("alice", "alice-pw")),
        ("guest", Caller::Nobody),
    ];
    as_each(&mut p, &admins, |_| other_requests());

    // A changed password: the old one no longer works.
    p.case(
        "alice's new password",
        ROOT.on(json_put(
            &user("alice"),
            r#"{"user":"alice","password":"alice-new"}"#,
        )),
    );
    p.case(
        "alice with her old password",
        Caller::Basic("alice", "alice-pw").on(Request::get("/v2/keys/pub/a")),
    );
    p.case(
        "alice with her new password",
        Caller::Basic("alice", "alice-new").on(Request::get("/v2/keys/pub/a")),
    );
    p.case(
        "a 100-byte password, checked on its first 72",
        ROOT.on(json_put(
            &user("long"),
            &format!(
                r#"{{"user":"long","password":"{}","roles":["reader"]}}"#,
                "p".repeat(100)
            ),
        )),
    );
    let long = Caller::Basic("long", "p".repeat(80).leak());
    p.case(
        "long, with 80 bytes given",
        long.on(Request::get("/v2/keys/pub/a")),
    );
    p.case(
        "revoke reader from alice",
        ROOT.on(json_put(
            &user("alice"),
            r#"{"user":"alice","revoke":["reader"]}"#,
        )),
    );
    p.case(
        "alice without reader",
        Caller::Basic("alice", "alice-new").on(Request::get("/v2/keys/pub/a")),
    );
    p.case(
        "delete the reader role",
        ROOT.on(Request::delete(&role("reader"))),
    );
    p.case(
        "multi after reader is gone",
        Caller::Basic("multi", "multi-pw").on(Request::get("/v2/keys/pub/a")),
    );
    p.case("delete will", ROOT.on(Request::delete(&user("will"))));
    p.case(
        "will once deleted",
        Caller::Basic("will", "will-pw").on(Request::get("/v2/keys/w/a")),
    );

    // Off again: credentials are not even looked at.
    p.case("disable", ROOT.on(Request::delete("/v2/auth/enable")));
    p.case(
        "a wrong password once off",
        Caller::Basic("alice", "wrong").on(Request::put("/v2/keys/x").form("value=1")),
    );
    p.case(
        "a malformed header once off",
        Caller::Header("Basic !!").on(Request::get("/v2/keys/x")),
    );
    p.case("the guest once off", Request::delete("/v2/keys/x"));
    p.case("users once off", Request::get("/v2/auth/users"));
    p.finish(80);
}

#[test]
fn the_guest_role() {
    let mut p = Pair::start("v2 auth: the guest role");
    setup(&mut p);
    let nobody = |p: &mut Pair, what: &str| {
        for (label, req) in [
            ("read /pub/a", Request::get("/v2/keys/pub/a")),
            (
                "read /pub recursively",
                Request::get("/v2/keys/pub?recursive=true"),
            ),
            (
                "read /pub/ recursively",
                Request::get("/v2/keys/pub/?recursive=true"),
            ),
            ("list /", Request::get("/v2/keys/?sorted=true")),
            (
                "write /pub/g",
                Request::put("/v2/keys/pub/g").form("value=g"),
            ),
            (
                "delete /pub recursively",
                Request::delete("/v2/keys/nothing?recursive=true"),
            ),
            ("read /other", Request::get("/v2/keys/other")),
        ] {
            p.case(&format!("guest, {what}: {label}"), req);
        }
    };
    nobody(&mut p, "full access");
    p.case(
        "the guest may no longer write",
        ROOT.on(json_put(
            &role("guest"),
            r#"{"role":"guest","revoke":{"kv":{"write":["/*"]}}}"#,
        )),
    );
    nobody(&mut p, "read only");
    p.case(
        "the guest reads /pub/* alone",
        ROOT.on(json_put(
            &role("guest"),
            r#"{"role":"guest","revoke":{"kv":{"read":["/*"]}},"grant":{"kv":{"read":["/pub/*"],"write":["/pub/g"]}}}"#,
        )),
    );
    nobody(&mut p, "/pub/* alone");
    p.case(
        "delete the guest role",
        ROOT.on(Request::delete(&role("guest"))),
    );
    nobody(&mut p, "no guest role");
    p.case(
        "a guest role made by hand",
        ROOT.on(json_put(
            &role("guest"),
            r#"{"role":"guest","permissions":{"kv":{"read":["/other"]}}}"#,
        )),
    );
    nobody(&mut p, "a hand-made role");
    p.finish(50);
}
