//! The linearizable-register workload: `clients` concurrent clients, each connected to one
//! member (chosen round-robin), issue random reads (linearizable Range), writes (Put of a
//! value unique to the run) and compare-and-sets (Txn: if the key holds `expected` then Put)
//! on a few keys, one operation at a time, until told to stop.
//!
//! Outcomes follow [`crate::history::Outcome`]: any response is `Ok` (a Txn whose
//! comparison failed is an `Ok` CAS with result `false`); a timeout or any error is
//! `Unknown`, because a request that reached the leader may still be applied.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::request_op::Request;
use ectd_client::proto::etcdserverpb::{
    Compare, PutRequest, RangeRequest, RequestOp, ResponseHeader, TxnRequest,
};
use ectd_client::{Client, ConnectOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::history::{ClientId, Key, OpKind, OpResult, Operation, Outcome, Value};
use crate::workload::{generation, key_in};

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct RegisterConfig {
    /// Number of concurrent clients.
    pub clients: usize,
    /// Keys operated on, each an independent register (never deleted).
    pub keys: Vec<Key>,
    /// Move to fresh keys (`key.1`, `key.2`, ...) this often, so each key's history stays
    /// checkable in a long run; `None` keeps the same keys throughout.
    pub key_period: Option<Duration>,
    /// Bound on each request; a request still unanswered is recorded `Unknown`.
    pub command_timeout: Duration,
    /// Seed for the clients' choices (client `c` uses `seed + c`).
    pub seed: u64,
}

impl RegisterConfig {
    /// `clients` clients on keys `jepsen/r0..r{keys}` with a 1 s command timeout.
    pub fn new(clients: usize, keys: usize, seed: u64) -> RegisterConfig {
        RegisterConfig {
            clients,
            keys: (0..keys).map(|k| format!("jepsen/r{k}")).collect(),
            key_period: None,
            command_timeout: Duration::from_secs(1),
            seed,
        }
    }
}

/// The running clients; [`Workload::stop`] ends them and returns the history.
pub struct Workload {
    stop: watch::Sender<bool>,
    tasks: JoinSet<Vec<Operation>>,
}

impl Workload {
    /// Connects client `c` to `endpoints[c % len]` and starts it. Times in the history are
    /// nanoseconds since `epoch`, which all clients share.
    pub async fn start(
        config: &RegisterConfig,
        endpoints: &[String],
        epoch: Instant,
    ) -> Result<Workload, ectd_client::Error> {
        let (stop, stopped) = watch::channel(false);
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: config.command_timeout,
        };
        let mut tasks = JoinSet::new();
        for c in 0..config.clients {
            let endpoint = endpoints[c % endpoints.len()].clone();
            let client = Client::connect_with(&[endpoint], options).await?;
            let worker = Worker {
                id: c as ClientId,
                client,
                keys: config.keys.clone(),
                key_period: config.key_period,
                rng: StdRng::seed_from_u64(config.seed.wrapping_add(c as u64)),
                epoch,
                next_value: 0,
            };
            tasks.spawn(worker.run(stopped.clone()));
        }
        Ok(Workload { stop, tasks })
    }

    /// Stops every client after its current operation and returns all operations, sorted
    /// by invocation time.
    pub async fn stop(mut self) -> Vec<Operation> {
        let _ = self.stop.send(true);
        let mut history = Vec::new();
        while let Some(ops) = self.tasks.join_next().await {
            history.extend(ops.expect("register client task panicked"));
        }
        history.sort_by_key(|op| (op.invoke_ns, op.client));
        history
    }
}

/// One client: sequential operations on its own connection.
struct Worker {
    id: ClientId,
    client: Client,
    keys: Vec<Key>,
    key_period: Option<Duration>,
    rng: StdRng,
    epoch: Instant,
    next_value: u64,
}

impl Worker {
    async fn run(mut self, stopped: watch::Receiver<bool>) -> Vec<Operation> {
        let mut ops = Vec::new();
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
            let op = self.invoke(key, kind).await;
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
            // Back off after a failure so an unavailable member does not pile up
            // unknown writes, each of which widens the checker's search.
            let pause = match op.outcome {
                Outcome::Ok(_) => self.rng.gen_range(5..30),
                _ => 300,
            };
            ops.push(op);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        ops
    }

    fn unique_value(&mut self) -> Value {
        self.next_value += 1;
        format!("c{}-{}", self.id, self.next_value)
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Issues one operation and records it.
    async fn invoke(&self, key: Key, kind: OpKind) -> Operation {
        let invoke_ns = self.now_ns();
        let response = self.request(&key, &kind).await;
        let complete_ns = self.now_ns();
        let (outcome, revision) = match response {
            Ok((result, header)) => (Outcome::Ok(result), header.map(|h| h.revision)),
            Err(_) => (Outcome::Unknown, None),
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

    async fn request(
        &self,
        key: &Key,
        kind: &OpKind,
    ) -> Result<(OpResult, Option<ResponseHeader>), ectd_client::Error> {
        match kind {
            OpKind::Read => {
                let request = RangeRequest {
                    key: key.clone().into_bytes(),
                    ..Default::default()
                };
                let response = self.client.range(request).await?;
                let value = response
                    .kvs
                    .first()
                    .map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
                Ok((OpResult::Read(value), response.header))
            }
            OpKind::Write(value) => {
                let request = PutRequest {
                    key: key.clone().into_bytes(),
                    value: value.clone().into_bytes(),
                    ..Default::default()
                };
                let response = self.client.put(request).await?;
                Ok((OpResult::Write, response.header))
            }
            OpKind::Cas { expected, new } => {
                let compare = match expected {
                    Some(v) => Compare {
                        result: CompareResult::Equal as i32,
                        target: CompareTarget::Value as i32,
                        key: key.clone().into_bytes(),
                        target_union: Some(TargetUnion::Value(v.clone().into_bytes())),
                        ..Default::default()
                    },
                    // Absent: version 0 (a Value comparison on a missing key is false).
                    None => Compare {
                        result: CompareResult::Equal as i32,
                        target: CompareTarget::Version as i32,
                        key: key.clone().into_bytes(),
                        target_union: Some(TargetUnion::Version(0)),
                        ..Default::default()
                    },
                };
                let put = RequestOp {
                    request: Some(Request::RequestPut(PutRequest {
                        key: key.clone().into_bytes(),
                        value: new.clone().into_bytes(),
                        ..Default::default()
                    })),
                };
                let request = TxnRequest {
                    compare: vec![compare],
                    success: vec![put],
                    failure: vec![],
                };
                let response = self.client.txn(request).await?;
                Ok((OpResult::Cas(response.succeeded), response.header))
            }
        }
    }
}
