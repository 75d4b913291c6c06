//! The cluster's downgrade state, as etcd 3.5 keeps it: `Downgrade` ENABLE
//! records a target release and CANCEL clears it, each through the log
//! (`raftcmd.Command.downgrade_info_set`), applied on every member and written
//! in the `meta` column family in the same batch as the applied index, so it
//! survives restarts and travels in state snapshots.
//!
//! etcd clears the state itself once every member runs the target release.
//! ectd's members never run as an older release, so a downgrade stays enabled
//! until it is cancelled; nothing else changes while it is (see
//! `api::v3::downgrade`).

use std::sync::RwLock;

use ectd_proto::raftcmd::DowngradeInfoSet;
use rocksdb::WriteBatch;

use crate::engine::schema::meta;
use crate::engine::{Cf, Engine};

/// The member's view of the downgrade state, as last applied: the target
/// release while a downgrade is enabled.
pub struct DowngradeStore {
    target: RwLock<Option<String>>,
}

/// What applying a downgrade command changes, staged until its batch is written.
pub struct Effect(Option<String>);

impl Effect {
    /// Makes the change visible once the batch holding it is written.
    pub fn apply_to(self, store: &DowngradeStore) {
        *store.target.write().expect("downgrade lock") = self.0;
    }
}

fn read(engine: &Engine) -> Option<String> {
    engine
        .get(Cf::Meta, meta::DOWNGRADE)
        .unwrap_or_else(|e| panic!("reading the downgrade state: {e}"))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

impl DowngradeStore {
    /// The state recorded in `engine`.
    pub fn load(engine: &Engine) -> DowngradeStore {
        DowngradeStore {
            target: RwLock::new(read(engine)),
        }
    }

    /// Reads the state again, after a state snapshot replaced the state.
    pub fn reload(&self, engine: &Engine) {
        *self.target.write().expect("downgrade lock") = read(engine);
    }

    /// The target release of the enabled downgrade, if one is.
    pub fn target(&self) -> Option<String> {
        self.target.read().expect("downgrade lock").clone()
    }

    /// Stages `req` in `batch`: enabled with its target, or cleared.
    pub fn apply(&self, engine: &Engine, batch: &mut WriteBatch, req: &DowngradeInfoSet) -> Effect {
        if req.enabled {
            tracing::warn!(target_version = %req.ver, "cluster downgrade enabled");
            batch.put_cf(engine.cf(Cf::Meta), meta::DOWNGRADE, req.ver.as_bytes());
            Effect(Some(req.ver.clone()))
        } else {
            tracing::info!("cluster downgrade cancelled");
            batch.delete_cf(engine.cf(Cf::Meta), meta::DOWNGRADE);
            Effect(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(store: &DowngradeStore, engine: &Engine, enabled: bool, ver: &str) {
        let mut batch = WriteBatch::default();
        let effect = store.apply(
            engine,
            &mut batch,
            &DowngradeInfoSet {
                enabled,
                ver: ver.to_string(),
            },
        );
        engine.write(batch).unwrap();
        effect.apply_to(store);
    }

    #[test]
    fn enable_survives_restarts_and_travels_in_state_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let leader = Engine::open(&dir.path().join("leader")).unwrap();
        let mut batch = WriteBatch::default();
        batch.put_cf(leader.cf(Cf::Meta), meta::APPLIED_INDEX, 9u64.to_be_bytes());
        batch.put_cf(leader.cf(Cf::Meta), meta::APPLIED_TERM, 2u64.to_be_bytes());
        leader.write(batch).unwrap();
        let store = DowngradeStore::load(&leader);
        assert_eq!(store.target(), None);
        set(&store, &leader, true, "3.4.0");
        assert_eq!(store.target().as_deref(), Some("3.4.0"));
        assert_eq!(
            DowngradeStore::load(&leader).target().as_deref(),
            Some("3.4.0")
        );

        let snap = dir.path().join("snap");
        crate::snapshot::export(&leader, &snap).unwrap();
        let follower = Engine::open(&dir.path().join("follower")).unwrap();
        let theirs = DowngradeStore::load(&follower);
        assert_eq!(theirs.target(), None);
        crate::snapshot::install(&follower, &snap).unwrap();
        theirs.reload(&follower);
        assert_eq!(theirs.target().as_deref(), Some("3.4.0"));

        set(&store, &leader, false, "");
        assert_eq!(store.target(), None);
        assert_eq!(DowngradeStore::load(&leader).target(), None);
    }
}
