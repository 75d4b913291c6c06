//! ectl's command line, spelled like etcdctl's.
//!
//! etcdctl parses flags with Go's pflag, whose habits differ from clap's
//! defaults; the attributes here restore them: boolean flags also take
//! `--flag=false`, a repeated flag overrides the earlier one, numbers accept
//! a sign and Go's prefixes, and missing positional arguments are reported by
//! each command with etcdctl's own wording (hence every positional list is
//! optional).

use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use super::duration::parse_duration;
use super::gostr::{parse_bool, parse_int};

mod auth;
mod cluster;
mod concurrency;
mod lease;
mod snapshot;
mod tls;
mod watch;

pub use auth::{
    AuthArgs, AuthCommand, NameArgs, PermissionArgs, RoleArgs, RoleCommand, UserAddArgs, UserArgs,
    UserCommand, UserGetArgs, UserPasswdArgs,
};
pub use cluster::{
    EndpointArgs, EndpointCommand, MemberAddArgs, MemberArgs, MemberCommand, MemberIdArgs,
    MemberUpdateArgs, MoveLeaderArgs,
};
pub use concurrency::{ElectArgs, LockArgs};
pub use lease::{
    LeaseArgs, LeaseCommand, LeaseGrantArgs, LeaseIdArgs, LeaseKeepAliveArgs, LeaseTimeToLiveArgs,
};
pub use snapshot::{RestoreArgs, SnapshotArgs, SnapshotCommand};
pub use tls::TlsArgs;
pub use watch::{WatchArgs, WatchLine};

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "ectl",
    about = "A simple command line client for ectd and etcd v3 (etcdctl-compatible).",
    args_override_self = true,
    arg_required_else_help = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Flags that apply to every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// etcdctl's global flags. Each is `None` when absent from the command line
/// so that its `ETCDCTL_*` environment variable can take over.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// gRPC endpoints [default: 127.0.0.1:2379]
    #[arg(long, global = true, value_delimiter = ',', action = ArgAction::Append)]
    pub endpoints: Option<Vec<String>>,

    /// Set the output format (fields, json, protobuf, simple, table) [default: simple]
    #[arg(short = 'w', long = "write-out", global = true)]
    pub write_out: Option<String>,

    /// Print byte strings as hex encoded strings
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub hex: Option<bool>,

    /// Dial timeout for client connections [default: 2s]
    #[arg(long, global = true, value_parser = go_duration)]
    pub dial_timeout: Option<Duration>,

    /// Timeout for short running command (excluding dial timeout) [default: 5s]
    #[arg(long, global = true, value_parser = go_duration)]
    pub command_timeout: Option<Duration>,

    /// username[:password] for authentication (prompt if password is not supplied)
    #[arg(long, global = true, value_parser = secret)]
    pub user: Option<Secret>,

    /// password for authentication (if this option is used, --user option shouldn't include password)
    #[arg(long, global = true, value_parser = secret)]
    pub password: Option<Secret>,

    /// The transport-security flags.
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// The value of a flag that may hold a password (`--user`, `--password`):
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// The commands ectl knows.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Puts the given key into the store
    #[command(
        long_about = "Puts the given key into the store.\n\n\
        When <value> begins with '-', <value> is interpreted as a flag.\n\
        Insert '--' for workaround:\n\n\
        $ put <key> -- <value>\n\
        $ put -- <key> <value>\n\n\
        If <value> isn't given as a command line argument and '--ignore-value' is not \
        specified, this command tries to read the value from standard input.",
        override_usage = "ectl put [options] <key> <value>"
    )]
    Put(PutArgs),
    /// Gets the key or a range of keys
    #[command(override_usage = "ectl get [options] <key> [range_end]")]
    Get(GetArgs),
    /// Removes the specified key or range of keys [key, range_end)
    #[command(override_usage = "ectl del [options] <key> [range_end]")]
    Del(DelArgs),
    /// Txn processes all the requests in one transaction
    #[command(override_usage = "ectl txn [options] < TRANSACTION")]
    Txn(TxnArgs),
    /// Compacts the event history in etcd
    #[command(override_usage = "ectl compaction [options] <revision>")]
    Compaction(CompactionArgs),
    /// Watches events stream on keys or prefixes
    #[command(
        override_usage = "ectl watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]"
    )]
    Watch(WatchArgs),
    /// Lease related commands
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl lease <subcommand> [flags]"
    )]
    Lease(LeaseArgs),
    /// Acquires a named lock
    #[command(override_usage = "ectl lock <lockname> [exec-command arg1 arg2 ...]")]
    Lock(LockArgs),
    /// Observes and participates in leader election
    #[command(override_usage = "ectl elect <election-name> [proposal]")]
    Elect(ElectArgs),
    /// Membership related commands
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl member <subcommand> [flags]"
    )]
    Member(MemberArgs),
    /// Endpoint related commands
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl endpoint <subcommand> [flags]"
    )]
    Endpoint(EndpointArgs),
    /// Transfers leadership to another etcd cluster member.
    #[command(override_usage = "ectl move-leader <transferee-member-id>")]
    MoveLeader(MoveLeaderArgs),
    /// Enable or disable authentication
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl auth <enable or disable> [flags]"
    )]
    Auth(AuthArgs),
    /// User related commands
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl user <subcommand> [flags]"
    )]
    User(UserArgs),
    /// Role related commands
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl role <subcommand> [flags]"
    )]
    Role(RoleArgs),
    /// Manages etcd node snapshots
    #[command(
        arg_required_else_help = true,
        override_usage = "ectl snapshot <subcommand> [flags]"
    )]
    Snapshot(SnapshotArgs),
    /// Prints the version of ectl
    Version(VersionArgs),
}

