//! List-append transactions and a serializability checker for them, after Elle (Kingsbury &
//! Alvaro, "Elle: Inferring Isolation Anomalies from Experimental Observations"), reduced to
//! what an etcd-style store needs.
//!
//! Every key holds a list of integers. A transaction is a sequence of micro-ops, each either
//! appending an element to a key's list or reading a key's whole list. Elements are unique per
//! key, so an element names the transaction that appended it, and because lists only grow a
//! read reveals not just a value but the order in which writes were installed. The checker:
//!
//! 1. takes each key's final list (read after the run, every fault healed) as the key's
//!    version order and checks every list a committed transaction read against it: each must
//!    be a prefix of it, hold no element twice, and hold only elements appended by a
//!    transaction that may have committed;
//! 2. decides which transactions took effect: every committed one, and an unknown one exactly
//!    when one of its elements was observed (in the final state or any read). An unobserved
//!    unknown transaction has no visible effect, so leaving it out hides no anomaly;
//! 3. builds a dependency graph over those transactions — ww (installed the next version of a
//!    key), wr (installed the version a read observed), rw (installed the version right after
//!    the one a read observed) and real-time (completed before the other was invoked) — and
//!    reports one short cycle per strongly connected component, classified G0, G1c, G-single
//!    or G2 by its edges and flagged `realtime` when it cannot close without a real-time edge
//!    (strict serializability is violated though serializability may not be);
//! 4. checks etcd's revisions against the same graph: every write transaction gets a revision
//!    of its own, and revisions grow along every ww, wr and rw edge.
//!
//! Everything reported is proven by the history and the final state: a cycle lists its
//! transactions and the edge between each consecutive pair, and each edge follows from the
//! version order and one read. The search for the most specific class of cycle in a component
//! is bounded, so a huge component may be reported with a cycle of a weaker class than the
//! best it contains — still a real cycle, never a false one.

use crate::history::Key;
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

mod model;

pub use model::{
    decode_list, encode_list, from_json_lines, to_json_lines, validate, Element, HistoryError,
    MicroOp, Txn, TxnOutcome,
};

/// A dependency between two transactions: the first must precede the second in any serial
/// order explaining the history (and, for real-time, in any strictly serializable one).
/// Ordered from the weakest anomaly a cycle of such edges shows to the strongest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Write-write: the second installed the next version of a key after the first's.
    Ww,
    /// Write-read: the second read a version the first installed.
    Wr,
    /// Read-write anti-dependency: the first read a version older than the one the second
    /// installed.
    Rw,
    /// The first completed before the second was invoked.
    Realtime,
}

/// Elle's classes of dependency cycle, by the data edges the cycle uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CycleKind {
    /// Only ww edges: write cycle (dirty write).
    G0,
    /// ww and wr edges, at least one wr: circular information flow.
    G1c,
    /// Exactly one rw edge: read skew and its kin (forbidden by snapshot isolation).
    #[serde(rename = "G-single")]
    GSingle,
    /// More than one rw edge: write skew and its kin (forbidden only by serializability).
    G2,
}

/// A dependency cycle: no serial order (or, when `realtime`, no real-time-respecting serial
/// order) explains these transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    /// Class by the data edges it uses.
    pub kind: CycleKind,
    /// Whether it needs a real-time edge: serializable orders might exist, but none in which
    /// every transaction takes effect between its invocation and completion.
    pub realtime: bool,
    /// The transactions around the cycle, each once.
    pub txns: Vec<Txn>,
    /// `edges[i]` leads from `txns[i]` to `txns[(i + 1) % txns.len()]`.
    pub edges: Vec<EdgeKind>,
}

/// Where a list was observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observer {
    /// A read of this committed transaction.
    Read(Txn),
    /// The final state read after the run.
    FinalState,
}

