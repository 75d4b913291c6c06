//! The raft loop: one thread, sole owner of the `RawNode`, following raft-rs 0.7's
//! Ready protocol step by step (see `docs/design.md`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft::prelude::{ConfChange, ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType};
use raft::{Config, RawNode, StateRole};
use tokio::sync::{mpsc, oneshot};

use super::storage::LogStore;
use super::transport::Transport;
use crate::wal::Wal;
use protobuf::Message as _;

/// Entries kept in memory behind the last applied one, for slow followers.
const LOG_TAIL_KEPT: u64 = 10_000;

/// Most of the leader's own proposals timed until commit at once; older ones stop
/// being timed.
const MAX_TIMED_PROPOSALS: usize = 65_536;

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// What the rest of the member asks of the raft loop.
pub enum Request {
    /// Propose an entry; `dropped` fires if raft refuses it (no leader known).
    Propose {
        /// The encoded command.
        data: Vec<u8>,
        /// Told when the proposal was dropped.
        dropped: oneshot::Sender<()>,
        /// When it was sent, for the queue stage's histogram.
        sent: Instant,
    },
    /// Ask for a read index; `reply` receives the index reads must wait for.
    ReadIndex {
        /// Identifies this read round.
        ctx: u64,
        /// Receives the read index.
        reply: oneshot::Sender<u64>,
    },
    /// Propose a membership change; `dropped` fires if raft refuses it.
    ProposeConfChange {
        /// The change (its `id` is the waiter's request id).
        cc: ConfChange,
        /// Told when the proposal was dropped.
        dropped: oneshot::Sender<()>,
    },
    /// Hand leadership to this member (leader only).
    TransferLeader(u64),
    /// Report replication progress (leader's view).
    Progress(oneshot::Sender<Progress>),
    /// A message from a peer, vetted by the peer service; the bytes it holds are
    /// counted against the peer backlog until it is stepped.
    Step(Message, super::peer_service::Queued),
    /// A peer could not be reached.
    Unreachable(u64),
    /// How sending a snapshot to a peer ended.
    ReportSnapshot {
        /// The peer.
        to: u64,
        /// Whether it was delivered.
        ok: bool,
    },
    /// Stop the loop (after a final WAL sync).
    Stop,
}

/// What the raft loop hands to apply, in log order.
pub enum ToApply {
    /// Committed entries, and when the raft loop handed them over.
    Entries(Vec<Entry>, Instant),
    /// Replace the state machine with the snapshot in `dir` (at `index`/`term`);
    /// answer on `done` once it is installed.
    Snapshot {
        /// Directory of the received snapshot files.
        dir: std::path::PathBuf,
        /// The snapshot's index.
        index: u64,
        /// The snapshot's term.
        term: u64,
        /// Told when the install is complete.
        done: std::sync::mpsc::SyncSender<()>,
    },
}

/// Replication progress as this member sees it.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Whether this member leads.
    pub is_leader: bool,
    /// The commit index.
    pub committed: u64,
    /// Per peer (leader only): the highest index known replicated to it, and
    /// whether it was heard from recently.
    pub peers: Vec<(u64, u64, bool)>,
}

/// The channel into a raft loop: create it first so the transport and the peer
/// service can hold senders before the loop starts.
pub fn channel() -> (Sender<Request>, Receiver<Request>) {
    std::sync::mpsc::channel()
}

/// The state machine has durably absorbed every entry up to `index` (of `term`):
/// the WAL may drop segments that hold nothing newer.
#[derive(Debug, Clone, Copy)]
pub struct Durable {
    /// The last entry the state machine holds durably.
    pub index: u64,
    /// That entry's term.
    pub term: u64,
}

/// Settings of the raft loop.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    /// This member's raft id.
    pub id: u64,
    /// Time between ticks (`--heartbeat-interval`).
    pub tick: Duration,
    /// Election timeout in ticks.
    pub election_ticks: usize,
    /// The last index the state machine has applied.
    pub applied: u64,
    /// Where the loop records heartbeat round trips and WAL syncs.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Raft facts the API layer reports, updated by the raft loop after every Ready.
