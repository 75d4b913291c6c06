//! The lock workload: clients take turns holding one lock (the Lock service, on a lease
//! they keep alive) and, while holding it, increment a counter with writes fenced by the
//! lock: `Txn If(create_revision(lock key) == token && mod_revision(counter) == seen)
//! Then Put(counter, n + 1)`. Now and then a holder stops renewing its lease and, after
//! the lease should have expired, tries one more fenced write — the case fencing exists for.
//!
//! A lock on a lease cannot promise mutual exclusion in real time (a paused holder does
//! not know its lease expired), so what is checked is what fencing promises:
//!
//! - in revision order, the fencing tokens (create revisions of the holders' lock keys) of
//!   successful fenced writes never go down: no holder writes after a later holder took
//!   the lock;
//! - no two acknowledged increments wrote the same value (no lost update);
//! - the final counter lies between the acknowledged increments and those plus the ones
//!   whose outcome is unknown.

use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::request_op::Request;
use ectd_client::proto::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use ectd_client::{Client, ConnectOptions, LeasedMutex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Name of the lock.
pub const LOCK: &str = "jepsen/lock/mutex";
/// The counter the holders increment.
pub const COUNTER: &str = "jepsen/lock/counter";

/// How a fenced increment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied at `revision`.
    Ok,
    /// Refused by its guard: the lock key or the counter had changed.
    Refused,
    /// No answer: it may have been applied.
    Unknown,
}

/// One fenced increment attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Increment {
    /// The client.
    pub client: u64,
    /// Create revision of the client's lock key: its fencing token.
    pub token: i64,
    /// The value written (the counter read plus one).
    pub value: u64,
    /// Whether the client had stopped renewing its lease before trying.
    pub after_expiry: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// Revision of the write, when applied.
    pub revision: Option<i64>,
    /// When it was sent, nanoseconds since the run's epoch.
    pub invoke_ns: u64,
    /// When the outcome was known.
    pub complete_ns: u64,
}

/// What the lock clients recorded, and the counter at the end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LockHistory {
    /// Every fenced increment attempted.
    pub increments: Vec<Increment>,
    /// Times the lock was acquired.
    pub acquisitions: usize,
}

/// The running clients.
pub struct Workload {
    stop: watch::Sender<bool>,
    tasks: JoinSet<LockHistory>,
}

impl Workload {
    /// Starts `clients` lock clients, client `c` on `endpoints[c % len]`, numbered from
    /// `first_client`.
    pub async fn start(
        clients: usize,
        endpoints: &[String],
        first_client: u64,
        seed: u64,
        epoch: Instant,
    ) -> Result<Workload, ectd_client::Error> {
        let (stop, stopped) = watch::channel(false);
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
        };
        let mut tasks = JoinSet::new();
        for c in 0..clients {
            let endpoint = endpoints[(c + 2) % endpoints.len()].clone();
            let client = Client::connect_with(&[endpoint], options).await?;
            let worker = Worker {
                id: first_client + c as u64,
                client,
                rng: StdRng::seed_from_u64(seed.wrapping_add(2000 + c as u64)),
                epoch,
            };
            tasks.spawn(worker.run(stopped.clone()));
        }
        Ok(Workload { stop, tasks })
    }

    /// Stops the clients (each after its current step) and returns what they recorded.
    pub async fn stop(mut self) -> LockHistory {
        let _ = self.stop.send(true);
        let mut all = LockHistory::default();
        while let Some(done) = self.tasks.join_next().await {
            let h = done.expect("lock client task panicked");
            all.increments.extend(h.increments);
            all.acquisitions += h.acquisitions;
        }
        all.increments.sort_by_key(|i| (i.invoke_ns, i.client));
        all
    }
}

struct Worker {
    id: u64,
    client: Client,
    rng: StdRng,
    epoch: Instant,
}

impl Worker {
    async fn run(mut self, stopped: watch::Receiver<bool>) -> LockHistory {
        let mut history = LockHistory::default();
        // TTL 2 s: over the 1 s minimum a 500 ms election timeout allows.
        let mutex = LeasedMutex::new(&self.client, LOCK, 2);
        while !*stopped.borrow() {
            let held = match tokio::time::timeout(Duration::from_secs(10), mutex.lock()).await {
                Ok(Ok(held)) => held,
                _ => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    continue;
                }
            };
            history.acquisitions += 1;
            let Some(token) = self.token(held.key()).await else {
                let _ = held.release().await;
                continue;
            };
            let lock_key = held.key().to_vec();
            for _ in 0..self.rng.gen_range(1..=3) {
                let inc = self.increment(&lock_key, token, false).await;
                let unknown = inc.outcome == Outcome::Unknown;
                history.increments.push(inc);
                if unknown {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(self.rng.gen_range(0..100))).await;
            }
            if self.rng.gen_bool(0.1) {
                // Abandon the lease and write once more after it should have expired.
                drop(held);
                tokio::time::sleep(Duration::from_millis(3500)).await;
                history
                    .increments
                    .push(self.increment(&lock_key, token, true).await);
            } else {
                let _ = held.release().await;
            }
            tokio::time::sleep(Duration::from_millis(self.rng.gen_range(10..100))).await;
        }
        history
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The create revision of our lock key.
    async fn token(&self, key: &[u8]) -> Option<i64> {
        let response = self
            .client
            .range(RangeRequest {
                key: key.to_vec(),
                ..Default::default()
            })
            .await
            .ok()?;
        response.kvs.first().map(|kv| kv.create_revision)
    }

