//! The put workload: `clients` concurrent writers over `conns` connections, each
//! putting distinct keys until `total` puts are done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::PutRequest;
use hdrhistogram::Histogram;
use tonic::transport::{Channel, Endpoint};

/// Shape of a put load.
#[derive(clap::Args, Debug, Clone)]
pub struct Load {
    /// Total number of puts.
    #[arg(long, default_value_t = 100_000)]
    pub total: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// gRPC connections shared by the clients.
    #[arg(long, default_value_t = 8)]
    pub conns: usize,
    /// Key size in bytes.
    #[arg(long, default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    pub val_size: usize,
}

/// What a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Puts acknowledged.
    pub puts: u64,
    /// Puts that failed.
    pub errors: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Acknowledged puts per second.
    pub throughput: f64,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// 99.9th percentile latency, ms.
    pub p999_ms: f64,
}

impl Report {
    /// One line for humans.
    pub fn summary(&self, who: &str) -> String {
        format!(
            "{who}: {} puts in {:.2}s = {:.0} puts/s (errors {}), latency p50 {:.2}ms p99 {:.2}ms p99.9 {:.2}ms",
            self.puts, self.seconds, self.throughput, self.errors, self.p50_ms, self.p99_ms, self.p999_ms
        )
    }
}

fn url(ep: &str) -> String {
    if ep.starts_with("http://") {
        ep.to_string()
    } else {
        format!("http://{ep}")
    }
}

/// Runs the load against `endpoints` and reports.
pub async fn run(endpoints: &[String], load: &Load) -> anyhow::Result<Report> {
    let mut channels: Vec<Channel> = Vec::new();
    for i in 0..load.conns.max(1) {
        let ep = &endpoints[i % endpoints.len()];
        let ch = Endpoint::from_shared(url(ep))?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await?;
        channels.push(ch);
    }
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let value = vec![b'v'; load.val_size];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..load.clients.max(1) {
        let mut kv = KvClient::new(channels[c % channels.len()].clone());
        let next = next.clone();
        let errors = errors.clone();
        let value = value.clone();
        let total = load.total;
        let key_size = load.key_size;
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let mut key = format!("bench/{i:010}").into_bytes();
                key.resize(key_size.max(key.len()), b'_');
                let t = Instant::now();
                let res = kv
                    .put(PutRequest {
                        key,
                        value: value.clone(),
                        ..Default::default()
                    })
                    .await;
                match res {
                    Ok(_) => {
                        let _ = hist.record(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
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
    let puts = hist.len();
    Ok(Report {
        puts,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        throughput: puts as f64 / seconds,
        p50_ms: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        p999_ms: hist.value_at_quantile(0.999) as f64 / 1000.0,
    })
}
