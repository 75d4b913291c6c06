//! Prometheus metrics under etcd's names, types, labels and buckets, so etcd's
//! dashboards and alert rules work unchanged (`docs/metrics.md` lists them).
//!
//! One [`Metrics`] per member holds one registry. Stages record into handles
//! resolved once at start (a counter or histogram is an atomic underneath), so no
//! hot path takes a lock; values the member already keeps (leader, commit and
//! applied index, database size, MVCC counts) are read when `/metrics` is scraped.

pub mod grpc;

use std::sync::Arc;

use prometheus::{
    exponential_buckets, Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// `--metrics`: how much ectd exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Everything but gRPC handling-time histograms.
    #[default]
    Basic,
    /// Adds `grpc_server_handling_seconds`.
    Extensive,
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Level, String> {
        match s {
            "basic" => Ok(Level::Basic),
            "extensive" => Ok(Level::Extensive),
            other => Err(format!(
                "--metrics: unknown value {other:?} (want basic or extensive)"
            )),
        }
    }
}

/// Values read from the member when `/metrics` is scraped.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Known leader's id (0 = none).
    pub leader: u64,
    /// Whether this member leads.
    pub is_leader: bool,
    /// Leader changes this member has seen since start.
    pub leader_changes: u64,
    /// The commit index.
    pub committed: u64,
    /// The applied index.
    pub applied: u64,
    /// Bytes the state machine takes on disk.
    pub db_size: u64,
    /// Bytes of live data in the state machine (an estimate).
    pub db_size_in_use: u64,
    /// Puts since start.
    pub puts: u64,
    /// Keys deleted since start.
    pub deletes: u64,
    /// Ranges served since start.
    pub ranges: u64,
    /// Transactions served since start.
    pub txns: u64,
    /// Live keys.
    pub keys: i64,
}

/// Every metric a member exports, in one registry.
pub struct Metrics {
    registry: Registry,
    /// The backend quota in bytes (`--quota-backend-bytes`, etcd's default for 0).
    pub quota_backend_bytes: Gauge,
    has_leader: IntGauge,
    is_leader: IntGauge,
    leader_changes: IntCounter,
    proposals_committed: IntGauge,
    proposals_applied: IntGauge,
    /// Proposals waiting to be applied (raised and lowered around each proposal).
    pub proposals_pending: IntGauge,
    /// Proposals that failed (dropped without a leader, timed out, stopped).
    pub proposals_failed: IntCounter,
    /// Heartbeats the leader could not queue for a peer.
    pub heartbeat_send_failures: IntCounter,
    /// Entries whose apply took longer than [`SLOW_APPLY`].
    pub slow_apply: IntCounter,
    /// Read-index rounds that timed out or failed.
    pub slow_read_indexes: IntCounter,
    /// WAL fdatasync latency.
    pub wal_fsync: Histogram,
    /// State machine commit (RocksDB write batch) latency.
    pub backend_commit: Histogram,
    db_total_size: IntGauge,
    db_total_size_debugging: IntGauge,
    db_in_use: IntGauge,
    compaction_pause_ms: Histogram,
    compaction_total_ms: Histogram,
    compaction_keys: IntCounter,
    mvcc_put: IntCounter,
    mvcc_delete: IntCounter,
    mvcc_range: IntCounter,
    mvcc_txn: IntCounter,
    keys_total: IntGauge,
    /// Bytes sent to each peer (label `To`, the peer id in hex).
    pub peer_sent: IntCounterVec,
    /// Bytes received from each peer (label `From`).
    pub peer_received: IntCounterVec,
    /// Failed attempts to reach each peer (label `To`): a dial that failed, a
    /// stream that broke, or messages dropped on a full queue.
    pub peer_sent_failures: IntCounterVec,
    /// Raft heartbeat round-trip time per peer (label `To`).
    pub peer_rtt: HistogramVec,
    /// gRPC calls, messages and bytes, per method.
    pub grpc: Arc<grpc::GrpcMetrics>,
    /// Where a proposal's time goes, stage by stage.
    pub stages: ProposalStages,
}

