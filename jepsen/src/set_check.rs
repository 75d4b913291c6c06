//! Lost writes in a grow-only set: clients add unique values (each under a key of their
//! own choosing, or under a key the store names, like etcd v2's in-order keys), nothing is
//! ever removed, and one read at the end lists every element. The read must show
//!
//! - every acknowledged add, under the key its acknowledgement named;
//! - no add that definitely failed, and nothing that was never added;
//! - no value twice (an add applied twice);
//!
//! and the acknowledgements themselves must respect real time: an add acknowledged before
//! another was sent has the lower creation index, and, for store-named keys, the lower key.
//! Adds whose outcome is unknown may be present or not.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How an add chose its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddKind {
    /// The client named a fresh key and asked for it to be created (`prevExist=false`).
    Create,
    /// The store named the key (v2 `POST` on a directory: in-order keys).
    Append,
}

/// How an add ended, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddOutcome {
    /// Acknowledged.
    Ok,
    /// Definitely not applied.
    Fail,
    /// No answer: it may have been applied.
    Unknown,
}

/// One add attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Add {
    /// The client.
    pub client: u64,
    /// How the key was chosen.
    pub kind: AddKind,
    /// The value, unique to the run.
    pub value: String,
    /// The key: the one asked for by a create; the one the store named for an acknowledged
    /// append.
    pub key: Option<String>,
    /// How it ended.
    pub outcome: AddOutcome,
    /// The store's error code, when it refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    /// The created element's creation index, when acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_index: Option<u64>,
    /// When it was sent, nanoseconds since the run's epoch.
    pub invoke_ns: u64,
    /// When the outcome was known.
    pub complete_ns: u64,
}

/// One element of the set as the final read shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Element {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: String,
    /// Its creation index.
    pub created_index: u64,
}

/// Something the final read or the acknowledgements got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetAnomaly {
    /// An acknowledged add is absent at the end.
    Lost(Add),
    /// An acknowledged add's value is present, but not under the key it was acknowledged
    /// with.
    Moved(Add, Element),
    /// An add the store refused (or that was never sent) is present at the end.
    FailedButPresent(Add, Element),
    /// A create of a key no one had used was refused as existing: something applied a
    /// write to it before.
    FreshKeyExists(Add),
    /// An element no client ever tried to add.
    Unexpected(Element),
    /// The same value under several keys: one add applied more than once.
    Duplicated(Vec<Element>),
    /// `later` was sent after `earlier` was acknowledged, yet got a lower creation index
    /// (or, both store-named, a lower key).
    OutOfOrder {
        /// Acknowledged first.
        earlier: Add,
        /// Sent after that acknowledgement.
        later: Add,
    },
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetReport {
    /// Adds acknowledged.
    pub acknowledged: usize,
    /// Adds definitely not applied.
    pub failed: usize,
    /// Adds with unknown outcome.
    pub unknown: usize,
    /// Of the unknown adds, those present at the end.
    pub unknown_present: usize,
    /// Elements in the final read.
    pub present: usize,
    /// Every anomaly found.
    pub anomalies: Vec<SetAnomaly>,
}

