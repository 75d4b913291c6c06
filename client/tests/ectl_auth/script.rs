//! The command lines both tools run, in order: users, roles and
//! permissions are built up with authentication off, then authentication
//! is enabled and the same users log in and read and write keys as their
//! roles allow, and finally it is disabled and enabled again.
//!
//! Passwords: root `rootpw`, alice `alicepw` (later `alicepw2`), bob
//! `bobpw`, carol `carolpw` (typed), dave `davepw` (from stdin); erin has
//! none.

use crate::harness::{Compare, FORMATS};

pub fn script(t: &mut Compare) {
    before_any_user(t);
    users(t);
    passwords(t);
    roles(t);
    permissions(t);
    user_roles(t);
    enable(t);
    logins(t);
    access(t);
    disable_and_enable_again(t);
}

const ROOT: [&str; 2] = ["--user", "root:rootpw"];

/// `ROOT` followed by `args`.
fn as_root<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut line = ROOT.to_vec();
    line.extend_from_slice(args);
    line
}

fn before_any_user(t: &mut Compare) {
    t.check_formats(&["user", "list"]);
    t.check_formats(&["role", "list"]);
    t.check(&["auth", "enable"]);
    t.check(&["auth", "enable", "extra"]);
    t.check(&["auth", "disable"]);
    t.check(&["auth", "disable", "extra"]);
    t.check(&["role", "add", "r", "-w", "yaml"]);
    t.check_auth_status(false, &[]);
}

fn users(t: &mut Compare) {
    t.check(&["user", "add", "root:rootpw"]);
    t.check(&["user", "add", "alice:alicepw", "-w", "json"]);
    t.check(&[
        "user",
        "add",
        "bob",
        "--new-user-password=bobpw",
        "-w",
        "fields",
    ]);
    t.check_stdin(
        &["user", "add", "carol", "-w", "protobuf"],
        "carolpw\ncarolpw\n",
    );
    t.check_stdin(
        &["user", "add", "dave", "--interactive=false", "-w", "table"],
        "davepw and more\n",
    );
    t.check(&["user", "add", "erin", "--no-password"]);
    // Typed passwords must match and not be empty.
    t.check_stdin(&["user", "add", "frank"], "one\ntwo\n");
    t.check_stdin(&["user", "add", "frank"], "");
    t.check(&["user", "add", "alice:other"]);
    t.check(&["user", "add", ":nameless"]);
    t.check(&["user", "add", "", "--no-password"]);
    t.check(&["user", "add"]);
    t.check(&["user", "add", "a", "b"]);
    t.check_formats(&["user", "list"]);
    t.check_formats(&["user", "get", "alice"]);
    t.check(&["user", "get", "nobody"]);
    t.check(&["user", "get"]);
    t.check(&["user", "list", "extra"]);
    t.check_formats_each(&["user", "add", "gone-{}:pw"]);
    t.check_formats_each(&["user", "delete", "gone-{}"]);
    t.check(&["user", "delete", "nobody"]);
    t.check(&["user", "delete"]);
}

fn passwords(t: &mut Compare) {
    for format in FORMATS {
        let line = ["user", "passwd", "bob", "--interactive=false", "-w", format];
        t.check_stdin(&line, "bobpw\n");
    }
    t.check_stdin(&["user", "passwd", "bob"], "bobpw\nbobpw\n");
    t.check_stdin(&["user", "passwd", "bob"], "x\ny\n");
    t.check_stdin(&["user", "passwd", "bob"], "\n");
    t.check_stdin(&["user", "passwd", "nobody", "--interactive=false"], "pw\n");
    t.check(&["user", "passwd"]);
}

fn roles(t: &mut Compare) {
    t.check_formats_each(&["role", "add", "r-{}"]);
    t.check(&["role", "add", "reader"]);
    t.check(&["role", "add", "writer"]);
    t.check(&["role", "add", "reader"]);
    t.check(&["role", "add", ""]);
    t.check(&["role", "add"]);
    t.check_formats(&["role", "list"]);
    t.check_formats(&["role", "get", "reader"]);
    t.check(&["role", "get", "nope"]);
    t.check(&["role", "get"]);
    t.check(&["role", "list", "extra"]);
}

