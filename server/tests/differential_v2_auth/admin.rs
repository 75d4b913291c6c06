//! The `/v2/auth` endpoints: users, roles and turning auth on and off, with
//! every error etcd 3.4 gives for them. `GET /v2/keys/` between steps compares
//! the store index, which every auth write moves in etcd.

use crate::callers::{json_put, role, user, Caller, ROOT};
use crate::harness::Pair;
use crate::http::Request;

fn index(p: &mut Pair, after: &str) {
    p.case(&format!("index after {after}"), Request::get("/v2/keys/"));
}

#[test]
fn endpoints_before_any_record() {
    let mut p = Pair::start("v2 auth: endpoints before any record");
    p.case("auth status", Request::get("/v2/auth/enable"));
    p.case("users, none", Request::get("/v2/auth/users"));
    p.case("users with a slash", Request::get("/v2/auth/users/"));
    p.case("roles: root alone", Request::get("/v2/auth/roles"));
    p.case("roles with a slash", Request::get("/v2/auth/roles/"));
    p.case("the root role", Request::get(&role("root")));
    p.case("no guest role yet", Request::get(&role("guest")));
    p.case("no root user yet", Request::get(&user("root")));
    p.case(
        "enable without a root user",
        Request::put("/v2/auth/enable"),
    );
    p.case("disable while off", Request::delete("/v2/auth/enable"));
    index(&mut p, "refused requests");

    p.case("POST enable", Request::post("/v2/auth/enable"));
    p.case("HEAD enable", Request::new("HEAD", "/v2/auth/enable"));
    p.case("PATCH users", Request::new("PATCH", "/v2/auth/users"));
    p.case("PUT the user list", json_put("/v2/auth/users", "{}"));
    p.case("DELETE the role list", Request::delete("/v2/auth/roles"));
    p.case("POST a user", Request::post(&user("x")));
    p.case("HEAD a role", Request::new("HEAD", &role("root")));
    p.case("a path below a user", Request::get("/v2/auth/users/a/b"));
    p.case("a path below a role", json_put("/v2/auth/roles/a/b", "{}"));
    p.case(
        "an escaped slash in a name",
        Request::get("/v2/auth/users/a%2Fb"),
    );
    p.case("a path to clean", Request::get("/v2/auth/users/a/../b"));
    p.case("a trailing slash", Request::get("/v2/auth/roles/root/"));
    p.case("/v2/auth", Request::get("/v2/auth"));
    p.case("/v2/auth/", Request::get("/v2/auth/"));
    p.case("enable with a slash", Request::get("/v2/auth/enable/"));
    p.case("an unknown endpoint", Request::get("/v2/auth/other"));
    p.case("a bad query on users", Request::get("/v2/auth/users?%zz"));
    p.case("a bad query on roles", Request::get("/v2/auth/roles?a;b"));
    p.case(
        "a bad query on a role",
        Request::get("/v2/auth/roles/root?%zz"),
    );
    p.case("a bad query on status", Request::get("/v2/auth/enable?%zz"));

    // The first write makes etcd's layout (/2, /2/users, /2/roles,
    // /2/enabled) even when the write itself then fails.
    p.case("delete a missing user", Request::delete(&user("nobody")));
    index(&mut p, "the layout was made");
    p.case("delete a missing role", Request::delete(&role("nobody")));
    p.case("delete the root role", Request::delete(&role("root")));
    index(&mut p, "failed writes");
    p.case("users, still none", Request::get("/v2/auth/users"));
    p.case("auth status, still off", Request::get("/v2/auth/enable"));
    p.finish(35);
}

