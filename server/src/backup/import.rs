//! Reading an etcd backend database (a snapshot file or a stopped member's
//! `member/snap/db`) into a fresh ectd state machine.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use ectd_proto::authpb;
use ectd_proto::mvccpb::KeyValue;
use ectd_proto::raftcmd::LeaseRecord;
use prost::Message as _;
use rocksdb::WriteBatch;
use sha2::{Digest, Sha256};

use super::bolt::BoltFile;
use super::layout::{self, Lease};
use super::BackupError;
use crate::engine::schema::{self, meta};
use crate::engine::{Cf, Engine};
use crate::mvcc::keys::{index_key, Revision, KIND_PUT, KIND_TOMBSTONE};

/// Records per RocksDB batch while importing.
const BATCH_RECORDS: usize = 16_384;
/// Length of the SHA-256 digest a snapshot stream ends with.
pub const HASH_LEN: usize = 32;

/// What an import read.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// The keyspace revision after the import.
    pub revision: i64,
    /// The compaction revision (-1 when nothing was compacted).
    pub compact_revision: i64,
    /// Records of the `key` bucket.
    pub key_records: u64,
    /// Leases.
    pub leases: u64,
    /// Users.
    pub users: u64,
    /// Roles.
    pub roles: u64,
}

/// Whether the file at `path` ends with the SHA-256 digest a snapshot download
/// appends, and if so whether it matches: `Ok(true)` when present and right,
/// `Ok(false)` when absent. The digest is present when the size is a multiple of
/// 512 plus 32, as etcd decides.
pub fn verify_hash(path: &Path) -> Result<bool, BackupError> {
    let len = std::fs::metadata(path)
        .map_err(|source| BackupError::io(path, source))?
        .len();
    if len % 512 != HASH_LEN as u64 {
        return Ok(false);
    }
    let mut f = std::fs::File::open(path).map_err(|source| BackupError::io(path, source))?;
    let body = len - HASH_LEN as u64;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = body;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n])
            .map_err(|source| BackupError::io(path, source))?;
        h.update(&buf[..n]);
        left -= n as u64;
    }
    let mut want = [0u8; HASH_LEN];
    f.read_exact(&mut want)
        .map_err(|source| BackupError::io(path, source))?;
    let got = h.finalize();
    if got.as_slice() != want {
        return Err(BackupError::Hash(format!(
            "expected sha256 {}, got {}",
            go_bytes(&want),
            go_bytes(got.as_slice())
        )));
    }
    Ok(true)
}

/// Bytes as Go prints a byte slice with `%v`: `[1 2 3]`.
fn go_bytes(b: &[u8]) -> String {
    let items: Vec<String> = b.iter().map(u8::to_string).collect();
    format!("[{}]", items.join(" "))
}

