//! The script: etcdctl 2 command lines, in the order they run (later steps
//! rely on what earlier ones wrote).

use std::time::Duration;

use crate::harness::Compare;

/// Runs every part of the script.
pub fn script(t: &mut Compare) {
    writes_and_reads(t);
    directories(t);
    listings(t);
    in_order_keys(t);
    deletes(t);
    ttls_and_values(t);
    watches(t);
    members(t);
    global_flags(t);
    usage(t);
}

fn writes_and_reads(t: &mut Compare) {
    t.check(&["set", "/foo", "bar"]);
    t.check(&["set", "/foo", "bar2"]);
    t.check(&["-o", "json", "set", "/foo", "bar3"]);
    t.check(&["-o", "extended", "set", "/foo", "bar4"]);
    t.check(&["get", "/foo"]);
    t.check(&["-o", "json", "get", "/foo"]);
    t.check(&["-o", "extended", "get", "/foo"]);
    t.check(&["--output=json", "get", "foo"]);
    t.check(&["get", "--quorum", "/foo"]);
    t.check(&["get", "/foo", "-q", "--sort"]);
    t.check(&["get", "/missing"]);
    t.check(&["-o", "json", "get", "/missing"]);
    t.check(&["mk", "/foo", "x"]);
    t.check(&["mk", "/new", "v"]);
    t.check(&["-o", "json", "mk", "/new2", "v2"]);
    t.check(&["update", "/new", "v2"]);
    t.check(&["update", "/missing", "v"]);
    t.check(&["-o", "json", "update", "/new", "v3"]);
    t.check(&["set", "/foo", "baz", "--swap-with-value", "bar4"]);
    t.check(&["set", "/foo", "q", "--swap-with-value", "nope"]);
    t.check(&["-o", "json", "set", "--swap-with-index", "1", "/foo", "q"]);
    t.check(&[
        "-o",
        "extended",
        "set",
        "/foo",
        "by-index",
        "--swap-with-index",
        "@index:/foo",
    ]);
    t.check(&["set", "/dash", "-5"]);
    t.check(&["set", "--", "/dash", "-6"]);
    t.check_stdin(&["set", "/stdin"], "from stdin\n");
    t.check_stdin(&["mk", "/stdin2"], "two\nlines");
    t.check(&["set", "/no-value"]);
}

fn directories(t: &mut Compare) {
    t.check(&["set", "/dir/a", "1"]);
    t.check(&["set", "/dir/b", "2"]);
    t.check(&["set", "/dir/sub/c", "3"]);
    t.check(&["mkdir", "/emptydir"]);
    t.check(&["mkdir", "/emptydir"]);
    t.check(&["-o", "json", "mkdir", "/dir2"]);
    t.check(&["-o", "extended", "mkdir", "/dir3"]);
    t.check(&["setdir", "/dir3"]);
    t.check(&["setdir", "/newdir"]);
    t.check(&["-o", "json", "setdir", "/newdir2"]);
    t.check(&["updatedir", "/newdir"]);
    t.check(&["-o", "json", "updatedir", "/newdir2"]);
    t.check(&["updatedir", "/nodir"]);
    t.check(&["update", "/dir", "x"]);
    t.check(&["mk", "/dir/a/under-a-value", "x"]);
    t.check(&["get", "/dir"]);
    t.check(&["get", "/"]);
    t.check(&["set", "/", "x"]);
    t.check(&["mkdir", "/"]);
}

fn listings(t: &mut Compare) {
    t.check(&["ls", "--sort"]);
    t.check(&["ls", "--sort", "/dir"]);
    t.check(&["ls", "--sort", "-r", "/dir"]);
    t.check(&["ls", "--sort", "--recursive", "-p", "/"]);
    t.check(&["-o", "json", "ls", "--sort", "-r", "/dir"]);
    t.check(&["-o", "extended", "ls", "--sort", "/dir"]);
    t.check(&["-o", "json", "ls", "/emptydir"]);
    t.check(&["ls", "/missing"]);
    t.check(&["ls", "/foo"]);
    t.check(&["ls", "-p", "--sort", "/dir"]);
    // urfave takes `/dir` for the value of `--sort`, which ends the flags.
    t.check(&["ls", "--sort", "/dir", "-p", "-r"]);
    t.check(&["ls", "--quorum", "--sort", "dir/"]);
    t.check_unordered(&["ls", "-r", "/dir"]);
    t.check_unordered(&["ls"]);
}

