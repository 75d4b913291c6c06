use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn append(key: &str, element: Element) -> MicroOp {
    MicroOp::Append {
        key: key.into(),
        element,
    }
}

fn read(key: &str, value: &[Element]) -> MicroOp {
    MicroOp::Read {
        key: key.into(),
        value: Some(value.to_vec()),
    }
}

fn txn(invoke: u64, complete: u64, outcome: TxnOutcome, ops: Vec<MicroOp>) -> Txn {
    Txn {
        client: invoke,
        invoke_ns: invoke,
        complete_ns: complete,
        ops,
        outcome,
        revision: None,
    }
}

fn committed(invoke: u64, complete: u64, ops: Vec<MicroOp>) -> Txn {
    txn(invoke, complete, TxnOutcome::Committed, ops)
}

fn at_revision(mut txn: Txn, revision: i64) -> Txn {
    txn.revision = Some(revision);
    txn
}

fn lists(pairs: &[(&str, &[Element])]) -> BTreeMap<Key, Vec<Element>> {
    pairs
        .iter()
        .map(|&(k, l)| (k.to_string(), l.to_vec()))
        .collect()
}

fn assert_valid(history: &[Txn], final_state: &BTreeMap<Key, Vec<Element>>) -> AppendReport {
    let report = check(history, final_state);
    assert!(report.is_valid(), "{:#?}", report.anomalies);
    report
}

/// The only anomaly of the report, which must be a cycle.
fn only_cycle(report: &AppendReport) -> &Cycle {
    match report.anomalies.as_slice() {
        [Anomaly::Cycle(cycle)] => cycle,
        other => panic!("expected exactly one cycle, got {other:#?}"),
    }
}

/// The cycle's edges rotated to start at `first`, so assertions need not know where the
/// search entered the cycle.
fn edges_from(cycle: &Cycle, first: &Txn) -> Vec<EdgeKind> {
    let start = cycle
        .txns
        .iter()
        .position(|t| t == first)
        .unwrap_or_else(|| panic!("{first:?} not in {cycle:#?}"));
    let mut edges = cycle.edges.clone();
    edges.rotate_left(start);
    edges
}

#[test]
fn json_lines_round_trip() {
    let history = vec![
        at_revision(committed(0, 5, vec![append("x", 1), read("x", &[1])]), 2),
        txn(1, 2, TxnOutcome::Aborted, vec![append("y", 7)]),
        txn(
            3,
            9,
            TxnOutcome::Unknown,
            vec![MicroOp::Read {
                key: "x".into(),
                value: None,
            }],
        ),
    ];
    let text = to_json_lines(&history);
    assert_eq!(text.lines().count(), 3);
    assert_eq!(from_json_lines(&text).unwrap(), history);
}

#[test]
fn rejects_malformed_histories() {
    let mut backwards = committed(10, 20, vec![]);
    backwards.complete_ns = 5;
    assert!(matches!(
        validate(&[backwards]),
        Err(HistoryError::CompletesBeforeInvoke(_))
    ));
    let unfilled = committed(
        0,
        1,
        vec![MicroOp::Read {
            key: "x".into(),
            value: None,
        }],
    );
    assert!(matches!(
        from_json_lines(&to_json_lines(&[unfilled])),
        Err(HistoryError::UnfilledRead(_))
    ));
    let twice = [
        committed(0, 1, vec![append("x", 1)]),
        txn(2, 3, TxnOutcome::Aborted, vec![append("x", 1)]),
    ];
    assert!(matches!(
        validate(&twice),
        Err(HistoryError::DuplicateAppend { element: 1, .. })
    ));
    assert!(matches!(
        from_json_lines("\n{}"),
        Err(HistoryError::Parse(2, _))
    ));
}