#[derive(Debug, Default)]
pub struct RaftStatus {
    term: AtomicU64,
    leader: AtomicU64,
    commit: AtomicU64,
    is_leader: AtomicBool,
    leader_changes: AtomicU64,
}

impl RaftStatus {
    /// The current term.
    pub fn term(&self) -> u64 {
        self.term.load(Ordering::Acquire)
    }
    /// The known leader's id (0 = none).
    pub fn leader(&self) -> u64 {
        self.leader.load(Ordering::Acquire)
    }
    /// The commit index.
    pub fn commit(&self) -> u64 {
        self.commit.load(Ordering::Acquire)
    }
    /// Whether this member leads.
    pub fn is_leader(&self) -> bool {
        self.is_leader.load(Ordering::Acquire)
    }
    /// How many times this member has seen a new leader since it started.
    pub fn leader_changes(&self) -> u64 {
        self.leader_changes.load(Ordering::Relaxed)
    }
}

/// A running raft loop.
pub struct RaftHandle {
    /// Where requests go; dropping every sender stops the loop.
    pub requests: Sender<Request>,
    /// Facts for headers and status.
    pub status: Arc<RaftStatus>,
    /// The loop's thread.
    pub thread: JoinHandle<()>,
}

struct Loop {
    node: RawNode<LogStore>,
    wal: Wal,
    committed: mpsc::Sender<ToApply>,
    status: Arc<RaftStatus>,
    reads: Vec<(u64, oneshot::Sender<u64>)>,
    /// A sole voter has nobody to wait for: it campaigns as soon as the committed
    /// log (including bootstrap configuration entries) has been handed to apply,
    /// instead of after an election timeout.
    campaign_pending: bool,
    durable: Receiver<Durable>,
    /// The index of the last state snapshot installed from the leader: a durable
    /// point below it, reported by a flush that began before the install, is stale.
    installed: u64,
    transport: Arc<Transport>,
    metrics: Arc<crate::metrics::Metrics>,
    /// When the last heartbeat to each peer left, for the round-trip histogram.
    heartbeats: HashMap<u64, Instant>,
    /// Each peer's round-trip histogram, resolved once.
    rtt: HashMap<u64, prometheus::Histogram>,
    /// This leader's own proposals not yet handed to apply: their log index and
    /// when raft took them, for the commit stage's histogram.
    proposed: VecDeque<(u64, Instant)>,
}

/// Starts the raft loop on its own thread over `store` and `wal`. Committed entries
/// are sent on `committed` in index order.
pub fn spawn(
    settings: RaftSettings,
    store: LogStore,
    wal: Wal,
    committed: mpsc::Sender<ToApply>,
    durable: Receiver<Durable>,
    requests: (Sender<Request>, Receiver<Request>),
    transport: Arc<Transport>,
) -> Result<RaftHandle, raft::Error> {
    let cfg = Config {
        id: settings.id,
        election_tick: settings.election_ticks,
        heartbeat_tick: 1,
        applied: settings.applied,
        max_size_per_msg: 1024 * 1024,
        max_inflight_msgs: 256,
        pre_vote: true,
        check_quorum: true,
        ..Default::default()
    };
    cfg.validate()?;
    let single = store_is_single_voter(&store, settings.id);
    let mut wal = wal;
    wal.observe_fsyncs(settings.metrics.wal_fsync.clone());
    let node = RawNode::new(&cfg, store, &super::logger::logger())?;
    let status = Arc::new(RaftStatus::default());
    let (tx, rx) = requests;
    let mut lp = Loop {
        node,
        wal,
        committed,
        status: status.clone(),
        reads: Vec::new(),
        campaign_pending: single,
        durable,
        installed: 0,
        transport,
        metrics: settings.metrics.clone(),
        heartbeats: HashMap::new(),
        rtt: HashMap::new(),
        proposed: VecDeque::new(),
    };
    let tick = settings.tick;
    let thread = std::thread::Builder::new()
        .name("raft".into())
        .spawn(move || lp.run(rx, tick))
        .expect("spawning the raft thread");
    Ok(RaftHandle {
        requests: tx,
        status,
        thread,
    })
}

