//! Leases: TTLs granted by the cluster, keys attached to them, and when each lease
//! expires.
//!
//! What a lease *is* (its id, granted TTL, attached keys, last checkpointed
//! remaining TTL) is replicated state, written by apply into the `lease` column
//! family. *When* it expires is local: every member starts a lease's clock when it
//! applies the grant, a keep-alive or a checkpoint, so all members agree on the
//! deadline to within the replication delay. Only the leader acts on a deadline, by
//! proposing a revoke ([`expiry`]); a member that becomes leader keeps the deadlines
//! it already tracks (plus one election timeout of grace, as etcd grants), so a
//! lease's remaining TTL survives leader changes instead of being reset.

pub mod expiry;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ectd_proto::raftcmd::LeaseRecord;
use prost::Message as _;

use crate::engine::schema::lease as keys;
use crate::engine::{Cf, Engine};

/// The largest TTL a lease may have, in seconds (etcd's limit).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// One lease as this member tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The granted TTL, in seconds.
    pub ttl: i64,
    /// When the lease expires unless kept alive.
    pub deadline: Instant,
}

impl Lease {
    /// Time left before the deadline (zero once passed).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }
}

/// Every live lease of the applied state with its local deadline. Apply is the
/// only writer; the API and the expiry task read.
#[derive(Default)]
pub struct Lessor {
    leases: Mutex<HashMap<i64, Lease>>,
}

fn deadline_of(now: Instant, rec: &LeaseRecord) -> Instant {
    if rec.remaining_ms > 0 {
        now + Duration::from_millis(rec.remaining_ms as u64)
    } else {
        now + ttl_duration(rec.ttl)
    }
}

fn ttl_duration(ttl: i64) -> Duration {
    Duration::from_secs(ttl.max(0) as u64)
}

impl Lessor {
    /// The leases recorded in `engine`, each with its remaining TTL as last
    /// checkpointed (the whole TTL if kept alive since), counted from now.
    pub fn load(engine: &Engine) -> Lessor {
        let lessor = Lessor::default();
        lessor.reload(engine);
        lessor
    }

    /// Replaces the tracked leases with those recorded in `engine` (after a snapshot
    /// was installed).
    pub fn reload(&self, engine: &Engine) {
        let now = Instant::now();
        let leases = records(engine)
            .into_iter()
            .map(|rec| {
                (
                    rec.id,
                    Lease {
                        ttl: rec.ttl,
                        deadline: deadline_of(now, &rec),
                    },
                )
            })
            .collect();
        *self.lock() = leases;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Lease>> {
        self.leases.lock().expect("lessor lock")
    }

    /// The lease `id`, if it exists.
    pub fn get(&self, id: i64) -> Option<Lease> {
        self.lock().get(&id).copied()
    }

    /// Whether lease `id` exists.
    pub fn exists(&self, id: i64) -> bool {
        self.lock().contains_key(&id)
    }

    /// Every lease id, soonest deadline first (the order etcd lists leases in).
    pub fn ids(&self) -> Vec<i64> {
        let mut all: Vec<(Instant, i64)> = self
            .lock()
            .iter()
            .map(|(id, l)| (l.deadline, *id))
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(_, id)| id).collect()
    }

    /// Number of leases.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are no leases.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A grant was applied: the lease's clock starts now.
    pub fn granted(&self, id: i64, ttl: i64) {
        let deadline = Instant::now() + ttl_duration(ttl);
        self.lock().insert(id, Lease { ttl, deadline });
    }

    /// A keep-alive was applied (or the leader took one): the lease's whole TTL
    /// starts again now. Returns the lease's TTL, `None` if it does not exist.
    pub fn renewed(&self, id: i64) -> Option<i64> {
        let now = Instant::now();
        let mut leases = self.lock();
        let l = leases.get_mut(&id)?;
        l.deadline = now + ttl_duration(l.ttl);
        Some(l.ttl)
    }

    /// The leader takes a keep-alive: like [`Lessor::renewed`], but only for a
    /// lease whose deadline has not passed (an expired one is being revoked).
    pub fn renew_live(&self, id: i64) -> Option<i64> {
        let now = Instant::now();
        let mut leases = self.lock();
        let l = leases.get_mut(&id).filter(|l| l.deadline > now)?;
        l.deadline = now + ttl_duration(l.ttl);
        Some(l.ttl)
    }

    /// A checkpoint was applied: the lease has `remaining_ms` left from now.
    pub fn checkpointed(&self, id: i64, remaining_ms: i64) {
        let now = Instant::now();
        if let Some(l) = self.lock().get_mut(&id) {
            l.deadline = now + Duration::from_millis(remaining_ms.max(0) as u64);
        }
    }

