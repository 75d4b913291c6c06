//! `ectd-bench`: a load generator for etcd's v3 API and v2 keys API, and a side-by-side
//! comparison of ectd with real etcd on the same machine in one run (absolute numbers on
//! shared machines are noisy; the ratio is what to read).

mod auth;
mod cluster;
mod compare;
mod gateway;
mod load;
mod tls;
mod v2;
mod watch;
mod workloads;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use load::{Load, Report};

#[derive(Parser)]
#[command(
    name = "ectd-bench",
    about = "Benchmarks ectd (and etcd) over the v3 gRPC API and the v2 keys API"
)]
struct Cli {
    /// Client endpoints, comma-separated.
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:2379",
        value_delimiter = ','
    )]
    endpoints: Vec<String>,
    /// Print the result as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Puts over the key space.
    Put {
        #[command(flatten)]
        load: Load,
    },
    /// Single-key ranges over the key space (written first, untimed).
    Range {
        #[command(flatten)]
        load: Load,
        /// Serializable reads (served locally) instead of linearizable ones.
        #[arg(long)]
        serializable: bool,
        /// Do not write the key space first.
        #[arg(long)]
        no_preload: bool,
    },
    /// kube-apiserver's optimistic update: Range, then Txn If(mod == seen) Then Put Else Get.
    TxnCas {
        #[command(flatten)]
        load: Load,
    },
    /// Watchers on a prefix, then puts under it: events/s and delivery latency.
    Watch {
        #[command(flatten)]
        load: Load,
        #[command(flatten)]
        watch: watch::WatchLoad,
    },
    /// Linearizable ranges and puts mixed over the key space (written first, untimed).
    Mixed {
        #[command(flatten)]
        load: Load,
        /// Share of the operations that read, in percent.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u64).range(0..=100))]
        read_percent: u64,
        /// Do not write the key space first.
        #[arg(long)]
        no_preload: bool,
    },
    /// Lease renewals, one lease and keep-alive stream per client.
    LeaseKeepalive {
        #[command(flatten)]
        load: Load,
    },
    /// v2 sets over the key space: `PUT /v2/keys/bench/<key>` with `value=` (the
    /// members need `--enable-v2`).
    V2Set {
        #[command(flatten)]
        load: Load,
    },
    /// v2 gets over the key space (written first, untimed): `GET /v2/keys/bench/<key>`.
    V2Get {
        #[command(flatten)]
        load: Load,
        /// `quorum=true`: linearizable reads through consensus, instead of the member's
        /// own store.
        #[arg(long)]
        quorum: bool,
        /// Do not write the key space first.
        #[arg(long)]
        no_preload: bool,
    },
    /// Puts over the JSON gateway: `POST /v3/kv/put`.
    GwPut {
        #[command(flatten)]
        load: Load,
    },
    /// Ranges over the JSON gateway: `POST /v3/kv/range` over the key space (written
    /// first, untimed, over gRPC).
    GwRange {
        #[command(flatten)]
        load: Load,
        /// Serializable ranges (answered from the member's own store).
        #[arg(long)]
        serializable: bool,
        /// Do not write the key space first.
        #[arg(long)]
        no_preload: bool,
    },
    /// Start an ectd and an etcd cluster, run every workload against each, and print
    /// the ratios (ectd / etcd); results.json and chart.svg go to `--out`.
    Compare {
        #[command(flatten)]
        opts: compare::CompareOptions,
    },
    /// Start an ectd and an etcd cluster side by side, put the same keys into
    /// each, print both.
    PutCompare {
        #[command(flatten)]
        load: Load,
        /// The ectd binary (default: next to this one).
        #[arg(long)]
        ectd: Option<PathBuf>,
        /// The etcd binary.
        #[arg(long, default_value = "/usr/bin/etcd")]
        etcd: PathBuf,
        /// Members per cluster (1 or 3, or any odd number).
        #[arg(long, default_value_t = 1)]
        members: usize,
    },
}

fn print(report: &Report, what: &str, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"workload": what, "report": report})
        );
    } else {
        println!("{}", report.summary(what));
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let eps = &cli.endpoints;
    match cli.cmd {
        Cmd::Put { load } => {
            let ch = load::connect(eps, &load).await?;
            print(&workloads::put(&ch, &load).await?, "put", cli.json);
        }
        Cmd::Range {
            load,
            serializable,
            no_preload,
        } => {
            let ch = load::connect(eps, &load).await?;
            if !no_preload {
                workloads::preload(&ch, &load).await?;
            }
            let what = if serializable {
                "range-serializable"
            } else {
                "range-linearizable"
            };
            print(
                &workloads::range(&ch, &load, serializable).await?,
                what,
                cli.json,
            );
        }
        Cmd::TxnCas { load } => {
            let ch = load::connect(eps, &load).await?;
            print(&workloads::txn_cas(&ch, &load).await?, "txn-cas", cli.json);
        }
        Cmd::Watch { load, watch } => {
            let ch = load::connect(eps, &load).await?;
            let report = watch::run(&ch, &load, &watch).await?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"workload": "watch", "report": report})
                );
            } else {
                println!("{}", report.summary("watch"));
            }
        }
        Cmd::Mixed {
            load,
            read_percent,
            no_preload,
        } => {
            let ch = load::connect(eps, &load).await?;
            if !no_preload {
                workloads::preload(&ch, &load).await?;
            }
            let what = format!("mixed-{read_percent}%-read");
            print(
                &workloads::mixed(&ch, &load, read_percent).await?,
                &what,
                cli.json,
            );
        }
        Cmd::LeaseKeepalive { load } => {
            let ch = load::connect(eps, &load).await?;
            print(
                &workloads::lease_keepalive(&ch, &load).await?,
                "lease-keepalive",
                cli.json,
            );
        }
        Cmd::V2Set { load } => {
            let conns = v2::connect(eps, &load).await?;
            print(&v2::set(&conns, &load).await?, "v2-set", cli.json);
        }
        Cmd::V2Get {
            load,
            quorum,
            no_preload,
        } => {
            let conns = v2::connect(eps, &load).await?;
            if !no_preload {
                v2::preload(&conns, &load).await?;
            }
            let what = if quorum { "v2-get-quorum" } else { "v2-get" };
            print(&v2::get(&conns, &load, quorum).await?, what, cli.json);
        }
        Cmd::GwPut { load } => {
            let conns = v2::connect(eps, &load).await?;
            print(&gateway::put(&conns, &load).await?, "gw-put", cli.json);
        }
        Cmd::GwRange {
            load,
            serializable,
            no_preload,
        } => {
            if !no_preload {
                let ch = load::connect(eps, &load).await?;
                workloads::preload(&ch, &load).await?;
            }
            let conns = v2::connect(eps, &load).await?;
            let what = if serializable {
                "gw-range-serializable"
            } else {
                "gw-range"
            };
            print(
                &gateway::range(&conns, &load, serializable).await?,
                what,
                cli.json,
            );
        }
        Cmd::Compare { opts } => {
            let rows = compare::run(&opts).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print!("{}", compare::table(&rows));
                println!(
                    "results: {}, chart: {}",
                    opts.out.join("results.json").display(),
                    opts.out.join("chart.svg").display()
                );
            }
        }
        Cmd::PutCompare {
            load,
            ectd,
            etcd,
            members,
        } => {
            let ectd = match ectd {
                Some(p) => p,
                None => std::env::current_exe()?.with_file_name("ectd"),
            };
            cluster::compare(&load, &ectd, &etcd, members.max(1), cli.json).await?;
        }
    }
    Ok(())
}
