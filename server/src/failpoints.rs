//! Failpoints: named spots in the write, apply, snapshot and compaction paths where a
//! fault-injection test can make a member crash, stall or misbehave at a precise moment.
//!
//! They exist only in builds with the `failpoints` cargo feature; without it every
//! `fail_point!` compiles to nothing and `/debug/failpoints` is not served. A point is
//! armed with one of the `fail` crate's actions (`panic`, `sleep(ms)`, `delay(ms)`,
//! `pause`, `return`, `off`, optionally prefixed by `N%` and/or `N*`):
//!
//! - at start-up, from the `FAILPOINTS` environment variable: `name=action;name=action`;
//! - while running, over HTTP on the client port: `PUT /debug/failpoints/<name>` with the
//!   action as body, `DELETE /debug/failpoints/<name>`, `GET /debug/failpoints` lists the
//!   armed points.
//!
//! `panic` at any point ends the process (the member's panic hook aborts), which is how a
//! test crashes a member between two steps that are otherwise never apart.
//!
//! Points whose name starts with `unsafe_` break ectd's guarantees on purpose; they exist so
//! that tests can check that the fault-injection harness notices.

/// Every failpoint, with what arming it at `panic` interrupts.
pub const ALL: &[(&str, &str)] = &[
    (
        "raft_before_save",
        "raft loop: after sending the leader's messages, before appending entries and hard state to the WAL",
    ),
    (
        "raft_after_save",
        "raft loop: after the WAL write (and fsync), before sending votes and append acks",
    ),
    (
        "raft_before_apply_snapshot",
        "raft loop: a snapshot from the leader received, before it replaces the state",
    ),
    (
        "raft_after_apply_snapshot",
        "raft loop: snapshot installed in the state machine, before the WAL marks it",
    ),
    (
        "apply_before_entry",
        "apply: before a committed entry changes the state machine",
    ),
    (
        "apply_after_entry",
        "apply: entry applied (its writes may wait for the entries after it), before its waiter is answered and watchers notified",
    ),
    (
        "backend_before_commit",
        "storage: before a batch (apply, or a compaction's deletions) is written to RocksDB",
    ),
    (
        "backend_after_commit",
        "storage: after a batch (apply, or a compaction's deletions) is written to RocksDB",
    ),
    (
        "snapshot_install_midway",
        "apply: old state deleted for a received snapshot, before its files are ingested",
    ),
    (
        "snapshot_before_send",
        "transport: before a state snapshot is streamed to a follower",
    ),
    (
        "compact_before_commit",
        "apply: compaction staged, before the compact revision is written",
    ),
    (
        "compact_after_commit",
        "apply: compact revision written, before the old versions are queued for deletion",
    ),
    (
        "snapshot_download_between_chunks",
        "snapshot download: the database file written, a chunk sent, before the next chunk",
    ),
    (
        "defragment_between_column_families",
        "defragment: one column family compacted, before the next",
    ),
    (
        "compact_between_batches",
        "compactor: a batch of old versions deleted (progress recorded), before the next batch",
    ),
    (
        "unsafe_read_without_read_index",
        "UNSAFE (action `return`): linearizable reads are served from local state without a ReadIndex round",
    ),
];

/// Whether this build has failpoints.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// Arms the points named in `FAILPOINTS`, for the life of the returned guard. Without the
/// `failpoints` feature, refuses a non-empty `FAILPOINTS` rather than ignoring it.
pub fn setup() -> Result<Guard, String> {
    #[cfg(feature = "failpoints")]
    {
        if let Ok(spec) = std::env::var("FAILPOINTS") {
            for item in spec.split(';').filter(|s| !s.trim().is_empty()) {
                let (name, action) = item
                    .split_once('=')
                    .ok_or_else(|| format!("FAILPOINTS: `{item}` is not name=action"))?;
                configure(name.trim(), action.trim())?;
            }
        }
        Ok(Guard(()))
    }
    #[cfg(not(feature = "failpoints"))]
    {
        match std::env::var("FAILPOINTS") {
            Ok(spec) if !spec.trim().is_empty() => Err(
                "FAILPOINTS is set but this ectd was built without the `failpoints` feature".into(),
            ),
            _ => Ok(Guard(())),
        }
    }
}

/// Keeps `FAILPOINTS` in force while held.
pub struct Guard(());

/// Arms the known point `name` with `action`.
pub fn configure(name: &str, action: &str) -> Result<(), String> {
    if !ALL.iter().any(|(n, _)| *n == name) {
        return Err(format!("unknown failpoint `{name}`"));
    }
    #[cfg(feature = "failpoints")]
    {
        fail::cfg(name, action).map_err(|e| format!("failpoint `{name}`: {e}"))?;
        tracing::warn!(name, action, "failpoint armed");
        Ok(())
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = action;
        Err("this ectd was built without the `failpoints` feature".into())
    }
}

/// The HTTP routes under `/debug/failpoints`, when the build has failpoints.
#[cfg(feature = "failpoints")]
pub fn router() -> axum::Router {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, put};

    async fn list() -> String {
        let armed = fail::list();
        let mut out = String::new();
        for (name, _) in ALL {
            let action = armed
                .iter()
                .find(|(n, _)| n == name)
                .map_or("off", |(_, a)| a.as_str());
            out.push_str(&format!("{name}={action}\n"));
        }
        out
    }
    async fn arm(Path(name): Path<String>, body: String) -> (StatusCode, String) {
        match configure(&name, body.trim()) {
            Ok(()) => (StatusCode::NO_CONTENT, String::new()),
            Err(e) => (StatusCode::BAD_REQUEST, e + "\n"),
        }
    }
    async fn disarm(Path(name): Path<String>) -> (StatusCode, String) {
        if !ALL.iter().any(|(n, _)| *n == name) {
            return (
                StatusCode::NOT_FOUND,
                format!("unknown failpoint `{name}`\n"),
            );
        }
        fail::remove(&name);
        tracing::warn!(name, "failpoint disarmed");
        (StatusCode::NO_CONTENT, String::new())
    }
    axum::Router::new()
        .route("/debug/failpoints", get(list))
        .route("/debug/failpoints/:name", put(arm).delete(disarm))
}

#[cfg(all(test, feature = "failpoints"))]
mod tests {
    use super::*;

    #[test]
    fn unknown_points_and_bad_actions_are_refused() {
        assert!(configure("no_such_point", "panic").is_err());
        assert!(configure("apply_before_entry", "explode").is_err());
        configure("compact_after_commit", "off").unwrap();
    }
}
