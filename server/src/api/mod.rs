//! Client-facing APIs, all on the client port: v3 gRPC and plain HTTP endpoints.

mod authority;
pub mod http;
pub mod v3;

use std::sync::Arc;

use crate::server::Server;

/// One router serving gRPC (HTTP/2) and HTTP/1 endpoints on the same port.
pub async fn router(server: Arc<Server>) -> axum::Router {
    let grpc = v3::router(server.clone()).await;
    let app = grpc.merge(http::router(server));
    #[cfg(feature = "failpoints")]
    let app = app.merge(crate::failpoints::router());
    app
}

/// Serves `app` on the client `listener` until `stop` fires, then gives open
/// connections two seconds to finish. Each connection's read side goes through
/// [`authority::AuthorityFix`], so clients that send a URL as HTTP/2 authority are
/// served as etcd serves them.
pub async fn serve_client(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut stop: tokio::sync::broadcast::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a client connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (r, w) = tcp.into_split();
                let io = TokioIo::new(authority::AuthorityFix::new(r, w));
                let svc = hyper_util::service::TowerToHyperService::new(app.clone());
                let conn = builder.serve_connection_with_upgrades(io, svc).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "client connection ended with an error");
                    }
                });
            }
            _ = stop.recv() => break,
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), graceful.shutdown()).await;
}
