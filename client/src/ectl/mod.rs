//! `ectl`: an etcdctl-compatible command-line client.
//!
//! Flags, output formats, error messages and exit codes follow etcdctl 3.4
//! (`ETCDCTL_API=3`) for `put`, `get`, `del`, `txn`, `compaction`,
//! `watch`, `lease`, `lock`, `elect`, `member`, `endpoint`, `move-leader`,
//! `auth`, `user`, `role` and `version`, so scripts written for etcdctl
//! work with ectl unchanged. `auth status`, which etcdctl 3.4 lacks,
//! follows etcdctl 3.5.
//!
//! Transport security takes etcdctl's global flags and variables too
//! (`--cacert`, `--cert`, `--key`, `--insecure-skip-tls-verify`,
//! `--insecure-transport`, `ETCDCTL_CACERT`, …); see [`settings`]. So does
//! the login (`--user`, `--password`, `ETCDCTL_USER`, `ETCDCTL_PASSWORD`);
//! see [`login`].
//!
//! Most commands print their answer when they are done. Those that run
//! until something happens (`watch`, `lease keep-alive`, `lock`, `elect`)
//! print as they go, through [`print_now`].
//!
//! With `ETCDCTL_API=2` (or `--api 2` as the first argument) ectl is
//! etcdctl 2 instead, for etcd's v2 HTTP API; see [`v2`].

mod args;
mod auth;
mod compaction;
mod del;
mod duration;
mod elect;
mod endpoint;
mod exec;
mod exit;
mod get;
mod gostr;
mod lease;
mod lock;
mod login;
mod member;
mod move_leader;
mod output;
mod password;
mod peer_urls;
mod put;
mod role;
mod settings;
mod signals;
mod snapshot;
mod txn;
mod txn_syntax;
mod user;
mod v2;
mod watch;

use std::cell::OnceCell;
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::io::Write;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;
use ectd_client::{Client, ConnectOptions, Credentials};

use args::{Cli, Command};
use exit::{CtlError, EXIT_BAD_CONNECTION};
use output::{Format, Printer};
use settings::Settings;

/// The API version etcdctl 3.4 reports, which is the one ectl's commands
/// are compatible with.
const API_VERSION: &str = "3.4";

/// Runs ectl with the process's arguments and environment; returns the exit
/// status.
pub fn main() -> i32 {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    match api_version(&mut args, std::env::var_os("ETCDCTL_API")) {
        Ok(Api::V2) => return v2::main(args),
        Ok(Api::V3) => {}
        Err(version) => {
            eprintln!("unsupported API version {version}");
            return 1;
        }
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return report_usage_error(err),
    };
    let settings = match Settings::resolve(&cli.global, |name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(err) => return report(&err),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return report(&CtlError::error(err.to_string())),
    };
    let mut out = Vec::new();
    let result = runtime.block_on(run(&cli.command, &settings, &mut out));
    // A closed stdout (`ectl get … | head`) is not worth an error.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out);
    let _ = stdout.flush();
    match result {
        Ok(()) => 0,
        Err(err) => report(&err),
    }
}

/// The API a command line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// etcd's v2 HTTP API, with etcdctl 2's commands.
    V2,
    /// The v3 gRPC API.
    V3,
}

/// Which API to speak: `--api <2|3>` as the first argument (removed from
/// `args`), else `ETCDCTL_API` as etcdctl reads it (unset, empty or `3`:
/// v3). Any other version is returned as the error.
fn api_version(args: &mut Vec<OsString>, env: Option<OsString>) -> Result<Api, String> {
    let mut version = env.map(|v| v.to_string_lossy().into_owned());
    if let Some(first) = args.get(1).map(|arg| arg.to_string_lossy().into_owned()) {
        if let Some(given) = first.strip_prefix("--api=") {
            version = Some(given.to_string());
            args.remove(1);
        } else if first == "--api" && args.len() > 2 {
            version = Some(args[2].to_string_lossy().into_owned());
            args.drain(1..3);
        }
    }
    match version.as_deref() {
        None | Some("") | Some("3") => Ok(Api::V3),
        Some("2") => Ok(Api::V2),
        Some(other) => Err(other.to_string()),
    }
}

