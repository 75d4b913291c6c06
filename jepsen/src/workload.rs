//! Workloads: concurrent clients that drive a real cluster and record what they saw as a
//! [`crate::history`] for the checkers.
//!
//! - [`register`]: reads, writes and compare-and-sets on a few per-key registers.

pub mod register;
