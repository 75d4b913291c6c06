//! A real 3-member ectd cluster under the harness' faults: partition of the leader,
//! kill -9 and restart, pause and resume. One cluster serves all phases to keep the
//! test short (well under a minute).

use std::time::Duration;

use ectd_client::proto::etcdserverpb::RangeRequest;
use ectd_client::{Client, ConnectOptions};
use ectd_jepsen::cluster::{Cluster, ClusterConfig};

const KEY: &str = "jepsen/k";

/// Short timeouts: a call that cannot complete during a fault should fail fast.
fn options() -> ConnectOptions {
    ConnectOptions {
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_millis(1500),
    }
}

/// The member's own, possibly stale, value of [`KEY`] (a serializable read).
async fn local_value(client: &Client) -> Option<Vec<u8>> {
    let request = RangeRequest {
        key: KEY.into(),
        serializable: true,
        ..Default::default()
    };
    let response = client.range(request).await.ok()?;
    response.kvs.first().map(|kv| kv.value.clone())
}

/// Waits until member `i` holds `value` for [`KEY`] locally.
async fn wait_for_value(cluster: &Cluster, i: usize, value: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(client) = cluster.client(i, options()).await {
            if local_value(&client).await.as_deref() == Some(value.as_bytes()) {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "m{i} never caught up to {value:?}; log tail:\n{}",
            cluster.log_tail(i, 30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Some member other than `not`.
fn other_than(cluster: &Cluster, not: usize) -> usize {
    (0..cluster.size())
        .find(|&i| i != not)
        .expect("cluster of one")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_under_faults() {
    let config = ClusterConfig::from_env(3).expect("ectd binary");
    let mut cluster = Cluster::start(config).await.expect("cluster starts");
    let all: Vec<usize> = (0..3).collect();
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(5))
        .await
        .unwrap();

    // Write and read through a follower (forwarded to the leader).
    let follower = other_than(&cluster, leader);
    let client = cluster.client(follower, options()).await.unwrap();
    client.put_kv(KEY, "v1").await.unwrap();
    let read = client.get(KEY).await.unwrap();
    assert_eq!(read.kvs[0].value, b"v1");

    // Isolate the leader: the other two elect one of themselves and keep writing;
    // the isolated member cannot serve a linearizable read.
    cluster.isolate(leader);
    let majority: Vec<usize> = all.iter().copied().filter(|&i| i != leader).collect();
    let new_leader = cluster
        .wait_for_leader(&majority, Duration::from_secs(10))
        .await
        .unwrap();
    assert_ne!(new_leader, leader);
    let on_majority = cluster.client(new_leader, options()).await.unwrap();
    on_majority.put_kv(KEY, "v2").await.unwrap();
    let isolated = cluster.client(leader, options()).await.unwrap();
    let stale = isolated.get(KEY).await;
    assert!(
        stale.is_err(),
        "isolated m{leader} served a linearizable read: {stale:?}"
    );
    assert!(isolated.put_kv(KEY, "lost?").await.is_err());
    assert_eq!(
        cluster.unattributed_connections(),
        0,
        "some peer connections escaped the partition"
    );

    // Heal: the old leader catches up and everyone agrees on one leader.
    cluster.heal();
    wait_for_value(&cluster, leader, "v2").await;
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(10))
        .await
        .unwrap();
    let read = isolated.get(KEY).await.unwrap();
    assert_eq!(read.kvs[0].value, b"v2");

    // kill -9 a follower, write without it, restart it from its data dir.
    let victim = other_than(&cluster, leader);
    cluster.kill(victim).unwrap();
    let on_leader = cluster.client(leader, options()).await.unwrap();
    on_leader.put_kv(KEY, "v3").await.unwrap();
    cluster.restart(victim).unwrap();
    wait_for_value(&cluster, victim, "v3").await;

    // Pause a follower: the other two still commit; once resumed it catches up.
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(10))
        .await
        .unwrap();
    let frozen = other_than(&cluster, leader);
    cluster.pause(frozen).unwrap();
    let on_leader = cluster.client(leader, options()).await.unwrap();
    on_leader.put_kv(KEY, "v4").await.unwrap();
    assert!(cluster.leader_among(&[frozen]).await.is_none());
    cluster.resume(frozen).unwrap();
    wait_for_value(&cluster, frozen, "v4").await;
}

#[test]
fn missing_binary_is_reported_by_path() {
    let err = ClusterConfig::with_binary("/nonexistent/ectd".into(), 3).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ectd"), "{err}");
}

/// A failpoint crash in the raft or apply thread must end the member's process at once,
/// whatever else is running: a member whose raft loop died but whose APIs still answer
/// would hold its ports and hang every request sent to it. Needs the `failpoints` build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_member_exits_at_once() {
    use ectd_client::proto::etcdserverpb::PutRequest;
    let config = ClusterConfig::from_env_failpoints(3).expect("ectd binary with failpoints");
    let mut cluster = Cluster::start(config).await.expect("cluster starts");
    let all = [0, 1, 2];
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(30))
        .await
        .unwrap();
    for (i, point) in [
        ((leader + 1) % 3, "apply_after_entry"),
        ((leader + 2) % 3, "raft_after_save"),
    ] {
        if let Err(e) = cluster.set_failpoint(i, point, "1*panic").await {
            panic!("arming {point} on m{i}: {e}\n{}", cluster.log_tail(i, 20));
        }
        let client = cluster.client(leader, options()).await.unwrap();
        let put = PutRequest {
            key: KEY.into(),
            value: point.into(),
            ..Default::default()
        };
        client
            .put(put)
            .await
            .expect("the leader commits with a majority");
        assert!(
            cluster.wait_exited(i, Duration::from_secs(5)).await,
            "m{i} still runs 5 s after panicking at {point}:\n{}",
            cluster.log_tail(i, 20)
        );
        cluster.restart(i).unwrap();
        wait_for_value(&cluster, i, point).await;
    }
}

