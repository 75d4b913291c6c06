//! The linearizable-register workload over etcd's v2 keys API: `clients` concurrent
//! clients, each talking HTTP to one member (chosen round-robin), issue random reads
//! (`GET ?quorum=true`), writes (`PUT value=`) and compare-and-sets (`PUT prevValue=` on a
//! value the client saw, or `PUT prevExist=false` when it saw none) on a few keys, one
//! operation at a time, until told to stop. The history has the register workload's shape
//! ([`crate::history`]) and is checked by the same checkers.
//!
//! How replies become outcomes:
//!
//! - an event is `Ok`; a read of a missing key (error 100) is `Ok` with no value;
//! - a refused compare-and-set (101 compare failed, 100 key not found for `prevValue`,
//!   105 key exists for `prevExist=false`) is an `Ok` CAS with result `false`: the store
//!   decided the comparison was false;
//! - any other v2 error below 300 is `Fail`, and so is a request that could not be sent;
//! - errors from 300 (etcd reports a timed-out proposal as 300), timeouts and lost
//!   connections are `Unknown`, and so is a malformed answer, which is also reported.
//!
//! An acknowledged write's revision is its node's `modifiedIndex`, which the final state's
//! `modifiedIndex` is compared with; every other answer's revision is `X-Etcd-Index`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::history::{ClientId, Key, OpKind, OpResult, Operation, Outcome, Value};
use crate::v2_http::{Body, Failure, Reply, V2Client};
use crate::workload::{generation, key_in};

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct V2RegisterConfig {
    /// Number of concurrent clients.
    pub clients: usize,
    /// v2 keys operated on (paths such as `/jepsen/v2r0`), each an independent register.
    pub keys: Vec<Key>,
    /// Move to fresh keys (`key.1`, `key.2`, ...) this often; `None` keeps the same keys.
    pub key_period: Option<Duration>,
    /// Bound on each request; a request still unanswered is recorded `Unknown`.
    pub command_timeout: Duration,
    /// Reads with `quorum=true` (linearizable). Without, a member answers from its own
    /// store, possibly stale: only for showing that the checker catches that.
    pub quorum_reads: bool,
    /// Seed for the clients' choices.
    pub seed: u64,
}

impl V2RegisterConfig {
    /// `clients` clients on keys `/jepsen/v2r0..v2r{keys}` with a 1 s request timeout.
    pub fn new(clients: usize, keys: usize, seed: u64) -> V2RegisterConfig {
        V2RegisterConfig {
            clients,
            keys: (0..keys).map(|k| format!("/jepsen/v2r{k}")).collect(),
            key_period: None,
            command_timeout: Duration::from_secs(1),
            quorum_reads: true,
            seed,
        }
    }
}

/// The running clients; [`Workload::stop`] ends them and returns the history.
pub struct Workload {
    stop: watch::Sender<bool>,
    tasks: JoinSet<(Vec<Operation>, Vec<String>)>,
}

impl Workload {
    /// Starts client `c` against `endpoints[c % len]`; client ids start at `first_client`.
    /// Times in the history are nanoseconds since `epoch`.
    pub fn start(
        config: &V2RegisterConfig,
        endpoints: &[String],
        first_client: u64,
        epoch: Instant,
    ) -> Workload {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for c in 0..config.clients {
            let id = first_client + c as u64;
            let worker = Worker {
                id,
                client: V2Client::new(&endpoints[c % endpoints.len()], config.command_timeout),
                keys: config.keys.clone(),
                key_period: config.key_period,
                quorum_reads: config.quorum_reads,
                rng: StdRng::seed_from_u64(config.seed.wrapping_add(4000 + c as u64)),
                epoch,
                next_value: 0,
            };
            tasks.spawn(worker.run(stopped.clone()));
        }
        Workload { stop, tasks }
    }

    /// Stops every client after its current operation; returns all operations sorted by
    /// invocation time, and every malformed answer received.
    pub async fn stop(mut self) -> (Vec<Operation>, Vec<String>) {
        let _ = self.stop.send(true);
        let (mut history, mut malformed) = (Vec::new(), Vec::new());
        while let Some(done) = self.tasks.join_next().await {
            let (ops, bad) = done.expect("v2 register client task panicked");
            history.extend(ops);
            malformed.extend(bad);
        }
        history.sort_by_key(|op| (op.invoke_ns, op.client));
        (history, malformed)
    }
}

