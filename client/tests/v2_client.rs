//! The v2 client library (`ectd_client::v2`) against real servers: etcd
//! 3.4 and ectd, both with `--enable-v2`; endpoint failover; and TLS with
//! client certificates against etcd.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

#[allow(dead_code)]
#[path = "support/certs.rs"]
mod certs;
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

use std::time::Duration;

use ectd_client::v2::{
    Client, ClientOptions, DeleteOptions, EndpointErrorKind, Error, GetOptions, KeysError,
    SetOptions, WatchOptions,
};
use ectd_client::TlsOptions;

use certs::Pki;
use etcd::{Etcd, ServerTls};
use tools::free_port;

fn client(etcd: &Etcd) -> Client {
    Client::new(
        &[format!("http://{}", etcd.endpoint)],
        ClientOptions::default(),
    )
    .unwrap()
}

/// An endpoint nothing listens on.
fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn code(result: Result<impl std::fmt::Debug, Error>) -> u32 {
    let err = result.expect_err("the request should fail");
    err.code()
        .unwrap_or_else(|| panic!("not a keys error: {err}"))
}

async fn keys_api(etcd: Etcd) {
    let client = client(&etcd);

    let created = client.create("/k", "v1", None).await.unwrap();
    assert_eq!(created.action, "create");
    assert_eq!(
        (created.node.key.as_str(), created.node.value.as_str()),
        ("/k", "v1")
    );
    assert_eq!(created.node.created_index, created.node.modified_index);
    assert_eq!(created.index, created.node.modified_index);
    assert!(!created.cluster_id.is_empty());
    assert_eq!(
        code(client.create("/k", "again", None).await),
        KeysError::NODE_EXIST
    );

    let missing = client
        .get("/missing", &GetOptions::default())
        .await
        .unwrap_err();
    match &missing {
        Error::Keys(err) => {
            assert_eq!(err.code, KeysError::KEY_NOT_FOUND);
            assert_eq!(err.cause, "/missing");
            assert_eq!(
                missing.to_string(),
                format!("100: Key not found (/missing) [{}]", created.index)
            );
        }
        other => panic!("not a keys error: {other:?}"),
    }
    assert_eq!(
        code(client.update("/missing", "v", None).await),
        KeysError::KEY_NOT_FOUND
    );

    let updated = client.update("/k", "v2", None).await.unwrap();
    assert_eq!(updated.action, "update");
    assert_eq!(updated.prev_node.as_ref().unwrap().value, "v1");

    assert_eq!(
        code(
            client
                .compare_and_swap("/k", "x", Some("wrong"), None)
                .await
        ),
        KeysError::TEST_FAILED
    );
    let swapped = client
        .compare_and_swap("/k", "v3", Some("v2"), None)
        .await
        .unwrap();
    assert_eq!(swapped.action, "compareAndSwap");
    let by_index = client
        .compare_and_swap("/k", "v4", None, Some(swapped.node.modified_index))
        .await
        .unwrap();
    assert_eq!(by_index.node.value, "v4");
    let read = client
        .get(
            "k",
            &GetOptions {
                quorum: true,
                ..GetOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (read.action.as_str(), read.node.value.as_str()),
        ("get", "v4")
    );

    // TTLs, and a refresh that renews one without an event.
    let leased = client
        .set(
            "/r/lease",
            "subnet",
            &SetOptions {
                ttl: Some(100),
                ..SetOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(leased.node.ttl, Some(100));
    assert!(leased.node.expiration.is_some());
    let refreshed = client.refresh("/r/lease", 500).await.unwrap();
    assert_eq!(refreshed.node.value, "subnet");
    assert_eq!(refreshed.node.ttl, Some(500));
    let after_refresh = client
        .set("/r/other", "x", &SetOptions::default())
        .await
        .unwrap();
    let event = client
        .watch(
            "/r",
            &WatchOptions {
                wait_index: Some(leased.node.modified_index + 1),
                recursive: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        event.response.node.key, "/r/other",
        "a refresh is not an event"
    );
    assert_eq!(event.next_index, after_refresh.node.modified_index + 1);
    let permanent = client.update("/r/lease", "subnet", None).await.unwrap();
    assert_eq!(permanent.node.ttl, None);

    // Directories and in-order keys.
    client.create_dir("/d", None).await.unwrap();
    assert_eq!(
        code(client.create_dir("/d", None).await),
        KeysError::NODE_EXIST
    );
    let first = client.create_in_order("/d", "job1", None).await.unwrap();
    let second = client
        .create_in_order("/d", "job2", Some(60))
        .await
        .unwrap();
    let name = |key: &str| key.rsplit('/').next().unwrap().to_string();
    assert_eq!(name(&first.node.key).len(), 20);
    assert!(name(&first.node.key) < name(&second.node.key));
    client
        .set("/d/sub/leaf", "l", &SetOptions::default())
        .await
        .unwrap();
    let listing = client
        .get(
            "/d",
            &GetOptions {
                recursive: true,
                sorted: true,
                quorum: false,
            },
        )
        .await
        .unwrap();
    assert!(listing.node.dir);
    let keys: Vec<&str> = listing
        .node
        .children()
        .iter()
        .map(|n| n.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [first.node.key.as_str(), second.node.key.as_str(), "/d/sub"]
    );
    assert_eq!(listing.node.children()[2].children()[0].value, "l");
    assert_eq!(
        code(client.get("/k/under", &GetOptions::default()).await),
        KeysError::NOT_DIR
    );
    assert_eq!(
        code(
            client
                .delete(
                    "/d",
                    &DeleteOptions {
                        dir: true,
                        ..DeleteOptions::default()
                    }
                )
                .await
        ),
        KeysError::DIR_NOT_EMPTY
    );
    assert_eq!(
        code(
            client
                .delete(
                    "/",
                    &DeleteOptions {
                        recursive: true,
                        ..DeleteOptions::default()
                    }
                )
                .await
        ),
        KeysError::ROOT_READ_ONLY
    );
    let removed = client
        .delete(
            "/d",
            &DeleteOptions {
                recursive: true,
                ..DeleteOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(removed.action, "delete");
    assert!(removed.prev_node.unwrap().dir);

    assert_eq!(
        code(client.compare_and_delete("/k", Some("wrong"), None).await),
        KeysError::TEST_FAILED
    );
    let deleted = client
        .compare_and_delete("/k", Some("v4"), None)
        .await
        .unwrap();
    assert_eq!(deleted.action, "compareAndDelete");

    // A watcher returns every change after its start, once each.
    let start = client.set("/w", "0", &SetOptions::default()).await.unwrap();
    for value in ["1", "2", "3"] {
        client
            .set("/w", value, &SetOptions::default())
            .await
            .unwrap();
    }
    let mut watcher = client.watcher("/w", start.node.modified_index, false);
    for value in ["1", "2", "3"] {
        assert_eq!(watcher.next().await.unwrap().node.value, value);
    }
    let waiting = tokio::spawn(async move { watcher.next().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .delete("/w", &DeleteOptions::default())
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the watch should see the delete")
        .unwrap()
        .unwrap();
    assert_eq!(event.action, "delete");
    assert_eq!(event.prev_node.unwrap().value, "3");

    // Membership and health.
    let url = format!("http://{}", etcd.endpoint);
    let members = client.members().await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].client_urls, [url.as_str()]);
    assert_eq!(client.leader().await.unwrap().id, members[0].id);
    assert_eq!(client.machines().await.unwrap(), [url.as_str()]);
    assert!(client.health(&url).await.unwrap());
    assert!(matches!(
        client.remove_member("1234").await,
        Err(Error::UnexpectedStatus(404))
    ));
    match client
        .update_member("1234", &["http://127.0.0.1:2380"])
        .await
    {
        Err(Error::Membership(message)) => assert!(message.contains("1234"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        client.add_member("not-a-url").await,
        Err(Error::InvalidPeerUrl(_))
    ));

    // Syncing replaces the endpoints with the published client URLs.
    let synced = Client::new(&[dead_endpoint(), url.clone()], ClientOptions::default()).unwrap();
    synced.sync().await.unwrap();
    assert_eq!(synced.endpoints(), [url]);
}

#[tokio::test]
async fn keys_and_members_on_etcd() {
    keys_api(Etcd::start_with(&["--enable-v2"])).await;
}

#[tokio::test]
async fn keys_and_members_on_ectd() {
    keys_api(Etcd::start_ectd_with(&["--enable-v2"])).await;
}

#[tokio::test]
async fn requests_fail_over_but_creates_and_deletes_are_sent_once() {
    let etcd = Etcd::start_with(&["--enable-v2"]);
    let live = format!("http://{}", etcd.endpoint);
    let dead = dead_endpoint();

    let client = Client::new(&[dead.clone(), live.clone()], ClientOptions::default()).unwrap();
    client
        .set("/fo", "1", &SetOptions::default())
        .await
        .unwrap();
    // The live endpoint is tried first from now on.
    client.create("/fo2", "1", None).await.unwrap();

    let client = Client::new(&[dead.clone(), live.clone()], ClientOptions::default()).unwrap();
    match client.create("/fo3", "1", None).await {
        Err(Error::Endpoint(err)) => {
            assert_eq!(err.endpoint, dead);
            assert!(err.is_connection_error());
            assert!(
                err.to_string().ends_with("connect: connection refused"),
                "{err}"
            );
        }
        other => panic!("a create must not be retried elsewhere: {other:?}"),
    }
    // The failed endpoint is no longer first.
    client.create("/fo3", "1", None).await.unwrap();

    let unreachable = Client::new(&[dead.as_str()], ClientOptions::default()).unwrap();
    let err = unreachable
        .get("/fo", &GetOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_connection_error());
    assert_eq!(
        err.to_string(),
        format!(
            "client: etcd cluster is unavailable or misconfigured; error #0: dial tcp {}: \
             connect: connection refused\n",
            dead.trim_start_matches("http://")
        )
    );

    // An endpoint that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let hasty = Client::new(
        &[silent_url],
        ClientOptions {
            header_timeout: Some(Duration::from_millis(200)),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    match hasty.get("/fo", &GetOptions::default()).await {
        Err(Error::Cluster(cluster)) => {
            assert_eq!(cluster.errors[0].kind, EndpointErrorKind::HeaderTimeout);
        }
        other => panic!("expected a header timeout, got {other:?}"),
    }

    assert!(matches!(
        Client::new(&["127.0.0.1:2379"], ClientOptions::default()),
        Err(Error::InvalidEndpoint { .. })
    ));
}

#[tokio::test]
async fn https_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::create(dir.path());
    let flag = |name: &str, path: &std::path::Path| format!("--{name}={}", path.display());
    let etcd = Etcd::start_tls_with(
        ServerTls {
            cert_file: pki.server_cert.clone(),
            key_file: pki.server_key.clone(),
            trusted_ca_file: pki.ca.clone(),
            client_flags: vec![
                flag("cacert", &pki.ca),
                flag("cert", &pki.client_cert),
                flag("key", &pki.client_key),
            ],
        },
        &["--enable-v2"],
    );
    let url = format!("https://{}", etcd.endpoint);
    let trusted = TlsOptions {
        ca_file: Some(pki.ca.clone()),
        cert_file: Some(pki.client_cert.clone()),
        key_file: Some(pki.client_key.clone()),
        ..TlsOptions::default()
    };
    let client = Client::new(
        &[url.as_str()],
        ClientOptions {
            tls: Some(trusted.clone()),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    client.sync().await.unwrap();
    assert_eq!(client.endpoints(), [url.as_str()]);
    client
        .set("/secure", "yes", &SetOptions::default())
        .await
        .unwrap();
    let read = client.get("/secure", &GetOptions::default()).await.unwrap();
    assert_eq!(read.node.value, "yes");
    assert!(client.health(&url).await.unwrap());

    let anonymous = Client::new(
        &[url.as_str()],
        ClientOptions {
            tls: Some(TlsOptions {
                cert_file: None,
                key_file: None,
                ..trusted.clone()
            }),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let err = anonymous
        .get("/secure", &GetOptions::default())
        .await
        .unwrap_err();
    assert!(!err.is_connection_error(), "{err}");
    assert!(err.to_string().contains("client certificate"), "{err}");

    let without_tls = Client::new(&[url], ClientOptions::default()).unwrap();
    match without_tls.get("/secure", &GetOptions::default()).await {
        Err(Error::Cluster(cluster)) => {
            assert!(matches!(cluster.errors[0].kind, EndpointErrorKind::Tls(_)));
        }
        other => panic!("https needs TLS settings: {other:?}"),
    }
}
