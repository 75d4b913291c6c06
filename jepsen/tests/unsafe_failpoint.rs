//! The harness must catch a member that breaks its guarantees: with the
//! `unsafe_read_without_read_index` failpoint armed, members answer linearizable reads from
//! local state, so a member cut off by a partition serves stale values while the majority
//! moves on. The register checker has to report that history as not linearizable, and name
//! a small sub-history that shows it.

use std::time::Duration;

use ectd_jepsen::cluster::ClusterConfig;
use ectd_jepsen::nemesis::{Kind, Schedule};
use ectd_jepsen::report::Check;
use ectd_jepsen::run::{run, RunConfig, WorkloadKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_local_reads_are_reported() {
    let mut cluster = ClusterConfig::from_env_failpoints(3).expect("ectd binary with failpoints");
    cluster.failpoints = Some("unsafe_read_without_read_index=return".into());
    let out = tempfile::tempdir().unwrap();
    let mut config = RunConfig::new(cluster, Duration::from_secs(20), 3);
    config.workloads = vec![WorkloadKind::Register];
    config.nemesis = Schedule {
        kinds: vec![Kind::Partition],
        quiet_ms: 500..1000,
        hold_ms: 2000..3000,
    };
    config.out = Some(out.path().to_path_buf());
    let report = run(config).await.expect("run completes");
    let summary = report.summary();
    println!("{summary}");
    assert_eq!(report.verdict(), Check::Anomaly, "{summary}");
    let register = report.register.as_ref().expect("register workload ran");
    assert!(
        register.linearizable.values().any(|c| *c == Check::Anomaly),
        "{summary}"
    );
    assert!(
        report
            .anomalies
            .iter()
            .any(|a| a.contains("not linearizable") && a.contains("smallest offending")),
        "{summary}"
    );
    let timeline = std::fs::read_to_string(out.path().join("timeline.html")).unwrap();
    assert!(timeline.contains("<svg"), "timeline has no picture");
}
