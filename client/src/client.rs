//! Connecting to a cluster and issuing key-value calls.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::link::{describe_transport_error, Link, Loss, Target};
use crate::proto::etcdserverpb::{
    auth_client::AuthClient, cluster_client::ClusterClient, kv_client::KvClient,
    lease_client::LeaseClient, maintenance_client::MaintenanceClient, watch_client::WatchClient,
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest,
    PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use crate::proto::v3electionpb::election_client::ElectionClient;
use crate::proto::v3lockpb::lock_client::LockClient;
use crate::tls::{self, TlsConnector};
use crate::token::{Session, TokenInterceptor};
use crate::{Error, TlsOptions};

/// Responses are not size-limited on the client: a range over a large
/// keyspace is legitimate and the server already bounds what it sends
/// (etcdctl likewise accepts up to 2 GiB).
const MAX_DECODING_MESSAGE_SIZE: usize = i32::MAX as usize;

/// How long to pause between two rounds of connection attempts, so that a
/// refused connection does not turn into a busy loop while the dial timeout
/// runs.
const REDIAL_PAUSE: Duration = Duration::from_millis(100);

/// Timeouts applied by a [`Client`]. TLS settings are given separately,
/// to [`Client::connect_tls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long [`Client::connect_with`] keeps trying to establish a
    /// connection (cycling through the endpoints) before giving up with
    /// [`Error::Connect`]. Defaults to 2 s, as in etcdctl.
    pub dial_timeout: Duration,
    /// Upper bound on each typed call ([`Client::range`], [`Client::put`], …);
    /// when it elapses the call fails with [`Error::Timeout`] and the server
    /// is told the deadline through gRPC's `grpc-timeout`. `Duration::ZERO`
    /// disables the bound. Defaults to 5 s, as in etcdctl. It does not apply
    /// to the raw tonic clients.
    pub command_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
        }
    }
}

/// The transport of the raw service clients: the connection, with the
/// client's auth token added to every request (see [`TokenInterceptor`]).
pub type TokenChannel = InterceptedService<Channel, TokenInterceptor>;

/// A connection to a member of an etcd-compatible cluster.
///
/// Cloning is cheap and clones share the underlying HTTP/2 connection and
/// the login, if any (see [`Client::with_credentials`]). Every method may be
/// called concurrently. When the member cannot be reached any more, the
/// client moves to another of the endpoints it was given that answers; a
/// call that could not be sent is sent there, one that may have reached the
/// lost member fails. With a single endpoint, the connection re-establishes
/// itself when the member is back.
#[derive(Debug, Clone)]
pub struct Client {
    link: Arc<Link>,
    options: ConnectOptions,
    session: Option<Arc<Session>>,
}

impl Client {
    /// Connects with [`ConnectOptions::default`]; see [`Client::connect_with`].
    pub async fn connect(endpoints: &[String]) -> Result<Client, Error> {
        Client::connect_with(endpoints, ConnectOptions::default()).await
    }

    /// Connects to the first endpoint that accepts a connection, in
    /// plaintext.
    ///
    /// Endpoints are `host:port` or `http://host:port`, the host a name
    /// (`localhost`) or an IP address; they are tried in the order given,
    /// round after round, until one answers or `options.dial_timeout` has
    /// elapsed. On success the connection is established (not lazy), so a
    /// returned client is known to have reached a server. `https://`
    /// endpoints need TLS settings and are rejected with
    /// [`Error::InvalidEndpoint`]: use [`Client::connect_tls`].
    pub async fn connect_with(
        endpoints: &[String],
        options: ConnectOptions,
    ) -> Result<Client, Error> {
        Client::dial(endpoints, options, None).await
    }

    /// [`Client::connect_with`] over TLS, as [`TlsOptions`] describes.
    ///
    /// `host:port` and `https://host:port` endpoints are dialed over TLS and
    /// the server's certificate must be valid for `host` (or for
    /// `tls.server_name`); `http://` endpoints stay plaintext, as in
    /// etcdctl. Unusable TLS settings fail at once with
    /// [`Error::TlsConfig`]. A handshake failure is not retried when every
    /// endpoint fails that way, since the answer would not change: the
    /// call returns [`Error::TlsHandshake`] without waiting for the dial
    /// timeout.
    pub async fn connect_tls(
        endpoints: &[String],
        options: ConnectOptions,
        tls: &TlsOptions,
    ) -> Result<Client, Error> {
        let connector = TlsConnector::new(tls)?;
        Client::dial(endpoints, options, Some(&connector)).await
    }

