//! The member: proposes writes through raft and waits for them by request id,
//! serves linearizable reads through batched ReadIndex rounds, and wires the raft
//! loop's committed entries to the apply task.

mod apply_loop;
mod auto_compact;
mod compact_check;
pub mod corrupt;
mod identity;
mod peer;
mod quota;
mod renew;
mod tasks;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ectd_proto::etcdserverpb::ResponseHeader;
use ectd_proto::raftcmd::{command::Op, Command, Member, Publish};
use prost::Message as _;
use raft::prelude::ConfChange;
use tokio::sync::{mpsc, oneshot, watch};

use crate::alarm::{AlarmStore, Quota};
use crate::apply::{Applier, Outcome};
use crate::bootstrap::{self, BootstrapError, Opened};
use crate::config::Config;
use crate::error::Error;
use crate::lease::{expiry, Lessor};
use crate::membership;
use crate::metrics::{Metrics, Snapshot};
use crate::mvcc::{Compactor, Store};
use crate::raft::{
    LogStore, PeerService, Progress, RaftSettings, RaftStatus, Request, SnapshotInbox, ToApply,
    Transport,
};
use crate::snapshot::Exporter;
use crate::watch::{Headers, Hub};
use apply_loop::{peer_urls, spawn_apply, ApplyTask};
pub use auto_compact::AutoCompaction;

/// Limits the API layer enforces, from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// How long a request may wait for raft before `request timed out`.
    pub request_timeout: Duration,
    /// Shortest lease TTL granted, in seconds.
    pub min_lease_ttl: i64,
    /// The election timeout.
    pub election_timeout: Duration,
}

/// A proposal's outcome, and when apply (or the NOSPACE task) answered it.
type Answer = (Outcome, Instant);
type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>>;
/// A command refused for the quota, with whoever waits for it.
type Refused = (Option<oneshot::Sender<Answer>>, Outcome);
type NospaceSender = mpsc::Sender<Refused>;
/// Refusals waiting for this member's NOSPACE alarm; more are answered at once.
const NOSPACE_QUEUE: usize = 256;
type ReadWaiter = oneshot::Sender<Result<(), Error>>;

/// A running member.
pub struct Server {
    member_id: u64,
    cluster_id: u64,
    limits: Limits,
    etcd_version: String,
    name: String,
    client_urls: Vec<String>,
    cluster_token: String,
    transport: Arc<Transport>,
    removed: Arc<tokio::sync::Notify>,
    /// Whether this member is a learner, as last applied (kept by apply so the
    /// request path need not read the membership).
    learner: Arc<AtomicBool>,
    store: Arc<Store>,
    compactor: Arc<Compactor>,
    lessor: Arc<Lessor>,
    v2: Arc<crate::v2::V2Store>,
    auth: Arc<crate::auth::AuthStore>,
    client_cert_auth: bool,
    enable_v2: bool,
    started_at_nanos: i64,
    /// True once this member's name and client URLs are in the applied membership.
    published: watch::Sender<bool>,
    hub: Arc<Hub>,
    raft: Mutex<Option<std::sync::mpsc::Sender<Request>>>,
    status: Arc<RaftStatus>,
    waiters: Waiters,
    next_request: AtomicU64,
    applied: watch::Receiver<u64>,
    reads: mpsc::UnboundedSender<ReadWaiter>,
    renews: mpsc::UnboundedSender<renew::RenewWaiter>,
    /// Leases this member renewed in memory while leading, still to replicate.
    leader_renewals: Arc<renew::LeaderRenewals>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    metrics: Arc<Metrics>,
    /// The data directory's lock, held as long as the member runs.
    _lock: std::fs::File,
    /// Where snapshot downloads are staged (`member/snap`).
    snap_dir: std::path::PathBuf,
    /// Snapshot downloads being prepared or sent at once.
    downloads: Arc<tokio::sync::Semaphore>,
    alarms: Arc<AlarmStore>,
    downgrade: Arc<crate::downgrade::DowngradeStore>,
    quota: Quota,
    /// How this member dials peers at `https://` URLs.
    peer_tls: Option<Arc<rustls::ClientConfig>>,
}

