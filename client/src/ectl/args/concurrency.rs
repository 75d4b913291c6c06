//! The command lines of `lock` and `elect`, spelled like etcdctl's.

use std::ffi::OsString;

use clap::{ArgAction, Args};

use super::{go_bool, go_int};

/// `lock <lockname> [exec-command arg1 arg2 ...]`.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    #[arg(
        value_name = "ARGS",
        help = "The lock's name, then optionally a command to run while holding it",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// timeout for session
    #[arg(long, default_value = "10", value_parser = go_int, allow_hyphen_values = true)]
    pub ttl: i64,
}

/// `elect <election-name> [proposal]` and `elect --listen <election-name>`.
#[derive(Debug, Clone, Args)]
pub struct ElectArgs {
    #[arg(
        value_name = "ARGS",
        help = "The election's name, then the proposal to campaign with",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// observation mode
    #[arg(
        short = 'l',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub listen: bool,
}
