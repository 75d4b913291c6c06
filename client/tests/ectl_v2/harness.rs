//! Running etcdctl 2 and ectl side by side: each against its own server,
//! with placeholders filled in per side, output masked where the two may
//! legitimately differ, and every difference recorded.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use ectd_client::v2::{Client, ClientOptions, GetOptions, SetOptions};
use ectd_client::TlsOptions;

use crate::etcd::Etcd;
use crate::tools::binary;

pub const ECTL: &str = env!("CARGO_BIN_EXE_ectl");
const ECTL_VERSION: &str = env!("CARGO_PKG_VERSION");
const ETCDCTL_VERSION: &str = "3.4.23";

/// How long one command may run before it counts as hung.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(20);

/// The lines of etcdctl's command list for commands ectl does not have.
const NOT_IMPLEMENTED: [&str; 4] = [
    "   backup          backup an etcd directory",
    "   user            user add, grant and revoke subcommands",
    "   role            role add, grant and revoke subcommands",
    "   auth            overall auth controls",
];

/// A tool and the server it talks to.
pub struct Side {
    pub tool: PathBuf,
    pub etcdctl: bool,
    pub server: Rc<Etcd>,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Global flags given before the script's (TLS files).
    pub global: Vec<String>,
}

/// What a command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

/// What varies between two runs of a command and is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Nothing beyond ports, names and expiration times.
    Exact,
    /// TTLs too (the key was written a while ago).
    Ttl,
    /// The order of stdout's lines too (an unsorted listing).
    LineOrder,
}

impl Side {
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.server.endpoint)
    }

    fn name(&self) -> &'static str {
        if self.etcdctl {
            "etcdctl"
        } else {
            "ectl"
        }
    }

    /// The v2 client of the test itself, for looking things up.
    fn lookup<T>(&self, what: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(what)
    }

    fn client(&self) -> Client {
        let tls = (self.scheme == "https").then(|| {
            let file = |flag: &str| {
                self.global
                    .iter()
                    .find_map(|arg| arg.strip_prefix(flag))
                    .map(PathBuf::from)
            };
            TlsOptions {
                ca_file: file("--ca-file="),
                cert_file: file("--cert-file="),
                key_file: file("--key-file="),
                ..TlsOptions::default()
            }
        });
        let options = ClientOptions {
            tls,
            ..ClientOptions::default()
        };
        Client::new(&[self.url()], options).unwrap()
    }

    /// `args` with placeholders filled in for this side: `@url` (the client
    /// URL), `@index:<key>` (the key's modified index), `@now` (the store's
    /// current index), `@member` (the member's ID).
    fn expand(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|arg| {
                if let Some(key) = arg.strip_prefix("@index:") {
                    let client = self.client();
                    let node = self
                        .lookup(client.get(key, &GetOptions::default()))
                        .unwrap_or_else(|err| panic!("{key} on {}: {err}", self.name()))
                        .node;
                    node.modified_index.to_string()
                } else if *arg == "@now" {
                    let client = self.client();
                    let root = self
                        .lookup(client.get("/", &GetOptions::default()))
                        .unwrap();
                    root.index.to_string()
                } else if *arg == "@member" {
                    let client = self.client();
                    self.lookup(client.members()).unwrap()[0].id.clone()
                } else {
                    arg.replace("@url", &self.url())
                }
            })
            .collect()
    }

    /// The tool with `ETCDCTL_API=2` and no other `ETCDCTL_*` variable;
    /// unless the script names endpoints itself, `--endpoints` first.
    pub fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(&self.tool);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCDCTL_") {
                command.env_remove(name);
            }
        }
        command.env("ETCDCTL_API", "2").args(&self.global);
        if args.first().map(String::as_str) == Some("@no-endpoints") {
            command.args(&args[1..]);
        } else {
            command.arg("--endpoints").arg(self.url()).args(args);
        }
        command
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Printed {
        let mut child = self
            .command(&self.expand(args))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the tool");
        let mut pipe = child.stdin.take().unwrap();
        // A command that does not read stdin may exit before we finish.
        let _ = pipe.write_all(stdin.as_bytes());
        drop(pipe);
        finish(child, COMMAND_LIMIT)
    }

    /// Masks what may differ between the two sides.
    fn normalize(&self, text: &str, mask: Mask) -> String {
        let mut text = text.replace(&self.server.endpoint, "127.0.0.1:<port>");
        let (name, version) = if self.etcdctl {
            ("etcdctl", ETCDCTL_VERSION)
        } else {
            ("ectl", ECTL_VERSION)
        };
        text = replace_word(&text, name, "<tool>");
        text = text
            .replace(
                &format!("VERSION:\n   {version}\n"),
                "VERSION:\n   <version>\n",
            )
            .replace(&format!("version: {version}\n"), "version: <version>\n");
        if self.etcdctl {
            let lines: Vec<&str> = text
                .split('\n')
                .filter(|line| !NOT_IMPLEMENTED.contains(line))
                .collect();
            text = lines.join("\n");
        }
        text = mask_after(&text, "\"expiration\":\"", |c| c != '"');
        if mask == Mask::Ttl {
            text = mask_after(&text, "\"ttl\":", |c| c.is_ascii_digit());
            text = mask_after(&text, "TTL: ", |c| c.is_ascii_digit());
        }
        text
    }
}

