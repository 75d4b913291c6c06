//! A member wiped and added back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{MemberAddRequest, MemberRemoveRequest};
use ectd_client::Client;

/// `total` puts over `keys` keys, `concurrency` at a time, spread over `clients`.
async fn load(clients: &[Client], prefix: &str, total: usize, keys: usize, concurrency: usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let c = clients[t % clients.len()].clone();
        let next = next.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let key = format!("{prefix}{:05}", i % keys);
                let value = format!("{i:08}-{}", "x".repeat(40 + i % 60));
                if let Err(e) = c.put_kv(key.clone(), value).await {
                    panic!("load put {key} through {}: {e}", c.endpoint());
                }
            }
        }));
    }
    for t in tasks {
        within(300, "load", t).await.expect("load task");
    }
}

#[test]
fn wiped_member_added_back_catches_up_from_a_snapshot() {
    run(wipe_and_add_back());
}

async fn wipe_and_add_back() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &["--snapshot-count", "100"]);
    let mut clients = connect_all(&cl).await;
    let mut ids = member_ids(&clients).await;
    let all = [0, 1, 2];
    let (leader, _) = agreed_leader(&clients, &ids, &all).await;

    // More entries than the leader keeps in memory: a new member cannot be
    // sent the log from its start and must be sent the state.
    let t = Instant::now();
    load(&clients, "wipe/", 12_000, 1_500, 48).await;
    let mid_rev = current_rev(&clients[leader]).await / 2;
    eprintln!("12000 puts in {:?}", t.elapsed());

    let v = all.iter().copied().find(|&i| i != leader).unwrap();
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != v).collect();
    let mut cluster = clients[leader].cluster();
    rpc(
        Duration::from_secs(10),
        cluster.member_remove(MemberRemoveRequest { id: ids[v] }),
    )
    .await
    .unwrap_or_else(|e| panic!("removing m{}: {e}", v + 1));
    let exited = cl.members[v].wait_exit(Duration::from_secs(10));
    assert!(
        exited.is_some(),
        "m{} still runs 10s after it was removed",
        v + 1
    );
    let data = cl.members[v].data_dir().to_path_buf();
    std::fs::remove_dir_all(&data).unwrap_or_else(|e| panic!("wiping {}: {e}", data.display()));

    let peer_url = cl.members[v].peer_url();
    let added = rpc(
        Duration::from_secs(10),
        cluster.member_add(MemberAddRequest {
            peer_ur_ls: vec![peer_url.clone()],
            is_learner: false,
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("adding {peer_url} back: {e}"));
    let new_id = added.member.map_or(0, |m| m.id);
    assert!(
        new_id != 0 && new_id != ids[v],
        "the member added back got id {new_id:x}; the removed one had {:x}",
        ids[v]
    );
    ids[v] = new_id;

    let initial = format!(
        "{},{}={peer_url}",
        cl.initial_cluster_of(&others),
        cl.members[v].name()
    );
    let cfg = cl.config(
        cl.members[v].name(),
        cl.members[v].ports(),
        &initial,
        "existing",
    );
    cl.members[v] = cl.new_member(&cfg);
    let t = Instant::now();
    cl.members[v].launch();
    cl.members[v].wait_ready(crate::common::READY_TIMEOUT);
    let ready = t.elapsed();
    clients[v] = connect(&cl.members[v]).await;

    let rev = current_rev(&clients[leader]).await;
    for check_rev in [rev, mid_rev] {
        let reference = read_local(&clients[leader], "wipe/", check_rev)
            .await
            .unwrap_or_else(|e| panic!("serializable range at {check_rev} on the leader: {e}"));
        let view = eventually(
            Duration::from_secs(10),
            "the new member reaching the leader's revision",
            || async {
                read_local(&clients[v], "wipe/", check_rev)
                    .await
                    .map_err(|e| e.to_string())
            },
        )
        .await;
        if let Err(d) = same_kvs(&view.kvs, &reference.kvs) {
            panic!(
                "at revision {check_rev} the re-added m{} and the leader differ: {d}",
                v + 1
            );
        }
        assert_eq!(reference.kvs.len(), 1_500, "keys at revision {check_rev}");
    }
    assert_same_hash(&clients, &all, rev, "after the wiped member came back").await;
    // It is a voter again: it takes writes.
    within(
        10,
        "put through the re-added member",
        clients[v].put_kv("wipe/after", "ok"),
    )
    .await
    .unwrap_or_else(|e| panic!("put through the re-added m{}: {e}", v + 1));
    let status = status(&clients[v])
        .await
        .expect("status of the re-added member");
    assert_eq!(status.header.map_or(0, |h| h.member_id), new_id);
    // The premise of the scenario: the log the new member needed was no longer
    // there, so it was sent the state instead.
    let log = std::fs::read_to_string(cl.members[v].log_path()).unwrap_or_default();
    let this_run = log.rsplit("----- starting").next().unwrap_or_default();
    assert!(
        this_run.contains("installed a state snapshot"),
        "the re-added m{} caught up without installing a state snapshot; its log:\n{}",
        v + 1,
        cl.members[v].stderr_tail(40)
    );
    eprintln!(
        "re-added member ready {ready:?} after start; test took {:?}",
        started.elapsed()
    );
}
