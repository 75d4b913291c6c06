//! Backups both ways between etcd 3.4 and ectd, with etcd's own tools on one
//! side and ectl on the other:
//!
//! - etcd → `etcdctl snapshot save` → `ectl snapshot restore` (three times) →
//!   a three-member ectd cluster serves what etcd served;
//! - ectd → `etcdctl snapshot save` → `etcdctl snapshot restore` → a real etcd
//!   member serves what ectd served;
//! - a stopped etcd member's data directory → `ectl snapshot restore
//!   --from-data-dir` → ectd serves what it served;
//! - `ectl snapshot status` prints what `etcdctl snapshot status` prints, and
//!   bad files or flags are refused without leaving a data directory behind.
//!
//! The data has keys with many versions, deletions, a compaction point, leases
//! with keys, users and roles, and auth enabled.

#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tools::{binary, free_port};

const ECTL: &str = env!("CARGO_BIN_EXE_ectl");
const STARTUP: Duration = Duration::from_secs(30);
const ROOT: &str = "--user=root:rootpw";

fn ectd_bin() -> PathBuf {
    let default = Path::new(ECTL).with_file_name("ectd");
    let path = std::env::var_os("ECTD_BIN").map_or(default, PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: build the server first",
        path.display()
    );
    path
}

fn etcd_bin() -> PathBuf {
    binary("ETCD_BIN", "/usr/bin/etcd")
}

fn etcdctl_bin() -> PathBuf {
    binary("ETCDCTL_BIN", "/usr/bin/etcdctl")
}

/// A member process over a data directory of the test's choosing.
struct Member {
    name: String,
    client: String,
    peer_url: String,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
}

impl Member {
    fn new(name: &str, data_dir: PathBuf) -> Member {
        Member {
            name: name.to_string(),
            client: format!("127.0.0.1:{}", free_port()),
            peer_url: format!("http://127.0.0.1:{}", free_port()),
            data_dir,
            extra_args: Vec::new(),
            child: None,
        }
    }

    /// Starts `server` as this member of the cluster `initial_cluster` names.
    fn start(&mut self, server: &Path, initial_cluster: &str, token: &str) {
        let log = self.data_dir.with_extension("log");
        let child = Command::new(server)
            .arg(format!("--name={}", self.name))
            .arg(format!("--data-dir={}", self.data_dir.display()))
            .arg(format!("--listen-client-urls=http://{}", self.client))
            .arg(format!("--advertise-client-urls=http://{}", self.client))
            .arg(format!("--listen-peer-urls={}", self.peer_url))
            .arg(format!("--initial-advertise-peer-urls={}", self.peer_url))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg(format!("--initial-cluster-token={token}"))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", server.display()));
        self.child = Some(child);
    }