/// Waits for `child` (at most `limit`, then kills it) and collects its
/// output.
pub fn finish(mut child: Child, limit: Duration) -> Printed {
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Printed {
        stdout: text(out.join().unwrap()),
        stderr: text(err.join().unwrap()),
        code: match status {
            Some(status) => status.code(),
            None => Some(-999),
        },
    }
}

/// Replaces `word` where it is not part of a longer word.
pub fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        let is_part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        out.push_str(&rest[..at]);
        out.push_str(if is_part(before) || is_part(after) {
            word
        } else {
            with
        });
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Replaces the characters after each `marker` that satisfy `masked`
/// with `*`.
fn mask_after(text: &str, marker: &str, masked: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let end = rest.find(|c: char| !masked(c)).unwrap_or(rest.len());
        out.push('*');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Runs each step through both sides and records every difference.
pub struct Compare {
    pub reference: Side,
    pub candidate: Side,
    pub mismatches: Vec<String>,
    pub steps: usize,
}

impl Compare {
    /// etcdctl against a new etcd, ectl against `candidate_server`.
    pub fn new(candidate_server: Etcd) -> Compare {
        wait_until_published(&candidate_server);
        Compare::with(
            Rc::new(Etcd::start_with(&["--enable-v2"])),
            Rc::new(candidate_server),
            "http",
            Vec::new(),
        )
    }

    pub fn with(
        reference: Rc<Etcd>,
        candidate: Rc<Etcd>,
        scheme: &'static str,
        global: Vec<String>,
    ) -> Compare {
        Compare {
            reference: Side {
                tool: binary("ETCDCTL_BIN", "/usr/bin/etcdctl"),
                etcdctl: true,
                server: reference,
                scheme,
                global: global.clone(),
            },
            candidate: Side {
                tool: PathBuf::from(ECTL),
                etcdctl: false,
                server: candidate,
                scheme,
                global,
            },
            mismatches: Vec::new(),
            steps: 0,
        }
    }

    fn compare(&mut self, what: &str, expected: Printed, actual: Printed, mask: Mask) {
        self.steps += 1;
        let normalize = |side: &Side, printed: Printed| {
            let mut stdout = side.normalize(&printed.stdout, mask);
            if mask == Mask::LineOrder {
                let mut lines: Vec<&str> = stdout.lines().collect();
                lines.sort_unstable();
                stdout = lines.join("\n");
            }
            Printed {
                stdout,
                stderr: side.normalize(&printed.stderr, mask),
                code: printed.code,
            }
        };
        let expected = normalize(&self.reference, expected);
        let actual = normalize(&self.candidate, actual);
        if expected != actual {
            self.mismatches.push(format!(
                "`{what}`:\n  etcdctl: {expected:?}\n  ectl:    {actual:?}"
            ));
        }
    }

    fn check_masked(&mut self, args: &[&str], stdin: &str, mask: Mask) {
        let expected = self.reference.run(args, stdin);
        let actual = self.candidate.run(args, stdin);
        let what = if stdin.is_empty() {
            args.join(" ")
        } else {
            format!("{} <<< {stdin:?}", args.join(" "))
        };
        self.compare(&what, expected, actual, mask);
    }

    pub fn check(&mut self, args: &[&str]) {
        self.check_masked(args, "", Mask::Exact);
    }

    pub fn check_stdin(&mut self, args: &[&str], stdin: &str) {
        self.check_masked(args, stdin, Mask::Exact);
    }

    /// For reads of keys written a while ago, whose TTL has gone down.
    pub fn check_ttl(&mut self, args: &[&str]) {
        self.check_masked(args, "", Mask::Ttl);
    }

    /// For listings etcd returns in no particular order.
    pub fn check_unordered(&mut self, args: &[&str]) {
        self.check_masked(args, "", Mask::LineOrder);
    }

    /// Starts `args` (a watch) in the background on each side, waits a
    /// moment for it to listen, runs `triggers` through the same tool,
    /// gives the watch `settle` to react, then interrupts it (SIGINT) if it
    /// is still running, and compares what it printed. Watches should
    /// start from `--after-index @now`, so that one that starts listening
    /// late on a busy machine still sees every change.
    pub fn check_live(&mut self, args: &[&str], triggers: &[&[&str]], settle: Duration) {
        let mut printed = Vec::new();
        for side in [&self.reference, &self.candidate] {
            let child = side
                .command(&side.expand(args))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the watch");
            std::thread::sleep(Duration::from_secs(1));
            for trigger in triggers {
                let _ = side.run(trigger, "");
                std::thread::sleep(Duration::from_millis(300));
            }
            std::thread::sleep(settle);
            interrupt(&child);
            printed.push(finish(child, COMMAND_LIMIT));
        }
        let actual = printed.pop().unwrap();
        let expected = printed.pop().unwrap();
        self.compare(
            &format!("{} (live)", args.join(" ")),
            expected,
            actual,
            Mask::Exact,
        );
    }

    /// Writes `key` `count` times on both servers through the library (as
    /// fast as they take it), so that old events leave the history etcd
    /// keeps for watches.
    pub fn write_many(&mut self, key: &str, count: usize) {
        for side in [&self.reference, &self.candidate] {
            let client = side.client();
            side.lookup(async {
                for i in 0..count {
                    client
                        .set(key, &i.to_string(), &SetOptions::default())
                        .await
                        .unwrap_or_else(|err| panic!("write {i} on {}: {err}", side.name()));
                }
            });
        }
    }

    pub fn assert_no_mismatches(&self) {
        assert!(
            self.mismatches.is_empty(),
            "{} of {} command lines differ between etcdctl on etcd and ectl on {}:\n\n{}",
            self.mismatches.len(),
            self.steps,
            self.candidate.server_name(),
            self.mismatches.join("\n\n")
        );
    }
}

impl Side {
    fn server_name(&self) -> String {
        format!("the server at {}", self.server.endpoint)
    }
}

/// Waits until the member lists its client URL in the v2 member list (what
/// etcdctl 2 syncs its endpoints from).
fn wait_until_published(server: &Etcd) {
    let client = Client::new(
        &[format!("http://{}", server.endpoint)],
        ClientOptions::default(),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(members) = runtime.block_on(client.members()) {
            if members.iter().all(|member| !member.client_urls.is_empty()) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the member at {} never published its client URL",
            server.endpoint
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends SIGINT (a process that has exited already is no error).
fn interrupt(child: &Child) {
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
