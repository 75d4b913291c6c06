//! Crash safety: a member killed with SIGKILL in the middle of a write load must,
//! once restarted on the same data directory, still hold every write it
//! acknowledged, at the revision it acknowledged, and go on accepting writes.
//!
//! An acknowledgement is a promise that the write is durable. Twenty rounds kill
//! the member at random moments (100–700 ms into the load) so that the kill lands
//! in different phases: appending to the WAL, applying, flushing the state
//! machine, purging the WAL.
//!
//! A kill -9 loses what the process still held in its own memory, not what it
//! had handed to the kernel: this finds acknowledgements given before a write
//! reached the WAL at all, broken recovery and replay, and revisions reused
//! after a restart — not missing fsyncs, which only a power loss would show.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{within, Ectd, Member};
use ectd_client::proto::etcdserverpb::{PutRequest, RangeRequest};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{prefix_range_end, Client};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

const ROUNDS: usize = 20;
const WRITERS: usize = 6;
const PREFIX: &str = "crash/";

/// The value written under `key`: derived from the key, so that any value found
/// after a restart can be checked even for writes that were never acknowledged,
/// and long enough (varying sizes) to make the WAL and the store do real work.
fn value_for(key: &str) -> Vec<u8> {
    let n = 16 + key.bytes().map(usize::from).sum::<usize>() % 200;
    let mut v = format!("{key}=").into_bytes();
    v.resize(n.max(v.len()), b'.');
    v
}

fn key_for(round: usize, writer: usize, i: usize) -> String {
    format!("{PREFIX}{round:02}/{writer}/{i:06}")
}

