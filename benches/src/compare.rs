//! `ectd-bench compare`: a fresh ectd cluster and a fresh etcd cluster on loopback, the
//! same workloads against each in one run, taking turns, and the ratios (ectd / etcd)
//! as a table, a JSON file and an SVG chart. The v2 keys API rows ([`v2`]) run on a pair
//! of clusters of their own, started with `--enable-v2`; the auth rows ([`auth`]) on a
//! pair per authentication setting.

mod auth;
mod defrag;
mod gateway;
mod ops;
mod stages;
mod v2;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tonic::metadata::AsciiMetadataValue;

use crate::cluster::{self, Cluster};
use crate::load::{self, Load, Target};
use crate::watch::{self, WatchLoad};
use crate::workloads;

/// Options of a comparison.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareOptions {
    /// The ectd binary (default: next to this one).
    #[arg(long)]
    pub ectd: Option<PathBuf>,
    /// The etcd binary.
    #[arg(long, default_value = "/usr/bin/etcd")]
    pub etcd: PathBuf,
    /// Members per cluster.
    #[arg(long, default_value_t = 3)]
    pub members: usize,
    /// Seconds each request workload runs, per round.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Times each request and watch workload runs on each server; the servers take
    /// turns (ectd, etcd, then etcd, ectd, ...) and the table shows the means.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Keys loaded before measuring memory, disk and restart time.
    #[arg(long, default_value_t = 1_000_000)]
    pub keys: u64,
    /// Watchers of the watch workload.
    #[arg(long, default_value_t = 10_000)]
    pub watchers: usize,
    /// Puts of the watch workload.
    #[arg(long, default_value_t = 1_000)]
    pub watch_puts: u64,
    /// Where results.json and chart.svg go.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// Also serve clients over TLS (a certificate made for the run) and measure
    /// the put and linearizable range workloads through it, on both servers.
    #[arg(long)]
    pub tls: bool,
    /// Measure only one group of rows: `v3` (requests, TLS, watch, key load), `v2`
    /// (the v2 keys API rows), `gateway` (the JSON gateway rows), `auth` (put and
    /// range with authentication off, on with simple tokens, on with JWTs), `ops`
    /// (snapshot download time and memory, puts while it streams), `stages` (a
    /// one-client put and where its time goes) or `defrag` (a defragment of a
    /// `--defrag-mib` store; measured only when named here).
    #[arg(long, value_enum)]
    pub only: Option<Group>,
    /// MiB of 1 KiB values the `defrag` rows write (half are deleted before the
    /// defragment).
    #[arg(long, default_value_t = 4096)]
    pub defrag_mib: u64,
    /// v2 keys loaded before measuring memory in the v2 rows (also the v2 workloads'
    /// key space).
    #[arg(long, default_value_t = 100_000)]
    pub v2_keys: u64,
}

/// A group of rows of the comparison, each measured on its own pair of clusters.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// The v3 API: request workloads (and their TLS runs), watch, key load and restart.
    V3,
    /// The v2 keys API: set, get with and without quorum, memory after a key load;
    /// both servers run with `--enable-v2`.
    V2,
    /// The JSON gateway: put and range as JSON, and as gRPC for reference.
    Gateway,
    /// Authentication: put and linearizable range with auth off, on with simple
    /// tokens and on with ES256 JWTs, and what auth costs each server.
    Auth,
    /// Operations: a snapshot download of `--keys` keys (time, peak memory) and
    /// the p99 of puts while it streams.
    Ops,
    /// A defragment of a large store (`--defrag-mib`): how long it takes and the
    /// slowest put and range meanwhile. Only when asked for by name.
    Defrag,
    /// One client putting to the leader, and where each put's time goes: ectd's
    /// stage histograms beside etcd's fsync, commit and handling times.
    Stages,
}

impl CompareOptions {
    fn measures(&self, group: Group) -> bool {
        match self.only {
            Some(g) => g == group,
            // Filling several GiB takes a quarter of an hour: only on request.
            None => group != Group::Defrag,
        }
    }
}