#[test]
#[should_panic(expected = "malformed history")]
fn check_refuses_malformed_history() {
    let twice = [
        committed(0, 1, vec![append("x", 1)]),
        committed(2, 3, vec![append("x", 1)]),
    ];
    check(&twice, &lists(&[("x", &[1, 1])]));
}

#[test]
fn list_encoding_round_trips() {
    assert_eq!(encode_list(&[]), "");
    assert_eq!(encode_list(&[1, 5, 9]), "1,5,9");
    assert_eq!(decode_list("").unwrap(), Vec::<Element>::new());
    assert_eq!(decode_list("1,5,9").unwrap(), vec![1, 5, 9]);
    assert!(decode_list("1,,2").is_err());
}

#[test]
fn valid_serial_history() {
    let history = [
        at_revision(committed(0, 1, vec![append("x", 1), append("y", 1)]), 2),
        at_revision(committed(2, 3, vec![read("x", &[1]), append("x", 2)]), 3),
        at_revision(
            committed(4, 5, vec![read("x", &[1, 2]), read("y", &[1])]),
            3,
        ),
        at_revision(
            committed(
                6,
                7,
                vec![read("y", &[1]), append("y", 3), read("y", &[1, 3])],
            ),
            4,
        ),
        // Its read sees its own append after what the others wrote.
        at_revision(
            committed(8, 9, vec![append("x", 4), read("x", &[1, 2, 4])]),
            5,
        ),
    ];
    let report = assert_valid(&history, &lists(&[("x", &[1, 2, 4]), ("y", &[1, 3])]));
    assert_eq!(
        (report.committed, report.aborted, report.unknown),
        (5, 0, 0)
    );
    assert_eq!((report.keys, report.elements), (2, 5));
    // Numbering the transactions from 1 — ww: 1->2 and 2->5 (x), 1->4 (y). wr: 1->2, 2->3,
    // 1->3, 1->4, 2->5. rw: 3->4 (3 read y before 3 was appended), 3->5 (x before 4). Real
    // time is a chain of four edges, not all ten precedences.
    let expected = EdgeCounts {
        ww: 3,
        wr: 5,
        rw: 2,
        realtime: 4,
    };
    assert_eq!(report.edges, expected);
}

#[test]
fn realtime_frontier_leaves_out_implied_precedences() {
    let history = [
        committed(0, 10, vec![append("a", 1)]),
        committed(0, 10, vec![append("b", 1)]),
        committed(20, 30, vec![append("c", 1)]),
        committed(40, 50, vec![append("d", 1)]),
        // Invoked at the instant the first two complete: equal times count as concurrent,
        // so no edge from them.
        committed(10, 60, vec![append("e", 1)]),
    ];
    let final_state = lists(&[
        ("a", &[1]),
        ("b", &[1]),
        ("c", &[1]),
        ("d", &[1]),
        ("e", &[1]),
    ]);
    let report = assert_valid(&history, &final_state);
    // 0->2, 1->2, 2->3: the precedences 0->3 and 1->3 follow through 2.
    assert_eq!(report.edges.realtime, 3);
}

#[test]
fn valid_concurrent_history_with_unknowns() {
    let took_effect = txn(
        5,
        15,
        TxnOutcome::Unknown,
        vec![append("x", 2), append("y", 5)],
    );
    let history = [
        committed(0, 10, vec![append("x", 1)]),
        took_effect,
        txn(5, 15, TxnOutcome::Unknown, vec![append("x", 3)]),
        txn(6, 8, TxnOutcome::Aborted, vec![append("y", 9)]),
        // Overlaps the unknown append of 2, so may read before or after it.
        committed(11, 30, vec![read("x", &[1])]),
        committed(12, 20, vec![read("x", &[1, 2]), read("y", &[5])]),
        // Reads the unknown transaction's effect long after it gave up on it.
        committed(100, 110, vec![read("x", &[1, 2]), append("y", 6)]),
    ];
    let report = assert_valid(&history, &lists(&[("x", &[1, 2]), ("y", &[5, 6])]));
    assert_eq!((report.unknown, report.unknown_applied), (2, 1));
    assert_eq!((report.committed, report.aborted), (4, 1));
}

