//! `/v2/members`: the membership as etcd 3.4's v2 API shows and changes it, with
//! member bodies read as etcd reads them (Go's JSON and URL errors). Changes are made
//! on the leader, here or through its client URL.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::response::Response;

use super::http::{http_error, json, method_not_allowed, with_cluster, MAX_FORM_BYTES};
use crate::error::Error;
use crate::server::Server;

fn member_json(out: &mut String, m: &ectd_proto::raftcmd::Member) {
    out.push_str(&format!("{{\"id\":\"{:x}\",\"name\":", m.id));
    super::json::string(out, m.name.as_bytes());
    for (name, urls) in [("peerURLs", &m.peer_urls), ("clientURLs", &m.client_urls)] {
        out.push_str(&format!(",\"{name}\":["));
        for (i, u) in urls.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            super::json::string(out, u.as_bytes());
        }
        out.push(']');
    }
    out.push('}');
}

/// Peer URLs of a member request body, checked as etcd checks them (Go's
/// `url.Parse`, then scheme, `host:port` and no path), sorted.
fn peer_urls(body: &[u8]) -> Result<Vec<String>, String> {
    let urls = super::gojson::member_peer_urls(body)?;
    if urls.is_empty() {
        return Err("no valid URLs given".into());
    }
    let mut checked = Vec::with_capacity(urls.len());
    for u in urls {
        check_peer_url(&u)?;
        checked.push(u);
    }
    checked.sort();
    Ok(checked)
}

fn check_peer_url(u: &str) -> Result<(), String> {
    let b = u.as_bytes();
    if let Some(i) = (0..b.len()).find(|&i| {
        b[i] == b'%'
            && !(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
    }) {
        let esc: String = u[i..].chars().take(3).collect();
        return Err(format!("parse {u:?}: invalid URL escape {esc:?}"));
    }
    // Go's scheme: letters first, then letters, digits, `+`, `-`, `.`, up to `:`.
    let mut scheme = "";
    let mut rest = u;
    for (i, c) in u.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(format!("parse {u:?}: missing protocol scheme")),
            ':' => {
                scheme = &u[..i];
                rest = &u[i + 1..];
                break;
            }
            _ => break,
        }
    }
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "unix" | "unixs") {
        return Err(format!(
            "URL scheme must be http, https, unix, or unixs: {u}"
        ));
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = match rest.strip_prefix("//") {
        Some(auth) => {
            let (a, p) = auth.split_at(auth.find('/').unwrap_or(auth.len()));
            (a.rsplit('@').next().unwrap_or(a), p)
        }
        None => ("", rest),
    };
    let host_port_ok = match host.strip_prefix('[') {
        Some(h) => h
            .find(']')
            .is_some_and(|e| h[e + 1..].starts_with(':') && !h[e + 2..].contains(':')),
        None => host.matches(':').count() == 1,
    };
    if !host_port_ok {
        return Err(format!(
            "URL address does not have the form \"host:port\": {u}"
        ));
    }
    if !path.is_empty() {
        return Err(format!("URL must not contain a path: {u}"));
    }
    Ok(())
}

fn member_error(e: &Error, id: &str) -> Response {
    match e {
        Error::MemberExist | Error::PeerUrlExist => {
            let m = match e {
                Error::MemberExist => "membership: ID exists",
                _ => "membership: peerURL exists",
            };
            http_error(StatusCode::CONFLICT, m)
        }
        Error::MemberNotFound => {
            http_error(StatusCode::NOT_FOUND, &format!("No such member: {id}"))
        }
        _ => http_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

pub(super) async fn members(s: &Arc<Server>, req: Request, p: &str) -> Response {
    let method = req.method().clone();
    if !matches!(method.as_str(), "GET" | "POST" | "DELETE" | "PUT") {
        return method_not_allowed(Some("GET,POST,DELETE,PUT"));
    }
    // Reading the membership is open; changing it needs the root role while
    // v2 auth is on.
    if method != Method::GET
        && !super::auth::has_root_access(s, &super::auth::Caller::of(&req, s)).await
    {
        return super::auth::http::no_auth();
    }
    let sub = p["/v2/members".len()..].trim_start_matches('/').to_string();
    let r = match method.as_str() {
        "GET" => match sub.as_str() {
            "" => {
                let mut body = String::from("{\"members\":[");
                for (i, m) in s.members().iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    member_json(&mut body, m);
                }
                body.push_str("]}\n");
                json(StatusCode::OK, body)
            }
            "leader" => {
                let leader = s.raft_status().leader();
                match s.members().into_iter().find(|m| m.id == leader) {
                    Some(m) if leader != 0 => {
                        let mut body = String::new();
                        member_json(&mut body, &m);
                        body.push('\n');
                        json(StatusCode::OK, body)
                    }
                    _ => http_error(StatusCode::SERVICE_UNAVAILABLE, "During election"),
                }
            }
            _ => http_error(StatusCode::NOT_FOUND, "Not found"),
        },
        "POST" => member_add(s, req).await,
        _ => {
            if sub.is_empty() {
                return with_cluster(method_not_allowed(None), s);
            }
            let Ok(id) = u64::from_str_radix(&sub, 16) else {
                return with_cluster(
                    http_error(StatusCode::NOT_FOUND, &format!("No such member: {sub}")),
                    s,
                );
            };
            let shown = format!("{id:x}");
            if method == Method::DELETE {
                if crate::membership::is_removed(s.store().engine(), id) {
                    return with_cluster(
                        http_error(
                            StatusCode::GONE,
                            &format!("Member permanently removed: {shown}"),
                        ),
                        s,
                    );
                }
                match forward_or(s, |c| async move { c.remove(id).await }).await {
                    Ok(()) => no_content(),
                    Err(e) => member_error(&e, &shown),
                }
            } else {
                let body = match json_body(req).await {
                    Ok(b) => b,
                    Err(r) => return with_cluster(r, s),
                };
                let urls = match peer_urls(&body) {
                    Ok(u) => u,
                    Err(e) => return with_cluster(http_error(StatusCode::BAD_REQUEST, &e), s),
                };
                match forward_or(s, |c| async move { c.update(id, urls).await }).await {
                    Ok(()) => no_content(),
                    Err(e) => member_error(&e, &shown),
                }
            }
        }
    };
    with_cluster(r, s)
}

fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

async fn json_body(req: Request) -> Result<Vec<u8>, Response> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let ct = match ct.find(';') {
        Some(i) => ct[..i].trim().to_ascii_lowercase(),
        None => ct,
    };
    if ct != "application/json" {
        return Err(http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Bad Content-Type {ct}, accept application/json"),
        ));
    }
    axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| http_error(StatusCode::BAD_REQUEST, &e.to_string()))
}

