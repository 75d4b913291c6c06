//! The nemesis: a seeded schedule of faults injected into a running [`Cluster`] while the
//! workloads run. Every fault is undone before the next one starts, so each quiet period
//! shows whether the cluster recovers, and the record of what was done (with its time
//! window) goes into the report and the timeline.
//!
//! The same seed, cluster size and set of kinds give the same schedule of choices; what
//! a choice hits can still differ between runs where it depends on the cluster (the
//! current leader, whether a failpoint is reached before the fault window ends).

use std::io;
use std::ops::Range;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::proxy::Fault;

/// A family of faults the nemesis may choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// kill -9 a member, restart it from its data directory.
    Kill,
    /// SIGSTOP a member, SIGCONT it.
    Pause,
    /// Network partitions: isolate the leader, majority/minority, ring, bridge.
    Partition,
    /// Slow or lossy links: delay, or connections reset at random.
    Link,
    /// Leader transfer to a random other member (`MoveLeader`).
    Transfer,
    /// Remove a follower, wipe it, add it back empty.
    Member,
    /// Crash a member at a failpoint inside its write, apply, snapshot or compaction path
    /// (needs an `ectd` built with the `failpoints` feature).
    Failpoint,
}

impl Kind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [Kind; 7] = [
        Kind::Kill,
        Kind::Pause,
        Kind::Partition,
        Kind::Link,
        Kind::Transfer,
        Kind::Member,
        Kind::Failpoint,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::Pause => "pause",
            Kind::Partition => "partition",
            Kind::Link => "link",
            Kind::Transfer => "transfer",
            Kind::Member => "member",
            Kind::Failpoint => "failpoint",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown nemesis `{s}` (one of {})", names.join(", "))
            })
    }
}

/// Crash points the failpoint nemesis arms ([`CRASH`]: the first time it is reached). The
/// snapshot points are armed around a member replacement, which makes the leader send one.
pub const CRASH_POINTS: &[&str] = &[
    "raft_before_save",
    "raft_after_save",
    "apply_before_entry",
    "apply_after_entry",
    "backend_before_commit",
    "backend_after_commit",
    "compact_before_commit",
    "compact_after_commit",
    "compact_between_batches",
    "snapshot_before_send",
    "raft_before_apply_snapshot",
    "raft_after_apply_snapshot",
    "snapshot_install_midway",
];

/// Longest time one fault (inject, hold, undo, wait for recovery) may take.
const STEP_LIMIT: Duration = Duration::from_secs(120);

/// The action the failpoint nemesis arms: crash the first time the point is reached.
const CRASH: &str = "1*panic(failpoint nemesis)";

/// How often and how long faults happen.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The kinds to choose from, uniformly.
    pub kinds: Vec<Kind>,
    /// Milliseconds between one fault's end and the next one's start.
    pub quiet_ms: Range<u64>,
    /// Milliseconds a fault is held before it is undone.
    pub hold_ms: Range<u64>,
}

impl Schedule {
    /// Every kind except failpoints, 2–4 s apart, held 1–3 s.
    pub fn new(kinds: Vec<Kind>) -> Schedule {
        Schedule {
            kinds,
            quiet_ms: 2000..4000,
            hold_ms: 1000..3000,
        }
    }
}

/// One fault as injected: what, where, and when (nanoseconds since the run's epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    /// The family.
    pub kind: Kind,
    /// What exactly, e.g. `kill m2`, `ring`, `delay 120ms m0`, `raft_after_save m3: crashed`.
    pub detail: String,
    /// When it was injected.
    pub start_ns: u64,
    /// When it was undone.
    pub end_ns: u64,
}

/// Injects faults drawn from `schedule` with `rng` until `deadline`, undoing each before
/// the next. Times are recorded relative to `epoch`. Errors are harness failures (a
/// member could not be restarted or re-added), not anomalies.
pub async fn run(
    cluster: &mut Cluster,
    schedule: &Schedule,
    rng: &mut StdRng,
    epoch: Instant,
    deadline: Instant,
) -> io::Result<Vec<FaultRecord>> {
    let mut faults = Vec::new();
    if schedule.kinds.is_empty() {
        tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
        return Ok(faults);
    }
    let ns = |t: Instant| t.saturating_duration_since(epoch).as_nanos() as u64;
    loop {
        let quiet = Duration::from_millis(rng.gen_range(schedule.quiet_ms.clone()));
        let hold = Duration::from_millis(rng.gen_range(schedule.hold_ms.clone()));
        if Instant::now() + quiet + hold > deadline {
            tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
            return Ok(faults);
        }
        tokio::time::sleep(quiet).await;
        let kind = *schedule.kinds.choose(rng).expect("kinds is not empty");
        let start = Instant::now();
        // Every step is bounded: a fault the cluster never recovers from ends the run
        // with an error instead of hanging it.
        let step = tokio::time::timeout(STEP_LIMIT, inject(cluster, kind, hold, rng))
            .await
            .map_err(|_| {
                io::Error::other(format!(
                    "a {} fault did not finish within {STEP_LIMIT:?}",
                    kind.name()
                ))
            })?;
        if let Some(detail) = step? {
            faults.push(FaultRecord {
                kind,
                detail,
                start_ns: ns(start),
                end_ns: ns(Instant::now()),
            });
        }
    }
}