fn permissions(t: &mut Compare) {
    t.check_formats_each(&["role", "grant-permission", "r-{}", "read", "key-{}"]);
    t.check(&[
        "role",
        "grant-permission",
        "reader",
        "read",
        "dir/",
        "--prefix",
    ]);
    t.check(&["role", "grant-permission", "reader", "READ", "single"]);
    t.check(&["role", "grant-permission", "reader", "read", "a", "c"]);
    t.check(&[
        "role",
        "grant-permission",
        "reader",
        "read",
        "z",
        "--from-key",
    ]);
    t.check(&[
        "role",
        "grant-permission",
        "writer",
        "readwrite",
        "own/",
        "--prefix",
    ]);
    t.check(&["role", "grant-permission", "writer", "Write", "log"]);
    t.check(&["role", "grant-permission", "writer", "write", "e", "d"]);
    // An empty key: the whole key space, or the key "\0".
    t.check(&[
        "role",
        "grant-permission",
        "r-simple",
        "read",
        "",
        "--prefix",
    ]);
    t.check(&["role", "grant-permission", "r-json", "write", ""]);
    t.check(&[
        "role",
        "grant-permission",
        "r-fields",
        "read",
        "",
        "e",
        "--from-key",
    ]);
    // Mistakes.
    t.check(&["role", "grant-permission", "reader", "rw", "x"]);
    t.check(&["role", "grant-permission", "nope", "read", "x"]);
    t.check(&[
        "role",
        "grant-permission",
        "reader",
        "read",
        "a",
        "b",
        "--prefix",
    ]);
    t.check(&[
        "role",
        "grant-permission",
        "reader",
        "read",
        "a",
        "--prefix",
        "--from-key",
    ]);
    t.check(&[
        "role",
        "grant-permission",
        "reader",
        "read",
        "a",
        "b",
        "--from-key",
    ]);
    t.check(&["role", "grant-permission", "reader", "read"]);
    for role in ["reader", "writer", "r-simple", "r-json", "r-fields"] {
        t.check_formats(&["role", "get", role]);
    }
    t.check(&["--hex", "role", "get", "writer"]);

    t.check_formats_each(&["role", "revoke-permission", "r-{}", "key-{}"]);
    t.check(&["role", "revoke-permission", "r-simple", "", "--prefix"]);
    t.check(&["role", "revoke-permission", "r-json", ""]);
    t.check(&["role", "revoke-permission", "r-fields", "", "--from-key"]);
    t.check(&[
        "role",
        "revoke-permission",
        "writer",
        "e",
        "d",
        "-w",
        "json",
    ]);
    t.check(&["role", "grant-permission", "writer", "write", "e", "d"]);
    t.check(&["role", "revoke-permission", "reader", "nokey"]);
    t.check(&["role", "revoke-permission", "nope", "a"]);
    t.check(&["role", "revoke-permission", "reader", "a", "b", "--prefix"]);
    t.check(&[
        "role",
        "revoke-permission",
        "reader",
        "a",
        "--prefix",
        "--from-key",
    ]);
    t.check(&["role", "revoke-permission", "reader"]);
    t.check_formats(&["role", "get", "r-simple"]);
}

