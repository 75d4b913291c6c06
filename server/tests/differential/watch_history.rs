//! Watch from history: start revisions in the past, present and future,
//! compaction, progress notifications and fragmented responses.

use crate::builders::*;
use crate::harness::*;
use crate::streams::*;
use ectd_client::proto::etcdserverpb::watch_create_request::FilterType;
use ectd_client::proto::etcdserverpb::WatchCreateRequest;
use std::time::Duration;

fn from(start_revision: i64, c: WatchCreateRequest) -> WatchCreateRequest {
    WatchCreateRequest {
        start_revision,
        ..c
    }
}

fn with_prev(c: WatchCreateRequest) -> WatchCreateRequest {
    WatchCreateRequest { prev_kv: true, ..c }
}

/// Watchers created after seven writes, from revisions before, at and after the
/// current one: history must be replayed in one response, then the watcher must
/// follow live writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_start_revisions_match_etcd() {
    let mut p = Pair::start("watch start revisions").await;
    // Revisions 2..=8.
    must(&mut p, "put a", Req::Put(put(b"a", b"1"))).await;
    must(&mut p, "put b", Req::Put(put(b"b", b"1"))).await;
    must(&mut p, "overwrite a", Req::Put(put(b"a", b"2"))).await;
    must(
        &mut p,
        "txn: put c, overwrite a",
        Req::Txn(txn(
            vec![],
            vec![op_put(put(b"c", b"1")), op_put(put(b"a", b"3"))],
            vec![],
        )),
    )
    .await;
    must(&mut p, "delete b", Req::Delete(del(b"b", b""))).await;
    must(&mut p, "re-create b", Req::Put(put(b"b", b"2"))).await;
    let cur = must(&mut p, "delete [a, c)", Req::Delete(del(b"a", b"c"))).await;
    assert_eq!(cur, 8, "setup revisions");

    let all = || watch_on(b"", b"\0");
    // (label, create request, replayed responses, live responses)
    let kinds: Vec<(&str, WatchCreateRequest, usize, usize)> = vec![
        ("start 0: from the next revision", all(), 0, 4),
        ("from revision 1", from(1, all()), 1, 4),
        (
            "from revision 4 with prev_kv",
            from(4, with_prev(all())),
            1,
            4,
        ),
        (
            "key a from 3 with prev_kv",
            from(3, with_prev(watch_on(b"a", b""))),
            1,
            2,
        ),
        ("from the current revision", from(cur, all()), 1, 4),
        ("from the next revision", from(cur + 1, all()), 0, 4),
        ("from a future revision", from(cur + 3, all()), 0, 2),
        (
            "key b from 2 without puts",
            WatchCreateRequest {
                filters: vec![FilterType::Noput as i32],
                ..from(2, watch_on(b"b", b""))
            },
            1,
            0,
        ),
        (
            "key zzz with no history from 1",
            from(1, watch_on(b"zzz", b"")),
            0,
            1,
        ),
        (
            "prefix from 2 with prev_kv and no deletes",
            WatchCreateRequest {
                filters: vec![FilterType::Nodelete as i32],
                ..from(2, with_prev(watch_on(b"", b"\0")))
            },
            1,
            4,
        ),
    ];
    let mut streams = Vec::new();
    for (label, c, replayed, _) in &kinds {
        let mut w = watches(&p);
        w.send(create(c.clone()));
        w.expect(
            &mut p,
            &format!("created and history: {label}"),
            1 + replayed,
        )
        .await;
        streams.push(w);
    }

    // Revisions 9..=12.
    must(&mut p, "put a", Req::Put(put(b"a", b"4"))).await;
    must(&mut p, "put zzz", Req::Put(put(b"zzz", b"1"))).await;
    must(&mut p, "overwrite a", Req::Put(put(b"a", b"5"))).await;
    must(&mut p, "put b", Req::Put(put(b"b", b"3"))).await;
    for ((label, _, _, live), w) in kinds.iter().zip(&mut streams) {
        w.expect(&mut p, &format!("live: {label}"), *live).await;
    }

    // History and live watchers on one stream.
    let mut w = watches(&p);
    w.create(&mut p, "live watcher on a", watch_on(b"a", b""))
        .await;
    w.send(create(from(2, watch_on(b"a", b""))));
    w.expect(&mut p, "history watcher on a beside a live one", 2)
        .await;
    must(&mut p, "put a", Req::Put(put(b"a", b"6"))).await;
    w.expect_with(&mut p, "both watchers see put a", 2, per_watcher)
        .await;
    p.finish(35);
}

