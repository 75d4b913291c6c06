//! Running a tool (etcdctl or ectl) against an endpoint, in the foreground
//! or in the background, and recording what it printed so that two runs of
//! the same scenario can be compared.
//!
//! A scenario is a function of a [`Tool`] and an endpoint that records
//! every step's output in a [`Transcript`]; the suite runs it once with
//! etcdctl against one server and once with ectl against another and
//! requires identical transcripts. Outputs that depend on timing or on IDs
//! the server picks are masked by the scenario, and only those parts.

use std::ffi::OsString;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ectd_client::Client;

/// How long a background process may take to print what a step waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// A command-line tool under test.
#[derive(Debug, Clone)]
pub struct Tool {
    pub path: PathBuf,
    pub is_etcdctl: bool,
}

impl Tool {
    pub fn etcdctl(path: PathBuf) -> Tool {
        Tool {
            path,
            is_etcdctl: true,
        }
    }

    pub fn ectl() -> Tool {
        Tool {
            path: PathBuf::from(env!("CARGO_BIN_EXE_ectl")),
            is_etcdctl: false,
        }
    }

    /// The command line `args` against `endpoint`, in a clean environment
    /// (no `ETCDCTL_*` from the caller) plus `env`.
    fn command(&self, endpoint: &str, args: &[OsString], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(&self.path);
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with("ETCDCTL_") || name_text.starts_with("ETCD_") {
                command.env_remove(name);
            }
        }
        if self.is_etcdctl {
            command.env("ETCDCTL_API", "3");
        }
        command.envs(env.iter().copied());
        command.arg("--endpoints").arg(endpoint).args(args);
        command
    }

    /// Runs `args` to completion with `stdin` as input.
    pub fn run(&self, endpoint: &str, args: &[&str], stdin: &[u8]) -> Printed {
        self.run_with_env(endpoint, args, stdin, &[])
    }

    pub fn run_with_env(
        &self,
        endpoint: &str,
        args: &[&str],
        stdin: &[u8],
        env: &[(&str, &str)],
    ) -> Printed {
        let mut child = self
            .command(endpoint, &os_args(args), env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tool");
        let mut pipe = child.stdin.take().unwrap();
        // A command that does not read stdin may exit before we finish.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        let output = child.wait_with_output().expect("wait for tool");
        Printed::new(output.stdout, &output.stderr, output.status)
    }

    /// Starts `args` in the background; its stdout and stderr go to files
    /// that can be watched while it runs.
    pub fn spawn(&self, endpoint: &str, args: &[&str]) -> Background {
        let dir = tempfile::tempdir().expect("temp dir");
        let stdout = dir.path().join("stdout");
        let stderr = dir.path().join("stderr");
        let mut child = self
            .command(endpoint, &os_args(args), &[])
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn tool");
        let stdin = child.stdin.take();
        Background {
            shown: args.join(" "),
            child,
            stdin,
            stdout,
            stderr,
            _dir: dir,
        }
    }
}

fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    pub stdout: Vec<u8>,
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// stderr without etcdctl's client-side log lines (JSON objects).
    pub stderr: String,
}

impl Printed {
    fn new(stdout: Vec<u8>, stderr: &[u8], status: ExitStatus) -> Printed {
        let stderr = String::from_utf8_lossy(stderr)
            .lines()
            .filter(|line| !line.starts_with("{\"level\""))
            .map(|line| format!("{line}\n"))
            .collect();
        Printed {
            stdout,
            code: status.code(),
            stderr,
        }
    }

    /// The same output with `mask` applied to stdout and stderr.
    pub fn masked(mut self, mask: impl Fn(&str) -> String) -> Printed {
        self.stdout = mask(&String::from_utf8_lossy(&self.stdout)).into_bytes();
        self.stderr = mask(&self.stderr);
        self
    }
}

/// A tool running in the background.
pub struct Background {
    shown: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    /// What it has printed so far.
    pub fn stdout(&self) -> Vec<u8> {
        std::fs::read(&self.stdout).unwrap_or_default()
    }

