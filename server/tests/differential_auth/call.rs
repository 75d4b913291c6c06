//! The gRPC calls a case can make, and how one is sent to one server: through
//! the raw tonic clients, with the caller's token (or none) in the `token`
//! metadata, the answer turned into the gateway's JSON (the generated pbjson
//! impls) so that one normalisation serves every response type.
//!
//! Values that differ per server (its own member id and peer URL, the id of a
//! member it added) are named in the call ([`MemberRef`]) and filled in per
//! side when the call is sent.

use crate::harness::{Failure, Item, Side, Who, REQUEST_TIMEOUT};
use ectd_client::proto::authpb::{permission, Permission, UserAddOptions};
use ectd_client::proto::etcdserverpb::alarm_request::AlarmAction;
use ectd_client::proto::etcdserverpb::watch_request::RequestUnion;
use ectd_client::proto::etcdserverpb::*;
use ectd_client::proto::v3electionpb::CampaignRequest;
use ectd_client::proto::v3lockpb::{LockRequest, UnlockRequest};
use serde::Serialize;
use serde_json::{json, Value};
use std::future::Future;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

/// A member named in a call, resolved per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberRef {
    /// The server's own member.
    Own,
    /// A member this server added for the suite under that name.
    Added(&'static str),
    /// The same id on both servers (one that is no member).
    Id(u64),
}

#[derive(Debug, Clone)]
pub(crate) enum Call {
    Range(RangeRequest),
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
    /// Opens a watch stream, sends this create request and takes the first
    /// answer (the created, or canceled, response).
    Watch(WatchCreateRequest),
    LeaseGrant(LeaseGrantRequest),
    LeaseRevoke(LeaseRevokeRequest),
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    LeaseLeases,
    Lock(LockRequest),
    Unlock(UnlockRequest),
    Campaign(CampaignRequest),
    Alarm {
        action: AlarmAction,
        member: MemberRef,
        alarm: AlarmType,
    },
    Status,
    Defragment,
    Hash,
    HashKv(i64),
    /// Reads the whole snapshot stream; a success is shown by the fields of
    /// its first message.
    Snapshot,
    MoveLeader(MemberRef),
    MemberList,
    MemberAdd {
        peer_urls: Vec<String>,
        learner: bool,
    },
    /// Sets the member's peer URLs to the server's own peer URL.
    MemberUpdate(MemberRef),
    MemberRemove(MemberRef),
    MemberPromote(MemberRef),
    AuthEnable,
    AuthDisable,
    Authenticate(AuthenticateRequest),
    UserAdd(AuthUserAddRequest),
    UserGet(AuthUserGetRequest),
    UserList,
    UserDelete(AuthUserDeleteRequest),
    UserChangePassword(AuthUserChangePasswordRequest),
    UserGrantRole(AuthUserGrantRoleRequest),
    UserRevokeRole(AuthUserRevokeRoleRequest),
    RoleAdd(AuthRoleAddRequest),
    RoleGet(AuthRoleGetRequest),
    RoleList,
    RoleDelete(AuthRoleDeleteRequest),
    RoleGrantPermission(AuthRoleGrantPermissionRequest),
    RoleRevokePermission(AuthRoleRevokePermissionRequest),
}

