//! The member a [`Client`](crate::Client) talks to, and moving to another
//! one when that member cannot be reached.
//!
//! A client holds one HTTP/2 connection at a time, to the first endpoint
//! that answered. When a call finds that connection gone (the member was
//! killed, restarted or cut off), the client dials the other endpoints in
//! turn and carries on with the first that answers, as clientv3's balancer
//! stops using an endpoint it cannot reach. A call that never left (the
//! connection could not be made) is sent again on the new connection;
//! one that may have reached the member before the connection broke is
//! not, since it may have taken effect, and fails as it did.

use std::fmt;
use std::sync::{Arc, Mutex};

use tonic::transport::{Channel, Endpoint};

use crate::tls::TlsConnector;
use crate::{ConnectOptions, Error};

/// The connection a client uses and the endpoints it may move to. Clones
/// of a client share one.
pub(crate) struct Link {
    targets: Vec<Target>,
    current: Mutex<Current>,
    /// Held while moving, so that calls failing together move once.
    moving: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Current {
    channel: Channel,
    /// Which of `targets` `channel` is connected to.
    index: usize,
    /// Counts the moves, so that a caller can tell whether the connection
    /// it saw fail has been replaced already.
    generation: u64,
}

/// How a call's failure bears on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    /// The server answered: nothing is wrong with the connection.
    None,
    /// No connection could be made, so the request never left.
    NotSent,
    /// The connection broke under the call, which may or may not have
    /// reached the server.
    Broken,
}

impl Loss {
    /// Statuses the server sent carry no source; one that tonic made for
    /// a transport failure keeps the transport error as its source, and a
    /// failure to connect is a [`tonic::ConnectError`] in that chain.
    pub(crate) fn of(status: &tonic::Status) -> Loss {
        let Some(source) = std::error::Error::source(status) else {
            return Loss::None;
        };
        if status.code() == tonic::Code::Cancelled {
            // A deadline, not the connection.
            return Loss::None;
        }
        let mut cause = Some(source);
        while let Some(err) = cause {
            if err.is::<tonic::ConnectError>() {
                return Loss::NotSent;
            }
            cause = err.source();
        }
        Loss::Broken
    }
}

impl Link {
    /// A link over `channel`, connected to `targets[index]`.
    pub(crate) fn new(targets: Vec<Target>, index: usize, channel: Channel) -> Arc<Link> {
        Arc::new(Link {
            targets,
            current: Mutex::new(Current {
                channel,
                index,
                generation: 0,
            }),
            moving: tokio::sync::Mutex::new(()),
        })
    }

    /// Reads the connection in use without copying it.
    fn read<T>(&self, f: impl FnOnce(&Current) -> T) -> T {
        f(&self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn current(&self) -> Current {
        self.read(Current::clone)
    }

    /// The connection calls go over now.
    pub(crate) fn channel(&self) -> Channel {
        self.read(|current| current.channel.clone())
    }

    /// The URL of the endpoint calls go to now.
    pub(crate) fn endpoint(&self) -> String {
        self.targets[self.read(|current| current.index)].url.clone()
    }

    /// Identifies the connection in use, for [`Link::recover`].
    pub(crate) fn generation(&self) -> u64 {
        self.read(|current| current.generation)
    }

    /// Whether there is anywhere to move to.
    pub(crate) fn can_move(&self) -> bool {
        self.targets.len() > 1
    }

    /// After a call on connection `used` failed with `status`: when the
    /// connection is what failed, moves to another endpoint that answers.
    /// True when calls now go over a different connection than `used`
    /// (moved here or by a call that failed at the same time).
    pub(crate) async fn recover(&self, used: u64, status: &tonic::Status) -> bool {
        if Loss::of(status) == Loss::None || !self.can_move() {
            return false;
        }
        let _turn = self.moving.lock().await;
        let from = self.current();
        if from.generation != used {
            return true;
        }
        let n = self.targets.len();
        for step in 1..n {
            let index = (from.index + step) % n;
            // Each attempt is bounded by the dial timeout set on the
            // endpoint.
            if let Ok(channel) = self.targets[index].connect().await {
                let mut current = self
                    .current
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                *current = Current {
                    channel,
                    index,
                    generation: from.generation + 1,
                };
                return true;
            }
        }
        // Nobody else answers either: stay, and let the connection
        // re-establish itself when the member is back.
        false
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.current();
        f.debug_struct("Link")
            .field("endpoint", &self.targets[current.index].url)
            .field("endpoints", &self.targets.len())
            .field("generation", &current.generation)
            .finish()
    }
}

/// One endpoint, ready to dial.
pub(crate) struct Target {
    /// The endpoint as a URL with the scheme actually used, as
    /// [`Client::endpoint`] reports it.
    pub(crate) url: String,
    /// What tonic dials: always an `http://` URI, since TLS (if any) is
    /// the connector's business.
    endpoint: Endpoint,
    tls: Option<TlsConnector>,
}

impl Target {
    pub(crate) fn new(
        endpoint: &str,
        options: ConnectOptions,
        tls: Option<&TlsConnector>,
    ) -> Result<Target, Error> {
        let invalid = |reason: String| Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason,
        };
        let (scheme, authority) = split_endpoint(endpoint).map_err(invalid)?;
        let tls = match scheme {
            Scheme::Http => None,
            Scheme::Bare => tls.cloned(),
            Scheme::Https => Some(tls.cloned().ok_or_else(|| {
                invalid("https endpoints need TLS settings (Client::connect_tls)".to_string())
            })?),
        };
        let uri = format!("http://{authority}");
        let target = Endpoint::from_shared(uri)
            .map_err(|err| invalid(err.to_string()))?
            .connect_timeout(options.dial_timeout)
            .tcp_nodelay(true);
        let url = match tls {
            Some(_) => format!("https://{authority}"),
            None => format!("http://{authority}"),
        };
        Ok(Target {
            url,
            endpoint: target,
            tls,
        })
    }

    pub(crate) async fn connect(&self) -> Result<Channel, tonic::transport::Error> {
        match &self.tls {
            None => self.endpoint.connect().await,
            Some(tls) => self.endpoint.connect_with_connector(tls.service()).await,
        }
    }
}

/// How an endpoint asks to be dialed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    /// `host:port`: TLS exactly when TLS settings are given, as in etcdctl.
    Bare,
    /// `http://host:port`: plaintext.
    Http,
    /// `https://host:port`: TLS.
    Https,
}

