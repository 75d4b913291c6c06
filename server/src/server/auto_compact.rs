//! Automatic compaction (`--auto-compaction-mode`, `--auto-compaction-retention`),
//! on etcd 3.4's schedule. Only the leader proposes compactions; a follower's
//! schedule keeps running (periodic mode goes on sampling revisions) but proposes
//! nothing, as etcd pauses its compactor on followers.
//!
//! - **periodic** (retention a duration P): the current revision is sampled every
//!   `min(P, 1h) / 10`; the first compaction happens P after start, at the revision
//!   sampled P earlier; after a success the next waits `min(P, 1h)`, again at the
//!   revision sampled P earlier; after a failure it is retried at the next sample.
//! - **revision** (retention N): every 5 minutes, compact at `current - N` unless
//!   that is not positive or is the revision compacted last time.

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use ectd_proto::etcdserverpb::CompactionRequest;
use ectd_proto::raftcmd::command::Op;
use tokio::time::Instant;

use super::Server;
use crate::config::parse_go_duration;
use crate::error::Error;

/// How often revision mode checks, as in etcd.
pub const REVISION_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Periodic mode's interval between compactions is at most this long.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Periodic mode samples the revision this many times per interval.
const SAMPLES_PER_INTERVAL: u32 = 10;

/// What the leader compacts on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoCompaction {
    /// Keep this much time of history.
    Periodic(Duration),
    /// Keep this many revisions.
    Revision(i64),
}

impl AutoCompaction {
    /// Reads `--auto-compaction-mode` and `--auto-compaction-retention` as etcd
    /// does: a non-negative integer is hours (periodic) or revisions (revision),
    /// anything else a Go duration (in revision mode, its nanoseconds count as
    /// revisions, as in etcd). A zero retention turns automatic compaction off.
    pub fn parse(mode: &str, retention: &str) -> Result<Option<AutoCompaction>, String> {
        let retention = retention.trim();
        if !matches!(mode, "" | "periodic" | "revision") {
            return Err(format!("unknown auto-compaction-mode {mode:?}"));
        }
        let amount: u128 = match retention.parse::<i64>() {
            Ok(n) if n >= 0 => {
                if mode == "periodic" {
                    u128::from(n as u64) * 3_600_000_000_000
                } else {
                    n as u128
                }
            }
            _ => parse_go_duration(retention)
                .map_err(|e| format!("error parsing CompactionRetention: {e}"))?
                .as_nanos(),
        };
        if amount == 0 {
            return Ok(None);
        }
        match mode {
            "periodic" => Ok(Some(AutoCompaction::Periodic(Duration::from_nanos(
                u64::try_from(amount).map_err(|_| "auto-compaction-retention is too long")?,
            )))),
            "revision" => Ok(Some(AutoCompaction::Revision(
                i64::try_from(amount).map_err(|_| "auto-compaction-retention is too large")?,
            ))),
            _ => Err(format!("unsupported compaction mode {mode}")),
        }
    }
}

/// What the schedule acts on: the member, or a stand-in in tests.
pub(super) trait Target {
    /// The current revision; `None` once the member is gone (the schedule ends).
    fn revision(&self) -> Option<i64>;
    /// Whether this member leads (only the leader proposes).
    fn is_leader(&self) -> bool;
    /// Proposes a compaction at `rev` and waits for it to be applied.
    fn compact(&self, rev: i64) -> impl Future<Output = Result<(), Error>> + Send;
}

impl Target for Weak<Server> {
    fn revision(&self) -> Option<i64> {
        let s = self.upgrade()?;
        (!s.is_stopped()).then(|| s.store().current_rev())
    }

    fn is_leader(&self) -> bool {
        self.upgrade().is_some_and(|s| s.raft_status().is_leader())
    }

