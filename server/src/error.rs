//! The one table of client-visible errors: every variant carries etcd's exact message,
//! and [`From<Error> for tonic::Status`] gives etcd's gRPC code for it.

use crate::mvcc::MvccError;

/// An error a client can receive. Messages are byte-identical to etcd's, since
/// clients match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A request without a key.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// `ignore_value` together with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ignore_lease` together with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// More operations in one txn than `--max-txn-ops`.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// A key written twice by one txn.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// An unknown sort order or target.
    #[error("etcdserver: invalid sort option")]
    InvalidSortOption,
    /// `ignore_value`/`ignore_lease` on a missing key, or an empty txn op.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// A lease that does not exist.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// A revision older than the last compaction.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// A revision not yet written.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRev,
    /// A proposal larger than `--max-request-bytes`.
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// The member knows of no leader.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// The request was not applied in time.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// The member is shutting down.
    #[error("etcdserver: server stopped")]
    Stopped,
}

impl From<MvccError> for Error {
    fn from(e: MvccError) -> Error {
        match e {
            MvccError::Compacted => Error::Compacted,
            MvccError::FutureRev => Error::FutureRev,
        }
    }
}

impl Error {
    /// etcd's gRPC status code for this error.
    pub fn code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            Error::EmptyKey
            | Error::ValueProvided
            | Error::LeaseProvided
            | Error::TooManyOps
            | Error::DuplicateKey
            | Error::InvalidSortOption
            | Error::KeyNotFound
            | Error::RequestTooLarge => Code::InvalidArgument,
            Error::LeaseNotFound => Code::NotFound,
            Error::Compacted | Error::FutureRev => Code::OutOfRange,
            Error::NoLeader | Error::Timeout | Error::Stopped => Code::Unavailable,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> tonic::Status {
        tonic::Status::new(e.code(), e.to_string())
    }
}
