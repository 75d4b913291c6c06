//! The library's watch, lease, lock and election helpers, each against a
//! real etcd 3.4 and against ectd: a watch survives a member restart without losing or repeating
//! an event, reports compaction as an error and hands out fragmented
//! batches whole; a lease keeper keeps a lease alive and notices when it is
//! gone; locks and elections behave as etcd's recipes do.
//!
//! The test needs `/usr/bin/etcd` and `/usr/bin/etcdctl` (override with
//! `ETCD_BIN` / `ETCDCTL_BIN`) and fails when they are missing.

// Shared with suites that use more of it (TLS).
#[allow(dead_code)]
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/tools.rs"]
mod tools;

use std::time::Duration;

use ectd_client::proto::etcdserverpb::{CompactionRequest, WatchCreateRequest, WatchResponse};
use ectd_client::{
    is_progress_notify, Client, ConnectOptions, Error, KeepAliveEnd, KeyRange, LeaseKeeper,
    LeasedMutex, Watcher,
};
use etcd::Etcd;
use futures::StreamExt;

/// How long any single expected thing may take.
const PATIENCE: Duration = Duration::from_secs(20);

async fn connect(etcd: &Etcd) -> Client {
    let options = ConnectOptions {
        dial_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    Client::connect_with(std::slice::from_ref(&etcd.endpoint), options)
        .await
        .expect("connect")
}

async fn next(watcher: &mut Watcher) -> Result<WatchResponse, Error> {
    tokio::time::timeout(PATIENCE, watcher.recv())
        .await
        .expect("a watch response in time")
        .expect("the watch to go on")
}

fn watch_prefix(prefix: &str, start_revision: i64) -> WatchCreateRequest {
    let range = KeyRange::prefix(prefix);
    WatchCreateRequest {
        key: range.key,
        range_end: range.range_end,
        start_revision,
        ..Default::default()
    }
}

/// Collects events until `count` have arrived; returns their mod
/// revisions and values.
async fn events(watcher: &mut Watcher, count: usize) -> Vec<(i64, Vec<u8>)> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let resp = match next(watcher).await {
            Ok(resp) => resp,
            Err(err) => panic!("events expected, the watch failed: {err:?}"),
        };
        for event in resp.events {
            let kv = event.kv.unwrap();
            seen.push((kv.mod_revision, kv.value));
        }
    }
    seen
}

async fn watch_resumes_after_restart_without_loss_or_repeats(start: fn() -> Etcd) {
    let mut etcd = start();
    let client = connect(&etcd).await;
    let mut watcher = client.open_watch(watch_prefix("r/", 0)).await.unwrap();
    for i in 0..3 {
        client.put_kv("r/k", format!("before-{i}")).await.unwrap();
    }
    let before = events(&mut watcher, 3).await;

    // The member goes away and comes back. Whether the watcher re-creates
    // its watch before these writes or after (then it has to replay them),
    // it must see each of them exactly once.
    tokio::task::block_in_place(|| etcd.restart());
    let writer = connect(&etcd).await;
    for i in 0..3 {
        writer.put_kv("r/k", format!("after-{i}")).await.unwrap();
    }
    let after = events(&mut watcher, 3).await;

    let all: Vec<(i64, Vec<u8>)> = before.into_iter().chain(after).collect();
    let revisions: Vec<i64> = all.iter().map(|(r, _)| *r).collect();
    let first = revisions[0];
    assert_eq!(revisions, (first..first + 6).collect::<Vec<_>>());
    let values: Vec<String> = all
        .iter()
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        .collect();
    assert_eq!(
        values,
        ["before-0", "before-1", "before-2", "after-0", "after-1", "after-2"]
    );

    // Nothing more: no event is delivered twice.
    writer.put_kv("r/k", "last").await.unwrap();
    assert_eq!(events(&mut watcher, 1).await[0].1, b"last");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), watcher.recv())
            .await
            .is_err(),
        "no further response expected"
    );

    // A progress notification says how far the watch has got.
    watcher.request_progress();
    let progress = next(&mut watcher).await.unwrap();
    assert!(is_progress_notify(&progress), "{progress:?}");
    assert_eq!(progress.header.unwrap().revision, first + 6);
}

