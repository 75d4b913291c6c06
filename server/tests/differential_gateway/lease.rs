//! The lease service: grant, revoke, time-to-live, listing, and keepalive as a
//! stream.

use crate::harness::Pair;
use crate::observe::b64;
use serde_json::json;

const GRANT: &str = "/v3/lease/grant";
const REVOKE: &str = "/v3/lease/revoke";
const TTL: &str = "/v3/lease/timetolive";
const LEASES: &str = "/v3/lease/leases";
const KEEPALIVE: &str = "/v3/lease/keepalive";

#[test]
fn lease_lifecycle() {
    let mut p = Pair::start("gateway lease lifecycle");
    p.post("no leases", LEASES, "{}");
    p.grant("grant 60", "l1", r#"{"TTL":"60"}"#);
    p.grant("grant 30 as number", "l2", r#"{"TTL":30}"#);
    p.post("grant chosen id", GRANT, r#"{"TTL":"45","ID":"1000"}"#);
    p.post(
        "grant chosen id again",
        GRANT,
        r#"{"TTL":"45","ID":"1000"}"#,
    );
    p.post("grant ttl 0", GRANT, r#"{"TTL":"0","ID":"1001"}"#);
    p.post("grant negative ttl", GRANT, r#"{"TTL":"-5","ID":"1002"}"#);
    p.post(
        "grant huge ttl",
        GRANT,
        r#"{"TTL":"99999999999","ID":"1003"}"#,
    );
    p.grant("grant no body fields", "l0", "{}");
    p.post("list", LEASES, "{}");
    for (k, lease) in [("a", "l1"), ("b", "l1"), ("c", "l2")] {
        p.post(
            "put with lease",
            "/v3/kv/put",
            &format!(
                r#"{{"key":"{}","value":"dg==","lease":"{{{{{lease}}}}}"}}"#,
                b64(k)
            ),
        );
    }
    p.post(
        "put with chosen lease",
        "/v3/kv/put",
        &format!(r#"{{"key":"{}","lease":"1000"}}"#, b64("d")),
    );
    p.post("ttl", TTL, r#"{"ID":"{{l1}}"}"#);
    p.post("ttl with keys", TTL, r#"{"ID":"{{l1}}","keys":true}"#);
    p.post(
        "ttl chosen id with keys",
        TTL,
        r#"{"ID":"1000","keys":true}"#,
    );
    p.post("ttl unknown", TTL, r#"{"ID":"4242","keys":true}"#);
    p.post("ttl no id", TTL, "{}");
    p.post(
        "leased keys",
        "/v3/kv/range",
        &json!({"key": b64("a"), "range_end": b64("z")}).to_string(),
    );

    let mut ka = p.stream("keepalive", KEEPALIVE, r#"{"ID":"{{l1}}"}"#);
    p.line("keepalive answer", &mut ka);
    p.end("keepalive ends with its request body", &mut ka);
    let mut ka = p.stream(
        "keepalive twice",
        KEEPALIVE,
        r#"{"ID":"{{l2}}"} {"ID":"1000"}"#,
    );
    p.line("first keepalive", &mut ka);
    p.line("second keepalive", &mut ka);
    p.end("keepalives end", &mut ka);
    let mut ka = p.stream("keepalive unknown lease", KEEPALIVE, r#"{"ID":"4242"}"#);
    p.line("unknown lease answer", &mut ka);
    p.end("unknown lease ends", &mut ka);

    p.post("revoke", REVOKE, r#"{"ID":"{{l1}}"}"#);
    p.post("revoke again", REVOKE, r#"{"ID":"{{l1}}"}"#);
    p.post("revoke chosen id", REVOKE, r#"{"ID":1000}"#);
    p.post("revoke no id", REVOKE, "{}");
    p.post("ttl of revoked", TTL, r#"{"ID":"{{l1}}","keys":true}"#);
    p.post(
        "keys after revoke",
        "/v3/kv/range",
        &json!({"key": b64("a"), "range_end": b64("z")}).to_string(),
    );
    p.post("list after revoke", LEASES, "{}");
    p.post(
        "v3beta grant",
        "/v3beta/lease/grant",
        r#"{"TTL":"20","ID":"77"}"#,
    );
    p.post(
        "v3beta timetolive",
        "/v3beta/lease/timetolive",
        r#"{"ID":"77"}"#,
    );
    p.post("v3beta revoke", "/v3beta/kv/lease/revoke", r#"{"ID":"77"}"#);
    p.post(
        "v3 kv/lease/revoke",
        "/v3/kv/lease/revoke",
        r#"{"ID":"77"}"#,
    );
    p.post(
        "v3 kv/lease/timetolive",
        "/v3/kv/lease/timetolive",
        r#"{"ID":"77"}"#,
    );
    p.post("v3 kv/lease/leases", "/v3/kv/lease/leases", "{}");
    p.finish(36);
}
