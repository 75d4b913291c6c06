//! `ectd-jepsen`: runs a fault-injection test against a real ectd cluster.
//!
//! `ectd-jepsen run --nodes 5 --time 300 --nemesis partition,kill,pause --workload
//! register,append,watch,v2-register,v2-set --seed N --out DIR` exits 0 when every check
//! passes, 1 on an anomaly, 2 on a usage error, a harness failure or an undecided check.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ectd_jepsen::cluster::ClusterConfig;
use ectd_jepsen::nemesis::{Kind, Schedule};
use ectd_jepsen::report::Check;
use ectd_jepsen::run::{run, RunConfig, WorkloadKind};

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
    /// Run workloads under the nemesis, then check the histories.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Cluster size.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=7))]
    nodes: u64,
    /// Seconds the workloads run under faults.
    #[arg(long, default_value_t = 30)]
    time: u64,
    /// Seed for the nemesis and the clients (random if absent; printed in the report).
    #[arg(long)]
    seed: Option<u64>,
    /// Comma-separated faults: kill, pause, partition, link, transfer, member, failpoint,
    /// or `all`, or `none`. `failpoint` needs ectd built with `--features failpoints`.
    #[arg(long, default_value = "kill,pause,partition")]
    nemesis: String,
    /// Comma-separated workloads: register, append, watch, lock, k8s, v2-register,
    /// v2-set, or `all`. The v2 workloads start the members with `--enable-v2`.
    #[arg(long, default_value = "register")]
    workload: String,
    /// Milliseconds between faults, as `MIN..MAX`.
    #[arg(long, default_value = "2000..4000")]
    quiet_ms: String,
    /// Milliseconds each fault is held, as `MIN..MAX`.
    #[arg(long, default_value = "1000..3000")]
    hold_ms: String,
    /// Register clients.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Register keys.
    #[arg(long, default_value_t = 3)]
    keys: usize,
    /// v2 register clients.
    #[arg(long, default_value_t = 5)]
    v2_clients: usize,
    /// v2 register keys.
    #[arg(long, default_value_t = 3)]
    v2_keys: usize,
    /// v2 set clients.
    #[arg(long, default_value_t = 3)]
    v2_set_clients: usize,
    /// List-append clients.
    #[arg(long, default_value_t = 4)]
    append_clients: usize,
    /// Watchers on each member.
    #[arg(long, default_value_t = 2)]
    watchers: usize,
    /// ectd's `--snapshot-count` (small values exercise WAL purges and snapshots).
    #[arg(long)]
    snapshot_count: Option<u64>,
    /// `FAILPOINTS` for every member, e.g. `unsafe_read_without_read_index=return`.
    #[arg(long)]
    failpoints: Option<String>,
    /// Register (v3 and v2), list-append and k8s clients move to fresh keys every this
    /// many seconds (0: never).
    #[arg(long, default_value_t = 30)]
    key_period: u64,
    /// Seconds the linearizability search may take over all register keys.
    #[arg(long, default_value_t = 60)]
    check_budget: u64,
    /// Directory for summary.json, history.jsonl, append.jsonl, watch.json, timeline.html
    /// (and v2-history.jsonl, v2-set.jsonl).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The `ectd` binary (default: `ECTD_BIN`, or the one built alongside).
    #[arg(long)]
    binary: Option<PathBuf>,
}

fn parse_list<T: std::str::FromStr<Err = String> + Copy>(
    text: &str,
    all: &[T],
) -> Result<Vec<T>, String> {
    match text {
        "all" => Ok(all.to_vec()),
        "none" | "" => Ok(Vec::new()),
        _ => text.split(',').map(|s| s.trim().parse()).collect(),
    }
}

fn parse_range(text: &str) -> Result<std::ops::Range<u64>, String> {
    let (lo, hi) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not MIN..MAX"))?;
    let lo: u64 = lo.parse().map_err(|_| format!("`{lo}` is not a number"))?;
    let hi: u64 = hi.parse().map_err(|_| format!("`{hi}` is not a number"))?;
    if lo >= hi {
        return Err(format!("`{text}`: MIN must be below MAX"));
    }
    Ok(lo..hi)
}

fn config(args: RunArgs) -> Result<RunConfig, String> {
    let size = args.nodes as usize;
    let mut cluster = match args.binary {
        Some(path) => ClusterConfig::with_binary(path, size),
        None => ClusterConfig::from_env(size),
    }
    .map_err(|e| e.to_string())?;
    cluster.snapshot_count = args.snapshot_count;
    cluster.failpoints = args.failpoints;
    let kinds = parse_list(&args.nemesis, &Kind::ALL)?;
    let workloads = parse_list(&args.workload, &WorkloadKind::ALL)?;
    if workloads.is_empty() {
        return Err("at least one workload is needed".into());
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut config = RunConfig::new(cluster, Duration::from_secs(args.time), seed);
    config.nemesis = Schedule {
        kinds,
        quiet_ms: parse_range(&args.quiet_ms)?,
        hold_ms: parse_range(&args.hold_ms)?,
    };
    config.workloads = workloads;
    config.clients = args.clients;
    config.keys = args.keys;
    config.v2_clients = args.v2_clients;
    config.v2_keys = args.v2_keys;
    config.v2_set_clients = args.v2_set_clients;
    config.append_clients = args.append_clients;
    config.watchers_per_member = args.watchers;
    config.check_budget = Duration::from_secs(args.check_budget);
    config.key_period = (args.key_period > 0).then(|| Duration::from_secs(args.key_period));
    config.out = args.out;
    Ok(config)
}

fn main() -> ExitCode {
    // clap exits with status 2 on a usage error.
    let Command::Run(args) = Cli::parse().command;
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ectd-jepsen: {e}");
            return ExitCode::from(2);
        }
    };
    println!("ectd-jepsen: seed {}", config.seed);
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
