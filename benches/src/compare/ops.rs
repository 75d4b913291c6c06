//! The operations rows of the comparison, on a fresh ectd and etcd member each
//! loaded with `--keys` keys: how long a snapshot download takes, the server's
//! peak resident memory while it runs, and the p99 latency of one client's puts
//! alone and while the snapshot streams (etcd's target for ectd: within 2x of
//! its own p99 without the snapshot). Then, once per server (they change the
//! data): every key written again, and a compaction of the `--keys` revisions
//! that removes the old versions, and a defragment, each with the same client's
//! puts running: how long each takes, and the p99 and slowest put meanwhile.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::kv_client::KvClient;
use ectd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use ectd_proto::etcdserverpb::{
    CompactionRequest, DefragmentRequest, PutRequest, RangeRequest, SnapshotRequest,
};
use tonic::transport::Channel;

use super::{order, table_load, CompareOptions, Rounds, Row, Side};
use crate::{cluster, load, workloads};

/// How long the puts without a snapshot are measured.
const ALONE: Duration = Duration::from_secs(3);

fn p99(lat: &mut [Duration]) -> f64 {
    if lat.is_empty() {
        return 0.0;
    }
    lat.sort_unstable();
    lat[(lat.len() * 99 / 100).min(lat.len() - 1)].as_secs_f64() * 1000.0
}

/// Puts one key after another until `stop` is set (or `limit` passed); the
/// latency of each.
async fn puts(
    ch: Channel,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut kv = KvClient::new(ch);
    let started = Instant::now();
    let mut lat = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
        let t = Instant::now();
        kv.put(PutRequest {
            key: format!("ops/{}", i % 1000).into_bytes(),
            value: vec![b'v'; 256],
            ..Default::default()
        })
        .await?;
        lat.push(t.elapsed());
        i += 1;
    }
    Ok(lat)
}

/// One round on one side: (snapshot seconds, peak RSS MiB, p99 alone ms, p99
/// during ms).
async fn measure(side: &mut Side, dir: &Path) -> anyhow::Result<[f64; 4]> {
    let endpoints = side.cluster.endpoints();
    let l = table_load(1, 1, 1);
    let channels = load::connect(&endpoints[..1], &l).await?;
    let ch = channels[0].clone();

    let mut alone = puts(ch.clone(), Arc::new(AtomicBool::new(false)), ALONE).await?;

    let peak = Arc::new(AtomicU64::new(side.cluster.rss_kib()));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        let pids_rss = side.cluster.rss_sampler();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(pids_rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let writer = tokio::spawn(puts(ch.clone(), done.clone(), Duration::from_secs(3600)));
    let started = Instant::now();
    let mut stream = MaintenanceClient::new(ch)
        .max_decoding_message_size(64 << 20)
        .snapshot(SnapshotRequest {})
        .await?
        .into_inner();
    let file = dir.join(format!("{}.db", side.name));
    let mut out = std::fs::File::create(&file)?;
    let mut bytes = 0u64;
    while let Some(m) = stream.message().await? {
        bytes += m.blob.len() as u64;
        std::io::Write::write_all(&mut out, &m.blob)?;
    }
    let took = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let mut during = writer.await??;
    let _ = sampler.join();
    let _ = std::fs::remove_file(&file);
    let (p_alone, p_during) = (p99(&mut alone), p99(&mut during));
    eprintln!(
        "  {}: snapshot {bytes} bytes in {took:.2}s, peak RSS {} MiB; put p99 alone {p_alone:.2} ms ({} puts), while streaming {p_during:.2} ms ({} puts)",
        side.name,
        peak.load(Ordering::Relaxed) / 1024,
        alone.len(),
        during.len()
    );
    Ok([
        took,
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        p_alone,
        p_during,
    ])
}

/// Runs `op` while one client puts; (seconds `op` took, p99 ms, max ms of the
/// puts meanwhile).
async fn during<F, Fut>(ch: Channel, op: F) -> anyhow::Result<(f64, f64, f64)>
where
    F: FnOnce(Channel) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let done = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(puts(ch.clone(), done.clone(), Duration::from_secs(3600)));
    // Let the writer get going first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    op(ch).await?;
    let took = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let mut lat = writer.await??;
    let max = lat.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    Ok((took, p99(&mut lat), max))
}

