//! A client given every member's endpoint carries on when the member it is
//! connected to dies, as clientv3 does: calls made after the kill go to a
//! member that answers, a watch opened before it resumes there without
//! losing or repeating an event, and a lease keeper keeps its lease. Run
//! against a three-member etcd 3.4 cluster and a three-member ectd one.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

#[allow(dead_code)]
#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/tools.rs"]
mod tools;

use std::path::PathBuf;
use std::time::Duration;

use cluster::Cluster;
use ectd_client::proto::etcdserverpb::{PutRequest, WatchCreateRequest};
use ectd_client::{Client, ConnectOptions, KeyRange, LeaseKeeper};

/// How long any single expected thing may take.
const PATIENCE: Duration = Duration::from_secs(20);

fn ectd() -> PathBuf {
    let default = std::path::Path::new(cluster::ECTL).with_file_name("ectd");
    let path = std::env::var_os("ECTD_BIN").map_or(default, PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: build the server first (`cargo build -p ectd-server`) or set ECTD_BIN",
        path.display()
    );
    path
}

fn put(key: &str, lease: i64) -> PutRequest {
    PutRequest {
        key: key.as_bytes().to_vec(),
        value: b"v".to_vec(),
        lease,
        ..Default::default()
    }
}

fn carries_on_when_its_member_dies(mut cluster: Cluster) {
    // Connect to a follower first, so that the kill costs no election and
    // every call after it has a leader to go to.
    let (ids, leader) = cluster.leadership();
    let victim = ids.iter().position(|&id| id != leader).unwrap();
    let victim_name = cluster.members[victim].name.clone();
    let victim_url = format!("http://{}", cluster.members[victim].client);
    let mut endpoints = vec![cluster.members[victim].client.clone()];
    endpoints.extend(
        cluster
            .members
            .iter()
            .filter(|m| m.name != victim_name)
            .map(|m| m.client.clone()),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
        };
        let client = Client::connect_with(&endpoints, options).await.unwrap();
        assert_eq!(client.endpoint(), victim_url);

        let prefix = KeyRange::prefix("f/");
        let mut watcher = client
            .open_watch(WatchCreateRequest {
                key: prefix.key,
                range_end: prefix.range_end,
                ..Default::default()
            })
            .await
            .unwrap();
        let lease = client.lease_grant(2, 0).await.unwrap().id;
        let keeper = LeaseKeeper::start(&client, lease);
        client.put(put("f/1", lease)).await.unwrap();

        cluster.stop(&victim_name);
        // Let the client's connection see the member go.
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Not sent to the dead member, so sent to another one: no error.
        let after = client.put(put("f/2", 0)).await.unwrap();
        assert_ne!(client.endpoint(), victim_url);
        client.put(put("f/3", 0)).await.unwrap();

        let mut seen = Vec::new();
        while seen.len() < 3 {
            let resp = tokio::time::timeout(PATIENCE, watcher.recv())
                .await
                .expect("the watch delivers the writes made after the kill")
                .expect("the watch goes on")
                .expect("no watch error");
            for event in resp.events {
                let kv = event.kv.unwrap();
                seen.push(String::from_utf8(kv.key).unwrap());
            }
        }
        assert_eq!(seen, ["f/1", "f/2", "f/3"]);

        // Three TTLs later the lease is still there, renewed through the
        // member the client moved to.
        let renewals = keeper.state().renewals;
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(keeper.state().renewals > renewals, "{:?}", keeper.state());
        let alive = client.lease_time_to_live(lease, true).await.unwrap();
        assert!(alive.ttl > 0, "{alive:?}");
        assert_eq!(alive.keys, [b"f/1".to_vec()]);
        assert!(after.header.unwrap().revision > 0);

        // No more events arrived than were written.
        let extra = tokio::time::timeout(Duration::from_millis(300), watcher.recv()).await;
        assert!(extra.is_err(), "unexpected watch response: {extra:?}");
        keeper.stop();
    });
}

#[test]
fn carries_on_when_its_member_dies_on_etcd() {
    carries_on_when_its_member_dies(Cluster::start(3));
}

#[test]
fn carries_on_when_its_member_dies_on_ectd() {
    carries_on_when_its_member_dies(Cluster::start_with(3, ectd(), &[]));
}
