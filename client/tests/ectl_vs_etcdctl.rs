//! ectl must be a drop-in replacement for etcdctl 3.4: this test runs the
//! same command lines through both tools and requires identical stdout,
//! identical exit codes and the same `Error:` line.
//!
//! Commands that write change the store, so each tool gets its own real
//! etcd: two single-member clusters that are given the same advertised peer
//! URL and cluster token and therefore the same cluster and member IDs.
//! Because both see the same sequence of requests, their revisions stay in
//! step and the outputs can be compared byte for byte with nothing masked.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing: a skipped
//! comparison would silently stop guarding compatibility.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ectd_client::proto::etcdserverpb::LeaseGrantRequest;
use ectd_client::Client;

// Shared with suites that use more of it (restarting a member).
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

use etcd::Etcd;
use tools::binary;

const ECTL: &str = env!("CARGO_BIN_EXE_ectl");

/// A lease that both clusters grant with the same ID, so `--lease` can be
/// compared.
const LEASE_ID: i64 = 0x694d_77aa_9e1e_4e0b;

/// One argument, possibly not valid UTF-8 (keys are bytes).
fn arg(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// Runs each command line through etcdctl (against one cluster) and ectl
/// (against the other) and records every difference.
struct Compare {
    etcdctl: PathBuf,
    reference: Etcd,
    candidate: Etcd,
    mismatches: Vec<String>,
    steps: usize,
}

impl Compare {
    fn run(
        tool: &Path,
        endpoint: &str,
        cmd: &[OsString],
        stdin: &[u8],
        is_etcdctl: bool,
    ) -> Output {
        let mut command = Command::new(tool);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCDCTL_") {
                command.env_remove(name);
            }
        }
        if is_etcdctl {
            command.env("ETCDCTL_API", "3");
        }
        let mut child = command
            .arg("--endpoints")
            .arg(endpoint)
            .args(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut pipe = child.stdin.take().unwrap();
        // A command that does not read stdin may exit before we finish.
        let _ = pipe.write_all(stdin);
        drop(pipe);
        child.wait_with_output().expect("wait")
    }

    /// The `Error: …` line, without etcdctl's client-side log lines.
    fn error_line(stderr: &[u8]) -> String {
        String::from_utf8_lossy(stderr)
            .lines()
            .rfind(|line| line.starts_with("Error:"))
            .unwrap_or_default()
            .to_string()
    }

    fn check_os(&mut self, cmd: Vec<OsString>, stdin: &[u8]) -> Output {
        self.steps += 1;
        let expected = Compare::run(&self.etcdctl, &self.reference.endpoint, &cmd, stdin, true);
        let actual = Compare::run(
            Path::new(ECTL),
            &self.candidate.endpoint,
            &cmd,
            stdin,
            false,
        );
        let shown = format!(
            "`{}`{}",
            cmd.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            if stdin.is_empty() {
                String::new()
            } else {
                format!(" with stdin {:?}", String::from_utf8_lossy(stdin))
            }
        );
        if expected.stdout != actual.stdout {
            self.mismatches.push(format!(
                "{shown}: stdout differs\n  etcdctl: {:?}\n  ectl:    {:?}",
                String::from_utf8_lossy(&expected.stdout),
                String::from_utf8_lossy(&actual.stdout)
            ));
        }
        if expected.status.code() != actual.status.code() {
            self.mismatches.push(format!(
                "{shown}: exit code {:?} (etcdctl) vs {:?} (ectl); stderr:\n  etcdctl: {}\n  ectl:    {}",
                expected.status.code(),
                actual.status.code(),
                String::from_utf8_lossy(&expected.stderr).trim(),
                String::from_utf8_lossy(&actual.stderr).trim()
            ));
        }
        let (expected_error, actual_error) = (
            Compare::error_line(&expected.stderr),
            Compare::error_line(&actual.stderr),
        );
        if expected_error != actual_error {
            self.mismatches.push(format!(
                "{shown}: error differs\n  etcdctl: {expected_error}\n  ectl:    {actual_error}"
            ));
        }
        actual
    }

    fn check(&mut self, cmd: &[&str]) -> Output {
        self.check_os(args(cmd), b"")
    }

    fn check_stdin(&mut self, cmd: &[&str], stdin: &str) -> Output {
        self.check_os(args(cmd), stdin.as_bytes())
    }

    /// Runs `cmd` in simple and in JSON format.
    fn check_both(&mut self, cmd: &[&str]) {
        self.check(cmd);
        let mut json = cmd.to_vec();
        json.extend(["-w", "json"]);
        self.check(&json);
    }

    /// Runs `cmd` in every format etcdctl supports for key-value commands.
    fn check_all_formats(&mut self, cmd: &[&str]) {
        self.check_both(cmd);
        for format in ["fields", "protobuf"] {
            let mut other = cmd.to_vec();
            other.extend(["-w", format]);
            self.check(&other);
        }
    }

    /// Runs ectl alone (for behaviour etcdctl 3.4 lacks) against the
    /// candidate cluster; the reference cluster gets the same call through
    /// etcdctl so that both histories stay identical.
    fn ectl_only(&mut self, cmd: &[&str], etcdctl_equivalent: &[&str]) -> Output {
        let _ = Compare::run(
            &self.etcdctl,
            &self.reference.endpoint,
            &args(etcdctl_equivalent),
            b"",
            true,
        );
        Compare::run(
            Path::new(ECTL),
            &self.candidate.endpoint,
            &args(cmd),
            b"",
            false,
        )
    }
}

