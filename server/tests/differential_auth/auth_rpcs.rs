//! Every Auth RPC: while auth is off (anyone may manage users and roles), its
//! error cases (empty, missing and duplicate names, revoking what was never
//! granted, enabling auth without a root user or without the root role), and,
//! with auth on, each one as root, as a user with a role, without a token and
//! with a forged token.

use crate::call::*;
use crate::harness::{Options, Pair, Who};

const ROOT: Who = Who::User("root");
const ALICE: Who = Who::User("alice");
const NOBODY: Who = Who::Nobody;
const FORGED: Who = Who::Forged("AbCdEfGhIjKlMnOp.42");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_rpcs_match_etcd() {
    let mut p = Pair::start("auth: every auth RPC", Options::default()).await;
    auth_off(&mut p).await;
    p.must("enable auth", NOBODY, Call::AuthEnable).await;
    logins(&mut p).await;
    for (name, who) in [
        ("root", ROOT),
        ("alice", ALICE),
        ("nobody", NOBODY),
        ("forged", FORGED),
    ] {
        if who == ALICE {
            // Root changed her password just before, which ends her tokens.
            assert!(
                p.authenticate("authenticate alice again", "alice", "alice-secret")
                    .await
            );
        }
        by_caller(&mut p, name, who).await;
    }
    auth_on_errors(&mut p).await;
    enable_preconditions(&mut p).await;
    p.finish(120);
}

/// With auth off, anyone manages users and roles; the errors of each call.
async fn auth_off(p: &mut Pair) {
    let cases = [
        (
            "authenticate while auth is off, no users",
            authenticate("root", "pw"),
        ),
        ("enable auth without a root user", Call::AuthEnable),
        ("user list, empty", Call::UserList),
        ("role list, empty", Call::RoleList),
        ("add a user with an empty name", user_add("", "pw")),
        ("add root", user_add("root", "root-secret")),
        ("enable auth without the root role", Call::AuthEnable),
        ("add root again", user_add("root", "other")),
        ("get the root role before anyone has it", role_get("root")),
        (
            "grant root the root role before the role exists",
            grant_role("root", "root"),
        ),
        ("get root", user_get("root")),
        ("get the root role once granted", role_get("root")),
        ("add the role root", role_add("root")),
        ("grant root the root role again", grant_role("root", "root")),
        ("get the root role", role_get("root")),
        ("add a role with an empty name", role_add("")),
        ("add r1", role_add("r1")),
        ("add r1 again", role_add("r1")),
        (
            "grant r1 read on /r/",
            grant_perm("r1", Perm::Read, "/r/", "/r0"),
        ),
        (
            "grant r1 write on k1",
            grant_perm("r1", Perm::Write, "k1", ""),
        ),
        (
            "grant r1 read on /r/ again",
            grant_perm("r1", Perm::Read, "/r/", "/r0"),
        ),
        (
            "grant r1 readwrite on /r/ over the read",
            grant_perm("r1", Perm::Readwrite, "/r/", "/r0"),
        ),
        (
            "grant r1 an empty key",
            grant_perm("r1", Perm::Read, "", ""),
        ),
        (
            "grant r1 a range with end before key",
            grant_perm("r1", Perm::Read, "z", "a"),
        ),
        (
            "grant r1 from key x",
            grant_perm("r1", Perm::Read, "x", "\0"),
        ),
        (
            "grant a permission to a missing role",
            grant_perm("nope", Perm::Read, "a", ""),
        ),
        ("get r1", role_get("r1")),
        (
            "revoke a permission r1 does not have",
            revoke_perm("r1", "q", ""),
        ),
        ("revoke r1's permission on k1", revoke_perm("r1", "k1", "")),
        ("revoke it again", revoke_perm("r1", "k1", "")),
        (
            "revoke /r/ given as a single key",
            revoke_perm("r1", "/r/", ""),
        ),
        (
            "revoke a permission of a missing role",
            revoke_perm("nope", "a", ""),
        ),
        ("add alice", user_add("alice", "alice-secret")),
        ("add a user with an empty password", user_add("empty", "")),
        ("add a user without password", user_add_no_password("np")),
        ("get the user without password", user_get("np")),
        ("grant alice r1", grant_role("alice", "r1")),
        ("grant alice a missing role", grant_role("alice", "nope")),
        ("grant a missing user r1", grant_role("nobody-here", "r1")),
        ("grant a user with an empty name", grant_role("", "r1")),
        (
            "revoke from alice a role she lacks",
            revoke_role("alice", "root"),
        ),
        (
            "revoke from a missing user",
            revoke_role("nobody-here", "r1"),
        ),
        ("get alice", user_get("alice")),
        ("get a missing user", user_get("nobody-here")),
        ("get a user with an empty name", user_get("")),
        ("get a missing role", role_get("nope")),
        ("get a role with an empty name", role_get("")),
        ("delete a missing user", user_delete("nobody-here")),
        ("delete a missing role", role_delete("nope")),
        (
            "change the password of a missing user",
            change_password("nobody-here", "x"),
        ),
        (
            "change alice's password",
            change_password("alice", "alice-secret"),
        ),
        ("user list", Call::UserList),
        ("role list", Call::RoleList),
        (
            "authenticate while auth is off",
            authenticate("root", "root-secret"),
        ),
        ("disable auth while it is off", Call::AuthDisable),
    ];
    for (label, call) in cases {
        p.case(label, NOBODY, call).await;
    }
}

