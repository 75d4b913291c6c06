//! `/metrics`: every metric name ectd promises (etcd's names) is exported, the
//! counters move under a small workload, and `promtool check metrics` accepts the
//! output. Runs a real `ectd` and real `etcdctl` against it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port, http_get, Ectd, ETCDCTL};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Every family `/metrics` must hold (histograms by their base name).
const NAMES: &[&str] = &[
    "etcd_server_has_leader",
    "etcd_server_is_leader",
    "etcd_server_leader_changes_seen_total",
    "etcd_server_proposals_committed_total",
    "etcd_server_proposals_applied_total",
    "etcd_server_proposals_pending",
    "etcd_server_proposals_failed_total",
    "etcd_server_heartbeat_send_failures_total",
    "etcd_server_slow_apply_total",
    "etcd_server_slow_read_indexes_total",
    "etcd_server_quota_backend_bytes",
    "etcd_server_version",
    "etcd_disk_wal_fsync_duration_seconds",
    "etcd_disk_backend_commit_duration_seconds",
    "etcd_mvcc_db_total_size_in_bytes",
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "etcd_mvcc_put_total",
    "etcd_mvcc_delete_total",
    "etcd_mvcc_range_total",
    "etcd_mvcc_txn_total",
    "etcd_debugging_mvcc_keys_total",
    "etcd_debugging_mvcc_db_total_size_in_bytes",
    "etcd_debugging_mvcc_db_compaction_keys_total",
    "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
    "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
    "etcd_network_client_grpc_sent_bytes_total",
    "etcd_network_client_grpc_received_bytes_total",
    "grpc_server_started_total",
    "grpc_server_handled_total",
    "grpc_server_msg_received_total",
    "grpc_server_msg_sent_total",
    "grpc_server_handling_seconds",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_start_time_seconds",
    // ectd's own: where a proposal's time goes.
    "ectd_server_proposal_stage_duration_seconds",
];

/// promtool's lint complaints about names etcd itself gives to gauges; ectd keeps
/// etcd's names and types so dashboards work, so these are expected.
const INHERITED_LINT: &[&str] = &[
    "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
    "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
    "etcd_debugging_mvcc_keys_total non-counter metrics should not have \"_total\" suffix",
    "etcd_server_proposals_applied_total non-counter metrics should not have \"_total\" suffix",
    "etcd_server_proposals_committed_total non-counter metrics should not have \"_total\" suffix",
];

fn etcdctl(endpoint: &str, args: &[&str]) {
    let out = Command::new(ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .args(args)
        .output()
        .expect("running etcdctl");
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the sample whose line starts with `series ` (0 if absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a sample value"))
}

fn families(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/deps.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feeding promtool");
    let out = child.wait_with_output().expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Exit 1 is a parse error; 3 lists lint problems, each of which must be one
    // inherited from etcd's own names.
    match out.status.code() {
        Some(0) => {}
        Some(3) => {
            for line in said.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    INHERITED_LINT.contains(&line.trim()),
                    "promtool lint problem: {line}\n{said}"
                );
            }
        }
        other => panic!("promtool check metrics failed ({other:?}): {said}"),
    }
}

#[test]
fn metrics_have_etcds_names_and_move_under_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let metrics_port = free_port();
    let metrics_url = format!("http://127.0.0.1:{metrics_port}");
    let m = Ectd::start(
        dir.path(),
        &[
            "--metrics",
            "extensive",
            "--listen-metrics-urls",
            &metrics_url,
        ],
    );
    let scrape = |port| {
        let (status, body) = http_get(port, "/metrics", TIMEOUT).expect("scraping /metrics");
        assert_eq!(status, 200, "{body}");
        body
    };
    let before = scrape(m.client_port());
    let ep = m.endpoint();
    for i in 0..5 {
        etcdctl(&ep, &["put", &format!("k{i}"), "v"]);
    }
    etcdctl(&ep, &["get", "k0"]);
    etcdctl(&ep, &["del", "k1"]);
    let after = scrape(m.client_port());
    // The metrics listener serves the same registry.
    let separate = scrape(metrics_port);

    let present = families(&after);
    for name in NAMES {
        assert!(present.contains(name), "{name} missing from /metrics");
    }
    assert!(families(&separate).contains(&"etcd_server_has_leader"));
    assert!(
        !present.iter().any(|n| n.starts_with("go_")),
        "no go_* metrics are exported"
    );

    let moved = |series: &str, by: f64| {
        let (a, b) = (sample(&before, series), sample(&after, series));
        assert!(b >= a + by, "{series}: {a} -> {b}, expected +{by}");
    };
    moved("etcd_server_proposals_committed_total", 6.0);
    moved("etcd_server_proposals_applied_total", 6.0);
    moved("etcd_disk_wal_fsync_duration_seconds_count", 6.0);
    moved("etcd_disk_backend_commit_duration_seconds_count", 6.0);
    moved("etcd_mvcc_put_total", 5.0);
    moved("etcd_mvcc_delete_total", 1.0);
    moved("etcd_mvcc_range_total", 1.0);
    moved("etcd_network_client_grpc_received_bytes_total", 1.0);
    moved("etcd_network_client_grpc_sent_bytes_total", 1.0);
    moved(
        r#"grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#,
        5.0,
    );
    moved(
        r#"grpc_server_started_total{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#,
        1.0,
    );
    moved(
        r#"grpc_server_msg_received_total{grpc_method="DeleteRange",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#,
        1.0,
    );
    moved(
        r#"grpc_server_handling_seconds_count{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#,
        5.0,
    );
    // A lone member leads, so each of its five puts and the delete passes every
    // stage, notify included: each changed a key.
    for stage in [
        "queue",
        "commit",
        "apply_wait",
        "apply",
        "notify",
        "wake",
        "total",
    ] {
        let series =
            format!(r#"ectd_server_proposal_stage_duration_seconds_count{{stage="{stage}"}}"#);
        moved(&series, 6.0);
    }
    assert_eq!(sample(&after, "etcd_server_has_leader"), 1.0);
    assert_eq!(sample(&after, "etcd_server_is_leader"), 1.0);
    assert_eq!(sample(&after, "etcd_debugging_mvcc_keys_total"), 4.0);
    assert!(after.contains("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"}"));
    assert!(after.contains("etcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"}"));
    promtool(&after);
}

#[test]
fn invalid_metrics_flags_are_refused_by_name() {
    let ectd = env!("CARGO_BIN_EXE_ectd");
    for (args, name) in [
        (&["--metrics", "verbose"][..], "--metrics"),
        (
            &["--listen-metrics-urls", "http://example.com:1"][..],
            "--listen-metrics-urls",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new(ectd)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("running ectd");
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{args:?}: {err}");
    }
}
