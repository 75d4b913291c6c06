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
    /// A grant of a lease id that is in use.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// A grant with a TTL above the largest allowed.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// An election request without its `leader` field.
    #[error("\"leader\" field must be provided")]
    MissingLeaderKey,
    /// Proclaim by a campaigner that is not (or no longer) the leader.
    #[error("election: not leader")]
    ElectionNotLeader,
    /// No campaigner holds the election.
    #[error("election: no leader")]
    ElectionNoLeader,
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
    /// A member with that id exists already.
    #[error("etcdserver: member ID already exist")]
    MemberExist,
    /// Another member uses one of the given peer URLs.
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExist,
    /// No member has that id.
    #[error("etcdserver: member not found")]
    MemberNotFound,
    /// Peer URLs that do not parse.
    #[error("etcdserver: given member URLs are invalid")]
    MemberBadUrls,
    /// Promotion of a member that is a voter already.
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    /// Promotion of a learner that has not caught up.
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// More learners than allowed.
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    /// The change would leave the cluster without a working quorum.
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    /// A request only the leader serves reached another member.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// A learner refuses what only voters serve.
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    /// Leadership did not move in time.
    #[error("etcdserver: request timed out, leader transfer took too long")]
    LeaderTransferTimeout,
    /// Leadership transfer to a member that is not a voter.
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
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
            Error::LeaseExists => Code::FailedPrecondition,
            Error::LeaseTtlTooLarge | Error::Compacted | Error::FutureRev => Code::OutOfRange,
            // etcd's election service returns these as plain errors.
            Error::MissingLeaderKey | Error::ElectionNotLeader | Error::ElectionNoLeader => {
                Code::Unknown
            }
            Error::NoLeader
            | Error::Timeout
            | Error::Stopped
            | Error::Unhealthy
            | Error::LeaderTransferTimeout
            | Error::NotSupportedForLearner => Code::Unavailable,
            Error::MemberExist
            | Error::PeerUrlExist
            | Error::MemberNotLearner
            | Error::LearnerNotReady
            | Error::TooManyLearners
            | Error::NotLeader
            | Error::BadLeaderTransferee => Code::FailedPrecondition,
            Error::MemberNotFound => Code::NotFound,
            Error::MemberBadUrls => Code::InvalidArgument,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> tonic::Status {
        tonic::Status::new(e.code(), e.to_string())
    }
}