async fn run(command: &Command, settings: &Settings, out: &mut Vec<u8>) -> Result<(), CtlError> {
    let ctx = Context::new(settings);
    match command {
        Command::Put(args) => put::run(&ctx, args, out).await,
        Command::Get(args) => get::run(&ctx, args, out).await,
        Command::Del(args) => del::run(&ctx, args, out).await,
        Command::Txn(args) => txn::run(&ctx, args, out).await,
        Command::Compaction(args) => compaction::run(&ctx, args, out).await,
        Command::Watch(args) => watch::run(&ctx, args).await,
        Command::Lease(args) => lease::run(&ctx, &args.command, out).await,
        Command::Lock(args) => lock::run(&ctx, args).await,
        Command::Elect(args) => elect::run(&ctx, args).await,
        Command::Member(args) => member::run(&ctx, &args.command, out).await,
        Command::Endpoint(args) => endpoint::run(&ctx, args, out).await,
        Command::MoveLeader(args) => move_leader::run(&ctx, args, out).await,
        Command::Auth(args) => auth::run(&ctx, &args.command, out).await,
        Command::User(args) => user::run(&ctx, &args.command, out).await,
        Command::Role(args) => role::run(&ctx, &args.command, out).await,
        Command::Snapshot(args) => snapshot::run(&ctx, &args.command, out).await,
        Command::Version(_) => {
            out.extend(
                format!(
                    "ectl version: {}\nAPI version: {API_VERSION}\n",
                    env!("CARGO_PKG_VERSION")
                )
                .bytes(),
            );
            Ok(())
        }
    }
}

/// What every command needs from the global settings.
pub struct Context<'a> {
    settings: &'a Settings,
    /// The login, once known: a password asked for is asked once, however
    /// many connections the command makes.
    credentials: OnceCell<Option<Credentials>>,
}

impl Context<'_> {
    fn new(settings: &Settings) -> Context<'_> {
        Context {
            settings,
            credentials: OnceCell::new(),
        }
    }

    /// The credentials to log in with, if any; the first call asks for a
    /// password that was not given.
    fn credentials(&self) -> Result<Option<Credentials>, CtlError> {
        if let Some(credentials) = self.credentials.get() {
            return Ok(credentials.clone());
        }
        let credentials = self.settings.login.credentials()?;
        Ok(self.credentials.get_or_init(|| credentials).clone())
    }

    /// The printer for `--write-out`, or etcdctl's error for an unknown
    /// format.
    fn printer(&self) -> Result<Printer, CtlError> {
        Ok(Printer {
            format: Format::parse(&self.settings.write_out)?,
            hex: self.settings.hex,
        })
    }

    /// Connects to the first reachable endpoint.
    async fn connect(&self) -> Result<Client, CtlError> {
        let options = ConnectOptions {
            dial_timeout: self.settings.dial_timeout,
            command_timeout: self.settings.command_timeout,
        };
        self.dial(&self.settings.endpoints, options).await
    }

    /// Connects to exactly `endpoint`, for commands that address each
    /// endpoint on its own (`endpoint`, `move-leader`): etcdctl gives each
    /// such endpoint one command timeout to connect and answer in, so
    /// connecting may take that long too.
    async fn connect_one(&self, endpoint: &str) -> Result<Client, CtlError> {
        let timeout = self.settings.command_timeout;
        let options = ConnectOptions {
            dial_timeout: if timeout.is_zero() {
                self.settings.dial_timeout
            } else {
                timeout
            },
            command_timeout: timeout,
        };
        self.dial(&[endpoint.to_string()], options).await
    }

    /// Connects in plaintext or over TLS, as the TLS settings and the
    /// endpoints' schemes say, and logs in if asked to.
    async fn dial(
        &self,
        endpoints: &[String],
        options: ConnectOptions,
    ) -> Result<Client, CtlError> {
        let credentials = self.credentials()?;
        let tls = self.settings.tls.for_endpoints(endpoints)?;
        let logs_in = credentials.is_some();
        let connecting = async {
            let client = match tls {
                None => Client::connect_with(endpoints, options).await?,
                Some(tls) => Client::connect_tls(endpoints, options, &tls).await?,
            };
            match credentials {
                None => Ok(client),
                Some(credentials) => client.with_credentials(credentials).await,
            }
        };
        // etcd's client logs in while it connects, so etcdctl reports
        // either failing as a bad connection when it has a login.
        connecting.await.map_err(|err: ectd_client::Error| {
            let err = CtlError::from(err);
            if logs_in {
                err.with_code(EXIT_BAD_CONNECTION)
            } else {
                err
            }
        })
    }

    /// Runs `work` (connecting and asking one endpoint) within one command
    /// timeout, unless that is disabled.
    async fn within<T, E: From<ectd_client::Error>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let timeout = self.settings.command_timeout;
        if timeout.is_zero() {
            return work.await;
        }
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(ectd_client::Error::Timeout.into()))
    }
}

/// Writes `chunk` to stdout at once, for commands that print while they
/// run. A stdout nobody reads any more ends the command (quietly, with
/// status 1).
fn print_now(chunk: &[u8]) -> Result<(), CtlError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(chunk)
        .and_then(|()| stdout.flush())
        .map_err(|_| CtlError::exit_only(exit::EXIT_ERROR))
}

