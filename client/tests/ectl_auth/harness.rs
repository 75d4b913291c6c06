//! Running etcdctl and ectl side by side, each against its own server, and
//! recording every difference in stdout, exit code or `Error:` line.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub const ECTL: &str = env!("CARGO_BIN_EXE_ectl");

/// The formats ectl renders for the key-value and auth commands.
pub const FORMATS: [&str; 5] = ["simple", "json", "fields", "protobuf", "table"];

/// What the candidate server makes of `AuthStatus`, which etcdctl 3.4 does
/// not call and so cannot be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStatus {
    /// etcd 3.4 does not serve it.
    Unimplemented,
    /// The server answers as etcd 3.5 and later do.
    Served,
}

/// A tool and the server it talks to.
pub struct Side {
    pub tool: PathBuf,
    pub is_etcdctl: bool,
    /// `127.0.0.1:<client port>`.
    pub endpoint: String,
    /// What the server is, for messages (`etcd 3.4`, `ectd`).
    pub server: &'static str,
}

/// One command line's outcome, as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub stdout: Vec<u8>,
    pub code: Option<i32>,
    /// The last `Error: …` line of stderr (etcdctl's client-side log lines
    /// and `stty`'s complaints about a stdin that is not a terminal are
    /// not part of the contract).
    pub error: String,
}

impl Printed {
    fn new(output: Output) -> Printed {
        let error = String::from_utf8_lossy(&output.stderr)
            .lines()
            .rfind(|line| line.starts_with("Error:"))
            .unwrap_or_default()
            .to_string();
        Printed {
            stdout: output.stdout,
            code: output.status.code(),
            error,
        }
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Side {
    pub fn etcdctl(tool: PathBuf, endpoint: &str, server: &'static str) -> Side {
        Side {
            tool,
            is_etcdctl: true,
            endpoint: endpoint.to_string(),
            server,
        }
    }

    pub fn ectl(endpoint: &str, server: &'static str) -> Side {
        Side {
            tool: PathBuf::from(ECTL),
            is_etcdctl: false,
            endpoint: endpoint.to_string(),
            server,
        }
    }

    /// Runs `args` against this side's server in a clean environment (no
    /// `ETCDCTL_*` from the caller) plus `env`, with `stdin` as input.
    pub fn run(&self, args: &[OsString], stdin: &[u8], env: &[(&str, &str)]) -> Printed {
        let mut command = Command::new(&self.tool);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCDCTL_") {
                command.env_remove(name);
            }
        }
        if self.is_etcdctl {
            command.env("ETCDCTL_API", "3");
        }
        command.envs(env.iter().copied());
        let mut child = command
            .arg("--endpoints")
            .arg(&self.endpoint)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {}: {err}", self.tool.display()));
        let mut pipe = child.stdin.take().unwrap();
        // A command that does not read stdin may exit before we finish.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        Printed::new(child.wait_with_output().expect("wait for tool"))
    }
}

fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// The same command lines through etcdctl (the reference) and ectl (the
/// candidate); every difference is recorded.
pub struct Compare {
    pub reference: Side,
    pub candidate: Side,
    pub auth_status: AuthStatus,
    mismatches: Vec<String>,
    steps: usize,
    /// Steps with at least one difference.
    differing: usize,
}

impl Compare {
    pub fn new(reference: Side, candidate: Side, auth_status: AuthStatus) -> Compare {
        Compare {
            reference,
            candidate,
            auth_status,
            mismatches: Vec::new(),
            steps: 0,
            differing: 0,
        }
    }

    fn shown(args: &[OsString], stdin: &[u8], env: &[(&str, &str)]) -> String {
        let mut shown = String::new();
        for (name, value) in env {
            shown.push_str(&format!("{name}={value} "));
        }
        shown.push_str(
            &args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        );
        if !stdin.is_empty() {
            shown.push_str(&format!(" with stdin {:?}", String::from_utf8_lossy(stdin)));
        }
        format!("`{shown}`")
    }

