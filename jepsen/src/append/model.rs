//! The list-append operation model: micro-operations, transactions with their real-time
//! intervals and outcomes, their JSON-lines form, and how a list is stored as a value.

use crate::history::{ClientId, Key};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// An element appended to a list. Workloads never append the same element to a key twice, so
/// an element names the transaction that appended it.
pub type Element = u64;

/// One step of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MicroOp {
    /// Append `element` to the end of `key`'s list.
    Append {
        /// Key appended to.
        key: Key,
        /// The element, unique among all appends to this key.
        element: Element,
    },
    /// Read `key`'s whole list.
    Read {
        /// Key read.
        key: Key,
        /// The list observed, including this transaction's own earlier appends to the key;
        /// filled in exactly when the transaction committed.
        #[serde(default)]
        value: Option<Vec<Element>>,
    },
}

impl MicroOp {
    /// The key the micro-op addresses.
    pub fn key(&self) -> &str {
        match self {
            MicroOp::Append { key, .. } | MicroOp::Read { key, .. } => key,
        }
    }
}

/// How a transaction ended, from the client's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnOutcome {
    /// Acknowledged: applied atomically at one revision, reads filled in.
    Committed,
    /// Definitely not applied: the compare failed or the server rejected it before proposal.
    Aborted,
    /// Timed out or the connection was lost: applied at some point after its invocation, or
    /// never; its reads are unknown.
    Unknown,
}

/// One transaction with its real-time interval.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Txn {
    /// The client that issued it.
    pub client: ClientId,
    /// Monotonic nanoseconds at which the request was sent.
    pub invoke_ns: u64,
    /// Monotonic nanoseconds at which the client learned the outcome (or gave up).
    pub complete_ns: u64,
    /// Its micro-ops, in order.
    pub ops: Vec<MicroOp>,
    /// How it ended.
    pub outcome: TxnOutcome,
    /// Header revision of the response when committed: the transaction's own revision if it
    /// appended, the store's revision when it was served if it only read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
}

impl Txn {
    /// Checks the transaction is well formed: it completes no earlier than it is invoked, and
    /// when committed every read has its value.
    pub fn validate(&self) -> Result<(), HistoryError> {
        if self.complete_ns < self.invoke_ns {
            return Err(HistoryError::CompletesBeforeInvoke(Box::new(self.clone())));
        }
        let unfilled = self
            .ops
            .iter()
            .any(|op| matches!(op, MicroOp::Read { value: None, .. }));
        if self.outcome == TxnOutcome::Committed && unfilled {
            return Err(HistoryError::UnfilledRead(Box::new(self.clone())));
        }
        Ok(())
    }

    pub(super) fn appends(&self) -> impl Iterator<Item = (&str, Element)> {
        self.ops.iter().filter_map(|op| match op {
            MicroOp::Append { key, element } => Some((key.as_str(), *element)),
            MicroOp::Read { .. } => None,
        })
    }
}

/// A malformed list-append history.
#[derive(Debug)]
pub enum HistoryError {
    /// A JSON line did not parse as a [`Txn`] (1-based line number).
    Parse(usize, serde_json::Error),
    /// `complete_ns < invoke_ns`.
    CompletesBeforeInvoke(Box<Txn>),
    /// A committed transaction with a read that has no value.
    UnfilledRead(Box<Txn>),
    /// The same element appended to the same key twice, so it names no single writer.
    DuplicateAppend {
        /// Key appended to.
        key: Key,
        /// The repeated element.
        element: Element,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Parse(line, e) => write!(f, "line {line}: {e}"),
            HistoryError::CompletesBeforeInvoke(txn) => {
                write!(f, "transaction completes before it is invoked: {txn:?}")
            }
            HistoryError::UnfilledRead(txn) => {
                write!(f, "committed transaction with an unfilled read: {txn:?}")
            }
            HistoryError::DuplicateAppend { key, element } => {
                write!(
                    f,
                    "element {element} appended to key {key:?} more than once"
                )
            }
        }
    }
}

impl std::error::Error for HistoryError {}

/// Checks every transaction with [`Txn::validate`] and that no element is appended to the
/// same key twice.
pub fn validate(history: &[Txn]) -> Result<(), HistoryError> {
    let mut appended = HashSet::new();
    for txn in history {
        txn.validate()?;
        for (key, element) in txn.appends() {
            if !appended.insert((key, element)) {
                let key = key.to_string();
                return Err(HistoryError::DuplicateAppend { key, element });
            }
        }
    }
    Ok(())
}

/// Renders a history as JSON lines, one transaction per line.
pub fn to_json_lines(history: &[Txn]) -> String {
    let mut out = String::new();
    for txn in history {
        out.push_str(&serde_json::to_string(txn).expect("transactions always serialize"));
        out.push('\n');
    }
    out
}

/// Parses and validates JSON lines written by [`to_json_lines`]; blank lines are skipped.
pub fn from_json_lines(text: &str) -> Result<Vec<Txn>, HistoryError> {
    let mut history = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        history.push(serde_json::from_str(line).map_err(|e| HistoryError::Parse(i + 1, e))?);
    }
    validate(&history)?;
    Ok(history)
}

/// Encodes a list as the value stored under its key: the elements in order, comma separated;
/// the empty list is the empty string.
pub fn encode_list(list: &[Element]) -> String {
    let items: Vec<String> = list.iter().map(Element::to_string).collect();
    items.join(",")
}

/// Decodes a value written by [`encode_list`]; the empty string (and so an absent key, read
/// as empty) is the empty list.
pub fn decode_list(value: &str) -> Result<Vec<Element>, std::num::ParseIntError> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    value.split(',').map(str::parse).collect()
}
