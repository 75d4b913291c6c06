//! Shrinking a rejected history to a small sub-history that is still rejected, so a person
//! can read the anomaly instead of a ten-minute history.
//!
//! [`shrink`] is Zeller and Hildebrandt's delta debugging (`ddmin`) over any list and any
//! predicate: split the current failing list into `n` chunks, keep a chunk that still
//! fails, else a complement (the list minus one chunk) that still fails, else split finer;
//! stop when the chunks are single items and no complement fails. The result then is
//! *1-minimal*: removing any one item makes the predicate pass. Chunks are contiguous and
//! complements keep the remaining items in place, so the result is a subsequence of the
//! input. A time budget bounds the search; when it runs out, the smallest failing list found
//! so far is returned, just not claimed minimal.
//!
//! # Shrinking register histories soundly
//!
//! [`shrink_register`] wants a witness: a sub-history `K` of a key's history `H` such that
//! "`K` is not linearizable" implies "`H` is not linearizable". Dropping operations
//! arbitrarily does not give that. If `L` is a linearization of `H`, the restriction of `L`
//! to `K` keeps the real-time order (it is a subsequence), but an operation of `K` that
//! looks at the register may now see a different value: the value it saw in `L` came from
//! the last state-changing operation before it in `L` (a write, or a CAS that swapped), and
//! if that operation was dropped it sees an older one. Drop `w(a)` from the sequential
//! history `w(b); w(a); cas(b→c) refused` and the refused CAS becomes impossible although
//! the whole history is fine. So a kept operation `x` must keep `p(x)`, the last state change
//! before it in `L`. We do not know `L`, but we know enough about `p(x)`:
//!
//! - a read that returned `Some(v)`, or a CAS that expected `Some(v)` and swapped (or may
//!   have, when its outcome is unknown): `p(x)` wrote `v`, so it is one of the operations
//!   that may have written `v` (exactly one when values are unique, as the workload makes
//!   them); all of them are kept with `x`. A read of `None` or a CAS expecting `None` saw the
//!   initial state: no state change precedes it in `L`, nor in any restriction of `L`.
//! - a refused CAS expecting `e` saw some value other than `e`, which does not name its
//!   writer. It stays legal in the restriction if no kept operation may have written `e`
//!   (then no state it can see is `e`; this needs `e` to be `Some`, since `None` is the
//!   initial state), or else if every state change that could be `p(x)` is kept. Those are
//!   the state changes not forced after `x` by real time (invoked before `x` returned),
//!   less any that complete before some acknowledged state change is invoked which itself
//!   completes before `x` is invoked: that one comes between them in every `L`.
//! - writes look at nothing; failed operations and unknown reads are ignored by the checker.
//!
//! Under these rules every kept operation that looks at the register sees, in `L` restricted
//! to `K`, the same state as in `L`, or (the refused CAS whose expected value no kept
//! operation writes) a state that still differs from the one it expected. Either way it
//! stays legal, so the restriction is a linearization of `K`: if `H` is linearizable, so is
//! `K`, and contrapositively a non-linearizable `K` proves `H` non-linearizable.
//!
//! Shrinking therefore never checks an arbitrary subset `C` but its largest closed part: `C`
//! less every operation whose requirement is not met, repeatedly, since dropping a write
//! drops the reads of its value, which may drop a CAS that swapped from it, and so on.
//! Removing one operation from a result thus also removes what observed it, and
//! "1-minimal" means that each such removal makes the checker accept the rest (or not decide
//! within its per-call budget).
//!
//! The checker's own verdicts are sound, and a subset it cannot decide in time counts as
//! passing, so the result is always a history the checker itself rejected.

