//! Differential tests of the JSON gateway (`/v3/...` and `/v3beta/...` on the
//! client port): real etcd 3.4 and ectd, each a single member on a fresh data
//! directory, receive the same HTTP requests in the same order and must give
//! the same answers — status, `Content-Type` and body (see `observe.rs` for the
//! few things masked: cluster, member and lease ids, raft term, process
//! counters, a lease's TTL within a second).
//!
//! Nothing here states what an answer should be: every expectation is etcd's
//! answer to the same request, taken live. Both stores start empty and see the
//! same writes, so revisions line up and are compared exactly.
//!
//! Each test owns its own pair of servers and reports all its mismatches at the
//! end (request, etcd's answer, ectd's answer). Requests go out on raw sockets
//! (the v2 suite's `http.rs`), so malformed bodies and paths arrive as written;
//! streams (watch, lease keepalive) are read line by line with deadlines, and
//! once through a real `curl -N` as well (`stream.rs`).
//!
//! `generated.rs` sends seeded random KV sequences; the seed is printed and
//! named in every failure (`DIFF_GW_SEED` replays a run, `DIFF_GW_CASES` sets its
//! length). `DIFF_GW_SUBJECT=etcd` compares etcd with a second etcd instead of
//! ectd, which must pass and so checks the suite's own normalisation.
//! `DIFF_GW_TRACE=1` prints every request with etcd's answer.

#[path = "../common/mod.rs"]
mod common;

// Shared with the v2 suite: a raw HTTP/1.1 client with deadlines. Not every
// helper of it is used here.
#[allow(dead_code)]
#[path = "../differential_v2/http.rs"]
mod http;

mod harness;
mod observe;
mod stream;

mod cluster;
mod errors;
mod generated;
mod kv;
mod lease;
mod lock;
mod watch;
