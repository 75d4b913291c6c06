//! The compactor thread: runs the physical part of compactions (see
//! [`super::compaction`]) in the background, one at a time in the order they were
//! applied, a batch at a time with a pause between batches, so the apply task never
//! waits for more than one batch's RocksDB write.
//!
//! Each member compacts its own storage: the batches are not raft commands. What
//! is still to do is read back from `meta` at every batch, so a compactor stopped
//! or killed anywhere resumes where the database says, and a state snapshot
//! installed underneath (while the compactor is held off, see [`Compactor::hold`])
//! brings its own compaction state.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::compaction;
use crate::engine::Engine;

/// Compactions queued at most; a newer one arriving when the queue is full replaces
/// the newest queued (it deletes everything that one would, and its waiters are
/// released when a later compaction finishes).
const MAX_QUEUED: usize = 64;

/// How the compactor paces itself.
#[derive(Debug, Clone, Copy)]
pub struct CompactorSettings {
    /// `kv` records examined per batch (`--experimental-compaction-batch-limit`).
    pub batch_limit: usize,
    /// Pause between batches (`--experimental-compaction-sleep-interval`).
    pub sleep: Duration,
}

impl Default for CompactorSettings {
    /// etcd's defaults: 1,000 revisions per batch, 10 ms between batches.
    fn default() -> Self {
        CompactorSettings {
            batch_limit: 1000,
            sleep: Duration::from_millis(10),
        }
    }
}

/// Where the compactor's work is recorded, for metrics.
#[derive(Clone)]
pub struct CompactorMetrics {
    /// Milliseconds each batch took (etcd's compaction pause).
    pub pause_ms: prometheus::Histogram,
    /// Milliseconds each whole compaction took.
    pub total_ms: prometheus::Histogram,
    /// Versions deleted.
    pub keys: prometheus::IntCounter,
}

#[derive(Default)]
struct Queue {
    targets: VecDeque<i64>,
    /// Bumped when the state is replaced underneath: work begun before is dropped.
    epoch: u64,
    stopping: bool,
}

struct Shared {
    engine: Engine,
    settings: CompactorSettings,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Held for every batch; holding it keeps the compactor off the database.
    gate: Mutex<()>,
    /// The last compaction finished, and whether the compactor has stopped.
    finished: watch::Sender<(i64, bool)>,
    metrics: Option<CompactorMetrics>,
}

/// The member's compactor. Dropping it does not stop the thread: call
/// [`Compactor::stop`].
pub struct Compactor {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Keeps the compactor off the database while held (see [`Compactor::hold`]).
pub struct Hold<'a> {
    compactor: &'a Compactor,
    _gate: MutexGuard<'a, ()>,
}

impl Hold<'_> {
    /// The state was replaced while held: drops queued work and takes up whatever
    /// compaction the new state records as unfinished.
    pub fn reload(&self) {
        let shared = &self.compactor.shared;
        let mut q = shared.queue.lock().expect("compactor queue lock");
        q.epoch += 1;
        q.targets.clear();
        if let Some(rev) = compaction::pending(&shared.engine) {
            q.targets.push_back(rev);
        }
        let finished = compaction::finished(&shared.engine);
        shared.finished.send_modify(|f| f.0 = finished);
        shared.wake.notify_all();
    }
}

