//! etcd's JSON gateway (`POST /v3/...`, also `/v3beta/...`) on the client port.
//!
//! Each path maps to one v3 method. The body is decoded into the same request
//! message gRPC carries and handed to the same service the gRPC handler runs,
//! in-process, then the answer is written as etcd 3.4's gateway writes it (see
//! [`codec`] and [`errors`]). Streaming methods (watch, lease keep-alive,
//! snapshot, election observe) are served by [`stream`].
//!
//! What etcd 3.4 answers for paths and methods it does not serve is kept: a path
//! under `/v3/` or `/v3beta/` that names no method is `404 Not Found`, a known
//! path with a method other than POST is `405 Method Not Allowed`, `/v3` itself
//! is redirected to `/v3/`, and every answer carries etcd's CORS headers. The `Authorization` header
//! carries the auth token, as the gRPC metadata `token` does.

mod codec;
mod errors;
mod routes;
mod scan;
mod stream;
mod transcode;

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use serde::Serialize;
use tonic::Status;

use self::codec::Message;
use self::routes::Route;
use super::v3::{
    auth::AuthService, cluster::ClusterService, election::ElectionService, kv::KvService,
    lease::LeaseService, lock::LockService, maintenance::MaintenanceService, watch::WatchService,
};
use crate::server::Server;

/// The services the gateway calls, one set per member.
struct Gateway {
    kv: KvService,
    watch: WatchService,
    lease: LeaseService,
    cluster: ClusterService,
    maintenance: MaintenanceService,
    lock: LockService,
    election: ElectionService,
    auth: AuthService,
    /// The largest request in protobuf form, as gRPC allows it.
    limit: usize,
}

/// The gateway's routes: `/v3/...` and `/v3beta/...`.
pub fn router(server: Arc<Server>) -> Router {
    let limit = server.limits().max_request_bytes + super::v3::GRPC_OVERHEAD_BYTES;
    let gw = Arc::new(Gateway {
        kv: KvService::new(server.clone()),
        watch: WatchService::new(server.clone()),
        lease: LeaseService::new(server.clone()),
        cluster: ClusterService::new(server.clone()),
        maintenance: MaintenanceService::new(server.clone()),
        lock: LockService::new(server.clone()),
        election: ElectionService::new(server.clone()),
        auth: AuthService::new(server),
        limit,
    });
    Router::new()
        .route("/v3", any(errors::to_v3))
        .route("/v3/", any(handle))
        .route("/v3/*method", any(handle))
        .route("/v3beta/", any(handle))
        .route("/v3beta/*method", any(handle))
        .with_state(gw)
        // etcd 3.4 sends its CORS headers on every HTTP answer, v2 or not.
        .layer(axum::middleware::from_fn(crate::v2::http::cors))
}

async fn handle(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    // Go routes the decoded path, and redirects one that is not clean.
    let path = routes::unescape(req.uri().path());
    if let Some(clean) = routes::clean(&path) {
        return errors::moved(req.method(), &clean, req.uri().query());
    }
    let method = path
        .strip_prefix("/v3/")
        .or_else(|| path.strip_prefix("/v3beta/"))
        .and_then(Route::find);
    let Some(route) = method else {
        return errors::plain(StatusCode::NOT_FOUND);
    };
    if req.method() != Method::POST {
        return errors::plain(StatusCode::METHOD_NOT_ALLOWED);
    }
    gw.serve(route, req).await
}

/// A unary call: decode, call, encode.
async fn unary<Req, Resp, F, Fut>(limit: usize, req: Request, call: F) -> Response
where
    Req: Message,
    Resp: Serialize,
    F: FnOnce(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
{
    let (parts, body) = req.into_parts();
    let msg = match codec::read_unary::<Req>(body, limit).await {
        Ok(msg) => msg,
        Err(status) => return errors::unary(&status),
    };
    match call(codec::grpc_request(&parts.headers, msg)).await {
        Ok(resp) => codec::ok(resp.get_ref()),
        Err(status) => errors::unary(&status),
    }
}

/// A call whose client streams its requests (watch, lease keep-alive).
async fn bidi<Req, Resp, S, F>(limit: usize, req: Request, call: F) -> Response
where
    Req: Message + Send + 'static,
    Resp: Serialize + Send + 'static,
    S: futures::Stream<Item = Result<Resp, Status>> + Send + Unpin + 'static,
    F: FnOnce(tonic::Request<stream::RequestStream<Req>>) -> Result<S, Status>,
{
    let (parts, body) = req.into_parts();
    let mut reqs = stream::Requests::new(body, limit);
    let first = match stream::first::<Req>(&mut reqs).await {
        Ok(first) => first,
        Err(res) => return res,
    };
    let incoming = codec::grpc_request(&parts.headers, reqs.into_stream(first));
    stream::respond(call(incoming)).await
}

/// A call that answers with a stream (snapshot, election observe).
async fn server_stream<Req, Resp, S, F, Fut>(limit: usize, req: Request, call: F) -> Response
where
    Req: Message,
    Resp: Serialize + Send + 'static,
    S: futures::Stream<Item = Result<Resp, Status>> + Send + Unpin + 'static,
    F: FnOnce(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<S>, Status>>,
{
    let (parts, body) = req.into_parts();
    let msg = match codec::read_unary::<Req>(body, limit).await {
        Ok(msg) => msg,
        Err(status) => return errors::unary(&status),
    };
    let call = call(codec::grpc_request(&parts.headers, msg)).await;
    stream::respond(call.map(tonic::Response::into_inner)).await
}
