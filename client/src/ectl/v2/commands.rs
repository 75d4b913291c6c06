//! The commands and flags of etcdctl 2, with the usage texts its help
//! prints.

use super::flags::{Kind, Spec, HELP};

/// A command (or a `member` subcommand).
#[derive(Debug, Clone, Copy)]
pub struct Command {
    /// The name it is run by.
    pub name: &'static str,
    /// Other names it answers to (`h` for `help`).
    pub aliases: &'static [&'static str],
    /// The one-line summary.
    pub usage: &'static str,
    /// The arguments, as help shows them (`<key> <value>`).
    pub args_usage: &'static str,
    /// More text for help, if any.
    pub description: &'static str,
    /// The command's own flags (`--help` is added when parsing).
    pub flags: &'static [Spec],
    /// For `member`: its subcommands.
    pub subcommands: &'static [Command],
}

impl Command {
    const fn new(name: &'static str, usage: &'static str, args_usage: &'static str) -> Command {
        Command {
            name,
            aliases: &[],
            usage,
            args_usage,
            description: "",
            flags: &[],
            subcommands: &[],
        }
    }

    const fn flags(mut self, flags: &'static [Spec]) -> Command {
        self.flags = flags;
        self
    }

    /// The name and aliases, as the command list shows them.
    pub fn names(&self) -> String {
        std::iter::once(self.name)
            .chain(self.aliases.iter().copied())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// The flags a command parses: its own and `--help`.
    pub fn parsed_flags(&self) -> Vec<Spec> {
        let mut flags = self.flags.to_vec();
        flags.push(HELP);
        flags
    }
}

const TTL: Spec = Spec::new(&["ttl"], Kind::Int, "key time-to-live in seconds", "0");
const SORT: Spec = Spec::new(&["sort"], Kind::Bool, "returns result in sorted order", "");
const QUORUM: Spec = Spec::new(
    &["quorum", "q"],
    Kind::Bool,
    "require quorum for get request",
    "",
);
const AFTER_INDEX: Spec = Spec::new(
    &["after-index"],
    Kind::Int,
    "watch after the given index",
    "0",
);

const SET_FLAGS: &[Spec] = &[
    TTL,
    Spec::new(&["swap-with-value"], Kind::String, "previous value", ""),
    Spec::new(&["swap-with-index"], Kind::Int, "previous index", "0"),
];

/// The top-level commands, in the order help lists them.
pub const COMMANDS: &[Command] = &[
    Command::new(
        "cluster-health",
        "check the health of the etcd cluster",
        " ",
    )
    .flags(&[Spec::new(
        &["forever", "f"],
        Kind::Bool,
        "forever check the health every 10 second until CTRL+C",
        "",
    )]),
    Command::new("mk", "make a new key with a given value", "<key> <value>").flags(&[
        Spec::new(
            &["in-order"],
            Kind::Bool,
            "create in-order key under directory <key>",
            "",
        ),
        TTL,
    ]),
    Command::new("mkdir", "make a new directory", "<key>").flags(&[TTL]),
    Command::new("rm", "remove a key or a directory", "<key>").flags(&[
        Spec::new(
            &["dir"],
            Kind::Bool,
            "removes the key if it is an empty directory or a key-value pair",
            "",
        ),
        Spec::new(
            &["recursive", "r"],
            Kind::Bool,
            "removes the key and all child keys(if it is a directory)",
            "",
        ),
        Spec::new(&["with-value"], Kind::String, "previous value", ""),
        Spec::new(&["with-index"], Kind::Int, "previous index", "0"),
    ]),
    Command::new(
        "rmdir",
        "removes the key if it is an empty directory or a key-value pair",
        "<key>",
    ),
    Command::new("get", "retrieve the value of a key", "<key>").flags(&[SORT, QUORUM]),
    Command::new("ls", "retrieve a directory", "[key]").flags(&[
        SORT,
        Spec::new(
            &["recursive", "r"],
            Kind::Bool,
            "returns all key names recursively for the given path",
            "",
        ),
        Spec::new(&["p"], Kind::Bool, "append slash (/) to directories", ""),
        QUORUM,
    ]),
    Command {
        description: "Set sets the value of a key.\n\n   \
                      When <value> begins with '-', <value> is interpreted as a flag.\n   \
                      Insert '--' for workaround:\n\n   \
                      $ set -- <key> <value>",
        ..Command::new("set", "set the value of a key", "<key> <value>").flags(SET_FLAGS)
    },
    Command::new(
        "setdir",
        "create a new directory or update an existing directory TTL",
        "<key>",
    )
    .flags(&[TTL]),
    Command::new(
        "update",
        "update an existing key with a given value",
        "<key> <value>",
    )
    .flags(&[TTL]),
    Command::new("updatedir", "update an existing directory", "<key> <value>").flags(&[TTL]),
    Command::new("watch", "watch a key for changes", "<key>").flags(&[
        Spec::new(
            &["forever", "f"],
            Kind::Bool,
            "forever watch a key until CTRL+C",
            "",
        ),
        AFTER_INDEX,
        Spec::new(
            &["recursive", "r"],
            Kind::Bool,
            "returns all values for key and child keys",
            "",
        ),
    ]),
    Command::new(
        "exec-watch",
        "watch a key for changes and exec an executable",
        "<key> <command> [args...]",
    )
    .flags(&[
        AFTER_INDEX,
        Spec::new(
            &["recursive", "r"],
            Kind::Bool,
            "watch all values for key and child keys",
            "",
        ),
    ]),
    Command {
        subcommands: MEMBER_COMMANDS,
        ..Command::new("member", "member add, remove and list subcommands", "")
    },
    Command {
        aliases: &["h"],
        ..Command::new(
            "help",
            "Shows a list of commands or help for one command",
            "[command]",
        )
    },
];

/// `member`'s subcommands.
pub const MEMBER_COMMANDS: &[Command] = &[
    Command::new("list", "enumerate existing cluster members", " "),
    Command::new(
        "add",
        "add a new member to the etcd cluster",
        "<name> <peerURL>",
    ),
    Command::new(
        "remove",
        "remove an existing member from the etcd cluster",
        "<memberID>",
    ),
    Command::new(
        "update",
        "update an existing member in the etcd cluster",
        "<memberID> <peerURLs>",
    ),
];

/// The global flags. `--cacert`, `--cert` and `--key` (ectl's v3 names)
/// are accepted too, unlisted, for `--ca-file`, `--cert-file` and
/// `--key-file`.
pub const GLOBAL_FLAGS: &[Spec] = &[
    Spec::new(
        &["debug"],
        Kind::Bool,
        "output cURL commands which can be used to reproduce the request",
        "",
    ),
    Spec::new(
        &["no-sync"],
        Kind::Bool,
        "don't synchronize cluster information before sending request",
        "",
    ),
    Spec::new(
        &["output", "o"],
        Kind::String,
        "output response in the given format (`simple`, `extended` or `json`)",
        "simple",
    ),
    Spec::new(
        &["discovery-srv", "D"],
        Kind::String,
        "domain name to query for SRV records describing cluster endpoints",
        "",
    ),
    Spec::new(
        &["insecure-discovery"],
        Kind::Bool,
        "accept insecure SRV records describing cluster endpoints",
        "",
    ),
    Spec::new(
        &["peers", "C"],
        Kind::String,
        "DEPRECATED - \"--endpoints\" should be used instead",
        "",
    ),
    Spec::new(
        &["endpoint"],
        Kind::String,
        "DEPRECATED - \"--endpoints\" should be used instead",
        "",
    ),
    Spec::new(
        &["endpoints"],
        Kind::String,
        "a comma-delimited list of machine addresses in the cluster (default: \
         \"http://127.0.0.1:2379,http://127.0.0.1:4001\")",
        "",
    ),
    Spec::new(
        &["cert-file"],
        Kind::String,
        "identify HTTPS client using this SSL certificate file",
        "",
    ),
    Spec::new(
        &["key-file"],
        Kind::String,
        "identify HTTPS client using this SSL key file",
        "",
    ),
    Spec::new(
        &["ca-file"],
        Kind::String,
        "verify certificates of HTTPS-enabled servers using this CA bundle",
        "",
    ),
    Spec::new(
        &["username", "u"],
        Kind::String,
        "provide username[:password] and prompt if password is not supplied.",
        "",
    ),
    Spec::new(
        &["timeout"],
        Kind::Duration,
        "connection timeout per request",
        "2s",
    ),
    Spec::new(
        &["total-timeout"],
        Kind::Duration,
        "timeout for the command execution (except watch)",
        "5s",
    ),
    Spec::new(&["cacert"], Kind::String, "", "").hidden(),
    Spec::new(&["cert"], Kind::String, "", "").hidden(),
    Spec::new(&["key"], Kind::String, "", "").hidden(),
    HELP,
    Spec::new(&["version", "v"], Kind::Bool, "print the version", ""),
];

/// The top-level command called `name` (or aliased so).
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|command| command.has_name(name))
}