impl Compactor {
    /// Starts the compactor thread over `engine`, first taking up the compaction
    /// the database records as unfinished, if any.
    pub fn start(
        engine: Engine,
        settings: CompactorSettings,
        metrics: Option<CompactorMetrics>,
    ) -> Arc<Compactor> {
        let mut queue = Queue::default();
        if let Some(rev) = compaction::pending(&engine) {
            tracing::info!(revision = rev, "resuming an unfinished compaction");
            queue.targets.push_back(rev);
        }
        let finished = compaction::finished(&engine);
        let shared = Arc::new(Shared {
            engine,
            settings: CompactorSettings {
                batch_limit: settings.batch_limit.max(1),
                sleep: settings.sleep,
            },
            queue: Mutex::new(queue),
            wake: Condvar::new(),
            gate: Mutex::new(()),
            finished: watch::channel((finished, false)).0,
            metrics,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("compactor".into())
            .spawn(move || {
                // Deleting old versions is background work: requests and apply
                // go first.
                crate::priority::lower_this_thread();
                run(&worker)
            })
            .expect("spawning the compactor thread");
        Arc::new(Compactor {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues the physical part of the compaction at `rev`, which the caller has
    /// just recorded as the compact revision.
    pub fn schedule(&self, rev: i64) {
        let mut q = self.shared.queue.lock().expect("compactor queue lock");
        if q.targets.back().is_some_and(|&last| last >= rev) {
            return;
        }
        if q.targets.len() >= MAX_QUEUED {
            q.targets.pop_back();
        }
        q.targets.push_back(rev);
        self.shared.wake.notify_all();
    }

    /// Keeps the compactor off the database until the returned guard drops (after
    /// its batch under way, if any): for replacing the whole state.
    pub fn hold(&self) -> Hold<'_> {
        Hold {
            compactor: self,
            _gate: self.shared.gate.lock().expect("compactor gate lock"),
        }
    }

    /// The last compaction whose physical part finished on this member (-1 if none).
    pub fn finished(&self) -> i64 {
        self.shared.finished.borrow().0
    }

    /// Resolves once the physical part of the compaction at `rev` (or a later one)
    /// has finished on this member; `Err` if the compactor stopped first.
    pub async fn wait_finished(&self, rev: i64) -> Result<(), ()> {
        let mut rx = self.shared.finished.subscribe();
        let seen = rx
            .wait_for(|&(finished, stopped)| finished >= rev || stopped)
            .await
            .map_err(|_| ())?;
        if seen.0 >= rev {
            Ok(())
        } else {
            Err(())
        }
    }

    /// Stops the thread after its batch under way; what is left is resumed at the
    /// next start. Waiters are released with `Err`.
    pub fn stop(&self) {
        {
            let mut q = self.shared.queue.lock().expect("compactor queue lock");
            q.stopping = true;
            self.shared.wake.notify_all();
        }
        if let Some(t) = self.thread.lock().expect("compactor thread lock").take() {
            if t.join().is_err() {
                tracing::error!("the compactor thread panicked");
            }
        }
        self.shared.finished.send_modify(|f| f.1 = true);
    }
}

/// The compactor thread's loop.
fn run(shared: &Shared) {
    let mut started: Option<(i64, Instant)> = None;
    loop {
        // The next compaction to work on, unless stopping.
        let (target, epoch) = {
            let mut q = shared.queue.lock().expect("compactor queue lock");
            loop {
                if q.stopping {
                    return;
                }
                if let Some(&t) = q.targets.front() {
                    break (t, q.epoch);
                }
                q = shared.wake.wait(q).expect("compactor queue lock");
            }
        };
        if started.is_none_or(|(t, _)| t != target) {
            started = Some((target, Instant::now()));
        }
        let batch_started = Instant::now();
        let outcome = {
            let _gate = shared.gate.lock().expect("compactor gate lock");
            if shared.queue.lock().expect("compactor queue lock").epoch != epoch {
                continue;
            }
            if compaction::finished(&shared.engine) >= target {
                None
            } else {
                let from = compaction::resume_point(&shared.engine, target);
                Some(compaction::compact_batch(
                    &shared.engine,
                    from,
                    shared.settings.batch_limit,
                ))
            }
        };
        match outcome.and_then(|o| o.recorded) {
            Some(h) => tracing::info!(
                hash = h.hash,
                revision = h.revision,
                compact_revision = h.compact_revision,
                "storing new hash"
            ),
            None if outcome.is_some_and(|o| o.next.is_none()) => tracing::info!(
                revision = target,
                "previous compaction was interrupted, skip storing compaction hash value"
            ),
            None => {}
        }
        if let (Some(m), Some(out)) = (&shared.metrics, &outcome) {
            m.pause_ms
                .observe(batch_started.elapsed().as_secs_f64() * 1000.0);
            m.keys.inc_by(out.removed as u64);
        }
        if outcome.is_some_and(|o| o.next.is_some()) {
            fail::fail_point!("compact_between_batches");
            if pause(shared, shared.settings.sleep) {
                return;
            }
            continue;
        }
        // Finished (or already done): release its waiters, unless the state was
        // replaced meanwhile (the new state's own figure stands then). Under the
        // queue lock, which a reload takes too.
        let mut q = shared.queue.lock().expect("compactor queue lock");
        let same_state = q.epoch == epoch;
        if same_state {
            if q.targets.front() == Some(&target) {
                q.targets.pop_front();
            }
            shared.finished.send_modify(|f| f.0 = f.0.max(target));
        }
        drop(q);
        if let Some((_, t0)) = started.take() {
            let took = t0.elapsed();
            if let Some(m) = &shared.metrics {
                m.total_ms.observe(took.as_secs_f64() * 1000.0);
            }
            if outcome.is_some() && same_state {
                tracing::info!(
                    revision = target,
                    took_ms = took.as_millis() as u64,
                    "finished scheduled compaction"
                );
            }
        }
    }
}

/// Sleeps `d` unless told to stop meanwhile; returns whether stopping.
fn pause(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut q = shared.queue.lock().expect("compactor queue lock");
    loop {
        if q.stopping {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        q = shared
            .wake
            .wait_timeout(q, deadline - now)
            .expect("compactor queue lock")
            .0;
    }
}

#[cfg(test)]
mod tests;
