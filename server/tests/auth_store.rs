//! The auth store as a member keeps it: it survives restarts, and passwords
//! never reach the disk or the log in clear text (not in the WAL, the state
//! machine, snapshots, or any error).

mod common;

use std::path::Path;

use common::{within, Ectd};
use ectd_client::proto::authpb::{permission::Type as PermType, Permission};
use ectd_client::{Client, Credentials, Error};

const ROOT_PW: &str = "Root-Secret-7f3a9";
const ALICE_PW: &str = "Alice-Secret-c41d2";
const ALICE_NEW_PW: &str = "Alice-Renewed-99e0b";
const WRONG_PW: &str = "Wrong-Guess-5b6e1";

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    found.push(p.display().to_string());
                }
            }
        }
    }
    found
}

async fn login(ep: &str, user: &str, pw: &str) -> Result<Client, Error> {
    Client::connect(&[ep.to_string()])
        .await?
        .with_credentials(Credentials::new(user, pw))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_survives_restart_and_passwords_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    // A low snapshot count makes the member write state snapshots too.
    let mut m = Ectd::start(dir.path(), &["--snapshot-count", "20"]);
    let ep = m.endpoint();
    let c = within(10, "connect", Client::connect(std::slice::from_ref(&ep)))
        .await
        .unwrap();
    c.user_add("root", ROOT_PW).await.unwrap();
    c.user_grant_role("root", "root").await.unwrap();
    c.role_add("a-writer").await.unwrap();
    let perm = Permission {
        perm_type: PermType::Readwrite as i32,
        key: b"a/".to_vec(),
        range_end: b"a0".to_vec(),
    };
    c.role_grant_permission("a-writer", perm).await.unwrap();
    c.user_add("alice", ALICE_PW).await.unwrap();
    c.user_grant_role("alice", "a-writer").await.unwrap();
    c.auth_enable().await.unwrap();

    let refused = login(&ep, "alice", WRONG_PW)
        .await
        .map(drop)
        .expect_err("wrong password refused");
    let text = refused.to_string();
    assert!(text.contains("authentication failed"), "{text}");
    assert!(
        !text.contains(WRONG_PW),
        "an error echoes the password: {text}"
    );

    let alice = login(&ep, "alice", ALICE_PW).await.unwrap();
    for i in 0..40 {
        alice.put_kv(format!("a/{i}"), "v").await.unwrap();
    }
    let denied = alice
        .put_kv("b", "v")
        .await
        .map(drop)
        .expect_err("b is not alice's");
    assert!(denied.to_string().contains("permission denied"), "{denied}");
    let root = login(&ep, "root", ROOT_PW).await.unwrap();
    root.user_change_password("alice", ALICE_NEW_PW)
        .await
        .unwrap();
    let status = root.auth_status().await.unwrap();
    assert!(status.enabled);
    let revision = status.auth_revision;

    m.stop();
    m.restart();
    let root = login(&ep, "root", ROOT_PW).await.unwrap();
    let after = root.auth_status().await.unwrap();
    assert!(after.enabled, "auth is off after a restart");
    assert_eq!(
        after.auth_revision, revision,
        "the auth revision moved on restart"
    );
    assert!(
        login(&ep, "alice", ALICE_PW).await.is_err(),
        "the old password still works"
    );
    let alice = login(&ep, "alice", ALICE_NEW_PW).await.unwrap();
    assert_eq!(alice.get("a/3").await.unwrap().kvs.len(), 1);
    let anonymous = Client::connect(std::slice::from_ref(&ep)).await.unwrap();
    let refused = anonymous
        .get("a/3")
        .await
        .map(drop)
        .expect_err("no credentials");
    assert!(
        refused.to_string().contains("user name is empty"),
        "{refused}"
    );
    m.stop();

    for pw in [ROOT_PW, ALICE_PW, ALICE_NEW_PW, WRONG_PW] {
        let found = files_containing(dir.path(), pw.as_bytes());
        assert!(found.is_empty(), "a password in clear text in {found:?}");
    }
}
