//! Checks on what the watchers received, against one reference watcher whose
//! member stayed up for the whole run, the hosts' acknowledged writes, and the
//! final listings.

use std::collections::BTreeMap;

use super::ledger::Ledger;
use crate::http::Event;
use crate::watcher::{assert_increasing, assert_same_sequences, WatchLog};

/// The files under the subnets directory after applying `events` (those with an
/// index up to `upto`) to an empty directory.
pub(crate) fn replay(events: &[Event], upto: u64) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for e in events.iter().take_while(|e| e.modified_index <= upto) {
        match e.action.as_str() {
            "create" | "set" | "update" | "compareAndSwap" => {
                let v = e
                    .value
                    .clone()
                    .unwrap_or_else(|| panic!("{e} carries no value"));
                files.insert(e.key.clone(), v);
            }
            "expire" | "delete" | "compareAndDelete" => {
                assert!(
                    files.remove(&e.key).is_some(),
                    "{e} removes a key that the events before it never created"
                );
            }
            other => panic!("unexpected action {other:?} in {e}"),
        }
    }
    files
}

/// Checks the reference watcher's sequence: in index order, without re-listings,
/// and holding every write the hosts saw acknowledged up to `upto`.
pub(crate) fn check_reference(name: &str, log: &WatchLog, ledger: &Ledger, upto: u64) {
    assert!(
        log.resyncs.is_empty(),
        "{name}: the reference watcher fell out of its member's history (401) at {:?}",
        log.resyncs.iter().map(|r| r.index).collect::<Vec<_>>()
    );
    let events = log.plain();
    assert_increasing(&events, name);
    let by_index: BTreeMap<u64, &Event> = events.iter().map(|e| (e.modified_index, e)).collect();
    let mut missing = Vec::new();
    for a in ledger.acked.iter().filter(|a| a.index <= upto) {
        match by_index.get(&a.index) {
            Some(e)
                if e.action == a.action && e.key == a.key && e.value.as_ref() == Some(&a.value) => {
            }
            Some(e) => missing.push(format!(
                "{} of {} at {} was seen as {e}",
                a.action, a.key, a.index
            )),
            None => missing.push(format!("{} of {} at {}", a.action, a.key, a.index)),
        }
    }
    assert!(
        missing.is_empty(),
        "{name}: {} of {} acknowledged writes are missing or different among its {} events: {:?}",
        missing.len(),
        ledger.acked.len(),
        events.len(),
        &missing[..missing.len().min(20)]
    );
}

/// Checks another watcher against the reference sequence, up to index `upto`:
/// strictly increasing, and between re-listings exactly the reference's events;
/// each re-listing equal to the reference replayed to its index.
pub(crate) fn check_watcher(name: &str, log: &WatchLog, from: u64, reference: &[Event], upto: u64) {
    let events = log.plain();
    assert_increasing(&events, name);
    assert!(
        log.last_index() >= upto,
        "{name}: stopped at index {} before {upto}",
        log.last_index()
    );
    let in_range = |lo: u64, hi: u64| -> Vec<Event> {
        reference
            .iter()
            .filter(|e| e.modified_index >= lo && e.modified_index <= hi)
            .cloned()
            .collect()
    };
    let mut start = from;
    let mut taken = 0;
    for (k, r) in log.resyncs.iter().enumerate() {
        let seg: Vec<Event> = events[taken..r.after_events].to_vec();
        let covered = seg.last().map_or(start - 1, |e| e.modified_index);
        assert_same_sequences(
            &[
                (
                    format!("reference {start}..={covered}"),
                    in_range(start, covered),
                ),
                (format!("{name} before re-listing #{k}"), seg),
            ],
            "a watcher against the reference",
        );
        let expected = replay(reference, r.index);
        assert_eq!(
            r.files, expected,
            "{name}: re-listing #{k} at index {} differs from the reference's events replayed \
             to that index",
            r.index
        );
        start = r.index + 1;
        taken = r.after_events;
    }
    let seg: Vec<Event> = events[taken..]
        .iter()
        .filter(|e| e.modified_index <= upto)
        .cloned()
        .collect();
    assert_same_sequences(
        &[
            (format!("reference {start}..={upto}"), in_range(start, upto)),
            (format!("{name} (last segment)"), seg),
        ],
        "a watcher against the reference",
    );
}
