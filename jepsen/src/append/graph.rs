//! The dependency graph of a list-append history and the searches over it: strongly
//! connected components (iterative Tarjan) and short cycles of the weakest class within one.

use super::{EdgeCounts, EdgeKind, NONE, SINGLE_RW_BUDGET};
use std::collections::{HashMap, VecDeque};
use std::ops::BitOr;

/// A set of edge kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Kinds(u8);

impl Kinds {
    pub(super) const NONE: Kinds = Kinds(0);
    pub(super) const WW: Kinds = Kinds(1);
    pub(super) const WR: Kinds = Kinds(2);
    pub(super) const RW: Kinds = Kinds(4);
    pub(super) const REALTIME: Kinds = Kinds(8);
    pub(super) const DATA: Kinds = Kinds(1 | 2 | 4);
    pub(super) const ALL: Kinds = Kinds(1 | 2 | 4 | 8);

    fn has(self, kind: EdgeKind) -> bool {
        let bit = match kind {
            EdgeKind::Ww => Kinds::WW,
            EdgeKind::Wr => Kinds::WR,
            EdgeKind::Rw => Kinds::RW,
            EdgeKind::Realtime => Kinds::REALTIME,
        };
        self.0 & bit.0 != 0
    }
}

impl BitOr for Kinds {
    type Output = Kinds;
    fn bitor(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }
}

/// Adjacency lists over transaction indices (or, for a component, local indices).
pub(super) type Adjacency = Vec<Vec<(u32, EdgeKind)>>;

/// The dependency graph over the transactions that took effect.
pub(super) struct Graph {
    /// Distinct edges, sorted.
    pub(super) edges: Vec<(u32, u32, EdgeKind)>,
    pub(super) adj: Adjacency,
    pub(super) counts: EdgeCounts,
}

impl Graph {
    pub(super) fn new(n: usize, mut edges: Vec<(u32, u32, EdgeKind)>) -> Graph {
        edges.sort_unstable();
        edges.dedup();
        let mut adj = vec![Vec::new(); n];
        let mut counts = EdgeCounts::default();
        for &(from, to, kind) in &edges {
            adj[from as usize].push((to, kind));
            *match kind {
                EdgeKind::Ww => &mut counts.ww,
                EdgeKind::Wr => &mut counts.wr,
                EdgeKind::Rw => &mut counts.rw,
                EdgeKind::Realtime => &mut counts.realtime,
            } += 1;
        }
        Graph { edges, adj, counts }
    }

    /// A short cycle within a strongly connected component of the data edges plus `extra`,
    /// as (transaction, edge to the next) steps, preferring the weakest class: ww only, then
    /// ww and wr, then a single rw edge, then any.
    pub(super) fn cycle_in(&self, component: &[u32], extra: Kinds) -> Vec<(u32, EdgeKind)> {
        let mut local_of: HashMap<u32, u32> = HashMap::new();
        for (i, &t) in component.iter().enumerate() {
            local_of.insert(t, i as u32);
        }
        let adj: Adjacency = component
            .iter()
            .map(|t| {
                let within = |&(to, kind): &(u32, EdgeKind)| Some((*local_of.get(&to)?, kind));
                self.adj[*t as usize].iter().filter_map(within).collect()
            })
            .collect();
        let base = Kinds::WW | Kinds::WR | extra;
        let cycle = shortest_cycle(&adj, Kinds::WW | extra)
            .or_else(|| shortest_cycle(&adj, base))
            .or_else(|| single_rw_cycle(&adj, base))
            .or_else(|| shortest_cycle(&adj, base | Kinds::RW))
            .expect("a strongly connected component has a cycle");
        let kinds = base | Kinds::RW;
        let len = cycle.len();
        let steps = (0..len).map(|i| {
            let (a, b) = (cycle[i], cycle[(i + 1) % len]);
            (component[a as usize], weakest_edge(&adj, a, b, kinds))
        });
        shortcut_realtime(steps.collect())
    }
}