/// A member that crashes while installing a state snapshot — after deleting its old state,
/// or after installing but before its WAL records it — must come back on restart and
/// catch up. Writes past the leader's in-memory log first, so a replaced (empty) member
/// needs a snapshot. Needs the `failpoints` build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_snapshot_install_is_recovered() {
    use ectd_client::proto::etcdserverpb::PutRequest;
    let mut config = ClusterConfig::from_env_failpoints(3).expect("ectd binary with failpoints");
    config.snapshot_count = Some(1000);
    let mut cluster = Cluster::start(config).await.expect("cluster starts");
    let all = [0, 1, 2];
    for (round, point) in ["snapshot_install_midway", "raft_after_apply_snapshot"]
        .into_iter()
        .enumerate()
    {
        let leader = cluster
            .wait_for_leader(&all, Duration::from_secs(30))
            .await
            .unwrap();
        let client = cluster.client(leader, options()).await.unwrap();
        // Past the 10,000 entries the leader keeps in memory.
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..32 {
            let client = client.clone();
            writers.spawn(async move {
                for i in 0..330 {
                    let put = PutRequest {
                        key: format!("jepsen/fill/{w}/{i}").into_bytes(),
                        value: b"x".to_vec(),
                        ..Default::default()
                    };
                    while client.put(put.clone()).await.is_err() {}
                }
            });
        }
        while writers.join_next().await.is_some() {}
        let victim = (leader + 1) % 3;
        let spec = format!("{point}=1*panic");
        assert!(
            cluster.replace_member(victim, Some(&spec)).await.unwrap(),
            "replacing m{victim} was refused"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while cluster.is_running(victim) {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: m{victim} never reached {point}:\n{}",
                cluster.log_tail(victim, 20)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cluster.restart(victim).unwrap();
        let value = format!("after-{point}");
        let put = PutRequest {
            key: KEY.into(),
            value: value.clone().into_bytes(),
            ..Default::default()
        };
        client.put(put).await.expect("the leader commits");
        wait_for_value(&cluster, victim, &value).await;
        assert!(
            cluster.is_running(victim),
            "{}",
            cluster.log_tail(victim, 20)
        );
    }
}
