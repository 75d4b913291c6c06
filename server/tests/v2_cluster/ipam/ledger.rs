//! What the simulated hosts hold, as they learn it from the cluster's answers,
//! checked at every acquisition: a subnet changes hands only after its holder has
//! stopped renewing and its lease has had time to run out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How early (by the test's clock) a lease may be seen to end: none, beyond the
/// resolution of comparing two clocks of one machine.
const EARLY: Duration = Duration::from_millis(50);

/// A host's hold on a subnet, as far as the host knows.
#[derive(Debug, Clone)]
pub(crate) struct Holding {
    pub host: usize,
    pub created_index: u64,
    /// When the last renewal the cluster acknowledged was sent (or the create,
    /// if none): the lease cannot end before this plus the TTL.
    pub renewed_sent: Instant,
    /// Set once the host has stopped renewing for good.
    pub stopped: bool,
}

/// One successful acquisition.
#[derive(Debug, Clone)]
pub(crate) struct Acquisition {
    pub host: usize,
    pub subnet: String,
    pub created_index: u64,
    /// Taken over from an earlier attempt whose answer was lost (found in a listing).
    pub adopted: bool,
}

/// A write the cluster acknowledged, which every watcher must see.
#[derive(Debug, Clone)]
pub(crate) struct Acked {
    pub action: &'static str,
    pub key: String,
    pub value: String,
    pub index: u64,
}

/// Everything the hosts did and learned.
#[derive(Debug)]
pub(crate) struct Ledger {
    /// When the run began; times in messages are measured from it.
    pub epoch: Instant,
    pub holders: BTreeMap<String, Holding>,
    pub acquisitions: Vec<Acquisition>,
    pub acked: Vec<Acked>,
    /// Creates whose answer was lost: (host, subnet key); such a key may exist
    /// without the host knowing it until it expires.
    pub ambiguous: Vec<(usize, String)>,
    /// `105 Key already exists` answers to creates.
    pub conflicts: usize,
    /// Broken guarantees, each described; the test fails on any.
    pub violations: Vec<String>,
}

impl Ledger {
    /// An empty ledger whose clock starts now.
    pub fn new() -> Ledger {
        Ledger {
            epoch: Instant::now(),
            holders: BTreeMap::new(),
            acquisitions: Vec::new(),
            acked: Vec::new(),
            ambiguous: Vec::new(),
            conflicts: 0,
            violations: Vec::new(),
        }
    }

    /// Records that `host` now holds `subnet` (key), created at `created_index`,
    /// with `sent` the time its create was sent; checks the subnet was free.
    pub fn acquired(
        &mut self,
        host: usize,
        key: &str,
        created_index: u64,
        sent: Instant,
        ttl: Duration,
        adopted: bool,
    ) {
        let now = Instant::now();
        if let Some(prev) = self.holders.get(key) {
            if prev.host != host {
                if !prev.stopped {
                    self.violations.push(format!(
                        "host {host} acquired {key} at index {created_index} while host {} \
                         (created at {}) still renews it",
                        prev.host, prev.created_index
                    ));
                } else if now + EARLY < prev.renewed_sent + ttl {
                    self.violations.push(format!(
                        "host {host} acquired {key} at index {created_index} {:?} before the \
                         lease of host {} (created at {}) could have run out",
                        (prev.renewed_sent + ttl).duration_since(now),
                        prev.host,
                        prev.created_index
                    ));
                }
                if created_index <= prev.created_index {
                    self.violations.push(format!(
                        "host {host} acquired {key} at index {created_index}, not after host \
                         {}'s creation at {}",
                        prev.host, prev.created_index
                    ));
                }
            }
        }
        self.holders.insert(
            key.to_string(),
            Holding {
                host,
                created_index,
                renewed_sent: sent,
                stopped: false,
            },
        );
        self.acquisitions.push(Acquisition {
            host,
            subnet: key.to_string(),
            created_index,
            adopted,
        });
    }

    /// Records an acknowledged renewal of `key` by `host`, sent at `sent`.
    pub fn renewed(&mut self, host: usize, key: &str, sent: Instant) {
        match self.holders.get_mut(key) {
            Some(h) if h.host == host => h.renewed_sent = h.renewed_sent.max(sent),
            other => self.violations.push(format!(
                "host {host} renewed {key}, which the ledger gives to {other:?}"
            )),
        }
    }

    /// Records that `host` stopped renewing `key`.
    pub fn stopped(&mut self, host: usize, key: &str) {
        if let Some(h) = self.holders.get_mut(key) {
            if h.host == host {
                h.stopped = true;
            }
        }
    }
}
