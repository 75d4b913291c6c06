//! The two clusters every case is sent to, and the record of their answers.
//!
//! A [`Pair`] is a reference etcd cluster and a subject cluster of the same
//! size. Each case ([`Call`]) goes to the reference first, then to the subject;
//! both answers are rendered (`render.rs`) and must be equal. Mismatches are
//! collected and reported together when the test finishes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use ectd_client::proto::etcdserverpb::cluster_client::ClusterClient;
use ectd_client::proto::etcdserverpb::kv_client::KvClient;
use ectd_client::proto::etcdserverpb::maintenance_client::MaintenanceClient;
use ectd_client::proto::etcdserverpb::{MemberListRequest, StatusRequest};
use serde_json::Value;
use tonic::transport::{Channel, Endpoint};

use crate::common::{free_port, require_etcd_binary, Cluster, Kind, ETCD};

/// How long any one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// An etcd release to compare with, and the version ectd is told to report
/// while compared with it.
#[derive(Clone)]
pub struct Reference {
    /// `etcd 3.4`, for reports.
    pub label: &'static str,
    /// The etcd binary.
    pub bin: PathBuf,
    /// What the binary reports, passed to ectd as `--etcd-version`.
    pub version: &'static str,
}

impl Reference {
    /// Debian's etcd 3.4.23 at [`ETCD`].
    pub fn etcd_3_4() -> Reference {
        Reference {
            label: "etcd 3.4",
            bin: require_etcd_binary(ETCD),
            version: "3.4.23",
        }
    }

    /// The etcd 3.6.15 that the `etcd-bin-vendored` crate ships.
    pub fn etcd_3_6() -> Reference {
        let bin = etcd_bin_vendored::etcd_bin_path().expect("etcd 3.6 for this machine");
        Reference {
            label: "etcd 3.6",
            bin: bin.to_path_buf(),
            version: "3.6.15",
        }
    }
}

/// Which server is compared with the reference. `DIFF_MAINT_SUBJECT=etcd`
/// compares etcd with a second etcd of the same release, which must always
/// pass: that checks the suite's own normalisation.
fn subject_kind() -> Kind {
    match std::env::var("DIFF_MAINT_SUBJECT").as_deref() {
        Err(_) | Ok("ectd") => Kind::Ectd,
        Ok("etcd") => Kind::Etcd,
        Ok(other) => panic!("DIFF_MAINT_SUBJECT must be ectd or etcd, not {other:?}"),
    }
}

/// A member of a cluster, as a case names it.
#[derive(Debug, Clone, Copy)]
pub enum At {
    /// The member that leads when the case runs.
    Leader,
    /// The first member that does not lead.
    Follower,
}

