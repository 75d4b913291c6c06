//! The command lines of `snapshot save|status|restore`, spelled like
//! etcdctl's.

use clap::{ArgAction, Args, Subcommand};

use super::go_bool;

/// `snapshot <subcommand>`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The snapshot operation.
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

/// The `snapshot` subcommands.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file
    #[command(override_usage = "ectl snapshot save <filename>")]
    Save(SnapshotFileArgs),
    /// Restores an etcd member snapshot to an etcd directory
    #[command(override_usage = "ectl snapshot restore <filename> [options]")]
    Restore(RestoreArgs),
    /// Gets backend snapshot status of a given file
    #[command(
        long_about = "Gets backend snapshot status of a given file.\n\n\
        When --write-out is set to simple, this command prints out comma-separated status \
        lists for each endpoint.\nThe items in the lists are hash, revision, total keys, \
        total size.",
        override_usage = "ectl snapshot status <filename>"
    )]
    Status(SnapshotFileArgs),
}

/// A command that takes one snapshot file.
#[derive(Debug, Clone, Args)]
pub struct SnapshotFileArgs {
    #[arg(value_name = "ARGS", help = "The snapshot file")]
    pub args: Vec<String>,
}

/// `snapshot restore <filename> [options]`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    #[arg(value_name = "ARGS", help = "The snapshot file")]
    pub args: Vec<String>,

    /// Path to the data directory
    #[arg(long, default_value = "")]
    pub data_dir: String,

    /// Path to the WAL directory (use --data-dir if none given)
    #[arg(long, default_value = "")]
    pub wal_dir: String,

    /// Initial cluster configuration for restore bootstrap
    #[arg(long, default_value = "default=http://localhost:2380")]
    pub initial_cluster: String,

    /// Initial cluster token for the etcd cluster during restore bootstrap
    #[arg(long, default_value = "etcd-cluster")]
    pub initial_cluster_token: String,

    /// List of this member's peer URLs to advertise to the rest of the cluster
    #[arg(long, default_value = "http://localhost:2380")]
    pub initial_advertise_peer_urls: String,

    /// Human-readable name for this member
    #[arg(long, default_value = "default")]
    pub name: String,

    /// Ignore snapshot integrity hash value (required if copied from data directory)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub skip_hash_check: bool,

    /// Read the database of a stopped etcd member's data directory
    /// (<dir>/member/snap/db) instead of a snapshot file: migrates that member's
    /// keyspace, leases and users to ectd
    #[arg(long, default_value = "")]
    pub from_data_dir: String,
}
