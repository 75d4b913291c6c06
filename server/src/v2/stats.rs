//! The v2 store's operation counters, served at `/v2/stats/store` in etcd's shape.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which operation a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Reads.
    Get,
    /// Sets.
    Set,
    /// Deletes.
    Delete,
    /// Updates.
    Update,
    /// Creates.
    Create,
    /// Compare-and-swaps.
    CompareAndSwap,
    /// Compare-and-deletes.
    CompareAndDelete,
    /// Not counted.
    None,
}

/// Success and failure counts per operation, and expirations.
#[derive(Default)]
pub struct StoreStats {
    counts: [[AtomicU64; 2]; 7],
    expired: AtomicU64,
}

const NAMES: [&str; 7] = [
    "gets",
    "sets",
    "delete",
    "update",
    "create",
    "compareAndSwap",
    "compareAndDelete",
];

impl StoreStats {
    /// Counts one operation.
    pub fn count(&self, c: Counter, ok: bool) {
        let i = match c {
            Counter::Get => 0,
            Counter::Set => 1,
            Counter::Delete => 2,
            Counter::Update => 3,
            Counter::Create => 4,
            Counter::CompareAndSwap => 5,
            Counter::CompareAndDelete => 6,
            Counter::None => return,
        };
        self.counts[i][usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts expired keys.
    pub fn expired(&self, n: u64) {
        self.expired.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters as etcd's JSON, with the number of waiting watchers.
    pub fn to_json(&self, watchers: usize) -> String {
        let mut out = String::from("{");
        for (i, name) in NAMES.iter().enumerate() {
            let ok = self.counts[i][0].load(Ordering::Relaxed);
            let fail = self.counts[i][1].load(Ordering::Relaxed);
            out.push_str(&format!("\"{name}Success\":{ok},\"{name}Fail\":{fail},"));
        }
        out.push_str(&format!(
            "\"expireCount\":{},\"watchers\":{watchers}}}",
            self.expired.load(Ordering::Relaxed)
        ));
        out
    }
}