    fn wait_ready(&self, auth: bool) {
        let deadline = Instant::now() + STARTUP;
        loop {
            let mut args = vec!["get", "ready"];
            if auth {
                args.push(ROOT);
            }
            if etcdctl(&self.client, &args).status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start serving; log:\n{}",
                self.name,
                std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the member with SIGTERM, as systemd stops it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run_tool(tool: &Path, endpoint: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(tool);
    cmd.env("ETCDCTL_API", "3");
    if let Some(e) = endpoint {
        cmd.arg(format!("--endpoints=http://{e}"));
    }
    cmd.args(args).output().expect("running the tool")
}

fn etcdctl(endpoint: &str, args: &[&str]) -> Output {
    run_tool(&etcdctl_bin(), Some(endpoint), args)
}

/// A one-member cluster of `server` named `name`, serving from `dir/name`.
fn source(name: &str, dir: &Path, server: &Path) -> Member {
    let mut m = Member::new(name, dir.join(name));
    let initial = format!("{name}={}", m.peer_url);
    m.start(server, &initial, "source");
    m.wait_ready(false);
    m
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes the test data through `endpoint`: versions, deletions, a
/// compaction, leases with keys, users and roles; ends with auth enabled.
fn load(endpoint: &str) {
    let put = |k: &str, v: &str| ok(etcdctl(endpoint, &["put", k, v]), "put");
    for i in 0..30 {
        put("many", &format!("version {i}"));
    }
    for i in 0..20 {
        put(&format!("dir/k{i:02}"), &format!("value {i}"));
    }
    for i in 0..5 {
        ok(etcdctl(endpoint, &["del", &format!("dir/k{i:02}")]), "del");
    }
    put("binary", "\u{1}\u{2}zero\u{7f}");
    let header: serde_json::Value = serde_json::from_str(&ok(
        etcdctl(endpoint, &["get", "many", "-w", "json"]),
        "get",
    ))
    .unwrap();
    let rev = header["header"]["revision"].as_i64().unwrap();
    ok(
        etcdctl(endpoint, &["compaction", &(rev - 10).to_string()]),
        "compaction",
    );
    for i in 0..10 {
        put("many", &format!("after compaction {i}"));
    }
    ok(etcdctl(endpoint, &["del", "dir/k10"]), "del");
    for ttl in ["600", "900"] {
        let granted = ok(etcdctl(endpoint, &["lease", "grant", ttl]), "lease grant");
        let id = granted.split_whitespace().nth(1).unwrap().to_string();
        for j in 0..3 {
            ok(
                etcdctl(
                    endpoint,
                    &[
                        "put",
                        &format!("leased/{ttl}/{j}"),
                        "x",
                        &format!("--lease={id}"),
                    ],
                ),
                "put with lease",
            );
        }
    }
    for cmd in [
        vec!["user", "add", "root:rootpw"],
        vec!["role", "add", "root"],
        vec!["user", "grant-role", "root", "root"],
        vec!["user", "add", "alice:alicepw"],
        vec!["role", "add", "readers"],
        vec![
            "role",
            "grant-permission",
            "readers",
            "read",
            "dir/",
            "--prefix",
        ],
        vec!["user", "grant-role", "alice", "readers"],
        vec!["auth", "enable"],
    ] {
        ok(etcdctl(endpoint, &cmd), &cmd.join(" "));
    }
}

/// What a member serves, as etcdctl prints it (cluster and member ids and
/// the raft term blanked: they belong to the cluster, not the data).
fn served(endpoint: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut get: serde_json::Value = serde_json::from_str(&ok(
        etcdctl(endpoint, &["get", "", "--prefix", "-w", "json", ROOT]),
        "get --prefix",
    ))
    .unwrap();
    get["header"] = serde_json::json!({ "revision": get["header"]["revision"] });
    out.push(get.to_string());
    let leases = ok(etcdctl(endpoint, &["lease", "list", ROOT]), "lease list");
    out.push(leases.clone());
    for id in leases.lines().skip(1) {
        let ttl = ok(
            etcdctl(endpoint, &["lease", "timetolive", id, "--keys", ROOT]),
            "timetolive",
        );
        // The remaining TTL moves; the granted TTL and the keys do not.
        out.push(ttl.split(", remaining").next().unwrap().to_string());
        // etcd lists a lease's keys in no particular order.
        let keys = ttl.split("attached keys").nth(1).unwrap_or("");
        let mut keys: Vec<&str> = keys
            .trim()
            .trim_start_matches("([")
            .trim_end_matches("])")
            .split(' ')
            .collect();
        keys.sort_unstable();
        out.push(keys.join(" "));
    }
    for args in [
        vec!["get", "many", "--rev=2", ROOT],
        vec![
            "get",
            "dir/",
            "--prefix",
            "--keys-only",
            "--user=alice:alicepw",
        ],
        vec!["get", "many", "--user=alice:alicepw"],
        vec!["put", "dir/x", "y", "--user=alice:alicepw"],
        vec!["user", "list", ROOT],
        vec!["role", "get", "readers", ROOT],
        vec!["auth", "enable", ROOT],
    ] {
        let o = etcdctl(endpoint, &args);
        out.push(format!(
            "{}: {} {}{}",
            args.join(" "),
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout),
            last_line(&o.stderr)
        ));
    }
    out
}

fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rfind(|l| l.starts_with("Error:"))
        .unwrap_or("")
        .to_string()
}

fn assert_same(want: &[String], got: &[String], what: &str) {
    assert_eq!(want.len(), got.len(), "{what}");
    for (w, g) in want.iter().zip(got) {
        assert_eq!(w, g, "{what}");
    }
}

fn status_lines(tool: &Path, file: &Path) -> Vec<String> {
    ["simple", "json", "table", "fields"]
        .iter()
        .map(|f| {
            ok(
                run_tool(
                    tool,
                    None,
                    &["snapshot", "status", file.to_str().unwrap(), "-w", f],
                ),
                "snapshot status",
            )
        })
        .collect()
}

#[test]
fn etcd_snapshot_restored_by_ectl_serves_the_same_on_three_ectd_members() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = source("etcd", dir.path(), &etcd_bin());
    load(&etcd.client);
    let want = served(&etcd.client);
    let file = dir.path().join("etcd.db");
    ok(
        etcdctl(
            &etcd.client,
            &["snapshot", "save", file.to_str().unwrap(), ROOT],
        ),
        "etcdctl snapshot save",
    );
    assert_eq!(
        status_lines(Path::new(ECTL), &file),
        status_lines(&etcdctl_bin(), &file),
        "ectl and etcdctl read the same status from etcd's snapshot"
    );

    let mut members: Vec<Member> = (1..=3)
        .map(|i| Member::new(&format!("m{i}"), dir.path().join(format!("m{i}"))))
        .collect();
    let initial = members
        .iter()
        .map(|m| format!("{}={}", m.name, m.peer_url))
        .collect::<Vec<_>>()
        .join(",");
    for m in &members {
        ok(
            run_tool(
                Path::new(ECTL),
                None,
                &[
                    "snapshot",
                    "restore",
                    file.to_str().unwrap(),
                    &format!("--name={}", m.name),
                    &format!("--data-dir={}", m.data_dir.display()),
                    &format!("--initial-cluster={initial}"),
                    &format!("--initial-advertise-peer-urls={}", m.peer_url),
                    "--initial-cluster-token=restored",
                ],
            ),
            "ectl snapshot restore",
        );
    }
    for m in &mut members {
        m.start(&ectd_bin(), &initial, "restored");
    }
    for m in &members {
        m.wait_ready(true);
        assert_same(
            &want,
            &served(&m.client),
            &format!("{} after restore", m.name),
        );
    }
    // The restored cluster is a working cluster: a write through one member is
    // read through another, at the next revision.
    ok(
        etcdctl(&members[0].client, &["put", "new", "key", ROOT]),
        "put after restore",
    );
    let got = ok(
        etcdctl(
            &members[2].client,
            &["get", "new", "--print-value-only", ROOT],
        ),
        "get after restore",
    );
    assert_eq!(got, "key\n");

    // The same data straight from the stopped member's database file.
    let o = run_tool(
        Path::new(ECTL),
        None,
        &[
            "snapshot",
            "restore",
            &format!("--from-data-dir={}", etcd.data_dir.display()),
            &format!("--data-dir={}", dir.path().join("busy").display()),
        ],
    );
    assert!(
        !o.status.success(),
        "a running member's database is refused"
    );
    assert!(last_line(&o.stderr).contains("in use"), "{o:?}");
    assert!(!dir.path().join("busy").exists());
    etcd.stop();
    let mut migrated = Member::new("migrated", dir.path().join("migrated"));
    let initial = format!("migrated={}", migrated.peer_url);
    ok(
        run_tool(
            Path::new(ECTL),
            None,
            &[
                "snapshot",
                "restore",
                &format!("--from-data-dir={}", etcd.data_dir.display()),
                "--name=migrated",
                &format!("--data-dir={}", migrated.data_dir.display()),
                &format!("--initial-cluster={initial}"),
                &format!("--initial-advertise-peer-urls={}", migrated.peer_url),
            ],
        ),
        "ectl snapshot restore --from-data-dir",
    );
    migrated.start(&ectd_bin(), &initial, "etcd-cluster");
    migrated.wait_ready(true);
    assert_same(
        &want,
        &served(&migrated.client),
        "migrated from the data dir",
    );
}

#[test]
fn ectd_snapshot_restored_by_etcdctl_starts_a_real_etcd_that_serves_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let ectd = source("ectd", dir.path(), &ectd_bin());
    load(&ectd.client);
    let want = served(&ectd.client);
    let file = dir.path().join("ectd.db");
    for tool in [etcdctl_bin(), PathBuf::from(ECTL)] {
        let _ = std::fs::remove_file(&file);
        let out = ok(
            run_tool(
                &tool,
                Some(&ectd.client),
                &["snapshot", "save", file.to_str().unwrap(), ROOT],
            ),
            "snapshot save",
        );
        assert_eq!(out, format!("Snapshot saved at {}\n", file.display()));
    }
    assert_eq!(
        status_lines(Path::new(ECTL), &file),
        status_lines(&etcdctl_bin(), &file),
        "ectl and etcdctl read the same status from ectd's snapshot"
    );