fn grant_lease(endpoint: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Client::connect(&[endpoint.to_string()])
            .await
            .expect("connect");
        let granted = client
            .lease()
            .lease_grant(LeaseGrantRequest {
                ttl: 3600,
                id: LEASE_ID,
            })
            .await
            .expect("grant lease")
            .into_inner();
        assert_eq!(granted.id, LEASE_ID);
    });
}

#[test]
fn ectl_output_matches_etcdctl() {
    let etcdctl = binary("ETCDCTL_BIN", "/usr/bin/etcdctl");
    let mut t = Compare {
        reference: Etcd::start(),
        candidate: Etcd::start(),
        etcdctl,
        mismatches: Vec::new(),
        steps: 0,
    };

    put(&mut t);
    get(&mut t);
    txn(&mut t);
    del(&mut t);
    compaction(&mut t);
    count_only(&mut t);
    version(&mut t);

    assert!(
        t.mismatches.is_empty(),
        "{} of {} command lines differ between etcdctl and ectl:\n\n{}",
        t.mismatches.len(),
        t.steps,
        t.mismatches.join("\n\n")
    );
}

fn put(t: &mut Compare) {
    t.check(&["put", "foo", "bar"]);
    t.check(&["put", "foo", "bar2", "--prev-kv"]);
    t.check(&["put", "foo", "baz", "--prev-kv", "-w", "json"]);
    t.check_all_formats(&["put", "foo", "qux", "--prev-kv"]);
    t.check(&["put", "foo", "quux", "--prev-kv", "--hex"]);
    t.check(&["put", "foo", "--ignore-value"]);
    t.check(&["put", "foo", "--ignore-value", "--prev-kv", "-w", "json"]);
    t.check(&["put", "dash", "--", "-5"]);
    t.check(&["put", "empty", ""]);
    t.check(&["put", "spaced key", "a value with spaces"]);
    t.check_stdin(&["put", "from-stdin"], "multi\nline\n");
    t.check_stdin(&["put", "from-stdin", "--prev-kv"], "again");
    t.check_os(
        vec![arg(b"put"), arg(b"bin\xff\x01key"), arg(b"\x01\xfe")],
        b"",
    );
    t.check_os(vec![arg(b"put"), arg(b"\xff"), arg(b"ff")], b"");
    t.check_os(vec![arg(b"put"), arg(b"\xff\xff"), arg(b"ffff")], b"");
    for (key, value) in [
        ("a", "1"),
        ("b", "vb"),
        ("c", "vc"),
        ("d", "vd"),
        ("e", "ve"),
        ("foo/1", "x"),
        ("foo/2", "y"),
        ("k1", "v1"),
        ("k2", "v2"),
        ("k3", "v3"),
        ("b", "0-first"),
    ] {
        t.check(&["put", key, value]);
    }

    grant_lease(&t.reference.endpoint);
    grant_lease(&t.candidate.endpoint);
    let lease = format!("{LEASE_ID:x}");
    t.check(&["put", "leased", "v", "--lease", &lease]);
    t.check(&[
        "put",
        "leased",
        "v2",
        &format!("--lease={lease}"),
        "--prev-kv",
        "-w",
        "json",
    ]);
    t.check(&[
        "put",
        "leased",
        "v3",
        "--ignore-lease",
        "--prev-kv",
        "-w",
        "fields",
    ]);
    t.check(&["get", "leased", "-w", "json"]);

    // Rejected before or by the server.
    t.check(&["put"]);
    t.check(&["put", "foo", "v", "--ignore-value"]);
    t.check(&["put", "foo", "v", "--lease=zz"]);
    t.check(&["put", "foo", "v", "--lease=1234"]);
    t.check(&["put", "no-such-key", "--ignore-value"]);
    t.check(&["put", "foo", "-w", "yaml", "v"]);
    t.check(&["put", "foo", "x", "-w", "table"]);
}

