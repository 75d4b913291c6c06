//! Failures of v2 requests, worded as etcd's Go client words them (which is
//! what `etcdctl` prints after `Error: `).

use std::fmt;

use serde::Deserialize;

/// Everything a v2 request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused the request with one of etcd's v2 errors (key not
    /// found, compare failed, …).
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// Every endpoint failed; each one's failure in the order tried.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A request that must not be retried elsewhere (a create or a delete,
    /// which may have been applied) failed on its endpoint.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The client has no endpoint to send to, or the member list named no
    /// client URL.
    #[error("client: no endpoints available")]
    NoEndpoints,
    /// An endpoint is not a URL the client can use.
    #[error("parse {}: {reason}", go_quote(endpoint))]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A peer URL given to `add_member` or `update_member` is not an
    /// `http`, `https`, `unix` or `unixs` URL of the form `scheme://host:port`.
    #[error("{0}")]
    InvalidPeerUrl(String),
    /// A keys API answer was not the JSON it should be.
    #[error(
        "client: response is invalid json. The endpoint is probably not valid etcd cluster \
         endpoint"
    )]
    InvalidJson,
    /// A keys API answer had no body.
    #[error("client: response body is empty")]
    EmptyBody,
    /// A members or health answer could not be decoded.
    #[error("{0}")]
    Decode(String),
    /// A members request got a status it has no meaning for.
    #[error("unexpected status code {0}")]
    UnexpectedStatus(u16),
    /// The server refused a membership change (an unknown member, a peer
    /// URL already in use, …), in its words.
    #[error("{0}")]
    Membership(String),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(crate::Error),
}

impl Error {
    /// The v2 error code (`errorCode`) when the server refused the request.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Keys(err) => Some(err.code),
            _ => None,
        }
    }

    /// Whether the request never got an answer because no endpoint could be
    /// connected to or the connections broke (as opposed to an endpoint
    /// answering with an error, or timing out while waiting for one).
    pub fn is_connection_error(&self) -> bool {
        match self {
            Error::Endpoint(err) => err.is_connection_error(),
            Error::Cluster(err) => err.errors.iter().all(EndpointError::is_connection_error),
            _ => false,
        }
    }
}

/// One of etcd's v2 errors, as the server sent it.
///
/// Displays as etcd's Go client does: `100: Key not found (/foo) [12]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, thiserror::Error)]
#[error("{code}: {message} ({cause}) [{index}]")]
pub struct KeysError {
    /// `errorCode`: see the associated constants.
    #[serde(rename = "errorCode")]
    pub code: u32,
    /// The server's description of the code.
    #[serde(default)]
    pub message: String,
    /// What the error is about, usually the key.
    #[serde(default)]
    pub cause: String,
    /// The store's index when the error happened.
    #[serde(default)]
    pub index: u64,
}

impl KeysError {
    /// The key does not exist.
    pub const KEY_NOT_FOUND: u32 = 100;
    /// `prevValue` or `prevIndex` did not match.
    pub const TEST_FAILED: u32 = 101;
    /// The key is a directory where a value was expected.
    pub const NOT_FILE: u32 = 102;
    /// The key is a value where a directory was expected.
    pub const NOT_DIR: u32 = 104;
    /// The key exists and `prevExist=false` was asked for.
    pub const NODE_EXIST: u32 = 105;
    /// The root directory cannot be changed.
    pub const ROOT_READ_ONLY: u32 = 107;
    /// A directory with children was deleted without `recursive`.
    pub const DIR_NOT_EMPTY: u32 = 108;
    /// The request lacks the permissions it needs.
    pub const UNAUTHORIZED: u32 = 110;
    /// A compare-and-swap form without `prevValue`.
    pub const PREV_VALUE_REQUIRED: u32 = 201;
    /// `ttl` is not a number.
    pub const TTL_NAN: u32 = 202;
    /// An index is not a number.
    pub const INDEX_NAN: u32 = 203;
    /// A form field is invalid.
    pub const INVALID_FIELD: u32 = 209;
    /// The form is invalid.
    pub const INVALID_FORM: u32 = 210;
    /// The raft layer failed.
    pub const RAFT_INTERNAL: u32 = 300;
    /// A leader election is under way.
    pub const LEADER_ELECT: u32 = 301;
    /// The server dropped the watcher.
    pub const WATCHER_CLEARED: u32 = 400;
    /// The `waitIndex` is older than the history the server keeps.
    pub const EVENT_INDEX_CLEARED: u32 = 401;
}

/// Every endpoint failed.
///
/// Displays as etcd's Go client does, each failure on its own line:
/// `client: etcd cluster is unavailable or misconfigured; error #0: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ClusterError {
    /// What went wrong with each endpoint, in the order they were tried.
    pub errors: Vec<EndpointError>,
}