/// Splits an endpoint into its scheme and `host:port`.
fn split_endpoint(endpoint: &str) -> Result<(Scheme, String), String> {
    let trimmed = endpoint.trim();
    if trimmed.is_empty() {
        return Err("empty endpoint".to_string());
    }
    let (scheme, rest) = match trimmed.split_once("://") {
        None => (Scheme::Bare, trimmed),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (Scheme::Http, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (Scheme::Https, rest),
        Some((scheme, _)) => return Err(format!("unsupported scheme {scheme:?}")),
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() {
        return Err("missing host".to_string());
    }
    Ok((scheme, authority.to_string()))
}

/// tonic's transport errors say only "transport error" at the top level; the
/// useful part (connection refused, …) is in the source chain.
pub(crate) fn describe_transport_error(err: &tonic::transport::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TlsOptions;

    #[test]
    fn endpoint_schemes() {
        let split = |endpoint| split_endpoint(endpoint).unwrap();
        assert_eq!(
            split("127.0.0.1:2379"),
            (Scheme::Bare, "127.0.0.1:2379".to_string())
        );
        assert_eq!(
            split("http://127.0.0.1:2379"),
            (Scheme::Http, "127.0.0.1:2379".to_string())
        );
        assert_eq!(
            split(" HTTP://localhost:1/ "),
            (Scheme::Http, "localhost:1".to_string())
        );
        assert_eq!(
            split("https://localhost:2379"),
            (Scheme::Https, "localhost:2379".to_string())
        );
        assert_eq!(
            split("https://etcd.example"),
            (Scheme::Https, "etcd.example".to_string())
        );
        assert_eq!(
            split("https://[::1]:2379"),
            (Scheme::Https, "[::1]:2379".to_string())
        );
        assert!(split_endpoint("unix://sock").is_err());
        assert!(split_endpoint("").is_err());
        assert!(split_endpoint("http://").is_err());
    }

    #[test]
    fn https_needs_tls_settings() {
        let options = ConnectOptions::default();
        assert!(matches!(
            Target::new("https://127.0.0.1:2379", options, None),
            Err(Error::InvalidEndpoint { .. })
        ));
        let plain = Target::new("localhost:2379", options, None).unwrap();
        assert_eq!(plain.url, "http://localhost:2379");
        assert!(plain.tls.is_none());
        let tls = TlsConnector::new(&TlsOptions {
            insecure_skip_verify: true,
            ..Default::default()
        })
        .unwrap();
        let bare = Target::new("localhost:2379", options, Some(&tls)).unwrap();
        assert_eq!(bare.url, "https://localhost:2379");
        let http = Target::new("http://localhost:2379", options, Some(&tls)).unwrap();
        assert!(http.tls.is_none());
    }

    #[test]
    fn what_a_failure_says_about_the_connection() {
        // From the server: no source.
        let answered = tonic::Status::unavailable("etcdserver: leader changed");
        assert_eq!(Loss::of(&answered), Loss::None);
        // Could not connect: tonic wraps the cause in a ConnectError.
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let not_sent = tonic::Status::from_error(Box::new(tonic::ConnectError(Box::new(refused))));
        assert_eq!(not_sent.code(), tonic::Code::Unavailable);
        assert_eq!(Loss::of(&not_sent), Loss::NotSent);
        // Any other transport failure may have come after the request left.
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let broken = tonic::Status::from_error(Box::new(reset));
        assert_eq!(Loss::of(&broken), Loss::Broken);
    }
}