    /// Runs one command line on both sides and returns the candidate's
    /// outcome.
    pub fn check_full(&mut self, args: &[OsString], stdin: &[u8], env: &[(&str, &str)]) -> Printed {
        self.steps += 1;
        let expected = self.reference.run(args, stdin, env);
        let actual = self.candidate.run(args, stdin, env);
        let shown = Compare::shown(args, stdin, env);
        let before = self.mismatches.len();
        if expected.stdout != actual.stdout {
            self.mismatches.push(format!(
                "{shown}: stdout differs\n  etcdctl: {:?}\n  ectl:    {:?}",
                expected.stdout_text(),
                actual.stdout_text()
            ));
        }
        if expected.code != actual.code {
            self.mismatches.push(format!(
                "{shown}: exit code {:?} (etcdctl) vs {:?} (ectl)\n  etcdctl: {}\n  ectl:    {}",
                expected.code, actual.code, expected.error, actual.error
            ));
        }
        if expected.error != actual.error {
            self.mismatches.push(format!(
                "{shown}: error differs\n  etcdctl: {}\n  ectl:    {}",
                expected.error, actual.error
            ));
        }
        if self.mismatches.len() > before {
            self.differing += 1;
        }
        actual
    }

    pub fn check(&mut self, args: &[&str]) -> Printed {
        self.check_full(&os_args(args), b"", &[])
    }

    pub fn check_stdin(&mut self, args: &[&str], stdin: &str) -> Printed {
        self.check_full(&os_args(args), stdin.as_bytes(), &[])
    }

    pub fn check_env(&mut self, args: &[&str], env: &[(&str, &str)]) -> Printed {
        self.check_full(&os_args(args), b"", env)
    }

    /// Runs `args` once in each format ectl supports.
    pub fn check_formats(&mut self, args: &[&str]) {
        for format in FORMATS {
            let mut line = args.to_vec();
            line.extend(["-w", format]);
            self.check(&line);
        }
    }

    /// Runs a command that changes something once per format; `args` has a
    /// `{}` that each run replaces with the format's name, so that every
    /// run changes something else.
    pub fn check_formats_each(&mut self, args: &[&str]) {
        for format in FORMATS {
            let mut line: Vec<String> = args.iter().map(|a| a.replace("{}", format)).collect();
            line.extend(["-w".to_string(), format.to_string()]);
            let line: Vec<&str> = line.iter().map(String::as_str).collect();
            self.check(&line);
        }
    }

    /// `auth status`, which only ectl has: checked against what the
    /// candidate server should answer, as etcdctl 3.5 would print it. The
    /// reference server is not asked (it keeps the same history either
    /// way, since the call changes nothing).
    pub fn check_auth_status(&mut self, enabled: bool, login: &[&str]) {
        for format in ["simple", "json"] {
            self.steps += 1;
            let mut args = login.to_vec();
            args.extend(["auth", "status", "-w", format]);
            let actual = self.candidate.run(&os_args(&args), b"", &[]);
            let shown = Compare::shown(&os_args(&args), b"", &[]);
            let text = actual.stdout_text();
            let as_expected = match (self.auth_status, format) {
                (AuthStatus::Unimplemented, _) => {
                    actual.code == Some(1)
                        && actual.stdout.is_empty()
                        && actual.error
                            == "Error: rpc error: code = Unimplemented desc = unknown method \
                                AuthStatus for service etcdserverpb.Auth"
                }
                (AuthStatus::Served, "simple") => {
                    let rest = text
                        .strip_prefix(&format!("Authentication Status: {enabled}\nAuthRevision: "));
                    actual.code == Some(0)
                        && rest.is_some_and(|rest| {
                            rest.ends_with('\n')
                                && rest.trim_end().chars().all(|c| c.is_ascii_digit())
                        })
                }
                (AuthStatus::Served, _) => {
                    actual.code == Some(0)
                        && text.starts_with("{\"header\":{\"cluster_id\":")
                        && text.contains("\"enabled\":true") == enabled
                        && text.contains(",\"authRevision\":")
                }
            };
            if !as_expected {
                self.differing += 1;
                self.mismatches.push(format!(
                    "{shown} (ectl only, {:?}): unexpected answer {actual:?}",
                    self.auth_status
                ));
            }
        }
    }

    pub fn assert_no_mismatches(&self) {
        assert!(
            self.mismatches.is_empty(),
            "{} of {} command lines differ between etcdctl against {} and ectl against {}:\n\n{}",
            self.differing,
            self.steps,
            self.reference.server,
            self.candidate.server,
            self.mismatches.join("\n\n")
        );
    }
}
