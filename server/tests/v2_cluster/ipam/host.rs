//! One simulated host running flannel's etcd v2 subnet manager: read the network
//! config, list the subnets directory, claim the lowest free /24 with
//! `prevExist=false&ttl=N` (another listing after `105 Key already exists`), then
//! renew with `prevValue=<own lease>&ttl=N` until told to stop.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ledger::{Acked, Ledger};
use super::{CONFIG, LEASE_TTL, RENEW_EVERY, SUBNETS};
use crate::http;
use crate::watcher::list_files;

/// How long a renewal may go unanswered before it is sent again, possibly to
/// another member: a request caught in an election may hang until the member's
/// own timeout, longer than a lease has left.
const RENEW_TIMEOUT: Duration = Duration::from_secs(1);

/// What a host knows about itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostState {
    /// The subnet key it holds.
    pub subnet: Option<String>,
    /// Acknowledged renewals.
    pub renewals: usize,
    /// It found its lease gone or taken while still renewing.
    pub lost: bool,
}

/// A running host; its renewals stop on [`Host::stop`] or drop.
pub(crate) struct Host {
    pub id: usize,
    /// Its lease value, unique to it.
    pub value: String,
    state: Arc<Mutex<HostState>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Host {
    /// Starts host `id`, which talks to `endpoints[0]` first and moves on after
    /// transport failures.
    pub fn spawn(id: usize, endpoints: Vec<String>, ledger: Arc<Mutex<Ledger>>) -> Host {
        let value = format!(
            r#"{{"PublicIP":"192.168.{}.{}","BackendType":"vxlan","BackendData":{{"VNI":1,"VtepMAC":"02:42:c0:a8:{:02x}:{:02x}"}}}}"#,
            id / 250,
            id % 250 + 1,
            id / 250,
            id % 250 + 1
        );
        let state = Arc::new(Mutex::new(HostState::default()));
        let (stop, stopped) = watch::channel(false);
        let run = HostRun {
            id,
            value: value.clone(),
            endpoints,
            at: 0,
            ledger,
            state: Arc::clone(&state),
            recent: Vec::new(),
        };
        let task = tokio::spawn(run.main(stopped));
        Host {
            id,
            value,
            state,
            stop,
            task: Some(task),
        }
    }

    /// What it knows about itself now.
    pub fn state(&self) -> HostState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops renewing and waits until any renewal in flight has finished.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            if let Err(e) = t.await {
                panic!("host {} failed: {e}", self.id);
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

struct HostRun {
    id: usize,
    value: String,
    endpoints: Vec<String>,
    /// Which endpoint is in use (modulo their number).
    at: usize,
    ledger: Arc<Mutex<Ledger>>,
    state: Arc<Mutex<HostState>>,
    /// The latest renewal attempts, described, for failure messages.
    recent: Vec<String>,
}

/// The subnets a `{"Network":"A.B.0.0/16","SubnetLen":24}` config allows, in
/// flannel's default range (the first and the last /24 are left out).
fn candidates(config: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(config)
        .unwrap_or_else(|e| panic!("network config is not JSON ({e}): {config}"));
    let network = v["Network"].as_str().unwrap_or_default();
    let (addr, len) = network.split_once('/').unwrap_or_default();
    assert!(
        len == "16" && v["SubnetLen"].as_u64() == Some(24),
        "only /16 networks of /24 subnets are simulated: {config}"
    );
    let octets: Vec<&str> = addr.split('.').collect();
    (1..=254)
        .map(|x| format!("{SUBNETS}/{}.{}.{x}.0-24", octets[0], octets[1]))
        .collect()
}

impl HostRun {
    fn ep(&self) -> String {
        self.endpoints[self.at % self.endpoints.len()].clone()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves to the next endpoint after a failure and pauses briefly.
    async fn next_endpoint(&mut self) {
        self.at += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    async fn main(mut self, mut stopped: watch::Receiver<bool>) {
        let config = self.read_config().await;
        let pool = candidates(&config);
        let key = self.acquire(&pool).await;
        self.state.lock().unwrap_or_else(|e| e.into_inner()).subnet = Some(key.clone());
        // Hosts renew out of step, as real ones would.
        let phase = Duration::from_millis((self.id as u64 * 37) % RENEW_EVERY.as_millis() as u64);
        let mut next = tokio::time::Instant::now() + phase;
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = tokio::time::sleep_until(next) => {}
            }
            next += RENEW_EVERY;
            if !self.renew(&key).await {
                return;
            }
        }
        self.ledger().stopped(self.id, &key);
    }

    async fn read_config(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let why = match http::get(&self.ep(), CONFIG, &[("quorum", "true")]).await {
                Ok(r) if r.status == 200 => {
                    if let Some(v) = r.node().get("value").and_then(Value::as_str) {
                        return v.to_string();
                    }
                    format!("no value: {}", r.body)
                }
                Ok(r) => format!("HTTP {} {}", r.status, r.body),
                Err(e) => e,
            };
            assert!(
                Instant::now() < deadline,
                "host {}: no network config: {why}",
                self.id
            );
            self.next_endpoint().await;
        }
    }

    /// Claims a subnet and returns its key.
    async fn acquire(&mut self, pool: &[String]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        // When the last create whose answer was lost was sent.
        let mut lost_answer_sent: Option<Instant> = None;
        loop {
            assert!(
                Instant::now() < deadline,
                "host {}: no subnet within 60s",
                self.id
            );
            let files: BTreeMap<String, String> = match list_files(&self.ep(), SUBNETS, true).await
            {
                Ok((_, files)) => files,
                Err(_) => {
                    self.next_endpoint().await;
                    continue;
                }
            };
            // A create whose answer was lost may have been applied: the lease is ours.
            if let Some(key) = files
                .iter()
                .find(|(_, v)| **v == self.value)
                .map(|(k, _)| k.clone())
            {
                let sent = lost_answer_sent
                    .unwrap_or_else(|| panic!("host {}: {key} holds its value unasked", self.id));
                let created = self.created_index(&key).await;
                self.ledger()
                    .acquired(self.id, &key, created, sent, LEASE_TTL, true);
                return key;
            }
            let Some(key) = pool.iter().find(|k| !files.contains_key(*k)).cloned() else {
                panic!(
                    "host {}: no free subnet among {} taken",
                    self.id,
                    files.len()
                );
            };
            let ttl = LEASE_TTL.as_secs().to_string();
            let sent = Instant::now();
            let ep = self.ep();
            let r = http::put(
                &ep,
                &key,
                Some(&self.value),
                &[("prevExist", "false"), ("ttl", &ttl)],
            )
            .await;
            match r {
                Ok(r) if r.status == 201 && r.action() == "create" => {
                    let index = r.modified_index().unwrap_or_else(|| {
                        panic!(
                            "host {}: create of {key} without an index: {}",
                            self.id, r.body
                        )
                    });
                    let mut l = self.ledger();
                    l.acquired(self.id, &key, index, sent, LEASE_TTL, false);
                    l.acked.push(Acked {
                        action: "create",
                        key: key.clone(),
                        value: self.value.clone(),
                        index,
                    });
                    return key;
                }
                Ok(r) if r.status == 412 && r.error_code() == Some(105) => {
                    self.ledger().conflicts += 1;
                }
                Ok(r) if r.status < 500 => panic!(
                    "host {}: create of {key} on {ep}: unexpected HTTP {} {}",
                    self.id, r.status, r.body
                ),
                _ => {
                    lost_answer_sent = Some(sent);
                    self.ledger().ambiguous.push((self.id, key.clone()));
                    self.next_endpoint().await;
                }
            }
        }
    }

    async fn created_index(&mut self, key: &str) -> u64 {
        loop {
            if let Ok(r) = http::get(&self.ep(), key, &[("quorum", "true")]).await {
                if let Some(c) = r.node().get("createdIndex").and_then(Value::as_u64) {
                    return c;
                }
            }
            self.next_endpoint().await;
        }
    }

    /// One renewal, retried across endpoints until the cluster answers; false if
    /// the lease turned out to be gone or taken.
    async fn renew(&mut self, key: &str) -> bool {
        let ttl = LEASE_TTL.as_secs().to_string();
        let first = Instant::now();
        loop {
            let sent = Instant::now();
            let ep = self.ep();
            let r = http::put_within(
                RENEW_TIMEOUT,
                &ep,
                key,
                Some(&self.value),
                &[("prevValue", &self.value), ("ttl", &ttl)],
            )
            .await;
            let epoch = self.ledger().epoch;
            self.recent.push(format!(
                "sent at {:?} to {ep}, answered after {:?}: {}",
                sent.duration_since(epoch),
                sent.elapsed(),
                match &r {
                    Ok(r) => format!("HTTP {} {}", r.status, r.error_code().unwrap_or(0)),
                    Err(e) => e.rsplit(": ").next().unwrap_or(e).to_string(),
                }
            ));
            if self.recent.len() > 6 {
                self.recent.remove(0);
            }
            let why = match r {
                Ok(r) if r.status == 200 && r.action() == "compareAndSwap" => {
                    let index = r.modified_index().unwrap_or_else(|| {
                        panic!("host {}: renewal without an index: {}", self.id, r.body)
                    });
                    let mut l = self.ledger();
                    l.renewed(self.id, key, sent);
                    l.acked.push(Acked {
                        action: "compareAndSwap",
                        key: key.to_string(),
                        value: self.value.clone(),
                        index,
                    });
                    drop(l);
                    self.state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .renewals += 1;
                    return true;
                }
                Ok(r) if r.status < 500 => {
                    self.ledger().violations.push(format!(
                        "host {} lost {key} while renewing it every {RENEW_EVERY:?}: \
                         HTTP {} {} from {ep}; its last renewals: {:?}",
                        self.id, r.status, r.body, self.recent
                    ));
                    self.state.lock().unwrap_or_else(|e| e.into_inner()).lost = true;
                    return false;
                }
                Ok(r) => format!("HTTP {} {}", r.status, r.body),
                Err(e) => e,
            };
            if first.elapsed() > LEASE_TTL {
                self.ledger().violations.push(format!(
                    "host {} could not renew {key} for {LEASE_TTL:?}: {why}; its last renewals: {:?}",
                    self.id, self.recent
                ));
                self.state.lock().unwrap_or_else(|e| e.into_inner()).lost = true;
                return false;
            }
            self.next_endpoint().await;
        }
    }
}