fn store_is_single_voter(store: &LogStore, id: u64) -> bool {
    let st = raft::Storage::initial_state(store).expect("initial state");
    st.conf_state.voters == [id] && st.conf_state.learners.is_empty()
}

impl Loop {
    fn run(&mut self, rx: Receiver<Request>, tick: Duration) {
        let mut next_tick = Instant::now() + tick;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(req) => {
                    let mut stop = !self.handle(req);
                    while let Ok(req) = rx.try_recv() {
                        stop |= !self.handle(req);
                    }
                    if stop {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_tick {
                self.node.tick();
                next_tick += tick;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + tick;
                }
            }
            if !self.on_ready() {
                break;
            }
            if let Some(d) = self.durable.try_iter().last() {
                if d.index > self.installed {
                    self.release_log(d);
                }
            }
            if self.campaign_pending {
                let log = &self.node.raft.raft_log;
                if self.node.raft.state != StateRole::Follower {
                    self.campaign_pending = false;
                } else if log.applied >= log.committed {
                    self.campaign_pending = false;
                    if let Err(e) = self.node.campaign() {
                        tracing::warn!(error = %e, "campaign failed; waiting for the election timeout");
                    }
                    if !self.on_ready() {
                        break;
                    }
                }
            }
        }
        if let Err(e) = self.wal.sync() {
            tracing::error!(error = %e, "wal: final sync failed");
        }
        tracing::info!("raft loop stopped");
    }

    /// Writes a snapshot marker for `d` and deletes WAL segments it covers.
    fn release_log(&mut self, d: Durable) {
        self.wal.mark_snapshot(d.index, d.term);
        let hs = self.node.store().hard_state().clone();
        self.wal.set_hard_state(&hs);
        if let Err(e) = self.wal.sync() {
            panic!("wal write failed: {e}");
        }
        match self.wal.purge_before(d.index + 1) {
            Ok(0) => {}
            Ok(n) => tracing::info!(segments = n, up_to_index = d.index, "wal: purged segments"),
            Err(e) => tracing::warn!(error = %e, "wal: purging segments failed"),
        }
    }

    /// Handles one request; false means stop.
    fn handle(&mut self, req: Request) -> bool {
        match req {
            Request::Propose {
                data,
                dropped,
                sent,
            } => {
                let taken = Instant::now();
                self.metrics.stages.queue.observe(secs(taken - sent));
                let before = self.node.raft.raft_log.last_index();
                if self.node.propose(Vec::new(), data).is_err() {
                    let _ = dropped.send(());
                } else {
                    let index = self.node.raft.raft_log.last_index();
                    if index > before {
                        // Appended here, so this member leads: time its commit.
                        if self.proposed.len() >= MAX_TIMED_PROPOSALS {
                            self.proposed.pop_front();
                        }
                        self.proposed.push_back((index, taken));
                    }
                }
            }
            Request::ReadIndex { ctx, reply } => {
                // The leader tells pending reads apart by context alone, so the
                // context names this member as well as the round.
                let mut rctx = self.node.raft.id.to_be_bytes().to_vec();
                rctx.extend_from_slice(&ctx.to_be_bytes());
                self.node.read_index(rctx);
                self.reads.push((ctx, reply));
            }
            Request::ProposeConfChange { cc, dropped } => {
                if self.node.propose_conf_change(Vec::new(), cc).is_err() {
                    let _ = dropped.send(());
                }
            }
            Request::TransferLeader(to) => self.node.transfer_leader(to),
            Request::Progress(reply) => {
                let r = &self.node.raft;
                let is_leader = r.state == StateRole::Leader;
                let peers = if is_leader {
                    r.prs()
                        .iter()
                        .map(|(id, pr)| (*id, pr.matched, pr.recent_active))
                        .collect()
                } else {
                    Vec::new()
                };
                let _ = reply.send(Progress {
                    is_leader,
                    committed: r.raft_log.committed,
                    peers,
                });
            }
            Request::Step(mut m, _queued) => {
                match m.get_msg_type() {
                    // Only a snapshot the inbox received (and so chose the place of)
                    // may be stepped; `data` is the inbox's number for it.
                    MessageType::MsgSnapshot
                        if !self.transport.inbox().holds(&m.get_snapshot().data) =>
                    {
                        tracing::warn!(
                            from = format!("{:x}", m.from),
                            "dropped a snapshot message with no received files"
                        );
                        return true;
                    }
                    // raft-rs takes a heartbeat's commit index as given and aborts if it
                    // lies past the log; a leader never sends one, so a message that
                    // does is clamped rather than allowed to end the member.
                    MessageType::MsgHeartbeat => {
                        let last = self.node.raft.raft_log.last_index();
                        if m.commit > last {
                            tracing::warn!(
                                from = format!("{:x}", m.from),
                                commit = m.commit,
                                last_index = last,
                                "heartbeat commit index past the log; clamped"
                            );
                            m.commit = last;
                        }
                    }
                    _ => {}
                }
                if m.get_msg_type() == MessageType::MsgHeartbeatResponse {
                    self.heartbeat_answered(m.from);
                }
                if let Err(e) = self.node.step(m) {
                    tracing::debug!(error = %e, "raft refused a peer message");
                }
            }
            Request::Unreachable(id) => self.node.report_unreachable(id),
            Request::ReportSnapshot { to, ok } => {
                let status = if ok {
                    raft::SnapshotStatus::Finish
                } else {
                    raft::SnapshotStatus::Failure
                };
                self.node.report_snapshot(to, status);
            }
            Request::Stop => return false,
        }
        true
    }

