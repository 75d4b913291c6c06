//! Dialing a member over TLS for tonic, and telling what TLS refused.
//!
//! tonic is given `http://host:port` URIs and a connector that opens TCP,
//! performs the rustls handshake (ALPN `h2`) and hands back the encrypted
//! stream; everything above it is ordinary HTTP/2.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tonic::transport::Uri;

use super::{config_error, TlsOptions};
use crate::Error;

/// Dials members over TLS: TCP without Nagle's delay (as tonic's own
/// connector), the rustls handshake and, with TLS 1.3, the server's
/// verdict on the client certificate.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    connector: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl TlsConnector {
    pub(crate) fn new(options: &TlsOptions) -> Result<TlsConnector, Error> {
        let server_name = options
            .server_name
            .as_ref()
            .map(|name| {
                ServerName::try_from(name.clone()).map_err(|_| {
                    config_error(format!(
                        "invalid server name {name:?}: not a DNS name or IP"
                    ))
                })
            })
            .transpose()?;
        Ok(TlsConnector {
            connector: Arc::new(options.client_config()?).into(),
            server_name,
        })
    }

    /// The connector in the form tonic's `Endpoint::connect_with_connector`
    /// takes.
    pub(crate) fn service(
        &self,
    ) -> impl tower::Service<
        Uri,
        Response = TokioIo<TlsStream<TcpStream>>,
        Error = TlsDialError,
        Future = impl Future<Output = Result<TokioIo<TlsStream<TcpStream>>, TlsDialError>> + Send,
    > + Send
           + 'static {
        let connector = self.clone();
        tower::service_fn(move |uri: Uri| {
            let connector = connector.clone();
            async move { connector.dial(uri).await }
        })
    }

    async fn dial(&self, uri: Uri) -> Result<TokioIo<TlsStream<TcpStream>>, TlsDialError> {
        let host = uri
            .host()
            .ok_or_else(|| TlsDialError::Tcp(io::Error::other("endpoint has no host")))?;
        // `[::1]` in a URI, `::1` for the resolver and the certificate.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // tonic's URI says `http://`, whose default port is not TLS's.
        let port = uri.port_u16().unwrap_or(443);
        let server_name = match &self.server_name {
            Some(name) => name.clone(),
            None => ServerName::try_from(host.to_string()).map_err(|_| {
                TlsDialError::Handshake(format!("{host:?} is not a valid TLS server name"))
            })?,
        };
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(TlsDialError::Tcp)?;
        tcp.set_nodelay(true).map_err(TlsDialError::Tcp)?;
        let mut tls = self
            .connector
            .connect(server_name, tcp)
            .await
            .map_err(|err| match rustls_error(&err) {
                Some(tls) => TlsDialError::Handshake(describe_tls_error(tls)),
                None if err.kind() == io::ErrorKind::UnexpectedEof => TlsDialError::Handshake(
                    "the server closed the connection during the handshake (does it serve TLS \
                     on this port?)"
                        .to_string(),
                ),
                None => TlsDialError::Handshake(format!("connection lost during handshake: {err}")),
            })?;
        if tls.get_ref().1.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
            // A server that says nothing first gets the benefit of the doubt.
            if let Ok(verdict) =
                tokio::time::timeout(SERVER_VERDICT_WAIT, await_server_verdict(&mut tls)).await
            {
                verdict?;
            }
        }
        Ok(TokioIo::new(tls))
    }
}

/// How long [`await_server_verdict`] waits. gRPC servers send their HTTP/2
/// settings as soon as the connection is up, so this only runs out with a
/// server that waits for the client to speak first.
const SERVER_VERDICT_WAIT: Duration = Duration::from_secs(1);

/// With TLS 1.3 the client's side of the handshake ends before the server
/// has judged the client's certificate; a rejection (an alert, or a closed
/// connection) arrives with the server's first records. Waiting for those
/// records, until the server's first application data, turns a refused
/// certificate into a failed connection rather than a failed first call.
/// Whatever is read stays buffered in rustls for the HTTP/2 layer.
async fn await_server_verdict(stream: &mut TlsStream<TcpStream>) -> Result<(), TlsDialError> {
    let closed = || {
        TlsDialError::Handshake(
            "the server closed the connection after the handshake (it may have refused the \
             client certificate)"
                .to_string(),
        )
    };
    let (tcp, conn) = stream.get_mut();
    loop {
        tcp.readable().await.map_err(TlsDialError::Tcp)?;
        match conn.read_tls(&mut NonBlockingRead(tcp)) {
            Ok(0) => return Err(closed()),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(TlsDialError::Tcp(err)),
        }
        let state = conn
            .process_new_packets()
            .map_err(|err| TlsDialError::Handshake(describe_tls_error(&err)))?;
        if state.plaintext_bytes_to_read() > 0 {
            return Ok(());
        }
        if state.peer_has_closed() {
            return Err(closed());
        }
    }
}

/// `std::io::Read` over a tokio socket, for rustls: whatever has arrived,
/// or `WouldBlock`.
struct NonBlockingRead<'a>(&'a TcpStream);

impl io::Read for NonBlockingRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// Why [`TlsConnector`] could not open a connection.
#[derive(Debug)]
pub(crate) enum TlsDialError {
    /// The TCP connection failed (refused, unreachable, unknown host, …):
    /// worth retrying while the dial timeout runs.
    Tcp(io::Error),
    /// The TLS handshake failed: retrying will not help.
    Handshake(String),
}

impl fmt::Display for TlsDialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsDialError::Tcp(err) => write!(f, "{err}"),
            TlsDialError::Handshake(reason) => write!(f, "TLS handshake failed: {reason}"),
        }
    }
}