use crate::history::{OpKind, OpResult, Operation, Outcome, Value};
use crate::linearizable::{self, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Time given to each linearizability check while shrinking. Subsets are small and checked
/// many times; one the checker cannot decide this fast counts as passing, which can only
/// leave the result larger, never wrong.
pub const CHECK_BUDGET: Duration = Duration::from_millis(200);

/// Result of shrinking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk<T> {
    /// A sub-list, in original order, that the predicate rejected (still fails).
    pub items: Vec<T>,
    /// The search finished: removing any single item of `items` makes the predicate pass.
    /// `false` when the budget ran out first or the input did not fail to begin with.
    pub one_minimal: bool,
    /// How many times the predicate was called, the initial call included.
    pub tests: usize,
}

/// Delta-debugs `items` down to a 1-minimal sub-list on which `still_fails` holds, keeping
/// the original relative order. `still_fails` is first called on the whole input; if it does
/// not fail, the input is returned unchanged with `one_minimal: false`. Once `budget` has
/// elapsed no further call is started, so this returns within `budget` plus one call, with
/// the smallest failing sub-list found so far. Every returned list (other than an input that
/// passed) is one on which `still_fails` returned true.
pub fn shrink<T: Clone>(
    items: &[T],
    still_fails: impl FnMut(&[T]) -> bool,
    budget: Duration,
) -> Shrunk<T> {
    let mut tester = Tester {
        items,
        still_fails,
        tests: 0,
        deadline: Instant::now().checked_add(budget),
    };
    let mut current: Vec<usize> = (0..items.len()).collect();
    if !tester.fails(&current) {
        return Shrunk {
            items: items.to_vec(),
            one_minimal: false,
            tests: tester.tests,
        };
    }
    let one_minimal = ddmin(&mut tester, &mut current);
    Shrunk {
        items: current.iter().map(|&i| items[i].clone()).collect(),
        one_minimal,
        tests: tester.tests,
    }
}

/// Calls the predicate on subsets given as indices, counting calls and minding the budget.
struct Tester<'a, T, F> {
    items: &'a [T],
    still_fails: F,
    tests: usize,
    /// `None` when the budget is too large to represent: no limit.
    deadline: Option<Instant>,
}

impl<T: Clone, F: FnMut(&[T]) -> bool> Tester<'_, T, F> {
    fn fails(&mut self, subset: &[usize]) -> bool {
        self.tests += 1;
        let items: Vec<T> = subset.iter().map(|&i| self.items[i].clone()).collect();
        (self.still_fails)(&items)
    }

    /// `None` once the budget is spent.
    fn fails_in_budget(&mut self, subset: &[usize]) -> Option<bool> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => None,
            _ => Some(self.fails(subset)),
        }
    }
}

/// Shrinks `current` (known to fail) in place; returns whether it ended 1-minimal.
fn ddmin<T: Clone, F: FnMut(&[T]) -> bool>(
    tester: &mut Tester<'_, T, F>,
    current: &mut Vec<usize>,
) -> bool {
    let mut n = 2;
    'search: loop {
        if current.is_empty() {
            // Nothing left to remove.
            return true;
        }
        n = n.min(current.len());
        let bounds: Vec<(usize, usize)> = (0..n)
            .map(|i| (i * current.len() / n, (i + 1) * current.len() / n))
            .collect();
        // With one chunk the only subset is `current` itself, already known to fail.
        if n > 1 {
            for &(start, end) in &bounds {
                let chunk = current[start..end].to_vec();
                match tester.fails_in_budget(&chunk) {
                    None => return false,
                    Some(true) => {
                        *current = chunk;
                        n = 2;
                        continue 'search;
                    }
                    Some(false) => {}
                }
            }
        }
        // With two chunks each complement is the other chunk, just tested.
        if n != 2 {
            for &(start, end) in &bounds {
                let complement: Vec<usize> = [&current[..start], &current[end..]].concat();
                match tester.fails_in_budget(&complement) {
                    None => return false,
                    Some(true) => {
                        *current = complement;
                        n = (n - 1).max(2);
                        continue 'search;
                    }
                    Some(false) => {}
                }
            }
        }
        if n == current.len() {
            // Every single item was removed on its own (as a complement) and it passed.
            return true;
        }
        n = (2 * n).min(current.len());
    }
}