    fn send(&mut self, msgs: Vec<Message>) {
        for m in &msgs {
            if m.get_msg_type() == MessageType::MsgHeartbeat {
                self.heartbeats.entry(m.to).or_insert_with(Instant::now);
            }
        }
        self.transport.send(msgs);
    }

    /// Records the round trip of the oldest unanswered heartbeat to `from`.
    fn heartbeat_answered(&mut self, from: u64) {
        let Some(sent) = self.heartbeats.remove(&from) else {
            return;
        };
        let metrics = &self.metrics;
        self.rtt
            .entry(from)
            .or_insert_with(|| metrics.peer_rtt.with_label_values(&[&format!("{from:x}")]))
            .observe(sent.elapsed().as_secs_f64());
    }

    /// Hands committed entries to apply, applying conf changes to raft first.
    /// Returns false once apply has gone away.
    fn hand_off(&mut self, entries: Vec<Entry>) -> bool {
        if entries.is_empty() {
            return true;
        }
        for e in &entries {
            match e.get_entry_type() {
                EntryType::EntryConfChange => {
                    let mut cc = ConfChange::default();
                    cc.merge_from_bytes(&e.data)
                        .expect("committed conf change decodes");
                    let cs = self
                        .node
                        .apply_conf_change(&cc)
                        .expect("applying conf change");
                    self.node.mut_store().set_conf_state(cs);
                }
                EntryType::EntryConfChangeV2 => {
                    let mut cc = ConfChangeV2::default();
                    cc.merge_from_bytes(&e.data)
                        .expect("committed conf change decodes");
                    let cs: ConfState = self
                        .node
                        .apply_conf_change(&cc)
                        .expect("applying conf change");
                    self.node.mut_store().set_conf_state(cs);
                }
                EntryType::EntryNormal => {}
            }
        }
        let last = entries.last().map(|e| e.index).expect("non-empty");
        let handed = Instant::now();
        while let Some(&(index, taken)) = self.proposed.front() {
            if index > last {
                break;
            }
            self.proposed.pop_front();
            self.metrics.stages.commit.observe(secs(handed - taken));
        }
        if self
            .committed
            .blocking_send(ToApply::Entries(entries, handed))
            .is_err()
        {
            return false;
        }
        // Handing entries to apply counts as applying them for raft (`advance`
        // and `advance_apply` record it): apply runs them in order, and reads wait
        // for the applied index apply publishes.
        self.node
            .mut_store()
            .compact_to(last.saturating_sub(LOG_TAIL_KEPT));
        true
    }