/// One measured quantity for both servers.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The unit of `ectd` and `etcd`.
    pub unit: String,
    /// ectd's value.
    pub ectd: f64,
    /// etcd's value.
    pub etcd: f64,
    /// ectd / etcd.
    pub ratio: f64,
    /// Whether more is better (throughput) or less (memory, time).
    pub higher_is_better: bool,
    /// The target ratio, if the issue sets one.
    pub target: Option<f64>,
    /// p99 latency of each, ms, for request workloads.
    pub p99_ms: Option<(f64, f64)>,
    /// The ratio measured in each round (one entry per round).
    pub round_ratios: Vec<f64>,
}

impl Row {
    fn met(&self) -> Option<bool> {
        let t = self.target?;
        Some(if self.higher_is_better {
            self.ratio >= t
        } else {
            self.ratio <= t
        })
    }
}

/// A request workload of the comparison.
#[derive(Clone, Copy)]
enum Kind {
    Put,
    RangeLinearizable,
    RangeSerializable,
    TxnCas,
    LeaseKeepalive,
    /// Linearizable ranges and puts; the share of reads in percent.
    Mixed(u64),
}

struct Case {
    name: &'static str,
    kind: Kind,
    clients: usize,
    conns: usize,
    target: Option<f64>,
}

const CASES: &[Case] = &[
    Case {
        name: "put, 256 clients / 16 conns",
        kind: Kind::Put,
        clients: 256,
        conns: 16,
        target: Some(2.0),
    },
    Case {
        name: "put, 1 client",
        kind: Kind::Put,
        clients: 1,
        conns: 1,
        target: Some(1.3),
    },
    Case {
        name: "range linearizable, 256 clients",
        kind: Kind::RangeLinearizable,
        clients: 256,
        conns: 16,
        target: Some(2.0),
    },
    Case {
        name: "range serializable, 256 clients",
        kind: Kind::RangeSerializable,
        clients: 256,
        conns: 16,
        target: Some(2.0),
    },
    Case {
        name: "txn-cas, 64 clients",
        kind: Kind::TxnCas,
        clients: 64,
        conns: 16,
        target: Some(2.0),
    },
    Case {
        name: "lease keep-alive, 64 clients",
        kind: Kind::LeaseKeepalive,
        clients: 64,
        conns: 16,
        target: Some(1.5),
    },
    Case {
        name: "mixed 90% range / 10% put, 256 clients",
        kind: Kind::Mixed(90),
        clients: 256,
        conns: 16,
        target: Some(2.0),
    },
    Case {
        name: "mixed 50% range / 50% put, 256 clients",
        kind: Kind::Mixed(50),
        clients: 256,
        conns: 16,
        target: None,
    },
];

/// One quantity measured on both servers, once per round.
#[derive(Debug, Default, Clone)]
struct Rounds {
    /// (value, p99 ms) per round: index 0 is ectd, 1 is etcd.
    sides: [Vec<(f64, f64)>; 2],
}

impl Rounds {
    fn mean(&self, side: usize, f: impl Fn(&(f64, f64)) -> f64) -> f64 {
        let v = &self.sides[side];
        v.iter().map(f).sum::<f64>() / v.len().max(1) as f64
    }

    /// The ratio ectd / etcd of each round's values.
    fn round_ratios(&self) -> Vec<f64> {
        self.sides[0]
            .iter()
            .zip(&self.sides[1])
            .map(|(a, b)| a.0 / b.0.max(1e-9))
            .collect()
    }

    /// A row of the mean values; `p99` says whether the row shows latencies.
    fn row(&self, name: &str, unit: &str, higher: bool, target: Option<f64>, p99: bool) -> Row {
        let (a, b) = (self.mean(0, |r| r.0), self.mean(1, |r| r.0));
        Row {
            name: name.into(),
            unit: unit.into(),
            ectd: a,
            etcd: b,
            ratio: a / b.max(1e-9),
            higher_is_better: higher,
            target,
            p99_ms: p99.then(|| (self.mean(0, |r| r.1), self.mean(1, |r| r.1))),
            round_ratios: self.round_ratios(),
        }
    }
}

