//! Linearizability of a single register key, checked the way Wing & Gong search, with Lowe's
//! memoisation as used by Porcupine: walk the history's call/return events in real-time
//! order, tentatively linearize any pending call whose effect is legal in the current state,
//! backtrack on reaching a return whose operation is not yet linearized, and never revisit a
//! (set of linearized operations, register state) pair.
//!
//! Unknown operations return at infinity, so they may take effect anywhere after their
//! invocation or not at all; failed operations (and unknown reads, which change nothing) are
//! dropped before the search.

use crate::history::{Key, OpKind, OpResult, Operation, Outcome, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Verdict on one key's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations, consistent with real time, explains every result.
    Linearizable,
    /// No such order exists; the counterexample shows where the search got stuck.
    NotLinearizable(Box<Counterexample>),
    /// The time budget or the memory bound ran out before the search finished; nothing is
    /// claimed.
    Unknown,
}

/// Where the deepest attempt at a linearization got stuck.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The operation whose completion the search could not get past: no pending operation
    /// could be linearized that led to it being linearizable before it returned.
    pub stuck_on: Operation,
    /// Register value after the longest linearizable prefix found.
    pub state: Option<Value>,
    /// Up to [`PREFIX_TAIL`] last operations of that prefix, in linearization order.
    pub prefix_tail: Vec<Operation>,
    /// Operations invoked but not linearized when the search got stuck (includes `stuck_on`).
    pub pending: Vec<Operation>,
}

/// How many operations of the longest linearizable prefix a counterexample keeps.
pub const PREFIX_TAIL: usize = 4;

/// Checks one key's operations (all must address the same key and pass
/// [`crate::history::validate`]) starting from register value `initial`. Returns
/// [`Verdict::Unknown`] if the search has not finished within `budget`.
pub fn check(ops: &[Operation], initial: Option<&Value>, budget: Duration) -> Verdict {
    check_until(ops, initial, Instant::now() + budget, MEMO_BYTES)
}

/// Checks every key of a multi-key history independently (a register per key, each starting
/// absent) under one overall `budget`; keys reached after it is spent are `Unknown`.
pub fn check_keys(history: &[Operation], budget: Duration) -> BTreeMap<Key, Verdict> {
    let deadline = Instant::now() + budget;
    let mut by_key: BTreeMap<Key, Vec<Operation>> = BTreeMap::new();
    for op in history {
        by_key.entry(op.key.clone()).or_default().push(op.clone());
    }
    by_key
        .into_iter()
        .map(|(key, ops)| {
            let verdict = check_until(&ops, None, deadline, MEMO_BYTES);
            (key, verdict)
        })
        .collect()
}

