//! Workloads: concurrent clients that drive a real cluster and record what they saw for the
//! checkers.
//!
//! - [`register`]: reads, writes and compare-and-sets on a few per-key registers
//!   ([`crate::history`], checked by [`crate::linearizable`]).
//! - [`append`]: multi-key transactions appending to and reading lists
//!   ([`crate::append`], checked for serializability).
//! - [`watch`]: watchers on every member ([`crate::watch_check`]).

pub mod append;
pub mod register;
pub mod watch;
