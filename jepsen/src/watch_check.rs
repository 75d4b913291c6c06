//! Watch streams checked against the store's true event history: every event a watcher
//! should see, exactly once, in (revision, position) order, a revision never split across
//! responses, with the right prev_kv.

use crate::history::{Key, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Whether an event put or deleted its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// The key was created or updated.
    Put,
    /// The key was deleted.
    Delete,
}

/// One key's change within a revision, as the store applied it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Key changed.
    pub key: Key,
    /// Put or delete.
    pub event_type: EventType,
    /// Value after a put; `None` for a delete.
    pub value: Option<Value>,
    /// Value before the change; `None` if the key did not exist.
    pub prev_value: Option<Value>,
}

/// All events of one revision, in the order the store applied them (one transaction).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionEvents {
    /// The revision.
    pub revision: i64,
    /// Its events; a key appears at most once per revision.
    pub events: Vec<Event>,
}

/// An event as a watcher received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// Mod revision of the event's key-value.
    pub revision: i64,
    /// The event itself; `prev_value` is what the server sent as prev_kv (if any).
    pub event: Event,
}

/// The keys a watch covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRange {
    /// Exactly this key.
    Key(Key),
    /// Every key starting with this prefix.
    Prefix(Key),
    /// Keys in `[start, end)`; no end means every key from `start` on.
    Range {
        /// First key included.
        start: Key,
        /// First key excluded.
        end: Option<Key>,
    },
}

impl KeyRange {
    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &str) -> bool {
        match self {
            KeyRange::Key(k) => k == key,
            KeyRange::Prefix(p) => key.starts_with(p.as_str()),
            KeyRange::Range { start, end } => {
                key >= start.as_str()
                    && match end {
                        Some(e) => key < e.as_str(),
                        None => true,
                    }
            }
        }
    }
}

/// The client re-created its watch (after the stream broke) from `from_revision`; responses
/// from index `at_response` on belong to the new watch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumption {
    /// Index of the first response of the new watch.
    pub at_response: usize,
    /// Start revision the client asked for.
    pub from_revision: i64,
}

/// What one watcher asked for and received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watcher {
    /// Identifies the watcher in reports.
    pub id: u64,
    /// Keys watched.
    pub range: KeyRange,
    /// Revision the watch started from.
    pub start_revision: i64,
    /// Whether prev_kv was requested.
    pub prev_kv: bool,
    /// Received responses, in arrival order; each is the list of its events.
    pub responses: Vec<Vec<WatchEvent>>,
    /// Points where the watch was re-created.
    pub resumptions: Vec<Resumption>,
    /// Last revision the watcher must have seen; `None`: the end of the store's history.
    pub until_revision: Option<i64>,
}

/// What went wrong with one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnomalyKind {
    /// Received, but the store has no event for this key at this revision.
    Phantom,
    /// Received with a type or value other than the store applied.
    WrongEvent,
    /// Received for a key outside the watched range.
    OutOfRange,
    /// Received with a revision below the (re-)created watch's start revision.
    BeforeStart,
    /// Received more than once.
    Duplicate,
    /// Received after an event that comes later in (revision, position) order.
    OutOfOrder,
    /// This revision's events arrived in several responses (indices listed).
    SplitRevision(Vec<usize>),
    /// Never received though in range and after the start revision.
    Missing,
    /// prev_kv differs from the value before the event (or was sent unrequested).
    WrongPrevKv {
        /// What should have been sent.
        expected: Option<Value>,
        /// What was sent.
        got: Option<Value>,
    },
}

/// An anomaly, located by watcher, revision and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchAnomaly {
    /// The watcher that saw (or missed) it.
    pub watcher: u64,
    /// Revision of the event concerned.
    pub revision: i64,
    /// Key of the event concerned (empty for a split revision).
    pub key: Key,
    /// What went wrong.
    pub kind: AnomalyKind,
}

/// Checks each watcher against the store's history (`history` sorted by revision or not);
/// returns every anomaly, watcher by watcher, in the order found.
pub fn check_watchers(history: &[RevisionEvents], watchers: &[Watcher]) -> Vec<WatchAnomaly> {
    let store: BTreeMap<i64, &[Event]> = history
        .iter()
        .map(|r| (r.revision, r.events.as_slice()))
        .collect();
    watchers.iter().flat_map(|w| check_one(&store, w)).collect()
}

