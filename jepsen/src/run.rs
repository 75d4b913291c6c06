//! One end-to-end run: start a cluster, drive the chosen workloads while the
//! [nemesis](crate::nemesis) injects faults, heal, read the final state, check every
//! history, and write the [report](crate::report).

mod v2;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::RangeRequest;
use ectd_client::{Client, ConnectOptions};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::append::{self as append_check, Txn, TxnOutcome};
use crate::cluster::{Cluster, ClusterConfig};
use crate::history::{Key, OpKind, OpResult, Operation, Outcome};
use crate::linearizable::{self, Verdict};
use crate::lost_writes::{self, AckedWrite, FinalValue, PossibleWrite};
use crate::nemesis::{self, Schedule};
use crate::report::{
    self, AppendSummary, Check, K8sSummary, LockSummary, Recordings, RegisterReport, Report,
    WatchSummary,
};
use crate::workload::append::{self as append_workload, AppendConfig};
use crate::workload::k8s::{self, K8sConfig};
use crate::workload::lock;
use crate::workload::register::{self, RegisterConfig};
use crate::workload::watch::{self as watch_workload, HistoryWindow, Recorded};

/// A workload a run can drive; several run side by side on separate keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// Per-key registers: read, write, compare-and-set; checked for linearizability.
    Register,
    /// Multi-key list-append transactions; checked for (strict) serializability.
    Append,
    /// Watchers on every member; checked for ordered, complete, exactly-once delivery.
    Watch,
    /// Lock holders on leases doing fenced increments; checked for fencing and lost updates.
    Lock,
    /// Kubernetes-style optimistic updates, paginated lists and periodic compaction.
    K8s,
    /// Per-key registers over the v2 keys API (quorum GET, PUT, PUT with `prevValue` or
    /// `prevExist=false`); checked for linearizability. Members run with `--enable-v2`.
    V2Register,
    /// Unique adds to one v2 directory (create and in-order POST); every acknowledged add
    /// must be in a quorum recursive read at the end. Members run with `--enable-v2`.
    V2Set,
}

impl WorkloadKind {
    /// Every workload, as the CLI names them.
    pub const ALL: [WorkloadKind; 7] = [
        WorkloadKind::Register,
        WorkloadKind::Append,
        WorkloadKind::Watch,
        WorkloadKind::Lock,
        WorkloadKind::K8s,
        WorkloadKind::V2Register,
        WorkloadKind::V2Set,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Append => "append",
            WorkloadKind::Watch => "watch",
            WorkloadKind::Lock => "lock",
            WorkloadKind::K8s => "k8s",
            WorkloadKind::V2Register => "v2-register",
            WorkloadKind::V2Set => "v2-set",
        }
    }

    /// Whether the workload speaks the v2 keys API (members then run with `--enable-v2`).
    pub fn is_v2(self) -> bool {
        matches!(self, WorkloadKind::V2Register | WorkloadKind::V2Set)
    }
}

impl FromStr for WorkloadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<WorkloadKind, String> {
        WorkloadKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = WorkloadKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown workload `{s}` (one of {})", names.join(", "))
            })
    }
}

/// What a run does.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// How the cluster is started (binary, size, timings, failpoints).
    pub cluster: ClusterConfig,
    /// How long the workloads run under faults.
    pub duration: Duration,
    /// Seed for the nemesis and the clients.
    pub seed: u64,
    /// The workloads driven together.
    pub workloads: Vec<WorkloadKind>,
    /// The faults and their pace.
    pub nemesis: Schedule,
    /// Register clients.
    pub clients: usize,
    /// Register keys.
    pub keys: usize,
    /// v2 register clients.
    pub v2_clients: usize,
    /// v2 register keys.
    pub v2_keys: usize,
    /// v2 register reads with `quorum=true`; `false` only to show that the checker
    /// catches the stale reads a member's local answer can give.
    pub v2_quorum_reads: bool,
    /// v2 set clients.
    pub v2_set_clients: usize,
    /// List-append clients.
    pub append_clients: usize,
    /// List-append keys.
    pub append_keys: usize,
    /// Watchers per member.
    pub watchers_per_member: usize,
    /// Register, list-append and k8s clients move to fresh keys this often (`None`: never),
    /// keeping each key's history, and each list, short in a long run.
    pub key_period: Option<Duration>,
    /// Time allowed for the linearizability search over all keys.
    pub check_budget: Duration,
    /// Where the report files are written; nothing is written if `None`.
    pub out: Option<PathBuf>,
}

