use super::*;
use crate::history::{OpKind, OpResult, Operation, Outcome};

const BUDGET: Duration = Duration::from_secs(10);

fn op(client: u64, invoke: u64, complete: u64, kind: OpKind, outcome: Outcome) -> Operation {
    Operation {
        client,
        key: "k".into(),
        invoke_ns: invoke,
        complete_ns: complete,
        kind,
        outcome,
        revision: None,
    }
}

fn write(client: u64, invoke: u64, complete: u64, v: &str) -> Operation {
    let kind = OpKind::Write(v.into());
    op(client, invoke, complete, kind, Outcome::Ok(OpResult::Write))
}

fn write_unknown(client: u64, invoke: u64, v: &str) -> Operation {
    op(
        client,
        invoke,
        invoke + 1,
        OpKind::Write(v.into()),
        Outcome::Unknown,
    )
}

fn read(client: u64, invoke: u64, complete: u64, v: Option<&str>) -> Operation {
    let result = OpResult::Read(v.map(String::from));
    op(client, invoke, complete, OpKind::Read, Outcome::Ok(result))
}

fn cas(client: u64, invoke: u64, complete: u64, from: &str, to: &str, ok: bool) -> Operation {
    let kind = OpKind::Cas {
        expected: Some(from.into()),
        new: to.into(),
    };
    op(
        client,
        invoke,
        complete,
        kind,
        Outcome::Ok(OpResult::Cas(ok)),
    )
}

fn assert_linearizable(ops: &[Operation]) {
    assert_eq!(check(ops, None, BUDGET), Verdict::Linearizable, "{ops:#?}");
}

fn counterexample(ops: &[Operation]) -> Counterexample {
    match check(ops, None, BUDGET) {
        Verdict::NotLinearizable(c) => *c,
        other => panic!("expected a violation, got {other:?} for {ops:#?}"),
    }
}

#[test]
fn empty_history_is_linearizable() {
    assert_linearizable(&[]);
}

#[test]
fn sequential_and_concurrent_histories_pass() {
    assert_linearizable(&[
        read(1, 0, 1, None),
        write(1, 2, 3, "a"),
        read(2, 4, 5, Some("a")),
        cas(1, 6, 7, "a", "b", true),
        cas(2, 8, 9, "a", "c", false),
        read(1, 10, 11, Some("b")),
    ]);
    // Overlapping writes: a read may see either, as long as later reads agree.
    assert_linearizable(&[
        write(1, 0, 10, "a"),
        write(2, 0, 10, "b"),
        read(3, 5, 12, Some("a")),
        read(3, 13, 14, Some("a")),
    ]);
    // A read concurrent with a write may still see the old value.
    assert_linearizable(&[
        write(1, 0, 1, "a"),
        write(2, 2, 10, "b"),
        read(3, 3, 4, Some("a")),
        read(3, 5, 6, Some("b")),
    ]);
}

#[test]
fn equal_timestamps_are_treated_as_concurrent() {
    assert_linearizable(&[write(1, 0, 5, "a"), read(2, 5, 6, None)]);
}

#[test]
fn unknown_write_assumed_applied() {
    // The write timed out, yet a later read saw its value: it must have taken effect,
    // even after the client gave up on it.
    assert_linearizable(&[
        write(1, 0, 1, "a"),
        write_unknown(2, 2, "b"),
        read(3, 100, 101, Some("a")),
        read(3, 200, 201, Some("b")),
    ]);
}

#[test]
fn unknown_write_assumed_not_applied() {
    assert_linearizable(&[
        write(1, 0, 1, "a"),
        write_unknown(2, 2, "b"),
        read(3, 100, 101, Some("a")),
        read(3, 200, 201, Some("a")),
    ]);
}

#[test]
fn unknown_cas_may_apply_only_when_it_could_swap() {
    let unknown_cas = op(
        2,
        2,
        3,
        OpKind::Cas {
            expected: Some("a".into()),
            new: "b".into(),
        },
        Outcome::Unknown,
    );
    assert_linearizable(&[
        write(1, 0, 1, "a"),
        unknown_cas.clone(),
        read(3, 10, 11, Some("b")),
    ]);
    // Had the register held "z" throughout, the swap could never have produced "b".
    counterexample(&[write(1, 0, 1, "z"), unknown_cas, read(3, 10, 11, Some("b"))]);
}

