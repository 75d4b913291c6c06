//! ectl and the client library over TLS, against a real etcd 3.4 whose
//! client port serves `https://` and accepts only clients with a
//! certificate signed by the test CA (`--client-cert-auth`).
//!
//! Every ectl command line also runs through etcdctl 3.4: the two must
//! agree on success or failure and exit status, and print the same on
//! success. Where etcdctl only reports `context deadline exceeded` for a
//! refused handshake, ectl must say what TLS refused.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

// Shared with suites that use more of it (restarting a member).
#[path = "support/certs.rs"]
mod certs;
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::MemberListRequest;
use ectd_client::{Client, ConnectOptions, Error, TlsOptions};

use certs::Pki;
use etcd::{Etcd, ServerTls};
use tools::binary;

const ECTL: &str = env!("CARGO_BIN_EXE_ectl");

fn flag(name: &str, path: &Path) -> String {
    format!("--{name}={}", path.display())
}

/// One etcd member with TLS on its client port, and the certificates.
struct Secured {
    etcd: Etcd,
    pki: Pki,
    etcdctl: PathBuf,
    _dir: tempfile::TempDir,
}

impl Secured {
    fn start() -> Secured {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = Pki::create(dir.path());
        let etcd = Etcd::start_tls(ServerTls {
            cert_file: pki.server_cert.clone(),
            key_file: pki.server_key.clone(),
            trusted_ca_file: pki.ca.clone(),
            client_flags: vec![
                flag("cacert", &pki.ca),
                flag("cert", &pki.client_cert),
                flag("key", &pki.client_key),
            ],
        });
        Secured {
            etcd,
            pki,
            etcdctl: binary("ETCDCTL_BIN", "/usr/bin/etcdctl"),
            _dir: dir,
        }
    }

    fn port(&self) -> &str {
        self.etcd.endpoint.rsplit_once(':').expect("host:port").1
    }

    /// `--cacert`, `--cert` and `--key` of a trusted client.
    fn trusted(&self) -> Vec<String> {
        vec![
            flag("cacert", &self.pki.ca),
            flag("cert", &self.pki.client_cert),
            flag("key", &self.pki.client_key),
        ]
    }