/// Something no correct execution produces, with the transactions that prove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    /// An element appears twice in one list of a key.
    DuplicateElement {
        /// The key.
        key: Key,
        /// The repeated element.
        element: Element,
        /// A list holding it twice (a read's when some read saw the repetition).
        observer: Observer,
    },
    /// A committed read observed a list that is not a prefix of the key's final list, so the
    /// key's versions do not form one order.
    IncompatibleOrder {
        /// The key.
        key: Key,
        /// The committed transaction that read it.
        reader: Txn,
        /// The list it observed.
        observed: Vec<Element>,
        /// First index at which `observed` departs from the final list.
        diverges_at: usize,
    },
    /// An append of a committed transaction is missing from the key's final list.
    LostAppend {
        /// The key.
        key: Key,
        /// The missing element.
        element: Element,
        /// The committed transaction that appended it.
        writer: Txn,
    },
    /// G1a: an element appended by an aborted transaction was observed.
    AbortedRead {
        /// The key.
        key: Key,
        /// The element.
        element: Element,
        /// The aborted transaction that appended it.
        writer: Txn,
        /// A list holding it (a read's when some read saw it).
        observer: Observer,
    },
    /// An element no transaction appended to the key.
    PhantomElement {
        /// The key.
        key: Key,
        /// The element.
        element: Element,
        /// A list holding it (a read's when some read saw it).
        observer: Observer,
    },
    /// A read of a committed transaction disagrees with the transaction's own earlier micro-
    /// ops on the key.
    InternalInconsistency {
        /// The transaction.
        txn: Txn,
        /// The key.
        key: Key,
        /// What the read returned.
        observed: Vec<Element>,
        /// What it had to return (`whole`), or end with (not `whole`: no earlier read fixed
        /// the list, only the transaction's own appends since its start).
        expected: Vec<Element>,
        /// Whether `expected` is the whole list.
        whole: bool,
    },
    /// A transaction with unknown outcome took effect (some element of it was observed), yet
    /// this append of it is missing from the final list: it was applied partially.
    Fractured {
        /// The transaction.
        txn: Txn,
        /// Key of the missing append.
        key: Key,
        /// The missing element.
        element: Element,
    },
    /// A dependency cycle.
    Cycle(Cycle),
    /// Two committed write transactions report the same revision; etcd gives every write
    /// transaction its own.
    SharedRevision {
        /// The revision.
        revision: i64,
        /// The first transaction (in history order) with it.
        first: Txn,
        /// Another.
        second: Txn,
    },
    /// Revisions of two committed transactions contradict a ww, wr or rw edge between them:
    /// ww and rw need `from < to`; wr needs `from < to` into a write transaction and
    /// `from <= to` into a read-only one.
    RevisionOrder {
        /// Source of the edge.
        from: Txn,
        /// Target of the edge.
        to: Txn,
        /// The edge.
        edge: EdgeKind,
    },
}

/// Number of distinct edges of each kind in the dependency graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeCounts {
    /// Write-write edges.
    pub ww: usize,
    /// Write-read edges.
    pub wr: usize,
    /// Read-write anti-dependency edges.
    pub rw: usize,
    /// Real-time edges: the reduced set the frontier keeps, from which every real-time
    /// precedence follows by a path.
    pub realtime: usize,
}

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendReport {
    /// Committed transactions.
    pub committed: usize,
    /// Aborted transactions.
    pub aborted: usize,
    /// Transactions with unknown outcome.
    pub unknown: usize,
    /// Of those, how many were observed to have taken effect.
    pub unknown_applied: usize,
    /// Distinct keys in the history and the final state.
    pub keys: usize,
    /// Elements in the final lists: the versions the order was checked over.
    pub elements: usize,
    /// Dependency graph size.
    pub edges: EdgeCounts,
    /// Every anomaly found, in a deterministic order.
    pub anomalies: Vec<Anomaly>,
}

impl AppendReport {
    /// True when no anomaly was found: the history is strictly serializable as far as the
    /// checker can tell.
    pub fn is_valid(&self) -> bool {
        self.anomalies.is_empty()
    }
}