async fn compaction_ends_a_watch_and_fragments_arrive_whole(start: fn() -> Etcd) {
    let etcd = start();
    let client = connect(&etcd).await;

    // 30 values of 100 KiB: replayed in one batch of about 3 MiB, more
    // than etcd sends in one message when asked to fragment.
    let first = client.put_kv("f/0", vec![b'x'; 100 * 1024]).await.unwrap();
    let first = first.header.unwrap().revision;
    for i in 1..30 {
        client
            .put_kv(format!("f/{i}"), vec![b'x'; 100 * 1024])
            .await
            .unwrap();
    }
    let mut fragmented = client
        .open_watch(WatchCreateRequest {
            fragment: true,
            ..watch_prefix("f/", first)
        })
        .await
        .unwrap();
    // etcd replays the 30 revisions as one fragmented batch, ectd in rounds of
    // whole revisions; either way no fragment reaches the caller.
    let mut replayed = Vec::new();
    while replayed.len() < 30 {
        let batch = next(&mut fragmented).await.unwrap();
        assert!(!batch.fragment, "fragments are handed out joined");
        replayed.extend(batch.events);
    }
    assert_eq!(replayed.len(), 30);
    let revisions: Vec<i64> = replayed
        .iter()
        .map(|e| e.kv.as_ref().unwrap().mod_revision)
        .collect();
    assert_eq!(revisions, (first..first + 30).collect::<Vec<_>>());

    // A watch that starts before the compacted revision is canceled.
    let compacted = first + 10;
    client
        .compact(CompactionRequest {
            revision: compacted,
            physical: true,
        })
        .await
        .unwrap();
    let mut watcher = client.open_watch(watch_prefix("f/", first)).await.unwrap();
    let err = next(&mut watcher).await.unwrap_err();
    assert!(err.is_compacted(), "{err:?}");
    assert_eq!(err.compact_revision(), Some(compacted));
    assert_eq!(
        err.to_string(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    let end = tokio::time::timeout(PATIENCE, watcher.recv())
        .await
        .unwrap();
    assert!(end.is_none(), "a canceled watch is not resumed");
}

#[tokio::test]
async fn periodic_progress_notifications() {
    let etcd = Etcd::start_with(&["--experimental-watch-progress-notify-interval=300ms"]);
    let client = connect(&etcd).await;
    client.put_kv("p", "1").await.unwrap();
    let mut watcher = client
        .open_watch(WatchCreateRequest {
            progress_notify: true,
            ..watch_prefix("p", 0)
        })
        .await
        .unwrap();
    let progress = next(&mut watcher).await.unwrap();
    assert!(is_progress_notify(&progress), "{progress:?}");
    assert_eq!(
        Some(progress.header.unwrap().revision),
        watcher.created_header().map(|h| h.revision)
    );

    // ectl's `--progress-notify` (etcdctl 3.5's flag) asks for them too.
    let mut ectl = std::process::Command::new(env!("CARGO_BIN_EXE_ectl"))
        .args([
            "--endpoints",
            &etcd.endpoint,
            "watch",
            "p",
            "--progress-notify",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = ectl.stdout.take().unwrap();
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        line
    });
    let first_line = tokio::time::timeout(PATIENCE, first_line)
        .await
        .unwrap()
        .unwrap();
    let _ = ectl.kill();
    let _ = ectl.wait();
    assert_eq!(first_line, "progress notify: 2\n");
}

async fn lease_keeper_renews_until_the_lease_is_gone(start: fn() -> Etcd) {
    let etcd = start();
    let client = connect(&etcd).await;

    let unknown = client.lease_keep_alive_once(0x1234).await.unwrap_err();
    assert_eq!(unknown.code(), Some(tonic::Code::NotFound));
    assert_eq!(unknown.to_string(), "etcdserver: requested lease not found");

    // TTL 2: the lease would be gone twice over without renewals.
    let lease = client.lease_grant(2, 0).await.unwrap().id;
    client
        .put(ectd_client::proto::etcdserverpb::PutRequest {
            key: b"leased".to_vec(),
            value: b"v".to_vec(),
            lease,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keeper = LeaseKeeper::start(&client, lease);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(keeper.ttl(), Some(2));
    assert!(keeper.state().renewals >= 5, "{:?}", keeper.state());
    assert!(keeper.expires_at() > tokio::time::Instant::now());
    let alive = client.lease_time_to_live(lease, true).await.unwrap();
    assert!(alive.ttl > 0, "{alive:?}");
    assert_eq!(alive.keys, vec![b"leased".to_vec()]);

    // Revoked by someone else: the keeper notices at its next renewal.
    client.lease_revoke(lease).await.unwrap();
    let end = tokio::time::timeout(PATIENCE, keeper.lost()).await.unwrap();
    assert_eq!(end, KeepAliveEnd::Gone);
    assert_eq!(keeper.next_renewal().await, None);

    // A dropped keeper renews no more: the lease expires.
    let lease = client.lease_grant(2, 0).await.unwrap().id;
    let keeper = LeaseKeeper::start(&client, lease);
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(keeper);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let gone = client.lease_time_to_live(lease, false).await.unwrap();
    assert_eq!(gone.ttl, -1);
}

async fn locks_and_elections(start: fn() -> Etcd) {
    let etcd = start();
    let client = connect(&etcd).await;

    // A second holder waits until the first releases.
    let mutex = LeasedMutex::new(&client, "m", 10);
    let first = mutex.lock().await.unwrap();
    assert_eq!(first.key(), format!("m/{:x}", first.lease()).as_bytes());
    let waiting = tokio::spawn({
        let mutex = mutex.clone();
        async move { mutex.lock().await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "the lock is held");
    let first_lease = first.lease();
    first.release().await.unwrap();
    let second = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(second.header().unwrap().revision > 0);
    let revoked = client.lease_time_to_live(first_lease, false).await.unwrap();
    assert_eq!(revoked.ttl, -1, "release revokes the lease");
    second.release().await.unwrap();

    // The raw calls: lock, unlock.
    let lease = client.lease_grant(10, 0).await.unwrap().id;
    let held = client.acquire_lock("raw", lease).await.unwrap();
    assert!(held.key.starts_with(b"raw/"));
    client.unlock(held.key.clone()).await.unwrap();
    assert_eq!(client.get(held.key).await.unwrap().count, 0);

    // Elections: campaign, observe, proclaim, resign.
    let no_leader = client.leader("e").await.unwrap_err();
    assert_eq!(no_leader.message(), Some("election: no leader"));
    let mut observed = std::pin::pin!(client.observe("e"));
    let elected = client.campaign("e", lease, "first").await.unwrap();
    let leader = elected.leader.unwrap();
    let value = |resp: Option<Result<_, Error>>| {
        let resp: ectd_client::proto::v3electionpb::LeaderResponse = resp.unwrap().unwrap();
        resp.kv.unwrap().value
    };
    let seen = tokio::time::timeout(PATIENCE, observed.next())
        .await
        .unwrap();
    assert_eq!(value(seen), b"first");
    client.proclaim(leader.clone(), "second").await.unwrap();
    let seen = tokio::time::timeout(PATIENCE, observed.next())
        .await
        .unwrap();
    assert_eq!(value(seen), b"second");
    let now = client.leader("e").await.unwrap();
    assert_eq!(now.kv.unwrap().key, leader.key);
    client.resign(leader).await.unwrap();
    assert!(client.leader("e").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_restart_without_loss_or_repeats_on_etcd() {
    watch_resumes_after_restart_without_loss_or_repeats(Etcd::start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_resumes_after_restart_without_loss_or_repeats_on_ectd() {
    watch_resumes_after_restart_without_loss_or_repeats(Etcd::start_ectd).await;
}

#[tokio::test]
async fn compaction_ends_a_watch_and_fragments_arrive_whole_on_etcd() {
    compaction_ends_a_watch_and_fragments_arrive_whole(Etcd::start).await;
}

#[tokio::test]
async fn compaction_ends_a_watch_and_fragments_arrive_whole_on_ectd() {
    compaction_ends_a_watch_and_fragments_arrive_whole(Etcd::start_ectd).await;
}

#[tokio::test]
async fn lease_keeper_renews_until_the_lease_is_gone_on_etcd() {
    lease_keeper_renews_until_the_lease_is_gone(Etcd::start).await;
}

#[tokio::test]
async fn lease_keeper_renews_until_the_lease_is_gone_on_ectd() {
    lease_keeper_renews_until_the_lease_is_gone(Etcd::start_ectd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_and_elections_on_etcd() {
    locks_and_elections(Etcd::start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_and_elections_on_ectd() {
    locks_and_elections(Etcd::start_ectd).await;
}