    fn compact(&self, rev: i64) -> impl Future<Output = Result<(), Error>> + Send {
        let server = self.upgrade();
        async move {
            let Some(server) = server else {
                return Err(Error::Stopped);
            };
            server
                .propose(Op::Compaction(CompactionRequest {
                    revision: rev,
                    physical: false,
                }))
                .await
                .map(|_| ())
        }
    }
}

/// Runs `mode`'s schedule against `target` until the member is gone.
pub(super) async fn run(target: impl Target, mode: AutoCompaction) {
    match mode {
        AutoCompaction::Periodic(period) => periodic(target, period).await,
        AutoCompaction::Revision(keep) => revision(target, keep).await,
    }
}

/// Whether a compaction attempt counts as done: it was applied, or history was
/// already compacted past it.
fn done(res: &Result<(), Error>) -> bool {
    matches!(res, Ok(()) | Err(Error::Compacted))
}

/// Periodic mode's schedule, apart from the clock: times are offsets from start.
struct PeriodicSchedule {
    period: Duration,
    interval: Duration,
    /// How often the revision is sampled and the schedule looked at.
    retry: Duration,
    /// Samples kept: the oldest is the revision about one period ago.
    keep: usize,
    samples: std::collections::VecDeque<i64>,
    last_success: Duration,
    wait: Duration,
}

impl PeriodicSchedule {
    fn new(period: Duration) -> PeriodicSchedule {
        let interval = period.min(MAX_INTERVAL);
        let retry = (interval / SAMPLES_PER_INTERVAL).max(Duration::from_millis(1));
        PeriodicSchedule {
            period,
            interval,
            retry,
            keep: (period.as_nanos() / retry.as_nanos()) as usize + 1,
            samples: std::collections::VecDeque::new(),
            last_success: Duration::ZERO,
            // The first compaction waits a whole period; later ones one interval.
            wait: period,
        }
    }

    fn sample(&mut self, rev: i64) {
        self.samples.push_back(rev);
        if self.samples.len() > self.keep {
            self.samples.pop_front();
        }
    }

    /// One retry interval after the last sample, at `now`: the revision to
    /// compact, if one is due.
    fn due(&mut self, now: Duration, leader: bool) -> Option<i64> {
        if !leader || now.saturating_sub(self.last_success) < self.wait {
            return None;
        }
        self.wait = self.interval;
        self.samples.front().copied()
    }

    fn succeeded(&mut self, now: Duration) {
        self.last_success = now;
    }
}

async fn periodic(target: impl Target, period: Duration) {
    let start = Instant::now();
    let mut schedule = PeriodicSchedule::new(period);
    loop {
        let Some(rev) = target.revision() else { return };
        schedule.sample(rev);
        tokio::time::sleep(schedule.retry).await;
        let Some(rev) = schedule.due(start.elapsed(), target.is_leader()) else {
            continue;
        };
        tracing::info!(revision = rev, period = ?schedule.period, "starting auto periodic compaction");
        let res = target.compact(rev).await;
        if done(&res) {
            tracing::info!(revision = rev, "completed auto periodic compaction");
            schedule.succeeded(start.elapsed());
        } else if let Err(e) = res {
            tracing::warn!(revision = rev, error = %e, retry = ?schedule.retry, "failed auto periodic compaction");
        }
    }
}

/// Revision mode's schedule, looked at every [`REVISION_INTERVAL`].
struct RevisionSchedule {
    keep: i64,
    prev: i64,
}

impl RevisionSchedule {
    /// The revision to compact with the store at `current`, if any.
    fn due(&self, current: i64, leader: bool) -> Option<i64> {
        let rev = current - self.keep;
        (leader && rev > 0 && rev != self.prev).then_some(rev)
    }
}

