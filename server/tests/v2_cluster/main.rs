//! etcd v2's keys API (`--enable-v2`) on three-member clusters: TTL expiry decided
//! once and reported alike by every member (through leader kills and restarts),
//! flannel's subnet leases taken concurrently by many hosts, and the v2 index kept
//! apart from v3 revisions.
//!
//! Every scenario runs against ectd and against real etcd 3.4 (`/usr/bin/etcd`),
//! with the same checks: etcd passing them is what shows that the checks describe
//! etcd's behaviour. Members are real processes on 127.0.0.1 with short raft
//! timings; the v2 API is spoken over plain HTTP/1.1. Scenarios run one at a time,
//! since they measure TTL deadlines.

#[path = "../common/mod.rs"]
mod common;

mod http;
mod support;
mod watcher;

mod ipam;
mod mixed;
mod ttl;

use common::Kind;
use support::run;

#[test]
fn ttl_expiry_agrees_across_members_and_a_leader_kill_ectd() {
    run(ttl::expiry_agrees_across_members(Kind::Ectd));
}

#[test]
fn ttl_expiry_agrees_across_members_and_a_leader_kill_etcd() {
    run(ttl::expiry_agrees_across_members(Kind::Etcd));
}

#[test]
fn ttl_refresh_extends_without_an_event_ectd() {
    run(ttl::refresh_extends_without_event(Kind::Ectd));
}

#[test]
fn ttl_refresh_extends_without_an_event_etcd() {
    run(ttl::refresh_extends_without_event(Kind::Etcd));
}

#[test]
fn flannel_subnet_leases_through_leader_kill_and_follower_restart_ectd() {
    run(ipam::subnet_leases(Kind::Ectd));
}

#[test]
fn flannel_subnet_leases_through_leader_kill_and_follower_restart_etcd() {
    run(ipam::subnet_leases(Kind::Etcd));
}

#[test]
fn v2_index_moves_apart_from_v3_revision_ectd() {
    run(mixed::index_apart_from_revision(Kind::Ectd));
}

#[test]
fn v2_index_moves_apart_from_v3_revision_etcd() {
    run(mixed::index_apart_from_revision(Kind::Etcd));
}
