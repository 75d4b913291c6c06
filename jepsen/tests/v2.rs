//! etcd's v2 keys API under faults: the v2 register and set workloads on 3 members started
//! with `--enable-v2`, under every fault that needs no failpoint build, must find no
//! anomaly; and the same checks must catch the stale answers of reads without
//! `quorum=true` on a member cut off by a partition.

use std::time::Duration;

use ectd_jepsen::cluster::ClusterConfig;
use ectd_jepsen::nemesis::{Kind, Schedule};
use ectd_jepsen::report::{Check, Report};
use ectd_jepsen::run::{run, RunConfig, WorkloadKind};

const V2: [WorkloadKind; 2] = [WorkloadKind::V2Register, WorkloadKind::V2Set];

/// Runs `config`, writing the report to a temporary directory that is kept (and named in
/// the panic message) when `keep` says the run failed.
async fn run_kept(
    mut config: RunConfig,
    keep: impl Fn(&Report) -> bool,
) -> (Report, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    config.out = Some(out.path().to_path_buf());
    let report = match run(config).await {
        Ok(r) => r,
        Err(e) => {
            let path = out.keep();
            panic!(
                "run failed: {e} (report and logs kept in {})",
                path.display()
            );
        }
    };
    println!("{}", report.summary());
    if keep(&report) {
        let path = out.keep();
        panic!(
            "{} (report and logs kept in {})",
            report.summary(),
            path.display()
        );
    }
    (report, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_workloads_under_faults_are_correct() {
    let cluster = ClusterConfig::from_env(3).expect("ectd binary");
    let mut config = RunConfig::new(cluster, Duration::from_secs(30), 11);
    config.workloads = V2.to_vec();
    config.nemesis = Schedule {
        kinds: Kind::ALL
            .into_iter()
            .filter(|k| *k != Kind::Failpoint)
            .collect(),
        quiet_ms: 1500..3000,
        hold_ms: 1000..2500,
    };
    let (report, out) = run_kept(config, |r| r.verdict() != Check::Valid).await;
    let summary = report.summary();
    assert!(report.faults.len() >= 4, "too few faults: {summary}");
    let register = report.v2_register.as_ref().expect("v2 register ran");
    let register_ops: usize = register.ops.values().flat_map(|o| o.values()).sum();
    assert!(register_ops > 300, "too few v2 register ops: {summary}");
    assert!(register.linearizable.len() >= 3, "{summary}");
    let set = report.v2_set.as_ref().expect("v2 set ran");
    assert!(set.acknowledged > 100, "too few v2 adds: {summary}");
    assert!(set.present >= set.acknowledged, "{summary}");
    let history = std::fs::read_to_string(out.path().join("v2-history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), register_ops);
    let adds = std::fs::read_to_string(out.path().join("v2-set.jsonl")).unwrap();
    assert_eq!(adds.lines().count(), set.adds);
    let timeline = std::fs::read_to_string(out.path().join("timeline.html")).unwrap();
    assert!(
        timeline.contains("v2 set client"),
        "timeline lacks the v2 lanes"
    );
}

/// Reads without `quorum=true` are answered from the member's own store: a member cut off
/// from the majority keeps answering with values the majority has since overwritten. The
/// checker has to report that history as not linearizable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v2_local_reads_under_partitions_are_reported() {
    let cluster = ClusterConfig::from_env(3).expect("ectd binary");
    let mut config = RunConfig::new(cluster, Duration::from_secs(20), 3);
    config.workloads = vec![WorkloadKind::V2Register];
    config.v2_quorum_reads = false;
    config.nemesis = Schedule {
        kinds: vec![Kind::Partition],
        quiet_ms: 500..1000,
        hold_ms: 2000..3000,
    };
    let (report, _out) = run_kept(config, |r| r.verdict() != Check::Anomaly).await;
    let summary = report.summary();
    let register = report.v2_register.as_ref().expect("v2 register ran");
    assert!(
        register.linearizable.values().any(|c| *c == Check::Anomaly),
        "{summary}"
    );
    assert!(
        report
            .anomalies
            .iter()
            .any(|a| a.starts_with("v2: ") && a.contains("not linearizable")),
        "{summary}"
    );
}
