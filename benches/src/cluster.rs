//! Starting ectd and etcd side by side on loopback and comparing them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::RangeRequest;

use crate::put::{self, Load};

/// A server process that is killed when dropped.
struct Proc {
    child: Child,
    client: String,
    dir: PathBuf,
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

/// Starts `bin` with etcd's flags (ectd takes the same ones) on fresh ports.
async fn start(bin: &Path, dir: &Path) -> anyhow::Result<Proc> {
    let (c, p) = (free_port()?, free_port()?);
    let client = format!("http://127.0.0.1:{c}");
    let peer = format!("http://127.0.0.1:{p}");
    let log = std::fs::File::create(dir.with_extension("log"))?;
    let child = Command::new(bin)
        .args(["--name", "bench", "--data-dir"])
        .arg(dir)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args(["--initial-cluster", &format!("bench={peer}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let proc = Proc {
        child,
        client: client.clone(),
        dir: dir.to_path_buf(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut kv) = KvClient::connect(client.clone()).await {
            let probe = kv
                .range(RangeRequest {
                    key: b"probe".to_vec(),
                    ..Default::default()
                })
                .await;
            if probe.is_ok() {
                return Ok(proc);
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("{} did not become ready within 30s", bin.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// Runs the put load against a fresh ectd and a fresh etcd and prints both.
pub async fn compare(load: &Load, ectd: &Path, etcd: &Path, json: bool) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for (name, bin) in [("ectd", ectd), ("etcd", etcd)] {
        let dir = tmp.path().join(name);
        let proc = start(bin, &dir).await?;
        let report = put::run(std::slice::from_ref(&proc.client), load).await?;
        let rss = rss_kib(proc.child.id());
        let disk = dir_bytes(&proc.dir);
        eprintln!(
            "{}  rss {} MiB, data dir {} MiB",
            report.summary(name),
            rss / 1024,
            disk >> 20
        );
        rows.push((name, report, rss, disk));
        drop(proc);
    }
    let ratio = rows[0].1.throughput / rows[1].1.throughput.max(1e-9);
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(n, r, rss, disk)| serde_json::json!({"server": n, "report": r, "rss_kib": rss, "disk_bytes": disk}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"runs": out, "throughput_ratio_ectd_over_etcd": ratio})
        );
    } else {
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
