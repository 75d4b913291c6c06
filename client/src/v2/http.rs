//! One HTTP/1.1 exchange with one member, over TCP or TLS, and the idle
//! connections kept for the next one.
//!
//! Failures are reported in the words of Go's `net/http` (`dial tcp
//! 127.0.0.1:1: connect: connection refused`), since etcdctl prints those.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::error::EndpointErrorKind;
use super::url::Endpoint;
use crate::tls::tls_failure;
use crate::TlsOptions;

/// The largest answer read from a member; a recursive listing of a large v2 store
/// fits many times over.
pub const MAX_ANSWER_BYTES: usize = 1 << 30;

/// A request, independent of the endpoint it goes to.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub(crate) method: Method,
    /// The path below the endpoint's base path, unescaped.
    pub(crate) path: String,
    /// The encoded query string, without `?`.
    pub(crate) query: String,
    /// The content type and text of the body, if any.
    pub(crate) body: Option<(&'static str, String)>,
}

/// A complete answer.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

type Sender = SendRequest<Full<Bytes>>;

/// Opens connections (TLS for `https` endpoints) and keeps idle ones per
/// origin for reuse.
pub(crate) struct Transport {
    tls: Option<TlsDialer>,
    dial_timeout: Duration,
    idle: Mutex<HashMap<String, Vec<Sender>>>,
}

struct TlsDialer {
    connector: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl Transport {
    /// A transport that connects (and completes a TLS handshake) within
    /// `dial_timeout` each, and speaks TLS with `tls` to `https` endpoints.
    pub(crate) fn new(
        tls: Option<&TlsOptions>,
        dial_timeout: Duration,
    ) -> Result<Self, crate::Error> {
        let tls = tls
            .map(|options| {
                let mut config = options.client_config()?;
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                let server_name = options
                    .server_name
                    .as_ref()
                    .map(|name| {
                        ServerName::try_from(name.clone()).map_err(|_| crate::Error::TlsConfig {
                            reason: format!("invalid server name {name:?}: not a DNS name or IP"),
                        })
                    })
                    .transpose()?;
                Ok::<_, crate::Error>(TlsDialer {
                    connector: Arc::new(config).into(),
                    server_name,
                })
            })
            .transpose()?;
        Ok(Transport {
            tls,
            dial_timeout,
            idle: Mutex::new(HashMap::new()),
        })
    }

    /// Sends `request` to `endpoint` and reads the whole answer. Only
    /// connecting, sending and the response header are bounded by
    /// `header_timeout`; the body (a watch's event) may take any time.
    pub(crate) async fn round_trip(
        &self,
        endpoint: &Endpoint,
        request: &HttpRequest,
        authorization: Option<&str>,
        header_timeout: Option<Duration>,
    ) -> Result<HttpReply, EndpointErrorKind> {
        let origin = format!("{}://{}", endpoint.scheme, endpoint.authority);
        let exchange = self.exchange(endpoint, &origin, request, authorization);
        let (response, sender) = match header_timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|_| EndpointErrorKind::HeaderTimeout)??,
            None => exchange.await?,
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        // A member's answer is bounded: a server that sends without end is a
        // broken connection, not a reason to run out of memory.
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|err| match err.downcast_ref::<hyper::Error>() {
                Some(e) => failure(e),
                None => EndpointErrorKind::Connection(format!(
                    "answer larger than {MAX_ANSWER_BYTES} bytes"
                )),
            })?
            .to_bytes();
        if !sender.is_closed() {
            self.idle
                .lock()
                .expect("idle connection pool poisoned")
                .entry(origin)
                .or_default()
                .push(sender);
        }
        Ok(HttpReply {
            status,
            headers,
            body,
        })
    }

    /// Sends the request on an idle connection if one is still usable, on a
    /// new one otherwise, and waits for the response header.
    async fn exchange(
        &self,
        endpoint: &Endpoint,
        origin: &str,
        request: &HttpRequest,
        authorization: Option<&str>,
    ) -> Result<(hyper::Response<hyper::body::Incoming>, Sender), EndpointErrorKind> {
        let mut message = build(endpoint, request, authorization)?;
        while let Some(mut sender) = self.checkout(origin) {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(message).await {
                Ok(response) => return Ok((response, sender)),
                // Not sent: the connection closed while idle.
                Err(mut err) => match err.take_message() {
                    Some(unsent) => message = unsent,
                    None => return Err(failure(&err.into_error())),
                },
            }
        }
        let mut sender = self.connect(endpoint).await?;
        let response = sender
            .send_request(message)
            .await
            .map_err(|err| failure(&err))?;
        Ok((response, sender))
    }

    fn checkout(&self, origin: &str) -> Option<Sender> {
        let mut idle = self.idle.lock().expect("idle connection pool poisoned");
        let senders = idle.get_mut(origin)?;
        while let Some(sender) = senders.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    async fn connect(&self, endpoint: &Endpoint) -> Result<Sender, EndpointErrorKind> {
        let secure = match endpoint.scheme.as_str() {
            "http" => false,
            "https" => true,
            other => return Err(EndpointErrorKind::UnsupportedScheme(other.to_string())),
        };
        let tcp = tokio::time::timeout(self.dial_timeout, dial(&endpoint.host, endpoint.port))
            .await
            .map_err(|_| {
                EndpointErrorKind::Connect(format!(
                    "dial tcp {}:{}: i/o timeout",
                    endpoint.host, endpoint.port
                ))
            })??;
        let _ = tcp.set_nodelay(true);
        if !secure {
            return start(tcp).await;
        }
        let Some(tls) = &self.tls else {
            return Err(EndpointErrorKind::Tls(format!(
                "{} is an https endpoint and the client has no TLS settings",
                endpoint.url
            )));
        };
        let server_name = match &tls.server_name {
            Some(name) => name.clone(),
            None => ServerName::try_from(endpoint.host.clone()).map_err(|_| {
                EndpointErrorKind::Tls(format!(
                    "{:?} is not a valid TLS server name",
                    endpoint.host
                ))
            })?,
        };
        let handshake = tls.connector.connect(server_name, tcp);
        let stream = tokio::time::timeout(self.dial_timeout, handshake)
            .await
            .map_err(|_| EndpointErrorKind::Tls("TLS handshake timeout".to_string()))?
            .map_err(|err| {
                let reason = tls_failure(&err).unwrap_or_else(|| err.to_string());
                EndpointErrorKind::Tls(format!("TLS handshake failed: {reason}"))
            })?;
        start(stream).await
    }
}