async fn member_add(s: &Arc<Server>, req: Request) -> Response {
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let urls = match peer_urls(&body) {
        Ok(u) => u,
        Err(e) => return http_error(StatusCode::BAD_REQUEST, &e),
    };
    match forward_or(s, |c| async move { c.add(urls).await }).await {
        Ok(m) => {
            let mut body = String::new();
            member_json(&mut body, &m);
            body.push('\n');
            json(StatusCode::CREATED, body)
        }
        Err(e) => member_error(&e, ""),
    }
}

/// Where a membership change is made: here on the leader, or by the leader.
enum Changer<'a> {
    Local(&'a Server),
    Leader(ectd_proto::etcdserverpb::cluster_client::ClusterClient<tonic::transport::Channel>),
}

impl Changer<'_> {
    async fn add(self, urls: Vec<String>) -> Result<ectd_proto::raftcmd::Member, Error> {
        match self {
            Changer::Local(s) => crate::reconfig::add(s, urls, false).await.map(|(m, _)| m),
            Changer::Leader(mut c) => {
                let r = c
                    .member_add(ectd_proto::etcdserverpb::MemberAddRequest {
                        peer_ur_ls: urls,
                        is_learner: false,
                    })
                    .await
                    .map_err(|st| status_error(&st))?
                    .into_inner();
                let m = r.member.unwrap_or_default();
                Ok(ectd_proto::raftcmd::Member {
                    id: m.id,
                    name: m.name,
                    peer_urls: m.peer_ur_ls,
                    client_urls: m.client_ur_ls,
                    is_learner: m.is_learner,
                })
            }
        }
    }

    async fn remove(self, id: u64) -> Result<(), Error> {
        match self {
            Changer::Local(s) => crate::reconfig::remove(s, id).await.map(|_| ()),
            Changer::Leader(mut c) => c
                .member_remove(ectd_proto::etcdserverpb::MemberRemoveRequest { id })
                .await
                .map(|_| ())
                .map_err(|st| status_error(&st)),
        }
    }

    async fn update(self, id: u64, urls: Vec<String>) -> Result<(), Error> {
        match self {
            Changer::Local(s) => crate::reconfig::update(s, id, urls).await.map(|_| ()),
            Changer::Leader(mut c) => c
                .member_update(ectd_proto::etcdserverpb::MemberUpdateRequest {
                    id,
                    peer_ur_ls: urls,
                })
                .await
                .map(|_| ())
                .map_err(|st| status_error(&st)),
        }
    }
}

fn status_error(st: &tonic::Status) -> Error {
    let m = st.message();
    if m.contains("member not found") {
        Error::MemberNotFound
    } else if m.contains("Peer URLs already exists") {
        Error::PeerUrlExist
    } else if m.contains("member ID already exist") {
        Error::MemberExist
    } else {
        Error::Unhealthy
    }
}

async fn forward_or<'a, T, F, Fut>(s: &'a Arc<Server>, f: F) -> Result<T, Error>
where
    F: FnOnce(Changer<'a>) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    match crate::api::v3::cluster::leader_client(s).await {
        Ok(None) => f(Changer::Local(s)).await,
        Ok(Some(c)) => f(Changer::Leader(c)).await,
        Err(_) => Err(Error::NoLeader),
    }
}
