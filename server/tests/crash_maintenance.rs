//! A member that dies in the middle of a snapshot download or a defragment
//! (`kill -9`, or a failpoint between two chunks or two column families) loses
//! nothing: after the restart it holds the same keys and the same HashKV, the
//! staged download file is gone, and both operations work again.
//!
//! The failpoint halves need the `ectd` built with failpoints
//! (`ECTD_FAILPOINTS_BIN`, set by `scripts/test.sh`); without it they fail.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Ectd, Member};
use ectd_client::proto::etcdserverpb::{
    request_op, CompactionRequest, DefragmentRequest, DeleteRangeRequest, HashKvRequest,
    PutRequest, RangeRequest, RequestOp, SnapshotRequest, TxnRequest,
};
use ectd_client::{Client, ConnectOptions};

const KEYS: usize = 200_000;

fn failpoints_binary() -> PathBuf {
    let p = PathBuf::from(
        std::env::var_os("ECTD_FAILPOINTS_BIN")
            .expect("ECTD_FAILPOINTS_BIN names the ectd built with failpoints"),
    );
    assert!(p.is_file(), "{} is not a file", p.display());
    p
}

async fn connect(m: &Member) -> Client {
    Client::connect_with(
        &[m.endpoint()],
        ConnectOptions {
            dial_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(60),
        },
    )
    .await
    .expect("connecting")
}

/// Loads the keys, deletes a third of them and compacts, so that a
/// defragment has space to reclaim.
async fn load(c: &Client) {
    for start in (0..KEYS).step_by(128) {
        let ops = (start..(start + 128).min(KEYS))
            .map(|k| RequestOp {
                request: Some(request_op::Request::RequestPut(PutRequest {
                    key: format!("k/{k:07}").into_bytes(),
                    value: vec![b'v'; 100],
                    ..Default::default()
                })),
            })
            .collect();
        c.txn(TxnRequest {
            success: ops,
            ..Default::default()
        })
        .await
        .expect("loading");
    }
    for k in (0..KEYS).step_by(3) {
        if k % 3000 == 0 {
            c.delete_range(DeleteRangeRequest {
                key: format!("k/{k:07}").into_bytes(),
                range_end: format!("k/{:07}", k + 1000).into_bytes(),
                ..Default::default()
            })
            .await
            .expect("deleting");
        }
    }
    let rev = c.get("k/").await.unwrap().header.unwrap().revision;
    c.compact(CompactionRequest {
        revision: rev,
        physical: true,
    })
    .await
    .expect("compacting");
}

/// Keys, revision and HashKV: what must survive.
async fn state(c: &Client) -> (i64, i64, u32) {
    let r = c
        .range(RangeRequest {
            key: b"k/".to_vec(),
            range_end: b"k0".to_vec(),
            count_only: true,
            ..Default::default()
        })
        .await
        .expect("count");
    let rev = r.header.unwrap().revision;
    let h = c
        .maintenance()
        .hash_kv(HashKvRequest { revision: rev })
        .await
        .expect("hashkv")
        .into_inner();
    (r.count, rev, h.hash)
}

fn staged_downloads(m: &Member) -> Vec<String> {
    std::fs::read_dir(m.data_dir().join("member").join("snap"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("download-"))
                .collect()
        })
        .unwrap_or_default()
}

/// Downloads a whole snapshot; its size.
async fn download(c: &Client) -> u64 {
    let mut s = c
        .maintenance()
        .snapshot(SnapshotRequest {})
        .await
        .expect("snapshot")
        .into_inner();
    let mut n = 0;
    while let Some(m) = s.message().await.expect("snapshot stream") {
        n += m.blob.len() as u64;
    }
    n
}

/// After a crash: the same state, no staged file, and both operations work.
async fn check_after_restart(m: &mut Member, want: (i64, i64, u32)) {
    m.restart_with(Some(std::path::Path::new(env!("CARGO_BIN_EXE_ectd"))), &[]);
    m.wait_serving();
    let c = connect(m).await;
    assert_eq!(state(&c).await, want, "keys, revision and HashKV survive");
    assert!(staged_downloads(m).is_empty(), "{:?}", staged_downloads(m));
    assert_eq!(download(&c).await % 512, 32);
    c.maintenance()
        .defragment(DefragmentRequest {})
        .await
        .expect("defragment after the restart");
    assert_eq!(state(&c).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_snapshot_download_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Ectd::start(dir.path(), &[]);
    let c = connect(&m).await;
    load(&c).await;
    let want = state(&c).await;

    // kill -9 once the first chunk has arrived.
    let mut s = c
        .maintenance()
        .snapshot(SnapshotRequest {})
        .await
        .expect("snapshot")
        .into_inner();
    s.message().await.expect("first chunk").expect("a chunk");
    assert_eq!(staged_downloads(&m).len(), 1, "the download is staged");
    m.kill9();
    drop(s);
    check_after_restart(&mut m, want).await;

    // The failpoint between two chunks.
    m.restart_with(
        Some(&failpoints_binary()),
        &[(
            "FAILPOINTS",
            "snapshot_download_between_chunks=20*off->panic",
        )],
    );
    m.wait_serving();
    let c = connect(&m).await;
    // The member may die before or after the stream starts.
    if let Ok(s) = c.maintenance().snapshot(SnapshotRequest {}).await {
        let mut s = s.into_inner();
        while let Ok(Some(_)) = s.message().await {}
    }
    let exit = m.wait_exit(Duration::from_secs(30));
    assert!(
        exit.is_some_and(|e| !e.success()),
        "the failpoint ends the member"
    );
    check_after_restart(&mut m, want).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_defragment_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Ectd::start(dir.path(), &[]);
    let c = connect(&m).await;
    load(&c).await;
    let want = state(&c).await;

    let defrag = {
        let c = c.clone();
        tokio::spawn(async move { c.maintenance().defragment(DefragmentRequest {}).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    m.kill9();
    let _ = defrag.await;
    check_after_restart(&mut m, want).await;

    m.restart_with(
        Some(&failpoints_binary()),
        &[(
            "FAILPOINTS",
            "defragment_between_column_families=1*off->panic",
        )],
    );
    m.wait_serving();
    let c = connect(&m).await;
    let res = c.maintenance().defragment(DefragmentRequest {}).await;
    assert!(res.is_err(), "the failpoint ends the member mid-defragment");
    let exit = m.wait_exit(Duration::from_secs(30));
    assert!(exit.is_some_and(|e| !e.success()));
    check_after_restart(&mut m, want).await;
}
