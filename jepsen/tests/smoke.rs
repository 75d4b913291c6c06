//! The first end-to-end run: 15 s of the register workload on 3 members under the nemesis,
//! which must find no anomaly.

use std::time::Duration;

use ectd_jepsen::cluster::ClusterConfig;
use ectd_jepsen::run::{run, Check, RunConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn register_under_faults_is_linearizable() {
    let cluster = ClusterConfig::from_env(3).expect("ectd binary");
    let out = tempfile::tempdir().unwrap();
    let mut config = RunConfig::new(cluster, Duration::from_secs(15), 7);
    config.out = Some(out.path().to_path_buf());
    let report = run(config).await.expect("run completes");
    let summary = report.summary();
    println!("{summary}");
    assert!(report.anomalies.is_empty(), "{summary}");
    assert_eq!(report.verdict(), Check::Valid, "{summary}");
    assert!(!report.faults.is_empty(), "no fault injected: {summary}");
    assert!(report.total_ops > 50, "too few operations: {summary}");
    let history = std::fs::read_to_string(out.path().join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), report.total_ops);
    assert!(out.path().join("summary.json").is_file());
}