/// Checks a list-append history against the final lists read after the run (an absent key
/// is an empty list), reporting every anomaly of the kinds in [`Anomaly`] that the history
/// proves. Reads of aborted and unknown transactions are ignored: nothing says what state
/// they saw. Panics if the history fails [`validate`].
pub fn check(history: &[Txn], final_state: &BTreeMap<Key, Vec<Element>>) -> AppendReport {
    if let Err(e) = validate(history) {
        panic!("append check given a malformed history (validate first): {e}");
    }
    let mut analysis = Analysis::new(history, final_state);
    analysis.check_reads();
    analysis.check_final_lists();
    analysis.check_stray_reads();
    analysis.check_appends();
    let graph = analysis.dependency_graph();
    analysis.check_revisions(&graph);
    analysis.find_cycles(&graph);
    let count = |o: TxnOutcome| history.iter().filter(|t| t.outcome == o).count();
    let unknown_applied = history
        .iter()
        .zip(&analysis.applied)
        .filter(|(t, &applied)| applied && t.outcome == TxnOutcome::Unknown)
        .count();
    AppendReport {
        committed: count(TxnOutcome::Committed),
        aborted: count(TxnOutcome::Aborted),
        unknown: count(TxnOutcome::Unknown),
        unknown_applied,
        keys: analysis.key_names.len(),
        elements: analysis.finals.iter().map(|l| l.len()).sum(),
        edges: graph.counts,
        anomalies: analysis.anomalies,
    }
}

/// Marks "no transaction" in the compact u32 transaction indices the graph uses.
const NONE: u32 = u32::MAX;

/// Work (edges examined) allowed per component in the search for a G-single cycle, beyond
/// a multiple of the component's size; past it the component's shortest cycle is reported.
const SINGLE_RW_BUDGET: usize = 1 << 20;

/// State shared by the checking passes; transactions are named by index into the history.
struct Analysis<'a> {
    history: &'a [Txn],
    key_ids: HashMap<&'a str, u32>,
    key_names: Vec<&'a str>,
    /// Final list per key id (empty for keys absent from the final state).
    finals: Vec<&'a [Element]>,
    writer: HashMap<(u32, Element), usize>,
    /// First position of each element in its key's final list.
    position: HashMap<(u32, Element), usize>,
    /// Whether each transaction took effect: committed, or unknown and observed.
    applied: Vec<bool>,
    /// (reader, key, length of the final list's prefix it read before its own appends), for
    /// each committed transaction's first read of a key, when that read fits the order.
    observations: Vec<(usize, u32, usize)>,
    /// Per key, the longest read that fits the order, as (reader, length): it names a
    /// reader for anomalies found in the final list.
    longest_read: Vec<Option<(usize, usize)>>,
    /// Reads that do not fit the order; their elements are checked on their own.
    stray_reads: Vec<(usize, u32, &'a [Element])>,
    reported_duplicates: HashSet<(u32, Element)>,
    anomalies: Vec<Anomaly>,
}

impl<'a> Analysis<'a> {
    fn new(history: &'a [Txn], final_state: &'a BTreeMap<Key, Vec<Element>>) -> Self {
        let mut analysis = Analysis {
            history,
            key_ids: HashMap::new(),
            key_names: Vec::new(),
            finals: Vec::new(),
            writer: HashMap::new(),
            position: HashMap::new(),
            applied: history
                .iter()
                .map(|t| t.outcome == TxnOutcome::Committed)
                .collect(),
            observations: Vec::new(),
            longest_read: Vec::new(),
            stray_reads: Vec::new(),
            reported_duplicates: HashSet::new(),
            anomalies: Vec::new(),
        };
        for (key, list) in final_state {
            analysis.intern(key, list);
        }
        for (t, txn) in history.iter().enumerate() {
            for op in &txn.ops {
                let k = analysis.intern(op.key(), &[]);
                if let MicroOp::Append { element, .. } = op {
                    analysis.writer.insert((k, *element), t);
                }
            }
        }
        analysis.longest_read = vec![None; analysis.key_names.len()];
        analysis
    }

    fn intern(&mut self, key: &'a str, final_list: &'a [Element]) -> u32 {
        if let Some(&k) = self.key_ids.get(key) {
            return k;
        }
        let k = self.key_names.len() as u32;
        self.key_ids.insert(key, k);
        self.key_names.push(key);
        self.finals.push(final_list);
        k
    }

    fn key(&self, k: u32) -> Key {
        self.key_names[k as usize].to_string()
    }

    fn txn(&self, t: usize) -> Txn {
        self.history[t].clone()
    }

