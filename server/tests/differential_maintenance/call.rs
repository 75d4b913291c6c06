//! Sending a [`Call`] to one side and rendering the answer as JSON that can be
//! compared across servers.
//!
//! What the rendering keeps: every field, and whether each optional message
//! (the response header above all) is present. What it replaces: values that
//! differ between any two clusters (cluster id, raft term, database sizes, raft
//! indexes, hashes of differently laid-out databases, the storage version)
//! become `"set"` or
//! `"zero"`; member ids and URLs become names (`m1`, `peer(m2)`,
//! `added(learner)`, `fresh(a)`), so that which member answered is still
//! compared.

use ectd_client::proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmRequest, CompactionRequest, DefragmentRequest,
    DowngradeRequest, HashKvRequest, HashRequest, Member, MemberAddRequest, MemberListRequest,
    MemberPromoteRequest, MemberRemoveRequest, MemberUpdateRequest, MoveLeaderRequest, PutRequest,
    ResponseHeader, SnapshotRequest, StatusRequest,
};
use serde_json::{json, Value};

use crate::harness::{At, Call, Side};

/// `"set"` or `"zero"`: for values that legitimately differ between servers.
fn set<T: Default + PartialEq>(v: T) -> Value {
    if v == T::default() {
        json!("zero")
    } else {
        json!("set")
    }
}

fn header(side: &Side, h: Option<&ResponseHeader>) -> Value {
    match h {
        None => Value::Null,
        Some(h) => json!({
            "cluster_id": set(h.cluster_id),
            "member_id": side.member_name(h.member_id),
            "revision": h.revision,
            "raft_term": set(h.raft_term),
        }),
    }
}

fn members(side: &Side, ms: &[Member]) -> Value {
    let mut out: Vec<Value> = ms.iter().map(|m| member(side, m)).collect();
    out.sort_by_key(|v| v["id"].to_string());
    Value::Array(out)
}

fn member(side: &Side, m: &Member) -> Value {
    let urls = |us: &[String]| us.iter().map(|u| side.url_name(u)).collect::<Vec<_>>();
    json!({
        "id": side.member_name(m.id),
        "name": m.name,
        "peer_urls": urls(&m.peer_ur_ls),
        "client_urls": urls(&m.client_ur_ls),
        "is_learner": m.is_learner,
    })
}

fn error(s: tonic::Status) -> Value {
    json!({ "error": format!("{:?}", s.code()), "message": s.message() })
}

/// Sends `call` to `side` and renders the answer.
pub async fn run(side: &mut Side, call: &Call) -> Value {
    match tokio::time::timeout(crate::harness::REQUEST_TIMEOUT, send(side, call)).await {
        Ok(v) => v,
        Err(_) => json!({ "timeout": format!("{call:?}") }),
    }
}

async fn at(side: &Side, at: At) -> usize {
    side.index(at).await
}

