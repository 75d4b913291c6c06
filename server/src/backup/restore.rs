//! Restoring a member's data directory from a snapshot file: the keyspace,
//! leases and auth come from the snapshot; the membership is new, named by the
//! same flags etcd's restore takes.

use std::path::{Path, PathBuf};

use ectd_proto::raftcmd::Member;

use super::{import, verify_hash, BackupError, Imported};
use crate::bootstrap;
use crate::engine::Engine;

/// What to restore and as which member of which new cluster.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The snapshot (or etcd backend database) to read.
    pub snapshot: PathBuf,
    /// The data directory to create; it must not exist.
    pub data_dir: PathBuf,
    /// A WAL directory apart from the data directory (ectd's `--wal-dir`), to
    /// create; it must not exist. `None`: `<data-dir>/member/wal`.
    pub wal_dir: Option<PathBuf>,
    /// This member's name.
    pub name: String,
    /// `name=url,...` of every member of the new cluster.
    pub initial_cluster: String,
    /// The new cluster's token (member ids are derived from it).
    pub initial_cluster_token: String,
    /// This member's peer URLs, which must be its URLs in `initial_cluster`.
    pub initial_advertise_peer_urls: Vec<String>,
    /// Accept a file without the trailing digest (a member's database file).
    pub skip_hash_check: bool,
}

/// The result of a restore.
#[derive(Debug, Clone)]
pub struct Restored {
    /// What the snapshot held.
    pub imported: Imported,
    /// The restored member's id.
    pub member_id: u64,
    /// The new cluster's id.
    pub cluster_id: u64,
}

/// The members `initial_cluster` names, ordered by id, with their ids derived
/// from `token` as a started member derives them.
pub fn members(initial_cluster: &str, token: &str) -> Result<Vec<Member>, BackupError> {
    let mut named: Vec<(String, Vec<String>)> = Vec::new();
    for part in initial_cluster
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (name, url) = part.split_once('=').ok_or_else(|| {
            BackupError::Options(format!("--initial-cluster: {part:?} is not name=url"))
        })?;
        crate::config::parse_url(url)
            .map_err(|e| BackupError::Options(format!("--initial-cluster: {}", e.0)))?;
        match named.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url.to_string()),
            None => named.push((name.to_string(), vec![url.to_string()])),
        }
    }
    let mut out: Vec<Member> = named
        .into_iter()
        .map(|(name, peer_urls)| Member {
            id: bootstrap::member_id(&peer_urls, token),
            name,
            peer_urls,
            client_urls: Vec::new(),
            is_learner: false,
        })
        .collect();
    out.sort_by_key(|m| m.id);
    Ok(out)
}

/// Builds `opts.data_dir` from `opts.snapshot`. The directory is assembled
/// beside its final path and renamed into place, so a restore that fails or is
/// killed leaves no half-built data directory behind.
pub fn restore(opts: &RestoreOptions) -> Result<Restored, BackupError> {
    if opts.data_dir.exists() {
        return Err(BackupError::Options(format!(
            "data-dir {:?} exists",
            opts.data_dir.display().to_string()
        )));
    }
    if let Some(w) = opts.wal_dir.as_ref().filter(|w| w.exists()) {
        return Err(BackupError::Options(format!(
            "wal-dir {:?} exists",
            w.display().to_string()
        )));
    }
    if !verify_hash(&opts.snapshot)? && !opts.skip_hash_check {
        return Err(BackupError::Hash(
            "snapshot missing hash but --skip-hash-check=false".into(),
        ));
    }
    let members = members(&opts.initial_cluster, &opts.initial_cluster_token)?;
    let me = members
        .iter()
        .find(|m| m.name == opts.name)
        .ok_or_else(|| {
            BackupError::Options(format!(
                "couldn't find local name {:?} in the initial cluster configuration",
                opts.name
            ))
        })?;
    let mut mine = me.peer_urls.clone();
    let mut advertised = opts.initial_advertise_peer_urls.clone();
    mine.sort();
    advertised.sort();
    if mine != advertised {
        return Err(BackupError::Options(format!(
            "--initial-cluster has {}={} but --initial-advertise-peer-urls is {}",
            opts.name,
            mine.join(","),
            advertised.join(",")
        )));
    }

    let staging = staging_path(&opts.data_dir);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|source| BackupError::io(&staging, source))?;
    }
    let staging_wal = opts.wal_dir.as_deref().map(staging_path);
    if let Some(w) = staging_wal.as_ref().filter(|w| w.exists()) {
        std::fs::remove_dir_all(w).map_err(|source| BackupError::io(w, source))?;
    }
    let wal = staging_wal
        .clone()
        .unwrap_or_else(|| staging.join("member").join("wal"));
    let built = build(&staging, &wal, &opts.snapshot, &members, me.id);
    let (imported, member_id, cluster_id) = match built {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            if let Some(w) = &staging_wal {
                let _ = std::fs::remove_dir_all(w);
            }
            return Err(e);
        }
    };
    if let (Some(from), Some(to)) = (&staging_wal, &opts.wal_dir) {
        std::fs::rename(from, to).map_err(|source| BackupError::io(to, source))?;
    }
    std::fs::rename(&staging, &opts.data_dir)
        .map_err(|source| BackupError::io(&opts.data_dir, source))?;
    if let Some(parent) = opts.data_dir.parent() {
        if let Ok(d) = std::fs::File::open(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        }) {
            let _ = d.sync_all();
        }
    }
    Ok(Restored {
        imported,
        member_id,
        cluster_id,
    })
}

/// Imports `snapshot` into a new data directory at `dir` (its WAL at `wal_dir`)
/// and makes it member `id` of a new cluster of `members`.
fn build(
    dir: &Path,
    wal_dir: &Path,
    snapshot: &Path,
    members: &[Member],
    id: u64,
) -> Result<(Imported, u64, u64), BackupError> {
    let member_dir = dir.join("member");
    std::fs::create_dir_all(&member_dir).map_err(|source| BackupError::io(&member_dir, source))?;
    let engine = Engine::open(&member_dir.join("db"))?;
    let imported = import(snapshot, &engine)?;
    let (member_id, cluster_id) = bootstrap::seed_new_cluster(&engine, wal_dir, members, id)
        .map_err(|e| BackupError::Options(e.to_string()))?;
    engine.flush()?;
    Ok((imported, member_id, cluster_id))
}

fn staging_path(data_dir: &Path) -> PathBuf {
    let mut s = data_dir.as_os_str().to_owned();
    s.push(".restoring");
    PathBuf::from(s)
}
