//! ectl's cluster commands (`member`, `endpoint`, `move-leader`) must be
//! drop-in replacements for etcdctl 3.4's: this test runs the same command
//! lines through both tools against one real three-member etcd cluster and
//! requires identical stdout, exit codes and error text.
//!
//! Both tools talk to the same cluster, so read-only commands are compared
//! directly. What varies between two runs is masked, and only that: health
//! check durations (and the order in which concurrent checks finish), and
//! the random ID a newly added member gets. Commands that change the
//! cluster are run as pairs that leave it in the same state for both tools:
//! leadership is moved away and back, and a learner is added, started,
//! promoted and removed once by each tool.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/tools.rs"]
mod tools;

use std::path::Path;
use std::time::{Duration, Instant};

use cluster::{run, Addresses, Cluster, Printed, ECTL};

const FORMATS: [&str; 5] = ["simple", "json", "fields", "table", "protobuf"];

struct Compare {
    cluster: Cluster,
    mismatches: Vec<String>,
    steps: usize,
}

impl Compare {
    fn etcdctl(&self, args: &[&str]) -> Printed {
        Printed::of(&run(&self.cluster.etcdctl, args))
    }

    fn ectl(&self, args: &[&str]) -> Printed {
        Printed::of(&run(Path::new(ECTL), args))
    }

    /// Records a difference between what etcdctl and ectl printed.
    fn expect_same(&mut self, what: &str, expected: &Printed, actual: &Printed) -> bool {
        self.steps += 1;
        if expected == actual {
            return true;
        }
        self.mismatches.push(format!(
            "`{what}` differs:\n  etcdctl: {expected:?}\n  ectl:    {actual:?}"
        ));
        false
    }

    /// Runs `args` through both tools and compares everything.
    fn check(&mut self, args: &[&str]) {
        self.check_with(args, str::to_string);
    }

    /// Like [`Compare::check`], after `normalize` has masked what varies.
    fn check_with(&mut self, args: &[&str], normalize: fn(&str) -> String) {
        let expected = self.etcdctl(args).map(normalize);
        let actual = self.ectl(args).map(normalize);
        self.expect_same(&args.join(" "), &expected, &actual);
    }

