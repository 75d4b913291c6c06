//! Client-facing APIs, all on the client port: v3 gRPC and plain HTTP endpoints.

pub(crate) mod authority;
pub mod http;
pub mod v3;

use std::sync::Arc;

use crate::server::Server;

/// One router serving gRPC (HTTP/2) and HTTP/1 endpoints on the same port. A path
/// nothing serves answers as etcd answers it: gRPC calls get `Unimplemented`, other
/// requests `404 page not found`.
pub async fn router(server: Arc<Server>) -> axum::Router {
    let grpc = v3::router(server.clone()).await;
    let mut plain = http::router(server.clone());
    if server.v2_enabled() {
        // With v2 on, etcd wraps its HTTP handlers (not gRPC) in CORS headers.
        plain = plain
            .merge(crate::v2::http::router(server))
            .layer(axum::middleware::from_fn(crate::v2::http::cors));
    }
    let app = grpc.merge(plain);
    #[cfg(feature = "failpoints")]
    let app = app.merge(crate::failpoints::router());
    app.fallback(not_found)
}

async fn not_found(req: axum::extract::Request) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        let mut res = StatusCode::OK.into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert("grpc-status", HeaderValue::from_static("12"));
        let msg = format!("unknown service {}", service_of(req.uri().path()));
        if let Ok(v) = HeaderValue::from_str(&percent_encode(&msg)) {
            h.insert("grpc-message", v);
        }
        return res;
    }
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        "404 page not found\n",
    )
        .into_response()
}

/// The service part of a gRPC path `/package.Service/Method`.
fn service_of(path: &str) -> &str {
    let path = path.trim_start_matches('/');
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// gRPC's percent-encoding of a status message: printable ASCII but `%` as is.
fn percent_encode(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for b in msg.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
