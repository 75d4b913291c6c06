//! `ectd-bench`: a load generator for etcd's v3 API, and a side-by-side comparison
//! of ectd with real etcd on the same machine in one run (absolute numbers on shared
//! machines are noisy; the ratio is what to read).

mod cluster;
mod put;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ectd-bench",
    about = "Benchmarks ectd (and etcd) over the v3 gRPC API"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Put keys into a running server and report throughput and latency.
    Put {
        /// Client endpoints, comma-separated.
        #[arg(long, default_value = "127.0.0.1:2379", value_delimiter = ',')]
        endpoints: Vec<String>,
        #[command(flatten)]
        load: put::Load,
    },
    /// Start an ectd and an etcd cluster side by side, put the same keys into
    /// each, print both.
    PutCompare {
        #[command(flatten)]
        load: put::Load,
        /// The ectd binary (default: next to this one).
        #[arg(long)]
        ectd: Option<PathBuf>,
        /// The etcd binary.
        #[arg(long, default_value = "/usr/bin/etcd")]
        etcd: PathBuf,
        /// Members per cluster (1 or 3, or any odd number).
        #[arg(long, default_value_t = 1)]
        members: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Put { endpoints, load } => {
            let report = put::run(&endpoints, &load).await?;
            println!("{}", report.summary("server"));
        }
        Cmd::PutCompare {
            load,
            ectd,
            etcd,
            members,
            json,
        } => {
            let ectd = match ectd {
                Some(p) => p,
                None => std::env::current_exe()?.with_file_name("ectd"),
            };
            cluster::compare(&load, &ectd, &etcd, members.max(1), json).await?;
        }
    }
    Ok(())
}
