//! etcdctl compatibility: real `etcdctl` (API v3) drives real etcd and ectd through
//! the same script of commands, and every command must print the same thing and
//! exit the same way on both.
//!
//! This checks what users actually see, including etcdctl's own rendering of
//! responses (`-w json`, `-w fields`, simple output) and of errors. `cluster_id`
//! and `member_id` are masked, since two clusters never share them; everything
//! else, revisions and raft terms included, must match, which it can because both
//! servers start empty and get the same writes in the same order.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{require_etcd_binary, wait_output, Ectd, Etcd, Member, CTL_TIMEOUT, ETCDCTL};
use serde_json::Value;
use tempfile::TempDir;

/// What one etcdctl run showed the user.
#[derive(Debug, PartialEq)]
struct Shown {
    exit: Option<i32>,
    stdout: String,
    /// Only etcdctl's `Error: ...` lines: the rest of stderr is client logging
    /// with timestamps and endpoint addresses.
    errors: Vec<String>,
}

fn etcdctl(addr: &str, args: &[&str], stdin: Option<&str>) -> Shown {
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
    let (status, out, err) = wait_output(
        child,
        CTL_TIMEOUT,
        &format!("etcdctl {args:?} against {addr}"),
    );
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

struct Both {
    etcd: Member,
    ectd: Member,
    _dirs: [TempDir; 2],
    cases: usize,
    /// Commands that succeeded on etcd: a script whose commands all failed the
    /// same way (say, on a flag etcdctl does not know) would compare nothing.
    succeeded: usize,
    mismatches: Vec<String>,
}

impl Both {
    fn start() -> Both {
        let etcd_dir = TempDir::new().expect("temp dir");
        let ectd_dir = TempDir::new().expect("temp dir");
        let etcd = Etcd::start(etcd_dir.path());
        let ectd = Ectd::start(ectd_dir.path(), &[]);
        Both {
            etcd,
            ectd,
            _dirs: [etcd_dir, ectd_dir],
            cases: 0,
            succeeded: 0,
            mismatches: Vec::new(),
        }
    }

    /// Runs one etcdctl command against etcd, then ectd, and compares.
    fn run_with(&mut self, args: &[&str], stdin: Option<&str>) -> Shown {
        self.cases += 1;
        let mut a = etcdctl(&self.etcd.addr(), args, stdin);
        let mut b = etcdctl(&self.ectd.addr(), args, stdin);
        a.stdout = mask(&a.stdout);
        b.stdout = mask(&b.stdout);
        if std::env::var_os("ETCDCTL_COMPAT_SHOW").is_some() {
            eprintln!("$ etcdctl {} -> {a:?}", args.join(" "));
        }
        if a.exit == Some(0) {
            self.succeeded += 1;
        }
        if a != b {
            if !self.ectd.is_running() {
                panic!(
                    "command {} (etcdctl {args:?}) killed ectd\n{}",
                    self.cases,
                    self.ectd.stderr_tail(40)
                );
            }
            self.mismatches.push(format!(
                "command {}: etcdctl {}{}\n  etcd: {a:?}\n  ectd: {b:?}",
                self.cases,
                args.join(" "),
                stdin.map(|s| format!(" <<< {s:?}")).unwrap_or_default()
            ));
        }
        a
    }

    fn run(&mut self, args: &[&str]) -> Shown {
        self.run_with(args, None)
    }

    /// A setup command whose failure on etcd would make the rest meaningless.
    fn must(&mut self, args: &[&str]) {
        let a = self.run(args);
        assert_eq!(a.exit, Some(0), "etcdctl {args:?} failed on etcd: {a:?}");
    }

    fn finish(mut self, min_cases: usize) {
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

#[test]
fn etcdctl_sees_the_same_answers() {
    let mut t = Both::start();
    // Revisions 2..=11.
    t.must(&["put", "foo", "bar"]);
    t.run(&["put", "foo", "bar2", "--prev-kv"]);
    t.run(&["put", "foo2", "baz", "-w", "json"]);
    t.must(&["put", "foo/a", "1"]);
    t.must(&["put", "foo/b", "2"]);
    t.must(&["put", "foo/c", "1"]);
    t.must(&["put", "zoo", "z"]);
    t.run(&["put", "foo", "--ignore-value", "--prev-kv", "-w", "json"]);
    t.run(&["put", "foo/b", "22", "--prev-kv", "-w", "fields"]);
    t.must(&["put", "\u{1}bin\u{7f}", "v"]);

    // Errors raised by the server.
    t.run(&["put", "missing", "--ignore-value"]);
    t.run(&["put", "", "v"]);
    t.run(&["put", "k", "v", "--lease=1234"]);
    t.run(&["get", ""]);

    // get and its options.
    for args in [
        vec!["get", "foo"],
        vec!["get", "foo", "-w", "json"],
        vec!["get", "foo", "-w", "fields"],
        vec!["get", "foo", "--print-value-only"],
        vec!["get", "foo", "--keys-only"],
        vec!["get", "nosuchkey"],
        vec!["get", "nosuchkey", "-w", "json"],
        vec!["get", "foo", "fop"],
        vec!["get", "foo", "--prefix"],
        vec!["get", "foo", "--prefix", "-w", "json"],
        vec!["get", "foo", "--prefix", "--limit", "2"],
        vec!["get", "foo", "--prefix", "--limit", "2", "-w", "json"],
        vec!["get", "foo", "--prefix", "--limit", "100"],
        vec!["get", "foo", "--from-key"],
        vec!["get", "", "--from-key"],
        vec!["get", "", "--prefix", "-w", "json"],
        vec!["get", "foo/b", "--from-key", "--keys-only"],
        vec!["get", "foo", "--prefix", "--keys-only"],
        vec!["get", "foo", "--prefix", "--print-value-only"],
        vec!["get", "foo", "--prefix", "--consistency=s"],
        vec!["get", "foo", "--prefix", "-w", "fields"],
        vec!["get", "foo", "--rev=1"],
        vec!["get", "foo", "--rev=2"],
        vec!["get", "foo", "--rev=3", "-w", "json"],
        vec!["get", "foo", "--prefix", "--rev=6", "-w", "json"],
        vec!["get", "foo", "--rev=1000"],
        vec!["get", "foo", "--prefix", "--rev=1000", "-w", "json"],
        vec![
            "get",
            "foo",
            "--prefix",
            "--limit=2",
            "--rev=6",
            "--keys-only",
        ],
        vec!["get", "foo", "foo/b", "--consistency=s", "-w", "fields"],
        vec!["get", "foo/", "--prefix", "--print-value-only", "--limit=1"],
    ] {
        t.run(&args);
    }
    for target in ["KEY", "VERSION", "CREATE", "MODIFY", "VALUE"] {
        for order in ["ASCEND", "DESCEND"] {
            let by = format!("--sort-by={target}");
            let ord = format!("--order={order}");
            t.run(&["get", "foo", "--prefix", &by, &ord]);
            t.run(&[
                "get",
                "",
                "--from-key",
                &by,
                &ord,
                "--limit=3",
                "-w",
                "json",
            ]);
        }
    }

    // txn from stdin, both branches, and errors.
    let txn_then = "mod(\"foo2\") > \"0\"\nvalue(\"foo2\") = \"baz\"\n\nput txn-s yes\nget foo2\n\nput txn-f no\n\n";
    let txn_else =
        "version(\"foo\") = \"1\"\n\nput txn-s yes2\n\nput txn-f no\nget txn-f\ndel foo/c\n\n";
    t.run_with(&["txn"], Some(txn_then));
    t.run_with(&["txn"], Some(txn_else));
    t.run_with(&["txn", "-w", "json"], Some(txn_then));
    t.run_with(&["txn", "-w", "fields"], Some(txn_else));
    t.run_with(
        &["txn"],
        Some("create(\"nosuchkey\") = \"0\"\nmod(\"foo\") > \"3\"\n\nget foo --prefix\n\n\n"),
    );
    t.run_with(&["txn"], Some("\nput dup 1\nput dup 2\n\n\n"));
    t.run_with(&["txn"], Some("\ndel foo --prefix\nput foo/x 1\n\n\n"));
    t.run_with(
        &["txn", "-w", "json"],
        Some("value(\"nosuchkey\") = \"\"\n\n\nget foo --rev=2\n\n"),
    );

    // del.
    t.run(&["del", "foo/a"]);
    t.run(&["del", "nosuchkey"]);
    t.run(&["del", "foo/", "--prefix", "--prev-kv"]);
    t.run(&["del", "foo2", "--prev-kv", "-w", "json"]);
    t.run(&["del", "foo/", "--prefix"]);
    t.run(&["get", "", "--prefix", "-w", "json"]);

    // compaction, then reads at and below the compacted revision.
    t.run(&["compaction", "1000"]);
    t.run(&["compaction", "6"]);
    t.run(&["compaction", "6"]);
    t.run(&["compaction", "3"]);
    t.run(&["get", "foo", "--rev=5"]);
    t.run(&["get", "foo", "--rev=6", "-w", "json"]);
    t.run(&["get", "", "--prefix", "--rev=7", "-w", "json"]);
    t.run(&["compaction", "--physical", "12"]);
    t.run(&["get", "foo", "--rev=11"]);
    t.run(&["get", "", "--prefix", "--rev=12", "--keys-only"]);
    t.run_with(&["txn"], Some("\nget foo --rev=2\n\n\n"));
    t.run(&["put", "after", "compaction", "-w", "json"]);
    t.run(&["del", "", "--from-key", "--prev-kv"]);
    t.run(&["get", "", "--from-key", "-w", "json"]);
    t.finish(90);
}
