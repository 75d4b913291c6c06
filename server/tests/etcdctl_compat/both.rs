//! Running one etcdctl command against etcd and ectd and comparing what it shows.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{require_etcd_binary, wait_output, Ectd, Etcd, Member, CTL_TIMEOUT, ETCDCTL};
use serde_json::Value;
use tempfile::TempDir;

/// What one etcdctl run showed the user.
#[derive(Debug, PartialEq)]
pub struct Shown {
    pub exit: Option<i32>,
    pub stdout: String,
    /// Only etcdctl's `Error: ...` lines: the rest of stderr is client logging
    /// with timestamps and endpoint addresses.
    pub errors: Vec<String>,
}

fn spawn(addr: &str, args: &[String], stdin: Option<&str>) -> Child {
    let bin = require_etcd_binary(ETCDCTL);
    let mut child = Command::new(bin)
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            addr,
            "--dial-timeout=5s",
            "--command-timeout=10s",
        ])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning etcdctl");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input.as_bytes())
            .expect("writing etcdctl's stdin");
    }
    child
}

fn collect(child: Child, what: &str) -> Shown {
    let (status, out, err) = wait_output(child, CTL_TIMEOUT, what);
    let stderr = String::from_utf8_lossy(&err).into_owned();
    Shown {
        exit: status.code(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        errors: stderr
            .lines()
            .filter(|l| l.starts_with("Error"))
            .map(str::to_string)
            .collect(),
    }
}

fn etcdctl(addr: &str, args: &[String], stdin: Option<&str>) -> Shown {
    collect(
        spawn(addr, args, stdin),
        &format!("etcdctl {args:?} against {addr}"),
    )
}

/// A lease's remaining TTL depends on when it was asked: `remaining(Ns)` is shown
/// as `remaining(~)`. (Its accuracy is checked by the differential tests.)
fn round_remaining(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("remaining(") {
        let (head, tail) = rest.split_at(i + "remaining(".len());
        out.push_str(head);
        let digits = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        if digits > 0 && tail[digits..].starts_with("s)") {
            out.push('~');
            rest = &tail[digits..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// Replaces every `from` with `to` in what a run showed.
fn replace(shown: &mut Shown, subs: &[(String, String)]) {
    for (from, to) in subs {
        if from.is_empty() {
            continue;
        }
        shown.stdout = shown.stdout.replace(from.as_str(), to);
        for e in &mut shown.errors {
            *e = e.replace(from.as_str(), to);
        }
    }
}

/// Replaces the values of `cluster_id`/`member_id` anywhere in a JSON document.
fn mask_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "cluster_id" || k == "member_id" {
                    *val = Value::from(0);
                } else {
                    mask_json(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_json),
        _ => {}
    }
}

/// Masks the cluster and member ids in etcdctl's output formats.
fn mask(stdout: &str) -> String {
    let trimmed = stdout.trim();
    if trimmed.starts_with('{') {
        if let Ok(mut v) = serde_json::from_str::<Value>(trimmed) {
            mask_json(&mut v);
            return v.to_string();
        }
        // One JSON document per line (watch -w json).
        let docs: Result<Vec<Value>, _> = trimmed.lines().map(serde_json::from_str).collect();
        if let Ok(mut docs) = docs {
            docs.iter_mut().for_each(mask_json);
            return docs.iter().map(|d| d.to_string() + "\n").collect();
        }
    }
    stdout
        .lines()
        .map(|l| {
            // `-w fields` prints `"ClusterID" : 1234` and `"MemberID" : 5678`.
            if l.starts_with("\"ClusterID\"") || l.starts_with("\"MemberID\"") {
                l.split(':').next().unwrap_or(l).to_string() + ": <masked>"
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The same etcdctl commands run against etcd and ectd, compared as they run.
pub struct Both {
    etcd: Member,
    ectd: Member,
    _dirs: [TempDir; 2],
    cases: usize,
    /// Commands that succeeded on etcd: a script whose commands all failed the
    /// same way (say, on a flag etcdctl does not know) would compare nothing.
    succeeded: usize,
    mismatches: Vec<String>,
    /// Text replaced in etcd's and ectd's outputs before comparing.
    subs: Vec<((String, String), (String, String))>,
}

/// Per-server arguments: etcd's and ectd's (they differ only in ids the servers
/// chose, such as lease ids).
pub type Each = (Vec<String>, Vec<String>);

/// The same arguments for both servers.
pub fn same(args: &[&str]) -> Each {
    let v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    (v.clone(), v)
}

/// etcdctl processes that keep running (watch, elect, lock), one per server.
pub struct Running {
    args: String,
    etcd: Child,
    ectd: Child,
}

impl Both {
    /// Both servers with default settings.
    pub fn start() -> Both {
        Both::start_with(&[])
    }

    /// Both servers, each also given `extra_args` (flags both understand).
    pub fn start_with(extra_args: &[&str]) -> Both {
        let etcd_dir = TempDir::new().expect("temp dir");
        let ectd_dir = TempDir::new().expect("temp dir");
        let etcd = Etcd::start_with(etcd_dir.path(), extra_args);
        let ectd = Ectd::start(ectd_dir.path(), extra_args);
        Both {
            etcd,
            ectd,
            _dirs: [etcd_dir, ectd_dir],
            cases: 0,
            succeeded: 0,
            mismatches: Vec::new(),
            subs: Vec::new(),
        }
    }

    /// From now on, `etcd_text` in etcd's output and `ectd_text` in ectd's both
    /// read as `placeholder` (for ids the servers chose independently).
    pub fn alias(&mut self, etcd_text: &str, ectd_text: &str, placeholder: &str) {
        self.subs.push((
            (etcd_text.to_string(), placeholder.to_string()),
            (ectd_text.to_string(), placeholder.to_string()),
        ));
    }

    fn compare(&mut self, what: String, mut a: Shown, mut b: Shown) -> Shown {
        self.cases += 1;
        a.stdout = mask(&a.stdout);
        b.stdout = mask(&b.stdout);
        let (ea, eb): (Vec<_>, Vec<_>) = self.subs.iter().cloned().unzip();
        replace(&mut a, &ea);
        replace(&mut b, &eb);
        a.stdout = round_remaining(&a.stdout);
        b.stdout = round_remaining(&b.stdout);
        if std::env::var_os("ETCDCTL_COMPAT_SHOW").is_some() {
            eprintln!("$ etcdctl {what} -> {a:?}");
        }
        if a.exit == Some(0) {
            self.succeeded += 1;
        }
        if a != b {
            if !self.ectd.is_running() {
                panic!(
                    "command {} (etcdctl {what}) killed ectd\n{}",
                    self.cases,
                    self.ectd.stderr_tail(40)
                );
            }
            self.mismatches.push(format!(
                "command {}: etcdctl {what}\n  etcd: {a:?}\n  ectd: {b:?}",
                self.cases
            ));
        }
        a
    }

    /// Runs per-server arguments and compares; returns both raw outputs
    /// (before aliasing), etcd's first.
    pub fn run_each(&mut self, args: &Each) -> (Shown, Shown) {
        let a = etcdctl(&self.etcd.addr(), &args.0, None);
        let b = etcdctl(&self.ectd.addr(), &args.1, None);
        let raw = (
            Shown {
                exit: a.exit,
                stdout: a.stdout.clone(),
                errors: a.errors.clone(),
            },
            Shown {
                exit: b.exit,
                stdout: b.stdout.clone(),
                errors: b.errors.clone(),
            },
        );
        self.compare(args.0.join(" "), a, b);
        raw
    }

    /// `etcdctl lease grant <ttl>` on both; the two lease ids (hex) read as
    /// `placeholder` from then on. Returns etcd's and ectd's ids.
    pub fn grant(&mut self, ttl: &str, placeholder: &str) -> (String, String) {
        let args: Vec<String> = ["lease", "grant", ttl].map(String::from).to_vec();
        let a = etcdctl(&self.etcd.addr(), &args, None);
        let b = etcdctl(&self.ectd.addr(), &args, None);
        // "lease 694d77aa9e1e4e0b granted with TTL(10s)"
        let id = |s: &Shown| {
            s.stdout
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string()
        };
        let (ia, ib) = (id(&a), id(&b));
        assert!(!ia.is_empty(), "lease grant failed on etcd: {a:?}");
        self.alias(&ia, &ib, placeholder);
        // `-w json` prints lease ids in decimal.
        let dec = |hex: &str| i64::from_str_radix(hex, 16).map_or(String::new(), |v| v.to_string());
        self.alias(&dec(&ia), &dec(&ib), &format!("{placeholder}_DEC"));
        self.compare(args.join(" "), a, b);
        (ia, ib)
    }

    /// The keys under `prefix` (in creation order) that embed ids each server chose,
    /// such as lock and election keys: the i-th key of each reads as
    /// `placeholder<i>` from then on. The listing itself is compared too.
    pub fn alias_keys(&mut self, prefix: &str, placeholder: &str) {
        let args: Vec<String> = ["get", prefix, "--prefix", "--keys-only", "--sort-by=CREATE"]
            .map(String::from)
            .to_vec();
        let a = etcdctl(&self.etcd.addr(), &args, None);
        let b = etcdctl(&self.ectd.addr(), &args, None);
        let keys = |s: &Shown| -> Vec<String> {
            s.stdout
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        };
        for (i, (ka, kb)) in keys(&a).iter().zip(keys(&b).iter()).enumerate() {
            // The lease part after the last '/', so both the key and the bare id
            // are covered.
            let id = |k: &str| k.rsplit('/').next().unwrap_or_default().to_string();
            self.alias(&id(ka), &id(kb), &format!("{placeholder}{i}"));
        }
        self.compare(args.join(" "), a, b);
    }

    /// Starts a long-running command on both servers.
    pub fn spawn_each(&mut self, args: &Each) -> Running {
        let r = Running {
            args: args.0.join(" "),
            etcd: spawn(&self.etcd.addr(), &args.0, None),
            ectd: spawn(&self.ectd.addr(), &args.1, None),
        };
        // Give both time to connect and set up before anything else runs.
        std::thread::sleep(Duration::from_millis(700));
        r
    }

    /// Lets running commands see what happened, stops them and compares what
    /// each printed.
    pub fn stop(&mut self, r: Running) -> Shown {
        std::thread::sleep(Duration::from_millis(700));
        for child in [&r.etcd, &r.ectd] {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
        let a = collect(r.etcd, &format!("etcdctl {} against etcd", r.args));
        let b = collect(r.ectd, &format!("etcdctl {} against ectd", r.args));
        let shown = self.compare(format!("{} (until stopped)", r.args), a, b);
        // Stopped by a signal: it worked if it showed something before.
        if shown.exit.is_none() && !shown.stdout.is_empty() {
            self.succeeded += 1;
        }
        shown
    }

    /// Waits for running commands to finish on their own and compares.
    pub fn wait(&mut self, r: Running) -> Shown {
        let a = collect(r.etcd, &format!("etcdctl {} against etcd", r.args));
        let b = collect(r.ectd, &format!("etcdctl {} against ectd", r.args));
        self.compare(r.args, a, b)
    }

    /// Runs one etcdctl command against etcd, then ectd, and compares.
    pub fn run_with(&mut self, args: &[&str], stdin: Option<&str>) -> Shown {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let a = etcdctl(&self.etcd.addr(), &args, stdin);
        let b = etcdctl(&self.ectd.addr(), &args, stdin);
        let what = format!(
            "{}{}",
            args.join(" "),
            stdin.map(|s| format!(" <<< {s:?}")).unwrap_or_default()
        );
        self.compare(what, a, b)
    }

    /// Runs one command (same arguments on both) and compares.
    pub fn run(&mut self, args: &[&str]) -> Shown {
        self.run_with(args, None)
    }

    /// A setup command whose failure on etcd would make the rest meaningless.
    pub fn must(&mut self, args: &[&str]) {
        let a = self.run(args);
        assert_eq!(a.exit, Some(0), "etcdctl {args:?} failed on etcd: {a:?}");
    }

    /// Fails the test on any difference; also checks enough ran and succeeded.
    pub fn finish(mut self, min_cases: usize) {
        self.ectd.assert_running();
        assert!(
            self.mismatches.is_empty(),
            "{} of {} etcdctl commands differ between etcd and ectd:\n{}",
            self.mismatches.len(),
            self.cases,
            self.mismatches.join("\n")
        );
        assert!(self.cases >= min_cases, "only {} commands ran", self.cases);
        assert!(
            self.succeeded * 3 >= self.cases * 2,
            "only {} of {} commands succeeded on etcd",
            self.succeeded,
            self.cases
        );
        eprintln!("{} etcdctl commands, all identical", self.cases);
    }
}
