//! Watch: what a watcher is sent for each kind of range, filter and write, and
//! how watchers are created and cancelled on one stream.

use crate::builders::*;
use crate::harness::*;
use crate::streams::*;
use ectd_client::proto::etcdserverpb::watch_create_request::FilterType;
use ectd_client::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, WatchCreateRequest};

/// Every kind of range, the two filters and prev_kv, each on its own stream,
/// through puts, overwrites, deletes, range deletes and a multi-op txn; the
/// events of one revision must arrive in one response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ranges_and_filters_match_etcd() {
    let mut p = Pair::start("watch ranges and filters").await;
    let all = || watch_on(b"", b"\0");
    // (label, create request, responses expected for the writes below)
    let kinds: Vec<(&str, WatchCreateRequest, usize)> = vec![
        ("key foo", watch_on(b"foo", b""), 3),
        ("range [foo, foo/b)", watch_on(b"foo", b"foo/b"), 5),
        ("prefix foo/", watch_on(b"foo/", &prefix_end(b"foo/")), 5),
        ("from key n", watch_on(b"n", b"\0"), 4),
        ("empty key (\\0 only)", watch_on(b"", b""), 2),
        ("empty key to the end", all(), 11),
        (
            "NOPUT on everything",
            WatchCreateRequest {
                filters: vec![FilterType::Noput as i32],
                ..all()
            },
            4,
        ),
        (
            "NODELETE on everything",
            WatchCreateRequest {
                filters: vec![FilterType::Nodelete as i32],
                ..all()
            },
            8,
        ),
        (
            "both filters",
            WatchCreateRequest {
                filters: vec![FilterType::Noput as i32, FilterType::Nodelete as i32],
                ..all()
            },
            0,
        ),
        (
            "prev_kv on everything",
            WatchCreateRequest {
                prev_kv: true,
                ..all()
            },
            11,
        ),
        (
            "prev_kv and NOPUT on prefix foo/",
            WatchCreateRequest {
                prev_kv: true,
                filters: vec![FilterType::Noput as i32],
                ..watch_on(b"foo/", &prefix_end(b"foo/"))
            },
            2,
        ),
    ];
    let mut streams = Vec::new();
    for (label, c, _) in &kinds {
        let mut w = watches(&p);
        w.create(&mut p, &format!("create: {label}"), c.clone())
            .await;
        streams.push(w);
    }

    // Revisions 2..=12.
    must(&mut p, "put foo", Req::Put(put(b"foo", b"1"))).await;
    must(&mut p, "put foo/a", Req::Put(put(b"foo/a", b"1"))).await;
    must(&mut p, "put foo/b", Req::Put(put(b"foo/b", b"1"))).await;
    must(&mut p, "overwrite foo", Req::Put(put(b"foo", b"2"))).await;
    must(&mut p, "put \\0", Req::Put(put(b"\0", b"zero"))).await;
    must(&mut p, "put n", Req::Put(put(b"n", b"1"))).await;
    must(&mut p, "delete foo/a", Req::Delete(del(b"foo/a", b""))).await;
    p.del("delete a missing key (no revision)", del(b"missing", b""))
        .await;
    must(
        &mut p,
        "txn: put foo/c, overwrite n, delete foo",
        Req::Txn(txn(
            vec![],
            vec![
                op_put(put(b"foo/c", b"1")),
                op_put(put(b"n", b"2")),
                op_del(del(b"foo", b"")),
            ],
            vec![],
        )),
    )
    .await;
    must(
        &mut p,
        "delete prefix foo/",
        Req::Delete(del(b"foo/", &prefix_end(b"foo/"))),
    )
    .await;
    must(&mut p, "put zz", Req::Put(put(b"zz", b"1"))).await;
    let last = must(
        &mut p,
        "delete everything",
        Req::Delete(DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\0", b"\0")
        }),
    )
    .await;
    assert_eq!(last, 12, "setup revisions");

    for ((label, _, want), w) in kinds.iter().zip(&mut streams) {
        w.expect(&mut p, &format!("events: {label}"), *want).await;
    }
    p.finish(34);
}

