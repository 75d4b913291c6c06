//! A real ectd cluster on loopback, with every peer link under the harness' control.
//!
//! [`Cluster::start`] runs N `ectd` processes from a built binary, each with its
//! data directory and log file under one temporary directory, and short raft timings
//! so faults show their effect within a second or two.
//!
//! # How peer traffic is routed
//!
//! ectd derives member IDs from the advertised peer URLs, so all members must agree
//! on one URL per member: a per-(from, to) proxy address cannot be advertised. Each
//! member `i` therefore advertises the address of *one* [`Proxy`] in front of its
//! real peer port, and all of `i`'s inbound peer traffic crosses that proxy. ectd's
//! transport only ever sends `from -> to` messages on connections that `from` opens
//! to `to`, so the connection's opener tells the direction. The proxy identifies the
//! opener with [`peer_source::owner`] (which member process holds the client end)
//! and governs the connection by the [`Link`] for that (from, to) pair. Partitions
//! are thus directional: [`Cluster::set_link`] can cut `a -> b` alone. A connection
//! whose opener cannot be identified (non-Linux, or a race with a closing socket)
//! passes, and is counted in [`Cluster::unattributed_connections`].
//!
//! Dropping a [`Cluster`] kills every member (SIGKILL) and stops every proxy.

use std::fs::OpenOptions;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ectd_client::proto::etcdserverpb::{
    Member as ListedMember, MemberAddRequest, MemberListRequest, MemberRemoveRequest,
    MoveLeaderRequest, StatusResponse,
};
use ectd_client::{Client, ConnectOptions};
use tokio::task::JoinSet;

use crate::peer_source;
use crate::proxy::{Fault, Link, Proxy};

mod config;

pub use config::{ClusterConfig, DEFAULT_BINARY};

/// One member: its addresses, files and (while running) its process.
struct Member {
    name: String,
    data_dir: PathBuf,
    log: PathBuf,
    client_addr: SocketAddr,
    peer_addr: SocketAddr,
    proxy: Proxy,
    process: Option<Child>,
    /// Started with `--initial-cluster-state existing` (after being added back).
    joins_existing: bool,
    /// `FAILPOINTS` for the next start (cleared once used).
    failpoints: Option<String>,
}

/// A running cluster. Member indices are `0..size`.
pub struct Cluster {
    config: ClusterConfig,
    members: Vec<Member>,
    /// `links[from][to]` governs peer traffic from member `from` to member `to`.
    links: Vec<Vec<Link>>,
    /// Current pid of each member, for attributing proxied connections.
    pids: Arc<Mutex<Vec<Option<u32>>>>,
    unattributed: Arc<AtomicU64>,
    /// Holds the members' data and logs; removed last, after the processes die.
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts every member and waits (up to 30 s) until they agree on a leader.
    /// Must be called inside a multi-threaded tokio runtime.
    pub async fn start(config: ClusterConfig) -> io::Result<Cluster> {
        let dir = tempfile::Builder::new().prefix("ectd-jepsen-").tempdir()?;
        let size = config.size;
        let links: Vec<Vec<Link>> = (0..size)
            .map(|_| (0..size).map(|_| Link::new()).collect())
            .collect();
        let pids = Arc::new(Mutex::new(vec![None; size]));
        let unattributed = Arc::new(AtomicU64::new(0));
        // Hold every probe listener until all ports are chosen, so none repeats.
        let probes = (0..2 * size)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<io::Result<Vec<_>>>()?;
        let ports = probes
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        drop(probes);

        let mut members = Vec::with_capacity(size);
        for to in 0..size {
            let inbound: Vec<Link> = links.iter().map(|row| row[to].clone()).collect();
            let (pids, unattributed) = (pids.clone(), unattributed.clone());
            let route = Arc::new(move |client: SocketAddr, server: SocketAddr| {
                let known: Vec<(usize, u32)> = pids
                    .lock()
                    .expect("pids lock")
                    .iter()
                    .enumerate()
                    .filter_map(|(i, pid)| pid.map(|pid| (i, pid)))
                    .collect();
                let candidates: Vec<u32> = known.iter().map(|(_, pid)| *pid).collect();
                match peer_source::owner(client, server, &candidates) {
                    Some(pid) => {
                        let from = known.iter().find(|(_, p)| *p == pid).expect("known pid").0;
                        inbound[from].clone()
                    }
                    None => {
                        unattributed.fetch_add(1, Ordering::Relaxed);
                        Link::new()
                    }
                }
            });
            let peer_addr = ports[2 * to + 1];
            members.push(Member {
                name: format!("m{to}"),
                data_dir: dir.path().join(format!("m{to}.etcd")),
                log: dir.path().join(format!("m{to}.log")),
                client_addr: ports[2 * to],
                peer_addr,
                proxy: Proxy::start_routed(peer_addr, route).await?,
                process: None,
                joins_existing: false,
                failpoints: None,
            });
        }
        let mut cluster = Cluster {
            config,
            members,
            links,
            pids,
            unattributed,
            dir,
        };
        for i in 0..size {
            cluster.spawn(i)?;
        }
        let all: Vec<usize> = (0..size).collect();
        cluster
            .wait_for_leader(&all, Duration::from_secs(30))
            .await?;
        Ok(cluster)
    }

