//! The gateway's path table: which v3 method each `/v3/<path>` names, as etcd
//! 3.4 maps them. Paths etcd added after 3.4 (`auth/status`,
//! `maintenance/downgrade`) are not served, as 3.4 does not serve them;
//! `maintenance/hashkv` is (3.4 lacks it, so its answer there is a 404).

use axum::extract::Request;
use axum::response::Response;
use ectd_proto::etcdserverpb::auth_server::Auth as _;
use ectd_proto::etcdserverpb::cluster_server::Cluster as _;
use ectd_proto::etcdserverpb::kv_server::Kv as _;
use ectd_proto::etcdserverpb::lease_server::Lease as _;
use ectd_proto::etcdserverpb::maintenance_server::Maintenance as _;
use ectd_proto::v3electionpb::election_server::Election as _;
use ectd_proto::v3lockpb::lock_server::Lock as _;

use super::{bidi, server_stream, unary, Gateway};

/// One v3 method the gateway serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Range,
    Put,
    DeleteRange,
    Txn,
    Compact,
    Watch,
    LeaseGrant,
    LeaseRevoke,
    LeaseKeepAlive,
    LeaseTimeToLive,
    LeaseLeases,
    MemberAdd,
    MemberRemove,
    MemberUpdate,
    MemberList,
    MemberPromote,
    Alarm,
    Status,
    Defragment,
    Hash,
    HashKv,
    Snapshot,
    MoveLeader,
    Lock,
    Unlock,
    Campaign,
    Proclaim,
    Leader,
    Observe,
    Resign,
    Auth(AuthMethod),
}

/// The Auth methods etcd 3.4's gateway routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Enable,
    Disable,
    Authenticate,
    UserAdd,
    UserGet,
    UserList,
    UserDelete,
    UserChangePassword,
    UserGrantRole,
    UserRevokeRole,
    RoleAdd,
    RoleGet,
    RoleList,
    RoleDelete,
    RoleGrantPermission,
    RoleRevokePermission,
}

impl Route {
    /// The method `path` (what follows `/v3/`) names, if any.
    pub fn find(path: &str) -> Option<Route> {
        use AuthMethod as A;
        use Route as R;
        Some(match path {
            "kv/range" => R::Range,
            "kv/put" => R::Put,
            "kv/deleterange" => R::DeleteRange,
            "kv/txn" => R::Txn,
            "kv/compaction" => R::Compact,
            "watch" => R::Watch,
            "lease/grant" => R::LeaseGrant,
            "lease/revoke" | "kv/lease/revoke" => R::LeaseRevoke,
            "lease/keepalive" => R::LeaseKeepAlive,
            "lease/timetolive" | "kv/lease/timetolive" => R::LeaseTimeToLive,
            "lease/leases" | "kv/lease/leases" => R::LeaseLeases,
            "cluster/member/add" => R::MemberAdd,
            "cluster/member/remove" => R::MemberRemove,
            "cluster/member/update" => R::MemberUpdate,
            "cluster/member/list" => R::MemberList,
            "cluster/member/promote" => R::MemberPromote,
            "maintenance/alarm" => R::Alarm,
            "maintenance/status" => R::Status,
            "maintenance/defragment" => R::Defragment,
            "maintenance/hash" => R::Hash,
            "maintenance/hashkv" => R::HashKv,
            "maintenance/snapshot" => R::Snapshot,
            "maintenance/transfer-leadership" => R::MoveLeader,
            "lock/lock" => R::Lock,
            "lock/unlock" => R::Unlock,
            "election/campaign" => R::Campaign,
            "election/proclaim" => R::Proclaim,
            "election/leader" => R::Leader,
            "election/observe" => R::Observe,
            "election/resign" => R::Resign,
            "auth/enable" => R::Auth(A::Enable),
            "auth/disable" => R::Auth(A::Disable),
            "auth/authenticate" => R::Auth(A::Authenticate),
            "auth/user/add" => R::Auth(A::UserAdd),
            "auth/user/get" => R::Auth(A::UserGet),
            "auth/user/list" => R::Auth(A::UserList),
            "auth/user/delete" => R::Auth(A::UserDelete),
            "auth/user/changepw" => R::Auth(A::UserChangePassword),
            "auth/user/grant" => R::Auth(A::UserGrantRole),
            "auth/user/revoke" => R::Auth(A::UserRevokeRole),
            "auth/role/add" => R::Auth(A::RoleAdd),
            "auth/role/get" => R::Auth(A::RoleGet),
            "auth/role/list" => R::Auth(A::RoleList),
            "auth/role/delete" => R::Auth(A::RoleDelete),
            "auth/role/grant" => R::Auth(A::RoleGrantPermission),
            "auth/role/revoke" => R::Auth(A::RoleRevokePermission),
            _ => return None,
        })
    }
}

