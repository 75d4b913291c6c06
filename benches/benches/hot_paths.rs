//! Criterion micro-benchmarks of a member's hot paths, each on a fresh data directory:
//!
//! - `wal`: appending a batch of entries plus a hard state and making it durable with
//!   one fdatasync (what one Ready costs the raft loop);
//! - `mvcc`: one put committed as its own revision, and single-key / 100-key reads
//!   over a store of 100,000 keys;
//! - `apply`: applying a batch of committed put commands, as the apply thread does;
//! - `watch`: one revision handed to 1,000 or 10,000 synced watchers and drained from
//!   their streams.
//!
//! Run with `cargo bench -p ectd-bench --bench hot_paths` (add `-- wal` to pick one
//! group). Keys are 8 bytes and values 256 bytes, as in `ectd-bench compare`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ectd_proto::etcdserverpb::{PutRequest, WatchCreateRequest};
use ectd_proto::raftcmd::{command::Op, Command};
use ectd_server::apply::Applier;
use ectd_server::auth::token::{SimpleTokens, Tokens};
use ectd_server::auth::AuthStore;
use ectd_server::engine::Engine;
use ectd_server::lease::Lessor;
use ectd_server::mvcc::{KvRead, RangeEnd, RangeOptions, Store};
use ectd_server::raft::RaftStatus;
use ectd_server::wal::Wal;
use ectd_server::watch::{Headers, Hub, WatchStream};
use prost::Message as _;
use raft::prelude::{Entry, HardState};
use rocksdb::WriteBatch;

const VALUE: [u8; 256] = [b'v'; 256];

/// etcd's bcrypt cost; no password is hashed here, the auth store only needs one.
const BCRYPT_COST: u32 = 10;

fn key(i: u64) -> Vec<u8> {
    format!("{i:08}").into_bytes()
}

fn store(dir: &std::path::Path) -> Arc<Store> {
    Arc::new(Store::open(Engine::open(dir).expect("open engine")))
}

/// Commits one put of `key` as its own revision, the way apply does.
fn put(store: &Store, key: &[u8]) -> (i64, Vec<ectd_server::mvcc::Change>) {
    let mut batch = WriteBatch::default();
    let mut txn = store.write_txn(&mut batch);
    txn.put(key, VALUE.to_vec(), 0);
    let (rev, changes) = txn.finish();
    store.commit(batch, rev, store.compact_rev());
    (rev, changes)
}

fn wal(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal");
    g.measurement_time(Duration::from_secs(5));
    for n in [1u64, 16, 128] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _) = Wal::open(dir.path()).expect("open wal");
        let data = Command {
            request_id: 1,
            op: Some(Op::Put(PutRequest {
                key: key(1),
                value: VALUE.to_vec(),
                ..Default::default()
            })),
            ..Default::default()
        }
        .encode_to_vec();
        let mut next = 1u64;
        g.throughput(Throughput::Elements(n));
        g.bench_function(BenchmarkId::new("append_sync", n), |b| {
            b.iter(|| {
                let entries: Vec<Entry> = (next..next + n)
                    .map(|index| Entry {
                        index,
                        term: 1,
                        data: data.clone().into(),
                        ..Default::default()
                    })
                    .collect();
                next += n;
                wal.append_entries(&entries);
                wal.set_hard_state(&HardState {
                    term: 1,
                    commit: next - 1,
                    ..Default::default()
                });
                wal.sync().expect("sync");
            })
        });
    }
    g.finish();
}

fn mvcc(c: &mut Criterion) {
    let mut g = c.benchmark_group("mvcc");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    const KEYS: u64 = 100_000;
    for i in 0..KEYS {
        put(&s, &key(i));
    }
    let mut i = 0u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("put", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            put(&s, &key(i))
        })
    });
    g.bench_function("range_1", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            let view = s.read_view();
            view.range(&key(i), RangeEnd::Single, RangeOptions::default())
                .expect("range")
        })
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("range_100", |b| {
        b.iter(|| {
            i = (i + 7919) % (KEYS - 100);
            let view = s.read_view();
            let end = key(i + 100);
            view.range(&key(i), RangeEnd::Before(&end), RangeOptions::default())
                .expect("range")
        })
    });
    g.finish();
}

fn apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    const BATCH: u64 = 64;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store(dir.path());
    let lessor = Arc::new(Lessor::load(s.engine()));
    let v2 = ectd_server::v2::V2Store::load(s.engine());
    // Authentication stays disabled: the puts are applied as by a member without it.
    let tokens = Tokens::Simple(SimpleTokens::new(Duration::from_secs(300)));
    let auth = Arc::new(AuthStore::load(s.engine(), tokens, BCRYPT_COST));
    let mut applier = Applier::new(s, lessor, v2, auth);
    let mut index = 0u64;
    let mut round = 0u64;
    g.throughput(Throughput::Elements(BATCH));
    g.bench_function(BenchmarkId::new("puts", BATCH), |b| {
        b.iter_batched(
            || {
                round += 1;
                (0..BATCH)
                    .map(|i| {
                        Command {
                            request_id: i + 1,
                            op: Some(Op::Put(PutRequest {
                                key: key((round * BATCH + i) * 7919 % 100_000),
                                value: VALUE.to_vec(),
                                prev_kv: false,
                                ..Default::default()
                            })),
                            ..Default::default()
                        }
                        .encode_to_vec()
                    })
                    .collect::<Vec<_>>()
            },
            |cmds| {
                for cmd in cmds {
                    index += 1;
                    let done = applier.apply(index, 1, &cmd);
                    assert!(done.outcome.is_ok());
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn watch(c: &mut Criterion) {
    let mut g = c.benchmark_group("watch");
    g.measurement_time(Duration::from_secs(5));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for watchers in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        let headers = Headers {
            cluster_id: 1,
            member_id: 1,
            status: Arc::new(RaftStatus::default()),
        };
        let hub = Hub::new(s.clone(), headers, 1 << 20);
        // 100 watchers per stream, all on the same prefix.
        let streams: Vec<WatchStream> = rt.block_on(async {
            let streams: Vec<WatchStream> =
                (0..watchers / 100).map(|_| hub.open_stream()).collect();
            for st in &streams {
                for _ in 0..100 {
                    st.create(&WatchCreateRequest {
                        key: b"w/".to_vec(),
                        range_end: b"w0".to_vec(),
                        ..Default::default()
                    });
                }
                for _ in 0..100 {
                    st.next().await.expect("created");
                }
            }
            streams
        });
        assert_eq!(hub.synced_count(), watchers);
        let mut i = 0u64;
        g.throughput(Throughput::Elements(watchers as u64));
        g.bench_function(BenchmarkId::new("fan_out", watchers), |b| {
            b.iter(|| {
                i += 1;
                let (rev, changes) = put(&s, format!("w/{i:06}").as_bytes());
                hub.notify(rev, &changes);
                rt.block_on(async {
                    let mut events = 0;
                    for st in &streams {
                        for _ in 0..100 {
                            events += st.next().await.expect("event").events.len();
                        }
                    }
                    assert_eq!(events, watchers);
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, wal, mvcc, apply, watch);
criterion_main!(benches);