#[test]
fn unknown_transaction_may_take_effect_after_the_client_gave_up() {
    // The client gave up at 10; a read at 20 missed the append, a read at 40 saw it.
    let history = [
        txn(0, 10, TxnOutcome::Unknown, vec![append("x", 1)]),
        committed(20, 30, vec![read("x", &[])]),
        committed(40, 50, vec![read("x", &[1])]),
    ];
    let report = assert_valid(&history, &lists(&[("x", &[1])]));
    assert_eq!(report.unknown_applied, 1);
}

#[test]
fn lost_append() {
    let lost = committed(20, 30, vec![append("x", 2)]);
    let history = [committed(0, 10, vec![append("x", 1)]), lost.clone()];
    let report = check(&history, &lists(&[("x", &[1])]));
    let expected = Anomaly::LostAppend {
        key: "x".into(),
        element: 2,
        writer: lost,
    };
    assert_eq!(report.anomalies, vec![expected]);
}

#[test]
fn aborted_read() {
    let aborted = txn(0, 10, TxnOutcome::Aborted, vec![append("x", 1)]);
    let reader = committed(20, 30, vec![read("x", &[1])]);
    let report = check(&[aborted.clone(), reader.clone()], &lists(&[("x", &[1])]));
    let expected = Anomaly::AbortedRead {
        key: "x".into(),
        element: 1,
        writer: aborted.clone(),
        observer: Observer::Read(reader),
    };
    assert_eq!(report.anomalies, vec![expected]);

    // Seen by no read, only in the final state.
    let report = check(std::slice::from_ref(&aborted), &lists(&[("x", &[1])]));
    let expected = Anomaly::AbortedRead {
        key: "x".into(),
        element: 1,
        writer: aborted,
        observer: Observer::FinalState,
    };
    assert_eq!(report.anomalies, vec![expected]);
}

#[test]
fn phantom_element() {
    let writer = committed(0, 10, vec![append("x", 1)]);
    let reader = committed(20, 30, vec![read("x", &[1, 42])]);
    let history = [writer, reader.clone()];
    let phantom = Anomaly::PhantomElement {
        key: "x".into(),
        element: 42,
        observer: Observer::Read(reader.clone()),
    };
    let report = check(&history, &lists(&[("x", &[1, 42])]));
    assert_eq!(report.anomalies, vec![phantom.clone()]);

    // Only the read saw it: the read also departs from the final order.
    let report = check(&history, &lists(&[("x", &[1])]));
    let incompatible = Anomaly::IncompatibleOrder {
        key: "x".into(),
        reader,
        observed: vec![1, 42],
        diverges_at: 1,
    };
    assert_eq!(report.anomalies, vec![incompatible, phantom]);
}

#[test]
fn duplicate_element() {
    let reader = committed(40, 50, vec![read("x", &[1, 2, 1])]);
    let history = [
        committed(0, 10, vec![append("x", 1)]),
        committed(20, 30, vec![append("x", 2)]),
        reader.clone(),
    ];
    let report = check(&history, &lists(&[("x", &[1, 2, 1])]));
    let expected = Anomaly::DuplicateElement {
        key: "x".into(),
        element: 1,
        observer: Observer::Read(reader),
    };
    assert_eq!(report.anomalies, vec![expected]);
}

#[test]
fn incompatible_order() {
    // Concurrent appends of 1 and 2; one reader saw [1], the other [2]: no single order of
    // versions has both as prefixes, and the final list sides with the first.
    let second = committed(0, 100, vec![read("x", &[2])]);
    let history = [
        committed(0, 100, vec![append("x", 1)]),
        committed(0, 100, vec![append("x", 2)]),
        committed(0, 100, vec![read("x", &[1])]),
        second.clone(),
    ];
    let report = check(&history, &lists(&[("x", &[1, 2])]));
    let expected = Anomaly::IncompatibleOrder {
        key: "x".into(),
        reader: second,
        observed: vec![2],
        diverges_at: 0,
    };
    assert_eq!(report.anomalies, vec![expected]);
}

