//! A watcher whose client never reads must cost a bounded amount of memory and
//! must not delay anyone else's events; once it reads again it catches up from
//! history and loses nothing.
//!
//! One `ectd` member serves 1,000 watchers (one key each, spread over several
//! streams and connections, each stream read promptly). A write load of large-ish
//! values runs twice: once as is, once with one more watcher of the whole prefix
//! on its own connection whose response stream is never polled. Delivery latency
//! is the time from a put's acknowledgement to its event's arrival at the watcher
//! of its key.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{watch_key, watch_prefix, within, Ectd, WatchConn};
use ectd_client::proto::etcdserverpb::PutRequest;
use ectd_client::proto::mvccpb::event::EventType;
use ectd_client::{Client, ConnectOptions};

/// Active watchers, one per key.
const WATCHERS: usize = 1000;
/// Watch streams the active watchers are spread over.
const STREAMS: usize = 8;
/// Connections those streams are spread over.
const CONNECTIONS: usize = 4;
/// Concurrent writers.
const WRITERS: usize = 4;
/// Size of every value written.
const VALUE_BYTES: usize = 32 << 10;
/// Puts before the runs: enough for the member's in-memory raft log tail (10,000
/// entries) to be full of entries of this size, so that the runs do not measure
/// it filling up.
const WARM_UP_PUTS: usize = 10_500;
/// Puts whose delivery is measured, in each run.
const MEASURED_PUTS: usize = 2500;
/// Further puts in each run, so that far more is produced for the stalled watcher
/// than it may cost.
const EXTRA_PUTS: usize = 7500;
/// How much the server's RSS may grow while the stalled watcher is left behind
/// (it grows by about 15 MiB with or without it).
const RSS_BOUND: u64 = 100 << 20;
/// Latencies below this count as this: the comparison is about the stalled
/// watcher's effect, not about scheduling noise at the sub-millisecond scale.
const LATENCY_FLOOR: Duration = Duration::from_millis(5);

fn key(i: usize) -> String {
    format!("s/k{:04}", i % WATCHERS)
}

/// The value of the `n`th put: its number, then filler.
fn value(n: usize) -> Vec<u8> {
    let mut v = format!("{n}:").into_bytes();
    v.resize(VALUE_BYTES, b'v');
    v
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"));
    kb << 10
}

/// Samples a process's RSS every 50 ms on a thread until dropped; keeps the peak.
struct RssPeak {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl RssPeak {
    fn start(pid: u32) -> RssPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !s.load(Ordering::Relaxed) {
                peak = peak.max(rss_bytes(pid));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak.max(rss_bytes(pid))
        });
        RssPeak {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("sampler thread")
            .join()
            .expect("RSS sampler")
    }
}

impl Drop for RssPeak {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

async fn dial(endpoint: &str) -> Client {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(20),
    };
    within(
        10,
        "connecting",
        Client::connect_with(&[endpoint.into()], options),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to {endpoint}: {e}"))
}

/// When each revision's event reached its watcher, and anything wrong seen.
#[derive(Default)]
struct Arrivals {
    at: HashMap<i64, Instant>,
    errors: Vec<String>,
}

/// Creates the active watchers and spawns a reader per stream that records when
/// each event arrives.
async fn start_watchers(clients: &[Client], arrivals: Arc<Mutex<Arrivals>>) {
    let per_stream = WATCHERS / STREAMS;
    for s in 0..STREAMS {
        let mut conn = WatchConn::open(&clients[s % CONNECTIONS])
            .await
            .expect("opening a watch stream");
        let first = s * per_stream;
        for i in first..first + per_stream {
            conn.create(watch_key(&key(i), 0, false));
        }
        let mut keys = HashMap::new();
        for i in first..first + per_stream {
            let created = conn.expect_created("creating an active watcher").await;
            keys.insert(created.watch_id, key(i).into_bytes());
        }
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            while let Ok(Some(resp)) = conn.next().await {
                let now = Instant::now();
                let mut a = arrivals.lock().expect("arrivals lock");
                for ev in &resp.events {
                    let kv = ev.kv.clone().unwrap_or_default();
                    if keys.get(&resp.watch_id) != Some(&kv.key) {
                        a.errors.push(format!(
                            "watcher {} of {:?} got an event of {:?}",
                            resp.watch_id,
                            keys.get(&resp.watch_id).map(|k| String::from_utf8_lossy(k)),
                            String::from_utf8_lossy(&kv.key)
                        ));
                    }
                    if a.at.insert(kv.mod_revision, now).is_some() {
                        a.errors
                            .push(format!("revision {} delivered twice", kv.mod_revision));
                    }
                }
            }
        });
    }
}