/// Sends `call` as `who` to one server and returns its answer as JSON.
pub(crate) async fn send(side: &Side, who: Who, call: &Call) -> Item {
    let c = side.client();
    let id = |m: &MemberRef| resolve(side, m);
    macro_rules! unary {
        ($client:ident, $method:ident, $req:expr) => {
            answer(c.$client().$method(side.authed(who, $req))).await
        };
    }
    match call {
        Call::Range(r) => unary!(kv, range, r.clone()),
        Call::Put(r) => unary!(kv, put, r.clone()),
        Call::Delete(r) => unary!(kv, delete_range, r.clone()),
        Call::Txn(r) => unary!(kv, txn, r.clone()),
        Call::Compact(r) => unary!(kv, compact, *r),
        Call::Watch(r) => watch_create(side, who, r.clone()).await,
        Call::LeaseGrant(r) => unary!(lease, lease_grant, *r),
        Call::LeaseRevoke(r) => unary!(lease, lease_revoke, *r),
        Call::LeaseTimeToLive(r) => unary!(lease, lease_time_to_live, *r),
        Call::LeaseLeases => unary!(lease, lease_leases, LeaseLeasesRequest {}),
        Call::Lock(r) => unary!(lock, lock, r.clone()),
        Call::Unlock(r) => unary!(lock, unlock, r.clone()),
        Call::Campaign(r) => unary!(election, campaign, r.clone()),
        Call::Alarm {
            action,
            member,
            alarm,
        } => unary!(
            maintenance,
            alarm,
            AlarmRequest {
                action: *action as i32,
                member_id: id(member),
                alarm: *alarm as i32,
            }
        ),
        Call::Status => unary!(maintenance, status, StatusRequest {}),
        Call::Defragment => unary!(maintenance, defragment, DefragmentRequest {}),
        Call::Hash => unary!(maintenance, hash, HashRequest {}),
        Call::HashKv(rev) => unary!(maintenance, hash_kv, HashKvRequest { revision: *rev }),
        Call::Snapshot => snapshot(side, who).await,
        Call::MoveLeader(m) => unary!(
            maintenance,
            move_leader,
            MoveLeaderRequest { target_id: id(m) }
        ),
        Call::MemberList => unary!(
            cluster,
            member_list,
            MemberListRequest { linearizable: true }
        ),
        Call::MemberAdd { peer_urls, learner } => unary!(
            cluster,
            member_add,
            MemberAddRequest {
                peer_ur_ls: peer_urls.clone(),
                is_learner: *learner,
            }
        ),
        Call::MemberUpdate(m) => unary!(
            cluster,
            member_update,
            MemberUpdateRequest {
                id: id(m),
                peer_ur_ls: vec![side.names.peer_url.clone()],
            }
        ),
        Call::MemberRemove(m) => {
            unary!(cluster, member_remove, MemberRemoveRequest { id: id(m) })
        }
        Call::MemberPromote(m) => {
            unary!(cluster, member_promote, MemberPromoteRequest { id: id(m) })
        }
        Call::AuthEnable => unary!(auth, auth_enable, AuthEnableRequest {}),
        Call::AuthDisable => unary!(auth, auth_disable, AuthDisableRequest {}),
        Call::Authenticate(r) => unary!(auth, authenticate, r.clone()),
        Call::UserAdd(r) => unary!(auth, user_add, r.clone()),
        Call::UserGet(r) => unary!(auth, user_get, r.clone()),
        Call::UserList => unary!(auth, user_list, AuthUserListRequest {}),
        Call::UserDelete(r) => unary!(auth, user_delete, r.clone()),
        Call::UserChangePassword(r) => unary!(auth, user_change_password, r.clone()),
        Call::UserGrantRole(r) => unary!(auth, user_grant_role, r.clone()),
        Call::UserRevokeRole(r) => unary!(auth, user_revoke_role, r.clone()),
        Call::RoleAdd(r) => unary!(auth, role_add, r.clone()),
        Call::RoleGet(r) => unary!(auth, role_get, r.clone()),
        Call::RoleList => unary!(auth, role_list, AuthRoleListRequest {}),
        Call::RoleDelete(r) => unary!(auth, role_delete, r.clone()),
        Call::RoleGrantPermission(r) => unary!(auth, role_grant_permission, r.clone()),
        Call::RoleRevokePermission(r) => unary!(auth, role_revoke_permission, r.clone()),
    }
}

fn resolve(side: &Side, m: &MemberRef) -> u64 {
    match m {
        MemberRef::Own => side.names.own_id,
        MemberRef::Id(id) => *id,
        MemberRef::Added(name) => side
            .names
            .learnt
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
            // A member this server failed to add (a mismatch already
            // recorded): an id no member has.
            .unwrap_or(1),
    }
}

/// Runs one unary call, bounded by [`REQUEST_TIMEOUT`].
async fn answer<T, F>(f: F) -> Item
where
    T: Serialize,
    F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(Ok(r)) => Ok(to_json(&r.into_inner())),
        Ok(Err(s)) => Err(Failure::status(&s)),
        Err(_) => Err(Failure::timeout()),
    }
}

fn to_json<T: Serialize>(m: &T) -> Value {
    serde_json::to_value(m).expect("a generated message serialises")
}

/// Opens a watch stream as `who`, asks for `create`, and returns the first
/// answer. The request stream stays open until then: a client that closes
/// its side may see the server end the call before it answers.
async fn watch_create(side: &Side, who: Who, create: WatchCreateRequest) -> Item {
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(create)),
    })
    .expect("the receiver is alive");
    let req = side.authed(who, UnboundedReceiverStream::new(rx));
    let mut client = side.client().watch();
    let first = async {
        let mut stream = client.watch(req).await?.into_inner();
        stream.message().await
    };
    let out = match tokio::time::timeout(REQUEST_TIMEOUT, first).await {
        Ok(Ok(Some(m))) => Ok(to_json(&m)),
        Ok(Ok(None)) => Err(Failure::other("the stream ended without an answer")),
        Ok(Err(s)) => Err(Failure::status(&s)),
        Err(_) => Err(Failure::timeout()),
    };
    drop(tx);
    out
}

