//! The JSON gateway rows of the comparison, on a fresh ectd and etcd cluster: put and
//! linearizable range over the gateway (`POST /v3/kv/...`, HTTP/1.1, a connection per
//! client), and the same workloads over gRPC on the same clusters for reference, so
//! the table shows both the gateway's ratio and what JSON costs each server.

use std::path::Path;

use super::{order, table_load, CompareOptions, Rounds, Row, Side};
use crate::{cluster, gateway, load, v2, workloads};

#[derive(Clone, Copy)]
enum Kind {
    JsonPut,
    JsonRange,
    GrpcPut,
    GrpcRange,
}

struct Case {
    name: &'static str,
    kind: Kind,
    target: Option<f64>,
}

const CLIENTS: usize = 64;
/// gRPC clients share connections (HTTP/2 multiplexes); gateway clients do not.
const GRPC_CONNS: usize = 16;

const CASES: &[Case] = &[
    Case {
        name: "gateway put, 64 clients",
        kind: Kind::JsonPut,
        target: Some(2.0),
    },
    Case {
        name: "gateway range, 64 clients",
        kind: Kind::JsonRange,
        target: Some(2.0),
    },
    Case {
        name: "gRPC put (gateway run), 64 clients",
        kind: Kind::GrpcPut,
        target: None,
    },
    Case {
        name: "gRPC range (gateway run), 64 clients",
        kind: Kind::GrpcRange,
        target: None,
    },
];

async fn run_case(
    case: &Case,
    side: &mut Side,
    opts: &CompareOptions,
) -> anyhow::Result<(f64, f64)> {
    let endpoints = side.cluster.endpoints();
    let json = matches!(case.kind, Kind::JsonPut | Kind::JsonRange);
    let mut l = table_load(CLIENTS, if json { CLIENTS } else { GRPC_CONNS }, opts.keys);
    l.duration = Some(opts.seconds);
    if !side.preloaded && matches!(case.kind, Kind::JsonRange | Kind::GrpcRange) {
        let channels = load::connect(&endpoints, &l).await?;
        workloads::preload(&channels, &l).await?;
        side.preloaded = true;
    }
    let report = match case.kind {
        Kind::JsonPut | Kind::JsonRange => {
            let conns = v2::connect(&endpoints, &l).await?;
            match case.kind {
                Kind::JsonPut => gateway::put(&conns, &l).await?,
                _ => gateway::range(&conns, &l, false).await?,
            }
        }
        Kind::GrpcPut | Kind::GrpcRange => {
            let channels = load::connect(&endpoints, &l).await?;
            match case.kind {
                Kind::GrpcPut => workloads::put(&channels, &l).await?,
                _ => workloads::range(&channels, &l, false).await?,
            }
        }
    };
    anyhow::ensure!(
        report.errors == 0 || report.throughput > 0.0,
        "{}: every request of {} failed",
        side.name,
        case.name
    );
    eprintln!("  {}: {}", side.name, report.summary(case.name));
    Ok((report.throughput, report.p99_ms))
}

/// The gateway rows.
pub(super) async fn rows(
    opts: &CompareOptions,
    ectd: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<Row>> {
    let n = opts.members.max(1);
    let mut sides = [
        Side {
            name: "ectd",
            cluster: cluster::start(ectd, &dir.join("ectd"), n, None, &[]).await?,
            preloaded: false,
        },
        Side {
            name: "etcd",
            cluster: cluster::start(&opts.etcd, &dir.join("etcd"), n, None, &[]).await?,
            preloaded: false,
        },
    ];
    let mut rows = Vec::new();
    for case in CASES {
        let mut m = Rounds::default();
        for round in 0..opts.rounds.max(1) {
            for s in order(round) {
                let r = run_case(case, &mut sides[s], opts).await?;
                m.sides[s].push(r);
            }
        }
        rows.push(m.row(case.name, "ops/s", true, case.target, true));
    }
    Ok(rows)
}
