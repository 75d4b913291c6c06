//! Membership through the API, as etcdctl uses it, and leadership transfer.

use std::time::{Duration, Instant};

use crate::common::{within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{
    Member as WireMember, MemberAddRequest, MemberListRequest, MemberPromoteRequest,
    MemberRemoveRequest, MemberUpdateRequest, MoveLeaderRequest, RangeRequest,
};
use ectd_client::{Client, Error};
use tonic::Code;

async fn member_list(c: &Client) -> Vec<WireMember> {
    let mut cluster = c.cluster();
    rpc(
        Duration::from_secs(10),
        cluster.member_list(MemberListRequest { linearizable: true }),
    )
    .await
    .unwrap_or_else(|e| panic!("member list through {}: {e}", c.endpoint()))
    .members
}

#[test]
fn learner_added_promoted_updated_and_removed() {
    run(membership_api());
}

async fn membership_api() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    let lc = &clients[leader];
    let mut cluster = lc.cluster();
    within(
        10,
        "put before the learner",
        lc.put_kv("learner/before", "1"),
    )
    .await
    .expect("put learner/before");

    // Add a learner.
    let ports = crate::common::Ports::free();
    let peer_url = format!("http://127.0.0.1:{}", ports.peer);
    let added = rpc(
        Duration::from_secs(10),
        cluster.member_add(MemberAddRequest {
            peer_ur_ls: vec![peer_url.clone()],
            is_learner: true,
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("member add --learner {peer_url}: {e}"));
    let member = added.member.expect("MemberAdd names the new member");
    let id = member.id;
    assert!(
        member.is_learner && member.peer_ur_ls == [peer_url.clone()],
        "{member:?}"
    );
    let listed = member_list(&clients[(leader + 1) % 3]).await;
    let entry = listed.iter().find(|m| m.id == id);
    assert!(
        matches!(entry, Some(m) if m.is_learner && m.name.is_empty() && m.client_ur_ls.is_empty()),
        "a learner not started yet should be listed unnamed and without client URLs: {entry:?}"
    );

    // Not started, it holds none of the log: promotion is refused.
    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            cluster.member_promote(MemberPromoteRequest { id }),
        )
        .await,
        Code::FailedPrecondition,
        NOT_IN_SYNC,
        "promoting a learner that has not started",
    );

    // Start it.
    let initial = format!("{},m4={peer_url}", cl.initial_cluster_of(&[0, 1, 2]));
    let cfg = cl.config("m4", ports, &initial, "existing");
    let m4 = cl.new_member(&cfg);
    cl.members.push(m4);
    cl.members[3].launch();
    let learner = connect(&cl.members[3]).await;
    eventually(
        Duration::from_secs(20),
        "a serializable read on the learner",
        || {
            let learner = learner.clone();
            async move {
                let r = learner
                    .range(RangeRequest {
                        key: b"learner/before".to_vec(),
                        serializable: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                if r.kvs.len() == 1 {
                    Ok(())
                } else {
                    Err(format!("{} keys", r.kvs.len()))
                }
            }
        },
    )
    .await;
    cl.members[3].assert_running();
    // Like any member, a learner announces its name and client URLs once started.
    let m4_url = cl.members[3].endpoint();
    eventually(
        Duration::from_secs(10),
        "the learner publishing its attributes",
        || async {
            let listed = member_list(lc).await;
            match listed.iter().find(|m| m.id == id) {
                Some(m) if m.is_learner && m.name == "m4" && m.client_ur_ls == [m4_url.clone()] => {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let st = status(&learner).await.expect("status of the learner");
    assert!(st.is_learner, "Status of the learner: is_learner false");
    assert_eq!(st.header.map_or(0, |h| h.member_id), id);
    const LEARNER: &str = "etcdserver: rpc not supported for learner";
    expect_rpc_error(
        learner.put_kv("learner/write", "no").await,
        Code::Unavailable,
        LEARNER,
        "put through the learner",
    );
    expect_rpc_error(
        learner.get("learner/before").await,
        Code::Unavailable,
        LEARNER,
        "linearizable read through the learner",
    );

    // Promote it, as etcdctl's users do: retrying while it catches up.
    let t = Instant::now();
    let mut refusals = 0;
    loop {
        match rpc(
            Duration::from_secs(10),
            cluster.member_promote(MemberPromoteRequest { id }),
        )
        .await
        {
            Ok(_) => break,
            Err(Error::Rpc {
                code: Code::FailedPrecondition,
                message,
            }) if message == NOT_IN_SYNC => {
                refusals += 1;
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "the learner was not in sync within 20s ({refusals} refusals)"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("member promote {id:x}: {e}"),
        }
    }
    eprintln!(
        "learner promoted after {:?} ({refusals} refusals)",
        t.elapsed()
    );
    let listed = member_list(lc).await;
    let entry = listed.iter().find(|m| m.id == id);
    assert!(
        matches!(entry, Some(m) if !m.is_learner
            && m.name == "m4"
            && m.client_ur_ls == [cl.members[3].endpoint()]
            && m.peer_ur_ls == [peer_url.clone()]),
        "after promotion: {entry:?}"
    );
    assert_eq!(listed.len(), 4, "{listed:?}");
    let voter = eventually(
        Duration::from_secs(5),
        "the promoted member taking a write",
        || async {
            learner
                .put_kv("learner/after", "voter")
                .await
                .map_err(|e| e.to_string())
        },
    )
    .await;
    let st = status(&learner)
        .await
        .expect("status of the promoted member");
    assert!(
        !st.is_learner,
        "Status of the promoted member still says learner"
    );

    // Update its peer URLs: to the same value, then to another member's.
    rpc(
        Duration::from_secs(10),
        cluster.member_update(MemberUpdateRequest {
            id,
            peer_ur_ls: vec![peer_url.clone()],
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("member update to the same peer URLs: {e}"));
    let taken = cl.members[0].peer_url();
    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            cluster.member_update(MemberUpdateRequest {
                id,
                peer_ur_ls: vec![taken.clone()],
            }),
        )
        .await,
        Code::FailedPrecondition,
        "etcdserver: Peer URLs already exists",
        "member update to m1's peer URLs",
    );
    let listed = member_list(lc).await;
    assert!(
        listed
            .iter()
            .any(|m| m.id == id && m.peer_ur_ls == [peer_url.clone()]),
        "the refused update changed the member: {listed:?}"
    );

    // Remove it: it leaves the list and stops by itself.
    rpc(
        Duration::from_secs(10),
        cluster.member_remove(MemberRemoveRequest { id }),
    )
    .await
    .unwrap_or_else(|e| panic!("member remove {id:x}: {e}"));
    let t = Instant::now();
    for (j, c) in clients.iter().enumerate() {
        let listed = member_list(c).await;
        assert!(
            listed.len() == 3 && listed.iter().all(|m| m.id != id),
            "m{} lists after the removal: {listed:?}",
            j + 1
        );
    }
    let exit = cl.members[3].wait_exit(Duration::from_secs(10));
    assert!(
        exit.is_some(),
        "the removed member still runs 10s after its removal\n{}",
        cl.members[3].stderr_tail(30)
    );
    eprintln!(
        "removed member exited with {exit:?} {:?} after its removal",
        t.elapsed()
    );
    within(
        10,
        "put after the removal",
        lc.put_kv("learner/removed", "yes"),
    )
    .await
    .expect("a put after the removal");
    let rev = current_rev(lc).await;
    assert!(rev > header_rev(&voter.header));
    assert_same_hash(&clients, &[0, 1, 2], rev, "after the member came and went").await;

    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            cluster.member_remove(MemberRemoveRequest {
                id: 0x1234_5678_9abc,
            }),
        )
        .await,
        Code::NotFound,
        "etcdserver: member not found",
        "member remove of an unknown id",
    );
    eprintln!("membership test took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// Leadership transfer
// ---------------------------------------------------------------------------

#[test]
fn move_leader_to_a_follower() {
    run(move_leader());
}

async fn move_leader() {
    let cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let all = [0, 1, 2];
    let (leader, term) = agreed_leader(&clients, &ids, &all).await;
    let target = (leader + 1) % 3;
    let t = Instant::now();
    let mut m = clients[leader].maintenance();
    rpc(
        Duration::from_secs(10),
        m.move_leader(MoveLeaderRequest {
            target_id: ids[target],
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("move-leader from m{} to m{}: {e}", leader + 1, target + 1));
    let moved = t.elapsed();
    // Each member learns the new leader within a heartbeat or two.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut views = Vec::new();
        for c in &clients {
            views.push(status(c).await.map(|s| (s.leader, s.raft_term)));
        }
        if views
            .iter()
            .all(|v| matches!(v, Ok((l, _)) if *l == ids[target]))
        {
            let new_term = views.iter().flatten().map(|v| v.1).max().unwrap_or(0);
            assert!(new_term > term, "the transfer kept term {term}: {views:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "3s after MoveLeader to m{} ({:x}) the members report {views:?}",
            target + 1,
            ids[target]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("leadership moved in {moved:?}");
    within(
        10,
        "put after the transfer",
        clients[leader].put_kv("moved", "yes"),
    )
    .await
    .expect("a put after the transfer");

    // Only the leader transfers leadership.
    let mut m = clients[leader].maintenance();
    expect_rpc_error(
        rpc(
            Duration::from_secs(10),
            m.move_leader(MoveLeaderRequest {
                target_id: ids[(leader + 2) % 3],
            }),
        )
        .await,
        Code::FailedPrecondition,
        "etcdserver: not leader",
        "MoveLeader sent to a follower",
    );
    let (still, _) = agreed_leader(&clients, &ids, &all).await;
    assert_eq!(
        still, target,
        "MoveLeader through a follower moved the leader"
    );
}
