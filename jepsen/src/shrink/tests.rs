use super::*;
use crate::linearizable::check;

const BUDGET: Duration = Duration::from_secs(20);

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

fn rejected(ops: &[Operation]) -> bool {
    matches!(check(ops, None, BUDGET), Verdict::NotLinearizable(_))
}

fn is_subsequence(part: &[Operation], whole: &[Operation]) -> bool {
    let mut rest = whole.iter();
    part.iter().all(|p| rest.any(|w| w == p))
}

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// What [`random_history`] may generate besides reads, writes and CASes that all succeed.
struct Mix {
    /// Some writes and CASes end `Unknown` (applied or not at random), some operations `Fail`.
    uncertain: bool,
    /// After this many operations, three sequential operations that no order can explain:
    /// `w(x1)`, `w(x2)`, then a read of `x1`.
    stale_read_at: Option<usize>,
}

/// Runs operations one at a time against a register at increasing linearization points,
/// stretching each operation's interval around its point so that clients overlap. Without
/// the injected stale read the history is linearizable by construction.
fn random_history(rng: &mut Rng, key: &str, clients: u64, len: usize, mix: &Mix) -> Vec<Operation> {
    let mut free_at = vec![0u64; clients as usize];
    let mut state: Option<String> = None;
    let mut now = 0u64;
    let mut history = Vec::new();
    for n in 0..len {
        if mix.stale_read_at == Some(n) {
            // Clear of every interval so far, so real time alone orders these three.
            now = free_at.iter().copied().max().unwrap_or(0).max(now) + 10;
            let (x1, x2) = (format!("{key}-x1"), format!("{key}-x2"));
            history.push(write(99, now, now + 1, &x1));
            history.push(write(99, now + 2, now + 3, &x2));
            history.push(read(99, now + 4, now + 5, Some(&x1)));
            state = Some(x2);
            now += 6;
        }
        now += 1 + rng.below(3);
        if free_at.iter().all(|&f| f >= now) {
            now = free_at.iter().copied().min().unwrap() + 1;
        }
        let idle: Vec<u64> = (0..clients)
            .filter(|&c| free_at[c as usize] < now)
            .collect();
        let client = idle[rng.below(idle.len() as u64) as usize];
        let since = now - free_at[client as usize];
        let invoke = now - rng.below(since.min(8));
        let complete = now + rng.below(8);
        free_at[client as usize] = complete;
        let value = format!("{key}-v{n}");
        let uncertain = mix.uncertain && rng.below(6) == 0;
        let (kind, outcome) = match rng.below(3) {
            0 => {
                let outcome = if uncertain {
                    Outcome::Fail
                } else {
                    Outcome::Ok(OpResult::Read(state.clone()))
                };
                (OpKind::Read, outcome)
            }
            1 => {
                let applied = !uncertain || rng.below(2) == 0;
                if applied {
                    state = Some(value.clone());
                }
                let outcome = if uncertain {
                    Outcome::Unknown
                } else {
                    Outcome::Ok(OpResult::Write)
                };
                (OpKind::Write(value), outcome)
            }
            _ => {
                let expected = match rng.below(3) {
                    0 => state.clone(),
                    1 => None,
                    _ => Some(format!("{key}-v{}", rng.below(n as u64 + 1))),
                };
                let swapped = expected == state && (!uncertain || rng.below(2) == 0);
                if swapped {
                    state = Some(value.clone());
                }
                let outcome = if uncertain {
                    Outcome::Unknown
                } else {
                    Outcome::Ok(OpResult::Cas(swapped))
                };
                let kind = OpKind::Cas {
                    expected,
                    new: value,
                };
                (kind, outcome)
            }
        };
        history.push(op(client, invoke, complete, kind, outcome));
    }
    for op in &mut history {
        op.key = key.into();
    }
    history
}

#[test]
fn ddmin_finds_the_two_items_that_matter() {
    let items: Vec<u32> = (0..100).collect();
    let shrunk = shrink(
        &items,
        |xs| xs.contains(&3) && xs.contains(&7),
        Duration::from_secs(10),
    );
    assert_eq!(shrunk.items, vec![3, 7]);
    assert!(shrunk.one_minimal);
    assert!(shrunk.tests < 100, "{} tests", shrunk.tests);

    // Order is the input's, not sorted.
    let reversed: Vec<u32> = (0..100).rev().collect();
    let shrunk = shrink(
        &reversed,
        |xs| xs.contains(&3) && xs.contains(&7),
        Duration::from_secs(10),
    );
    assert_eq!(shrunk.items, vec![7, 3]);
}

