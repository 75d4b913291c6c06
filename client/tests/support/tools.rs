//! Finding the etcd tools and free ports, shared by the suites that compare ectl
//! with etcdctl.

use std::net::TcpListener;
use std::path::PathBuf;

/// The etcd tool at `default` (or `$var`), which must exist: a skipped
/// comparison would silently stop guarding compatibility.
pub fn binary(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: this test compares ectl with the real etcd 3.4 tools; \
         install etcd (e.g. `apt-get install etcd-server etcd-client`) or set {var}",
        path.display()
    );
    path
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .unwrap()
        .port()
}
