//! etcdctl compatibility: real `etcdctl` (API v3) drives real etcd and ectd through
//! the same script of commands, and every command must print the same thing and
//! exit the same way on both.
//!
//! This checks what users actually see, including etcdctl's own rendering of
//! responses (`-w json`, `-w fields`, simple output) and of errors. `cluster_id`
//! and `member_id` are masked, since two clusters never share them; everything
//! else, revisions and raft terms included, must match, which it can because both
//! servers start empty and get the same writes in the same order.

#[path = "../common/mod.rs"]
mod common;

mod both;
mod kv;
mod lease;
mod recipes;
mod watch;
