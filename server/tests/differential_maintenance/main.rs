//! Differential tests of the Maintenance and Cluster services: a real etcd
//! cluster and an ectd cluster of the same size receive the same requests and
//! must give the same answers, field by field, with the same headers present
//! or absent (`call.rs` says what is normalised away).
//!
//! Each test runs against two references: etcd 3.4.23 (`/usr/bin/etcd`) and
//! etcd 3.6.15 (the `etcd-bin-vendored` crate). ectd is started with
//! `--etcd-version` set to the reference's version, and answers as that
//! release does where releases differ:
//!
//! - `Alarm` carries a header from 3.5 on (3.4: none);
//! - `HashKV` has `hash_revision` from 3.5 on, and 3.4 reports a compact
//!   revision of -1 before the first compaction;
//! - `Status` has `storage_version`, `db_size_quota` and `downgrade_info` from
//!   3.6 on; snapshot messages carry the storage version from 3.6 on;
//! - `Downgrade` is `Unimplemented` before 3.5. In 3.5 and 3.6 VALIDATE and
//!   ENABLE accept only the minor version below the cluster version; 3.5
//!   answers the cluster version as `3.5.0`, 3.6 as `3.6`; CANCEL without a
//!   downgrade in progress is an error in 3.5 (`no inflight downgrade job`) and
//!   a success in 3.6. ENABLE records the target; while it is enabled,
//!   VALIDATE and ENABLE are refused as a downgrade in progress.
//!
//! What ectd knowingly does otherwise is a gap (`Pair::gap`), listed at the end
//! of each test: etcd 3.6 lowers its cluster and storage versions to an
//! enabled downgrade's target within seconds, ectd keeps them.
//!
//! `DIFF_MAINT_SUBJECT=etcd` compares etcd with a second etcd (checks the
//! normalisation); `DIFF_MAINT_TRACE=1` prints every case with etcd's answer.

#[path = "../common/mod.rs"]
mod common;

mod call;
mod cases;
mod harness;

use harness::Reference;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_matches_etcd_3_4() {
    cases::one_member(&Reference::etcd_3_4()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_matches_etcd_3_6() {
    cases::one_member(&Reference::etcd_3_6()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_match_etcd_3_4() {
    cases::three_members(&Reference::etcd_3_4()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_match_etcd_3_6() {
    cases::three_members(&Reference::etcd_3_6()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrade_matches_etcd_3_6() {
    cases::downgrade(&Reference::etcd_3_6()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrade_is_unimplemented_as_in_etcd_3_4() {
    cases::downgrade(&Reference::etcd_3_4()).await;
}

/// ectd's default version, 3.5.17, against etcd 3.5's answers as its source
/// states them (no 3.5 binary is at hand).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downgrade_answers_as_etcd_3_5() {
    cases::downgrade_3_5().await;
}
