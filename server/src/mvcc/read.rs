//! Reading the keyspace at a revision.

use ectd_proto::mvccpb::{event::EventType, Event, KeyValue};
use prost::Message as _;
use rocksdb::{DBRawIteratorWithThreadMode, SnapshotWithThreadMode, DB};

use super::keys::{encode_key, split_index_key, Revision, KIND_PUT, REV_LEN};
use super::{MvccError, RangeEnd};
use crate::engine::{Cf, Engine};

/// Options of one range read, after the API layer has interpreted the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeOptions {
    /// At most this many key-values (0 = no limit). `count` still counts all.
    pub limit: usize,
    /// Read at this revision (<= 0 = the current revision).
    pub rev: i64,
    /// Only count the keys; return no key-values.
    pub count_only: bool,
}

/// The result of a range read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RangeResult {
    /// Key-values in key order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// Number of keys in the range at the read revision, ignoring the limit.
    pub count: usize,
    /// The store's current revision when the read was served.
    pub rev: i64,
}

/// Decodes the stored form (kind byte, then the key-value) of the version at `rev`.
fn decode_kv(stored: Option<&[u8]>, rev: &Revision) -> KeyValue {
    let v =
        stored.unwrap_or_else(|| panic!("index names revision {rev:?} missing from kv history"));
    KeyValue::decode(&v[1..]).unwrap_or_else(|err| panic!("undecodable kv at {rev:?}: {err}"))
}

/// Versions of one key [`Source::scan`] steps over before it seeks past the rest.
const STEPS_BEFORE_SEEK: usize = 8;

/// Moves `it` from a version of the (encoded) key `enc` to the first index entry
/// of the next key.
fn skip_versions(it: &mut DBRawIteratorWithThreadMode<'_, DB>, enc: &[u8]) {
    for _ in 0..STEPS_BEFORE_SEEK {
        it.next();
        match it.key() {
            Some(k) if split_index_key(k).0 == enc => {}
            _ => return,
        }
    }
    let mut past = enc.to_vec();
    past.extend_from_slice(&[0xFF; REV_LEN]);
    it.seek(&past);
}

/// Something the keyspace can be read through: a consistent snapshot, or a write
/// transaction that also sees its own writes.
pub trait KvRead {
    /// The revision a latest read observes.
    fn rev(&self) -> i64;
    /// Reads `[key, end)` with `opts`.
    fn range(
        &self,
        key: &[u8],
        end: RangeEnd<'_>,
        opts: RangeOptions,
    ) -> Result<RangeResult, MvccError>;
}

/// Where reads come from: the live database (the apply task, the only writer) or a
/// snapshot (concurrent readers).
pub(super) enum Source<'a> {
    Db(&'a Engine),
    Snapshot(&'a Engine, SnapshotWithThreadMode<'a, DB>),
}

