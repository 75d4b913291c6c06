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

pub mod append;
pub mod k8s;
pub mod lock;
pub mod register;
pub mod watch;