/// Snapshot downloads served at the same time; more wait their turn.
const CONCURRENT_DOWNLOADS: usize = 2;

impl Server {
    /// Starts raft, apply and the read-index batcher over an opened data directory;
    /// peers at `https://` URLs are reached with `peer_tls`. Must be called inside
    /// a tokio runtime.
    pub fn start(
        cfg: &Config,
        opened: Opened,
        peer_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Arc<Server>, BootstrapError> {
        let Opened {
            engine,
            mut wal,
            replay,
            conf_state,
            member_id,
            cluster_id,
            lock,
        } = opened;
        let metrics = Metrics::new(&cfg.etcd_version, cfg.metrics);
        engine.observe_commits(metrics.backend_commit.clone());
        metrics
            .quota_backend_bytes
            .set(Quota::gauge_value(cfg.quota_backend_bytes));
        match cfg.quota_backend_bytes {
            q if q < 0 => tracing::info!(quota_size_bytes = q, "disabled backend quota"),
            q if q > crate::alarm::quota::MAX_BYTES => tracing::warn!(
                quota_size_bytes = q,
                quota_maximum_size_bytes = crate::alarm::quota::MAX_BYTES,
                "quota exceeds the maximum value"
            ),
            q => tracing::info!(
                quota_size_bytes = Quota::gauge_value(q) as i64,
                "enabled backend quota"
            ),
        }
        let store = Arc::new(Store::open(engine));
        let lessor = Arc::new(Lessor::load(store.engine()));
        let v2 = crate::v2::V2Store::load(store.engine());
        let auth = Arc::new(crate::auth::AuthStore::load(
            store.engine(),
            cfg.auth_tokens()?,
            cfg.bcrypt_cost,
        ));
        let quota = Quota::from_flag(cfg.quota_backend_bytes);
        let auto_compaction = cfg.auto_compaction()?;
        let compactor = Compactor::start(
            store.engine().clone(),
            cfg.compactor_settings(),
            Some(metrics.compactor()),
        );
        let applier = Applier::new(store.clone(), lessor.clone(), v2.clone(), auth.clone())
            .with_quota(quota)
            .with_compactor(compactor.clone());
        let alarms = applier.alarms().clone();
        let downgrade = applier.downgrade().clone();
        let applied_index = applier.persisted_applied_index();

        let mut hs = replay.hard_state;
        if hs.commit < applied_index {
            // Everything applied was committed; the lazily written commit index lags.
            hs.commit = applied_index;
        }
        let mut offset = replay.snapshot.unwrap_or((0, 0));
        let mut entries = replay.entries;
        let last = entries.last().map_or(offset.0, |e| e.index);
        if applied_index > last {
            // A state snapshot was installed but the member stopped before the WAL
            // recorded it: the state is the snapshot's, so the log starts after it.
            let term = applier.persisted_applied_term();
            tracing::warn!(
                index = applied_index,
                term,
                wal_last_index = last,
                "the state is ahead of the WAL (a snapshot install the WAL had not recorded); the log restarts after it"
            );
            entries.clear();
            offset = (applied_index, term);
            wal.mark_snapshot(applied_index, term);
            wal.set_hard_state(&hs);
            wal.sync().map_err(|e| {
                BootstrapError::Snapshot(format!("recording the snapshot in the WAL: {e}"))
            })?;
        }
        let mut log = LogStore::new(hs, conf_state, offset, entries);
        let snap_dir = cfg.data_dir().join("member").join("snap");
        log.set_snapshot_source(Box::new(Exporter::new(
            store.engine().clone(),
            snap_dir.clone(),
        )));

        let (committed_tx, committed_rx) = mpsc::channel::<ToApply>(64);
        let (durable_tx, durable_rx) = std::sync::mpsc::channel();
        let (raft_tx, raft_rx) = crate::raft::channel();
        let removed = Arc::new(tokio::sync::Notify::new());
        let learner = Arc::new(AtomicBool::new(
            membership::get(store.engine(), member_id).is_some_and(|m| m.is_learner),
        ));
        crate::backup::download::clear_staged(&snap_dir);
        let inbox = Arc::new(SnapshotInbox::new(snap_dir.clone()));
        let transport = Transport::new(
            cluster_id,
            member_id,
            raft_tx.clone(),
            removed.clone(),
            inbox,
            peer_tls.clone(),
            metrics.clone(),
        );
        let mut members = membership::list(store.engine());
        if members.is_empty() {
            members = bootstrap::initial_members(cfg)?;
        }
        transport.set_peers(&peer_urls(&members));
        let raft = crate::raft::spawn(
            RaftSettings {
                id: member_id,
                tick: cfg.tick(),
                election_ticks: cfg.election_ticks(),
                applied: applied_index,
                metrics: metrics.clone(),
            },
            log,
            wal,
            committed_tx,
            durable_rx,
            (raft_tx, raft_rx),
            transport.clone(),
        )?;

        // Watch responses are fragmented where etcd fragments them: past the request
        // size limit plus its gRPC allowance.
        let hub = Hub::new(
            store.clone(),
            Headers {
                cluster_id,
                member_id,
                status: raft.status.clone(),
            },
            cfg.max_request_bytes + crate::api::v3::GRPC_OVERHEAD_BYTES,
        );
        let waiters: Waiters = Arc::default();
        let (applied_tx, applied_rx) = watch::channel(applied_index);
        let (nospace_tx, nospace_rx) = mpsc::channel(NOSPACE_QUEUE);
        let apply_thread = spawn_apply(
            ApplyTask {
                applier,
                persisted: applied_index,
                snapshot_count: cfg.snapshot_count.max(1),
                waiters: waiters.clone(),
                applied: applied_tx,
                durable: durable_tx,
                transport: transport.clone(),
                self_id: member_id,
                removed: removed.clone(),
                learner: learner.clone(),
                hub: hub.clone(),
                slow_apply: metrics.slow_apply.clone(),
                stages: metrics.stages.clone(),
                nospace: nospace_tx,
            },
            committed_rx,
        );

        let (reads_tx, reads_rx) = mpsc::unbounded_channel();
        let (renews_tx, renews_rx) = mpsc::unbounded_channel();
        let server = Arc::new(Server {
            member_id,
            cluster_id,
            limits: Limits {
                max_request_bytes: cfg.max_request_bytes,
                max_txn_ops: cfg.max_txn_ops,
                request_timeout: Duration::from_millis(5000 + 2 * cfg.election_timeout),
                min_lease_ttl: cfg.min_lease_ttl(),
                election_timeout: Duration::from_millis(cfg.election_timeout),
            },
            etcd_version: cfg.etcd_version.clone(),
            name: cfg.name.clone(),
            client_urls: cfg.advertise_client_urls.clone(),
            cluster_token: cfg.initial_cluster_token.clone(),
            transport,
            removed,
            learner,
            store,
            compactor,
            lessor,
            v2,
            auth,
            client_cert_auth: cfg.tls.client_cert_auth,
            enable_v2: cfg.enable_v2,
            started_at_nanos: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as i64)
                .unwrap_or(0),
            published: watch::channel(false).0,
            hub,
            raft: Mutex::new(Some(raft.requests)),
            status: raft.status,
            waiters,
            next_request: AtomicU64::new(rand::random::<u64>() >> 1),
            applied: applied_rx,
            reads: reads_tx,
            renews: renews_tx,
            leader_renewals: Arc::default(),
            threads: Mutex::new(vec![raft.thread, apply_thread]),
            metrics,
            _lock: lock,
            snap_dir,
            downloads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DOWNLOADS)),
            alarms,
            downgrade,
            quota,
            peer_tls,
        });
        tokio::spawn(quota::raise_nospace(Arc::downgrade(&server), nospace_rx));
        tokio::spawn(corrupt::periodic(
            Arc::downgrade(&server),
            cfg.corrupt_check_time,
        ));
        tokio::spawn(compact_check::periodic(
            Arc::downgrade(&server),
            cfg.compact_hash_check_enabled,
            cfg.compact_hash_check_time,
        ));
        tokio::spawn(tasks::read_batcher(Arc::downgrade(&server), reads_rx));
        tokio::spawn(tasks::publish(Arc::downgrade(&server)));
        tokio::spawn(renew::renew_batcher(Arc::downgrade(&server), renews_rx));
        tokio::spawn(renew::replicate_renewals(
            Arc::downgrade(&server),
            server.leader_renewals.clone(),
        ));
        tokio::spawn(expiry::run(
            Arc::downgrade(&server),
            expiry::ExpirySettings {
                promote_grace: Duration::from_millis(cfg.election_timeout),
                checkpoint_interval: cfg.lease_checkpoint_interval,
            },
        ));
        tokio::spawn(crate::v2::expire_keys(Arc::downgrade(&server)));
        if let Some(mode) = auto_compaction {
            tokio::spawn(auto_compact::run(Arc::downgrade(&server), mode));
        }
        tokio::spawn(tasks::progress_ticker(
            Arc::downgrade(&server),
            cfg.watch_progress_notify_interval,
        ));
        Ok(server)
    }

    /// Where snapshot downloads are staged.
    pub fn snap_dir(&self) -> &std::path::Path {
        &self.snap_dir
    }

    /// The permits snapshot downloads take.
    pub fn downloads(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.downloads
    }

    /// The compactor deleting compacted versions on this member.
    pub fn compactor(&self) -> &Compactor {
        &self.compactor
    }

    /// The member's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Every metric in Prometheus text format, values read from the member now.
    pub fn render_metrics(&self) -> Vec<u8> {
        let stats = self.store.stats();
        let db_size = self.store.engine().size_bytes();
        let db_size_in_use = self.store.engine().size_in_use_bytes();
        self.metrics.refresh(&Snapshot {
            leader: self.status.leader(),
            is_leader: self.status.is_leader(),
            leader_changes: self.status.leader_changes(),
            committed: self.status.commit(),
            applied: *self.applied.borrow(),
            db_size,
            db_size_in_use,
            puts: stats.puts(),
            deletes: stats.deletes(),
            ranges: stats.ranges(),
            txns: stats.txns(),
            keys: stats.keys(),
        });
        self.metrics.render()
    }

    /// A serializable read of the local state, as the liveness probe makes one.
    pub fn serializable_read(&self) -> Result<(), Error> {
        if self.is_stopped() {
            return Err(Error::Stopped);
        }
        let view = self.store.read_view();
        crate::mvcc::KvRead::range(
            &view,
            b"health",
            crate::mvcc::RangeEnd::Single,
            crate::mvcc::RangeOptions {
                count_only: true,
                ..Default::default()
            },
        )
        .map(|_| ())
        .map_err(Error::from)
    }

    /// This member's id.
    pub fn member_id(&self) -> u64 {
        self.member_id
    }

    /// The cluster's id.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// The backend quota writes are held to.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The API limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The target release of the cluster's enabled downgrade, as last applied
    /// on this member.
    pub fn downgrade_target(&self) -> Option<String> {
        self.downgrade.target()
    }

    /// The etcd version reported to clients.
    pub fn etcd_version(&self) -> &str {
        &self.etcd_version
    }

    /// The MVCC store, for reads.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The leases of the applied state.
    pub fn lessor(&self) -> &Lessor {
        &self.lessor
    }

    /// The v2 store.
    pub fn v2(&self) -> &Arc<crate::v2::V2Store> {
        &self.v2
    }

    /// The auth store.
    pub fn auth(&self) -> &Arc<crate::auth::AuthStore> {
        &self.auth
    }

    /// Whether the v2 HTTP API is served (`--enable-v2`).
    pub fn v2_enabled(&self) -> bool {
        self.enable_v2
    }

    /// Whether a client certificate's common name names the user
    /// (`--client-cert-auth`).
    pub fn client_cert_auth(&self) -> bool {
        self.client_cert_auth
    }

    /// This member's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When this member started, in Unix nanoseconds.
    pub fn started_at_nanos(&self) -> i64 {
        self.started_at_nanos
    }

    /// The member's watchers.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Whether [`Server::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.raft.lock().expect("raft sender lock").is_none()
    }

    /// Raft facts.
    pub fn raft_status(&self) -> &RaftStatus {
        &self.status
    }

    /// The last applied raft index.
    pub fn applied_index(&self) -> u64 {
        *self.applied.borrow()
    }

    /// A response header with this member's ids and the current term; `revision` 0
    /// means the store's current revision.
    pub fn header(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.member_id,
            revision: if revision == 0 {
                self.store.current_rev()
            } else {
                revision
            },
            raft_term: self.status.term(),
        }
    }

    fn raft_sender(&self) -> Result<std::sync::mpsc::Sender<Request>, Error> {
        self.raft
            .lock()
            .expect("raft sender lock")
            .clone()
            .ok_or(Error::Stopped)
    }

    /// Proposes `op`, a member's own command that no permission check applies
    /// to, through raft and waits until it is applied on this member.
    pub async fn propose(&self, op: Op) -> Outcome {
        self.propose_command(op, None).await
    }

    /// Proposes a client's `op`, checked when applied against the identity `id`.
    pub async fn propose_as(&self, op: Op, id: &crate::auth::Identity) -> Outcome {
        self.propose_command(op, Some(crate::auth::header_of(id)))
            .await
    }

    async fn propose_command(
        &self,
        op: Op,
        auth: Option<ectd_proto::raftcmd::AuthHeader>,
    ) -> Outcome {
        let request_id = self.next_request_id();
        let data = Command {
            request_id,
            auth,
            op: Some(op),
        }
        .encode_to_vec();
        if data.len() > self.limits.max_request_bytes {
            return Err(Error::RequestTooLarge);
        }
        self.propose_and_wait(request_id, |dropped| Request::Propose {
            data,
            dropped,
            sent: Instant::now(),
        })
        .await
    }

    /// Proposes a membership change and waits until it is applied on this member.
    pub async fn propose_conf_change(&self, mut cc: ConfChange) -> Outcome {
        let request_id = self.next_request_id();
        cc.id = request_id;
        self.propose_and_wait(request_id, |dropped| Request::ProposeConfChange {
            cc,
            dropped,
        })
        .await
    }

    fn next_request_id(&self) -> u64 {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    async fn propose_and_wait(
        &self,
        request_id: u64,
        request: impl FnOnce(oneshot::Sender<()>) -> Request,
    ) -> Outcome {
        let raft = self.raft_sender()?;
        let started = Instant::now();
        let (done_tx, done_rx) = oneshot::channel::<Answer>();
        let (dropped_tx, mut dropped_rx) = oneshot::channel();
        self.waiters
            .lock()
            .expect("waiters lock")
            .insert(request_id, done_tx);
        // However this ends (answered, refused, timed out, or the caller gave up),
        // the waiter goes; apply may already have taken it.
        let _forget = Forget {
            waiters: &self.waiters,
            request_id,
        };
        if raft.send(request(dropped_tx)).is_err() {
            return Err(Error::Stopped);
        }
        let _pending = Pending::new(&self.metrics);
        let outcome = tokio::select! {
            res = done_rx => match res {
                Ok((outcome, answered)) => {
                    let stages = &self.metrics.stages;
                    stages.wake.observe(answered.elapsed().as_secs_f64());
                    stages.total.observe(started.elapsed().as_secs_f64());
                    outcome
                }
                Err(_) => Err(Error::Stopped),
            },
            Ok(()) = &mut dropped_rx => {
                Err(if self.status.leader() == 0 { Error::NoLeader } else { Error::Timeout })
            }
            _ = tokio::time::sleep(self.limits.request_timeout) => Err(Error::Timeout),
        };
        if matches!(
            outcome,
            Err(Error::NoLeader | Error::Timeout | Error::Stopped)
        ) {
            self.metrics.proposals_failed.inc();
        }
        outcome
    }

    /// Sends `req` to the raft loop.
    pub fn raft_request(&self, req: Request) -> Result<(), Error> {
        self.raft_sender()?.send(req).map_err(|_| Error::Stopped)
    }

    /// The leader's view of replication (empty peers on a follower).
    pub async fn progress(&self) -> Result<Progress, Error> {
        let (tx, rx) = oneshot::channel();
        self.raft_request(Request::Progress(tx))?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Whether this member is a learner.
    pub fn is_learner(&self) -> bool {
        self.learner.load(Ordering::Acquire)
    }

    /// The cluster token this member was started with.
    pub fn cluster_token(&self) -> &str {
        &self.cluster_token
    }

    /// Keeps lease `id` alive; returns the lease's TTL, or 0 if it does not exist.
    /// The leader renews a lease it knows in memory once it has confirmed its
    /// leadership, and replicates the renewal right after; anything else goes
    /// through raft, so every member restarts the TTL before the answer. Concurrent
    /// keep-alives share one proposal.
    pub async fn renew_lease(&self, id: i64) -> Result<i64, Error> {
        if let Some(ttl) = renew::renew_on_leader(self, id).await {
            return Ok(ttl);
        }
        let (tx, rx) = oneshot::channel();
        self.renews.send((id, tx)).map_err(|_| Error::Stopped)?;
        rx.await.unwrap_or(Err(Error::Stopped))
    }

    /// Waits until this member has applied everything committed before the call
    /// (a linearizable read barrier). Concurrent callers share one ReadIndex round.
    pub async fn read_barrier(&self) -> Result<(), Error> {
        fail::fail_point!("unsafe_read_without_read_index", |_| Ok(()));
        let (tx, rx) = oneshot::channel();
        self.reads.send(tx).map_err(|_| Error::Stopped)?;
        rx.await.unwrap_or(Err(Error::Stopped))
    }

    /// The peer port's gRPC service for this member.
    pub fn peer_service(self: &Arc<Self>) -> Result<PeerService, Error> {
        Ok(PeerService::new(
            self.cluster_id,
            self.member_id,
            self.raft_sender()?,
            self.transport.inbox().clone(),
            Box::new(peer::MemberDirectory(Arc::downgrade(self))),
        )
        .count_received(self.metrics.peer_received.clone())
        .hash_with(Arc::new(peer::MemberHasher(Arc::downgrade(self)))))
    }

    /// Resolves once this member's attributes are published to the cluster, as
    /// etcd members wait before serving clients.
    pub async fn published(&self) {
        let mut rx = self.published.subscribe();
        let _ = rx.wait_for(|p| *p).await;
    }

    /// Resolves once this member has been removed from the cluster.
    pub async fn removed(&self) {
        self.removed.notified().await
    }

    /// Every member of the cluster as the applied state records it.
    pub fn members(&self) -> Vec<Member> {
        membership::list(self.store.engine())
    }

    /// Stops raft and apply, then flushes the state machine. Requests still in flight
    /// get `server stopped`.
    pub fn stop(&self) {
        if let Some(raft) = self.raft.lock().expect("raft sender lock").take() {
            let _ = raft.send(Request::Stop);
        }
        self.transport.stop();
        let threads: Vec<_> = self
            .threads
            .lock()
            .expect("threads lock")
            .drain(..)
            .collect();
        for t in threads {
            let name = t.thread().name().unwrap_or("?").to_string();
            if t.join().is_err() {
                tracing::error!(thread = name, "thread panicked during shutdown");
            }
        }
        // After apply (which feeds it), before the final flush: a compaction under
        // way stops after its batch and resumes at the next start.
        self.compactor.stop();
        if let Err(e) = self.store.engine().flush() {
            tracing::error!(error = %e, "flushing the state machine on shutdown failed");
        }
        tracing::info!("member stopped");
    }
}

/// One proposal, counted in `etcd_server_proposals_pending` while it waits.
struct Pending<'a> {
    metrics: &'a Metrics,
}

impl<'a> Pending<'a> {
    fn new(metrics: &'a Metrics) -> Pending<'a> {
        metrics.proposals_pending.inc();
        Pending { metrics }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.metrics.proposals_pending.dec();
    }
}

/// Removes a proposal's waiter when dropped.
struct Forget<'a> {
    waiters: &'a Waiters,
    request_id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.waiters
            .lock()
            .expect("waiters lock")
            .remove(&self.request_id);
    }
}
