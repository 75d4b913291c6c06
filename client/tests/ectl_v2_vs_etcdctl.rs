//! ectl's v2 mode must be a drop-in replacement for etcdctl 3.4 run with
//! `ETCDCTL_API=2`: this test runs one script of etcdctl 2 command lines
//! through etcdctl against a real etcd 3.4 (`--enable-v2`) and through
//! ectl against a second server, and requires identical stdout, stderr and
//! exit status.
//!
//! The second server is another etcd (so ectl itself is checked) or ectd
//! started with `--enable-v2` (so ectd's v2 API is checked too). Both
//! servers are single members started with the same advertised peer URL
//! and cluster token, hence the same cluster and member IDs, and both get
//! the same requests in the same order, so their indexes stay in step.
//!
//! Masked before comparing, and only these: each server's client port, the
//! tool's name and version (in help and `--version`), expiration times,
//! TTLs of keys read some time after they were written, the order of
//! unsorted listings (etcd lists in random order), and the four commands
//! etcdctl's command list has that ectl does not implement (`backup`,
//! `user`, `role`, `auth`).
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

#[allow(dead_code)]
#[path = "support/certs.rs"]
mod certs;
#[allow(dead_code)]
#[path = "support/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

#[path = "ectl_v2/harness.rs"]
mod harness;
#[path = "ectl_v2/membership.rs"]
mod membership;
#[path = "ectl_v2/script.rs"]
mod script;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;

use certs::Pki;
use etcd::{Etcd, ServerTls};
use harness::{Compare, Side, ECTL};
use membership::membership;
use script::script;
use tools::binary;

#[test]
fn ectl_v2_matches_etcdctl_on_etcd() {
    let mut t = Compare::new(Etcd::start_with(&["--enable-v2"]));
    script(&mut t);
    t.assert_no_mismatches();
}

#[test]
fn ectl_v2_on_ectd_matches_etcdctl_on_etcd() {
    let mut t = Compare::new(Etcd::start_ectd_with(&["--enable-v2"]));
    script(&mut t);
    t.assert_no_mismatches();
}

/// etcdctl and ectl with the same TLS files against one etcd that serves
/// `https://` and requires client certificates. Only reads are compared
/// (both tools use the same server); the data is written first.
#[test]
fn ectl_v2_over_tls_matches_etcdctl() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::create(dir.path());
    let flag = |name: &str, path: &Path| format!("--{name}={}", path.display());
    let etcd = Rc::new(Etcd::start_tls_with(
        ServerTls {
            cert_file: pki.server_cert.clone(),
            key_file: pki.server_key.clone(),
            trusted_ca_file: pki.ca.clone(),
            client_flags: vec![
                flag("cacert", &pki.ca),
                flag("cert", &pki.client_cert),
                flag("key", &pki.client_key),
            ],
        },
        &["--enable-v2"],
    ));
    let files = vec![
        flag("ca-file", &pki.ca),
        flag("cert-file", &pki.client_cert),
        flag("key-file", &pki.client_key),
    ];
    let mut t = Compare::with(etcd.clone(), etcd, "https", files);
    let setup = t.reference.run(&["set", "/tls/a", "secret"], "");
    assert_eq!(setup.code, Some(0), "{setup:?}");
    let setup = t.reference.run(&["mkdir", "/tls/d"], "");
    assert_eq!(setup.code, Some(0), "{setup:?}");
    t.check(&["get", "/tls/a"]);
    t.check(&["-o", "json", "get", "/tls/a"]);
    t.check(&["ls", "--sort", "-p", "/tls"]);
    t.check(&["get", "/tls/missing"]);
    t.check(&["--debug", "-o", "extended", "get", "/tls/a"]);
    t.check(&["--no-sync", "get", "/tls/a"]);
    t.check(&["watch", "--after-index", "1", "-r", "/tls"]);
    t.check(&["member", "list"]);
    t.check(&["cluster-health"]);
    t.assert_no_mismatches();

    // The same files through etcdctl 2's variables.
    let with_variables = |side: &Side| {
        let mut command = Command::new(&side.tool);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCDCTL_") {
                command.env_remove(name);
            }
        }
        let output = command
            .env("ETCDCTL_API", "2")
            .env("ETCDCTL_ENDPOINTS", side.url())
            .env("ETCDCTL_CA_FILE", &pki.ca)
            .env("ETCDCTL_CERT_FILE", &pki.client_cert)
            .env("ETCDCTL_KEY_FILE", &pki.client_key)
            .args(["get", "/tls/a"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (output.status.code(), output.stdout)
    };
    assert_eq!(with_variables(&t.reference), with_variables(&t.candidate));
    assert_eq!(
        with_variables(&t.candidate),
        (Some(0), b"secret\n".to_vec())
    );

    // Without a client certificate the server refuses both tools; how they
    // word the TLS failure differs (Go's and rustls's words).
    let anonymous = |side: &Side| {
        let mut command = Command::new(&side.tool);
        let output = command
            .env("ETCDCTL_API", "2")
            .arg(flag("ca-file", &pki.ca))
            .args(["--endpoints", &side.url(), "get", "/tls/a"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (etcdctl_code, _) = anonymous(&t.reference);
    let (ectl_code, ectl_error) = anonymous(&t.candidate);
    assert_eq!(etcdctl_code, ectl_code, "{ectl_error}");
    assert!(ectl_error.contains("client certificate"), "{ectl_error}");
}

/// A member added with `member add`, started with the settings it printed,
/// checked with `member list` and `cluster-health`, updated and removed:
/// once with etcdctl and once with ectl, each against a fresh etcd (and
/// once more with ectl against ectd). Member IDs and ports differ between
/// the runs and are masked; so is the order of `member list` (by ID).
#[test]
fn ectl_v2_member_add_and_remove_match_etcdctl() {
    let etcd = || binary("ETCD_BIN", "/usr/bin/etcd");
    let etcdctl = binary("ETCDCTL_BIN", "/usr/bin/etcdctl");
    let expected = membership(etcd(), &etcdctl);
    let on_etcd = membership(etcd(), Path::new(ECTL));
    assert_eq!(
        expected, on_etcd,
        "ectl on etcd differs from etcdctl on etcd"
    );
}

#[test]
fn ectl_v2_member_add_and_remove_on_ectd_match_etcdctl() {
    let ectd = Path::new(ECTL).with_file_name("ectd");
    let ectd = std::env::var_os("ECTD_BIN").map_or(ectd, PathBuf::from);
    let etcdctl = binary("ETCDCTL_BIN", "/usr/bin/etcdctl");
    let expected = membership(binary("ETCD_BIN", "/usr/bin/etcd"), &etcdctl);
    let on_ectd = membership(ectd, Path::new(ECTL));
    assert_eq!(
        expected, on_ectd,
        "ectl on ectd differs from etcdctl on etcd"
    );
}
