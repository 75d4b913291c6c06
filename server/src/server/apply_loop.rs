//! The apply loop: the thread that applies what the raft loop hands out, in log
//! order, answers waiters and keeps the member's view of the membership current.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use ectd_proto::raftcmd::Member;
use protobuf::Message as _;
use raft::prelude::{ConfChange, ConfChangeType, EntryType};
use tokio::sync::{mpsc, watch};

use super::{NospaceSender, Waiters};
use crate::apply::{Applied, Applier, Output};
use crate::engine::Engine;
use crate::raft::{Durable, ToApply, Transport};
use crate::watch::Hub;

pub(super) struct ApplyTask {
    pub(super) learner: Arc<AtomicBool>,
    pub(super) self_id: u64,
    pub(super) removed: Arc<tokio::sync::Notify>,
    pub(super) transport: Arc<Transport>,
    pub(super) applier: Applier,
    pub(super) persisted: u64,
    pub(super) snapshot_count: u64,
    pub(super) waiters: Waiters,
    pub(super) applied: watch::Sender<u64>,
    pub(super) durable: std::sync::mpsc::Sender<Durable>,
    pub(super) hub: Arc<Hub>,
    /// Counts entries slower to apply than [`crate::metrics::SLOW_APPLY`].
    pub(super) slow_apply: prometheus::IntCounter,
    /// Where the apply stages of a proposal's time are recorded.
    pub(super) stages: crate::metrics::ProposalStages,
    /// Where a command refused for this member's quota goes (with its waiter),
    /// so that a NOSPACE alarm is raised before it is answered.
    pub(super) nospace: NospaceSender,
}

