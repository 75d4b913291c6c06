//! `ectd`: reads its configuration (flags, `ETCD_*` environment, or `--config-file`),
//! sets up logging, and runs a member until SIGTERM/SIGINT.

use ectd_server::Config;
use tracing_subscriber::EnvFilter;

/// jemalloc rather than glibc's malloc: a member's tokio workers, raft loop and
/// apply thread allocate and free across threads at every request, which glibc
/// serves from its shared arenas. With jemalloc the members spent about 10 % less
/// CPU per put (benches/RESULTS.md, nineteenth run).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let cfg = match Config::load() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("ectd: {e}");
            std::process::exit(1);
        }
    };
    // etcd's levels beyond error (dpanic, panic, fatal) log errors only here.
    let level = match cfg.log_level.as_str() {
        "dpanic" | "panic" | "fatal" => "error",
        other => other,
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},raft=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    // A member that lost its raft or apply thread must not go on answering: any panic
    // ends the process, as a Go panic ends etcd's. Only the message and location are
    // written: symbolizing a backtrace can stall for minutes on a loaded machine, and a
    // member half-dead for that long (serving requests nothing will answer) is worse
    // than one without a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        eprintln!("ectd: thread '{name}' {info}");
        std::process::abort();
    }));
    let _failpoints = match ectd_server::failpoints::setup() {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("ectd: {e}");
            std::process::exit(1);
        }
    };
    for note in &cfg.ignored {
        tracing::warn!("{note}");
    }
    if !cfg.enable_lease_checkpoint {
        tracing::warn!(
            "--experimental-enable-lease-checkpoint=false is ignored: ectd always checkpoints leases"
        );
    }
    if let Some(path) = &cfg.config_file {
        tracing::info!(
            path = %path.display(),
            "loaded server configuration, other configuration command line flags and environment variables will be ignored if provided"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ectd")
        .build()
        .expect("building the tokio runtime");
    if let Err(e) = rt.block_on(ectd_server::run(cfg, shutdown_signal())) {
        tracing::error!(error = %e, "ectd failed");
        eprintln!("ectd: {e}");
        std::process::exit(1);
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = int.recv() => tracing::info!("received SIGINT"),
    }
}
