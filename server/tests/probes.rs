//! Health probes on a 3-member cluster: `/livez`, `/readyz`, `/health` and the
//! gRPC health service while healthy, on a member cut off from the rest (the other
//! two stopped with SIGSTOP), and after they resume. The healthy answers are
//! compared with real etcd 3.6's.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get, Cluster, Kind, ELECTION_MS};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const TIMEOUT: Duration = Duration::from_secs(15);

fn get(port: u16, path: &str) -> (u16, String) {
    http_get(port, path, TIMEOUT).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Polls `path` until it answers `status`, returning the body.
fn wait_for(port: u16, path: &str, status: u16, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (s, body) = get(port, path);
        if s == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {s} {body:?}, want {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn grpc_health(port: u16) -> ServingStatus {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connecting for gRPC health");
        let mut c = HealthClient::new(channel);
        let r = c
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("gRPC health check");
        ServingStatus::try_from(r.into_inner().status).expect("a known status")
    })
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

const READYZ_VERBOSE: &str =
    "[+]linearizable_read ok\n[+]non_learner ok\n[+]data_corruption ok\n[+]serializable_read ok\nok\n";

#[test]
fn probes_follow_the_cluster() {
    let cluster = Cluster::start(Kind::Ectd, 3, &[]);
    for m in &cluster.members {
        let port = m.client_port();
        assert_eq!(get(port, "/livez"), (200, "ok\n".into()));
        assert_eq!(get(port, "/readyz"), (200, "ok\n".into()));
        assert_eq!(
            get(port, "/livez?verbose"),
            (200, "[+]serializable_read ok\nok\n".into())
        );
        assert_eq!(get(port, "/readyz?verbose"), (200, READYZ_VERBOSE.into()));
        assert_eq!(
            get(port, "/readyz?verbose&exclude=linearizable_read"),
            (
                200,
                "[+]non_learner ok\n[+]data_corruption ok\n[+]serializable_read ok\nok\n".into()
            )
        );
        assert_eq!(get(port, "/readyz/linearizable_read"), (200, "ok\n".into()));
        assert_eq!(get(port, "/livez/nothing").0, 404);
        assert_eq!(
            get(port, "/health"),
            (200, r#"{"health":"true","reason":""}"#.into())
        );
        assert_eq!(grpc_health(port), ServingStatus::Serving);
        // Members exchange raft traffic: the peer families exist.
        let (_, metrics) = get(port, "/metrics");
        for name in [
            "etcd_network_peer_sent_bytes_total",
            "etcd_network_peer_received_bytes_total",
            "etcd_network_peer_sent_failures_total",
        ] {
            assert!(metrics.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }
    let leader_metrics = cluster
        .members
        .iter()
        .map(|m| get(m.client_port(), "/metrics").1)
        .find(|t| t.contains("etcd_server_is_leader 1"))
        .expect("one member leads");
    assert!(leader_metrics.contains("etcd_network_peer_round_trip_time_seconds_bucket"));

    // Cut m1 off: the other two stop answering.
    let port = cluster.members[0].client_port();
    let others: Vec<u32> = cluster.members[1..]
        .iter()
        .map(|m| m.pid().expect("running"))
        .collect();
    for pid in &others {
        signal(*pid, "-STOP");
    }
    let cut_off = Duration::from_millis(20 * ELECTION_MS);
    let body = wait_for(port, "/readyz", 503, cut_off);
    assert!(
        body.contains("[-]linearizable_read failed: reason withheld\n"),
        "{body}"
    );
    assert!(body.ends_with("readyz check failed\n"), "{body}");
    // Alive: the local state still reads.
    assert_eq!(get(port, "/livez"), (200, "ok\n".into()));
    assert_eq!(
        get(port, "/readyz?exclude=linearizable_read"),
        (200, "ok\n".into())
    );
    let health = wait_for(port, "/health", 503, cut_off);
    assert!(health.contains(r#""health":"false""#), "{health}");
    let deadline = Instant::now() + cut_off;
    while grpc_health(port) != ServingStatus::NotServing {
        assert!(Instant::now() < deadline, "gRPC health still SERVING");
        std::thread::sleep(Duration::from_millis(100));
    }
    let no_leader = wait_for(port, "/health?serializable=true", 503, cut_off);
    assert_eq!(no_leader, r#"{"health":"false","reason":"RAFT NO LEADER"}"#);

    for pid in &others {
        signal(*pid, "-CONT");
    }
    wait_for(port, "/readyz", 200, cut_off);
    wait_for(port, "/health", 200, cut_off);
    let deadline = Instant::now() + cut_off;
    while grpc_health(port) != ServingStatus::Serving {
        assert!(Instant::now() < deadline, "gRPC health still NOT_SERVING");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An answer with its lines sorted: etcd 3.6 lists verbose checks in no fixed
/// order.
fn unordered((status, body): (u16, String)) -> (u16, Vec<String>) {
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    lines.sort();
    (status, lines)
}

/// Kills real etcd when dropped.
struct EtcdProcess(Child);

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn healthy_probes_match_etcd_3_6() {
    let bin = etcd_bin_vendored::etcd_bin_path().expect("etcd 3.6 for this machine");
    let dir = tempfile::tempdir().expect("temp dir");
    let (client, peer) = (free_port(), free_port());
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let _etcd = EtcdProcess(
        Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path().join("etcd"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("default={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting etcd 3.6"),
    );
    let ectd_dir = dir.path().join("ectd");
    std::fs::create_dir_all(&ectd_dir).expect("ectd's directory");
    let ectd = common::Ectd::start(&ectd_dir, &[]);
    let deadline = Instant::now() + TIMEOUT;
    while http_get(client, "/readyz", TIMEOUT).map(|r| r.0) != Ok(200) {
        assert!(Instant::now() < deadline, "etcd 3.6 never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    for path in [
        "/livez",
        "/readyz",
        "/livez?verbose",
        "/readyz?verbose",
        "/readyz?verbose&exclude=linearizable_read",
        "/readyz?exclude=non_learner&exclude=serializable_read&verbose",
        "/livez/serializable_read",
        "/readyz/data_corruption",
        "/health",
        "/health?serializable=true",
    ] {
        assert_eq!(
            unordered(get(ectd.client_port(), path)),
            unordered(get(client, path)),
            "{path}: ectd vs etcd 3.6"
        );
    }
}
