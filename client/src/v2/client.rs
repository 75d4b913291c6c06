//! The v2 client: endpoints, failover between them, and the options every
//! request shares.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use hyper::Method;

use super::error::{ClusterError, EndpointError, EndpointErrorKind, Error};
use super::http::{HttpReply, HttpRequest, Transport};
use super::url::{encode_params, Endpoint};
use crate::TlsOptions;

/// Called with every request just before it is sent (etcdctl's `--debug`
/// prints these as cURL command lines).
pub type RequestHook = Arc<dyn Fn(&RequestInfo<'_>) + Send + Sync>;

/// A request about to be sent, for a [`RequestHook`].
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// `GET`, `PUT`, `POST` or `DELETE`.
    pub method: &'a str,
    /// The full URL, escaped, with the query string.
    pub url: &'a str,
    /// The body, for requests that have one (a form or JSON), even empty.
    pub body: Option<&'a str>,
}

/// How a [`Client`] talks to the cluster.
#[derive(Clone)]
pub struct ClientOptions {
    /// How long one request to one endpoint may take until the response
    /// header arrives (connecting included) before the next endpoint is
    /// tried; `None` waits indefinitely. Watches are never bounded by it.
    pub header_timeout: Option<Duration>,
    /// How long connecting to one endpoint may take (and, for `https`,
    /// the TLS handshake after it).
    pub dial_timeout: Duration,
    /// TLS settings for `https` endpoints; `https` endpoints cannot be used
    /// without them.
    pub tls: Option<TlsOptions>,
    /// User name and password sent with every request (HTTP basic auth).
    pub credentials: Option<(String, String)>,
    /// Sees every request before it is sent.
    pub on_request: Option<RequestHook>,
}

