//! A Kubernetes-style traffic mix, shaped like kube-apiserver's use of etcd: objects under
//! one prefix updated optimistically (`Txn If(mod_revision == seen) Then Put Else Get`),
//! lists read in pages pinned to the first page's revision, and a compactor that compacts
//! to the revision it saw one interval earlier. Watches on the prefix come from the watch
//! workload, which covers every key the workloads write.
//!
//! Objects live in a namespace, `jepsen/k8s/g<N>/`; with a key period set the clients move to
//! a fresh namespace every period (lists read the current one), so that each object's
//! history stays checkable in a long run.
//!
//! Every get and update is recorded as a register [`Operation`] (an update is a
//! compare-and-set whose expected value is the one read: values are unique, so the mod
//! revision matches exactly when the value does), so the linearizability and lost-write
//! checkers cover the objects. Each paginated list is checked on the spot against a
//! one-shot read of the same revision on another member: the pages must add up to exactly
//! that snapshot.

use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::request_op::Request;
use ectd_client::proto::etcdserverpb::{
    CompactionRequest, Compare, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{prefix_range_end, Client, ConnectOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::history::{Key, OpKind, OpResult, Operation, Outcome, Value};
use crate::workload::generation;
use crate::workload::watch::{record_window, HistoryWindow};

/// Prefix of the objects.
pub const PREFIX: &str = "jepsen/k8s/";

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct K8sConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Object names within a namespace (`o00`, `o01`, ...).
    pub objects: Vec<Key>,
    /// Move to a fresh namespace this often; `None` keeps one namespace throughout.
    pub key_period: Option<Duration>,
    /// Objects per list page.
    pub page: i64,
    /// How often the compactor runs.
    pub compact_every: Duration,
    /// Seed for the clients' choices.
    pub seed: u64,
}

impl K8sConfig {
    /// `clients` clients over 20 objects, pages of 5, compaction every 10 s.
    pub fn new(clients: usize, seed: u64) -> K8sConfig {
        K8sConfig {
            clients,
            objects: (0..20).map(|i| format!("o{i:02}")).collect(),
            key_period: None,
            page: 5,
            compact_every: Duration::from_secs(10),
            seed,
        }
    }
}

/// What the clients recorded.
#[derive(Debug, Default)]
pub struct K8sHistory {
    /// Gets and optimistic updates, as register operations.
    pub ops: Vec<Operation>,
    /// Paginated lists read and checked.
    pub lists: usize,
    /// Lists whose revision was compacted before they could be checked.
    pub lists_unverifiable: usize,
    /// Compactions done.
    pub compactions: usize,
    /// Lists whose pages did not add up to the snapshot of their revision.
    pub anomalies: Vec<String>,
    /// The members' histories of every compacted window, read just before compacting it.
    pub windows: Vec<HistoryWindow>,
}

/// The running clients and compactor.
pub struct Workload {
    stop: watch::Sender<bool>,
    tasks: JoinSet<K8sHistory>,
}

impl Workload {
    /// Starts the clients (client `c` on `endpoints[c % len]`, its lists checked on the
    /// next member) and the compactor, numbering clients from `first_client`.
    pub async fn start(
        config: &K8sConfig,
        endpoints: &[String],
        first_client: u64,
        epoch: Instant,
    ) -> Result<Workload, ectd_client::Error> {
        let (stop, stopped) = watch::channel(false);
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(1),
        };
        let connect = |i: usize| {
            let endpoint = endpoints[i % endpoints.len()].clone();
            async move { Client::connect_with(&[endpoint], options).await }
        };
        let mut tasks = JoinSet::new();
        for c in 0..config.clients {
            let worker = Worker {
                id: first_client + c as u64,
                client: connect(c + 3).await?,
                verifier: connect(c + 4).await?,
                config: config.clone(),
                rng: StdRng::seed_from_u64(config.seed.wrapping_add(3000 + c as u64)),
                epoch,
                next_value: 0,
            };
            tasks.spawn(worker.run(stopped.clone()));
        }
        let mut members = Vec::new();
        for i in 0..endpoints.len() {
            members.push(connect(i).await?);
        }
        tasks.spawn(compactor(members, config.compact_every, stopped));
        Ok(Workload { stop, tasks })
    }

    /// Stops everything and returns what was recorded, operations sorted by invocation.
    pub async fn stop(mut self) -> K8sHistory {
        let _ = self.stop.send(true);
        let mut all = K8sHistory::default();
        while let Some(done) = self.tasks.join_next().await {
            let h = done.expect("k8s task panicked");
            all.ops.extend(h.ops);
            all.lists += h.lists;
            all.lists_unverifiable += h.lists_unverifiable;
            all.compactions += h.compactions;
            all.anomalies.extend(h.anomalies);
            all.windows.extend(h.windows);
        }
        all.ops.sort_by_key(|op| (op.invoke_ns, op.client));
        all
    }
}

/// Every `every`, compacts to the revision seen one interval before, as kube-apiserver
/// does; so the last interval's history always stays readable. Before compacting it reads
/// the window being compacted from every member it can, for the watch checker.
async fn compactor(
    members: Vec<Client>,
    every: Duration,
    mut stopped: watch::Receiver<bool>,
) -> K8sHistory {
    let mut history = K8sHistory::default();
    let mut previous: Option<i64> = None;
    let mut kept_from = 1;
    let client = members[0].clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return history,
        }
        let probe = RangeRequest {
            key: PREFIX.as_bytes().to_vec(),
            limit: 1,
            serializable: true,
            ..Default::default()
        };
        let Ok(now) = client.range(probe).await else {
            continue;
        };
        if let Some(revision) = previous {
            let window = record_window(&members, kept_from, revision, Duration::from_secs(5)).await;
            // A window nobody could serve leaves a gap; the watch check then starts after it.
            if !window.members.is_empty() {
                history.windows.push(window);
            }
            kept_from = revision + 1;
            let request = CompactionRequest {
                revision,
                physical: false,
            };
            if client.compact(request).await.is_ok() {
                history.compactions += 1;
            }
        }
        previous = now.header.map(|h| h.revision);
    }
}

