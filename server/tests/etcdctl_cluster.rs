//! etcdctl's cluster commands against a 3-member ectd cluster and a 3-member
//! etcd cluster started with the same flags: `member list`, `endpoint status`,
//! `endpoint health`, `move-leader`, and puts and gets through every member must
//! show the user output of the same shape on both.
//!
//! Two clusters never share ids, ports or timings, so those are masked: member
//! ids and ports become the member's name (`<id-m2>`, `<client-m2>`), and hashes,
//! timings, database sizes, versions, raft terms and indexes become placeholders.
//! Everything else (fields, columns, line structure, names, which member leads,
//! revisions, exit codes, error lines) must match. Leadership is moved to m1 in
//! both clusters before anything is compared, so that "which member leads" is the
//! same on both.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{require_etcd_binary, wait_output, within, Cluster, Kind, CTL_TIMEOUT, ETCD, ETCDCTL};
use ectd_client::proto::etcdserverpb::{MemberListRequest, MoveLeaderRequest, StatusRequest};
use ectd_client::Client;
use serde_json::Value;

/// What one etcdctl run showed the user.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    exit: Option<i32>,
    stdout: String,
    /// What etcdctl itself printed on stderr (`Error: ...`, the `endpoint health`
    /// results, `Failed to get the status ...`): every line but the client
    /// library's JSON logging, which carries timestamps.
    messages: Vec<String>,
    /// All of stderr, for failure messages.
    stderr: String,
}

