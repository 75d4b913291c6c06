//! The watch workload: watchers on every member record every response they receive while
//! the other workloads write and the nemesis strikes; afterwards each member's own history
//! is read back and the streams are checked against it with [`crate::watch_check`].
//!
//! Watchers use the client library's [`ectd_client::Watcher`], which re-creates a broken
//! watch from the revision after the last one it delivered, so a correct member and client
//! together deliver every event exactly once, in order, however often the member restarts.
//! A watcher stays on its member (no failover), so a member that comes back with a hole or
//! a different history is caught.

use std::collections::BTreeMap;
use std::time::Duration;

use ectd_client::proto::etcdserverpb::WatchCreateRequest;
use ectd_client::proto::mvccpb::event::EventType as WireEventType;
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{prefix_range_end, Client, ConnectOptions, Error};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::watch_check::{Event, EventType, KeyRange, RevisionEvents, WatchEvent, Watcher};

/// Every key the workloads write starts with this prefix.
pub const PREFIX: &str = "jepsen/";

/// What one watcher task hands back.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The member it watched on.
    pub member: usize,
    /// What it asked for and received, ready for the checker.
    pub watcher: Watcher,
    /// Whether it saw everything up to the final revision before giving up waiting.
    pub caught_up: bool,
    /// The server's reason if it canceled the watch (e.g. its next revision was compacted).
    pub canceled: Option<String>,
}

/// The running watchers.
pub struct Workload {
    finish: watch::Sender<Option<i64>>,
    tasks: JoinSet<Recorded>,
}

impl Workload {
    /// Opens `per_member` watchers on each member: even ones on the whole prefix with
    /// prev_kv, odd ones on the append keys (`jepsen/a`..`jepsen/b`) without.
    pub async fn start(endpoints: &[String], per_member: usize) -> Result<Workload, Error> {
        let (finish, finished) = watch::channel(None);
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
        };
        let mut tasks = JoinSet::new();
        for (member, endpoint) in endpoints.iter().enumerate() {
            for w in 0..per_member {
                let client = Client::connect_with(std::slice::from_ref(endpoint), options).await?;
                let (range, prev_kv) = if w % 2 == 0 {
                    (KeyRange::Prefix(PREFIX.into()), true)
                } else {
                    (
                        KeyRange::Range {
                            start: "jepsen/a".into(),
                            end: Some("jepsen/b".into()),
                        },
                        false,
                    )
                };
                let create = create_request(&range, 0, prev_kv);
                let stream = client.open_watch(create).await?;
                let start_revision = stream.created_header().map_or(0, |h| h.revision) + 1;
                let watcher = Watcher {
                    id: (member * per_member + w) as u64,
                    range,
                    start_revision,
                    prev_kv,
                    responses: Vec::new(),
                    resumptions: Vec::new(),
                    until_revision: None,
                };
                tasks.spawn(record(member, watcher, stream, finished.clone()));
            }
        }
        Ok(Workload { finish, tasks })
    }

    /// Tells every watcher the final revision and waits (up to `timeout` each) until it
    /// has seen everything up to it; returns what they recorded.
    pub async fn finish(mut self, final_revision: i64, timeout: Duration) -> Vec<Recorded> {
        let _ = self.finish.send(Some(final_revision));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut recorded = Vec::new();
        while let Some(done) = self.tasks.join_next().await {
            recorded.push(done.expect("watch task panicked"));
            if tokio::time::Instant::now() > deadline {
                self.tasks.abort_all();
            }
        }
        recorded.sort_by_key(|r| r.watcher.id);
        recorded
    }
}

fn create_request(range: &KeyRange, start_revision: i64, prev_kv: bool) -> WatchCreateRequest {
    let (key, range_end) = match range {
        KeyRange::Key(k) => (k.clone().into_bytes(), Vec::new()),
        KeyRange::Prefix(p) => (p.clone().into_bytes(), prefix_range_end(p.as_bytes())),
        KeyRange::Range { start, end } => (
            start.clone().into_bytes(),
            end.clone().map_or(vec![0], String::into_bytes),
        ),
    };
    WatchCreateRequest {
        key,
        range_end,
        start_revision,
        prev_kv,
        ..Default::default()
    }
}

