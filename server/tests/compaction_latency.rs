//! Writes while a large compaction runs: the old versions are deleted in the
//! background in bounded batches, so puts are not held up for the length of the
//! compaction. Prints put latency percentiles with and without a compaction
//! running; asserts only that no write is refused and a loose bound on p99.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http_get, within, Ectd, Member};
use ectd_client::proto::etcdserverpb::{CompactionRequest, PutRequest};
use ectd_client::{Client, ConnectOptions};

const WRITERS: usize = 16;

async fn connect(m: &Member) -> Client {
    let options = ConnectOptions {
        command_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    within(
        10,
        "connecting to ectd",
        Client::connect_with(&[m.endpoint()], options),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to {}: {e}", m.endpoint()))
}

fn compacted_versions(m: &Member) -> usize {
    let (_, body) = http_get(m.client_port(), "/metrics", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
    body.lines()
        .find_map(|l| {
            l.strip_prefix("etcd_debugging_mvcc_db_compaction_keys_total ")?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .expect("compaction keys metric") as usize
}

/// Puts `n` revisions over a few keys as fast as `clients` writers go.
async fn history(c: &Client, n: usize, clients: usize) -> i64 {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (c, next) = (c.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut last = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return last;
                }
                let r = c
                    .put(PutRequest {
                        key: format!("hist/{}", i % 4).into_bytes(),
                        value: vec![b'h'; 64],
                        ..Default::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("history put {i}: {e}"));
                last = last.max(r.header.map_or(0, |h| h.revision));
            }
        }));
    }
    let mut last = 0;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    last
}

/// Runs [`WRITERS`] writers until `stop`, returning every put's latency; panics
/// if any put is refused.
async fn load(c: &Client, stop: Arc<AtomicBool>) -> Vec<Duration> {
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (c, stop) = (c.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                c.put(PutRequest {
                    key: format!("load/{w}/{}", i % 64).into_bytes(),
                    value: vec![b'l'; 128],
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("put refused under load: {e}"));
                lat.push(t.elapsed());
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn puts_keep_their_latency_while_a_large_compaction_runs() {
    let dir = tempfile::tempdir().unwrap();
    let m = Ectd::start(dir.path(), &[]);
    let c = connect(&m).await;
    let cur = history(&c, 200_000, 64).await;

    // Without compaction.
    let stop = Arc::new(AtomicBool::new(false));
    let baseline = {
        let l = tokio::spawn(load_owned(c.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_secs(4)).await;
        stop.store(true, Ordering::Relaxed);
        l.await.unwrap()
    };

    // With a compaction of ~200,000 versions running.
    let stop = Arc::new(AtomicBool::new(false));
    let l = tokio::spawn(load_owned(c.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    c.compact(CompactionRequest {
        revision: cur,
        physical: false,
    })
    .await
    .unwrap();
    let answered = t.elapsed();
    let want = (cur - 1) as usize - 4;
    while compacted_versions(&m) < want {
        assert!(t.elapsed() < Duration::from_secs(120), "compaction stuck");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let during = l.await.unwrap();

    println!(
        "history: {cur} revisions; Compact answered in {:.1} ms, {want} versions deleted in {:.2} s",
        ms(answered),
        took.as_secs_f64()
    );
    for (name, lat) in [
        ("without compaction", &baseline),
        ("during compaction", &during),
    ] {
        println!(
            "put latency {name:>18}: {} puts, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            lat.len(),
            ms(pct(lat, 0.5)),
            ms(pct(lat, 0.99)),
            ms(*lat.last().unwrap())
        );
    }
    assert!(!baseline.is_empty() && !during.is_empty());
    let (p99_base, p99_during) = (pct(&baseline, 0.99), pct(&during, 0.99));
    assert!(
        p99_during <= p99_base * 10 + Duration::from_millis(100),
        "p99 during compaction {:.2} ms vs {:.2} ms without",
        ms(p99_during),
        ms(p99_base)
    );
}

async fn load_owned(c: Client, stop: Arc<AtomicBool>) -> Vec<Duration> {
    load(&c, stop).await
}
