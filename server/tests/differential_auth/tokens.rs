//! What becomes of a token after it was issued: its user's role revoked, the
//! user deleted or given a new password, a permission or role taken away,
//! auth turned off and on, the simple token's TTL run out; and JWT tokens,
//! which carry the auth revision they were issued at and so go stale at any
//! auth change.

use crate::call::*;
use crate::cast::*;
use crate::harness::{Options, Pair, Who};
use std::path::Path;
use std::time::Duration;

/// What each stale caller tries: a read, a write, a watch, an admin call.
fn attempts() -> [(&'static str, Call); 4] {
    [
        ("get /r/1", get("/r/1")),
        ("put /r/1", put("/r/1", "x")),
        ("watch /r/", watch("/r/", R_END)),
        ("user list", Call::UserList),
    ]
}

async fn try_all(p: &mut Pair, label: &str, who: Who) {
    for (what, call) in attempts() {
        p.case(&format!("{label}: {what}"), who, call).await;
    }
}

/// Adds `user` with `role` (created with READ on `/r/` if it is new) and
/// authenticates them.
async fn reader_like(p: &mut Pair, user: &'static str, role: &str, new_role: bool) {
    if new_role {
        p.must(&format!("add role {role}"), ROOT, role_add(role))
            .await;
        p.must(
            &format!("{role} reads /r/"),
            ROOT,
            grant_perm(role, Perm::Read, "/r/", R_END),
        )
        .await;
    }
    p.must(
        &format!("add {user}"),
        ROOT,
        user_add(user, &password(user)),
    )
    .await;
    p.must(
        &format!("grant {user} {role}"),
        ROOT,
        grant_role(user, role),
    )
    .await;
    assert!(
        p.authenticate(&format!("authenticate {user}"), user, &password(user))
            .await
    );
    p.case(
        &format!("{user} reads before"),
        Who::User(user),
        get("/r/1"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_tokens_after_auth_changes_match_etcd() {
    let mut p = Pair::start("auth: simple tokens after auth changes", Options::default()).await;
    provision(&mut p).await;
    after_changes(&mut p).await;
    p.finish(60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_tokens_match_etcd() {
    let keys = tempfile::TempDir::new().expect("temp dir");
    let flag = jwt_flag(keys.path());
    let mut p = Pair::start("auth: jwt tokens", Options::with(&["--auth-token", &flag])).await;
    provision(&mut p).await;
    for (name, who) in CALLERS {
        p.case(&format!("jwt, fresh: {name} reads /r/1"), who, get("/r/1"))
            .await;
        p.case(&format!("jwt, fresh: {name} puts k1"), who, put("k1", name))
            .await;
    }
    p.must(
        "jwt: root adds an unrelated role",
        ROOT,
        role_add("unrelated"),
    )
    .await;
    for (name, who) in CALLERS {
        try_all(&mut p, &format!("jwt, after an auth change: {name}"), who).await;
    }
    p.case(
        "jwt: a token that only looks like a JWT",
        Who::Forged("eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VybmFtZSI6InJvb3QiLCJyZXZpc2lvbiI6OTl9.c2lnbmF0dXJl"),
        get("/r/1"),
    )
    .await;
    p.case(
        "jwt: authenticate with a stale token",
        ROOT,
        authenticate("reader", &password("reader")),
    )
    .await;
    authenticate_all(&mut p).await;
    for (name, who) in CALLERS {
        p.case(
            &format!("jwt, re-authenticated: {name} reads /r/1"),
            who,
            get("/r/1"),
        )
        .await;
    }
    after_changes(&mut p).await;
    p.finish(100);
}

/// The auth changes whose effect on earlier tokens is compared (the same for
/// simple and JWT tokens; their answers differ between the two).
async fn after_changes(p: &mut Pair) {
    reader_like(p, "revokee", "prefix-reader", false).await;
    p.must(
        "revoke revokee's role",
        ROOT,
        revoke_role("revokee", "prefix-reader"),
    )
    .await;
    try_all(
        p,
        "revokee after its role was revoked",
        Who::User("revokee"),
    )
    .await;

    reader_like(p, "goner", "prefix-reader", false).await;
    p.must("delete goner", ROOT, user_delete("goner")).await;
    try_all(p, "goner after being deleted", Who::User("goner")).await;
    p.must("add goner again", ROOT, user_add("goner", "new"))
        .await;
    p.must(
        "grant the new goner a role",
        ROOT,
        grant_role("goner", "prefix-reader"),
    )
    .await;
    try_all(p, "the old goner token, a new goner", Who::User("goner")).await;

    reader_like(p, "changer", "prefix-reader", false).await;
    p.must(
        "change changer's password",
        ROOT,
        change_password("changer", "new"),
    )
    .await;
    try_all(p, "changer after a new password", Who::User("changer")).await;
    p.case(
        "changer with the old password",
        Who::Nobody,
        authenticate("changer", &password("changer")),
    )
    .await;

    reader_like(p, "permless", "temp-role", true).await;
    p.must(
        "revoke temp-role's permission",
        ROOT,
        revoke_perm("temp-role", "/r/", R_END),
    )
    .await;
    try_all(
        p,
        "permless after its permission went",
        Who::User("permless"),
    )
    .await;

    reader_like(p, "roleless", "doomed-role", true).await;
    p.must("delete doomed-role", ROOT, role_delete("doomed-role"))
        .await;
    try_all(
        p,
        "roleless after its role was deleted",
        Who::User("roleless"),
    )
    .await;
    p.case("roleless's roles", ROOT, user_get("roleless")).await;

    // Turning auth off and on again.
    p.must("disable auth", ROOT, Call::AuthDisable).await;
    p.case("reader while auth is off", READER, put("/r/off", "x"))
        .await;
    p.case("nobody while auth is off", NOBODY, put("/r/off", "y"))
        .await;
    p.must("enable auth again", NOBODY, Call::AuthEnable).await;
    try_all(p, "reader after auth was turned off and on", READER).await;
    try_all(p, "root after auth was turned off and on", ROOT).await;
    assert!(
        p.authenticate("authenticate reader again", "reader", &password("reader"))
            .await
    );
    p.case("reader with a new token", READER, get("/r/1")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_simple_tokens_match_etcd() {
    let mut p = Pair::start(
        "auth: simple tokens with a 2 s TTL",
        Options::with(&["--auth-token-ttl", "2"]),
    )
    .await;
    provision(&mut p).await;
    for user in ["reader", "ranger", "root"] {
        assert!(
            p.authenticate(&format!("{user} logs in"), user, &password(user))
                .await
        );
    }
    p.case("reader right after logging in", READER, get("/r/1"))
        .await;
    // Ranger's token is used every second, which keeps it alive; the others
    // sit idle past their TTL.
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        p.case(
            &format!("ranger, used every second ({i})"),
            RANGER,
            get("a1"),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    try_all(&mut p, "reader, idle past the TTL", READER).await;
    try_all(&mut p, "root, idle past the TTL", ROOT).await;
    p.case("ranger, still in use", RANGER, get("a1")).await;
    assert!(
        p.authenticate("reader logs in again", "reader", &password("reader"))
            .await
    );
    p.case("reader with the new token", READER, get("/r/1"))
        .await;
    p.finish(20);
}

/// Writes a new P-256 key pair under `dir` and returns the `--auth-token`
/// value that signs JWTs with it (ES256).
fn jwt_flag(dir: &Path) -> String {
    let key = rcgen::KeyPair::generate().expect("a P-256 key pair");
    let private = dir.join("jwt.key");
    let public = dir.join("jwt.pub");
    std::fs::write(&private, key.serialize_pem()).expect("writing the private key");
    std::fs::write(&public, key.public_key_pem()).expect("writing the public key");
    format!(
        "jwt,pub-key={},priv-key={},sign-method=ES256",
        public.display(),
        private.display()
    )
}