/// Compaction and defragment on one side: [compaction s, p99 ms, max ms,
/// defragment s, p99 ms, max ms].
async fn compaction_and_defrag(side: &mut Side, keys: u64) -> anyhow::Result<[f64; 6]> {
    let endpoints = side.cluster.endpoints();
    let l = table_load(64, 16, keys);
    let channels = load::connect(&endpoints, &l).await?;
    workloads::preload(&channels, &l).await?;
    let one = load::connect(&endpoints[..1], &table_load(1, 1, 1)).await?;
    let ch = one[0].clone();
    let rev = KvClient::new(ch.clone())
        .range(RangeRequest {
            key: b"\0".to_vec(),
            limit: 1,
            ..Default::default()
        })
        .await?
        .into_inner()
        .header
        .map_or(0, |h| h.revision);
    let (ct, cp, cm) = during(ch.clone(), |ch| async move {
        KvClient::new(ch)
            .compact(CompactionRequest {
                revision: rev,
                physical: true,
            })
            .await?;
        Ok(())
    })
    .await?;
    let (dt, dp, dm) = during(ch, |ch| async move {
        MaintenanceClient::new(ch)
            .defragment(DefragmentRequest {})
            .await?;
        Ok(())
    })
    .await?;
    eprintln!(
        "  {}: compaction at {rev} took {ct:.2}s (put p99 {cp:.2} ms, max {cm:.1} ms); \
         defragment took {dt:.2}s (put p99 {dp:.2} ms, max {dm:.1} ms)",
        side.name
    );
    Ok([ct, cp, cm, dt, dp, dm])
}

/// The operations rows.
pub(super) async fn rows(
    opts: &CompareOptions,
    ectd: &Path,
    dir: &Path,
) -> anyhow::Result<Vec<Row>> {
    let mut sides = [
        Side {
            name: "ectd",
            cluster: cluster::start(ectd, &dir.join("ectd"), 1, None, &[]).await?,
            preloaded: false,
        },
        Side {
            name: "etcd",
            cluster: cluster::start(&opts.etcd, &dir.join("etcd"), 1, None, &[]).await?,
            preloaded: false,
        },
    ];
    for side in &mut sides {
        let started = Instant::now();
        let l = table_load(64, 16, opts.keys);
        let channels = load::connect(&side.cluster.endpoints(), &l).await?;
        workloads::preload(&channels, &l).await?;
        eprintln!(
            "  {}: loaded {} keys in {:.1}s",
            side.name,
            opts.keys,
            started.elapsed().as_secs_f64()
        );
    }
    let mut measured: [Rounds; 4] = Default::default();
    for round in 0..opts.rounds.max(1) {
        for s in order(round) {
            let m = measure(&mut sides[s], dir).await?;
            for (i, v) in m.iter().enumerate() {
                measured[i].sides[s].push((*v, 0.0));
            }
        }
    }
    let mut impact = Rounds::default();
    for s in 0..2 {
        for (alone, during) in measured[2].sides[s].iter().zip(&measured[3].sides[s]) {
            impact.sides[s].push((during.0 / alone.0.max(1e-9), 0.0));
        }
    }
    let mut heavy: [Rounds; 6] = Default::default();
    for s in order(0) {
        let m = compaction_and_defrag(&mut sides[s], opts.keys).await?;
        for (i, v) in m.iter().enumerate() {
            heavy[i].sides[s].push((*v, 0.0));
        }
    }
    let keys = opts.keys;
    let mut rows = vec![
        measured[0].row(
            &format!("snapshot save, {keys} keys"),
            "s",
            false,
            Some(1.0),
            false,
        ),
        measured[1].row(
            &format!("peak RSS during snapshot save, {keys} keys"),
            "MiB",
            false,
            Some(1.0),
            false,
        ),
        measured[2].row(
            "put p99 without a snapshot, 1 client",
            "ms",
            false,
            None,
            false,
        ),
        measured[3].row(
            "put p99 while a snapshot streams, 1 client",
            "ms",
            false,
            None,
            false,
        ),
        impact.row(
            "put p99 while streaming / without (each server's own)",
            "x",
            false,
            None,
            false,
        ),
    ];
    let names = [
        (format!("compaction of {keys} revisions, physical"), "s"),
        ("put p99 during the compaction, 1 client".to_string(), "ms"),
        (
            "slowest put during the compaction, 1 client".to_string(),
            "ms",
        ),
        ("defragment after the compaction".to_string(), "s"),
        ("put p99 during the defragment, 1 client".to_string(), "ms"),
        (
            "slowest put during the defragment, 1 client".to_string(),
            "ms",
        ),
    ];
    for (i, (name, unit)) in names.iter().enumerate() {
        let target = matches!(i, 1 | 2 | 5).then_some(1.0);
        rows.push(heavy[i].row(name, unit, false, target, false));
    }
    Ok(rows)
}