#[test]
fn ddmin_edge_cases() {
    let items: Vec<u32> = (0..10).collect();
    let passing = shrink(&items, |_| false, Duration::from_secs(10));
    assert_eq!(passing.items, items);
    assert!(!passing.one_minimal);
    assert_eq!(passing.tests, 1);

    let always = shrink(&items, |_| true, Duration::from_secs(10));
    assert!(always.items.is_empty());
    assert!(always.one_minimal);

    let single = shrink(&[5u32], |xs| xs == [5], Duration::from_secs(10));
    assert_eq!(single.items, vec![5]);
    assert!(single.one_minimal);

    let empty = shrink::<u32>(&[], |_| true, Duration::from_secs(10));
    assert!(empty.items.is_empty() && empty.one_minimal);

    // A subset that fails only with three scattered items.
    let shrunk = shrink(
        &(0..64).collect::<Vec<u32>>(),
        |xs| [1, 30, 63].iter().all(|x| xs.contains(x)),
        Duration::from_secs(10),
    );
    assert_eq!(shrunk.items, vec![1, 30, 63]);
    assert!(shrunk.one_minimal);
}

#[test]
fn ddmin_stops_when_the_budget_is_spent() {
    let call = Duration::from_millis(20);
    let budget = Duration::from_millis(100);
    let items: Vec<u32> = (0..1000).collect();
    let started = Instant::now();
    let shrunk = shrink(
        &items,
        |xs| {
            std::thread::sleep(call);
            xs.contains(&3) && xs.contains(&7)
        },
        budget,
    );
    let elapsed = started.elapsed();
    // One call may start just before the deadline; allow scheduling noise on top.
    assert!(
        elapsed < budget + call + Duration::from_millis(100),
        "{elapsed:?}"
    );
    assert!(!shrunk.one_minimal);
    assert!(shrunk.items.contains(&3) && shrunk.items.contains(&7));
    assert!(shrunk.items.len() < items.len());
    assert!(shrunk.tests <= (budget.as_millis() / call.as_millis()) as usize + 1);
}

#[test]
fn a_buried_stale_read_shrinks_to_the_three_operations_involved() {
    let mut rng = Rng::new(7);
    let mix = Mix {
        uncertain: true,
        stale_read_at: Some(50),
    };
    let mut history = random_history(&mut rng, "k", 4, 100, &mix);
    let quiet = Mix {
        uncertain: true,
        stale_read_at: None,
    };
    history.extend(random_history(&mut rng, "noise", 4, 100, &quiet));
    history.sort_by_key(|op| (op.invoke_ns, op.client));
    assert_eq!(history.len(), 203);
    assert!(rejected(&history));

    let shrunk = shrink_register(&history, Duration::from_secs(30)).expect("not linearizable");
    assert!(shrunk.items.len() <= 6, "{:#?}", shrunk.items);
    assert!(shrunk.one_minimal);
    assert!(rejected(&shrunk.items), "{:#?}", shrunk.items);
    assert!(is_subsequence(&shrunk.items, &history));
    assert!(shrunk.items.iter().all(|op| op.key == "k"));
    let read_x1 = read(99, 0, 0, Some("k-x1"));
    assert!(shrunk
        .items
        .iter()
        .any(|op| op.kind == read_x1.kind && op.outcome == read_x1.outcome));
}

#[test]
fn a_wrongly_refused_cas_keeps_what_it_may_have_seen() {
    let mut rng = Rng::new(11);
    let mix = Mix {
        uncertain: false,
        stale_read_at: None,
    };
    let mut history = random_history(&mut rng, "k", 3, 60, &mix);
    let end = history.iter().map(|op| op.complete_ns).max().unwrap();
    // The register holds "a" and nothing else is in flight, yet the CAS from "a" is refused.
    history.push(write(7, end + 10, end + 11, "a"));
    history.push(cas(7, end + 12, end + 13, "a", "b", false));
    assert!(rejected(&history));

    let shrunk = shrink_register(&history, Duration::from_secs(30)).expect("not linearizable");
    assert_eq!(shrunk.items, history[history.len() - 2..].to_vec());
    assert!(shrunk.one_minimal);
}

