//! v2 auth (`/v2/auth/...`, HTTP basic auth on `/v2/keys`), on servers started
//! with `--enable-v2`. etcd 3.4 keeps v2 users and roles apart from v3 auth,
//! in the v2 store, so its writes move `X-Etcd-Index` like any other.
//!
//! Answers are compared as the v2 suite compares them (`v2_observe`: status,
//! headers, body, with the few per-cluster values masked). In its own test
//! function, so that it can be reported apart from v3 auth.

use crate::gw_observe::b64;
use crate::harness::{Options, Pair, REQUEST_TIMEOUT};
use crate::http::{self, HttpError, Request};
use crate::v2_observe::{self, Identity, Mode, Outcome};
use std::time::{Duration, Instant};

/// Who a v2 request is sent as: the `Authorization` header, if any.
#[derive(Debug, Clone, Copy)]
enum Basic {
    As(&'static str, &'static str),
    /// `Authorization: Basic` with a value that is not base64.
    Malformed,
    Nobody,
}

impl Basic {
    fn apply(self, r: Request) -> Request {
        match self {
            Basic::As(u, pw) => r.header(
                "Authorization",
                &format!("Basic {}", b64(format!("{u}:{pw}"))),
            ),
            Basic::Malformed => r.header("Authorization", "Basic !!not-base64!!"),
            Basic::Nobody => r,
        }
    }
}

const ROOT: Basic = Basic::As("root", "root-pw");

fn json_put(path: &str, body: &str) -> Request {
    Request::put(path).body_with("application/json", body.as_bytes().to_vec())
}

/// Sends `req` as `who` to both servers and compares.
fn case(p: &mut Pair, label: &str, who: Basic, req: Request) {
    let req = who.apply(req);
    let mode = Mode::of(&req.target, req.param("sorted").as_deref());
    let outcomes: Vec<Outcome> = p
        .sides()
        .iter()
        .map(|side| {
            let me = Identity {
                client_url: side.names.client_url.clone(),
                peer_url: side.names.peer_url.clone(),
            };
            http::send(side.port(), &req, REQUEST_TIMEOUT)
                .map(|r| v2_observe::observe(&r, mode, &me))
        })
        .collect();
    let (a, b) = (&outcomes[0], &outcomes[1]);
    p.record_http(
        label,
        &req.to_string(),
        v2_observe::agree(a, b),
        v2_observe::render(a),
        v2_observe::render(b),
        matches!(b, Err(HttpError::Timeout)),
    );
}