/// One writer: puts distinct keys one after another until told to stop or until
/// the server goes away, and returns every acknowledged put with the revision
/// its response header carried.
async fn writer(
    client: Client,
    round: usize,
    w: usize,
    stop: Arc<AtomicBool>,
) -> Vec<(String, i64)> {
    let mut acked = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let key = key_for(round, w, i);
        let put = client.put(PutRequest {
            key: key.clone().into_bytes(),
            value: value_for(&key),
            ..Default::default()
        });
        match tokio::time::timeout(Duration::from_secs(5), put).await {
            Ok(Ok(resp)) => {
                let rev = resp.header.as_ref().map_or(0, |h| h.revision);
                acked.push((key, rev));
            }
            // Killed (or killing): whatever was in flight may or may not have
            // committed, and is not counted.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    acked
}

async fn connect(m: &Member) -> Client {
    within(10, "connecting to ectd", Client::connect(&[m.endpoint()]))
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", m.endpoint()))
}

/// Every key-value under `prefix`, read in pages so no single response grows
/// large. Returns the key-values and the revision the first page was read at.
async fn read_all(c: &Client, prefix: &str) -> (Vec<KeyValue>, i64) {
    let end = prefix_range_end(prefix.as_bytes());
    let mut key = prefix.as_bytes().to_vec();
    let mut out = Vec::new();
    let mut rev = 0;
    loop {
        let resp = within(
            20,
            "reading back",
            c.range(RangeRequest {
                key: key.clone(),
                range_end: end.clone(),
                limit: 1000,
                revision: rev,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("range after restart: {e}"));
        if rev == 0 {
            rev = resp.header.as_ref().map_or(0, |h| h.revision);
        }
        let more = resp.more;
        let Some(last) = resp.kvs.last() else { break };
        key = last.key.clone();
        key.push(0);
        out.extend(resp.kvs);
        if !more {
            break;
        }
    }
    (out, rev)
}

/// Checks the whole keyspace of the test against what was acknowledged.
/// `acked` maps each acknowledged key to its revision; `high` is the highest
/// revision any earlier observation has shown.
async fn verify(m: &Member, acked: &HashMap<String, i64>, high: i64, when: &str) -> i64 {
    let c = connect(m).await;
    let (kvs, rev) = read_all(&c, PREFIX).await;
    assert!(
        rev >= high,
        "{when}: the revision went backwards: {rev} after {high} had been seen"
    );
    let mut by_rev: BTreeMap<i64, &[u8]> = BTreeMap::new();
    let mut present: HashMap<String, &KeyValue> = HashMap::new();
    for kv in &kvs {
        let key = String::from_utf8_lossy(&kv.key).into_owned();
        // Acknowledged or not, a key holds only the value written for it, once.
        assert_eq!(
            kv.value,
            value_for(&key),
            "{when}: {key} holds a value never written to it"
        );
        assert_eq!(
            kv.version, 1,
            "{when}: {key} was written once, has version {}",
            kv.version
        );
        assert_eq!(kv.create_revision, kv.mod_revision, "{when}: {key}: {kv:?}");
        assert!(
            kv.mod_revision <= rev,
            "{when}: {key} is from the future: {kv:?} at {rev}"
        );
        // Every put is its own revision.
        if let Some(other) = by_rev.insert(kv.mod_revision, &kv.key) {
            panic!(
                "{when}: {key} and {} share revision {}",
                String::from_utf8_lossy(other),
                kv.mod_revision
            );
        }
        present.insert(key, kv);
    }
    let mut lost = Vec::new();
    for (key, &ack_rev) in acked {
        match present.get(key) {
            None => lost.push(format!(
                "{key} (acknowledged at revision {ack_rev}) is missing"
            )),
            Some(kv) if kv.mod_revision != ack_rev => lost.push(format!(
                "{key} was acknowledged at revision {ack_rev} but has mod_revision {}",
                kv.mod_revision
            )),
            Some(_) => {}
        }
    }
    lost.sort();
    assert!(
        lost.is_empty(),
        "{when}: {} of {} acknowledged writes lost or moved; first ones:\n{}\n{}",
        lost.len(),
        acked.len(),
        lost[..lost.len().min(20)].join("\n"),
        m.stderr_tail(30)
    );

    // And it still takes writes, at a revision after everything seen.
    let resp = within(
        10,
        "writing after restart",
        c.put(PutRequest {
            key: b"probe".to_vec(),
            value: when.as_bytes().to_vec(),
            ..Default::default()
        }),
    )
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{when}: a put after restart failed: {e}\n{}",
            m.stderr_tail(30)
        )
    });
    let put_rev = resp.header.map_or(0, |h| h.revision);
    assert!(
        put_rev > rev,
        "{when}: a put after restart got revision {put_rev}, not after {rev}"
    );
    put_rev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let seed: u64 = match std::env::var("CRASH_SEED") {
        Ok(s) => s.parse().expect("CRASH_SEED must be a u64"),
        Err(_) => rand::random(),
    };
    eprintln!("crash test seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = TempDir::new().expect("temp dir");
    let mut m = Ectd::start(dir.path(), &[]);
    let started = Instant::now();

    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut high = 1i64;
    let mut empty_rounds = 0;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let client = connect(&m).await;
            tasks.push(tokio::spawn(writer(client, round, w, stop.clone())));
        }
        let delay = Duration::from_millis(rng.gen_range(100..=700));
        tokio::time::sleep(delay).await;
        m.kill9();
        stop.store(true, Ordering::Relaxed);

        let mut this_round = Vec::new();
        for t in tasks {
            let acks = within(30, "writers noticing the kill", t)
                .await
                .expect("writer task panicked");
            // One writer's acknowledgements come in order, at increasing revisions.
            for pair in acks.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "round {round} (seed {seed}): acknowledged revisions out of order: {pair:?}"
                );
            }
            this_round.extend(acks);
        }
        for (key, rev) in &this_round {
            assert!(
                *rev > high,
                "round {round} (seed {seed}): {key} acknowledged at revision {rev}, \
                 not after {high} seen before the round"
            );
        }
        if this_round.is_empty() {
            empty_rounds += 1;
        }
        high = high.max(this_round.iter().map(|(_, r)| *r).max().unwrap_or(0));
        acked.extend(this_round.iter().cloned());

        let restart = m.restart_timed();
        let when = format!(
            "round {round} (seed {seed}, killed after {delay:?}, {} acknowledged this round, restart took {restart:?})",
            this_round.len()
        );
        high = verify(&m, &acked, high, &when).await;
    }

    // A graceful stop must keep everything too.
    m.restart();
    verify(&m, &acked, high, "after a graceful restart").await;
    m.stop();

    eprintln!(
        "{} acknowledged writes over {ROUNDS} kill -9 rounds survived ({:?})",
        acked.len(),
        started.elapsed()
    );
    // Rounds where the server took no write at all test nothing.
    assert!(
        empty_rounds <= ROUNDS / 4,
        "{empty_rounds} of {ROUNDS} rounds acknowledged no write at all"
    );
}
