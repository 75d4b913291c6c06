//! The cluster and maintenance services.

use crate::harness::{post, Pair};

#[test]
fn members_and_maintenance() {
    let mut p = Pair::start("gateway cluster and maintenance");
    let cluster = [
        ("member list", "/v3/cluster/member/list", "{}"),
        (
            "member list, linearizable",
            "/v3/cluster/member/list",
            r#"{"linearizable":true}"#,
        ),
        ("add without URLs", "/v3/cluster/member/add", "{}"),
        (
            "add a bad URL",
            "/v3/cluster/member/add",
            r#"{"peerURLs":["not a url"]}"#,
        ),
        (
            "add a URL with a path",
            "/v3/cluster/member/add",
            r#"{"peerURLs":["http://127.0.0.1:1/x"]}"#,
        ),
        (
            "add an existing peer URL",
            "/v3/cluster/member/add",
            r#"{"peerURLs":["{{peer_url}}"]}"#,
        ),
        (
            "add existing, snake_case",
            "/v3/cluster/member/add",
            r#"{"peer_URLs":["{{peer_url}}"],"is_learner":true}"#,
        ),
        (
            "remove unknown",
            "/v3/cluster/member/remove",
            r#"{"ID":"1234"}"#,
        ),
        ("remove without id", "/v3/cluster/member/remove", "{}"),
        (
            "update unknown",
            "/v3/cluster/member/update",
            r#"{"ID":"1234","peerURLs":["http://127.0.0.1:1"]}"#,
        ),
        (
            "promote unknown",
            "/v3/cluster/member/promote",
            r#"{"ID":"1234"}"#,
        ),
        (
            "promote a voter",
            "/v3/cluster/member/promote",
            r#"{"ID":"{{member_id}}"}"#,
        ),
        ("member list again", "/v3/cluster/member/list", "{}"),
    ];
    let maintenance = [
        ("status", "/v3/maintenance/status", "{}"),
        ("hash", "/v3/maintenance/hash", "{}"),
        ("alarm list", "/v3/maintenance/alarm", r#"{"action":"GET"}"#),
        ("alarm default action", "/v3/maintenance/alarm", "{}"),
        (
            "alarm deactivate unknown member",
            "/v3/maintenance/alarm",
            r#"{"action":"DEACTIVATE","memberID":"99","alarm":"NOSPACE"}"#,
        ),
        (
            "alarm bad action",
            "/v3/maintenance/alarm",
            r#"{"action":"BOGUS"}"#,
        ),
        ("defragment", "/v3/maintenance/defragment", "{}"),
        (
            "transfer leadership to unknown",
            "/v3/maintenance/transfer-leadership",
            r#"{"targetID":"1234"}"#,
        ),
        ("status after", "/v3/maintenance/status", "{}"),
        ("v3beta status", "/v3beta/maintenance/status", "{}"),
        ("v3beta member list", "/v3beta/cluster/member/list", "{}"),
    ];
    for (label, path, body) in cluster.into_iter().chain(maintenance) {
        p.post(label, path, body);
    }

    // Where ectd knowingly answers otherwise than etcd 3.4 (see `Pair::gap`).
    const URLS: &str = "ectd refuses member peer URLs that are not URLs";
    p.gap(
        "update self to a bad URL",
        post(
            "/v3/cluster/member/update",
            r#"{"ID":"{{member_id}}","peerURLs":["bad"]}"#,
        ),
        URLS,
        400,
    );
    p.post(
        "update self back",
        "/v3/cluster/member/update",
        r#"{"ID":"{{member_id}}","peerURLs":["{{peer_url}}"]}"#,
    );
    p.post(
        "member list after the update",
        "/v3/cluster/member/list",
        "{}",
    );
    const HASHKV: &str = crate::kv::HASHKV_GAP;
    p.gap("hashkv", post("/v3/maintenance/hashkv", "{}"), HASHKV, 200);
    p.gap(
        "hashkv at 1",
        post("/v3/maintenance/hashkv", r#"{"revision":"1"}"#),
        HASHKV,
        200,
    );
    // Raising NOSPACE refuses the next put on both; clearing it lets puts in.
    let alarm = [
        (
            "alarm activate NOSPACE",
            "/v3/maintenance/alarm",
            r#"{"action":"ACTIVATE","memberID":"{{member_id}}","alarm":"NOSPACE"}"#,
        ),
        (
            "alarm list after",
            "/v3/maintenance/alarm",
            r#"{"action":"GET"}"#,
        ),
        (
            "put under NOSPACE",
            "/v3/kv/put",
            r#"{"key":"YQ==","value":"Yg=="}"#,
        ),
        (
            "lease grant under NOSPACE",
            "/v3/lease/grant",
            r#"{"TTL":"60","ID":"77"}"#,
        ),
        (
            "alarm deactivate",
            "/v3/maintenance/alarm",
            r#"{"action":"DEACTIVATE","memberID":"{{member_id}}","alarm":"NOSPACE"}"#,
        ),
        (
            "put after deactivate",
            "/v3/kv/put",
            r#"{"key":"YQ==","value":"Yg=="}"#,
        ),
        (
            "alarm activate CORRUPT",
            "/v3/maintenance/alarm",
            r#"{"action":"ACTIVATE","alarm":"CORRUPT"}"#,
        ),
        (
            "put under CORRUPT",
            "/v3/kv/put",
            r#"{"key":"YQ==","value":"Yg=="}"#,
        ),
        ("range under CORRUPT", "/v3/kv/range", r#"{"key":"YQ=="}"#),
        (
            "alarm deactivate CORRUPT",
            "/v3/maintenance/alarm",
            r#"{"action":"DEACTIVATE","alarm":"CORRUPT"}"#,
        ),
    ];
    for (label, path, body) in alarm {
        p.post(label, path, body);
    }
    p.finish(34);
}
