//! `ectl` in v2 mode (`ETCDCTL_API=2` or `--api 2`): etcdctl 2's commands
//! for etcd's v2 HTTP API, with its flags, output, error messages and exit
//! statuses.
//!
//! Commands: `set`, `get`, `mk`, `mkdir`, `setdir`, `update`,
//! `updatedir`, `rm`, `rmdir`, `ls`, `watch`, `exec-watch`,
//! `member list|add|remove|update` and `cluster-health`. Like etcdctl 2,
//! each command first replaces the endpoints with the client URLs of the
//! cluster's members (unless `--no-sync`) and fails over between them.
//!
//! The command line is read as etcdctl 2 reads it ([`flags`]), help is
//! laid out the same way ([`help`]), and the request goes through the
//! crate's [`ectd_client::v2`] client.

mod commands;
mod flags;
mod help;
mod keys;
mod member;
mod output;
mod session;
mod watch;

use std::ffi::OsString;

use commands::{Command, GLOBAL_FLAGS};
use flags::{FlagError, Parsed, HELP};
use output::{eprint_now, print_now, Exit};
use session::Session;

/// The status of a command line etcdctl 2 cannot make sense of.
const EXIT_USAGE: i32 = 1;
/// The status of a help request for a command that does not exist.
const EXIT_NO_SUCH_COMMAND: i32 = 3;

/// Runs a v2 command line (`args[0]` is the program); returns the exit
/// status.
pub fn main(args: Vec<OsString>) -> i32 {
    let program = args
        .first()
        .map(|arg0| {
            std::path::Path::new(arg0)
                .file_name()
                .unwrap_or(arg0)
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_else(|| "ectl".to_string());
    let args: Vec<String> = args
        .iter()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let app = help::App {
        name: &program,
        version: env!("CARGO_PKG_VERSION"),
    };
    let global = match flags::parse(GLOBAL_FLAGS, &args) {
        Ok(global) => global,
        Err(err) => return usage_error(&err, "Incorrect Usage. ", &help::app(&app)),
    };
    if global.bool("help") {
        print_now(&help::app(&app));
        return 0;
    }
    if global.bool("version") {
        print_now(&format!(
            "{program} version: {}\nAPI version: 2\n",
            app.version
        ));
        return 0;
    }
    let Some((name, rest)) = global.args.split_first() else {
        print_now(&help::app(&app));
        return 0;
    };
    let Some(command) = commands::find(name) else {
        return no_such_command(name);
    };
    if command.name == "help" {
        return show_help(&app, rest);
    }
    if !command.subcommands.is_empty() {
        return run_with_subcommand(&app, &global, command, rest);
    }
    let Some(parsed) = command_flags(&program, command, rest) else {
        return EXIT_USAGE;
    };
    if parsed.bool("help") {
        print_now(&help::command(&program, command));
        return 0;
    }
    let session = Session::new(&program, &global, |name| std::env::var(name).ok());
    execute(&session, command.name, &parsed)
}

/// `help [command]`.
fn show_help(app: &help::App, topics: &[String]) -> i32 {
    let Some(topic) = topics.first() else {
        print_now(&help::app(app));
        return 0;
    };
    match commands::find(topic) {
        Some(command) => {
            print_now(&help::command(app.name, command));
            0
        }
        None => no_such_command(topic),
    }
}

/// `member …`: a command with subcommands and flags of its own.
fn run_with_subcommand(
    app: &help::App,
    global: &Parsed,
    command: &Command,
    args: &[String],
) -> i32 {
    let own_help = || help::subcommands(app.name, command);
    let parsed = match flags::parse(&[HELP], args) {
        Ok(parsed) => parsed,
        Err(err) => return usage_error(&err, "Incorrect Usage. ", &own_help()),
    };
    let Some((name, rest)) = parsed.args.split_first() else {
        print_now(&own_help());
        return 0;
    };
    if parsed.bool("help") {
        print_now(&own_help());
        return 0;
    }
    let path = format!("{} {}", app.name, command.name);
    if name == "help" || name == "h" {
        return match rest.first() {
            None => {
                print_now(&help::subcommand_app(app.name, command, app.version));
                0
            }
            Some(topic) => match command.subcommands.iter().find(|sub| sub.has_name(topic)) {
                Some(sub) => {
                    print_now(&help::command(&path, sub));
                    0
                }
                None => no_such_command(topic),
            },
        };
    }
    let Some(sub) = command.subcommands.iter().find(|sub| sub.has_name(name)) else {
        return no_such_command(name);
    };
    let Some(sub_flags) = command_flags(&path, sub, rest) else {
        return EXIT_USAGE;
    };
    if sub_flags.bool("help") {
        print_now(&help::command(&path, sub));
        return 0;
    }
    let session = Session::new(app.name, global, |name| std::env::var(name).ok());
    execute(&session, &format!("member {}", sub.name), &sub_flags)
}

/// A command's flags, or `None` after reporting why they are wrong.
fn command_flags(path: &str, command: &Command, args: &[String]) -> Option<Parsed> {
    let specs = command.parsed_flags();
    match flags::parse(&specs, &flags::reorder(&specs, args)) {
        Ok(parsed) => Some(parsed),
        Err(err) => {
            // A command reports both kinds of flag errors alike.
            let err = FlagError::Parse(err.to_string());
            usage_error(&err, "Incorrect Usage: ", &help::command(path, command));
            None
        }
    }
}

/// Reports a command line the flags do not fit: the problem and the help
/// on stdout, the problem alone on stderr (exit 1).
fn usage_error(err: &FlagError, prefix: &str, help: &str) -> i32 {
    match err {
        FlagError::Parse(message) => print_now(&format!("{prefix}{message}\n\n{help}")),
        FlagError::TwoForms(message) => print_now(&format!("{message}\n{help}")),
    }
    eprint_now(&format!("{err}\n"));
    EXIT_USAGE
}

fn no_such_command(name: &str) -> i32 {
    eprint_now(&format!("No help topic for '{name}'\n"));
    EXIT_NO_SUCH_COMMAND
}

/// Runs the command called `name` with its parsed flags.
fn execute(session: &Session, name: &str, flags: &Parsed) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprint_now(&format!("{err}\n"));
            return 1;
        }
    };
    let result = runtime.block_on(async {
        match name {
            "set" => keys::write(session, flags, keys::Write::Set).await,
            "mk" => keys::write(session, flags, keys::Write::Make).await,
            "update" => keys::write(session, flags, keys::Write::Update).await,
            "mkdir" => keys::dir(session, flags, keys::Dir::Make).await,
            "setdir" => keys::dir(session, flags, keys::Dir::Set).await,
            "updatedir" => keys::dir(session, flags, keys::Dir::Update).await,
            "rm" => keys::remove(session, flags, false).await,
            "rmdir" => keys::remove(session, flags, true).await,
            "get" => keys::get(session, flags).await,
            "ls" => keys::list(session, flags).await,
            "watch" => watch::watch(session, flags).await,
            "exec-watch" => watch::exec_watch(session, flags).await,
            "cluster-health" => member::cluster_health(session, flags).await,
            "member list" => member::list(session, flags).await,
            "member add" => member::add(session, flags).await,
            "member remove" => member::remove(session, flags).await,
            "member update" => member::update(session, flags).await,
            other => unreachable!("no handler for v2 command {other:?}"),
        }
    });
    // Background tasks (an exec-watch's children) are not waited for.
    runtime.shutdown_background();
    match result {
        Ok(()) => 0,
        Err(Exit { code, stderr }) => {
            eprint_now(&stderr);
            code
        }
    }
}