/// Distinct keys the request workloads write and read.
const REQUEST_KEY_SPACE: u64 = 100_000;

/// A load of the issue's shape (8-byte keys, 256-byte values, every member), quiet,
/// with no total yet.
fn table_load(clients: usize, conns: usize, key_space: u64) -> Load {
    Load {
        clients,
        conns,
        total: 0,
        duration: None,
        key_size: 8,
        val_size: 256,
        key_space,
        target: Target::All,
        quiet: true,
        tls: None,
        token: None,
    }
}

/// A server under test: its cluster and whether the range workloads' keys are in.
struct Side {
    name: &'static str,
    cluster: Cluster,
    preloaded: bool,
}

/// The workloads measured again over TLS in `--tls` mode.
const TLS_CASES: [usize; 2] = [0, 2];

/// Runs one request workload against `side`, over TLS with `tls` and as a logged-in
/// user with `token`: (throughput/s, p99 ms).
async fn run_case(
    case: &Case,
    side: &mut Side,
    opts: &CompareOptions,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    token: Option<&AsciiMetadataValue>,
) -> anyhow::Result<(f64, f64)> {
    let mut load = table_load(case.clients, case.conns, REQUEST_KEY_SPACE);
    load.duration = Some(opts.seconds);
    load.tls = tls.cloned();
    load.token = token.cloned();
    if case.conns == 1 {
        // One connection goes to one member: to the leader on both sides, so
        // neither is measured through an extra forwarding hop by the luck of the
        // election.
        load.target = Target::Leader;
    }
    let endpoints = match tls {
        Some(_) => side.cluster.tls_endpoints(),
        None => side.cluster.endpoints(),
    };
    let ch = load::connect(&endpoints, &load).await?;
    let report = match case.kind {
        Kind::Put => workloads::put(&ch, &load).await?,
        Kind::RangeLinearizable | Kind::RangeSerializable => {
            if !side.preloaded {
                workloads::preload(&ch, &load).await?;
                side.preloaded = true;
            }
            let serializable = matches!(case.kind, Kind::RangeSerializable);
            workloads::range(&ch, &load, serializable).await?
        }
        Kind::TxnCas => workloads::txn_cas(&ch, &load).await?,
        Kind::LeaseKeepalive => workloads::lease_keepalive(&ch, &load).await?,
        Kind::Mixed(read_percent) => {
            if !side.preloaded {
                workloads::preload(&ch, &load).await?;
                side.preloaded = true;
            }
            workloads::mixed(&ch, &load, read_percent).await?
        }
    };
    let over = if tls.is_some() { " over TLS" } else { "" };
    eprintln!("  {}: {}{over}", side.name, report.summary(case.name));
    anyhow::ensure!(
        report.ok > 0,
        "{}: every request of {} failed",
        side.name,
        case.name
    );
    Ok((report.throughput, report.p99_ms))
}

/// Runs a watch workload of `w` against `side`: (events/s, delivery p99 ms, put
/// p99 ms).
async fn run_watch(side: &mut Side, w: &WatchLoad) -> anyhow::Result<(f64, f64, f64)> {
    let load = table_load(1, 16, 100_000);
    let ch = load::connect(&side.cluster.endpoints(), &load).await?;
    let report = watch::run(&ch, &load, w).await?;
    eprintln!("  {}: {}", side.name, report.summary("watch"));
    Ok((report.events_per_sec, report.p99_ms, report.put_p99_ms))
}

/// What the key load left: (RSS MiB, disk MiB, restart seconds).
async fn fill_and_restart(
    side: &mut Side,
    opts: &CompareOptions,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut fill = table_load(256, 16, opts.keys);
    fill.total = opts.keys;
    fill.quiet = false;
    let ch = load::connect(&side.cluster.endpoints(), &fill).await?;
    let report = workloads::put(&ch, &fill).await?;
    anyhow::ensure!(
        report.errors == 0,
        "{}: {} of the key load failed",
        side.name,
        report.errors
    );
    drop(ch);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = side.cluster.rss_kib() as f64 / 1024.0;
    let disk = side.cluster.disk_bytes() as f64 / (1 << 20) as f64;
    let restart = side.cluster.restart().await?.as_secs_f64();
    eprintln!(
        "  {}: after {} keys: RSS {rss:.0} MiB, disk {disk:.0} MiB, restart {restart:.2}s",
        side.name, opts.keys
    );
    Ok((rss, disk, restart))
}

