//! Writing a point-in-time copy of the state machine as an etcd backend database.

use std::path::Path;

use bbolt_rs::{Bolt, BoltOptions, BucketRwApi, DbApi, DbRwAPI, TxApi, TxRwApi, TxRwRefApi};
use ectd_proto::authpb;
use ectd_proto::mvccpb::KeyValue;
use ectd_proto::raftcmd::{LeaseRecord, Member};
use prost::Message as _;
use rocksdb::{DBRawIteratorWithThreadMode, SnapshotWithThreadMode, DB};

use super::layout::{self, Lease, MemberJson};
use super::BackupError;
use crate::engine::schema::{self, meta};
use crate::engine::{Cf, Engine};
use crate::mvcc::keys::{Revision, KIND_TOMBSTONE, REV_LEN};

/// Records written per bbolt transaction: bounds the memory a copy holds.
const BATCH_RECORDS: usize = 8_192;
/// Bytes of keys and values written per bbolt transaction.
const BATCH_BYTES: usize = 8 << 20;
/// How full bbolt leaves its pages: the keys arrive in order, so pages are packed
/// as etcd packs its own appends.
const FILL_PERCENT: f64 = 0.9;

/// What a copy holds.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// The keyspace revision the copy is at.
    pub revision: i64,
    /// The raft index the copy is at.
    pub applied_index: u64,
    /// Records in the `key` bucket.
    pub key_records: u64,
    /// Bytes of the database (its high-water mark; the file may be longer).
    pub size: u64,
}

