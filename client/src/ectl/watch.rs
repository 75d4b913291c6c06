//! `ectl watch`: prints the events on a key or range as they happen,
//! optionally running a command for each; `-i` reads `watch …` and
//! `progress` lines from stdin instead.
//!
//! The watch resumes by itself after a broken connection. It ends only
//! when the server cancels it (its start revision was compacted, …), which
//! etcdctl reports with exit status 5.

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;
use ectd_client::proto::etcdserverpb::{WatchCreateRequest, WatchResponse};
use ectd_client::{is_progress_notify, Client, KeyRange, ProgressRequester, Watcher};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::args::{WatchArgs, WatchLine};
use super::exit::{CtlError, EXIT_ERROR};
use super::gostr::quote;
use super::output::Printer;
use super::txn_syntax::argify;
use super::{exec, os_bytes, os_string, print_now, usage_message, Context};

const BAD_ARGS: &str = "bad number of arguments";
const CONFLICTING_ENV: &str = "bad number of arguments (found conflicting environment key)";
const NOTHING_AFTER_SEPARATOR: &str =
    "bad number of arguments (found separator --, but no commands)";

/// What to watch and what to run per event, from the arguments and the
/// `ETCDCTL_WATCH_KEY`/`ETCDCTL_WATCH_RANGE_END` environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The positional arguments: key, then range end (a third and later
    /// one are ignored, and so is the range end then, as in etcdctl).
    pub args: Vec<Vec<u8>>,
    /// The command after `--`, if any.
    pub exec: Vec<OsString>,
}

impl Target {
    /// Combines the positional arguments with the environment the way
    /// etcdctl does: the environment's key goes first, and giving a key
    /// both ways is an error. `ends_with_separator` says whether the
    /// command line ended with a `--` (which the parsed arguments cannot
    /// show): that `--` introduces no command.
    pub fn new(
        args: &WatchArgs,
        ends_with_separator: bool,
        env_key: &str,
        env_range_end: &str,
    ) -> Result<Target, CtlError> {
        if ends_with_separator && args.exec.is_empty() {
            return Err(CtlError::bad_args(NOTHING_AFTER_SEPARATOR));
        }
        if !env_key.is_empty() && !args.args.is_empty() {
            return Err(CtlError::bad_args(CONFLICTING_ENV));
        }
        let mut positional = env_positional(env_key, env_range_end);
        positional.extend(args.args.iter().map(|a| os_bytes(a)));
        if positional.is_empty() {
            return Err(CtlError::bad_args(BAD_ARGS));
        }
        Ok(Target {
            args: positional,
            exec: args.exec.clone(),
        })
    }

    /// The watch to create; `Err` holds etcdctl's complaint (a range end
    /// together with `--prefix`, or no key).
    pub fn create_request(&self, args: &WatchArgs) -> Result<WatchCreateRequest, String> {
        let Some(key) = self.args.first() else {
            return Err(BAD_ARGS.to_string());
        };
        let mut range = KeyRange::key(key.clone());
        if let [_, range_end] = self.args.as_slice() {
            if args.prefix {
                return Err("`range_end` and `--prefix` are mutually exclusive".to_string());
            }
            range.range_end = range_end.clone();
        }
        if args.prefix {
            range = KeyRange::prefix(range.key);
        }
        Ok(WatchCreateRequest {
            key: range.key,
            range_end: range.range_end,
            start_revision: args.rev,
            prev_kv: args.prev_kv,
            progress_notify: args.progress_notify,
            ..Default::default()
        })
    }
}

/// The key and range end the environment contributes, in front of the
/// positional arguments.
fn env_positional(env_key: &str, env_range_end: &str) -> Vec<Vec<u8>> {
    let mut positional = Vec::new();
    if !env_key.is_empty() {
        positional.push(env_key.as_bytes().to_vec());
        if !env_range_end.is_empty() {
            positional.push(env_range_end.as_bytes().to_vec());
        }
    }
    positional
}