fn get(t: &mut Compare) {
    t.check_all_formats(&["get", "foo"]);
    t.check_both(&["get", "missing"]);
    t.check_all_formats(&["get", "foo", "--prefix"]);
    t.check_both(&["get", "c", "--from-key"]);
    t.check_both(&["get", "a", "d"]);
    t.check_both(&["get", "a", "d", "ignored-extra"]);
    t.check_all_formats(&["get", "", "--prefix"]);
    t.check_both(&["get", "", "--from-key"]);
    t.check_os(vec![arg(b"get"), arg(b"\xff"), arg(b"--prefix")], b"");
    t.check_os(
        vec![
            arg(b"get"),
            arg(b"\xff"),
            arg(b"--prefix"),
            arg(b"-w"),
            arg(b"json"),
        ],
        b"",
    );
    t.check_both(&["get", "a", "--from-key", "--limit", "2"]);
    t.check_both(&["get", "a", "--from-key", "--limit=0"]);
    t.check_both(&["get", "foo", "--rev=2"]);
    t.check_both(&["get", "foo", "--rev", "4"]);
    t.check_both(&["get", "foo", "--rev=-5"]);
    for order in ["ASCEND", "DESCEND", "descend"] {
        t.check_both(&["get", "", "--prefix", "--order", order]);
    }
    for target in ["CREATE", "KEY", "MODIFY", "VALUE", "VERSION", "value"] {
        t.check_both(&["get", "", "--prefix", "--sort-by", target]);
        t.check(&[
            "get",
            "",
            "--prefix",
            "--sort-by",
            target,
            "--order=DESCEND",
        ]);
        t.check(&["get", "", "--prefix", "--sort-by", target, "--limit=3"]);
        t.check(&[
            "get",
            "",
            "--prefix",
            "--sort-by",
            target,
            "--order=ASCEND",
            "--limit=3",
        ]);
    }
    t.check_both(&["get", "", "--prefix", "--keys-only"]);
    t.check(&[
        "get",
        "",
        "--prefix",
        "--keys-only",
        "--order=DESCEND",
        "--limit=4",
    ]);
    t.check(&["get", "", "--prefix", "--print-value-only"]);
    t.check(&["get", "", "--prefix", "--print-value-only", "--keys-only"]);
    t.check_both(&["get", "", "--prefix", "--hex"]);
    t.check(&["get", "", "--prefix", "--hex", "-w", "fields"]);
    t.check(&["get", "", "--prefix", "--print-value-only", "--hex"]);
    t.check_both(&["get", "k1", "--consistency=s"]);
    t.check_both(&["get", "k1", "--consistency", "l"]);
    t.check(&["get", "foo", "--prefix=false", "--keys-only=true"]);
    t.check(&["--hex", "get", "foo"]);
    t.check(&["-w", "json", "get", "foo"]);
    t.check(&["get", "-wjson", "foo"]);

    // Rejected before or by the server.
    t.check(&["get"]);
    t.check(&["get", "a", "b", "--prefix"]);
    t.check(&["get", "a", "b", "--from-key"]);
    t.check(&["get", "a", "--prefix", "--from-key"]);
    t.check(&["get", "a", "--order=sideways"]);
    t.check(&["get", "a", "--sort-by=size"]);
    t.check(&["get", "a", "--consistency=x"]);
    t.check(&["get", "a", "--rev=100000"]);
    t.check(&["get", "a", "--print-value-only", "-w", "json"]);
    t.check(&["get", "a", "-w", "yaml"]);
    t.check(&["get", "a", "-w", "table"]);
}

