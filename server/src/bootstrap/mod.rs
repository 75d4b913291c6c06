//! Opening a member's data directory: the engine, the WAL replay, member and cluster
//! ids, and the raft configuration of a new cluster.

use ectd_proto::raftcmd::Member;
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::{ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState};
use rocksdb::WriteBatch;
use sha1::{Digest, Sha1};

use crate::config::Config;
use crate::engine::schema::meta;
use crate::engine::{Cf, Engine, EngineError};
use crate::membership;
use crate::wal::{Replay, Wal, WalError};

/// Why a member could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// A bad flag or environment value.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The state machine's database could not be opened.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The WAL could not be opened or is corrupt.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// Raft refused its configuration.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// A snapshot install interrupted by the last stop could not be finished.
    #[error("state snapshot: {0}")]
    Snapshot(String),
    /// Joining an existing cluster failed.
    #[error("joining the cluster: {0}")]
    Join(String),
    /// Filesystem trouble outside WAL and engine.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

mod join;

/// Everything a member needs that lives on disk.
pub struct Opened {
    /// The state machine's database.
    pub engine: Engine,
    /// The WAL, positioned at its end.
    pub wal: Wal,
    /// What the WAL held.
    pub replay: Replay,
    /// The raft configuration as of the applied index.
    pub conf_state: ConfState,
    /// This member's id.
    pub member_id: u64,
    /// The cluster's id.
    pub cluster_id: u64,
    /// The lock on the data directory, held while the member runs.
    pub lock: std::fs::File,
}

fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("sha1 has 20 bytes"))
}

/// A member's id: derived from its sorted peer URLs and the cluster token, as etcd
/// derives it, so the same flags give the same id.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    hash64(&[urls.join("").as_bytes(), token.as_bytes()])
}

/// A cluster's id: derived from its sorted member ids.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort();
    let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_be_bytes()).collect();
    hash64(&[&bytes])
}

fn get_u64(engine: &Engine, key: &[u8]) -> Result<Option<u64>, EngineError> {
    Ok(engine
        .get(Cf::Meta, key)?
        .map(|v| u64::from_be_bytes(v.as_slice().try_into().expect("meta u64"))))
}

/// Opens (or initialises) the data directory named by `cfg`. A member joining an
/// existing cluster asks the other members for its id first.
pub async fn open(
    cfg: &Config,
    peer_tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
) -> Result<Opened, BootstrapError> {
    cfg.validate()?;
    let member_dir = cfg.data_dir().join("member");
    std::fs::create_dir_all(&member_dir).map_err(|source| BootstrapError::Io {
        path: member_dir.display().to_string(),
        source,
    })?;
    if member_dir.join("snap").join("db").is_file() && !member_dir.join("db").exists() {
        return Err(BootstrapError::Io {
            path: cfg.data_dir().display().to_string(),
            source: std::io::Error::other(
                "this is an etcd data directory; ectd keeps its own format: migrate it with \
                 `ectl snapshot restore --from-data-dir` into a new data directory",
            ),
        });
    }
    let lock = lock_data_dir(&member_dir)?;
    let engine = Engine::open(&member_dir.join("db"))?;
    match crate::snapshot::resume_install(&engine) {
        Ok(None) => {}
        Ok(Some(dir)) => tracing::warn!(
            snapshot = %dir.display(),
            "finished installing a state snapshot interrupted by the last stop"
        ),
        Err(e) => return Err(BootstrapError::Snapshot(e)),
    }
    let (mut wal, mut replay) = Wal::open(&cfg.wal_dir())?;

    let (member_id, cluster_id, conf_state) = match get_u64(&engine, meta::MEMBER_ID)? {
        Some(id) => {
            let cid = get_u64(&engine, meta::CLUSTER_ID)?.unwrap_or(0);
            let raw = engine
                .get(Cf::Meta, meta::CONF_STATE)?
                .expect("a member with an id has a stored configuration");
            let mut cs = ConfState::default();
            cs.merge_from_bytes(&raw)
                .unwrap_or_else(|e| panic!("stored raft configuration undecodable: {e}"));
            if cfg.force_new_cluster {
                let applied = get_u64(&engine, meta::APPLIED_INDEX)?.unwrap_or(0);
                force_new_cluster(&mut wal, &mut replay, &cs, id, applied)?;
            }
            (id, cid, cs)
        }
        None if cfg.initial_cluster_state == "existing" => {
            let (id, cid, members) = join::discover(cfg, peer_tls).await?;
            // The joining member learns the log (and the configuration in it) from
            // the leader; until then it knows only who the members are.
            store_identity(&engine, id, cid, &ConfState::default(), &members)?;
            (id, cid, ConfState::default())
        }
        None => {
            let members = initial_members(cfg)?;
            let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
            let id = members
                .iter()
                .find(|m| m.name == cfg.name)
                .map(|m| m.id)
                .expect("validated: local name is in the initial cluster");
            let cid = cluster_id(&ids);
            let cs = membership::conf_state(&members);
            store_identity(&engine, id, cid, &cs, &[])?;
            if replay.entries.is_empty() && replay.hard_state.term == 0 {
                replay = bootstrap_log(&mut wal, &members)?;
            }
            tracing::info!(
                member_id = format!("{id:x}"),
                cluster_id = format!("{cid:x}"),
                members = members.len(),
                data_dir = %member_dir.display(),
                "bootstrapped a new cluster"
            );
            (id, cid, cs)
        }
    };
    Ok(Opened {
        engine,
        wal,
        replay,
        conf_state,
        member_id,
        cluster_id,
        lock,
    })
}