    /// A revoke was applied.
    pub fn revoked(&self, id: i64) {
        self.lock().remove(&id);
    }

    /// This member became leader: every lease gets `grace` more time, so that
    /// keep-alives lost while there was no leader do not expire it.
    pub fn promote(&self, grace: Duration) {
        let now = Instant::now();
        for l in self.lock().values_mut() {
            l.deadline = l.deadline.max(now) + grace;
        }
    }

    /// Ids of the leases whose deadline has passed, oldest deadline first, at most
    /// `max` of them.
    pub fn expired(&self, now: Instant, max: usize) -> Vec<i64> {
        let mut due: Vec<(Instant, i64)> = self
            .lock()
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, l)| (l.deadline, *id))
            .collect();
        due.sort_unstable();
        due.into_iter().take(max).map(|(_, id)| id).collect()
    }

    /// Every lease's remaining TTL in milliseconds, for a checkpoint.
    pub fn remaining_all(&self, now: Instant) -> Vec<(i64, i64)> {
        let mut all: Vec<(i64, i64)> = self
            .lock()
            .iter()
            .map(|(id, l)| (*id, l.remaining(now).as_millis().max(1) as i64))
            .collect();
        all.sort_unstable();
        all
    }
}

/// Every lease record stored in `engine`.
pub fn records(engine: &Engine) -> Vec<LeaseRecord> {
    let mut it = engine.db().raw_iterator_cf(engine.cf(Cf::Lease));
    it.seek([keys::RECORD]);
    let mut out = Vec::new();
    while it.valid() {
        let k = it.key().expect("valid iterator has a key");
        if k.first() != Some(&keys::RECORD) {
            break;
        }
        let v = it.value().expect("valid iterator has a value");
        out.push(
            LeaseRecord::decode(v)
                .unwrap_or_else(|err| panic!("undecodable lease record {k:?}: {err}")),
        );
        it.next();
    }
    if let Err(err) = it.status() {
        panic!("rocksdb scan of lease records failed: {err}");
    }
    out
}

/// Writes lease `rec` into `batch`.
pub fn put_record(engine: &Engine, batch: &mut rocksdb::WriteBatch, rec: &LeaseRecord) {
    batch.put_cf(
        engine.cf(Cf::Lease),
        keys::record_key(rec.id),
        rec.encode_to_vec(),
    );
}

/// Removes lease `id`'s record in `batch` (its key attachments go with the keys).
pub fn delete_record(engine: &Engine, batch: &mut rocksdb::WriteBatch, id: i64) {
    batch.delete_cf(engine.cf(Cf::Lease), keys::record_key(id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_follow_grant_renew_checkpoint_and_promotion() {
        let lessor = Lessor::default();
        lessor.granted(7, 10);
        let now = Instant::now();
        let l = lessor.get(7).unwrap();
        assert!(l.remaining(now) <= Duration::from_secs(10));
        assert!(l.remaining(now) > Duration::from_secs(9));

        lessor.checkpointed(7, 1500);
        let l = lessor.get(7).unwrap();
        assert!(l.remaining(Instant::now()) <= Duration::from_millis(1500));

        lessor.promote(Duration::from_secs(1));
        let l = lessor.get(7).unwrap();
        assert!(l.remaining(Instant::now()) > Duration::from_millis(2000));
        assert!(l.remaining(Instant::now()) <= Duration::from_millis(2500));

        assert_eq!(lessor.renewed(7), Some(10));
        assert_eq!(lessor.renew_live(7), Some(10));
        assert_eq!(lessor.renew_live(8), None);
        lessor.checkpointed(7, 0);
        assert_eq!(
            lessor.renew_live(7),
            None,
            "an expired lease is not renewed"
        );
        lessor.renewed(7);
        assert!(lessor.get(7).unwrap().remaining(Instant::now()) > Duration::from_secs(9));

        assert!(lessor.expired(Instant::now(), 10).is_empty());
        assert_eq!(
            lessor.expired(Instant::now() + Duration::from_secs(11), 10),
            vec![7]
        );
        lessor.revoked(7);
        assert!(!lessor.exists(7));
    }

    #[test]
    fn expired_returns_oldest_first_up_to_max() {
        let lessor = Lessor::default();
        lessor.granted(1, 3);
        lessor.granted(2, 1);
        lessor.granted(3, 2);
        let later = Instant::now() + Duration::from_secs(5);
        assert_eq!(lessor.expired(later, 10), vec![2, 3, 1]);
        assert_eq!(lessor.expired(later, 2), vec![2, 3]);
        assert_eq!(lessor.ids(), vec![2, 3, 1]);
    }
}