fn txn(t: &mut Compare) {
    let basic = "mod(\"k1\") > \"0\"\nvalue(\"k2\") = \"v2\"\n\n\
                 put k1 \"new v1\"\nget k1\nget k --prefix\n\n\
                 get k1\n\n";
    t.check_stdin(&["txn"], basic);
    t.check_stdin(&["txn", "-w", "json"], basic);
    t.check_stdin(&["txn", "-w", "fields"], basic);
    t.check_stdin(&["txn", "-w", "protobuf"], basic);
    t.check_stdin(&["txn", "--hex"], basic);
    // The compare on k2 now fails.
    t.check_stdin(&["put", "k2", "changed"], "");
    t.check_stdin(&["txn"], basic);
    t.check_stdin(&["txn", "-w", "json"], basic);

    let writes = "version(\"k3\") = \"1\"\ncreate(\"k3\") != \"0\"\nc(\"nope\") = \"0\"\n\n\
                  put k9 nine --prev-kv\nput k9 again --prev-kv\n\n\n";
    t.check_stdin(&["txn"], writes);
    let writes = "ver(\"k3\") = \"1\"\n\n\
                  del k9 --prev-kv\nput \"quoted key\" \"tab\\there\"\nget \"quoted key\"\n\n\n";
    t.check_stdin(&["txn", "-w", "json"], writes);
    let escapes = "val(\"k1\") = \"new v1\"\nm(\"k1\") > \"1\"\n\n\
                   put \"esc\\x41\\n\" \"\\u00e9\\U0001F600\\101\"\nget esc --prefix --hex\n\n\n";
    t.check_stdin(&["txn"], escapes);
    let ranges = "\n\
                  get \"\" --prefix --keys-only --limit=3\n\
                  get a d --sort-by=VALUE --order=DESCEND\n\
                  get a --from-key --print-value-only\n\
                  del foo/ --prefix --prev-kv\n\n\n";
    t.check_stdin(&["txn"], ranges);
    t.check_stdin(&["txn", "-w", "fields"], "\nget k1\n\n\n");
    t.check_stdin(
        &["txn", "-i"],
        "mod(\"k1\") > \"0\"\n\nget k1\n\nget k2\n\n",
    );
    t.check_stdin(&["txn", "--interactive", "-w", "json"], "\n\nget k2\n\n");
    t.check_stdin(&["txn"], "  \r\n  get k1  \r\n \t \n\n");
    t.check_stdin(&["txn"], "\n\n\n");
    t.check_stdin(
        &["txn"],
        "mod(\"k1\")   >   \"0\" trailing words\n\nget k1\n\n\n",
    );

    // Rejected input.
    for input in [
        "",
        "\n\n",
        "\nget k1\n\nget k2",
        "bogus\n\n\n",
        "mod(\"k1\")>\"0\"\n\n\n",
        "mod (\"k1\") > \"0\"\n\n\n",
        "mod(\"k1\") > 0\n\n\n",
        "mod(k1) > \"0\"\n\n\n",
        "mod(\"k1\" > \"0\"\n\n\n",
        "ver(\"k1\") = \"x\"\n\n\n",
        "foo(\"k1\") = \"1\"\n\n\n",
        "\nget\n\n\n",
        "\nfoo k\n\n\n",
        "\nput k\n\n\n",
        "\nget k --bogus\n\n\n",
        "\nget k1 --prefix --from-key\n\n\n",
        "\nget k1 --order=x\n\n\n",
        "\nput k1 --lease=zz v\n\n\n",
        "\nput k1 \"a\\q\"\n\n\n",
        "\nput k1 a\nput k1 b\n\n\n",
        "\ndel\n\n\n",
    ] {
        t.check_stdin(&["txn"], input);
    }
}

