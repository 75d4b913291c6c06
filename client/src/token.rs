//! Logging in with a user name and password, and carrying the token.
//!
//! With authentication enabled, etcd identifies the caller of each request
//! by a token in the gRPC metadata `token`, obtained from `Auth.Authenticate`
//! in exchange for a user name and password. A token does not last: a
//! simple token expires after `--auth-token-ttl` without use, any token is
//! refused for a write once users, roles or permissions have changed since it
//! was issued, and a member that restarted knows none of the simple tokens it
//! issued before. A call refused for its token is therefore retried once with
//! a fresh one, as etcd's own client does; see [`Client::with_credentials`].
//!
//! Neither the password nor the token ever appears in a `Debug` output or an
//! error message.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};

use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;

use crate::client::Client;
use crate::proto::etcdserverpb::auth_client::AuthClient;
use crate::proto::etcdserverpb::AuthenticateRequest;
use crate::Error;

/// The metadata key etcd reads the token from.
const TOKEN_KEY: &str = "token";

/// etcd's answer to `Authenticate` when authentication is disabled; the
/// client then goes on without a token, as clientv3 does.
const AUTH_NOT_ENABLED: &str = "etcdserver: authentication is not enabled";

/// Answers that mean "this call's token will not do", whatever the call: the
/// token is unknown or expired, or it predates a change of the auth store.
const TOKEN_REFUSED: [&str; 2] = [
    "etcdserver: invalid auth token",
    "etcdserver: revision of auth store is old",
];

/// The answer to a call without a token while authentication is enabled. A
/// client that has credentials gets it when authentication was enabled after
/// it logged in (it then holds no token).
const NO_TOKEN: &str = "etcdserver: user name is empty";

/// A user name and password to log in with.
///
/// `Debug` shows the user name only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// Credentials for `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &format_args!("<hidden>"))
            .finish()
    }
}

/// Adds a [`Client`]'s current token, if it has one, to every request as the
/// gRPC metadata `token`. The raw service clients ([`Client::kv`],
/// [`Client::watch`], …) carry one, so their calls and streams are
/// authenticated too; a stream presents the token current when it opens.
#[derive(Clone, Default)]
pub struct TokenInterceptor {
    session: Option<Arc<Session>>,
}

impl TokenInterceptor {
    pub(crate) fn new(session: Option<Arc<Session>>) -> TokenInterceptor {
        TokenInterceptor { session }
    }
}

impl Interceptor for TokenInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = self.session.as_ref().and_then(|session| session.token()) {
            request.metadata_mut().insert(TOKEN_KEY, token);
        }
        Ok(request)
    }
}

impl fmt::Debug for TokenInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInterceptor")
            .field("session", &self.session)
            .finish()
    }
}

/// What a logged-in client shares among its clones: the credentials and the
/// token they were last traded for.
pub(crate) struct Session {
    credentials: Credentials,
    /// `None` before the first login and while the server has
    /// authentication disabled.
    token: RwLock<Option<AsciiMetadataValue>>,
    /// Held while trading the credentials for a token, so that calls
    /// refused at the same time log in once.
    renewing: tokio::sync::Mutex<()>,
}

