//! ectd-jepsen: fault injection and consistency checking against real ectd clusters.
//!
//! So far only the history checkers exist; the harness that records histories against a
//! multi-member cluster arrives later. Each checker takes a recorded history and reports
//! every anomaly it finds, never a false "ok":
//!
//! - [`history`]: the operation model (client, real-time interval, kind, outcome) and its
//!   JSON-lines form.
//! - [`linearizable`]: linearizability of per-key registers, with unknown outcomes treated
//!   as optional and a time budget that yields "unknown" rather than a guess.
//! - [`lost_writes`]: acknowledged writes missing from the final state, and per-client
//!   revisions that go backwards.
//! - [`watch_check`]: watch streams checked against the store's true event history.

pub mod history;
pub mod linearizable;
pub mod lost_writes;
pub mod watch_check;