    /// Internal consistency of each committed transaction, and each read against the order.
    fn check_reads(&mut self) {
        let history = self.history;
        for (t, txn) in history.iter().enumerate() {
            if txn.outcome != TxnOutcome::Committed {
                continue;
            }
            // Per key touched: own appends so far, and the whole list once a read fixed it.
            let mut seen: Vec<(u32, Vec<Element>, Option<Vec<Element>>)> = Vec::new();
            for op in &txn.ops {
                let k = self.key_ids[op.key()];
                let i = match seen.iter().position(|s| s.0 == k) {
                    Some(i) => i,
                    None => {
                        seen.push((k, Vec::new(), None));
                        seen.len() - 1
                    }
                };
                let (_, own, known) = &mut seen[i];
                let value = match op {
                    MicroOp::Append { element, .. } => {
                        own.push(*element);
                        if let Some(list) = known {
                            list.push(*element);
                        }
                        continue;
                    }
                    MicroOp::Read { value, .. } => value.as_deref().expect("validated"),
                };
                let fits = self.check_read_order(t, k, value);
                let expected = match known {
                    Some(list) if list.as_slice() != value => Some((list.clone(), true)),
                    Some(_) => None,
                    None if !value.ends_with(own) => Some((own.clone(), false)),
                    None => {
                        // The transaction's first read of the key: what it saw of others.
                        if fits {
                            self.observations.push((t, k, value.len() - own.len()));
                        }
                        None
                    }
                };
                if let Some((expected, whole)) = expected {
                    self.anomalies.push(Anomaly::InternalInconsistency {
                        txn: txn.clone(),
                        key: self.key(k),
                        observed: value.to_vec(),
                        expected,
                        whole,
                    });
                }
                *known = Some(value.to_vec());
            }
        }
    }

    /// Whether a read is a prefix of the key's final list; reports it if not.
    fn check_read_order(&mut self, t: usize, k: u32, value: &'a [Element]) -> bool {
        let order = self.finals[k as usize];
        let common = value.iter().zip(order).take_while(|(a, b)| a == b).count();
        if common == value.len() {
            let longest = &mut self.longest_read[k as usize];
            let longer = match *longest {
                Some((_, len)) => len < value.len(),
                None => true,
            };
            if longer {
                *longest = Some((t, value.len()));
            }
            return true;
        }
        self.anomalies.push(Anomaly::IncompatibleOrder {
            key: self.key(k),
            reader: self.txn(t),
            observed: value.to_vec(),
            diverges_at: common,
        });
        self.stray_reads.push((t, k, value));
        false
    }

    /// Duplicates and unexplained elements in the final lists, naming a reader that saw them
    /// where one did.
    fn check_final_lists(&mut self) {
        for k in 0..self.finals.len() as u32 {
            for (p, &element) in self.finals[k as usize].iter().enumerate() {
                let reader = match self.longest_read[k as usize] {
                    Some((t, len)) if len > p => Some(t),
                    _ => None,
                };
                match self.position.entry((k, element)) {
                    Entry::Occupied(_) => self.report_duplicate(k, element, reader),
                    Entry::Vacant(first) => {
                        first.insert(p);
                        self.check_element(k, element, reader);
                    }
                }
            }
        }
    }

    /// The elements of reads that do not fit the order and that the final lists lack.
    fn check_stray_reads(&mut self) {
        let mut checked = HashSet::new();
        for (t, k, value) in std::mem::take(&mut self.stray_reads) {
            let mut in_read = HashSet::new();
            for &element in value {
                if !in_read.insert(element) {
                    self.report_duplicate(k, element, Some(t));
                }
                if !self.position.contains_key(&(k, element)) && checked.insert((k, element)) {
                    self.check_element(k, element, Some(t));
                }
            }
        }
    }

    /// Where a list was observed: by this committed transaction's read, else (`None`) only
    /// in the final state.
    fn observer(&self, reader: Option<usize>) -> Observer {
        reader.map_or(Observer::FinalState, |t| Observer::Read(self.txn(t)))
    }

    fn report_duplicate(&mut self, k: u32, element: Element, reader: Option<usize>) {
        if self.reported_duplicates.insert((k, element)) {
            self.anomalies.push(Anomaly::DuplicateElement {
                key: self.key(k),
                element,
                observer: self.observer(reader),
            });
        }
    }

