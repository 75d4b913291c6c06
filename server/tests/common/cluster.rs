//! A multi-member cluster of one kind of server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Kind, Member, MemberConfig, Ports, READY_TIMEOUT};

/// A cluster of `ectd` or etcd members on 127.0.0.1, each with its own directory
/// (`m1`, `m2`, ...) in one temporary directory. Every member is killed when the
/// cluster is dropped; if that happens because the test panicked, the tail of
/// every member's log is printed first.
pub struct Cluster {
    /// The members, in the order of their names (`m1` first). A member's slot
    /// stays when its process is killed, removed or replaced.
    pub members: Vec<Member>,
    kind: Kind,
    token: String,
    extra_args: Vec<String>,
    /// The binary every member runs, when not the default for `kind`.
    bin: Option<PathBuf>,
    // Dropped after the members, so that no process outlives its directory.
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts an `n`-member cluster with `--initial-cluster-state new` plus
    /// `extra_args` on every member, and waits until every member serves
    /// linearizable reads.
    pub fn start(kind: Kind, n: usize, extra_args: &[&str]) -> Cluster {
        Cluster::start_bin(kind, None, n, extra_args)
    }

    /// Like [`Cluster::start`], every member running the binary at `bin` when
    /// given (another etcd release than the default one).
    pub fn start_bin(kind: Kind, bin: Option<&Path>, n: usize, extra_args: &[&str]) -> Cluster {
        // As for single members: a port found free may be taken before the
        // member binds it; then the whole cluster starts over on fresh ports.
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("ectd-cluster-")
                .tempdir()
                .expect("temp dir");
            let token = format!(
                "{}-{}",
                dir.path()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            );
            let mut c = Cluster {
                members: Vec::new(),
                kind,
                token,
                extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
                bin: bin.map(Path::to_path_buf),
                dir,
            };
            let ports: Vec<Ports> = (0..n).map(|_| Ports::free()).collect();
            let initial = (0..n)
                .map(|i| format!("m{}=http://127.0.0.1:{}", i + 1, ports[i].peer))
                .collect::<Vec<_>>()
                .join(",");
            for (i, p) in ports.iter().enumerate() {
                let cfg = c.config(&format!("m{}", i + 1), *p, &initial, "new");
                let m = c.new_member(&cfg);
                c.members.push(m);
            }
            for m in &mut c.members {
                m.launch();
            }
            match c.try_wait_all_ready() {
                Ok(()) => return c,
                Err(why) => {
                    let raced = c.members.iter().any(Member::lost_port_race);
                    if attempt < ATTEMPTS && raced {
                        continue;
                    }
                    panic!("{kind:?} cluster of {n} did not start: {why}");
                }
            }
        }
        unreachable!("the last attempt panics")
    }

    /// Which server the members run.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The `--initial-cluster-token`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The temporary directory holding every member's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The start configuration of a member of this cluster: its token and extra
    /// flags, with the given name, ports, `--initial-cluster` and state.
    pub fn config(
        &self,
        name: &str,
        ports: Ports,
        initial_cluster: &str,
        state: &str,
    ) -> MemberConfig {
        MemberConfig {
            name: name.to_string(),
            ports,
            initial_cluster: initial_cluster.to_string(),
            state: state.to_string(),
            token: self.token.clone(),
            extra_args: self.extra_args.clone(),
        }
    }

    /// A member of this cluster with its directory (named after it) in the
    /// cluster's temporary directory; not started.
    pub fn new_member(&self, cfg: &MemberConfig) -> Member {
        let dir = self.dir.path().join(&cfg.name);
        match &self.bin {
            Some(bin) => Member::cluster_member_bin(self.kind, bin.clone(), &dir, cfg),
            None => Member::cluster_member(self.kind, &dir, cfg),
        }
    }

    /// `name=peerURL` for the given members, joined by commas, as
    /// `--initial-cluster` takes it.
    pub fn initial_cluster_of(&self, which: &[usize]) -> String {
        which
            .iter()
            .map(|&i| format!("{}={}", self.members[i].name(), self.members[i].peer_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URLs of all members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(Member::endpoint).collect()
    }

    /// Kills every running member with one `kill -9` (so that none of them
    /// outlives the others by more than a moment) and reaps them.
    pub fn kill9_all(&mut self) {
        let pids: Vec<String> = self
            .members
            .iter()
            .filter_map(Member::pid)
            .map(|p| p.to_string())
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill").arg("-9").args(&pids).status();
        }
        for m in &mut self.members {
            m.kill9();
        }
    }

    /// Starts every member that is not running (on its existing data) and waits
    /// until all serve.
    pub fn restart_stopped(&mut self) {
        for m in &mut self.members {
            if !m.is_running() {
                m.kill9();
                m.launch();
            }
        }
        if let Err(why) = self.try_wait_all_ready() {
            panic!("{:?} cluster did not come back: {why}", self.kind);
        }
    }

    /// Waits until every running member answers `/health` with `true`.
    pub fn wait_all_ready(&mut self) {
        if let Err(why) = self.try_wait_all_ready() {
            panic!("{why}");
        }
    }

    fn try_wait_all_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        for m in &mut self.members {
            if m.pid().is_none() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            m.poll_ready(left.max(Duration::from_millis(100)))
                .map_err(|why| format!("{}: {why}", m.name()))?;
        }
        Ok(())
    }

    /// The last `n` lines of every member's log.
    pub fn log_tails(&self, n: usize) -> String {
        self.members
            .iter()
            .map(|m| {
                format!(
                    "=== {} ({}) ===\n{}",
                    m.name(),
                    m.endpoint(),
                    m.stderr_tail(n)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tails(40));
        }
        // Killing each member also ends the ones a test left stopped with SIGSTOP.
        for m in &mut self.members {
            m.kill9();
        }
    }
}
