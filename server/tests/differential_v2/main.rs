//! Differential tests of etcd's v2 HTTP API: real etcd 3.4 and ectd, each a
//! single member started with `--enable-v2` on a fresh data directory, receive
//! the same HTTP requests in the same order and must give the same answers —
//! status, headers and body (see `observe.rs` for the few things that are
//! masked: cluster and member ids, raft index and term, dates, `ttl` within 1 s,
//! `expiration` within a few seconds, own URLs, the order of unsorted listings,
//! the values of `/v2/stats`).
//!
//! Nothing here states what an answer should be: every expectation is etcd's
//! answer to the same request, taken live. Since both stores start with the same
//! entries and see the same writes, `X-Etcd-Index`, `createdIndex` and
//! `modifiedIndex` line up and are compared exactly.
//!
//! Each test owns its own pair of servers. Mismatches are collected and reported
//! together at the end of a test (request, etcd's answer, ectd's answer).
//!
//! Requests are written on raw sockets (`http.rs`) so that paths reach the
//! servers exactly as written, and watchers (`wait=true`) are read event by
//! event.
//!
//! `generated.rs` sends seeded random sequences; the seed is printed and named in
//! every failure (`DIFF_V2_SEED` replays a run, `DIFF_V2_CASES` sets its length).
//! `DIFF_V2_SUBJECT=etcd` compares etcd with a second etcd instead of ectd, which
//! must pass and so checks the suite's own normalisation. `DIFF_V2_TRACE=1`
//! prints every request with etcd's answer.

#[path = "../common/mod.rs"]
mod common;

mod harness;
mod http;
mod observe;

mod cas;
mod cluster;
mod generated;
mod keys;
mod params;
mod paths;
mod startup;
mod ttl;
mod watch;