impl Source<'_> {
    fn engine(&self) -> &Engine {
        match self {
            Source::Db(e) | Source::Snapshot(e, _) => e,
        }
    }

    fn iter(&self, cf: Cf) -> DBRawIteratorWithThreadMode<'_, DB> {
        let e = self.engine();
        match self {
            Source::Db(_) => e.db().raw_iterator_cf(e.cf(cf)),
            Source::Snapshot(_, s) => s.raw_iterator_cf(e.cf(cf)),
        }
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Option<rocksdb::DBPinnableSlice<'_>> {
        let e = self.engine();
        let handle = e.cf(cf);
        let res = match self {
            Source::Db(_) => e.db().get_pinned_cf(handle, key),
            Source::Snapshot(_, s) => s.get_pinned_cf(handle, key),
        };
        res.unwrap_or_else(|err| panic!("rocksdb read of kv history failed: {err}"))
    }

    fn multi_get(&self, cf: Cf, keys: &[[u8; REV_LEN]]) -> Vec<Option<Vec<u8>>> {
        let e = self.engine();
        let handle = e.cf(cf);
        let res = match self {
            Source::Db(_) => e.db().multi_get_cf(keys.iter().map(|k| (handle, k))),
            Source::Snapshot(_, s) => s.multi_get_cf(keys.iter().map(|k| (handle, k))),
        };
        res.into_iter()
            .map(|r| r.unwrap_or_else(|err| panic!("rocksdb read of kv history failed: {err}")))
            .collect()
    }

    /// Revisions of the live keys in the range at `at`, in key order, and the total
    /// number of live keys (the list stops after `limit` when it is non-zero).
    pub(super) fn scan(
        &self,
        key: &[u8],
        end: RangeEnd<'_>,
        at: i64,
        limit: usize,
    ) -> (Vec<Revision>, usize) {
        let mut it = self.iter(Cf::Index);
        let start = encode_key(key);
        let end_enc = match end {
            RangeEnd::Before(e) if e <= key => return (Vec::new(), 0),
            RangeEnd::Before(e) => Some(encode_key(e)),
            _ => None,
        };
        let at_rev = Revision {
            main: at,
            sub: i64::MAX,
        };
        let mut revs = Vec::new();
        let mut total = 0;
        let mut current = Vec::new();
        let mut seek = start.clone();
        seek.extend_from_slice(&at_rev.encode_inverted());
        it.seek(&seek);
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            let (enc, rev) = split_index_key(k);
            match end {
                RangeEnd::Single if enc != start.as_slice() => break,
                RangeEnd::Before(_) if enc >= end_enc.as_deref().expect("end set") => break,
                _ => {}
            }
            if rev.main > at {
                // A newer version than the read revision: jump to the wanted one.
                let mut s = enc.to_vec();
                s.extend_from_slice(&at_rev.encode_inverted());
                it.seek(&s);
                continue;
            }
            let live = it.value().expect("valid iterator has a value") == [KIND_PUT];
            if live {
                total += 1;
                if limit == 0 || revs.len() < limit {
                    revs.push(rev);
                }
            }
            if end == RangeEnd::Single {
                // The newest version at or below `at` decides; older ones never do.
                break;
            }
            // Skip this key's older versions. Most keys have few, so stepping
            // over them is cheaper than a seek; a key with many falls back to one.
            current.clear();
            current.extend_from_slice(enc);
            skip_versions(&mut it, &current);
        }
        if let Err(err) = it.status() {
            panic!("rocksdb index scan failed: {err}");
        }
        (revs, total)
    }

    /// Loads the key-values stored at `revs`.
    pub(super) fn load(&self, revs: &[Revision]) -> Vec<KeyValue> {
        if revs.is_empty() {
            return Vec::new();
        }
        if let [rev] = revs {
            let v = self.get(Cf::Kv, &rev.encode());
            return vec![decode_kv(v.as_deref(), rev)];
        }
        let keys: Vec<[u8; REV_LEN]> = revs.iter().map(|r| r.encode()).collect();
        self.multi_get(Cf::Kv, &keys)
            .into_iter()
            .zip(revs)
            .map(|(v, rev)| decode_kv(v.as_deref(), rev))
            .collect()
    }

    /// The keys attached to lease `id`, in key order.
    pub(super) fn lease_keys(&self, id: i64) -> Vec<Vec<u8>> {
        let prefix = crate::engine::schema::lease::attached_prefix(id);
        let mut it = self.iter(Cf::Lease);
        it.seek(prefix);
        let mut keys = Vec::new();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            if !k.starts_with(&prefix) {
                break;
            }
            keys.push(k[prefix.len()..].to_vec());
            it.next();
        }
        if let Err(err) = it.status() {
            panic!("rocksdb scan of lease {id:x}'s keys failed: {err}");
        }
        keys
    }

    /// The latest version of `key`, if it is live.
    pub(super) fn latest(&self, key: &[u8]) -> Option<KeyValue> {
        let (revs, _) = self.scan(key, RangeEnd::Single, i64::MAX, 1);
        self.load(&revs).pop()
    }

    /// Every live key in the range at `at`, honouring limit and count_only.
    pub(super) fn range_at(
        &self,
        key: &[u8],
        end: RangeEnd<'_>,
        at: i64,
        opts: RangeOptions,
    ) -> (Vec<KeyValue>, usize) {
        let limit = if opts.count_only { 1 } else { opts.limit };
        let (revs, total) = self.scan(key, end, at, limit);
        if opts.count_only {
            return (Vec::new(), total);
        }
        (self.load(&revs), total)
    }
}