    /// Number of members.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// The temporary directory holding data directories and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Member `i`'s log file (stdout and stderr, appended across restarts).
    pub fn log_path(&self, i: usize) -> &Path {
        &self.members[i].log
    }

    /// The last `lines` lines of member `i`'s log, for failure messages.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Member `i`'s client URL, `http://127.0.0.1:port`.
    pub fn client_url(&self, i: usize) -> String {
        format!("http://{}", self.members[i].client_addr)
    }

    /// Every member's client URL, in member order.
    pub fn client_urls(&self) -> Vec<String> {
        (0..self.size()).map(|i| self.client_url(i)).collect()
    }

    /// A client connected to member `i` only, with `options`.
    pub async fn client(&self, i: usize, options: ConnectOptions) -> io::Result<Client> {
        Client::connect_with(&[self.client_url(i)], options)
            .await
            .map_err(|e| io::Error::other(format!("connect to m{i}: {e}")))
    }

    fn spawn(&mut self, i: usize) -> io::Result<()> {
        let initial_cluster = self
            .members
            .iter()
            .map(|m| format!("{}=http://{}", m.name, m.proxy.addr()))
            .collect::<Vec<_>>()
            .join(",");
        let member = &mut self.members[i];
        let state = if member.joins_existing {
            "existing"
        } else {
            "new"
        };
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)?;
        let client_url = format!("http://{}", member.client_addr);
        let mut command = Command::new(&self.config.binary);
        command.env_remove("FAILPOINTS");
        if let Some(spec) = member.failpoints.take().or(self.config.failpoints.clone()) {
            command.env("FAILPOINTS", spec);
        }
        if let Some(count) = self.config.snapshot_count {
            command.args(["--snapshot-count", &count.to_string()]);
        }
        if self.config.enable_v2 {
            command.arg("--enable-v2");
        }
        let child = command
            .arg("--name")
            .arg(&member.name)
            .arg("--data-dir")
            .arg(&member.data_dir)
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .arg("--listen-peer-urls")
            .arg(format!("http://{}", member.peer_addr))
            .arg("--initial-advertise-peer-urls")
            .arg(format!("http://{}", member.proxy.addr()))
            .args(["--initial-cluster", &initial_cluster])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", &self.config.token])
            .arg("--heartbeat-interval")
            .arg(self.config.heartbeat_interval_ms.to_string())
            .arg("--election-timeout")
            .arg(self.config.election_timeout_ms.to_string())
            .args(["--log-format", "text"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("spawn {}: {e}", self.config.binary.display()),
                )
            })?;
        self.pids.lock().expect("pids lock")[i] = Some(child.id());
        member.process = Some(child);
        Ok(())
    }

    /// Kills member `i` with SIGKILL (no flush, no goodbye) and reaps it.
    pub fn kill(&mut self, i: usize) -> io::Result<()> {
        self.pids.lock().expect("pids lock")[i] = None;
        if let Some(mut child) = self.members[i].process.take() {
            // Fails only if it already exited (a failpoint crash); reaping still works.
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }

    /// Starts member `i` again with the same flags and data directory; it rejoins
    /// from its WAL. Kills it first if it is still running.
    pub fn restart(&mut self, i: usize) -> io::Result<()> {
        self.kill(i)?;
        self.spawn(i)
    }

    /// Whether member `i`'s process is running; reaps it if it has exited (e.g. a
    /// failpoint crashed it).
    pub fn is_running(&mut self, i: usize) -> bool {
        let exited = match self.members[i].process.as_mut() {
            None => return false,
            Some(child) => !matches!(child.try_wait(), Ok(None)),
        };
        if exited {
            self.members[i].process = None;
            self.pids.lock().expect("pids lock")[i] = None;
        }
        !exited
    }

    /// Waits up to `limit` for member `i`'s process to exit (after a failpoint panic, for
    /// instance); whether it did.
    pub async fn wait_exited(&mut self, i: usize, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while self.is_running(i) {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Restarts member `i` with `FAILPOINTS=spec` in its environment (this start only).
    pub fn restart_with_failpoints(&mut self, i: usize, spec: &str) -> io::Result<()> {
        self.kill(i)?;
        self.members[i].failpoints = Some(spec.to_string());
        self.spawn(i)
    }

    /// Arms failpoint `name` with `action` on running member `i` over its
    /// `/debug/failpoints` endpoint (`off` disarms). Fails if the member's build has
    /// no failpoints.
    pub async fn set_failpoint(&self, i: usize, name: &str, action: &str) -> io::Result<()> {
        let path = format!("/debug/failpoints/{name}");
        let (status, body) =
            http_request(self.members[i].client_addr, "PUT", &path, action).await?;
        if status == 204 {
            Ok(())
        } else if status == 404 {
            Err(io::Error::other(format!(
                "m{i} serves no /debug/failpoints: build ectd with `--features failpoints`"
            )))
        } else {
            Err(io::Error::other(format!(
                "m{i}: failpoint {name}={action}: {status} {body}"
            )))
        }
    }

    /// Member `i`'s ID, from its status.
    pub async fn member_id(&self, i: usize) -> io::Result<u64> {
        let status = self.statuses(&[i]).await;
        status
            .first()
            .and_then(|(_, s)| s.header.as_ref().map(|h| h.member_id))
            .ok_or_else(|| io::Error::other(format!("m{i} did not answer its status")))
    }

    /// Asks the current leader (among all members) to hand leadership to member `to`.
    pub async fn transfer_leadership(&self, to: usize) -> io::Result<()> {
        let all: Vec<usize> = (0..self.size()).collect();
        let leader = self
            .leader_among(&all)
            .await
            .ok_or_else(|| io::Error::other("no agreed leader to transfer from"))?;
        let target_id = self.member_id(to).await?;
        let client = self.client(leader, short_options()).await?;
        client
            .move_leader(MoveLeaderRequest { target_id })
            .await
            .map(|_| ())
            .map_err(|e| io::Error::other(format!("move leader m{leader} -> m{to}: {e}")))
    }

    /// Removes member `i` from the cluster through the leader, waits for it to exit
    /// (kills it after 10 s), wipes its data, adds it back under the same peer URL and
    /// starts it empty with `--initial-cluster-state existing` (and `FAILPOINTS=spec`, if
    /// given, for that start): it catches up from the leader's log or a snapshot. `i` must
    /// not be the leader. Returns false, having changed nothing, if the cluster keeps
    /// refusing the removal (`unhealthy cluster`: too few members up to date).
    pub async fn replace_member(&mut self, i: usize, failpoints: Option<&str>) -> io::Result<bool> {
        let all: Vec<usize> = (0..self.size()).collect();
        let leader = self
            .leader_among(&all)
            .await
            .ok_or_else(|| io::Error::other("no agreed leader to change membership"))?;
        if leader == i {
            return Err(io::Error::other(format!("m{i} is the leader")));
        }
        let id = self.member_id(i).await?;
        let client = self.client(leader, short_options()).await?;
        // An answer can be lost (a leader change, a timeout) after the change was made:
        // what counts is whether the member is gone from the list.
        let mut removed = false;
        for _ in 0..20 {
            match client.member_remove(MemberRemoveRequest { id }).await {
                Ok(_) => {
                    removed = true;
                    break;
                }
                Err(e) => {
                    eprintln!("nemesis: removing m{i} ({id:x}): {e}; checking the member list");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if !self.listed(leader, |m| m.id == id).await? {
                        removed = true;
                        break;
                    }
                }
            }
        }
        if !removed {
            return Ok(false);
        }
        // A joining member learns the membership from a peer; make sure none still
        // lists the removed one, or the newcomer would take its place.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for j in (0..self.size()).filter(|&j| j != i) {
            while self.listed_locally(j, |m| m.id == id).await
                && std::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.is_running(i) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill(i)?;
        std::fs::remove_dir_all(&self.members[i].data_dir)?;
        let peer_url = format!("http://{}", self.members[i].proxy.addr());
        let mut last = None;
        // Adding can be refused while the cluster settles (`unhealthy cluster`), or be
        // made with its answer lost.
        for _ in 0..50 {
            match client
                .member_add(MemberAddRequest {
                    peer_ur_ls: vec![peer_url.clone()],
                    is_learner: false,
                })
                .await
            {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            if self
                .listed(leader, |m| m.peer_ur_ls.contains(&peer_url))
                .await?
            {
                last = None;
                break;
            }
        }
        if let Some(e) = last {
            return Err(io::Error::other(format!("add m{i} back: {e}")));
        }
        self.members[i].joins_existing = true;
        self.members[i].failpoints = failpoints.map(str::to_string);
        self.spawn(i)?;
        Ok(true)
    }

    /// Whether member `j`'s own (serializable) member list has a member matching
    /// `which`; false if `j` does not answer.
    async fn listed_locally(&self, j: usize, which: impl Fn(&ListedMember) -> bool) -> bool {
        let Ok(client) = self.client(j, short_options()).await else {
            return false;
        };
        match client
            .member_list(MemberListRequest {
                linearizable: false,
            })
            .await
        {
            Ok(list) => list.members.iter().any(which),
            Err(_) => false,
        }
    }

    /// Whether some member in member `via`'s list matches `which`.
    async fn listed(&self, via: usize, which: impl Fn(&ListedMember) -> bool) -> io::Result<bool> {
        let client = self.client(via, short_options()).await?;
        let list = client
            .member_list(MemberListRequest { linearizable: true })
            .await
            .map_err(|e| io::Error::other(format!("member list via m{via}: {e}")))?;
        Ok(list.members.iter().any(which))
    }

    /// Copies every member's log into `dest` (created if needed), for a report.
    pub fn save_logs(&self, dest: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dest)?;
        for m in &self.members {
            if m.log.is_file() {
                std::fs::copy(&m.log, dest.join(format!("{}.log", m.name)))?;
            }
        }
        Ok(())
    }

    /// Freezes member `i` with SIGSTOP: sockets stay open, nothing is answered.
    pub fn pause(&self, i: usize) -> io::Result<()> {
        self.signal(i, "STOP")
    }

    /// Thaws member `i` with SIGCONT.
    pub fn resume(&self, i: usize) -> io::Result<()> {
        self.signal(i, "CONT")
    }

    fn signal(&self, i: usize, signal: &str) -> io::Result<()> {
        let pid = self.members[i]
            .process
            .as_ref()
            .ok_or_else(|| io::Error::other(format!("m{i} is not running")))?
            .id();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!("kill -{signal} {pid}: {status}")));
        }
        Ok(())
    }

    /// Sets the fault on peer traffic from member `from` to member `to` only.
    pub fn set_link(&self, from: usize, to: usize, fault: Fault) {
        self.links[from][to].set(fault);
    }

    /// Partitions the cluster: links between members of different groups are
    /// cut both ways, links within a group pass. Members in no group are cut off
    /// from everyone.
    pub fn partition(&self, groups: &[&[usize]]) {
        let group_of = |i: usize| groups.iter().position(|g| g.contains(&i));
        for from in 0..self.size() {
            for to in 0..self.size() {
                let together = from == to
                    || matches!((group_of(from), group_of(to)), (Some(a), Some(b)) if a == b);
                self.set_link(from, to, if together { Fault::Pass } else { Fault::Drop });
            }
        }
    }

    /// Cuts member `i` off from all others, both ways.
    pub fn isolate(&self, i: usize) {
        let rest: Vec<usize> = (0..self.size()).filter(|&j| j != i).collect();
        self.partition(&[&[i], &rest]);
    }

    /// Splits into a majority and a minority, with `minority_member` (and the
    /// lowest other indices, as needed) in the minority. Returns (majority,
    /// minority).
    pub fn split_majority(&self, minority_member: usize) -> (Vec<usize>, Vec<usize>) {
        let minority_len = (self.size() - 1) / 2;
        let mut minority = vec![minority_member];
        minority.extend(
            (0..self.size())
                .filter(|&j| j != minority_member)
                .take(minority_len.saturating_sub(1)),
        );
        let majority: Vec<usize> = (0..self.size()).filter(|j| !minority.contains(j)).collect();
        self.partition(&[&majority, &minority]);
        (majority, minority)
    }

    /// Lets peer traffic pass between `a` and `b` (both ways) exactly when
    /// `connected(a, b)`; a member always reaches itself.
    pub fn set_topology(&self, connected: impl Fn(usize, usize) -> bool) {
        for from in 0..self.size() {
            for to in 0..self.size() {
                let pass = from == to || connected(from, to) || connected(to, from);
                self.set_link(from, to, if pass { Fault::Pass } else { Fault::Drop });
            }
        }
    }

    /// Lets all peer traffic pass again.
    pub fn heal(&self) {
        for row in &self.links {
            for link in row {
                link.set(Fault::Pass);
            }
        }
    }

    /// Proxied connections whose opening member could not be identified (and
    /// which therefore passed regardless of faults).
    pub fn unattributed_connections(&self) -> u64 {
        self.unattributed.load(Ordering::Relaxed)
    }

    /// `Maintenance.Status` of every member in `members` that answers within
    /// 500 ms, as (member index, response).
    pub async fn statuses(&self, members: &[usize]) -> Vec<(usize, StatusResponse)> {
        let options = ConnectOptions {
            dial_timeout: Duration::from_millis(500),
            command_timeout: Duration::from_millis(500),
        };
        let mut asks = JoinSet::new();
        for &i in members {
            let url = self.client_url(i);
            asks.spawn(async move { (i, Client::endpoint_status(&url, options).await) });
        }
        let mut answers = Vec::new();
        while let Some(joined) = asks.join_next().await {
            if let Ok((i, Ok(status))) = joined {
                answers.push((i, status));
            }
        }
        answers
    }

    /// The member of `members` that reports itself leader and that every other
    /// answering member of `members` follows; `None` if they do not agree yet.
    pub async fn leader_among(&self, members: &[usize]) -> Option<usize> {
        let answers = self.statuses(members).await;
        let own_id = |s: &StatusResponse| s.header.as_ref().map_or(0, |h| h.member_id);
        let (leader, status) = answers
            .iter()
            .find(|(_, s)| s.leader != 0 && own_id(s) == s.leader)?;
        answers
            .iter()
            .all(|(_, s)| s.leader == status.leader)
            .then_some(*leader)
    }

    /// Polls [`Cluster::leader_among`] until `members` agree on a leader among
    /// themselves, or fails after `timeout`.
    pub async fn wait_for_leader(&self, members: &[usize], timeout: Duration) -> io::Result<usize> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(leader) = self.leader_among(members).await {
                return Ok(leader);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "members {members:?} agreed on no leader within {timeout:?} (logs in {})",
                        self.dir().display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn short_options() -> ConnectOptions {
    ConnectOptions {
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(5),
    }
}

/// One HTTP/1.1 request with a text body; returns the status code and body.
async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{method} {path}")))??;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.process.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
