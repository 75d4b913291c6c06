//! Crash safety of the v2 store: a member killed with SIGKILL in the middle of a
//! v2 write load must, once restarted, hold every v2 write it acknowledged, at the
//! index it acknowledged, and give later writes higher indexes. A small
//! `--snapshot-count` makes the kills land around state flushes and WAL purges too.

#[path = "common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::Ectd;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tempfile::TempDir;

const ROUNDS: usize = 8;
const WRITERS: usize = 4;

/// One request on a fresh connection: status and body, or `None` if the member
/// did not answer (it was killed).
fn request(port: u16, method: &str, target: &str, form: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn node_index(body: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["node"]["modifiedIndex"].as_u64()
}

/// Writes until stopped; returns each acknowledged key with its index.
fn writer(port: u16, round: usize, w: usize, stop: Arc<AtomicBool>) -> Vec<(String, u64)> {
    let mut acks = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("/r{round}/w{w}/k{i:05}");
        let Some((status, body)) = request(
            port,
            "PUT",
            &format!("/v2/keys{key}"),
            &format!("value=v{key}"),
        ) else {
            break;
        };
        if status != 201 {
            break;
        }
        let index = node_index(&body).expect("a set answer has the node's index");
        acks.push((key, index));
        i += 1;
    }
    acks
}

#[test]
fn acknowledged_v2_writes_survive_kill_9() {
    let seed: u64 = match std::env::var("CRASH_SEED") {
        Ok(s) => s.parse().expect("CRASH_SEED must be a u64"),
        Err(_) => rand::random(),
    };
    eprintln!("v2 crash test seed {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = TempDir::new().expect("temp dir");
    let mut m = Ectd::start(dir.path(), &["--enable-v2", "--snapshot-count", "200"]);
    let port = m.client_port();
    let mut acked: HashMap<String, u64> = HashMap::new();
    let mut high = 0u64;
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let stop = stop.clone();
                std::thread::spawn(move || writer(port, round, w, stop))
            })
            .collect();
        let delay = Duration::from_millis(rng.gen_range(100..=700));
        std::thread::sleep(delay);
        m.kill9();
        stop.store(true, Ordering::Relaxed);
        let mut this_round = 0;
        for t in tasks {
            let acks = t.join().expect("writer thread");
            for pair in acks.windows(2) {
                assert!(
                    pair[0].1 < pair[1].1,
                    "round {round} (seed {seed}): {pair:?}"
                );
            }
            for (k, i) in acks {
                assert!(
                    i > high,
                    "round {round} (seed {seed}): {k} at {i}, not after {high}"
                );
                this_round = this_round.max(i);
                acked.insert(k, i);
            }
        }
        high = high.max(this_round);
        m.restart();
        let when = format!("round {round} (seed {seed}, killed after {delay:?})");
        for (k, i) in &acked {
            let (status, body) = request(port, "GET", &format!("/v2/keys{k}"), "")
                .unwrap_or_else(|| panic!("{when}: no answer reading {k}"));
            assert_eq!(status, 200, "{when}: acknowledged {k} is gone: {body}");
            assert_eq!(
                node_index(&body),
                Some(*i),
                "{when}: {k} changed index: {body}"
            );
            assert!(
                body.contains(&format!("\"value\":\"v{k}\"")),
                "{when}: {body}"
            );
        }
        let (status, body) = request(port, "PUT", "/v2/keys/after", "value=1")
            .unwrap_or_else(|| panic!("{when}: no answer to a write after restart"));
        assert!(status == 200 || status == 201, "{when}: {body}");
        let after = node_index(&body).unwrap();
        assert!(
            after > high,
            "{when}: a write after restart got index {after}, not after {high}"
        );
        high = after;
    }
    assert!(
        acked.len() > ROUNDS,
        "too few acknowledged writes to mean anything: {}",
        acked.len()
    );
    eprintln!(
        "{} acknowledged v2 writes over {ROUNDS} kill -9 rounds survived",
        acked.len()
    );
    m.stop();
}
