//! `Maintenance.Downgrade`, answered as the etcd release ectd reports.
//!
//! etcd 3.5 and later let an operator move a cluster one minor release down:
//! VALIDATE checks a target, ENABLE records it in the cluster through the log
//! (after which members of the older release may join), CANCEL clears it. ectd
//! checks, records and clears exactly as etcd does (the state is kept by
//! [`crate::downgrade`]). etcd cancels a downgrade by itself once every member
//! runs the target release; ectd's members never do, so an enabled downgrade
//! stays until an operator cancels it, and the cluster version ectd reports
//! does not move.
//!
//! Where releases differ, the reported version decides: before 3.5 there is no
//! such call; 3.5 answers the cluster version as `3.5.0` and refuses a CANCEL
//! with nothing enabled; 3.6 answers it as `3.6`, keeps the call for
//! administrators, and answers every CANCEL with success.

use ectd_proto::etcdserverpb::downgrade_request::DowngradeAction;
use ectd_proto::etcdserverpb::{DowngradeRequest, DowngradeResponse};
use ectd_proto::raftcmd::command::Op;
use ectd_proto::raftcmd::DowngradeInfoSet;
use tonic::Status;

use crate::error::Error;
use crate::server::Server;

/// A `major.minor` release, as cluster versions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinorVersion {
    /// Major release.
    pub major: i64,
    /// Minor release.
    pub minor: i64,
}

impl MinorVersion {
    /// The `major.minor` of a version ectd reports (`3.5.17`); parts that do
    /// not parse count as 0.
    pub fn of_reported(v: &str) -> MinorVersion {
        let mut parts = v.split('.').map(|p| p.trim().parse::<i64>().unwrap_or(0));
        MinorVersion {
            major: parts.next().unwrap_or(0),
            minor: parts.next().unwrap_or(0),
        }
    }