#[test]
fn users() {
    let mut p = Pair::start("v2 auth: users");
    p.case(
        "root without a password",
        json_put(&user("root"), r#"{"user":"root"}"#),
    );
    index(&mut p, "a refused creation");
    p.case(
        "create root",
        json_put(&user("root"), r#"{"user":"root","password":"root-pw"}"#),
    );
    index(&mut p, "the first user");
    p.case(
        "create root again, with roles",
        json_put(
            &user("root"),
            r#"{"user":"root","password":"x","roles":["a"]}"#,
        ),
    );
    p.case("get root", Request::get(&user("root")));
    p.case(
        "create alice with roles (answered 200)",
        json_put(
            &user("alice"),
            r#"{"user":"alice","password":"pw","roles":["reader","reader","missing"]}"#,
        ),
    );
    p.case(
        "create bob without roles",
        json_put(&user("bob"), r#"{"user":"bob","password":"pw"}"#),
    );
    p.case(
        "create carol with an empty role list",
        json_put(
            &user("carol"),
            r#"{"user":"carol","password":"pw","roles":[],"grant":[],"revoke":null}"#,
        ),
    );
    p.case(
        "bob unchanged: no roles become an empty list",
        json_put(&user("bob"), r#"{"user":"bob"}"#),
    );
    p.case(
        "bob unchanged again",
        json_put(&user("bob"), r#"{"user":"bob"}"#),
    );
    p.case(
        "carol unchanged",
        json_put(&user("carol"), r#"{"user":"carol"}"#),
    );
    p.case(
        "bob's password",
        json_put(&user("bob"), r#"{"user":"bob","password":"pw2"}"#),
    );
    p.case(
        "grant bob two roles",
        json_put(
            &user("bob"),
            r#"{"user":"bob","grant":["writer","reader"]}"#,
        ),
    );
    p.case(
        "grant bob one he has",
        json_put(&user("bob"), r#"{"user":"bob","grant":["reader"]}"#),
    );
    p.case(
        "grant carol one role twice",
        json_put(&user("carol"), r#"{"user":"carol","grant":["x","x"]}"#),
    );
    p.case(
        "revoke from bob one he lacks",
        json_put(&user("bob"), r#"{"user":"bob","revoke":["other"]}"#),
    );
    p.case(
        "grant and revoke for bob at once",
        json_put(
            &user("bob"),
            r#"{"user":"bob","grant":["other"],"revoke":["writer"]}"#,
        ),
    );
    p.case(
        "roles with a grant",
        json_put(
            &user("bob"),
            r#"{"user":"bob","roles":["a"],"grant":["b"]}"#,
        ),
    );
    p.case(
        "roles for an existing user",
        json_put(&user("bob"), r#"{"user":"bob","roles":["a"]}"#),
    );
    p.case(
        "a grant for a missing user",
        json_put(&user("zed"), r#"{"user":"zed","grant":["a"]}"#),
    );
    p.case(
        "roles without a password for a new user",
        json_put(&user("zed"), r#"{"user":"zed","roles":["a"]}"#),
    );
    p.case(
        "a name that differs from the path",
        json_put(&user("zed"), r#"{"user":"zoe","password":"pw"}"#),
    );
    p.case("a body that is not JSON", json_put(&user("zed"), "{user"));
    p.case("an empty body", json_put(&user("zed"), ""));
    p.case("an array body", json_put(&user("zed"), "[]"));
    p.case("a null body", json_put(&user("zed"), "null"));
    p.case(
        "a number for a name",
        json_put(&user("zed"), r#"{"user":1,"password":"pw"}"#),
    );
    p.case(
        "a string for roles",
        json_put(&user("zed"), r#"{"user":"zed","roles":"a"}"#),
    );
    p.case(
        "fields in any case, data after the body, a form content type",
        Request::put(&user("dan")).body_with(
            "application/x-www-form-urlencoded",
            br#"{"USER":"dan","PassWord":"pw","unknown":[1]} trailing"#.to_vec(),
        ),
    );
    p.case(
        "a name to escape",
        json_put(
            "/v2/auth/users/%3Ci%3E",
            r#"{"user":"<i>","password":"pw","roles":["<&>"]}"#,
        ),
    );
    p.case(
        "a hidden user",
        json_put(&user("_hidden"), r#"{"user":"_hidden","password":"pw"}"#),
    );
    p.case(
        "a password past bcrypt's 72 bytes",
        json_put(
            &user("long"),
            &format!(r#"{{"user":"long","password":"{}"}}"#, "p".repeat(100)),
        ),
    );
    index(&mut p, "users were made");
    p.case(
        "users (the hidden one left out)",
        Request::get("/v2/auth/users"),
    );
    p.case("the hidden user", Request::get(&user("_hidden")));
    p.case(
        "alice, whose roles do not exist",
        Request::get(&user("alice")),
    );
    p.case("a missing user", Request::get(&user("nobody")));
    p.case("the escaped user", Request::get("/v2/auth/users/%3Ci%3E"));
    p.case("delete dan", Request::delete(&user("dan")));
    p.case("delete dan again", Request::delete(&user("dan")));
    p.case(
        "delete root while auth is off",
        Request::delete(&user("root")),
    );
    p.case(
        "create root with other roles",
        json_put(
            &user("root"),
            r#"{"user":"root","password":"root-pw","roles":["reader"]}"#,
        ),
    );
    p.case(
        "revoke root from root",
        json_put(&user("root"), r#"{"user":"root","revoke":["root"]}"#),
    );
    p.case("root keeps the root role", Request::get(&user("root")));
    index(&mut p, "root was remade");
    p.finish(45);
}

#[test]
fn roles() {
    let mut p = Pair::start("v2 auth: roles");
    p.case(
        "create reader",
        json_put(
            &role("reader"),
            r#"{"role":"reader","permissions":{"kv":{"read":["/pub/*","/doc"]}}}"#,
        ),
    );
    index(&mut p, "the first role");
    p.case(
        "create a role without permissions",
        json_put(&role("bare"), r#"{"role":"bare"}"#),
    );
    p.case(
        "create with an empty grant (kept and shown)",
        json_put(&role("echo"), r#"{"role":"echo","grant":{"kv":{}}}"#),
    );
    p.case("get echo", Request::get(&role("echo")));
    p.case(
        "create with empty lists",
        json_put(
            &role("lists"),
            r#"{"role":"lists","permissions":{"kv":{"read":[],"write":[]}},"revoke":null}"#,
        ),
    );
    p.case(
        "create the root role",
        json_put(&role("root"), r#"{"role":"root"}"#),
    );
    p.case(
        "create reader again",
        json_put(&role("reader"), r#"{"role":"reader"}"#),
    );
    p.case(
        "grant reader a write pattern",
        json_put(
            &role("reader"),
            r#"{"role":"reader","grant":{"kv":{"write":["/pub/*"]}}}"#,
        ),
    );
    p.case(
        "grant reader a pattern it has",
        json_put(
            &role("reader"),
            r#"{"role":"reader","grant":{"kv":{"read":["/doc"]}}}"#,
        ),
    );
    p.case(
        "grant one pattern twice",
        json_put(
            &role("bare"),
            r#"{"role":"bare","grant":{"kv":{"read":["/a","/a"]}}}"#,
        ),
    );
    p.case(
        "revoke only what reader lacks",
        json_put(
            &role("reader"),
            r#"{"role":"reader","revoke":{"kv":{"read":["/none"]}}}"#,
        ),
    );
    p.case(
        "revoke what lists lacks",
        json_put(
            &role("lists"),
            r#"{"role":"lists","revoke":{"kv":{"read":["/none"]}}}"#,
        ),
    );
    p.case(
        "revoke what bare lacks: absent lists become empty",
        json_put(
            &role("bare"),
            r#"{"role":"bare","revoke":{"kv":{"read":["/none"]}}}"#,
        ),
    );
    p.case(
        "the same revoke again",
        json_put(
            &role("bare"),
            r#"{"role":"bare","revoke":{"kv":{"read":["/none"]}}}"#,
        ),
    );
    p.case(
        "an update of echo drops its grant",
        json_put(
            &role("echo"),
            r#"{"role":"echo","revoke":{"kv":{"write":["/none"]}}}"#,
        ),
    );
    p.case(
        "grant and revoke at once",
        json_put(
            &role("reader"),
            r#"{"role":"reader","grant":{"kv":{"read":["/z"]}},"revoke":{"kv":{"read":["/doc"],"write":["/pub/*"]}}}"#,
        ),
    );
    p.case(
        "a repeated grant member decodes into one grant",
        json_put(
            &role("bare"),
            r#"{"role":"bare","grant":{"kv":{"read":["/m"]}},"Grant":{"KV":{"write":["/m"]}}}"#,
        ),
    );
    p.case(
        "permissions with a grant",
        json_put(
            &role("reader"),
            r#"{"role":"reader","permissions":{"kv":{"read":["/q"]}},"grant":{"kv":{"read":["/r"]}}}"#,
        ),
    );
    p.case(
        "grant to a missing role",
        json_put(
            &role("nope"),
            r#"{"role":"nope","grant":{"kv":{"read":["/x"]}}}"#,
        ),
    );
    p.case(
        "grant to the root role",
        json_put(
            &role("root"),
            r#"{"role":"root","grant":{"kv":{"read":["/x"]}}}"#,
        ),
    );
    p.case(
        "a name that differs from the path",
        json_put(&role("r9"), r#"{"role":"r8"}"#),
    );
    p.case("a body that is not JSON", json_put(&role("r9"), "{role"));
    p.case(
        "a string for a pattern list",
        json_put(
            &role("r9"),
            r#"{"role":"r9","permissions":{"kv":{"read":"/x"}}}"#,
        ),
    );
    p.case(
        "an array for kv",
        json_put(&role("r9"), r#"{"role":"r9","permissions":{"kv":[]}}"#),
    );
    p.case("delete the root role", Request::delete(&role("root")));
    p.case("delete a missing role", Request::delete(&role("nope")));
    p.case("get a missing role", Request::get(&role("nope")));
    p.case("roles", Request::get("/v2/auth/roles"));
    p.case(
        "a user of reader and a missing role",
        json_put(
            &user("ann"),
            r#"{"user":"ann","password":"pw","roles":["reader","missing"]}"#,
        ),
    );
    p.case(
        "users show the roles that exist",
        Request::get("/v2/auth/users"),
    );
    p.case("ann fails on the missing role", Request::get(&user("ann")));
    p.case("delete echo", Request::delete(&role("echo")));
    p.case("delete echo again", Request::delete(&role("echo")));
    p.case("roles after", Request::get("/v2/auth/roles"));
    index(&mut p, "the roles");
    p.finish(35);
}

#[test]
fn enabling_and_disabling() {
    let mut p = Pair::start("v2 auth: enabling and disabling");
    let bob = Caller::Basic("bob", "bob-pw");
    p.case(
        "create root",
        json_put(&user("root"), r#"{"user":"root","password":"root-pw"}"#),
    );
    p.case(
        "create bob",
        json_put(&user("bob"), r#"{"user":"bob","password":"bob-pw"}"#),
    );
    p.case(
        "enable: a guest role is made",
        Request::put("/v2/auth/enable"),
    );
    index(&mut p, "enabling");
    p.case("status, open to anyone", Request::get("/v2/auth/enable"));
    p.case("roles without credentials", Request::get("/v2/auth/roles"));
    p.case("roles as bob", bob.on(Request::get("/v2/auth/roles")));
    p.case(
        "roles with a wrong password",
        Caller::Basic("root", "nope").on(Request::get("/v2/auth/roles")),
    );
    p.case("roles as root", ROOT.on(Request::get("/v2/auth/roles")));
    p.case("the guest role", ROOT.on(Request::get(&role("guest"))));
    p.case("users as root", ROOT.on(Request::get("/v2/auth/users")));
    p.case("a user as nobody", Request::get(&user("bob")));
    p.case(
        "create a user as nobody",
        json_put(&user("x"), r#"{"user":"x","password":"pw"}"#),
    );
    p.case(
        "create a role as bob",
        bob.on(json_put(&role("x"), r#"{"role":"x"}"#)),
    );
    p.case("a bad path as nobody", Request::get("/v2/auth/users/a/b"));
    p.case("a wrong method as nobody", Request::post("/v2/auth/users"));
    p.case("enable again as nobody", Request::put("/v2/auth/enable"));
    p.case(
        "enable again as root",
        ROOT.on(Request::put("/v2/auth/enable")),
    );
    p.case(
        "delete root while on",
        ROOT.on(Request::delete(&user("root"))),
    );
    p.case(
        "grant bob root",
        ROOT.on(json_put(&user("bob"), r#"{"user":"bob","grant":["root"]}"#)),
    );
    p.case(
        "bob lists users as root now",
        bob.on(Request::get("/v2/auth/users")),
    );
    p.case(
        "delete the guest role",
        ROOT.on(Request::delete(&role("guest"))),
    );
    p.case("disable as nobody", Request::delete("/v2/auth/enable"));
    p.case(
        "disable with a malformed header",
        Caller::Header("Basic !!").on(Request::delete("/v2/auth/enable")),
    );
    p.case(
        "disable as bob, now root",
        bob.on(Request::delete("/v2/auth/enable")),
    );
    p.case("status after", Request::get("/v2/auth/enable"));
    p.case("disable again", ROOT.on(Request::delete("/v2/auth/enable")));
    p.case("users once off", Request::get("/v2/auth/users"));
    p.case(
        "re-enable: the guest role is made again",
        Request::put("/v2/auth/enable"),
    );
    p.case("the new guest role", ROOT.on(Request::get(&role("guest"))));
    p.case(
        "disable as root",
        ROOT.on(Request::delete("/v2/auth/enable")),
    );
    p.case("delete root once off", Request::delete(&user("root")));
    p.case("enable without root", Request::put("/v2/auth/enable"));
    index(&mut p, "everything");
    p.finish(30);
}
