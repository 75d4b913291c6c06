//! Workloads: concurrent clients that drive a real cluster and record what they saw for the
//! checkers.
//!
//! - [`register`]: reads, writes and compare-and-sets on a few per-key registers
//!   ([`crate::history`], checked by [`crate::linearizable`]).
//! - [`append`]: multi-key transactions appending to and reading lists
//!   ([`crate::append`], checked for serializability).
//! - [`watch`]: watchers on every member ([`crate::watch_check`]).
//! - [`lock`]: lock holders doing fenced increments (checked in the module).
//! - [`k8s`]: kube-apiserver-shaped traffic: optimistic updates, paginated lists,
//!   periodic compaction.
//! - [`v2_register`]: the register workload over the v2 keys API (quorum GET, PUT,
//!   `prevValue` / `prevExist=false` compare-and-set), checked like [`register`].
//! - [`v2_set`]: unique adds to one v2 directory ([`crate::set_check`]).

pub mod append;
pub mod k8s;
pub mod lock;
pub mod register;
pub mod v2_register;
pub mod v2_set;
pub mod watch;

use std::time::Duration;

/// Which generation of keys an operation started `since` the run began uses. Register-style
/// workloads move to fresh keys every `period` (never when `None`), so that each key's
/// history stays short enough for the linearizability search however long the run.
pub fn generation(since: Duration, period: Option<Duration>) -> u64 {
    match period {
        Some(p) if !p.is_zero() => (since.as_nanos() / p.as_nanos()) as u64,
        _ => 0,
    }
}

/// `base` in generation `generation`: `base` itself in the first, `base.N` after.
pub fn key_in(base: &str, generation: u64) -> String {
    if generation == 0 {
        base.to_string()
    } else {
        format!("{base}.{generation}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_advance_with_the_period() {
        let p = Some(Duration::from_secs(30));
        assert_eq!(generation(Duration::from_secs(29), p), 0);
        assert_eq!(generation(Duration::from_secs(30), p), 1);
        assert_eq!(generation(Duration::from_secs(95), p), 3);
        assert_eq!(generation(Duration::from_secs(95), None), 0);
        assert_eq!(generation(Duration::from_secs(95), Some(Duration::ZERO)), 0);
        assert_eq!(key_in("jepsen/r1", 0), "jepsen/r1");
        assert_eq!(key_in("jepsen/r1", 3), "jepsen/r1.3");
    }
}