    /// An observed element must have a writer that may have committed; an unknown writer
    /// thereby took effect.
    fn check_element(&mut self, k: u32, element: Element, reader: Option<usize>) {
        let writer = self.writer.get(&(k, element)).copied();
        if let Some(w) = writer {
            if self.history[w].outcome != TxnOutcome::Aborted {
                self.applied[w] = true;
                return;
            }
        }
        let (key, observer) = (self.key(k), self.observer(reader));
        self.anomalies.push(match writer {
            None => Anomaly::PhantomElement {
                key,
                element,
                observer,
            },
            Some(w) => Anomaly::AbortedRead {
                key,
                element,
                writer: self.txn(w),
                observer,
            },
        });
    }

    /// Every append of a transaction that took effect must be in the final list.
    fn check_appends(&mut self) {
        let history = self.history;
        for (t, txn) in history.iter().enumerate() {
            if !self.applied[t] {
                continue;
            }
            for (key, element) in txn.appends() {
                let k = self.key_ids[key];
                if self.position.contains_key(&(k, element)) {
                    continue;
                }
                let (txn, key) = (txn.clone(), key.to_string());
                self.anomalies.push(match txn.outcome {
                    TxnOutcome::Committed => Anomaly::LostAppend {
                        key,
                        element,
                        writer: txn,
                    },
                    _ => Anomaly::Fractured { txn, key, element },
                });
            }
        }
    }

    /// The transaction that installed the version at each position of a key's order, if it
    /// took effect; later repeats of an element install nothing.
    fn installers(&self, k: u32) -> Vec<u32> {
        let order = self.finals[k as usize];
        let at = |(p, element): (usize, &Element)| {
            let first = self.position.get(&(k, *element)) == Some(&p);
            match self.writer.get(&(k, *element)) {
                Some(&w) if first && self.applied[w] => w as u32,
                _ => NONE,
            }
        };
        order.iter().enumerate().map(at).collect()
    }

