//! The large-defragment rows: one member each, filled with `--defrag-mib` MiB of
//! incompressible 1 KiB values, half of them deleted and compacted away, then
//! `Defragment` while one client puts and another reads. What a client sees of
//! the defragment is the slowest of those requests (etcd stops the world while
//! it copies its database; the target for ectd is no request slower than 100 ms).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use ectd_proto::etcdserverpb::{
    CompactionRequest, DefragmentRequest, DeleteRangeRequest, PutRequest, RangeRequest,
    StatusRequest,
};
use tonic::transport::Channel;

use super::{order, table_load, CompareOptions, Rounds, Row};
use crate::{cluster, load};

/// Bytes of each value.
const VALUE: usize = 1024;
/// Keys deleted by one request when half the store is removed.
const DELETE_RUN: u64 = 1_000;
/// The quota both servers run with: room for the store and its history.
const QUOTA: &str = "--quota-backend-bytes=17179869184";

fn key(i: u64) -> Vec<u8> {
    format!("defrag/{i:010}").into_bytes()
}

/// A value no compressor shrinks: a xorshift stream seeded by the key's number.
fn value(i: u64) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(VALUE);
    while v.len() < VALUE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(VALUE);
    v
}

async fn db_size(ch: &Channel) -> anyhow::Result<(i64, i64)> {
    let s = MaintenanceClient::new(ch.clone())
        .status(StatusRequest {})
        .await?
        .into_inner();
    Ok((s.db_size, s.db_size_in_use))
}

/// Runs `op` (a request on `ch`) one after another until `stop` is set: how long
/// each took (a failed one until it failed), and the failures.
fn spawn_closed_loop<F, Fut>(
    ch: Channel,
    stop: Arc<AtomicBool>,
    op: F,
) -> tokio::task::JoinHandle<(Vec<Duration>, Vec<String>)>
where
    F: Fn(Channel, u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send,
{
    tokio::spawn(async move {
        let mut lat = Vec::new();
        let mut failed = Vec::new();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            if let Err(e) = op(ch.clone(), i).await {
                failed.push(format!("after {:?}: {}", t.elapsed(), e.message()));
            }
            lat.push(t.elapsed());
            i += 1;
        }
        (lat, failed)
    })
}

fn p99_and_max(mut lat: Vec<Duration>) -> (f64, f64) {
    if lat.is_empty() {
        return (0.0, 0.0);
    }
    lat.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(lat[(lat.len() * 99 / 100).min(lat.len() - 1)]),
        ms(lat[lat.len() - 1]),
    )
}