/// Which side goes first in round `round`: ectd, etcd, then etcd, ectd, and so on,
/// so that a machine getting slower or faster during the run favours neither.
fn order(round: usize) -> [usize; 2] {
    if round.is_multiple_of(2) {
        [0, 1]
    } else {
        [1, 0]
    }
}

/// Runs the comparison and writes `results.json` and `chart.svg` under `opts.out`.
///
/// Each group of rows runs on a fresh ectd and etcd cluster that run for the whole
/// group. Every workload runs `--rounds` times on each, the two servers taking turns,
/// and the table shows the means.
pub async fn run(opts: &CompareOptions) -> anyhow::Result<Vec<Row>> {
    let ectd = match &opts.ectd {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("ectd"),
    };
    let tmp = tempfile::tempdir()?;
    let rounds = opts.rounds.max(1);
    eprintln!("ectd: {}\netcd: {}", ectd.display(), opts.etcd.display());
    let mut rows = Vec::new();
    if opts.measures(Group::V3) {
        rows.extend(v3_rows(opts, &ectd, &tmp.path().join("v3")).await?);
    }
    if opts.measures(Group::V2) {
        rows.extend(v2::rows(opts, &ectd, &tmp.path().join("v2")).await?);
    }
    if opts.measures(Group::Gateway) {
        rows.extend(gateway::rows(opts, &ectd, &tmp.path().join("gateway")).await?);
    }
    if opts.measures(Group::Auth) {
        rows.extend(auth::rows(opts, &ectd, &tmp.path().join("auth")).await?);
    }
    if opts.measures(Group::Ops) {
        let dir = tmp.path().join("ops");
        std::fs::create_dir_all(&dir)?;
        rows.extend(ops::rows(opts, &ectd, &dir).await?);
    }
    if opts.measures(Group::Stages) {
        rows.extend(stages::rows(opts, &ectd, &tmp.path().join("stages")).await?);
    }
    if opts.measures(Group::Defrag) {
        rows.extend(defrag::rows(opts, &ectd, &tmp.path().join("defrag")).await?);
    }

    std::fs::create_dir_all(&opts.out)?;
    let json = serde_json::json!({
        "members": opts.members,
        "seconds_per_workload": opts.seconds,
        "rounds": rounds,
        "keys": opts.keys,
        "v2_keys": opts.v2_keys,
        "only": opts.only,
        "tls": opts.tls,
        "rows": rows,
    });
    std::fs::write(
        opts.out.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    std::fs::write(opts.out.join("chart.svg"), chart(&rows))?;
    Ok(rows)
}

/// The v3 rows: request workloads (and, with `--tls`, some of them over TLS), watch,
/// then memory, disk and restart time after the key load.
async fn v3_rows(opts: &CompareOptions, ectd: &Path, dir: &Path) -> anyhow::Result<Vec<Row>> {
    let rounds = opts.rounds.max(1);
    let certs = match opts.tls {
        true => Some(crate::tls::make_certificates(&dir.join("tls"))?),
        false => None,
    };
    let tls_client = match &certs {
        Some(c) => Some(crate::tls::client_config(&c.ca)?),
        None => None,
    };
    let n = opts.members.max(1);
    let mut sides = [
        Side {
            name: "ectd",
            cluster: cluster::start(ectd, &dir.join("ectd"), n, certs.as_ref(), &[]).await?,
            preloaded: false,
        },
        Side {
            name: "etcd",
            cluster: cluster::start(&opts.etcd, &dir.join("etcd"), n, certs.as_ref(), &[]).await?,
            preloaded: false,
        },
    ];
    let mut rows = Vec::new();
    for case in CASES {
        let mut m = Rounds::default();
        for round in 0..rounds {
            for s in order(round) {
                let r = run_case(case, &mut sides[s], opts, None, None).await?;
                m.sides[s].push(r);
            }
        }
        rows.push(m.row(case.name, "ops/s", true, case.target, true));
    }
    if let Some(tls) = &tls_client {
        // Over TLS ectd should keep at least the lead it has in plaintext: the
        // plaintext ratio is the target.
        for i in TLS_CASES {
            let case = &CASES[i];
            let plain_ratio = rows[i].ratio;
            let mut m = Rounds::default();
            for round in 0..rounds {
                for s in order(round) {
                    let r = run_case(case, &mut sides[s], opts, Some(tls), None).await?;
                    m.sides[s].push(r);
                }
            }
            let name = format!("{}, TLS", case.name);
            rows.push(m.row(&name, "ops/s", true, Some(plain_ratio), true));
        }
    }
    // Many watchers multiplexed on few streams (Go's clientv3), then one stream
    // per watcher (the Rust `etcd-client` crate).
    let shapes = [
        WatchLoad {
            watchers: opts.watchers,
            streams: 100,
            puts: opts.watch_puts,
            put_clients: 1,
        },
        WatchLoad {
            watchers: 1_000,
            streams: 1_000,
            puts: 200,
            put_clients: 1,
        },
    ];
    for (i, w) in shapes.iter().enumerate() {
        let mut watch: [Rounds; 3] = Default::default();
        for round in 0..rounds {
            for s in order(round) {
                let (events, delivery, put) = run_watch(&mut sides[s], w).await?;
                for (m, v) in watch.iter_mut().zip([events, delivery, put]) {
                    m.sides[s].push((v, 0.0));
                }
            }
        }
        let name = if i == 0 {
            format!("watch, {} watchers, {} puts", w.watchers, w.puts)
        } else {
            format!(
                "watch, {} watchers on {} streams, {} puts",
                w.watchers, w.streams, w.puts
            )
        };
        rows.push(watch[0].row(&name, "events/s", true, Some(2.0), false));
        rows.push(watch[1].row(
            &format!("{name}: delivery p99"),
            "ms",
            false,
            Some(1.0),
            false,
        ));
        rows.push(watch[2].row(&format!("{name}: put p99"), "ms", false, Some(1.0), false));
    }

    let mut after: [Rounds; 3] = Default::default();
    for (s, side) in sides.iter_mut().enumerate() {
        let (rss, disk, restart) = fill_and_restart(side, opts).await?;
        after[0].sides[s].push((rss, 0.0));
        after[1].sides[s].push((disk, 0.0));
        after[2].sides[s].push((restart, 0.0));
    }
    let keys = opts.keys;
    rows.push(after[0].row(
        &format!("RSS after {keys} keys"),
        "MiB",
        false,
        Some(0.5),
        false,
    ));
    rows.push(after[1].row(
        &format!("disk after {keys} keys"),
        "MiB",
        false,
        None,
        false,
    ));
    rows.push(after[2].row(
        &format!("restart with {keys} keys"),
        "s",
        false,
        Some(0.5),
        false,
    ));
    Ok(rows)
}

/// `x` to two decimals, without trailing zeros (2 stays `2`, 1.1835 becomes `1.18`).
fn round2(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| measure | ectd | etcd | ectd/etcd | per round | target | met | p99 ms ectd / etcd |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let target = match r.target {
            Some(t) if r.higher_is_better => format!(">= {}x", round2(t)),
            Some(t) => format!("<= {}x", round2(t)),
            None => "-".into(),
        };
        let met = match r.met() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let p99 = r
            .p99_ms
            .map_or("-".into(), |(a, b)| format!("{a:.2} / {b:.2}"));
        let rounds: Vec<String> = r.round_ratios.iter().map(|x| format!("{x:.2}")).collect();
        let _ = writeln!(
            s,
            "| {} | {:.1} {} | {:.1} {} | {:.2} | {} | {target} | {met} | {p99} |",
            r.name,
            r.ectd,
            r.unit,
            r.etcd,
            r.unit,
            r.ratio,
            rounds.join(" ")
        );
    }
    s
}

