//! The accept loop of the client and peer ports: TCP, then TLS where the URL is
//! `https://`, then HTTP/1 or HTTP/2 (gRPC) on the same connection.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::api::authority::AuthorityFix;
use crate::coalesce::Coalescing;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a listener serves and how.
#[derive(Clone)]
pub struct Serving {
    /// The routes.
    pub app: axum::Router,
    /// TLS for `https://` listeners.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether HTTP/2 requests with a URL as `:authority` are made plain (the
    /// client port, for etcdctl; see [`crate::api::authority`]).
    pub fix_authority: bool,
}

/// Serves `serving` on `listener` until `stop` fires, then gives open connections
/// two seconds to finish. A connection whose TLS handshake fails or stalls is
/// dropped on its own; the listener goes on.
pub async fn serve(
    listener: TcpListener,
    serving: Serving,
    mut stop: tokio::sync::broadcast::Receiver<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // HTTP/1 header names as Go writes them (`X-Etcd-Index`), for clients that
    // match them by case.
    // The Date header is the application's to write (a request Go's server
    // refuses before routing gets none), see `api::router`.
    builder
        .http1()
        .title_case_headers(true)
        .auto_date_header(false);
    let builder = Arc::new(builder);
    let acceptor = serving.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.recv() => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = serving.app.clone();
        let fix = serving.fix_authority;
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            match acceptor {
                None => {
                    let (r, w) = tcp.into_split();
                    serve_conn(&builder, watcher, r, w, app, fix).await
                }
                Some(acceptor) => {
                    let peer = tcp.peer_addr().ok();
                    let tls =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                tracing::info!(remote = ?peer, error = %e, "TLS handshake refused");
                                return;
                            }
                            Err(_) => {
                                tracing::info!(remote = ?peer, "TLS handshake timed out");
                                return;
                            }
                        };
                    let cn = crate::tls::ClientCn::of(tls.get_ref().1);
                    let (r, w) = tokio::io::split(tls);
                    match cn {
                        Some(cn) => {
                            let app = tower::ServiceExt::map_request(
                                app,
                                move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                                    req.extensions_mut().insert(cn.clone());
                                    req
                                },
                            );
                            serve_conn(&builder, watcher, r, w, app, fix).await
                        }
                        None => serve_conn(&builder, watcher, r, w, app, fix).await,
                    }
                }
            }
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
}

async fn serve_conn<R, W, S>(
    builder: &hyper_util::server::conn::auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    r: R,
    w: W,
    app: S,
    fix_authority: bool,
) where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<
            axum::extract::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let svc = hyper_util::service::TowerToHyperService::new(app);
    let w = Coalescing::new(w);
    let result = if fix_authority {
        let io = TokioIo::new(AuthorityFix::new(r, w));
        let conn = builder.serve_connection_with_upgrades(io, svc);
        watcher.watch(conn.into_owned()).await
    } else {
        let io = TokioIo::new(tokio::io::join(r, w));
        let conn = builder.serve_connection_with_upgrades(io, svc);
        watcher.watch(conn.into_owned()).await
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