/// Replaces each run of consecutive real-time edges by one: completing before an invocation
/// is transitive (a completes before b is invoked, b completes before c is invoked, so a
/// completes before c is invoked), and the frontier keeps only the reduced edges, which
/// would otherwise pad a cycle with every transaction in between.
fn shortcut_realtime(mut steps: Vec<(u32, EdgeKind)>) -> Vec<(u32, EdgeKind)> {
    let len = steps.len();
    // Start at a transaction entered by a data edge (every cycle has one, as real time
    // alone is acyclic), so the first is kept and runs never wrap around.
    let start = (0..len)
        .find(|&i| steps[(i + len - 1) % len].1 != EdgeKind::Realtime)
        .expect("a cycle has a data edge");
    steps.rotate_left(start);
    let mut kept: Vec<(u32, EdgeKind)> = Vec::with_capacity(len);
    for step in steps {
        let after_realtime = kept.last().is_some_and(|l| l.1 == EdgeKind::Realtime);
        if !(after_realtime && step.1 == EdgeKind::Realtime) {
            kept.push(step);
        }
    }
    kept
}

/// Strongly connected components with more than one member (no edge is a self-loop), over
/// edges of `kinds` between nodes `active` accepts, by Tarjan's algorithm with an explicit
/// stack so that long dependency chains cannot overflow the thread's stack.
pub(super) fn components(
    adj: &Adjacency,
    kinds: Kinds,
    active: impl Fn(usize) -> bool,
) -> Vec<Vec<u32>> {
    let n = adj.len();
    let mut index = vec![NONE; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    // The simulated recursion: (node, next edge of it to explore).
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let mut next_index = 0u32;
    let mut found = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != NONE || !active(root as usize) {
            continue;
        }
        let mut descend = Some(root);
        loop {
            if let Some(v) = descend.take() {
                index[v as usize] = next_index;
                low[v as usize] = next_index;
                next_index += 1;
                stack.push(v);
                on_stack[v as usize] = true;
                calls.push((v, 0));
            }
            let Some(&(v, edge)) = calls.last() else {
                break;
            };
            let vi = v as usize;
            if let Some(&(w, kind)) = adj[vi].get(edge) {
                calls.last_mut().expect("just read").1 += 1;
                let wi = w as usize;
                if !kinds.has(kind) || !active(wi) {
                    continue;
                }
                if index[wi] == NONE {
                    descend = Some(w);
                } else if on_stack[wi] {
                    low[vi] = low[vi].min(index[wi]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[vi]);
            }
            if low[vi] == index[vi] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.reverse();
                    found.push(component);
                }
            }
        }
    }
    found
}

/// A shortest cycle through some node of the smallest cycle-bearing component of `kinds`
/// edges, as local nodes in order.
fn shortest_cycle(adj: &Adjacency, kinds: Kinds) -> Option<Vec<u32>> {
    let component = components(adj, kinds, |_| true)
        .into_iter()
        .min_by_key(Vec::len)?;
    let mut member = vec![false; adj.len()];
    for &v in &component {
        member[v as usize] = true;
    }
    let start = component[0];
    let mut bfs = Bfs::new(adj.len());
    let mut budget = usize::MAX;
    bfs.path(
        adj,
        start,
        start,
        kinds,
        |v| member[v as usize],
        &mut budget,
    )
}

