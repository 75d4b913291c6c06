//! Process helpers shared by the cross-process suites: free ports, starting `ectd`
//! and real etcd on temporary data directories, waiting until they serve, and
//! killing or restarting them.
//!
//! Every started process is owned by a [`Member`] guard that kills it when dropped,
//! so a failing assertion never leaves a server running behind the test.

// Each suite uses a different subset of these helpers.
#![allow(dead_code)]

mod cluster;
mod etcdctl;
mod member;
mod ports;
mod watch;

// Re-exported for the suites, each of which uses a different subset.
#[allow(unused_imports)]
pub use cluster::Cluster;
#[allow(unused_imports)]
pub use etcdctl::{wait_output, CTL_TIMEOUT};
#[allow(unused_imports)]
pub use member::{Ectd, Etcd, Kind, Member, MemberConfig, ServerTls};
#[allow(unused_imports)]
pub use ports::{free_port, Ports};
#[allow(unused_imports)]
pub use watch::{watch_key, watch_prefix, WatchConn};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// How long a server may take to answer `/health` after being started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a graceful stop may take before it counts as a hang.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Path of real etcd. Its absence fails the suite: a differential suite that
/// silently skips proves nothing.
pub const ETCD: &str = "/usr/bin/etcd";

/// Path of real etcdctl.
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// Panics unless `path` exists, telling how to get it.
pub fn require_etcd_binary(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.is_file(),
        "{path} is missing; these tests compare ectd with real etcd 3.4 — \
         install etcd-server: the README's test command does \
         (Debian packages etcd-server and etcd-client)"
    );
    p
}

/// A minimal HTTP/1.1 GET against 127.0.0.1, returning status and body.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Result<(u16, String), String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Runs `fut` with a deadline, panicking with `what` if it does not finish: a
/// server that hangs must fail the test, not stall it.
pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {secs}s"),
    }
}

/// Heartbeat interval (ms) of every test cluster, ectd and etcd alike: short, so
/// that elections, and with them the tests, are fast.
pub const HEARTBEAT_MS: u64 = 50;

/// Election timeout (ms) of every test cluster.
pub const ELECTION_MS: u64 = 500;
