//! A v2 watcher as flannel runs one: `wait=true&recursive=true&waitIndex=last+1`
//! in a loop, moving to the next endpoint after a transport failure and re-listing
//! the directory when its wait index has fallen out of the member's history (401).
//! Everything it receives is logged with the time it arrived.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http::{self, Event, Waited};

/// What a watcher received, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchLog {
    /// Every event, with when it arrived.
    pub events: Vec<(Event, Instant)>,
    /// Every re-listing forced by a 401, in order.
    pub resyncs: Vec<Resync>,
    /// How many requests failed in transport or with an unexpected answer.
    pub failures: usize,
    /// The last failure, for messages.
    pub last_failure: String,
    /// The wait index of the next request.
    pub next: u64,
}

/// A re-listing after a 401: the directory's files (key -> value) as of `index`.
#[derive(Debug, Clone)]
pub(crate) struct Resync {
    /// Number of events received before it.
    pub after_events: usize,
    /// `X-Etcd-Index` of the listing; watching resumed at `index + 1`.
    pub index: u64,
    pub files: BTreeMap<String, String>,
}

impl WatchLog {
    /// The events without their arrival times.
    pub fn plain(&self) -> Vec<Event> {
        self.events.iter().map(|(e, _)| e.clone()).collect()
    }

    /// Index of the last event received, or 0.
    pub fn last_index(&self) -> u64 {
        self.events.last().map_or(0, |(e, _)| e.modified_index)
    }
}

/// A running watcher; stopped (its request abandoned) on [`Watcher::stop`] or drop.
pub(crate) struct Watcher {
    pub name: String,
    log: Arc<Mutex<WatchLog>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching `dir` from index `from` through `endpoints` (the first one
    /// first; a single endpoint pins the watcher to one member, which it then
    /// retries until that member answers again).
    pub fn spawn(name: &str, endpoints: Vec<String>, dir: &str, from: u64) -> Watcher {
        let log = Arc::new(Mutex::new(WatchLog {
            next: from,
            ..WatchLog::default()
        }));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(watch_loop(
            endpoints,
            dir.to_string(),
            Arc::clone(&log),
            stopped,
        ));
        Watcher {
            name: name.to_string(),
            log,
            stop,
            task: Some(task),
        }
    }

    /// A copy of what it has received so far.
    pub fn log(&self) -> WatchLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops it and returns everything it received.
    pub async fn stop(mut self) -> WatchLog {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.log()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn watch_loop(
    endpoints: Vec<String>,
    dir: String,
    log: Arc<Mutex<WatchLog>>,
    mut stopped: watch::Receiver<bool>,
) {
    let lock = || log.lock().unwrap_or_else(|e| e.into_inner());
    let mut at = 0;
    loop {
        let ep = endpoints[at % endpoints.len()].clone();
        let next = lock().next;
        let got = tokio::select! {
            _ = stopped.changed() => return,
            got = http::wait_recursive(&ep, &dir, next) => got,
        };
        match got {
            Ok(Waited::Event(e)) => {
                let mut l = lock();
                l.next = e.modified_index + 1;
                l.events.push((e, Instant::now()));
            }
            Ok(Waited::Cleared(_)) => match list_files(&ep, &dir, true).await {
                Ok((index, files)) => {
                    let mut l = lock();
                    let after_events = l.events.len();
                    l.resyncs.push(Resync {
                        after_events,
                        index,
                        files,
                    });
                    l.next = index + 1;
                }
                Err(e) => failed(&mut lock(), e, &mut at),
            },
            Err(e) => {
                failed(&mut lock(), e, &mut at);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn failed(l: &mut WatchLog, why: String, at: &mut usize) {
    l.failures += 1;
    l.last_failure = why;
    *at += 1;
}

/// The files under `dir` (recursively) as key -> value, and the index of that
/// listing, read with `quorum=true` or from the member's own store. A missing
/// directory lists as empty.
pub(crate) async fn list_files(
    endpoint: &str,
    dir: &str,
    quorum: bool,
) -> Result<(u64, BTreeMap<String, String>), String> {
    let q = if quorum { "true" } else { "false" };
    let r = http::get(
        endpoint,
        dir,
        &[("recursive", "true"), ("quorum", q), ("sorted", "true")],
    )
    .await?;
    let index = r
        .etcd_index
        .ok_or_else(|| format!("listing {dir} on {endpoint}: no X-Etcd-Index"))?;
    if r.status == 404 && r.error_code() == Some(100) {
        return Ok((index, BTreeMap::new()));
    }
    if r.status != 200 {
        return Err(format!(
            "listing {dir} on {endpoint}: HTTP {} {}",
            r.status, r.body
        ));
    }
    let mut files = BTreeMap::new();
    collect_files(r.node(), &mut files);
    Ok((index, files))
}

fn collect_files(node: &Value, out: &mut BTreeMap<String, String>) {
    if let Some(children) = node.get("nodes").and_then(Value::as_array) {
        for c in children {
            collect_files(c, out);
        }
    } else if node.get("dir").and_then(Value::as_bool) != Some(true) {
        if let (Some(k), Some(v)) = (
            node.get("key").and_then(Value::as_str),
            node.get("value").and_then(Value::as_str),
        ) {
            out.insert(k.to_string(), v.to_string());
        }
    }
}

/// Polls `cond` over the logs of `watchers` every 50 ms until it holds for all
/// of them, or panics with `what` and what each has seen after `limit`.
pub(crate) async fn until_all(
    watchers: &[&Watcher],
    limit: Duration,
    what: &str,
    cond: impl Fn(&WatchLog) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let logs: Vec<WatchLog> = watchers.iter().map(|w| w.log()).collect();
        if logs.iter().all(&cond) {
            return;
        }
        if Instant::now() > deadline {
            let seen = watchers
                .iter()
                .zip(&logs)
                .map(|(w, l)| {
                    format!(
                        "{}: {} events, last {:?}, {} failures (last: {}), {} resyncs",
                        w.name,
                        l.events.len(),
                        l.events.last().map(|(e, _)| e.to_string()),
                        l.failures,
                        l.last_failure,
                        l.resyncs.len()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n  ");
            panic!("{what}: not within {limit:?}; watchers:\n  {seen}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Panics unless the events' modified indexes strictly increase.
pub(crate) fn assert_increasing(events: &[Event], who: &str) {
    for w in events.windows(2) {
        assert!(
            w[1].modified_index > w[0].modified_index,
            "{who}: events out of index order: {} then {}",
            w[0],
            w[1]
        );
    }
}

/// Panics unless every named sequence equals the first, showing where they part.
pub(crate) fn assert_same_sequences(named: &[(String, Vec<Event>)], what: &str) {
    let (first_name, first) = &named[0];
    for (name, seq) in &named[1..] {
        if seq == first {
            continue;
        }
        let at = first
            .iter()
            .zip(seq)
            .position(|(a, b)| a != b)
            .unwrap_or(first.len().min(seq.len()));
        let show = |s: &[Event]| {
            s.iter()
                .skip(at.saturating_sub(3))
                .take(8)
                .map(|e| format!("    {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{what}: {name} ({} events) and {first_name} ({} events) part at event #{at}\n  \
             {first_name}:\n{}\n  {name}:\n{}\n  full {first_name}: {}\n  full {name}: {}",
            seq.len(),
            first.len(),
            show(first),
            show(seq),
            brief(first),
            brief(seq)
        );
    }
}

/// `action@index key` for each event, on one line.
pub(crate) fn brief(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| format!("{}@{} {}", e.action, e.modified_index, e.key))
        .collect::<Vec<_>>()
        .join(", ")
}