fn in_order_keys(t: &mut Compare) {
    t.check(&["mk", "--in-order", "/queue", "job1"]);
    t.check(&["-o", "json", "mk", "--in-order", "/queue", "job2"]);
    t.check(&["mk", "/queue", "job3", "--in-order"]);
    t.check(&[
        "-o",
        "extended",
        "mk",
        "--in-order",
        "/queue",
        "job4",
        "--ttl",
        "500",
    ]);
    t.check(&["ls", "--sort", "/queue"]);
    t.check(&["mk", "--in-order", "/foo", "not-a-dir"]);
}

fn deletes(t: &mut Compare) {
    t.check(&["rm", "/foo", "--with-value", "nope"]);
    t.check(&["rm", "/foo", "--with-index", "1"]);
    t.check(&["rm", "/foo", "--with-value", "by-index"]);
    t.check(&["set", "/foo", "again"]);
    t.check(&["-o", "json", "rm", "--with-index", "@index:/foo", "/foo"]);
    t.check(&["rm", "/new"]);
    t.check(&["-o", "json", "rm", "/new2"]);
    t.check(&["-o", "extended", "rm", "/stdin"]);
    t.check(&["-o", "extended", "rm", "/missing"]);
    t.check(&["rm", "/dir"]);
    t.check(&["rm", "/dir", "--dir"]);
    t.check(&["rmdir", "/dir"]);
    t.check(&["rmdir", "/emptydir"]);
    t.check(&["rmdir", "/dash"]);
    t.check(&["rm", "/dir2", "--dir"]);
    t.check(&["-o", "json", "rm", "/dir3", "--dir"]);
    t.check(&["-o", "json", "rm", "-r", "/dir"]);
    t.check(&["rm", "-r", "/newdir"]);
    t.check(&["rm", "-r", "/"]);
    t.check(&["rm", "/"]);
}

fn ttls_and_values(t: &mut Compare) {
    t.check(&["-o", "json", "set", "/ttl", "v", "--ttl", "100"]);
    t.check(&["-o", "extended", "mk", "/ttl2", "v", "--ttl", "1000"]);
    t.check(&["-o", "json", "set", "/ttl", "v2", "--ttl", "200"]);
    t.check(&["-o", "json", "setdir", "/ttldir", "--ttl", "300"]);
    t.check(&["-o", "json", "updatedir", "/ttldir", "--ttl", "400"]);
    t.check(&["-o", "json", "update", "/ttl2", "permanent"]);
    t.check_ttl(&["-o", "extended", "get", "/ttl"]);
    t.check_ttl(&["-o", "json", "ls", "--sort", "-r", "/"]);
    t.check(&["set", "/ttl3", "v", "--ttl=-5"]);
    t.check(&["-o", "json", "get", "/ttl3"]);
    t.check(&["set", "/ttl", "v", "--ttl", "abc"]);
    t.check(&["set", "/ttl", "v", "--ttl", "0x10"]);
    t.check(&["set", "/sp ace/k&?#%", "va lue<>&\"\\"]);
    t.check(&["-o", "json", "get", "/sp ace/k&?#%"]);
    t.check(&["set", "/unicode/é", "ü ☃\t"]);
    t.check(&["-o", "json", "ls", "--sort", "-r", "/unicode"]);
    t.check(&["set", "/a//b/./c/../d", "cleaned"]);
    t.check(&["get", "/a/b/d"]);
    t.check(&["-o", "json", "set", "/empty", ""]);
}

