//! Starting ectd and etcd with TLS flags, and running real etcdctl against them.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, require_etcd_binary, Kind, ETCD, ETCDCTL};

/// A server process, killed when dropped.
pub struct Proc {
    pub kind: Kind,
    pub name: String,
    child: Option<Child>,
    bin: PathBuf,
    args: Vec<String>,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `kind` with `args` (every flag but logging), its log in `dir`.
    pub fn spawn(kind: Kind, name: &str, dir: &Path, args: Vec<String>) -> Proc {
        let bin = match kind {
            Kind::Ectd => PathBuf::from(env!("CARGO_BIN_EXE_ectd")),
            Kind::Etcd => require_etcd_binary(ETCD),
        };
        let mut p = Proc {
            kind,
            name: name.to_string(),
            child: None,
            bin,
            args,
            log: dir.join(format!("{name}.log")),
        };
        if kind == Kind::Etcd {
            p.args.extend(["--logger".into(), "zap".into()]);
        }
        p.launch();
        p
    }

    pub fn launch(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("ETCD_") || k.starts_with("ECTD_") || k.starts_with("ETCDCTL_") {
                cmd.env_remove(k.as_ref());
            }
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Waits for the process to exit on its own; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Some(st);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} ({:?}) log tail:\n{}",
                self.name,
                self.kind,
                self.log_tail()
            );
        }
        self.kill9();
    }
}

/// Two free ports.
pub fn ports() -> (u16, u16) {
    (free_port(), free_port())
}

/// A single-member command line: `scheme` for the client URL, `peer_scheme` for
/// the peer URL, on `ports`, data under `dir`.
pub fn single_args(
    dir: &Path,
    name: &str,
    ports: (u16, u16),
    scheme: &str,
    peer_scheme: &str,
) -> Vec<String> {
    let client = format!("{scheme}://127.0.0.1:{}", ports.0);
    let peer = format!("{peer_scheme}://127.0.0.1:{}", ports.1);
    vec![
        format!("--name={name}"),
        format!("--data-dir={}", dir.join(format!("{name}.data")).display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster={name}={peer}"),
        "--log-level=info".into(),
    ]
}

/// Real etcdctl (v3 API) with `args`, at most 15 s.
pub fn etcdctl(args: &[&str], stdin: Option<&str>) -> Output {
    etcdctl_within(args, stdin, Duration::from_secs(15))
}

/// Real etcdctl for a command that does not end by itself (a watch): its output
/// after `runtime`.
pub fn etcdctl_for(args: &[&str], runtime: Duration) -> Output {
    etcdctl_within(args, None, runtime)
}

fn etcdctl_within(args: &[&str], stdin: Option<&str>, limit: Duration) -> Output {
    let mut cmd = Command::new(require_etcd_binary(ETCDCTL));
    cmd.args(args)
        .env("ETCDCTL_API", "3")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("ETCDCTL_") && k != "ETCDCTL_API" {
            cmd.env_remove(k.as_ref());
        }
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        s.write_all(input.as_bytes()).unwrap();
    }
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs etcdctl `args` until it succeeds (a member getting ready), at most 30 s.
pub fn wait_ok(proc: &mut Proc, args: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = etcdctl(args, None);
        if out.status.success() {
            return;
        }
        assert!(
            proc.is_running(),
            "{} exited:\n{}",
            proc.name,
            proc.log_tail()
        );
        assert!(
            Instant::now() < deadline,
            "{} never answered etcdctl {args:?}: {}\n{}",
            proc.name,
            String::from_utf8_lossy(&out.stderr),
            proc.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
