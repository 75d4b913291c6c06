//! The command line of `watch`, spelled like etcdctl's.

use std::ffi::OsString;

use clap::{ArgAction, Args, Parser};

use super::{go_bool, go_int};

/// `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    #[arg(
        value_name = "ARGS",
        help = "The key or prefix, and optionally the (exclusive) end of a range",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// A command (after `--`) to run for every event, with the event in
    /// `ETCD_WATCH_*` environment variables.
    #[arg(
        last = true,
        value_name = "EXEC",
        value_parser = clap::value_parser!(OsString)
    )]
    pub exec: Vec<OsString>,

    /// Interactive mode
    #[arg(
        short = 'i',
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub interactive: bool,

    /// Watch on a prefix if prefix is set
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub prefix: bool,

    /// Revision to start watching
    #[arg(long, default_value = "0", value_parser = go_int, allow_hyphen_values = true)]
    pub rev: i64,

    /// get the previous key-value pair before the event happens
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub prev_kv: bool,

    /// get periodic watch progress notification from server (not in etcdctl 3.4)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub progress_notify: bool,
}

/// One `watch …` line of interactive input (without the word `watch`):
/// the command's own flags, no global flags, as in etcdctl.
#[derive(Debug, Parser)]
#[command(no_binary_name = true, args_override_self = true)]
pub struct WatchLine {
    /// The line's arguments and flags.
    #[command(flatten)]
    pub watch: WatchArgs,
}
