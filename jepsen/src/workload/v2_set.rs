//! The v2 set workload: clients add unique values to one directory of etcd's v2 store,
//! either creating a key of their own (`PUT {dir}/c{client}-{n} value=.. prevExist=false`)
//! or letting the store name it (`POST {dir} value=..`, an in-order key), one add at a
//! time, each client talking HTTP to one member. Nothing is ever removed, so after the
//! faults one quorum read of the directory (`GET ?recursive=true&quorum=true`) must hold
//! every acknowledged add ([`crate::set_check`]).
//!
//! An event is an acknowledged add; a v2 error below 300 and a request that could not be
//! sent are failed adds; errors from 300, timeouts, lost connections and malformed answers
//! (also reported) leave the add unknown.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::set_check::{Add, AddKind, AddOutcome, Element};
use crate::v2_http::{Body, Failure, Reply, V2Client};

/// The directory every add goes into.
pub const DIR: &str = "/jepsen/v2set";

/// The running clients; [`Workload::stop`] ends them and returns their adds.
pub struct Workload {
    stop: watch::Sender<bool>,
    tasks: JoinSet<(Vec<Add>, Vec<String>)>,
}

impl Workload {
    /// Starts `clients` clients, client `c` against `endpoints[c % len]`, with ids from
    /// `first_client`; each request gives up after `timeout`. Times are nanoseconds since
    /// `epoch`.
    pub fn start(
        clients: usize,
        endpoints: &[String],
        first_client: u64,
        timeout: Duration,
        seed: u64,
        epoch: Instant,
    ) -> Workload {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for c in 0..clients {
            let id = first_client + c as u64;
            let worker = Worker {
                id,
                client: V2Client::new(&endpoints[(c + 2) % endpoints.len()], timeout),
                rng: StdRng::seed_from_u64(seed.wrapping_add(5000 + c as u64)),
                epoch,
                next: 0,
            };
            tasks.spawn(worker.run(stopped.clone()));
        }
        Workload { stop, tasks }
    }

    /// Stops every client after its current add; returns all adds sorted by invocation
    /// time, and every malformed answer received.
    pub async fn stop(mut self) -> (Vec<Add>, Vec<String>) {
        let _ = self.stop.send(true);
        let (mut adds, mut malformed) = (Vec::new(), Vec::new());
        while let Some(done) = self.tasks.join_next().await {
            let (a, bad) = done.expect("v2 set client task panicked");
            adds.extend(a);
            malformed.extend(bad);
        }
        adds.sort_by_key(|a| (a.invoke_ns, a.client));
        (adds, malformed)
    }
}

struct Worker {
    id: u64,
    client: V2Client,
    rng: StdRng,
    epoch: Instant,
    next: u64,
}

impl Worker {
    async fn run(mut self, stopped: watch::Receiver<bool>) -> (Vec<Add>, Vec<String>) {
        let (mut adds, mut malformed) = (Vec::new(), Vec::new());
        while !*stopped.borrow() {
            self.next += 1;
            let kind = if self.rng.gen_bool(0.5) {
                AddKind::Create
            } else {
                AddKind::Append
            };
            let add = self.add(kind, &mut malformed).await;
            let pause = match add.outcome {
                AddOutcome::Ok => self.rng.gen_range(5..30),
                _ => 300,
            };
            adds.push(add);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        (adds, malformed)
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    async fn add(&mut self, kind: AddKind, malformed: &mut Vec<String>) -> Add {
        let invoke_ns = self.now_ns();
        let (value, key, reply) = match kind {
            AddKind::Create => {
                let value = format!("c{}-{}", self.id, self.next);
                let key = format!("{DIR}/{value}");
                let fields = [("value", value.as_str()), ("prevExist", "false")];
                let reply = self.client.put(&key, &fields).await;
                (value, Some(key), reply)
            }
            AddKind::Append => {
                let value = format!("q{}-{}", self.id, self.next);
                let reply = self.client.post(DIR, &[("value", &value)]).await;
                (value, None, reply)
            }
        };
        let complete_ns = self.now_ns();
        let mut add = Add {
            client: self.id,
            kind,
            value,
            key,
            outcome: AddOutcome::Unknown,
            error_code: None,
            created_index: None,
            invoke_ns,
            complete_ns,
        };
        if let Err(what) = settle(&mut add, reply) {
            malformed.push(format!("v2 set client {}: {what}", self.id));
        }
        add
    }
}

/// Fills in how `add` ended from its reply; `Err` describes an answer that does not fit
/// (the add stays unknown).
fn settle(add: &mut Add, reply: Result<Reply, Failure>) -> Result<(), String> {
    match reply {
        Ok(Reply {
            body: Body::Event(e),
            ..
        }) => {
            if e.node.value.as_ref() != Some(&add.value) || e.node.dir {
                return Err(format!("add of {:?} answered with {e:?}", add.value));
            }
            if add.kind == AddKind::Create && add.key.as_ref() != Some(&e.node.key) {
                return Err(format!("create of {:?} answered with {e:?}", add.key));
            }
            add.outcome = AddOutcome::Ok;
            add.key = Some(e.node.key);
            add.created_index = Some(e.node.created_index);
        }
        Ok(Reply {
            body: Body::Error(e),
            ..
        }) if e.is_definite() => {
            add.outcome = AddOutcome::Fail;
            add.error_code = Some(e.error_code);
        }
        Ok(_) | Err(Failure::Indeterminate(_)) => {}
        Err(Failure::NotSent(_)) => add.outcome = AddOutcome::Fail,
        Err(f @ Failure::Malformed(_)) => return Err(f.to_string()),
    }
    Ok(())
}

/// Every element under [`DIR`], read with `GET ?recursive=true&quorum=true` from `url`,
/// retried for up to 30 s. A directory that does not exist is empty.
pub async fn final_elements(url: &str) -> Result<Vec<Element>, String> {
    let mut client = V2Client::new(url, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(30);
    let query = [
        ("recursive", "true"),
        ("quorum", "true"),
        ("sorted", "true"),
    ];
    loop {
        let failure = match client.get(DIR, &query).await {
            Ok(Reply {
                body: Body::Event(e),
                ..
            }) => {
                return Ok(e
                    .node
                    .files()
                    .into_iter()
                    .map(|n| Element {
                        key: n.key.clone(),
                        value: n.value.clone().unwrap_or_default(),
                        created_index: n.created_index,
                    })
                    .collect())
            }
            Ok(Reply {
                body: Body::Error(e),
                ..
            }) if e.error_code == 100 => return Ok(Vec::new()),
            Ok(Reply {
                body: Body::Error(e),
                ..
            }) => format!("{e:?}"),
            Err(f) => f.to_string(),
        };
        if Instant::now() > deadline {
            return Err(format!("final read of {DIR}: {failure}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