/// `put [options] <key> <value>`.
#[derive(Debug, Clone, Args)]
pub struct PutArgs {
    #[arg(
        value_name = "ARGS",
        help = "The key and its value (the value can also be given on stdin)",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// Lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0", allow_hyphen_values = true)]
    pub lease: String,

    /// Return the previous key-value pair before modification
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

    /// Updates the key using its current value
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub ignore_value: bool,

    /// Updates the key using its current lease
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub ignore_lease: bool,
}

/// `get [options] <key> [range_end]`.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    #[arg(
        value_name = "ARGS",
        help = "The key, or the start and (exclusive) end of a range",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub consistency: String,

    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long, default_value = "")]
    pub order: String,

    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long, default_value = "")]
    pub sort_by: String,

    /// Maximum number of results
    #[arg(long, default_value = "0", value_parser = go_int, allow_hyphen_values = true)]
    pub limit: i64,

    /// Get keys with matching prefix
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

    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub from_key: bool,

    /// Specify the kv revision
    #[arg(long, default_value = "0", value_parser = go_int, allow_hyphen_values = true)]
    pub rev: i64,

    /// Get only the keys
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub keys_only: bool,

    /// Get only the count
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub count_only: bool,

    /// Only write values when using the "simple" output format
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub print_value_only: bool,
}

/// `del [options] <key> [range_end]`.
#[derive(Debug, Clone, Args)]
pub struct DelArgs {
    #[arg(
        value_name = "ARGS",
        help = "The key, or the start and (exclusive) end of a range",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// Delete keys with matching prefix
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

    /// Return deleted key-value pairs
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

    /// Delete keys that are greater than or equal to the given key using byte compare
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub from_key: bool,
}

/// `txn [options]`: the transaction itself is read from stdin.
#[derive(Debug, Clone, Args)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
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
}

/// `compaction [options] <revision>`.
#[derive(Debug, Clone, Args)]
pub struct CompactionArgs {
    #[arg(value_name = "ARGS", help = "The revision to compact up to")]
    pub args: Vec<String>,

    /// 'true' to wait for compaction to physically remove all old revisions
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub physical: bool,
}

/// `version`: takes no arguments, but ignores any (as etcdctl does).
#[derive(Debug, Clone, Args)]
pub struct VersionArgs {
    #[arg(hide = true)]
    ignored: Vec<String>,
}

