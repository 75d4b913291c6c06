//! Corruption checks, as etcd makes them: members compare the hash of their
//! keyspace history (`HashKV`) over the peer port.
//!
//! - At start (`--experimental-initial-corrupt-check`), a member that has run
//!   before hashes its keyspace at its current revision and asks every peer for
//!   its hash at that revision before it serves anyone; a peer whose hash differs
//!   with the same compact revision stops the start.
//! - Periodically (`--experimental-corrupt-check-time`), the leader hashes its
//!   keyspace, asks every peer for its hash at the same revision, waits for a read
//!   barrier and hashes again. A hash that changed under the same revisions, a
//!   peer ahead of the leader, or a peer with the leader's compact revision and
//!   another hash raises CORRUPT. As in etcd 3.4 and 3.5, the alarm names member
//!   0: which member's data is wrong is not decided.
//!
//! The compaction-hash check (`super::compact_check`) asks peers through
//! [`peer_hashes`] too.

use std::sync::{Arc, Weak};
use std::time::Duration;

use ectd_proto::etcdserverpb::{alarm_request::AlarmAction, AlarmRequest, AlarmType};
use ectd_proto::peer::peer_client::PeerClient;
use ectd_proto::peer::{HashKvRequest, HashKvResponse};
use ectd_proto::raftcmd::{command::Op, Member};

use super::Server;
use crate::config::Config;
use crate::engine::schema::meta;
use crate::engine::Cf;
use crate::mvcc::Store;

/// One peer's answer to a hash request.
pub struct PeerHash {
    /// The peer's member id.
    pub id: u64,
    /// Its hash, or why there is none.
    pub result: Result<HashKvResponse, String>,
}

/// Asks every member but `self_id` for the hash of its keyspace at `revision`
/// (with `recorded`, the hash it recorded when it compacted there, if it keeps
/// one), trying each of its peer URLs until one answers.
pub async fn peer_hashes(
    cluster_id: u64,
    self_id: u64,
    members: &[Member],
    tls: Option<&Arc<rustls::ClientConfig>>,
    revision: i64,
    recorded: bool,
    timeout: Duration,
) -> Vec<PeerHash> {
    let mut out = Vec::new();
    for m in members.iter().filter(|m| m.id != self_id) {
        if m.peer_urls.is_empty() {
            continue;
        }
        let mut last = String::from("no peer URL answered");
        let mut answered = None;
        for url in &m.peer_urls {
            let ask = async {
                let ch = crate::tls::connect::channel(url, tls, Duration::from_secs(2))
                    .await
                    .map_err(|e| e.to_string())?;
                PeerClient::new(ch)
                    .hash_kv(HashKvRequest {
                        cluster_id,
                        from: self_id,
                        revision,
                        recorded,
                    })
                    .await
                    .map(tonic::Response::into_inner)
                    .map_err(|e| e.message().to_string())
            };
            let result = tokio::time::timeout(timeout, ask)
                .await
                .unwrap_or_else(|_| Err("hash request timed out".to_string()));
            match result {
                Ok(r) => {
                    answered = Some(r);
                    break;
                }
                Err(e) => {
                    tracing::warn!(
                        remote_peer_endpoint = %url,
                        requested_revision = revision,
                        error = %e,
                        "failed hash kv request"
                    );
                    last = e;
                }
            }
        }
        out.push(PeerHash {
            id: m.id,
            result: answered.ok_or(last),
        });
    }
    out
}