/// Negative start revisions (etcd has no compaction yet: its compact revision
/// is -1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_negative_start_revision_matches_etcd() {
    let mut p = Pair::start("watch negative start revision").await;
    must(&mut p, "put a", Req::Put(put(b"a", b"1"))).await;
    must(&mut p, "put a", Req::Put(put(b"a", b"2"))).await;
    let mut w1 = watches(&p);
    w1.send(create(from(-1, watch_on(b"a", b""))));
    w1.expect(&mut p, "start revision -1", 1).await;
    let mut w5 = watches(&p);
    w5.send(create(from(-5, watch_on(b"a", b""))));
    w5.expect(&mut p, "start revision -5", 1).await;
    must(&mut p, "put a", Req::Put(put(b"a", b"3"))).await;
    w1.expect(&mut p, "start revision -1 after a put", 0).await;
    w5.expect(&mut p, "start revision -5 after a put", 0).await;
    p.finish(6);
}

/// Watchers whose start revision was compacted are created, then cancelled with
/// the compact revision; the compact revision itself can still be watched (with
/// no prev_kv for its own events, whose previous versions are gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_compaction_matches_etcd() {
    let mut p = Pair::start("watch compaction").await;
    // Revisions 2..=7.
    must(&mut p, "put a", Req::Put(put(b"a", b"1"))).await;
    must(&mut p, "overwrite a", Req::Put(put(b"a", b"2"))).await;
    must(&mut p, "put b", Req::Put(put(b"b", b"1"))).await;
    must(&mut p, "overwrite a", Req::Put(put(b"a", b"3"))).await;
    must(&mut p, "delete b", Req::Delete(del(b"b", b""))).await;
    must(&mut p, "put c", Req::Put(put(b"c", b"1"))).await;
    p.compact("compact at 5", 5, false).await;
    let all = || watch_on(b"", b"\0");

    let mut w = watches(&p);
    w.send(create(from(3, all())));
    w.expect(&mut p, "from 3: created, then cancelled", 2).await;
    w.send(cancel(0));
    w.expect(&mut p, "cancel the compacted watcher", 0).await;
    w.send(create(WatchCreateRequest {
        watch_id: 9,
        ..from(2, all())
    }));
    w.expect(&mut p, "client id 9 from 2: created, then cancelled", 2)
        .await;
    w.send(create(WatchCreateRequest {
        watch_id: 9,
        ..all()
    }));
    w.expect(&mut p, "client id 9 again", 1).await;
    w.send(create(from(1, watch_on(b"c", b""))));
    w.expect(&mut p, "key c from 1: created, then cancelled", 2)
        .await;
    w.send(progress());
    w.expect(&mut p, "progress request after compaction cancels", 1)
        .await;

    let mut at = watches(&p);
    at.send(create(from(5, with_prev(all()))));
    at.expect(&mut p, "from the compact revision with prev_kv", 2)
        .await;
    let mut after = watches(&p);
    after.send(create(from(6, with_prev(all()))));
    after.expect(&mut p, "from 6 with prev_kv", 2).await;

    p.compact("compact at 7", 7, false).await;
    let mut late = watches(&p);
    late.send(create(from(6, all())));
    late.expect(&mut p, "from 6 after compacting at 7", 2).await;
    must(&mut p, "overwrite a", Req::Put(put(b"a", b"4"))).await;
    at.expect(&mut p, "live write after the second compaction", 1)
        .await;
    after
        .expect(&mut p, "live write after the second compaction", 1)
        .await;
    late.expect(&mut p, "cancelled watcher stays silent", 0)
        .await;
    p.finish(20);
}

