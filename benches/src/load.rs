//! The closed-loop driver every request/response workload shares: `clients`
//! concurrent clients over `conns` connections (gRPC channels, or the v2 workloads'
//! HTTP/1.1 connections), each sending its next request as soon as the previous one is
//! answered, until `total` requests are done or `duration` has passed. Latency goes
//! into an HdrHistogram (microseconds).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

/// The shape of a load, common to every workload.
#[derive(clap::Args, Debug, Clone)]
pub struct Load {
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Connections the clients share (gRPC channels; for the v2 workloads HTTP/1.1
    /// connections, which carry one request at a time).
    #[arg(long, default_value_t = 8)]
    pub conns: usize,
    /// Requests to send in all (ignored when `--duration` is given).
    #[arg(long, default_value_t = 100_000)]
    pub total: u64,
    /// Run for this many seconds instead of a fixed total.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    pub val_size: usize,
    /// Distinct keys written or read.
    #[arg(long, default_value_t = 10_000)]
    pub key_space: u64,
    /// Which members the connections go to.
    #[arg(long, value_enum, default_value_t = Target::All)]
    pub target: Target,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// How `https://` endpoints are dialled (the comparison's `--tls` mode).
    #[arg(skip)]
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// The auth token every request carries in the gRPC metadata `token`, as etcd's
    /// clients send it once logged in (the comparison's auth rows).
    #[arg(skip)]
    pub token: Option<AsciiMetadataValue>,
}

/// Which members a load's connections go to.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The leader only (found with a Status call to each endpoint).
    Leader,
    /// Every endpoint, connections spread round-robin.
    All,
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Requests answered without error.
    pub ok: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Successful requests per second.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// 99.9th percentile latency, ms.
    pub p999_ms: f64,
    /// Slowest request, ms.
    pub max_ms: f64,
}

impl Report {
    /// Builds a report from a histogram of latencies in microseconds.
    pub fn from_histogram(hist: &Histogram<u64>, errors: u64, seconds: f64) -> Report {
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        Report {
            ok: hist.len(),
            errors,
            seconds,
            throughput: hist.len() as f64 / seconds.max(1e-9),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: hist.max() as f64 / 1000.0,
        }
    }

    /// One line for people.
    pub fn summary(&self, what: &str) -> String {
        format!(
            "{what}: {} ok in {:.2}s = {:.0}/s (errors {}), latency p50 {:.2}ms p99 {:.2}ms p99.9 {:.2}ms max {:.2}ms",
            self.ok,
            self.seconds,
            self.throughput,
            self.errors,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms
        )
    }
}

/// `http://` + `ep` unless it has a scheme.
pub fn url(ep: &str) -> String {
    if ep.contains("://") {
        ep.to_string()
    } else {
        format!("http://{ep}")
    }
}

/// Opens `load.conns` connections to the members `load.target` names.
pub async fn connect(endpoints: &[String], load: &Load) -> anyhow::Result<Vec<Channel>> {
    anyhow::ensure!(!endpoints.is_empty(), "no endpoints");
    let targets = match load.target {
        Target::All => endpoints.to_vec(),
        Target::Leader => vec![leader(endpoints).await?],
    };
    let mut channels = Vec::new();
    for i in 0..load.conns.max(1) {
        let ep = &targets[i % targets.len()];
        let ch = match &load.tls {
            Some(tls) if ep.starts_with("https://") => crate::tls::channel(ep, tls.clone()).await?,
            _ => {
                Endpoint::from_shared(url(ep))?
                    .connect_timeout(Duration::from_secs(5))
                    .connect()
                    .await?
            }
        };
        channels.push(ch);
    }
    Ok(channels)
}

/// The endpoint of the member that leads, by asking each for its status.
pub async fn leader(endpoints: &[String]) -> anyhow::Result<String> {
    use ectd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
    use ectd_proto::etcdserverpb::StatusRequest;
    for ep in endpoints {
        let Ok(mut m) = MaintenanceClient::connect(url(ep)).await else {
            continue;
        };
        if let Ok(s) = m.status(StatusRequest {}).await {
            let s = s.into_inner();
            if s.leader != 0 && s.header.is_some_and(|h| h.member_id == s.leader) {
                return Ok(ep.clone());
            }
        }
    }
    anyhow::bail!("no endpoint reports itself leader")
}

/// The gRPC metadata key etcd reads a request's auth token from.
const TOKEN_KEY: &str = "token";

/// `message` as a request that carries `token`, if there is one (see [`Load::token`]).
pub fn request<T>(token: Option<&AsciiMetadataValue>, message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    if let Some(t) = token {
        req.metadata_mut().insert(TOKEN_KEY, t.clone());
    }
    req
}

/// Key number `i` of `load`'s key space, `key_size` bytes long.
pub fn key(load: &Load, i: u64) -> Vec<u8> {
    let mut k = format!(
        "{:0width$}",
        i % load.key_space.max(1),
        width = load.key_size
    )
    .into_bytes();
    k.truncate(load.key_size.max(1));
    k
}

fn progress(load: &Load) -> ProgressBar {
    if load.quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = match load.duration {
        Some(d) => ProgressBar::new((d * 1000.0) as u64),
        None => ProgressBar::new(load.total),
    };
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} {per_sec}")
            .expect("progress template");
    bar.set_style(style);
    bar
}

/// Drives `op` closed-loop: client `c` (on connection `c % conns`) calls
/// `op(channel, n)` with a run-wide request number `n` until the load is done.
pub async fn drive<F, Fut>(channels: &[Channel], load: &Load, op: F) -> anyhow::Result<Report>
where
    F: Fn(Channel, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let op = Arc::new(op);
    drive_with(
        channels,
        load,
        |ch| async move { Ok(ch) },
        move |ch: Channel, n| {
            let op = op.clone();
            async move {
                let r = op(ch.clone(), n).await;
                (ch, r)
            }
        },
    )
    .await
}

/// [`drive`] for clients that keep state between requests (a stream, a lease), over
/// any kind of connection: `init` makes each client's state from its connection
/// (client `c` gets `conns[c % len]`) before the clock starts; `op` takes the state and
/// hands it back with the result.
pub async fn drive_with<C, S, E, I, IFut, F, Fut>(
    conns: &[C],
    load: &Load,
    init: I,
    op: F,
) -> anyhow::Result<Report>
where
    C: Clone,
    S: Send + 'static,
    E: Send + 'static,
    I: Fn(C) -> IFut,
    IFut: Future<Output = anyhow::Result<S>>,
    F: Fn(S, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (S, Result<(), E>)> + Send,
{
    let mut states = Vec::new();
    for c in 0..load.clients.max(1) {
        states.push(init(conns[c % conns.len()].clone()).await?);
    }
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let bar = progress(load);
    let start = Instant::now();
    let deadline = load.duration.map(|d| start + Duration::from_secs_f64(d));
    let total = if deadline.is_some() {
        u64::MAX
    } else {
        load.total
    };
    let mut tasks = Vec::new();
    for mut state in states {
        let (op, next, errors, bar) = (op.clone(), next.clone(), errors.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let t = Instant::now();
                let (back, result) = op(state, n).await;
                state = back;
                match result {
                    Ok(()) => {
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                match deadline {
                    Some(_) => bar.set_position(start.elapsed().as_millis() as u64),
                    None => bar.inc(1),
                }
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new(3)?;
    for t in tasks {
        hist.add(t.await?)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(Report::from_histogram(
        &hist,
        errors.load(Ordering::Relaxed),
        seconds,
    ))
}