    /// For output that shows raft progress, which may still move right after
    /// the cluster changed: a difference only counts if it persists.
    fn check_settled(&mut self, args: &[&str]) {
        for _ in 0..10 {
            if self.etcdctl(args) == self.ectl(args) {
                self.steps += 1;
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        self.check(args);
    }

    /// `--endpoints` with the first member only, so that responses carry
    /// that member's ID in their headers for both tools.
    fn first(&self) -> String {
        self.cluster.members[0].client.clone()
    }
}

#[test]
fn ectl_cluster_commands_match_etcdctl() {
    let started = Instant::now();
    let mut t = Compare {
        cluster: Cluster::start(3),
        mismatches: Vec::new(),
        steps: 0,
    };

    member_reads(&mut t);
    endpoint_commands(&mut t);
    argument_errors(&mut t);
    move_leader(&mut t);
    learner_lifecycle(&mut t);

    assert!(
        t.mismatches.is_empty(),
        "{} of {} comparisons differ between etcdctl and ectl:\n\n{}",
        t.mismatches.len(),
        t.steps,
        t.mismatches.join("\n\n")
    );
    eprintln!("{} comparisons in {:.1?}", t.steps, started.elapsed());
}

fn member_reads(t: &mut Compare) {
    let first = t.first();
    let all = t.cluster.endpoints();
    for format in FORMATS {
        t.check(&["--endpoints", &first, "member", "list", "-w", format]);
    }
    t.check(&["--endpoints", &all, "member", "list"]);
    t.check(&["--endpoints", &all, "member", "list", "-w", "table"]);
    t.check(&["--endpoints", &first, "member", "list", "ignored-argument"]);

    // Setting a member's peer URLs to what they are changes nothing, so both
    // tools can do it.
    let (ids, _) = t.cluster.leadership();
    let id = format!("{:x}", ids[0]);
    let peer_urls = format!("--peer-urls={}", t.cluster.members[0].peer_url);
    for format in FORMATS {
        t.check(&[
            "--endpoints",
            &first,
            "member",
            "update",
            &id,
            &peer_urls,
            "-w",
            format,
        ]);
    }
}

fn endpoint_commands(t: &mut Compare) {
    let first = t.first();
    let all = t.cluster.endpoints();
    for format in FORMATS {
        t.check_settled(&["--endpoints", &all, "endpoint", "status", "-w", format]);
        t.check_settled(&[
            "--endpoints",
            &first,
            "endpoint",
            "status",
            "--cluster",
            "-w",
            format,
        ]);
        t.check_with(
            &["--endpoints", &all, "endpoint", "health", "-w", format],
            health,
        );
    }
    t.check_with(
        &["--endpoints", &first, "endpoint", "--cluster", "health"],
        health,
    );
    t.check_settled(&[
        "--endpoints",
        &first,
        "endpoint",
        "--cluster=true",
        "status",
    ]);

    // An endpoint nobody listens on is reported; the others are still shown.
    let dead = Addresses::new("dead").client;
    let with_dead = format!("{dead},{first}");
    let quick = "--command-timeout=1s";
    t.check_with(
        &["--endpoints", &with_dead, quick, "endpoint", "health"],
        health,
    );
    t.check_settled(&["--endpoints", &with_dead, quick, "endpoint", "status"]);
    t.check(&[
        "--endpoints",
        &dead,
        quick,
        "endpoint",
        "status",
        "-w",
        "json",
    ]);
    t.check(&[
        "--endpoints",
        &dead,
        quick,
        "endpoint",
        "status",
        "--cluster",
    ]);
    t.check(&["--endpoints", &first, "endpoint", "status", "-w", "yaml"]);
    t.check(&["--endpoints", &first, "endpoint", "health", "-w", "yaml"]);
}

fn argument_errors(t: &mut Compare) {
    let first = t.first();
    let e = ["--endpoints", first.as_str()];
    let with = |args: &[&'static str]| [&e[..], args].concat();
    for args in [
        &["member", "add"][..],
        &["member", "add", "a", "b", "http://x:1", "HTTP://y"],
        &["member", "add", "a"],
        &["member", "remove"],
        &["member", "remove", "zz"],
        &["member", "remove", "0x12"],
        &["member", "remove", "1", "2"],
        &["member", "remove", "12345678123456789"],
        &["member", "remove", "12"],
        &["member", "remove", "12", "-w", "yaml"],
        &["member", "update", "12"],
        &["member", "update", "12", "--peer-urls=http://127.0.0.1:9"],
        &["member", "promote"],
        &["member", "promote", "12"],
        &["move-leader"],
        &["move-leader", "zz"],
        &["move-leader", "12"],
    ] {
        t.check(&with(args));
    }
    for url in [
        "127.0.0.1:2380",
        "localhost:2380",
        "foo",
        ",",
        "http://127.0.0.1",
        "http://127.0.0.1:1/path",
        "http://[::1",
        "http://h:abc",
        "http://::1:2380",
        "http://a b:1",
    ] {
        let flag = format!("--peer-urls={url}");
        t.check(&[&e[..], &["member", "add", "new", &flag]].concat());
        t.check(&[&e[..], &["member", "update", "12", &flag]].concat());
    }

    // Only a voting member that is not the leader can be promoted: none.
    let (ids, leader) = t.cluster.leadership();
    let follower = ids.iter().find(|&&id| id != leader).unwrap();
    t.check(&[&e[..], &["member", "promote", &format!("{follower:x}")]].concat());
    // move-leader needs the leader among the endpoints.
    let followers: Vec<String> = t
        .cluster
        .members
        .iter()
        .zip(&ids)
        .filter(|(_, &id)| id != leader)
        .map(|(m, _)| m.client.clone())
        .collect();
    let target = format!("{follower:x}");
    t.check(&["--endpoints", &followers[0], "move-leader", &target]);
    t.check(&["--endpoints", &followers.join(","), "move-leader", &target]);
}

/// Each transfer is made by etcdctl first and then, from the same state,
/// by ectl; waiting for all members to agree on the new leader between
/// steps keeps both tools' view of the cluster identical.
fn move_leader(t: &mut Compare) {
    let all = t.cluster.endpoints();
    let (ids, leader) = t.cluster.leadership();
    let follower = *ids.iter().find(|&&id| id != leader).unwrap();
    let (to_follower, to_leader) = (format!("{follower:x}"), format!("{leader:x}"));

    for format in ["simple", "json", "protobuf", "fields", "table"] {
        let away = [
            "--endpoints",
            &all,
            "-w",
            format,
            "move-leader",
            &to_follower,
        ];
        let back = ["--endpoints", &all, "-w", format, "move-leader", &to_leader];
        let expected_away = t.etcdctl(&away);
        t.cluster.leadership();
        let expected_back = t.etcdctl(&back);
        t.cluster.leadership();
        let actual_away = t.ectl(&away);
        t.cluster.leadership();
        let actual_back = t.ectl(&back);
        t.cluster.leadership();
        t.expect_same(&away.join(" "), &expected_away, &actual_away);
        t.expect_same(&back.join(" "), &expected_back, &actual_back);
    }
    // Moving leadership to the leader itself is accepted and changes
    // nothing.
    t.check(&["--endpoints", &all, "move-leader", &to_leader]);
}

/// Adds a learner, starts it, promotes it and removes it, once with each
/// tool, comparing every step with the new member's ID masked.
fn learner_lifecycle(t: &mut Compare) {
    let first = t.first();
    let all = t.cluster.endpoints();
    let learner = Addresses::new("m4");
    let peer_urls = format!("--peer-urls={}", learner.peer_url);
    let add = [
        "--endpoints",
        &first,
        "member",
        "add",
        "m4",
        &peer_urls,
        "--learner",
    ];

    let expected_add = t.etcdctl(&add);
    let etcdctl_id = new_member_id(&expected_add);
    // Read-only views of the unstarted learner.
    for format in FORMATS {
        t.check(&["--endpoints", &first, "member", "list", "-w", format]);
    }
    t.check_settled(&["--endpoints", &all, "endpoint", "status", "--cluster"]);
    let expected = steps(t, &expected_add, &learner, "a", etcdctl_id, |t, args| {
        t.etcdctl(args)
    });

    let actual_add = t.ectl(&add);
    let ectl_id = new_member_id(&actual_add);
    let actual = steps(t, &actual_add, &learner, "b", ectl_id, |t, args| {
        t.ectl(args)
    });

    let mask = |printed: &Printed, id| printed.clone().map(|text| mask_member(text, id));
    t.expect_same(
        &add.join(" "),
        &mask(&expected_add, etcdctl_id),
        &mask(&actual_add, ectl_id),
    );
    for ((what, expected), (_, actual)) in expected.iter().zip(&actual) {
        t.expect_same(what, &mask(expected, etcdctl_id), &mask(actual, ectl_id));
    }
}

/// Starts the learner `add` announced, compares views of it while it runs,
/// then promotes and removes it with `tool`; returns what `tool` printed
/// for the promotion and the removal.
fn steps(
    t: &mut Compare,
    add: &Printed,
    learner: &Addresses,
    generation: &str,
    id: u64,
    tool: fn(&Compare, &[&str]) -> Printed,
) -> Vec<(String, Printed)> {
    let first = t.first();
    let initial_cluster = add
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("ETCD_INITIAL_CLUSTER="))
        .expect("member add prints ETCD_INITIAL_CLUSTER")
        .trim_matches('"')
        .to_string();
    t.cluster.join(learner, &initial_cluster, generation);
    t.cluster.wait_until("the learner has started", || {
        let started = t
            .cluster
            .member_list()
            .iter()
            .any(|m| m.id == id && !m.name.is_empty());
        async move { started.then_some(()) }
    });

    // The running learner: listed with its name and client URL, reporting
    // itself as learner, refusing the linearizable read of a health check.
    if generation == "a" {
        for format in FORMATS {
            t.check(&["--endpoints", &first, "member", "list", "-w", format]);
            t.check_settled(&[
                "--endpoints",
                &first,
                "endpoint",
                "status",
                "--cluster",
                "-w",
                format,
            ]);
        }
        for format in ["simple", "table"] {
            t.check_with(
                &[
                    "--endpoints",
                    &first,
                    "endpoint",
                    "health",
                    "--cluster",
                    "-w",
                    format,
                ],
                health,
            );
        }
        let to_learner = format!("{id:x}");
        let all = t.cluster.endpoints();
        t.check(&["--endpoints", &all, "move-leader", &to_learner]);
    }

    let id_arg = format!("{id:x}");
    let promote = ["--endpoints", first.as_str(), "member", "promote", &id_arg];
    // A learner can only be promoted once it has caught up with the leader.
    let promoted = t.cluster.wait_until("the learner can be promoted", || {
        let printed = tool(t, &promote);
        async move { (printed.code == Some(0)).then_some(printed) }
    });
    let remove = ["--endpoints", first.as_str(), "member", "remove", &id_arg];
    let removed = tool(t, &remove);
    t.cluster.stop(&learner.name);
    vec![
        ("member promote <id>".to_string(), promoted),
        ("member remove <id>".to_string(), removed),
    ]
}

/// The ID in `Member <id> added to cluster <cluster id>`.
fn new_member_id(add: &Printed) -> u64 {
    let id = add
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected member add output: {add:?}"));
    u64::from_str_radix(id, 16).unwrap_or_else(|_| panic!("bad member ID in {add:?}"))
}

/// Masks a new member's (random) ID. The cluster list of `member add` is
/// ordered by member ID, so its entries are sorted too.
fn mask_member(text: &str, id: u64) -> String {
    let text = text
        .replace(&format!("{id:16x}"), "<new member>")
        .replace(&format!("{id:x}"), "<new member>");
    text.lines()
        .map(|line| match line.strip_prefix("ETCD_INITIAL_CLUSTER=") {
            Some(list) => {
                let mut entries: Vec<&str> = list.trim_matches('"').split(',').collect();
                entries.sort_unstable();
                format!("ETCD_INITIAL_CLUSTER=\"{}\"\n", entries.join(","))
            }
            None => format!("{line}\n"),
        })
        .collect()
}

/// Health output with the durations masked and the records sorted: the
/// checks run concurrently, so they finish (and are listed) in any order.
/// Tables are compared with runs of spaces and dashes collapsed, since the
/// width of the duration column varies.
fn health(text: &str) -> String {
    let text = mask_durations(text);
    if let Some(inner) = text
        .trim_end()
        .strip_prefix("[{")
        .and_then(|t| t.strip_suffix("}]"))
    {
        let mut records: Vec<&str> = inner.split("},{").collect();
        records.sort_unstable();
        return records.join("},{");
    }
    if text.contains("\n\n") {
        let mut blocks: Vec<&str> = text.split("\n\n").collect();
        blocks.sort_unstable();
        return blocks.join("\n\n");
    }
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut collapsed = String::new();
            for c in line.chars() {
                if (c == ' ' || c == '-') && collapsed.ends_with(c) {
                    continue;
                }
                collapsed.push(c);
            }
            collapsed
        })
        .collect();
    lines.sort_unstable();
    lines.join("\n")
}