/// Reads a snapshot stream to its end. A success is shown by the field names
/// of the first message (its bytes and sizes are the storage engine's).
async fn snapshot(side: &Side, who: Who) -> Item {
    let mut client = side.client().maintenance();
    let req = side.authed(who, SnapshotRequest {});
    let all = async {
        let mut stream = client.snapshot(req).await?.into_inner();
        let mut first = None;
        while let Some(m) = stream.message().await? {
            first.get_or_insert(m);
        }
        Ok::<_, tonic::Status>(first)
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, all).await {
        Ok(Ok(Some(m))) => {
            let v = to_json(&m);
            let fields: Vec<&String> = v
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            Ok(json!({ "snapshot message fields": fields }))
        }
        Ok(Ok(None)) => Err(Failure::other(
            "the snapshot stream ended without a message",
        )),
        Ok(Err(s)) => Err(Failure::status(&s)),
        Err(_) => Err(Failure::timeout()),
    }
}

// ------------------------------------------------------------------ builders

pub(crate) fn get(key: &str) -> Call {
    Call::Range(range_req(key, ""))
}

pub(crate) fn range(key: &str, end: &str) -> Call {
    Call::Range(range_req(key, end))
}

pub(crate) fn range_req(key: &str, end: &str) -> RangeRequest {
    RangeRequest {
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub(crate) fn put(key: &str, value: &str) -> Call {
    Call::Put(put_req(key, value))
}

pub(crate) fn put_req(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        ..Default::default()
    }
}

pub(crate) fn del_req(key: &str, end: &str) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
        prev_kv: false,
    }
}

pub(crate) fn op_range(r: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(r)),
    }
}

pub(crate) fn op_put(r: PutRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(r)),
    }
}

pub(crate) fn op_del(r: DeleteRangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(r)),
    }
}

pub(crate) fn op_txn(r: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestTxn(r)),
    }
}

/// A compare that `key` exists (version above 0), over `[key, end)` if `end`
/// is given.
pub(crate) fn exists(key: &str, end: &str) -> Compare {
    Compare {
        result: compare::CompareResult::Greater as i32,
        target: compare::CompareTarget::Version as i32,
        key: key.as_bytes().to_vec(),
        target_union: Some(compare::TargetUnion::Version(0)),
        range_end: end.as_bytes().to_vec(),
    }
}

pub(crate) fn grant_lease(id: i64, ttl: i64) -> Call {
    Call::LeaseGrant(LeaseGrantRequest { ttl, id })
}

pub(crate) fn watch(key: &str, end: &str) -> Call {
    Call::Watch(WatchCreateRequest {
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
        ..Default::default()
    })
}

pub(crate) fn authenticate(name: &str, password: &str) -> Call {
    Call::Authenticate(AuthenticateRequest {
        name: name.into(),
        password: password.into(),
    })
}

pub(crate) fn user_add(name: &str, password: &str) -> Call {
    Call::UserAdd(AuthUserAddRequest {
        name: name.into(),
        password: password.into(),
        ..Default::default()
    })
}

/// A user who may only log in by client certificate (`--no-password`).
pub(crate) fn user_add_no_password(name: &str) -> Call {
    Call::UserAdd(AuthUserAddRequest {
        name: name.into(),
        options: Some(UserAddOptions { no_password: true }),
        ..Default::default()
    })
}

pub(crate) fn user_get(name: &str) -> Call {
    Call::UserGet(AuthUserGetRequest { name: name.into() })
}

pub(crate) fn user_delete(name: &str) -> Call {
    Call::UserDelete(AuthUserDeleteRequest { name: name.into() })
}

pub(crate) fn change_password(name: &str, password: &str) -> Call {
    Call::UserChangePassword(AuthUserChangePasswordRequest {
        name: name.into(),
        password: password.into(),
        ..Default::default()
    })
}

pub(crate) fn grant_role(user: &str, role: &str) -> Call {
    Call::UserGrantRole(AuthUserGrantRoleRequest {
        user: user.into(),
        role: role.into(),
    })
}

pub(crate) fn revoke_role(user: &str, role: &str) -> Call {
    Call::UserRevokeRole(AuthUserRevokeRoleRequest {
        name: user.into(),
        role: role.into(),
    })
}

pub(crate) fn role_add(name: &str) -> Call {
    Call::RoleAdd(AuthRoleAddRequest { name: name.into() })
}

pub(crate) fn role_get(name: &str) -> Call {
    Call::RoleGet(AuthRoleGetRequest { role: name.into() })
}

pub(crate) fn role_delete(name: &str) -> Call {
    Call::RoleDelete(AuthRoleDeleteRequest { role: name.into() })
}

pub(crate) use permission::Type as Perm;

pub(crate) fn grant_perm(role: &str, perm: Perm, key: &str, end: &str) -> Call {
    Call::RoleGrantPermission(AuthRoleGrantPermissionRequest {
        name: role.into(),
        perm: Some(Permission {
            perm_type: perm as i32,
            key: key.as_bytes().to_vec(),
            range_end: end.as_bytes().to_vec(),
        }),
    })
}

pub(crate) fn revoke_perm(role: &str, key: &str, end: &str) -> Call {
    Call::RoleRevokePermission(AuthRoleRevokePermissionRequest {
        role: role.into(),
        key: key.as_bytes().to_vec(),
        range_end: end.as_bytes().to_vec(),
    })
}
