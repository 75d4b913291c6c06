//! The one-client put, stage by stage: a fresh cluster of each server, one client
//! putting to the leader, and the members' `/metrics` read before and after. ectd
//! reports where each proposal's time goes (`ectd_server_proposal_stage_duration_seconds`);
//! etcd reports its WAL fsync, backend commit and gRPC handling times, which are
//! set beside ectd's. Run with `TMPDIR` on a tmpfs to take the disk out.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::{order, table_load, CompareOptions, Rounds, Row};
use crate::load::{self, Target};
use crate::{cluster, workloads};

/// The stages ectd reports, in the order a proposal passes them.
const STAGES: [&str; 7] = [
    "queue",
    "commit",
    "apply_wait",
    "apply",
    "notify",
    "wake",
    "total",
];

const WAL_FSYNC: &str = "etcd_disk_wal_fsync_duration_seconds";
const BACKEND_COMMIT: &str = "etcd_disk_backend_commit_duration_seconds";
const PUT_HANDLING: &str = r#"grpc_server_handling_seconds{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"}"#;

/// A member's `/metrics` page over plain HTTP/1.0.
fn scrape(endpoint: &str) -> anyhow::Result<String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

/// Every sample of a page by its series (name and labels as written).
fn samples(page: &str) -> HashMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The mean, ms, of the histogram `name{labels}` between two pages of samples
/// (`name` has no labels when `labels` is empty); `None` if nothing was observed.
fn mean_ms(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    series: &str,
) -> Option<f64> {
    let (name, labels) = match series.find('{') {
        Some(i) => series.split_at(i),
        None => (series, ""),
    };
    let delta = |suffix: &str| {
        let k = format!("{name}_{suffix}{labels}");
        after.get(&k).copied().unwrap_or(0.0) - before.get(&k).copied().unwrap_or(0.0)
    };
    let count = delta("count");
    (count > 0.0).then(|| delta("sum") / count * 1000.0)
}

/// One side's measures of one round: the put's throughput and p99, the client's
/// mean latency, and every histogram mean found on the leader and the followers.
struct Measured {
    throughput: f64,
    p99_ms: f64,
    client_mean_ms: f64,
    leader: HashMap<String, f64>,
    followers: HashMap<String, f64>,
}

