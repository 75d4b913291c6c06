//! A throw-away single-member etcd on loopback, for tests that talk to a
//! real etcd 3.4.
//!
//! Every plaintext instance advertises the same peer URL and cluster
//! token, so two instances have the same cluster and member IDs: the same
//! requests give byte-identical answers from both. A single-member cluster never dials
//! its peer URL, so nothing needs to listen there.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::{binary, free_port};

const SHARED_PEER_URL: &str = "http://127.0.0.1:2380";

/// How long etcd may take to start serving.
const STARTUP: Duration = Duration::from_secs(30);

/// TLS on a member's client port: etcd serves `https://` with
/// `cert_file`/`key_file` and accepts only clients whose certificate is
/// signed by `trusted_ca_file` (`--client-cert-auth`).
#[derive(Clone)]
pub struct ServerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub trusted_ca_file: PathBuf,
    /// etcdctl flags that get a client through that check, for the
    /// readiness probe (`--cacert=…`, `--cert=…`, `--key=…`).
    pub client_flags: Vec<String>,
}

pub struct Etcd {
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
    extra_args: Vec<String>,
    tls: Option<ServerTls>,
    etcd: PathBuf,
    etcdctl: PathBuf,
    peer_port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts a member with a fresh data directory and waits until it
    /// serves linearizable reads. The binaries are `/usr/bin/etcd` and
    /// `/usr/bin/etcdctl` unless `ETCD_BIN`/`ETCDCTL_BIN` say otherwise.
    pub fn start() -> Etcd {
        Etcd::start_with(&[])
    }

    /// [`Etcd::start`] with more command-line flags for etcd.
    pub fn start_with(extra_args: &[&str]) -> Etcd {
        Etcd::launch_new(binary("ETCD_BIN", "/usr/bin/etcd"), extra_args, None)
    }

    /// [`Etcd::start`] with TLS on the client port. Unlike the plaintext
    /// members, which all advertise one shared peer URL, this one
    /// advertises the peer URL it listens on.
    pub fn start_tls(tls: ServerTls) -> Etcd {
        Etcd::start_tls_with(tls, &[])
    }

    /// [`Etcd::start_tls`] with more command-line flags for etcd.
    pub fn start_tls_with(tls: ServerTls, extra_args: &[&str]) -> Etcd {
        Etcd::launch_new(binary("ETCD_BIN", "/usr/bin/etcd"), extra_args, Some(tls))
    }

    /// An `ectd` member started exactly as [`Etcd::start`] starts etcd (ectd
    /// takes etcd's flags and derives the same cluster and member IDs from
    /// them). The binary is the `ectd` built next to `ectl`, or `$ECTD_BIN`.
    pub fn start_ectd() -> Etcd {
        Etcd::start_ectd_with(&[])
    }

    /// [`Etcd::start_ectd`] with more command-line flags for ectd.
    pub fn start_ectd_with(extra_args: &[&str]) -> Etcd {
        let default = std::path::Path::new(env!("CARGO_BIN_EXE_ectl")).with_file_name("ectd");
        let path = std::env::var_os("ECTD_BIN").map_or(default, PathBuf::from);
        assert!(
            path.is_file(),
            "{} not found: build the server first (`cargo build -p ectd-server`) or set ECTD_BIN",
            path.display()
        );
        Etcd::launch_new(path, extra_args, None)
    }

    fn launch_new(server: PathBuf, extra_args: &[&str], tls: Option<ServerTls>) -> Etcd {
        let mut attempt = 1;
        loop {
            let mut etcd = Etcd {
                endpoint: format!("127.0.0.1:{}", free_port()),
                extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
                tls: tls.clone(),
                etcd: server.clone(),
                etcdctl: binary("ETCDCTL_BIN", "/usr/bin/etcdctl"),
                peer_port: free_port(),
                child: None,
                dir: tempfile::tempdir().expect("temp dir"),
            };
            match etcd.try_launch() {
                Ok(()) => return etcd,
                // Another test bound a port between its pick and the member's
                // bind: pick new ones.
                Err(log)
                    if attempt < 5 && log.to_lowercase().contains("address already in use") =>
                {
                    attempt += 1;
                }
                Err(log) => panic!("{log}"),
            }
        }
    }

    /// Kills the member at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the member again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    fn launch(&mut self) {
        if let Err(log) = self.try_launch() {
            panic!("{log}");
        }
    }

    /// Starts the member and waits until it serves; the reason and the log if it
    /// does not.
    fn try_launch(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("etcd log");
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let (scheme, advertised_peer_url, tls_args) = match &self.tls {
            None => ("http", SHARED_PEER_URL, Vec::new()),
            Some(tls) => (
                "https",
                peer_url.as_str(),
                vec![
                    format!("--cert-file={}", tls.cert_file.display()),
                    format!("--key-file={}", tls.key_file.display()),
                    format!("--trusted-ca-file={}", tls.trusted_ca_file.display()),
                    "--client-cert-auth".to_string(),
                ],
            ),
        };
        let child = Command::new(&self.etcd)
            .arg("--name=default")
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={scheme}://{}", self.endpoint))
            .arg(format!(
                "--advertise-client-urls={scheme}://{}",
                self.endpoint
            ))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!(
                "--initial-advertise-peer-urls={advertised_peer_url}"
            ))
            .arg(format!("--initial-cluster=default={advertised_peer_url}"))
            .arg("--initial-cluster-token=ectl-vs-etcdctl")
            .args(tls_args)
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let probe = Command::new(&self.etcdctl)
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &self.endpoint, "--command-timeout=1s"])
                .args(self.tls.iter().flat_map(|tls| &tls.client_flags))
                .args(["get", "ready-probe"])
                .stdin(Stdio::null())
                .output()
                .expect("run etcdctl");
            if probe.status.success() {
                return Ok(());
            }
            if exited.is_some() || Instant::now() >= deadline {
                self.kill();
                return Err(format!(
                    "etcd at {} did not become ready; log:\n{}",
                    self.endpoint,
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}
