//! The client's error type.

use std::fmt;

use crate::proto::etcdserverpb::WatchResponse;
use crate::tls::tls_failure;

/// Everything a [`Client`](crate::Client) call can fail with.
///
/// Server-side failures keep the gRPC status code and the server's message
/// untouched (for etcd and ectd that is text like `etcdserver: mvcc: required
/// revision has been compacted`), so callers can match on either.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An endpoint string could not be turned into a gRPC endpoint URL.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as the caller gave it.
        endpoint: String,
        /// Why it was rejected.
        reason: String,
    },

    /// No endpoint accepted a connection before the dial timeout elapsed.
    #[error("cannot connect to {}: {reason}", endpoints.join(","))]
    Connect {
        /// Every endpoint that was tried.
        endpoints: Vec<String>,
        /// The last connection error seen.
        reason: String,
    },

    /// The TLS settings cannot be used: a certificate or key file is missing,
    /// unreadable or holds nothing usable, the key does not belong to the
    /// certificate, or no CA certificate was given to verify servers with.
    /// The message names files, never their contents.
    #[error("TLS configuration: {reason}")]
    TlsConfig {
        /// What is wrong, naming the file concerned.
        reason: String,
    },

    /// A TLS connection was refused or failed: the server's certificate is
    /// not trusted or not valid for the host dialed, the server rejected
    /// the client's certificate (or wanted one), or the server does not
    /// speak TLS. Retrying with the same settings gives the same answer.
    #[error("TLS handshake failed: {reason}")]
    TlsHandshake {
        /// What went wrong, naming the endpoint when it is known.
        reason: String,
    },

    /// The call reached a server (or the transport gave up) and ended with a
    /// non-OK gRPC status.
    ///
    /// `Display` shows etcd's own messages (those starting with
    /// `etcdserver:`) as they are and anything else in gRPC's
    /// `rpc error: code = … desc = …` form, which is what etcdctl prints.
    #[error("{}", RpcDisplay { code: *code, message })]
    Rpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message exactly as the server sent it.
        message: String,
    },

    /// The command timeout elapsed before the server answered.
    ///
    /// The text matches what etcdctl prints in the same situation.
    #[error("context deadline exceeded")]
    Timeout,

    /// The server canceled a watch, which is therefore not resumed. When
    /// the response's `compact_revision` is non-zero, the revision the
    /// watch had to start at has been compacted away and `compact_revision`
    /// is the oldest one still available; otherwise `cancel_reason` says
    /// why.
    ///
    /// `Display` words it as clientv3 does (`etcdserver: mvcc: required
    /// revision has been compacted`, …).
    #[error("{}", watch_cancel_text(response))]
    WatchCanceled {
        /// The server's cancel response, as sent.
        response: Box<WatchResponse>,
    },
}

// Every field of every variant compares reflexively (no floats), so the
// derived `PartialEq` is an equivalence.
impl Eq for Error {}

impl Error {
    /// The gRPC status code, for [`Error::Rpc`] only.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The server's status message, for [`Error::Rpc`] only.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Rpc { message, .. } => Some(message),
            _ => None,
        }
    }

    /// True when the server rejected a revision because it has been
    /// compacted away (`etcdserver: mvcc: required revision has been
    /// compacted`).
    pub fn is_compacted(&self) -> bool {
        match self {
            Error::WatchCanceled { response } => response.compact_revision != 0,
            _ => self.message() == Some(COMPACTED),
        }
    }

    /// For [`Error::WatchCanceled`] caused by compaction: the oldest
    /// revision a new watch could start at.
    pub fn compact_revision(&self) -> Option<i64> {
        match self {
            Error::WatchCanceled { response } if response.compact_revision != 0 => {
                Some(response.compact_revision)
            }
            _ => None,
        }
    }

    /// True when the server rejected a revision that it has not reached yet
    /// (`etcdserver: mvcc: required revision is a future revision`).
    pub fn is_future_revision(&self) -> bool {
        self.message() == Some("etcdserver: mvcc: required revision is a future revision")
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Error {
        // A status made on the client side for a broken connection keeps
        // the transport error as its source; the server's statuses have none.
        if let Some(reason) = std::error::Error::source(&status).and_then(tls_failure) {
            return Error::TlsHandshake { reason };
        }
        Error::Rpc {
            code: status.code(),
            message: status.message().to_string(),
        }
    }
}

const COMPACTED: &str = "etcdserver: mvcc: required revision has been compacted";

/// What clientv3 reports for a canceled watch: compaction first, then the
/// server's reason as a `FailedPrecondition` status, and without a reason
/// the only other cause etcd has, a future start revision.
fn watch_cancel_text(response: &WatchResponse) -> String {
    if response.compact_revision != 0 {
        COMPACTED.to_string()
    } else if !response.cancel_reason.is_empty() {
        RpcDisplay {
            code: tonic::Code::FailedPrecondition,
            message: &response.cancel_reason,
        }
        .to_string()
    } else {
        "etcdserver: mvcc: required revision is a future revision".to_string()
    }
}

struct RpcDisplay<'a> {
    code: tonic::Code,
    message: &'a str,
}

impl fmt::Display for RpcDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.starts_with("etcdserver:") {
            f.write_str(self.message)
        } else {
            write!(
                f,
                "rpc error: code = {} desc = {}",
                grpc_code_name(self.code),
                self.message
            )
        }
    }
}

/// gRPC's canonical status names as the Go implementation spells them (which
/// is what etcd users see in logs and etcdctl output); tonic's `Debug` names
/// differ for `OK` and `Canceled`.
fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_messages_display_verbatim() {
        let err = Error::from(tonic::Status::out_of_range(
            "etcdserver: mvcc: required revision has been compacted",
        ));
        assert_eq!(
            err.to_string(),
            "etcdserver: mvcc: required revision has been compacted"
        );
        assert!(err.is_compacted());
        assert!(!err.is_future_revision());
        assert_eq!(err.code(), Some(tonic::Code::OutOfRange));
    }

    #[test]
    fn other_statuses_display_like_grpc_go() {
        let err = Error::from(tonic::Status::cancelled("gone"));
        assert_eq!(err.to_string(), "rpc error: code = Canceled desc = gone");
        assert_eq!(err.message(), Some("gone"));
    }

    #[test]
    fn watch_cancels_read_like_clientv3() {
        let canceled = |compact_revision, reason: &str| Error::WatchCanceled {
            response: Box::new(WatchResponse {
                canceled: true,
                compact_revision,
                cancel_reason: reason.to_string(),
                ..Default::default()
            }),
        };
        let compacted = canceled(5, "");
        assert_eq!(compacted.to_string(), COMPACTED);
        assert!(compacted.is_compacted());
        assert_eq!(compacted.compact_revision(), Some(5));
        let denied = canceled(0, "etcdserver: permission denied");
        assert_eq!(denied.to_string(), "etcdserver: permission denied");
        assert!(!denied.is_compacted());
        assert_eq!(denied.compact_revision(), None);
        assert_eq!(
            canceled(0, "gone").to_string(),
            "rpc error: code = FailedPrecondition desc = gone"
        );
        assert_eq!(
            canceled(0, "").to_string(),
            "etcdserver: mvcc: required revision is a future revision"
        );
    }

    #[test]
    fn timeout_matches_etcdctl() {
        assert_eq!(Error::Timeout.to_string(), "context deadline exceeded");
        assert_eq!(Error::Timeout.code(), None);
    }
}
