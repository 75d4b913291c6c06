//! The lease commands, and keys attached to leases.

use crate::both::Both;

#[test]
fn etcdctl_lease_commands() {
    let mut t = Both::start();
    let (a, b) = t.grant("600", "LEASE_A");
    let (c, d) = t.grant("1", "LEASE_SHORT");
    t.run(&["lease", "grant", "9000000001"]);
    t.run(&["lease", "grant", "abc"]);
    t.run_each(&(
        vec![
            "put".into(),
            "k1".into(),
            "v1".into(),
            format!("--lease={a}"),
        ],
        vec![
            "put".into(),
            "k1".into(),
            "v1".into(),
            format!("--lease={b}"),
        ],
    ));
    t.run(&["put", "k3", "v3", "--lease=1234abcd"]);
    t.run(&["get", "k", "--prefix", "-w", "json"]);
    t.run(&[
        "put",
        "k1",
        "--ignore-lease",
        "--ignore-value",
        "-w",
        "json",
    ]);
    // One attached key: etcd lists several in no particular order.
    t.run_each(&(
        vec![
            "lease".into(),
            "timetolive".into(),
            a.clone(),
            "--keys".into(),
        ],
        vec![
            "lease".into(),
            "timetolive".into(),
            b.clone(),
            "--keys".into(),
        ],
    ));
    t.run_each(&(
        vec![
            "put".into(),
            "k2".into(),
            "v2".into(),
            format!("--lease={a}"),
        ],
        vec![
            "put".into(),
            "k2".into(),
            "v2".into(),
            format!("--lease={b}"),
        ],
    ));
    t.run_each(&(
        vec![
            "lease".into(),
            "keep-alive".into(),
            "--once".into(),
            a.clone(),
        ],
        vec![
            "lease".into(),
            "keep-alive".into(),
            "--once".into(),
            b.clone(),
        ],
    ));
    t.run(&["lease", "timetolive", "1234abcd"]);
    t.run(&["lease", "keep-alive", "--once", "1234abcd"]);
    t.run(&["lease", "revoke", "1234abcd"]);
    // The short lease expires without keep-alives; its (absent) keys with it.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    t.run_each(&(
        vec!["lease".into(), "timetolive".into(), c.clone()],
        vec!["lease".into(), "timetolive".into(), d.clone()],
    ));
    t.run(&["lease", "list"]);
    t.run_each(&(
        vec!["lease".into(), "revoke".into(), a.clone()],
        vec!["lease".into(), "revoke".into(), b.clone()],
    ));
    t.run(&["get", "k", "--prefix", "-w", "json"]);
    t.run_each(&(
        vec![
            "lease".into(),
            "timetolive".into(),
            a.clone(),
            "-w".into(),
            "json".into(),
        ],
        vec![
            "lease".into(),
            "timetolive".into(),
            b.clone(),
            "-w".into(),
            "json".into(),
        ],
    ));
    t.run(&["lease", "list"]);
    t.finish(18);
}
