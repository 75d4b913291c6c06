//! Replication.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::common::{within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{CompactionRequest, DeleteRangeRequest, TxnRequest};
use ectd_client::{prefix_range_end, Client};

/// Puts, deletes, txns and a compaction, spread over every member; returns the
/// revision after the last write and the compaction revision.
async fn mixed_workload(clients: &[Client]) -> (i64, i64) {
    let n = clients.len();
    let mut last = 0;
    let mut compacted = 0;
    for i in 0..240usize {
        let c = &clients[i % n];
        let what = format!("mixed op {i} through m{}", i % n + 1);
        let rev = match i % 8 {
            0..=3 => {
                let key = format!("mix/{:02}", (i * 7) % 40);
                let r = within(10, &what, c.put_kv(key, format!("v{i}"))).await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
            4 => {
                let r = within(
                    10,
                    &what,
                    c.delete_range(DeleteRangeRequest {
                        key: format!("mix/{:02}", (i * 3) % 40).into_bytes(),
                        ..Default::default()
                    }),
                )
                .await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
            5 => {
                // A whole sub-range at once.
                let prefix = format!("mix/{}", i % 4);
                let r = within(
                    10,
                    &what,
                    c.delete_range(DeleteRangeRequest {
                        key: prefix.clone().into_bytes(),
                        range_end: prefix_range_end(prefix.as_bytes()),
                        ..Default::default()
                    }),
                )
                .await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
            _ => {
                // Which branch runs depends on the state the member applies it to.
                let key = format!("mix/{:02}", (i * 11) % 40);
                let txn = TxnRequest {
                    compare: vec![cmp_version_greater(&key, 1)],
                    success: vec![
                        op_put(&key, &format!("txn{i}")),
                        op_del(&format!("mix/{:02}", (i * 13 + 1) % 40)),
                    ],
                    failure: vec![op_put(&format!("mix/txn/{i}"), "failure branch")],
                };
                let r = within(10, &what, c.txn(txn)).await;
                header_rev(&r.unwrap_or_else(|e| panic!("{what}: {e}")).header)
            }
        };
        last = last.max(rev);
        if i == 160 {
            compacted = last - 30;
            let what = format!("compaction at {compacted} through m{}", i % n + 1);
            within(
                10,
                &what,
                c.compact(CompactionRequest {
                    revision: compacted,
                    physical: false,
                }),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
    (last, compacted)
}

async fn replication(n: usize) {
    let started = Instant::now();
    let cl = Cluster::start(Kind::Ectd, n, &[]);
    let clients = connect_all(&cl).await;

    // A put through each member is at once visible through every member.
    let mut acked: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for (i, c) in clients.iter().enumerate() {
        let key = format!("rep/{i}");
        let value = format!("written through m{}", i + 1);
        let what = format!("put {key} through m{}", i + 1);
        let resp = within(10, &what, c.put_kv(key.clone(), value.clone()))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let rev = header_rev(&resp.header);
        acked.insert(key.clone(), (value.clone(), rev));
        for (j, r) in clients.iter().enumerate() {
            let what = format!(
                "linearizable get of {key} (put through m{}) on m{}",
                i + 1,
                j + 1
            );
            let got = within(10, &what, r.get(key.clone()))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                got.kvs.len() == 1
                    && got.kvs[0].value == value.as_bytes()
                    && got.kvs[0].mod_revision == rev,
                "{what}: acknowledged at revision {rev}, read {:?}",
                got.kvs.iter().map(show).collect::<Vec<_>>()
            );
            assert!(
                header_rev(&got.header) >= rev,
                "{what}: read at revision {} after a put at {rev}",
                header_rev(&got.header)
            );
        }
    }

    // With no write in between, every member reads the same keys at the same revision.
    let first = read_prefix(&clients[0], "rep/").await;
    for (j, c) in clients.iter().enumerate() {
        let view = read_prefix(c, "rep/").await;
        assert_eq!(
            header_rev(&view.header),
            header_rev(&first.header),
            "m{} reads at another revision than m1",
            j + 1
        );
        if let Err(d) = same_kvs(&view.kvs, &first.kvs) {
            panic!("m{} and m1 read different keys: {d}", j + 1);
        }
        let got: BTreeMap<String, (String, i64)> = view
            .kvs
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(&kv.key).into_owned(),
                    (
                        String::from_utf8_lossy(&kv.value).into_owned(),
                        kv.mod_revision,
                    ),
                )
            })
            .collect();
        assert_eq!(got, acked, "m{} does not hold what was acknowledged", j + 1);
    }

    // After a mixed workload all members hold the same history.
    let (rev, compacted) = mixed_workload(&clients).await;
    let all: Vec<usize> = (0..n).collect();
    let hash = assert_same_hash(&clients, &all, rev, "after the mixed workload").await;
    // The hash depends on the data, so equal hashes mean something.
    let earlier = assert_same_hash(&clients, &all, rev - 1, "one revision earlier").await;
    assert_ne!(
        hash,
        earlier,
        "HashKV gives the same hash for revisions {rev} and {}",
        rev - 1
    );
    let reference = read_local(&clients[0], "mix/", rev)
        .await
        .unwrap_or_else(|e| panic!("serializable range at {rev} on m1: {e}"));
    assert!(!reference.kvs.is_empty(), "the mixed workload left no key");
    for (j, c) in clients.iter().enumerate() {
        let view = read_local(c, "mix/", rev)
            .await
            .unwrap_or_else(|e| panic!("serializable range at {rev} on m{}: {e}", j + 1));
        if let Err(d) = same_kvs(&view.kvs, &reference.kvs) {
            panic!("at revision {rev}, m{} and m1 differ: {d}", j + 1);
        }
        // The compaction reached every member.
        match read_local(c, "mix/", compacted - 1).await {
            Err(e) if e.is_compacted() => {}
            other => panic!(
                "m{}: a read below the compaction at {compacted} gave {other:?}",
                j + 1
            ),
        }
    }
    eprintln!(
        "{n}-member replication: {} keys, revision {rev}, hash {hash:#010x}, {:?}",
        reference.kvs.len(),
        started.elapsed()
    );
}

#[test]
fn three_members_replicate() {
    run(replication(3));
}

#[test]
fn five_members_replicate() {
    run(replication(5));
}