/// One request line of `txn` input (`put …`, `get …`, `del …`): the same
/// flags as the stand-alone commands, but no global flags, as in etcdctl.
#[derive(Debug, Parser)]
#[command(no_binary_name = true, args_override_self = true)]
pub enum TxnRequestLine {
    /// A put request.
    Put(PutArgs),
    /// A range request.
    Get(GetArgs),
    /// A delete request.
    Del(DelArgs),
}

fn go_bool(s: &str) -> Result<bool, String> {
    parse_bool(s)
}

fn go_int(s: &str) -> Result<i64, String> {
    parse_int(s, 0).map_err(|err| err.to_string())
}

fn go_duration(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn secret(s: &str) -> Result<Secret, String> {
    Ok(Secret(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ectl").chain(args.iter().copied()))
    }

    #[test]
    fn global_flags_anywhere() {
        let cli = parse(&[
            "get",
            "foo",
            "--endpoints",
            "a:1,b:2",
            "-w",
            "json",
            "--hex",
        ])
        .unwrap();
        assert_eq!(
            cli.global.endpoints,
            Some(vec!["a:1".to_string(), "b:2".to_string()])
        );
        assert_eq!(cli.global.write_out.as_deref(), Some("json"));
        assert_eq!(cli.global.hex, Some(true));
        let cli = parse(&["--endpoints=x:1", "--dial-timeout=500ms", "put", "k", "v"]).unwrap();
        assert_eq!(cli.global.endpoints, Some(vec!["x:1".to_string()]));
        assert_eq!(cli.global.dial_timeout, Some(Duration::from_millis(500)));
        assert_eq!(cli.global.hex, None);
    }

    #[test]
    fn get_flags() {
        let cli = parse(&[
            "get",
            "a",
            "z",
            "--limit=2",
            "--rev",
            "-5",
            "--order=descend",
            "--sort-by",
            "VALUE",
            "--keys-only",
            "--prefix=false",
            "--from-key=true",
            "--consistency=s",
        ])
        .unwrap();
        let Command::Get(get) = cli.command else {
            panic!("not a get")
        };
        assert_eq!(get.args, vec![OsString::from("a"), OsString::from("z")]);
        assert_eq!(get.limit, 2);
        assert_eq!(get.rev, -5);
        assert_eq!(get.order, "descend");
        assert_eq!(get.sort_by, "VALUE");
        assert!(get.keys_only && !get.prefix && get.from_key);
        assert!(!get.count_only && !get.print_value_only);
        assert_eq!(get.consistency, "s");
    }

    #[test]
    fn bool_flag_does_not_swallow_positional() {
        let cli = parse(&["put", "--prev-kv", "k", "v"]).unwrap();
        let Command::Put(put) = cli.command else {
            panic!("not a put")
        };
        assert!(put.prev_kv);
        assert_eq!(put.args, vec![OsString::from("k"), OsString::from("v")]);
    }

    #[test]
    fn repeated_flags_override() {
        let cli = parse(&["get", "k", "--limit=1", "--limit=3"]).unwrap();
        let Command::Get(get) = cli.command else {
            panic!("not a get")
        };
        assert_eq!(get.limit, 3);
    }

    #[test]
    fn double_dash_allows_dash_values() {
        let cli = parse(&["put", "k", "--", "-v"]).unwrap();
        let Command::Put(put) = cli.command else {
            panic!("not a put")
        };
        assert_eq!(put.args, vec![OsString::from("k"), OsString::from("-v")]);
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse(&["get", "k", "--limit=abc"]).is_err());
        assert!(parse(&["get", "k", "--prefix=maybe"]).is_err());
        assert!(parse(&["get", "k", "--dial-timeout=abc"]).is_err());
        assert!(parse(&["get", "k", "--bogus"]).is_err());
    }

    #[test]
    fn compaction_flags_after_revision() {
        let cli = parse(&["compaction", "8", "--physical"]).unwrap();
        let Command::Compaction(compaction) = cli.command else {
            panic!("not a compaction")
        };
        assert_eq!(compaction.args, vec!["8".to_string()]);
        assert!(compaction.physical);
        let cli = parse(&["compaction", "--", "-1"]).unwrap();
        let Command::Compaction(compaction) = cli.command else {
            panic!("not a compaction")
        };
        assert_eq!(compaction.args, vec!["-1".to_string()]);
    }

    #[test]
    fn watch_flags_and_command() {
        let cli = parse(&[
            "watch",
            "k",
            "--prefix",
            "--rev=-3",
            "--prev-kv",
            "--",
            "echo",
            "--prefix",
        ])
        .unwrap();
        let Command::Watch(watch) = cli.command else {
            panic!("not a watch")
        };
        assert_eq!(watch.args, vec![OsString::from("k")]);
        assert_eq!(
            watch.exec,
            vec![OsString::from("echo"), OsString::from("--prefix")]
        );
        assert!(watch.prefix && watch.prev_kv && !watch.interactive);
        assert_eq!(watch.rev, -3);
        let line = WatchLine::try_parse_from(["a", "b", "--rev", "0x10"]).unwrap();
        assert_eq!(line.watch.args.len(), 2);
        assert_eq!(line.watch.rev, 16);
        assert!(WatchLine::try_parse_from(["a", "-w", "json"]).is_err());
    }

    #[test]
    fn lease_lock_and_elect_flags() {
        let cli = parse(&["lease", "timetolive", "abc", "--keys"]).unwrap();
        let Command::Lease(LeaseArgs {
            command: LeaseCommand::Timetolive(ttl),
        }) = cli.command
        else {
            panic!("not lease timetolive")
        };
        assert_eq!(ttl.args, vec!["abc".to_string()]);
        assert!(ttl.keys);
        let cli = parse(&["lease", "keep-alive", "--once", "abc"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Lease(LeaseArgs {
                command: LeaseCommand::KeepAlive(LeaseKeepAliveArgs { once: true, .. })
            })
        ));
        let cli = parse(&["lock", "name", "--ttl=5", "--", "sh", "-c", "exit 3"]).unwrap();
        let Command::Lock(lock) = cli.command else {
            panic!("not a lock")
        };
        assert_eq!(lock.ttl, 5);
        assert_eq!(lock.args.len(), 4);
        let cli = parse(&["elect", "-l", "name"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Elect(ElectArgs { listen: true, .. })
        ));
    }

    #[test]
    fn auth_user_and_role_flags() {
        let cli = parse(&[
            "user",
            "add",
            "alice",
            "--interactive=false",
            "--user=root:pw",
        ])
        .unwrap();
        let Command::User(UserArgs {
            command: UserCommand::Add(add),
        }) = cli.command
        else {
            panic!("not user add")
        };
        assert_eq!(add.args, vec!["alice".to_string()]);
        assert!(!add.interactive && !add.no_password);
        assert_eq!(add.new_user_password, "");
        assert_eq!(cli.global.user, Some(Secret("root:pw".into())));
        let cli = parse(&["user", "passwd", "bob"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::User(UserArgs {
                command: UserCommand::Passwd(UserPasswdArgs {
                    interactive: true,
                    ..
                })
            })
        ));
        let cli = parse(&[
            "role",
            "grant-permission",
            "r",
            "read",
            "k",
            "--prefix",
            "--password",
            "x",
        ])
        .unwrap();
        let Command::Role(RoleArgs {
            command: RoleCommand::GrantPermission(grant),
        }) = cli.command
        else {
            panic!("not role grant-permission")
        };
        assert_eq!(grant.args.len(), 3);
        assert!(grant.prefix && !grant.from_key);
        assert_eq!(cli.global.password, Some(Secret("x".into())));
        assert!(parse(&["auth", "enable"]).is_ok());
        assert!(parse(&["user", "get", "u", "--detail"]).is_ok());
        assert!(parse(&["role", "frobnicate"]).is_err());
    }

    #[test]
    fn txn_lines_have_no_global_flags() {
        let line = TxnRequestLine::try_parse_from(["get", "k", "--prefix"]).unwrap();
        assert!(matches!(
            line,
            TxnRequestLine::Get(GetArgs { prefix: true, .. })
        ));
        assert!(TxnRequestLine::try_parse_from(["get", "k", "--hex"]).is_err());
        assert!(TxnRequestLine::try_parse_from(["txn"]).is_err());
    }
}
