//! Plain HTTP endpoints etcd serves on the client port: `/version` and `/health`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::Server;

/// The HTTP routes of the client port.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/version", any(version))
        .route("/health", any(health))
        .with_state(server)
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

async fn health(State(s): State<Arc<Server>>, method: Method) -> Response {
    if let Some(refused) = only_get(&method) {
        return refused;
    }
    match s.read_barrier().await {
        Ok(()) => (
            StatusCode::OK,
            Json::<Value>(json!({"health": "true", "reason": ""})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json::<Value>(json!({"health": "false", "reason": e.to_string()})),
        )
            .into_response(),
    }
}
