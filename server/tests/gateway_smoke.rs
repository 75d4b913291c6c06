//! The JSON gateway end to end: a real ectd on 127.0.0.1 takes puts, ranges, a
//! txn, a streaming watch and a streaming lease keep-alive over plain HTTP/1.1,
//! and a handful of answers are compared with real etcd 3.4 given the same
//! requests (ids that differ by nature are masked first).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Ectd, Etcd, Member};
use serde_json::Value;
use tempfile::TempDir;

const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP answer: status, headers (lower-cased names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Writes the request in one piece: a body arriving after the server has
/// answered and closed would make its kernel reset the connection (Go's
/// server answers `/v3` without reading the body), losing the answer.
fn send(s: &mut TcpStream, port: u16, method: &str, path: &str, body: &str) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).expect("write request");
}

/// One request on its own connection, read to the end.
fn call(port: u16, method: &str, path: &str, body: &str) -> Answer {
    let mut s = connect(port);
    send(&mut s, port, method, path, body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer");
    parse(&String::from_utf8_lossy(&raw))
}

fn post(m: &Member, path: &str, body: &str) -> Answer {
    call(m.client_port(), "POST", path, body)
}

fn parse(raw: &str) -> Answer {
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            out.push_str(&rest[..n.min(rest.len())]);
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Posts a streaming request and collects `{"result":...}` lines until `want`
/// have arrived, then drops the connection (which ends the call).
fn stream(m: &Member, path: &str, body: &str, want: usize) -> Vec<Value> {
    let port = m.client_port();
    let mut s = connect(port);
    send(&mut s, port, "POST", path, body);
    let deadline = Instant::now() + TIMEOUT;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let results: Vec<Value> = String::from_utf8_lossy(&raw)
            .lines()
            .filter(|l| l.starts_with("{\"result\":"))
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line")["result"].clone())
            .collect();
        if results.len() >= want {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {} of {want} results: {:?}",
            results.len(),
            String::from_utf8_lossy(&raw)
        );
        let n = s.read(&mut buf).expect("read stream");
        assert!(
            n > 0,
            "{path} ended early: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Standard base64 with padding, as the gateway carries bytes.
fn b64(s: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `v` with what differs between any two clusters masked: the member and
/// cluster ids, the raft term and lease ids.
fn masked(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    match k.as_str() {
                        "cluster_id" | "member_id" | "raft_term" | "ID" | "lease" => {
                            *x = Value::String("*".into())
                        }
                        _ => walk(x),
                    }
                }
            }
            Value::Array(xs) => xs.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Runs the same scripted requests on `m` and returns what to compare.
fn script(m: &Member) -> Vec<(String, u16, Value)> {
    let mut out = Vec::new();
    let mut note = |what: &str, a: Answer| {
        let body = if a.body.is_empty() {
            Value::Null
        } else if a.status == 200 || a.body.starts_with('{') {
            masked(a.json())
        } else {
            Value::String(a.body.clone())
        };
        out.push((what.to_string(), a.status, body));
    };
    let put = format!(r#"{{"key":"{}","value":"{}"}}"#, b64("a"), b64("1"));
    note("put", post(m, "/v3/kv/put", &put));
    let put_prev = format!(
        r#"{{"key":"{}","value":"{}","prevKv":true}}"#,
        b64("a"),
        b64("2")
    );
    note("put prev_kv", post(m, "/v3/kv/put", &put_prev));
    let range = format!(r#"{{"key":"{}","range_end":"{}"}}"#, b64("a"), b64("b"));
    note("range", post(m, "/v3beta/kv/range", &range));
    let txn = format!(
        r#"{{"compare":[{{"key":"{k}","target":"VERSION","result":"EQUAL","version":"2"}}],
            "success":[{{"request_put":{{"key":"{k}","value":"{v}"}}}},{{"request_range":{{"key":"{k}"}}}}],
            "failure":[]}}"#,
        k = b64("a"),
        v = b64("3")
    );
    note("txn", post(m, "/v3/kv/txn", &txn));
    note(
        "deleterange",
        post(
            m,
            "/v3/kv/deleterange",
            &format!(r#"{{"key":"{}","prev_kv":true}}"#, b64("a")),
        ),
    );
    note("range empty body", post(m, "/v3/kv/range", ""));
    note("range bad json", post(m, "/v3/kv/range", "{\"key\":"));
    note("range not json", post(m, "/v3/kv/range", "xx"));
    note(
        "range future rev",
        post(
            m,
            "/v3/kv/range",
            &format!(r#"{{"key":"{}","revision":"99"}}"#, b64("a")),
        ),
    );
    note(
        "revoke unknown",
        post(m, "/v3/lease/revoke", r#"{"ID":"12345"}"#),
    );
    note(
        "alias revoke",
        post(m, "/v3/kv/lease/revoke", r#"{"ID":"12345"}"#),
    );
    note("range null", post(m, "/v3/kv/range", "null"));
    note(
        "range mistyped",
        post(m, "/v3/kv/range", r#"{"key":"YQ==","limit":"1.5"}"#),
    );
    note(
        "range unpadded base64",
        post(m, "/v3/kv/range", r#"{"key":"YQ"}"#),
    );
    note(
        "range null field",
        post(
            m,
            "/v3/kv/range",
            &format!(r#"{{"key":"{}","limit":null}}"#, b64("a")),
        ),
    );
    note("keepalive empty body", post(m, "/v3/lease/keepalive", ""));
    note("unknown path", post(m, "/v3/kv/nothing", "{}"));
    note("bare /v3", post(m, "/v3", "{}"));
    note(
        "get on a method",
        call(m.client_port(), "GET", "/v3/kv/range", ""),
    );
    out
}

#[test]
fn gateway_serves_kv_watch_and_lease_like_etcd() {
    let dir = TempDir::new().expect("temp dir");
    let (ectd_dir, etcd_dir) = (dir.path().join("ectd"), dir.path().join("etcd"));
    std::fs::create_dir_all(&ectd_dir).expect("ectd dir");
    std::fs::create_dir_all(&etcd_dir).expect("etcd dir");
    let ectd = Ectd::start(&ectd_dir, &[]);
    let etcd = Etcd::start(&etcd_dir);

    // Headers etcd's gateway sets on a successful answer.
    let a = post(
        &ectd,
        "/v3/kv/range",
        &format!(r#"{{"key":"{}"}}"#, b64("zz")),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(
        a.header("grpc-metadata-content-type"),
        Some("application/grpc")
    );
    assert_eq!(a.header("access-control-allow-origin"), Some("*"));

    let ours = script(&ectd);
    let theirs = script(&etcd);
    for ((what, status, body), (_, e_status, e_body)) in ours.iter().zip(&theirs) {
        assert_eq!(
            (status, body),
            (e_status, e_body),
            "{what}: ectd answered {status} {body}, etcd {e_status} {e_body}"
        );
    }

    // A watch from revision 1 replays history, then follows new writes.
    let watch = format!(
        r#"{{"create_request":{{"key":"{}","start_revision":"1"}}}}"#,
        b64("w")
    );
    post(
        &ectd,
        "/v3/kv/put",
        &format!(r#"{{"key":"{}","value":"{}"}}"#, b64("w"), b64("x")),
    );
    let port = ectd.client_port();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let del = format!(r#"{{"key":"{}"}}"#, b64("w"));
        call(port, "POST", "/v3/kv/deleterange", &del)
    });
    let got = stream(&ectd, "/v3/watch", &watch, 3);
    assert_eq!(writer.join().expect("writer").status, 200);
    assert_eq!(got[0]["created"], Value::Bool(true), "{got:?}");
    let ev = &got[1]["events"][0];
    assert_eq!(ev["kv"]["key"], Value::String(b64("w")), "{got:?}");
    assert_eq!(ev["kv"]["value"], Value::String(b64("x")), "{got:?}");
    assert!(ev.get("type").is_none(), "PUT is the zero value: {got:?}");
    let ev = &got[2]["events"][0];
    assert_eq!(ev["type"], Value::String("DELETE".into()), "{got:?}");

    // Keep-alives stream one answer per request, each carrying the TTL left.
    let grant = post(&ectd, "/v3/lease/grant", r#"{"TTL":"60"}"#).json();
    let id = grant["ID"]
        .as_str()
        .expect("lease id as a string")
        .to_string();
    let ka = format!(r#"{{"ID":"{id}"}} {{"ID":"{id}"}}"#);
    let got = stream(&ectd, "/v3/lease/keepalive", &ka, 2);
    for r in &got {
        assert_eq!(r["ID"], Value::String(id.clone()), "{got:?}");
        assert_eq!(r["TTL"], Value::String("60".into()), "{got:?}");
    }
    let ttl = post(
        &ectd,
        "/v3/lease/timetolive",
        &format!(r#"{{"ID":"{id}","keys":true}}"#),
    )
    .json();
    assert_eq!(ttl["grantedTTL"], Value::String("60".into()), "{ttl}");
}