/// Shrinks the first key (in key order) whose history is not linearizable, from an initially
/// absent register, to a sub-history of that key which [`linearizable::check`] still
/// reports [`Verdict::NotLinearizable`] and which is a witness (see the module
/// documentation): it cannot be linearized, so neither can the whole history. Returns `None`
/// when no key is found not linearizable, which includes keys the checker cannot decide
/// within `budget`. Operations must pass [`crate::history::validate`].
///
/// `budget` covers finding the key and shrinking it; each check while shrinking gets
/// [`CHECK_BUDGET`], so this returns within about `budget + CHECK_BUDGET`. If time runs out
/// the witness is merely smaller than the key's history, and `one_minimal` is `false`.
/// When `one_minimal` is `true`, removing any one operation of the witness together with
/// the operations that observed what it wrote leaves a history the checker accepts (or
/// cannot decide within [`CHECK_BUDGET`]).
pub fn shrink_register(ops: &[Operation], budget: Duration) -> Option<Shrunk<Operation>> {
    let started = Instant::now();
    let mut by_key: BTreeMap<&str, Vec<Operation>> = BTreeMap::new();
    for op in ops {
        by_key.entry(op.key.as_str()).or_default().push(op.clone());
    }
    for key_ops in by_key.values() {
        let left = budget.saturating_sub(started.elapsed());
        if left.is_zero() {
            return None;
        }
        if let Verdict::NotLinearizable(_) = linearizable::check(key_ops, None, left) {
            let left = budget.saturating_sub(started.elapsed());
            return Some(shrink_key(key_ops, left));
        }
    }
    None
}

/// Shrinks one key's history, known not to be linearizable, over closed subsets only.
fn shrink_key(ops: &[Operation], budget: Duration) -> Shrunk<Operation> {
    let requirements = Requirements::of(ops);
    let all: Vec<usize> = (0..ops.len()).collect();
    let rejected = |chosen: &[usize]| {
        // The whole history was just found not linearizable; no need to search it again.
        if chosen.len() == ops.len() {
            return true;
        }
        let kept: Vec<Operation> = requirements
            .closed(chosen)
            .into_iter()
            .map(|i| ops[i].clone())
            .collect();
        matches!(
            linearizable::check(&kept, None, CHECK_BUDGET),
            Verdict::NotLinearizable(_)
        )
    };
    let shrunk = shrink(&all, rejected, budget);
    // The predicate judged the closed part of what ddmin kept; return exactly that.
    let kept = requirements.closed(&shrunk.items);
    Shrunk {
        one_minimal: shrunk.one_minimal && kept.len() == shrunk.items.len(),
        items: kept.into_iter().map(|i| ops[i].clone()).collect(),
        tests: shrunk.tests,
    }
}

/// For each operation of one key's history, what must be kept with it for a sub-history to
/// stay a witness (the rules of the module documentation). Indices are into that history.
#[derive(Debug)]
struct Requirements {
    /// Operations that may have written the value each operation observed; all are needed.
    observes: Vec<Vec<usize>>,
    /// The reverse of `observes`: who must go when an operation goes.
    observed_by: Vec<Vec<usize>>,
    /// Refused CASes and what each needs.
    refused: Vec<(usize, Refused)>,
}

/// What keeps a refused CAS legal in a sub-history: either of two conditions.
#[derive(Debug)]
struct Refused {
    /// Operations that may have written the expected value; none of them kept suffices.
    /// `None` when the expected value is the initial (absent) state, which needs no writer.
    expected_writers: Option<Vec<usize>>,
    /// State changes that may be the last one before the CAS; all of them kept suffices.
    may_precede: Vec<usize>,
}

impl Refused {
    fn satisfied(&self, kept: &[bool]) -> bool {
        let expected_unwritten = self
            .expected_writers
            .as_ref()
            .is_some_and(|writers| writers.iter().all(|&w| !kept[w]));
        expected_unwritten || self.may_precede.iter().all(|&p| kept[p])
    }
}