/// One acknowledged put: its revision, its number, and when the answer came.
type Ack = (i64, usize, Instant);

/// Puts `count` values, numbered from `first`, with `WRITERS` writers.
async fn write_load(clients: &[Client], first: usize, count: usize) -> Vec<Ack> {
    let next = Arc::new(AtomicUsize::new(first));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let c = clients[w % clients.len()].clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= first + count {
                    return acks;
                }
                let r = c
                    .put(PutRequest {
                        key: key(n).into_bytes(),
                        value: value(n),
                        ..Default::default()
                    })
                    .await
                    .unwrap_or_else(|e| panic!("put #{n}: {e}"));
                let rev = r.header.map_or(0, |h| h.revision);
                acks.push((rev, n, Instant::now()));
            }
        }));
    }
    let mut acks = Vec::new();
    for t in tasks {
        acks.extend(t.await.expect("writer task"));
    }
    acks.sort_unstable();
    acks
}

#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:?}, p99 {:?}, max {:?}",
            self.p50, self.p99, self.max
        )
    }
}

/// Waits until every acknowledged put reached its watcher; returns the delivery
/// latency distribution.
async fn latencies(acks: &[Ack], arrivals: &Mutex<Arrivals>, run: &str) -> Latency {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let missing: Vec<i64> = {
            let a = arrivals.lock().expect("arrivals lock");
            assert!(a.errors.is_empty(), "{run}: {:?}", a.errors);
            acks.iter()
                .filter(|(rev, _, _)| !a.at.contains_key(rev))
                .map(|(rev, _, _)| *rev)
                .collect()
        };
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{run}: {} of {} acknowledged puts never reached the watcher of their key; \
             first revisions missing: {:?}",
            missing.len(),
            acks.len(),
            &missing[..missing.len().min(10)]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = arrivals.lock().expect("arrivals lock");
    let mut l: Vec<Duration> = acks
        .iter()
        .map(|(rev, _, acked)| a.at[rev].saturating_duration_since(*acked))
        .collect();
    l.sort_unstable();
    let pct = |p: usize| l[(l.len() * p / 100).min(l.len() - 1)];
    Latency {
        p50: pct(50),
        p99: pct(99),
        max: *l.last().expect("some puts"),
    }
}

#[test]
fn a_watcher_that_never_reads_delays_no_one_and_catches_up() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(slow_consumer());
}