    /// Runs one tool with `--endpoints=<endpoint>` and `args`, in an
    /// environment without `ETCDCTL_*` variables but `env`.
    fn run(&self, tool: &Path, endpoint: &str, args: &[String], env: &[(&str, &Path)]) -> Output {
        let mut command = Command::new(tool);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCDCTL_") {
                command.env_remove(name);
            }
        }
        if tool == self.etcdctl {
            command.env("ETCDCTL_API", "3");
        }
        command
            .envs(env.iter().copied())
            .arg(format!("--endpoints={endpoint}"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tool")
    }

    /// Runs the command line through ectl and etcdctl; both must succeed
    /// and print the same. Returns what they printed.
    fn both_succeed(&self, endpoint: &str, args: &[String], env: &[(&str, &Path)]) -> String {
        let ectl = self.run(Path::new(ECTL), endpoint, args, env);
        let etcdctl = self.run(&self.etcdctl, endpoint, args, env);
        let show = |out: &Output| {
            format!(
                "{}\nstdout: {}\nstderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        };
        assert!(
            ectl.status.success() && etcdctl.status.success(),
            "{endpoint} {args:?} {env:?}\nectl: {}\netcdctl: {}",
            show(&ectl),
            show(&etcdctl)
        );
        assert_eq!(
            String::from_utf8_lossy(&ectl.stdout),
            String::from_utf8_lossy(&etcdctl.stdout),
            "{endpoint} {args:?}: ectl and etcdctl print differently"
        );
        String::from_utf8_lossy(&ectl.stdout).into_owned()
    }

    /// Runs the command line, with short timeouts, through ectl and
    /// etcdctl; both must fail with the same exit status, and ectl's error must contain every one of
    /// `expected`. Returns ectl's error output.
    fn both_fail(
        &self,
        endpoint: &str,
        given: &[String],
        env: &[(&str, &Path)],
        expected: &[&str],
    ) -> String {
        // etcdctl retries a refused handshake until its deadline.
        let mut args = vec![
            "--dial-timeout=1s".to_string(),
            "--command-timeout=2s".to_string(),
        ];
        args.extend_from_slice(given);
        let ectl = self.run(Path::new(ECTL), endpoint, &args, env);
        let etcdctl = self.run(&self.etcdctl, endpoint, &args, env);
        let stderr = String::from_utf8_lossy(&ectl.stderr).into_owned();
        assert!(
            !ectl.status.success(),
            "{endpoint} {args:?}: ectl succeeded: {}",
            String::from_utf8_lossy(&ectl.stdout)
        );
        assert!(
            !etcdctl.status.success(),
            "{endpoint} {args:?}: etcdctl succeeded: {}",
            String::from_utf8_lossy(&etcdctl.stdout)
        );
        assert_eq!(
            ectl.status.code(),
            etcdctl.status.code(),
            "{endpoint} {args:?}: exit statuses differ; ectl said {stderr}"
        );
        for fragment in expected {
            assert!(
                stderr.contains(fragment),
                "{endpoint} {args:?}: ectl's error lacks {fragment:?}: {stderr}"
            );
        }
        stderr
    }
}

fn with(base: &[String], more: &[&str]) -> Vec<String> {
    base.iter()
        .cloned()
        .chain(more.iter().map(|s| s.to_string()))
        .collect()
}

#[test]
fn ectl_over_tls_behaves_like_etcdctl() {
    let tls = Secured::start();
    let bare = tls.etcd.endpoint.clone();
    let https = format!("https://{bare}");
    let by_name = format!("https://localhost:{}", tls.port());
    let trusted = tls.trusted();

    // A trusted client reads, writes and lists members, whichever way the
    // endpoint is spelled; `localhost` is checked against the
    // certificate's DNS name, `127.0.0.1` against its IP address.
    tls.both_succeed(&bare, &with(&trusted, &["put", "tls/k", "v1"]), &[]);
    for endpoint in [&bare, &https, &by_name] {
        let got = tls.both_succeed(endpoint, &with(&trusted, &["get", "tls/k"]), &[]);
        assert_eq!(got, "tls/k\nv1\n");
    }
    let members = tls.both_succeed(&bare, &with(&trusted, &["member", "list"]), &[]);
    assert!(members.contains(&https), "{members}");
    tls.both_succeed(
        &by_name,
        &with(&trusted, &["del", "tls/none", "--prefix"]),
        &[],
    );
    tls.both_succeed(&bare, &with(&trusted, &["lease", "list"]), &[]);

    // `--cluster` dials the advertised `https://` client URLs with the same
    // TLS settings.
    for command in [["endpoint", "status"], ["endpoint", "health"]] {
        let ectl = tls.run(
            Path::new(ECTL),
            &bare,
            &with(&trusted, &[command[0], command[1], "--cluster"]),
            &[],
        );
        let etcdctl = tls.run(
            &tls.etcdctl,
            &bare,
            &with(&trusted, &[command[0], command[1], "--cluster"]),
            &[],
        );
        for (tool, out) in [("ectl", &ectl), ("etcdctl", &etcdctl)] {
            // `health` reports on stderr, `status` on stdout.
            let report = match command[1] {
                "health" => String::from_utf8_lossy(&out.stderr),
                _ => String::from_utf8_lossy(&out.stdout),
            };
            assert!(
                out.status.success() && report.starts_with(&https),
                "{tool} {command:?} --cluster: {}\n{report}",
                out.status
            );
        }
    }

    // The environment can give the same settings.
    let env = [
        ("ETCDCTL_CACERT", tls.pki.ca.as_path()),
        ("ETCDCTL_CERT", tls.pki.client_cert.as_path()),
        ("ETCDCTL_KEY", tls.pki.client_key.as_path()),
    ];
    let got = tls.both_succeed(&bare, &["get".into(), "tls/k".into()], &env);
    assert_eq!(got, "tls/k\nv1\n");

    // Skipping verification needs no CA, but the client still needs its
    // certificate.
    let unverified = vec![
        "--insecure-skip-tls-verify".to_string(),
        flag("cert", &tls.pki.client_cert),
        flag("key", &tls.pki.client_key),
    ];
    for endpoint in [&bare, &https] {
        tls.both_succeed(endpoint, &with(&unverified, &["get", "tls/k"]), &[]);
    }
    tls.both_succeed(
        &bare,
        &with(&unverified, &["get", "tls/k", "--insecure-transport=false"]),
        &[],
    );

    // Refusals: each must fail, and ectl must say why.
    let ca_only = vec![flag("cacert", &tls.pki.ca)];
    tls.both_fail(
        &bare,
        &with(&ca_only, &["get", "tls/k"]),
        &[],
        &["TLS", "client certificate"],
    );
    let stranger = vec![
        flag("cacert", &tls.pki.ca),
        flag("cert", &tls.pki.stranger_cert),
        flag("key", &tls.pki.stranger_key),
    ];
    tls.both_fail(
        &https,
        &with(&stranger, &["put", "tls/k", "v2"]),
        &[],
        &["TLS", "refused the client certificate"],
    );
    let wrong_ca = vec![
        flag("cacert", &tls.pki.other_ca),
        flag("cert", &tls.pki.client_cert),
        flag("key", &tls.pki.client_key),
    ];
    tls.both_fail(
        &bare,
        &with(&wrong_ca, &["member", "list"]),
        &[],
        &["TLS", "unknown authority"],
    );
    // Without a CA there is nothing to verify the server with (etcdctl
    // tries the system's CAs, which do not know the test CA either).
    let no_ca = vec![
        flag("cert", &tls.pki.client_cert),
        flag("key", &tls.pki.client_key),
    ];
    tls.both_fail(&bare, &with(&no_ca, &["get", "tls/k"]), &[], &["--cacert"]);
    tls.both_fail(
        &by_name,
        &with(&no_ca, &["endpoint", "status"]),
        &[],
        &["--cacert"],
    );
    tls.both_fail(
        &bare,
        &with(&no_ca, &["get", "tls/k", "--insecure-transport=false"]),
        &[],
        &["--cacert"],
    );
    // Plaintext to a TLS port does not get through either.
    tls.both_fail(&bare, &["get".into(), "tls/k".into()], &[], &[]);
    tls.both_fail(
        &format!("http://{bare}"),
        &with(&trusted, &["get", "tls/k"]),
        &[],
        &[],
    );

    // Flag mistakes are reported as etcdctl reports them, word for word.
    let cert_without_key = vec![
        flag("cacert", &tls.pki.ca),
        flag("cert", &tls.pki.client_cert),
    ];
    let stderr = tls.both_fail(&bare, &with(&cert_without_key, &["get", "k"]), &[], &[]);
    assert_eq!(
        stderr,
        format!(
            "Error: KeyFile and CertFile must both be present[key: , cert: {}]\n",
            tls.pki.client_cert.display()
        )
    );
    let key_from_env = [("ETCDCTL_KEY", tls.pki.client_key.as_path())];
    let stderr = tls.both_fail(&bare, &with(&ca_only, &["get", "k"]), &key_from_env, &[]);
    assert_eq!(
        stderr,
        format!(
            "Error: KeyFile and CertFile must both be present[key: {}, cert: ]\n",
            tls.pki.client_key.display()
        )
    );
    let stderr = tls.both_fail(
        &bare,
        &["--cacert=".into(), "get".into(), "k".into()],
        &[],
        &[],
    );
    assert_eq!(stderr, "Error: empty string is passed to --cacert option\n");
    let missing_ca = tls.pki.ca.with_file_name("missing.pem");
    tls.both_fail(
        &bare,
        &[flag("cacert", &missing_ca), "get".into(), "k".into()],
        &[],
        &["missing.pem"],
    );
}

#[test]
fn library_connects_over_tls() {
    let tls = Secured::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let trusted = TlsOptions {
        ca_file: Some(tls.pki.ca.clone()),
        cert_file: Some(tls.pki.client_cert.clone()),
        key_file: Some(tls.pki.client_key.clone()),
        ..TlsOptions::default()
    };
    // A refusal is final, so it must not wait for this.
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(10),
        ..ConnectOptions::default()
    };
    let by_name = format!("localhost:{}", tls.port());
    runtime.block_on(async {
        let client = Client::connect_tls(std::slice::from_ref(&by_name), options, &trusted)
            .await
            .expect("connect over TLS");
        assert_eq!(client.endpoint(), format!("https://{by_name}"));
        client.put_kv("lib/k", "v").await.expect("put");
        let members = client
            .member_list(MemberListRequest::default())
            .await
            .expect("member list");
        assert_eq!(members.members.len(), 1);

        let https = format!("https://{}", tls.etcd.endpoint);
        assert!(matches!(
            Client::connect_with(std::slice::from_ref(&https), options).await,
            Err(Error::InvalidEndpoint { .. })
        ));

        let refusals = [
            (
                TlsOptions {
                    cert_file: None,
                    key_file: None,
                    ..trusted.clone()
                },
                "client certificate",
            ),
            (
                TlsOptions {
                    ca_file: Some(tls.pki.other_ca.clone()),
                    ..trusted.clone()
                },
                "unknown authority",
            ),
        ];
        for (settings, expected) in refusals {
            let started = Instant::now();
            let err = Client::connect_tls(std::slice::from_ref(&https), options, &settings)
                .await
                .expect_err("refused");
            let Error::TlsHandshake { reason } = &err else {
                panic!("not a TLS failure: {err:?}");
            };
            assert!(reason.contains(expected), "{reason}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "a TLS refusal was retried until the dial timeout"
            );
        }
    });
}
