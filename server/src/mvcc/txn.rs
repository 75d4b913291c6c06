//! A write transaction: one main revision, a sub revision per operation, reads that
//! see the transaction's own writes and those of the transactions staged before it.

use std::collections::BTreeMap;
use std::ops::Bound;

use ectd_proto::mvccpb::{event::EventType, Event, KeyValue};
use prost::Message as _;
use rocksdb::WriteBatch;

use super::keys::{index_key, Revision, KIND_PUT, KIND_TOMBSTONE};
use super::read::{resolve_rev, KvRead, RangeOptions, RangeResult, Source};
use super::store::kv_key;
use super::{MvccError, RangeEnd};
use crate::engine::schema::lease;
use crate::engine::{Cf, Engine};

/// One change made by a write transaction, as watchers see it: a PUT with the new
/// version, or a DELETE whose kv carries only the key and the deletion's revision.
/// `prev_kv` is always the version the change replaced (none for a new key).
pub type Change = Event;

/// The latest state of keys written by transactions not yet committed to the
/// engine: a key's newest version, or `None` once deleted.
pub type Overlay = BTreeMap<Vec<u8>, Option<KeyValue>>;

/// The overlay of a transaction that follows nothing uncommitted.
static NO_OVERLAY: Overlay = BTreeMap::new();

/// One write a transaction holds back until it finishes, so that a transaction
/// that fails leaves nothing in the batch it shares with others.
enum Write {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
}

/// A write transaction over the live database. Its writes go into a caller's
/// `WriteBatch` when it finishes; nothing is visible to other readers until the
/// batch is committed. It reads the database through an [`Overlay`] of the
/// transactions staged in the same batch before it.
pub struct WriteTxn<'a> {
    source: Source<'a>,
    engine: &'a Engine,
    begin_rev: i64,
    compact_rev: i64,
    batch: &'a mut WriteBatch,
    base: &'a Overlay,
    /// The state of every key this transaction wrote: `None` once deleted.
    written: Overlay,
    writes: Vec<Write>,
    changes: Vec<Change>,
}

/// The entries of `m` whose keys lie in the range `[key, end)`.
fn in_range<'m>(
    m: &'m Overlay,
    key: &[u8],
    end: RangeEnd<'_>,
) -> Box<dyn Iterator<Item = (&'m Vec<u8>, &'m Option<KeyValue>)> + 'm> {
    let upper = match end {
        RangeEnd::Single => Bound::Included(key.to_vec()),
        RangeEnd::Unbounded => Bound::Unbounded,
        RangeEnd::Before(e) if e <= key => return Box::new(std::iter::empty()),
        RangeEnd::Before(e) => Bound::Excluded(e.to_vec()),
    };
    Box::new(m.range((Bound::Included(key.to_vec()), upper)))
}

