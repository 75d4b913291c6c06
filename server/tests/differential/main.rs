//! Differential tests: real etcd and ectd are started side by side on fresh data
//! directories, receive exactly the same sequence of KV requests through the
//! project's client, and must give the same answers.
//!
//! Responses are compared whole after zeroing `cluster_id` and `member_id` in every
//! header (the only fields that legitimately differ between two clusters); errors
//! are compared by gRPC code and message. Since both stores start empty and see the
//! same writes in the same order, revisions line up and can be compared too.
//!
//! Each test owns its own pair of servers, so a divergence in one group of cases
//! cannot cascade into the others. Mismatches are collected and reported together
//! (case number, request, both answers) rather than stopping at the first.
//!
//! Besides the hand-written groups, a seeded generator sends random requests over
//! a small key space; the seed is printed and every failure names it. Set
//! `DIFF_SEED` to replay a run and `DIFF_CASES` to change its length (400). The
//! generated run is made a second time with both servers serving their clients over
//! TLS.
//!
//! Watch, Lease, Lock and Election are compared the same way through the raw tonic
//! clients (`rpc.rs` for unary calls, `streams.rs` for streams, whose answers are
//! collected per stream and compared as whole sequences). Their only
//! normalisations are the ones etcd itself leaves open, each stated where it is
//! applied: server-chosen lease ids, remaining TTLs within 1 s, the order of
//! LeaseLeases and TimeToLive keys, the interleaving of different watchers on
//! one stream, and the number of identical progress notifications per interval.
//!
//! The reference is the installed etcd 3.4. Requests that crash it (see
//! `Gen::safe_txn`, and invalid sort enums, covered in `limits.rs`) are not sent.

#[path = "../common/mod.rs"]
mod common;
// Certificates for the run over TLS; only the CA and leaf issuing are used here.
#[allow(dead_code)]
#[path = "../tls/pki.rs"]
mod pki;

mod builders;
mod harness;
mod render;
mod rpc;
mod streams;

mod compaction;
mod election;
mod generated;
mod lease;
mod lock;
mod put_delete;
mod range;
mod txn;
mod watch;
mod watch_history;
