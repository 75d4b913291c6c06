//! The store's history as the watch test checks watchers against it: every change
//! of every revision, rebuilt from serializable ranges at each revision (so it
//! does not come from the watch code under test), in the order the changes were
//! made where an acknowledged write tells that order.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::{rpc, show};
use ectd_client::proto::etcdserverpb::RangeRequest;
use ectd_client::proto::mvccpb::{event::EventType, Event, KeyValue};
use ectd_client::Client;

/// One operation of an acknowledged write, in the order the write held it.
#[derive(Debug, Clone)]
pub(crate) enum WriteOp {
    Put(Vec<u8>),
    /// A single key, or every key in `[key, end)` when `end` is set.
    Delete(Vec<u8>, Option<Vec<u8>>),
}

/// A watched range as the create request gives it.
#[derive(Debug, Clone)]
pub(crate) struct KeyRange {
    pub key: Vec<u8>,
    pub end: Vec<u8>,
}

impl KeyRange {
    /// Whether `k` is in the range, with etcd's meaning of `range_end` (empty: only
    /// the key; `"\0"`: every key from the key on).
    pub fn contains(&self, k: &[u8]) -> bool {
        match self.end.as_slice() {
            [] => k == self.key.as_slice(),
            [0] => k >= self.key.as_slice(),
            e => k >= self.key.as_slice() && k < e,
        }
    }
}

/// One change of the store: a put (`kv` is the new version) or a delete of `key`,
/// with the key's version before the change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub rev: i64,
    pub key: Vec<u8>,
    pub kv: Option<KeyValue>,
    pub prev: Option<KeyValue>,
}

impl Change {
    fn show(&self) -> String {
        match &self.kv {
            Some(kv) => format!("@{} PUT {}", self.rev, show(kv)),
            None => format!(
                "@{} DELETE {}",
                self.rev,
                String::from_utf8_lossy(&self.key)
            ),
        }
    }
}

pub(crate) fn show_event(ev: &Event) -> String {
    let kv = ev.kv.clone().unwrap_or_default();
    let what = if ev.r#type == EventType::Delete as i32 {
        format!(
            "DELETE {} (mod {})",
            String::from_utf8_lossy(&kv.key),
            kv.mod_revision
        )
    } else {
        format!("PUT {}", show(&kv))
    };
    match &ev.prev_kv {
        Some(p) => format!("@{} {what} prev {}", kv.mod_revision, show(p)),
        None => format!("@{} {what}", kv.mod_revision),
    }
}

/// Every change from revision 2 to `last`, ordered by revision and, within a
/// revision, by position.
pub(crate) struct History {
    pub changes: Vec<Change>,
    pub last: i64,
    /// Revisions whose order within the revision came from an acknowledged write.
    pub ordered_by_writes: usize,
}

type Snapshot = BTreeMap<Vec<u8>, KeyValue>;

async fn snapshot_at(c: &Client, rev: i64) -> Snapshot {
    let req = RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision: rev,
        serializable: true,
        ..Default::default()
    };
    let mut kv = c.kv();
    let r = rpc(Duration::from_secs(10), kv.range(req))
        .await
        .unwrap_or_else(|e| panic!("range at revision {rev} on {}: {e}", c.endpoint()));
    r.kvs.into_iter().map(|kv| (kv.key.clone(), kv)).collect()
}

/// The keys a write's operations changed, in order, given the store before it.
fn expand(ops: &[WriteOp], before: &Snapshot) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for op in ops {
        match op {
            WriteOp::Put(k) => keys.push(k.clone()),
            WriteOp::Delete(k, None) => {
                if before.contains_key(k) {
                    keys.push(k.clone());
                }
            }
            WriteOp::Delete(k, Some(end)) => {
                keys.extend(before.range(k.clone()..end.clone()).map(|(k, _)| k.clone()))
            }
        }
    }
    keys
}