/// A horizontal bar per row: the ratio ectd / etcd on a log scale, the 1.0 line, and
/// the target as a tick; green where the target is met, red where not.
pub fn chart(rows: &[Row]) -> String {
    let (label_w, bar_w, row_h) = (300.0, 420.0, 26.0);
    let height = 50.0 + row_h * rows.len() as f64;
    // log2 scale from 1/8x to 8x.
    let x = |ratio: f64| label_w + (ratio.clamp(0.125, 8.0).log2() + 3.0) / 6.0 * bar_w;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n",
        label_w + bar_w + 80.0
    );
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"18\" font-weight=\"bold\">ectd / etcd (log scale, 1/8x to 8x; tick = target)</text>"
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 34.0 + row_h * i as f64;
        let color = match r.met() {
            Some(true) => "#3a3",
            Some(false) => "#c33",
            None => "#888",
        };
        let (x0, x1) = (x(1.0), x(r.ratio));
        let (left, width) = if x1 >= x0 {
            (x0, x1 - x0)
        } else {
            (x1, x0 - x1)
        };
        let _ = writeln!(
            s,
            "<text x=\"10\" y=\"{}\">{}</text><rect x=\"{left:.1}\" y=\"{y}\" width=\"{width:.1}\" height=\"{}\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{}\">{:.2}x</text>",
            y + 14.0,
            r.name,
            row_h - 8.0,
            label_w + bar_w + 8.0,
            y + 14.0,
            r.ratio
        );
        if let Some(t) = r.target {
            let tx = x(t);
            let _ = writeln!(
                s,
                "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#000\" stroke-width=\"2\"/>",
                y - 2.0,
                y + row_h - 6.0
            );
        }
    }
    let _ = writeln!(
        s,
        "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"28\" y2=\"{1}\" stroke=\"#555\" stroke-dasharray=\"3,3\"/>\n</svg>",
        x(1.0),
        height - 10.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ratio: f64, higher: bool, target: Option<f64>) -> Row {
        Row {
            name: "r".into(),
            unit: "u".into(),
            ectd: ratio,
            etcd: 1.0,
            ratio,
            higher_is_better: higher,
            target,
            p99_ms: None,
            round_ratios: vec![ratio],
        }
    }

    #[test]
    fn rounds_alternate_and_average() {
        assert_eq!(order(0), [0, 1]);
        assert_eq!(order(1), [1, 0]);
        let m = Rounds {
            sides: [
                vec![(300.0, 2.0), (100.0, 4.0)],
                vec![(100.0, 1.0), (100.0, 3.0)],
            ],
        };
        let r = m.row("put", "ops/s", true, Some(2.0), true);
        assert_eq!((r.ectd, r.etcd, r.ratio), (200.0, 100.0, 2.0));
        assert_eq!(r.round_ratios, vec![3.0, 1.0]);
        assert_eq!(r.p99_ms, Some((3.0, 2.0)));
        assert_eq!(r.met(), Some(true));
        let t = table(&[r]);
        assert!(t.contains("| 2.00 | 3.00 1.00 |"), "{t}");
    }

    #[test]
    fn targets_are_met_in_the_right_direction() {
        assert_eq!(row(2.1, true, Some(2.0)).met(), Some(true));
        assert_eq!(row(1.9, true, Some(2.0)).met(), Some(false));
        assert_eq!(row(0.4, false, Some(0.5)).met(), Some(true));
        assert_eq!(row(0.6, false, Some(0.5)).met(), Some(false));
        assert_eq!(row(0.6, false, None).met(), None);
    }

    #[test]
    fn table_and_chart_have_a_line_per_row() {
        let rows = vec![row(2.5, true, Some(2.0)), row(0.7, false, Some(0.5))];
        let t = table(&rows);
        assert_eq!(t.lines().count(), 4);
        assert!(t.contains("| yes |") && t.contains("| no |"), "{t}");
        let svg = chart(&rows);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("#3a3") && svg.contains("#c33"));
    }
}
