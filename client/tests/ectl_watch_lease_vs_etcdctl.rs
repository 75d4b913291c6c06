//! ectl's `lease`, `watch`, `lock` and `elect` must be drop-in replacements
//! for etcdctl 3.4's: each scenario runs once with etcdctl against one real
//! etcd and once with ectl against another, and every step must print the
//! same stdout, exit with the same code and report the same errors.
//!
//! The two etcds are single-member clusters with the same cluster and
//! member IDs (see `support/etcd.rs`), and both see the same requests, so
//! revisions agree and most outputs compare byte for byte. What a server
//! picks by itself (lease IDs in `lease grant` and in lock and election
//! keys) and what depends on timing (a lease's remaining TTL, how often a
//! keep-alive got to renew) is masked by the scenarios, and nothing else.
//!
//! The scenarios only need an endpoint and a tool, so the same comparisons
//! also run with ectl against ectd (started with the same flags, hence the
//! same IDs), etcdctl against etcd being the reference.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

// Shared with suites that use more of it (restarting a member).
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "ectl_watch_lease/harness.rs"]
mod harness;
#[path = "ectl_watch_lease/lease.rs"]
mod lease;
#[path = "ectl_watch_lease/lock_elect.rs"]
mod lock_elect;
#[path = "support/tools.rs"]
mod tools;
#[path = "ectl_watch_lease/watch.rs"]
mod watch;

use etcd::Etcd;
use harness::{compare, Tool, Transcript};

/// Runs `scenario` with etcdctl and with ectl, each against an etcd of
/// its own.
fn against_two_etcds(scenario: fn(&Tool, &str, &mut Transcript)) {
    let reference = Etcd::start();
    let candidate = Etcd::start();
    let etcdctl = Tool::etcdctl(tools::binary("ETCDCTL_BIN", "/usr/bin/etcdctl"));
    compare(etcdctl, &reference.endpoint, &candidate.endpoint, scenario);
}

/// Runs `scenario` with etcdctl against etcd and with ectl against ectd.
fn against_etcd_and_ectd(scenario: fn(&Tool, &str, &mut Transcript)) {
    let reference = Etcd::start();
    let candidate = Etcd::start_ectd();
    let etcdctl = Tool::etcdctl(tools::binary("ETCDCTL_BIN", "/usr/bin/etcdctl"));
    compare(etcdctl, &reference.endpoint, &candidate.endpoint, scenario);
}

#[test]
fn ectl_on_ectd_lease_commands_match_etcdctl_on_etcd() {
    against_etcd_and_ectd(lease::scenario);
}

#[test]
fn ectl_on_ectd_watch_commands_match_etcdctl_on_etcd() {
    against_etcd_and_ectd(watch::scenario);
}

#[test]
fn ectl_on_ectd_lock_and_elect_match_etcdctl_on_etcd() {
    against_etcd_and_ectd(lock_elect::scenario);
}

#[test]
fn lease_commands_match_etcdctl() {
    against_two_etcds(lease::scenario);
}

#[test]
fn watch_commands_match_etcdctl() {
    against_two_etcds(watch::scenario);
}

#[test]
fn lock_and_elect_match_etcdctl() {
    against_two_etcds(lock_elect::scenario);
}