fn user_roles(t: &mut Compare) {
    t.check(&["user", "grant-role", "alice", "reader"]);
    t.check(&["user", "grant-role", "alice", "writer", "-w", "json"]);
    t.check(&["user", "grant-role", "carol", "reader", "-w", "fields"]);
    t.check(&["user", "grant-role", "carol", "writer", "-w", "protobuf"]);
    t.check(&["user", "grant-role", "dave", "reader", "-w", "table"]);
    t.check(&["user", "grant-role", "alice", "nope"]);
    t.check(&["user", "grant-role", "nobody", "reader"]);
    t.check(&["user", "grant-role", "alice"]);
    t.check(&["user", "revoke-role", "bob", "reader"]);
    t.check(&["user", "revoke-role", "nobody", "reader"]);
    t.check(&["user", "revoke-role", "alice"]);
    t.check_formats(&["user", "get", "alice"]);
    t.check_formats(&["user", "get", "alice", "--detail"]);
    t.check_formats(&["user", "get", "bob", "--detail"]);

    t.check_formats_each(&["user", "grant-role", "erin", "r-{}"]);
    t.check_formats(&["user", "get", "erin", "--detail"]);
    t.check_formats_each(&["user", "revoke-role", "erin", "r-{}"]);
    t.check(&["user", "get", "erin"]);

    // Deleting a role takes it from its users.
    t.check(&["role", "add", "doomed"]);
    t.check(&["user", "grant-role", "dave", "doomed"]);
    t.check_formats_each(&["role", "delete", "r-{}"]);
    t.check(&["role", "delete", "doomed"]);
    t.check(&["user", "get", "dave"]);
    t.check(&["role", "delete", "nope"]);
    t.check(&["role", "delete"]);
    t.check_formats(&["role", "list"]);
}

fn enable(t: &mut Compare) {
    t.check(&["user", "grant-role", "root", "root"]);
    t.check_formats(&["user", "get", "root"]);
    t.check(&["user", "get", "root", "--detail"]);
    t.check(&["auth", "enable"]);
    t.check_auth_status(true, &ROOT);
    t.check_formats(&as_root(&["auth", "enable"]));
}

fn logins(t: &mut Compare) {
    // Without a login, or with a wrong one.
    t.check(&["user", "list"]);
    t.check(&["get", "k"]);
    t.check(&["--user", "root:wrong", "user", "list"]);
    t.check(&["--user", "nobody:pw", "get", "k"]);
    t.check(&["--user", "erin:pw", "get", "k"]);
    t.check(&["--user", "root:", "user", "list"]);
    t.check(&["--password", "rootpw", "user", "list"]);
    // With --password, the whole of --user is the name.
    t.check(&[
        "--user",
        "root:rootpw",
        "--password",
        "rootpw",
        "user",
        "list",
    ]);
    t.check(&[
        "--user",
        "root",
        "--password",
        "rootpw",
        "user",
        "get",
        "alice",
    ]);
    // Asked for.
    t.check_stdin(&["--user", "root", "user", "list"], "rootpw\n");
    t.check_stdin(&["--user", "root", "user", "list"], "wrong\n");
    t.check_stdin(&["--user", "root", "user", "list"], "");
    t.check_stdin(
        &[
            "--user",
            "root",
            "user",
            "passwd",
            "bob",
            "--interactive=false",
        ],
        "bobpw\nrootpw\n",
    );
    // The new user's password is asked for before the login's.
    t.check_stdin(
        &["--user", "root", "user", "add", "zed"],
        "zedpw\nzedpw\nrootpw\n",
    );
    t.check_stdin(&["--user", "root", "user", "delete", "zed"], "rootpw\n");
    // From the environment.
    t.check_env(&["user", "list"], &[("ETCDCTL_USER", "root:rootpw")]);
    t.check_env(
        &["role", "list"],
        &[("ETCDCTL_USER", "root"), ("ETCDCTL_PASSWORD", "rootpw")],
    );
    t.check_env(&["user", "list"], &[("ETCDCTL_USER", "root:wrong")]);
    t.check_env(&["user", "list"], &[("ETCDCTL_PASSWORD", "rootpw")]);

    t.check_formats(&as_root(&["user", "list"]));
    t.check_formats(&as_root(&["role", "list"]));
    t.check_formats(&as_root(&["user", "get", "carol", "--detail"]));
    t.check(&as_root(&["user", "delete", "root"]));
    t.check(&as_root(&["user", "revoke-role", "root", "root"]));
    // Managing users is root's business.
    t.check(&["--user", "bob:bobpw", "user", "list"]);
    t.check(&["--user", "alice:alicepw", "role", "add", "mine"]);
    t.check(&["--user", "alice:alicepw", "auth", "disable"]);
}

