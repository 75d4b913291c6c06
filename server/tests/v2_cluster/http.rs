//! The v2 keys API over plain HTTP/1.1, one connection per request: a long-polling
//! watch is abandoned by dropping its future, which closes its connection.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use hyper::body::Body as _;
use hyper::client::conn::http1;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// How long an ordinary (non-waiting) request may take before it counts as lost.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Bodies larger than this are a server fault, not a listing.
const MAX_BODY: usize = 16 << 20;

/// One answer of the v2 API.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    /// `X-Etcd-Index`: the store index the answer was produced at.
    pub etcd_index: Option<u64>,
    pub body: Value,
}

impl Reply {
    /// etcd's `errorCode`, for error answers.
    pub fn error_code(&self) -> Option<u64> {
        self.body.get("errorCode").and_then(Value::as_u64)
    }

    /// `action` of a successful answer.
    pub fn action(&self) -> &str {
        self.body
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// `node`, or `Null`.
    pub fn node(&self) -> &Value {
        self.body.get("node").unwrap_or(&Value::Null)
    }

    /// `node.modifiedIndex` of a successful answer.
    pub fn modified_index(&self) -> Option<u64> {
        self.node().get("modifiedIndex").and_then(Value::as_u64)
    }

    /// `X-Etcd-Index`, panicking with the answer when it is missing.
    pub fn index(&self, what: &str) -> u64 {
        self.etcd_index
            .unwrap_or_else(|| panic!("{what}: no X-Etcd-Index header on {self:?}"))
    }
}

/// `/v2/keys{key}?{params}` with every parameter value percent-encoded.
pub(crate) fn keys_path(key: &str, params: &[(&str, &str)]) -> String {
    assert!(key.starts_with('/'), "v2 keys start with '/': {key:?}");
    let mut p = format!("/v2/keys{key}");
    for (i, (k, v)) in params.iter().enumerate() {
        p.push(if i == 0 { '?' } else { '&' });
        p.push_str(k);
        p.push('=');
        p.push_str(&encode(v));
    }
    p
}

/// `application/x-www-form-urlencoded` escaping of one value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Sends one request to `endpoint` (`http://127.0.0.1:P`) and reads the whole
/// answer. `form` goes in the body as etcd's clients send `value`. No deadline:
/// callers that may wait wrap this in their own.
pub(crate) async fn send(
    endpoint: &str,
    method: Method,
    path: &str,
    form: Option<&str>,
) -> Result<Reply, String> {
    let addr = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http endpoint: {endpoint}"))?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake {addr}: {e}"))?;
    let conn = tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method.clone())
        .uri(path)
        .header("host", addr);
    if form.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = req
        .body(form.unwrap_or("").to_string())
        .map_err(|e| format!("building {method} {path}: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{method} {path} on {addr}: {e}"));
    let result = match resp {
        Ok(resp) => read_reply(resp).await,
        Err(e) => Err(e),
    };
    conn.abort();
    result.map_err(|e| format!("{method} {path} on {addr}: {e}"))
}

async fn read_reply(resp: hyper::Response<hyper::body::Incoming>) -> Result<Reply, String> {
    let status = resp.status().as_u16();
    let etcd_index = match resp.headers().get("x-etcd-index") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| format!("unreadable X-Etcd-Index {v:?}"))?,
        ),
        None => None,
    };
    let mut body = resp.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() > MAX_BODY {
                return Err(format!("body larger than {MAX_BODY} bytes"));
            }
        }
    }
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "HTTP {status}: body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })?
    };
    Ok(Reply {
        status,
        etcd_index,
        body,
    })
}

/// [`send`] with a deadline.
pub(crate) async fn send_within(
    limit: Duration,
    endpoint: &str,
    method: Method,
    path: &str,
    form: Option<&str>,
) -> Result<Reply, String> {
    match tokio::time::timeout(limit, send(endpoint, method.clone(), path, form)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{method} {path} on {endpoint}: no answer within {limit:?}"
        )),
    }
}

/// `GET key` with `params`.
pub(crate) async fn get(
    endpoint: &str,
    key: &str,
    params: &[(&str, &str)],
) -> Result<Reply, String> {
    send_within(
        REQUEST_TIMEOUT,
        endpoint,
        Method::GET,
        &keys_path(key, params),
        None,
    )
    .await
}

