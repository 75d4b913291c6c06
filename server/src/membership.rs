//! The cluster's membership as the replicated state records it: one record per
//! member under `member/<id>` in the `meta` column family, changed only by applying
//! raft conf changes and `Publish` commands, so every member agrees on it at every
//! applied index. The raft configuration (voters and learners) is derived from it.

use ectd_proto::raftcmd::Member;
use prost::Message as _;
use protobuf::Message as _;
use raft::prelude::ConfState;
use rocksdb::WriteBatch;

use crate::engine::schema::meta;
use crate::engine::{Cf, Engine};

/// Meta key prefix of a member record.
pub const MEMBER_PREFIX: &[u8] = b"member/";
const PREFIX: &[u8] = MEMBER_PREFIX;
/// Meta key prefix of a removed member's mark.
pub const REMOVED_PREFIX: &[u8] = b"removed/";
const REMOVED: &[u8] = REMOVED_PREFIX;

fn key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Every member, ordered by id.
pub fn list(engine: &Engine) -> Vec<Member> {
    let db = engine.db();
    let mut out = Vec::new();
    let mut it = db.raw_iterator_cf(engine.cf(Cf::Meta));
    it.seek(PREFIX);
    while it.valid() {
        let k = it.key().expect("valid iterator has a key");
        if !k.starts_with(PREFIX) {
            break;
        }
        let v = it.value().expect("valid iterator has a value");
        out.push(
            Member::decode(v).unwrap_or_else(|e| panic!("undecodable member record {k:?}: {e}")),
        );
        it.next();
    }
    out
}

/// One member by id.
pub fn get(engine: &Engine, id: u64) -> Option<Member> {
    engine
        .get(Cf::Meta, &key(PREFIX, id))
        .unwrap_or_else(|e| panic!("reading member {id:x}: {e}"))
        .map(|v| {
            Member::decode(v.as_slice())
                .unwrap_or_else(|e| panic!("undecodable member {id:x}: {e}"))
        })
}

/// Whether `id` was a member once and has been removed (it may never come back).
pub fn is_removed(engine: &Engine, id: u64) -> bool {
    engine
        .get(Cf::Meta, &key(REMOVED, id))
        .unwrap_or_else(|e| panic!("reading removed member {id:x}: {e}"))
        .is_some()
}

/// Stages `m` (added or updated) into `batch`.
pub fn put(engine: &Engine, batch: &mut WriteBatch, m: &Member) {
    batch.put_cf(engine.cf(Cf::Meta), key(PREFIX, m.id), m.encode_to_vec());
}

/// Stages the removal of member `id` into `batch`.
pub fn remove(engine: &Engine, batch: &mut WriteBatch, id: u64) {
    batch.delete_cf(engine.cf(Cf::Meta), key(PREFIX, id));
    batch.put_cf(engine.cf(Cf::Meta), key(REMOVED, id), []);
}

/// The raft configuration of `members`.
pub fn conf_state(members: &[Member]) -> ConfState {
    ConfState {
        voters: members
            .iter()
            .filter(|m| !m.is_learner)
            .map(|m| m.id)
            .collect(),
        learners: members
            .iter()
            .filter(|m| m.is_learner)
            .map(|m| m.id)
            .collect(),
        ..Default::default()
    }
}

/// Stages the raft configuration of `members` into `batch`.
pub fn put_conf_state(engine: &Engine, batch: &mut WriteBatch, members: &[Member]) {
    let cs = conf_state(members);
    batch.put_cf(
        engine.cf(Cf::Meta),
        meta::CONF_STATE,
        cs.write_to_bytes().expect("encoding conf state"),
    );
}