fn report(err: &CtlError) -> i32 {
    if !err.message.is_empty() {
        eprintln!("Error: {}", err.message);
    }
    err.code
}

/// Reports a command-line error in pflag's words (help and version requests
/// are printed as such). etcdctl exits with 1 for all of them.
fn report_usage_error(err: clap::Error) -> i32 {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // etcdctl prints help on stdout, also when run without a command.
            print!("{}", err.render());
            return 0;
        }
        _ => {}
    }
    report(&CtlError::error(usage_message(&err)))
}

fn usage_message(err: &clap::Error) -> String {
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(text)) => Some(text.clone()),
        Some(ContextValue::Strings(texts)) => texts.first().cloned(),
        _ => None,
    };
    // clap names a flag as `--limit <LIMIT>` or `--prefix[=<PREFIX>]`.
    let flag_name = |arg: String| {
        arg.split([' ', '[', '<', '='])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    match err.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg).unwrap_or_default();
            if arg.starts_with("--") {
                format!("unknown flag: {}", flag_name(arg))
            } else if let Some(short) = arg.strip_prefix('-').and_then(|s| s.chars().next()) {
                format!("unknown shorthand flag: '{short}' in {arg}")
            } else {
                format!("unknown command \"{arg}\" for \"ectl\"")
            }
        }
        ErrorKind::InvalidSubcommand => format!(
            "unknown command \"{}\" for \"ectl\"",
            context(ContextKind::InvalidSubcommand).unwrap_or_default()
        ),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let flag = flag_name(context(ContextKind::InvalidArg).unwrap_or_default());
            let value = context(ContextKind::InvalidValue).unwrap_or_default();
            match std::error::Error::source(err) {
                Some(cause) => format!("invalid argument \"{value}\" for \"{flag}\" flag: {cause}"),
                None if value.is_empty() => format!("flag needs an argument: {flag}"),
                None => format!("invalid argument \"{value}\" for \"{flag}\" flag"),
            }
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

/// The raw bytes of a command-line argument: keys and values are byte
/// strings, not text.
fn os_bytes(arg: &OsStr) -> Vec<u8> {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::as_bytes(arg).to_vec()
    }
    #[cfg(not(unix))]
    {
        arg.to_string_lossy().into_owned().into_bytes()
    }
}

/// The inverse of [`os_bytes`], for arguments split out of `txn` input.
fn os_string(bytes: Vec<u8>) -> OsString {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStringExt::from_vec(bytes)
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_error(args: &[&str]) -> String {
        let err =
            Cli::try_parse_from(std::iter::once("ectl").chain(args.iter().copied())).unwrap_err();
        usage_message(&err)
    }

    #[test]
    fn usage_errors_read_like_pflag() {
        assert_eq!(
            usage_error(&["get", "a", "--bogus"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            usage_error(&["get", "a", "--bogus=1"]),
            "unknown flag: --bogus"
        );
        assert_eq!(
            usage_error(&["get", "a", "-x"]),
            "unknown shorthand flag: 'x' in -x"
        );
        assert_eq!(
            usage_error(&["get", "a", "--limit=abc"]),
            r#"invalid argument "abc" for "--limit" flag: strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            usage_error(&["--dial-timeout=abc", "get", "a"]),
            r#"invalid argument "abc" for "--dial-timeout" flag: time: invalid duration "abc""#
        );
        assert_eq!(
            usage_error(&["frobnicate"]),
            r#"unknown command "frobnicate" for "ectl""#
        );
    }

    #[test]
    fn the_api_comes_from_the_first_argument_or_the_environment() {
        let line = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        let mut args = line(&["ectl", "--api", "2", "ls"]);
        assert_eq!(api_version(&mut args, Some("3".into())), Ok(Api::V2));
        assert_eq!(args, line(&["ectl", "ls"]));
        let mut args = line(&["ectl", "--api=3", "get", "k"]);
        assert_eq!(api_version(&mut args, Some("2".into())), Ok(Api::V3));
        assert_eq!(args, line(&["ectl", "get", "k"]));
        let mut args = line(&["ectl", "ls"]);
        assert_eq!(api_version(&mut args, Some("2".into())), Ok(Api::V2));
        assert_eq!(api_version(&mut args, Some("".into())), Ok(Api::V3));
        assert_eq!(api_version(&mut args, None), Ok(Api::V3));
        assert_eq!(
            api_version(&mut args, Some("4".into())),
            Err("4".to_string())
        );
        let mut args = line(&["ectl", "get", "--api", "2"]);
        assert_eq!(api_version(&mut args, None), Ok(Api::V3));
        assert_eq!(args.len(), 4);
    }

    #[test]
    fn argument_bytes_round_trip() {
        let bytes = b"k\xff\x00".to_vec();
        assert_eq!(os_bytes(&os_string(bytes.clone())), bytes);
    }
}
