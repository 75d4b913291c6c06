//! A data directory belongs to one process: a second ectd on it is refused at
//! start and the first keeps serving; an etcd data directory is refused with
//! the way to migrate it, and left as it was.

#[path = "common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Ectd, Etcd};

/// Runs ectd on `data_dir` with fresh ports and returns its exit status and
/// output, killing it if it is still running after `limit`.
fn run_ectd(data_dir: &std::path::Path, limit: Duration) -> (Option<i32>, String) {
    let client = format!("http://127.0.0.1:{}", common::free_port());
    let peer = format!("http://127.0.0.1:{}", common::free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ectd"))
        .arg("--name=default")
        .arg(format!("--data-dir={}", data_dir.display()))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=default={peer}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting ectd");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("ectd output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn a_second_process_on_a_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Ectd::start(dir.path(), &[]);
    let (code, out) = run_ectd(first.data_dir(), Duration::from_secs(20));
    assert!(
        code.is_some_and(|c| c != 0),
        "the second process must exit with an error: {code:?} {out}"
    );
    assert!(out.contains("in use by another process"), "{out}");
    first.assert_running();
    let put = Command::new(common::ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", first.endpoint()))
        .args(["put", "still", "serving"])
        .output()
        .expect("etcdctl");
    assert!(put.status.success(), "{put:?}");
    // Once the first has stopped, the directory can be opened again.
    first.stop();
    first.restart();
}

#[test]
fn an_etcd_data_directory_is_refused_with_the_way_to_migrate_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut etcd = Etcd::start(dir.path());
    let data_dir = etcd.data_dir().to_path_buf();
    etcd.stop();
    let before = listing(&data_dir);
    let (code, out) = run_ectd(&data_dir, Duration::from_secs(20));
    assert!(code.is_some_and(|c| c != 0), "{code:?} {out}");
    assert!(
        out.contains("ectl snapshot restore --from-data-dir"),
        "{out}"
    );
    assert_eq!(
        before,
        listing(&data_dir),
        "the etcd data directory is left as it was"
    );
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn a_wal_directory_of_its_own_holds_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("separate-wal");
    let wal_flag = format!("--wal-dir={}", wal.display());
    let mut m = Ectd::start(dir.path(), &[&wal_flag]);
    let put = Command::new(common::ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", m.endpoint()))
        .args(["put", "in", "wal"])
        .output()
        .expect("etcdctl");
    assert!(put.status.success(), "{put:?}");
    let segments = std::fs::read_dir(&wal)
        .expect("the WAL directory exists")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wal"))
        .count();
    assert!(segments > 0, "WAL segments are written to --wal-dir");
    assert!(
        !m.data_dir().join("member").join("wal").exists(),
        "nothing under <data-dir>/member/wal"
    );
    // After a crash the log in --wal-dir is what recovers the write.
    m.kill9();
    m.restart();
    let get = Command::new(common::ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", m.endpoint()))
        .args(["get", "in", "--print-value-only"])
        .output()
        .expect("etcdctl");
    assert_eq!(String::from_utf8_lossy(&get.stdout), "wal\n");
}
