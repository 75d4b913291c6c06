//! The v2 keys API rows of the comparison, on a fresh ectd and etcd cluster started with
//! `--enable-v2`: first `--v2-keys` keys are set in each (untimed) and the members' RSS
//! measured, then the set and get workloads run over those keys, the servers taking
//! turns as in every other row.

use std::path::Path;
use std::time::Duration;

use super::{order, table_load, CompareOptions, Rounds, Row, Side};
use crate::cluster;
use crate::v2;

/// What a v2 row sends.
#[derive(Clone, Copy)]
enum Kind {
    Set,
    Get { quorum: bool },
}

struct Case {
    name: &'static str,
    kind: Kind,
    clients: usize,
    target: Option<f64>,
}

/// HTTP/1.1 carries one request at a time, so each client gets its own connection, as a
/// Go client's transport would open.
const CASES: &[Case] = &[
    Case {
        name: "v2 set, 64 clients",
        kind: Kind::Set,
        clients: 64,
        target: Some(2.0),
    },
    Case {
        name: "v2 get quorum, 64 clients",
        kind: Kind::Get { quorum: true },
        clients: 64,
        target: None,
    },
    Case {
        name: "v2 get, 64 clients",
        kind: Kind::Get { quorum: false },
        clients: 64,
        target: None,
    },
];

/// Runs one v2 workload against `side`: (throughput/s, p99 ms).
async fn run_case(case: &Case, side: &Side, opts: &CompareOptions) -> anyhow::Result<(f64, f64)> {
    let mut load = table_load(case.clients, case.clients, opts.v2_keys);
    load.duration = Some(opts.seconds);
    let conns = v2::connect(&side.cluster.endpoints(), &load).await?;
    let report = match case.kind {
        Kind::Set => v2::set(&conns, &load).await?,
        Kind::Get { quorum } => v2::get(&conns, &load, quorum).await?,
    };
    eprintln!("  {}: {}", side.name, report.summary(case.name));
    Ok((report.throughput, report.p99_ms))
}

/// Sets every key of the v2 key space once and returns the members' RSS, MiB.
async fn fill(side: &Side, opts: &CompareOptions) -> anyhow::Result<f64> {
    let mut fill = table_load(64, 64, opts.v2_keys);
    fill.total = opts.v2_keys;
    fill.quiet = false;
    let conns = v2::connect(&side.cluster.endpoints(), &fill).await?;
    let report = v2::set(&conns, &fill).await?;
    anyhow::ensure!(
        report.errors == 0,
        "{}: {} of the v2 key load failed",
        side.name,
        report.errors
    );
    drop(conns);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = side.cluster.rss_kib() as f64 / 1024.0;
    eprintln!(
        "  {}: after {} v2 keys ({:.0} sets/s): RSS {rss:.0} MiB",
        side.name, opts.v2_keys, report.throughput
    );
    Ok(rss)
}

/// The v2 rows: set, get with and without `quorum=true`, and RSS after the key load.
pub(super) async fn rows(
    opts: &CompareOptions,
    ectd: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<Row>> {
    let n = opts.members.max(1);
    let flags = ["--enable-v2"];
    let sides = [
        Side {
            name: "ectd",
            cluster: cluster::start(ectd, &dir.join("ectd"), n, None, &flags).await?,
            preloaded: false,
        },
        Side {
            name: "etcd",
            cluster: cluster::start(&opts.etcd, &dir.join("etcd"), n, None, &flags).await?,
            preloaded: false,
        },
    ];
    let mut rss = Rounds::default();
    for (s, side) in sides.iter().enumerate() {
        rss.sides[s].push((fill(side, opts).await?, 0.0));
    }
    let mut rows = Vec::new();
    for case in CASES {
        let mut m = Rounds::default();
        for round in 0..opts.rounds.max(1) {
            for s in order(round) {
                let r = run_case(case, &sides[s], opts).await?;
                m.sides[s].push(r);
            }
        }
        rows.push(m.row(case.name, "ops/s", true, case.target, true));
    }
    rows.push(rss.row(
        &format!("RSS after {} v2 keys", opts.v2_keys),
        "MiB",
        false,
        Some(0.5),
        false,
    ));
    Ok(rows)
}
