//! v2 and v3 auth are apart in etcd 3.4: turning either on leaves the other
//! off. The v3 side is driven through the JSON gateway, its answers compared
//! by shape (they carry per-cluster ids, revisions and tokens).

use crate::callers::{json_put, user, ROOT};
use crate::harness::Pair;
use crate::http::Request;
use crate::observe::Mode;

fn v3(p: &mut Pair, label: &str, path: &str, body: &str) {
    let req = Request::post(path).body_with("application/json", body.as_bytes().to_vec());
    p.case_in(label, req, Mode::Shape);
}

#[test]
fn v2_and_v3_auth_are_apart() {
    let mut p = Pair::start("v2 auth: apart from v3 auth");
    p.case(
        "v2 root",
        json_put(&user("root"), r#"{"user":"root","password":"root-pw"}"#),
    );
    p.case("v2 enable", Request::put("/v2/auth/enable"));
    p.case(
        "v2 keys refuse a stranger",
        crate::callers::Caller::Basic("x", "y").on(Request::get("/v2/keys/")),
    );
    v3(
        &mut p,
        "a v3 put without a token",
        "/v3/kv/put",
        r#"{"key":"YQ==","value":"YQ=="}"#,
    );
    v3(&mut p, "v3 users", "/v3/auth/user/list", "{}");
    p.case("v2 disable", ROOT.on(Request::delete("/v2/auth/enable")));

    v3(
        &mut p,
        "v3 root",
        "/v3/auth/user/add",
        r#"{"name":"root","password":"v3-pw"}"#,
    );
    v3(
        &mut p,
        "v3 root role",
        "/v3/auth/user/grant",
        r#"{"user":"root","role":"root"}"#,
    );
    v3(&mut p, "v3 enable", "/v3/auth/enable", "{}");
    // A login succeeds only while v3 auth is on. (Refusals are not compared:
    // etcd's gateway adds a `Trailer` header to its errors.)
    v3(
        &mut p,
        "a v3 login",
        "/v3/auth/authenticate",
        r#"{"name":"root","password":"v3-pw"}"#,
    );
    p.case("v2 status", Request::get("/v2/auth/enable"));
    p.case("v2 users", Request::get("/v2/auth/users"));
    p.case(
        "a v2 write without credentials",
        Request::put("/v2/keys/a").form("value=1"),
    );
    p.case(
        "v2 ignores v3's password",
        crate::callers::Caller::Basic("root", "v3-pw").on(Request::get("/v2/keys/a")),
    );
    p.case("v2 enable under v3 auth", Request::put("/v2/auth/enable"));
    p.case(
        "v2 refuses the v3 password",
        crate::callers::Caller::Basic("root", "v3-pw").on(Request::get("/v2/auth/users")),
    );
    p.case("v2 takes its own", ROOT.on(Request::get("/v2/auth/users")));
    p.finish(15);
}
