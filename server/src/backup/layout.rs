//! etcd's backend layout: bucket names and the encodings of their keys and values,
//! as etcd 3.4–3.6 write them into their bbolt database.

use ectd_proto::raftcmd::Member;
use serde::Serialize;

/// The MVCC history, keyed by revision.
pub const KEY: &[u8] = b"key";
/// Bookkeeping: consistent index, term, compaction revisions.
pub const META: &[u8] = b"meta";
/// Leases by id.
pub const LEASE: &[u8] = b"lease";
/// Auth enabled flag and revision.
pub const AUTH: &[u8] = b"auth";
/// Users by name.
pub const AUTH_USERS: &[u8] = b"authUsers";
/// Roles by name.
pub const AUTH_ROLES: &[u8] = b"authRoles";
/// Members by hex id.
pub const MEMBERS: &[u8] = b"members";
/// Removed members by hex id.
pub const MEMBERS_REMOVED: &[u8] = b"members_removed";
/// The cluster version.
pub const CLUSTER: &[u8] = b"cluster";
/// Raised alarms.
pub const ALARM: &[u8] = b"alarm";

/// Every bucket an etcd backend creates, in the order written.
pub const BUCKETS: [&[u8]; 10] = [
    KEY,
    META,
    LEASE,
    AUTH,
    AUTH_USERS,
    AUTH_ROLES,
    MEMBERS,
    MEMBERS_REMOVED,
    CLUSTER,
    ALARM,
];

/// `meta` keys.
pub mod meta {
    /// The raft index of the last applied entry (u64 BE).
    pub const CONSISTENT_INDEX: &[u8] = b"consistent_index";
    /// The raft term of that entry (u64 BE, etcd 3.5 and later).
    pub const TERM: &[u8] = b"term";
    /// The last compaction whose deletions finished (a revision key).
    pub const FINISHED_COMPACT: &[u8] = b"finishedCompactRev";
    /// The last compaction requested (a revision key).
    pub const SCHEDULED_COMPACT: &[u8] = b"scheduledCompactRev";
}

/// `auth` keys.
pub mod auth {
    /// One byte: 1 when enabled.
    pub const ENABLED: &[u8] = b"authEnabled";
    /// The auth revision (u64 BE).
    pub const REVISION: &[u8] = b"authRevision";
}

/// The `cluster` bucket's key for the cluster version.
pub const CLUSTER_VERSION: &[u8] = b"clusterVersion";

/// The `cluster` bucket's key for an enabled downgrade (etcd 3.5's JSON
/// `{"target-version":"3.4.0","enabled":true}`).
pub const DOWNGRADE: &[u8] = b"downgrade";

/// Length of a revision key: main (u64 BE), `_`, sub (u64 BE).
pub const REV_KEY_LEN: usize = 17;
/// The byte appended to a revision key when the revision deletes its key.
pub const TOMBSTONE_MARK: u8 = b't';

/// The `key` bucket key of revision `(main, sub)`, marked when it is a deletion.
pub fn rev_key(main: i64, sub: i64, tombstone: bool) -> Vec<u8> {
    let mut k = Vec::with_capacity(REV_KEY_LEN + 1);
    k.extend_from_slice(&(main as u64).to_be_bytes());
    k.push(b'_');
    k.extend_from_slice(&(sub as u64).to_be_bytes());
    if tombstone {
        k.push(TOMBSTONE_MARK);
    }
    k
}

/// A `key` bucket key decoded: main and sub revision and whether it deletes.
pub fn parse_rev_key(k: &[u8]) -> Option<(i64, i64, bool)> {
    let tombstone = match k.len() {
        REV_KEY_LEN => false,
        n if n == REV_KEY_LEN + 1 && k[REV_KEY_LEN] == TOMBSTONE_MARK => true,
        _ => return None,
    };
    if k[8] != b'_' {
        return None;
    }
    let main = u64::from_be_bytes(k[..8].try_into().ok()?) as i64;
    let sub = u64::from_be_bytes(k[9..17].try_into().ok()?) as i64;
    Some((main, sub, tombstone))
}

/// etcd's `leasepb.Lease`: a lease record in the `lease` bucket.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Lease {
    /// The lease id.
    #[prost(int64, tag = "1")]
    pub id: i64,
    /// The granted TTL in seconds.
    #[prost(int64, tag = "2")]
    pub ttl: i64,
    /// Seconds left as of the last checkpoint; 0 when never checkpointed.
    #[prost(int64, tag = "3")]
    pub remaining_ttl: i64,
}

/// A member as etcd stores it in the `members` bucket (JSON, Go field order).
#[derive(Serialize, serde::Deserialize)]
pub struct MemberJson {
    /// Member id.
    pub id: u64,
    /// Peer URLs.
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    /// Whether the member is a learner.
    #[serde(rename = "isLearner", default, skip_serializing_if = "is_false")]
    pub is_learner: bool,
    /// Name, empty until the member published it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Client URLs, empty until the member published them.
    #[serde(rename = "clientURLs", default, skip_serializing_if = "Vec::is_empty")]
    pub client_urls: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl From<&Member> for MemberJson {
    fn from(m: &Member) -> MemberJson {
        MemberJson {
            id: m.id,
            peer_urls: m.peer_urls.clone(),
            is_learner: m.is_learner,
            name: m.name.clone(),
            client_urls: m.client_urls.clone(),
        }
    }
}

/// The `members` bucket key of member `id`: its id in lowercase hex, unpadded.
pub fn member_key(id: u64) -> Vec<u8> {
    format!("{id:x}").into_bytes()
}

/// The cluster version etcd records for a server version: `major.minor.0`.
pub fn cluster_version(server_version: &str) -> String {
    let mut parts = server_version.split('.');
    let major = parts.next().unwrap_or("3");
    let minor = parts.next().unwrap_or("0");
    format!("{major}.{minor}.0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_keys_round_trip_and_sort_by_revision() {
        let a = rev_key(2, 0, false);
        let b = rev_key(2, 1, true);
        let c = rev_key(256, 0, false);
        assert!(a < b && b < c);
        assert_eq!(parse_rev_key(&a), Some((2, 0, false)));
        assert_eq!(parse_rev_key(&b), Some((2, 1, true)));
        assert_eq!(parse_rev_key(b"short"), None);
        let mut bad = rev_key(3, 0, false);
        bad[8] = b'-';
        assert_eq!(parse_rev_key(&bad), None);
    }

    #[test]
    fn members_are_stored_as_etcd_marshals_them() {
        let m = Member {
            id: 0x8e9e05c52164694d,
            name: "m1".into(),
            peer_urls: vec!["http://127.0.0.1:2380".into()],
            client_urls: vec![],
            is_learner: false,
        };
        let json = serde_json::to_string(&MemberJson::from(&m)).unwrap();
        assert_eq!(
            json,
            r#"{"id":10276657743932975437,"peerURLs":["http://127.0.0.1:2380"],"name":"m1"}"#
        );
        assert_eq!(member_key(m.id), b"8e9e05c52164694d");
        assert_eq!(cluster_version("3.5.17"), "3.5.0");
    }
}
