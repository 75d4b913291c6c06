//! Watch as a stream: the request body carries one or more `WatchRequest`s,
//! the answer is a line per `WatchResponse`.

use crate::harness::Pair;
use crate::observe::b64;
use serde_json::json;

const WATCH: &str = "/v3/watch";
const PUT: &str = "/v3/kv/put";

fn put(p: &mut Pair, label: &str, k: &str, v: &str) {
    p.json(label, PUT, json!({"key": b64(k), "value": b64(v)}));
}

fn create(body: serde_json::Value) -> String {
    json!({ "create_request": body }).to_string()
}

#[test]
fn watch_streams() {
    let mut p = Pair::start("gateway watch streams");
    put(&mut p, "history 1", "w/a", "1");
    put(&mut p, "history 2", "w/b", "2");

    let mut key = p.stream("watch one key", WATCH, &create(json!({"key": b64("w/a")})));
    let mut prefix = p.stream(
        "watch a prefix with prev_kv",
        WATCH,
        &create(json!({"key": b64("w/"), "range_end": b64("w0"), "prev_kv": true})),
    );
    let mut noput = p.stream(
        "watch deletes only",
        WATCH,
        &create(json!({"key": b64("w/"), "range_end": b64("w0"), "filters": ["NOPUT"]})),
    );
    let mut nodelete = p.stream(
        "watch puts only (lowerCamelCase)",
        WATCH,
        &json!({"createRequest": {"key": b64("w/"), "rangeEnd": b64("w0"), "filters": ["NODELETE"], "prevKv": true}}).to_string(),
    );
    for s in [&mut key, &mut prefix, &mut noput, &mut nodelete] {
        p.line("created", s);
    }
    put(&mut p, "put watched key", "w/a", "3");
    p.line("event on the key", &mut key);
    p.line("event on the prefix", &mut prefix);
    p.quiet("no put for NOPUT", &mut noput);
    p.line("put for NODELETE", &mut nodelete);
    put(&mut p, "put another key", "w/c", "4");
    p.quiet("other key not seen", &mut key);
    p.line("prefix sees it", &mut prefix);
    p.line("NODELETE sees it", &mut nodelete);
    p.json(
        "delete the prefix",
        "/v3/kv/deleterange",
        json!({"key": b64("w/"), "range_end": b64("w0")}),
    );
    p.line("key deleted", &mut key);
    p.line("prefix deletes", &mut prefix);
    p.line("NOPUT deletes", &mut noput);
    p.quiet("NODELETE quiet", &mut nodelete);
    p.json(
        "txn writing two keys",
        "/v3/kv/txn",
        json!({"success": [
            {"request_put": {"key": b64("w/a"), "value": b64("t")}},
            {"request_put": {"key": b64("w/d"), "value": b64("t")}}
        ]}),
    );
    p.line("one response for the txn", &mut prefix);
    p.line("key sees its put", &mut key);
    drop((key, prefix, noput, nodelete));

    let mut history = p.stream(
        "watch from revision 1",
        WATCH,
        &create(json!({"key": b64("w/"), "range_end": b64("w0"), "start_revision": 1})),
    );
    p.line("created", &mut history);
    p.line("history", &mut history);
    p.step("history done", &mut history);

    let mut progress = p.stream(
        "progress request after create",
        WATCH,
        &(create(json!({"key": b64("p")})) + r#"{"progress_request":{}}"#),
    );
    p.line("created", &mut progress);
    p.step("progress", &mut progress);

    let mut cancel = p.stream(
        "two watchers, first cancelled",
        WATCH,
        &(create(json!({"key": b64("x")}))
            + &create(json!({"key": b64("x"), "prev_kv": true}))
            + r#"{"cancel_request":{"watch_id":"0"}}"#),
    );
    p.line("first created", &mut cancel);
    p.line("second created", &mut cancel);
    p.line("first cancelled", &mut cancel);
    put(&mut p, "put x", "x", "1");
    p.line("only the second sees it", &mut cancel);
    p.quiet("nothing else", &mut cancel);

    let mut unknown = p.stream(
        "cancel an unknown watcher",
        WATCH,
        r#"{"cancel_request":{"watch_id":"7"}}"#,
    );
    p.step("unknown cancel", &mut unknown);

    let mut ids = p.stream(
        "chosen watch id and fragment",
        WATCH,
        &create(json!({"key": b64("x"), "watch_id": 5, "fragment": true})),
    );
    p.step("created with chosen id", &mut ids);

    p.json("compact", "/v3/kv/compaction", json!({"revision": 5}));
    let mut compacted = p.stream(
        "watch from a compacted revision",
        WATCH,
        &create(json!({"key": b64("w/a"), "start_revision": 2})),
    );
    p.line("created", &mut compacted);
    p.line("compacted", &mut compacted);

    let mut future = p.stream(
        "watch from a future revision",
        WATCH,
        &create(json!({"key": b64("w/a"), "start_revision": 100})),
    );
    p.line("created", &mut future);
    p.step("future quiet", &mut future);

    let mut bad = p.stream("watch with bad JSON", WATCH, r#"{"create_request":"#);
    p.end("bad watch body", &mut bad);
    let mut empty = p.stream("watch with an empty body", WATCH, "");
    p.end("empty watch body", &mut empty);
    let mut beta = p.stream(
        "watch on v3beta",
        "/v3beta/watch",
        &create(json!({"key": b64("x")})),
    );
    p.line("v3beta created", &mut beta);
    p.finish(20);
}

#[test]
fn watch_through_curl() {
    let mut p = Pair::start("gateway watch through curl -N");
    let mut w = p.curl(
        "curl watch",
        WATCH,
        &create(json!({"key": b64("c/"), "range_end": b64("c0"), "prev_kv": true})),
    );
    p.line("created", &mut w);
    put(&mut p, "put", "c/1", "a");
    p.line("put event", &mut w);
    put(&mut p, "overwrite", "c/1", "b");
    p.line("overwrite event", &mut w);
    p.json("delete", "/v3/kv/deleterange", json!({"key": b64("c/1")}));
    p.line("delete event", &mut w);
    p.quiet("quiet", &mut w);
    p.grant("grant", "l", r#"{"TTL":"60"}"#);
    let mut ka = p.curl("curl keepalive", "/v3/lease/keepalive", r#"{"ID":"{{l}}"}"#);
    p.line("keepalive", &mut ka);
    p.end("keepalive ends", &mut ka);
    p.finish(6);
}
