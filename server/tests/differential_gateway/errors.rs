//! Requests the gateway must refuse, and the spellings it must accept: bodies
//! that are not JSON or not the message, wrong methods and paths, field names
//! in either case style, both API prefixes.

use crate::harness::{post, Pair};
use crate::http::Request;

const RANGE: &str = "/v3/kv/range";
const PUT: &str = "/v3/kv/put";

#[test]
fn malformed_bodies() {
    let mut p = Pair::start("gateway malformed bodies");
    p.post("seed", PUT, r#"{"key":"YQ==","value":"MQ=="}"#);
    let bodies = [
        ("empty body", RANGE, ""),
        ("whitespace body", RANGE, "  \n"),
        ("truncated JSON", RANGE, r#"{"key":"YQ=="#),
        ("missing value", RANGE, r#"{"key":}"#),
        ("trailing comma", RANGE, r#"{"key":"YQ==",}"#),
        ("array", RANGE, "[]"),
        ("string", RANGE, r#""YQ==""#),
        ("null", RANGE, "null"),
        ("number", RANGE, "42"),
        ("two objects", RANGE, r#"{"key":"YQ=="}{"key":"Yg=="}"#),
        ("object then garbage", RANGE, r#"{"key":"YQ=="} xyz"#),
        ("unknown field", RANGE, r#"{"key":"YQ==","nope":1}"#),
        (
            "unknown nested field",
            "/v3/kv/txn",
            r#"{"success":[{"request_range":{"key":"YQ==","bogus":true}}]}"#,
        ),
        ("key as number", RANGE, r#"{"key":5}"#),
        ("key as object", RANGE, r#"{"key":{}}"#),
        ("limit as word", RANGE, r#"{"key":"YQ==","limit":"many"}"#),
        ("limit as bool", RANGE, r#"{"key":"YQ==","limit":true}"#),
        ("limit as fraction", RANGE, r#"{"key":"YQ==","limit":1.5}"#),
        (
            "limit overflow",
            RANGE,
            r#"{"key":"YQ==","limit":"99999999999999999999"}"#,
        ),
        (
            "keys_only as string",
            RANGE,
            r#"{"key":"YQ==","keys_only":"true"}"#,
        ),
        (
            "keys_only as number",
            RANGE,
            r#"{"key":"YQ==","keys_only":1}"#,
        ),
        (
            "unknown sort order",
            RANGE,
            r#"{"key":"YQ==","sort_order":"SIDEWAYS"}"#,
        ),
        (
            "lowercase enum",
            RANGE,
            r#"{"key":"YQ==","sort_order":"descend"}"#,
        ),
        ("bad base64", RANGE, r#"{"key":"!!!"}"#),
        ("unpadded base64", RANGE, r#"{"key":"YQ"}"#),
        ("URL-safe base64", RANGE, r#"{"key":"-_8="}"#),
        ("base64 with newline", RANGE, r#"{"key":"Y\nQ=="}"#),
        ("null field", RANGE, r#"{"key":null,"limit":null}"#),
        ("duplicate field", RANGE, r#"{"key":"Yg==","key":"YQ=="}"#),
        (
            "both case styles",
            RANGE,
            r#"{"key":"YQ==","range_end":"Yg==","rangeEnd":"eg=="}"#,
        ),
        (
            "put value as text",
            PUT,
            r#"{"key":"YQ==","value":"hello world"}"#,
        ),
        ("put empty key", PUT, r#"{"key":"","value":"MQ=="}"#),
        ("put lease as word", PUT, r#"{"key":"YQ==","lease":"abc"}"#),
        ("txn compare not a list", "/v3/kv/txn", r#"{"compare":{}}"#),
        (
            "txn unknown target",
            "/v3/kv/txn",
            r#"{"compare":[{"key":"YQ==","target":"COLOR"}]}"#,
        ),
        ("txn empty request op", "/v3/kv/txn", r#"{"success":[{}]}"#),
        (
            "compaction negative",
            "/v3/kv/compaction",
            r#"{"revision":"-1"}"#,
        ),
        (
            "deleterange unknown field",
            "/v3/kv/deleterange",
            r#"{"key":"YQ==","prevkv":true}"#,
        ),
        ("grant TTL as word", "/v3/lease/grant", r#"{"TTL":"long"}"#),
        (
            "grant ttl lowercase",
            "/v3/lease/grant",
            r#"{"ttl":"5","ID":"3"}"#,
        ),
        ("revoke id lowercase", "/v3/lease/revoke", r#"{"id":"3"}"#),
    ];
    for (label, path, body) in bodies {
        p.post(label, path, body);
    }
    p.case(
        "text/plain body",
        Request::post(RANGE).body_with("text/plain", br#"{"key":"YQ=="}"#.to_vec()),
    );
    p.case(
        "form content type",
        Request::post(RANGE).body_with(
            "application/x-www-form-urlencoded",
            br#"{"key":"YQ=="}"#.to_vec(),
        ),
    );
    p.case(
        "no content type",
        Request::post(RANGE).raw_body(r#"{"key":"YQ=="}"#),
    );
    p.case(
        "charset parameter",
        Request::post(RANGE).body_with(
            "application/json; charset=utf-8",
            br#"{"key":"YQ=="}"#.to_vec(),
        ),
    );
    p.case(
        "query parameters ignored",
        post("/v3/kv/range?key=Yg==", r#"{"key":"YQ=="}"#),
    );
    p.gap(
        "sort order out of range",
        post(RANGE, r#"{"key":"YQ==","sort_order":9}"#),
        "ectd refuses an unknown sort order, as etcd 3.5 does",
        400,
    );
    p.finish(48);
}

#[test]
fn methods_and_paths() {
    let mut p = Pair::start("gateway methods and paths");
    p.post("seed", PUT, r#"{"key":"YQ==","value":"MQ=="}"#);
    let methods = ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    for m in methods {
        p.case(
            &format!("{m} on range"),
            Request::new(m, RANGE).body_with("application/json", br#"{"key":"YQ=="}"#.to_vec()),
        );
    }
    p.case("GET on range, no body", Request::get(RANGE));
    p.case("GET on watch", Request::get("/v3/watch"));
    p.case(
        "GET on member list",
        Request::get("/v3/cluster/member/list"),
    );
    let paths = [
        "/v3/kv/nothing",
        "/v3/kv/range/",
        "/v3/kv/range/extra",
        "/v3/kv",
        "/v3/",
        "/v3",
        "/v3/KV/RANGE",
        "//v3/kv/range",
        "/v3//kv/range",
        "/v3/kv/./range",
        "/v3/kv/%72ange",
        "/v4/kv/range",
        "/v3alpha/kv/range",
        "/v3/auth/status",
        "/v3/maintenance/nothing",
    ];
    for path in paths {
        p.case(&format!("POST {path}"), post(path, r#"{"key":"YQ=="}"#));
    }
    let beta = [
        ("/v3beta/kv/range", r#"{"key":"YQ=="}"#),
        (
            "/v3beta/kv/put",
            r#"{"key":"Yg==","value":"Mg==","prev_kv":true}"#,
        ),
        ("/v3beta/kv/range", r#"{"key":"YQ==","range_end":"eg=="}"#),
        (
            "/v3beta/kv/txn",
            r#"{"success":[{"request_range":{"key":"Yg=="}}]}"#,
        ),
        ("/v3beta/kv/deleterange", r#"{"key":"Yg=="}"#),
        ("/v3beta/kv/compaction", r#"{"revision":"2"}"#),
        ("/v3beta/kv/nothing", "{}"),
    ];
    for (path, body) in beta {
        p.case(&format!("POST {path}"), post(path, body));
    }
    for path in ["/v3/auth/user/list", "/v3/auth/authenticate"] {
        p.case(&format!("POST {path}"), post(path, r#"{"key":"YQ=="}"#));
    }
    p.case(
        "Authorization header without auth",
        post(RANGE, r#"{"key":"YQ=="}"#).header("Authorization", "sometoken"),
    );
    p.case(
        "Grpc-Metadata header",
        post(RANGE, r#"{"key":"YQ=="}"#).header("Grpc-Metadata-Foo", "bar"),
    );
    p.case("version", Request::get("/version"));
    p.case("health", Request::get("/health"));
    p.finish(38);
}
