//! ectl's `auth`, `user` and `role` commands and its `--user` and
//! `--password` logins must be drop-in replacements for etcdctl 3.4's: one
//! script of command lines runs through etcdctl against one server and
//! through ectl against another, and every step must print the same stdout,
//! exit with the same code and report the same `Error:` line. The script
//! builds users, roles and permissions, enables authentication, logs in
//! right and wrong (flags, environment, typed passwords), reads and writes
//! keys as users with and without permission, and disables authentication.
//!
//! The servers are single members started with the same flags, hence the
//! same cluster and member IDs, and both get the same requests in the same
//! order, so headers agree and nothing is masked. `auth status`, which
//! etcdctl 3.4 lacks, is checked on ectl's side alone against what the
//! server should answer (etcd 3.4 does not serve it; ectd answers as etcd
//! 3.5 does).
//!
//! Three pairings run the script: etcdctl and ectl each against an etcd
//! 3.4 (ectl itself is checked), etcdctl against etcd and ectl against ectd
//! (ectd's auth store is checked as well), and both tools against an ectd
//! each.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and, for the ectd pairings, the `ectd`
//! binary (`cargo build -p ectd-server --bin ectd`, or `ECTD_BIN`).

// Shared with suites that use more of it (restarting a member, TLS).
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

#[path = "ectl_auth/harness.rs"]
mod harness;
#[path = "ectl_auth/script.rs"]
mod script;

use etcd::Etcd;
use harness::{AuthStatus, Compare, Side};
use tools::binary;

fn etcdctl() -> std::path::PathBuf {
    binary("ETCDCTL_BIN", "/usr/bin/etcdctl")
}

#[test]
fn auth_commands_match_etcdctl() {
    let reference = Etcd::start();
    let candidate = Etcd::start();
    let mut t = Compare::new(
        Side::etcdctl(etcdctl(), &reference.endpoint, "etcd 3.4"),
        Side::ectl(&candidate.endpoint, "etcd 3.4"),
        AuthStatus::Unimplemented,
    );
    script::script(&mut t);
    t.assert_no_mismatches();
}

#[test]
fn ectl_on_ectd_auth_commands_match_etcdctl_on_etcd() {
    let reference = Etcd::start();
    let candidate = Etcd::start_ectd();
    let mut t = Compare::new(
        Side::etcdctl(etcdctl(), &reference.endpoint, "etcd 3.4"),
        Side::ectl(&candidate.endpoint, "ectd"),
        AuthStatus::Served,
    );
    script::script(&mut t);
    t.assert_no_mismatches();
}

#[test]
fn auth_commands_on_ectd_match_etcdctl_on_ectd() {
    let reference = Etcd::start_ectd();
    let candidate = Etcd::start_ectd();
    let mut t = Compare::new(
        Side::etcdctl(etcdctl(), &reference.endpoint, "ectd"),
        Side::ectl(&candidate.endpoint, "ectd"),
        AuthStatus::Served,
    );
    script::script(&mut t);
    t.assert_no_mismatches();
}
