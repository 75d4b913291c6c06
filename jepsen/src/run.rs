//! One end-to-end run: start a cluster, drive the [register workload](crate::workload::register)
//! while a nemesis injects faults, heal, read the final state, check the history, and write
//! the history (JSON lines) and a summary (JSON) to an output directory.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::RangeRequest;
use ectd_client::ConnectOptions;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::cluster::{Cluster, ClusterConfig};
use crate::history::{Key, OpKind, OpResult, Operation, Outcome};
use crate::linearizable::{self, Verdict};
use crate::lost_writes::{self, AckedWrite, FinalValue, PossibleWrite};
use crate::workload::register::{RegisterConfig, Workload};

/// What a run does.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// How the cluster is started (binary, size, timings).
    pub cluster: ClusterConfig,
    /// How long the workload runs under faults.
    pub duration: Duration,
    /// Seed for the nemesis and the clients.
    pub seed: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Register keys.
    pub keys: usize,
    /// Time allowed for the linearizability search over all keys.
    pub check_budget: Duration,
    /// Where `history.jsonl` and `summary.json` are written; nothing is written if `None`.
    pub out: Option<PathBuf>,
}

impl RunConfig {
    /// Five clients on three keys, a 30 s check budget, no output directory.
    pub fn new(cluster: ClusterConfig, duration: Duration, seed: u64) -> RunConfig {
        RunConfig {
            cluster,
            duration,
            seed,
            clients: 5,
            keys: 3,
            check_budget: Duration::from_secs(30),
            out: None,
        }
    }
}

/// A fault the nemesis injected (and later healed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "fault", content = "member")]
pub enum Fault {
    /// SIGKILL then restart from the member's data directory.
    Kill(usize),
    /// SIGSTOP then SIGCONT.
    Pause(usize),
    /// The leader cut off from all peers, then healed.
    IsolateLeader(usize),
}

/// A checker's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// No anomaly found.
    Valid,
    /// At least one anomaly found (see the details).
    Anomaly,
    /// The checker could not decide (e.g. its time budget ran out).
    Unknown,
}

/// Everything a run learned.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The seed, to reproduce the nemesis schedule and the clients' choices.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Operations by kind (`read`, `write`, `cas`) and outcome (`ok`, `fail`, `unknown`).
    pub ops: BTreeMap<String, BTreeMap<String, usize>>,
    /// Total operations recorded.
    pub total_ops: usize,
    /// Faults injected, in order.
    pub faults: Vec<Fault>,
    /// Linearizability verdict per key.
    pub linearizable: BTreeMap<Key, Check>,
    /// Acknowledged writes absent from the final state, and per-client revision regressions.
    pub lost_writes: Check,
    /// Human-readable description of every anomaly found.
    pub anomalies: Vec<String>,
}

impl Report {
    /// The overall verdict: any anomaly wins, then any undecided check.
    pub fn verdict(&self) -> Check {
        let all = self
            .linearizable
            .values()
            .chain(std::iter::once(&self.lost_writes));
        let all: Vec<Check> = all.copied().collect();
        if all.contains(&Check::Anomaly) {
            Check::Anomaly
        } else if all.contains(&Check::Unknown) {
            Check::Unknown
        } else {
            Check::Valid
        }
    }

    /// A few lines for a terminal.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "seed {} nodes {}: {} ops, {} faults\n",
            self.seed,
            self.nodes,
            self.total_ops,
            self.faults.len()
        );
        for (kind, outcomes) in &self.ops {
            s.push_str(&format!("  {kind:<5} {outcomes:?}\n"));
        }
        s.push_str(&format!("  faults: {:?}\n", self.faults));
        s.push_str(&format!("  linearizable: {:?}\n", self.linearizable));
        s.push_str(&format!("  lost writes:  {:?}\n", self.lost_writes));
        for a in &self.anomalies {
            s.push_str(&format!("  ANOMALY: {a}\n"));
        }
        s.push_str(&format!("verdict: {:?}\n", self.verdict()));
        s
    }
}