struct Worker {
    id: ClientId,
    client: V2Client,
    keys: Vec<Key>,
    key_period: Option<Duration>,
    quorum_reads: bool,
    rng: StdRng,
    epoch: Instant,
    next_value: u64,
}

impl Worker {
    async fn run(mut self, stopped: watch::Receiver<bool>) -> (Vec<Operation>, Vec<String>) {
        let (mut ops, mut malformed) = (Vec::new(), Vec::new());
        // The last value this client saw per key, so CAS often has a chance to succeed.
        let mut seen: HashMap<Key, Option<Value>> = HashMap::new();
        while !*stopped.borrow() {
            let k = self.rng.gen_range(0..self.keys.len());
            let key = key_in(
                &self.keys[k],
                generation(self.epoch.elapsed(), self.key_period),
            );
            let kind = match self.rng.gen_range(0..3) {
                0 => OpKind::Read,
                1 => OpKind::Write(self.unique_value()),
                _ => OpKind::Cas {
                    expected: seen.get(&key).cloned().flatten(),
                    new: self.unique_value(),
                },
            };
            let op = self.invoke(key, kind, &mut malformed).await;
            let saw = match (&op.kind, &op.outcome) {
                (_, Outcome::Ok(OpResult::Read(v))) => Some(v.clone()),
                (OpKind::Write(v), Outcome::Ok(_)) => Some(Some(v.clone())),
                (OpKind::Cas { new, .. }, Outcome::Ok(OpResult::Cas(true))) => {
                    Some(Some(new.clone()))
                }
                _ => None,
            };
            if let Some(v) = saw {
                seen.insert(op.key.clone(), v);
            }
            // Back off after a failure so an unavailable member does not pile up unknown
            // writes, each of which widens the checker's search.
            let pause = match op.outcome {
                Outcome::Ok(_) => self.rng.gen_range(5..30),
                _ => 300,
            };
            ops.push(op);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        (ops, malformed)
    }

    fn unique_value(&mut self) -> Value {
        self.next_value += 1;
        format!("c{}-{}", self.id, self.next_value)
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Issues one operation and records it.
    async fn invoke(&mut self, key: Key, kind: OpKind, malformed: &mut Vec<String>) -> Operation {
        let invoke_ns = self.now_ns();
        let reply = match &kind {
            OpKind::Read => {
                let quorum = if self.quorum_reads { "true" } else { "false" };
                self.client.get(&key, &[("quorum", quorum)]).await
            }
            OpKind::Write(value) => self.client.put(&key, &[("value", value)]).await,
            OpKind::Cas {
                expected: Some(expected),
                new,
            } => {
                let fields = [("value", new.as_str()), ("prevValue", expected.as_str())];
                self.client.put(&key, &fields).await
            }
            OpKind::Cas {
                expected: None,
                new,
            } => {
                let fields = [("value", new.as_str()), ("prevExist", "false")];
                self.client.put(&key, &fields).await
            }
        };
        let complete_ns = self.now_ns();
        let (outcome, revision) = match outcome(&kind, &reply) {
            Ok(decided) => decided,
            Err(what) => {
                malformed.push(format!("v2 client {} on {key}: {what}", self.id));
                (Outcome::Unknown, None)
            }
        };
        Operation {
            client: self.id,
            key,
            invoke_ns,
            complete_ns,
            kind,
            outcome,
            revision,
        }
    }
}

/// The outcome and revision of an operation of `kind` that got `reply`; `Err` describes an
/// answer that does not fit the request (recorded `Unknown` and reported).
fn outcome(
    kind: &OpKind,
    reply: &Result<Reply, Failure>,
) -> Result<(Outcome, Option<i64>), String> {
    let reply = match reply {
        Ok(r) => r,
        Err(Failure::NotSent(_)) => return Ok((Outcome::Fail, None)),
        Err(Failure::Indeterminate(_)) => return Ok((Outcome::Unknown, None)),
        Err(f @ Failure::Malformed(_)) => return Err(f.to_string()),
    };
    let index = reply.index().map(|i| i as i64);
    match (&reply.body, kind) {
        (Body::Event(e), OpKind::Read) => {
            if e.node.dir {
                return Err(format!("read found a directory: {e:?}"));
            }
            Ok((Outcome::Ok(OpResult::Read(e.node.value.clone())), index))
        }
        (Body::Event(e), OpKind::Write(v) | OpKind::Cas { new: v, .. }) => {
            if e.node.value.as_ref() != Some(v) {
                return Err(format!("write of {v:?} answered with {e:?}"));
            }
            let result = match kind {
                OpKind::Write(_) => OpResult::Write,
                _ => OpResult::Cas(true),
            };
            Ok((Outcome::Ok(result), Some(e.node.modified_index as i64)))
        }
        (Body::Error(e), OpKind::Read) if e.error_code == 100 => {
            Ok((Outcome::Ok(OpResult::Read(None)), index))
        }
        (Body::Error(e), OpKind::Cas { expected, .. })
            if e.error_code == 101
                || (e.error_code == 100 && expected.is_some())
                || (e.error_code == 105 && expected.is_none()) =>
        {
            Ok((Outcome::Ok(OpResult::Cas(false)), index))
        }
        (Body::Error(e), _) if e.is_definite() => Ok((Outcome::Fail, index)),
        (Body::Error(_), _) => Ok((Outcome::Unknown, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2_http::{Event, Node, V2Error};

    fn event(value: &str, modified: u64, index: u64) -> Result<Reply, Failure> {
        Ok(Reply {
            status: 200,
            etcd_index: Some(index),
            body: Body::Event(Event {
                action: "set".into(),
                node: Node {
                    key: "/k".into(),
                    value: Some(value.into()),
                    dir: false,
                    nodes: vec![],
                    created_index: 1,
                    modified_index: modified,
                },
                prev_node: None,
            }),
        })
    }

    fn error(code: u32, index: u64) -> Result<Reply, Failure> {
        Ok(Reply {
            status: 412,
            etcd_index: Some(index),
            body: Body::Error(V2Error {
                error_code: code,
                message: String::new(),
                cause: String::new(),
                index,
            }),
        })
    }

    fn cas(expected: Option<&str>) -> OpKind {
        OpKind::Cas {
            expected: expected.map(String::from),
            new: "n".into(),
        }
    }

    #[test]
    fn replies_map_onto_register_outcomes() {
        let read = OpKind::Read;
        assert_eq!(
            outcome(&read, &event("a", 3, 9)),
            Ok((Outcome::Ok(OpResult::Read(Some("a".into()))), Some(9)))
        );
        assert_eq!(
            outcome(&read, &error(100, 9)),
            Ok((Outcome::Ok(OpResult::Read(None)), Some(9)))
        );
        let write = OpKind::Write("w".into());
        assert_eq!(
            outcome(&write, &event("w", 5, 5)),
            Ok((Outcome::Ok(OpResult::Write), Some(5)))
        );
        assert!(outcome(&write, &event("other", 5, 5)).is_err());
        assert_eq!(
            outcome(&cas(Some("a")), &event("n", 6, 6)),
            Ok((Outcome::Ok(OpResult::Cas(true)), Some(6)))
        );
        for (expected, code) in [(Some("a"), 101), (Some("a"), 100), (None, 105)] {
            assert_eq!(
                outcome(&cas(expected), &error(code, 7)),
                Ok((Outcome::Ok(OpResult::Cas(false)), Some(7))),
                "{expected:?} {code}"
            );
        }
        // 105 cannot answer a prevValue comparison: a definite refusal, nothing learned.
        assert_eq!(
            outcome(&cas(Some("a")), &error(105, 7)),
            Ok((Outcome::Fail, Some(7)))
        );
    }

    #[test]
    fn only_definite_failures_are_fail() {
        let write = OpKind::Write("w".into());
        assert_eq!(
            outcome(&write, &Err(Failure::NotSent("refused".into()))),
            Ok((Outcome::Fail, None))
        );
        assert_eq!(
            outcome(&write, &Err(Failure::Indeterminate("timeout".into()))),
            Ok((Outcome::Unknown, None))
        );
        assert_eq!(
            outcome(&write, &error(300, 4)),
            Ok((Outcome::Unknown, None))
        );
        assert_eq!(
            outcome(&write, &error(102, 4)),
            Ok((Outcome::Fail, Some(4)))
        );
        assert!(outcome(&write, &Err(Failure::Malformed("x".into()))).is_err());
    }
}
