//! What a run found, and the files it leaves behind: the histories (JSON lines), a summary
//! (JSON) and a timeline (HTML) of every operation per client with the fault windows shaded.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::append::{self, Txn, TxnOutcome};
use crate::history::{Key, OpKind, Operation, Outcome};
use crate::nemesis::FaultRecord;
use crate::set_check::{self, Add, AddOutcome};
use crate::timeline::{Bar, BarOutcome, Window};
use crate::workload::watch::Recorded;

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

/// Results of the register workload.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterReport {
    /// Operations by kind (`read`, `write`, `cas`) and outcome (`ok`, `fail`, `unknown`).
    pub ops: BTreeMap<String, BTreeMap<String, usize>>,
    /// Linearizability verdict per key.
    pub linearizable: BTreeMap<Key, Check>,
    /// Acknowledged writes absent from the final state, and per-client revision regressions.
    pub lost_writes: Check,
}

/// Results of the list-append workload.
#[derive(Debug, Clone, Serialize)]
pub struct AppendSummary {
    /// Transactions by outcome (`committed`, `aborted`, `unknown`).
    pub txns: BTreeMap<String, usize>,
    /// Serializability (and the other list-append checks).
    pub check: Check,
}

/// Results of the watch workload.
#[derive(Debug, Clone, Serialize)]
pub struct WatchSummary {
    /// Watchers checked.
    pub watchers: usize,
    /// Events received, all watchers together.
    pub events: usize,
    /// Revisions in the reference history the watchers were checked against.
    pub revisions: usize,
    /// Whether every member had the same history of the workloads' keys.
    pub members_agree: bool,
    /// Delivery (order, duplicates, completeness, atomicity, prev_kv) and agreement.
    pub check: Check,
}

/// Results of the lock workload.
#[derive(Debug, Clone, Serialize)]
pub struct LockSummary {
    /// Times the lock was acquired.
    pub acquisitions: usize,
    /// Fenced increments attempted.
    pub increments: usize,
    /// Fenced increments acknowledged.
    pub acknowledged: usize,
    /// Writes tried after abandoning the lease that the fence refused.
    pub after_expiry_refused: usize,
    /// Writes tried after abandoning the lease that were applied anyway (the lease had not
    /// expired yet, e.g. after a leader change extended it; fencing still checked).
    pub after_expiry_applied: usize,
    /// The counter at the end.
    pub final_counter: u64,
    /// Fencing, lost updates, counter bounds.
    pub check: Check,
}

/// Results of the Kubernetes-style workload (its gets and updates are checked with the
/// register operations).
#[derive(Debug, Clone, Serialize)]
pub struct K8sSummary {
    /// Gets and optimistic updates.
    pub ops: usize,
    /// Paginated lists read.
    pub lists: usize,
    /// Lists that could not be compared with a one-shot read (compacted, member cut off).
    pub lists_unverifiable: usize,
    /// Compactions done.
    pub compactions: usize,
    /// Every verified list matched its snapshot.
    pub check: Check,
}

/// Results of the v2 set workload.
#[derive(Debug, Clone, Serialize)]
pub struct V2SetSummary {
    /// Adds attempted.
    pub adds: usize,
    /// Adds acknowledged.
    pub acknowledged: usize,
    /// Adds definitely not applied.
    pub failed: usize,
    /// Adds with unknown outcome.
    pub unknown: usize,
    /// Of the unknown adds, those present at the end.
    pub unknown_present: usize,
    /// Elements in the final quorum read.
    pub present: usize,
    /// Every acknowledged add present, nothing unexpected, nothing twice, real-time order.
    pub check: Check,
}

/// Everything a run learned.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The seed, to reproduce the nemesis schedule and the clients' choices.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Seconds the workloads ran under faults.
    pub seconds: u64,
    /// Operations recorded, all workloads together.
    pub total_ops: usize,
    /// Faults injected, in order.
    pub faults: Vec<FaultRecord>,
    /// Register workload, when it ran.
    pub register: Option<RegisterReport>,
    /// List-append workload, when it ran.
    pub append: Option<AppendSummary>,
    /// Watch workload, when it ran.
    pub watch: Option<WatchSummary>,
    /// Lock workload, when it ran.
    pub lock: Option<LockSummary>,
    /// Kubernetes-style workload, when it ran.
    pub k8s: Option<K8sSummary>,
    /// v2 register workload, when it ran.
    pub v2_register: Option<RegisterReport>,
    /// v2 set workload, when it ran.
    pub v2_set: Option<V2SetSummary>,
    /// Human-readable description of every anomaly found, with the smallest offending
    /// sub-history found for it.
    pub anomalies: Vec<String>,
}

