//! etcd's v2 HTTP API on the client port (with `--enable-v2`): `/v2/keys`,
//! `/v2/members`, `/v2/machines`, `/v2/stats/*` and `/v2/auth/*`, answered as
//! etcd 3.4 answers them, headers and error bodies included.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use ectd_proto::raftcmd::{command::Op, V2Request};

use super::auth;
use super::event::{code, Event, V2Error};
use super::form::{self, Form};
use super::path;
use crate::apply::Output;
use crate::error::Error;
use crate::server::Server;

/// The largest form body read, as Go's `ParseForm` allows.
pub(super) const MAX_FORM_BYTES: usize = 10 << 20;

/// The v2 routes.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/v2/*rest", any(dispatch))
        .with_state(server)
}

/// etcd's CORS headers, on every HTTP answer while v2 is served; an `OPTIONS`
/// request is answered with them alone.
pub async fn cors(req: Request, next: Next) -> Response {
    let options = req.method() == Method::OPTIONS;
    let resp = if options {
        let mut r = Response::new(Body::empty());
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        r
    } else {
        next.run(req).await
    };
    add_cors(resp)
}

/// `resp` with etcd's CORS headers.
pub fn add_cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("accept, content-type, authorization"),
    );
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("POST, GET, OPTIONS, PUT, DELETE"),
    );
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    resp
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

pub(super) fn text(status: StatusCode, body: &str) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

pub(super) fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found\n")
}

pub(super) fn method_not_allowed(allow: Option<&'static str>) -> Response {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    if let Some(a) = allow {
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(a));
    }
    r
}

pub(super) fn json(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An HTTP error as etcd's v2 handlers write it: `{"message":...}`.
pub(super) fn http_error(status: StatusCode, message: &str) -> Response {
    let mut body = String::from("{\"message\":");
    super::json::string(&mut body, message.as_bytes());
    body.push('}');
    json(status, body)
}

pub(super) fn set(r: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        r.headers_mut().insert(name, v);
    }
}

/// A v2 store error as etcd writes it, with the index in `X-Etcd-Index`.
pub(super) fn v2_error(e: &V2Error) -> Response {
    let mut r = json(
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
        e.to_json(),
    );
    set(&mut r, "x-etcd-index", e.index);
    r
}

/// A failure outside the store (no leader, timeout, too large) as etcd shows it.
fn raft_error(e: &Error) -> Response {
    v2_error(&V2Error::new(code::RAFT_INTERNAL, e.to_string(), 0))
}

async fn dispatch(State(s): State<Arc<Server>>, req: Request) -> Response {
    let raw = req.uri().path().to_string();
    let Ok(decoded) = form::unescape(raw.as_bytes(), false) else {
        return text(StatusCode::BAD_REQUEST, "400 Bad Request");
    };
    let p = String::from_utf8_lossy(&decoded).into_owned();
    let clean = path::mux_clean(&p);
    if clean != p {
        return redirect(&clean, req.uri().query(), req.method());
    }
    let head = req.method() == Method::HEAD;
    let mut resp = if p == "/v2/keys" || p.starts_with("/v2/keys/") {
        keys(&s, req, &p["/v2/keys".len()..]).await
    } else if p == "/v2/members" || p.starts_with("/v2/members/") {
        super::members::members(&s, req, &p).await
    } else if p == "/v2/machines" {
        machines(&s, req.method())
    } else if p == "/v2/stats/store" || p == "/v2/stats/self" || p == "/v2/stats/leader" {
        stats(&s, req.method(), &p).await
    } else if p.starts_with("/v2/auth/") {
        super::auth::http::serve(&s, req, &p).await
    } else {
        not_found()
    };
    if head {
        // A HEAD answer tells the length of the body it leaves out.
        let (mut parts, body) = resp.into_parts();
        if !parts.headers.contains_key(header::CONTENT_LENGTH) {
            if let Ok(b) = axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
            }
        }
        resp = Response::from_parts(parts, Body::empty());
    }
    resp
}

