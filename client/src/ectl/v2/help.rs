//! Help texts, laid out as urfave/cli (v1) lays out etcdctl 2's: the same
//! sections, indentation and column alignment, with ectl's name and
//! version in place of etcdctl's.

use super::commands::{Command, COMMANDS, GLOBAL_FLAGS};
use super::flags::{Spec, HELP};

/// What help says about the program.
pub struct App<'a> {
    /// The name the program was run as (`ectl`).
    pub name: &'a str,
    /// ectl's version.
    pub version: &'a str,
}

const APP_USAGE: &str = "A simple command line client for etcd.";

/// The overview: usage, version, commands and global flags.
pub fn app(app: &App) -> String {
    let commands: Vec<String> = COMMANDS
        .iter()
        .map(|command| format!("   {}\t{}", command.names(), command.usage))
        .collect();
    let flags: Vec<String> = visible(GLOBAL_FLAGS)
        .map(|flag| format!("   {}", flag.help_line()))
        .collect();
    align(&format!(
        "NAME:\n   {name} - {APP_USAGE}\n\nUSAGE:\n   {name} [global options] command [command \
         options] [arguments...]\n\nVERSION:\n   {version}\n\nCOMMANDS:\n{}\n\nGLOBAL \
         OPTIONS:\n{}\n",
        commands.join("\n"),
        flags.join("\n"),
        name = app.name,
        version = app.version,
    ))
}

/// One command's help; `path` is what precedes the command's name
/// (`ectl`, or `ectl member` for a member subcommand).
pub fn command(path: &str, command: &Command) -> String {
    // urfave never names its own `help` command in that command's help.
    let help_name = if command.name == "help" {
        String::new()
    } else {
        format!("{path} {}", command.name)
    };
    let flags: Vec<&Spec> = visible(command.flags).collect();
    let mut text = format!(
        "NAME:\n   {help_name} - {usage}\n\nUSAGE:\n   {help_name}{options} {args}",
        usage = command.usage,
        options = if flags.is_empty() {
            ""
        } else {
            " [command options]"
        },
        args = if command.args_usage.is_empty() {
            "[arguments...]"
        } else {
            command.args_usage
        },
    );
    if !command.description.is_empty() {
        text.push_str(&format!("\n\nDESCRIPTION:\n   {}", command.description));
    }
    if !flags.is_empty() {
        text.push_str("\n\nOPTIONS:\n");
        for flag in flags {
            text.push_str(&format!("   {}\n", flag.help_line()));
        }
        text.push_str("   ");
    }
    text.push('\n');
    align(&text)
}

/// The help of a command with subcommands (`member`, `member --help`).
pub fn subcommands(path: &str, command: &Command) -> String {
    let lines: Vec<String> = command
        .subcommands
        .iter()
        .map(|sub| format!("   {}\t{}", sub.names(), sub.usage))
        .collect();
    align(&format!(
        "NAME:\n   {path} {name} - {usage}\n\nUSAGE:\n   {path} {name} command [command options] \
         [arguments...]\n\nCOMMANDS:\n{}\n\nOPTIONS:\n   {}\n   \n",
        lines.join("\n"),
        HELP.help_line(),
        name = command.name,
        usage = command.usage,
    ))
}

/// The overview of a command with subcommands as its own `help` shows it
/// (`member help`): the application layout, for the command.
pub fn subcommand_app(path: &str, command: &Command, version: &str) -> String {
    let lines: Vec<String> = command
        .subcommands
        .iter()
        .map(|sub| format!("   {}\t{}", sub.names(), sub.usage))
        .collect();
    align(&format!(
        "NAME:\n   {path} {name} - {usage}\n\nUSAGE:\n   {path} {name} [global options] command \
         [command options] [arguments...]\n\nVERSION:\n   {version}\n\nCOMMANDS:\n{}\n\nGLOBAL \
         OPTIONS:\n   {}\n",
        lines.join("\n"),
        HELP.help_line(),
        name = command.name,
        usage = command.usage,
    ))
}

fn visible(flags: &[Spec]) -> impl Iterator<Item = &Spec> {
    flags.iter().filter(|flag| !flag.hidden)
}

/// Go's `tabwriter` as urfave configures it (padding 2, spaces): in each
/// run of consecutive lines that contain a tab, the text before the tab is
/// padded to the widest of the run plus two.
fn align(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].contains('\t') {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let end = (i..lines.len())
            .find(|&j| !lines[j].contains('\t'))
            .unwrap_or(lines.len());
        let width = lines[i..end]
            .iter()
            .map(|line| line.split('\t').next().unwrap_or_default().chars().count())
            .max()
            .unwrap_or(0);
        for line in &lines[i..end] {
            let (cell, rest) = line.split_once('\t').unwrap_or((line, ""));
            let pad = width + 2 - cell.chars().count();
            out.push(format!("{cell}{}{rest}", " ".repeat(pad)));
        }
        i = end;
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::super::commands::find;
    use super::*;

    #[test]
    fn command_help_matches_etcdctl() {
        assert_eq!(
            command("etcdctl", find("get").unwrap()),
            "NAME:\n   etcdctl get - retrieve the value of a key\n\nUSAGE:\n   etcdctl get \
             [command options] <key>\n\nOPTIONS:\n   --sort        returns result in sorted \
             order\n   --quorum, -q  require quorum for get request\n   \n"
        );
        assert_eq!(
            command("etcdctl", find("rmdir").unwrap()),
            "NAME:\n   etcdctl rmdir - removes the key if it is an empty directory or a \
             key-value pair\n\nUSAGE:\n   etcdctl rmdir <key>\n"
        );
        assert_eq!(
            command("etcdctl", find("cluster-health").unwrap()),
            "NAME:\n   etcdctl cluster-health - check the health of the etcd cluster\n\n\
             USAGE:\n   etcdctl cluster-health [command options]  \n\nOPTIONS:\n   \
             --forever, -f  forever check the health every 10 second until CTRL+C\n   \n"
        );
        let member = find("member").unwrap();
        assert_eq!(
            command("etcdctl member", &member.subcommands[0]),
            "NAME:\n   etcdctl member list - enumerate existing cluster members\n\nUSAGE:\n   \
             etcdctl member list  \n"
        );
        assert_eq!(
            subcommands("etcdctl", member),
            "NAME:\n   etcdctl member - member add, remove and list subcommands\n\nUSAGE:\n   \
             etcdctl member command [command options] [arguments...]\n\nCOMMANDS:\n   list    \
             enumerate existing cluster members\n   add     add a new member to the etcd \
             cluster\n   remove  remove an existing member from the etcd cluster\n   update  \
             update an existing member in the etcd cluster\n\nOPTIONS:\n   --help, -h  show \
             help\n   \n"
        );
    }

    #[test]
    fn app_help_aligns_commands_and_flags_separately() {
        let text = app(&App {
            name: "etcdctl",
            version: "3.4.23",
        });
        assert!(text.contains("\n   cluster-health  check the health of the etcd cluster\n"));
        assert!(text
            .contains("\n   help, h         Shows a list of commands or help for one command\n"));
        assert!(text.contains(
            "\n   --output simple, -o simple       output response in the given format (simple, \
             `extended` or `json`) (default: \"simple\")\n"
        ));
        assert!(text.ends_with("\n   --version, -v                    print the version\n"));
        assert!(!text.contains("cacert"));
    }
}