/// Where a proposal's time goes on the member that proposes it, one histogram per
/// stage of `ectd_server_proposal_stage_duration_seconds` (ectd's own family:
/// etcd has no such breakdown). A proposal made on the leader goes through every
/// stage; one forwarded by a follower skips `commit`.
#[derive(Clone)]
pub struct ProposalStages {
    /// From the request handler's send to the raft loop taking the proposal.
    pub queue: Histogram,
    /// From the leader's raft loop taking the proposal to handing the committed
    /// entry to apply: the leader's WAL write and fsync, the followers' acks, and
    /// the raft loop's turns in between.
    pub commit: Histogram,
    /// From the hand-off to apply starting on the entry (the entries before it).
    pub apply_wait: Histogram,
    /// Applying the entry to the state machine, up to the engine write that
    /// commits it (one write for the key-value entries applied in a row).
    pub apply: Histogram,
    /// Handing the entry's events to the watchers.
    pub notify: Histogram,
    /// From the answer leaving apply to the request handler running again.
    pub wake: Histogram,
    /// The whole proposal as the request handler sees it.
    pub total: Histogram,
}

impl ProposalStages {
    fn new(r: &Registry) -> ProposalStages {
        let vec = register(
            r,
            HistogramVec::new(
                HistogramOpts::new(
                    "ectd_server_proposal_stage_duration_seconds",
                    "Time a proposal spends in each stage between the request handler and its answer.",
                )
                .buckets(exponential_buckets(0.000_01, 2.0, 18).expect("valid buckets")),
                &["stage"],
            )
            .expect("valid metric"),
        );
        let stage = |name: &str| vec.with_label_values(&[name]);
        ProposalStages {
            queue: stage("queue"),
            commit: stage("commit"),
            apply_wait: stage("apply_wait"),
            apply: stage("apply"),
            notify: stage("notify"),
            wake: stage("wake"),
            total: stage("total"),
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// An apply slower than this counts in `etcd_server_slow_apply_total`, as in etcd.
pub const SLOW_APPLY: std::time::Duration = std::time::Duration::from_millis(100);

fn register<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    r.register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(r, IntGauge::new(name, help).expect("valid metric"))
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(r, IntCounter::new(name, help).expect("valid metric"))
}

fn counter_vec(r: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric"),
    )
}

/// A histogram in milliseconds with etcd's doubling buckets from `start`.
fn ms_histogram(r: &Registry, name: &str, help: &str, start: f64, count: usize) -> Histogram {
    register(
        r,
        Histogram::with_opts(
            HistogramOpts::new(name, help)
                .buckets(exponential_buckets(start, 2.0, count).expect("valid buckets")),
        )
        .expect("valid metric"),
    )
}

/// etcd's disk latency buckets: 1ms doubling to about 8s.
fn disk_buckets() -> Vec<f64> {
    exponential_buckets(0.001, 2.0, 14).expect("valid buckets")
}

impl Metrics {
    /// A registry with every metric at zero; `etcd_version` is reported by
    /// `etcd_server_version`, and `level` decides the gRPC histograms.
    pub fn new(etcd_version: &str, level: Level) -> Arc<Metrics> {
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("process metrics register once");
        let version = register(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "etcd_server_version",
                    "Which version is running. 1 for 'server_version' label with current version.",
                ),
                &["server_version"],
            )
            .expect("valid metric"),
        );
        version.with_label_values(&[etcd_version]).set(1);
        // etcd's default quota until the member sets its own.
        let quota = register(
            &r,
            Gauge::new(
                "etcd_server_quota_backend_bytes",
                "Current backend storage quota size in bytes.",
            )
            .expect("valid metric"),
        );
        quota.set(crate::alarm::quota::DEFAULT_BYTES as f64);
        let histogram = |name: &str, help: &str| {
            register(
                &r,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(disk_buckets()))
                    .expect("valid metric"),
            )
        };
        let m = Metrics {
            has_leader: gauge(
                &r,
                "etcd_server_has_leader",
                "Whether or not a leader exists. 1 is existence, 0 is not.",
            ),
            is_leader: gauge(
                &r,
                "etcd_server_is_leader",
                "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            ),
            leader_changes: counter(
                &r,
                "etcd_server_leader_changes_seen_total",
                "The number of leader changes seen.",
            ),
            proposals_committed: gauge(
                &r,
                "etcd_server_proposals_committed_total",
                "The total number of consensus proposals committed.",
            ),
            proposals_applied: gauge(
                &r,
                "etcd_server_proposals_applied_total",
                "The total number of consensus proposals applied.",
            ),
            proposals_pending: gauge(
                &r,
                "etcd_server_proposals_pending",
                "The current number of pending proposals to commit.",
            ),
            proposals_failed: counter(
                &r,
                "etcd_server_proposals_failed_total",
                "The total number of failed proposals seen.",
            ),
            heartbeat_send_failures: counter(
                &r,
                "etcd_server_heartbeat_send_failures_total",
                "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
            ),
            slow_apply: counter(
                &r,
                "etcd_server_slow_apply_total",
                "The total number of slow apply requests (likely overloaded from slow disk).",
            ),
            slow_read_indexes: counter(
                &r,
                "etcd_server_slow_read_indexes_total",
                "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
            ),
            wal_fsync: histogram(
                "etcd_disk_wal_fsync_duration_seconds",
                "The latency distributions of fsync called by WAL.",
            ),
            backend_commit: histogram(
                "etcd_disk_backend_commit_duration_seconds",
                "The latency distributions of commit called by backend.",
            ),
            db_total_size: gauge(
                &r,
                "etcd_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.",
            ),
            db_total_size_debugging: gauge(
                &r,
                "etcd_debugging_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.",
            ),
            db_in_use: gauge(
                &r,
                "etcd_mvcc_db_total_size_in_use_in_bytes",
                "Total size of the underlying database logically in use in bytes.",
            ),
            compaction_pause_ms: ms_histogram(
                &r,
                "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
                "Bucketed histogram of db compaction pause duration.",
                1.0,
                13,
            ),
            compaction_total_ms: ms_histogram(
                &r,
                "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
                "Bucketed histogram of db compaction total duration.",
                100.0,
                14,
            ),
            compaction_keys: counter(
                &r,
                "etcd_debugging_mvcc_db_compaction_keys_total",
                "Total number of db keys compacted.",
            ),
            mvcc_put: counter(
                &r,
                "etcd_mvcc_put_total",
                "Total number of puts seen by this member.",
            ),
            mvcc_delete: counter(
                &r,
                "etcd_mvcc_delete_total",
                "Total number of deletes seen by this member.",
            ),
            mvcc_range: counter(
                &r,
                "etcd_mvcc_range_total",
                "Total number of ranges seen by this member.",
            ),
            mvcc_txn: counter(
                &r,
                "etcd_mvcc_txn_total",
                "Total number of txns seen by this member.",
            ),
            keys_total: gauge(
                &r,
                "etcd_debugging_mvcc_keys_total",
                "Total number of keys.",
            ),
            peer_sent: counter_vec(
                &r,
                "etcd_network_peer_sent_bytes_total",
                "The total number of bytes sent to peers.",
                "To",
            ),
            peer_received: counter_vec(
                &r,
                "etcd_network_peer_received_bytes_total",
                "The total number of bytes received from peers.",
                "From",
            ),
            peer_sent_failures: counter_vec(
                &r,
                "etcd_network_peer_sent_failures_total",
                "The total number of send failures from peers.",
                "To",
            ),
            peer_rtt: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "etcd_network_peer_round_trip_time_seconds",
                        "Round-Trip-Time histogram between peers",
                    )
                    .buckets(exponential_buckets(0.0001, 2.0, 14).expect("valid buckets")),
                    &["To"],
                )
                .expect("valid metric"),
            ),
            grpc: Arc::new(grpc::GrpcMetrics::new(&r, level)),
            stages: ProposalStages::new(&r),
            quota_backend_bytes: quota,
            registry: r,
        };
        Arc::new(m)
    }

    /// Where the compactor records its batches, compactions and deletions.
    pub fn compactor(&self) -> crate::mvcc::compactor::CompactorMetrics {
        crate::mvcc::compactor::CompactorMetrics {
            pause_ms: self.compaction_pause_ms.clone(),
            total_ms: self.compaction_total_ms.clone(),
            keys: self.compaction_keys.clone(),
        }
    }

    /// Brings the values read from the member up to date.
    pub fn refresh(&self, s: &Snapshot) {
        fn catch_up(c: &IntCounter, to: u64) {
            let now = c.get();
            if to > now {
                c.inc_by(to - now);
            }
        }
        self.has_leader.set(i64::from(s.leader != 0));
        self.is_leader.set(i64::from(s.is_leader));
        catch_up(&self.leader_changes, s.leader_changes);
        self.proposals_committed.set(s.committed as i64);
        self.proposals_applied.set(s.applied as i64);
        self.db_total_size.set(s.db_size as i64);
        self.db_total_size_debugging.set(s.db_size as i64);
        self.db_in_use.set(s.db_size_in_use as i64);
        catch_up(&self.mvcc_put, s.puts);
        catch_up(&self.mvcc_delete, s.deletes);
        catch_up(&self.mvcc_range, s.ranges);
        catch_up(&self.mvcc_txn, s.txns);
        self.keys_total.set(s.keys);
    }

    /// Every metric in Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding metrics into memory");
        out
    }
}