fn del(t: &mut Compare) {
    t.check(&["del", "missing"]);
    t.check(&["del", "a"]);
    t.check(&["del", "b", "--prev-kv"]);
    t.check(&["del", "c", "--prev-kv", "-w", "json"]);
    t.check(&["del", "d", "--prev-kv", "-w", "fields"]);
    t.check(&["del", "e", "--prev-kv", "-w", "protobuf"]);
    t.check(&["del", "k", "k3", "--prev-kv"]);
    t.check(&["del", "k", "--prefix", "-w", "json"]);
    t.check(&["del", "spaced", "--prefix", "--prev-kv", "--hex"]);
    t.check_os(
        vec![
            arg(b"del"),
            arg(b"\xff"),
            arg(b"--prefix"),
            arg(b"--prev-kv"),
        ],
        b"",
    );
    t.check(&["del", "foo", "--from-key", "--prev-kv", "-w", "json"]);
    t.check(&["del", "missing", "-w", "fields"]);

    // Rejected before the request.
    t.check(&["del"]);
    t.check(&["del", "a", "b", "c"]);
    t.check(&["del", "a", "--prefix", "--from-key"]);
    t.check(&["del", "a", "b", "--prefix"]);
    t.check(&["del", "a", "-w", "yaml"]);

    t.check(&["del", "", "--prefix", "--prev-kv"]);
    t.check(&["get", "", "--prefix", "-w", "json"]);
}

fn compaction(t: &mut Compare) {
    for value in ["one", "two", "three", "four"] {
        t.check(&["put", "history", value]);
    }
    t.check(&["compaction", "5"]);
    t.check(&["compaction", "8", "--physical"]);
    t.check(&["compaction", "9", "-w", "json"]);
    t.check(&["compaction", "10", "-w", "fields"]);
    t.check(&["get", "history", "--rev=5"]);
    t.check(&["get", "history", "--rev=10", "-w", "json"]);

    // Rejected before or by the server.
    t.check(&["compaction", "3"]);
    t.check(&["compaction", "100000"]);
    t.check(&["compaction"]);
    t.check(&["compaction", "1", "2"]);
    t.check(&["compaction", "abc"]);
    t.check(&["compaction", "99999999999999999999"]);
    t.check(&["compaction", "11", "-w", "yaml"]);
}

/// etcdctl 3.4 has no `--count-only`; ectl's answer must agree with the
/// count etcdctl reports for the full range.
fn count_only(t: &mut Compare) {
    let full = Compare::run(
        &t.etcdctl,
        &t.reference.endpoint,
        &args(&["get", "", "--from-key", "-w", "json"]),
        b"",
        true,
    );
    let json: serde_json::Value = serde_json::from_slice(&full.stdout).expect("etcdctl json");
    let count = json["count"].as_i64().unwrap_or(0);
    assert!(count > 0, "the store should not be empty here");

    let simple = t.ectl_only(
        &["get", "", "--from-key", "--count-only"],
        &["get", "", "--from-key"],
    );
    assert_eq!(
        String::from_utf8_lossy(&simple.stdout),
        format!("{count}\n")
    );

    let as_json = t.ectl_only(
        &["get", "", "--from-key", "--count-only", "-w", "json"],
        &["get", "", "--from-key"],
    );
    let parsed: serde_json::Value = serde_json::from_slice(&as_json.stdout).expect("ectl json");
    assert_eq!(parsed["count"].as_i64(), Some(count));
    assert!(parsed.get("kvs").is_none());
    assert_eq!(parsed["header"], json["header"]);
}

fn version(t: &mut Compare) {
    let ours = Compare::run(
        Path::new(ECTL),
        &t.candidate.endpoint,
        &args(&["version"]),
        b"",
        false,
    );
    let theirs = Compare::run(
        &t.etcdctl,
        &t.reference.endpoint,
        &args(&["version"]),
        b"",
        true,
    );
    let ours = String::from_utf8(ours.stdout).unwrap();
    let theirs = String::from_utf8(theirs.stdout).unwrap();
    assert_eq!(
        ours,
        format!(
            "ectl version: {}\nAPI version: 3.4\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(ours.lines().nth(1), theirs.lines().nth(1));
}