#[test]
fn failed_and_unknown_reads_are_ignored() {
    let failed_write = op(2, 2, 3, OpKind::Write("b".into()), Outcome::Fail);
    let unknown_read = op(3, 2, 3, OpKind::Read, Outcome::Unknown);
    assert_linearizable(&[
        write(1, 0, 1, "a"),
        failed_write.clone(),
        unknown_read,
        read(1, 4, 5, Some("a")),
    ]);
    // A failed write was never applied, so nobody may read its value.
    let c = counterexample(&[write(1, 0, 1, "a"), failed_write, read(1, 4, 5, Some("b"))]);
    assert_eq!(c.stuck_on, read(1, 4, 5, Some("b")));
}

#[test]
fn stale_read_after_acknowledged_write() {
    let stale = read(2, 20, 21, Some("a"));
    let history = [write(1, 0, 1, "a"), write(1, 10, 11, "b"), stale.clone()];
    let c = counterexample(&history);
    assert_eq!(c.stuck_on, stale);
    assert_eq!(c.state, Some("b".into()));
    assert_eq!(c.prefix_tail, vec![history[0].clone(), history[1].clone()]);
    assert_eq!(c.pending, vec![stale]);
}

#[test]
fn cas_succeeding_against_value_never_current() {
    let bogus = cas(2, 20, 21, "x", "c", true);
    let c = counterexample(&[write(1, 0, 1, "a"), write(1, 10, 11, "b"), bogus.clone()]);
    assert_eq!(c.stuck_on, bogus);
}

#[test]
fn cas_refused_although_value_was_current() {
    counterexample(&[write(1, 0, 1, "a"), cas(2, 10, 11, "a", "b", false)]);
}

#[test]
fn read_of_value_never_written() {
    let c = counterexample(&[
        write(1, 0, 10, "a"),
        write(2, 0, 10, "b"),
        read(3, 5, 15, Some("zzz")),
    ]);
    assert_eq!(c.stuck_on, read(3, 5, 15, Some("zzz")));
}

#[test]
fn initial_value_is_respected() {
    let history = [read(1, 0, 1, Some("init"))];
    let init = "init".to_string();
    assert_eq!(check(&history, Some(&init), BUDGET), Verdict::Linearizable);
    assert!(matches!(
        check(&history, None, BUDGET),
        Verdict::NotLinearizable(_)
    ));
}

#[test]
fn exceeding_the_budget_is_unknown() {
    // Forty concurrent writes followed by an impossible read: proving it impossible means
    // trying every subset of the writes, which no small budget allows.
    let mut history: Vec<Operation> = (0..40)
        .map(|i| write(i, 0, 1000, &format!("v{i}")))
        .collect();
    history.push(read(99, 2000, 2001, Some("never")));
    assert_eq!(check(&history, None, Duration::ZERO), Verdict::Unknown);
    assert_eq!(
        check(&history, None, Duration::from_millis(20)),
        Verdict::Unknown
    );
}

#[test]
fn exceeding_the_memory_bound_is_unknown() {
    // The same search with all the time in the world but room for a few thousand memo
    // entries must give up rather than grow without bound.
    let mut history: Vec<Operation> = (0..40)
        .map(|i| write(i, 0, 1000, &format!("v{i}")))
        .collect();
    history.push(read(99, 2000, 2001, Some("never")));
    let far = Instant::now() + Duration::from_secs(3600);
    assert_eq!(
        check_until(&history, None, far, 256 << 10),
        Verdict::Unknown
    );
    // A bound that small still lets an easy history through.
    let easy = [write(0, 0, 10, "a"), read(1, 20, 30, Some("a"))];
    assert_eq!(
        check_until(&easy, None, far, 256 << 10),
        Verdict::Linearizable
    );
}

