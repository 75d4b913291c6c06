//! How a [`super::Cluster`] is started: binary, size and raft timings.

use std::io;
use std::path::PathBuf;

/// Where the built server binary is looked for last, when `ECTD_BIN` is unset and
/// no `ectd` sits in the build directory of the running executable.
pub const DEFAULT_BINARY: &str = "/var/tmp/ectd-target/debug/ectd";

/// The `ectd` built alongside the running executable (a test binary lives in
/// `<target>/debug/deps/`, the harness in `<target>/debug/`), else [`DEFAULT_BINARY`].
fn default_binary() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join("ectd");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(DEFAULT_BINARY)
}

/// How a [`Cluster`] is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The `ectd` executable.
    pub binary: PathBuf,
    /// Number of members (3 or 5 in practice).
    pub size: usize,
    /// `--heartbeat-interval`, in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// `--election-timeout`, in milliseconds.
    pub election_timeout_ms: u64,
    /// `--initial-cluster-token`.
    pub token: String,
    /// `--snapshot-count`, when not ectd's default: small values make members purge
    /// their WAL and send followers state snapshots during a run.
    pub snapshot_count: Option<u64>,
    /// `FAILPOINTS` for every member's every start (see ectd's `failpoints` module);
    /// needs an `ectd` built with the `failpoints` feature.
    pub failpoints: Option<String>,
    /// `--enable-v2`: serve etcd's v2 keys API (`/v2/keys`) on the client port.
    pub enable_v2: bool,
}

impl ClusterConfig {
    /// [`ClusterConfig::with_binary`] with the binary named by `ECTD_BIN`, or else the
    /// `ectd` built next to the running executable, or else [`DEFAULT_BINARY`].
    pub fn from_env(size: usize) -> io::Result<ClusterConfig> {
        let binary = std::env::var_os("ECTD_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(default_binary);
        ClusterConfig::with_binary(binary, size)
    }

    /// [`ClusterConfig::with_binary`] with an `ectd` built with the `failpoints`
    /// feature, for fault tests that arm failpoints: the one `ECTD_FAILPOINTS_BIN`
    /// names, else `failpoints/ectd` in the build directory of the running
    /// executable's profile (where `scripts/test.sh` puts it). The binary users
    /// run has no failpoints, so this is never it.
    pub fn from_env_failpoints(size: usize) -> io::Result<ClusterConfig> {
        let binary = std::env::var_os("ECTD_FAILPOINTS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::current_exe()
                    .ok()
                    .and_then(|exe| {
                        exe.ancestors()
                            .skip(1)
                            .take(3)
                            .map(|d| d.join("failpoints").join("ectd"))
                            .find(|p| p.is_file())
                    })
                    .unwrap_or_else(|| PathBuf::from("/var/tmp/ectd-target/failpoints/ectd"))
            });
        if !binary.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no ectd with failpoints at {} (scripts/test.sh builds one with `cargo build -p ectd-server --bin ectd --features failpoints` and copies it there; or set ECTD_FAILPOINTS_BIN)",
                    binary.display()
                ),
            ));
        }
        ClusterConfig::with_binary(binary, size)
    }

    /// A `size`-member configuration with short timings (50 ms heartbeats, 500 ms
    /// election timeout) running `binary`. Fails with a message naming the path if
    /// the binary is missing.
    pub fn with_binary(binary: PathBuf, size: usize) -> io::Result<ClusterConfig> {
        if !binary.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "ectd binary not found at {} (build it with `cargo build -p ectd-server --bin ectd` or set ECTD_BIN)",
                    binary.display()
                ),
            ));
        }
        Ok(ClusterConfig {
            binary,
            size,
            heartbeat_interval_ms: 50,
            election_timeout_ms: 500,
            token: "ectd-jepsen".to_string(),
            snapshot_count: None,
            failpoints: None,
            enable_v2: false,
        })
    }
}
