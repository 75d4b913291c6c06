//! `watch`: live and replayed events in every output format, `--prev-kv`,
//! `--prefix`, ranges, `--hex`, a command per event, interactive mode, a
//! watch on a compacted revision and argument errors.
//!
//! Watchers run in the background while the library writes; each is
//! stopped once it has printed the last write. Nothing is masked: both
//! servers see the same writes, so revisions agree.

use std::time::Duration;

use ectd_client::proto::etcdserverpb::{
    request_op, CompactionRequest, PutRequest, RequestOp, TxnRequest,
};
use ectd_client::Client;

use super::harness::{with_client, Tool, Transcript};

/// The value of the last write of a round, which every watcher waits for.
const END: &str = "END-OF-ROUND";

/// How long a watcher that starts "now" is given to be set up before the
/// first write (etcdctl announces nothing when it is).
const SETTLE: Duration = Duration::from_millis(1500);

/// Prints one line per event from the `ETCD_WATCH_*` variables.
const PRINT_EVENT: &str = r#"printf '%s|%s|%s|%s\n' "$ETCD_WATCH_REVISION" "$ETCD_WATCH_EVENT_TYPE" "$ETCD_WATCH_KEY" "$ETCD_WATCH_VALUE""#;

pub fn scenario(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    live_and_replayed(tool, endpoint, t);
    interactive(tool, endpoint, t);
    compacted(tool, endpoint, t);
    argument_errors(tool, endpoint, t);
}

fn live_and_replayed(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    let start = with_client(endpoint, |c| async move { revision(&c).await + 1 }).to_string();
    let start = start.as_str();
    let watchers: Vec<Vec<&str>> = vec![
        // Set up before the writes, from "now".
        vec!["watch", "w", "--prefix", "--prev-kv"],
        vec!["watch", "w", "--prefix", "--", "sh", "-c", PRINT_EVENT],
        // Replaying from the first write, so it does not matter when they
        // are set up.
        vec!["watch", "w/a", "--rev", start],
        vec!["watch", "w/a", "w/c", "--rev", start],
        // A third argument makes etcdctl drop the range end.
        vec!["watch", "w/a", "w/zz", "extra", "--rev", start],
        vec!["watch", "w", "--prefix", "--rev", start, "--hex"],
        vec![
            "watch",
            "--rev",
            start,
            "w",
            "--prefix",
            "--prev-kv",
            "-w",
            "json",
        ],
        vec![
            "watch",
            "w",
            "--prefix",
            "--prev-kv",
            "--rev",
            start,
            "-w",
            "fields",
        ],
        vec![
            "watch",
            "w",
            "--prefix",
            "--prev-kv",
            "--rev",
            start,
            "-w",
            "protobuf",
        ],
    ];
    let mut running: Vec<_> = watchers
        .iter()
        .map(|args| (args.join(" "), tool.spawn(endpoint, args)))
        .collect();
    std::thread::sleep(SETTLE);
    with_client(endpoint, |c| async move { first_round(&c).await });
    for (_, watcher) in &mut running {
        watcher.wait_for_text(END);
    }
    for (shown, watcher) in running {
        t.record(shown, watcher.kill());
    }

    // The whole history, then live again.
    let mut history = tool.spawn(endpoint, &["watch", "w", "--prefix", "--rev", "1"]);
    with_client(endpoint, |c| async move {
        put(&c, "w/late", "after the replay").await;
        put(&c, "w/a", END).await;
    });
    history.wait_for("the replay and the late writes", |out| {
        out.windows(END.len())
            .filter(|w| *w == END.as_bytes())
            .count()
            == 2
    });
    t.record("watch w --prefix --rev 1", history.kill());
}

