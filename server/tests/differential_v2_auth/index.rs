//! Auth writes take store indexes, as in etcd, yet are not keys: no watcher
//! sees them, a `waitIndex` past them waits for the next key change, and no
//! key path reaches them.

use crate::callers::{json_put, role, user, ROOT};
use crate::harness::{keys, Pair};
use crate::http::Request;

#[test]
fn auth_writes_are_not_key_events() {
    let mut p = Pair::start("v2 auth: index and watchers");
    let start = p
        .case("the index before", Request::get("/v2/keys/"))
        .etcd_index()
        .expect("etcd's X-Etcd-Index");
    let mut all = p.watch(
        "a recursive watch on /",
        Request::get(&keys("/?wait=true&recursive=true")),
    );
    let mut two = p.watch(
        "a watch on the key /2",
        Request::get(&keys("/2?wait=true&recursive=true")),
    );
    p.case(
        "create root (the layout first)",
        json_put(&user("root"), r#"{"user":"root","password":"root-pw"}"#),
    );
    p.no_event("no event for a user", &mut all);
    p.no_event("no event on /2 either", &mut two);
    p.case(
        "create a role",
        json_put(
            &role("r"),
            r#"{"role":"r","permissions":{"kv":{"read":["/*"]}}}"#,
        ),
    );
    p.case("enable auth", Request::put("/v2/auth/enable"));
    p.no_event("no event for a role or enabling", &mut all);
    p.case("the index after", Request::get("/v2/keys/"));
    let mut from_auth = p.watch(
        "a watch from an index an auth write took",
        Request::get(&keys(&format!(
            "/?wait=true&recursive=true&waitIndex={}",
            start + 1
        ))),
    );
    p.no_event("history holds no key event since", &mut from_auth);
    p.case("write a key", Request::put(&keys("/k")).form("value=1"));
    p.case(
        "scan the history from the start: the key's event is the first",
        Request::get(&keys("/?wait=true&recursive=true&waitIndex=1")),
    );
    p.event("the key's event", &mut all);
    p.event("the key's event after the auth writes", &mut from_auth);
    p.no_event("still nothing on /2", &mut two);

    p.case("no key /2", Request::get(&keys("/2")));
    p.case("no key /2/users/root", Request::get(&keys("/2/users/root")));
    p.case("no key /2/enabled", Request::get(&keys("/2/enabled")));
    p.case("the root listing", Request::get(&keys("/?recursive=true")));
    p.case(
        "a key named like a record",
        Request::put(&keys("/2/users/root")).form("value=mine"),
    );
    p.case(
        "the user is unchanged",
        ROOT.on(Request::get(&user("root"))),
    );
    p.event("/2 sees the key", &mut two);
    p.case("disable", ROOT.on(Request::delete("/v2/auth/enable")));
    let mut again = p.watch(
        "a watch on /",
        Request::get(&keys("/?wait=true&recursive=true")),
    );
    p.case("delete the role", Request::delete(&role("r")));
    p.no_event("no event for a deletion", &mut again);
    p.case("store stats", Request::get("/v2/stats/store"));
    p.case("the index at the end", Request::get("/v2/keys/"));
    p.finish(20);
}
