//! The operation model: what a client asked a single register key to do, when, and what it
//! learned about the outcome.
//!
//! Histories are recorded as JSON lines, one [`Operation`] per line, so a run can be checked
//! again offline.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies the client (Jepsen "process") that issued an operation. A client issues one
/// operation at a time, so its operations never overlap.
pub type ClientId = u64;

/// A key of the store.
pub type Key = String;

/// A register value. Workloads write unique values so that a read names the write it saw.
pub type Value = String;

/// What the client asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Read the key; observes `None` when the key does not exist.
    Read,
    /// Put the value.
    Write(Value),
    /// Put `new` only if the current value equals `expected` (`None`: key absent).
    Cas {
        /// Value the key must hold for the swap to happen.
        expected: Option<Value>,
        /// Value put when it does.
        new: Value,
    },
}

/// What an acknowledged operation returned; must match its [`OpKind`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    /// The value a read observed.
    Read(Option<Value>),
    /// A write was applied.
    Write,
    /// Whether a compare-and-swap swapped.
    Cas(bool),
}

/// How an operation ended, from the client's point of view.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The server answered; the operation took effect exactly once with this result.
    Ok(OpResult),
    /// The server definitely did not apply the operation (e.g. rejected before proposal).
    Fail,
    /// Timed out or the connection was lost: it may have been applied, at any point after
    /// its invocation, or never.
    Unknown,
}

/// One operation on one key, with its real-time interval.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Operation {
    /// The client that issued it.
    pub client: ClientId,
    /// The key it addressed.
    pub key: Key,
    /// Monotonic nanoseconds at which the request was sent.
    pub invoke_ns: u64,
    /// Monotonic nanoseconds at which the client learned the outcome (or gave up).
    pub complete_ns: u64,
    /// What was asked.
    pub kind: OpKind,
    /// How it ended.
    pub outcome: Outcome,
    /// Header revision of the response, when the server answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

impl Operation {
    /// Latest instant at which the operation may have taken effect: its completion time when
    /// the server answered, infinity (`u64::MAX`) when the outcome is unknown.
    pub fn effect_deadline_ns(&self) -> u64 {
        match self.outcome {
            Outcome::Unknown => u64::MAX,
            _ => self.complete_ns,
        }
    }

    /// Checks the operation is well formed: it completes no earlier than it is invoked and an
    /// acknowledged result matches the kind of operation.
    pub fn validate(&self) -> Result<(), HistoryError> {
        if self.complete_ns < self.invoke_ns {
            return Err(HistoryError::CompletesBeforeInvoke(Box::new(self.clone())));
        }
        let matches = matches!(
            (&self.kind, &self.outcome),
            (_, Outcome::Fail | Outcome::Unknown)
                | (OpKind::Read, Outcome::Ok(OpResult::Read(_)))
                | (OpKind::Write(_), Outcome::Ok(OpResult::Write))
                | (OpKind::Cas { .. }, Outcome::Ok(OpResult::Cas(_)))
        );
        if matches {
            Ok(())
        } else {
            Err(HistoryError::ResultMismatch(Box::new(self.clone())))
        }
    }
}

/// A malformed history.
#[derive(Debug)]
pub enum HistoryError {
    /// A JSON line did not parse as an [`Operation`] (1-based line number).
    Parse(usize, serde_json::Error),
    /// `complete_ns < invoke_ns`.
    CompletesBeforeInvoke(Box<Operation>),
    /// An `Ok` result of the wrong shape for the operation's kind.
    ResultMismatch(Box<Operation>),
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Parse(line, e) => write!(f, "line {line}: {e}"),
            HistoryError::CompletesBeforeInvoke(op) => {
                write!(f, "operation completes before it is invoked: {op:?}")
            }
            HistoryError::ResultMismatch(op) => {
                write!(f, "result does not match operation kind: {op:?}")
            }
        }
    }
}

impl std::error::Error for HistoryError {}

/// Checks every operation of a history with [`Operation::validate`].
pub fn validate(history: &[Operation]) -> Result<(), HistoryError> {
    history.iter().try_for_each(Operation::validate)
}

/// Renders a history as JSON lines, one operation per line.
pub fn to_json_lines(history: &[Operation]) -> String {
    let mut out = String::new();
    for op in history {
        out.push_str(&serde_json::to_string(op).expect("operations always serialize"));
        out.push('\n');
    }
    out
}

/// Parses and validates JSON lines written by [`to_json_lines`]; blank lines are skipped.
pub fn from_json_lines(text: &str) -> Result<Vec<Operation>, HistoryError> {
    let mut ops = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let op: Operation =
            serde_json::from_str(line).map_err(|e| HistoryError::Parse(i + 1, e))?;
        op.validate()?;
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpKind, outcome: Outcome) -> Operation {
        Operation {
            client: 1,
            key: "k".into(),
            invoke_ns: 10,
            complete_ns: 20,
            kind,
            outcome,
            revision: Some(3),
        }
    }

    #[test]
    fn json_lines_round_trip() {
        let history = vec![
            op(OpKind::Read, Outcome::Ok(OpResult::Read(None))),
            op(OpKind::Write("a".into()), Outcome::Unknown),
            op(
                OpKind::Cas {
                    expected: Some("a".into()),
                    new: "b".into(),
                },
                Outcome::Ok(OpResult::Cas(true)),
            ),
            op(OpKind::Write("c".into()), Outcome::Fail),
        ];
        let text = to_json_lines(&history);
        assert_eq!(text.lines().count(), 4);
        assert_eq!(from_json_lines(&text).unwrap(), history);
    }

    #[test]
    fn rejects_malformed_operations() {
        let mismatch = op(OpKind::Read, Outcome::Ok(OpResult::Write));
        assert!(matches!(
            mismatch.validate(),
            Err(HistoryError::ResultMismatch(_))
        ));
        let mut backwards = op(OpKind::Read, Outcome::Fail);
        backwards.complete_ns = 5;
        assert!(matches!(
            validate(&[backwards]),
            Err(HistoryError::CompletesBeforeInvoke(_))
        ));
        let text = to_json_lines(&[mismatch]);
        assert!(from_json_lines(&text).is_err());
        assert!(matches!(
            from_json_lines("not json"),
            Err(HistoryError::Parse(1, _))
        ));
    }

    #[test]
    fn unknown_operations_may_take_effect_forever() {
        let unknown = op(OpKind::Write("a".into()), Outcome::Unknown);
        assert_eq!(unknown.effect_deadline_ns(), u64::MAX);
        let ok = op(OpKind::Write("a".into()), Outcome::Ok(OpResult::Write));
        assert_eq!(ok.effect_deadline_ns(), 20);
    }
}
