//! TLS on the client and peer ports, checked with real etcdctl 3.4 and side by side
//! with real etcd: client-certificate authentication, peer mutual TLS between
//! members named by host name (a stranger's
//! certificate, or one outside the allowed CN, opens nothing), certificate rotation
//! without a restart, auto-TLS clusters, TLS from the configuration file, and an
//! unsupported configuration key refused by name.

#[path = "../common/mod.rs"]
mod common;
mod pki;
mod proc;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Kind;
use ectd_client::proto::etcdserverpb::StatusRequest;
use ectd_client::Client;
use ectd_proto::peer::peer_client::PeerClient;
use ectd_proto::peer::MembersRequest;
use pki::{Leaf, Pki};
use proc::{etcdctl, ports, single_args, wait_ok, Proc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn client_flags(ep: &str, ca: Option<&Path>, cert: Option<&Leaf>) -> Vec<String> {
    let mut v = vec![format!("--endpoints={ep}")];
    if let Some(ca) = ca {
        v.push(format!("--cacert={}", s(ca)));
    }
    if let Some(c) = cert {
        v.push(format!("--cert={}", s(&c.cert)));
        v.push(format!("--key={}", s(&c.key)));
    }
    v
}

fn run(base: &[String], more: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
    args.extend_from_slice(more);
    let out = etcdctl(&args, stdin);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What one server answers etcdctl over TLS: each check's success, and the
/// output of those whose output both servers must agree on.
fn client_cert_matrix(kind: Kind, pki: &Pki) -> Vec<(String, bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let mut args = single_args(dir.path(), "m", ports, "https", "http");
    args.extend([
        format!("--cert-file={}", s(&pki.server.cert)),
        format!("--key-file={}", s(&pki.server.key)),
        format!("--trusted-ca-file={}", s(&pki.ca.cert_file())),
        "--client-cert-auth".to_string(),
    ]);
    let mut p = Proc::spawn(kind, "m", dir.path(), args);
    let ep = format!("https://127.0.0.1:{}", ports.0);
    let ca = pki.ca.cert_file();
    let good = client_flags(&ep, Some(&ca), Some(&pki.client));
    let mut ready = good.clone();
    ready.push("endpoint".into());
    ready.push("health".into());
    let ready: Vec<&str> = ready.iter().map(String::as_str).collect();
    wait_ok(&mut p, &ready);

    let mut results = Vec::new();
    let mut record = |name: &str, r: (bool, String, String), compare_output: bool| {
        let shown = if compare_output {
            r.1.clone()
        } else {
            String::new()
        };
        if !r.0 && name.starts_with("ok:") {
            eprintln!("{kind:?} {name} failed: {}", r.2);
        }
        results.push((name.to_string(), r.0, shown));
    };
    record(
        "ok: put",
        run(&good, &["put", "greeting", "hello"], None),
        true,
    );
    record("ok: get", run(&good, &["get", "greeting"], None), true);
    record(
        "ok: txn",
        run(
            &good,
            &["txn"],
            Some("value(\"greeting\") = \"hello\"\n\nput greeting bye\n\nget greeting\n\n"),
        ),
        true,
    );
    record(
        "ok: lease grant",
        run(&good, &["lease", "grant", "60"], None),
        false,
    );
    record(
        "ok: member list",
        run(&good, &["member", "list"], None),
        false,
    );
    record(
        "ok: endpoint status",
        run(&good, &["endpoint", "status"], None),
        false,
    );
    // A watch from revision 1 replays the history at once.
    {
        let mut args: Vec<&str> = good.iter().map(String::as_str).collect();
        args.extend(["watch", "greeting", "--rev=1"]);
        let out = proc::etcdctl_for(&args, Duration::from_secs(3));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        record(
            "ok: watch",
            (text.contains("PUT\ngreeting\nhello"), text, String::new()),
            true,
        );
    }
    // Refused: no client certificate, a stranger's certificate, no CA to check the
    // server with, plaintext to a TLS port.
    let none = client_flags(&ep, Some(&ca), None);
    record(
        "refused: no client cert",
        run(&none, &["get", "greeting"], None),
        false,
    );
    let stranger = client_flags(&ep, Some(&ca), Some(&pki.stranger));
    record(
        "refused: client cert from another CA",
        run(&stranger, &["get", "greeting"], None),
        false,
    );
    let no_ca = client_flags(&ep, None, Some(&pki.client));
    record(
        "refused: server cert not checked against a CA",
        run(&no_ca, &["get", "greeting"], None),
        false,
    );
    let plain = client_flags(&format!("http://127.0.0.1:{}", ports.0), None, None);
    record(
        "refused: plaintext",
        run(&plain, &["get", "greeting"], None),
        false,
    );
    drop(p);
    results
}

#[test]
fn etcdctl_with_client_certificates_gets_what_etcd_gives() {
    let pki = Pki::new();
    let ectd = client_cert_matrix(Kind::Ectd, &pki);
    let etcd = client_cert_matrix(Kind::Etcd, &pki);
    for ((name, ok, out), (_, eok, eout)) in ectd.iter().zip(&etcd) {
        let want = name.starts_with("ok:");
        assert_eq!(*eok, want, "etcd: {name}");
        assert_eq!(*ok, want, "ectd: {name}");
        assert_eq!(out, eout, "{name}: ectd and etcd print different output");
    }
}

fn rustls_client(ca: &Path, cert: Option<&Leaf>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut cfg = match cert {
        Some(l) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(&l.cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(&l.key).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

/// The Common Name of the certificate a TLS server presents on a new connection.
async fn served_cn(port: u16, tls: Arc<rustls::ClientConfig>) -> String {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .unwrap();
    let der = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    cn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificate_files_serve_new_connections_without_a_restart() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let live = pki.ca.issue("live", "first", &["127.0.0.1"]);
    let ports = ports();
    let mut args = single_args(dir.path(), "m", ports, "https", "http");
    args.extend([
        format!("--cert-file={}", s(&live.cert)),
        format!("--key-file={}", s(&live.key)),
    ]);
    let mut p = Proc::spawn(Kind::Ectd, "m", dir.path(), args);
    let ep = format!("https://127.0.0.1:{}", ports.0);
    let ca = pki.ca.cert_file();
    let flags = client_flags(&ep, Some(&ca), None);
    let mut ready: Vec<&str> = flags.iter().map(String::as_str).collect();
    ready.extend(["endpoint", "health"]);
    wait_ok(&mut p, &ready);
    let tls = rustls_client(&ca, None);
    assert_eq!(served_cn(ports.0, tls.clone()).await, "first");

    // Rotate: the new pair is written beside and renamed over the old files.
    let next = pki.ca.issue("next", "second", &["127.0.0.1"]);
    std::fs::rename(&next.key, &live.key).unwrap();
    std::fs::rename(&next.cert, &live.cert).unwrap();
    assert_eq!(served_cn(ports.0, tls).await, "second");
    let (ok, _, err) = run(&flags, &["put", "after-rotation", "yes"], None);
    assert!(ok, "{err}");
    assert!(p.is_running());
}

/// A member of a peer-mTLS cluster: client port plaintext, peer port TLS with
/// client certificates required, from `ca`, with CN `member`.
fn peer_tls_member(
    dir: &Path,
    i: usize,
    all: &[(u16, u16)],
    token: &str,
    leaf: &Leaf,
    ca: &Path,
) -> Proc {
    let name = format!("m{}", i + 1);
    let initial = all
        .iter()
        .enumerate()
        .map(|(j, p)| format!("m{}=https://localhost:{}", j + 1, p.1))
        .collect::<Vec<_>>()
        .join(",");
    // Peers are named by host name, not address: certificates and dialing both
    // go by the name.
    let client = format!("http://127.0.0.1:{}", all[i].0);
    let listen_peer = format!("https://127.0.0.1:{}", all[i].1);
    let peer = format!("https://localhost:{}", all[i].1);
    let args = vec![
        format!("--name={name}"),
        format!("--data-dir={}", dir.join(format!("{name}.data")).display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={listen_peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster={initial}"),
        format!("--initial-cluster-token={token}"),
        "--heartbeat-interval=50".into(),
        "--election-timeout=500".into(),
        format!("--peer-cert-file={}", s(&leaf.cert)),
        format!("--peer-key-file={}", s(&leaf.key)),
        format!("--peer-trusted-ca-file={}", s(ca)),
        "--peer-client-cert-auth".into(),
        "--peer-cert-allowed-cn=member".into(),
    ];
    Proc::spawn(Kind::Ectd, &name, dir, args)
}

async fn leader_of(endpoints: &[String]) -> Option<(usize, u64)> {
    for (i, e) in endpoints.iter().enumerate() {
        let Ok(c) = Client::connect(std::slice::from_ref(e)).await else {
            continue;
        };
        let Ok(s) = c.maintenance().status(StatusRequest {}).await else {
            continue;
        };
        let s = s.into_inner();
        let me = s.header.map_or(0, |h| h.member_id);
        if s.leader != 0 && s.leader == me {
            return Some((i, me));
        }
    }
    None
}

async fn leader_term(endpoint: &str) -> u64 {
    let c = Client::connect(&[endpoint.to_string()]).await.unwrap();
    let st = c.maintenance().status(StatusRequest {}).await.unwrap();
    st.into_inner().raft_term
}

async fn peer_call(port: u16, tls: Arc<rustls::ClientConfig>) -> Result<tonic::Status, String> {
    let ch = ectd_server::tls::connect::channel(
        &format!("https://localhost:{port}"),
        Some(&tls),
        Duration::from_secs(3),
    )
    .await?;
    let r = PeerClient::new(ch)
        .members(MembersRequest {
            cluster_token: "not-the-token".into(),
        })
        .await;
    match r {
        Ok(_) => Err("a wrong token was accepted".into()),
        Err(s) if s.code() == tonic::Code::FailedPrecondition => Ok(s),
        Err(s) => Err(format!("{:?}: {}", s.code(), s.message())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_mutual_tls_cluster_forms_survives_a_leader_kill_and_refuses_strangers() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<(u16, u16)> = (0..3).map(|_| ports()).collect();
    let ca = pki.ca.cert_file();
    let mut members: Vec<Proc> = (0..3)
        .map(|i| {
            let leaf = pki.ca.issue(&format!("peer{i}"), "member", &["localhost"]);
            peer_tls_member(dir.path(), i, &all, "tls-cluster", &leaf, &ca)
        })
        .collect();
    let endpoints: Vec<String> = all
        .iter()
        .map(|p| format!("http://127.0.0.1:{}", p.0))
        .collect();
    for (i, m) in members.iter_mut().enumerate() {
        let ep = format!("--endpoints={}", endpoints[i]);
        wait_ok(m, &[&ep, "endpoint", "health"]);
    }
    let (ok, _, err) = run(
        &[format!("--endpoints={}", endpoints[0])],
        &["put", "k1", "v1"],
        None,
    );
    assert!(ok, "{err}");
    let (ok, out, err) = run(
        &[format!("--endpoints={}", endpoints[2])],
        &["get", "k1", "--print-value-only"],
        None,
    );
    assert!(ok && out == "v1\n", "{out} {err}");

    // A stranger's certificate, or the right CA with a CN outside the allowed one,
    // opens nothing on the peer port; the members' own certificate does.
    let stranger = rustls_client(&ca, Some(&pki.stranger));
    let intruder = pki.ca.issue("intruder", "intruder", &["127.0.0.1"]);
    let outside_cn = rustls_client(&ca, Some(&intruder));
    let no_cert = rustls_client(&ca, None);
    let insider = pki.ca.issue("insider", "member", &["127.0.0.1"]);
    let member_cert = rustls_client(&ca, Some(&insider));
    for (i, p) in all.iter().enumerate() {
        for (what, tls) in [
            ("another CA", stranger.clone()),
            ("a CN outside the allowed one", outside_cn.clone()),
            ("no certificate", no_cert.clone()),
        ] {
            let r = peer_call(p.1, tls).await;
            assert!(
                r.is_err(),
                "m{}: a peer with {what} got through: {r:?}",
                i + 1
            );
        }
        peer_call(p.1, member_cert.clone())
            .await
            .unwrap_or_else(|e| panic!("m{}: the members' certificate is refused: {e}", i + 1));
    }
    // A fourth process with a stranger's certificate cannot join.
    let mut all4 = all.clone();
    all4.push(ports());
    let stranger_leaf = pki
        .other_ca
        .issue("peer-stranger", "member", &["127.0.0.1"]);
    let mut fourth = peer_tls_member(dir.path(), 3, &all4, "tls-cluster", &stranger_leaf, &ca);
    // Its raft messages (votes, as it campaigns) never get through: it finds no
    // leader, and the cluster still has its three members at the same term.
    let term_before = leader_term(&endpoints[0]).await;
    std::thread::sleep(Duration::from_secs(4));
    let (ok, _, _) = run(
        &[format!("--endpoints=http://127.0.0.1:{}", all4[3].0)],
        &["endpoint", "health"],
        None,
    );
    assert!(!ok, "the stranger found a quorum");
    let (ok, out, err) = run(
        &[format!("--endpoints={}", endpoints[0])],
        &["member", "list"],
        None,
    );
    assert!(ok && out.lines().count() == 3, "{out} {err}");
    assert_eq!(leader_term(&endpoints[0]).await, term_before);
    fourth.kill9();

    // The leader dies; the other two elect a new one and go on.
    let (li, _) = leader_of(&endpoints).await.expect("a leader");
    members[li].kill9();
    let rest: Vec<usize> = (0..3).filter(|&i| i != li).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (ok, _, err) = run(
            &[format!("--endpoints={}", endpoints[rest[0]])],
            &["put", "k2", "v2"],
            None,
        );
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no write after the leader kill: {err}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (ok, out, err) = run(
        &[format!("--endpoints={}", endpoints[rest[1]])],
        &["get", "k2", "--print-value-only"],
        None,
    );
    assert!(ok && out == "v2\n", "{out} {err}");
}

#[test]
fn auto_tls_cluster_forms_and_serves_etcdctl_skipping_verification() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<(u16, u16)> = (0..3).map(|_| ports()).collect();
    let initial = all
        .iter()
        .enumerate()
        .map(|(j, p)| format!("m{}=https://127.0.0.1:{}", j + 1, p.1))
        .collect::<Vec<_>>()
        .join(",");
    let mut members: Vec<Proc> = (0..3)
        .map(|i| {
            let name = format!("m{}", i + 1);
            let client = format!("https://127.0.0.1:{}", all[i].0);
            let peer = format!("https://127.0.0.1:{}", all[i].1);
            let args = vec![
                format!("--name={name}"),
                format!("--data-dir={}", dir.path().join(&name).display()),
                format!("--listen-client-urls={client}"),
                format!("--advertise-client-urls={client}"),
                format!("--listen-peer-urls={peer}"),
                format!("--initial-advertise-peer-urls={peer}"),
                format!("--initial-cluster={initial}"),
                "--heartbeat-interval=50".into(),
                "--election-timeout=500".into(),
                "--auto-tls".into(),
                "--peer-auto-tls".into(),
            ];
            Proc::spawn(Kind::Ectd, &name, dir.path(), args)
        })
        .collect();
    let flags = |i: usize| {
        vec![
            format!("--endpoints=https://127.0.0.1:{}", all[i].0),
            "--insecure-transport=false".to_string(),
            "--insecure-skip-tls-verify".to_string(),
        ]
    };
    for (i, m) in members.iter_mut().enumerate() {
        let f = flags(i);
        let mut args: Vec<&str> = f.iter().map(String::as_str).collect();
        args.extend(["endpoint", "health"]);
        wait_ok(m, &args);
        assert!(dir
            .path()
            .join(format!("m{}", i + 1))
            .join("fixtures/peer/cert.pem")
            .is_file());
    }
    let (ok, _, err) = run(&flags(0), &["put", "auto", "tls"], None);
    assert!(ok, "{err}");
    for i in 0..3 {
        let (ok, out, err) = run(&flags(i), &["get", "auto", "--print-value-only"], None);
        assert!(ok && out == "tls\n", "m{}: {out} {err}", i + 1);
    }
    // Without skipping verification the self-signed certificate is refused.
    let (ok, _, _) = run(
        &[
            format!("--endpoints=https://127.0.0.1:{}", all[0].0),
            "--insecure-transport=false".to_string(),
        ],
        &["get", "auto"],
        None,
    );
    assert!(!ok);
}

#[test]
fn client_transport_security_in_the_config_file_serves_tls() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let file = dir.path().join("ectd.yaml");
    std::fs::write(
        &file,
        format!(
            "name: m
data-dir: {data}
listen-client-urls: https://127.0.0.1:{c}
advertise-client-urls: https://127.0.0.1:{c}
listen-peer-urls: http://127.0.0.1:{p}
initial-advertise-peer-urls: http://127.0.0.1:{p}
initial-cluster: m=http://127.0.0.1:{p}
client-transport-security:
  cert-file: {cert}
  key-file: {key}
",
            data = s(&dir.path().join("data")),
            c = ports.0,
            p = ports.1,
            cert = s(&pki.server.cert),
            key = s(&pki.server.key),
        ),
    )
    .unwrap();
    let mut p = Proc::spawn(
        Kind::Ectd,
        "m",
        dir.path(),
        vec![format!("--config-file={}", s(&file))],
    );
    let ca = pki.ca.cert_file();
    let flags = client_flags(&format!("https://127.0.0.1:{}", ports.0), Some(&ca), None);
    let mut ready: Vec<&str> = flags.iter().map(String::as_str).collect();
    ready.extend(["endpoint", "health"]);
    wait_ok(&mut p, &ready);
    let plain = client_flags(&format!("http://127.0.0.1:{}", ports.0), None, None);
    let (ok, _, _) = run(&plain, &["get", "x"], None);
    assert!(!ok, "the TLS port answered plaintext");
    drop(p);

    // A key ectd does not implement stops the start, named.
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(&file).unwrap() + "enable-pprof: true\n";
    std::fs::write(&bad, text).unwrap();
    let mut p = Proc::spawn(
        Kind::Ectd,
        "bad",
        dir.path(),
        vec![format!("--config-file={}", s(&bad))],
    );
    let status = p.wait_exit(Duration::from_secs(10)).expect("ectd exits");
    assert!(!status.success());
    let log = std::fs::read_to_string(&p.log).unwrap();
    assert!(log.contains("enable-pprof"), "{log}");
    // TLS settings with no https:// URL for them are refused too.
    let mut args = single_args(dir.path(), "plain", ports, "http", "http");
    args.push(format!("--cert-file={}", s(&pki.server.cert)));
    args.push(format!("--key-file={}", s(&pki.server.key)));
    let mut p = Proc::spawn(Kind::Ectd, "plain", dir.path(), args);
    let status = p.wait_exit(Duration::from_secs(10)).expect("ectd exits");
    assert!(!status.success());
    let log = std::fs::read_to_string(&p.log).unwrap();
    assert!(log.contains("https://"), "{log}");
}

/// With auth on and `--client-cert-auth`, a client certificate's CN is the
/// user, as in etcd: what one server answers etcdctl as `alice` (by
/// certificate alone) and as `root`.
fn cn_matrix(kind: Kind, pki: &Pki, alice: &Leaf) -> Vec<(String, bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let ports = ports();
    let mut args = single_args(dir.path(), "m", ports, "https", "http");
    args.extend([
        format!("--cert-file={}", s(&pki.server.cert)),
        format!("--key-file={}", s(&pki.server.key)),
        format!("--trusted-ca-file={}", s(&pki.ca.cert_file())),
        "--client-cert-auth".to_string(),
    ]);
    let mut p = Proc::spawn(kind, "m", dir.path(), args);
    let ep = format!("https://127.0.0.1:{}", ports.0);
    let ca = pki.ca.cert_file();
    let root = client_flags(&ep, Some(&ca), Some(&pki.client));
    let as_alice = client_flags(&ep, Some(&ca), Some(alice));
    let mut ready = root.clone();
    ready.extend(["endpoint".to_string(), "health".to_string()]);
    let ready: Vec<&str> = ready.iter().map(String::as_str).collect();
    wait_ok(&mut p, &ready);
    let setup: [&[&str]; 7] = [
        &["user", "add", "root:rootpw"],
        &["user", "grant-role", "root", "root"],
        &["role", "add", "a-writer"],
        &["role", "grant-permission", "a-writer", "readwrite", "a"],
        &["user", "add", "alice:alicepw"],
        &["user", "grant-role", "alice", "a-writer"],
        &["auth", "enable"],
    ];
    for step in setup {
        let r = run(&root, step, None);
        assert!(r.0, "{kind:?} setup {step:?}: {}", r.2);
    }
    let mut results = Vec::new();
    let checks: [(&str, &Vec<String>, &[&str]); 6] = [
        ("alice puts a", &as_alice, &["put", "a", "1"]),
        ("alice gets a", &as_alice, &["get", "a"]),
        ("alice puts b", &as_alice, &["put", "b", "1"]),
        ("alice lists users", &as_alice, &["user", "list"]),
        ("root lists users", &root, &["user", "list"]),
        ("root puts b", &root, &["put", "b", "2"]),
    ];
    for (name, who, cmd) in checks {
        let (ok, out, err) = run(who, cmd, None);
        let err = err
            .lines()
            .find(|l| l.starts_with("Error:"))
            .unwrap_or("")
            .to_string();
        results.push((name.to_string(), ok, format!("{out}{err}")));
    }
    results
}

#[test]
fn client_certificate_cn_is_the_user_as_in_etcd() {
    let pki = Pki::new();
    let alice = pki.ca.issue("alice", "alice", &[]);
    let ectd = cn_matrix(Kind::Ectd, &pki, &alice);
    let etcd = cn_matrix(Kind::Etcd, &pki, &alice);
    assert_eq!(ectd, etcd);
    let allowed: Vec<bool> = etcd.iter().map(|r| r.1).collect();
    assert_eq!(allowed, [true, true, false, false, true, true], "{etcd:?}");
}