impl Default for ClientOptions {
    /// etcd's Go client's defaults: no header timeout, 30 s to connect.
    fn default() -> Self {
        ClientOptions {
            header_timeout: None,
            dial_timeout: Duration::from_secs(30),
            tls: None,
            credentials: None,
            on_request: None,
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("header_timeout", &self.header_timeout)
            .field("dial_timeout", &self.dial_timeout)
            .field("tls", &self.tls)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| user),
            )
            .field("on_request", &self.on_request.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A client for etcd's v2 HTTP API (`/v2/keys`, `/v2/members`, …).
///
/// Requests go to one endpoint at a time, in the order given (etcd's Go
/// client shuffles them first), starting with the one that answered last. An endpoint that cannot be reached, does not answer in
/// time or answers with a 5xx status is skipped for the next; only when
/// every endpoint failed does the request fail, with a [`ClusterError`].
/// Creates (`prevExist=false`) and deletes are never sent twice: they fail
/// with the first endpoint's error, since a retry could apply them twice.
///
/// Cloning is cheap; clones share endpoints and connections.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

struct Shared {
    endpoints: Mutex<Endpoints>,
    transport: Transport,
    header_timeout: Option<Duration>,
    authorization: Option<String>,
    on_request: Option<RequestHook>,
}

#[derive(Clone)]
struct Endpoints {
    list: Vec<Endpoint>,
    /// The endpoint tried first.
    pinned: usize,
}

/// A request of one of the v2 APIs, before an endpoint is chosen.
pub(crate) struct Action {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) body: Option<(&'static str, String)>,
    /// A watch: no header timeout.
    pub(crate) wait: bool,
    /// Not to be retried on another endpoint.
    pub(crate) one_shot: bool,
}

impl Action {
    pub(crate) fn new(method: Method, path: String) -> Action {
        Action {
            method,
            path,
            params: Vec::new(),
            body: None,
            wait: false,
            one_shot: false,
        }
    }
}

impl Client {
    /// A client for the cluster behind `endpoints` (`http://host:port` or
    /// `https://host:port`; a bare `host:port` is refused as etcdctl
    /// refuses it, a bare host gets `http://`).
    ///
    /// Nothing is dialed yet. Fails when an endpoint cannot be parsed, when
    /// there is none, or when the TLS settings are unusable.
    pub fn new<S: AsRef<str>>(endpoints: &[S], options: ClientOptions) -> Result<Client, Error> {
        let list = parse_endpoints(endpoints)?;
        let transport =
            Transport::new(options.tls.as_ref(), options.dial_timeout).map_err(Error::Tls)?;
        let authorization = options.credentials.map(|(user, password)| {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {token}")
        });
        Ok(Client {
            shared: Arc::new(Shared {
                endpoints: Mutex::new(Endpoints { list, pinned: 0 }),
                transport,
                header_timeout: options.header_timeout,
                authorization,
                on_request: options.on_request,
            }),
        })
    }

    /// The endpoints in use, in order; after [`Client::sync`] these are the
    /// members' client URLs.
    pub fn endpoints(&self) -> Vec<String> {
        self.lock_endpoints()
            .list
            .iter()
            .map(|endpoint| endpoint.url.clone())
            .collect()
    }

    /// Replaces the endpoints; the first is tried first.
    pub fn set_endpoints<S: AsRef<str>>(&self, endpoints: &[S]) -> Result<(), Error> {
        let list = parse_endpoints(endpoints)?;
        *self.lock_endpoints() = Endpoints { list, pinned: 0 };
        Ok(())
    }

    /// Replaces the endpoints with the client URLs the cluster publishes
    /// (its member list), so that later requests reach members the caller
    /// did not name. Fails with [`Error::NoEndpoints`] when no member
    /// publishes a client URL; the endpoints are then left as they were.
    pub async fn sync(&self) -> Result<(), Error> {
        let members = self.members().await?;
        let urls: Vec<String> = members
            .into_iter()
            .flat_map(|member| member.client_urls)
            .collect();
        let list = parse_endpoints(&urls)?;
        let mut endpoints = self.lock_endpoints();
        let mut current: Vec<&str> = endpoints.list.iter().map(|e| e.url.as_str()).collect();
        let mut published: Vec<&str> = list.iter().map(|e| e.url.as_str()).collect();
        current.sort_unstable();
        published.sort_unstable();
        if current != published {
            *endpoints = Endpoints { list, pinned: 0 };
        }
        Ok(())
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.shared.transport
    }

    fn lock_endpoints(&self) -> std::sync::MutexGuard<'_, Endpoints> {
        self.shared
            .endpoints
            .lock()
            .expect("endpoint list poisoned")
    }

    /// Sends `action` to the endpoints in turn until one answers without a
    /// 5xx status (see [`Client`] for the rules).
    pub(crate) async fn execute(&self, action: &Action) -> Result<HttpReply, Error> {
        let Endpoints { list, pinned } = self.lock_endpoints().clone();
        if list.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let request = HttpRequest {
            method: action.method.clone(),
            path: action.path.clone(),
            query: encode_params(&action.params),
            body: action.body.clone(),
        };
        let header_timeout = if action.wait {
            None
        } else {
            self.shared.header_timeout
        };
        let mut errors = Vec::new();
        for attempt in pinned..pinned + list.len() {
            let k = attempt % list.len();
            let endpoint = &list[k];
            if let Some(hook) = &self.shared.on_request {
                hook(&RequestInfo {
                    method: request.method.as_str(),
                    url: &endpoint.url_of(&request.path, &request.query),
                    body: request.body.as_ref().map(|(_, text)| text.as_str()),
                });
            }
            let outcome = self
                .shared
                .transport
                .round_trip(
                    endpoint,
                    &request,
                    self.shared.authorization.as_deref(),
                    header_timeout,
                )
                .await;
            let kind = match outcome {
                Ok(reply) if reply.status / 100 == 5 => match reply.status {
                    500 | 503 => EndpointErrorKind::NoLeader,
                    status => EndpointErrorKind::ServerError(status),
                },
                Ok(reply) => {
                    if k != pinned {
                        self.lock_endpoints().pinned = k;
                    }
                    return Ok(reply);
                }
                Err(kind) => kind,
            };
            let err = EndpointError {
                endpoint: endpoint.url.clone(),
                kind,
            };
            if action.one_shot {
                self.lock_endpoints().pinned = (k + 1) % list.len();
                return Err(Error::Endpoint(err));
            }
            errors.push(err);
        }
        Err(Error::Cluster(ClusterError { errors }))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints())
            .finish_non_exhaustive()
    }
}

fn parse_endpoints<S: AsRef<str>>(endpoints: &[S]) -> Result<Vec<Endpoint>, Error> {
    if endpoints.is_empty() {
        return Err(Error::NoEndpoints);
    }
    endpoints
        .iter()
        .map(|endpoint| Endpoint::parse(endpoint.as_ref()))
        .collect()
}