/// Injects one fault of `kind`, holds it for `hold`, undoes it. Returns what was done, or
/// `None` if the cluster's state made the fault pointless (e.g. no agreed leader to
/// isolate while the previous fault settles).
async fn inject(
    cluster: &mut Cluster,
    kind: Kind,
    hold: Duration,
    rng: &mut StdRng,
) -> io::Result<Option<String>> {
    let n = cluster.size();
    let all: Vec<usize> = (0..n).collect();
    let member = rng.gen_range(0..n);
    // Drawn up front so the sequence of draws does not depend on the cluster's answers.
    let variant = rng.gen_range(0..4u32);
    let amount: f64 = rng.gen();
    let point = *CRASH_POINTS.choose(rng).expect("crash points");
    let detail = match kind {
        Kind::Kill => {
            cluster.kill(member)?;
            tokio::time::sleep(hold).await;
            cluster.restart(member)?;
            format!("kill m{member}")
        }
        Kind::Pause => {
            cluster.pause(member)?;
            tokio::time::sleep(hold).await;
            cluster.resume(member)?;
            format!("pause m{member}")
        }
        Kind::Partition => {
            let detail = match variant {
                0 => {
                    let Some(leader) = cluster.leader_among(&all).await else {
                        return Ok(None);
                    };
                    cluster.isolate(leader);
                    format!("isolate leader m{leader}")
                }
                1 => {
                    let (majority, minority) = cluster.split_majority(member);
                    format!("majority {majority:?} | minority {minority:?}")
                }
                2 if n >= 4 => {
                    // Each member reaches its two ring neighbours only: every member is
                    // in some majority, no two majorities are the same.
                    let offset: Vec<usize> = shuffled(&all, rng);
                    let pos = |i: usize| offset.iter().position(|&x| x == i).expect("member");
                    cluster.set_topology(|a, b| {
                        let d = (pos(a) + n - pos(b)) % n;
                        d == 1 || d == n - 1
                    });
                    format!("ring {offset:?}")
                }
                _ => {
                    // Two halves that only `member` connects.
                    let rest: Vec<usize> = shuffled(&all, rng)
                        .into_iter()
                        .filter(|&i| i != member)
                        .collect();
                    let (left, right) = rest.split_at(rest.len() / 2);
                    let (l, r) = (left.to_vec(), right.to_vec());
                    cluster.set_topology(|a, b| {
                        a == member || b == member || (l.contains(&a) == l.contains(&b))
                    });
                    format!("bridge {l:?} <m{member}> {r:?}")
                }
            };
            tokio::time::sleep(hold).await;
            cluster.heal();
            detail
        }
        Kind::Link => {
            let detail = if variant % 2 == 0 {
                let delay = Duration::from_millis(20 + (amount * 280.0) as u64);
                for other in (0..n).filter(|&o| o != member) {
                    cluster.set_link(member, other, Fault::Delay(delay));
                    cluster.set_link(other, member, Fault::Delay(delay));
                }
                format!("delay {}ms m{member}", delay.as_millis())
            } else {
                let loss = 0.02 + amount * 0.2;
                for other in (0..n).filter(|&o| o != member) {
                    cluster.set_link(member, other, Fault::Loss(loss));
                    cluster.set_link(other, member, Fault::Loss(loss));
                }
                format!("loss {:.0}% m{member}", loss * 100.0)
            };
            tokio::time::sleep(hold).await;
            cluster.heal();
            detail
        }
        Kind::Transfer => {
            let Some(leader) = cluster.leader_among(&all).await else {
                return Ok(None);
            };
            let to = (leader + 1 + member % (n - 1).max(1)) % n;
            if to == leader {
                return Ok(None);
            }
            match cluster.transfer_leadership(to).await {
                Ok(()) => format!("move leader m{leader} -> m{to}"),
                Err(e) => format!("move leader m{leader} -> m{to} refused: {e}"),
            }
        }
        Kind::Member => {
            let Some((_, victim)) = follower(cluster, member).await else {
                return Ok(None);
            };
            if !cluster.replace_member(victim, None).await? {
                return Ok(Some(format!(
                    "replace m{victim} refused: unhealthy cluster"
                )));
            }
            // Let it catch up before anything else happens to the cluster.
            cluster
                .wait_for_leader(&all, Duration::from_secs(30))
                .await?;
            format!("replace m{victim}")
        }
        Kind::Failpoint if point.contains("snapshot") => {
            // Snapshots go to members far behind the leader's log: make one by replacing a
            // follower with an empty member, and arm the point on the side that reaches it.
            let Some((leader, victim)) = follower(cluster, member).await else {
                return Ok(None);
            };
            let (armed, spec) = if point == "snapshot_before_send" {
                arm(cluster, leader, point).await?;
                (leader, None)
            } else {
                (victim, Some(format!("{point}={CRASH}")))
            };
            if !cluster.replace_member(victim, spec.as_deref()).await? {
                if armed == leader {
                    let _ = cluster.set_failpoint(armed, point, "off").await;
                }
                return Ok(Some(format!(
                    "replace m{victim} refused: unhealthy cluster"
                )));
            }
            tokio::time::sleep(hold).await;
            let crashed = !cluster.is_running(armed);
            if crashed || armed == victim {
                // A restart also clears the point on a member that did not reach it.
                cluster.restart(armed)?;
            } else {
                let _ = cluster.set_failpoint(armed, point, "off").await;
            }
            cluster
                .wait_for_leader(&all, Duration::from_secs(30))
                .await?;
            let outcome = if crashed { "crashed" } else { "not reached" };
            format!("replace m{victim}, {point} m{armed}: {outcome}")
        }
        Kind::Failpoint => {
            arm(cluster, member, point).await?;
            if point.starts_with("compact") {
                // Give the compaction points something to interrupt.
                compact_behind(cluster, member).await;
            }
            tokio::time::sleep(hold).await;
            let crashed = !cluster.is_running(member);
            if crashed {
                cluster.restart(member)?;
            } else if let Err(e) = cluster.set_failpoint(member, point, "off").await {
                // Unreachable right now (e.g. partitioned clients): restart clears it.
                tracing_note(&e);
                cluster.restart(member)?;
            }
            let outcome = if crashed { "crashed" } else { "not reached" };
            format!("{point} m{member}: {outcome}")
        }
    };
    Ok(Some(detail))
}

