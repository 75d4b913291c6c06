//! Serving a member: bind the client listeners, serve until the shutdown signal,
//! then stop in order — APIs, then raft and apply, then storage.

use std::future::Future;

use ectd_proto::peer::peer_server::PeerServer;
use tokio::net::TcpListener;

use crate::bootstrap::{self, BootstrapError};
use crate::config::{listen_addr, Config};
use crate::listener::{self, Serving};
use crate::server::Server;
use crate::tls::Tls;

/// Why `run` ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The member could not start.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The member could not be started after opening its data.
    #[error("starting the member: {0}")]
    Start(String),
    /// A listener could not be bound.
    #[error("listen on {url}: {source}")]
    Listen {
        /// The URL.
        url: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Runs a member with `cfg` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let tls = Tls::from_config(&cfg).map_err(|e| RunError::Start(e.to_string()))?;
    let opened = bootstrap::open(&cfg, tls.peer_client.as_ref()).await?;
    // As etcd, before raft starts and before any port serves.
    crate::server::corrupt::initial_check(&cfg, &opened, tls.peer_client.as_ref())
        .await
        .map_err(RunError::Start)?;
    let server = Server::start(&cfg, opened, tls.peer_client.clone())?;
    let router = crate::api::router(server.clone()).await;

    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut serving = Vec::new();
    for url in &cfg.listen_client_urls {
        let (addr, https) = listen_addr(url).map_err(BootstrapError::from)?;
        let listener = bind(url, addr).await?;
        tracing::info!(url = %url, "serving client traffic (gRPC and HTTP)");
        let what = Serving {
            app: router.clone(),
            tls: if https { tls.client.clone() } else { None },
            fix_authority: true,
        };
        // As in etcd, the port is bound now but answered only once this member has
        // published itself: no client sees it before it is part of the cluster.
        let (srv, mut stop, stop_serve) =
            (server.clone(), stop_tx.subscribe(), stop_tx.subscribe());
        serving.push(tokio::spawn(async move {
            tokio::select! {
                _ = srv.published() => listener::serve(listener, what, stop_serve).await,
                _ = stop.recv() => {}
            }
        }));
    }
    // The metrics listeners answer from the start, so probes can see a member
    // that is not ready yet.
    let metrics_router = crate::api::http::metrics_router(server.clone());
    for url in &cfg.listen_metrics_urls {
        let (addr, https) = listen_addr(url).map_err(BootstrapError::from)?;
        if https && tls.client.is_none() {
            return Err(RunError::Start(format!(
                "--listen-metrics-urls: {url} asks for TLS, but the client port has no certificate (--cert-file/--key-file or --auto-tls with an https client URL)"
            )));
        }
        let listener = bind(url, addr).await?;
        tracing::info!(url = %url, "serving /metrics and health probes");
        let what = Serving {
            app: metrics_router.clone(),
            tls: if https { tls.client.clone() } else { None },
            fix_authority: false,
        };
        serving.push(tokio::spawn(listener::serve(
            listener,
            what,
            stop_tx.subscribe(),
        )));
    }
    let peer_router = tonic::service::Routes::new(
        PeerServer::new(
            server
                .peer_service()
                .map_err(|e| RunError::Start(e.to_string()))?
                .close_on(closing_rx),
        )
        .max_decoding_message_size(crate::raft::max_peer_message_bytes(cfg.max_request_bytes))
        .max_encoding_message_size(usize::MAX),
    )
    .into_axum_router();
    for url in &cfg.listen_peer_urls {
        let (addr, https) = listen_addr(url).map_err(BootstrapError::from)?;
        let listener = bind(url, addr).await?;
        tracing::info!(url = %url, "serving peer traffic");
        let what = Serving {
            app: peer_router.clone(),
            tls: if https { tls.peer_server.clone() } else { None },
            fix_authority: false,
        };
        serving.push(tokio::spawn(listener::serve(
            listener,
            what,
            stop_tx.subscribe(),
        )));
    }
    tracing::info!(
        name = %cfg.name,
        member_id = format!("{:x}", server.member_id()),
        cluster_id = format!("{:x}", server.cluster_id()),
        ectd_version = env!("CARGO_PKG_VERSION"),
        etcd_version = %cfg.etcd_version,
        "ready to serve client requests"
    );

    tokio::select! {
        _ = shutdown => {}
        _ = server.removed() => {}
    }
    tracing::info!("shutting down: closing client listeners");
    let _ = stop_tx.send(());
    // Peers' message streams never end on their own; they end here, so that the
    // peer port closes at once instead of after its grace period.
    closing_tx.send_replace(true);
    for s in serving {
        // Streams that never end on their own must not hold the shutdown hostage.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), s).await;
    }
    let srv = server.clone();
    tokio::task::spawn_blocking(move || srv.stop())
        .await
        .expect("stopping the member");
    Ok(())
}

async fn bind(url: &str, addr: std::net::SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Listen {
            url: url.to_string(),
            source,
        })
}