/// A cycle with exactly one rw edge and otherwise `base` edges, if a bounded search finds
/// one. Reached only when `base` edges alone are acyclic here, so they order the nodes
/// topologically: an rw edge u -> v can close such a cycle only if v precedes u, and the
/// path back from v to u only visits nodes ranked between them.
fn single_rw_cycle(adj: &Adjacency, base: Kinds) -> Option<Vec<u32>> {
    let rank = topological_rank(adj, base);
    let mut candidates: Vec<(u32, u32)> = Vec::new();
    for (u, out) in adj.iter().enumerate() {
        for &(v, kind) in out {
            if kind == EdgeKind::Rw && rank[v as usize] < rank[u] {
                candidates.push((u as u32, v));
            }
        }
    }
    // Close pairs first: their paths, if any, are short and cheap to find.
    candidates.sort_by_key(|&(u, v)| rank[u as usize] - rank[v as usize]);
    let edges: usize = adj.iter().map(Vec::len).sum();
    let mut budget = SINGLE_RW_BUDGET.min(64 * edges + 1024);
    let mut bfs = Bfs::new(adj.len());
    for (u, v) in candidates {
        let (lo, hi) = (rank[v as usize], rank[u as usize]);
        let within = |w: u32| (lo..=hi).contains(&rank[w as usize]);
        if let Some(path) = bfs.path(adj, v, u, base, within, &mut budget) {
            return Some(std::iter::once(u).chain(path).collect());
        }
        if budget == 0 {
            return None;
        }
    }
    None
}

/// Position of each node in a topological order of the `kinds` edges (Kahn's algorithm);
/// nodes on a cycle of them, if any, rank last.
fn topological_rank(adj: &Adjacency, kinds: Kinds) -> Vec<usize> {
    let n = adj.len();
    let mut indegree = vec![0usize; n];
    for out in adj {
        for &(v, kind) in out {
            if kinds.has(kind) {
                indegree[v as usize] += 1;
            }
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut rank = vec![n; n];
    let mut next = 0;
    while let Some(u) = ready.pop() {
        rank[u] = next;
        next += 1;
        for &(v, kind) in &adj[u] {
            if kinds.has(kind) {
                indegree[v as usize] -= 1;
                if indegree[v as usize] == 0 {
                    ready.push(v as usize);
                }
            }
        }
    }
    rank
}

/// The weakest kind among `kinds` of the edges from `a` to `b`, so a cycle is classified by
/// the least it needs.
fn weakest_edge(adj: &Adjacency, a: u32, b: u32, kinds: Kinds) -> EdgeKind {
    adj[a as usize]
        .iter()
        .filter(|&&(to, kind)| to == b && kinds.has(kind))
        .map(|&(_, kind)| kind)
        .min()
        .expect("consecutive cycle nodes are joined by an edge")
}

/// Breadth-first search scratch space, reused across searches without clearing by stamping
/// each search's visits.
struct Bfs {
    stamp: Vec<u32>,
    parent: Vec<u32>,
    epoch: u32,
    queue: VecDeque<u32>,
}

impl Bfs {
    fn new(n: usize) -> Bfs {
        Bfs {
            stamp: vec![0; n],
            parent: vec![NONE; n],
            epoch: 0,
            queue: VecDeque::new(),
        }
    }

    /// A shortest path from `from` to a node with a `kinds` edge into `to`, through nodes
    /// `within` accepts, as the nodes from `from` up to that node (so `from == to` gives a
    /// cycle). Each edge examined spends one unit of `budget`; `None` if it runs out first.
    fn path(
        &mut self,
        adj: &Adjacency,
        from: u32,
        to: u32,
        kinds: Kinds,
        within: impl Fn(u32) -> bool,
        budget: &mut usize,
    ) -> Option<Vec<u32>> {
        self.epoch += 1;
        self.queue.clear();
        self.stamp[from as usize] = self.epoch;
        self.parent[from as usize] = NONE;
        self.queue.push_back(from);
        while let Some(u) = self.queue.pop_front() {
            for &(v, kind) in &adj[u as usize] {
                if *budget == 0 {
                    return None;
                }
                *budget -= 1;
                if !kinds.has(kind) {
                    continue;
                }
                if v == to {
                    let mut path = vec![u];
                    let mut w = u;
                    while self.parent[w as usize] != NONE {
                        w = self.parent[w as usize];
                        path.push(w);
                    }
                    path.reverse();
                    return Some(path);
                }
                if self.stamp[v as usize] != self.epoch && within(v) {
                    self.stamp[v as usize] = self.epoch;
                    self.parent[v as usize] = u;
                    self.queue.push_back(v);
                }
            }
        }
        None
    }
}
