//! The command lines of the cluster commands (`member …`, `endpoint …`,
//! `move-leader`), spelled like etcdctl's.

use std::ffi::OsString;

use clap::{ArgAction, Args, Subcommand};

use super::go_bool;

/// `member <subcommand>`.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// The membership operation.
    #[command(subcommand)]
    pub command: MemberCommand,
}

/// The `member` subcommands.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Adds a member into the cluster
    #[command(override_usage = "ectl member add <memberName> [options]")]
    Add(MemberAddArgs),
    /// Removes a member from the cluster
    #[command(override_usage = "ectl member remove <memberID>")]
    Remove(MemberIdArgs),
    /// Updates a member in the cluster
    #[command(override_usage = "ectl member update <memberID> [options]")]
    Update(MemberUpdateArgs),
    /// Lists all members in the cluster
    #[command(
        long_about = "Lists all members in the cluster.\n\n\
        When --write-out is set to simple, this command prints out comma-separated member \
        lists for each endpoint.\nThe items in the lists are ID, Status, Name, Peer Addrs, \
        Client Addrs, Is Learner.",
        override_usage = "ectl member list"
    )]
    List(IgnoredArgs),
    /// Promotes a non-voting member in the cluster
    #[command(override_usage = "ectl member promote <memberID>")]
    Promote(MemberIdArgs),
}

/// `member add <memberName> [options]`.
#[derive(Debug, Clone, Args)]
pub struct MemberAddArgs {
    #[arg(
        value_name = "ARGS",
        help = "The new member's name",
        value_parser = clap::value_parser!(OsString)
    )]
    pub args: Vec<OsString>,

    /// comma separated peer URLs for the new member.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub peer_urls: String,

    /// indicates if the new member is raft learner
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub learner: bool,
}

/// `member remove <memberID>` and `member promote <memberID>`.
#[derive(Debug, Clone, Args)]
pub struct MemberIdArgs {
    #[arg(value_name = "ARGS", help = "The member's ID in hexadecimal")]
    pub args: Vec<String>,
}

/// `member update <memberID> [options]`.
#[derive(Debug, Clone, Args)]
pub struct MemberUpdateArgs {
    #[arg(value_name = "ARGS", help = "The member's ID in hexadecimal")]
    pub args: Vec<String>,

    /// comma separated peer URLs for the updated member.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub peer_urls: String,
}

/// `endpoint [--cluster] <subcommand>`.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// use all endpoints from the cluster member list
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = go_bool,
        action = ArgAction::Set
    )]
    pub cluster: bool,

    /// The endpoint operation.
    #[command(subcommand)]
    pub command: EndpointCommand,
}

/// The `endpoint` subcommands.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    #[command(override_usage = "ectl endpoint health")]
    Health(IgnoredArgs),
    /// Prints out the status of endpoints specified in `--endpoints` flag
    #[command(
        long_about = "Prints out the status of endpoints specified in `--endpoints` flag.\n\n\
        When --write-out is set to simple, this command prints out comma-separated status \
        lists for each endpoint.\nThe items in the lists are endpoint, ID, version, db size, \
        is leader, is learner, raft term, raft index, raft applied index, errors.",
        override_usage = "ectl endpoint status"
    )]
    Status(IgnoredArgs),
}

/// `move-leader <transferee-member-id>`.
#[derive(Debug, Clone, Args)]
pub struct MoveLeaderArgs {
    #[arg(
        value_name = "ARGS",
        help = "The new leader's member ID in hexadecimal"
    )]
    pub args: Vec<String>,
}

/// Commands that take no arguments but, like etcdctl's, ignore any given.
#[derive(Debug, Clone, Args)]
pub struct IgnoredArgs {
    #[arg(hide = true)]
    ignored: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::ectl::args::{Cli, Command};

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("ectl").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    #[test]
    fn member_add_flags() {
        let Command::Member(MemberArgs {
            command: MemberCommand::Add(add),
        }) = parse(&[
            "member",
            "add",
            "m4",
            "--peer-urls=http://a:1,http://b:2",
            "--learner",
        ])
        else {
            panic!("not a member add")
        };
        assert_eq!(add.args, vec![OsString::from("m4")]);
        assert_eq!(add.peer_urls, "http://a:1,http://b:2");
        assert!(add.learner);
        let Command::Member(MemberArgs {
            command: MemberCommand::Add(add),
        }) = parse(&[
            "member",
            "add",
            "--peer-urls",
            "http://a:1",
            "m4",
            "--learner=false",
        ])
        else {
            panic!("not a member add")
        };
        assert_eq!(add.args, vec![OsString::from("m4")]);
        assert!(!add.learner);
    }

    #[test]
    fn member_id_commands() {
        for (name, expected) in [("remove", "r"), ("promote", "p")] {
            let command = parse(&["member", name, "abc"]);
            let (kind, args) = match command {
                Command::Member(MemberArgs {
                    command: MemberCommand::Remove(args),
                }) => ("r", args),
                Command::Member(MemberArgs {
                    command: MemberCommand::Promote(args),
                }) => ("p", args),
                other => panic!("{other:?}"),
            };
            assert_eq!((kind, args.args), (expected, vec!["abc".to_string()]));
        }
        let Command::Member(MemberArgs {
            command: MemberCommand::Update(update),
        }) = parse(&["member", "update", "abc", "--peer-urls=http://a:1"])
        else {
            panic!("not a member update")
        };
        assert_eq!(update.args, vec!["abc".to_string()]);
        assert_eq!(update.peer_urls, "http://a:1");
    }

    #[test]
    fn endpoint_cluster_flag_on_either_level() {
        for args in [
            &["endpoint", "status", "--cluster"][..],
            &["endpoint", "--cluster", "status"][..],
            &["endpoint", "status", "--cluster=true", "-w", "table"][..],
        ] {
            let Command::Endpoint(endpoint) = parse(args) else {
                panic!("not an endpoint command")
            };
            assert!(endpoint.cluster, "{args:?}");
            assert!(matches!(endpoint.command, EndpointCommand::Status(_)));
        }
        let Command::Endpoint(endpoint) = parse(&["endpoint", "health"]) else {
            panic!("not an endpoint command")
        };
        assert!(!endpoint.cluster);
        assert!(matches!(endpoint.command, EndpointCommand::Health(_)));
    }

    #[test]
    fn move_leader_and_ignored_arguments() {
        let Command::MoveLeader(args) = parse(&["move-leader", "8e9e05c52164694d"]) else {
            panic!("not a move-leader")
        };
        assert_eq!(args.args, vec!["8e9e05c52164694d".to_string()]);
        assert!(matches!(
            parse(&["member", "list", "extra"]),
            Command::Member(MemberArgs {
                command: MemberCommand::List(_)
            })
        ));
    }
}
