//! The key-value commands: put, get, del, txn, compaction.

use crate::both::Both;

#[test]
fn etcdctl_sees_the_same_answers() {
    let mut t = Both::start();
    // Revisions 2..=11.
    t.must(&["put", "foo", "bar"]);
    t.run(&["put", "foo", "bar2", "--prev-kv"]);
    t.run(&["put", "foo2", "baz", "-w", "json"]);
    t.must(&["put", "foo/a", "1"]);
    t.must(&["put", "foo/b", "2"]);
    t.must(&["put", "foo/c", "1"]);
    t.must(&["put", "zoo", "z"]);
    t.run(&["put", "foo", "--ignore-value", "--prev-kv", "-w", "json"]);
    t.run(&["put", "foo/b", "22", "--prev-kv", "-w", "fields"]);
    t.must(&["put", "\u{1}bin\u{7f}", "v"]);

    // Errors raised by the server.
    t.run(&["put", "missing", "--ignore-value"]);
    t.run(&["put", "", "v"]);
    t.run(&["put", "k", "v", "--lease=1234"]);
    t.run(&["get", ""]);

    // get and its options.
    for args in [
        vec!["get", "foo"],
        vec!["get", "foo", "-w", "json"],
        vec!["get", "foo", "-w", "fields"],
        vec!["get", "foo", "--print-value-only"],
        vec!["get", "foo", "--keys-only"],
        vec!["get", "nosuchkey"],
        vec!["get", "nosuchkey", "-w", "json"],
        vec!["get", "foo", "fop"],
        vec!["get", "foo", "--prefix"],
        vec!["get", "foo", "--prefix", "-w", "json"],
        vec!["get", "foo", "--prefix", "--limit", "2"],
        vec!["get", "foo", "--prefix", "--limit", "2", "-w", "json"],
        vec!["get", "foo", "--prefix", "--limit", "100"],
        vec!["get", "foo", "--from-key"],
        vec!["get", "", "--from-key"],
        vec!["get", "", "--prefix", "-w", "json"],
        vec!["get", "foo/b", "--from-key", "--keys-only"],
        vec!["get", "foo", "--prefix", "--keys-only"],
        vec!["get", "foo", "--prefix", "--print-value-only"],
        vec!["get", "foo", "--prefix", "--consistency=s"],
        vec!["get", "foo", "--prefix", "-w", "fields"],
        vec!["get", "foo", "--rev=1"],
        vec!["get", "foo", "--rev=2"],
        vec!["get", "foo", "--rev=3", "-w", "json"],
        vec!["get", "foo", "--prefix", "--rev=6", "-w", "json"],
        vec!["get", "foo", "--rev=1000"],
        vec!["get", "foo", "--prefix", "--rev=1000", "-w", "json"],
        vec![
            "get",
            "foo",
            "--prefix",
            "--limit=2",
            "--rev=6",
            "--keys-only",
        ],
        vec!["get", "foo", "foo/b", "--consistency=s", "-w", "fields"],
        vec!["get", "foo/", "--prefix", "--print-value-only", "--limit=1"],
    ] {
        t.run(&args);
    }
    for target in ["KEY", "VERSION", "CREATE", "MODIFY", "VALUE"] {
        for order in ["ASCEND", "DESCEND"] {
            let by = format!("--sort-by={target}");
            let ord = format!("--order={order}");
            t.run(&["get", "foo", "--prefix", &by, &ord]);
            t.run(&[
                "get",
                "",
                "--from-key",
                &by,
                &ord,
                "--limit=3",
                "-w",
                "json",
            ]);
        }
    }

    // txn from stdin, both branches, and errors.
    let txn_then = "mod(\"foo2\") > \"0\"\nvalue(\"foo2\") = \"baz\"\n\nput txn-s yes\nget foo2\n\nput txn-f no\n\n";
    let txn_else =
        "version(\"foo\") = \"1\"\n\nput txn-s yes2\n\nput txn-f no\nget txn-f\ndel foo/c\n\n";
    t.run_with(&["txn"], Some(txn_then));
    t.run_with(&["txn"], Some(txn_else));
    t.run_with(&["txn", "-w", "json"], Some(txn_then));
    t.run_with(&["txn", "-w", "fields"], Some(txn_else));
    t.run_with(
        &["txn"],
        Some("create(\"nosuchkey\") = \"0\"\nmod(\"foo\") > \"3\"\n\nget foo --prefix\n\n\n"),
    );
    t.run_with(&["txn"], Some("\nput dup 1\nput dup 2\n\n\n"));
    t.run_with(&["txn"], Some("\ndel foo --prefix\nput foo/x 1\n\n\n"));
    t.run_with(
        &["txn", "-w", "json"],
        Some("value(\"nosuchkey\") = \"\"\n\n\nget foo --rev=2\n\n"),
    );

    // del.
    t.run(&["del", "foo/a"]);
    t.run(&["del", "nosuchkey"]);
    t.run(&["del", "foo/", "--prefix", "--prev-kv"]);
    t.run(&["del", "foo2", "--prev-kv", "-w", "json"]);
    t.run(&["del", "foo/", "--prefix"]);
    t.run(&["get", "", "--prefix", "-w", "json"]);

    // compaction, then reads at and below the compacted revision.
    t.run(&["compaction", "1000"]);
    t.run(&["compaction", "6"]);
    t.run(&["compaction", "6"]);
    t.run(&["compaction", "3"]);
    t.run(&["get", "foo", "--rev=5"]);
    t.run(&["get", "foo", "--rev=6", "-w", "json"]);
    t.run(&["get", "", "--prefix", "--rev=7", "-w", "json"]);
    t.run(&["compaction", "--physical", "12"]);
    t.run(&["get", "foo", "--rev=11"]);
    t.run(&["get", "", "--prefix", "--rev=12", "--keys-only"]);
    t.run_with(&["txn"], Some("\nget foo --rev=2\n\n\n"));
    t.run(&["put", "after", "compaction", "-w", "json"]);
    t.run(&["del", "", "--from-key", "--prev-kv"]);
    t.run(&["get", "", "--from-key", "-w", "json"]);
    t.finish(90);
}
