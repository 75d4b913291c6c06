//! One server process, started alone or as a cluster member.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    free_port, http_get, require_etcd_binary, Ports, ELECTION_MS, ETCD, HEARTBEAT_MS,
    READY_TIMEOUT, STOP_TIMEOUT,
};

/// Which server a [`Member`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// This project's server.
    Ectd,
    /// Real etcd, the reference.
    Etcd,
}

/// The binary a server of `kind` runs unless told otherwise.
fn default_bin(kind: Kind) -> PathBuf {
    match kind {
        Kind::Ectd => PathBuf::from(env!("CARGO_BIN_EXE_ectd")),
        Kind::Etcd => require_etcd_binary(ETCD),
    }
}

/// Starts `ectd`.
pub struct Ectd;

impl Ectd {
    /// Starts `ectd` with its data and log under `dir`, plus `extra_args`, and
    /// waits until it serves linearizable reads.
    pub fn start(dir: &Path, extra_args: &[&str]) -> Member {
        Member::start(Kind::Ectd, dir, extra_args)
    }
}

/// Starts real etcd.
pub struct Etcd;

impl Etcd {
    /// Starts etcd with its data and log under `dir` and waits until it is healthy.
    pub fn start(dir: &Path) -> Member {
        Member::start(Kind::Etcd, dir, &[])
    }

    /// Like [`Etcd::start`] with extra flags (such as `--max-txn-ops`).
    pub fn start_with(dir: &Path, extra_args: &[&str]) -> Member {
        Member::start(Kind::Etcd, dir, extra_args)
    }
}

/// A server certificate and key for a member's extra `https://` client URL.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// PEM certificate for 127.0.0.1.
    pub cert: PathBuf,
    /// PEM key.
    pub key: PathBuf,
}

/// A running server process with fixed ports and data directory. Killed on drop.
pub struct Member {
    kind: Kind,
    name: String,
    bin: PathBuf,
    args: Vec<String>,
    data_dir: PathBuf,
    log: PathBuf,
    client_port: u16,
    peer_port: u16,
    /// The port of an extra `https://` client URL, if any.
    tls_port: Option<u16>,
    /// Extra environment of the process (see [`Member::restart_with`]).
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Member {
    fn start(kind: Kind, dir: &Path, extra_args: &[&str]) -> Member {
        Member::start_inner(kind, dir, extra_args, None)
    }

    /// Starts `kind` like [`Ectd::start`] / [`Etcd::start_with`], serving clients on
    /// an `https://` URL with `tls` as well as on the plaintext one (which the
    /// readiness check keeps using).
    pub fn start_tls(kind: Kind, dir: &Path, extra_args: &[&str], tls: &ServerTls) -> Member {
        Member::start_inner(kind, dir, extra_args, Some(tls))
    }

    /// Starts the etcd binary at `bin` (another release than the one at
    /// [`ETCD`]) like [`Etcd::start_with`].
    pub fn start_etcd_bin(bin: &Path, dir: &Path, extra_args: &[&str]) -> Member {
        Member::start_bin(Kind::Etcd, bin.to_path_buf(), dir, extra_args, None)
    }

    fn start_inner(kind: Kind, dir: &Path, extra_args: &[&str], tls: Option<&ServerTls>) -> Member {
        Member::start_bin(kind, default_bin(kind), dir, extra_args, tls)
    }

    fn start_bin(
        kind: Kind,
        bin: PathBuf,
        dir: &Path,
        extra_args: &[&str],
        tls: Option<&ServerTls>,
    ) -> Member {
        // A port found free can be taken by another process before the server
        // binds it (other suites run on this machine too); a fresh pair of ports
        // is tried when that happens, and only then.
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            let client_port = free_port();
            let peer_port = free_port();
            let mut m = Member {
                kind,
                name: "default".into(),
                bin: bin.clone(),
                args: Vec::new(),
                data_dir: dir.join("data"),
                log: dir.join("stderr.log"),
                client_port,
                peer_port,
                tls_port: tls.map(|_| free_port()),
                env: Vec::new(),
                child: None,
            };
            m.args = m.command_line(extra_args, tls);
            m.spawn();
            match m.try_wait_ready(READY_TIMEOUT) {
                Ok(()) => return m,
                Err(why) => {
                    m.kill9();
                    let tail = m.stderr_tail(60);
                    if attempt < ATTEMPTS && tail.to_lowercase().contains("address already in use")
                    {
                        let _ = std::fs::remove_dir_all(&m.data_dir);
                        continue;
                    }
                    panic!("{why}\n{tail}");
                }
            }
        }
        unreachable!("the last attempt panics")
    }