/// Combines per-key verdicts: any violation wins, then any unfinished key, else linearizable.
pub fn overall(verdicts: &BTreeMap<Key, Verdict>) -> Verdict {
    if let Some(v) = verdicts
        .values()
        .find(|v| matches!(v, Verdict::NotLinearizable(_)))
    {
        return v.clone();
    }
    if verdicts.values().any(|v| *v == Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Linearizable
    }
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;
/// Steps between reads of the clock.
const CLOCK_EVERY: u64 = 64;

/// Most bytes the memo of visited (linearized set, state) pairs may hold for one key; a
/// search that needs more gives up with [`Verdict::Unknown`] rather than exhaust memory.
const MEMO_BYTES: usize = 2 << 30;
/// What one memo entry costs besides its bitset: the set's slot, the vector's header and
/// the allocator's rounding.
const MEMO_ENTRY_OVERHEAD: usize = 64;

/// Register state with values interned to small integers, so cache keys stay cheap.
type State = Option<u32>;

/// An operation reduced to what the search needs.
struct SearchOp {
    /// Index into the caller's slice, to report the original operation.
    source: usize,
    effect: Effect,
    /// Unknown outcome: may be left unlinearized.
    optional: bool,
}

enum Effect {
    Read(State),
    Write(u32),
    /// Swap succeeded (`Ok(true)`) or may have (unknown outcome).
    CasSwapped {
        expected: State,
        new: u32,
    },
    CasRefused {
        expected: State,
    },
}

impl Effect {
    /// The state after applying the effect to `s`, or `None` if it cannot happen in `s`.
    fn step(&self, s: State) -> Option<State> {
        match *self {
            Effect::Read(v) => (v == s).then_some(s),
            Effect::Write(v) => Some(Some(v)),
            Effect::CasSwapped { expected, new } => (expected == s).then_some(Some(new)),
            Effect::CasRefused { expected } => (expected != s).then_some(s),
        }
    }
}

/// A call or return event in a doubly linked list ordered by time; index 0 is a sentinel.
struct Entry {
    op: usize,
    is_call: bool,
    /// For a call, its return entry.
    matched: usize,
    prev: usize,
    next: usize,
}

fn check_until(
    ops: &[Operation],
    initial: Option<&Value>,
    deadline: Instant,
    memo_bytes: usize,
) -> Verdict {
    let mut ids: HashMap<Value, u32> = HashMap::new();
    let mut names: Vec<Value> = Vec::new();
    let mut intern = |v: &Value| -> u32 {
        *ids.entry(v.clone()).or_insert_with(|| {
            names.push(v.clone());
            names.len() as u32 - 1
        })
    };
    let initial_state = initial.map(&mut intern);
    let mut search_ops = Vec::new();
    for (source, op) in ops.iter().enumerate() {
        let effect = match (&op.kind, &op.outcome) {
            (_, Outcome::Fail) | (OpKind::Read, Outcome::Unknown) => continue,
            (OpKind::Read, Outcome::Ok(OpResult::Read(v))) => {
                Effect::Read(v.as_ref().map(&mut intern))
            }
            (OpKind::Write(v), Outcome::Ok(OpResult::Write) | Outcome::Unknown) => {
                Effect::Write(intern(v))
            }
            (
                OpKind::Cas { expected, new },
                Outcome::Ok(OpResult::Cas(true)) | Outcome::Unknown,
            ) => Effect::CasSwapped {
                expected: expected.as_ref().map(&mut intern),
                new: intern(new),
            },
            (OpKind::Cas { expected, .. }, Outcome::Ok(OpResult::Cas(false))) => {
                Effect::CasRefused {
                    expected: expected.as_ref().map(&mut intern),
                }
            }
            _ => {
                panic!("linearizability check given a malformed operation (validate first): {op:?}")
            }
        };
        search_ops.push(SearchOp {
            source,
            effect,
            optional: op.outcome == Outcome::Unknown,
        });
    }
    let value_of = |s: State| s.map(|id| names[id as usize].clone());
    let original = |i: usize| ops[search_ops[i].source].clone();

    let mut entries = build_entries(ops, &search_ops);
    let mut linearized = vec![0u64; search_ops.len().div_ceil(64)];
    let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
    let memo_entries = memo_bytes / (linearized.len() * 8 + MEMO_ENTRY_OVERHEAD);
    // Linearized calls, innermost last, with the state before each.
    let mut calls: Vec<(usize, State)> = Vec::new();
    let mut state = initial_state;
    let mut deepest: Option<(usize, Counterexample)> = None;
    // Steps left before the clock is read again.
    let mut until_clock = 0u64;
    let mut entry = entries[HEAD].next;
    loop {
        if entries[HEAD].next == NIL {
            return Verdict::Linearizable;
        }
        if until_clock == 0 {
            if Instant::now() >= deadline || cache.len() >= memo_entries {
                return Verdict::Unknown;
            }
            until_clock = CLOCK_EVERY;
        }
        until_clock -= 1;
        let e = &entries[entry];
        let op = &search_ops[e.op];
        if e.is_call {
            if let Some(next_state) = op.effect.step(state) {
                let mut next_set = linearized.clone();
                next_set[e.op / 64] |= 1 << (e.op % 64);
                if cache.insert((next_set.clone(), next_state)) {
                    calls.push((entry, state));
                    state = next_state;
                    linearized = next_set;
                    lift(&mut entries, entry);
                    entry = entries[HEAD].next;
                    continue;
                }
            }
            entry = e.next;
            continue;
        }
        if op.optional {
            // Every entry left returns at infinity: each unknown operation still pending is
            // taken never to have been applied.
            return Verdict::Linearizable;
        }
        let deeper = match &deepest {
            Some((depth, _)) => calls.len() > *depth,
            None => true,
        };
        if deeper {
            let mut pending = Vec::new();
            let mut walk = entries[HEAD].next;
            while walk != entry {
                if entries[walk].is_call {
                    pending.push(original(entries[walk].op));
                }
                walk = entries[walk].next;
            }
            let tail = &calls[calls.len().saturating_sub(PREFIX_TAIL)..];
            let counterexample = Counterexample {
                stuck_on: original(e.op),
                state: value_of(state),
                prefix_tail: tail.iter().map(|&(c, _)| original(entries[c].op)).collect(),
                pending,
            };
            deepest = Some((calls.len(), counterexample));
        }
        let Some((call, previous)) = calls.pop() else {
            let (_, counterexample) = deepest.expect("recorded before giving up");
            return Verdict::NotLinearizable(Box::new(counterexample));
        };
        let op_index = entries[call].op;
        linearized[op_index / 64] &= !(1 << (op_index % 64));
        state = previous;
        unlift(&mut entries, call);
        entry = entries[call].next;
    }
}

/// Lays out call and return entries by time. At equal times calls come first, treating the
/// operations as concurrent: a coarse clock must not manufacture a violation.
fn build_entries(ops: &[Operation], search_ops: &[SearchOp]) -> Vec<Entry> {
    // (time, is_return, op)
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(search_ops.len() * 2);
    for (i, op) in search_ops.iter().enumerate() {
        let source = &ops[op.source];
        events.push((source.invoke_ns, false, i));
        events.push((source.effect_deadline_ns(), true, i));
    }
    events.sort_unstable();
    let mut entries = vec![Entry {
        op: NIL,
        is_call: false,
        matched: NIL,
        prev: NIL,
        next: NIL,
    }];
    let mut call_of = vec![NIL; search_ops.len()];
    for (time_order, &(_, is_return, op)) in events.iter().enumerate() {
        let index = time_order + 1;
        entries.push(Entry {
            op,
            is_call: !is_return,
            matched: NIL,
            prev: index - 1,
            next: NIL,
        });
        entries[index - 1].next = index;
        if is_return {
            entries[call_of[op]].matched = index;
        } else {
            call_of[op] = index;
        }
    }
    entries
}

/// Unlinks a call and its return.
fn lift(entries: &mut [Entry], call: usize) {
    for e in [call, entries[call].matched] {
        let (prev, next) = (entries[e].prev, entries[e].next);
        entries[prev].next = next;
        if next != NIL {
            entries[next].prev = prev;
        }
    }
}

/// Relinks what [`lift`] unlinked, in reverse order.
fn unlift(entries: &mut [Entry], call: usize) {
    for e in [entries[call].matched, call] {
        let (prev, next) = (entries[e].prev, entries[e].next);
        entries[prev].next = e;
        if next != NIL {
            entries[next].prev = e;
        }
    }
}

#[cfg(test)]
mod tests;