async fn send(side: &mut Side, call: &Call) -> Value {
    match call {
        Call::Put(k, v) => {
            let r = side
                .kv(0)
                .put(PutRequest {
                    key: k.as_bytes().to_vec(),
                    value: v.as_bytes().to_vec(),
                    ..Default::default()
                })
                .await;
            match r {
                Ok(r) => json!({ "revision": r.into_inner().header.map(|h| h.revision) }),
                Err(e) => error(e),
            }
        }
        Call::Compact(rev) => {
            let r = side
                .kv(0)
                .compact(CompactionRequest {
                    revision: *rev,
                    physical: true,
                })
                .await;
            match r {
                Ok(r) => json!({ "header": header(side, r.get_ref().header.as_ref()) }),
                Err(e) => error(e),
            }
        }
        Call::Status(a) => {
            let i = at(side, *a).await;
            match side.maintenance(i).status(StatusRequest {}).await {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "version": r.version,
                        "db_size": set(r.db_size),
                        "leader": side.member_name(r.leader),
                        "raft_index": set(r.raft_index),
                        "raft_term": set(r.raft_term),
                        "raft_applied_index": set(r.raft_applied_index),
                        "errors": r.errors,
                        "db_size_in_use": set(r.db_size_in_use),
                        "is_learner": r.is_learner,
                        // etcd 3.6 moves it from 3.5.0 to 3.6.0 some time
                        // after starting.
                        "storage_version": set(r.storage_version),
                        "db_size_quota": r.db_size_quota,
                        "downgrade_info": r.downgrade_info.map(|d| json!({
                            "enabled": d.enabled,
                            "target_version": d.target_version,
                        })),
                    })
                }
                Err(e) => error(e),
            }
        }
        Call::Hash(a) => {
            let i = at(side, *a).await;
            match side.maintenance(i).hash(HashRequest {}).await {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({ "header": header(side, r.header.as_ref()), "hash": set(r.hash) })
                }
                Err(e) => error(e),
            }
        }
        Call::HashKv(a, rev) => {
            let i = at(side, *a).await;
            let req = HashKvRequest { revision: *rev };
            match side.maintenance(i).hash_kv(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "hash": set(r.hash),
                        "compact_revision": r.compact_revision,
                        "hash_revision": r.hash_revision,
                    })
                }
                Err(e) => error(e),
            }
        }
        Call::Defragment(a) => {
            let i = at(side, *a).await;
            match side.maintenance(i).defragment(DefragmentRequest {}).await {
                Ok(r) => json!({ "header": header(side, r.get_ref().header.as_ref()) }),
                Err(e) => error(e),
            }
        }
        Call::AlarmList(a) => {
            let i = at(side, *a).await;
            let req = AlarmRequest {
                action: AlarmAction::Get as i32,
                member_id: 0,
                alarm: 0,
            };
            match side.maintenance(i).alarm(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    let alarms: Vec<Value> = r
                        .alarms
                        .iter()
                        .map(|a| json!({"member": side.member_name(a.member_id), "alarm": a.alarm}))
                        .collect();
                    json!({ "header": header(side, r.header.as_ref()), "alarms": alarms })
                }
                Err(e) => error(e),
            }
        }
        Call::MoveLeader(a, to) => {
            let i = at(side, *a).await;
            let target_id = side.id(to).await;
            match side
                .maintenance(i)
                .move_leader(MoveLeaderRequest { target_id })
                .await
            {
                Ok(r) => {
                    let h = header(side, r.get_ref().header.as_ref());
                    json!({ "header": h, "leader_after": side.member_name(side.leader_id().await) })
                }
                Err(e) => error(e),
            }
        }
        Call::Snapshot(a) => {
            let i = at(side, *a).await;
            snapshot(side, i).await
        }
        Call::Downgrade(a, action, version) => {
            let i = at(side, *a).await;
            let req = DowngradeRequest {
                action: *action,
                version: version.to_string(),
            };
            match side.maintenance(i).downgrade(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({ "header": header(side, r.header.as_ref()), "version": r.version })
                }
                Err(e) => error(e),
            }
        }
        Call::MemberList(a, linearizable) => {
            let i = at(side, *a).await;
            let req = MemberListRequest {
                linearizable: *linearizable,
            };
            match side.cluster_client(i).member_list(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "members": members(side, &r.members),
                    })
                }
                Err(e) => error(e),
            }
        }
        Call::MemberAdd(a, name, urls, is_learner) => {
            let i = at(side, *a).await;
            let mut peer_ur_ls = Vec::new();
            for u in urls {
                peer_ur_ls.push(side.url(u).await);
            }
            let req = MemberAddRequest {
                peer_ur_ls,
                is_learner: *is_learner,
            };
            match side.cluster_client(i).member_add(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if let Some(m) = &r.member {
                        side.learn(name, m.id);
                    }
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "member": r.member.as_ref().map(|m| member(side, m)),
                        "members": members(side, &r.members),
                    })
                }
                Err(e) => error(e),
            }
        }
        Call::MemberRemove(a, id) => {
            let i = at(side, *a).await;
            let id = side.id(id).await;
            match side
                .cluster_client(i)
                .member_remove(MemberRemoveRequest { id })
                .await
            {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "members": members(side, &r.members),
                    })
                }
                Err(e) => error(e),
            }
        }
        Call::MemberUpdate(a, id, urls) => {
            let i = at(side, *a).await;
            let id = side.id(id).await;
            let mut peer_ur_ls = Vec::new();
            for u in urls {
                peer_ur_ls.push(side.url(u).await);
            }
            let req = MemberUpdateRequest { id, peer_ur_ls };
            match side.cluster_client(i).member_update(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "members": members(side, &r.members),
                    })
                }
                Err(e) => error(e),
            }
        }
        Call::MemberPromote(a, id) => {
            let i = at(side, *a).await;
            let id = side.id(id).await;
            match side
                .cluster_client(i)
                .member_promote(MemberPromoteRequest { id })
                .await
            {
                Ok(r) => {
                    let r = r.into_inner();
                    json!({
                        "header": header(side, r.header.as_ref()),
                        "members": members(side, &r.members),
                    })
                }
                Err(e) => error(e),
            }
        }
    }
}

/// The shape of a snapshot stream: how many messages, whether every message
/// but the last two carries a full 32 KiB chunk, whether `remaining_bytes`
/// falls with each chunk by the chunk's size down to 0, that the last message
/// is a 32-byte digest with `remaining_bytes` 0, and which headers and version
/// strings the messages carry.
async fn snapshot(side: &Side, i: usize) -> Value {
    let mut stream = match side.maintenance(i).snapshot(SnapshotRequest {}).await {
        Ok(s) => s.into_inner(),
        Err(e) => return error(e),
    };
    let mut msgs = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => break,
            Err(e) => return json!({ "after": msgs.len(), "stream_error": error(e) }),
        }
    }
    let Some((last, chunks)) = msgs.split_last() else {
        return json!({ "messages": 0 });
    };
    let total: u64 = chunks.iter().map(|m| m.blob.len() as u64).sum();
    let mut expected_remaining = total;
    let mut falls_by_chunk = true;
    for m in chunks {
        expected_remaining -= m.blob.len() as u64;
        falls_by_chunk &= m.remaining_bytes == expected_remaining;
    }
    let full_chunks = chunks.len() <= 1
        || chunks[..chunks.len() - 1]
            .iter()
            .all(|m| m.blob.len() == 32 * 1024);
    let digest_ok = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for m in chunks {
            h.update(&m.blob);
        }
        h.finalize().as_slice() == last.blob.as_slice()
    };
    let mut headers: Vec<Value> = msgs
        .iter()
        .map(|m| header(side, m.header.as_ref()))
        .collect();
    headers.dedup();
    let mut versions: Vec<&str> = msgs.iter().map(|m| m.version.as_str()).collect();
    versions.dedup();
    json!({
        "chunk_messages": if chunks.is_empty() { "none" } else { "some" },
        "chunk_count_matches_size": chunks.len() as u64 == total.div_ceil(32 * 1024),
        "full_chunks_but_last": full_chunks,
        "remaining_falls_by_chunk_to_zero": falls_by_chunk && expected_remaining == 0,
        "last_blob_len": last.blob.len(),
        "last_remaining": last.remaining_bytes,
        "last_is_sha256_of_chunks": digest_ok,
        "headers": headers,
        "versions": versions,
    })
}