impl<'a> WriteTxn<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        begin_rev: i64,
        compact_rev: i64,
        batch: &'a mut WriteBatch,
        base: Option<&'a Overlay>,
    ) -> WriteTxn<'a> {
        WriteTxn {
            source: Source::Db(engine),
            engine,
            begin_rev,
            compact_rev,
            batch,
            base: base.unwrap_or(&NO_OVERLAY),
            written: BTreeMap::new(),
            writes: Vec::new(),
            changes: Vec::new(),
        }
    }

    /// The revision this transaction's writes get.
    fn write_rev(&self) -> i64 {
        self.begin_rev + 1
    }

    fn next_rev(&self) -> Revision {
        Revision {
            main: self.write_rev(),
            sub: self.changes.len() as i64,
        }
    }

    /// The latest state of `key`, including this transaction's writes.
    pub fn latest(&self, key: &[u8]) -> Option<KeyValue> {
        match self.written.get(key).or_else(|| self.base.get(key)) {
            Some(state) => state.clone(),
            None => self.source.latest(key),
        }
    }

    fn record(&mut self, kind: u8, kv: &KeyValue, rev: Revision) {
        let mut val = Vec::with_capacity(1 + kv.encoded_len());
        val.push(kind);
        kv.encode(&mut val)
            .expect("encoding into a Vec cannot fail");
        self.writes
            .push(Write::Put(Cf::Kv, kv_key(rev).to_vec(), val));
        self.writes
            .push(Write::Put(Cf::Index, index_key(&kv.key, rev), vec![kind]));
    }

    /// Keeps the lease column family's attachment records in step with the key's
    /// lease: `from` is the lease of the version replaced, `to` of the new one.
    fn reattach(&mut self, key: &[u8], from: i64, to: i64) {
        if from == to {
            return;
        }
        if from != 0 {
            self.writes
                .push(Write::Delete(Cf::Lease, lease::attached_key(from, key)));
        }
        if to != 0 {
            self.writes.push(Write::Put(
                Cf::Lease,
                lease::attached_key(to, key),
                Vec::new(),
            ));
        }
    }

    /// Writes a new version of `key`. The version it replaced is the `prev_kv` of
    /// the change recorded (see [`WriteTxn::changes`]).
    pub fn put(&mut self, key: &[u8], value: Vec<u8>, lease: i64) {
        let prev = self.latest(key);
        let rev = self.next_rev();
        let kv = KeyValue {
            key: key.to_vec(),
            create_revision: prev.as_ref().map_or(rev.main, |p| p.create_revision),
            mod_revision: rev.main,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            value,
            lease,
        };
        self.record(KIND_PUT, &kv, rev);
        self.reattach(key, prev.as_ref().map_or(0, |p| p.lease), lease);
        self.written.insert(key.to_vec(), Some(kv.clone()));
        self.changes.push(Event {
            r#type: EventType::Put as i32,
            kv: Some(kv),
            prev_kv: prev,
        });
    }

    /// Deletes every live key in the range; returns the deleted versions in key order.
    pub fn delete_range(&mut self, key: &[u8], end: RangeEnd<'_>) -> Vec<KeyValue> {
        let live = self.live_range(key, end);
        for prev in &live {
            let rev = self.next_rev();
            let tomb = KeyValue {
                key: prev.key.clone(),
                mod_revision: rev.main,
                ..Default::default()
            };
            self.record(KIND_TOMBSTONE, &tomb, rev);
            self.reattach(&prev.key, prev.lease, 0);
            self.written.insert(prev.key.clone(), None);
            self.changes.push(Event {
                r#type: EventType::Delete as i32,
                kv: Some(tomb),
                prev_kv: Some(prev.clone()),
            });
        }
        live
    }

    /// Every live key of the range at the latest state, the writes of this
    /// transaction and of those staged before it included.
    fn live_range(&self, key: &[u8], end: RangeEnd<'_>) -> Vec<KeyValue> {
        let touched = in_range(self.base, key, end).next().is_some()
            || in_range(&self.written, key, end).next().is_some();
        let (mut kvs, _) = self
            .source
            .range_at(key, end, self.begin_rev, RangeOptions::default());
        if !touched {
            return kvs;
        }
        let mut merged: BTreeMap<Vec<u8>, KeyValue> =
            kvs.drain(..).map(|kv| (kv.key.clone(), kv)).collect();
        for (k, state) in in_range(self.base, key, end).chain(in_range(&self.written, key, end)) {
            match state {
                Some(kv) => merged.insert(k.clone(), kv.clone()),
                None => merged.remove(k),
            };
        }
        merged.into_values().collect()
    }

    /// The changes made so far.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Removes lease `id`'s record along with this transaction's writes (a revoke;
    /// the attachments go with the keys it deletes).
    pub fn delete_lease_record(&mut self, id: i64) {
        self.writes
            .push(Write::Delete(Cf::Lease, lease::record_key(id).to_vec()));
    }

    /// The keys attached to lease `id`, in key order, as of this transaction's
    /// start.
    pub fn lease_keys(&self, id: i64) -> Vec<Vec<u8>> {
        self.source.lease_keys(id)
    }

    /// Ends the transaction: puts its writes into the batch and returns the store's
    /// revision after it (unchanged if it wrote nothing) and its changes. A
    /// transaction dropped without finishing leaves the batch as it found it.
    pub fn finish(self) -> (i64, Vec<Change>) {
        let (rev, changes, _) = self.finish_with_writes();
        (rev, changes)
    }

    /// [`WriteTxn::finish`], also returning the latest state of every key the
    /// transaction wrote, for the overlay of the transactions staged after it.
    pub fn finish_with_writes(self) -> (i64, Vec<Change>, Overlay) {
        let rev = self.rev();
        for w in self.writes {
            match w {
                Write::Put(cf, k, v) => self.batch.put_cf(self.engine.cf(cf), k, v),
                Write::Delete(cf, k) => self.batch.delete_cf(self.engine.cf(cf), k),
            }
        }
        (rev, self.changes, self.written)
    }
}

impl KvRead for WriteTxn<'_> {
    /// Reads see the transaction's writes: the revision is the new one once anything
    /// was written.
    fn rev(&self) -> i64 {
        if self.changes.is_empty() {
            self.begin_rev
        } else {
            self.write_rev()
        }
    }

    fn range(
        &self,
        key: &[u8],
        end: RangeEnd<'_>,
        opts: RangeOptions,
    ) -> Result<RangeResult, MvccError> {
        let rev = self.rev();
        let at = resolve_rev(opts.rev, rev, self.compact_rev)?;
        // An older revision is read from the database alone: a transaction staged
        // after others never reads at an explicit revision (see `apply`).
        if at < rev || (self.changes.is_empty() && self.base.is_empty()) {
            let (kvs, count) = self.source.range_at(key, end, at, opts);
            return Ok(RangeResult { kvs, count, rev });
        }
        let mut kvs = self.live_range(key, end);
        let count = kvs.len();
        if opts.count_only {
            kvs.clear();
        } else if opts.limit > 0 {
            kvs.truncate(opts.limit);
        }
        Ok(RangeResult { kvs, count, rev })
    }
}
