//! The short end-to-end run CI does on every change: every workload on 3 members under every
//! kind of fault, which must find no anomaly. Needs `ectd` built with the `failpoints`
//! feature (`scripts/test.sh` builds one beside the binary users run).

use std::time::Duration;

use ectd_jepsen::cluster::ClusterConfig;
use ectd_jepsen::nemesis::{Kind, Schedule};
use ectd_jepsen::report::Check;
use ectd_jepsen::run::{run, RunConfig, WorkloadKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_workload_under_every_fault_is_correct() {
    let mut cluster = ClusterConfig::from_env_failpoints(3).expect("ectd binary with failpoints");
    // Small enough that members purge their WAL and a replaced member gets a snapshot.
    cluster.snapshot_count = Some(2000);
    let out = tempfile::tempdir().unwrap();
    let mut config = RunConfig::new(cluster, Duration::from_secs(45), 7);
    config.workloads = WorkloadKind::ALL.to_vec();
    config.nemesis = Schedule {
        kinds: Kind::ALL.to_vec(),
        quiet_ms: 1500..3000,
        hold_ms: 1000..2500,
    };
    config.out = Some(out.path().to_path_buf());
    let report = run(config).await;
    let kept = |why: &str| {
        // Keep the report and member logs of a failed run for a person to look at.
        let path = out.path().to_path_buf();
        format!("{why} (report and logs kept in {})", path.display())
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let message = kept(&format!("run failed: {e}"));
            std::mem::forget(out);
            panic!("{message}");
        }
    };
    let summary = report.summary();
    println!("{summary}");
    if !report.anomalies.is_empty() {
        let message = kept(&summary);
        std::mem::forget(out);
        panic!("{message}");
    }
    assert_eq!(report.verdict(), Check::Valid, "{summary}");
    assert!(report.faults.len() >= 5, "too few faults: {summary}");
    assert!(report.total_ops > 500, "too few operations: {summary}");
    let watch = report.watch.as_ref().expect("watch workload ran");
    assert!(watch.events > 100, "watchers saw too little: {summary}");
    let register = report.register.as_ref().expect("register workload ran");
    let register_ops: usize = register.ops.values().flat_map(|o| o.values()).sum();
    let history = std::fs::read_to_string(out.path().join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), register_ops);
    for file in [
        "summary.json",
        "append.jsonl",
        "watch.json",
        "timeline.html",
    ] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
}