#[test]
fn check_keys_partitions_by_key() {
    let mut good = write(1, 0, 1, "a");
    good.key = "good".into();
    let mut good_read = read(2, 2, 3, Some("a"));
    good_read.key = "good".into();
    let mut bad_read = read(2, 2, 3, Some("a"));
    bad_read.key = "bad".into();
    let verdicts = check_keys(&[good, good_read, bad_read.clone()], BUDGET);
    assert_eq!(verdicts["good"], Verdict::Linearizable);
    match &verdicts["bad"] {
        Verdict::NotLinearizable(c) => assert_eq!(c.stuck_on, bad_read),
        other => panic!("expected violation on key bad, got {other:?}"),
    }
    assert!(matches!(overall(&verdicts), Verdict::NotLinearizable(_)));
    let spent = check_keys(&[read(1, 0, 1, None)], Duration::ZERO);
    assert_eq!(overall(&spent), Verdict::Unknown);
}

/// xorshift64*: a tiny deterministic generator, so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs operations one at a time against a register at strictly increasing linearization
/// points, stretching each operation's interval around its point so that clients overlap.
/// Some writes end `Unknown`, applied or not at random; the history stays linearizable.
fn random_history(rng: &mut Rng, clients: u64, len: usize) -> Vec<Operation> {
    let mut free_at = vec![0u64; clients as usize];
    let mut state: Option<String> = None;
    let mut now = 0u64;
    let mut history = Vec::new();
    for n in 0..len {
        now += 1 + rng.below(3);
        let idle: Vec<u64> = (0..clients)
            .filter(|&c| free_at[c as usize] < now)
            .collect();
        if idle.is_empty() {
            now = *free_at.iter().min().unwrap() + 1;
        }
        let idle: Vec<u64> = (0..clients)
            .filter(|&c| free_at[c as usize] < now)
            .collect();
        let client = idle[rng.below(idle.len() as u64) as usize];
        let since = now - free_at[client as usize];
        let invoke = now - rng.below(since.min(8));
        let complete = now + rng.below(8);
        free_at[client as usize] = complete;
        let value = format!("v{n}");
        let (kind, outcome) = match rng.below(3) {
            0 => {
                let r = OpResult::Read(state.clone());
                (OpKind::Read, Outcome::Ok(r))
            }
            1 => {
                let unknown = rng.below(8) == 0;
                if !unknown || rng.below(2) == 0 {
                    state = Some(value.clone());
                }
                let outcome = if unknown {
                    Outcome::Unknown
                } else {
                    Outcome::Ok(OpResult::Write)
                };
                (OpKind::Write(value), outcome)
            }
            _ => {
                let expected = if rng.below(2) == 0 {
                    state.clone()
                } else {
                    Some(format!("v{}", rng.below(n as u64 + 1)))
                };
                let swapped = expected == state;
                if swapped {
                    state = Some(value.clone());
                }
                let kind = OpKind::Cas {
                    expected,
                    new: value,
                };
                (kind, Outcome::Ok(OpResult::Cas(swapped)))
            }
        };
        history.push(op(client, invoke, complete, kind, outcome));
    }
    history
}

#[test]
fn random_sequential_histories_pass_and_corrupted_reads_are_caught() {
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let history = random_history(&mut rng, 1 + seed % 5, 10 + (seed as usize % 50));
        assert_eq!(
            check(&history, None, BUDGET),
            Verdict::Linearizable,
            "seed {seed}: {history:#?}"
        );
        let reads: Vec<usize> = (0..history.len())
            .filter(|&i| matches!(history[i].outcome, Outcome::Ok(OpResult::Read(_))))
            .collect();
        if reads.is_empty() {
            continue;
        }
        let victim = reads[rng.below(reads.len() as u64) as usize];
        let mut corrupted = history.clone();
        corrupted[victim].outcome = Outcome::Ok(OpResult::Read(Some("corrupt".into())));
        let verdict = check(&corrupted, None, BUDGET);
        assert!(
            matches!(verdict, Verdict::NotLinearizable(_)),
            "seed {seed}: corrupted read not caught: {verdict:?}"
        );
    }
}
