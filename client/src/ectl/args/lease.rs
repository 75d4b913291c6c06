//! The command lines of `lease …`, spelled like etcdctl's.

use clap::{ArgAction, Args, Subcommand};

use super::cluster::IgnoredArgs;
use super::go_bool;

/// `lease <subcommand>`.
#[derive(Debug, Args)]
pub struct LeaseArgs {
    /// The lease operation.
    #[command(subcommand)]
    pub command: LeaseCommand,
}

/// The `lease` subcommands.
#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Creates leases
    #[command(override_usage = "ectl lease grant <ttl>")]
    Grant(LeaseGrantArgs),
    /// Revokes leases
    #[command(override_usage = "ectl lease revoke <leaseID>")]
    Revoke(LeaseIdArgs),
    /// Get lease information
    #[command(override_usage = "ectl lease timetolive <leaseID> [options]")]
    Timetolive(LeaseTimeToLiveArgs),
    /// List all active leases
    #[command(override_usage = "ectl lease list")]
    List(IgnoredArgs),
    /// Keeps leases alive (renew)
    #[command(override_usage = "ectl lease keep-alive [options] <leaseID>")]
    KeepAlive(LeaseKeepAliveArgs),
}

/// `lease grant <ttl>`.
#[derive(Debug, Clone, Args)]
pub struct LeaseGrantArgs {
    #[arg(value_name = "ARGS", help = "The lease's TTL in seconds")]
    pub args: Vec<String>,
}

/// `lease revoke <leaseID>`.
#[derive(Debug, Clone, Args)]
pub struct LeaseIdArgs {
    #[arg(value_name = "ARGS", help = "The lease ID in hexadecimal")]
    pub args: Vec<String>,
}

/// `lease timetolive <leaseID> [--keys]`.
#[derive(Debug, Clone, Args)]
pub struct LeaseTimeToLiveArgs {
    #[arg(value_name = "ARGS", help = "The lease ID in hexadecimal")]
    pub args: Vec<String>,

    /// Get keys attached to this lease
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub keys: bool,
}

/// `lease keep-alive [--once] <leaseID>`.
#[derive(Debug, Clone, Args)]
pub struct LeaseKeepAliveArgs {
    #[arg(value_name = "ARGS", help = "The lease ID in hexadecimal")]
    pub args: Vec<String>,

    /// Resets the keep-alive time to its original value and exits immediately
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub once: bool,
}
