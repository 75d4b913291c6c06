//! Durability checks: acknowledged writes that vanished from the final state, and clients
//! that saw the store's revision go backwards.

use crate::history::{ClientId, Key, Operation, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// A put the server acknowledged, with the revision it returned (the write's mod revision).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckedWrite {
    /// Key written.
    pub key: Key,
    /// Value written; workloads keep values unique per key.
    pub value: Value,
    /// Revision at which the server said the write was applied.
    pub revision: i64,
}

/// A put whose outcome is unknown: it may have been applied at some unknown revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PossibleWrite {
    /// Key written.
    pub key: Key,
    /// Value written.
    pub value: Value,
}

/// A key's value as read at the end of the run (after healing every fault).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalValue {
    /// The value read.
    pub value: Value,
    /// Revision of the key's last modification.
    pub mod_revision: i64,
}

/// Why an acknowledged write counts as lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LostWrite {
    /// The key is absent at the end (the register workload never deletes).
    KeyMissing(AckedWrite),
    /// The final state's mod revision predates the write: the store went back in time.
    RolledBack(AckedWrite, FinalValue),
    /// The final state claims the write's revision but holds another value.
    Corrupted(AckedWrite, FinalValue),
    /// The final state is newer, but no acknowledged or possibly-applied write explains it,
    /// so nothing is known to have overwritten the write.
    UnexplainedOverwrite(AckedWrite, FinalValue),
}

/// Reports every acknowledged write that is neither present in `final_state` nor overwritten
/// by a later acknowledged or possibly-applied write. Writes to a key are ordered by
/// revision: the final value's mod revision must equal the write's revision (present) or
/// exceed it and belong to another write (overwritten).
pub fn lost_writes(
    acked: &[AckedWrite],
    possible: &[PossibleWrite],
    final_state: &BTreeMap<Key, FinalValue>,
) -> Vec<LostWrite> {
    let acked_at: HashSet<(&Key, &Value, i64)> = acked
        .iter()
        .map(|w| (&w.key, &w.value, w.revision))
        .collect();
    let maybe: HashSet<(&Key, &Value)> = possible.iter().map(|w| (&w.key, &w.value)).collect();
    let mut lost = Vec::new();
    for w in acked {
        let Some(fin) = final_state.get(&w.key) else {
            lost.push(LostWrite::KeyMissing(w.clone()));
            continue;
        };
        let (w, fin) = (w.clone(), fin.clone());
        if fin.mod_revision < w.revision {
            lost.push(LostWrite::RolledBack(w, fin));
        } else if fin.mod_revision == w.revision {
            if fin.value != w.value {
                lost.push(LostWrite::Corrupted(w, fin));
            }
        } else if !acked_at.contains(&(&w.key, &fin.value, fin.mod_revision))
            && !maybe.contains(&(&w.key, &fin.value))
        {
            lost.push(LostWrite::UnexplainedOverwrite(w, fin));
        }
    }
    lost
}

/// A client observed a response header revision lower than one it had already seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionRegression {
    /// The client.
    pub client: ClientId,
    /// The operation that observed the higher revision first.
    pub earlier: Operation,
    /// The later operation that observed a lower revision.
    pub later: Operation,
}

/// Checks that, for each client, the header revisions of its successive responses never
/// decrease (a client's operations are sequential, so invocation order is response order).
/// Operations without a revision (no response) are skipped.
pub fn revision_monotonic(history: &[Operation]) -> Vec<RevisionRegression> {
    let mut by_client: BTreeMap<ClientId, Vec<&Operation>> = BTreeMap::new();
    for op in history.iter().filter(|op| op.revision.is_some()) {
        by_client.entry(op.client).or_default().push(op);
    }
    let mut regressions = Vec::new();
    for (client, mut ops) in by_client {
        ops.sort_by_key(|op| op.invoke_ns);
        let mut highest: Option<&Operation> = None;
        for op in ops {
            match highest {
                Some(h) if op.revision < h.revision => regressions.push(RevisionRegression {
                    client,
                    earlier: h.clone(),
                    later: op.clone(),
                }),
                _ => highest = Some(op),
            }
        }
    }
    regressions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpKind, OpResult, Outcome};

    fn acked(key: &str, value: &str, revision: i64) -> AckedWrite {
        AckedWrite {
            key: key.into(),
            value: value.into(),
            revision,
        }
    }

    fn fin(pairs: &[(&str, &str, i64)]) -> BTreeMap<Key, FinalValue> {
        pairs
            .iter()
            .map(|&(k, v, rev)| {
                let value = FinalValue {
                    value: v.into(),
                    mod_revision: rev,
                };
                (k.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn present_and_overwritten_writes_are_not_lost() {
        let writes = [acked("a", "1", 2), acked("a", "2", 5), acked("b", "x", 3)];
        let possible = [PossibleWrite {
            key: "b".into(),
            value: "y".into(),
        }];
        let state = fin(&[("a", "2", 5), ("b", "y", 9)]);
        assert_eq!(lost_writes(&writes, &possible, &state), vec![]);
    }

    #[test]
    fn acknowledged_write_missing_from_final_state() {
        let writes = [acked("a", "1", 2), acked("b", "x", 3)];
        let state = fin(&[("a", "1", 2)]);
        assert_eq!(
            lost_writes(&writes, &[], &state),
            vec![LostWrite::KeyMissing(acked("b", "x", 3))]
        );
    }

    #[test]
    fn rolled_back_corrupted_and_unexplained_writes() {
        let state = fin(&[("a", "old", 1), ("b", "other", 3), ("c", "ghost", 8)]);
        let writes = [acked("a", "1", 2), acked("b", "x", 3), acked("c", "z", 4)];
        let lost = lost_writes(&writes, &[], &state);
        assert_eq!(
            lost,
            vec![
                LostWrite::RolledBack(writes[0].clone(), state["a"].clone()),
                LostWrite::Corrupted(writes[1].clone(), state["b"].clone()),
                LostWrite::UnexplainedOverwrite(writes[2].clone(), state["c"].clone()),
            ]
        );
    }

    fn response(client: u64, at: u64, revision: Option<i64>) -> Operation {
        Operation {
            client,
            key: "k".into(),
            invoke_ns: at,
            complete_ns: at + 1,
            kind: OpKind::Read,
            outcome: match revision {
                Some(_) => Outcome::Ok(OpResult::Read(None)),
                None => Outcome::Unknown,
            },
            revision,
        }
    }

    #[test]
    fn revisions_never_going_backwards_pass() {
        let history = [
            response(1, 0, Some(3)),
            response(2, 1, Some(1)),
            response(1, 2, None),
            response(1, 3, Some(3)),
            response(1, 4, Some(7)),
            response(2, 5, Some(2)),
        ];
        assert_eq!(revision_monotonic(&history), vec![]);
    }

    #[test]
    fn revision_going_backwards_for_a_client_is_reported() {
        // Client 2 is out of order in the slice; ordering is by invocation time.
        let history = [
            response(1, 4, Some(5)),
            response(2, 9, Some(9)),
            response(1, 0, Some(3)),
            response(1, 8, Some(4)),
            response(1, 9, Some(6)),
        ];
        assert_eq!(
            revision_monotonic(&history),
            vec![RevisionRegression {
                client: 1,
                earlier: history[0].clone(),
                later: history[3].clone(),
            }]
        );
    }
}