impl History {
    /// Reads revisions 1 to `last` from `c`'s store and orders each revision's
    /// changes by the acknowledged write of that revision (`acked`), or else by
    /// `order` (the events of a watcher over every key, checked here to be the
    /// same set of changes). Panics on any inconsistency between the three.
    pub async fn read(
        c: &Client,
        last: i64,
        acked: &BTreeMap<i64, Vec<WriteOp>>,
        order: &[Event],
    ) -> History {
        let mut by_watch: BTreeMap<i64, Vec<Vec<u8>>> = BTreeMap::new();
        for ev in order {
            let kv = ev.kv.as_ref().expect("event without kv");
            by_watch
                .entry(kv.mod_revision)
                .or_default()
                .push(kv.key.clone());
        }
        let mut prev = snapshot_at(c, 1).await;
        let mut changes = Vec::new();
        let mut ordered_by_writes = 0;
        for rev in 2..=last {
            let cur = snapshot_at(c, rev).await;
            let mut at_rev: BTreeMap<Vec<u8>, Change> = BTreeMap::new();
            for (k, kv) in &cur {
                if kv.mod_revision == rev {
                    let change = Change {
                        rev,
                        key: k.clone(),
                        kv: Some(kv.clone()),
                        prev: prev.get(k).cloned(),
                    };
                    at_rev.insert(k.clone(), change);
                } else if prev.get(k) != Some(kv) {
                    panic!(
                        "store history on {}: {} at revision {rev} but {:?} at {}",
                        c.endpoint(),
                        show(kv),
                        prev.get(k).map(show),
                        rev - 1
                    );
                }
            }
            for (k, kv) in &prev {
                if !cur.contains_key(k) {
                    let change = Change {
                        rev,
                        key: k.clone(),
                        kv: None,
                        prev: Some(kv.clone()),
                    };
                    at_rev.insert(k.clone(), change);
                }
            }
            assert!(
                !at_rev.is_empty(),
                "store history on {}: revision {rev} changed nothing",
                c.endpoint()
            );
            let changed: Vec<Vec<u8>> = at_rev.keys().cloned().collect();
            let same_keys = |mut keys: Vec<Vec<u8>>| {
                keys.sort();
                keys == changed
            };
            let order =
                match acked.get(&rev) {
                    Some(ops) => {
                        let keys = expand(ops, &prev);
                        assert!(
                            same_keys(keys.clone()),
                            "the write acknowledged at revision {rev} ({ops:?}) changed {:?}, \
                         but the store shows {:?} changed at {rev}",
                            keys.iter()
                                .map(|k| String::from_utf8_lossy(k))
                                .collect::<Vec<_>>(),
                            at_rev.values().map(Change::show).collect::<Vec<_>>()
                        );
                        ordered_by_writes += 1;
                        keys
                    }
                    None => {
                        let keys = by_watch.get(&rev).cloned().unwrap_or_default();
                        assert!(
                        same_keys(keys.clone()),
                        "the reference watcher's events at revision {rev} are on {:?}, but the \
                         store shows {:?} changed at {rev}",
                        keys.iter().map(|k| String::from_utf8_lossy(k)).collect::<Vec<_>>(),
                        at_rev.values().map(Change::show).collect::<Vec<_>>()
                    );
                        keys
                    }
                };
            for k in order {
                changes.push(at_rev.remove(&k).expect("checked key set"));
            }
            prev = cur;
        }
        History {
            changes,
            last,
            ordered_by_writes,
        }
    }

    /// The changes a watcher of `range` from revision `start` is owed, up to
    /// revision `upto`.
    pub fn owed(&self, range: &KeyRange, start: i64, upto: i64) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.rev >= start && c.rev <= upto && range.contains(&c.key))
            .collect()
    }
}

/// What one watcher received: each response's events, and the member it came from.
#[derive(Debug, Default)]
pub(crate) struct Received {
    pub responses: Vec<(usize, Vec<Event>)>,
}

/// Every way `got` differs from what a watcher of `range` from `start` (with or
/// without `prev_kv`) must receive: the history of its range from `start` on, each
/// change exactly once, in order, each revision in one response, with the right
/// previous version. Empty if none.
pub(crate) fn check_watcher(
    h: &History,
    range: &KeyRange,
    start: i64,
    prev_kv: bool,
    got: &Received,
) -> Vec<String> {
    let mut errors = Vec::new();
    let mut flat: Vec<(usize, &Event)> = Vec::new();
    for (i, (_, evs)) in got.responses.iter().enumerate() {
        flat.extend(evs.iter().map(|e| (i, e)));
    }
    let rev_of = |e: &Event| e.kv.as_ref().map_or(0, |kv| kv.mod_revision);
    for w in flat.windows(2) {
        let ((ri, a), (rj, b)) = (w[0], w[1]);
        if rev_of(b) < rev_of(a) {
            errors.push(format!(
                "out of order: {} (response {ri}) then {} (response {rj})",
                show_event(a),
                show_event(b)
            ));
        } else if rev_of(b) == rev_of(a) && ri != rj {
            errors.push(format!(
                "revision {} split across responses {ri} and {rj}",
                rev_of(a)
            ));
        }
    }
    let last_got = flat.last().map_or(0, |(_, e)| rev_of(e));
    let owed = h.owed(range, start, h.last.max(last_got));
    for (i, (want, (resp, ev))) in owed.iter().zip(&flat).enumerate() {
        if let Some(why) = differs(want, ev, prev_kv) {
            errors.push(format!(
                "event #{i} (response {resp}): expected {}, got {} ({why}); events around it: \
                 {:?}",
                want.show(),
                show_event(ev),
                flat[i.saturating_sub(2)..(i + 3).min(flat.len())]
                    .iter()
                    .map(|(_, e)| show_event(e))
                    .collect::<Vec<_>>()
            ));
            break;
        }
    }
    if flat.len() < owed.len() {
        errors.push(format!(
            "{} events missing after the {} received; first missing: {}",
            owed.len() - flat.len(),
            flat.len(),
            owed[flat.len()].show()
        ));
    } else if flat.len() > owed.len() {
        errors.push(format!(
            "{} events more than the history holds; first extra: {}",
            flat.len() - owed.len(),
            show_event(flat[owed.len()].1)
        ));
    }
    errors
}