impl Session {
    pub(crate) fn new(credentials: Credentials) -> Session {
        Session {
            credentials,
            token: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn user(&self) -> &str {
        self.credentials.user()
    }

    /// The token calls carry now.
    pub(crate) fn token(&self) -> Option<AsciiMetadataValue> {
        self.token
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set_token(&self, token: Option<AsciiMetadataValue>) {
        *self
            .token
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
    }

    /// Trades the credentials for a new token over `client`'s connection,
    /// unless the token has changed since `stale` was read (another call
    /// renewed it meanwhile). A server with authentication disabled leaves
    /// the client without a token.
    async fn renew(&self, client: &Client, stale: Option<AsciiMetadataValue>) -> Result<(), Error> {
        let _turn = self.renewing.lock().await;
        if self.token() != stale {
            return Ok(());
        }
        // The login itself carries no token: a refused one must not stand
        // in its way.
        let mut auth = AuthClient::new(client.channel());
        let request = AuthenticateRequest {
            name: self.credentials.user.clone(),
            password: self.credentials.password.clone(),
        };
        match auth.authenticate(request).await {
            Ok(resp) => {
                let token =
                    AsciiMetadataValue::try_from(resp.into_inner().token).map_err(|_| {
                        Error::Rpc {
                            code: tonic::Code::Internal,
                            message: "the server's auth token cannot be sent as gRPC metadata"
                                .to_string(),
                        }
                    })?;
                self.set_token(Some(token));
                Ok(())
            }
            Err(status) if status.message() == AUTH_NOT_ENABLED => {
                self.set_token(None);
                Ok(())
            }
            Err(status) => Err(status.into()),
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.credentials.user)
            .field("has_token", &self.token().is_some())
            .finish()
    }
}

impl Client {
    /// Logs in as `credentials` describes: trades them for a token now
    /// (`Auth.Authenticate`, within the command timeout) and returns a
    /// client that sends that token with every request, typed methods and
    /// raw service clients alike. Clones of the returned client share the
    /// token; the client this is called on is left as it was.
    ///
    /// When a typed call is refused because of its token (`etcdserver:
    /// invalid auth token`, `etcdserver: revision of auth store is old`, or
    /// `etcdserver: user name is empty` when authentication was enabled
    /// after the login), the client logs in again and retries the call
    /// once. A server that has authentication disabled is used without a
    /// token, as etcd's client does; wrong credentials fail here with
    /// `etcdserver: authentication failed, invalid user ID or password`.
    pub async fn with_credentials(self, credentials: Credentials) -> Result<Client, Error> {
        let client = self.logged_in(Arc::new(Session::new(credentials)));
        let timeout = client.options().command_timeout;
        let login = client.renew_token(None);
        if timeout.is_zero() {
            login.await?;
        } else {
            tokio::time::timeout(timeout, login)
                .await
                .map_err(|_| Error::Timeout)??;
        }
        Ok(client)
    }

    /// The user this client logged in as, if it did.
    pub fn user(&self) -> Option<&str> {
        self.session().map(|session| session.user())
    }

    /// The token calls carry now.
    fn current_token(&self) -> Option<AsciiMetadataValue> {
        self.session().and_then(|session| session.token())
    }

    /// Logs in again, unless the token changed since `stale` was current.
    async fn renew_token(&self, stale: Option<AsciiMetadataValue>) -> Result<(), Error> {
        match self.session() {
            Some(session) => session.renew(self, stale).await,
            None => Ok(()),
        }
    }

    /// True when `err` refused a call for its token and logging in again
    /// may help.
    fn token_refused(&self, err: &Error) -> bool {
        self.session().is_some()
            && err
                .message()
                .is_some_and(|message| TOKEN_REFUSED.contains(&message) || message == NO_TOKEN)
    }

    /// Runs `attempt`, and once more after logging in again if the server
    /// refused its token.
    pub(crate) async fn with_token_retry<T, F, Fut>(&self, attempt: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let token = self.current_token();
        match attempt().await {
            Err(err) if self.token_refused(&err) => {
                self.renew_token(token).await?;
                attempt().await
            }
            result => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let credentials = Credentials::new("root", "s3cret");
        let shown = format!("{credentials:?}");
        assert!(shown.contains("root"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let session = Arc::new(Session::new(credentials));
        session.set_token(Some(AsciiMetadataValue::from_static("tok.42")));
        let interceptor = TokenInterceptor::new(Some(session));
        let shown = format!("{interceptor:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("tok.42"),
            "{shown}"
        );
    }

    #[test]
    fn the_token_travels_as_metadata() {
        let session = Arc::new(Session::new(Credentials::new("u", "p")));
        let mut interceptor = TokenInterceptor::new(Some(session.clone()));
        let request = interceptor.call(tonic::Request::new(())).unwrap();
        assert!(request.metadata().get(TOKEN_KEY).is_none());
        session.set_token(Some(AsciiMetadataValue::from_static("tok.7")));
        let request = interceptor.call(tonic::Request::new(())).unwrap();
        assert_eq!(request.metadata().get(TOKEN_KEY).unwrap(), "tok.7");
        let mut anonymous = TokenInterceptor::default();
        let request = anonymous.call(tonic::Request::new(())).unwrap();
        assert!(request.metadata().get(TOKEN_KEY).is_none());
    }
}