/// Values longer than this are recorded as a digest (see [`recorded_value`]).
const VALUE_KEPT: usize = 48;

/// A value as recorded for the watch checker: itself if short, else its first bytes, its
/// length and a 64-bit hash. Equal values give equal records and different ones differ
/// (but for a hash collision), which is all the checker compares; recording whole values
/// of every event of every watcher over a long run took gigabytes.
fn recorded_value(b: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    if b.len() <= VALUE_KEPT {
        return String::from_utf8_lossy(b).into_owned();
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    let head = String::from_utf8_lossy(&b[..VALUE_KEPT / 2]);
    format!("{head}… ({} bytes, #{:016x})", b.len(), h.finish())
}

fn to_event(kind: i32, kv: &KeyValue, prev: Option<&KeyValue>) -> WatchEvent {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let event_type = if kind == WireEventType::Delete as i32 {
        EventType::Delete
    } else {
        EventType::Put
    };
    WatchEvent {
        revision: kv.mod_revision,
        event: Event {
            key: text(&kv.key),
            event_type,
            value: (event_type == EventType::Put).then(|| recorded_value(&kv.value)),
            prev_value: prev.map(|p| recorded_value(&p.value)),
        },
    }
}

/// Receives until canceled, or until the final revision is known and has been reached.
async fn record(
    member: usize,
    mut watcher: Watcher,
    mut stream: ectd_client::Watcher,
    mut finished: watch::Receiver<Option<i64>>,
) -> Recorded {
    let mut seen = watcher.start_revision - 1;
    let mut canceled = None;
    let mut target: Option<i64> = None;
    let mut ask = tokio::time::interval(Duration::from_millis(500));
    loop {
        if target.is_some_and(|t| seen >= t) {
            break;
        }
        tokio::select! {
            next = stream.recv() => match next {
                Some(Ok(response)) => {
                    let revision = response.header.as_ref().map_or(0, |h| h.revision);
                    if response.events.is_empty() {
                        // A progress notification: everything up to here was delivered.
                        seen = seen.max(revision);
                        continue;
                    }
                    let events: Vec<WatchEvent> = response
                        .events
                        .iter()
                        .filter_map(|e| e.kv.as_ref().map(|kv| to_event(e.r#type, kv, e.prev_kv.as_ref())))
                        .collect();
                    if let Some(last) = events.iter().map(|e| e.revision).max() {
                        seen = seen.max(last);
                    }
                    watcher.responses.push(events);
                }
                Some(Err(e)) => {
                    canceled = Some(e.to_string());
                    break;
                }
                None => {
                    canceled = Some("the watch stream ended".into());
                    break;
                }
            },
            changed = finished.changed(), if target.is_none() => {
                if changed.is_err() {
                    break;
                }
                target = *finished.borrow();
                stream.request_progress();
            }
            _ = ask.tick(), if target.is_some() => stream.request_progress(),
        }
    }
    let caught_up = target.is_some_and(|t| seen >= t);
    watcher.until_revision = if canceled.is_some() {
        Some(seen)
    } else {
        target
    };
    Recorded {
        member,
        watcher,
        caught_up,
        canceled,
    }
}

/// Member's own history of every change under [`PREFIX`] from `from` (or its compact
/// revision, if later) through `until`, read with a prev_kv watch. Returns the revision
/// the history starts at and the events grouped by revision in applied order.
pub async fn member_history(
    client: &Client,
    from: i64,
    until: i64,
    timeout: Duration,
) -> Result<(i64, Vec<RevisionEvents>), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut start = from.max(1);
    loop {
        match read_history(client, start, until, deadline).await {
            Ok(history) => return Ok((start, history)),
            // The start was compacted away (refused at once, or canceled right after
            // creation): start again after the compaction point, the first revision whose
            // events still have their previous versions for prev_kv.
            Err(HistoryError::Compacted(revision)) if revision >= start => start = revision + 1,
            Err(HistoryError::Compacted(revision)) => {
                return Err(format!(
                    "history watch from {start}: compacted at {revision}"
                ))
            }
            Err(HistoryError::Other(e)) => return Err(format!("history watch from {start}: {e}")),
        }
    }
}

enum HistoryError {
    /// The start revision is compacted; the compaction revision.
    Compacted(i64),
    Other(String),
}

impl From<Error> for HistoryError {
    fn from(e: Error) -> HistoryError {
        match e {
            Error::WatchCanceled { response } if response.compact_revision > 0 => {
                HistoryError::Compacted(response.compact_revision)
            }
            e => HistoryError::Other(e.to_string()),
        }
    }
}

async fn read_history(
    client: &Client,
    start: i64,
    until: i64,
    deadline: tokio::time::Instant,
) -> Result<Vec<RevisionEvents>, HistoryError> {
    let range = KeyRange::Prefix(PREFIX.into());
    let mut stream = client
        .open_watch(create_request(&range, start, true))
        .await
        .map_err(|e| match e {
            Error::Timeout => HistoryError::Other("the watch was not confirmed in time".into()),
            e => e.into(),
        })?;
    let mut by_revision: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
    let mut seen = start - 1;
    while seen < until {
        let next = match tokio::time::timeout(Duration::from_millis(300), stream.recv()).await {
            Ok(next) => next,
            Err(_) if tokio::time::Instant::now() > deadline => {
                return Err(HistoryError::Other(format!(
                    "reached only revision {seen} of {until} in time"
                )))
            }
            Err(_) => {
                // Quiet: ask where the stream stands.
                stream.request_progress();
                continue;
            }
        };
        match next {
            Some(Ok(response)) => {
                let revision = response.header.as_ref().map_or(0, |h| h.revision);
                if response.events.is_empty() {
                    seen = seen.max(revision);
                }
                for e in &response.events {
                    let Some(kv) = e.kv.as_ref() else { continue };
                    let got = to_event(e.r#type, kv, e.prev_kv.as_ref());
                    seen = seen.max(got.revision);
                    if got.revision <= until {
                        by_revision.entry(got.revision).or_default().push(got.event);
                    }
                }
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err(HistoryError::Other("the watch ended".into())),
        }
    }
    Ok(by_revision
        .into_iter()
        .map(|(revision, events)| RevisionEvents { revision, events })
        .collect())
}

/// The members' histories of one window of revisions, read before the window is compacted
/// away (the reference the watchers are checked against must outlive compaction).
#[derive(Debug, Clone)]
pub struct HistoryWindow {
    /// First revision of the window.
    pub from: i64,
    /// Last revision of the window.
    pub until: i64,
    /// Each member that served the whole window in time, with its history of it.
    pub members: Vec<(usize, Vec<RevisionEvents>)>,
}

/// Reads `from..=until` from every member in `clients` (index = member) that serves the
/// whole window within `timeout`; members cut off or behind are left out.
pub async fn record_window(
    clients: &[Client],
    from: i64,
    until: i64,
    timeout: Duration,
) -> HistoryWindow {
    let mut members = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        if let Ok((start, history)) = member_history(client, from, until, timeout).await {
            if start == from {
                members.push((i, history));
            }
        }
    }
    HistoryWindow {
        from,
        until,
        members,
    }
}

/// Drops what a watcher received before `start` (history no longer available to check
/// against) and moves its start there.
pub fn clip(watcher: &mut Watcher, start: i64) {
    if watcher.start_revision >= start {
        return;
    }
    watcher.start_revision = start;
    for response in &mut watcher.responses {
        response.retain(|e| e.revision >= start);
    }
    watcher.responses.retain(|r| !r.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_recorded_as_digests_that_still_tell_values_apart() {
        assert_eq!(recorded_value(b"c1-17"), "c1-17");
        let long = vec![b'7'; 5000];
        let mut other = long.clone();
        other[4999] = b'8';
        let a = recorded_value(&long);
        assert!(a.len() < 100, "{a}");
        assert_eq!(a, recorded_value(&long.clone()));
        assert_ne!(a, recorded_value(&other));
        assert_ne!(a, recorded_value(&long[..4999]));
    }
}
