//! Write transactions staged one after another into one engine write.
//!
//! Committing every transaction on its own costs a RocksDB write per entry, plus
//! the store's and the applied index's bookkeeping keys each time. Staged
//! transactions share one `WriteBatch`; each one reads the database through the
//! [`Overlay`] of those staged before it, so it sees their effects exactly as if
//! they had been committed. Nothing staged is visible to readers until the batch
//! is committed with [`Store::commit`].

use rocksdb::WriteBatch;

use super::txn::{Overlay, WriteTxn};
use super::Store;

/// Transactions applied but not yet committed to the engine.
#[derive(Default)]
pub struct Staged {
    batch: WriteBatch,
    overlay: Overlay,
    /// The revision after the staged transactions (`None`: none has written).
    rev: Option<i64>,
}

impl Staged {
    /// Starts a transaction after the staged ones; finish it with
    /// [`WriteTxn::finish_with_writes`] and hand the result to [`Staged::absorb`],
    /// or drop it to leave the stage as it was.
    pub fn txn<'a>(&'a mut self, store: &'a Store) -> WriteTxn<'a> {
        let begin_rev = self.rev.unwrap_or_else(|| store.current_rev());
        store.write_txn_after(&mut self.batch, &self.overlay, begin_rev)
    }

    /// Records a finished transaction's revision and the state of the keys it
    /// wrote.
    pub fn absorb(&mut self, rev: i64, written: Overlay) {
        if !written.is_empty() {
            self.rev = Some(rev);
            self.overlay.extend(written);
        }
    }

    /// The store's revision once the stage is committed.
    pub fn rev(&self, store: &Store) -> i64 {
        self.rev.unwrap_or_else(|| store.current_rev())
    }

    /// The batch, for the writes of a command committed on its own (the stage
    /// holds nothing else then).
    pub fn batch_mut(&mut self) -> &mut WriteBatch {
        &mut self.batch
    }

    /// Drops everything staged.
    pub fn clear(&mut self) {
        self.batch.clear();
        self.overlay.clear();
        self.rev = None;
    }

    /// Bytes staged so far.
    pub fn size_in_bytes(&self) -> usize {
        self.batch.size_in_bytes()
    }

    /// Empties the stage: the batch to commit, and the revision it brings the store
    /// to (`None`: the revision does not move).
    pub fn take(&mut self) -> (WriteBatch, Option<i64>) {
        self.overlay.clear();
        (std::mem::take(&mut self.batch), self.rev.take())
    }
}