/// RequestProgress on quiet streams, and the periodic notifications of watchers
/// created with progress_notify (every second here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_progress_matches_etcd() {
    let mut p = Pair::start_with(
        "watch progress",
        &["--experimental-watch-progress-notify-interval=1s"],
    )
    .await;
    must(&mut p, "put a", Req::Put(put(b"a", b"1"))).await;

    let mut bare = watches(&p);
    bare.send(progress());
    bare.expect(&mut p, "progress request on a stream without watchers", 1)
        .await;

    let mut plain = watches(&p);
    plain
        .create(
            &mut p,
            "watcher without progress_notify",
            watch_on(b"a", b""),
        )
        .await;
    plain.send(progress());
    plain
        .expect(&mut p, "progress request with a synced watcher", 1)
        .await;

    // How many notifications fall into each quiet second depends on where the
    // timer ticks fall; runs of identical ones are collapsed.
    let mut notified = watches(&p);
    notified.send(create(WatchCreateRequest {
        progress_notify: true,
        ..watch_on(b"b", b"")
    }));
    let quiet = Duration::from_millis(3000);
    tokio::time::sleep(quiet).await;
    must(&mut p, "put b", Req::Put(put(b"b", b"1"))).await;
    notified.send(progress());
    tokio::time::sleep(quiet).await;
    must(&mut p, "put a", Req::Put(put(b"a", b"2"))).await;
    let seen = notified
        .expect_during(
            &mut p,
            "progress_notify: created, notification, event, progress request, \
             notifications after an event and after a write elsewhere",
            quiet,
            collapse_progress,
        )
        .await;
    // The test's premise: etcd sent a notification in each quiet period.
    let notifications = seen
        .iter()
        .filter(|r| matches!(r, Ok(r) if is_progress(r) && r.watch_id == 0))
        .count();
    assert_eq!(notifications, 3, "etcd's notifications: {seen:?}");
    plain
        .expect_during(
            &mut p,
            "no notifications without progress_notify",
            Duration::ZERO,
            |_| {},
        )
        .await;
    p.finish(6);
}

/// Responses larger than etcd's limit (--max-request-bytes plus 512 KiB of gRPC
/// overhead) are split for watchers that asked for fragments and sent whole to
/// the others; live and replayed alike. Every event here is about 10 KB, so no
/// limit falls near an event boundary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_fragments_match_etcd() {
    let mut p = Pair::start_with("watch fragments", &["--max-request-bytes=100000"]).await;
    let value = |c: u8| vec![c; 10_000];
    let key = |i: usize| format!("big/{i:02}").into_bytes();
    let prefix = || watch_on(b"big/", &prefix_end(b"big/"));
    let fragment = |c: WatchCreateRequest| WatchCreateRequest {
        fragment: true,
        ..c
    };
    // Revisions 2..=71: 70 keys of 10 KB.
    for i in 0..70 {
        must(
            &mut p,
            &format!("put big/{i:02}"),
            Req::Put(put(&key(i), &value(b'x'))),
        )
        .await;
    }
    // (label, create request, live responses)
    let kinds: Vec<(&str, WatchCreateRequest, usize)> = vec![
        ("fragment with prev_kv", fragment(with_prev(prefix())), 3),
        ("no fragment with prev_kv", with_prev(prefix()), 2),
        ("fragment without prev_kv", fragment(prefix()), 2),
    ];
    let mut streams = Vec::new();
    for (label, c, _) in &kinds {
        let mut w = watches(&p);
        w.create(&mut p, &format!("create: {label}"), c.clone())
            .await;
        streams.push(w);
    }
    // Revision 72: 160 KB of events with prev_kv, above --max-request-bytes but
    // below etcd's limit. Revision 73: 70 deletes, 700 KB with prev_kv.
    must(
        &mut p,
        "txn: overwrite eight keys",
        Req::Txn(txn(
            vec![],
            (0..8).map(|i| op_put(put(&key(i), &value(b'y')))).collect(),
            vec![],
        )),
    )
    .await;
    must(
        &mut p,
        "delete prefix big/",
        Req::Delete(del(b"big/", &prefix_end(b"big/"))),
    )
    .await;
    for ((label, _, want), w) in kinds.iter().zip(&mut streams) {
        w.expect(&mut p, &format!("live: {label}"), *want).await;
    }

    // (label, create request, replayed responses)
    let replays: Vec<(&str, WatchCreateRequest, usize)> = vec![
        ("fragment from 2", fragment(from(2, prefix())), 2),
        (
            "fragment with prev_kv from 2",
            fragment(from(2, with_prev(prefix()))),
            3,
        ),
        ("no fragment from 2", from(2, with_prev(prefix())), 1),
    ];
    for (label, c, want) in replays {
        let mut w = watches(&p);
        w.send(create(c));
        w.expect(&mut p, &format!("created and history: {label}"), 1 + want)
            .await;
    }
    p.finish(80);
}
