//! `lock` and `elect`: holding a lock until interrupted, running a command
//! under a lock (also after waiting for it), campaigning, handing
//! leadership over, observing leaders, and argument errors.
//!
//! Lock and election keys end in the ID of a lease the server picked, so
//! those IDs are masked; everything else is compared as printed. Steps
//! that depend on another process having reached a point wait for it
//! through the keys it put.

use ectd_client::KeyRange;

use super::harness::{mask_leases, with_client, Tool, Transcript};

pub fn scenario(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    lock(tool, endpoint, t);
    elect(tool, endpoint, t);
}

fn lock(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    for args in [
        &[
            "lock",
            "L1",
            "--",
            "sh",
            "-c",
            r#"echo "$ETCD_LOCK_KEY" "$ETCD_LOCK_REV""#,
        ][..],
        &[
            "lock",
            "L1",
            "--ttl=5",
            "--",
            "sh",
            "-c",
            "echo again; exit 3",
        ],
        &["lock", "L1", "/nonexistent"],
        &["lock", "L1", "no-such-command-anywhere"],
        &["lock"],
        &["lock", "L1", "-w", "yaml", "echo"],
    ] {
        let printed = tool.run(endpoint, args, b"");
        t.record(args.join(" "), printed.masked(mask_leases));
    }

    // Held until SIGTERM, which unlocks.
    for format in ["simple", "json", "fields"] {
        let args = ["lock", "L2", "-w", format];
        let mut holder = tool.spawn(endpoint, &args);
        holder.wait_for("the lock's key", |out| out.ends_with(b"\n"));
        t.record(args.join(" "), holder.terminate().masked(mask_leases));
    }

    // A command that has to wait for the lock runs once it is released.
    let mut holder = tool.spawn(endpoint, &["lock", "L3"]);
    holder.wait_for("the lock's key", |out| out.ends_with(b"\n"));
    let mut waiter = tool.spawn(endpoint, &["lock", "L3", "echo", "got it"]);
    wait_for_keys(endpoint, "L3/", 2);
    assert!(waiter.stdout().is_empty(), "the lock is held by another");
    t.record("lock L3 (holder)", holder.terminate().masked(mask_leases));
    waiter.wait_for("the command's output", |out| out.ends_with(b"\n"));
    t.record("lock L3 echo got it", waiter.finish());
    t.run(tool, endpoint, &["get", "L", "--prefix"]);
}

fn elect(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    let first = ["elect", "E1", "p1"];
    let mut leader = tool.spawn(endpoint, &first);
    leader.wait_for("the leader key", |out| out.ends_with(b"p1\n"));

    // Observers set up while p1 leads start with it.
    let listen = ["elect", "--listen", "E1"];
    let listen_json = ["elect", "-l", "E1", "-w", "json"];
    let mut observer = tool.spawn(endpoint, &listen);
    let mut json_observer = tool.spawn(endpoint, &listen_json);
    observer.wait_for("the first leader", |out| out.ends_with(b"p1\n"));
    json_observer.wait_for("the first leader", |out| out.ends_with(b"\n"));

    let second = ["elect", "E1", "p2", "-w", "json"];
    let mut candidate = tool.spawn(endpoint, &second);
    wait_for_keys(endpoint, "E1/", 2);
    assert!(candidate.stdout().is_empty(), "p1 still leads");

    // p1 resigns: p2 leads.
    t.record(first.join(" "), leader.terminate().masked(mask_leases));
    candidate.wait_for("the leader key", |out| out.ends_with(b"\n"));
    observer.wait_for("the second leader", |out| out.ends_with(b"p2\n"));
    json_observer.wait_for("the second leader", |out| {
        out.iter().filter(|&&b| b == b'\n').count() == 2
    });
    t.record(second.join(" "), candidate.terminate().masked(mask_leases));
    wait_for_keys(endpoint, "E1/", 0);
    t.record(listen.join(" "), observer.terminate().masked(mask_leases));
    t.record(
        listen_json.join(" "),
        json_observer.terminate().masked(mask_leases),
    );

    for args in [
        &["elect"][..],
        &["elect", "E1"],
        &["elect", "-l", "E1", "p"],
        &["elect", "a", "b", "c"],
        &["elect", "E1", "p", "-w", "yaml"],
    ] {
        t.run(tool, endpoint, args);
    }
}

/// Waits until `count` keys start with `prefix`: the candidates of an
/// election or the holder and waiters of a lock.
fn wait_for_keys(endpoint: &str, prefix: &str, count: i64) {
    let range = KeyRange::prefix(prefix);
    with_client(endpoint, |client| async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let resp = client
                .range(ectd_client::proto::etcdserverpb::RangeRequest {
                    key: range.key.clone(),
                    range_end: range.range_end.clone(),
                    count_only: true,
                    ..Default::default()
                })
                .await
                .expect("count keys");
            if resp.count == count {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} keys under {prefix} expected, {} found",
                resp.count
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
}