/// The agreed leader and a follower: `member`, or the next one if `member` leads.
async fn follower(cluster: &Cluster, member: usize) -> Option<(usize, usize)> {
    let all: Vec<usize> = (0..cluster.size()).collect();
    let leader = cluster.leader_among(&all).await?;
    let victim = if member == leader {
        (member + 1) % cluster.size()
    } else {
        member
    };
    Some((leader, victim))
}

fn shuffled(items: &[usize], rng: &mut StdRng) -> Vec<usize> {
    let mut v = items.to_vec();
    v.shuffle(rng);
    v
}

/// Arms `point` to crash member `i`. The point may be reached before the
/// member has answered the request that armed it; a member that is gone
/// right after a failed request counts as armed (and crashed).
async fn arm(cluster: &mut Cluster, i: usize, point: &str) -> io::Result<()> {
    match cluster.set_failpoint(i, point, CRASH).await {
        Ok(()) => Ok(()),
        Err(e) if cluster.wait_exited(i, Duration::from_secs(2)).await => {
            eprintln!("nemesis: m{i} crashed at {point} before answering its arming ({e})");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn tracing_note(e: &io::Error) {
    eprintln!("nemesis: disarming a failpoint failed ({e}); restarting the member instead");
}

/// Compacts the keyspace through member `i` to 1,000 revisions behind its current one.
async fn compact_behind(cluster: &Cluster, i: usize) {
    use ectd_client::proto::etcdserverpb::{CompactionRequest, RangeRequest};
    let options = ectd_client::ConnectOptions {
        dial_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(2),
    };
    let Ok(client) = cluster.client(i, options).await else {
        return;
    };
    let probe = RangeRequest {
        key: b"jepsen/".to_vec(),
        limit: 1,
        serializable: true,
        ..Default::default()
    };
    let Ok(now) = client.range(probe).await else {
        return;
    };
    let revision = now.header.map_or(0, |h| h.revision) - 1000;
    if revision > 0 {
        let _ = client
            .compact(CompactionRequest {
                revision,
                physical: false,
            })
            .await;
    }
}