/// Makes member `id` the only member of its cluster, as etcd's
/// `--force-new-cluster` does: entries past the commit index are dropped (they
/// were never acknowledged), and entries removing every other member are
/// appended and committed. The apply loop then applies them like any removal,
/// so the membership, the raft configuration and the v2 store all follow.
/// `cs` is the configuration as of `applied`.
fn force_new_cluster(
    wal: &mut Wal,
    replay: &mut Replay,
    cs: &ConfState,
    id: u64,
    applied: u64,
) -> Result<(), BootstrapError> {
    let commit = replay.hard_state.commit.max(applied);
    replay.entries.retain(|e| e.index <= commit);
    let mut members: std::collections::BTreeSet<u64> =
        cs.voters.iter().chain(&cs.learners).copied().collect();
    for e in &replay.entries {
        if e.index <= applied || e.get_entry_type() != EntryType::EntryConfChange {
            continue;
        }
        let mut cc = ConfChange::default();
        cc.merge_from_bytes(&e.data).map_err(|err| {
            BootstrapError::Snapshot(format!("conf change at {}: {err}", e.index))
        })?;
        match cc.get_change_type() {
            ConfChangeType::RemoveNode => {
                members.remove(&cc.node_id);
            }
            _ => {
                members.insert(cc.node_id);
            }
        }
    }
    let last = replay
        .entries
        .last()
        .map_or(0, |e| e.index)
        .max(replay.snapshot.map_or(0, |s| s.0))
        .max(applied);
    let term = replay
        .entries
        .last()
        .map_or(0, |e| e.term)
        .max(replay.hard_state.term)
        .max(1);
    let removals: Vec<Entry> = members
        .iter()
        .filter(|m| **m != id)
        .enumerate()
        .map(|(i, m)| {
            let mut cc = ConfChange::default();
            cc.set_change_type(ConfChangeType::RemoveNode);
            cc.node_id = *m;
            let mut e = Entry::default();
            e.set_entry_type(EntryType::EntryConfChange);
            e.term = term;
            e.index = last + 1 + i as u64;
            e.data = cc.write_to_bytes().expect("encoding conf change").into();
            e
        })
        .collect();
    tracing::warn!(
        member_id = format!("{id:x}"),
        removed = removals.len(),
        commit = last + removals.len() as u64,
        "forcing a new cluster of this member alone: removing every other member"
    );
    replay.hard_state.term = term;
    replay.hard_state.commit = last + removals.len() as u64;
    if !removals.is_empty() {
        wal.append_entries(&removals);
    }
    wal.set_hard_state(&replay.hard_state);
    wal.sync()?;
    replay.entries.extend(removals);
    Ok(())
}