    async fn dial(
        endpoints: &[String],
        options: ConnectOptions,
        tls: Option<&TlsConnector>,
    ) -> Result<Client, Error> {
        if endpoints.is_empty() {
            return Err(Error::InvalidEndpoint {
                endpoint: String::new(),
                reason: "no endpoints given".to_string(),
            });
        }
        let targets = endpoints
            .iter()
            .map(|endpoint| Target::new(endpoint, options, tls))
            .collect::<Result<Vec<_>, _>>()?;

        let deadline = Instant::now() + options.dial_timeout;
        let mut last_error = String::from("dial timeout elapsed");
        let mut tls_failure = None;
        loop {
            let mut tls_failures_this_round = 0;
            for (index, target) in targets.iter().enumerate() {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    break;
                }
                match tokio::time::timeout(remaining, target.connect()).await {
                    Ok(Ok(channel)) => {
                        return Ok(Client {
                            link: Link::new(targets, index, channel),
                            options,
                            session: None,
                        })
                    }
                    Ok(Err(err)) => match tls::tls_failure(&err) {
                        Some(reason) => {
                            tls_failures_this_round += 1;
                            tls_failure = Some(format!("{}: {reason}", target.url));
                        }
                        None => last_error = describe_transport_error(&err),
                    },
                    Err(_) => last_error = "dial timeout elapsed".to_string(),
                }
            }
            // A TLS failure says more than the connection errors of members
            // that are down.
            if let Some(reason) = &tls_failure {
                if tls_failures_this_round == targets.len() {
                    return Err(Error::TlsHandshake {
                        reason: reason.clone(),
                    });
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(match tls_failure {
                    Some(reason) => Error::TlsHandshake { reason },
                    None => Error::Connect {
                        endpoints: endpoints.to_vec(),
                        reason: last_error,
                    },
                });
            }
            tokio::time::sleep(remaining.min(REDIAL_PAUSE)).await;
        }
    }

    /// The URL of the endpoint this client is connected to now.
    pub fn endpoint(&self) -> String {
        self.link.endpoint()
    }

    /// The timeouts this client applies.
    pub fn options(&self) -> ConnectOptions {
        self.options
    }

    /// The underlying channel, for building clients of other gRPC services.
    /// Requests made on it directly carry no auth token; wrap it with
    /// [`Client::token_interceptor`] for that. It stays on the member it is
    /// connected to now.
    pub fn channel(&self) -> Channel {
        self.link.channel()
    }

    /// The connection and the endpoints the client may move to.
    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// Adds this client's auth token to requests, for clients of other gRPC
    /// services built on [`Client::channel`].
    pub fn token_interceptor(&self) -> TokenInterceptor {
        TokenInterceptor::new(self.session.clone())
    }

    /// The channel with the auth token added, which the raw service
    /// clients use.
    fn token_channel(&self) -> TokenChannel {
        InterceptedService::new(self.channel(), self.token_interceptor())
    }

    /// This client, logged in as `session` says.
    pub(crate) fn logged_in(self, session: Arc<Session>) -> Client {
        Client {
            session: Some(session),
            ..self
        }
    }

    /// The login, if this client has one.
    pub(crate) fn session(&self) -> Option<&Session> {
        self.session.as_deref()
    }

    /// `KV.Range`: reads keys exactly as the request describes.
    pub async fn range(&self, request: RangeRequest) -> Result<RangeResponse, Error> {
        self.unary(request, |req| {
            let mut kv = self.kv();
            async move { kv.range(req).await }
        })
        .await
    }

    /// `KV.Put`: writes one key exactly as the request describes.
    pub async fn put(&self, request: PutRequest) -> Result<PutResponse, Error> {
        self.unary(request, |req| {
            let mut kv = self.kv();
            async move { kv.put(req).await }
        })
        .await
    }

