//! A snapshot download of a large keyspace does not hold up writes.
//!
//! One `ectd` member is loaded with 1,000,000 keys. A single client then puts
//! keys one after the other, first alone, then while a client downloads the
//! member's snapshot (and checks what it got with the same reader
//! `snapshot status` uses). Every put must succeed, the downloaded database must
//! hold every key, and the put latencies of both runs are printed; a stalled
//! apply loop would show as puts slower by seconds, which fails the test. The
//! latency target itself (p99 within 2x) is measured by the benchmark
//! (`ectd-bench compare --only snapshot`), where the build is optimised and
//! nothing else runs.

#[path = "common/mod.rs"]
mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{within, Ectd};
use ectd_client::proto::etcdserverpb::{
    request_op, PutRequest, RequestOp, SnapshotRequest, TxnRequest,
};
use ectd_client::{Client, ConnectOptions};

const KEYS: usize = 1_000_000;
const PER_TXN: usize = 128;
const LOADERS: usize = 4;
const VALUE: &[u8] = b"a value of some sixty-four bytes, as a small object would be.....";
/// Puts measured without a snapshot running.
const BASELINE_PUTS: usize = 2000;
/// A put slower than this while the snapshot streams means writes stalled.
const STALL: Duration = Duration::from_secs(1);

async fn client(endpoint: &str) -> Client {
    Client::connect_with(
        &[endpoint.to_string()],
        ConnectOptions {
            dial_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(30),
        },
    )
    .await
    .expect("connecting")
}

fn p(lat: &mut [Duration], q: f64) -> Duration {
    lat.sort_unstable();
    lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)]
}

#[test]
fn a_snapshot_of_a_million_keys_streams_while_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let member = Ectd::start(dir.path(), &["--quota-backend-bytes=-1"]);
    let endpoint = member.endpoint();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let started = Instant::now();
            let mut loaders = Vec::new();
            for l in 0..LOADERS {
                let c = client(&endpoint).await;
                loaders.push(tokio::spawn(async move {
                    let mut i = l * PER_TXN;
                    while i < KEYS {
                        let ops = (i..(i + PER_TXN).min(KEYS))
                            .map(|k| RequestOp {
                                request: Some(request_op::Request::RequestPut(PutRequest {
                                    key: format!("load/{k:08}").into_bytes(),
                                    value: VALUE.to_vec(),
                                    ..Default::default()
                                })),
                            })
                            .collect();
                        c.txn(TxnRequest {
                            success: ops,
                            ..Default::default()
                        })
                        .await
                        .expect("loading");
                        i += LOADERS * PER_TXN;
                    }
                }));
            }
            for l in loaders {
                l.await.unwrap();
            }
            println!("loaded {KEYS} keys in {:?}", started.elapsed());

            let writer = client(&endpoint).await;
            let mut baseline = Vec::new();
            for i in 0..BASELINE_PUTS {
                let t = Instant::now();
                within(30, "put", writer.put_kv(format!("w/{i}"), "x"))
                    .await
                    .expect("put without a snapshot");
                baseline.push(t.elapsed());
            }

            let snap_client = client(&endpoint).await;
            let file = dir.path().join("download.db");
            let path = file.clone();
            let download = tokio::spawn(async move {
                let t = Instant::now();
                let mut stream = snap_client
                    .maintenance()
                    .snapshot(SnapshotRequest {})
                    .await
                    .expect("snapshot")
                    .into_inner();
                let mut f = std::fs::File::create(&path).unwrap();
                let mut bytes = 0u64;
                while let Some(m) = stream.message().await.expect("snapshot stream") {
                    bytes += m.blob.len() as u64;
                    f.write_all(&m.blob).unwrap();
                }
                (bytes, t.elapsed())
            });
            let mut during = Vec::new();
            let mut i = 0;
            while !download.is_finished() {
                let t = Instant::now();
                within(30, "put", writer.put_kv(format!("d/{i}"), "x"))
                    .await
                    .expect("put while the snapshot streams");
                during.push(t.elapsed());
                i += 1;
            }
            let (bytes, took) = download.await.unwrap();
            let base99 = p(&mut baseline, 0.99);
            let during99 = p(&mut during, 0.99);
            let worst = *during.last().unwrap();
            println!(
                "snapshot: {bytes} bytes in {took:?}; puts alone: {} p50 {:?} p99 {base99:?}; \
                 puts while streaming: {} p50 {:?} p99 {during99:?} max {worst:?}; p99 ratio {:.2}",
                baseline.len(),
                p(&mut baseline, 0.5),
                during.len(),
                p(&mut during, 0.5),
                during99.as_secs_f64() / base99.as_secs_f64()
            );
            assert!(
                worst < STALL,
                "a put took {worst:?} while the snapshot streamed"
            );
            assert_eq!(bytes % 512, 32, "database pages plus the digest");

            // The download is a whole database: every loaded key is in it.
            let db = file.with_extension("body");
            let raw = std::fs::read(&file).unwrap();
            std::fs::write(&db, &raw[..raw.len() - 32]).unwrap();
            let st = ectd_server::backup::status(&db).expect("reading the download");
            assert!(
                st.total_key as usize >= KEYS + BASELINE_PUTS,
                "{} keys in the download",
                st.total_key
            );
        });
}