    let mut etcd = Member::new("etcd", dir.path().join("etcd"));
    let initial = format!("etcd={}", etcd.peer_url);
    ok(
        run_tool(
            &etcdctl_bin(),
            None,
            &[
                "snapshot",
                "restore",
                file.to_str().unwrap(),
                "--name=etcd",
                &format!("--data-dir={}", etcd.data_dir.display()),
                &format!("--initial-cluster={initial}"),
                &format!("--initial-advertise-peer-urls={}", etcd.peer_url),
            ],
        ),
        "etcdctl snapshot restore",
    );
    etcd.start(&etcd_bin(), &initial, "etcd-cluster");
    etcd.wait_ready(true);
    assert_same(&want, &served(&etcd.client), "etcd restored from ectd");
}

#[test]
fn bad_snapshots_and_flags_are_refused_and_leave_no_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let mut ectd = source("ectd", dir.path(), &ectd_bin());
    for i in 0..100 {
        ok(
            etcdctl(&ectd.client, &["put", &format!("k{i}"), "v"]),
            "put",
        );
    }
    let good = dir.path().join("good.db");
    ok(
        run_tool(
            Path::new(ECTL),
            Some(&ectd.client),
            &["snapshot", "save", good.to_str().unwrap()],
        ),
        "save",
    );
    let bytes = std::fs::read(&good).unwrap();
    let variants: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no digest",
            bytes[..bytes.len() - 32].to_vec(),
            "snapshot missing hash",
        ),
        (
            "wrong digest",
            {
                let mut b = bytes.clone();
                b[5000] ^= 0xff;
                b
            },
            "expected sha256",
        ),
        ("truncated", bytes[..100].to_vec(), "snapshot missing hash"),
        ("not bbolt", vec![7u8; 4096 + 32], "expected sha256"),
    ];
    for (what, content, error) in variants {
        let file = dir.path().join(format!("{}.db", what.replace(' ', "-")));
        std::fs::write(&file, content).unwrap();
        let target = dir.path().join(format!("{}.out", what.replace(' ', "-")));
        for tool in [PathBuf::from(ECTL), etcdctl_bin()] {
            let o = run_tool(
                &tool,
                None,
                &[
                    "snapshot",
                    "restore",
                    file.to_str().unwrap(),
                    &format!("--data-dir={}", target.display()),
                ],
            );
            assert!(!o.status.success(), "{what} accepted by {}", tool.display());
            if tool == Path::new(ECTL) {
                assert!(last_line(&o.stderr).contains(error), "{what}: {o:?}");
            }
            let _ = std::fs::remove_dir_all(&target);
        }
        assert!(!target.exists());
    }
    // A file without a digest is accepted when asked to skip the check, and a
    // damaged one is refused all the same.
    let plain = dir.path().join("no-digest.db");
    let o = run_tool(
        Path::new(ECTL),
        None,
        &[
            "snapshot",
            "restore",
            plain.to_str().unwrap(),
            "--skip-hash-check",
            &format!("--data-dir={}", dir.path().join("plain.out").display()),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let short = dir.path().join("truncated.db");
    let o = run_tool(
        Path::new(ECTL),
        None,
        &[
            "snapshot",
            "restore",
            short.to_str().unwrap(),
            "--skip-hash-check",
            &format!("--data-dir={}", dir.path().join("short.out").display()),
        ],
    );
    assert!(!o.status.success(), "{o:?}");
    assert!(!dir.path().join("short.out").exists());
    assert!(!dir.path().join("short.out.restoring").exists());

    // Flags: an existing data dir, a name missing from the cluster, peer URLs
    // that disagree with it, two files.
    for (args, error) in [
        (
            vec![format!(
                "--data-dir={}",
                dir.path().join("plain.out").display()
            )],
            "exists",
        ),
        (
            vec![
                "--name=other".to_string(),
                format!("--data-dir={}", dir.path().join("x").display()),
            ],
            "couldn't find local name",
        ),
        (
            vec![
                "--initial-advertise-peer-urls=http://127.0.0.1:1".to_string(),
                format!("--data-dir={}", dir.path().join("x").display()),
            ],
            "--initial-advertise-peer-urls",
        ),
    ] {
        let mut all = vec!["snapshot".to_string(), "restore".to_string()];
        all.push(good.to_str().unwrap().to_string());
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = run_tool(Path::new(ECTL), None, &refs);
        assert!(!o.status.success(), "{refs:?}");
        assert!(last_line(&o.stderr).contains(error), "{refs:?}: {o:?}");
        assert!(!dir.path().join("x").exists());
    }
    let o = run_tool(Path::new(ECTL), None, &["snapshot", "restore"]);
    assert_eq!(o.status.code(), Some(128));
    let o = run_tool(
        Path::new(ECTL),
        None,
        &["snapshot", "status", "/nonexistent/file"],
    );
    assert_eq!(o.status.code(), Some(1));
    // etcdctl asks one member only.
    let o = run_tool(
        Path::new(ECTL),
        None,
        &[
            &format!("--endpoints=http://{0},http://{0}", ectd.client),
            "snapshot",
            "save",
            dir.path().join("two.db").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert!(last_line(&o.stderr).contains("one selected node"), "{o:?}");
    ectd.stop();
}

#[test]
fn a_restore_with_a_wal_dir_of_its_own_starts_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let origin = source("source", dir.path(), &ectd_bin());
    ok(etcdctl(&origin.client, &["put", "kept", "value"]), "put");
    let file = dir.path().join("s.db");
    ok(
        run_tool(
            Path::new(ECTL),
            Some(&origin.client),
            &["snapshot", "save", file.to_str().unwrap()],
        ),
        "save",
    );
    let mut m = Member::new("m", dir.path().join("m"));
    let wal = dir.path().join("m-wal");
    let initial = format!("m={}", m.peer_url);
    let restore = |wal: &Path, data: &Path| {
        run_tool(
            Path::new(ECTL),
            None,
            &[
                "snapshot",
                "restore",
                file.to_str().unwrap(),
                "--name=m",
                &format!("--data-dir={}", data.display()),
                &format!("--wal-dir={}", wal.display()),
                &format!("--initial-cluster={initial}"),
                &format!("--initial-advertise-peer-urls={}", m.peer_url),
            ],
        )
    };
    ok(restore(&wal, &m.data_dir), "restore --wal-dir");
    assert!(wal.is_dir() && !m.data_dir.join("member").join("wal").exists());
    // An existing WAL directory is refused, as etcdctl refuses it.
    let o = restore(&wal, &dir.path().join("other"));
    assert!(!o.status.success());
    assert!(last_line(&o.stderr).contains("wal-dir"), "{o:?}");
    assert!(!dir.path().join("other").exists());

    m.extra_args = vec![format!("--wal-dir={}", wal.display())];
    m.start(&ectd_bin(), &initial, "etcd-cluster");
    m.wait_ready(false);
    let got = ok(
        etcdctl(&m.client, &["get", "kept", "--print-value-only"]),
        "get",
    );
    assert_eq!(got, "value\n");
}
