//! The compaction-hash check (`--experimental-compact-hash-check-enabled`): the
//! leader compares the hashes members record at each compaction.

use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::{
    AlarmType, CompactionRequest, DeleteRangeRequest, PutRequest, StatusRequest,
};
use ectd_client::Client;

use crate::common::{Cluster, Kind};
use crate::corrupt::corrupt_history;
use crate::{all_logs, connect, raised_alarms, refuses_writes_as_corrupt, run};

/// Flags every member runs with: the check on, every half second, and JSON logs
/// so the test can read what the leader checked.
const CHECK: &[&str] = &[
    "--experimental-compact-hash-check-enabled",
    "--experimental-compact-hash-check-time",
    "500ms",
    "--log-format",
    "json",
];

/// The index of the leader and of one follower, as the members report them.
async fn leader_and_follower(cl: &Cluster) -> (usize, usize) {
    let mut leader = None;
    let mut follower = None;
    for (i, m) in cl.members.iter().enumerate() {
        let s = connect(&m.endpoint())
            .await
            .maintenance()
            .status(StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        if s.header.map_or(0, |h| h.member_id) == s.leader {
            leader = Some(i);
        } else {
            follower = Some(i);
        }
    }
    (leader.expect("a leader"), follower.expect("a follower"))
}

async fn put(c: &Client, key: &str, value: &str) -> i64 {
    c.kv()
        .put(PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            ..Default::default()
        })
        .await
        .expect("put")
        .into_inner()
        .header
        .map_or(0, |h| h.revision)
}

async fn compact(c: &Client, revision: i64) {
    c.kv()
        .compact(CompactionRequest {
            revision,
            physical: false,
        })
        .await
        .unwrap_or_else(|e| panic!("compacting at {revision}: {e}"));
}

/// Whether some member's log says the leader confirmed `revision` on every peer.
fn whole_cluster_checked(cl: &Cluster, revision: i64) -> bool {
    let want = format!("\"revision\":{revision}");
    cl.members.iter().any(|m| {
        std::fs::read_to_string(m.log_path())
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("successfully checked hash on whole cluster") && l.contains(&want))
    })
}

#[test]
fn changed_history_is_found_by_the_compaction_hash_check() {
    run(async {
        let mut cl = Cluster::start(Kind::Ectd, 3, CHECK);
        let c0 = connect(&cl.members[0].endpoint()).await;
        for i in 0..20 {
            put(&c0, &format!("k{i}"), &format!("value-{i}")).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (leader, f) = leader_and_follower(&cl).await;

        // The oldest put in the follower's history changes while it is stopped.
        cl.members[f].stop();
        corrupt_history(cl.members[f].data_dir());
        cl.members[f].restart();

        // Nothing was compacted, so nothing is compared yet.
        let lc = connect(&cl.members[leader].endpoint()).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(raised_alarms(&lc).await, vec![]);

        // A compaction covering the changed version: every member records its
        // hash, and the follower's differs.
        let rev = put(&lc, "last", "v").await;
        compact(&lc, rev).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = raised_alarms(&lc).await;
            if !got.is_empty() {
                // As etcd 3.5's check, the alarm names member 0.
                assert_eq!(got, vec![(0, AlarmType::Corrupt as i32)]);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no CORRUPT alarm\n{}",
                cl.log_tails(20)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let logs = all_logs(&cl);
        assert!(
            logs.contains("failed compaction hash check"),
            "{}",
            cl.log_tails(20)
        );

        // Every member then refuses writes, as etcd does.
        for m in &cl.members {
            refuses_writes_as_corrupt(m).await;
        }
    });
}

#[test]
fn agreeing_histories_raise_nothing_while_compactions_run() {
    run(async {
        let mut cl = Cluster::start(Kind::Ectd, 3, CHECK);
        // One follower deletes compacted versions slowly, so the leader asks it
        // while its deletions are under way.
        let (_, slow) = leader_and_follower(&cl).await;
        cl.members[slow].add_args(&[
            "--experimental-compaction-batch-limit",
            "5",
            "--experimental-compaction-sleep-interval",
            "40ms",
        ]);
        cl.members[slow].restart();
        let (leader, _) = leader_and_follower(&cl).await;
        let lc = connect(&cl.members[leader].endpoint()).await;

        let mut compacted = Vec::new();
        let mut n = 0;
        for round in 0..3 {
            for _ in 0..250 {
                n += 1;
                let key = format!("key-{}", n % 37);
                if n % 11 == 0 {
                    lc.kv()
                        .delete_range(DeleteRangeRequest {
                            key: key.into_bytes(),
                            ..Default::default()
                        })
                        .await
                        .expect("delete");
                } else {
                    put(&lc, &key, &format!("round {round} write {n}")).await;
                }
            }
            let rev = put(&lc, "mark", &format!("round {round}")).await;
            compact(&lc, rev).await;
            compacted.push(rev);
            assert_eq!(
                raised_alarms(&lc).await,
                vec![],
                "after compacting at {rev}"
            );
        }

        // The newest compaction ends up confirmed on every member, and nothing
        // is raised on the way.
        let last = *compacted.last().expect("compactions");
        let deadline = Instant::now() + Duration::from_secs(90);
        while !whole_cluster_checked(&cl, last) {
            assert_eq!(raised_alarms(&lc).await, vec![]);
            assert!(
                Instant::now() < deadline,
                "the compaction at {last} was never checked on the whole cluster\n{}",
                cl.log_tails(30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The premise: the leader asked the slow member while its deletions were
        // under way (each of its compactions takes seconds, the check runs every
        // half second), and skipped it then.
        let logs = all_logs(&cl);
        let skipped = logs
            .lines()
            .filter(|l| l.contains("skipped revision in compaction hash check"))
            .count();
        let confirmed = logs
            .lines()
            .filter(|l| l.contains("successfully checked hash on whole cluster"))
            .count();
        eprintln!("compaction hash checks: {skipped} skipped, {confirmed} confirmed");
        assert!(skipped > 0, "{}", cl.log_tails(30));
        // A few more rounds of the check after every deletion finished.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(raised_alarms(&lc).await, vec![]);
        for m in &cl.members {
            let s = connect(&m.endpoint())
                .await
                .maintenance()
                .status(StatusRequest {})
                .await
                .expect("status")
                .into_inner();
            assert!(s.errors.is_empty(), "{}: {:?}", m.name(), s.errors);
        }
    });
}