    /// Installs a received snapshot: the state machine first (through apply, so it
    /// is ordered after everything handed out before), then the log position.
    fn install_snapshot(&mut self, snap: raft::prelude::Snapshot) -> bool {
        let md = snap.get_metadata();
        let (index, term) = (md.index, md.term);
        let dir = self.transport.inbox().take(&snap.data).unwrap_or_else(|| {
            panic!(
                "the snapshot at index {index} (term {term}) raft accepted has no received files"
            )
        });
        fail::fail_point!("raft_before_apply_snapshot");
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let item = ToApply::Snapshot {
            dir,
            index,
            term,
            done: done_tx,
        };
        if self.committed.blocking_send(item).is_err() || done_rx.recv().is_err() {
            return false;
        }
        fail::fail_point!("raft_after_apply_snapshot");
        self.node
            .mut_store()
            .apply_snapshot(index, term, md.get_conf_state().clone());
        self.installed = index;
        self.wal.mark_snapshot(index, term);
        let hs = self.node.store().hard_state().clone();
        self.wal.set_hard_state(&hs);
        if let Err(e) = self.wal.sync() {
            panic!("wal write failed: {e}");
        }
        tracing::info!(index, term, "installed a state snapshot from the leader");
        true
    }

    fn on_ready(&mut self) -> bool {
        if !self.node.has_ready() {
            return true;
        }
        let mut rd = self.node.ready();
        // 1. Leader messages may leave before our own fsync.
        let msgs = rd.take_messages();
        self.send(msgs);
        // 2. A snapshot from the leader replaces state and log.
        if !rd.snapshot().is_empty() && !self.install_snapshot(rd.snapshot().clone()) {
            return false;
        }
        // 3. Committed entries go to apply.
        if !self.hand_off(rd.take_committed_entries()) {
            return false;
        }
        // 4 + 5. Entries and hard state, made durable together.
        fail::fail_point!("raft_before_save");
        if !rd.entries().is_empty() {
            self.wal.append_entries(rd.entries());
            self.node.mut_store().append(rd.entries());
        }
        if let Some(hs) = rd.hs() {
            self.wal.set_hard_state(hs);
            self.node.mut_store().set_hard_state(hs.clone());
        }
        let durable = if rd.must_sync() {
            self.wal.sync()
        } else {
            self.wal.flush()
        };
        if let Err(e) = durable {
            // Acknowledging anything after a failed write would lie; stop here.
            panic!("wal write failed: {e}");
        }
        fail::fail_point!("raft_after_save");
        // 6. Votes and append acks only after the log is durable.
        let msgs = rd.take_persisted_messages();
        self.send(msgs);
        // 7. Read states: reads wait for apply to reach the index.
        for rs in rd.take_read_states() {
            let ctx = rs
                .request_ctx
                .get(8..16)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_be_bytes);
            if let Some(pos) = self.reads.iter().position(|(c, _)| *c == ctx) {
                let (_, reply) = self.reads.swap_remove(pos);
                let _ = reply.send(rs.index);
            }
        }
        // 8. Advance.
        let mut light = self.node.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.node.mut_store().set_commit(commit);
            let hs = self.node.store().hard_state().clone();
            self.wal.set_hard_state(&hs);
            if let Err(e) = self.wal.flush() {
                panic!("wal write failed: {e}");
            }
        }
        let msgs = light.take_messages();
        self.send(msgs);
        if !self.hand_off(light.take_committed_entries()) {
            return false;
        }
        self.node.advance_apply();
        self.publish_status();
        true
    }

    fn publish_status(&mut self) {
        let r = &self.node.raft;
        let previous = self.status.leader.load(Ordering::Relaxed);
        if r.leader_id != previous && r.leader_id != 0 {
            self.status.leader_changes.fetch_add(1, Ordering::Relaxed);
        }
        self.status
            .is_leader
            .store(r.state == StateRole::Leader, Ordering::Release);
        self.status.term.store(r.term, Ordering::Release);
        self.status.leader.store(r.leader_id, Ordering::Release);
        self.status
            .commit
            .store(r.raft_log.committed, Ordering::Release);
        if r.state != StateRole::Leader {
            // What a deposed leader proposed may never commit.
            self.proposed.clear();
        }
        if r.state != StateRole::Leader && !self.reads.is_empty() && r.leader_id == 0 {
            // Without a leader no read index will come; let the waiters time out fast.
            self.reads.clear();
        }
    }
}