struct Worker {
    id: u64,
    client: Client,
    verifier: Client,
    config: K8sConfig,
    rng: StdRng,
    epoch: Instant,
    next_value: u64,
}

impl Worker {
    async fn run(mut self, stopped: watch::Receiver<bool>) -> K8sHistory {
        let mut history = K8sHistory::default();
        while !*stopped.borrow() {
            let healthy = if self.rng.gen_bool(0.25) {
                self.list(&mut history).await
            } else {
                let i = self.rng.gen_range(0..self.config.objects.len());
                let key = format!("{}{}", self.namespace(), self.config.objects[i]);
                self.update(&key, &mut history.ops).await
            };
            let pause = if healthy {
                self.rng.gen_range(5..30)
            } else {
                300
            };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        history
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The namespace the clients use now.
    fn namespace(&self) -> String {
        let g = generation(self.epoch.elapsed(), self.config.key_period);
        format!("{PREFIX}g{g}/")
    }

    fn record(&self, key: &Key, kind: OpKind, invoke_ns: u64) -> Operation {
        Operation {
            client: self.id,
            key: key.clone(),
            invoke_ns,
            complete_ns: self.now_ns(),
            kind,
            outcome: Outcome::Unknown,
            revision: None,
        }
    }

    /// A get, then an update guarded by the mod revision read. False if a request failed.
    async fn update(&mut self, key: &Key, ops: &mut Vec<Operation>) -> bool {
        let invoke_ns = self.now_ns();
        let got = self
            .client
            .range(RangeRequest {
                key: key.as_bytes().to_vec(),
                ..Default::default()
            })
            .await;
        let mut read = self.record(key, OpKind::Read, invoke_ns);
        let Ok(got) = got else {
            ops.push(read);
            return false;
        };
        let current = got.kvs.first();
        let seen: Option<Value> = current.map(|kv| text(&kv.value));
        let mod_revision = current.map_or(0, |kv| kv.mod_revision);
        read.outcome = Outcome::Ok(OpResult::Read(seen.clone()));
        read.revision = got.header.map(|h| h.revision);
        ops.push(read);

        self.next_value += 1;
        let new = format!("k{}-{}", self.id, self.next_value);
        let request = TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: key.as_bytes().to_vec(),
                target_union: Some(TargetUnion::ModRevision(mod_revision)),
                ..Default::default()
            }],
            success: vec![RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key: key.as_bytes().to_vec(),
                    value: new.clone().into_bytes(),
                    ..Default::default()
                })),
            }],
            // kube-apiserver reads the object back when its guess was stale.
            failure: vec![RequestOp {
                request: Some(Request::RequestRange(RangeRequest {
                    key: key.as_bytes().to_vec(),
                    ..Default::default()
                })),
            }],
        };
        let invoke_ns = self.now_ns();
        let answer = self.client.txn(request).await;
        let kind = OpKind::Cas {
            expected: seen,
            new,
        };
        let mut update = self.record(key, kind, invoke_ns);
        let ok = answer.is_ok();
        if let Ok(answer) = answer {
            update.outcome = Outcome::Ok(OpResult::Cas(answer.succeeded));
            update.revision = answer.header.map(|h| h.revision);
        }
        ops.push(update);
        ok
    }

    /// Lists the current namespace in pages pinned to the first page's revision, then
    /// checks the pages against a one-shot read of that revision on another member.
    async fn list(&mut self, history: &mut K8sHistory) -> bool {
        let namespace = self.namespace();
        let end = prefix_range_end(namespace.as_bytes());
        let mut items: Vec<KeyValue> = Vec::new();
        let mut revision = 0;
        let mut from = namespace.as_bytes().to_vec();
        loop {
            let page = self
                .client
                .range(RangeRequest {
                    key: from.clone(),
                    range_end: end.clone(),
                    limit: self.config.page,
                    revision,
                    ..Default::default()
                })
                .await;
            let Ok(page) = page else {
                return false;
            };
            if revision == 0 {
                revision = page.header.map_or(0, |h| h.revision);
            }
            let more = page.more;
            if let Some(last) = page.kvs.last() {
                from = last.key.clone();
                from.push(0);
            }
            items.extend(page.kvs);
            if !more {
                break;
            }
        }
        history.lists += 1;
        let whole = self
            .verifier
            .range(RangeRequest {
                key: namespace.into_bytes(),
                range_end: end,
                revision,
                serializable: false,
                ..Default::default()
            })
            .await;
        match whole {
            Ok(whole) => {
                if whole.kvs != items {
                    history.anomalies.push(format!(
                        "client {}: a paginated list at revision {revision} has {} objects, a one-shot read of that revision {} (first difference at {:?})",
                        self.id,
                        items.len(),
                        whole.kvs.len(),
                        items
                            .iter()
                            .zip(&whole.kvs)
                            .find(|(a, b)| a != b)
                            .map(|(a, _)| text(&a.key))
                    ));
                }
            }
            // Compacted meanwhile, or the other member is cut off: nothing to compare.
            Err(_) => history.lists_unverifiable += 1,
        }
        true
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