    fn command_line(&self, extra_args: &[&str], tls: Option<&ServerTls>) -> Vec<String> {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let listen = match (self.tls_port, tls) {
            (Some(port), Some(_)) => format!("{client},https://127.0.0.1:{port}"),
            _ => client.clone(),
        };
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut args: Vec<String> = vec![
            "--name".into(),
            "default".into(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--listen-client-urls".into(),
            listen,
            "--advertise-client-urls".into(),
            client,
            "--listen-peer-urls".into(),
            peer.clone(),
            "--initial-advertise-peer-urls".into(),
            peer.clone(),
            "--initial-cluster".into(),
            format!("default={peer}"),
            "--log-level".into(),
            "info".into(),
        ];
        if let Some(t) = tls {
            args.push(format!("--cert-file={}", t.cert.display()));
            args.push(format!("--key-file={}", t.key.display()));
        }
        if self.kind == Kind::Etcd {
            // etcd 3.4 defaults to the capnslog logger, which ignores --log-level.
            args.extend(["--logger".into(), "zap".into()]);
        }
        args.extend(extra_args.iter().map(|s| s.to_string()));
        args
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{:?} is already running", self.kind);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.log.display()));
        // Restarts append to the same log; a marker keeps the runs apart.
        let _ = writeln!(
            log,
            "----- starting {} {}",
            self.bin.display(),
            self.args.join(" ")
        );
        let stdout = log.try_clone().expect("cloning the log file handle");
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(log));
        // Both servers read their flags from ETCD_* variables too; a stray one in
        // the caller's environment must not change what is being tested.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("ETCD_") || k.starts_with("ECTD_") {
                cmd.env_remove(k.as_ref());
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// Which server this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The client URL, `http://127.0.0.1:P`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The `https://` client URL of a member started with [`Member::start_tls`].
    pub fn tls_endpoint(&self) -> Option<String> {
        self.tls_port.map(|p| format!("https://127.0.0.1:{p}"))
    }

    /// The client address without scheme, `127.0.0.1:P`, as etcdctl takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The process id, if running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it to exit; panics (after
    /// killing it) if it does not exit within [`STOP_TIMEOUT`] or exits with an error.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("running kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", c.id());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match c.try_wait().expect("waiting for the server") {
                Some(st) => {
                    assert!(
                        st.success() || self.kind == Kind::Etcd,
                        "{:?} exited with {st} after SIGTERM\n{}",
                        self.kind,
                        self.stderr_tail(40)
                    );
                    return;
                }
                None if Instant::now() > deadline => {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!(
                        "{:?} did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                        self.kind,
                        self.stderr_tail(40)
                    );
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Starts the process again on the same data directory and ports (stopping it
    /// gracefully first if it still runs) and waits until it serves.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
        self.wait_ready(READY_TIMEOUT);
    }

    /// Stops the process (gracefully, if it still runs) and starts `bin` (or the
    /// same binary) on the same data directory and ports with `env` added to its
    /// environment, without waiting for it to serve.
    pub fn restart_with(&mut self, bin: Option<&Path>, env: &[(&str, &str)]) {
        self.stop();
        if let Some(bin) = bin {
            self.bin = bin.to_path_buf();
        }
        self.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.spawn();
    }

    /// Like [`Member::restart`] but returns how long the server took to become ready.
    pub fn restart_timed(&mut self) -> Duration {
        self.stop();
        let t = Instant::now();
        self.spawn();
        self.wait_ready(READY_TIMEOUT);
        t.elapsed()
    }

    /// Adds flags for the next start.
    pub fn add_args(&mut self, args: &[&str]) {
        self.args.extend(args.iter().map(|a| a.to_string()));
    }

    /// Drops a flag (and nothing else) before the next start.
    pub fn remove_arg(&mut self, arg: &str) {
        self.args.retain(|a| a != arg);
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Panics with the log tail unless the process still runs.
    pub fn assert_running(&mut self) {
        let exited = match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait"),
            None => panic!("{:?} is not started", self.kind),
        };
        if let Some(st) = exited {
            panic!(
                "{:?} exited unexpectedly with {st}\n{}",
                self.kind,
                self.stderr_tail(60)
            );
        }
    }

    /// Polls `GET /health` until it reports `"health":"true"`, or panics with the
    /// reason and the server's log tail.
    pub fn wait_ready(&mut self, timeout: Duration) {
        if let Err(why) = self.try_wait_ready(timeout) {
            self.kill9();
            panic!("{why}\n{}", self.stderr_tail(60));
        }
    }

    fn try_wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Some(st) = c.try_wait().expect("try_wait") {
                    self.child = None;
                    return Err(format!(
                        "{:?} exited with {st} before becoming ready",
                        self.kind
                    ));
                }
            }
            let last = match http_get(self.client_port, "/health", Duration::from_secs(2)) {
                Ok((200, body)) if body.contains("\"health\":\"true\"") => return Ok(()),
                Ok((code, body)) => format!("HTTP {code}: {body}"),
                Err(e) => e,
            };
            if Instant::now() > deadline {
                return Err(format!(
                    "{:?} on {} not healthy within {timeout:?}; last /health answer: {last}",
                    self.kind,
                    self.endpoint()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last `n` lines of the process's stdout and stderr log.
    pub fn stderr_tail(&self, n: usize) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        let lines: Vec<&str> = s.lines().collect();
        let start = lines.len().saturating_sub(n);
        format!(
            "--- last {} lines of {} ---\n{}\n--- end of log ---",
            lines.len() - start,
            self.log.display(),
            lines[start..].join("\n")
        )
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// How a cluster member is started: everything that goes into its command line.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// `--name`.
    pub name: String,
    /// The member's ports.
    pub ports: Ports,
    /// `--initial-cluster`, `name=peerURL,...`.
    pub initial_cluster: String,
    /// `new` or `existing`.
    pub state: String,
    /// `--initial-cluster-token`.
    pub token: String,
    /// Further flags, such as `--snapshot-count`.
    pub extra_args: Vec<String>,
}

impl Member {
    /// A member of a multi-member cluster with its data directory and log under
    /// `dir`, started with etcd's clustering flags; not running until
    /// [`Member::launch`].
    pub fn cluster_member(kind: Kind, dir: &Path, cfg: &MemberConfig) -> Member {
        Member::cluster_member_bin(kind, default_bin(kind), dir, cfg)
    }

    /// Like [`Member::cluster_member`], running the binary at `bin`.
    pub fn cluster_member_bin(kind: Kind, bin: PathBuf, dir: &Path, cfg: &MemberConfig) -> Member {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let client = format!("http://127.0.0.1:{}", cfg.ports.client);
        let peer = format!("http://127.0.0.1:{}", cfg.ports.peer);
        let data_dir = dir.join("data");
        let mut args: Vec<String> = [
            "--name",
            &cfg.name,
            "--data-dir",
            &data_dir.display().to_string(),
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &cfg.initial_cluster,
            "--initial-cluster-token",
            &cfg.token,
            "--initial-cluster-state",
            &cfg.state,
            "--heartbeat-interval",
            &HEARTBEAT_MS.to_string(),
            "--election-timeout",
            &ELECTION_MS.to_string(),
            "--log-level",
            "info",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if kind == Kind::Etcd {
            args.extend(["--logger".into(), "zap".into()]);
        }
        args.extend(cfg.extra_args.iter().cloned());
        Member {
            kind,
            name: cfg.name.clone(),
            bin,
            args,
            data_dir,
            log: dir.join("stderr.log"),
            client_port: cfg.ports.client,
            peer_port: cfg.ports.peer,
            tls_port: None,
            env: Vec::new(),
            child: None,
        }
    }

    /// Waits until the process serves again (after [`Member::restart_with`]).
    pub fn wait_serving(&mut self) {
        self.wait_ready(READY_TIMEOUT);
    }

    /// Starts the process without waiting for it to serve: the members of a new
    /// cluster can only become ready together.
    pub fn launch(&mut self) {
        self.spawn();
    }

    /// Polls `/health` like [`Member::wait_ready`] but returns the failure instead
    /// of panicking, leaving the process as it is.
    pub fn poll_ready(&mut self, timeout: Duration) -> Result<(), String> {
        self.try_wait_ready(timeout)
    }

    /// `--name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The peer URL, `http://127.0.0.1:P`.
    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// Both ports.
    pub fn ports(&self) -> Ports {
        Ports {
            client: self.client_port,
            peer: self.peer_port,
        }
    }

    /// The file the process's stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Sends `kill -<sig>` (`STOP`, `CONT`, ...) to the running process.
    pub fn signal(&self, sig: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{}: not running, cannot send SIG{sig}", self.name));
        let status = Command::new("kill")
            .args([format!("-{sig}"), pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{sig} {pid} failed");
    }

    /// Waits up to `timeout` for the process to exit by itself; returns its exit
    /// status, or `None` if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.child.as_mut()?;
            if let Some(st) = c.try_wait().expect("try_wait") {
                self.child = None;
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the log mentions a port that could not be bound.
    pub(super) fn lost_port_race(&self) -> bool {
        self.stderr_tail(200)
            .to_lowercase()
            .contains("address already in use")
    }
}