impl RunConfig {
    /// Register workload only, under kills, pauses and leader isolation, as a start.
    pub fn new(cluster: ClusterConfig, duration: Duration, seed: u64) -> RunConfig {
        RunConfig {
            cluster,
            duration,
            seed,
            workloads: vec![WorkloadKind::Register],
            nemesis: Schedule::new(vec![
                nemesis::Kind::Kill,
                nemesis::Kind::Pause,
                nemesis::Kind::Partition,
            ]),
            clients: 5,
            keys: 3,
            v2_clients: 5,
            v2_keys: 3,
            v2_quorum_reads: true,
            v2_set_clients: 3,
            append_clients: 4,
            append_keys: 8,
            watchers_per_member: 2,
            key_period: Some(Duration::from_secs(30)),
            check_budget: Duration::from_secs(60),
            out: None,
        }
    }

    fn runs(&self, kind: WorkloadKind) -> bool {
        self.workloads.contains(&kind)
    }
}

/// Runs the whole test. Must be called inside a multi-threaded tokio runtime. Errors are
/// harness failures (the cluster would not start or recover), not anomalies.
pub async fn run(config: RunConfig) -> io::Result<Report> {
    let nodes = config.cluster.size;
    let mut cluster_config = config.cluster.clone();
    cluster_config.enable_v2 |= config.workloads.iter().any(|k| k.is_v2());
    let mut cluster = Cluster::start(cluster_config).await?;
    let urls = cluster.client_urls();
    let epoch = Instant::now();
    let client_error = |what: &str| {
        let what = what.to_string();
        move |e: ectd_client::Error| io::Error::other(format!("{what}: {e}"))
    };

    let watchers = if config.runs(WorkloadKind::Watch) {
        let w = watch_workload::Workload::start(&urls, config.watchers_per_member)
            .await
            .map_err(client_error("watchers"))?;
        Some(w)
    } else {
        None
    };
    let mut register_config = RegisterConfig::new(config.clients, config.keys, config.seed);
    register_config.key_period = config.key_period;
    let registers = if config.runs(WorkloadKind::Register) {
        let w = register::Workload::start(&register_config, &urls, epoch)
            .await
            .map_err(client_error("register clients"))?;
        Some(w)
    } else {
        None
    };
    let mut append_config =
        AppendConfig::new(config.append_clients, config.append_keys, config.seed);
    append_config.key_period = config.key_period;
    let appends = if config.runs(WorkloadKind::Append) {
        let w = append_workload::Workload::start(&append_config, &urls, 100, epoch)
            .await
            .map_err(client_error("append clients"))?;
        Some(w)
    } else {
        None
    };

    let locks = if config.runs(WorkloadKind::Lock) {
        let w = lock::Workload::start(3, &urls, 200, config.seed, epoch)
            .await
            .map_err(client_error("lock clients"))?;
        Some(w)
    } else {
        None
    };
    let mut k8s_config = K8sConfig::new(3, config.seed);
    k8s_config.key_period = config.key_period;
    let k8s_clients = if config.runs(WorkloadKind::K8s) {
        let w = k8s::Workload::start(&k8s_config, &urls, 300, epoch)
            .await
            .map_err(client_error("k8s clients"))?;
        Some(w)
    } else {
        None
    };

    let v2_clients = v2::Clients::start(&config, &urls, epoch);

    let mut rng = StdRng::seed_from_u64(config.seed);
    let deadline = epoch + config.duration;
    let faults = nemesis::run(&mut cluster, &config.nemesis, &mut rng, epoch, deadline).await;
    if let (Err(_), Some(out)) = (&faults, &config.out) {
        let _ = cluster.save_logs(&out.join("logs"));
    }
    let faults = faults?;
    let mut history = match registers {
        Some(w) => w.stop().await,
        None => Vec::new(),
    };
    let lock_history = match locks {
        Some(w) => Some(w.stop().await),
        None => None,
    };
    let mut k8s_history = match k8s_clients {
        Some(w) => Some(w.stop().await),
        None => None,
    };
    let (txns, malformed) = match appends {
        Some(w) => w.stop().await,
        None => (Vec::new(), Vec::new()),
    };
    let v2_recorded = v2_clients.stop().await;

    // Everything healed and running again before the final reads.
    cluster.heal();
    for i in 0..nodes {
        if !cluster.is_running(i) {
            cluster.restart(i)?;
        }
    }
    let all: Vec<usize> = (0..nodes).collect();
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(30))
        .await?;
    let leader_client = final_client(&cluster, leader).await?;
    // Every key the register-style clients used, in whichever generation.
    let mut register_keys: Vec<Key> = history
        .iter()
        .chain(k8s_history.iter().flat_map(|h| &h.ops))
        .map(|op| op.key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if lock_history.is_some() {
        register_keys.push(lock::COUNTER.to_string());
    }
    let final_registers = read_final_registers(&leader_client, &register_keys).await?;
    let final_counter = match &final_registers.get(lock::COUNTER) {
        Some(v) => v.value.parse().unwrap_or(0),
        None => 0,
    };
    // Every list key the transactions used, in whichever generation.
    let append_keys: Vec<String> = txns
        .iter()
        .flat_map(|t| {
            t.ops
                .iter()
                .map(|op| append_workload::micro_key(op).to_string())
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let final_lists = append_workload::final_lists(&leader_client, &append_keys)
        .await
        .map_err(io::Error::other)?;
    let final_revision = leader_client
        .range(RangeRequest {
            key: b"jepsen/".to_vec(),
            limit: 1,
            ..Default::default()
        })
        .await
        .map_err(client_error("final revision"))?
        .header
        .map_or(0, |h| h.revision);
    let v2_final = v2::read_final(&v2_recorded, &cluster.client_url(leader)).await;
    if let (Err(_), Some(out)) = (&v2_final, &config.out) {
        let _ = cluster.save_logs(&out.join("logs"));
    }
    let v2_final = v2_final?;

    let mut anomalies: Vec<String> = malformed
        .into_iter()
        .map(|m| format!("malformed answer: {m}"))
        .collect();
    let (recorded, watch) = match watchers {
        Some(w) => {
            let recorded = w.finish(final_revision, Duration::from_secs(30)).await;
            let windows = k8s_history
                .as_mut()
                .map(|h| std::mem::take(&mut h.windows))
                .unwrap_or_default();
            let checked = check_watch(&cluster, recorded.clone(), windows, final_revision).await;
            if let (Err(_), Some(out)) = (&checked, &config.out) {
                let _ = cluster.save_logs(&out.join("logs"));
            }
            let (summary, found) = checked?;
            anomalies.extend(found);
            (recorded, Some(summary))
        }
        None => (Vec::new(), None),
    };
    if let Some(out) = &config.out {
        let _ = cluster.save_logs(&out.join("logs"));
    }
    drop(cluster);

    let lock_ops = lock_history.as_ref().map_or(0, |h| h.increments.len());
    let lock = lock_history.map(|h| {
        let found = lock::check(&h, final_counter);
        let summary = LockSummary {
            acquisitions: h.acquisitions,
            increments: h.increments.len(),
            acknowledged: h
                .increments
                .iter()
                .filter(|i| i.outcome == lock::Outcome::Ok)
                .count(),
            after_expiry_refused: h
                .increments
                .iter()
                .filter(|i| i.after_expiry && i.outcome == lock::Outcome::Refused)
                .count(),
            after_expiry_applied: h
                .increments
                .iter()
                .filter(|i| i.after_expiry && i.outcome == lock::Outcome::Ok)
                .count(),
            final_counter,
            check: if found.is_empty() {
                Check::Valid
            } else {
                Check::Anomaly
            },
        };
        anomalies.extend(found.into_iter().map(|a| format!("lock: {a}")));
        summary
    });
    let k8s = k8s_history.map(|h| {
        let summary = K8sSummary {
            ops: h.ops.len(),
            lists: h.lists,
            lists_unverifiable: h.lists_unverifiable,
            compactions: h.compactions,
            check: if h.anomalies.is_empty() {
                Check::Valid
            } else {
                Check::Anomaly
            },
        };
        anomalies.extend(h.anomalies.into_iter().map(|a| format!("k8s: {a}")));
        // Gets and updates join the register history: same checkers, other keys.
        history.extend(h.ops);
        history.sort_by_key(|op| (op.invoke_ns, op.client));
        summary
    });

    let mut flagged = Vec::new();
    let register = (config.runs(WorkloadKind::Register) || k8s.is_some()).then(|| {
        check_registers(
            &history,
            &final_registers,
            config.check_budget,
            &mut anomalies,
            &mut flagged,
        )
    });
    let append = config
        .runs(WorkloadKind::Append)
        .then(|| check_appends(&txns, &final_lists, &mut anomalies));
    let v2_checked = v2::check(
        &v2_recorded,
        &v2_final,
        config.check_budget,
        &mut anomalies,
        &mut flagged,
    );

    let report = Report {
        seed: config.seed,
        nodes,
        seconds: config.duration.as_secs(),
        total_ops: history.len() + txns.len() + lock_ops + v2_recorded.ops(),
        faults,
        register,
        append,
        watch,
        lock,
        k8s,
        v2_register: v2_checked.register,
        v2_set: v2_checked.set,
        anomalies,
    };
    if let Some(out) = &config.out {
        let recordings = Recordings {
            register: &history,
            append: &txns,
            watch: &recorded,
            v2_register: &v2_recorded.register,
            v2_set: &v2_recorded.adds,
            flagged: &flagged,
        };
        report::write(out, &report, &recordings)?;
    }
    Ok(report)
}

async fn final_client(cluster: &Cluster, leader: usize) -> io::Result<Client> {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(5),
    };
    cluster.client(leader, options).await
}

/// Linearizable reads of every register key, retried for up to 30 s.
async fn read_final_registers(
    client: &Client,
    keys: &[Key],
) -> io::Result<BTreeMap<Key, FinalValue>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut state = BTreeMap::new();
    for key in keys {
        let request = RangeRequest {
            key: key.clone().into_bytes(),
            ..Default::default()
        };
        let response = loop {
            match client.range(request.clone()).await {
                Ok(r) => break r,
                Err(e) if Instant::now() > deadline => {
                    return Err(io::Error::other(format!("final read of {key}: {e}")))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        if let Some(kv) = response.kvs.first() {
            let value = FinalValue {
                value: String::from_utf8_lossy(&kv.value).into_owned(),
                mod_revision: kv.mod_revision,
            };
            state.insert(key.clone(), value);
        }
    }
    Ok(state)
}

/// Linearizability per key (with the smallest non-linearizable sub-history found),
/// lost writes and per-client revision order.
fn check_registers(
    history: &[Operation],
    final_state: &BTreeMap<Key, FinalValue>,
    budget: Duration,
    anomalies: &mut Vec<String>,
    flagged: &mut Vec<Operation>,
) -> RegisterReport {
    if let Err(e) = crate::history::validate(history) {
        panic!("workload recorded a malformed history: {e}");
    }
    let mut ops: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let (mut acked, mut possible) = (Vec::new(), Vec::new());
    for op in history {
        let (kind, written) = match &op.kind {
            OpKind::Read => ("read", None),
            OpKind::Write(v) => ("write", Some(v)),
            OpKind::Cas { new, .. } => ("cas", Some(new)),
        };
        let outcome = match op.outcome {
            Outcome::Ok(_) => "ok",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        };
        *ops.entry(kind.into())
            .or_default()
            .entry(outcome.into())
            .or_default() += 1;
        let Some(value) = written else { continue };
        match (&op.outcome, op.revision) {
            (Outcome::Ok(OpResult::Write | OpResult::Cas(true)), Some(revision)) => {
                acked.push(AckedWrite {
                    key: op.key.clone(),
                    value: value.clone(),
                    revision,
                })
            }
            (Outcome::Unknown, _) => possible.push(PossibleWrite {
                key: op.key.clone(),
                value: value.clone(),
            }),
            _ => {}
        }
    }

    let verdicts = linearizable::check_keys(history, budget);
    let mut linearizable = BTreeMap::new();
    for (key, verdict) in verdicts {
        let check = match verdict {
            Verdict::Linearizable => Check::Valid,
            Verdict::Unknown => Check::Unknown,
            Verdict::NotLinearizable(counterexample) => {
                let key_ops: Vec<Operation> =
                    history.iter().filter(|o| o.key == key).cloned().collect();
                let witness =
                    match crate::shrink::shrink_register(&key_ops, Duration::from_secs(20)) {
                        Some(shrunk) => {
                            flagged.extend(shrunk.items.iter().cloned());
                            format!(
                                "smallest offending sub-history ({} ops{}):\n{}",
                                shrunk.items.len(),
                                if shrunk.one_minimal {
                                    ", 1-minimal"
                                } else {
                                    ""
                                },
                                crate::history::to_json_lines(&shrunk.items)
                            )
                        }
                        None => String::new(),
                    };
                flagged.push(counterexample.stuck_on.clone());
                anomalies.push(format!(
                    "{key} not linearizable: stuck on {:?} with the register at {:?}; {witness}",
                    counterexample.stuck_on, counterexample.state
                ));
                Check::Anomaly
            }
        };
        linearizable.insert(key, check);
    }

    let lost = lost_writes::lost_writes(&acked, &possible, final_state);
    let regressions = lost_writes::revision_monotonic(history);
    anomalies.extend(lost.iter().map(|l| format!("lost write: {l:?}")));
    anomalies.extend(
        regressions
            .iter()
            .map(|r| format!("revision went backwards: {r:?}")),
    );
    let lost_writes = if lost.is_empty() && regressions.is_empty() {
        Check::Valid
    } else {
        Check::Anomaly
    };
    RegisterReport {
        ops,
        linearizable,
        lost_writes,
    }
}

fn check_appends(
    txns: &[Txn],
    final_lists: &BTreeMap<String, Vec<u64>>,
    anomalies: &mut Vec<String>,
) -> AppendSummary {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in txns {
        let outcome = match t.outcome {
            TxnOutcome::Committed => "committed",
            TxnOutcome::Aborted => "aborted",
            TxnOutcome::Unknown => "unknown",
        };
        *counts.entry(outcome.into()).or_default() += 1;
    }
    let report = append_check::check(txns, final_lists);
    anomalies.extend(
        report
            .anomalies
            .iter()
            .map(|a| format!("list-append: {a:?}")),
    );
    AppendSummary {
        txns: counts,
        check: if report.is_valid() {
            Check::Valid
        } else {
            Check::Anomaly
        },
    }
}

/// Waits until the member has applied `revision` (its own serializable view); on
/// timeout returns the revision it had reached.
async fn caught_up(client: &Client, revision: i64, timeout: Duration) -> Result<(), i64> {
    let deadline = Instant::now() + timeout;
    let mut reached = 0;
    loop {
        let probe = RangeRequest {
            key: b"jepsen/".to_vec(),
            limit: 1,
            serializable: true,
            ..Default::default()
        };
        if let Ok(r) = client.range(probe).await {
            reached = r.header.map_or(0, |h| h.revision);
            if reached >= revision {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(reached);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads every member's history of the workloads' keys since the last window saved before
/// a compaction, checks the members agree on every window, and checks every watcher
/// against the history. Watchers are checked from the start of the newest stretch of
/// windows without a gap.
async fn check_watch(
    cluster: &Cluster,
    mut recorded: Vec<Recorded>,
    mut windows: Vec<HistoryWindow>,
    final_revision: i64,
) -> io::Result<(WatchSummary, Vec<String>)> {
    let mut anomalies = Vec::new();
    let from = match windows.last() {
        Some(w) => w.until + 1,
        None => recorded
            .iter()
            .map(|r| r.watcher.start_revision)
            .min()
            .unwrap_or(1),
    };
    let mut histories = Vec::new();
    for i in 0..cluster.size() {
        let client = final_client(cluster, i).await?;
        // A member still behind after the heal gets time to catch up; one that never
        // does is a liveness failure, reported as an anomaly.
        if let Err(reached) = caught_up(&client, final_revision, Duration::from_secs(90)).await {
            anomalies.push(format!(
                "m{i} had applied only revision {reached} of {final_revision} 90 s after the faults ended"
            ));
            continue;
        }
        let (start, history) =
            watch_workload::member_history(&client, from, final_revision, Duration::from_secs(60))
                .await
                .map_err(|e| io::Error::other(format!("m{i}: {e}")))?;
        histories.push((i, start, history));
    }
    if histories.is_empty() {
        return Err(io::Error::other(
            "no member caught up to the final revision",
        ));
    }
    let start = histories.iter().map(|(_, s, _)| *s).max().unwrap_or(from);
    windows.push(HistoryWindow {
        from: start,
        until: final_revision,
        members: histories
            .into_iter()
            .map(|(i, _, h)| (i, h.into_iter().filter(|r| r.revision >= start).collect()))
            .collect(),
    });
    let mut first = windows.len() - 1;
    while first > 0 && windows[first - 1].until + 1 == windows[first].from {
        first -= 1;
    }
    let windows = &windows[first..];
    let start = windows[0].from;
    let mut members_agree = true;
    let mut reference = Vec::new();
    for window in windows {
        let (m0, first_history) = &window.members[0];
        for (i, history) in &window.members[1..] {
            let first_difference = first_history
                .iter()
                .zip(history)
                .find(|(a, b)| a != b)
                .map(|(a, _)| a.revision);
            if first_difference.is_some() || history.len() != first_history.len() {
                members_agree = false;
                anomalies.push(format!(
                    "m{m0} and m{i} disagree on revisions {}..={}: first difference at {:?} ({} vs {} revisions)",
                    window.from,
                    window.until,
                    first_difference,
                    first_history.len(),
                    history.len()
                ));
            }
        }
        reference.extend(first_history.iter().cloned());
    }
    for r in &mut recorded {
        watch_workload::clip(&mut r.watcher, start);
        if !r.caught_up && r.canceled.is_none() {
            anomalies.push(format!(
                "watcher {} on m{} did not reach revision {final_revision} within 30 s",
                r.watcher.id, r.member
            ));
        }
        if let Some(reason) = &r.canceled {
            // Only a compaction may end a watch, and only past what it had delivered.
            if !reason.contains("compacted") {
                anomalies.push(format!(
                    "watcher {} on m{} ended: {reason}",
                    r.watcher.id, r.member
                ));
            }
        }
    }
    let watchers: Vec<_> = recorded.iter().map(|r| r.watcher.clone()).collect();
    let found = crate::watch_check::check_watchers(&reference, &watchers);
    let events = watchers
        .iter()
        .flat_map(|w| &w.responses)
        .map(Vec::len)
        .sum();
    const SHOWN: usize = 20;
    for a in found.iter().take(SHOWN) {
        anomalies.push(format!("watch: {a:?}"));
    }
    if found.len() > SHOWN {
        anomalies.push(format!(
            "watch: {} more anomalies not shown",
            found.len() - SHOWN
        ));
    }
    let check = if anomalies.is_empty() {
        Check::Valid
    } else {
        Check::Anomaly
    };
    let summary = WatchSummary {
        watchers: watchers.len(),
        events,
        revisions: reference.len(),
        members_agree,
        check,
    };
    Ok((summary, anomalies))
}