pub(crate) fn redirect(to: &str, query: Option<&str>, method: &Method) -> Response {
    let mut loc = String::new();
    for b in to.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            loc.push(b as char);
        } else {
            loc.push_str(&format!("%{b:02X}"));
        }
    }
    if let Some(q) = query {
        loc.push('?');
        loc.push_str(q);
    }
    let body = if method == Method::GET || method == Method::HEAD {
        format!(
            "<a href=\"{}\">Moved Permanently</a>.\n\n",
            html_escape(&loc)
        )
    } else {
        String::new()
    };
    let mut r = Response::new(Body::from(body.clone()));
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    set(&mut r, "location", loc);
    if !body.is_empty() {
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// A parsed `/v2/keys` request.
struct KeyRequest {
    path: String,
    value: Vec<u8>,
    dir: bool,
    prev_value: Vec<u8>,
    has_prev_value: bool,
    prev_index: u64,
    prev_exist: Option<bool>,
    wait: bool,
    since: u64,
    recursive: bool,
    quorum: bool,
    stream: bool,
    refresh: bool,
    ttl: Option<u64>,
    no_value_on_success: bool,
}

fn field_error(code: u32, cause: &str) -> V2Error {
    V2Error::new(code, cause, 0)
}

fn parse_key_request(method: &Method, rest: &str, f: &Form) -> Result<KeyRequest, V2Error> {
    let prev_index = f
        .uint("prevIndex")
        .map_err(|_| field_error(code::INDEX_NAN, "invalid value for \"prevIndex\""))?;
    let since = f
        .uint("waitIndex")
        .map_err(|_| field_error(code::INDEX_NAN, "invalid value for \"waitIndex\""))?;
    let flag = |name: &str| {
        f.bool(name).map_err(|_| {
            field_error(
                code::INVALID_FIELD,
                &format!("invalid value for \"{name}\""),
            )
        })
    };
    let recursive = flag("recursive")?;
    let _sorted = flag("sorted")?;
    let wait = flag("wait")?;
    let dir = flag("dir")?;
    let quorum = flag("quorum")?;
    let stream = flag("stream")?;
    if wait && method != Method::GET {
        return Err(field_error(
            code::INVALID_FIELD,
            "\"wait\" can only be used with GET requests",
        ));
    }
    let prev_value = f.value("prevValue");
    if f.has("prevValue") && prev_value.is_empty() {
        return Err(field_error(
            code::PREV_VALUE_REQUIRED,
            "\"prevValue\" cannot be empty",
        ));
    }
    let no_value_on_success = flag("noValueOnSuccess")?;
    let ttl = match f.first("ttl") {
        Some(v) if !v.is_empty() => Some(
            form::parse_uint(v)
                .map_err(|_| field_error(code::TTL_NAN, "invalid value for \"ttl\""))?,
        ),
        _ => None,
    };
    let prev_exist = match f.first("prevExist") {
        None => None,
        Some(v) => Some(
            form::parse_bool(v)
                .map_err(|_| field_error(code::INVALID_FIELD, "invalid value for prevExist"))?,
        ),
    };
    let mut refresh = false;
    if let Some(v) = f.first("refresh") {
        refresh = form::parse_bool(v)
            .map_err(|_| field_error(code::INVALID_FIELD, "invalid value for refresh"))?;
        if refresh {
            if f.first("value").is_some_and(|v| !v.is_empty()) {
                return Err(field_error(
                    code::REFRESH_VALUE,
                    "A value was provided on a refresh",
                ));
            }
            if ttl.is_none() {
                return Err(field_error(code::REFRESH_TTL_REQUIRED, "No TTL value set"));
            }
        }
    }
    Ok(KeyRequest {
        path: path::clean(rest),
        value: f.value("value"),
        dir,
        has_prev_value: !prev_value.is_empty(),
        prev_value,
        prev_index,
        prev_exist,
        wait,
        since,
        recursive,
        quorum,
        stream,
        refresh,
        ttl,
        no_value_on_success,
    })
}

/// Whether a request's body is a form Go's `ParseForm` reads.
fn form_body(req: &Request) -> Result<bool, String> {
    if !matches!(req.method().as_str(), "PUT" | "POST" | "PATCH") {
        return Ok(false);
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media.is_empty() {
        return Err("mime: no media type".to_string());
    }
    Ok(media == "application/x-www-form-urlencoded")
}

async fn read_form(req: Request) -> Result<Form, String> {
    let query = req.uri().query().unwrap_or("").to_string();
    let body = if form_body(&req)? {
        match axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES + 1).await {
            Ok(b) if b.len() > MAX_FORM_BYTES => return Err("http: POST too large".to_string()),
            Ok(b) => Some(b),
            Err(e) => return Err(e.to_string()),
        }
    } else {
        None
    };
    Form::parse(&query, body.as_deref())
}

pub(super) fn with_cluster(mut r: Response, s: &Server) -> Response {
    set(&mut r, "x-etcd-cluster-id", format!("{:x}", s.cluster_id()));
    r
}

fn event_response(s: &Server, e: &Event, etcd_index: u64, with_nodes: bool) -> Response {
    let status = if e.is_created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = json(status, e.to_json_with(with_nodes));
    set(&mut r, "x-etcd-index", etcd_index);
    set(&mut r, "x-raft-index", s.raft_status().commit());
    set(&mut r, "x-raft-term", s.raft_status().term());
    r
}

async fn keys(s: &Arc<Server>, req: Request, rest: &str) -> Response {
    let method = req.method().clone();
    if !matches!(method.as_str(), "HEAD" | "GET" | "PUT" | "POST" | "DELETE") {
        return method_not_allowed(Some("HEAD,GET,PUT,POST,DELETE"));
    }
    let r = keys_inner(s, req, method, rest).await;
    with_cluster(r, s)
}

async fn keys_inner(s: &Arc<Server>, req: Request, method: Method, rest: &str) -> Response {
    let caller = auth::Caller::of(&req, s);
    let f = match read_form(req).await {
        Ok(f) => f,
        Err(e) => return v2_error(&field_error(code::INVALID_FORM, &e)),
    };
    let kr = match parse_key_request(&method, rest, &f) {
        Ok(k) => k,
        Err(e) => return v2_error(&e),
    };
    // etcd checks the key as the request wrote it, not the cleaned path.
    let write = auth::is_write(&method);
    if !auth::has_key_access(s, &caller, rest, write, kr.recursive).await {
        return v2_error(&V2Error::new(
            code::UNAUTHORIZED,
            "Insufficient credentials",
            0,
        ));
    }
    let v2 = s.v2();
    if method == Method::GET || method == Method::HEAD {
        if method == Method::GET && kr.quorum {
            if let Err(e) = s.read_barrier().await {
                return raft_error(&e);
            }
        } else if method == Method::GET && kr.wait {
            return watch(s, &kr);
        }
        return match v2.get(&kr.path, kr.recursive, now_nanos()) {
            Ok((e, index)) => event_response(s, &e, index, true),
            Err(e) => v2_error(&e),
        };
    }
    let now = now_nanos();
    let expiration = kr.ttl.map_or(0, |t| {
        // Go's duration arithmetic, wrapping as it does for absurd TTLs.
        (t as i64).wrapping_mul(1_000_000_000).wrapping_add(now)
    });
    let cmd = V2Request {
        method: method.as_str().to_string(),
        path: kr.path.clone(),
        value: kr.value.clone(),
        dir: kr.dir,
        prev_value: kr.prev_value.clone(),
        prev_index: kr.prev_index,
        prev_exist: match kr.prev_exist {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        },
        recursive: kr.recursive,
        refresh: kr.refresh,
        expiration,
        time: now,
        has_prev_value: kr.has_prev_value,
        auth: false,
    };
    match s.propose(Op::V2(cmd)).await {
        Ok(Output::V2(Ok(e))) => {
            let with_nodes = !(kr.no_value_on_success
                && matches!(e.action, "set" | "compareAndSwap" | "create" | "update"));
            let index = e.index();
            event_response(s, &e, index, with_nodes)
        }
        Ok(Output::V2(Err(e))) => v2_error(&e),
        Ok(_) => raft_error(&Error::Stopped),
        Err(e) => raft_error(&e),
    }
}

fn watch(s: &Arc<Server>, kr: &KeyRequest) -> Response {
    let w = match s.v2().watch(&kr.path, kr.recursive, kr.stream, kr.since) {
        Ok(w) => w,
        Err(e) => return v2_error(&e),
    };
    let stream = kr.stream;
    let start = w.start_index;
    let state = (w.events, w.guard, false);
    let body = futures::stream::unfold(state, move |(mut events, guard, done)| async move {
        if done {
            return None;
        }
        let e = events.recv().await?;
        let chunk = Bytes::from(e.to_json());
        Some((Ok::<_, Infallible>(chunk), (events, guard, !stream)))
    });
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    set(&mut r, "x-etcd-index", start);
    set(&mut r, "x-raft-index", s.raft_status().commit());
    set(&mut r, "x-raft-term", s.raft_status().term());
    r
}

fn machines(s: &Server, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(Some("GET,HEAD"));
    }
    let mut urls: Vec<String> = s
        .members()
        .into_iter()
        .flat_map(|m| m.client_urls)
        .collect();
    urls.sort();
    let mut r = Response::new(Body::from(urls.join(", ")));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn stats(s: &Arc<Server>, method: &Method, p: &str) -> Response {
    if method != Method::GET {
        return method_not_allowed(Some("GET"));
    }
    match p {
        "/v2/stats/store" => json(StatusCode::OK, s.v2().stats.to_json(s.v2().watcher_count())),
        "/v2/stats/self" => json(StatusCode::OK, self_stats(s)),
        _ => leader_stats(s).await,
    }
}

fn time_text(unix_nanos: i64) -> String {
    let mut out = String::new();
    super::json::time(&mut out, unix_nanos);
    out
}

fn self_stats(s: &Server) -> String {
    let leader = s.raft_status().leader();
    let state = if leader == s.member_id() {
        "StateLeader"
    } else {
        "StateFollower"
    };
    let started = s.started_at_nanos();
    let uptime = std::time::Duration::from_nanos((now_nanos() - started).max(0) as u64);
    let mut out = String::from("{\"name\":");
    super::json::string(&mut out, s.name().as_bytes());
    out.push_str(&format!(
        ",\"id\":\"{:x}\",\"state\":\"{state}\",\"startTime\":{},\"leaderInfo\":{{\"leader\":\"{leader:x}\",\"uptime\":\"{:?}\",\"startTime\":{}}},\"recvAppendRequestCnt\":0,\"sendAppendRequestCnt\":0}}",
        s.member_id(),
        time_text(started),
        uptime,
        time_text(started),
    ));
    out
}

async fn leader_stats(s: &Arc<Server>) -> Response {
    let progress = match s.progress().await {
        Ok(p) if p.is_leader => p,
        _ => return http_error(StatusCode::FORBIDDEN, "not current leader"),
    };
    let mut out = format!("{{\"leader\":\"{:x}\",\"followers\":{{", s.member_id());
    let followers = progress
        .peers
        .iter()
        .filter(|(id, _, _)| *id != s.member_id());
    for (i, (id, _, active)) in followers.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "\"{id:x}\":{{\"latency\":{{\"current\":0,\"average\":0,\"standardDeviation\":0,\"minimum\":0,\"maximum\":0}},\"counts\":{{\"fail\":{},\"success\":{}}}}}",
            u64::from(!active),
            u64::from(*active)
        ));
    }
    out.push_str("}}");
    json(StatusCode::OK, out)
}