/// Replaces every Go duration (`850ns`, `1.5ms`, `2m0.5s`, …) with `<took>`.
fn mask_durations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |out: &mut String, token: &mut String| {
        out.push_str(if is_duration(token) { "<took>" } else { token });
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == 'µ' {
            token.push(c);
        } else {
            flush(&mut out, &mut token);
            out.push(c);
        }
    }
    flush(&mut out, &mut token);
    out
}

fn is_duration(token: &str) -> bool {
    let mut rest = token;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let number = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number == 0 {
            return false;
        }
        rest = &rest[number..];
        let Some(unit) = ["ns", "µs", "ms", "s", "m", "h"]
            .iter()
            .find(|unit| rest.starts_with(*unit))
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

#[test]
fn masking_helpers() {
    assert_eq!(
        mask_durations("a took = 1.5ms, 850ns 2m0.5s 127.0.0.1:2379 3.4.23 m1 20"),
        "a took = <took>, <took> <took> 127.0.0.1:2379 3.4.23 m1 20"
    );
    assert_eq!(
        health("[{\"endpoint\":\"b\",\"took\":\"1ms\"},{\"endpoint\":\"a\",\"took\":\"2µs\"}]\n"),
        "\"endpoint\":\"a\",\"took\":\"<took>\"},{\"endpoint\":\"b\",\"took\":\"<took>\""
    );
    assert_eq!(
        mask_member(
            "Member  3736440f3fa14c7 added\nETCD_INITIAL_CLUSTER=\"m4=u,m1=v\"\n",
            0x0373_6440_f3fa_14c7
        ),
        "Member <new member> added\nETCD_INITIAL_CLUSTER=\"m1=v,m4=u\"\n"
    );
}
