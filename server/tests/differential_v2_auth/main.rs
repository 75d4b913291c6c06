//! Differential tests of etcd 3.4's v2 auth: real etcd 3.4 and ectd, each a
//! single member started with `--enable-v2` on a fresh data directory, receive
//! the same HTTP requests in the same order and must give the same answers —
//! status, headers and body, compared as the v2 suite compares them (the v2
//! suite's harness is shared, see `differential_v2/observe.rs` for what is
//! masked).
//!
//! Nothing here states what an answer should be: every expectation is etcd's
//! answer to the same request, taken live. Auth writes take v2 store indexes
//! in etcd, so `X-Etcd-Index` (compared exactly) checks that they take the same
//! ones here.
//!
//! - `admin.rs`: `/v2/auth/enable`, `/v2/auth/users[/<name>]`,
//!   `/v2/auth/roles[/<name>]`, every error they give, and the JSON etcd reads
//!   and writes (absent versus empty lists, echoed grants, names matched
//!   without regard to case);
//! - `access.rs`: who may read and write which keys under `/v2/keys` once auth
//!   is on (users of different roles, the guest, wrong and malformed
//!   credentials, recursive requests), and who may change `/v2/members`;
//! - `index.rs`: auth writes move the index but no key watcher sees them; auth
//!   records are not keys;
//! - `v3.rs`: v2 and v3 auth are independent, as in etcd 3.4;
//! - `cluster.rs`: on three members, changes through any member are enforced
//!   by every member (the one scenario that states expectations; it runs
//!   against etcd too).
//!
//! `DIFF_V2_SUBJECT=etcd` compares etcd with a second etcd (which must pass);
//! `DIFF_V2_TRACE=1` prints every request with etcd's answer.

#[path = "../common/mod.rs"]
mod common;

// The v2 suite's pair of servers, raw HTTP client and comparison; not every
// helper is used here.
#[allow(dead_code)]
#[path = "../differential_v2/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "../differential_v2/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../differential_v2/observe.rs"]
mod observe;

mod callers;

mod access;
mod admin;
mod cluster;
mod index;
mod v3;
