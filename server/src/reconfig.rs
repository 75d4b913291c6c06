//! Membership changes as etcd makes them: checks with etcd's errors, then a raft
//! conf change (or, for new peer URLs, a replicated command) that every member
//! applies in log order.

use std::time::{SystemTime, UNIX_EPOCH};

use ectd_proto::raftcmd::{command::Op, Member};
use prost::Message as _;
use raft::prelude::{ConfChange, ConfChangeType};

use crate::bootstrap;
use crate::config::parse_url;
use crate::error::Error;
use crate::server::Server;

/// Most learners a cluster may have, as etcd allows by default.
const MAX_LEARNERS: usize = 1;
/// A learner is promotable once it holds this share of the leader's log.
const LEARNER_READY: f64 = 0.9;

fn check_urls(urls: &[String]) -> Result<(), Error> {
    if urls.is_empty() || urls.iter().any(|u| parse_url(u).is_err()) {
        return Err(Error::MemberBadUrls);
    }
    Ok(())
}

fn url_taken(members: &[Member], urls: &[String], except: u64) -> bool {
    members
        .iter()
        .filter(|m| m.id != except)
        .any(|m| m.peer_urls.iter().any(|u| urls.contains(u)))
}

/// etcd's strict reconfiguration check, made where the facts are (on the leader):
/// after the change, the voters that are up must still form a quorum. `added` counts
/// a new voter (not up yet); `removed` names a voter going away.
async fn check_quorum_after(
    server: &Server,
    added: bool,
    removed: Option<u64>,
) -> Result<(), Error> {
    let progress = server.progress().await?;
    if !progress.is_leader {
        return Ok(());
    }
    let voters: Vec<u64> = server
        .members()
        .iter()
        .filter(|m| !m.is_learner && Some(m.id) != removed)
        .map(|m| m.id)
        .collect();
    let me = server.member_id();
    let up = voters
        .iter()
        .filter(|id| {
            **id == me
                || progress
                    .peers
                    .iter()
                    .any(|(p, _, active)| p == *id && *active)
        })
        .count();
    let size = voters.len() + usize::from(added);
    // A lone member may take a second voter (how a cluster restored from one
    // member's data grows again), as etcd allows, though two need both up.
    let growing_alone = added && removed.is_none() && voters.len() == 1 && up == 1;
    if up < size / 2 + 1 && !growing_alone {
        return Err(Error::Unhealthy);
    }
    Ok(())
}

/// Adds a member (voter or learner) with `peer_urls`; returns it and the membership
/// after the change.
pub async fn add(
    server: &Server,
    peer_urls: Vec<String>,
    is_learner: bool,
) -> Result<(Member, Vec<Member>), Error> {
    check_urls(&peer_urls)?;
    let members = server.members();
    if url_taken(&members, &peer_urls, 0) {
        return Err(Error::PeerUrlExist);
    }
    if is_learner && members.iter().filter(|m| m.is_learner).count() >= MAX_LEARNERS {
        return Err(Error::TooManyLearners);
    }
    // Added members' ids include the time, so a re-added member gets a new one.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let id = bootstrap::member_id(&peer_urls, &format!("{}{now}", server.cluster_token()));
    if members.iter().any(|m| m.id == id) {
        return Err(Error::MemberExist);
    }
    if !is_learner {
        check_quorum_after(server, true, None).await?;
    }
    let member = Member {
        id,
        name: String::new(),
        peer_urls,
        client_urls: Vec::new(),
        is_learner,
    };
    let mut cc = ConfChange::default();
    cc.set_change_type(if is_learner {
        ConfChangeType::AddLearnerNode
    } else {
        ConfChangeType::AddNode
    });
    cc.node_id = id;
    cc.context = member.encode_to_vec().into();
    server.propose_conf_change(cc).await?;
    Ok((member, server.members()))
}

/// Removes member `id`; returns the membership after the change.
pub async fn remove(server: &Server, id: u64) -> Result<Vec<Member>, Error> {
    let Some(target) = server.members().into_iter().find(|m| m.id == id) else {
        return Err(Error::MemberNotFound);
    };
    if !target.is_learner {
        check_quorum_after(server, false, Some(id)).await?;
    }
    let mut cc = ConfChange::default();
    cc.set_change_type(ConfChangeType::RemoveNode);
    cc.node_id = id;
    server.propose_conf_change(cc).await?;
    Ok(server.members())
}

/// Replaces member `id`'s peer URLs; returns the membership after the change.
pub async fn update(
    server: &Server,
    id: u64,
    peer_urls: Vec<String>,
) -> Result<Vec<Member>, Error> {
    check_urls(&peer_urls)?;
    let members = server.members();
    if !members.iter().any(|m| m.id == id) {
        return Err(Error::MemberNotFound);
    }
    if url_taken(&members, &peer_urls, id) {
        return Err(Error::PeerUrlExist);
    }
    server
        .propose(Op::UpdateMember(Member {
            id,
            peer_urls,
            ..Default::default()
        }))
        .await?;
    Ok(server.members())
}

/// Promotes learner `id` to voter once it has caught up with the leader's log.
pub async fn promote(server: &Server, id: u64) -> Result<Vec<Member>, Error> {
    let member = server
        .members()
        .into_iter()
        .find(|m| m.id == id)
        .ok_or(Error::MemberNotFound)?;
    if !member.is_learner {
        return Err(Error::MemberNotLearner);
    }
    let progress = server.progress().await?;
    if progress.is_leader {
        let matched = progress
            .peers
            .iter()
            .find(|(p, _, _)| *p == id)
            .map_or(0, |(_, m, _)| *m);
        if (matched as f64) < progress.committed as f64 * LEARNER_READY {
            return Err(Error::LearnerNotReady);
        }
    }
    check_quorum_after(server, true, None).await?;
    let mut m = member;
    m.is_learner = false;
    let mut cc = ConfChange::default();
    cc.set_change_type(ConfChangeType::AddNode);
    cc.node_id = id;
    cc.context = m.encode_to_vec().into();
    server.propose_conf_change(cc).await?;
    Ok(server.members())
}