fn watches(t: &mut Compare) {
    t.check(&["set", "/w-marker", "m"]);
    t.check(&["set", "/w", "1"]);
    t.check(&["set", "/w", "2"]);
    t.check(&["set", "/w/../w", "3"]);
    t.check(&["watch", "--after-index", "@index:/w-marker", "/w"]);
    t.check(&[
        "-o",
        "json",
        "watch",
        "-r",
        "--after-index",
        "@index:/w",
        "/",
    ]);
    t.check(&[
        "-o",
        "extended",
        "watch",
        "--recursive",
        "--after-index=1",
        "/queue",
    ]);
    t.check_live(
        &["watch", "--after-index", "@now", "--forever", "-r", "/live"],
        &[
            &["set", "/live/a", "1"],
            &["mkdir", "/live/d"],
            &["rm", "/live/a"],
            &["set", "/live/t", "x", "--ttl", "1"],
        ],
        Duration::from_secs(3),
    );
    t.check_live(
        &["-o", "json", "watch", "--after-index", "@now", "/live/b"],
        &[&["set", "/live/b", "once"]],
        Duration::ZERO,
    );
    // `-r` takes `/live` along, which ends the flags: one event only.
    t.check_live(
        &["watch", "--after-index", "@now", "-r", "/live", "--forever"],
        &[&["set", "/live/c", "1"], &["set", "/live/c", "2"]],
        Duration::ZERO,
    );
    let report =
        "echo \"$ETCD_WATCH_ACTION $ETCD_WATCH_KEY=$ETCD_WATCH_VALUE @$ETCD_WATCH_MODIFIED_INDEX\"";
    t.check_live(
        &[
            "exec-watch",
            "--after-index",
            "@now",
            "--recursive",
            "/live",
            "--",
            "sh",
            "-c",
            report,
        ],
        &[
            &["set", "/live/e", "1"],
            &["mkdir", "/live/e2"],
            &["rm", "/live/e"],
        ],
        Duration::from_millis(500),
    );
    t.check_live(
        &[
            "exec-watch",
            "--after-index",
            "@now",
            "sh",
            "-c",
            report,
            "/live/f",
        ],
        &[&["set", "/live/f", "first"], &["set", "/live/f", "second"]],
        Duration::from_millis(500),
    );
    t.check_live(
        &[
            "exec-watch",
            "--after-index",
            "@index:/w",
            "no-such-program-anywhere",
            "/live/g",
        ],
        &[&["set", "/live/g", "x"]],
        Duration::from_millis(500),
    );
    // etcd keeps the last 1000 events for watches.
    t.write_many("/churn", 1001);
    t.check(&["watch", "--after-index", "1", "/queue"]);
    t.check(&["-o", "json", "watch", "-r", "--after-index=2", "/"]);
    t.check(&["exec-watch", "--after-index", "3", "/queue", "true"]);
}

fn members(t: &mut Compare) {
    t.check(&["member", "list"]);
    t.check(&["--debug", "member", "list"]);
    t.check(&["member", "list", "extra"]);
    t.check(&["member", "add"]);
    t.check(&["member", "add", "new", "notaurl"]);
    t.check(&["member", "add", "new", "http://127.0.0.1"]);
    t.check(&["member", "remove"]);
    t.check(&["member", "remove", "1234"]);
    t.check(&["member", "remove", "default"]);
    t.check(&["member", "update", "a"]);
    t.check(&["member", "update", "1234", "http://127.0.0.1:2380"]);
    t.check(&["member", "update", "@member", "notaurl"]);
    t.check(&[
        "member",
        "update",
        "@member",
        "http://127.0.0.1:2380,http://127.0.0.1:2390",
    ]);
    t.check(&["member", "list"]);
    t.check(&["member", "update", "@member", "http://127.0.0.1:2380"]);
    t.check(&["member", "bogus"]);
    t.check(&["cluster-health"]);
    t.check(&["cluster-health", "ignored-argument"]);
    t.check(&["--debug", "cluster-health"]);
}

