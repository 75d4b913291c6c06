//! The v2 workloads' part of a run: their clients, the final state read back through the
//! v2 keys API once the faults are healed, and their checks (the register checks shared
//! with the v3 registers, and the set check).

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, Instant};

use super::{check_registers, RunConfig, WorkloadKind};
use crate::history::{Key, Operation};
use crate::lost_writes::FinalValue;
use crate::report::{Check, RegisterReport, V2SetSummary};
use crate::set_check::{self, Add, Element};
use crate::v2_http::{Body, Reply, V2Client};
use crate::workload::v2_register::{self, V2RegisterConfig};
use crate::workload::v2_set;

/// First client id of each v2 workload, past the v3 workloads' ids.
const REGISTER_CLIENTS: u64 = 400;
const SET_CLIENTS: u64 = 500;

/// The running v2 clients of a run (none when no v2 workload runs).
pub(super) struct Clients {
    register: Option<v2_register::Workload>,
    set: Option<v2_set::Workload>,
}

/// What the v2 clients recorded.
pub(super) struct Recorded {
    /// Register operations, sorted by invocation time; empty unless `v2-register` ran.
    pub register: Vec<Operation>,
    /// Set adds, sorted by invocation time; empty unless `v2-set` ran.
    pub adds: Vec<Add>,
    malformed: Vec<String>,
    ran_register: bool,
    ran_set: bool,
}

impl Recorded {
    /// Operations of both workloads.
    pub fn ops(&self) -> usize {
        self.register.len() + self.adds.len()
    }
}

/// The v2 store at the end of the run.
pub(super) struct Final {
    registers: BTreeMap<Key, FinalValue>,
    elements: Vec<Element>,
}

/// What the v2 checks concluded.
pub(super) struct Checked {
    pub register: Option<RegisterReport>,
    pub set: Option<V2SetSummary>,
}

impl Clients {
    /// Starts the v2 workloads `config` names against the members at `urls`.
    pub fn start(config: &RunConfig, urls: &[String], epoch: Instant) -> Clients {
        let register = config.runs(WorkloadKind::V2Register).then(|| {
            let mut c = V2RegisterConfig::new(config.v2_clients, config.v2_keys, config.seed);
            c.key_period = config.key_period;
            c.quorum_reads = config.v2_quorum_reads;
            v2_register::Workload::start(&c, urls, REGISTER_CLIENTS, epoch)
        });
        let set = config.runs(WorkloadKind::V2Set).then(|| {
            v2_set::Workload::start(
                config.v2_set_clients,
                urls,
                SET_CLIENTS,
                Duration::from_secs(1),
                config.seed,
                epoch,
            )
        });
        Clients { register, set }
    }

    /// Stops every client after its current operation.
    pub async fn stop(self) -> Recorded {
        let mut recorded = Recorded {
            register: Vec::new(),
            adds: Vec::new(),
            malformed: Vec::new(),
            ran_register: self.register.is_some(),
            ran_set: self.set.is_some(),
        };
        if let Some(w) = self.register {
            let (ops, bad) = w.stop().await;
            recorded.register = ops;
            recorded.malformed.extend(bad);
        }
        if let Some(w) = self.set {
            let (adds, bad) = w.stop().await;
            recorded.adds = adds;
            recorded.malformed.extend(bad);
        }
        recorded
    }
}

/// Reads, from the member at `url` (the leader, after the heal), every v2 register key
/// the clients used and the set's directory, with quorum reads.
pub(super) async fn read_final(recorded: &Recorded, url: &str) -> io::Result<Final> {
    let mut registers = BTreeMap::new();
    let keys: std::collections::BTreeSet<&Key> =
        recorded.register.iter().map(|op| &op.key).collect();
    let mut client = V2Client::new(url, Duration::from_secs(5));
    for key in keys {
        if let Some(value) = final_register(&mut client, key).await? {
            registers.insert(key.clone(), value);
        }
    }
    let elements = if recorded.ran_set {
        v2_set::final_elements(url)
            .await
            .map_err(io::Error::other)?
    } else {
        Vec::new()
    };
    Ok(Final {
        registers,
        elements,
    })
}

/// A quorum read of one register key, retried for up to 30 s.
async fn final_register(client: &mut V2Client, key: &str) -> io::Result<Option<FinalValue>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let failure = match client.get(key, &[("quorum", "true")]).await {
            Ok(Reply {
                body: Body::Event(e),
                ..
            }) => {
                return Ok(Some(FinalValue {
                    value: e.node.value.unwrap_or_default(),
                    mod_revision: e.node.modified_index as i64,
                }))
            }
            Ok(Reply {
                body: Body::Error(e),
                ..
            }) if e.error_code == 100 => return Ok(None),
            Ok(other) => format!("{other:?}"),
            Err(f) => f.to_string(),
        };
        if Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "final v2 read of {key}: {failure}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks what the v2 clients recorded against the final state; anomalies and the
/// operations to draw red are added to `anomalies` and `flagged`.
pub(super) fn check(
    recorded: &Recorded,
    end: &Final,
    budget: Duration,
    anomalies: &mut Vec<String>,
    flagged: &mut Vec<Operation>,
) -> Checked {
    anomalies.extend(
        recorded
            .malformed
            .iter()
            .map(|m| format!("malformed answer: {m}")),
    );
    let register = recorded.ran_register.then(|| {
        let mut found = Vec::new();
        let report = check_registers(
            &recorded.register,
            &end.registers,
            budget,
            &mut found,
            flagged,
        );
        anomalies.extend(found.into_iter().map(|a| format!("v2: {a}")));
        report
    });
    let set = recorded.ran_set.then(|| {
        let report = set_check::check(&recorded.adds, &end.elements);
        const SHOWN: usize = 20;
        for a in report.anomalies.iter().take(SHOWN) {
            anomalies.push(format!("v2 set: {a:?}"));
        }
        if report.anomalies.len() > SHOWN {
            anomalies.push(format!(
                "v2 set: {} more anomalies not shown",
                report.anomalies.len() - SHOWN
            ));
        }
        V2SetSummary {
            adds: recorded.adds.len(),
            acknowledged: report.acknowledged,
            failed: report.failed,
            unknown: report.unknown,
            unknown_present: report.unknown_present,
            present: report.present,
            check: if report.anomalies.is_empty() {
                Check::Valid
            } else {
                Check::Anomaly
            },
        }
    });
    Checked { register, set }
}