/// Authentication, right and wrong, once auth is on.
async fn logins(p: &mut Pair) {
    assert!(
        p.authenticate("authenticate root", "root", "root-secret")
            .await
    );
    assert!(
        p.authenticate("authenticate alice", "alice", "alice-secret")
            .await
    );
    let cases = [
        ("root with a wrong password", authenticate("root", "wrong")),
        ("a missing user", authenticate("nobody-here", "x")),
        ("an empty name", authenticate("", "x")),
        ("an empty name and password", authenticate("", "")),
        (
            "the user without password, with one",
            authenticate("np", "anything"),
        ),
        (
            "the user without password, with none",
            authenticate("np", ""),
        ),
        ("the user with an empty password", authenticate("empty", "")),
        (
            "alice with root's password",
            authenticate("alice", "root-secret"),
        ),
    ];
    for (label, call) in cases {
        p.case(&format!("authenticate {label}"), NOBODY, call).await;
    }
    p.case(
        "authenticate with a token as well",
        ALICE,
        authenticate("alice", "alice-secret"),
    )
    .await;
}

/// Each Auth RPC as `who`, auth on.
async fn by_caller(p: &mut Pair, name: &str, who: Who) {
    let user = format!("u-{name}");
    let role = format!("role-{name}");
    let cases = [
        ("enable auth again", Call::AuthEnable),
        ("add a user", user_add(&user, "x")),
        ("get root", user_get("root")),
        ("get alice", user_get("alice")),
        ("get the new user", user_get(&user)),
        ("user list", Call::UserList),
        (
            "change alice's password",
            change_password("alice", "alice-secret"),
        ),
        (
            "change the new user's password",
            change_password(&user, "y"),
        ),
        ("grant the new user r1", grant_role(&user, "r1")),
        ("revoke r1 from the new user", revoke_role(&user, "r1")),
        ("add a role", role_add(&role)),
        ("get r1", role_get("r1")),
        ("get the root role", role_get("root")),
        ("get the new role", role_get(&role)),
        ("role list", Call::RoleList),
        (
            "grant the new role a permission",
            grant_perm(&role, Perm::Write, "w", ""),
        ),
        ("revoke it", revoke_perm(&role, "w", "")),
        ("delete the new role", role_delete(&role)),
        ("delete the new user", user_delete(&user)),
    ];
    for (label, call) in cases {
        p.case(&format!("{name}: {label}"), who, call).await;
    }
    if who != ROOT {
        p.case(&format!("{name}: disable auth"), who, Call::AuthDisable)
            .await;
    }
}

/// What root may not do while auth is on.
async fn auth_on_errors(p: &mut Pair) {
    let cases = [
        ("delete root", user_delete("root")),
        (
            "revoke the root role from root",
            revoke_role("root", "root"),
        ),
        ("delete the root role", role_delete("root")),
        (
            "grant the root role a permission",
            grant_perm("root", Perm::Read, "a", ""),
        ),
        ("add alice again", user_add("alice", "x")),
        ("add r1 again", role_add("r1")),
        ("add a user with an empty name", user_add("", "x")),
        ("revoke a role alice lacks", revoke_role("alice", "nope")),
        ("get a missing role", role_get("nope")),
        ("delete r1, which alice has", role_delete("r1")),
        ("get alice after r1 is gone", user_get("alice")),
    ];
    for (label, call) in cases {
        p.case(&format!("root, auth on: {label}"), ROOT, call).await;
    }
}

/// Disabling auth, then the two preconditions of enabling it again.
async fn enable_preconditions(p: &mut Pair) {
    p.case("root disables auth", ROOT, Call::AuthDisable).await;
    p.case(
        "authenticate once auth is off",
        NOBODY,
        authenticate("root", "root-secret"),
    )
    .await;
    p.case("a token once auth is off", ROOT, Call::UserList)
        .await;
    let cases = [
        (
            "revoke the root role from root",
            revoke_role("root", "root"),
        ),
        ("enable auth, root lacks the root role", Call::AuthEnable),
        ("grant it back", grant_role("root", "root")),
        ("delete root", user_delete("root")),
        ("enable auth without a root user", Call::AuthEnable),
        ("add root again", user_add("root", "root-secret")),
        (
            "enable auth, the new root lacks the root role",
            Call::AuthEnable,
        ),
        ("grant the root role", grant_role("root", "root")),
        ("enable auth", Call::AuthEnable),
    ];
    for (label, call) in cases {
        p.case(label, NOBODY, call).await;
    }
    p.case("the old root token after re-enabling", ROOT, Call::UserList)
        .await;
    assert!(
        p.authenticate("authenticate root again", "root", "root-secret")
            .await
    );
    p.case("the new root token", ROOT, Call::UserList).await;
}