    /// `KV.DeleteRange`: deletes the keys the request selects.
    pub async fn delete_range(
        &self,
        request: DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, Error> {
        self.unary(request, |req| {
            let mut kv = self.kv();
            async move { kv.delete_range(req).await }
        })
        .await
    }

    /// `KV.Txn`: evaluates the compares and applies the success or failure
    /// branch atomically.
    pub async fn txn(&self, request: TxnRequest) -> Result<TxnResponse, Error> {
        self.unary(request, |req| {
            let mut kv = self.kv();
            async move { kv.txn(req).await }
        })
        .await
    }

    /// `KV.Compact`: discards history before the requested revision.
    pub async fn compact(&self, request: CompactionRequest) -> Result<CompactionResponse, Error> {
        self.unary(request, |req| {
            let mut kv = self.kv();
            async move { kv.compact(req).await }
        })
        .await
    }

    /// Reads the latest value of a single key (a linearizable `Range`).
    pub async fn get(&self, key: impl Into<Vec<u8>>) -> Result<RangeResponse, Error> {
        self.range(RangeRequest {
            key: key.into(),
            ..Default::default()
        })
        .await
    }

    /// Sets `key` to `value`, detaching it from any lease.
    pub async fn put_kv(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<PutResponse, Error> {
        self.put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })
        .await
    }

    /// A raw client of the KV service on this connection.
    pub fn kv(&self) -> KvClient<TokenChannel> {
        KvClient::new(self.token_channel()).max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Watch service on this connection.
    pub fn watch(&self) -> WatchClient<TokenChannel> {
        WatchClient::new(self.token_channel()).max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Lease service on this connection.
    pub fn lease(&self) -> LeaseClient<TokenChannel> {
        LeaseClient::new(self.token_channel()).max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Cluster service on this connection.
    pub fn cluster(&self) -> ClusterClient<TokenChannel> {
        ClusterClient::new(self.token_channel())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Maintenance service on this connection.
    pub fn maintenance(&self) -> MaintenanceClient<TokenChannel> {
        MaintenanceClient::new(self.token_channel())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Auth service on this connection.
    pub fn auth(&self) -> AuthClient<TokenChannel> {
        AuthClient::new(self.token_channel()).max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Lock service (`v3lockpb`) on this connection.
    pub fn lock(&self) -> LockClient<TokenChannel> {
        LockClient::new(self.token_channel()).max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// A raw client of the Election service (`v3electionpb`) on this
    /// connection.
    pub fn election(&self) -> ElectionClient<TokenChannel> {
        ElectionClient::new(self.token_channel())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
    }

    /// Runs one unary call under the command timeout. `call` makes the call
    /// for a request; it runs a second time when the request could not be
    /// sent and the client moved to another member (see [`Link`]), and when
    /// the server refused the token, with a fresh one (see
    /// [`Client::with_credentials`]). The timeout bounds every attempt, the
    /// move and the login between them.
    pub(crate) async fn unary<Req, Resp, F, Fut>(
        &self,
        message: Req,
        call: F,
    ) -> Result<Resp, Error>
    where
        Req: Clone,
        F: Fn(tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let timeout = self.options.command_timeout;
        let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
        let send = |message: Req| {
            let mut request = tonic::Request::new(message);
            // The server learns the deadline too, so it can stop working on
            // a request nobody is waiting for any more.
            if let Some(deadline) = deadline {
                request.set_timeout(deadline.saturating_duration_since(Instant::now()));
            }
            call(request)
        };
        let attempt = |message: Req| async {
            let used = self.link.generation();
            // A copy for a second try is only needed where there is
            // another member to try it on.
            let spare = self.link.can_move().then(|| message.clone());
            let status = match send(message).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) => status,
            };
            let moved = self.link.recover(used, &status).await;
            match spare {
                Some(message) if moved && Loss::of(&status) == Loss::NotSent => {
                    Ok(send(message).await?.into_inner())
                }
                _ => Err(status.into()),
            }
        };
        let attempts = async {
            // Only a client that logs in may have to renew its token.
            if self.session().is_none() {
                return attempt(message).await;
            }
            self.with_token_retry(|| attempt(message.clone())).await
        };
        match deadline {
            None => attempts.await,
            Some(deadline) => tokio::time::timeout_at(deadline, attempts)
                .await
                .unwrap_or(Err(Error::Timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connect_gives_up_after_dial_timeout() {
        // Bind and drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = ConnectOptions {
            dial_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let started = std::time::Instant::now();
        let err = Client::connect_with(&[format!("127.0.0.1:{port}")], options)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn connect_rejects_no_endpoints() {
        assert!(matches!(
            Client::connect(&[]).await,
            Err(Error::InvalidEndpoint { .. })
        ));
    }
}
