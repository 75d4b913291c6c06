//! The watch workload: `watchers` watchers on one prefix, spread over `streams`
//! gRPC watch streams, then `puts` puts under the prefix. Each value carries the
//! time it was sent, so every delivered event gives a delivery latency; events/s
//! counts all watchers' events from the first put to the last event.

use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::watch_client::WatchClient;
use ectd_proto::etcdserverpb::watch_request::RequestUnion;
use ectd_proto::etcdserverpb::{PutRequest, WatchCreateRequest, WatchRequest};
use hdrhistogram::Histogram;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::load::{key, Load};

const PREFIX: &[u8] = b"watch-bench/";

/// The watch load's own options.
#[derive(clap::Args, Debug, Clone)]
pub struct WatchLoad {
    /// Watchers in all.
    #[arg(long, default_value_t = 10_000)]
    pub watchers: usize,
    /// Watch streams the watchers are spread over.
    #[arg(long, default_value_t = 100)]
    pub streams: usize,
    /// Puts made once every watcher is created.
    #[arg(long, default_value_t = 1_000)]
    pub puts: u64,
    /// Concurrent putters.
    #[arg(long, default_value_t = 1)]
    pub put_clients: usize,
}

/// What a watch run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WatchReport {
    /// Watchers created.
    pub watchers: usize,
    /// Puts acknowledged.
    pub puts: u64,
    /// Events delivered, all watchers together.
    pub events: u64,
    /// Events that should have been delivered (puts × watchers).
    pub expected: u64,
    /// From the first put to the last event, seconds.
    pub seconds: f64,
    /// Events delivered per second.
    pub events_per_sec: f64,
    /// Delivery latency (put sent to event received) percentiles, ms.
    pub p50_ms: f64,
    /// 99th percentile delivery latency, ms.
    pub p99_ms: f64,
    /// 99.9th percentile delivery latency, ms.
    pub p999_ms: f64,
    /// Slowest delivery, ms.
    pub max_ms: f64,
    /// The puts' own latency (sent to answered) at p99, ms.
    pub put_p99_ms: f64,
    /// The slowest put, ms.
    pub put_max_ms: f64,
}

impl WatchReport {
    /// One line for people.
    pub fn summary(&self, who: &str) -> String {
        format!(
            "{who}: {} watchers, {} puts, {}/{} events in {:.2}s = {:.0} events/s, delivery p50 {:.2}ms p99 {:.2}ms p99.9 {:.2}ms max {:.2}ms; put p99 {:.2}ms max {:.2}ms",
            self.watchers,
            self.puts,
            self.events,
            self.expected,
            self.seconds,
            self.events_per_sec,
            self.p50_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
            self.put_p99_ms,
            self.put_max_ms
        )
    }
}

/// Opens one watch stream with `n` prefix watchers and waits for all to be created.
async fn open_stream(
    ch: Channel,
    n: usize,
) -> anyhow::Result<tonic::Streaming<ectd_proto::etcdserverpb::WatchResponse>> {
    let (tx, rx) = mpsc::channel(n.max(1));
    let mut end = PREFIX.to_vec();
    *end.last_mut().expect("prefix") += 1;
    for _ in 0..n {
        tx.send(WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: PREFIX.to_vec(),
                range_end: end.clone(),
                ..Default::default()
            })),
        })
        .await?;
    }
    let outgoing = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut responses = WatchClient::new(ch)
        .max_decoding_message_size(usize::MAX)
        .watch(outgoing)
        .await?
        .into_inner();
    let mut created = 0;
    while created < n {
        let r = responses
            .message()
            .await?
            .ok_or_else(|| anyhow::anyhow!("watch stream ended during creation"))?;
        anyhow::ensure!(!r.canceled, "watch refused: {}", r.cancel_reason);
        if r.created {
            created += 1;
        }
    }
    Ok(responses)
}

/// Runs the watch load against `channels` (watch streams and putters spread over them).
pub async fn run(channels: &[Channel], load: &Load, w: &WatchLoad) -> anyhow::Result<WatchReport> {
    let streams = w.streams.clamp(1, w.watchers.max(1));
    let epoch = Instant::now();
    let mut receivers = Vec::new();
    for s in 0..streams {
        let n = w.watchers / streams + usize::from(s < w.watchers % streams);
        let ch = channels[s % channels.len()].clone();
        let mut responses = open_stream(ch, n).await?;
        let expected = n as u64 * w.puts;
        receivers.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            let mut last = epoch;
            let mut got = 0u64;
            while got < expected {
                let next = tokio::time::timeout(Duration::from_secs(30), responses.message()).await;
                let Ok(Ok(Some(r))) = next else { break };
                let now = Instant::now();
                for ev in &r.events {
                    let Some(kv) = &ev.kv else { continue };
                    if let Some(sent) = kv.value.get(..8) {
                        let sent = u64::from_be_bytes(sent.try_into().expect("8 bytes"));
                        let at = now.duration_since(epoch).as_micros() as u64;
                        let _ = hist.record(at.saturating_sub(sent));
                    }
                    got += 1;
                }
                last = now;
            }
            (hist, got, last)
        }));
    }
    let start = Instant::now();
    let putters: Vec<_> = (0..w.put_clients.max(1))
        .map(|c| {
            let mut kv = KvClient::new(channels[c % channels.len()].clone());
            let (load, puts, clients) = (load.clone(), w.puts, w.put_clients.max(1) as u64);
            tokio::spawn(async move {
                let mut ok = 0;
                let mut took = Histogram::<u64>::new(3).expect("histogram");
                for i in (c as u64..puts).step_by(clients as usize) {
                    let mut k = PREFIX.to_vec();
                    k.extend(key(&load, i));
                    let mut value = (epoch.elapsed().as_micros() as u64).to_be_bytes().to_vec();
                    value.resize(load.val_size.max(8), b'v');
                    let put = PutRequest {
                        key: k,
                        value,
                        ..Default::default()
                    };
                    let t = Instant::now();
                    if kv.put(put).await.is_ok() {
                        let _ = took.record(t.elapsed().as_micros() as u64);
                        ok += 1;
                    }
                }
                (ok, took)
            })
        })
        .collect();
    let mut puts = 0;
    let mut put_hist = Histogram::<u64>::new(3)?;
    for p in putters {
        let (ok, took) = p.await?;
        puts += ok;
        put_hist.add(took)?;
    }
    let mut hist = Histogram::<u64>::new(3)?;
    let mut events = 0;
    let mut last = start;
    for r in receivers {
        let (h, got, at) = r.await?;
        hist.add(h)?;
        events += got;
        last = last.max(at);
    }
    let seconds = last.duration_since(start).as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(WatchReport {
        watchers: w.watchers,
        puts,
        events,
        expected: w.watchers as u64 * w.puts,
        seconds,
        events_per_sec: events as f64 / seconds.max(1e-9),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: hist.max() as f64 / 1000.0,
        put_p99_ms: put_hist.value_at_quantile(0.99) as f64 / 1000.0,
        put_max_ms: put_hist.max() as f64 / 1000.0,
    })
}