async fn revision(target: impl Target, keep: i64) {
    let mut schedule = RevisionSchedule { keep, prev: 0 };
    loop {
        tokio::time::sleep(REVISION_INTERVAL).await;
        let Some(current) = target.revision() else {
            return;
        };
        let Some(rev) = schedule.due(current, target.is_leader()) else {
            continue;
        };
        tracing::info!(
            revision = rev,
            retention = keep,
            "starting auto revision compaction"
        );
        let res = target.compact(rev).await;
        if done(&res) {
            tracing::info!(revision = rev, "completed auto revision compaction");
            schedule.prev = rev;
        } else if let Err(e) = res {
            tracing::warn!(revision = rev, error = %e, "failed auto revision compaction");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_read_as_etcd_reads_it() {
        let p = |m, r| AutoCompaction::parse(m, r);
        assert_eq!(p("periodic", "0"), Ok(None));
        assert_eq!(p("revision", "0"), Ok(None));
        assert_eq!(
            p("periodic", "1"),
            Ok(Some(AutoCompaction::Periodic(Duration::from_secs(3600))))
        );
        assert_eq!(
            p("periodic", "90s"),
            Ok(Some(AutoCompaction::Periodic(Duration::from_secs(90))))
        );
        assert_eq!(p("revision", "10"), Ok(Some(AutoCompaction::Revision(10))));
        // etcd reads a duration in revision mode as that many nanoseconds.
        assert_eq!(
            p("revision", "1us"),
            Ok(Some(AutoCompaction::Revision(1000)))
        );
        assert!(p("periodic", "-1").is_err());
        assert!(p("periodic", "1 hour").is_err());
        assert!(p("hourly", "1")
            .unwrap_err()
            .contains("unknown auto-compaction-mode"));
    }

    /// Runs the periodic schedule over a member writing one revision a second
    /// from 100 on, for `secs`, every compaction succeeding; returns each
    /// compaction's revision and time.
    fn periodic_run(period: Duration, secs: u64, leader: impl Fn(u64) -> bool) -> Vec<(i64, u64)> {
        let mut s = PeriodicSchedule::new(period);
        let step = s.retry;
        let mut now = Duration::ZERO;
        let mut out = Vec::new();
        while now.as_secs() < secs {
            s.sample(100 + now.as_secs() as i64);
            now += step;
            if let Some(rev) = s.due(now, leader(now.as_secs())) {
                out.push((rev, now.as_secs()));
                s.succeeded(now);
            }
        }
        out
    }

    #[test]
    fn periodic_follows_etcds_schedule() {
        // Samples every 6 s (a tenth of the period), eleven kept. The first
        // compaction comes one period after start, at the first sample; then one
        // every period, at the oldest sample kept (taken 66 s earlier).
        assert_eq!(
            periodic_run(Duration::from_secs(60), 200, |_| true),
            vec![(100, 60), (154, 120), (214, 180)]
        );
        // A day's retention compacts every hour, at the revision of a day ago,
        // from one day after start.
        let day = periodic_run(Duration::from_secs(86_400), 86_400 + 7300, |_| true);
        assert_eq!(day.len(), 3, "{day:?}");
        assert_eq!(day[0], (100, 86_400));
        assert_eq!(day[1].1, 86_400 + 3600);
        assert_eq!(day[2].1, 86_400 + 7200);
        assert!(
            day[1].0 >= 100 + 3600 - 360 && day[1].0 <= 100 + 3600,
            "{day:?}"
        );
        // A follower samples but never compacts; leading later, it compacts at once
        // (the period has passed) at the revision one period back.
        let late = periodic_run(Duration::from_secs(60), 200, |t| t >= 150);
        assert_eq!(late[0], (100 + 84, 150), "{late:?}");
    }

    #[test]
    fn revision_mode_keeps_the_last_n_and_only_the_leader_compacts() {
        let mut s = RevisionSchedule { keep: 100, prev: 0 };
        assert_eq!(s.due(1000, false), None);
        assert_eq!(s.due(50, true), None);
        assert_eq!(s.due(100, true), None);
        assert_eq!(s.due(1000, true), Some(900));
        s.prev = 900;
        // The same revision is not compacted twice.
        assert_eq!(s.due(1000, true), None);
        assert_eq!(s.due(1500, true), Some(1400));
    }
}