/// Reads the etcd backend database at `path` into `engine`, which must be empty.
/// Membership and alarms are left out: the restored member starts a new cluster.
pub fn import(path: &Path, engine: &Engine) -> Result<Imported, BackupError> {
    let db = BoltFile::open(path)?;
    let mut out = Imported {
        compact_revision: -1,
        ..Default::default()
    };
    let mut w = Batches::new(engine);

    // The history, and which keys are attached to a lease at the end of it.
    let mut attached: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut last_main = 1i64;
    db.for_each(layout::KEY, &mut |k, v| {
        let (main, sub, tombstone) = layout::parse_rev_key(k)
            .ok_or_else(|| BackupError::Format(format!("key bucket: {k:?} is not a revision")))?;
        let kv = KeyValue::decode(v)
            .map_err(|e| BackupError::Format(format!("key bucket: revision {main}_{sub}: {e}")))?;
        let rev = Revision { main, sub };
        let (kind, value) = if tombstone {
            attached.remove(&kv.key);
            let t = KeyValue {
                key: kv.key.clone(),
                mod_revision: main,
                ..Default::default()
            };
            (KIND_TOMBSTONE, t.encode_to_vec())
        } else {
            if kv.lease != 0 {
                attached.insert(kv.key.clone(), kv.lease);
            } else {
                attached.remove(&kv.key);
            }
            (KIND_PUT, v.to_vec())
        };
        let mut record = Vec::with_capacity(value.len() + 1);
        record.push(kind);
        record.extend_from_slice(&value);
        w.put(Cf::Kv, rev.encode().to_vec(), record)?;
        w.put(Cf::Index, index_key(&kv.key, rev), vec![kind])?;
        last_main = last_main.max(main);
        out.key_records += 1;
        Ok(())
    })?;

    // Compaction. A compaction etcd had scheduled but not finished is finished
    // by the member at its first start, as etcd finishes it.
    let meta_rev = |key: &[u8]| -> Result<Option<i64>, BackupError> {
        match db.get(layout::META, key)? {
            None => Ok(None),
            Some(v) => layout::parse_rev_key(&v)
                .map(|(main, _, _)| Some(main))
                .ok_or_else(|| BackupError::Format(format!("meta {key:?}: not a revision"))),
        }
    };
    let finished = meta_rev(layout::meta::FINISHED_COMPACT)?;
    let scheduled = meta_rev(layout::meta::SCHEDULED_COMPACT)?;
    if let Some(c) = scheduled.max(finished) {
        out.compact_revision = c;
        w.put(
            Cf::Meta,
            meta::COMPACT_REVISION.to_vec(),
            (c as u64).to_be_bytes().to_vec(),
        )?;
    }
    if let Some(f) = finished {
        w.put(
            Cf::Meta,
            meta::FINISHED_COMPACT_REVISION.to_vec(),
            (f as u64).to_be_bytes().to_vec(),
        )?;
    }
    out.revision = last_main.max(out.compact_revision);
    w.put(
        Cf::Meta,
        meta::REVISION.to_vec(),
        (out.revision as u64).to_be_bytes().to_vec(),
    )?;

    // Leases and the keys attached to them.
    let mut leases = HashSet::new();
    db.for_each(layout::LEASE, &mut |k, v| {
        let l = Lease::decode(v)
            .map_err(|e| BackupError::Format(format!("lease bucket: {k:?}: {e}")))?;
        let rec = LeaseRecord {
            id: l.id,
            ttl: l.ttl,
            remaining_ms: l.remaining_ttl.max(0).saturating_mul(1000),
        };
        w.put(
            Cf::Lease,
            schema::lease::record_key(l.id).to_vec(),
            rec.encode_to_vec(),
        )?;
        leases.insert(l.id);
        out.leases += 1;
        Ok(())
    })?;
    for (key, id) in attached {
        if leases.contains(&id) {
            w.put(Cf::Lease, schema::lease::attached_key(id, &key), Vec::new())?;
        }
    }

    // Auth.
    if let Some(v) = db.get(layout::AUTH, layout::auth::ENABLED)? {
        w.put(
            Cf::Auth,
            schema::auth::ENABLED.to_vec(),
            vec![u8::from(v == [1])],
        )?;
    }
    if let Some(v) = db.get(layout::AUTH, layout::auth::REVISION)? {
        if v.len() != 8 {
            return Err(BackupError::Format(
                "auth bucket: authRevision is not a u64".into(),
            ));
        }
        w.put(Cf::Auth, schema::auth::REVISION.to_vec(), v)?;
    }
    db.for_each(layout::AUTH_USERS, &mut |k, v| {
        let u = authpb::User::decode(v)
            .map_err(|e| BackupError::Format(format!("authUsers bucket: {k:?}: {e}")))?;
        let name = String::from_utf8_lossy(&u.name).into_owned();
        w.put(Cf::Auth, schema::auth::user_key(&name), v.to_vec())?;
        out.users += 1;
        Ok(())
    })?;
    db.for_each(layout::AUTH_ROLES, &mut |k, v| {
        let r = authpb::Role::decode(v)
            .map_err(|e| BackupError::Format(format!("authRoles bucket: {k:?}: {e}")))?;
        let name = String::from_utf8_lossy(&r.name).into_owned();
        w.put(Cf::Auth, schema::auth::role_key(&name), v.to_vec())?;
        out.roles += 1;
        Ok(())
    })?;
    w.finish()?;
    Ok(out)
}

/// Writes into the engine in bounded batches.
struct Batches<'a> {
    engine: &'a Engine,
    batch: WriteBatch,
    staged: usize,
}

impl<'a> Batches<'a> {
    fn new(engine: &'a Engine) -> Batches<'a> {
        Batches {
            engine,
            batch: WriteBatch::default(),
            staged: 0,
        }
    }

    fn put(&mut self, cf: Cf, k: Vec<u8>, v: Vec<u8>) -> Result<(), BackupError> {
        self.batch.put_cf(self.engine.cf(cf), k, v);
        self.staged += 1;
        if self.staged >= BATCH_RECORDS {
            self.engine.write(std::mem::take(&mut self.batch))?;
            self.staged = 0;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), BackupError> {
        if self.staged > 0 {
            self.engine.write(self.batch)?;
        }
        Ok(())
    }
}