impl StdError for TlsDialError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TlsDialError::Tcp(err) => Some(err),
            TlsDialError::Handshake(_) => None,
        }
    }
}

/// The TLS failure somewhere in an error's chain of sources, described: a
/// failed handshake while connecting, or an alert that ended an established
/// connection.
pub(crate) fn tls_failure(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(TlsDialError::Handshake(reason)) = err.downcast_ref::<TlsDialError>() {
            return Some(reason.clone());
        }
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(describe_tls_error(tls));
        }
        // `io::Error::source` skips the error it wraps, so look inside.
        if let Some(tls) = err.downcast_ref::<io::Error>().and_then(rustls_error) {
            return Some(describe_tls_error(tls));
        }
        next = err.source();
    }
    None
}

fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A rustls error in the words of someone setting up certificates.
fn describe_tls_error(err: &rustls::Error) -> String {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is signed by an unknown authority (not by a CA in the \
             CA file)"
                .to_string()
        }
        E::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("the server's certificate is not valid for the host dialed: {err}"),
        E::InvalidCertificate(_) => format!("the server's certificate was rejected: {err}"),
        E::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate and none was given".to_string()
        }
        E::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied),
        ) => format!("the server refused the client certificate (or its absence): alert {alert:?}"),
        E::AlertReceived(alert) => format!("the server ended the handshake: alert {alert:?}"),
        E::InvalidMessage(_) => {
            format!("the server did not answer in TLS (is it serving plaintext?): {err}")
        }
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use rustls::pki_types::PrivateKeyDer;
    use rustls::RootCertStore;

    use super::*;

    #[test]
    fn handshake_failures_are_found_in_error_chains() {
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("transport error")
            }
        }
        impl StdError for Wrapper {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let reason = tls_failure(&Wrapper(alert)).unwrap();
        assert!(reason.contains("requires a client certificate"), "{reason}");
        let refused = Wrapper(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(tls_failure(&refused), None);
        let unknown = TlsDialError::Handshake(describe_tls_error(
            &rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        ));
        assert!(tls_failure(&unknown).unwrap().contains("unknown authority"));
    }

    /// A CA and the certificates it signs, written where `TlsOptions` can
    /// name them.
    struct Authority {
        cert: rcgen::Certificate,
        key: rcgen::KeyPair,
    }

    impl Authority {
        fn new(name: &str) -> Authority {
            let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            Authority { cert, key }
        }

        fn sign(&self, names: &[&str]) -> (rcgen::Certificate, rcgen::KeyPair) {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let params = rcgen::CertificateParams::new(names).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
            (cert, key)
        }
    }

    fn write(dir: &Path, name: &str, pem: &str) -> Option<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        Some(path)
    }

    /// A TLS server on loopback that requires a client certificate signed
    /// by `ca`, greets each client that passes with "hello" and returns
    /// its port.
    async fn greeting_server(ca: &Authority) -> u16 {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = ca.sign(&["127.0.0.1", "localhost"]);
        let mut roots = RootCertStore::empty();
        roots.add(ca.cert.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let _ = tls.write_all(b"hello").await;
                        let _ = tls.flush().await;
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn handshakes_against_a_server_that_checks_client_certificates() {
        use tokio::io::AsyncReadExt;

        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let ca = Authority::new("test CA");
        let other_ca = Authority::new("unrelated CA");
        let port = greeting_server(&ca).await;
        let (client, client_key) = ca.sign(&["client"]);
        let (stranger, stranger_key) = other_ca.sign(&["client"]);
        let trusted = TlsOptions {
            ca_file: write(dir, "ca.pem", &ca.cert.pem()),
            cert_file: write(dir, "client.pem", &client.pem()),
            key_file: write(dir, "client.key", &client_key.serialize_pem()),
            ..TlsOptions::default()
        };
        let dial = |options: TlsOptions, host: &'static str| async move {
            let uri: Uri = format!("http://{host}:{port}").parse().unwrap();
            TlsConnector::new(&options).unwrap().dial(uri).await
        };

        for host in ["127.0.0.1", "localhost"] {
            let stream = dial(trusted.clone(), host).await.unwrap();
            // What was read while waiting for the server's verdict is still
            // there for the HTTP/2 layer.
            let mut greeting = [0; 5];
            stream.into_inner().read_exact(&mut greeting).await.unwrap();
            assert_eq!(&greeting, b"hello");
        }

        let anonymous = TlsOptions {
            cert_file: None,
            key_file: None,
            ..trusted.clone()
        };
        let err = dial(anonymous, "127.0.0.1").await.unwrap_err().to_string();
        assert!(err.contains("client certificate"), "{err}");

        let from_stranger = TlsOptions {
            cert_file: write(dir, "stranger.pem", &stranger.pem()),
            key_file: write(dir, "stranger.key", &stranger_key.serialize_pem()),
            ..trusted.clone()
        };
        let err = dial(from_stranger, "127.0.0.1")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("refused the client certificate"), "{err}");

        let wrong_ca = TlsOptions {
            ca_file: write(dir, "other-ca.pem", &other_ca.cert.pem()),
            ..trusted.clone()
        };
        let err = dial(wrong_ca, "127.0.0.1").await.unwrap_err().to_string();
        assert!(err.contains("unknown authority"), "{err}");

        let wrong_name = TlsOptions {
            server_name: Some("db.example".to_string()),
            ..trusted.clone()
        };
        let err = dial(wrong_name, "127.0.0.1").await.unwrap_err().to_string();
        assert!(err.contains("not valid for the host"), "{err}");

        let unverified = TlsOptions {
            ca_file: None,
            insecure_skip_verify: true,
            ..trusted.clone()
        };
        dial(unverified, "localhost").await.unwrap();
    }
}