/// Puts, deletes, a transaction with two puts and a prefix delete (several
/// events in one response), binary and multi-line values, then [`END`].
async fn first_round(c: &Client) {
    put(c, "w/a", "1").await;
    put(c, "w/a", "2").await;
    put(c, "w/b", "x").await;
    c.delete_range(ectd_client::proto::etcdserverpb::DeleteRangeRequest {
        key: b"w/a".to_vec(),
        ..Default::default()
    })
    .await
    .expect("delete");
    let put_op = |key: &str, value: &str| RequestOp {
        request: Some(request_op::Request::RequestPut(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })),
    };
    c.txn(TxnRequest {
        success: vec![put_op("w/c", "y"), put_op("w/d", "z")],
        ..Default::default()
    })
    .await
    .expect("txn");
    c.put_kv("w/c", b"\xff\x00bin".to_vec()).await.expect("put");
    put(c, "w/b", "two\nlines \"quoted\"").await;
    let all = ectd_client::KeyRange::prefix("w/");
    c.delete_range(ectd_client::proto::etcdserverpb::DeleteRangeRequest {
        key: all.key,
        range_end: all.range_end,
        ..Default::default()
    })
    .await
    .expect("delete prefix");
    put(c, "w/a", END).await;
}

async fn put(c: &Client, key: &str, value: &str) {
    c.put_kv(key, value).await.expect("put");
}

async fn revision(c: &Client) -> i64 {
    c.get("any").await.expect("get").header.unwrap().revision
}

/// `watch -i`: watches and progress requests from stdin, invalid lines
/// reported on stderr, and the end of input ending the command.
fn interactive(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    let mut session = tool.spawn(endpoint, &["watch", "-i"]);
    session.send_line("watch w --prefix --prev-kv");
    // The answer to a progress request follows the watch's creation on
    // the same stream: once it is printed, the watch is in place.
    session.send_line("progress");
    session.wait_for_text("progress notify");
    with_client(endpoint, |c| async move {
        put(&c, "w/i", "1").await;
        put(&c, "w/i", "2").await;
        put(&c, "w/a", END).await;
    });
    session.wait_for_text(END);
    for line in ["bogus", "", "watch", "watch a b --prefix", "put k v"] {
        session.send_line(line);
    }
    t.record("watch -i", session.finish());

    let mut session = tool.spawn(endpoint, &["watch", "-i", "-w", "json"]);
    session.send_line(r#"watch w/j --rev 0 -- sh -c "echo got $ETCD_WATCH_VALUE""#);
    session.send_line("progress");
    session.wait_for_text("progress notify");
    with_client(
        endpoint,
        |c| async move { put(&c, "w/j", "the value").await },
    );
    session.wait_for_text("got \"the value\"");
    t.record("watch -i -w json (with a command)", session.finish());

    // Mistakes in a watch line end the session.
    for line in ["watch --prefix", "watch k --", "watch k --bogus"] {
        let mut session = tool.spawn(endpoint, &["watch", "-i"]);
        session.send_line(line);
        t.record(format!("watch -i: {line}"), session.finish());
    }
}

/// A watch from a compacted revision is canceled by the server.
fn compacted(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    with_client(endpoint, |c| async move {
        let revision = revision(&c).await;
        c.compact(CompactionRequest {
            revision,
            physical: true,
        })
        .await
        .expect("compact");
    });
    for format in ["simple", "json", "fields", "protobuf", "table"] {
        t.run(
            tool,
            endpoint,
            &["watch", "w", "--prefix", "--rev", "2", "-w", format],
        );
    }
}

fn argument_errors(tool: &Tool, endpoint: &str, t: &mut Transcript) {
    for args in [
        &["watch"][..],
        &["watch", "a", "b", "--prefix"],
        &["watch", "a", "--"],
        &["watch", "--prefix", "--"],
        &["watch", "a", "-w", "yaml"],
    ] {
        t.run(tool, endpoint, args);
    }
    // An empty range: refused when the watch is created.
    for format in ["simple", "json", "fields", "protobuf"] {
        t.run(tool, endpoint, &["watch", "b", "a", "-w", format]);
    }
    // The first response already cannot be printed.
    let current = with_client(endpoint, |c| async move { revision(&c).await }).to_string();
    t.run(
        tool,
        endpoint,
        &["watch", "w", "--prefix", "--rev", &current, "-w", "table"],
    );
    for (env, args) in [
        (&[("ETCDCTL_WATCH_RANGE_END", "z")][..], &["watch", "a"][..]),
        (&[("ETCDCTL_WATCH_KEY", "a")], &["watch", "b"]),
        (&[("ETCDCTL_WATCH_KEY", "a")], &["watch", "b", "--", "echo"]),
    ] {
        let printed = tool.run_with_env(endpoint, args, b"", env);
        let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.record(format!("{} {}", shown.join(" "), args.join(" ")), printed);
    }
}