/// Checks a requested revision against the current and compacted revisions and
/// resolves `<= 0` to the current one.
pub(super) fn resolve_rev(req: i64, current: i64, compacted: i64) -> Result<i64, MvccError> {
    if req <= 0 {
        return Ok(current);
    }
    if req > current {
        return Err(MvccError::FutureRev);
    }
    if req < compacted {
        return Err(MvccError::Compacted);
    }
    Ok(req)
}

/// A consistent read-only view of the keyspace at the revision it was opened.
pub struct ReadView<'a> {
    pub(super) source: Source<'a>,
    pub(super) rev: i64,
    pub(super) compact_rev: i64,
}

impl ReadView<'_> {
    /// The last compacted revision as of this view.
    pub fn compact_rev(&self) -> i64 {
        self.compact_rev
    }

    /// The changes of revisions `from..=to` from history, in revision order, without
    /// `prev_kv`. Stops at a revision boundary once at least `max_events` changes or
    /// `max_bytes` of encoded changes are collected; returns them with the last
    /// revision fully covered (`to` when everything was read). Revisions removed by compaction are simply absent: the
    /// caller checks the compact revision first.
    pub fn history(
        &self,
        from: i64,
        to: i64,
        max_events: usize,
        max_bytes: usize,
    ) -> (Vec<Event>, i64) {
        let mut it = self.source.iter(Cf::Kv);
        it.seek(Revision { main: from, sub: 0 }.encode());
        let mut events: Vec<Event> = Vec::new();
        let mut bytes = 0;
        let mut covered = to;
        while it.valid() {
            let rev = Revision::decode(it.key().expect("valid iterator has a key"));
            if rev.main > to {
                break;
            }
            if (events.len() >= max_events || bytes >= max_bytes)
                && events
                    .last()
                    .and_then(|e| e.kv.as_ref())
                    .map(|kv| kv.mod_revision)
                    != Some(rev.main)
            {
                covered = rev.main - 1;
                break;
            }
            let v = it.value().expect("valid iterator has a value");
            bytes += v.len();
            let kv = KeyValue::decode(&v[1..])
                .unwrap_or_else(|err| panic!("undecodable kv at {rev:?}: {err}"));
            let kind = if v[0] == KIND_PUT {
                EventType::Put
            } else {
                EventType::Delete
            };
            events.push(Event {
                r#type: kind as i32,
                kv: Some(kv),
                prev_kv: None,
            });
            it.next();
        }
        if let Err(err) = it.status() {
            panic!("rocksdb history scan from revision {from} failed: {err}");
        }
        (events, covered)
    }

    /// The live version of `key` just before revision `rev` (what a change at `rev`
    /// replaced), if that revision is still readable.
    pub fn version_before(&self, key: &[u8], rev: i64) -> Option<KeyValue> {
        if rev - 1 < self.compact_rev {
            return None;
        }
        let (revs, _) = self.source.scan(key, RangeEnd::Single, rev - 1, 1);
        self.source.load(&revs).pop()
    }

    /// The keys attached to lease `id` as of this view, in key order.
    pub fn lease_keys(&self, id: i64) -> Vec<Vec<u8>> {
        self.source.lease_keys(id)
    }
}

impl KvRead for ReadView<'_> {
    fn rev(&self) -> i64 {
        self.rev
    }

    fn range(
        &self,
        key: &[u8],
        end: RangeEnd<'_>,
        opts: RangeOptions,
    ) -> Result<RangeResult, MvccError> {
        let at = resolve_rev(opts.rev, self.rev, self.compact_rev)?;
        let (kvs, count) = self.source.range_at(key, end, at, opts);
        Ok(RangeResult {
            kvs,
            count,
            rev: self.rev,
        })
    }
}
