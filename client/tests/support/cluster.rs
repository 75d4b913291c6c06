//! A throw-away multi-member etcd cluster on loopback, and running etcdctl
//! and ectl against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::{MemberListRequest, StatusResponse};
use ectd_client::{Client, ConnectOptions};

use crate::tools::{binary, free_port};

pub const ECTL: &str = env!("CARGO_BIN_EXE_ectl");

/// How long a member may take to start, join or catch up.
const STARTUP: Duration = Duration::from_secs(30);

/// The addresses of one member.
#[derive(Debug, Clone)]
pub struct Addresses {
    pub name: String,
    pub client: String,
    pub peer_url: String,
}

impl Addresses {
    pub fn new(name: &str) -> Addresses {
        Addresses {
            name: name.to_string(),
            client: format!("127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
        }
    }
}

struct Process {
    name: String,
    child: Child,
}

/// The members of a cluster; every process is killed on drop.
pub struct Cluster {
    pub etcd: PathBuf,
    pub etcdctl: PathBuf,
    pub members: Vec<Addresses>,
    /// More flags for every member.
    extra_args: Vec<String>,
    processes: Vec<Process>,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Cluster {
    /// Starts `size` members (`m1`, `m2`, …) and waits until each answers
    /// a linearizable read.
    pub fn start(size: usize) -> Cluster {
        Cluster::start_with(size, binary("ETCD_BIN", "/usr/bin/etcd"), &[])
    }

    /// [`Cluster::start`] with another server binary (ectd) and more flags
    /// for every member.
    pub fn start_with(size: usize, server: PathBuf, extra_args: &[&str]) -> Cluster {
        let mut cluster = Cluster {
            etcd: server,
            etcdctl: binary("ETCDCTL_BIN", "/usr/bin/etcdctl"),
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            members: (1..=size)
                .map(|i| Addresses::new(&format!("m{i}")))
                .collect(),
            processes: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        };
        let initial: Vec<String> = cluster
            .members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect();
        for member in cluster.members.clone() {
            cluster.spawn(&member, &initial.join(","), "new", "");
        }
        for member in cluster.members.clone() {
            cluster.wait_until(&format!("{} serves reads", member.name), || async {
                let client = connect(&member.client).await.ok()?;
                client.get("ready").await.ok().map(|_| ())
            });
        }
        cluster
    }

    /// Starts one more member that joins the running cluster with the
    /// settings `member add` printed (`initial_cluster`); `generation`
    /// keeps the data directories of successive joins apart.
    pub fn join(&mut self, member: &Addresses, initial_cluster: &str, generation: &str) {
        self.spawn(member, initial_cluster, "existing", generation);
    }

    fn spawn(&mut self, member: &Addresses, initial_cluster: &str, state: &str, generation: &str) {
        let data = self.dir.path().join(format!("{}{generation}", member.name));
        let log = self
            .dir
            .path()
            .join(format!("{}{generation}.log", member.name));
        let child = Command::new(&self.etcd)
            .arg(format!("--name={}", member.name))
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--listen-client-urls=http://{}", member.client))
            .arg(format!("--advertise-client-urls=http://{}", member.client))
            .arg(format!("--listen-peer-urls={}", member.peer_url))
            .arg(format!("--initial-advertise-peer-urls={}", member.peer_url))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg("--initial-cluster-token=ectl-cluster-vs-etcdctl")
            .arg(format!("--initial-cluster-state={state}"))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start etcd");
        self.processes.push(Process {
            name: member.name.clone(),
            child,
        });
    }

    /// Kills the member process(es) called `name`.
    pub fn stop(&mut self, name: &str) {
        for process in self.processes.iter_mut().filter(|p| p.name == name) {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        self.processes.retain(|p| p.name != name);
    }

    /// Polls `probe` until it returns something, failing the test after
    /// [`STARTUP`].
    pub fn wait_until<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(value) = self.runtime.block_on(probe()) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The member ID of each member in [`Cluster::members`], in that order,
    /// and the ID of the leader they all agree on.
    pub fn leadership(&self) -> (Vec<u64>, u64) {
        let members = &self.members;
        self.wait_until("all members agree on a leader", || async move {
            let statuses = statuses(members).await?;
            let leader = statuses[0].leader;
            if leader == 0 || statuses.iter().any(|s| s.leader != leader) {
                return None;
            }
            Some((
                statuses
                    .iter()
                    .map(|s| s.header.unwrap().member_id)
                    .collect(),
                leader,
            ))
        })
    }

    /// The member list as the first member sees it.
    pub fn member_list(&self) -> Vec<ectd_client::proto::etcdserverpb::Member> {
        let first = self.members[0].client.clone();
        self.wait_until("the member list can be read", || {
            let first = first.clone();
            async move {
                let client = connect(&first).await.ok()?;
                let list = client
                    .member_list(MemberListRequest::default())
                    .await
                    .ok()?;
                Some(list.members)
            }
        })
    }

    /// All client endpoints, comma-separated.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.client.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

/// The status of each member, via the client library.
async fn statuses(members: &[Addresses]) -> Option<Vec<StatusResponse>> {
    let mut all = Vec::new();
    for member in members {
        let options = ConnectOptions {
            dial_timeout: Duration::from_millis(500),
            command_timeout: Duration::from_secs(1),
        };
        all.push(
            Client::endpoint_status(&member.client, options)
                .await
                .ok()?,
        );
    }
    Some(all)
}

async fn connect(endpoint: &str) -> Result<Client, ectd_client::Error> {
    let options = ConnectOptions {
        dial_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_secs(1),
    };
    Client::connect_with(&[endpoint.to_string()], options).await
}

/// Runs `tool` with `args` and no `ETCDCTL_*` settings from the
/// environment (etcdctl also gets `ETCDCTL_API=3`).
pub fn run(tool: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(tool);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ETCDCTL_") {
            command.env_remove(name);
        }
    }
    if tool != Path::new(ECTL) {
        command.env("ETCDCTL_API", "3");
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tool")
}

/// What a tool printed, reduced to what must match: stdout, the exit code
/// and stderr without etcdctl's client-side log lines (JSON records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Printed {
    pub fn of(output: &Output) -> Printed {
        let stderr = String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|line| !line.starts_with('{'))
            .map(|line| format!("{line}\n"))
            .collect();
        Printed {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
            code: output.status.code(),
        }
    }

    /// Applies `normalize` to both streams.
    pub fn map(self, normalize: impl Fn(&str) -> String) -> Printed {
        Printed {
            stdout: normalize(&self.stdout),
            stderr: normalize(&self.stderr),
            code: self.code,
        }
    }
}