async fn measure(
    c: &cluster::Cluster,
    opts: &CompareOptions,
    name: &str,
) -> anyhow::Result<Measured> {
    let endpoints = c.endpoints();
    let leader = load::leader(&endpoints).await?;
    let followers: Vec<&String> = endpoints.iter().filter(|e| **e != leader).collect();
    let mut l = table_load(1, 1, 100_000);
    l.target = Target::Leader;
    l.duration = Some(1.0);
    let ch = load::connect(&endpoints, &l).await?;
    // Warm the connection and the members up, untimed.
    workloads::put(&ch, &l).await?;
    let pages = |eps: &[&String]| -> anyhow::Result<Vec<HashMap<String, f64>>> {
        eps.iter().map(|e| Ok(samples(&scrape(e)?))).collect()
    };
    let leader_before = samples(&scrape(&leader)?);
    let followers_before = pages(&followers)?;
    l.duration = Some(opts.seconds);
    let report = workloads::put(&ch, &l).await?;
    let leader_after = samples(&scrape(&leader)?);
    let followers_after = pages(&followers)?;
    eprintln!("  {name}: {}", report.summary("put, 1 client"));
    anyhow::ensure!(report.ok > 0, "{name}: every put failed");

    let mut series: Vec<String> = STAGES
        .iter()
        .map(|s| format!(r#"ectd_server_proposal_stage_duration_seconds{{stage="{s}"}}"#))
        .collect();
    series.extend([WAL_FSYNC, BACKEND_COMMIT, PUT_HANDLING].map(String::from));
    let mut on_leader = HashMap::new();
    let mut on_followers = HashMap::new();
    for s in &series {
        if let Some(v) = mean_ms(&leader_before, &leader_after, s) {
            on_leader.insert(s.clone(), v);
        }
        let means: Vec<f64> = followers_before
            .iter()
            .zip(&followers_after)
            .filter_map(|(b, a)| mean_ms(b, a, s))
            .collect();
        if !means.is_empty() {
            on_followers.insert(s.clone(), means.iter().sum::<f64>() / means.len() as f64);
        }
    }
    Ok(Measured {
        throughput: report.throughput,
        p99_ms: report.p99_ms,
        client_mean_ms: 1000.0 / report.throughput.max(1e-9),
        leader: on_leader,
        followers: on_followers,
    })
}

/// The rounds of one measure: `f` of each run on each side.
fn rounds_of(runs: &[Vec<Measured>; 2], f: impl Fn(&Measured) -> (f64, f64)) -> Rounds {
    let mut r = Rounds::default();
    for (side, measured) in r.sides.iter_mut().zip(runs) {
        *side = measured.iter().map(&f).collect();
    }
    r
}

/// The stage rows: the one-client put on each server, its mean latency as the
/// client sees it, and the means both servers report (WAL fsync on the leader and
/// on the followers, backend commit, gRPC handling of Put). ectd's own stages,
/// which etcd does not report, are printed as a table of their own.
pub async fn rows(opts: &CompareOptions, ectd: &Path, dir: &Path) -> anyhow::Result<Vec<Row>> {
    let n = opts.members.max(1);
    let flags = ["--metrics", "extensive"];
    let clusters = [
        cluster::start(ectd, &dir.join("ectd"), n, None, &flags).await?,
        cluster::start(&opts.etcd, &dir.join("etcd"), n, None, &flags).await?,
    ];
    let names = ["ectd", "etcd"];
    let mut runs: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for round in 0..opts.rounds.max(1) {
        for s in order(round) {
            runs[s].push(measure(&clusters[s], opts, names[s]).await?);
        }
    }

    let mut out = vec![rounds_of(&runs, |m| (m.throughput, m.p99_ms)).row(
        "put, 1 client to the leader (stages run)",
        "ops/s",
        true,
        None,
        true,
    )];
    type Pick = fn(&Measured) -> Option<f64>;
    let compared: [(&str, Pick); 5] = [
        ("1-client put: mean latency at the client", |m| {
            Some(m.client_mean_ms)
        }),
        (
            "1-client put: gRPC handling of Put on the leader, mean",
            |m| m.leader.get(PUT_HANDLING).copied(),
        ),
        ("1-client put: WAL fsync on the leader, mean", |m| {
            m.leader.get(WAL_FSYNC).copied()
        }),
        ("1-client put: WAL fsync on a follower, mean", |m| {
            m.followers.get(WAL_FSYNC).copied()
        }),
        ("1-client put: backend commit on the leader, mean", |m| {
            m.leader.get(BACKEND_COMMIT).copied()
        }),
    ];
    for (name, pick) in compared {
        let r = rounds_of(&runs, |m| (pick(m).unwrap_or(0.0), 0.0));
        out.push(r.row(name, "ms", false, None, false));
    }

    let mean = |side: usize, s: &str| {
        let v: Vec<f64> = runs[side]
            .iter()
            .filter_map(|m| m.leader.get(s).copied())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    eprintln!("\n| ectd stage (leader, mean ms) | ectd |\n|---|---|");
    for s in STAGES {
        let series = format!(r#"ectd_server_proposal_stage_duration_seconds{{stage="{s}"}}"#);
        eprintln!("| {s} | {} |", show(mean(0, &series)));
    }
    eprintln!(
        "| client mean latency | {} |\n",
        show(Some(
            runs[0].iter().map(|m| m.client_mean_ms).sum::<f64>() / runs[0].len() as f64
        ))
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{mean_ms, samples};

    #[test]
    fn histogram_means_come_from_sum_and_count_deltas() {
        let before = samples(
            "# TYPE h histogram\nh_sum{stage=\"a\"} 1.5\nh_count{stage=\"a\"} 10\nw_sum 2\nw_count 4\n",
        );
        let after =
            samples("h_sum{stage=\"a\"} 2.5\nh_count{stage=\"a\"} 20\nw_sum 2\nw_count 4\n");
        let m = mean_ms(&before, &after, "h{stage=\"a\"}").expect("observed");
        assert!((m - 100.0).abs() < 1e-9, "{m}");
        assert_eq!(mean_ms(&before, &after, "w"), None);
        assert_eq!(mean_ms(&before, &after, "absent"), None);
    }
}
