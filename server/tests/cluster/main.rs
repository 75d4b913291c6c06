//! Multi-member clusters across processes: replication, leader failure, minority
//! partitions, members wiped and added back, the membership API as etcdctl drives
//! it, leadership transfer, crashes of the whole cluster, watchers and leases
//! across leader kills, and compaction with a member killed midway.
//!
//! Every member is a real `ectd` process on 127.0.0.1 with etcd's clustering flags
//! and short raft timings (heartbeat 50 ms, election timeout 500 ms). Partitions
//! are made with SIGSTOP: a stopped member neither answers nor sends anything,
//! which to the others is the same as a cut network.
//!
//! The tests run one at a time: the leader-failure test measures how long writes
//! stop, and on a small machine several clusters electing leaders at once would
//! measure each other rather than ectd.

#[path = "../common/mod.rs"]
mod common;

mod helpers;

mod auth_churn;
mod compaction;
mod crash;
mod failover;
mod force_new_cluster;
mod lease;
mod membership;
mod replication;
mod snapshot;
mod v2_snapshot;
mod watch;
mod watch_history;
