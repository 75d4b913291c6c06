//! Compaction across members: each member deletes the old versions on its own, in
//! batches; a follower killed between batches finishes after its restart, and every
//! member reports the same `HashKV` throughout, however far its deletion has come.

use std::time::{Duration, Instant};

use crate::common::{http_get, Cluster, Kind, Member};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{CompactionRequest, PutRequest};
use ectd_client::Client;

/// Versions a member's compactor deleted since it started.
fn deleted(m: &Member) -> usize {
    let (_, body) = http_get(m.client_port(), "/metrics", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("GET /metrics on {}: {e}", m.name()));
    body.lines()
        .find_map(|l| {
            l.strip_prefix("etcd_debugging_mvcc_db_compaction_keys_total ")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .expect("compaction keys metric") as usize
}

/// `n` puts over four keys through `c`, 16 at a time; returns the last revision.
async fn history(c: &Client, n: usize) -> i64 {
    let mut tasks = Vec::new();
    for w in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            for i in (w..n).step_by(16) {
                let r = c
                    .put(PutRequest {
                        key: format!("hist/{}", i % 4).into_bytes(),
                        value: format!("{i}").into_bytes(),
                        ..Default::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("history put {i}: {e}"));
                last = last.max(header_rev(&r.header));
            }
            last
        }));
    }
    let mut last = 0;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    last
}

#[test]
fn members_compact_on_their_own_and_agree_on_hashes() {
    run(compact_across_members());
}

async fn compact_across_members() {
    let mut cl = Cluster::start(
        Kind::Ectd,
        3,
        &[
            "--experimental-compaction-batch-limit",
            "200",
            "--experimental-compaction-sleep-interval",
            "50ms",
            "--snapshot-count",
            "300",
        ],
    );
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    let victim = (leader + 1) % 3;
    let cur = history(&clients[leader], 30_000).await;
    let at = cur - 50;
    clients[leader]
        .compact(CompactionRequest {
            revision: at,
            physical: false,
        })
        .await
        .unwrap();
    // A linearizable read on each member waits until it has applied the
    // compaction (HashKV itself is answered from what a member has applied).
    for c in &clients {
        read_prefix(c, "hist/").await;
    }
    // While every member is somewhere in its own deletion.
    let reference = assert_same_hash(&clients, &[0, 1, 2], cur, "during compaction").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while deleted(&cl.members[victim]) < 2_000 {
        assert!(
            Instant::now() < deadline,
            "the follower's compaction does not progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Writes through the leader go on, so the follower flushes its state (and its
    // compaction progress) before it is killed.
    history(&clients[leader], 1_000).await;
    let at_kill = deleted(&cl.members[victim]);
    cl.members[victim].kill9();
    history(&clients[leader], 1_000).await;
    cl.members[victim].restart();
    let clients = connect_all(&cl).await;
    // `physical` waits, on the member serving it, for that member's deletion.
    let long = connect_with(&cl.members[victim], Duration::from_secs(120)).await;
    let err = long
        .compact(CompactionRequest {
            revision: at,
            physical: true,
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("required revision has been compacted"),
        "{err}"
    );
    eprintln!(
        "the follower had deleted {at_kill} versions when it was killed, and {} after its restart",
        deleted(&cl.members[victim])
    );
    let after = assert_same_hash(&clients, &[0, 1, 2], cur, "after the restart").await;
    assert_eq!(after, reference, "HashKV moved with the physical deletion");
    let last = current_rev(&clients[leader]).await;
    assert_same_hash(&clients, &[0, 1, 2], last, "at the last revision").await;
}