#[test]
fn internal_inconsistency() {
    let misses_own_append = committed(0, 10, vec![append("x", 1), read("x", &[])]);
    let forgets_own_append =
        committed(20, 30, vec![read("y", &[]), append("y", 2), read("y", &[])]);
    let history = [misses_own_append.clone(), forgets_own_append.clone()];
    let report = check(&history, &lists(&[("x", &[1]), ("y", &[2])]));
    let expected = vec![
        Anomaly::InternalInconsistency {
            txn: misses_own_append,
            key: "x".into(),
            observed: vec![],
            expected: vec![1],
            whole: false,
        },
        Anomaly::InternalInconsistency {
            txn: forgets_own_append,
            key: "y".into(),
            observed: vec![],
            expected: vec![2],
            whole: true,
        },
    ];
    assert_eq!(report.anomalies, expected);
}

#[test]
fn unknown_transaction_applied_partially_is_fractured() {
    let partial = txn(
        0,
        10,
        TxnOutcome::Unknown,
        vec![append("x", 1), append("y", 2)],
    );
    let report = check(std::slice::from_ref(&partial), &lists(&[("x", &[1])]));
    let expected = Anomaly::Fractured {
        txn: partial,
        key: "y".into(),
        element: 2,
    };
    assert_eq!(report.anomalies, vec![expected]);
    assert_eq!(report.unknown_applied, 1);
}

#[test]
fn g0_write_cycle() {
    let t1 = committed(0, 100, vec![append("x", 1), append("y", 2)]);
    let t2 = committed(0, 100, vec![append("x", 3), append("y", 4)]);
    let report = check(&[t1.clone(), t2], &lists(&[("x", &[1, 3]), ("y", &[4, 2])]));
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::G0, false));
    assert_eq!(edges_from(cycle, &t1), vec![EdgeKind::Ww, EdgeKind::Ww]);
}

#[test]
fn g1c_circular_information_flow() {
    let t1 = committed(0, 100, vec![append("x", 1), read("y", &[2])]);
    let t2 = committed(0, 100, vec![append("y", 2), read("x", &[1])]);
    let report = check(&[t1.clone(), t2], &lists(&[("x", &[1]), ("y", &[2])]));
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::G1c, false));
    assert_eq!(edges_from(cycle, &t1), vec![EdgeKind::Wr, EdgeKind::Wr]);
}

#[test]
fn g_single_read_skew() {
    // The reader sees the writer's x but not its y: a fractured read.
    let writer = committed(0, 100, vec![append("x", 1), append("y", 1)]);
    let reader = committed(0, 100, vec![read("x", &[1]), read("y", &[])]);
    let report = check(
        &[writer.clone(), reader],
        &lists(&[("x", &[1]), ("y", &[1])]),
    );
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::GSingle, false));
    assert_eq!(edges_from(cycle, &writer), vec![EdgeKind::Wr, EdgeKind::Rw]);
}

#[test]
fn intermediate_read_is_g_single() {
    // The reader saw the first of two appends one transaction made to the same key.
    let writer = committed(0, 100, vec![append("x", 1), append("x", 2)]);
    let reader = committed(0, 100, vec![read("x", &[1])]);
    let report = check(&[writer.clone(), reader], &lists(&[("x", &[1, 2])]));
    let cycle = only_cycle(&report);
    assert_eq!(cycle.kind, CycleKind::GSingle);
    assert_eq!(edges_from(cycle, &writer), vec![EdgeKind::Wr, EdgeKind::Rw]);
}

