//! Hand-written Range cases.

use crate::builders::*;
use crate::harness::*;
use ectd_client::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use ectd_client::proto::etcdserverpb::RangeRequest;

/// Twelve live keys (so full ranges are sorted exactly, see [`range_equiv`]) with
/// history: overwrites, a delete, a multi-key txn (equal mod and create
/// revisions), keys and values holding 0x00 and 0xff.
pub(crate) async fn seed_range_data(p: &mut Pair) -> i64 {
    let writes: Vec<(&str, Req)> = vec![
        ("put a=1", Req::Put(put(b"a", b"1"))),
        ("put a/1", Req::Put(put(b"a/1", b"x"))),
        ("put a/2", Req::Put(put(b"a/2", b"y"))),
        ("put a/3", Req::Put(put(b"a/3", b"x"))),
        ("put ab", Req::Put(put(b"ab", b"z"))),
        ("put a=2", Req::Put(put(b"a", b"2"))),
        ("put b", Req::Put(put(b"b", b"1"))),
        ("put b\\0", Req::Put(put(b"b\0", b"\0\xff"))),
        ("put b\\xff", Req::Put(put(b"b\xff", b"\xff"))),
        ("put \\xff", Req::Put(put(b"\xff", b"ff"))),
        (
            "put \\xff\\xff empty value",
            Req::Put(put(b"\xff\xff", b"")),
        ),
        ("put \\0", Req::Put(put(b"\0", b"zero"))),
        ("delete ab", Req::Delete(del(b"ab", b""))),
        ("put a=3", Req::Put(put(b"a", b"3"))),
        (
            "txn put c and d",
            Req::Txn(txn(
                vec![],
                vec![op_put(put(b"c", b"1")), op_put(put(b"d", b"1"))],
                vec![],
            )),
        ),
        ("put a/2=y2", Req::Put(put(b"a/2", b"y2"))),
    ];
    let mut rev = 0;
    for (label, req) in writes {
        rev = must(p, label, req).await;
    }
    rev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_options_match_etcd() {
    let mut p = Pair::start("range options").await;
    p.range("empty store", range(b"\0", b"\0")).await;
    let cur = seed_range_data(&mut p).await;
    // The revisions named in the cases below assume this history.
    assert_eq!(cur, 17, "revision after seeding");
    let all = || range(b"\0", b"\0");

    let keys: [&[u8]; 15] = [
        b"\0",
        b"a",
        b"a/1",
        b"a/2",
        b"a/3",
        b"b",
        b"b\0",
        b"b\xff",
        b"c",
        b"d",
        b"\xff",
        b"\xff\xff",
        b"ab",
        b"a/",
        b"zz",
    ];
    for k in keys {
        p.range(&format!("get {k:?}"), get(k)).await;
    }

    let ranges: Vec<(&str, &[u8], &[u8])> = vec![
        ("[a, b)", b"a", b"b"),
        ("prefix a/", b"a/", b"a0"),
        ("prefix b", b"b", b"c"),
        ("prefix \\xff (end \\0)", b"\xff", b"\0"),
        ("from b", b"b", b"\0"),
        ("from \\0 (everything)", b"\0", b"\0"),
        ("from \\xff\\xff", b"\xff\xff", b"\0"),
        ("[b, b\\0)", b"b", b"b\0"),
        ("[b\\0, b\\xff]", b"b\0", b"b\xff\0"),
        ("end before key", b"c", b"a"),
        ("end equals key", b"a", b"a"),
        ("nothing in [e, f)", b"e", b"f"),
        ("[\\0, a)", b"\0", b"a"),
        ("from a/3", b"a/3", b"\0"),
        ("[a, \\xff)", b"a", b"\xff"),
    ];
    for (label, k, e) in &ranges {
        p.range(label, range(k, e)).await;
    }
    assert_eq!(prefix_end(b"a/"), b"a0");
    assert_eq!(prefix_end(b"\xff\xff"), b"\0");

    for limit in [-1, 0, 1, 2, 11, 12, 13, 100] {
        p.range(
            &format!("all, limit {limit}"),
            RangeRequest { limit, ..all() },
        )
        .await;
        p.range(
            &format!("prefix a/, limit {limit}"),
            RangeRequest {
                limit,
                ..range(b"a/", b"a0")
            },
        )
        .await;
    }

    for revision in [-100, -1, 0, 1, 2, 5, 7, 13, 14, 15, cur, cur + 1, 1000] {
        p.range(
            &format!("all at rev {revision}"),
            RangeRequest { revision, ..all() },
        )
        .await;
    }
    for revision in [2, 6, 7, 13, 14, 15] {
        p.range(
            &format!("a and ab history at rev {revision}"),
            RangeRequest {
                revision,
                ..range(b"a", b"b")
            },
        )
        .await;
    }
    p.range(
        "deleted ab at rev 13",
        RangeRequest {
            revision: 13,
            ..get(b"ab")
        },
    )
    .await;
    p.range(
        "deleted ab at rev 14",
        RangeRequest {
            revision: 14,
            ..get(b"ab")
        },
    )
    .await;
    p.range(
        "old rev, limit 2",
        RangeRequest {
            revision: 9,
            limit: 2,
            ..all()
        },
    )
    .await;

    for order in ORDERS {
        for target in TARGETS {
            let s = |r: RangeRequest| RangeRequest {
                sort_order: order as i32,
                sort_target: target as i32,
                ..r
            };
            p.range(&format!("all sorted {order:?} by {target:?}"), s(all()))
                .await;
            // With order NONE and a non-KEY target etcd fetches limit+1 keys in key
            // order and sorts only those: a quirk clients can observe.
            p.range(
                &format!("all sorted {order:?} by {target:?}, limit 3"),
                s(RangeRequest { limit: 3, ..all() }),
            )
            .await;
            p.range(
                &format!("prefix a/ sorted {order:?} by {target:?}"),
                s(range(b"a/", b"a0")),
            )
            .await;
            p.range(
                &format!("all sorted {order:?} by {target:?}, keys only, limit 5"),
                s(RangeRequest {
                    keys_only: true,
                    limit: 5,
                    ..all()
                }),
            )
            .await;
        }
    }
    p.range(
        "sorted descending by mod at rev 10",
        RangeRequest {
            revision: 10,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Mod as i32,
            ..all()
        },
    )
    .await;

    p.range(
        "serializable all",
        RangeRequest {
            serializable: true,
            ..all()
        },
    )
    .await;
    p.range(
        "serializable get a at rev 7",
        RangeRequest {
            serializable: true,
            revision: 7,
            ..get(b"a")
        },
    )
    .await;
    p.range(
        "serializable future rev",
        RangeRequest {
            serializable: true,
            revision: cur + 5,
            ..get(b"a")
        },
    )
    .await;

    p.range(
        "keys only",
        RangeRequest {
            keys_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "count only",
        RangeRequest {
            count_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "count only and keys only",
        RangeRequest {
            count_only: true,
            keys_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "count only with limit",
        RangeRequest {
            count_only: true,
            limit: 2,
            ..all()
        },
    )
    .await;
    p.range(
        "count only of a missing key",
        RangeRequest {
            count_only: true,
            ..get(b"nope")
        },
    )
    .await;
    p.range(
        "count only at old rev",
        RangeRequest {
            count_only: true,
            revision: 5,
            ..all()
        },
    )
    .await;
    p.range(
        "keys only single key",
        RangeRequest {
            keys_only: true,
            ..get(b"b\0")
        },
    )
    .await;

    let filters: Vec<(&str, RangeRequest)> = vec![
        (
            "min mod 10",
            RangeRequest {
                min_mod_revision: 10,
                ..all()
            },
        ),
        (
            "max mod 10",
            RangeRequest {
                max_mod_revision: 10,
                ..all()
            },
        ),
        (
            "min create 5",
            RangeRequest {
                min_create_revision: 5,
                ..all()
            },
        ),
        (
            "max create 5",
            RangeRequest {
                max_create_revision: 5,
                ..all()
            },
        ),
        (
            "mod in [8, 15]",
            RangeRequest {
                min_mod_revision: 8,
                max_mod_revision: 15,
                ..all()
            },
        ),
        (
            "create in [3, 9], mod >= 16",
            RangeRequest {
                min_create_revision: 3,
                max_create_revision: 9,
                min_mod_revision: 16,
                ..all()
            },
        ),
        (
            "min mod 10, limit 2",
            RangeRequest {
                min_mod_revision: 10,
                limit: 2,
                ..all()
            },
        ),
        (
            "max mod 10, limit 1, sorted by value descending",
            RangeRequest {
                max_mod_revision: 10,
                limit: 1,
                sort_order: SortOrder::Descend as i32,
                sort_target: SortTarget::Value as i32,
                ..all()
            },
        ),
        (
            "min create 5 at rev 12",
            RangeRequest {
                min_create_revision: 5,
                revision: 12,
                ..all()
            },
        ),
        (
            "min mod beyond everything",
            RangeRequest {
                min_mod_revision: 1000,
                ..all()
            },
        ),
        (
            "max create 1",
            RangeRequest {
                max_create_revision: 1,
                ..all()
            },
        ),
        (
            "negative filters",
            RangeRequest {
                min_mod_revision: -5,
                max_create_revision: -5,
                ..all()
            },
        ),
        (
            "min mod 10, count only",
            RangeRequest {
                min_mod_revision: 10,
                count_only: true,
                ..all()
            },
        ),
        (
            "min mod 10, keys only",
            RangeRequest {
                min_mod_revision: 10,
                keys_only: true,
                ..all()
            },
        ),
    ];
    for (label, r) in filters {
        p.range(label, r).await;
    }

    p.range("empty key", get(b"")).await;
    p.range("empty key with range end", range(b"", b"\0")).await;
    p.finish(150);
}