fn etcdctl(endpoints: &[String], args: &[&str]) -> Shown {
    let bin = require_etcd_binary(ETCDCTL);
    let mut cmd = Command::new(bin);
    // etcdctl reads its flags from ETCDCTL_* too, and warns (with a timestamp)
    // about ones it does not know: only the API version is passed on.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ETCDCTL_") {
            cmd.env_remove(&k);
        }
    }
    let child = cmd
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["--dial-timeout=5s", "--command-timeout=10s"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning etcdctl");
    let (status, out, err) = wait_output(
        child,
        CTL_TIMEOUT,
        &format!("etcdctl {args:?} against {endpoints:?}"),
    );
    let stderr = String::from_utf8_lossy(&err).into_owned();
    Shown {
        exit: status.code(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        messages: stderr
            .lines()
            .filter(|l| !l.starts_with("{\"level\""))
            .map(str::to_string)
            .collect(),
        stderr,
    }
}

/// One cluster under test with what is needed to mask its output.
struct Side {
    cluster: Cluster,
    /// Member ids, by member index.
    ids: Vec<u64>,
    cluster_id: u64,
    /// `(text, placeholder)` pairs for the text masks.
    texts: Vec<(String, String)>,
}

impl Side {
    async fn new(kind: Kind) -> Side {
        let cluster = Cluster::start(kind, 3, &[]);
        let mut ids = Vec::new();
        let mut cluster_id = 0;
        for m in &cluster.members {
            let c = connect(&m.endpoint()).await;
            let mut maintenance = c.maintenance();
            let s = within(10, "status", maintenance.status(StatusRequest {}))
                .await
                .unwrap_or_else(|e| panic!("{kind:?} status of {}: {e}", m.name()))
                .into_inner();
            let h = s.header.unwrap_or_default();
            ids.push(h.member_id);
            cluster_id = h.cluster_id;
        }
        let mut texts = Vec::new();
        for (i, m) in cluster.members.iter().enumerate() {
            let name = m.name().to_string();
            let ports = m.ports();
            texts.push((
                format!("127.0.0.1:{}", ports.client),
                format!("127.0.0.1:<client-{name}>"),
            ));
            texts.push((
                format!("127.0.0.1:{}", ports.peer),
                format!("127.0.0.1:<peer-{name}>"),
            ));
            texts.push((format!("{:x}", ids[i]), format!("<id-{name}>")));
            texts.push((ids[i].to_string(), format!("<id-{name}>")));
        }
        texts.push((format!("{cluster_id:x}"), "<cluster>".into()));
        texts.push((cluster_id.to_string(), "<cluster>".into()));
        // Longer first, so that no replacement cuts into a longer one.
        texts.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Side {
            cluster,
            ids,
            cluster_id,
            texts,
        }
    }

    fn kind(&self) -> Kind {
        self.cluster.kind()
    }

    fn run(&self, on: &[usize], args: &[&str]) -> Shown {
        let eps: Vec<String> = on.iter().map(|&i| self.cluster.members[i].addr()).collect();
        etcdctl(&eps, args)
    }

    fn mask_text(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (from, to) in &self.texts {
            s = s.replace(from.as_str(), to);
        }
        s
    }

    fn mask_json(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, val) in m.iter_mut() {
                    let volatile = matches!(
                        k.as_str(),
                        "raft_term"
                            | "raftTerm"
                            | "raftIndex"
                            | "raftAppliedIndex"
                            | "dbSize"
                            | "dbSizeInUse"
                            | "took"
                    ) || (k == "version" && val.is_string());
                    if volatile {
                        *val = Value::from(format!("<{k}>"));
                    } else {
                        self.mask_json(val);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| self.mask_json(v)),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    if u == self.cluster_id {
                        *v = Value::from("<cluster>");
                    } else if let Some(i) = self.ids.iter().position(|&id| id == u) {
                        *v = Value::from(format!("<id-m{}>", i + 1));
                    }
                }
            }
            Value::String(s) => *s = self.mask_text(s),
            _ => {}
        }
    }

    /// etcdctl's stderr messages, masked and sorted (`endpoint health` prints
    /// its results in the order they arrive).
    fn normalize_messages(&self, lines: &[String]) -> Vec<String> {
        let mut out: Vec<String> = lines
            .iter()
            .map(|l| mask_line(&self.mask_text(l)))
            .collect();
        out.sort();
        out
    }

    /// etcdctl's output with everything that may differ between two clusters
    /// masked, in the form named by `format`.
    fn normalize(&self, format: Format, stdout: &str) -> String {
        match format {
            Format::Json => {
                let mut v: Value = match serde_json::from_str(stdout.trim()) {
                    Ok(v) => v,
                    Err(e) => return format!("<not JSON: {e}>\n{}", self.mask_text(stdout)),
                };
                self.mask_json(&mut v);
                // Lists whose order depends on ids or on timing.
                if let Value::Array(a) = &mut v {
                    a.sort_by_key(|x| x.to_string());
                }
                if let Some(Value::Array(a)) = v.get_mut("members") {
                    a.sort_by_key(|x| x.to_string());
                }
                serde_json::to_string_pretty(&v).expect("JSON")
            }
            Format::Table => normalize_table(&self.mask_text(stdout)),
            Format::Lines => {
                let mut lines: Vec<String> = stdout
                    .lines()
                    .map(|l| mask_line(&self.mask_text(l)))
                    .collect();
                lines.sort();
                lines.join("\n")
            }
            Format::Ordered => stdout
                .lines()
                .map(|l| mask_line(&self.mask_text(l)))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

async fn connect(endpoint: &str) -> Client {
    within(10, "connecting", Client::connect(&[endpoint.to_string()]))
        .await
        .unwrap_or_else(|e| panic!("connecting to {endpoint}: {e}"))
}

/// How etcdctl's output is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// One JSON document.
    Json,
    /// An ASCII table.
    Table,
    /// Lines in no particular order (member ids order `member list`, timing
    /// orders `endpoint health`).
    Lines,
    /// Lines in order.
    Ordered,
}

/// Masks the volatile fields of one line of simple output: `endpoint status`
/// (`ep, id, version, db size, leader, learner, term, index, applied, errors`)
/// and `endpoint health` (`... took = 1.2ms`).
fn mask_line(l: &str) -> String {
    if let Some((head, _)) = l.split_once("took = ") {
        return format!("{head}took = <took>");
    }
    let fields: Vec<&str> = l.split(", ").collect();
    if fields.len() == 10 && fields[0].starts_with("127.0.0.1:") {
        let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        for i in [2, 3, 6, 7, 8] {
            f[i] = "<masked>".into();
        }
        return f.join(", ");
    }
    l.to_string()
}

/// An ASCII table reduced to its structure: borders become `+` per column,
/// cells are trimmed, volatile columns masked, and data rows sorted (their
/// order follows member ids on etcd).
fn normalize_table(text: &str) -> String {
    const VOLATILE: [&str; 6] = [
        "TOOK",
        "VERSION",
        "DB SIZE",
        "RAFT TERM",
        "RAFT INDEX",
        "RAFT APPLIED INDEX",
    ];
    let mut header: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with('+') {
            if !rows.is_empty() {
                rows.sort();
                out.append(&mut rows);
            }
            out.push(format!("border x{}", line.matches('+').count() - 1));
        } else if line.starts_with('|') {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            if header.is_empty() {
                header = cells.clone();
                out.push(cells.join(" | "));
            } else {
                let masked: Vec<String> = cells
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if header
                            .get(i)
                            .is_some_and(|h| VOLATILE.contains(&h.as_str()))
                        {
                            "<masked>".to_string()
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                rows.push(masked.join(" | "));
            }
        } else {
            out.push(format!("not a table line: {line}"));
        }
    }
    rows.sort();
    out.append(&mut rows);
    out.join("\n")
}

/// Both clusters and the differences found so far.
struct Both {
    etcd: Side,
    ectd: Side,
    cases: usize,
    differences: Vec<String>,
}

impl Both {
    /// Runs `args` with etcdctl against the members `on` of each cluster, and
    /// records a difference unless exit code, etcdctl's messages and normalized
    /// output agree. Returns what etcd showed.
    fn compare(&mut self, on: &[usize], args: &[&str], format: Format) -> Shown {
        self.compare_each(on, args, args, format)
    }

    /// Like [`Both::compare`] with arguments that differ between the clusters
    /// (member ids).
    fn compare_each(
        &mut self,
        on: &[usize],
        etcd_args: &[&str],
        ectd_args: &[&str],
        format: Format,
    ) -> Shown {
        self.cases += 1;
        let a = self.etcd.run(on, etcd_args);
        let b = self.ectd.run(on, ectd_args);
        let na = self.etcd.normalize(format, &a.stdout);
        let nb = self.ectd.normalize(format, &b.stdout);
        let ma = self.etcd.normalize_messages(&a.messages);
        let mb = self.ectd.normalize_messages(&b.messages);
        let shown = self.etcd.mask_text(&etcd_args.join(" "));
        if std::env::var_os("ECTD_TEST_SHOW_ETCDCTL").is_some() {
            eprintln!("$ etcdctl {shown} -> {:?} {ma:?}\n{na}", a.exit);
        }
        if a.exit != b.exit || na != nb || ma != mb {
            self.differences.push(format!(
                "etcdctl {shown} (on {:?}):\n--- etcd (exit {:?}, stderr {ma:?}):\n{na}\n\
                 --- ectd (exit {:?}, stderr {mb:?}):\n{nb}\n--- ectd stderr as is:\n{}",
                on.iter().map(|i| format!("m{}", i + 1)).collect::<Vec<_>>(),
                a.exit,
                b.exit,
                b.stderr.trim()
            ));
        }
        a
    }

    /// Like [`Both::compare`] for a command that must succeed on etcd: if it
    /// does not, the comparison means nothing.
    fn must(&mut self, on: &[usize], args: &[&str], format: Format) -> Shown {
        let a = self.compare(on, args, format);
        assert_eq!(a.exit, Some(0), "etcdctl {args:?} failed on etcd: {a:?}");
        a
    }
}

/// Waits until every member of `side` is listed with its name and client URL
/// (members publish them shortly after start) and moves leadership to m1.
async fn settle(side: &Side) {
    let c = connect(&side.cluster.members[0].endpoint()).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut cluster = c.cluster();
        let list = within(
            10,
            "member list",
            cluster.member_list(MemberListRequest { linearizable: true }),
        )
        .await
        .map(|r| r.into_inner());
        let published = list.as_ref().is_ok_and(|l| {
            l.members.len() == 3
                && side.cluster.members.iter().all(|m| {
                    l.members
                        .iter()
                        .any(|x| x.name == m.name() && x.client_ur_ls == [m.endpoint()])
                })
        });
        if published {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: members not all published after 15s: {list:?}",
            side.kind()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    move_leader_to(side, 0).await;
}

/// Makes member `target` the leader of `side` and waits until every member
/// agrees.
async fn move_leader_to(side: &Side, target: usize) {
    let mut clients = Vec::new();
    for m in &side.cluster.members {
        clients.push(connect(&m.endpoint()).await);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut leaders = Vec::new();
        for c in &clients {
            let mut maintenance = c.maintenance();
            let status =
                tokio::time::timeout(Duration::from_secs(2), maintenance.status(StatusRequest {}))
                    .await;
            leaders.push(match status {
                Ok(Ok(s)) => Some(s.into_inner().leader),
                _ => None,
            });
        }
        if leaders.iter().all(|l| *l == Some(side.ids[target])) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}: leadership not on m{} after 15s: {leaders:x?}",
            side.kind(),
            target + 1
        );
        if let Some(Some(l)) = leaders.first() {
            if let Some(i) = side.ids.iter().position(|id| id == l) {
                if i != target {
                    let mut maintenance = clients[i].maintenance();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        maintenance.move_leader(MoveLeaderRequest {
                            target_id: side.ids[target],
                        }),
                    )
                    .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn etcdctl_cluster_commands_match_etcd() {
    require_etcd_binary(ETCD);
    require_etcd_binary(ETCDCTL);
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let etcd = rt.block_on(Side::new(Kind::Etcd));
    let ectd = rt.block_on(Side::new(Kind::Ectd));
    rt.block_on(settle(&etcd));
    rt.block_on(settle(&ectd));
    let mut t = Both {
        etcd,
        ectd,
        cases: 0,
        differences: Vec::new(),
    };
    let all = [0, 1, 2];

    // Membership as each member reports it.
    for on in [0, 1, 2] {
        t.must(&[on], &["member", "list"], Format::Lines);
    }
    t.must(&[0], &["member", "list", "-w", "json"], Format::Json);
    t.must(&[1], &["member", "list", "-w", "table"], Format::Table);
    t.must(&[2], &["member", "list", "-w", "simple"], Format::Lines);

    // Status of every member; m1 leads on both.
    t.must(&all, &["endpoint", "status"], Format::Ordered);
    t.must(&all, &["endpoint", "status", "-w", "json"], Format::Json);
    t.must(&all, &["endpoint", "status", "-w", "table"], Format::Table);
    // etcdctl 3.4 dials the members found through `--cluster` with the whole
    // client URL as HTTP/2 authority; ectd must serve those requests as etcd does.
    t.must(
        &[0],
        &["endpoint", "status", "--cluster", "-w", "table"],
        Format::Table,
    );
    t.must(
        &[2],
        &["endpoint", "status", "--cluster", "-w", "json"],
        Format::Json,
    );

    // Health, of the given endpoints and of every member found through one.
    t.must(&all, &["endpoint", "health"], Format::Lines);
    t.must(&[0], &["endpoint", "health", "--cluster"], Format::Lines);
    t.must(
        &[1],
        &["endpoint", "health", "--cluster", "-w", "json"],
        Format::Json,
    );
    t.must(&all, &["endpoint", "health", "-w", "table"], Format::Table);

    // Leadership: from m1 to m2, as etcdctl finds the leader among the endpoints.
    let (etcd_m2, ectd_m2) = (
        format!("{:x}", t.etcd.ids[1]),
        format!("{:x}", t.ectd.ids[1]),
    );
    let a = t.compare_each(
        &all,
        &["move-leader", &etcd_m2],
        &["move-leader", &ectd_m2],
        Format::Ordered,
    );
    assert_eq!(a.exit, Some(0), "etcd: move-leader: {a:?}");
    rt.block_on(move_leader_to(&t.etcd, 1));
    rt.block_on(move_leader_to(&t.ectd, 1));
    t.must(&all, &["endpoint", "status", "-w", "table"], Format::Table);
    // Only a follower as endpoint: etcdctl finds no leader to ask.
    let (etcd_m3, ectd_m3) = (
        format!("{:x}", t.etcd.ids[2]),
        format!("{:x}", t.ectd.ids[2]),
    );
    let a = t.compare_each(
        &[0],
        &["move-leader", &etcd_m3],
        &["move-leader", &ectd_m3],
        Format::Ordered,
    );
    assert_ne!(
        a.exit,
        Some(0),
        "etcd: move-leader through a follower: {a:?}"
    );

    // Writes through each member, read through each member.
    for w in 0..3 {
        let key = format!("through/m{}", w + 1);
        let value = format!("value-{}", w + 1);
        t.must(&[w], &["put", &key, &value], Format::Ordered);
        for r in 0..3 {
            let shown = t.must(&[r], &["get", &key], Format::Ordered);
            assert_eq!(shown.stdout, format!("{key}\n{value}\n"), "etcd: get {key}");
        }
    }
    for r in 0..3 {
        t.must(
            &[r],
            &["get", "through/", "--prefix", "-w", "json"],
            Format::Json,
        );
        t.must(
            &[r],
            &["get", "through/", "--prefix", "--consistency=s"],
            Format::Ordered,
        );
    }
    t.must(
        &[2],
        &["put", "through/m1", "again", "-w", "json"],
        Format::Json,
    );
    t.must(&[0], &["del", "through/", "--prefix"], Format::Ordered);

    for m in t.ectd.cluster.members.iter_mut() {
        m.assert_running();
    }
    assert!(
        t.differences.is_empty(),
        "{} of {} etcdctl commands show differently on ectd than on etcd:\n\n{}",
        t.differences.len(),
        t.cases,
        t.differences.join("\n\n")
    );
    eprintln!(
        "{} etcdctl cluster commands alike on etcd and ectd ({:?})",
        t.cases,
        started.elapsed()
    );
}