#[test]
fn g2_write_skew() {
    let t1 = committed(0, 100, vec![read("x", &[]), append("y", 1)]);
    let t2 = committed(0, 100, vec![read("y", &[]), append("x", 2)]);
    let report = check(&[t1.clone(), t2], &lists(&[("x", &[2]), ("y", &[1])]));
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::G2, false));
    assert_eq!(edges_from(cycle, &t1), vec![EdgeKind::Rw, EdgeKind::Rw]);
}

#[test]
fn g_single_preferred_over_a_shorter_g2_in_the_same_component() {
    // a and b write-skew (a two-edge G2), and b -ww-> c -wr-> a closes a three-edge cycle
    // with a's single rw edge: the more specific G-single must be reported.
    let a = committed(
        0,
        100,
        vec![read("x", &[]), append("y", 1), read("v", &[8])],
    );
    let b = committed(0, 100, vec![read("y", &[]), append("x", 2), append("w", 5)]);
    let c = committed(0, 100, vec![append("w", 6), append("v", 8)]);
    let final_state = lists(&[("x", &[2]), ("y", &[1]), ("w", &[5, 6]), ("v", &[8])]);
    let report = check(&[a.clone(), b.clone(), c.clone()], &final_state);
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::GSingle, false));
    assert_eq!(cycle.txns.len(), 3);
    assert_eq!(
        edges_from(cycle, &a),
        vec![EdgeKind::Rw, EdgeKind::Ww, EdgeKind::Wr]
    );
}

#[test]
fn stale_read_after_completed_append_violates_real_time() {
    let writer = committed(0, 10, vec![append("x", 1)]);
    let stale = committed(20, 30, vec![read("x", &[])]);
    let report = check(&[writer.clone(), stale.clone()], &lists(&[("x", &[1])]));
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::GSingle, true));
    assert_eq!(
        edges_from(cycle, &writer),
        vec![EdgeKind::Realtime, EdgeKind::Rw]
    );

    // Had the read overlapped the append, reading before it would be fine.
    let overlapping = committed(5, 30, vec![read("x", &[])]);
    assert_valid(&[writer, overlapping], &lists(&[("x", &[1])]));
}

#[test]
fn realtime_runs_in_a_cycle_are_shortcut() {
    // The graph holds only a -> b -> c in real time; the cycle needs just a -> c.
    let a = committed(0, 10, vec![append("x", 1)]);
    let b = committed(20, 30, vec![append("y", 1)]);
    let c = committed(40, 50, vec![read("x", &[])]);
    let report = check(
        &[a.clone(), b, c.clone()],
        &lists(&[("x", &[1]), ("y", &[1])]),
    );
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::GSingle, true));
    assert_eq!(
        edges_from(cycle, &a),
        vec![EdgeKind::Realtime, EdgeKind::Rw]
    );
    assert_eq!(
        edges_from(cycle, &c),
        vec![EdgeKind::Rw, EdgeKind::Realtime]
    );
}

#[test]
fn unknown_transaction_cannot_take_effect_before_its_invocation() {
    // The reader completed before the unknown append was even sent, yet saw it.
    let unknown = txn(20, 30, TxnOutcome::Unknown, vec![append("x", 2)]);
    let reader = committed(5, 15, vec![read("x", &[1, 2])]);
    let history = [
        committed(0, 1, vec![append("x", 1)]),
        unknown.clone(),
        reader.clone(),
    ];
    let report = check(&history, &lists(&[("x", &[1, 2])]));
    let cycle = only_cycle(&report);
    assert_eq!((cycle.kind, cycle.realtime), (CycleKind::G1c, true));
    assert_eq!(
        edges_from(cycle, &unknown),
        vec![EdgeKind::Wr, EdgeKind::Realtime]
    );
}