/// Runs the whole test. Must be called inside a multi-threaded tokio runtime. Errors are
/// harness failures (cluster would not start or recover), not anomalies.
pub async fn run(config: RunConfig) -> io::Result<Report> {
    let nodes = config.cluster.size;
    let mut cluster = Cluster::start(config.cluster.clone()).await?;
    let epoch = Instant::now();
    let workload_config = RegisterConfig::new(config.clients, config.keys, config.seed);
    let workload = Workload::start(&workload_config, &cluster.client_urls(), epoch)
        .await
        .map_err(|e| io::Error::other(format!("workload clients: {e}")))?;

    let mut rng = StdRng::seed_from_u64(config.seed);
    let faults = nemesis(&mut cluster, &mut rng, epoch + config.duration).await?;
    let history = workload.stop().await;

    // Heal everything (the nemesis already undid its last fault) and read the final state.
    cluster.heal();
    let all: Vec<usize> = (0..nodes).collect();
    let leader = cluster
        .wait_for_leader(&all, Duration::from_secs(30))
        .await?;
    let final_state = read_final_state(&cluster, leader, &workload_config.keys).await?;
    drop(cluster);

    let report = check(&config, nodes, faults, &history, &final_state);
    if let Some(out) = &config.out {
        std::fs::create_dir_all(out)?;
        std::fs::write(
            out.join("history.jsonl"),
            crate::history::to_json_lines(&history),
        )?;
        let summary = serde_json::to_string_pretty(&report).expect("report serializes");
        std::fs::write(out.join("summary.json"), summary + "\n")?;
    }
    Ok(report)
}

/// Every 2–4 s, injects one fault for 1–2 s and undoes it, until `deadline`.
async fn nemesis(
    cluster: &mut Cluster,
    rng: &mut StdRng,
    deadline: Instant,
) -> io::Result<Vec<Fault>> {
    let mut faults = Vec::new();
    let n = cluster.size();
    loop {
        let quiet = Duration::from_millis(rng.gen_range(2000..4000));
        let hold = Duration::from_millis(rng.gen_range(1000..2000));
        if Instant::now() + quiet + hold > deadline {
            tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
            return Ok(faults);
        }
        tokio::time::sleep(quiet).await;
        let member = rng.gen_range(0..n);
        match rng.gen_range(0..3) {
            0 => {
                cluster.kill(member)?;
                faults.push(Fault::Kill(member));
                tokio::time::sleep(hold).await;
                cluster.restart(member)?;
            }
            1 => {
                cluster.pause(member)?;
                faults.push(Fault::Pause(member));
                tokio::time::sleep(hold).await;
                cluster.resume(member)?;
            }
            _ => {
                let all: Vec<usize> = (0..n).collect();
                // No agreed leader right now (a previous fault still settling): skip.
                let Some(leader) = cluster.leader_among(&all).await else {
                    continue;
                };
                cluster.isolate(leader);
                faults.push(Fault::IsolateLeader(leader));
                tokio::time::sleep(hold).await;
                cluster.heal();
            }
        }
    }
}

/// Linearizable reads of every key through the leader, retried for up to 30 s.
async fn read_final_state(
    cluster: &Cluster,
    leader: usize,
    keys: &[Key],
) -> io::Result<BTreeMap<Key, FinalValue>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(2),
    };
    let client = cluster.client(leader, options).await?;
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

/// Runs the checkers over the history and builds the report.
fn check(
    config: &RunConfig,
    nodes: usize,
    faults: Vec<Fault>,
    history: &[Operation],
    final_state: &BTreeMap<Key, FinalValue>,
) -> Report {
    let mut anomalies = Vec::new();
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

    let verdicts = linearizable::check_keys(history, config.check_budget);
    let linearizable = verdicts
        .into_iter()
        .map(|(key, verdict)| {
            let check = match verdict {
                Verdict::Linearizable => Check::Valid,
                Verdict::Unknown => Check::Unknown,
                Verdict::NotLinearizable(counterexample) => {
                    anomalies.push(format!("{key} not linearizable: {counterexample:?}"));
                    Check::Anomaly
                }
            };
            (key, check)
        })
        .collect();

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

    Report {
        seed: config.seed,
        nodes,
        ops,
        total_ops: history.len(),
        faults,
        linearizable,
        lost_writes,
        anomalies,
    }
}
