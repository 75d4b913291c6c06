//! Dialing a peer's `http://` or `https://` URL as a gRPC channel.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tonic::transport::{Channel, Endpoint};

use crate::config::parse_url;

/// A gRPC channel to the peer at `url`, connected now. `https://` URLs go over
/// TLS with `tls` (this member's peer client configuration); without one they
/// are refused.
pub async fn channel(
    url: &str,
    tls: Option<&Arc<ClientConfig>>,
    connect_timeout: Duration,
) -> Result<Channel, String> {
    let plain = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let parsed = parse_url(&plain).map_err(|e| e.to_string())?;
    let hostport = if parsed.host.contains(':') {
        format!("[{}]:{}", parsed.host, parsed.port)
    } else {
        format!("{}:{}", parsed.host, parsed.port)
    };
    let ep = Endpoint::from_shared(format!("http://{hostport}"))
        .map_err(|e| format!("{url}: {e}"))?
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5));
    if !parsed.tls {
        return ep.connect().await.map_err(|e| format!("{url}: {e}"));
    }
    let tls = tls
        .cloned()
        .ok_or_else(|| format!("{url} is https:// but this member has no peer TLS configured"))?;
    let name = ServerName::try_from(parsed.host.clone())
        .map_err(|_| format!("{url}: not a valid TLS server name"))?
        .to_owned();
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let tls = tokio_rustls::TlsConnector::from(tls.clone());
        let name = name.clone();
        let hostport = hostport.clone();
        async move {
            let tcp = tokio::time::timeout(
                connect_timeout,
                tokio::net::TcpStream::connect(hostport.as_str()),
            )
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
            tcp.set_nodelay(true)?;
            let stream = tokio::time::timeout(connect_timeout, tls.connect(name, tcp))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    ep.connect_with_connector(connector)
        .await
        .map_err(|e| format!("{url}: {}", error_chain(&e)))
}

/// An error with its sources, so a TLS refusal shows its reason.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