/// Takes the exclusive lock on `member_dir` that keeps a second process (a
/// second ectd, or `ectl snapshot restore` reading it) from opening the same
/// data directory; released when the returned file is closed.
pub fn lock_data_dir(member_dir: &std::path::Path) -> Result<std::fs::File, BootstrapError> {
    let path = member_dir.join("lock");
    let io = |source| BootstrapError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
        io(std::io::Error::other(
            "the data directory is in use by another process",
        ))
    })?;
    Ok(f)
}

/// The members named by `--initial-cluster`, ordered by id.
pub fn initial_members(cfg: &Config) -> Result<Vec<Member>, BootstrapError> {
    let mut members: Vec<Member> = cfg
        .initial_members()?
        .into_iter()
        .map(|(name, peer_urls)| Member {
            id: member_id(&peer_urls, &cfg.initial_cluster_token),
            name,
            peer_urls,
            client_urls: Vec::new(),
            is_learner: false,
        })
        .collect();
    members.sort_by_key(|m| m.id);
    Ok(members)
}

/// Starts the log of a new cluster as etcd does: one committed entry per initial
/// member adding it (the member record as context), at term 1, so the first
/// election happens at term 2 and raft indexes line up with etcd's. Every initial
/// member writes the same entries.
fn bootstrap_log(wal: &mut Wal, members: &[Member]) -> Result<Replay, BootstrapError> {
    let entries: Vec<Entry> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut cc = ConfChange::default();
            cc.set_change_type(ConfChangeType::AddNode);
            cc.node_id = m.id;
            cc.context = m.encode_to_vec().into();
            let mut e = Entry::default();
            e.set_entry_type(EntryType::EntryConfChange);
            e.term = 1;
            e.index = i as u64 + 1;
            e.data = cc.write_to_bytes().expect("encoding conf change").into();
            e
        })
        .collect();
    let hs = HardState {
        term: 1,
        commit: entries.len() as u64,
        ..Default::default()
    };
    wal.append_entries(&entries);
    wal.set_hard_state(&hs);
    wal.sync()?;
    Ok(Replay {
        entries,
        hard_state: hs,
        snapshot: None,
    })
}

/// Makes `engine` the data of member `id` of a new cluster of `members`, as a
/// first start with those flags would: identity and raft configuration in the
/// engine, the bootstrap entries in a new WAL at `wal_dir`. The engine may already hold a keyspace (a restored snapshot): the new
/// cluster starts from it. Returns the member and cluster ids.
pub fn seed_new_cluster(
    engine: &Engine,
    wal_dir: &std::path::Path,
    members: &[Member],
    id: u64,
) -> Result<(u64, u64), BootstrapError> {
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    let cid = cluster_id(&ids);
    store_identity(engine, id, cid, &membership::conf_state(members), &[])?;
    let (mut wal, replay) = Wal::open(wal_dir)?;
    if !replay.entries.is_empty() || replay.hard_state.term != 0 {
        return Err(BootstrapError::Snapshot(format!(
            "{}: the WAL is not empty",
            wal_dir.display()
        )));
    }
    bootstrap_log(&mut wal, members)?;
    Ok((id, cid))
}

/// Records who this member is, durably, before anything else happens.
fn store_identity(
    engine: &Engine,
    id: u64,
    cid: u64,
    cs: &ConfState,
    members: &[Member],
) -> Result<(), BootstrapError> {
    let mut batch = WriteBatch::default();
    batch.put_cf(engine.cf(Cf::Meta), meta::MEMBER_ID, id.to_be_bytes());
    batch.put_cf(engine.cf(Cf::Meta), meta::CLUSTER_ID, cid.to_be_bytes());
    batch.put_cf(
        engine.cf(Cf::Meta),
        meta::CONF_STATE,
        cs.write_to_bytes().expect("encoding conf state"),
    );
    for m in members {
        membership::put(engine, &mut batch, m);
    }
    engine.write(batch)?;
    engine.flush()?;
    Ok(())
}