fn check_one(store: &BTreeMap<i64, &[Event]>, w: &Watcher) -> Vec<WatchAnomaly> {
    let mut anomalies = Vec::new();
    let mut report = |revision: i64, key: &str, kind: AnomalyKind| {
        anomalies.push(WatchAnomaly {
            watcher: w.id,
            revision,
            key: key.to_string(),
            kind,
        })
    };
    let mut resumptions = w.resumptions.clone();
    resumptions.sort_by_key(|r| r.at_response);
    // Revisions the client itself skipped by resuming past what it had received.
    let mut excused: Vec<(i64, i64)> = Vec::new();
    let mut segment = 0usize;
    let mut segment_start = w.start_revision;
    let mut highest_seen = w.start_revision - 1;
    // (revision, key) -> segment it was first delivered in.
    let mut delivered: HashMap<(i64, &str), usize> = HashMap::new();
    let mut cursor: Option<(i64, usize)> = None;
    let mut responses_of: BTreeMap<(usize, i64), BTreeSet<usize>> = BTreeMap::new();
    for (index, response) in w.responses.iter().enumerate() {
        while segment < resumptions.len() && resumptions[segment].at_response <= index {
            let from = resumptions[segment].from_revision;
            if from > highest_seen + 1 {
                excused.push((highest_seen + 1, from - 1));
            }
            segment += 1;
            segment_start = from;
            cursor = None;
        }
        for got in response {
            let (revision, key) = (got.revision, got.event.key.as_str());
            let Some(position) = store
                .get(&revision)
                .and_then(|events| events.iter().position(|e| e.key == key))
            else {
                report(revision, key, AnomalyKind::Phantom);
                continue;
            };
            let truth = &store[&revision][position];
            if truth.event_type != got.event.event_type || truth.value != got.event.value {
                report(revision, key, AnomalyKind::WrongEvent);
            }
            if !w.range.contains(key) {
                report(revision, key, AnomalyKind::OutOfRange);
            }
            if revision < segment_start {
                report(revision, key, AnomalyKind::BeforeStart);
            }
            let expected_prev = if w.prev_kv { &truth.prev_value } else { &None };
            if *expected_prev != got.event.prev_value {
                let kind = AnomalyKind::WrongPrevKv {
                    expected: expected_prev.clone(),
                    got: got.event.prev_value.clone(),
                };
                report(revision, key, kind);
            }
            if let Some(&first) = delivered.get(&(revision, key)) {
                // Resent after the client resumed from at or before it: asked for, not a bug.
                if first == segment || revision < segment_start {
                    report(revision, key, AnomalyKind::Duplicate);
                }
                continue;
            }
            delivered.insert((revision, key), segment);
            responses_of
                .entry((segment, revision))
                .or_default()
                .insert(index);
            highest_seen = highest_seen.max(revision);
            if cursor.is_some_and(|c| (revision, position) < c) {
                report(revision, key, AnomalyKind::OutOfOrder);
            }
            cursor = cursor.max(Some((revision, position)));
        }
    }
    for ((_, revision), responses) in responses_of {
        if responses.len() > 1 {
            report(
                revision,
                "",
                AnomalyKind::SplitRevision(responses.into_iter().collect()),
            );
        }
    }
    let end = w
        .until_revision
        .or_else(|| store.keys().next_back().copied())
        .unwrap_or(i64::MIN);
    // A watcher that ended before its (possibly moved) start owes nothing.
    let owed = if end >= w.start_revision {
        store.range(w.start_revision..=end)
    } else {
        store.range(w.start_revision..w.start_revision)
    };
    for (&revision, events) in owed {
        if excused
            .iter()
            .any(|&(lo, hi)| lo <= revision && revision <= hi)
        {
            continue;
        }
        for e in events.iter().filter(|e| w.range.contains(&e.key)) {
            if !delivered.contains_key(&(revision, e.key.as_str())) {
                report(revision, &e.key, AnomalyKind::Missing);
            }
        }
    }
    anomalies
}

#[cfg(test)]
mod tests;