impl ClusterError {
    /// One line per endpoint: `error #0: …` (what etcdctl prints below the
    /// error itself).
    pub fn detail(&self) -> String {
        self.errors
            .iter()
            .enumerate()
            .map(|(i, err)| format!("error #{i}: {err}\n"))
            .collect()
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client: etcd cluster is unavailable or misconfigured")?;
        for (i, err) in self.errors.iter().enumerate() {
            writeln!(f, "; error #{i}: {err}")?;
        }
        Ok(())
    }
}

/// What went wrong with one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EndpointError {
    /// The endpoint's URL.
    pub endpoint: String,
    /// What happened.
    pub kind: EndpointErrorKind,
}

/// The ways one endpoint can fail a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointErrorKind {
    /// No connection could be made (refused, unreachable, unknown host,
    /// dial timeout), in Go's words: `dial tcp 127.0.0.1:1: connect:
    /// connection refused`.
    Connect(String),
    /// The connection broke before the answer was complete.
    Connection(String),
    /// The TLS handshake failed, or TLS is needed and not configured.
    Tls(String),
    /// The endpoint's scheme is neither `http` nor `https`.
    UnsupportedScheme(String),
    /// No response header arrived within the per-request timeout.
    HeaderTimeout,
    /// The member answered 500 or 503: it has no leader (or cannot reach
    /// it).
    NoLeader,
    /// The member answered with another 5xx status.
    ServerError(u16),
}

impl EndpointError {
    /// Whether the endpoint could not be reached or the connection broke
    /// (etcdctl exits with status 2 when syncing fails this way).
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self.kind,
            EndpointErrorKind::Connect(_) | EndpointErrorKind::Connection(_)
        )
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoint = &self.endpoint;
        match &self.kind {
            EndpointErrorKind::Connect(reason)
            | EndpointErrorKind::Connection(reason)
            | EndpointErrorKind::Tls(reason) => f.write_str(reason),
            EndpointErrorKind::UnsupportedScheme(scheme) => {
                write!(f, "unsupported protocol scheme {}", go_quote(scheme))
            }
            EndpointErrorKind::HeaderTimeout => {
                write!(f, "client: endpoint {endpoint} exceeded header timeout")
            }
            EndpointErrorKind::NoLeader => {
                write!(f, "client: etcd member {endpoint} has no leader")
            }
            EndpointErrorKind::ServerError(status) => {
                let text = hyper::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|status| status.canonical_reason())
                    .unwrap_or_default();
                write!(
                    f,
                    "client: etcd member {endpoint} returns server error [{text}]"
                )
            }
        }
    }
}

/// A double-quoted string as Go's `%q` writes plain text.
fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(port: u16) -> EndpointError {
        EndpointError {
            endpoint: format!("http://127.0.0.1:{port}"),
            kind: EndpointErrorKind::Connect(format!(
                "dial tcp 127.0.0.1:{port}: connect: connection refused"
            )),
        }
    }

    #[test]
    fn errors_read_like_etcds_go_client() {
        let keys = KeysError {
            code: 100,
            message: "Key not found".to_string(),
            cause: "/foo".to_string(),
            index: 12,
        };
        assert_eq!(keys.to_string(), "100: Key not found (/foo) [12]");

        let cluster = ClusterError {
            errors: vec![refused(1), refused(2)],
        };
        assert_eq!(
            cluster.to_string(),
            "client: etcd cluster is unavailable or misconfigured; error #0: dial tcp \
             127.0.0.1:1: connect: connection refused\n; error #1: dial tcp 127.0.0.1:2: \
             connect: connection refused\n"
        );
        assert_eq!(
            cluster.detail(),
            "error #0: dial tcp 127.0.0.1:1: connect: connection refused\n\
             error #1: dial tcp 127.0.0.1:2: connect: connection refused\n"
        );
        assert!(Error::Cluster(cluster).is_connection_error());

        let no_leader = EndpointError {
            endpoint: "http://m1:2379".to_string(),
            kind: EndpointErrorKind::NoLeader,
        };
        assert_eq!(
            no_leader.to_string(),
            "client: etcd member http://m1:2379 has no leader"
        );
        let gateway = EndpointError {
            kind: EndpointErrorKind::ServerError(502),
            ..no_leader.clone()
        };
        assert_eq!(
            gateway.to_string(),
            "client: etcd member http://m1:2379 returns server error [Bad Gateway]"
        );
        let mixed = ClusterError {
            errors: vec![refused(1), no_leader],
        };
        assert!(!Error::Cluster(mixed).is_connection_error());
    }
}
