//! ectd-jepsen: fault injection and consistency checking against real ectd clusters.
//!
//! Two halves: a harness that runs a real multi-member cluster and injects faults into
//! it, and history checkers. Each checker takes a recorded history and reports every
//! anomaly it finds, never a false "ok". [`workload`] records histories against the
//! cluster and [`run`] ties the two halves into one end-to-end test.
//!
//! Harness:
//!
//! - [`cluster`]: N `ectd` processes on loopback; kill, restart, pause, partition, heal,
//!   find the leader.
//! - [`proxy`]: the fault-injecting TCP proxy each peer link runs through (pass, cut,
//!   delay, random connection loss).
//! - [`peer_source`]: which member opened a proxied connection, so partitions can be
//!   directional.
//! - [`v2_http`]: etcd's v2 keys API over HTTP/1.1, with replies sorted into applied,
//!   refused and unknown.
//!
//! - [`nemesis`]: a seeded schedule of faults: kills, pauses, partitions (leader, majority,
//!   ring, bridge), slow and lossy links, leader transfer, member replacement, crashes at
//!   failpoints inside ectd.
//! - [`workload`]: concurrent clients that record histories (registers, list-append
//!   transactions, watchers; registers and a set over the v2 keys API).
//! - [`run`]: one end-to-end run: cluster, workloads, nemesis, final state, checks.
//! - [`report`]: the summary, histories and timeline a run leaves behind.
//! - [`timeline`]: a run drawn as one self-contained HTML page (lanes, faults, anomalies).
//!
//! Checkers:
//!
//! - [`history`]: the operation model (client, real-time interval, kind, outcome) and its
//!   JSON-lines form.
//! - [`linearizable`]: linearizability of per-key registers, with unknown outcomes treated
//!   as optional and a time budget that yields "unknown" rather than a guess.
//! - [`lost_writes`]: acknowledged writes missing from the final state, and per-client
//!   revisions that go backwards.
//! - [`set_check`]: a grow-only set: every acknowledged add present at the end, nothing
//!   unexpected or twice, acknowledgements in real-time order.
//! - [`watch_check`]: watch streams checked against the store's true event history.
//! - [`append`]: list-append transactions checked for strict serializability (Elle-style).
//! - [`shrink`]: a small sub-history that a checker still rejects (delta debugging).

pub mod append;
pub mod cluster;
pub mod history;
pub mod linearizable;
pub mod lost_writes;
pub mod nemesis;
pub mod peer_source;
pub mod proxy;
pub mod report;
pub mod run;
pub mod set_check;
pub mod shrink;
pub mod timeline;
pub mod v2_http;
pub mod watch_check;
pub mod workload;