async fn slow_consumer() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let m = Ectd::start(dir.path(), &[]);
    let pid = m.pid().expect("running");
    let endpoint = m.endpoint();
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(dial(&endpoint).await);
    }
    let arrivals = Arc::new(Mutex::new(Arrivals::default()));
    start_watchers(&clients, arrivals.clone()).await;
    let rss_idle = rss_bytes(pid);

    let warm_up = write_load(&clients, 0, WARM_UP_PUTS).await;
    latencies(&warm_up, &arrivals, "warm-up").await;
    let mut n = WARM_UP_PUTS;

    // Without the stalled watcher.
    let rss_base_before = rss_bytes(pid);
    let peak = RssPeak::start(pid);
    let base_acks = write_load(&clients, n, MEASURED_PUTS).await;
    let base = latencies(&base_acks, &arrivals, "run without the stalled watcher").await;
    let more = write_load(&clients, n + MEASURED_PUTS, EXTRA_PUTS).await;
    latencies(&more, &arrivals, "run without the stalled watcher").await;
    n += MEASURED_PUTS + EXTRA_PUTS;
    let rss_base_peak = peak.finish();
    eprintln!(
        "without the stalled watcher: {} puts of {VALUE_BYTES} bytes, delivery {base}; \
         RSS {:.1} MiB idle, {:.1} MiB after warm-up, peak {:.1} MiB ({:.1}s)",
        MEASURED_PUTS + EXTRA_PUTS,
        mib(rss_idle),
        mib(rss_base_before),
        mib(rss_base_peak),
        started.elapsed().as_secs_f64()
    );

    // A watcher of every key on its own connection, never read.
    let stalled_client = dial(&endpoint).await;
    let from = more.last().expect("some puts").0 + 1;
    let mut stalled = WatchConn::open(&stalled_client)
        .await
        .expect("opening the stalled watch stream");
    stalled.create(watch_prefix("s/", from, false));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = rss_bytes(pid);
    let peak = RssPeak::start(pid);
    let stall_acks = write_load(&clients, n, MEASURED_PUTS).await;
    let stall = latencies(&stall_acks, &arrivals, "run with the stalled watcher").await;
    eprintln!(
        "with the stalled watcher: {MEASURED_PUTS} puts, delivery {stall} ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    let extra_acks = write_load(&clients, n + MEASURED_PUTS, EXTRA_PUTS).await;
    let rss_stalled_peak = peak.finish();
    let produced = ((MEASURED_PUTS + EXTRA_PUTS) * VALUE_BYTES) as u64;
    let growth = rss_stalled_peak.saturating_sub(rss_before);
    eprintln!(
        "{:.0} MiB of events produced for the stalled watcher: RSS {:.1} MiB before, peak \
         {:.1} MiB (growth {:.1} MiB, bound {:.0} MiB) ({:.1}s)",
        mib(produced),
        mib(rss_before),
        mib(rss_stalled_peak),
        mib(growth),
        mib(RSS_BOUND),
        started.elapsed().as_secs_f64()
    );

    for (what, b, s) in [("p50", base.p50, stall.p50), ("p99", base.p99, stall.p99)] {
        assert!(
            s.max(LATENCY_FLOOR) <= 2 * b.max(LATENCY_FLOOR),
            "{what} delivery latency of the 1,000 reading watchers went from {b:?} to {s:?} \
             with one stalled watcher (more than twice, counting anything below \
             {LATENCY_FLOOR:?} as {LATENCY_FLOOR:?}); without: {base}; with: {stall}"
        );
    }
    assert!(
        produced > 2 * RSS_BOUND,
        "the test must produce far more for the stalled watcher than the RSS bound"
    );
    assert!(
        growth < RSS_BOUND,
        "the server's RSS grew by {:.1} MiB (from {:.1} to {:.1} MiB) while {:.0} MiB of \
         events were produced for a watcher that does not read; the bound is {:.0} MiB",
        mib(growth),
        mib(rss_before),
        mib(rss_stalled_peak),
        mib(produced),
        mib(RSS_BOUND)
    );

    // Now it reads: every event since it was created, in order, from history.
    let mut expect: Vec<(i64, usize)> = stall_acks
        .iter()
        .chain(&extra_acks)
        .map(|(rev, n, _)| (*rev, *n))
        .collect();
    expect.sort_unstable();
    assert_eq!(expect[0].0, from, "the first put of the stalled run");
    let reading = Instant::now();
    let peak = RssPeak::start(pid);
    let created = stalled.expect_created("the stalled watcher").await;
    let mut got = 0usize;
    let mut responses = 0usize;
    while got < expect.len() {
        let r = tokio::time::timeout(Duration::from_secs(20), stalled.next()).await;
        let resp = match r {
            Ok(Ok(Some(resp))) => resp,
            other => panic!(
                "the stalled watcher, reading again, got {other:?} after {got} of {} events",
                expect.len()
            ),
        };
        assert!(
            !resp.canceled && resp.watch_id == created.watch_id,
            "the stalled watcher, reading again: {:?}",
            WatchDebug(&resp)
        );
        responses += 1;
        for ev in &resp.events {
            let kv = ev.kv.clone().unwrap_or_default();
            let Some(&(rev, n)) = expect.get(got) else {
                panic!(
                    "the stalled watcher got more events than the {} puts made (revision {})",
                    expect.len(),
                    kv.mod_revision
                );
            };
            assert!(
                ev.r#type == EventType::Put as i32
                    && kv.mod_revision == rev
                    && kv.key == key(n).into_bytes()
                    && kv.value == value(n),
                "the stalled watcher's event #{got}: expected the put of {} at revision {rev}, \
                 got {:?} {} at revision {} ({} value bytes)",
                key(n),
                ev.r#type,
                String::from_utf8_lossy(&kv.key),
                kv.mod_revision,
                kv.value.len()
            );
            got += 1;
        }
    }
    let caught_up = reading.elapsed();
    let rss_catch_up_peak = peak.finish();
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!(
        "the stalled watcher caught up: {got} events in {responses} responses, {caught_up:?} \
         after it started reading; RSS peak while it caught up {:.1} MiB, {:.1} MiB after; \
         test took {:?}",
        mib(rss_catch_up_peak),
        mib(rss_bytes(pid)),
        started.elapsed()
    );
    drop(m);
}

/// A watch response without its (large) values, for failure messages.
struct WatchDebug<'a>(&'a ectd_client::proto::etcdserverpb::WatchResponse);

impl std::fmt::Debug for WatchDebug<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        f.debug_struct("WatchResponse")
            .field("watch_id", &r.watch_id)
            .field("created", &r.created)
            .field("canceled", &r.canceled)
            .field("cancel_reason", &r.cancel_reason)
            .field("compact_revision", &r.compact_revision)
            .field("events", &r.events.len())
            .finish()
    }
}