impl Requirements {
    fn of(ops: &[Operation]) -> Requirements {
        // Every operation that may have changed the register, by the value it wrote.
        let mut writers: HashMap<&Value, Vec<usize>> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            if let Some(v) = written(op) {
                writers.entry(v).or_default().push(i);
            }
        }
        let writers_of = |v: &Value| writers.get(v).cloned().unwrap_or_default();
        let mut observes = vec![Vec::new(); ops.len()];
        let mut refused = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            match (&op.kind, &op.outcome) {
                (OpKind::Read, Outcome::Ok(OpResult::Read(Some(v)))) => observes[i] = writers_of(v),
                (
                    OpKind::Cas {
                        expected: Some(v), ..
                    },
                    Outcome::Ok(OpResult::Cas(true)) | Outcome::Unknown,
                ) => observes[i] = writers_of(v),
                (OpKind::Cas { expected, .. }, Outcome::Ok(OpResult::Cas(false))) => {
                    refused.push((
                        i,
                        Refused {
                            expected_writers: expected.as_ref().map(writers_of),
                            may_precede: may_precede(ops, i),
                        },
                    ));
                }
                _ => {}
            }
        }
        let mut observed_by = vec![Vec::new(); ops.len()];
        for (i, needs) in observes.iter().enumerate() {
            for &w in needs {
                observed_by[w].push(i);
            }
        }
        Requirements {
            observes,
            observed_by,
            refused,
        }
    }

    /// The largest part of `chosen` in which every operation's requirement is met, sorted.
    /// Only `observes` chains: dropping a writer drops its observers, and so on. Refused
    /// CASes are settled afterwards, since no requirement names them.
    fn closed(&self, chosen: &[usize]) -> Vec<usize> {
        let n = self.observes.len();
        let mut kept = vec![false; n];
        for &i in chosen {
            kept[i] = true;
        }
        let mut dropped: Vec<usize> = (0..n).filter(|&i| !kept[i]).collect();
        while let Some(gone) = dropped.pop() {
            for &observer in &self.observed_by[gone] {
                if kept[observer] {
                    kept[observer] = false;
                    dropped.push(observer);
                }
            }
        }
        let unsatisfied: Vec<usize> = self
            .refused
            .iter()
            .filter(|(i, r)| kept[*i] && !r.satisfied(&kept))
            .map(|(i, _)| *i)
            .collect();
        for i in unsatisfied {
            kept[i] = false;
        }
        (0..n).filter(|&i| kept[i]).collect()
    }
}

/// The value an operation may have written, if it may have changed the register at all.
fn written(op: &Operation) -> Option<&Value> {
    match (&op.kind, &op.outcome) {
        (OpKind::Write(v), Outcome::Ok(OpResult::Write) | Outcome::Unknown) => Some(v),
        (OpKind::Cas { new, .. }, Outcome::Ok(OpResult::Cas(true)) | Outcome::Unknown) => Some(new),
        _ => None,
    }
}

/// State changes that may be the last one before operation `x` in some linearization: those
/// not forced after `x` by real time, less those that complete before an acknowledged state
/// change is invoked which itself completes before `x` is invoked. Precedence is strict, as
/// in the checker: operations that touch at an instant are concurrent.
fn may_precede(ops: &[Operation], x: usize) -> Vec<usize> {
    let op = &ops[x];
    // The latest invocation among acknowledged state changes certainly before `x`: any state
    // change completing before it is certainly overwritten before `x`.
    let latest_forced = ops
        .iter()
        .filter(|z| written(z).is_some() && matches!(z.outcome, Outcome::Ok(_)))
        .filter(|z| z.complete_ns < op.invoke_ns)
        .map(|z| z.invoke_ns)
        .max();
    ops.iter()
        .enumerate()
        .filter(|&(y, candidate)| {
            y != x
                && written(candidate).is_some()
                && candidate.invoke_ns <= op.effect_deadline_ns()
                && latest_forced.is_none_or(|m| candidate.effect_deadline_ns() >= m)
        })
        .map(|(y, _)| y)
        .collect()
}

#[cfg(test)]
mod tests;