fn build(
    endpoint: &Endpoint,
    request: &HttpRequest,
    authorization: Option<&str>,
) -> Result<Request<Full<Bytes>>, EndpointErrorKind> {
    let target = endpoint.target_of(&request.path, &request.query);
    let invalid = |what: &str| EndpointErrorKind::Connection(format!("invalid {what} in request"));
    let mut builder = Request::builder()
        .method(request.method.clone())
        .uri(target.as_str())
        .header(
            HOST,
            HeaderValue::from_str(&endpoint.authority).map_err(|_| invalid("host"))?,
        );
    if let Some(credentials) = authorization {
        builder = builder.header(
            AUTHORIZATION,
            HeaderValue::from_str(credentials).map_err(|_| invalid("credentials"))?,
        );
    }
    let body = match &request.body {
        Some((content_type, text)) => {
            builder = builder.header(CONTENT_TYPE, *content_type);
            Bytes::from(text.clone())
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).map_err(|_| invalid("URL"))
}

/// The HTTP/1.1 handshake on a fresh connection; the connection is driven
/// by a task of its own until either side closes it.
async fn start<IO>(io: IO) -> Result<Sender, EndpointErrorKind>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|err| failure(&err))?;
    tokio::spawn(async move {
        // Errors surface through the request that was in flight.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Resolves `host` and connects to the first address that accepts.
async fn dial(host: &str, port: u16) -> Result<TcpStream, EndpointErrorKind> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| EndpointErrorKind::Connect(format!("dial tcp: lookup {host}: no such host")))?
        .collect();
    let mut last = format!("dial tcp: lookup {host}: no such host");
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(err) => last = format!("dial tcp {address}: connect: {}", errno_text(&err)),
        }
    }
    Err(EndpointErrorKind::Connect(last))
}

/// An OS error as Go's `syscall.Errno` prints it: the C library's text
/// with a lower-case first letter and no error number.
fn errno_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A connection that broke during an exchange. With TLS 1.3 a server
/// refuses a client certificate only after the handshake, with an alert
/// that ends the first exchange: that is reported as the TLS failure it is.
fn failure(err: &hyper::Error) -> EndpointErrorKind {
    match tls_failure(err) {
        Some(reason) => EndpointErrorKind::Tls(format!("TLS handshake failed: {reason}")),
        None => EndpointErrorKind::Connection(describe_hyper_error(err)),
    }
}

fn describe_hyper_error(err: &hyper::Error) -> String {
    if err.is_incomplete_message() {
        return "EOF".to_string();
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            text = format!("{text}: {}", errno_text(io));
            break;
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_like_go() {
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(errno_text(&refused), "connection refused");
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let endpoint = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let transport = Transport::new(None, Duration::from_secs(1)).unwrap();
        let request = HttpRequest {
            method: Method::GET,
            path: "/v2/keys/a".to_string(),
            query: String::new(),
            body: None,
        };
        let err = transport
            .round_trip(&endpoint, &request, None, None)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            EndpointErrorKind::Connect(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
    }
}