    fn at_least(self, major: i64, minor: i64) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

/// The `major.minor` of a downgrade target as etcd reads it: a semantic
/// version `X.Y.Z` (pre-release and build suffixes allowed), or `X.Y`.
pub fn parse_target(v: &str) -> Result<MinorVersion, Error> {
    parse_semver(v)
        .or_else(|| parse_semver(&format!("{v}.0")))
        .ok_or(Error::WrongDowngradeVersionFormat)
}

/// A strict semantic version's major and minor: three dot-separated decimal
/// numbers, then an optional `-pre.release` and `+build.meta`, whose
/// identifiers are non-empty runs of ASCII letters, digits and hyphens.
fn parse_semver(v: &str) -> Option<MinorVersion> {
    let (rest, meta) = match v.split_once('+') {
        Some((r, m)) => (r, m),
        None => (v, ""),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, p),
        None => (rest, ""),
    };
    let identifiers_ok = |s: &str| {
        s.is_empty()
            || s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if !identifiers_ok(pre) || !identifiers_ok(meta) {
        return None;
    }
    let parts: Vec<&str> = core.splitn(3, '.').collect();
    if parts.len() != 3 {
        return None;
    }
    // Signs were split off above, so a number is decimal digits (leading
    // zeros allowed) that fit in an i64.
    let number = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let major = number(parts[0])?;
    let minor = number(parts[1])?;
    number(parts[2])?;
    Some(MinorVersion { major, minor })
}

/// Answers a downgrade request for the release `server` reports.
pub async fn answer(server: &Server, req: DowngradeRequest) -> Result<DowngradeResponse, Status> {
    let cluster = MinorVersion::of_reported(server.etcd_version());
    let since_3_6 = cluster.at_least(3, 6);
    // 3.5 writes the cluster version as a full semantic version, 3.6 as
    // `major.minor`.
    let version = if since_3_6 {
        format!("{}.{}", cluster.major, cluster.minor)
    } else {
        format!("{}.{}.0", cluster.major, cluster.minor)
    };
    let answer = || DowngradeResponse {
        header: Some(server.header(0)),
        version: version.clone(),
    };
    match DowngradeAction::try_from(req.action) {
        Ok(DowngradeAction::Validate) => {
            validate(server, cluster, &req.version).await?;
            Ok(answer())
        }
        Ok(DowngradeAction::Enable) => {
            let target = validate(server, cluster, &req.version).await?;
            set(
                server,
                DowngradeInfoSet {
                    enabled: true,
                    ver: format!("{}.{}.0", target.major, target.minor),
                },
            )
            .await?;
            Ok(answer())
        }
        Ok(DowngradeAction::Cancel) if since_3_6 => {
            // 3.6 logs a failed cancel and answers success all the same.
            if let Err(e) = cancel(server).await {
                tracing::warn!(error = %e.message(), "failed to cancel downgrade");
            }
            Ok(answer())
        }
        Ok(DowngradeAction::Cancel) => {
            cancel(server).await?;
            Ok(answer())
        }
        Err(_) => Err(Error::UnknownMethod.into()),
    }
}

/// Checks that `v` names the one release a cluster at `cluster` may move down
/// to, after catching up with the leader.
async fn validate(server: &Server, cluster: MinorVersion, v: &str) -> Result<MinorVersion, Status> {
    let target = parse_target(v)?;
    server.read_barrier().await?;
    let allowed = MinorVersion {
        major: cluster.major,
        minor: cluster.minor - 1,
    };
    if target != allowed {
        return Err(Error::InvalidDowngradeTargetVersion.into());
    }
    if server.downgrade_target().is_some() {
        return Err(Error::DowngradeInProcess.into());
    }
    Ok(target)
}

/// Clears the enabled downgrade, after catching up with the leader; an error
/// when none is enabled.
async fn cancel(server: &Server) -> Result<(), Status> {
    server.read_barrier().await?;
    if server.downgrade_target().is_none() {
        return Err(Error::NoInflightDowngrade.into());
    }
    set(
        server,
        DowngradeInfoSet {
            enabled: false,
            ver: String::new(),
        },
    )
    .await
}

/// Records `state` through the log and waits until it is applied here.
async fn set(server: &Server, state: DowngradeInfoSet) -> Result<(), Status> {
    server.propose(Op::DowngradeInfoSet(state)).await?;
    Ok(())
}

/// Whether ectd, reporting `version`, has the Downgrade call at all (etcd
/// added it in 3.5).
pub fn available(version: &str) -> bool {
    MinorVersion::of_reported(version).at_least(3, 5)
}

/// Whether the call is kept for administrators while auth is on (from 3.6).
pub fn admin_only(version: &str) -> bool {
    MinorVersion::of_reported(version).at_least(3, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(v: &str) -> Option<(i64, i64)> {
        parse_target(v).ok().map(|t| (t.major, t.minor))
    }

    #[test]
    fn targets_parse_as_etcd_reads_them() {
        assert_eq!(target("3.5"), Some((3, 5)));
        assert_eq!(target("3.5.0"), Some((3, 5)));
        assert_eq!(target("3.5.9"), Some((3, 5)));
        assert_eq!(target("03.05"), Some((3, 5)));
        assert_eq!(target("3.5.0-alpha.1"), Some((3, 5)));
        assert_eq!(target("3.5.0+build-7"), Some((3, 5)));
        assert_eq!(target("3.5.0-rc+meta"), Some((3, 5)));
        // An empty suffix after its separator is no suffix.
        assert_eq!(target("3.5.0-"), Some((3, 5)));
        assert_eq!(target("3.5.0+"), Some((3, 5)));
        for bad in [
            "",
            "3",
            "abc",
            "v3.5",
            "3.5.0.0",
            "3.5-rc",
            " 3.5",
            "3.x",
            "3.5.0-a..b",
            "3..5",
            "+3.5",
            "99999999999999999999.5",
        ] {
            assert_eq!(target(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reported_versions() {
        assert!(available("3.5.17"));
        assert!(!available("3.4.23"));
        assert!(admin_only("3.6.0"));
        assert!(!admin_only("3.5.17"));
        assert_eq!(
            MinorVersion::of_reported("3.6.15"),
            MinorVersion { major: 3, minor: 6 }
        );
    }
}