fn access(t: &mut Compare) {
    t.check(&as_root(&["put", "dir/a", "1"]));
    t.check(&as_root(&["put", "dir/b", "2"]));
    t.check(&as_root(&["put", "own/x", "1"]));
    t.check(&as_root(&["put", "secret", "s"]));
    t.check(&as_root(&["get", "", "--from-key", "-w", "json"]));

    // bob holds no role.
    t.check(&["--user", "bob:bobpw", "get", "dir/a"]);
    t.check(&["--user", "bob:bobpw", "put", "dir/a", "x"]);
    t.check(&["--user", "bob:bobpw", "del", "own/x"]);

    // alice reads dir/, "single" and [a, c) and from z on, reads and
    // writes own/, and writes log.
    let alice = ["--user", "alice:alicepw"];
    let with_alice = |args: &[&'static str]| {
        let mut line = alice.to_vec();
        line.extend_from_slice(args);
        line
    };
    t.check_formats(&with_alice(&["get", "dir/a"]));
    t.check(&with_alice(&["get", "dir/", "--prefix"]));
    t.check(&with_alice(&["get", "secret"]));
    t.check(&with_alice(&["get", "", "--from-key"]));
    t.check(&with_alice(&["put", "dir/c", "3"]));
    t.check(&with_alice(&["put", "own/y", "2"]));
    t.check(&with_alice(&["put", "log", "entry"]));
    t.check(&with_alice(&["get", "log"]));
    t.check(&with_alice(&["get", "own/", "--prefix", "-w", "json"]));
    t.check(&with_alice(&["del", "own/y"]));
    t.check(&with_alice(&["del", "dir/a"]));
    t.check(&with_alice(&["del", "own/", "--prefix"]));
    t.check_env(&["get", "dir/b"], &[("ETCDCTL_USER", "alice:alicepw")]);
    t.check_stdin(&["--user", "alice", "put", "own/z", "3"], "alicepw\n");

    // carol's password was typed, dave's piped.
    t.check(&["--user", "carol:carolpw", "get", "dir/b"]);
    t.check(&["--user", "dave:davepw", "get", "dir/b"]);
    t.check(&["--user", "dave:davepw", "put", "own/d", "1"]);

    // A new password replaces the old one at once.
    t.check_stdin(
        &as_root(&["user", "passwd", "alice", "--interactive=false"]),
        "alicepw2\n",
    );
    t.check(&["--user", "alice:alicepw", "get", "dir/b"]);
    t.check(&["--user", "alice:alicepw2", "get", "dir/b"]);
    // So does the loss of a role.
    t.check(&as_root(&["user", "revoke-role", "alice", "reader"]));
    t.check(&["--user", "alice:alicepw2", "get", "dir/b"]);
}

fn disable_and_enable_again(t: &mut Compare) {
    t.check(&["auth", "disable"]);
    t.check_formats(&as_root(&["auth", "disable"]));
    t.check_auth_status(false, &[]);
    // Without authentication, a login is not needed and not checked.
    t.check(&["get", "secret"]);
    t.check(&["--user", "root:wrong", "get", "secret"]);
    t.check_formats(&["user", "list"]);

    // etcdctl gives root the root role, creating it, when it lacks it.
    t.check(&["user", "revoke-role", "root", "root"]);
    t.check(&["role", "get", "root"]);
    t.check(&["auth", "enable", "-w", "fields"]);
    t.check(&as_root(&["user", "get", "root", "--detail"]));
    t.check(&as_root(&["role", "list"]));
    t.check(&as_root(&["auth", "disable", "-w", "protobuf"]));
    t.check(&["role", "delete", "root"]);
    t.check(&["user", "get", "root"]);
}