    /// Waits until stdout satisfies `ready` (e.g. shows the last event of
    /// a step); fails the test if that takes too long.
    pub fn wait_for(&mut self, what: &str, ready: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !ready(&self.stdout()) {
            assert!(
                Instant::now() < deadline,
                "`{}` did not print {what}; stdout so far: {:?}, stderr: {:?}",
                self.shown,
                String::from_utf8_lossy(&self.stdout()),
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until stdout contains `text`, or its base64 encoding (how the
    /// JSON format shows values), or its `--hex` form.
    pub fn wait_for_text(&mut self, text: &str) {
        let encoded = STANDARD.encode(text);
        let hex: String = text.bytes().map(|b| format!("\\x{b:02x}")).collect();
        self.wait_for(&format!("{text:?}"), |out| {
            [text, &encoded, &hex]
                .iter()
                .any(|form| contains(out, form.as_bytes()))
        });
    }

    /// Writes a line to its stdin.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to tool");
        stdin.flush().unwrap();
    }

    /// Sends SIGTERM (as `kill` does) and waits for it to end.
    pub fn terminate(self) -> Printed {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {}", self.shown);
        self.finish()
    }

    /// Kills it (SIGKILL) and returns what it printed.
    pub fn kill(mut self) -> Printed {
        let _ = self.child.kill();
        self.finish()
    }

    /// Waits for it to end by itself.
    pub fn finish(mut self) -> Printed {
        self.stdin = None;
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for tool") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "`{}` did not exit; stdout so far: {:?}",
                self.shown,
                String::from_utf8_lossy(&self.stdout())
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = std::fs::read(&self.stderr).unwrap_or_default();
        Printed::new(self.stdout(), &stderr, status)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every step of one scenario run, in order.
#[derive(Debug, Default)]
pub struct Transcript {
    steps: Vec<(String, Printed)>,
}

impl Transcript {
    pub fn record(&mut self, step: impl Into<String>, printed: Printed) {
        self.steps.push((step.into(), printed));
    }

    /// Runs `args` to completion and records it under its command line.
    pub fn run(&mut self, tool: &Tool, endpoint: &str, args: &[&str]) -> Printed {
        let printed = tool.run(endpoint, args, b"");
        self.record(args.join(" "), printed.clone());
        printed
    }

    /// Every difference between what etcdctl (`expected`) and ectl
    /// (`actual`) printed, step by step.
    pub fn differences(expected: &Transcript, actual: &Transcript) -> Vec<String> {
        let mut found = Vec::new();
        if expected.steps.len() != actual.steps.len() {
            found.push(format!(
                "{} steps with etcdctl, {} with ectl",
                expected.steps.len(),
                actual.steps.len()
            ));
        }
        for ((step, want), (_, got)) in expected.steps.iter().zip(&actual.steps) {
            if want.stdout != got.stdout {
                found.push(format!(
                    "`{step}`: stdout differs\n  etcdctl: {:?}\n  ectl:    {:?}",
                    String::from_utf8_lossy(&want.stdout),
                    String::from_utf8_lossy(&got.stdout)
                ));
            }
            if want.code != got.code {
                found.push(format!(
                    "`{step}`: exit code {:?} (etcdctl) vs {:?} (ectl)",
                    want.code, got.code
                ));
            }
            if want.stderr != got.stderr {
                found.push(format!(
                    "`{step}`: stderr differs\n  etcdctl: {:?}\n  ectl:    {:?}",
                    want.stderr, got.stderr
                ));
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }
}

/// Runs `scenario` with etcdctl against `reference` and with ectl against
/// `candidate` (both at once) and fails with every difference.
pub fn compare(
    etcdctl: Tool,
    reference: &str,
    candidate: &str,
    scenario: fn(&Tool, &str, &mut Transcript),
) {
    let (expected, actual) = std::thread::scope(|s| {
        let expected = s.spawn(|| {
            let mut t = Transcript::default();
            scenario(&etcdctl, reference, &mut t);
            t
        });
        let actual = s.spawn(|| {
            let mut t = Transcript::default();
            scenario(&Tool::ectl(), candidate, &mut t);
            t
        });
        (expected.join().unwrap(), actual.join().unwrap())
    });
    let found = Transcript::differences(&expected, &actual);
    assert!(
        found.is_empty(),
        "{} of {} steps differ between etcdctl and ectl:\n\n{}",
        found.len(),
        expected.len(),
        found.join("\n\n")
    );
}

/// Runs `work` with a client of `endpoint`, for the steps a scenario takes
/// through the library (writes, fixed-ID leases, checks).
pub fn with_client<T, F: Future<Output = T>>(endpoint: &str, work: impl FnOnce(Client) -> F) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Client::connect(&[endpoint.to_string()])
            .await
            .expect("connect");
        work(client).await
    })
}

/// Replaces the run of characters accepted by `keep` that follows each
/// occurrence of `marker` with `<masked>`.
pub fn mask_after(text: &str, marker: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        let end = rest.find(|c: char| !keep(c)).unwrap_or(rest.len());
        if end > 0 {
            out.push_str("<masked>");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Masks lease IDs the server picked: in keys (`name/<hex ID>`, also
/// inside base64-encoded JSON keys) and in JSON `"lease"` fields.
pub fn mask_leases(text: &str) -> String {
    let text = mask_hex_ids(text);
    let text = mask_after(&text, "\"lease\":", |c| c.is_ascii_digit());
    let text = mask_after(&text, "\"Lease\" : ", |c| c.is_ascii_digit());
    // Keys in JSON are base64: decode, mask, encode.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\"key\":\"") {
        let start = at + "\"key\":\"".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        let encoded = &rest[..end];
        match STANDARD.decode(encoded) {
            Ok(key) => {
                let masked = mask_hex_ids(&String::from_utf8_lossy(&key));
                out.push_str(&STANDARD.encode(masked));
            }
            Err(_) => out.push_str(encoded),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `/` followed by 12 to 16 hex digits (a lease ID in a lock or election
/// key; `%x` drops leading zeros) becomes `/<lease>`.
fn mask_hex_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if bytes[i] == b'/' && (12..=16).contains(&digits) {
            out.push_str("/<lease>");
            i += 1 + digits;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}