#[test]
fn revisions_must_grow_along_dependencies() {
    let t1 = at_revision(committed(0, 10, vec![append("x", 1)]), 5);
    let t2 = at_revision(committed(20, 30, vec![read("x", &[1]), append("x", 2)]), 4);
    let report = check(&[t1.clone(), t2.clone()], &lists(&[("x", &[1, 2])]));
    let order = |edge| Anomaly::RevisionOrder {
        from: t1.clone(),
        to: t2.clone(),
        edge,
    };
    assert_eq!(
        report.anomalies,
        vec![order(EdgeKind::Ww), order(EdgeKind::Wr)]
    );
}

#[test]
fn a_write_transaction_is_newer_than_the_writes_it_read() {
    let t1 = at_revision(committed(0, 10, vec![append("x", 1)]), 5);
    let t2 = at_revision(committed(20, 30, vec![read("x", &[1]), append("y", 2)]), 5);
    let report = check(
        &[t1.clone(), t2.clone()],
        &lists(&[("x", &[1]), ("y", &[2])]),
    );
    let expected = vec![
        Anomaly::SharedRevision {
            revision: 5,
            first: t1.clone(),
            second: t2.clone(),
        },
        Anomaly::RevisionOrder {
            from: t1,
            to: t2,
            edge: EdgeKind::Wr,
        },
    ];
    assert_eq!(report.anomalies, expected);
}

#[test]
fn read_only_revisions_may_equal_the_newest_write_seen() {
    let writer = at_revision(committed(0, 10, vec![append("x", 1)]), 5);
    let saw_it = at_revision(committed(0, 10, vec![read("x", &[1])]), 5);
    // Did not see the write, so must have been served at an older revision.
    let missed_it = at_revision(committed(0, 10, vec![read("x", &[])]), 5);
    let history = [writer.clone(), saw_it, missed_it.clone()];
    let report = check(&history, &lists(&[("x", &[1])]));
    let expected = Anomaly::RevisionOrder {
        from: missed_it,
        to: writer,
        edge: EdgeKind::Rw,
    };
    assert_eq!(report.anomalies, vec![expected]);
}

#[test]
fn write_transactions_never_share_a_revision() {
    let t1 = at_revision(committed(0, 10, vec![append("x", 1)]), 3);
    let t2 = at_revision(committed(0, 10, vec![append("y", 2)]), 3);
    let reader = at_revision(committed(20, 30, vec![read("x", &[1])]), 3);
    let report = check(
        &[t1.clone(), t2.clone(), reader],
        &lists(&[("x", &[1]), ("y", &[2])]),
    );
    let expected = Anomaly::SharedRevision {
        revision: 3,
        first: t1,
        second: t2,
    };
    assert_eq!(report.anomalies, vec![expected]);
}

/// A history produced by a serial store: transaction `i` takes effect at time `1000 + 10 i`
/// inside a random interval around it, so real time agrees with the serial order. Some
/// transactions abort, some time out after taking effect and some time out without.
fn serial_history(seed: u64, n: usize) -> (Vec<Txn>, BTreeMap<Key, Vec<Element>>) {
    const KEYS: usize = 256;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut store: Vec<Vec<Element>> = vec![Vec::new(); KEYS];
    let mut revision = 1i64;
    let mut next_element: Element = 1;
    let mut history = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let effect_at = 1_000 + 10 * i;
        let roll = rng.gen_range(0..100);
        let (outcome, applied) = match roll {
            0..=2 => (TxnOutcome::Aborted, false),
            3..=5 => (TxnOutcome::Unknown, true),
            6..=7 => (TxnOutcome::Unknown, false),
            _ => (TxnOutcome::Committed, true),
        };
        let mut ops = Vec::new();
        let mut writes = false;
        for _ in 0..rng.gen_range(1..=4) {
            let k = rng.gen_range(0..KEYS);
            let key = format!("k{k}");
            if rng.gen_bool(0.5) {
                let element = next_element;
                next_element += 1;
                if applied {
                    store[k].push(element);
                }
                writes = true;
                ops.push(MicroOp::Append { key, element });
            } else {
                let value = (outcome == TxnOutcome::Committed).then(|| store[k].clone());
                ops.push(MicroOp::Read { key, value });
            }
        }
        if applied && writes {
            revision += 1;
        }
        history.push(Txn {
            client: i % 50,
            invoke_ns: effect_at - rng.gen_range(0..300),
            complete_ns: effect_at + rng.gen_range(0..300),
            ops,
            outcome,
            revision: (outcome == TxnOutcome::Committed).then_some(revision),
        });
    }
    let final_state = store
        .into_iter()
        .enumerate()
        .map(|(k, list)| (format!("k{k}"), list))
        .collect();
    (history, final_state)
}

