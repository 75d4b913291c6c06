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
    /// A downgrade target that is not a version.
    #[error("etcdserver: wrong downgrade target version format")]
    WrongDowngradeVersionFormat,
    /// A downgrade target other than the minor release below the cluster's.
    #[error("etcdserver: invalid downgrade target version")]
    InvalidDowngradeTargetVersion,
    /// A downgrade cancel with none enabled.
    #[error("etcdserver: no inflight downgrade job")]
    NoInflightDowngrade,
    /// A downgrade request with an action etcd does not know.
    #[error("etcdserver: unknown method")]
    UnknownMethod,
    /// A downgrade validate or enable while one is enabled.
    #[error("etcdserver: cluster has a downgrade job in progress")]
    DowngradeInProcess,
    /// Auth enable without a `root` user.
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    /// Auth enable while `root` lacks the `root` role.
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    /// A user add of a name in use.
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    /// An empty user name, or a request without credentials while auth is on.
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    /// No user has that name.
    #[error("etcdserver: user name not found")]
    UserNotFound,
    /// A role add of a name in use.
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    /// No role has that name.
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    /// An empty role name.
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    /// A wrong user name or password.
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    /// A password given for a user that logs in by certificate only.
    #[error("auth: authentication failed, password was given for no password user")]
    NoPasswordUser,
    /// A permission grant without the permission.
    #[error("etcdserver: permission not given")]
    PermissionNotGiven,
    /// The user's roles do not allow the request.
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    /// A revoke of a role the user does not have.
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    /// A revoke of a permission the role does not have.
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    /// Authenticate while auth is off.
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    /// A token that is unknown, expired, or badly signed.
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    /// A change that would lock the administrator out (deleting `root`, ...).
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
    /// The auth store changed since the request's token was checked.
    #[error("etcdserver: revision of auth store is old")]
    AuthOldRevision,
    /// A write past the backend quota, or one refused while NOSPACE is raised.
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// A request refused while CORRUPT is raised.
    #[error("etcdserver: corrupt cluster")]
    Corrupt,
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
            | Error::BadLeaderTransferee
            | Error::NoInflightDowngrade
            | Error::DowngradeInProcess => Code::FailedPrecondition,
            Error::WrongDowngradeVersionFormat | Error::InvalidDowngradeTargetVersion => {
                Code::InvalidArgument
            }
            // Not in etcd's table of gRPC errors: it goes out as `Unknown`.
            Error::UnknownMethod => Code::Unknown,
            Error::MemberNotFound => Code::NotFound,
            Error::MemberBadUrls => Code::InvalidArgument,
            Error::RootUserNotExist
            | Error::RootRoleNotExist
            | Error::UserAlreadyExist
            | Error::UserNotFound
            | Error::RoleAlreadyExist
            | Error::RoleNotFound
            | Error::RoleNotGranted
            | Error::PermissionNotGranted
            | Error::AuthNotEnabled => Code::FailedPrecondition,
            Error::UserEmpty
            | Error::RoleEmpty
            | Error::AuthFailed
            | Error::PermissionNotGiven
            | Error::InvalidAuthMgmt
            | Error::AuthOldRevision => Code::InvalidArgument,
            // etcd has no gRPC code of its own for this one.
            Error::NoPasswordUser => Code::Unknown,
            Error::PermissionDenied => Code::PermissionDenied,
            Error::InvalidAuthToken => Code::Unauthenticated,
            Error::NoSpace => Code::ResourceExhausted,
            Error::Corrupt => Code::DataLoss,
        }
    }
}

impl Error {
    /// The auth store's own text for an auth refusal, which etcd's maintenance
    /// service hands out untranslated (with code `Unknown`).
    pub fn auth_text(&self) -> String {
        match self {
            Error::UserNotFound => "auth: user not found".to_string(),
            Error::RoleNotFound => "auth: role not found".to_string(),
            other => other.to_string().replacen("etcdserver: ", "auth: ", 1),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> tonic::Status {
        tonic::Status::new(e.code(), e.to_string())
    }
}