/// Checks the adds against the final read (see the module documentation).
pub fn check(adds: &[Add], final_elements: &[Element]) -> SetReport {
    let mut report = SetReport {
        present: final_elements.len(),
        ..SetReport::default()
    };
    let mut by_value: HashMap<&str, Vec<&Element>> = HashMap::new();
    for e in final_elements {
        by_value.entry(&e.value).or_default().push(e);
    }
    for elements in by_value.values() {
        if elements.len() > 1 {
            let mut all: Vec<Element> = elements.iter().map(|e| (*e).clone()).collect();
            all.sort_by(|a, b| a.key.cmp(&b.key));
            report.anomalies.push(SetAnomaly::Duplicated(all));
        }
    }
    let attempted: HashMap<&str, &Add> = adds.iter().map(|a| (a.value.as_str(), a)).collect();
    let mut unexpected: Vec<&Element> = final_elements
        .iter()
        .filter(|e| !attempted.contains_key(e.value.as_str()))
        .collect();
    unexpected.sort_by(|a, b| a.key.cmp(&b.key));
    report.anomalies.extend(
        unexpected
            .into_iter()
            .map(|e| SetAnomaly::Unexpected(e.clone())),
    );
    for add in adds {
        let found = by_value.get(add.value.as_str()).and_then(|v| v.first());
        match add.outcome {
            AddOutcome::Ok => {
                report.acknowledged += 1;
                match found {
                    None => report.anomalies.push(SetAnomaly::Lost(add.clone())),
                    Some(e) if add.key.as_ref() != Some(&e.key) => report
                        .anomalies
                        .push(SetAnomaly::Moved(add.clone(), (*e).clone())),
                    Some(_) => {}
                }
            }
            AddOutcome::Fail => {
                report.failed += 1;
                if let Some(e) = found {
                    report
                        .anomalies
                        .push(SetAnomaly::FailedButPresent(add.clone(), (*e).clone()));
                }
                if add.kind == AddKind::Create && add.error_code == Some(105) {
                    report
                        .anomalies
                        .push(SetAnomaly::FreshKeyExists(add.clone()));
                }
            }
            AddOutcome::Unknown => {
                report.unknown += 1;
                report.unknown_present += usize::from(found.is_some());
            }
        }
    }
    let acked: Vec<&Add> = adds
        .iter()
        .filter(|a| a.outcome == AddOutcome::Ok)
        .collect();
    report.anomalies.extend(real_time_order(&acked, |a| {
        a.created_index.map(|i| (i, String::new()))
    }));
    let appends: Vec<&Add> = acked
        .iter()
        .copied()
        .filter(|a| a.kind == AddKind::Append)
        .collect();
    report.anomalies.extend(real_time_order(&appends, |a| {
        a.key.as_ref().map(|k| (k.len() as u64, k.clone()))
    }));
    report
}

/// Pairs of acknowledged adds where one completed before the other was sent but has the
/// greater `order`; each later add is reported once, against the greatest earlier one.
fn real_time_order<F>(acked: &[&Add], order: F) -> Vec<SetAnomaly>
where
    F: Fn(&Add) -> Option<(u64, String)>,
{
    let mut by_complete: Vec<&Add> = acked.to_vec();
    by_complete.sort_by_key(|a| a.complete_ns);
    let mut by_invoke: Vec<&Add> = acked.to_vec();
    by_invoke.sort_by_key(|a| a.invoke_ns);
    let mut anomalies = Vec::new();
    let mut greatest: Option<(&Add, (u64, String))> = None;
    let mut done = 0;
    for later in by_invoke {
        while done < by_complete.len() && by_complete[done].complete_ns < later.invoke_ns {
            let a = by_complete[done];
            if let Some(o) = order(a) {
                if !matches!(&greatest, Some((_, g)) if o <= *g) {
                    greatest = Some((a, o));
                }
            }
            done += 1;
        }
        if let (Some((earlier, g)), Some(o)) = (&greatest, order(later)) {
            if o <= *g {
                anomalies.push(SetAnomaly::OutOfOrder {
                    earlier: (*earlier).clone(),
                    later: later.clone(),
                });
            }
        }
    }
    anomalies
}

