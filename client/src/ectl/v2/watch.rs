//! `watch` and `exec-watch`: changes to a key (or below it) as they
//! happen. Both run until interrupted (SIGINT ends them with status 0),
//! `watch` without `--forever` until the first change.

use std::io;
use std::process::Stdio;

use super::flags::Parsed;
use super::keys::{bad_args, key_argument};
use super::output::{eprint_now, print_now, print_response, Exit, EXIT_SERVER_ERROR};
use super::session::{Failure, Session};

/// `watch`.
pub async fn watch(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let client = session.client().await?;
    let key = key_argument(flags)?;
    let recursive = flags.bool("recursive");
    let forever = flags.bool("forever");
    // etcdctl takes a negative index as its unsigned twin.
    let mut watcher = client.watcher(&key, flags.int("after-index") as u64, recursive);
    let events = async {
        loop {
            let response = watcher
                .next()
                .await
                .map_err(|err| session.fail(EXIT_SERVER_ERROR, &Failure::Client(err)))?;
            if response.node.dir {
                continue;
            }
            if recursive {
                print_now(&format!("[{}] {}\n", response.action, response.node.key));
            }
            print_response(&response, &session.output);
            if !forever {
                return Ok(());
            }
        }
    };
    until_interrupted(events).await
}

/// `exec-watch`: runs a command for every change to a value, with the
/// change in `ETCD_WATCH_ACTION`, `ETCD_WATCH_KEY`, `ETCD_WATCH_VALUE` and
/// `ETCD_WATCH_MODIFIED_INDEX`. Commands run concurrently and share
/// ectl's stdout and stderr.
pub async fn exec_watch(session: &Session, flags: &Parsed) -> Result<(), Exit> {
    let client = session.client().await?;
    let args = &flags.args;
    if args.len() < 2 {
        return Err(bad_args("key and command to exec required"));
    }
    // etcdctl's rule: `<key> -- <command>…` when a `--` survived flag
    // parsing, else the key is the last argument.
    let separated = args.iter().skip(1).any(|arg| arg == "--");
    let (key, command) = if separated {
        (args[0].clone(), args[2..].to_vec())
    } else {
        (
            args[args.len() - 1].clone(),
            args[..args.len() - 1].to_vec(),
        )
    };
    let recursive = flags.bool("recursive");
    let mut watcher = client.watcher(&key, flags.int("after-index") as u64, recursive);
    let events = async {
        loop {
            let response = watcher
                .next()
                .await
                .map_err(|err| session.fail(EXIT_SERVER_ERROR, &Failure::Client(err)))?;
            if response.node.dir {
                eprint_now(&format!("Ignored dir {} change\n", response.node.key));
                continue;
            }
            let Some((program, program_args)) = command.split_first() else {
                return Err(Exit::message(1, "exec: no command\n"));
            };
            let spawned = tokio::process::Command::new(program)
                .args(program_args)
                .env_remove("ETCDCTL_API")
                .env("ETCD_WATCH_ACTION", &response.action)
                .env(
                    "ETCD_WATCH_MODIFIED_INDEX",
                    response.node.modified_index.to_string(),
                )
                .env("ETCD_WATCH_KEY", &response.node.key)
                .env("ETCD_WATCH_VALUE", &response.node.value)
                .stdin(Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    tokio::spawn(async move {
                        let _ = child.wait().await;
                    });
                }
                // etcdctl prints the error without a newline.
                Err(err) => return Err(Exit::message(1, &exec_error(program, &err))),
            }
        }
    };
    until_interrupted(events).await
}

/// Runs `work` until it ends or SIGINT arrives (status 0).
async fn until_interrupted(
    work: impl std::future::Future<Output = Result<(), Exit>>,
) -> Result<(), Exit> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// A command that could not be started, in Go's `os/exec` words.
fn exec_error(program: &str, err: &io::Error) -> String {
    let reason = match err.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    };
    if program.contains('/') {
        format!("fork/exec {program}: {reason}")
    } else if err.kind() == io::ErrorKind::NotFound {
        format!("exec: \"{program}\": executable file not found in $PATH")
    } else {
        format!("exec: \"{program}\": {reason}")
    }
}