impl Report {
    /// The overall verdict: any anomaly wins, then any undecided check.
    pub fn verdict(&self) -> Check {
        let mut all = Vec::new();
        for r in [&self.register, &self.v2_register].into_iter().flatten() {
            all.extend(r.linearizable.values().copied());
            all.push(r.lost_writes);
        }
        all.extend(self.append.as_ref().map(|a| a.check));
        all.extend(self.watch.as_ref().map(|w| w.check));
        all.extend(self.lock.as_ref().map(|l| l.check));
        all.extend(self.k8s.as_ref().map(|k| k.check));
        all.extend(self.v2_set.as_ref().map(|v| v.check));
        if !self.anomalies.is_empty() || all.contains(&Check::Anomaly) {
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
            "seed {} nodes {} {} s: {} ops, {} faults\n",
            self.seed,
            self.nodes,
            self.seconds,
            self.total_ops,
            self.faults.len()
        );
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.faults {
            *by_kind.entry(f.kind.name()).or_default() += 1;
        }
        s.push_str(&format!("  faults by kind: {by_kind:?}\n"));
        if let Some(r) = &self.register {
            register_summary(&mut s, "register", r);
        }
        if let Some(r) = &self.v2_register {
            register_summary(&mut s, "v2 register", r);
        }
        if let Some(v) = &self.v2_set {
            s.push_str(&format!(
                "  v2 set: {} adds ({} acknowledged, {} failed, {} unknown of which {} present), {} elements at the end: {:?}\n",
                v.adds, v.acknowledged, v.failed, v.unknown, v.unknown_present, v.present, v.check
            ));
        }
        if let Some(a) = &self.append {
            s.push_str(&format!("  append txns {:?}: {:?}\n", a.txns, a.check));
        }
        if let Some(w) = &self.watch {
            s.push_str(&format!(
                "  watch: {} watchers, {} events over {} revisions, members agree: {}: {:?}\n",
                w.watchers, w.events, w.revisions, w.members_agree, w.check
            ));
        }
        if let Some(l) = &self.lock {
            s.push_str(&format!(
                "  lock: {} acquisitions, {} fenced increments ({} acknowledged; after abandoning the lease {} refused, {} applied), counter {}: {:?}\n",
                l.acquisitions, l.increments, l.acknowledged, l.after_expiry_refused, l.after_expiry_applied, l.final_counter, l.check
            ));
        }
        if let Some(k) = &self.k8s {
            s.push_str(&format!(
                "  k8s: {} gets/updates, {} paginated lists ({} unverifiable), {} compactions: {:?}\n",
                k.ops, k.lists, k.lists_unverifiable, k.compactions, k.check
            ));
        }
        for a in &self.anomalies {
            s.push_str(&format!("  ANOMALY: {a}\n"));
        }
        s.push_str(&format!("verdict: {:?}\n", self.verdict()));
        s
    }
}

/// The lines of one register report: operations, linearizability per key, lost writes.
fn register_summary(s: &mut String, name: &str, r: &RegisterReport) {
    for (kind, outcomes) in &r.ops {
        s.push_str(&format!("  {name} {kind:<5} {outcomes:?}\n"));
    }
    // Keys by verdict; only the keys that are not valid are named.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for check in r.linearizable.values() {
        *counts.entry(format!("{check:?}")).or_default() += 1;
    }
    s.push_str(&format!("  {name} linearizable: keys {counts:?}\n"));
    for (key, check) in &r.linearizable {
        if *check != Check::Valid {
            s.push_str(&format!("    {key}: {check:?}\n"));
        }
    }
    s.push_str(&format!("  {name} lost writes:  {:?}\n", r.lost_writes));
}

/// What the run recorded, for the files.
pub struct Recordings<'a> {
    /// Register operations.
    pub register: &'a [Operation],
    /// List-append transactions.
    pub append: &'a [Txn],
    /// Watchers.
    pub watch: &'a [Recorded],
    /// v2 register operations.
    pub v2_register: &'a [Operation],
    /// v2 set adds.
    pub v2_set: &'a [Add],
    /// Operations found in an anomaly's offending sub-history, drawn red on the timeline.
    pub flagged: &'a [Operation],
}