/// Waits until both servers have decided the cluster version: etcd 3.4
/// records it in the v2 store, so until then `X-Etcd-Index` may still move.
fn settle(p: &mut Pair) {
    for side in p.sides() {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let decided = http::send(side.port(), &Request::get("/version"), REQUEST_TIMEOUT)
                .ok()
                .and_then(|r| r.json()["etcdcluster"].as_str().map(|c| c != "not_decided"))
                .unwrap_or(false);
            if decided {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}: cluster version not decided in 15 s",
                side.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_auth_matches_etcd() {
    let mut p = Pair::start("auth: v2", Options::with(&["--enable-v2"])).await;
    tokio::task::block_in_place(|| {
        settle(&mut p);
        v2_cases(&mut p);
    });
    p.finish(90);
}

fn v2_cases(p: &mut Pair) {
    let nobody = Basic::Nobody;
    let setup = [
        ("the fresh store", Request::get("/v2/keys/")),
        ("auth status", Request::get("/v2/auth/enable")),
        ("users before any", Request::get("/v2/auth/users")),
        ("roles before any", Request::get("/v2/auth/roles")),
        ("the guest role", Request::get("/v2/auth/roles/guest")),
        (
            "enable without a root user",
            Request::put("/v2/auth/enable"),
        ),
        (
            "add root",
            json_put(
                "/v2/auth/users/root",
                r#"{"user":"root","password":"root-pw"}"#,
            ),
        ),
        (
            "add a user whose name differs from the path",
            json_put("/v2/auth/users/bob", r#"{"user":"carol","password":"x"}"#),
        ),
        (
            "add a user with a bad body",
            json_put("/v2/auth/users/bob", "{not json"),
        ),
        (
            "add role rr reading /r/*",
            json_put(
                "/v2/auth/roles/rr",
                r#"{"role":"rr","permissions":{"kv":{"read":["/r/*"],"write":[]}}}"#,
            ),
        ),
        (
            "add role ww writing /w/*",
            json_put(
                "/v2/auth/roles/ww",
                r#"{"role":"ww","permissions":{"kv":{"read":["/w/*"],"write":["/w/*"]}}}"#,
            ),
        ),
        (
            "add role rr again",
            json_put(
                "/v2/auth/roles/rr",
                r#"{"role":"rr","permissions":{"kv":{"read":["/r/*"],"write":[]}}}"#,
            ),
        ),
        (
            "add alice",
            json_put(
                "/v2/auth/users/alice",
                r#"{"user":"alice","password":"alice-pw"}"#,
            ),
        ),
        (
            "grant alice rr",
            json_put("/v2/auth/users/alice", r#"{"user":"alice","grant":["rr"]}"#),
        ),
        (
            "add wendy with ww",
            json_put(
                "/v2/auth/users/wendy",
                r#"{"user":"wendy","password":"wendy-pw","roles":["ww"]}"#,
            ),
        ),
        (
            "grant wendy ww",
            json_put("/v2/auth/users/wendy", r#"{"user":"wendy","grant":["ww"]}"#),
        ),
        (
            "grant alice a missing role",
            json_put(
                "/v2/auth/users/alice",
                r#"{"user":"alice","grant":["nope"]}"#,
            ),
        ),
        (
            "revoke from alice a role she lacks",
            json_put(
                "/v2/auth/users/alice",
                r#"{"user":"alice","revoke":["ww"]}"#,
            ),
        ),
        (
            "get alice, who has a missing role",
            Request::get("/v2/auth/users/alice"),
        ),
        (
            "revoke the missing role from alice",
            json_put(
                "/v2/auth/users/alice",
                r#"{"user":"alice","revoke":["nope"]}"#,
            ),
        ),
        ("get alice", Request::get("/v2/auth/users/alice")),
        (
            "get a missing user",
            Request::get("/v2/auth/users/nobody-here"),
        ),
        ("get rr", Request::get("/v2/auth/roles/rr")),
        ("get a missing role", Request::get("/v2/auth/roles/nope")),
        ("users", Request::get("/v2/auth/users")),
        ("roles", Request::get("/v2/auth/roles")),
        ("write /r/1", Request::put("/v2/keys/r/1").form("value=1")),
        ("write /w/1", Request::put("/v2/keys/w/1").form("value=1")),
        (
            "write /other",
            Request::put("/v2/keys/other").form("value=1"),
        ),
        ("enable auth", Request::put("/v2/auth/enable")),
        ("auth status once enabled", Request::get("/v2/auth/enable")),
        (
            "nobody reads through the guest role",
            Request::get("/v2/keys/r/1"),
        ),
        ("nobody lists users", Request::get("/v2/auth/users")),
    ];
    for (label, req) in setup {
        case(p, &format!("v2: {label}"), nobody, req);
    }
    case(
        p,
        "v2: root gets the guest role",
        ROOT,
        Request::get("/v2/auth/roles/guest"),
    );
    case(
        p,
        "v2: root takes the guest role's access away",
        ROOT,
        json_put(
            "/v2/auth/roles/guest",
            r#"{"role":"guest","revoke":{"kv":{"read":["/*"],"write":["/*"]}}}"#,
        ),
    );
    let callers = [
        ("root", ROOT),
        ("alice", Basic::As("alice", "alice-pw")),
        ("wendy", Basic::As("wendy", "wendy-pw")),
        ("alice, wrong password", Basic::As("alice", "wrong")),
        ("a missing user", Basic::As("nobody-here", "x")),
        ("malformed basic auth", Basic::Malformed),
        ("nobody", nobody),
    ];
    for (name, who) in callers {
        let user = name.split(',').next().unwrap_or(name).replace(' ', "-");
        let reqs = [
            ("read /r/1", Request::get("/v2/keys/r/1")),
            ("write /r/2", Request::put("/v2/keys/r/2").form("value=2")),
            ("read /w/1", Request::get("/v2/keys/w/1")),
            (
                "write /w/2",
                Request::put("/v2/keys/w/2").form(&format!("value={user}")),
            ),
            ("delete /w/2", Request::delete("/v2/keys/w/2")),
            ("read /other", Request::get("/v2/keys/other")),
            (
                "list / recursively",
                Request::get("/v2/keys/?recursive=true&sorted=true"),
            ),
            (
                "create in /w in order",
                Request::post("/v2/keys/w/q").form("value=x"),
            ),
            ("auth status", Request::get("/v2/auth/enable")),
            ("list users", Request::get("/v2/auth/users")),
            ("get alice", Request::get("/v2/auth/users/alice")),
            ("get rr", Request::get("/v2/auth/roles/rr")),
            (
                "add a user",
                json_put(
                    &format!("/v2/auth/users/x-{user}"),
                    &format!(r#"{{"user":"x-{user}","password":"x"}}"#),
                ),
            ),
            (
                "change alice's password",
                json_put(
                    "/v2/auth/users/alice",
                    r#"{"user":"alice","password":"alice-pw"}"#,
                ),
            ),
        ];
        for (label, req) in reqs {
            case(p, &format!("v2, {name}: {label}"), who, req);
        }
        if !matches!(who, Basic::As("root", _)) {
            case(
                p,
                &format!("v2, {name}: disable auth"),
                who,
                Request::delete("/v2/auth/enable"),
            );
        }
    }
    let root_errors = [
        ("delete root", Request::delete("/v2/auth/users/root")),
        (
            "delete the root role",
            Request::delete("/v2/auth/roles/root"),
        ),
        (
            "revoke root from root",
            json_put(
                "/v2/auth/users/root",
                r#"{"user":"root","revoke":["root"]}"#,
            ),
        ),
        (
            "delete the guest role",
            Request::delete("/v2/auth/roles/guest"),
        ),
        (
            "delete a missing user",
            Request::delete("/v2/auth/users/nobody-here"),
        ),
        ("delete wendy", Request::delete("/v2/auth/users/wendy")),
        ("delete role ww", Request::delete("/v2/auth/roles/ww")),
        (
            "get alice after a password change",
            Request::get("/v2/auth/users/alice"),
        ),
    ];
    for (label, req) in root_errors {
        case(p, &format!("v2, root: {label}"), ROOT, req);
    }
    case(
        p,
        "v2: wendy once deleted",
        Basic::As("wendy", "wendy-pw"),
        Request::get("/v2/keys/w/1"),
    );
    case(
        p,
        "v2: root disables auth",
        ROOT,
        Request::delete("/v2/auth/enable"),
    );
    case(
        p,
        "v2: auth status once disabled",
        nobody,
        Request::get("/v2/auth/enable"),
    );
    case(
        p,
        "v2: nobody writes once auth is off",
        nobody,
        Request::put("/v2/keys/r/3").form("value=3"),
    );
    case(
        p,
        "v2: a wrong password once auth is off",
        Basic::As("alice", "wrong"),
        Request::get("/v2/keys/r/1"),
    );
}