#[test]
fn linearizable_histories_give_nothing_to_shrink() {
    let mut rng = Rng::new(3);
    let mix = Mix {
        uncertain: true,
        stale_read_at: None,
    };
    let mut history = random_history(&mut rng, "a", 4, 80, &mix);
    history.extend(random_history(&mut rng, "b", 4, 80, &mix));
    assert_eq!(shrink_register(&history, BUDGET), None);
    assert_eq!(shrink_register(&[], BUDGET), None);
}

#[test]
fn the_first_failing_key_is_shrunk() {
    let stale = |key: &str| {
        let mut ops = vec![
            write(1, 0, 1, "x"),
            write(1, 2, 3, "y"),
            read(2, 4, 5, Some("x")),
        ];
        for op in &mut ops {
            op.key = key.into();
        }
        ops
    };
    let mut history = stale("c");
    history.extend(stale("b"));
    history.push(Operation {
        key: "a".into(),
        ..read(3, 0, 9, None)
    });
    let shrunk = shrink_register(&history, BUDGET).expect("not linearizable");
    assert!(shrunk.items.iter().all(|op| op.key == "b"));
    assert_eq!(shrunk.items.len(), 3);
}

#[test]
fn closed_subsets_drop_what_observed_a_dropped_write() {
    // w(a); cas(a→b); read b: the read needs the CAS, which needs the write.
    let chain = vec![
        write(1, 0, 1, "a"),
        cas(1, 2, 3, "a", "b", true),
        read(1, 4, 5, Some("b")),
    ];
    let requirements = Requirements::of(&chain);
    assert_eq!(requirements.closed(&[0, 1, 2]), vec![0, 1, 2]);
    assert_eq!(requirements.closed(&[1, 2]), Vec::<usize>::new());
    assert_eq!(requirements.closed(&[0, 2]), vec![0]);
    assert_eq!(requirements.closed(&[0, 1]), vec![0, 1]);

    // w(b); w(a); cas(b→c) refused: linearizable, but not without w(a).
    let refused = vec![
        write(1, 0, 1, "b"),
        write(1, 2, 3, "a"),
        cas(1, 4, 5, "b", "c", false),
    ];
    assert!(!rejected(&refused));
    assert!(rejected(&[refused[0].clone(), refused[2].clone()]));
    let requirements = Requirements::of(&refused);
    assert_eq!(may_precede(&refused, 2), vec![1]);
    assert_eq!(requirements.closed(&[0, 2]), vec![0]);
    // Without any writer of "b", no kept state can be "b": the refusal stays explained.
    assert_eq!(requirements.closed(&[1, 2]), vec![1, 2]);
    assert_eq!(requirements.closed(&[2]), vec![2]);
}

/// The soundness argument, tested: every closed subset of a linearizable history is
/// linearizable, while arbitrary subsets often are not.
#[test]
fn closed_subsets_of_linearizable_histories_are_linearizable() {
    let mut naive_rejections = 0;
    for seed in 1..=150u64 {
        let mut rng = Rng::new(seed);
        let mix = Mix {
            uncertain: seed % 2 == 0,
            stale_read_at: None,
        };
        let clients = 1 + seed % 5;
        let history = random_history(&mut rng, "k", clients, 10 + (seed as usize % 40), &mix);
        assert!(!rejected(&history), "seed {seed}: {history:#?}");
        let requirements = Requirements::of(&history);
        for _ in 0..30 {
            let keep_one_in = 2 + rng.below(4);
            let chosen: Vec<usize> = (0..history.len())
                .filter(|_| rng.below(keep_one_in) != 0)
                .collect();
            let closed = requirements.closed(&chosen);
            assert!(closed.iter().all(|i| chosen.contains(i)));
            let subset: Vec<Operation> = closed.iter().map(|&i| history[i].clone()).collect();
            assert!(
                !rejected(&subset),
                "seed {seed}: closed subset rejected: {subset:#?}"
            );
            let naive: Vec<Operation> = chosen.iter().map(|&i| history[i].clone()).collect();
            if rejected(&naive) {
                naive_rejections += 1;
            }
        }
    }
    assert!(naive_rejections > 100, "{naive_rejections}");
}