fn global_flags(t: &mut Compare) {
    t.check(&["--debug", "get", "/w"]);
    t.check(&["--debug", "set", "/debug", "a b&c", "--ttl", "5"]);
    t.check(&["--debug", "--no-sync", "mkdir", "/debug-dir"]);
    t.check(&["--debug", "-o", "json", "rm", "/debug"]);
    t.check(&["--debug", "watch", "--after-index", "@index:/w", "/w"]);
    t.check(&["--no-sync", "get", "/w"]);
    t.check(&["--debug", "get"]);
    t.check(&["-u", "someone:secret", "get", "/w"]);
    t.check(&["--username=someone:secret", "--debug", "set", "/w", "4"]);
    t.check(&["--endpoints", "http://127.0.0.1:1", "set"]);
    t.check(&["--endpoints", "http://127.0.0.1:1", "exec-watch"]);
    t.check(&["@no-endpoints", "-C", "@url", "get", "/w"]);
    t.check(&["@no-endpoints", "--peers", "@url", "get", "/w"]);
    t.check(&["@no-endpoints", "--endpoint", "@url", "get", "/w"]);
    t.check(&[
        "@no-endpoints",
        "--endpoints",
        "@url,http://127.0.0.1:1",
        "get",
        "/w",
    ]);
    t.check(&["--endpoints", "http://127.0.0.1:1", "get", "/w"]);
    t.check(&[
        "--no-sync",
        "--endpoints",
        "http://127.0.0.1:1",
        "get",
        "/w",
    ]);
    t.check(&["--no-sync", "--endpoints", "http://127.0.0.1:1", "rm", "/w"]);
    t.check(&["--endpoints", "127.0.0.1:1", "get", "/w"]);
    t.check(&["--total-timeout", "0", "get", "/w"]);
    t.check(&["--no-sync", "--total-timeout", "0", "get", "/w"]);
    t.check(&["--timeout", "0", "get", "/w"]);
    t.check(&["-o", "yaml", "get", "/w"]);
    t.check(&["-o", "yaml", "mkdir", "/yaml"]);
    t.check(&["-o", "yaml", "ls", "/yaml"]);
    t.check(&["-o", "json", "-o", "extended", "get", "/w"]);
    t.check(&["-o", "json", "--output", "simple", "get", "/w"]);
}

fn usage(t: &mut Compare) {
    for command in [
        "set", "get", "mk", "update", "rm", "rmdir", "mkdir", "watch",
    ] {
        t.check(&[command]);
    }
    t.check(&["exec-watch", "/x"]);
    t.check(&["bogus"]);
    t.check(&["bogus", "--bogus"]);
    t.check(&["help", "bogus"]);
    t.check(&["--bogus", "get", "/w"]);
    t.check(&["-o"]);
    t.check(&["--timeout", "abc", "get", "/w"]);
    t.check(&["--no-sync=maybe", "get", "/w"]);
    t.check(&["get", "--bogus", "/w"]);
    t.check(&["set", "/a", "b", "--ttl"]);
    t.check(&["rm", "--with-index", "x", "/a"]);
    t.check(&["ls", "-r", "--recursive", "/"]);
    t.check(&["get", "--sort=maybe", "/w"]);
    t.check(&["rmdir", "--bogus"]);
    t.check(&["-h"]);
    t.check(&["help"]);
    t.check(&["--version"]);
    t.check(&["get", "--help"]);
    t.check(&["set", "-h"]);
    t.check(&["help", "rm"]);
    t.check(&["h", "ls"]);
    t.check(&["help", "help"]);
    t.check(&["rmdir", "--help"]);
    t.check(&["cluster-health", "--help"]);
    t.check(&["watch", "--help"]);
    t.check(&["exec-watch", "--help"]);
    t.check(&["member"]);
    t.check(&["member", "--help"]);
    t.check(&["member", "--bogus"]);
    t.check(&["member", "list", "--help"]);
    t.check(&["member", "list", "--bogus"]);
    t.check(&["member", "help", "add"]);
    t.check(&["member", "h"]);
    t.check(&["help", "member"]);
}