/// One side: [size before MiB, size after MiB, defragment s, put p99, put max,
/// range p99, range max (ms)].
async fn measure(name: &str, bin: &Path, dir: &Path, keys: u64) -> anyhow::Result<[f64; 7]> {
    let cluster = cluster::start(bin, dir, 1, None, &[QUOTA]).await?;
    let endpoints = cluster.endpoints();
    let l = table_load(64, 16, keys);
    let channels = load::connect(&endpoints, &l).await?;

    let started = Instant::now();
    let mut fill = l.clone();
    fill.total = keys;
    let report = load::drive(&channels, &fill, |ch, n| async move {
        KvClient::new(ch)
            .put(PutRequest {
                key: key(n),
                value: value(n),
                ..Default::default()
            })
            .await
            .map(|_| ())
    })
    .await?;
    anyhow::ensure!(report.errors == 0, "{} fill puts failed", report.errors);
    let filled = started.elapsed().as_secs_f64();

    // Half the keys go, in runs, then the history of them.
    let mut del = l.clone();
    del.total = keys.div_ceil(DELETE_RUN * 2);
    let report = load::drive(&channels, &del, |ch, n| async move {
        let from = n * DELETE_RUN * 2;
        KvClient::new(ch)
            .delete_range(DeleteRangeRequest {
                key: key(from),
                range_end: key(from + DELETE_RUN),
                ..Default::default()
            })
            .await
            .map(|_| ())
    })
    .await?;
    anyhow::ensure!(report.errors == 0, "{} deletes failed", report.errors);
    let ch = channels[0].clone();
    let rev = KvClient::new(ch.clone())
        .range(RangeRequest {
            key: key(1),
            ..Default::default()
        })
        .await?
        .into_inner()
        .header
        .map_or(0, |h| h.revision);
    let t = Instant::now();
    KvClient::new(ch.clone())
        .compact(CompactionRequest {
            revision: rev,
            physical: true,
        })
        .await
        .map_err(|e| anyhow::anyhow!("{name}: compaction at {rev}: {e}"))?;
    let compacted = t.elapsed().as_secs_f64();
    let before = db_size(&ch).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let putter = spawn_closed_loop(ch.clone(), stop.clone(), |ch, i| async move {
        KvClient::new(ch)
            .put(PutRequest {
                key: format!("defrag-put/{}", i % 1000).into_bytes(),
                value: vec![b'v'; 256],
                ..Default::default()
            })
            .await
            .map(|_| ())
    });
    let reader = spawn_closed_loop(ch.clone(), stop.clone(), move |ch, i| async move {
        KvClient::new(ch)
            .range(RangeRequest {
                key: key((i * 2_654_435_761) % keys),
                ..Default::default()
            })
            .await
            .map(|_| ())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    MaintenanceClient::new(ch.clone())
        .defragment(DefragmentRequest {})
        .await
        .map_err(|e| anyhow::anyhow!("{name}: defragment: {e}"))?;
    let took = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (puts, put_failures) = putter.await?;
    let (ranges, range_failures) = reader.await?;
    let (pp, pm) = p99_and_max(puts);
    let (rp, rm) = p99_and_max(ranges);
    for (what, failures) in [("put", &put_failures), ("range", &range_failures)] {
        if !failures.is_empty() {
            eprintln!(
                "  {name}: {} {what}s failed during the defragment: {failures:?}",
                failures.len()
            );
        }
    }
    let after = db_size(&ch).await?;
    let mib = |b: i64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "  {name}: filled {keys} keys in {filled:.0}s, compacted in {compacted:.0}s; before defragment {:.0} MiB ({:.0} in use), \
         after {:.0} MiB; defragment took {took:.1}s; put p99 {pp:.1} ms, slowest {pm:.1} ms; \
         range p99 {rp:.1} ms, slowest {rm:.1} ms",
        mib(before.0),
        mib(before.1),
        mib(after.0)
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(dir);
    Ok([mib(before.0), mib(after.0), took, pp, pm, rp, rm])
}

/// The large-defragment rows.
pub(super) async fn rows(
    opts: &CompareOptions,
    ectd: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<Row>> {
    let keys = opts.defrag_mib * 1024;
    let mut measured: [Rounds; 7] = Default::default();
    for s in order(0) {
        let (name, bin) = if s == 0 {
            ("ectd", ectd)
        } else {
            ("etcd", opts.etcd.as_path())
        };
        let m = measure(name, bin, &dir.join(name), keys).await?;
        for (i, v) in m.iter().enumerate() {
            measured[i].sides[s].push((*v, 0.0));
        }
    }
    let mib = opts.defrag_mib;
    let names = [
        (
            format!("store before defragment ({mib} MiB of values, half deleted)"),
            "MiB",
        ),
        ("store after defragment".to_string(), "MiB"),
        ("defragment of that store".to_string(), "s"),
        (
            "put p99 during the large defragment, 1 client".to_string(),
            "ms",
        ),
        ("slowest put during the large defragment".to_string(), "ms"),
        (
            "range p99 during the large defragment, 1 client".to_string(),
            "ms",
        ),
        (
            "slowest range during the large defragment".to_string(),
            "ms",
        ),
    ];
    Ok(names
        .iter()
        .zip(&measured)
        .enumerate()
        .map(|(i, ((name, unit), r))| {
            let target = matches!(i, 4 | 6).then_some(1.0);
            r.row(name, unit, false, target, false)
        })
        .collect())
}
