//! Hand-written Txn cases.

use crate::builders::*;
use crate::harness::*;
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_matches_etcd() {
    use CompareTarget as T;
    let mut p = Pair::start("txn").await;
    // "x" at version 3 with create rev 2 and mod rev 4; "y" at version 1 with mod
    // rev 5; "w" with an empty value; nothing at "none*".
    for (k, v) in [("x", "1"), ("x", "2"), ("x", "3"), ("y", "b"), ("w", "")] {
        must(
            &mut p,
            &format!("put {k}={v}"),
            Req::Put(put(k.as_bytes(), v.as_bytes())),
        )
        .await;
    }
    let reads = || vec![op_range(get(b"x")), op_range(range(b"w", b"z"))];
    let other = || vec![op_range(get(b"y"))];

    // Every target against every result, on one key, a missing key, a range and a
    // from-key range, with constants below, at and above the stored values.
    let unions: Vec<(CompareTarget, Vec<TargetUnion>)> = vec![
        (
            T::Version,
            vec![TargetUnion::Version(0), TargetUnion::Version(3)],
        ),
        (
            T::Create,
            vec![
                TargetUnion::CreateRevision(2),
                TargetUnion::CreateRevision(5),
            ],
        ),
        (
            T::Mod,
            vec![TargetUnion::ModRevision(4), TargetUnion::ModRevision(6)],
        ),
        (
            T::Value,
            vec![
                TargetUnion::Value(b"2".to_vec()),
                TargetUnion::Value(b"3".to_vec()),
            ],
        ),
        (T::Lease, vec![TargetUnion::Lease(0), TargetUnion::Lease(1)]),
    ];
    let places: Vec<(&str, &[u8], &[u8])> = vec![
        ("x", b"x", b""),
        ("missing", b"none", b""),
        ("[w, z)", b"w", b"z"),
        ("from x", b"x", b"\0"),
        ("empty range [none, nonf)", b"none", b"nonf"),
    ];
    for (target, values) in &unions {
        for result in RESULTS {
            for u in values {
                for (place, k, e) in &places {
                    let c = Compare {
                        range_end: e.to_vec(),
                        ..cmp(k, *target, result, u.clone())
                    };
                    p.txn(
                        &format!("{target:?} {result:?} {u:?} on {place}"),
                        txn(vec![c], reads(), other()),
                    )
                    .await;
                }
            }
        }
    }

    let c_ver3 = || {
        cmp(
            b"x",
            T::Version,
            CompareResult::Equal,
            TargetUnion::Version(3),
        )
    };
    let c_false = || {
        cmp(
            b"x",
            T::Value,
            CompareResult::Equal,
            TargetUnion::Value(b"nope".to_vec()),
        )
    };
    p.txn("no compares, no ops", txn(vec![], vec![], vec![]))
        .await;
    p.txn(
        "false compare, no ops",
        txn(vec![c_false()], vec![], vec![]),
    )
    .await;
    p.txn(
        "two compares, both true",
        txn(vec![c_ver3(), c_ver3()], reads(), other()),
    )
    .await;
    p.txn(
        "two compares, one false",
        txn(vec![c_ver3(), c_false()], reads(), other()),
    )
    .await;
    p.txn(
        "target and union disagree",
        txn(
            vec![cmp(
                b"x",
                T::Mod,
                CompareResult::Greater,
                TargetUnion::Value(b"9".to_vec()),
            )],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "no union: compares against zero",
        txn(
            vec![Compare {
                target_union: None,
                ..cmp(
                    b"x",
                    T::Version,
                    CompareResult::Greater,
                    TargetUnion::Version(0),
                )
            }],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "value compare against empty value",
        txn(
            vec![cmp(
                b"w",
                T::Value,
                CompareResult::Equal,
                TargetUnion::Value(vec![]),
            )],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "value of a missing key is not empty",
        txn(
            vec![cmp(
                b"none",
                T::Value,
                CompareResult::Equal,
                TargetUnion::Value(vec![]),
            )],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "compare with empty key",
        txn(
            vec![cmp(
                b"",
                T::Version,
                CompareResult::Equal,
                TargetUnion::Version(0),
            )],
            reads(),
            other(),
        ),
    )
    .await;

    // Writes in both branches.
    p.txn(
        "success branch writes",
        txn(
            vec![c_ver3()],
            vec![
                op_put(PutRequest {
                    prev_kv: true,
                    ..put(b"s", b"1")
                }),
                op_range(get(b"s")),
            ],
            vec![op_put(put(b"f", b"1"))],
        ),
    )
    .await;
    p.txn(
        "failure branch writes",
        txn(
            vec![c_false()],
            vec![op_put(put(b"s", b"2"))],
            vec![
                op_put(PutRequest {
                    prev_kv: true,
                    ..put(b"f", b"2")
                }),
                op_range(range(b"f", b"t")),
            ],
        ),
    )
    .await;
    p.txn(
        "write txn that takes its read-only branch",
        txn(
            vec![c_false()],
            vec![op_put(put(b"s", b"3"))],
            vec![op_range(get(b"s"))],
        ),
    )
    .await;
    p.txn(
        "range after put and delete in one txn",
        txn(
            vec![],
            vec![
                op_range(range(b"r", b"s")),
                op_put(put(b"r1", b"a")),
                op_range(range(b"r", b"s")),
                op_put(put(b"r2", b"b")),
                op_del(DeleteRangeRequest {
                    prev_kv: true,
                    ..del(b"s", b"")
                }),
                op_range(range(b"r", b"t")),
                op_range(RangeRequest {
                    count_only: true,
                    ..range(b"r", b"t")
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "delete of nothing only",
        txn(vec![], vec![op_del(del(b"nothing", b""))], vec![]),
    )
    .await;
    p.txn(
        "delete then re-put a different key range",
        txn(
            vec![],
            vec![
                op_del(DeleteRangeRequest {
                    prev_kv: true,
                    ..del(b"r", b"r2")
                }),
                op_put(put(b"r2", b"c")),
            ],
            vec![],
        ),
    )
    .await;
    let now = header_rev(&p.range("current revision", get(b"x")).await).expect("a header");
    p.txn(
        "range at the txn's own new revision",
        txn(
            vec![],
            vec![
                op_put(put(b"n1", b"1")),
                op_range(RangeRequest {
                    revision: now + 1,
                    ..get(b"n1")
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at the current revision inside a write txn",
        txn(
            vec![],
            vec![
                op_put(put(b"n1", b"2")),
                op_range(RangeRequest {
                    revision: now,
                    ..get(b"n1")
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at a future revision in the branch not taken",
        txn(
            vec![c_false()],
            vec![op_range(RangeRequest {
                revision: 1000,
                ..get(b"x")
            })],
            vec![op_range(get(b"x"))],
        ),
    )
    .await;
    p.txn(
        "range at a future revision in the branch taken",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 1000,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at a negative revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: -5,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at revision -1",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: -1,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at an old revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 3,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "put with ignore_value on a missing key",
        txn(
            vec![],
            vec![op_put(PutRequest {
                ignore_value: true,
                ..put(b"nokey", b"")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "put with unknown lease",
        txn(
            vec![],
            vec![op_put(PutRequest {
                lease: 99,
                ..put(b"l", b"")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "put with ignore_value on an existing key",
        txn(
            vec![],
            vec![op_put(PutRequest {
                ignore_value: true,
                prev_kv: true,
                ..put(b"x", b"")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "empty key in a nested put",
        txn(vec![], vec![op_put(put(b"", b"v"))], vec![]),
    )
    .await;
    p.txn(
        "empty key in a range op",
        txn(vec![], vec![op_range(get(b""))], vec![]),
    )
    .await;
    p.txn(
        "empty RequestOp",
        txn(vec![], vec![RequestOp { request: None }], vec![]),
    )
    .await;
    p.txn(
        "empty RequestOp in the branch not taken",
        txn(
            vec![],
            vec![op_range(get(b"x"))],
            vec![RequestOp { request: None }],
        ),
    )
    .await;

    // Nested txns: compares of every nested txn see the state before the outer one.
    p.txn(
        "nested txn sees the state before the outer txn",
        txn(
            vec![],
            vec![
                op_put(put(b"n2", b"1")),
                op_txn(txn(
                    vec![cmp(
                        b"n2",
                        T::Value,
                        CompareResult::Equal,
                        TargetUnion::Value(b"1".to_vec()),
                    )],
                    vec![op_put(put(b"n3", b"then"))],
                    vec![op_put(put(b"n3", b"else")), op_range(get(b"n2"))],
                )),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "two nested txns and a nested-nested one",
        txn(
            vec![c_ver3()],
            vec![
                op_txn(txn(
                    vec![c_false()],
                    vec![op_put(put(b"m1", b"t"))],
                    vec![op_put(put(b"m1", b"f"))],
                )),
                op_range(get(b"m1")),
                op_txn(txn(
                    vec![c_ver3()],
                    vec![
                        op_txn(txn(vec![], vec![op_put(put(b"m2", b"deep"))], vec![])),
                        op_range(range(b"m", b"n")),
                    ],
                    vec![],
                )),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "read-only nested txns",
        txn(
            vec![],
            vec![op_txn(txn(
                vec![c_false()],
                vec![op_range(get(b"x"))],
                vec![op_range(get(b"y"))],
            ))],
            vec![],
        ),
    )
    .await;
    p.txn(
        "nested txn with an empty RequestOp",
        txn(
            vec![],
            vec![op_txn(txn(
                vec![],
                vec![RequestOp { request: None }],
                vec![],
            ))],
            vec![],
        ),
    )
    .await;
    p.txn(
        "nested txn with a future-revision range in the taken branch",
        txn(
            vec![],
            vec![
                op_put(put(b"q", b"1")),
                op_txn(txn(
                    vec![],
                    vec![op_range(RangeRequest {
                        revision: 999,
                        ..get(b"x")
                    })],
                    vec![],
                )),
            ],
            vec![],
        ),
    )
    .await;

    // Duplicate keys.
    let dup_cases: Vec<(&str, Vec<RequestOp>)> = vec![
        (
            "two puts of one key",
            vec![op_put(put(b"d", b"1")), op_put(put(b"d", b"2"))],
        ),
        (
            "put inside a deleted range",
            vec![op_del(del(b"d", b"e")), op_put(put(b"d1", b"1"))],
        ),
        (
            "put of a deleted key",
            vec![op_del(del(b"d", b"")), op_put(put(b"d", b"1"))],
        ),
        (
            "put before a delete covering it",
            vec![op_put(put(b"d1", b"1")), op_del(del(b"d", b"e"))],
        ),
        (
            "put at the end of a deleted range",
            vec![op_del(del(b"d", b"e")), op_put(put(b"e", b"1"))],
        ),
        (
            "put after a from-key delete",
            vec![op_del(del(b"d", b"\0")), op_put(put(b"z", b"1"))],
        ),
        (
            "two deletes of one key",
            vec![op_del(del(b"d", b"")), op_del(del(b"d", b""))],
        ),
        (
            "range and put of one key",
            vec![op_range(get(b"d")), op_put(put(b"d", b"1"))],
        ),
        (
            "same key in both branches of a nested txn",
            vec![op_txn(txn(
                vec![],
                vec![op_put(put(b"d", b"t"))],
                vec![op_put(put(b"d", b"f"))],
            ))],
        ),
        (
            "nested put then outer put of one key",
            vec![
                op_txn(txn(vec![], vec![op_put(put(b"d", b"1"))], vec![])),
                op_put(put(b"d", b"2")),
            ],
        ),
        (
            "outer put then nested put of one key",
            vec![
                op_put(put(b"d", b"2")),
                op_txn(txn(vec![], vec![op_put(put(b"d", b"1"))], vec![])),
            ],
        ),
        (
            "nested failure-branch put of an outer put key",
            vec![
                op_put(put(b"d", b"2")),
                op_txn(txn(vec![], vec![], vec![op_put(put(b"d", b"1"))])),
            ],
        ),
        (
            "outer delete covering a nested put",
            vec![
                op_del(del(b"d", b"e")),
                op_txn(txn(vec![], vec![op_put(put(b"d5", b"1"))], vec![])),
            ],
        ),
        (
            "nested delete covering an outer put",
            vec![
                op_txn(txn(vec![], vec![op_del(del(b"d", b"e"))], vec![])),
                op_put(put(b"d5", b"1")),
            ],
        ),
        (
            "two nested txns putting one key",
            vec![
                op_txn(txn(vec![], vec![op_put(put(b"d", b"1"))], vec![])),
                op_txn(txn(vec![], vec![op_put(put(b"d", b"2"))], vec![])),
            ],
        ),
        (
            "two nested txns, one key in else branches",
            vec![
                op_txn(txn(vec![], vec![], vec![op_put(put(b"d", b"1"))])),
                op_txn(txn(vec![], vec![], vec![op_put(put(b"d", b"2"))])),
            ],
        ),
        (
            "put and delete within one nested branch",
            vec![op_txn(txn(
                vec![],
                vec![op_del(del(b"d", b"")), op_put(put(b"d", b"1"))],
                vec![],
            ))],
        ),
        (
            "deeply nested duplicate",
            vec![
                op_put(put(b"d", b"1")),
                op_txn(txn(
                    vec![],
                    vec![op_txn(txn(vec![], vec![op_put(put(b"d", b"2"))], vec![]))],
                    vec![],
                )),
            ],
        ),
    ];
    for (label, ops) in dup_cases {
        p.txn(
            &format!("duplicate check in success: {label}"),
            txn(vec![], ops.clone(), vec![]),
        )
        .await;
        p.txn(
            &format!("duplicate check in failure: {label}"),
            txn(vec![c_false()], vec![], ops),
        )
        .await;
    }

    // Op limits: 128 is --max-txn-ops' default.
    let puts = |n: usize, prefix: &str| -> Vec<RequestOp> {
        (0..n)
            .map(|i| op_put(put(format!("{prefix}{i:03}").as_bytes(), b"v")))
            .collect()
    };
    let ranges = |n: usize| -> Vec<RequestOp> {
        (0..n)
            .map(|i| op_range(get(format!("x{i}").as_bytes())))
            .collect()
    };
    p.txn("128 puts", txn(vec![], puts(128, "o/"), vec![]))
        .await;
    p.txn("129 puts", txn(vec![], puts(129, "o/"), vec![]))
        .await;
    p.txn(
        "129 ops in the failure branch",
        txn(vec![], vec![], ranges(129)),
    )
    .await;
    p.txn("128 compares", txn(vec![c_ver3(); 128], ranges(1), vec![]))
        .await;
    p.txn("129 compares", txn(vec![c_ver3(); 129], ranges(1), vec![]))
        .await;
    // etcd checks a nested txn against what the outer one leaves of the limit:
    // 128 minus the outer's largest op list (here 101 ops).
    let mut outer = ranges(100);
    outer.push(op_txn(txn(vec![], ranges(27), vec![])));
    p.txn(
        "nested txn within what the outer leaves",
        txn(vec![], outer, vec![]),
    )
    .await;
    let mut outer = ranges(100);
    outer.push(op_txn(txn(vec![], ranges(28), vec![])));
    p.txn(
        "nested txn beyond what the outer leaves",
        txn(vec![], outer, vec![]),
    )
    .await;
    p.txn(
        "nested txn of 128 ops alone",
        txn(
            vec![],
            vec![op_txn(txn(vec![], ranges(128), vec![]))],
            vec![],
        ),
    )
    .await;
    p.range(
        "o/ after the op-limit txns",
        RangeRequest {
            count_only: true,
            ..range(b"o/", b"o0")
        },
    )
    .await;
    p.range("everything at the end", range(b"\0", b"\0")).await;
    p.finish(250);
}
