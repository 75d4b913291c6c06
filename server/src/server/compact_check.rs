//! The compaction-hash check (`--experimental-compact-hash-check-enabled`), as etcd
//! 3.5 makes it: every `--experimental-compact-hash-check-time` the leader takes
//! the compaction hashes it recorded (see [`crate::mvcc::hash`]) that it has not
//! yet seen confirmed by the whole cluster, newest first, and asks every peer for
//! its hash at that compaction's revision.
//!
//! A peer is compared only when its answer follows the same compact revision as
//! the leader's hash; a different hash then raises CORRUPT, for member 0 as in
//! etcd 3.5 (which member's data is wrong is not decided), and ends the round. A
//! peer that has not compacted there yet answers the `HashKV` at that revision,
//! which equals the compaction hash while its compact revision is the previous
//! one; a peer whose deletions are still under way, or that compacted further
//! without keeping the hash, answers nothing comparable and is skipped. Once every
//! peer matched one revision, that revision and older ones count as checked; when
//! some peer could not be compared the next older hash is tried, and the skipped
//! revision comes up again next round.

use std::sync::{Arc, Weak};
use std::time::Duration;

use ectd_proto::etcdserverpb::{alarm_request::AlarmAction, AlarmRequest, AlarmType};
use ectd_proto::raftcmd::command::Op;

use super::corrupt::peer_hashes;
use super::Server;

/// The leader's compaction-hash check, every `every` while `enabled`.
pub(super) async fn periodic(server: Weak<Server>, enabled: bool, every: Duration) {
    if !enabled || every.is_zero() {
        return;
    }
    tracing::info!(
        interval_ms = every.as_millis() as u64,
        "enabled compaction hash checking"
    );
    // The newest compaction revision every peer confirmed, on this member: a
    // member that becomes leader again goes on from there.
    let mut latest_checked = 0;
    loop {
        tokio::time::sleep(every).await;
        let Some(s) = server.upgrade() else { return };
        if s.is_stopped() {
            return;
        }
        if !s.status.is_leader() {
            continue;
        }
        check_once(&s, &mut latest_checked).await;
    }
}

/// One round of the check; raises CORRUPT on the first mismatch.
async fn check_once(s: &Arc<Server>, latest_checked: &mut i64) {
    tracing::info!(
        local_member_id = format!("{:x}", s.member_id),
        timeout_ms = s.limits.request_timeout.as_millis() as u64,
        "starting compact hash check"
    );
    let mut hashes = s.store.compaction_hashes();
    hashes.retain(|h| h.revision > *latest_checked);
    hashes.reverse();
    for (i, h) in hashes.iter().enumerate() {
        let peers = peer_hashes(
            s.cluster_id,
            s.member_id,
            &s.members(),
            s.peer_tls.as_ref(),
            h.revision,
            true,
            s.limits.request_timeout,
        )
        .await;
        if peers.is_empty() {
            continue;
        }
        let mut checked = 0;
        for p in &peers {
            let Ok(r) = &p.result else { continue };
            if r.compact_revision != h.compact_revision {
                continue;
            }
            if r.hash != h.hash {
                tracing::error!(
                    revision = h.revision,
                    leader_compact_revision = h.compact_revision,
                    leader_hash = h.hash,
                    follower_compact_revision = r.compact_revision,
                    follower_hash = r.hash,
                    follower_peer_id = format!("{:x}", p.id),
                    "failed compaction hash check"
                );
                raise_corrupt(s).await;
                return;
            }
            checked += 1;
            tracing::info!(
                revision = h.revision,
                peer_id = format!("{:x}", p.id),
                "successfully checked hash on follower"
            );
        }
        if checked == peers.len() {
            tracing::info!(
                number_of_peers_checked = checked,
                revision = h.revision,
                "successfully checked hash on whole cluster"
            );
            *latest_checked = (*latest_checked).max(h.revision);
            tracing::info!(
                number_of_hashes_checked = i + 1,
                "finished compaction hash check"
            );
            return;
        }
        tracing::warn!(
            number_of_peers_checked = checked,
            number_of_peers = peers.len(),
            revision = h.revision,
            "skipped revision in compaction hash check; was not able to check all peers"
        );
    }
    tracing::info!(
        number_of_hashes_checked = hashes.len(),
        "finished compaction hash check"
    );
}

/// Raises CORRUPT for member 0 through raft, as etcd 3.5's check does.
async fn raise_corrupt(s: &Arc<Server>) {
    let op = Op::Alarm(AlarmRequest {
        action: AlarmAction::Activate as i32,
        member_id: 0,
        alarm: AlarmType::Corrupt as i32,
    });
    if let Err(e) = s.propose(op).await {
        tracing::warn!(error = %e, "failed to raise the CORRUPT alarm");
    }
}
