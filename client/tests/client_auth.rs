//! The client's login against a real etcd 3.4: the token travels with
//! typed calls, raw calls and streams, and a token the server refuses
//! (expired, older than the auth store, or missing because authentication
//! was enabled after the login) is renewed once, transparently.
//!
//! Needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (or `ETCD_BIN` /
//! `ETCDCTL_BIN`).

// Shared with suites that use more of it (restarting a member, TLS).
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

use std::time::Duration;

use ectd_client::proto::etcdserverpb::{PutRequest, RangeRequest, WatchCreateRequest};
use ectd_client::{Client, Credentials, Error};
use etcd::Etcd;

const INVALID_TOKEN: &str = "etcdserver: invalid auth token";
const OLD_REVISION: &str = "etcdserver: revision of auth store is old";
const NO_USER: &str = "etcdserver: user name is empty";

fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(work)
}

async fn connect(etcd: &Etcd) -> Client {
    Client::connect(std::slice::from_ref(&etcd.endpoint))
        .await
        .expect("connect")
}

async fn root(etcd: &Etcd) -> Client {
    connect(etcd)
        .await
        .with_credentials(Credentials::new("root", "rootpw"))
        .await
        .expect("log in as root")
}

/// Creates root (with the root role) and enables authentication.
async fn enable_auth(etcd: &Etcd) {
    let admin = connect(etcd).await;
    admin.user_add("root", "rootpw").await.unwrap();
    admin.user_grant_role("root", "root").await.unwrap();
    admin.auth_enable().await.unwrap();
}

/// A raw range of `key`, which carries the current token but is not
/// retried.
async fn raw_get(client: &Client, key: &str) -> Result<(), Error> {
    let request = RangeRequest {
        key: key.into(),
        ..Default::default()
    };
    client.kv().range(request).await?;
    Ok(())
}

#[test]
fn calls_and_streams_carry_the_token() {
    let etcd = Etcd::start();
    block_on(async {
        enable_auth(&etcd).await;
        let anonymous = connect(&etcd).await;
        let err = anonymous.put_kv("k", "v").await.unwrap_err();
        assert_eq!(err.message(), Some(NO_USER));

        let client = root(&etcd).await;
        assert_eq!(client.user(), Some("root"));
        client.put_kv("k", "v").await.unwrap();
        assert_eq!(client.get("k").await.unwrap().kvs[0].value, b"v");
        raw_get(&client, "k").await.unwrap();

        let mut watcher = client
            .open_watch(WatchCreateRequest {
                key: b"w".to_vec(),
                ..Default::default()
            })
            .await
            .unwrap();
        client.put_kv("w", "1").await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), watcher.recv())
            .await
            .expect("watch event in time")
            .expect("watch open")
            .expect("watch event");
        assert_eq!(event.events[0].kv.as_ref().unwrap().value, b"1");

        let lease = client.lease_grant(60, 0).await.unwrap();
        client.lease_keep_alive_once(lease.id).await.unwrap();

        let roles = client.user_get("root").await.unwrap().roles;
        assert_eq!(roles, vec!["root".to_string()]);
        assert!(!format!("{client:?}").contains("rootpw"));
    });
}

#[test]
fn an_expired_token_is_renewed() {
    let etcd = Etcd::start_with(&["--auth-token-ttl=1"]);
    block_on(async {
        enable_auth(&etcd).await;
        let client = root(&etcd).await;
        client.put_kv("k", "v").await.unwrap();
        // The server forgets an unused simple token after its TTL.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let err = raw_get(&client, "k").await.unwrap_err();
        assert_eq!(err.message(), Some(INVALID_TOKEN));
        assert_eq!(client.get("k").await.unwrap().kvs.len(), 1);
        // The renewed token serves raw calls too.
        raw_get(&client, "k").await.unwrap();
    });
}

/// etcd started with JWT tokens, signed with a fresh ECDSA key in `dir`.
fn etcd_with_jwt(dir: &std::path::Path) -> Etcd {
    let key = rcgen::KeyPair::generate().expect("ECDSA key");
    let private = dir.join("jwt.key");
    let public = dir.join("jwt.pub");
    std::fs::write(&private, key.serialize_pem()).unwrap();
    std::fs::write(&public, key.public_key_pem()).unwrap();
    let tokens = format!(
        "--auth-token=jwt,pub-key={},priv-key={},sign-method=ES256",
        public.display(),
        private.display()
    );
    Etcd::start_with(&[&tokens])
}

/// A JWT carries the auth store's revision at login: once users, roles or
/// permissions change, the server refuses it. (A simple token is looked
/// up at the current revision, so it never gets old.)
#[test]
fn a_token_older_than_the_auth_store_is_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = etcd_with_jwt(dir.path());
    block_on(async {
        enable_auth(&etcd).await;
        let client = root(&etcd).await;
        client.put_kv("k", "1").await.unwrap();
        // Another client changes the auth store.
        root(&etcd).await.user_add("u", "upw").await.unwrap();
        let stale = PutRequest {
            key: b"k".to_vec(),
            value: b"2".to_vec(),
            ..Default::default()
        };
        let err = Error::from(client.kv().put(stale).await.unwrap_err());
        assert_eq!(err.message(), Some(OLD_REVISION));
        client.put_kv("k", "3").await.unwrap();
        assert_eq!(client.get("k").await.unwrap().kvs[0].value, b"3");
    });
}

#[test]
fn a_login_before_auth_is_enabled_is_completed_later() {
    let etcd = Etcd::start();
    block_on(async {
        let admin = connect(&etcd).await;
        admin.user_add("root", "rootpw").await.unwrap();
        admin.user_grant_role("root", "root").await.unwrap();
        // Authentication is off: the login succeeds without a token.
        let client = root(&etcd).await;
        client.put_kv("k", "1").await.unwrap();
        client.auth_enable().await.unwrap();
        let err = admin.put_kv("k", "2").await.unwrap_err();
        assert_eq!(err.message(), Some(NO_USER));
        client.put_kv("k", "3").await.unwrap();
        assert_eq!(client.auth_disable().await.map(drop), Ok(()));
    });
}

#[test]
fn wrong_credentials_are_refused_without_showing_the_password() {
    let etcd = Etcd::start();
    block_on(async {
        enable_auth(&etcd).await;
        let err = connect(&etcd)
            .await
            .with_credentials(Credentials::new("root", "not-the-pw"))
            .await
            .unwrap_err();
        assert_eq!(
            err.message(),
            Some("etcdserver: authentication failed, invalid user ID or password")
        );
        assert!(!format!("{err} {err:?}").contains("not-the-pw"));
        let credentials = Credentials::new("root", "not-the-pw");
        assert!(!format!("{credentials:?}").contains("not-the-pw"));
    });
}
