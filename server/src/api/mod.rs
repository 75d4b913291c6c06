//! Client-facing APIs, all on the client port: v3 gRPC and plain HTTP endpoints.

pub mod http;
pub mod v3;

use std::sync::Arc;

use crate::server::Server;

/// One router serving gRPC (HTTP/2) and HTTP/1 endpoints on the same port.
pub async fn router(server: Arc<Server>) -> axum::Router {
    let grpc = v3::router(server.clone()).await;
    grpc.merge(http::router(server))
}