/// Runs `watch`. It returns only with an error: when the watch cannot be
/// set up, when a command run for an event fails, or when the server
/// cancels the watch.
pub async fn run(ctx: &Context<'_>, args: &WatchArgs) -> Result<(), CtlError> {
    let (env_key, env_range_end) = (&ctx.settings.watch_key, &ctx.settings.watch_range_end);
    if env_key.is_empty() && !env_range_end.is_empty() {
        return Err(CtlError::bad_args(format!(
            "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
            quote(env_range_end.as_bytes())
        )));
    }
    if args.interactive {
        return interactive(ctx).await;
    }
    // Like etcdctl, look at the raw command line for a trailing `--`.
    let ends_with_separator = std::env::args_os().last().is_some_and(|arg| arg == "--");
    let target = Target::new(args, ends_with_separator, env_key, env_range_end)?;
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let request = target.create_request(args).map_err(CtlError::bad_args)?;
    if let Some(watcher) = open(&client, request, printer).await? {
        print_responses(watcher, printer, &target.exec).await?;
    }
    Err(CtlError::interrupted("watch is canceled by the server"))
}

/// Opens the watch. A watch the server refuses outright is reported as
/// clientv3 reports it to etcdctl: the server's reason as it is, then the
/// empty response that closes the watch; `None` is returned.
async fn open(
    client: &Client,
    request: WatchCreateRequest,
    printer: Printer,
) -> Result<Option<Watcher>, CtlError> {
    match client.open_watch(request).await {
        Ok(watcher) => Ok(Some(watcher)),
        Err(ectd_client::Error::WatchCanceled { response }) => {
            eprintln!("watch was canceled ({})", response.cancel_reason);
            let mut chunk = Vec::new();
            printer.watch_closed(&mut chunk)?;
            print_now(&chunk)?;
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// Prints every response the watch yields and runs `exec` for each event,
/// until the watch ends. A progress notification is announced on a line of
/// its own first. The end of the watch is reported on stderr, followed by
/// the server's cancel response or, when the watch failed otherwise, the
/// empty response clientv3 closes it with.
async fn print_responses(
    mut watcher: Watcher,
    printer: Printer,
    exec: &[OsString],
) -> Result<(), CtlError> {
    while let Some(item) = watcher.recv().await {
        let mut chunk = Vec::new();
        let resp = match item {
            Ok(resp) => resp,
            Err(err) => {
                eprintln!("watch was canceled ({err})");
                match err {
                    ectd_client::Error::WatchCanceled { response } => {
                        printer.watch(&mut chunk, &response)?
                    }
                    _ => printer.watch_closed(&mut chunk)?,
                }
                print_now(&chunk)?;
                break;
            }
        };
        if is_progress_notify(&resp) {
            let revision = resp.header.map_or(0, |h| h.revision);
            let _ = writeln!(chunk, "progress notify: {revision}");
        }
        printer.watch(&mut chunk, &resp)?;
        print_now(&chunk)?;
        if !exec.is_empty() {
            run_for_events(exec, &resp).await?;
        }
    }
    Ok(())
}

/// Runs `exec` once per event, with the event in `ETCD_WATCH_REVISION`,
/// `ETCD_WATCH_EVENT_TYPE`, `ETCD_WATCH_KEY` and `ETCD_WATCH_VALUE` (the
/// last three Go-quoted). A failing command ends ectl with status 1.
async fn run_for_events(exec: &[OsString], resp: &WatchResponse) -> Result<(), CtlError> {
    let revision = resp.header.map_or(0, |h| h.revision);
    for event in &resp.events {
        let kv = event.kv.clone().unwrap_or_default();
        let kind = event
            .r#type
            .try_into()
            .map(|t: ectd_client::proto::mvccpb::event::EventType| t.as_str_name().to_string())
            .unwrap_or_else(|_| event.r#type.to_string());
        let env = [
            ("ETCD_WATCH_REVISION", revision.to_string()),
            ("ETCD_WATCH_EVENT_TYPE", quote(kind.as_bytes())),
            ("ETCD_WATCH_KEY", quote(&kv.key)),
            ("ETCD_WATCH_VALUE", quote(&kv.value)),
        ]
        .map(|(name, value)| (OsString::from(name), OsString::from(value)));
        if let Err(err) = exec::run(exec, &env).await {
            eprintln!("command {} error ({err})", exec::quote_list(exec));
            return Err(CtlError::exit_only(EXIT_ERROR));
        }
    }
    Ok(())
}

/// `watch -i`: each stdin line is `watch [options] key [range_end] [--
/// command]` (a new watch, printed alongside the others) or `progress`
/// (a progress notification for every watch). Ends with etcdctl's error at
/// the end of input.
async fn interactive(ctx: &Context<'_>) -> Result<(), CtlError> {
    let printer = ctx.printer()?;
    let client = ctx.connect().await?;
    let mut lines = read_lines();
    let mut watches: JoinSet<Result<(), CtlError>> = JoinSet::new();
    let mut progress: Vec<ProgressRequester> = Vec::new();
    loop {
        let line = tokio::select! {
            line = lines.recv() => line,
            Some(done) = watches.join_next() => {
                // A watch ends by itself only when its command failed.
                if let Ok(Err(err)) = done {
                    return Err(err);
                }
                continue;
            }
        };
        let Some(line) = line.filter(|line| line.ends_with(b"\n")) else {
            return Err(CtlError::invalid_input(
                "Error reading watch request line: EOF",
            ));
        };
        let line = &line[..line.len() - 1];
        let shown = String::from_utf8_lossy(line);
        let args = argify(line)?;
        match args.first().map(Vec::as_slice) {
            None => eprintln!("Invalid command: {shown} (watch and progress supported)"),
            Some(b"watch") => {
                let settings = ctx.settings;
                if args.len() < 2 && settings.watch_key.is_empty() {
                    eprintln!("Invalid command {shown} (command type or key is not provided)");
                    continue;
                }
                let (line_args, target) =
                    parse_watch_line(&args[1..], &settings.watch_key, &settings.watch_range_end)?;
                let request = match target.create_request(&line_args) {
                    Ok(request) => request,
                    Err(err) => {
                        eprintln!("Invalid command {shown} ({err})");
                        continue;
                    }
                };
                let Some(watcher) = open(&client, request, printer).await? else {
                    continue;
                };
                progress.push(watcher.progress_requester());
                watches.spawn(async move { print_responses(watcher, printer, &target.exec).await });
            }
            Some(b"progress") => progress
                .iter()
                .for_each(ProgressRequester::request_progress),
            Some(_) => eprintln!("Invalid command {shown} (only support watch)"),
        }
    }
}

/// Parses the words after `watch` on an interactive line. Mistakes here
/// end ectl, as they end etcdctl.
fn parse_watch_line(
    words: &[Vec<u8>],
    env_key: &str,
    env_range_end: &str,
) -> Result<(WatchArgs, Target), CtlError> {
    let ends_with_separator = words.last().is_some_and(|w| w == b"--");
    let separator_first = words.iter().position(|w| w == b"--");
    if ends_with_separator && separator_first == Some(words.len() - 1) {
        return Err(CtlError::bad_args(NOTHING_AFTER_SEPARATOR));
    }
    let words = words.iter().map(|w| os_string(w.clone()));
    let parsed = WatchLine::try_parse_from(words)
        .map_err(|err| CtlError::bad_args(usage_message(&err)))?
        .watch;
    let target = if parsed.exec.is_empty() {
        Target::new(&parsed, false, env_key, env_range_end)?
    } else {
        // With a command, neither a missing key nor one given both ways is
        // fatal here: a missing key is reported when the watch is created
        // (as `Invalid command …`).
        let mut args = env_positional(env_key, env_range_end);
        args.extend(parsed.args.iter().map(|a| os_bytes(a)));
        Target {
            args,
            exec: parsed.exec.clone(),
        }
    };
    Ok((parsed, target))
}

/// Reads stdin line by line in a task of its own, so that lines can be
/// awaited alongside the watches. Each line keeps its `\n`; a last line
/// without one is passed on as it is, then the channel closes.
fn read_lines() -> mpsc::Receiver<Vec<u8>> {
    let (send, lines) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let complete = line.ends_with(b"\n");
                    if send.send(line).await.is_err() || !complete {
                        return;
                    }
                }
            }
        }
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch_args(line: &[&str]) -> WatchArgs {
        WatchLine::try_parse_from(line.iter().copied())
            .unwrap()
            .watch
    }

    fn target(
        line: &[&str],
        ends_with_separator: bool,
        env: (&str, &str),
    ) -> Result<Target, String> {
        Target::new(&watch_args(line), ends_with_separator, env.0, env.1).map_err(|e| e.message)
    }

    #[test]
    fn key_range_and_command() {
        let t = target(&["a", "b", "--", "echo", "x"], false, ("", "")).unwrap();
        assert_eq!(t.args, vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(t.exec, vec![OsString::from("echo"), OsString::from("x")]);
        let req = t.create_request(&watch_args(&["a", "b"])).unwrap();
        assert_eq!((req.key, req.range_end), (b"a".to_vec(), b"b".to_vec()));
    }

    #[test]
    fn argument_errors_like_etcdctl() {
        assert_eq!(target(&[], false, ("", "")), Err(BAD_ARGS.to_string()));
        assert_eq!(
            target(&["a"], true, ("", "")),
            Err(NOTHING_AFTER_SEPARATOR.to_string())
        );
        assert_eq!(
            target(&["a"], false, ("k", "")),
            Err(CONFLICTING_ENV.to_string())
        );
        let args = watch_args(&["a", "b", "--prefix"]);
        let t = Target::new(&args, false, "", "").unwrap();
        assert_eq!(
            t.create_request(&args),
            Err("`range_end` and `--prefix` are mutually exclusive".to_string())
        );
    }

    #[test]
    fn environment_supplies_the_key() {
        let t = target(&["--", "echo"], false, ("k", "m")).unwrap();
        assert_eq!(t.args, vec![b"k".to_vec(), b"m".to_vec()]);
        let req = t
            .create_request(&watch_args(&["--rev=4", "--prev-kv"]))
            .unwrap();
        assert_eq!((req.key, req.range_end), (b"k".to_vec(), b"m".to_vec()));
        assert_eq!(req.start_revision, 4);
        assert!(req.prev_kv);
    }

    #[test]
    fn prefix_and_extra_arguments() {
        let args = watch_args(&["", "--prefix"]);
        let req = Target::new(&args, false, "", "")
            .unwrap()
            .create_request(&args)
            .unwrap();
        assert_eq!((req.key, req.range_end), (vec![0], vec![0]));
        // A third argument makes etcdctl ignore the second.
        let args = watch_args(&["a1", "zz", "c", "--prefix"]);
        let req = Target::new(&args, false, "", "")
            .unwrap()
            .create_request(&args)
            .unwrap();
        assert_eq!((req.key, req.range_end), (b"a1".to_vec(), b"a2".to_vec()));
    }

    #[test]
    fn interactive_lines() {
        let words = |line: &str| argify(line.as_bytes()).unwrap();
        let (args, t) = parse_watch_line(&words("k --prev-kv -- echo hi"), "", "").unwrap();
        assert!(args.prev_kv);
        assert_eq!(t.args, vec![b"k".to_vec()]);
        assert_eq!(t.exec.len(), 2);
        let err = parse_watch_line(&words("k --"), "", "").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (128, NOTHING_AFTER_SEPARATOR)
        );
        let err = parse_watch_line(&words("--prefix"), "", "").unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (128, BAD_ARGS));
        let err = parse_watch_line(&words("k -w json"), "", "").unwrap_err();
        assert_eq!(err.message, "unknown shorthand flag: 'w' in -w");
        let (args, t) = parse_watch_line(&words("-- echo"), "", "").unwrap();
        assert_eq!(t.create_request(&args), Err(BAD_ARGS.to_string()));
        let (_, t) = parse_watch_line(&words("k -- echo"), "e", "").unwrap();
        assert_eq!(t.args, vec![b"e".to_vec(), b"k".to_vec()]);
    }
}