/// The start-up check: compares this member's hash with its peers' before it
/// serves. Only a member that has applied entries before is checked, as etcd
/// checks only a member whose data existed. Returns the refusal to start.
pub async fn initial_check(
    cfg: &Config,
    opened: &crate::bootstrap::Opened,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(), String> {
    let engine = &opened.engine;
    let ran_before = engine
        .get(Cf::Meta, meta::APPLIED_INDEX)
        .map_err(|e| e.to_string())?
        .is_some();
    if !cfg.initial_corrupt_check || !ran_before {
        return Ok(());
    }
    let me = opened.member_id;
    let timeout = Duration::from_millis(5000 + 2 * cfg.election_timeout);
    tracing::info!(
        local_member_id = format!("{me:x}"),
        timeout_ms = timeout.as_millis() as u64,
        "starting initial corruption check"
    );
    let store = Store::open(engine.clone());
    let (hash, compacted, rev) = tokio::task::spawn_blocking(move || store.hash_kv(0))
        .await
        .map_err(|e| format!("{me:x} failed to fetch hash ({e})"))?
        .map_err(|e| format!("{me:x} failed to fetch hash ({e})"))?;
    let members = crate::membership::list(engine);
    let peers = peer_hashes(opened.cluster_id, me, &members, tls, rev, false, timeout).await;
    let mut mismatches = 0;
    for p in peers {
        match p.result {
            Ok(r) if r.hash != hash && r.compact_revision == compacted => {
                tracing::warn!(
                    local_member_revision = rev,
                    local_member_compact_revision = compacted,
                    local_member_hash = hash,
                    remote_peer_id = format!("{:x}", p.id),
                    remote_peer_revision = r.revision,
                    remote_peer_compact_revision = r.compact_revision,
                    remote_peer_hash = r.hash,
                    "found different hash values from remote peer"
                );
                mismatches += 1;
            }
            Ok(r) if r.hash != hash => tracing::warn!(
                remote_peer_id = format!("{:x}", p.id),
                local_member_compact_revision = compacted,
                remote_peer_compact_revision = r.compact_revision,
                "found different compact revision values from remote peer"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                remote_peer_id = format!("{:x}", p.id),
                local_member_revision = rev,
                error = %e,
                "cannot fetch hash from remote peer"
            ),
        }
    }
    if mismatches > 0 {
        return Err(format!("{me:x} found data inconsistency with peers"));
    }
    tracing::info!("initial corruption checking passed; no corruption");
    Ok(())
}

/// The leader's periodic check, every `every` (never when zero).
pub(super) async fn periodic(server: Weak<Server>, every: Duration) {
    if every.is_zero() {
        return;
    }
    tracing::info!(
        interval_ms = every.as_millis() as u64,
        "enabled corruption checking"
    );
    loop {
        tokio::time::sleep(every).await;
        let Some(s) = server.upgrade() else { return };
        if s.is_stopped() {
            return;
        }
        if !s.status.is_leader() {
            continue;
        }
        if let Err(e) = check_once(&s).await {
            tracing::warn!(error = %e, "failed to check hash KV");
        }
    }
}

/// The local hash of the keyspace: (hash, compact revision, revision).
async fn local_hash(s: &Arc<Server>) -> Result<(u32, i64, i64), String> {
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || store.hash_kv(0))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn check_once(s: &Arc<Server>) -> Result<(), String> {
    let (h, crev, rev) = local_hash(s).await?;
    let peers = peer_hashes(
        s.cluster_id,
        s.member_id,
        &s.members(),
        s.peer_tls.as_ref(),
        rev,
        false,
        s.limits.request_timeout,
    )
    .await;
    s.read_barrier().await.map_err(|e| e.to_string())?;
    let (h2, crev2, rev2) = local_hash(s).await?;
    let mut corrupt = false;
    if h2 != h && rev2 == rev && crev2 == crev {
        tracing::warn!(
            revision_1 = rev,
            compact_revision_1 = crev,
            hash_1 = h,
            revision_2 = rev2,
            compact_revision_2 = crev2,
            hash_2 = h2,
            "found hash mismatch"
        );
        corrupt = true;
    }
    let mut checked = 0;
    for p in &peers {
        let Ok(r) = &p.result else { continue };
        checked += 1;
        let peer = format!("{:x}", p.id);
        if r.revision > rev2 {
            tracing::warn!(
                leader_revision = rev2,
                follower_revision = r.revision,
                follower_peer_id = %peer,
                "revision from follower must be less than or equal to leader's"
            );
            corrupt = true;
        }
        if r.compact_revision > crev2 {
            tracing::warn!(
                leader_compact_revision = crev2,
                follower_compact_revision = r.compact_revision,
                follower_peer_id = %peer,
                "compact revision from follower must be less than or equal to leader's"
            );
            corrupt = true;
        }
        if r.compact_revision == crev && r.hash != h {
            tracing::warn!(
                leader_compact_revision = crev,
                leader_hash = h,
                follower_compact_revision = r.compact_revision,
                follower_hash = r.hash,
                follower_peer_id = %peer,
                "same compact revision then hashes must match"
            );
            corrupt = true;
        }
    }
    tracing::info!(
        number_of_peers_checked = checked,
        "finished peer corruption check"
    );
    if corrupt {
        let op = Op::Alarm(AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: 0,
            alarm: AlarmType::Corrupt as i32,
        });
        s.propose(op).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