/// Renders adds as JSON lines, one per line.
pub fn to_json_lines(adds: &[Add]) -> String {
    let mut out = String::new();
    for a in adds {
        out.push_str(&serde_json::to_string(a).expect("adds always serialize"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(kind: AddKind, value: &str, key: Option<&str>, outcome: AddOutcome) -> Add {
        Add {
            client: 1,
            kind,
            value: value.into(),
            key: key.map(String::from),
            outcome,
            error_code: None,
            created_index: None,
            invoke_ns: 0,
            complete_ns: 1,
        }
    }

    fn element(key: &str, value: &str, created_index: u64) -> Element {
        Element {
            key: key.into(),
            value: value.into(),
            created_index,
        }
    }

    #[test]
    fn present_and_unknown_adds_pass() {
        let adds = [
            add(AddKind::Create, "a", Some("/s/a"), AddOutcome::Ok),
            add(AddKind::Append, "b", Some("/s/0007"), AddOutcome::Ok),
            add(AddKind::Create, "c", Some("/s/c"), AddOutcome::Unknown),
            add(AddKind::Append, "d", None, AddOutcome::Unknown),
            add(AddKind::Create, "e", Some("/s/e"), AddOutcome::Fail),
        ];
        let end = [
            element("/s/a", "a", 5),
            element("/s/0007", "b", 7),
            element("/s/0009", "d", 9),
        ];
        let report = check(&adds, &end);
        assert_eq!(report.anomalies, vec![]);
        assert_eq!(
            (
                report.acknowledged,
                report.failed,
                report.unknown,
                report.unknown_present,
                report.present
            ),
            (2, 1, 2, 1, 3)
        );
    }

    #[test]
    fn lost_moved_failed_unexpected_and_duplicated() {
        let mut refused = add(AddKind::Create, "r", Some("/s/r"), AddOutcome::Fail);
        refused.error_code = Some(105);
        let adds = [
            add(AddKind::Create, "a", Some("/s/a"), AddOutcome::Ok),
            add(AddKind::Append, "b", Some("/s/0007"), AddOutcome::Ok),
            add(AddKind::Create, "f", Some("/s/f"), AddOutcome::Fail),
            add(AddKind::Append, "u", None, AddOutcome::Unknown),
            refused.clone(),
        ];
        let end = [
            element("/s/0008", "b", 8),
            element("/s/f", "f", 9),
            element("/s/0010", "u", 10),
            element("/s/0011", "u", 11),
            element("/s/x", "x", 12),
        ];
        let report = check(&adds, &end);
        let expected = [
            SetAnomaly::Duplicated(vec![
                element("/s/0010", "u", 10),
                element("/s/0011", "u", 11),
            ]),
            SetAnomaly::Unexpected(element("/s/x", "x", 12)),
            SetAnomaly::Lost(adds[0].clone()),
            SetAnomaly::Moved(adds[1].clone(), end[0].clone()),
            SetAnomaly::FailedButPresent(adds[2].clone(), end[1].clone()),
            SetAnomaly::FreshKeyExists(refused),
        ];
        assert_eq!(report.anomalies, expected);
    }

    #[test]
    fn acknowledgements_follow_real_time() {
        let timed = |value: &str, key: &str, index: u64, invoke: u64, complete: u64| Add {
            created_index: Some(index),
            invoke_ns: invoke,
            complete_ns: complete,
            ..add(AddKind::Append, value, Some(key), AddOutcome::Ok)
        };
        // a then b in real time; c overlaps both, so it may take any place.
        let ok = [
            timed("a", "/s/05", 5, 0, 10),
            timed("b", "/s/07", 7, 20, 30),
            timed("c", "/s/06", 6, 5, 40),
        ];
        let end: Vec<Element> = ok
            .iter()
            .map(|a| {
                element(
                    a.key.as_deref().unwrap(),
                    &a.value,
                    a.created_index.unwrap(),
                )
            })
            .collect();
        assert_eq!(check(&ok, &end).anomalies, vec![]);
        // b sent after a was acknowledged, yet named before it.
        let bad = [
            timed("a", "/s/07", 7, 0, 10),
            timed("b", "/s/05", 5, 20, 30),
        ];
        let end: Vec<Element> = bad
            .iter()
            .map(|a| {
                element(
                    a.key.as_deref().unwrap(),
                    &a.value,
                    a.created_index.unwrap(),
                )
            })
            .collect();
        let out_of_order = SetAnomaly::OutOfOrder {
            earlier: bad[0].clone(),
            later: bad[1].clone(),
        };
        assert_eq!(
            check(&bad, &end).anomalies,
            vec![out_of_order.clone(), out_of_order]
        );
    }
}