    fn dependency_graph(&self) -> Graph {
        let mut edges = Vec::new();
        let mut reads_by_key: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.finals.len()];
        for &(t, k, len) in &self.observations {
            reads_by_key[k as usize].push((t, len));
        }
        for (k, reads) in reads_by_key.iter().enumerate() {
            let installers = self.installers(k as u32);
            // Installer of the newest version at or before / at or after each position;
            // versions by transactions that did not take effect are skipped, which keeps
            // every edge implied by the order.
            let mut latest = Vec::with_capacity(installers.len());
            let mut last = NONE;
            for &w in &installers {
                if w != NONE {
                    if last != NONE && last != w {
                        edges.push((last, w, EdgeKind::Ww));
                    }
                    last = w;
                }
                latest.push(last);
            }
            let mut next = vec![NONE; installers.len() + 1];
            for p in (0..installers.len()).rev() {
                next[p] = if installers[p] != NONE {
                    installers[p]
                } else {
                    next[p + 1]
                };
            }
            for &(t, len) in reads {
                let t = t as u32;
                // A read of the empty list depends on no writer.
                let from = if len > 0 { latest[len - 1] } else { NONE };
                if from != NONE && from != t {
                    edges.push((from, t, EdgeKind::Wr));
                }
                if next[len] != NONE && next[len] != t {
                    edges.push((t, next[len], EdgeKind::Rw));
                }
            }
        }
        self.realtime_edges(&mut edges);
        Graph::new(self.history.len(), edges)
    }

    /// Real-time edges by the frontier technique: walking invocations and completions in
    /// time order, the frontier holds the completed transactions no later completion has
    /// superseded. Each invocation gets an edge from every frontier member, and a completion
    /// replaces exactly its own predecessors, so every real-time precedence stays implied by
    /// a path while the frontier (pairwise concurrent transactions) stays as small as the
    /// concurrency. Unknown transactions take effect at no known time before infinity, so
    /// they receive edges but never join the frontier.
    fn realtime_edges(&self, edges: &mut Vec<(u32, u32, EdgeKind)>) {
        // (time, is completion, txn): at equal times invocations come first, treating the
        // transactions as concurrent so a coarse clock cannot manufacture a violation.
        let mut events = Vec::new();
        for (t, txn) in self.history.iter().enumerate() {
            if self.applied[t] {
                events.push((txn.invoke_ns, false, t as u32));
                if txn.outcome == TxnOutcome::Committed {
                    events.push((txn.complete_ns, true, t as u32));
                }
            }
        }
        events.sort_unstable();
        let mut frontier: Vec<u32> = Vec::new();
        let mut in_frontier = vec![false; self.history.len()];
        // Where each transaction's incoming real-time edges start in `edges`.
        let mut preds_start = vec![0usize; self.history.len()];
        for (_, completion, t) in events {
            if !completion {
                preds_start[t as usize] = edges.len();
                edges.extend(frontier.iter().map(|&f| (f, t, EdgeKind::Realtime)));
                continue;
            }
            let preds = &edges[preds_start[t as usize]..];
            for &(f, to, _) in preds.iter().take_while(|e| e.1 == t) {
                debug_assert_eq!(to, t);
                in_frontier[f as usize] = false;
            }
            frontier.retain(|&f| in_frontier[f as usize]);
            frontier.push(t);
            in_frontier[t as usize] = true;
        }
    }

    fn check_revisions(&mut self, graph: &Graph) {
        let history = self.history;
        let writes: Vec<bool> = history
            .iter()
            .map(|t| t.appends().next().is_some())
            .collect();
        let mut first_at: HashMap<i64, usize> = HashMap::new();
        for (t, txn) in history.iter().enumerate() {
            if let (TxnOutcome::Committed, Some(revision), true) =
                (txn.outcome, txn.revision, writes[t])
            {
                match first_at.get(&revision) {
                    Some(&first) => self.anomalies.push(Anomaly::SharedRevision {
                        revision,
                        first: self.txn(first),
                        second: txn.clone(),
                    }),
                    None => {
                        first_at.insert(revision, t);
                    }
                }
            }
        }
        for &(from, to, edge) in &graph.edges {
            let (a, b) = (&history[from as usize], &history[to as usize]);
            let (Some(ra), Some(rb)) = (a.revision, b.revision) else {
                continue;
            };
            if a.outcome != TxnOutcome::Committed || b.outcome != TxnOutcome::Committed {
                continue;
            }
            let ordered = match edge {
                EdgeKind::Ww | EdgeKind::Rw => ra < rb,
                // A read-only transaction shares the revision of the newest write it saw.
                EdgeKind::Wr => ra < rb || (ra == rb && !writes[to as usize]),
                EdgeKind::Realtime => true,
            };
            if !ordered {
                self.anomalies.push(Anomaly::RevisionOrder {
                    from: a.clone(),
                    to: b.clone(),
                    edge,
                });
            }
        }
    }

    /// One cycle per strongly connected component: first of the data edges alone, then,
    /// among transactions in no such cycle, of all edges (those cycles need real time).
    fn find_cycles(&mut self, graph: &Graph) {
        let n = self.history.len();
        let mut in_data_cycle = vec![false; n];
        let mut found = Vec::new();
        for component in components(&graph.adj, Kinds::DATA, |_| true) {
            for &t in &component {
                in_data_cycle[t as usize] = true;
            }
            found.push((graph.cycle_in(&component, Kinds::NONE), false));
        }
        for component in components(&graph.adj, Kinds::ALL, |t| !in_data_cycle[t]) {
            found.push((graph.cycle_in(&component, Kinds::REALTIME), true));
        }
        for (steps, realtime) in found {
            let edges: Vec<EdgeKind> = steps.iter().map(|&(_, e)| e).collect();
            let rw = edges.iter().filter(|&&e| e == EdgeKind::Rw).count();
            let kind = match rw {
                0 if edges.contains(&EdgeKind::Wr) => CycleKind::G1c,
                0 => CycleKind::G0,
                1 => CycleKind::GSingle,
                _ => CycleKind::G2,
            };
            self.anomalies.push(Anomaly::Cycle(Cycle {
                kind,
                realtime,
                txns: steps.iter().map(|&(t, _)| self.txn(t as usize)).collect(),
                edges,
            }));
        }
    }
}

mod graph;

use graph::{components, Graph, Kinds};

#[cfg(test)]
mod tests;
