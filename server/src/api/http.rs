//! Plain HTTP endpoints etcd serves on the client port: `/version` and `/health`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::Server;

/// The HTTP routes of the client port.
pub fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/health", get(health))
        .with_state(server)
}

async fn version(State(s): State<Arc<Server>>) -> Json<Value> {
    let v = s.etcd_version();
    let cluster = match v.rsplit_once('.') {
        Some((major_minor, _)) => format!("{major_minor}.0"),
        None => v.to_string(),
    };
    Json(json!({ "etcdserver": v, "etcdcluster": cluster }))
}

async fn health(State(s): State<Arc<Server>>) -> (axum::http::StatusCode, Json<Value>) {
    match s.read_barrier().await {
        Ok(()) => (
            axum::http::StatusCode::OK,
            Json(json!({"health": "true", "reason": ""})),
        ),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"health": "false", "reason": e.to_string()})),
        ),
    }
}
