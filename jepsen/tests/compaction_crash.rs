//! A member that crashes in the middle of a compaction must, once restarted, serve the
//! history after later compactions to a prev_kv watch like every other member. Needs the
//! `failpoints` build.

use std::time::Duration;

use ectd_client::proto::etcdserverpb::{CompactionRequest, PutRequest, RangeRequest};
use ectd_client::{Client, ConnectOptions};
use ectd_jepsen::cluster::{Cluster, ClusterConfig};
use ectd_jepsen::workload::watch::member_history;

fn options() -> ConnectOptions {
    ConnectOptions {
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
    }
}

/// `n` puts over 20 keys under `jepsen/`, 8 writers at a time; returns the last revision.
async fn fill(client: &Client, round: usize, n: usize) -> i64 {
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let client = client.clone();
        writers.spawn(async move {
            let mut last = 0;
            for i in (w..n).step_by(8) {
                let put = PutRequest {
                    key: format!("jepsen/c/{}", i % 20).into_bytes(),
                    value: format!("{round}-{i}").into_bytes(),
                    ..Default::default()
                };
                loop {
                    if let Ok(r) = client.put(put.clone()).await {
                        last = r.header.map_or(0, |h| h.revision);
                        break;
                    }
                }
            }
            last
        });
    }
    let mut last = 0;
    while let Some(r) = writers.join_next().await {
        last = last.max(r.unwrap());
    }
    last
}

async fn revision(client: &Client) -> i64 {
    let r = client
        .range(RangeRequest {
            key: b"jepsen/".to_vec(),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    r.header.unwrap().revision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_compaction_leaves_history_watchable() {
    let mut config = ClusterConfig::from_env_failpoints(3).expect("ectd binary with failpoints");
    config.snapshot_count = Some(2000);
    let mut cluster = Cluster::start(config).await.expect("cluster starts");
    let all = [0, 1, 2];
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(30))
        .await
        .unwrap();
    let client = cluster.client(leader, options()).await.unwrap();
    let victim = (leader + 1) % 3;

    let first = fill(&client, 0, 1500).await;
    cluster
        .set_failpoint(victim, "compact_before_commit", "1*panic")
        .await
        .unwrap();
    client
        .compact(CompactionRequest {
            revision: first,
            physical: false,
        })
        .await
        .expect("the leader compacts");
    assert!(
        cluster.wait_exited(victim, Duration::from_secs(10)).await,
        "m{victim} did not reach the failpoint:\n{}",
        cluster.log_tail(victim, 20)
    );
    cluster.restart(victim).unwrap();

    let second = fill(&client, 1, 1500).await;
    client
        .compact(CompactionRequest {
            revision: second,
            physical: false,
        })
        .await
        .expect("the leader compacts");
    fill(&client, 2, 1500).await;
    let last = revision(&client).await;

    let mut histories = Vec::new();
    for i in all {
        let member = cluster.client(i, options()).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while revision(&member).await < last {
            assert!(
                tokio::time::Instant::now() < deadline,
                "m{i} never caught up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (start, history) = member_history(&member, second + 1, last, Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("m{i}: {e}\n{}", cluster.log_tail(i, 20)));
        assert_eq!(start, second + 1, "m{i}");
        histories.push(history);
    }
    assert_eq!(
        histories[0].len() as i64,
        last - second,
        "one entry per revision"
    );
    assert!(
        histories.iter().all(|h| *h == histories[0]),
        "members disagree"
    );
}