/// Writes `summary.json`, `history.jsonl` (register), `append.jsonl`, `watch.json`,
/// `timeline.html` and, when a v2 workload ran, `v2-history.jsonl` (v2 register) and
/// `v2-set.jsonl` into `dir`.
pub fn write(dir: &Path, report: &Report, rec: &Recordings<'_>) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let summary = serde_json::to_string_pretty(report).expect("report serializes");
    std::fs::write(dir.join("summary.json"), summary + "\n")?;
    std::fs::write(
        dir.join("history.jsonl"),
        crate::history::to_json_lines(rec.register),
    )?;
    std::fs::write(dir.join("append.jsonl"), append::to_json_lines(rec.append))?;
    let watchers: Vec<_> = rec.watch.iter().map(|r| &r.watcher).collect();
    std::fs::write(
        dir.join("watch.json"),
        serde_json::to_string(&watchers).expect("watchers serialize"),
    )?;
    if report.v2_register.is_some() {
        std::fs::write(
            dir.join("v2-history.jsonl"),
            crate::history::to_json_lines(rec.v2_register),
        )?;
    }
    if report.v2_set.is_some() {
        std::fs::write(
            dir.join("v2-set.jsonl"),
            set_check::to_json_lines(rec.v2_set),
        )?;
    }
    let title = format!(
        "ectd-jepsen seed {} — {} members, {} s — verdict {:?}",
        report.seed,
        report.nodes,
        report.seconds,
        report.verdict()
    );
    let html = crate::timeline::render_html(&title, &bars(rec), &windows(&report.faults));
    std::fs::write(dir.join("timeline.html"), html)
}

fn windows(faults: &[FaultRecord]) -> Vec<Window> {
    faults
        .iter()
        .map(|f| Window {
            start_ns: f.start_ns,
            end_ns: f.end_ns.max(f.start_ns + 50_000_000),
            label: f.detail.clone(),
        })
        .collect()
}

fn bars(rec: &Recordings<'_>) -> Vec<Bar> {
    let mut bars = Vec::with_capacity(rec.register.len() + rec.append.len());
    register_bars(&mut bars, "register", rec.register, rec.flagged);
    for txn in rec.append {
        let (outcome, end) = match txn.outcome {
            TxnOutcome::Committed => (BarOutcome::Ok, Some(txn.complete_ns)),
            TxnOutcome::Aborted => (BarOutcome::Fail, Some(txn.complete_ns)),
            TxnOutcome::Unknown => (BarOutcome::Unknown, None),
        };
        bars.push(Bar {
            lane: format!("append client {}", txn.client),
            start_ns: txn.invoke_ns,
            end_ns: end,
            label: format!("{:?}", txn.ops),
            outcome,
        });
    }
    register_bars(&mut bars, "v2 register", rec.v2_register, rec.flagged);
    for add in rec.v2_set {
        let (outcome, end) = match add.outcome {
            AddOutcome::Ok => (BarOutcome::Ok, Some(add.complete_ns)),
            AddOutcome::Fail => (BarOutcome::Fail, Some(add.complete_ns)),
            AddOutcome::Unknown => (BarOutcome::Unknown, None),
        };
        let key = add.key.as_deref().unwrap_or("(in-order)");
        bars.push(Bar {
            lane: format!("v2 set client {}", add.client),
            start_ns: add.invoke_ns,
            end_ns: end,
            label: format!("{:?} {key} {}", add.kind, add.value),
            outcome,
        });
    }
    bars
}

/// A bar per register operation, in lanes `{name} client N`.
fn register_bars(bars: &mut Vec<Bar>, name: &str, ops: &[Operation], flagged: &[Operation]) {
    for op in ops {
        let label = match (&op.kind, &op.outcome) {
            (OpKind::Read, Outcome::Ok(crate::history::OpResult::Read(v))) => {
                format!("read {} = {v:?}", op.key)
            }
            (OpKind::Read, _) => format!("read {}", op.key),
            (OpKind::Write(v), _) => format!("write {} {v}", op.key),
            (OpKind::Cas { expected, new }, _) => {
                format!("cas {} {expected:?}→{new}", op.key)
            }
        };
        let (outcome, end) = match &op.outcome {
            _ if flagged.contains(op) => (BarOutcome::Anomaly, Some(op.complete_ns)),
            Outcome::Ok(_) => (BarOutcome::Ok, Some(op.complete_ns)),
            Outcome::Fail => (BarOutcome::Fail, Some(op.complete_ns)),
            Outcome::Unknown => (BarOutcome::Unknown, None),
        };
        bars.push(Bar {
            lane: format!("{name} client {}", op.client),
            start_ns: op.invoke_ns,
            end_ns: end,
            label,
            outcome,
        });
    }
}