/// Why `ev` is not the event of `want`, if it is not.
fn differs(want: &Change, ev: &Event, prev_kv: bool) -> Option<String> {
    let kv = ev.kv.clone().unwrap_or_default();
    let delete = ev.r#type == EventType::Delete as i32;
    match &want.kv {
        Some(w) if delete || kv != *w => return Some("different change".into()),
        None if !delete || kv.key != want.key || kv.mod_revision != want.rev => {
            return Some("different change".into())
        }
        _ => {}
    }
    let want_prev = if prev_kv { want.prev.as_ref() } else { None };
    if ev.prev_kv.as_ref() != want_prev {
        return Some(format!(
            "prev_kv should be {:?}",
            want_prev.map(show).unwrap_or_else(|| "absent".into())
        ));
    }
    None
}

/// The checker itself must catch what it is there to catch.
#[test]
fn the_checker_catches_gaps_duplicates_splits_and_wrong_prev_kv() {
    let kv = |k: &str, v: &str, create: i64, rev: i64, version: i64| KeyValue {
        key: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
        create_revision: create,
        mod_revision: rev,
        version,
        lease: 0,
    };
    let a2 = kv("a", "1", 2, 2, 1);
    let b2 = kv("b", "1", 2, 2, 1);
    let a3 = kv("a", "2", 2, 3, 2);
    let h = History {
        changes: vec![
            Change {
                rev: 2,
                key: b"a".to_vec(),
                kv: Some(a2.clone()),
                prev: None,
            },
            Change {
                rev: 2,
                key: b"b".to_vec(),
                kv: Some(b2.clone()),
                prev: None,
            },
            Change {
                rev: 3,
                key: b"a".to_vec(),
                kv: Some(a3.clone()),
                prev: Some(a2.clone()),
            },
            Change {
                rev: 4,
                key: b"b".to_vec(),
                kv: None,
                prev: Some(b2.clone()),
            },
        ],
        last: 4,
        ordered_by_writes: 0,
    };
    let put = |kv: &KeyValue, prev: Option<&KeyValue>| Event {
        r#type: EventType::Put as i32,
        kv: Some(kv.clone()),
        prev_kv: prev.cloned(),
    };
    let del = Event {
        r#type: EventType::Delete as i32,
        kv: Some(KeyValue {
            key: b"b".to_vec(),
            mod_revision: 4,
            ..Default::default()
        }),
        prev_kv: Some(b2.clone()),
    };
    let all = KeyRange {
        key: vec![0],
        end: vec![0],
    };
    let got = |responses: Vec<Vec<Event>>| Received {
        responses: responses.into_iter().map(|e| (0, e)).collect(),
    };
    let good = vec![
        vec![put(&a2, None), put(&b2, None)],
        vec![put(&a3, Some(&a2)), del.clone()],
    ];
    assert_eq!(
        check_watcher(&h, &all, 2, true, &got(good)),
        Vec::<String>::new()
    );
    let bad: Vec<(&str, Vec<Vec<Event>>)> = vec![
        (
            "gap",
            vec![vec![put(&a2, None), put(&b2, None)], vec![del.clone()]],
        ),
        (
            "duplicate",
            vec![vec![put(&a2, None), put(&b2, None)], vec![put(&b2, None)]],
        ),
        (
            "split",
            vec![
                vec![put(&a2, None)],
                vec![put(&b2, None), put(&a3, Some(&a2))],
            ],
        ),
        (
            "order",
            vec![
                vec![put(&b2, None), put(&a2, None)],
                vec![put(&a3, Some(&a2))],
            ],
        ),
        (
            "prev_kv",
            vec![
                vec![put(&a2, None), put(&b2, None)],
                vec![put(&a3, None), del],
            ],
        ),
        ("short", vec![vec![put(&a2, None), put(&b2, None)]]),
    ];
    for (what, responses) in bad {
        let errors = check_watcher(&h, &all, 2, true, &got(responses));
        assert!(!errors.is_empty(), "{what} went unnoticed");
    }
    let only_b = KeyRange {
        key: b"b".to_vec(),
        end: Vec::new(),
    };
    assert!(check_watcher(&h, &only_b, 3, false, &got(vec![])).len() == 1);
}
