//! Starting ectd and etcd side by side on loopback and comparing them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::RangeRequest;

use crate::load::{self, Load};
use crate::workloads;

/// A server process that is killed when dropped.
pub struct Proc {
    child: Child,
    client: String,
    tls_client: Option<String>,
    dir: PathBuf,
    command: Vec<std::ffi::OsString>,
    log: PathBuf,
}

/// Members of one cluster, killed when dropped.
pub struct Cluster {
    members: Vec<Proc>,
}

impl Cluster {
    /// Every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client.clone()).collect()
    }

    /// Every member's `https://` client URL, for a cluster started with TLS.
    pub fn tls_endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .filter_map(|m| m.tls_client.clone())
            .collect()
    }

    /// Resident memory of all members together, KiB.
    pub fn rss_kib(&self) -> u64 {
        self.members.iter().map(|m| rss_kib(m.child.id())).sum()
    }

    /// A function that reads the members' resident memory (KiB), for sampling
    /// from another thread.
    pub fn rss_sampler(&self) -> impl Fn() -> u64 + Send + 'static {
        let pids: Vec<u32> = self.members.iter().map(|m| m.child.id()).collect();
        move || pids.iter().map(|p| rss_kib(*p)).sum()
    }

    /// Bytes in all members' data directories.
    pub fn disk_bytes(&self) -> u64 {
        self.members.iter().map(|m| dir_bytes(&m.dir)).sum()
    }

    /// Stops every member (SIGTERM, then waits), starts them again on the same data and
    /// returns how long it took until every member served a linearizable read.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        for m in &mut self.members {
            // SIGTERM through kill(1): both servers shut down cleanly on it.
            let _ = Command::new("kill").arg(m.child.id().to_string()).status();
        }
        for m in &mut self.members {
            let _ = m.child.wait();
        }
        let started = Instant::now();
        for m in &mut self.members {
            let log = std::fs::OpenOptions::new().append(true).open(&m.log)?;
            m.child = Command::new(&m.command[0])
                .args(&m.command[1..])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()?;
        }
        wait_ready(self, Duration::from_secs(600)).await?;
        Ok(started.elapsed())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts an `n`-member cluster of `bin` (etcd's flags; ectd takes the same ones)
/// on fresh loopback ports under `dir`, and waits until every member serves. With
/// `tls`, every member also serves clients on an `https://` URL with that
/// certificate. Every member also gets the flags in `extra` (e.g. `--enable-v2`).
pub async fn start(
    bin: &Path,
    dir: &Path,
    n: usize,
    tls: Option<&crate::tls::ServerFiles>,
    extra: &[&str],
) -> anyhow::Result<Cluster> {
    let ports: Vec<(u16, u16)> = (0..n)
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<anyhow::Result<_>>()?;
    let initial: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, (_, p))| format!("m{i}=http://127.0.0.1:{p}"))
        .collect();
    let initial = initial.join(",");
    let mut members = Vec::new();
    for (i, (c, p)) in ports.iter().enumerate() {
        let client = format!("http://127.0.0.1:{c}");
        let tls_client = match tls {
            Some(_) => Some(format!("https://127.0.0.1:{}", free_port()?)),
            None => None,
        };
        let listen = match &tls_client {
            Some(t) => format!("{client},{t}"),
            None => client.clone(),
        };
        let peer = format!("http://127.0.0.1:{p}");
        let mdir = dir.join(format!("m{i}"));
        std::fs::create_dir_all(dir)?;
        let log_path = dir.join(format!("m{i}.log"));
        let log = std::fs::File::create(&log_path)?;
        let name = format!("m{i}");
        let mut command: Vec<std::ffi::OsString> = [
            bin.as_os_str(),
            "--name".as_ref(),
            name.as_ref(),
            "--data-dir".as_ref(),
            mdir.as_os_str(),
            "--listen-client-urls".as_ref(),
            listen.as_ref(),
            "--advertise-client-urls".as_ref(),
            client.as_ref(),
            "--listen-peer-urls".as_ref(),
            peer.as_ref(),
            "--initial-advertise-peer-urls".as_ref(),
            peer.as_ref(),
            "--initial-cluster".as_ref(),
            initial.as_ref(),
            "--initial-cluster-token".as_ref(),
            "bench".as_ref(),
        ]
        .iter()
        .map(|s| s.to_os_string())
        .collect();
        if let Some(t) = tls {
            command.push("--cert-file".into());
            command.push(t.cert.clone().into_os_string());
            command.push("--key-file".into());
            command.push(t.key.clone().into_os_string());
        }
        command.extend(extra.iter().map(|f| f.into()));
        let child = Command::new(&command[0])
            .args(&command[1..])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        members.push(Proc {
            child,
            client,
            tls_client,
            dir: mdir,
            command,
            log: log_path,
        });
    }
    let cluster = Cluster { members };
    wait_ready(&cluster, Duration::from_secs(30)).await?;
    Ok(cluster)
}

/// Waits until every member answers a linearizable read.
async fn wait_ready(cluster: &Cluster, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    for m in &cluster.members {
        loop {
            if let Ok(mut kv) = KvClient::connect(m.client.clone()).await {
                let probe = kv
                    .range(RangeRequest {
                        key: b"probe".to_vec(),
                        ..Default::default()
                    })
                    .await;
                if probe.is_ok() {
                    break;
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("{} did not become ready within {limit:?}", m.client);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Runs the put load against a fresh ectd cluster and a fresh etcd cluster of
/// `members` members each (clients spread over all members) and prints both.
pub async fn compare(
    load: &Load,
    ectd: &Path,
    etcd: &Path,
    members: usize,
    json: bool,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for (name, bin) in [("ectd", ectd), ("etcd", etcd)] {
        let dir = tmp.path().join(name);
        let cluster = start(bin, &dir, members, None, &[]).await?;
        let channels = load::connect(&cluster.endpoints(), load).await?;
        let report = workloads::put(&channels, load).await?;
        let rss = cluster.rss_kib();
        let disk = cluster.disk_bytes();
        eprintln!(
            "{}  rss {} MiB, data dirs {} MiB (all {members} members)",
            report.summary(name),
            rss / 1024,
            disk >> 20
        );
        rows.push((name, report, rss, disk));
        drop(cluster);
    }
    let ratio = rows[0].1.throughput / rows[1].1.throughput.max(1e-9);
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(n, r, rss, disk)| serde_json::json!({"server": n, "members": members, "report": r, "rss_kib": rss, "disk_bytes": disk}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"runs": out, "throughput_ratio_ectd_over_etcd": ratio})
        );
    } else {
        println!("{members}-member clusters");
        println!(
            "{:<6} {:>12} {:>10} {:>10} {:>10} {:>10}",
            "server", "puts/s", "p50 ms", "p99 ms", "RSS MiB", "disk MiB"
        );
        for (n, r, rss, disk) in &rows {
            println!(
                "{:<6} {:>12.0} {:>10.2} {:>10.2} {:>10} {:>10}",
                n,
                r.throughput,
                r.p50_ms,
                r.p99_ms,
                rss / 1024,
                disk >> 20
            );
        }
        println!("throughput ratio ectd/etcd: {ratio:.2}");
    }
    Ok(())
}