/// A member id, as a case names it.
#[derive(Debug, Clone)]
pub enum Id {
    /// The id of the member at `At`.
    Of(At),
    /// This very number on both sides.
    Raw(u64),
    /// The id of the member added under this name by an earlier case.
    Added(&'static str),
}

/// A URL, as a case names it.
#[derive(Debug, Clone)]
pub enum Url {
    /// The peer URL of the member at `At`.
    Peer(At),
    /// A URL on a port nobody listens on, the same one each time the name
    /// recurs within one side.
    Fresh(&'static str),
    /// This very text on both sides.
    Raw(&'static str),
}

/// One request, described so that each side can fill in its own ids and URLs.
#[derive(Debug, Clone)]
pub enum Call {
    Put(&'static str, &'static str),
    Compact(i64),
    Status(At),
    Hash(At),
    HashKv(At, i64),
    Defragment(At),
    AlarmList(At),
    MoveLeader(At, Id),
    Snapshot(At),
    Downgrade(At, i32, &'static str),
    MemberList(At, bool),
    /// Adds a member under a name later cases refer to (`Id::Added`).
    MemberAdd(At, &'static str, Vec<Url>, bool),
    MemberRemove(At, Id),
    MemberUpdate(At, Id, Vec<Url>),
    MemberPromote(At, Id),
}

/// One cluster and what is needed to render its answers.
pub struct Side {
    pub cluster: Cluster,
    chans: Vec<Channel>,
    /// Member id -> the name answers are rendered with.
    pub names: HashMap<u64, String>,
    /// URL -> the name answers are rendered with.
    pub urls: HashMap<String, String>,
    /// Fresh URLs handed out, by name.
    fresh: HashMap<&'static str, String>,
    /// Ids of members added by the cases, by name.
    added: HashMap<&'static str, u64>,
}

impl Side {
    async fn start(kind: Kind, reference: &Reference, n: usize) -> Side {
        let cluster = match kind {
            Kind::Etcd => Cluster::start_bin(Kind::Etcd, Some(&reference.bin), n, &[]),
            // Told the reference's version, so that version-dependent answers
            // are those of the reference.
            Kind::Ectd => Cluster::start(Kind::Ectd, n, &["--etcd-version", reference.version]),
        };
        let mut chans = Vec::new();
        for ep in cluster.endpoints() {
            let ch = Endpoint::from_shared(ep.clone())
                .expect("endpoint")
                .timeout(REQUEST_TIMEOUT)
                .connect()
                .await
                .unwrap_or_else(|e| panic!("connecting to {ep}: {e}"));
            chans.push(ch);
        }
        let mut side = Side {
            cluster,
            chans,
            names: HashMap::new(),
            urls: HashMap::new(),
            fresh: HashMap::new(),
            added: HashMap::new(),
        };
        let list = ClusterClient::new(side.chans[0].clone())
            .member_list(MemberListRequest { linearizable: true })
            .await
            .expect("member list")
            .into_inner();
        for m in list.members {
            side.names.insert(m.id, m.name.clone());
            for u in &m.peer_ur_ls {
                side.urls.insert(u.clone(), format!("peer({})", m.name));
            }
            for u in &m.client_ur_ls {
                side.urls.insert(u.clone(), format!("client({})", m.name));
            }
        }
        side.lead_from_first().await;
        side
    }

    /// Moves leadership to the first member (`m1`), so that the leader and the
    /// first follower are the same members on both sides.
    async fn lead_from_first(&self) {
        let first = *self
            .names
            .iter()
            .find(|(_, n)| n.as_str() == "m1")
            .map(|(id, _)| id)
            .expect("a member m1");
        let leader = self.leader_id().await;
        if leader == first {
            return;
        }
        let i = self.index(At::Leader).await;
        self.maintenance(i)
            .move_leader(ectd_client::proto::etcdserverpb::MoveLeaderRequest { target_id: first })
            .await
            .expect("moving leadership to m1");
        while self.leader_id().await != first {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The index of the member at `at`, asking the first member who leads.
    pub async fn index(&self, at: At) -> usize {
        let leader = self.leader_id().await;
        let ids: Vec<u64> = self
            .cluster
            .members
            .iter()
            .map(|m| {
                *self
                    .names
                    .iter()
                    .find(|(_, n)| n.as_str() == m.name())
                    .map(|(id, _)| id)
                    .expect("a known member")
            })
            .collect();
        let pos = ids.iter().position(|&id| id == leader);
        match at {
            At::Leader => pos.expect("a leader among the members"),
            At::Follower => (0..ids.len())
                .find(|&i| Some(i) != pos)
                .expect("a follower: the cluster has one member"),
        }
    }

    /// The member id of the current leader, waiting for one.
    pub async fn leader_id(&self) -> u64 {
        for _ in 0..100 {
            if let Ok(r) = MaintenanceClient::new(self.chans[0].clone())
                .status(StatusRequest {})
                .await
            {
                let leader = r.into_inner().leader;
                if leader != 0 {
                    return leader;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no leader within 10 s");
    }

    pub fn maintenance(&self, i: usize) -> MaintenanceClient<Channel> {
        MaintenanceClient::new(self.chans[i].clone())
    }

    pub fn cluster_client(&self, i: usize) -> ClusterClient<Channel> {
        ClusterClient::new(self.chans[i].clone())
    }

    pub fn kv(&self, i: usize) -> KvClient<Channel> {
        KvClient::new(self.chans[i].clone())
    }

    pub async fn id(&self, id: &Id) -> u64 {
        match id {
            Id::Raw(n) => *n,
            // A member whose addition failed: an id no member has, so that the
            // case still compares the two answers.
            Id::Added(name) => self.added.get(name).copied().unwrap_or(0xdead),
            Id::Of(at) => {
                let i = self.index(*at).await;
                let name = self.cluster.members[i].name();
                *self
                    .names
                    .iter()
                    .find(|(_, n)| n.as_str() == name)
                    .map(|(id, _)| id)
                    .expect("a known member")
            }
        }
    }

    pub async fn url(&mut self, u: &Url) -> String {
        match u {
            Url::Raw(s) => s.to_string(),
            Url::Peer(at) => {
                let i = self.index(*at).await;
                self.cluster.members[i].peer_url()
            }
            Url::Fresh(name) => {
                if let Some(u) = self.fresh.get(name) {
                    return u.clone();
                }
                let u = format!("http://127.0.0.1:{}", free_port());
                self.fresh.insert(name, u.clone());
                self.urls.insert(u.clone(), format!("fresh({name})"));
                u
            }
        }
    }

    /// Remembers the id of a member a case added.
    pub fn learn(&mut self, name: &'static str, id: u64) {
        self.added.insert(name, id);
        self.names.insert(id, format!("added({name})"));
    }

    /// Forgets a member a case removed (its id stays known for rendering).
    pub fn member_name(&self, id: u64) -> String {
        match self.names.get(&id) {
            Some(n) => n.clone(),
            None if id == 0 => "0".into(),
            None => format!("unknown id {id:x}"),
        }
    }

    pub fn url_name(&self, u: &str) -> String {
        self.urls.get(u).cloned().unwrap_or_else(|| u.to_string())
    }
}

/// A reference cluster and a subject cluster receiving the same cases.
pub struct Pair {
    /// The reference's release, `3.4.23`.
    pub version: &'static str,
    title: String,
    pub reference: Side,
    pub subject: Side,
    mismatches: Vec<String>,
    gaps: Vec<String>,
    compared: usize,
    trace: bool,
}

impl Pair {
    /// Starts an `n`-member cluster of `reference` and one of the subject.
    pub async fn start(reference: &Reference, n: usize) -> Pair {
        let title = format!("{} vs {:?}, {n} member(s)", reference.label, subject_kind());
        Pair {
            version: reference.version,
            title,
            reference: Side::start(Kind::Etcd, reference, n).await,
            subject: Side::start(subject_kind(), reference, n).await,
            mismatches: Vec::new(),
            gaps: Vec::new(),
            compared: 0,
            trace: std::env::var("DIFF_MAINT_TRACE").is_ok(),
        }
    }

    /// Sends `call` to both sides and records whether the answers agree.
    pub async fn case(&mut self, label: &str, call: Call) -> (Value, Value) {
        let r = crate::call::run(&mut self.reference, &call).await;
        let s = crate::call::run(&mut self.subject, &call).await;
        self.compared += 1;
        if self.trace {
            eprintln!("[{}] {label}: {r}", self.title);
        }
        if r != s {
            self.mismatches.push(format!(
                "{label}\n  request: {call:?}\n  reference: {r}\n  subject:   {s}"
            ));
        }
        (r, s)
    }

    /// Like [`Pair::case`] where the subject knowingly answers otherwise, for
    /// `why`: the difference is listed, not failed.
    pub async fn gap(&mut self, label: &str, call: Call, why: &str) -> (Value, Value) {
        let r = crate::call::run(&mut self.reference, &call).await;
        let s = crate::call::run(&mut self.subject, &call).await;
        self.compared += 1;
        // Agreement is not failed: some gaps depend on etcd's timing (a
        // member id derived from the clock's second).
        if r != s {
            self.gaps.push(format!(
                "{label} ({why})\n  reference: {r}\n  subject:   {s}"
            ));
        }
        (r, s)
    }

    /// Panics with every mismatch, after listing the gaps.
    pub fn finish(self) {
        if !self.gaps.is_empty() {
            eprintln!(
                "[{}] {} known difference(s):\n{}",
                self.title,
                self.gaps.len(),
                self.gaps.join("\n")
            );
        }
        eprintln!("[{}] {} case(s) compared", self.title, self.compared);
        assert!(
            self.mismatches.is_empty(),
            "[{}] {} mismatch(es) in {} case(s):\n{}",
            self.title,
            self.mismatches.len(),
            self.compared,
            self.mismatches.join("\n")
        );
    }
}