/// The apply task: applies committed entries in order, answers waiters, publishes
/// the applied index. Every `--snapshot-count` entries it has the state machine
/// made durable (off this thread) and lets the raft loop drop the WAL it no longer
/// needs.
pub(super) fn spawn_apply(
    task: ApplyTask,
    mut committed: mpsc::Receiver<ToApply>,
) -> JoinHandle<()> {
    let ApplyTask {
        mut applier,
        persisted,
        snapshot_count,
        waiters,
        applied,
        durable,
        transport,
        self_id,
        removed,
        learner,
        hub,
        slow_apply,
        stages,
        nospace,
    } = task;
    let answer = Answer {
        waiters,
        hub,
        slow_apply,
        stages,
        nospace,
    };
    let note_membership = move |members: &[Member]| {
        transport.set_peers(&peer_urls(members));
        let me = members.iter().find(|m| m.id == self_id);
        learner.store(me.is_some_and(|m| m.is_learner), Ordering::Release);
    };
    std::thread::Builder::new()
        .name("apply".into())
        .spawn(move || {
            let (flush_tx, flusher) = spawn_flusher(applier.engine(), durable);
            let mut last_durable = persisted;
            while let Some(item) = committed.blocking_recv() {
                let (entries, handed) = match item {
                    ToApply::Entries(entries, handed) => (entries, handed),
                    ToApply::Snapshot {
                        dir,
                        index,
                        term,
                        done,
                    } => {
                        if let Err(e) = applier.install_snapshot(&dir) {
                            panic!("installing the snapshot at index {index} (term {term}) from {}: {e}", dir.display());
                        }
                        let _ = std::fs::remove_dir_all(&dir);
                        answer.hub.reset(applier.current_rev());
                        last_durable = index;
                        applied.send_replace(index);
                        note_membership(&applier.members());
                        let _ = done.send(());
                        continue;
                    }
                };
                let mut last = *applied.borrow();
                let mut last_term = 0;
                // Applied entries whose writes are still staged, with when apply
                // started on each: answered once the stage is committed.
                let mut pending: Vec<(Applied, Instant)> = Vec::new();
                for e in entries {
                    last = e.index;
                    last_term = e.term;
                    if e.index <= persisted || e.data.is_empty() {
                        continue;
                    }
                    if e.get_entry_type() == EntryType::EntryConfChange {
                        applier.commit_staged();
                        answer.all(pending.drain(..));
                        let mut cc = ConfChange::default();
                        cc.merge_from_bytes(&e.data).unwrap_or_else(|err| {
                            panic!("undecodable conf change at {}: {err}", e.index)
                        });
                        applier.apply_conf_change(e.index, e.term, &cc);
                        note_membership(&applier.members());
                        if cc.get_change_type() == ConfChangeType::RemoveNode && cc.node_id == self_id {
                            tracing::warn!("this member has been permanently removed from the cluster; stopping");
                            removed.notify_one();
                        }
                        let waiter = answer.waiters.lock().expect("waiters lock").remove(&cc.id);
                        if let Some(w) = waiter {
                            let _ = w.send((Ok(Output::ConfChanged), Instant::now()));
                        }
                        continue;
                    }
                    if e.get_entry_type() != EntryType::EntryNormal {
                        continue;
                    }
                    fail::fail_point!("apply_before_entry");
                    let started = Instant::now();
                    answer.stages.apply_wait.observe((started - handed).as_secs_f64());
                    let done = applier.apply(e.index, e.term, &e.data);
                    fail::fail_point!("apply_after_entry");
                    pending.push((done, started));
                    if !applier.has_staged() {
                        if pending.last().is_some_and(|(d, _)| d.membership_changed) {
                            note_membership(&applier.members());
                        }
                        answer.all(pending.drain(..));
                    }
                }
                applier.commit_staged();
                answer.all(pending.drain(..));
                applied.send_replace(last);
                if last >= last_durable + snapshot_count {
                    // The flush runs on its own thread, so applying goes on meanwhile;
                    // while one is under way, the next waits for a later batch.
                    match applier.record_applied(last, last_term) {
                        Ok(()) => {
                            let d = Durable {
                                index: last,
                                term: last_term,
                            };
                            if flush_tx.try_send(d).is_ok() {
                                last_durable = last;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "recording the applied index failed"),
                    }
                }
            }
            drop(flush_tx);
            let _ = flusher.join();
            tracing::info!("apply task stopped");
        })
        .expect("spawning the apply thread")
}

/// What the apply loop needs to answer for applied entries once their writes are
/// committed.
struct Answer {
    waiters: Waiters,
    hub: Arc<Hub>,
    slow_apply: prometheus::IntCounter,
    stages: crate::metrics::ProposalStages,
    nospace: NospaceSender,
}

impl Answer {
    /// Answers for committed entries in log order: records how long each took to
    /// apply (up to the commit of its writes), notifies the watchers of its
    /// changes and answers its waiter.
    fn all(&self, done: impl Iterator<Item = (Applied, Instant)>) {
        for (done, started) in done {
            let applied_in = started.elapsed();
            self.stages.apply.observe(applied_in.as_secs_f64());
            if applied_in > crate::metrics::SLOW_APPLY {
                self.slow_apply.inc();
            }
            if !done.changes.is_empty() {
                let notifying = Instant::now();
                self.hub.notify(done.revision, &done.changes);
                self.stages
                    .notify
                    .observe(notifying.elapsed().as_secs_f64());
            }
            let waiter = match done.request_id {
                0 => None,
                id => self.waiters.lock().expect("waiters lock").remove(&id),
            };
            if done.raise_nospace {
                // As etcd does, the member raises NOSPACE for itself and answers
                // once that is applied; if the queue is full, earlier refusals are
                // raising it already.
                match self.nospace.try_send((waiter, done.outcome)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full((w, o)))
                    | Err(mpsc::error::TrySendError::Closed((w, o))) => {
                        if let Some(w) = w {
                            let _ = w.send((o, Instant::now()));
                        }
                    }
                }
            } else if let Some(w) = waiter {
                let _ = w.send((done.outcome, Instant::now()));
            }
        }
    }
}

/// The thread that makes the state machine durable: it flushes every memtable for
/// each [`Durable`] it receives, then passes it on to the raft loop, which may then
/// drop the WAL it covers. Everything written before the flush began is in it, and
/// the applied index was written before it was sent here.
fn spawn_flusher(
    engine: Engine,
    durable: std::sync::mpsc::Sender<Durable>,
) -> (std::sync::mpsc::SyncSender<Durable>, JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Durable>(1);
    let thread = std::thread::Builder::new()
        .name("flush".into())
        .spawn(move || {
            for d in rx {
                let started = std::time::Instant::now();
                match engine.flush() {
                    Ok(()) => {
                        tracing::info!(
                            index = d.index,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "state machine flushed"
                        );
                        let _ = durable.send(d);
                    }
                    Err(e) => tracing::warn!(error = %e, "flushing the state machine failed"),
                }
            }
        })
        .expect("spawning the flush thread");
    (tx, thread)
}

/// Every member's id and peer URLs, for the transport.
pub(super) fn peer_urls(members: &[Member]) -> Vec<(u64, Vec<String>)> {
    members
        .iter()
        .map(|m| (m.id, m.peer_urls.clone()))
        .collect()
}