#[test]
fn large_serial_history_is_valid_and_one_stale_read_is_caught() {
    let (mut history, final_state) = serial_history(7, 20_000);
    let started = Instant::now();
    let report = check(&history, &final_state);
    let elapsed = started.elapsed();
    eprintln!(
        "20,000-transaction check took {elapsed:?}: {:?}",
        report.edges
    );
    assert!(
        report.is_valid(),
        "{:#?}",
        &report.anomalies[..3.min(report.anomalies.len())]
    );
    assert_eq!(report.committed + report.aborted + report.unknown, 20_000);
    assert!(report.unknown_applied > 0 && report.aborted > 0);
    assert!(report.edges.ww > 0 && report.edges.wr > 0 && report.edges.rw > 0);
    assert!(elapsed < Duration::from_secs(5), "check took {elapsed:?}");

    // Late in the run, a read-only transaction reading a key once: drop the last element it
    // saw, whose writer completed before the reader was invoked.
    let writer_of: HashMap<(&str, Element), usize> = history
        .iter()
        .enumerate()
        .flat_map(|(t, txn)| txn.appends().map(move |(k, e)| ((k, e), t)))
        .collect();
    let (r, op, w) = (history.len() / 2..history.len())
        .find_map(|r| {
            let txn = &history[r];
            if txn.outcome != TxnOutcome::Committed || txn.appends().next().is_some() {
                return None;
            }
            txn.ops.iter().enumerate().find_map(|(op, micro)| {
                let MicroOp::Read { key, value } = micro else {
                    return None;
                };
                let once = txn.ops.iter().filter(|o| o.key() == key).count() == 1;
                let w = writer_of[&(key.as_str(), *value.as_ref()?.last()?)];
                let writer = &history[w];
                let settled =
                    writer.outcome == TxnOutcome::Committed && writer.complete_ns < txn.invoke_ns;
                (once && settled).then_some((r, op, w))
            })
        })
        .expect("such a read exists");
    if let MicroOp::Read {
        value: Some(list), ..
    } = &mut history[r].ops[op]
    {
        list.pop();
    }
    let (reader, writer) = (history[r].clone(), history[w].clone());
    let report = check(&history, &final_state);
    assert!(!report.is_valid());
    let mut cycles = 0;
    for anomaly in &report.anomalies {
        match anomaly {
            Anomaly::Cycle(cycle) => {
                // The stale read's rw edge is the only one against the serial order, so
                // every cycle runs through it.
                let at = cycle
                    .txns
                    .iter()
                    .position(|t| *t == reader)
                    .expect("reader");
                assert_eq!(cycle.txns[(at + 1) % cycle.txns.len()], writer);
                assert_eq!(cycle.edges[at], EdgeKind::Rw);
                cycles += 1;
            }
            Anomaly::RevisionOrder { from, to, edge } => {
                assert_eq!((from, to, *edge), (&reader, &writer, EdgeKind::Rw));
            }
            other => panic!("unexpected anomaly {other:#?}"),
        }
    }
    assert_eq!(cycles, 1);
    assert!(report
        .anomalies
        .iter()
        .any(|a| matches!(a, Anomaly::RevisionOrder { .. })));
}
