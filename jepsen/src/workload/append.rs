//! The list-append workload: clients run small multi-key transactions of appends and reads
//! on keys whose values are lists of integers, recorded as [`crate::append::Txn`]s for the
//! serializability checker.
//!
//! etcd has no append operation, so a transaction is two requests. First a read-only Txn
//! reads every key involved (one consistent snapshot, with mod revisions). Then one Txn
//! guarded by `mod_revision(k) == seen` for every key puts each appended key's list with
//! the new element and ranges each read key. A failed guard means the transaction did not
//! happen at all (`Aborted`); a timeout or broken connection leaves it `Unknown`. A
//! transaction of reads only is its first request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::request_op::Request;
use ectd_client::proto::etcdserverpb::response_op::Response;
use ectd_client::proto::etcdserverpb::{
    Compare, PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use ectd_client::{Client, ConnectOptions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::append::{decode_list, encode_list, MicroOp, Txn, TxnOutcome};
use crate::workload::{generation, key_in};

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct AppendConfig {
    /// Number of concurrent clients.
    pub clients: usize,
    /// Keys transactions choose from (`jepsen/a0..`).
    pub keys: Vec<String>,
    /// Move to fresh keys (`jepsen/a0.1`, ...) this often, so lists, and the values every
    /// transaction and watch event carries, stay short in a long run; `None`: never.
    pub key_period: Option<Duration>,
    /// Most micro-operations in one transaction (each on a different key).
    pub max_ops: usize,
    /// Bound on each request.
    pub command_timeout: Duration,
    /// Seed for the clients' choices (client `c` uses `seed + c`).
    pub seed: u64,
}

impl AppendConfig {
    /// `clients` clients over `keys` keys, up to 4 micro-operations per transaction.
    pub fn new(clients: usize, keys: usize, seed: u64) -> AppendConfig {
        AppendConfig {
            clients,
            keys: (0..keys).map(|k| format!("jepsen/a{k}")).collect(),
            key_period: None,
            max_ops: 4,
            command_timeout: Duration::from_secs(1),
            seed,
        }
    }
}

/// The running clients; [`Workload::stop`] ends them and returns the transactions.
pub struct Workload {
    stop: watch::Sender<bool>,
    tasks: JoinSet<(Vec<Txn>, Vec<String>)>,
}

/// Why one attempt ended without an answer to record.
enum AttemptError {
    /// The request failed or timed out: the transaction may or may not have happened.
    Client,
    /// The server answered something that is not a list, or not the ranges asked for:
    /// a bug, reported as an anomaly.
    Malformed(String),
}

impl From<ectd_client::Error> for AttemptError {
    fn from(_: ectd_client::Error) -> AttemptError {
        AttemptError::Client
    }
}

impl Workload {
    /// Connects client `c` to `endpoints[c % len]` and starts it; `first_client` numbers
    /// the clients after other workloads' so client ids stay unique across a run.
    pub async fn start(
        config: &AppendConfig,
        endpoints: &[String],
        first_client: u64,
        epoch: Instant,
    ) -> Result<Workload, ectd_client::Error> {
        let (stop, stopped) = watch::channel(false);
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: config.command_timeout,
        };
        let mut tasks = JoinSet::new();
        for c in 0..config.clients {
            let endpoint = endpoints[(c + 1) % endpoints.len()].clone();
            let client = Client::connect_with(&[endpoint], options).await?;
            let id = first_client + c as u64;
            let worker = Worker {
                id,
                client,
                config: config.clone(),
                rng: StdRng::seed_from_u64(config.seed.wrapping_add(1000 + c as u64)),
                epoch,
                next_element: (id + 1) * 1_000_000_000,
            };
            tasks.spawn(worker.run(stopped.clone()));
        }
        Ok(Workload { stop, tasks })
    }

    /// Stops every client after its current transaction and returns all transactions,
    /// sorted by invocation time, and every malformed answer the clients received.
    pub async fn stop(mut self) -> (Vec<Txn>, Vec<String>) {
        let _ = self.stop.send(true);
        let (mut history, mut malformed) = (Vec::new(), Vec::new());
        while let Some(done) = self.tasks.join_next().await {
            let (txns, bad) = done.expect("append client task panicked");
            history.extend(txns);
            malformed.extend(bad);
        }
        history.sort_by_key(|t| (t.invoke_ns, t.client));
        (history, malformed)
    }
}

struct Worker {
    id: u64,
    client: Client,
    config: AppendConfig,
    rng: StdRng,
    epoch: Instant,
    next_element: u64,
}

/// What the first request saw of one key.
struct Seen {
    list: Vec<u64>,
    mod_revision: i64,
}

impl Worker {
    async fn run(mut self, stopped: watch::Receiver<bool>) -> (Vec<Txn>, Vec<String>) {
        let (mut txns, mut malformed) = (Vec::new(), Vec::new());
        while !*stopped.borrow() {
            let ops = self.generate();
            let txn = self.execute(ops, &mut malformed).await;
            let pause = match txn.outcome {
                TxnOutcome::Unknown => 300,
                _ => self.rng.gen_range(5..30),
            };
            txns.push(txn);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        (txns, malformed)
    }

    /// 1..=max_ops micro-operations on distinct keys, about half appends.
    fn generate(&mut self) -> Vec<MicroOp> {
        let count = self.rng.gen_range(1..=self.config.max_ops);
        let g = generation(self.epoch.elapsed(), self.config.key_period);
        let keys: Vec<String> = self
            .config
            .keys
            .choose_multiple(&mut self.rng, count)
            .map(|k| key_in(k, g))
            .collect();
        keys.into_iter()
            .map(|key| {
                if self.rng.gen_bool(0.5) {
                    self.next_element += 1;
                    MicroOp::Append {
                        key,
                        element: self.next_element,
                    }
                } else {
                    MicroOp::Read { key, value: None }
                }
            })
            .collect()
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    async fn execute(&self, mut ops: Vec<MicroOp>, malformed: &mut Vec<String>) -> Txn {
        let invoke_ns = self.now_ns();
        let result = self.attempt(&mut ops).await;
        let complete_ns = self.now_ns();
        let (outcome, revision) = match result {
            Ok(Some(revision)) => (TxnOutcome::Committed, Some(revision)),
            Ok(None) => (TxnOutcome::Aborted, None),
            Err(AttemptError::Client) => (TxnOutcome::Unknown, None),
            Err(AttemptError::Malformed(what)) => {
                malformed.push(format!("client {}: {what}", self.id));
                (TxnOutcome::Unknown, None)
            }
        };
        if outcome != TxnOutcome::Committed {
            for op in &mut ops {
                if let MicroOp::Read { value, .. } = op {
                    *value = None;
                }
            }
        }
        Txn {
            client: self.id,
            invoke_ns,
            complete_ns,
            ops,
            outcome,
            revision,
        }
    }

    /// Runs the transaction, filling in reads. `Ok(Some(revision))`: committed at that
    /// revision; `Ok(None)`: a guard failed, nothing was written.
    async fn attempt(&self, ops: &mut [MicroOp]) -> Result<Option<i64>, AttemptError> {
        let keys: Vec<String> = ops.iter().map(|op| micro_key(op).to_string()).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let snapshot = self.client.txn(read_all(&keys)).await?;
        let seen = parse_reads(&keys, &snapshot)?;
        if !ops.iter().any(|op| matches!(op, MicroOp::Append { .. })) {
            for op in ops.iter_mut() {
                if let MicroOp::Read { key, value } = op {
                    *value = Some(seen[key.as_str()].list.clone());
                }
            }
            return Ok(Some(snapshot.header.map_or(0, |h| h.revision)));
        }
        let compare = keys
            .iter()
            .map(|key| Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: key.as_bytes().to_vec(),
                target_union: Some(TargetUnion::ModRevision(seen[*key].mod_revision)),
                ..Default::default()
            })
            .collect();
        let success = ops
            .iter()
            .map(|op| match op {
                MicroOp::Append { key, element } => {
                    let mut list = seen[key.as_str()].list.clone();
                    list.push(*element);
                    RequestOp {
                        request: Some(Request::RequestPut(PutRequest {
                            key: key.as_bytes().to_vec(),
                            value: encode_list(&list).into_bytes(),
                            ..Default::default()
                        })),
                    }
                }
                MicroOp::Read { key, .. } => range_op(key),
            })
            .collect();
        let response = self
            .client
            .txn(TxnRequest {
                compare,
                success,
                failure: vec![],
            })
            .await?;
        if !response.succeeded {
            return Ok(None);
        }
        for (op, answer) in ops.iter_mut().zip(&response.responses) {
            if let (MicroOp::Read { value, .. }, Some(Response::ResponseRange(r))) =
                (op, &answer.response)
            {
                let list = match r.kvs.first() {
                    Some(kv) => decode(&kv.value).map_err(AttemptError::Malformed)?,
                    None => Vec::new(),
                };
                *value = Some(list);
            }
        }
        Ok(Some(response.header.map_or(0, |h| h.revision)))
    }
}

/// The key `op` addresses.
pub fn micro_key(op: &MicroOp) -> &str {
    match op {
        MicroOp::Append { key, .. } | MicroOp::Read { key, .. } => key,
    }
}

fn range_op(key: &str) -> RequestOp {
    RequestOp {
        request: Some(Request::RequestRange(RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        })),
    }
}

/// A read-only Txn ranging every key: one snapshot of all of them.
fn read_all(keys: &[&str]) -> TxnRequest {
    TxnRequest {
        compare: vec![],
        success: keys.iter().map(|k| range_op(k)).collect(),
        failure: vec![],
    }
}

fn parse_reads<'a>(
    keys: &[&'a str],
    response: &TxnResponse,
) -> Result<BTreeMap<&'a str, Seen>, AttemptError> {
    let mut seen = BTreeMap::new();
    for (key, answer) in keys.iter().zip(&response.responses) {
        let Some(Response::ResponseRange(r)) = &answer.response else {
            return Err(AttemptError::Malformed(
                "a range in a read-only txn answered with no range".into(),
            ));
        };
        let entry = match r.kvs.first() {
            Some(kv) => Seen {
                list: decode(&kv.value).map_err(AttemptError::Malformed)?,
                mod_revision: kv.mod_revision,
            },
            None => Seen {
                list: Vec::new(),
                mod_revision: 0,
            },
        };
        seen.insert(*key, entry);
    }
    if seen.len() != keys.len() {
        return Err(AttemptError::Malformed(
            "a read-only txn answered fewer ranges than asked".into(),
        ));
    }
    Ok(seen)
}

/// Parses a stored list; a value that is not a list is an error (it would be a bug).
fn decode(value: &[u8]) -> Result<Vec<u64>, String> {
    let text = std::str::from_utf8(value).map_err(|_| "list value is not UTF-8".to_string())?;
    decode_list(text).map_err(|_| format!("list value {text:?} does not parse"))
}

/// Reads every key's final list through `client` (linearizable reads).
pub async fn final_lists(
    client: &Client,
    keys: &[String],
) -> Result<BTreeMap<String, Vec<u64>>, String> {
    let mut lists = BTreeMap::new();
    for key in keys {
        let response = client
            .range(RangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            })
            .await
            .map_err(|e| format!("final read of {key}: {e}"))?;
        let list = match response.kvs.first() {
            Some(kv) => decode(&kv.value)?,
            None => Vec::new(),
        };
        lists.insert(key.clone(), list);
    }
    Ok(lists)
}