/// `PUT key` with `value` in the form body (none for `refresh=true` or `dir=true`)
/// and the other parameters in the query.
pub(crate) async fn put(
    endpoint: &str,
    key: &str,
    value: Option<&str>,
    params: &[(&str, &str)],
) -> Result<Reply, String> {
    put_within(REQUEST_TIMEOUT, endpoint, key, value, params).await
}

/// [`put`] with its own deadline.
pub(crate) async fn put_within(
    limit: Duration,
    endpoint: &str,
    key: &str,
    value: Option<&str>,
    params: &[(&str, &str)],
) -> Result<Reply, String> {
    let form = value.map(|v| format!("value={}", encode(v)));
    send_within(
        limit,
        endpoint,
        Method::PUT,
        &keys_path(key, params),
        form.as_deref(),
    )
    .await
}

/// One change as a v2 watcher receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub action: String,
    pub key: String,
    /// `node.value` (absent for `delete` and `expire`).
    pub value: Option<String>,
    pub modified_index: u64,
    pub created_index: u64,
    /// `prevNode.value`, when the event carries a previous node.
    pub prev_value: Option<String>,
}

impl Event {
    /// The event in a watch answer, or `None` if `r` is not one.
    pub fn from_reply(r: &Reply) -> Option<Event> {
        let node = r.body.get("node")?;
        let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
        Some(Event {
            action: r.body.get("action")?.as_str()?.to_string(),
            key: text(node, "key")?,
            value: text(node, "value"),
            modified_index: node.get("modifiedIndex")?.as_u64()?,
            created_index: node.get("createdIndex")?.as_u64()?,
            prev_value: r.body.get("prevNode").and_then(|p| text(p, "value")),
        })
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} {} (created {}",
            self.action, self.modified_index, self.key, self.created_index
        )?;
        if let Some(v) = &self.value {
            write!(f, ", value {v:?}")?;
        }
        if let Some(v) = &self.prev_value {
            write!(f, ", prev {v:?}")?;
        }
        write!(f, ")")
    }
}

/// What one `wait=true` request produced.
#[derive(Debug, Clone)]
pub(crate) enum Waited {
    /// The first change at or after the wait index.
    Event(Event),
    /// errorCode 401: the wait index is older than the history the member keeps;
    /// the member's current index is given.
    Cleared(u64),
}

/// `GET dir?wait=true&recursive=true&waitIndex=N` on `endpoint`: waits (without a
/// deadline) for the first change under `dir` at index `wait_index` or later.
pub(crate) async fn wait_recursive(
    endpoint: &str,
    dir: &str,
    wait_index: u64,
) -> Result<Waited, String> {
    let idx = wait_index.to_string();
    let path = keys_path(
        dir,
        &[("wait", "true"), ("recursive", "true"), ("waitIndex", &idx)],
    );
    let r = send(endpoint, Method::GET, &path, None).await?;
    if r.status == 200 {
        return Event::from_reply(&r)
            .map(Waited::Event)
            .ok_or_else(|| format!("GET {path} on {endpoint}: not an event: {}", r.body));
    }
    if r.error_code() == Some(401) {
        let now = r
            .body
            .get("index")
            .and_then(Value::as_u64)
            .or(r.etcd_index)
            .unwrap_or(0);
        return Ok(Waited::Cleared(now));
    }
    Err(format!(
        "GET {path} on {endpoint}: HTTP {} {}",
        r.status, r.body
    ))
}

/// Every change under `dir` with index in `from..=to`, read from `endpoint`'s
/// event history one `wait=true` request at a time (so it also shows how much
/// history a member kept); `to` must be the index of a change under `dir`.
/// Panics on 401 or when an answer does not come.
pub(crate) async fn history(
    endpoint: &str,
    dir: &str,
    from: u64,
    to: u64,
    who: &str,
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut next = from;
    while next <= to {
        let got = tokio::time::timeout(
            Duration::from_secs(10),
            wait_recursive(endpoint, dir, next),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("{who}: no event under {dir} at or after {next} within 10s (want up to {to})")
        })
        .unwrap_or_else(|e| panic!("{who}: reading history at {next}: {e}"));
        match got {
            Waited::Event(e) if e.modified_index > to => break,
            Waited::Event(e) => {
                assert!(
                    e.modified_index >= next,
                    "{who}: waitIndex={next} answered with an older event {e}"
                );
                next = e.modified_index + 1;
                out.push(e);
            }
            Waited::Cleared(now) => panic!(
                "{who}: waitIndex={next} under {dir} answered 401 (event index cleared, \
                 current index {now}); the history up to {to} is gone"
            ),
        }
    }
    out
}