/// Writes everything the state machine holds at one instant into a new bbolt
/// database at `out`, with etcd's buckets and encodings. `server_version` is the
/// etcd version ectd reports (its `major.minor.0` is the cluster version stored).
/// Writes continue meanwhile: the copy reads a RocksDB snapshot.
pub fn export(engine: &Engine, out: &Path, server_version: &str) -> Result<Exported, BackupError> {
    let snap = engine.db().snapshot();
    let _ = std::fs::remove_file(out);
    let mut db = BoltOptions::builder()
        .no_sync()
        .build()
        .open(out)
        .map_err(BackupError::bolt)?;
    let mut w = Writer::new(&mut db);
    for b in layout::BUCKETS {
        w.create_bucket(b)?;
    }

    let mut summary = Exported::default();
    // The history: revision order is the order of both layouts.
    {
        // One pass over the whole history: read ahead, and leave the block
        // cache to the member's requests.
        let mut opts = rocksdb::ReadOptions::default();
        opts.fill_cache(false);
        opts.set_readahead_size(2 << 20);
        let mut it = snap.raw_iterator_cf_opt(engine.cf(Cf::Kv), opts);
        it.seek_to_first();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            let v = it.value().expect("valid iterator has a value");
            if k.len() != REV_LEN || v.is_empty() {
                return Err(BackupError::Format(format!(
                    "history record of unexpected shape at {k:?}"
                )));
            }
            let rev = Revision::decode(k);
            let tombstone = v[0] == KIND_TOMBSTONE;
            let value = if tombstone {
                // etcd keeps only the key in a deletion's record.
                let kv = KeyValue::decode(&v[1..]).map_err(|e| {
                    BackupError::Format(format!("history record at {}: {e}", rev.main))
                })?;
                KeyValue {
                    key: kv.key,
                    ..Default::default()
                }
                .encode_to_vec()
            } else {
                v[1..].to_vec()
            };
            w.put(
                layout::KEY,
                layout::rev_key(rev.main, rev.sub, tombstone),
                value,
            )?;
            summary.key_records += 1;
            it.next();
        }
        it.status()?;
    }

    // Bookkeeping.
    let applied_index = snap_u64(&snap, engine, meta::APPLIED_INDEX)?.unwrap_or(0);
    let applied_term = snap_u64(&snap, engine, meta::APPLIED_TERM)?.unwrap_or(0);
    let revision = snap_u64(&snap, engine, meta::REVISION)?.unwrap_or(1) as i64;
    let compacted = snap_u64(&snap, engine, meta::COMPACT_REVISION)?;
    w.put(
        layout::META,
        layout::meta::CONSISTENT_INDEX.to_vec(),
        applied_index.to_be_bytes().to_vec(),
    )?;
    w.put(
        layout::META,
        layout::meta::TERM.to_vec(),
        applied_term.to_be_bytes().to_vec(),
    )?;
    // A compaction whose deletions are still under way is scheduled but not
    // finished, as etcd records it; a restore finishes it.
    let finished = snap_u64(&snap, engine, meta::FINISHED_COMPACT_REVISION)?;
    if let Some(c) = finished {
        w.put(
            layout::META,
            layout::meta::FINISHED_COMPACT.to_vec(),
            layout::rev_key(c as i64, 0, false),
        )?;
    }
    if let Some(c) = compacted {
        w.put(
            layout::META,
            layout::meta::SCHEDULED_COMPACT.to_vec(),
            layout::rev_key(c as i64, 0, false),
        )?;
    }
    summary.revision = revision;
    summary.applied_index = applied_index;

    // Leases (attachments are implied by the keys' lease fields).
    for (k, v) in prefixed(
        snap.raw_iterator_cf(engine.cf(Cf::Lease)),
        &[schema::lease::RECORD],
    ) {
        let rec = LeaseRecord::decode(v.as_slice())
            .map_err(|e| BackupError::Format(format!("lease record {k:?}: {e}")))?;
        let lease = Lease {
            id: rec.id,
            ttl: rec.ttl,
            // etcd counts what is left in whole seconds, 0 meaning the whole TTL.
            remaining_ttl: (rec.remaining_ms + 999) / 1000,
        };
        w.put(
            layout::LEASE,
            rec.id.to_be_bytes().to_vec(),
            lease.encode_to_vec(),
        )?;
    }

    // Auth.
    let enabled = snap
        .get_cf(engine.cf(Cf::Auth), schema::auth::ENABLED)?
        .is_some_and(|v| v == [1]);
    let auth_revision = snap
        .get_cf(engine.cf(Cf::Auth), schema::auth::REVISION)?
        .and_then(|v| v.as_slice().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(1);
    w.put(
        layout::AUTH,
        layout::auth::ENABLED.to_vec(),
        vec![u8::from(enabled)],
    )?;
    w.put(
        layout::AUTH,
        layout::auth::REVISION.to_vec(),
        auth_revision.to_be_bytes().to_vec(),
    )?;
    for (k, v) in prefixed(
        snap.raw_iterator_cf(engine.cf(Cf::Auth)),
        &[schema::auth::USER],
    ) {
        let user = authpb::User::decode(v.as_slice())
            .map_err(|e| BackupError::Format(format!("user record {k:?}: {e}")))?;
        w.put(layout::AUTH_USERS, user.name.clone(), v)?;
    }
    for (k, v) in prefixed(
        snap.raw_iterator_cf(engine.cf(Cf::Auth)),
        &[schema::auth::ROLE],
    ) {
        let role = authpb::Role::decode(v.as_slice())
            .map_err(|e| BackupError::Format(format!("role record {k:?}: {e}")))?;
        w.put(layout::AUTH_ROLES, role.name.clone(), v)?;
    }

    // Membership and cluster version.
    for (k, v) in prefixed(
        snap.raw_iterator_cf(engine.cf(Cf::Meta)),
        crate::membership::MEMBER_PREFIX,
    ) {
        let m = Member::decode(v.as_slice())
            .map_err(|e| BackupError::Format(format!("member record {k:?}: {e}")))?;
        let json = serde_json::to_vec(&MemberJson::from(&m)).expect("member JSON");
        w.put(layout::MEMBERS, layout::member_key(m.id), json)?;
    }
    for (k, _) in prefixed(
        snap.raw_iterator_cf(engine.cf(Cf::Meta)),
        crate::membership::REMOVED_PREFIX,
    ) {
        let id = k[crate::membership::REMOVED_PREFIX.len()..]
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| BackupError::Format(format!("removed member record {k:?}")))?;
        w.put(
            layout::MEMBERS_REMOVED,
            layout::member_key(id),
            b"removed".to_vec(),
        )?;
    }
    // Raised alarms, keyed by the encoded `AlarmMember` as etcd keys them.
    for (k, _) in prefixed(
        snap.raw_iterator_cf(engine.cf(Cf::Meta)),
        meta::ALARM_PREFIX,
    ) {
        let rest = &k[meta::ALARM_PREFIX.len()..];
        if rest.len() != 12 {
            return Err(BackupError::Format(format!("alarm record {k:?}")));
        }
        let alarm = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as i32;
        let member_id = u64::from_be_bytes(rest[4..].try_into().expect("8 bytes"));
        let am = ectd_proto::etcdserverpb::AlarmMember { member_id, alarm };
        w.put(layout::ALARM, am.encode_to_vec(), Vec::new())?;
    }
    w.put(
        layout::CLUSTER,
        layout::CLUSTER_VERSION.to_vec(),
        layout::cluster_version(server_version).into_bytes(),
    )?;
    // An enabled downgrade, as etcd 3.5 records it.
    if let Some(target) = snap.get_cf(engine.cf(Cf::Meta), meta::DOWNGRADE)? {
        let info = serde_json::json!({
            "target-version": String::from_utf8_lossy(&target),
            "enabled": true,
        });
        w.put(
            layout::CLUSTER,
            layout::DOWNGRADE.to_vec(),
            info.to_string().into_bytes(),
        )?;
    }
    w.finish()?;
    drop(snap);
    db.sync().map_err(BackupError::bolt)?;
    // The database ends at its high-water mark; the file may have grown past it.
    summary.size = db.begin().map_err(BackupError::bolt)?.size();
    drop(db);
    Ok(summary)
}

