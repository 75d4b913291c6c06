//! `etcdctl watch`: live events, history replay, options and output formats.

use crate::both::{same, Both};

#[test]
fn etcdctl_watch_commands() {
    let mut t = Both::start_with(&["--experimental-watch-progress-notify-interval=1s"]);
    // Revisions 2..=5.
    t.must(&["put", "foo", "0"]);
    t.must(&["put", "foo/a", "1"]);
    t.must(&["put", "bar", "2"]);
    t.must(&["put", "foo", "3"]);

    let prefix = t.spawn_each(&same(&["watch", "foo", "--prefix"]));
    let prev = t.spawn_each(&same(&["watch", "foo", "--prev-kv"]));
    let json = t.spawn_each(&same(&[
        "watch",
        "foo",
        "--prefix",
        "--prev-kv",
        "-w",
        "json",
    ]));
    let range = t.spawn_each(&same(&["watch", "bar", "foo0"]));
    let history = t.spawn_each(&same(&["watch", "foo", "--prefix", "--rev=2"]));
    let history_json = t.spawn_each(&same(&["watch", "", "--from-key", "--rev=3", "-w", "json"]));
    let progress = t.spawn_each(&same(&[
        "watch",
        "quiet",
        "--progress-notify",
        "-w",
        "json",
    ]));

    // Revisions 6..=11: puts, an overwrite, deletes, a multi-op txn (one revision).
    t.must(&["put", "foo", "4"]);
    t.must(&["put", "foo/b", "5"]);
    t.must(&["del", "foo/a"]);
    t.run_with(&["txn"], Some("\nput foo/c 6\nput bar 7\ndel foo\n\n\n"));
    t.must(&["del", "foo/", "--prefix"]);
    t.must(&["put", "foo", "8"]);
    // Progress notifications arrive at least once a second on the quiet watch.
    std::thread::sleep(std::time::Duration::from_millis(1500));

    for w in [prefix, prev, json, range, history, history_json] {
        t.stop(w);
    }
    let shown = t.stop(progress);
    assert!(
        shown.stdout.lines().count() >= 2,
        "no progress notification on the quiet watch: {shown:?}"
    );

    // A watch from a compacted revision is cancelled.
    t.run(&["compaction", "8"]);
    let compacted = t.spawn_each(&same(&["watch", "foo", "--rev=3"]));
    t.stop(compacted);
    let from_compact = t.spawn_each(&same(&["watch", "foo", "--prefix", "--rev=8"]));
    t.stop(from_compact);
    t.finish(20);
}