    async fn increment(&self, lock_key: &[u8], token: i64, after_expiry: bool) -> Increment {
        let invoke_ns = self.now_ns();
        let (outcome, value, revision) = match self.try_increment(lock_key, token).await {
            Ok((true, value, revision)) => (Outcome::Ok, value, Some(revision)),
            Ok((false, value, _)) => (Outcome::Refused, value, None),
            Err(value) => (Outcome::Unknown, value, None),
        };
        Increment {
            client: self.id,
            token,
            value,
            after_expiry,
            outcome,
            revision,
            invoke_ns,
            complete_ns: self.now_ns(),
        }
    }

    /// `Ok((applied, value, revision))`, or `Err(value)` (0 if not even read) when the
    /// outcome is unknown.
    async fn try_increment(&self, lock_key: &[u8], token: i64) -> Result<(bool, u64, i64), u64> {
        let read = self
            .client
            .range(RangeRequest {
                key: COUNTER.as_bytes().to_vec(),
                ..Default::default()
            })
            .await
            .map_err(|_| 0u64)?;
        let (current, mod_revision) = match read.kvs.first() {
            Some(kv) => (
                String::from_utf8_lossy(&kv.value)
                    .parse::<u64>()
                    .unwrap_or(0),
                kv.mod_revision,
            ),
            None => (0, 0),
        };
        let value = current + 1;
        let response = self
            .client
            .txn(TxnRequest {
                compare: vec![
                    // Our lock key still exists: deleted with the lease, it reads 0.
                    Compare {
                        result: CompareResult::Equal as i32,
                        target: CompareTarget::Create as i32,
                        key: lock_key.to_vec(),
                        target_union: Some(TargetUnion::CreateRevision(token)),
                        ..Default::default()
                    },
                    Compare {
                        result: CompareResult::Equal as i32,
                        target: CompareTarget::Mod as i32,
                        key: COUNTER.as_bytes().to_vec(),
                        target_union: Some(TargetUnion::ModRevision(mod_revision)),
                        ..Default::default()
                    },
                ],
                success: vec![RequestOp {
                    request: Some(Request::RequestPut(PutRequest {
                        key: COUNTER.as_bytes().to_vec(),
                        value: value.to_string().into_bytes(),
                        ..Default::default()
                    })),
                }],
                failure: vec![],
            })
            .await
            .map_err(|_| value)?;
        let revision = response.header.map_or(0, |h| h.revision);
        Ok((response.succeeded, value, revision))
    }
}

/// An anomaly the lock checks found.
pub type LockAnomaly = String;

/// Checks the fencing properties listed in the module doc against the final counter.
pub fn check(history: &LockHistory, final_counter: u64) -> Vec<LockAnomaly> {
    let mut anomalies = Vec::new();
    let mut applied: Vec<&Increment> = history
        .increments
        .iter()
        .filter(|i| i.outcome == Outcome::Ok)
        .collect();
    applied.sort_by_key(|i| i.revision);
    for pair in applied.windows(2) {
        if pair[1].token < pair[0].token {
            anomalies.push(format!(
                "fenced write with token {} at revision {:?} after one with token {} at {:?}: a stale holder wrote",
                pair[1].token, pair[1].revision, pair[0].token, pair[0].revision
            ));
        }
    }
    let mut values: Vec<u64> = applied.iter().map(|i| i.value).collect();
    values.sort_unstable();
    for pair in values.windows(2) {
        if pair[0] == pair[1] {
            anomalies.push(format!(
                "two acknowledged increments both wrote {}: an update was lost",
                pair[0]
            ));
        }
    }
    let unknown = history
        .increments
        .iter()
        .filter(|i| i.outcome == Outcome::Unknown)
        .count() as u64;
    let acked = applied.len() as u64;
    if final_counter < acked || final_counter > acked + unknown {
        anomalies.push(format!(
            "final counter {final_counter}, but {acked} increments were acknowledged and {unknown} unknown"
        ));
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(token: i64, value: u64, outcome: Outcome, revision: Option<i64>) -> Increment {
        Increment {
            client: 1,
            token,
            value,
            after_expiry: false,
            outcome,
            revision,
            invoke_ns: 0,
            complete_ns: 1,
        }
    }

    fn history(increments: Vec<Increment>) -> LockHistory {
        LockHistory {
            increments,
            acquisitions: 2,
        }
    }

    #[test]
    fn a_correct_history_passes() {
        let h = history(vec![
            inc(10, 1, Outcome::Ok, Some(11)),
            inc(10, 2, Outcome::Ok, Some(12)),
            inc(20, 3, Outcome::Unknown, None),
            inc(10, 3, Outcome::Refused, None),
            inc(25, 3, Outcome::Ok, Some(26)),
        ]);
        assert!(check(&h, 3).is_empty());
        // The unknown one may also have been applied.
        let h = history(vec![
            inc(10, 1, Outcome::Ok, Some(11)),
            inc(20, 2, Outcome::Unknown, None),
        ]);
        assert!(check(&h, 2).is_empty());
    }

    #[test]
    fn a_stale_holder_writing_is_caught() {
        let h = history(vec![
            inc(20, 1, Outcome::Ok, Some(21)),
            inc(10, 2, Outcome::Ok, Some(22)),
        ]);
        let found = check(&h, 2);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("stale holder"), "{found:?}");
    }

    #[test]
    fn lost_updates_and_wrong_counters_are_caught() {
        let h = history(vec![
            inc(10, 1, Outcome::Ok, Some(11)),
            inc(20, 1, Outcome::Ok, Some(21)),
        ]);
        let found = check(&h, 1);
        assert!(found.iter().any(|a| a.contains("lost")), "{found:?}");
        let h = history(vec![inc(10, 1, Outcome::Ok, Some(11))]);
        assert_eq!(check(&h, 0).len(), 1);
        assert_eq!(check(&h, 2).len(), 1);
    }
}
