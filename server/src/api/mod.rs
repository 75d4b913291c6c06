//! Client-facing APIs, all on the client port: v3 gRPC and plain HTTP endpoints.

pub(crate) mod authority;
pub mod gateway;
pub mod http;
pub mod v3;

use std::sync::Arc;

use crate::server::Server;

/// One router serving gRPC (HTTP/2) and HTTP/1 endpoints on the same port. A path
/// nothing serves answers as etcd answers it: gRPC calls get `Unimplemented`, other
/// requests `404 page not found`.
pub async fn router(server: Arc<Server>) -> axum::Router {
    let grpc = v3::router(server.clone())
        .await
        .merge(gateway::router(server.clone()));
    let mut plain = http::router(server.clone());
    let v2 = server.v2_enabled();
    if v2 {
        // With v2 on, etcd wraps its HTTP handlers (not gRPC) in CORS headers,
        // its 404s included.
        plain = plain
            .merge(crate::v2::http::router(server))
            .layer(axum::middleware::from_fn(crate::v2::http::cors));
    }
    let app = grpc.merge(plain);
    #[cfg(feature = "failpoints")]
    let app = app.merge(crate::failpoints::router());
    app.fallback(move |req: axum::extract::Request| async move {
        let grpc = is_grpc(&req);
        let res = match unclean_path(&req) {
            // As Go's mux does for every handler etcd serves: a path that is not
            // in clean form is redirected to the clean one.
            Some(clean) if !grpc => {
                crate::v2::http::redirect(&clean, req.uri().query(), req.method())
            }
            _ => not_found(req).await,
        };
        if v2 && !grpc {
            crate::v2::http::add_cors(res)
        } else {
            res
        }
    })
    .layer(axum::middleware::from_fn(http1_framing))
}

/// The clean form of the request's (decoded) path, if it differs from it.
fn unclean_path(req: &axum::extract::Request) -> Option<String> {
    let decoded = crate::v2::form::unescape(req.uri().path().as_bytes(), false).ok()?;
    let p = String::from_utf8_lossy(&decoded);
    let clean = crate::v2::path::mux_clean(&p);
    (clean != p).then_some(clean)
}

fn is_grpc(req: &axum::extract::Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// What Go's HTTP/1 server does around every handler: a request whose path holds
/// a malformed `%` escape is refused before routing with a bare `400 Bad
/// Request`, and every other answer carries a `Date`.
async fn http1_framing(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode, Version};
    use axum::response::IntoResponse;
    if req.version() == Version::HTTP_2 {
        return next.run(req).await;
    }
    if bad_escape(req.uri().path().as_bytes()) {
        return (
            StatusCode::BAD_REQUEST,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CONNECTION, "close"),
            ],
            "400 Bad Request",
        )
            .into_response();
    }
    let mut res = next.run(req).await;
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now()))
    {
        res.headers_mut().entry(header::DATE).or_insert(date);
    }
    res
}

/// Whether `path` has a `%` not followed by two hex digits.
fn bad_escape(path: &[u8]) -> bool {
    path.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && !(path.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && path.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

async fn not_found(req: axum::extract::Request) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    if is_grpc(&req) {
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

/// Marks a request that came through the JSON gateway: its client
/// certificate's CN never names a user, as in etcd.
#[derive(Debug, Clone, Copy)]
pub struct Gatewayed;
