//! Hand-written compaction cases.

use crate::builders::*;
use crate::harness::*;
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use ectd_client::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_matches_etcd() {
    let mut p = Pair::start("compaction").await;
    p.compact("compact 0 on a fresh store", 0, false).await;
    p.compact("compact 0 again", 0, false).await;
    p.compact("compact -1", -1, false).await;
    p.compact("compact a future revision", 5, false).await;
    // Revisions 2..=21: k0..k9 created, then k0..k4 overwritten, k5..k7 deleted,
    // k8 overwritten twice more.
    for i in 0..10 {
        must(
            &mut p,
            &format!("put k{i}"),
            Req::Put(put(format!("k{i}").as_bytes(), b"a")),
        )
        .await;
    }
    for i in 0..5 {
        must(
            &mut p,
            &format!("overwrite k{i}"),
            Req::Put(put(format!("k{i}").as_bytes(), b"b")),
        )
        .await;
    }
    for i in 5..8 {
        must(
            &mut p,
            &format!("delete k{i}"),
            Req::Delete(del(format!("k{i}").as_bytes(), b"")),
        )
        .await;
    }
    must(&mut p, "overwrite k8", Req::Put(put(b"k8", b"c"))).await;
    let cur = must(&mut p, "overwrite k8 again", Req::Put(put(b"k8", b"d"))).await;
    assert_eq!(cur, 21, "setup revisions");
    let all = || range(b"k", b"l");

    p.compact("compact a future revision", cur + 1, false).await;
    p.compact("compact at 10", 10, false).await;
    for revision in [1, 9, 10, 11, 16, 17, cur, cur + 1, 0, -1] {
        p.range(
            &format!("all at rev {revision} after compacting at 10"),
            RangeRequest { revision, ..all() },
        )
        .await;
    }
    p.range(
        "count only at compact rev",
        RangeRequest {
            revision: 10,
            count_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "sorted by create at compact rev",
        RangeRequest {
            revision: 10,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Create as i32,
            ..all()
        },
    )
    .await;
    p.range(
        "k8 history kept after compaction",
        RangeRequest {
            revision: 20,
            ..get(b"k8")
        },
    )
    .await;
    p.compact("compact at 10 again", 10, false).await;
    p.compact("compact below the compacted revision", 5, false)
        .await;
    p.compact("compact -1 after compaction", -1, false).await;
    p.txn(
        "txn reading below the compact revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 9,
                ..all()
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "txn reading at the compact revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 10,
                ..all()
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "write txn reading below the compact revision",
        txn(
            vec![],
            vec![
                op_put(put(b"w", b"1")),
                op_range(RangeRequest {
                    revision: 3,
                    ..all()
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "txn with revision -1 range after compaction",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: -1,
                ..all()
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "compare on compacted history",
        txn(
            vec![cmp(
                b"k0",
                CompareTarget::Create,
                CompareResult::Equal,
                TargetUnion::CreateRevision(2),
            )],
            vec![op_range(get(b"k0"))],
            vec![op_range(get(b"k1"))],
        ),
    )
    .await;

    p.compact("physical compaction at the current revision", cur, true)
        .await;
    for revision in [cur - 1, cur, 0] {
        p.range(
            &format!("all at rev {revision} after compacting at {cur}"),
            RangeRequest { revision, ..all() },
        )
        .await;
    }
    p.range(
        "serializable below compaction",
        RangeRequest {
            revision: 15,
            serializable: true,
            ..all()
        },
    )
    .await;
    for i in 0..3 {
        p.put(
            &format!("write after compaction {i}"),
            PutRequest {
                prev_kv: true,
                ..put(b"k8", b"e")
            },
        )
        .await;
    }
    p.del(
        "delete after compaction with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"k0", b"k3")
        },
    )
    .await;
    p.range("all after compaction and writes", all()).await;
    p.range(
        "all at the compact revision",
        RangeRequest {
            revision: cur,
            ..all()
        },
    )
    .await;
    p.compact("compact at the latest revision", cur + 5, false)
        .await;
    p.range(
        "all at the latest compact revision",
        RangeRequest {
            revision: cur + 5,
            ..all()
        },
    )
    .await;
    p.range(
        "just below the latest compact revision",
        RangeRequest {
            revision: cur + 4,
            ..all()
        },
    )
    .await;
    // Physical compaction of what is already compacted: refused, as etcd refuses
    // it (after its deletion, if any, is done).
    p.compact("physical compaction at the compact revision", cur + 5, true)
        .await;
    p.compact("physical compaction below the compact revision", cur, true)
        .await;

    // A history longer than one compaction batch (1,000 revisions in both),
    // compacted physically halfway, then read around the compact revision.
    let mut last = 0;
    for i in 0..1500 {
        let key = format!("h{}", i % 3);
        last = if i % 100 == 99 {
            must(
                &mut p,
                "delete in long history",
                Req::Delete(del(key.as_bytes(), b"")),
            )
            .await
        } else {
            must(
                &mut p,
                "put in long history",
                Req::Put(put(key.as_bytes(), format!("{i}").as_bytes())),
            )
            .await
        };
    }
    let mid = last - 750;
    p.compact("physical compaction of a long history", mid, true)
        .await;
    let hist = || range(b"h", b"i");
    for revision in [mid - 1, mid, mid + 1, last - 1, 0] {
        p.range(
            &format!("long history at {revision} after compacting at {mid}"),
            RangeRequest { revision, ..hist() },
        )
        .await;
    }
    p.compact("logical compaction of a long history", last - 10, false)
        .await;
    p.range(
        "long history right after a logical compaction",
        RangeRequest {
            revision: last - 10,
            ..hist()
        },
    )
    .await;
    p.finish(40);
}