/// `path` with its `%XX` escapes decoded; a malformed one is left as it is
/// (HTTP/1 requests with one are refused before routing).
pub fn unescape(path: &str) -> String {
    if !path.contains('%') {
        return path.to_string();
    }
    let raw = path.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if raw[i] == b'%' => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The clean form of `path` as Go's `ServeMux` computes it (no empty, `.` or
/// `..` segments; a trailing slash kept), if it differs from `path`.
pub fn clean(path: &str) -> Option<String> {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut cleaned = format!("/{}", segments.join("/"));
    if path.ends_with('/') && cleaned != "/" {
        cleaned.push('/');
    }
    (cleaned != path).then_some(cleaned)
}

impl Gateway {
    /// Serves one POST to `route`.
    // The streaming calls return `Status`, large but what gRPC methods return.
    #[allow(clippy::result_large_err)]
    pub(super) async fn serve(&self, route: Route, req: Request) -> Response {
        let n = self.limit;
        match route {
            Route::Range => unary(n, req, |r| self.kv.range(r)).await,
            Route::Put => unary(n, req, |r| self.kv.put(r)).await,
            Route::DeleteRange => unary(n, req, |r| self.kv.delete_range(r)).await,
            Route::Txn => unary(n, req, |r| self.kv.txn(r)).await,
            Route::Compact => unary(n, req, |r| self.kv.compact(r)).await,
            Route::Watch => bidi(n, req, |r| self.watch.open(r)).await,
            Route::LeaseGrant => unary(n, req, |r| self.lease.lease_grant(r)).await,
            Route::LeaseRevoke => unary(n, req, |r| self.lease.lease_revoke(r)).await,
            Route::LeaseKeepAlive => bidi(n, req, |r| self.lease.keep_alive(r)).await,
            Route::LeaseTimeToLive => unary(n, req, |r| self.lease.lease_time_to_live(r)).await,
            Route::LeaseLeases => unary(n, req, |r| self.lease.lease_leases(r)).await,
            Route::MemberAdd => unary(n, req, |r| self.cluster.member_add(r)).await,
            Route::MemberRemove => unary(n, req, |r| self.cluster.member_remove(r)).await,
            Route::MemberUpdate => unary(n, req, |r| self.cluster.member_update(r)).await,
            Route::MemberList => unary(n, req, |r| self.cluster.member_list(r)).await,
            Route::MemberPromote => unary(n, req, |r| self.cluster.member_promote(r)).await,
            Route::Alarm => unary(n, req, |r| self.maintenance.alarm(r)).await,
            Route::Status => unary(n, req, |r| self.maintenance.status(r)).await,
            Route::Defragment => unary(n, req, |r| self.maintenance.defragment(r)).await,
            Route::Hash => unary(n, req, |r| self.maintenance.hash(r)).await,
            Route::HashKv => unary(n, req, |r| self.maintenance.hash_kv(r)).await,
            Route::Snapshot => server_stream(n, req, |r| self.maintenance.snapshot(r)).await,
            Route::MoveLeader => unary(n, req, |r| self.maintenance.move_leader(r)).await,
            Route::Lock => unary(n, req, |r| self.lock.lock(r)).await,
            Route::Unlock => unary(n, req, |r| self.lock.unlock(r)).await,
            Route::Campaign => unary(n, req, |r| self.election.campaign(r)).await,
            Route::Proclaim => unary(n, req, |r| self.election.proclaim(r)).await,
            Route::Leader => unary(n, req, |r| self.election.leader(r)).await,
            Route::Observe => server_stream(n, req, |r| self.election.observe(r)).await,
            Route::Resign => unary(n, req, |r| self.election.resign(r)).await,
            Route::Auth(m) => auth(self, n, req, m).await,
        }
    }
}

/// The Auth methods, as their gRPC calls.
async fn auth(gw: &Gateway, n: usize, req: Request, method: AuthMethod) -> Response {
    use AuthMethod as A;
    let a = &gw.auth;
    match method {
        A::Enable => unary(n, req, |r| a.auth_enable(r)).await,
        A::Disable => unary(n, req, |r| a.auth_disable(r)).await,
        A::Authenticate => unary(n, req, |r| a.authenticate(r)).await,
        A::UserAdd => unary(n, req, |r| a.user_add(r)).await,
        A::UserGet => unary(n, req, |r| a.user_get(r)).await,
        A::UserList => unary(n, req, |r| a.user_list(r)).await,
        A::UserDelete => unary(n, req, |r| a.user_delete(r)).await,
        A::UserChangePassword => unary(n, req, |r| a.user_change_password(r)).await,
        A::UserGrantRole => unary(n, req, |r| a.user_grant_role(r)).await,
        A::UserRevokeRole => unary(n, req, |r| a.user_revoke_role(r)).await,
        A::RoleAdd => unary(n, req, |r| a.role_add(r)).await,
        A::RoleGet => unary(n, req, |r| a.role_get(r)).await,
        A::RoleList => unary(n, req, |r| a.role_list(r)).await,
        A::RoleDelete => unary(n, req, |r| a.role_delete(r)).await,
        A::RoleGrantPermission => unary(n, req, |r| a.role_grant_permission(r)).await,
        A::RoleRevokePermission => unary(n, req, |r| a.role_revoke_permission(r)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_etcd_34s() {
        assert_eq!(Route::find("kv/range"), Some(Route::Range));
        assert_eq!(Route::find("kv/lease/revoke"), Some(Route::LeaseRevoke));
        assert_eq!(
            Route::find("maintenance/transfer-leadership"),
            Some(Route::MoveLeader)
        );
        assert_eq!(
            Route::find("auth/user/changepw"),
            Some(Route::Auth(AuthMethod::UserChangePassword))
        );
        assert_eq!(unescape("/v3/kv/%72ange"), "/v3/kv/range");
        assert_eq!(unescape("/v3/kv/range%"), "/v3/kv/range%");
        assert_eq!(clean("/v3/kv/range"), None);
        assert_eq!(clean("/v3/"), None);
        assert_eq!(clean("/v3/kv//range").as_deref(), Some("/v3/kv/range"));
        assert_eq!(
            clean("/v3/kv/./x/../range/").as_deref(),
            Some("/v3/kv/range/")
        );
        for missing in [
            "kv/range/",
            "kv",
            "",
            "auth/status",
            "maintenance/downgrade",
        ] {
            assert_eq!(Route::find(missing), None, "{missing}");
        }
    }
}
