//! `ectd-jepsen`: runs a fault-injection test against a real ectd cluster.
//!
//! `ectd-jepsen run --nodes 3 --time 30 --seed N --out DIR` exits 0 when every check passes,
//! 1 on an anomaly, 2 on a usage error, a harness failure or an undecided check.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ectd_jepsen::cluster::ClusterConfig;
use ectd_jepsen::run::{run, Check, RunConfig};

#[derive(Parser)]
#[command(
    name = "ectd-jepsen",
    about = "Fault injection and history checking for ectd"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the register workload under the nemesis and check the history.
    Run {
        /// Cluster size.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=7))]
        nodes: u64,
        /// Seconds the workload runs.
        #[arg(long, default_value_t = 30)]
        time: u64,
        /// Seed for the nemesis and the clients (random if absent).
        #[arg(long)]
        seed: Option<u64>,
        /// Directory for `history.jsonl` and `summary.json`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The `ectd` binary (default: `ECTD_BIN`, or the one built alongside).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // clap exits with status 2 on a usage error.
    let Command::Run {
        nodes,
        time,
        seed,
        out,
        binary,
    } = Cli::parse().command;
    let size = nodes as usize;
    let cluster = match binary {
        Some(path) => ClusterConfig::with_binary(path, size),
        None => ClusterConfig::from_env(size),
    };
    let cluster = match cluster {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ectd-jepsen: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or_else(rand::random);
    let mut config = RunConfig::new(cluster, Duration::from_secs(time), seed);
    config.out = out;
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(report) => {
            print!("{}", report.summary());
            match report.verdict() {
                Check::Valid => ExitCode::SUCCESS,
                Check::Anomaly => ExitCode::from(1),
                Check::Unknown => ExitCode::from(2),
            }
        }
        Err(e) => {
            eprintln!("ectd-jepsen: run failed: {e}");
            ExitCode::from(2)
        }
    }
}
