//! Differential tests of authentication and role-based access: real etcd 3.4
//! and ectd, each a single member on a fresh data directory, receive the same
//! requests from the same callers and must allow and refuse the same ones,
//! with the same answers — the same gRPC code and message for a refusal, the
//! same response (normalised, `normalize.rs`) for a success.
//!
//! Nothing here states what an answer should be: every expectation is etcd's
//! answer to the same request, taken live. The callers (`cast.rs`) are root,
//! users whose roles grant READ on a prefix, WRITE on one key, READWRITE on a
//! range and READ from a key on, a user without a role, no token and a forged
//! token; `tokens.rs` adds tokens gone stale (role revoked, user deleted,
//! password changed, TTL run out) and JWT tokens.
//!
//! Surfaces, each in its own test functions:
//!
//! - gRPC, with the token in the `token` metadata: `kv.rs`, `services.rs`
//!   (watch, lease, lock, election), `admin.rs` (maintenance and cluster),
//!   `auth_rpcs.rs` (every Auth RPC and its errors), `tokens.rs`;
//! - the JSON gateway, with the token in the `Authorization` header:
//!   `gateway.rs`;
//! - v2 auth and basic auth on `/v2/keys` (`--enable-v2`): `v2.rs`, apart so
//!   that it can be reported separately.
//!
//! Each test owns its pair of servers and reports all its mismatches at the
//! end (request, etcd's answer, the subject's answer), and how many cases it
//! compared. `DIFF_AUTH_SUBJECT=etcd` compares etcd with a second etcd instead
//! of ectd, which must pass and so checks the suite's own normalisation.
//! `DIFF_AUTH_TRACE=1` prints every case with etcd's answer.
//!
//! Where ectd knowingly answers otherwise than etcd 3.4, the case is a gap
//! (`Pair::gap`): the reason is stated, the subject's answer must be the one
//! the gap expects, and the gap is listed when the test ends. The gaps so far
//! (`admin.rs`): etcd 3.4 lets any caller compact, move the leader and raise
//! or clear alarms, which ectd keeps for root.

#[path = "../common/mod.rs"]
mod common;

// Shared with the other differential suites: a raw HTTP/1.1 client with
// deadlines, how gateway and v2 answers are compared, and how requests are
// shown in reports. Not every helper of them is used here.
#[allow(dead_code)]
#[path = "../differential_gateway/observe.rs"]
mod gw_observe;
#[allow(dead_code)]
#[path = "../differential_v2/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../differential/render.rs"]
mod render;
#[allow(dead_code)]
#[path = "../differential_v2/observe.rs"]
mod v2_observe;

mod call;
mod cast;
mod harness;
mod normalize;

mod admin;
mod auth_rpcs;
mod gateway;
mod kv;
mod services;
mod tokens;
mod v2;