/// Several watchers on one stream: automatic and client-chosen ids, duplicate
/// ids, empty ranges, cancelling known and unknown ids, a progress request, and
/// events of one revision for several watchers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_ids_and_cancel_match_etcd() {
    let mut p = Pair::start("watch ids and cancel").await;
    must(&mut p, "put a", Req::Put(put(b"a", b"0"))).await;
    let mut w = watches(&p);
    w.create(&mut p, "auto id on a", watch_on(b"a", b"")).await;
    w.create(
        &mut p,
        "client id 5 on b",
        WatchCreateRequest {
            watch_id: 5,
            ..watch_on(b"b", b"")
        },
    )
    .await;
    w.create(&mut p, "auto id on [a, c)", watch_on(b"a", b"c"))
        .await;
    w.create(
        &mut p,
        "client id 5 again",
        WatchCreateRequest {
            watch_id: 5,
            ..watch_on(b"c", b"")
        },
    )
    .await;
    w.create(
        &mut p,
        "client id equal to an automatic one",
        WatchCreateRequest {
            watch_id: 1,
            ..watch_on(b"c", b"")
        },
    )
    .await;
    w.create(&mut p, "range end before key", watch_on(b"b", b"a"))
        .await;
    w.create(&mut p, "range end equal to key", watch_on(b"b", b"b"))
        .await;
    w.create(
        &mut p,
        "client id on an empty range",
        WatchCreateRequest {
            watch_id: 8,
            ..watch_on(b"z", b"y")
        },
    )
    .await;
    w.create(
        &mut p,
        "negative client id",
        WatchCreateRequest {
            watch_id: -7,
            ..watch_on(b"b", b"")
        },
    )
    .await;
    w.create(&mut p, "auto id after client ids", watch_on(b"a", b"\0"))
        .await;

    w.send(cancel(1));
    w.expect(&mut p, "cancel a live watcher", 1).await;
    w.send(cancel(99));
    w.expect(&mut p, "cancel an unknown id: no answer", 0).await;
    w.send(cancel(1));
    w.expect(&mut p, "cancel the same id again: no answer", 0)
        .await;
    w.send(progress());
    w.expect(&mut p, "progress request on a quiet stream", 1)
        .await;

    must(&mut p, "put a", Req::Put(put(b"a", b"1"))).await;
    // Watchers 0 (a), 2 (from a).
    w.expect_with(&mut p, "events of put a", 2, per_watcher)
        .await;
    must(
        &mut p,
        "txn: put a, put b",
        Req::Txn(txn(
            vec![],
            vec![op_put(put(b"a", b"2")), op_put(put(b"b", b"2"))],
            vec![],
        )),
    )
    .await;
    // Watchers 0 (a), 5 (b), -7 (b), 2 (a and b in one response).
    w.expect_with(&mut p, "events of a txn on a and b", 4, per_watcher)
        .await;

    w.send(cancel(0));
    w.expect(&mut p, "cancel watcher 0", 1).await;
    w.create(&mut p, "auto id after cancelling 0", watch_on(b"a", b""))
        .await;
    w.create(
        &mut p,
        "client id of a cancelled watcher",
        WatchCreateRequest {
            watch_id: 1,
            ..watch_on(b"b", b"")
        },
    )
    .await;
    w.send(cancel(-7));
    w.expect(&mut p, "cancel the negative id", 1).await;
    must(
        &mut p,
        "delete [a, c)",
        Req::Delete(DeleteRangeRequest {
            prev_kv: true,
            ..del(b"a", b"c")
        }),
    )
    .await;
    // Watchers 5 (b), 2 (a, b), the new automatic one (a), 1 (b).
    w.expect_with(&mut p, "events of a range delete", 4, per_watcher)
        .await;
    w.send(progress());
    w.expect(&mut p, "progress request after events", 1).await;

    // A second stream counts its ids from 0 again.
    let mut w2 = watches(&p);
    w2.create(&mut p, "auto id on a second stream", watch_on(b"a", b""))
        .await;
    p.put(
        "put a with prev_kv (seen by both streams)",
        PutRequest {
            prev_kv: true,
            ..put(b"a", b"3")
        },
    )
    .await;
    w2.expect(&mut p, "second stream: put a", 1).await;
    w.expect_with(&mut p, "first stream: put a", 2, per_watcher)
        .await;
    p.finish(30);
}
