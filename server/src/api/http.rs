//! Plain HTTP endpoints etcd serves on the client port: `/version`, `/metrics`
//! and the health probes `/health`, `/livez` and `/readyz` (the last three and
//! `/metrics` also on `--listen-metrics-urls`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;

use crate::server::Server;

/// The HTTP routes of the client port.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/version", any(version))
        .with_state(server.clone())
        .merge(metrics_router(server))
}

/// `/metrics` and the health probes: what `--listen-metrics-urls` serves, and part
/// of the client port.
pub fn metrics_router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/metrics", any(metrics))
        .route("/health", any(health))
        .route("/livez", any(livez))
        .route("/livez/:check", any(livez_one))
        .route("/readyz", any(readyz))
        .route("/readyz/:check", any(readyz_one))
        .with_state(server)
}

async fn metrics(State(s): State<Arc<Server>>, method: Method) -> Response {
    if let Some(refused) = only_get(&method) {
        return refused;
    }
    let body = tokio::task::spawn_blocking(move || s.render_metrics())
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// etcd's refusal of any method but GET on its plain endpoints (HEAD included).
fn only_get(method: &Method) -> Option<Response> {
    (method != Method::GET).then(|| {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [
                (header::ALLOW, "GET"),
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            "Method Not Allowed\n",
        )
            .into_response()
    })
}

async fn version(State(s): State<Arc<Server>>, method: Method) -> Response {
    if let Some(refused) = only_get(&method) {
        return refused;
    }
    let v = s.etcd_version();
    let cluster = match v.rsplit_once('.') {
        Some((major_minor, _)) => format!("{major_minor}.0"),
        None => v.to_string(),
    };
    Json(json!({ "etcdserver": v, "etcdcluster": cluster })).into_response()
}

/// `/health`: etcd's JSON verdict. Unhealthy with an active alarm (unless
/// excluded with `?exclude=NAME`), without a leader, or when a linearizable read
/// fails or times out (skipped with `?serializable=true`).
async fn health(
    State(s): State<Arc<Server>>,
    method: Method,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = only_get(&method) {
        return refused;
    }
    let q = Query::parse(query.as_deref());
    let serializable = q.value("serializable") == Some("true");
    let excluded = q.values("exclude");
    let verdict = match s
        .active_alarms()
        .into_iter()
        .find(|a| !excluded.contains(a))
    {
        Some(alarm) => Err(format!("ALARM {alarm}")),
        None if s.raft_status().leader() == 0 => Err("RAFT NO LEADER".to_string()),
        None if serializable => Ok(()),
        None => s
            .read_barrier()
            .await
            .map_err(|e| format!("RANGE ERROR:{e}")),
    };
    let (status, mut body) = match verdict {
        Ok(()) => (StatusCode::OK, json!({"health": "true", "reason": ""})),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"health": "false", "reason": reason}),
        ),
    };
    // etcd gives the reason from 3.5 on; a member presenting itself as 3.4
    // answers as 3.4 does.
    if !version_at_least(s.etcd_version(), 3, 5) {
        if let Some(o) = body.as_object_mut() {
            o.remove("reason");
        }
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Whether the etcd version `v` (`major.minor.patch`) is at least `major.minor`.
fn version_at_least(v: &str, major: u64, minor: u64) -> bool {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// A request's query string, as `name[=value]` pairs.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_string(), v.to_string())
                })
                .collect(),
        )
    }
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
    fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `name`, comma-separated lists split.
    fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(',').map(str::to_string))
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// The checks of `/livez` and `/readyz`, in the order they are reported.
const LIVEZ: &[&str] = &["serializable_read"];
const READYZ: &[&str] = &[
    "linearizable_read",
    "non_learner",
    "data_corruption",
    "serializable_read",
];

/// Runs one named probe check.
async fn check(s: &Server, name: &str) -> Result<(), String> {
    match name {
        "serializable_read" => s.serializable_read().map_err(|e| e.to_string()),
        "linearizable_read" => s.read_barrier().await.map_err(|e| e.to_string()),
        "non_learner" if s.is_learner() => Err("can't be learner".to_string()),
        "non_learner" => Ok(()),
        "data_corruption" => match s.active_alarms().contains(&"CORRUPT".to_string()) {
            true => Err("alarm activated: CORRUPT".to_string()),
            false => Ok(()),
        },
        _ => Ok(()),
    }
}

/// A probe over `checks` as etcd 3.6 answers it: `ok`, or with `?verbose` a line
/// per check first; on failure 503 with every check listed (reasons withheld) and
/// `<probe> check failed`. `?exclude=NAME` skips a check.
async fn probe(s: &Server, kind: &str, checks: &[&str], query: Option<&str>) -> Response {
    let q = Query::parse(query);
    let excluded = q.values("exclude");
    let mut lines = String::new();
    let mut failed = false;
    for name in checks.iter().filter(|c| !excluded.iter().any(|e| e == *c)) {
        match check(s, name).await {
            Ok(()) => lines.push_str(&format!("[+]{name} ok\n")),
            Err(e) => {
                tracing::warn!(check = name, probe = kind, error = %e, "health check failed");
                failed = true;
                lines.push_str(&format!("[-]{name} failed: reason withheld\n"));
            }
        }
    }
    let text = |status, body: String| {
        (
            status,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response()
    };
    if failed {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{lines}{kind} check failed\n"),
        );
    }
    if q.has("verbose") {
        text(StatusCode::OK, format!("{lines}ok\n"))
    } else {
        text(StatusCode::OK, "ok\n".to_string())
    }
}

/// One check of a probe by its path (`/livez/serializable_read`); unknown names
/// are not found.
async fn probe_one(s: &Server, kind: &str, checks: &[&str], name: &str) -> Response {
    if !checks.contains(&name) {
        return (
            StatusCode::NOT_FOUND,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            "404 page not found\n",
        )
            .into_response();
    }
    probe(s, kind, &[name], None).await
}

async fn livez(State(s): State<Arc<Server>>, method: Method, RawQuery(q): RawQuery) -> Response {
    match only_get(&method) {
        Some(refused) => refused,
        None => probe(&s, "livez", LIVEZ, q.as_deref()).await,
    }
}

async fn readyz(State(s): State<Arc<Server>>, method: Method, RawQuery(q): RawQuery) -> Response {
    match only_get(&method) {
        Some(refused) => refused,
        None => probe(&s, "readyz", READYZ, q.as_deref()).await,
    }
}

async fn livez_one(
    State(s): State<Arc<Server>>,
    method: Method,
    Path(name): Path<String>,
) -> Response {
    match only_get(&method) {
        Some(refused) => refused,
        None => probe_one(&s, "livez", LIVEZ, &name).await,
    }
}

async fn readyz_one(
    State(s): State<Arc<Server>>,
    method: Method,
    Path(name): Path<String>,
) -> Response {
    match only_get(&method) {
        Some(refused) => refused,
        None => probe_one(&s, "readyz", READYZ, &name).await,
    }
}