fn snap_u64(
    snap: &SnapshotWithThreadMode<'_, DB>,
    engine: &Engine,
    key: &[u8],
) -> Result<Option<u64>, BackupError> {
    match snap.get_cf(engine.cf(Cf::Meta), key)? {
        None => Ok(None),
        Some(v) => v
            .as_slice()
            .try_into()
            .map(|b| Some(u64::from_be_bytes(b)))
            .map_err(|_| BackupError::Format(format!("meta {key:?} is not a u64"))),
    }
}

/// The records of one column family whose keys start with `prefix`, in order.
fn prefixed<'a>(
    mut it: DBRawIteratorWithThreadMode<'a, DB>,
    prefix: &'a [u8],
) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
    it.seek(prefix);
    std::iter::from_fn(move || {
        if !it.valid() {
            return None;
        }
        let k = it.key().expect("valid iterator has a key");
        if !k.starts_with(prefix) {
            return None;
        }
        let out = (
            k.to_vec(),
            it.value().expect("valid iterator has a value").to_vec(),
        );
        it.next();
        Some(out)
    })
}

/// Buffers puts and writes them into bbolt in bounded transactions, one bucket
/// at a time.
struct Writer<'a> {
    db: &'a mut Bolt,
    bucket: &'static [u8],
    pending: Vec<(Vec<u8>, Vec<u8>)>,
    pending_bytes: usize,
}

impl<'a> Writer<'a> {
    fn new(db: &'a mut Bolt) -> Writer<'a> {
        Writer {
            db,
            bucket: layout::KEY,
            pending: Vec::with_capacity(BATCH_RECORDS),
            pending_bytes: 0,
        }
    }

    fn create_bucket(&mut self, name: &'static [u8]) -> Result<(), BackupError> {
        let mut tx = self.db.begin_rw().map_err(BackupError::bolt)?;
        tx.create_bucket_if_not_exists(name)
            .map_err(BackupError::bolt)?;
        tx.commit().map_err(BackupError::bolt)
    }

    fn put(&mut self, bucket: &'static [u8], k: Vec<u8>, v: Vec<u8>) -> Result<(), BackupError> {
        if bucket != self.bucket {
            self.flush()?;
            self.bucket = bucket;
        }
        self.pending_bytes += k.len() + v.len();
        self.pending.push((k, v));
        if self.pending.len() >= BATCH_RECORDS || self.pending_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BackupError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_rw().map_err(BackupError::bolt)?;
        {
            let mut b = tx.bucket_mut(self.bucket).ok_or_else(|| {
                BackupError::Format(format!(
                    "bucket {} missing",
                    String::from_utf8_lossy(self.bucket)
                ))
            })?;
            b.set_fill_percent(FILL_PERCENT);
            for (k, v) in self.pending.drain(..) {
                b.put(k, v).map_err(BackupError::bolt)?;
            }
        }
        tx.commit().map_err(BackupError::bolt)?;
        self.pending_bytes = 0;
        Ok(())
    }

    fn finish(mut self) -> Result<(), BackupError> {
        self.flush()
    }
}
