//! Hand-written Put and DeleteRange cases.

use crate::builders::*;
use crate::harness::*;
use ectd_client::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_delete_match_etcd() {
    let mut p = Pair::start("put and delete").await;
    p.put(
        "new key with prev_kv",
        PutRequest {
            prev_kv: true,
            ..put(b"k", b"v1")
        },
    )
    .await;
    p.put(
        "overwrite with prev_kv",
        PutRequest {
            prev_kv: true,
            ..put(b"k", b"v2")
        },
    )
    .await;
    p.put("overwrite without prev_kv", put(b"k", b"v3")).await;
    p.range("k after three puts", get(b"k")).await;
    p.put(
        "ignore_value keeps the value",
        PutRequest {
            ignore_value: true,
            prev_kv: true,
            ..put(b"k", b"")
        },
    )
    .await;
    p.range("k after ignore_value", get(b"k")).await;
    p.put(
        "ignore_lease keeps the lease",
        PutRequest {
            ignore_lease: true,
            prev_kv: true,
            ..put(b"k", b"v4")
        },
    )
    .await;
    p.put("empty key", put(b"", b"v")).await;
    p.put(
        "value with ignore_value",
        PutRequest {
            ignore_value: true,
            ..put(b"k", b"v")
        },
    )
    .await;
    p.put(
        "ignore_value on a missing key",
        PutRequest {
            ignore_value: true,
            ..put(b"missing", b"")
        },
    )
    .await;
    p.put(
        "ignore_lease on a missing key",
        PutRequest {
            ignore_lease: true,
            ..put(b"missing", b"v")
        },
    )
    .await;
    p.put(
        "lease with ignore_lease",
        PutRequest {
            ignore_lease: true,
            lease: 7,
            ..put(b"k", b"v")
        },
    )
    .await;
    p.put(
        "unknown lease",
        PutRequest {
            lease: 12345,
            ..put(b"k", b"v")
        },
    )
    .await;
    p.put(
        "empty key and ignore_value with value",
        PutRequest {
            ignore_value: true,
            ..put(b"", b"v")
        },
    )
    .await;
    p.put("empty value", put(b"empty", b"")).await;
    p.put("binary key and value", put(b"\0\xff\0", b"\xff\0\xff"))
        .await;
    p.put("key \\xff", put(b"\xff", b"top")).await;
    p.put("key \\0", put(b"\0", b"bottom")).await;
    p.put("100 KiB value", put(b"big", &vec![b'x'; 100 * 1024]))
        .await;
    p.range("everything", range(b"\0", b"\0")).await;
    for i in 0..5 {
        p.put(
            &format!("p/{i}"),
            PutRequest {
                prev_kv: i % 2 == 0,
                ..put(format!("p/{i}").as_bytes(), b"p")
            },
        )
        .await;
    }

    p.del("delete a missing key", del(b"missing", b"")).await;
    p.del(
        "delete a missing key with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"missing", b"")
        },
    )
    .await;
    p.del("delete an empty range", del(b"q", b"r")).await;
    p.del("delete with end before key", del(b"p/4", b"p/0"))
        .await;
    let p0_deleted =
        header_rev(&p.del("delete one key", del(b"p/0", b"")).await).expect("a header");
    p.del(
        "delete [p/1, p/3) with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"p/1", b"p/3")
        },
    )
    .await;
    p.range("p/ after deletes", range(b"p/", b"p0")).await;
    p.del(
        "delete prefix p/ with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"p/", b"p0")
        },
    )
    .await;
    p.del("delete prefix p/ again", del(b"p/", b"p0")).await;
    p.del("delete empty key", del(b"", b"")).await;
    p.del("delete empty key to end", del(b"", b"\0")).await;
    p.put(
        "ignore_value on a deleted key",
        PutRequest {
            ignore_value: true,
            ..put(b"p/0", b"")
        },
    )
    .await;
    p.put(
        "re-create a deleted key",
        PutRequest {
            prev_kv: true,
            ..put(b"p/0", b"again")
        },
    )
    .await;
    p.range("re-created key has version 1", get(b"p/0")).await;
    p.range(
        "p/0 just before it was deleted",
        RangeRequest {
            revision: p0_deleted - 1,
            ..get(b"p/0")
        },
    )
    .await;
    p.range(
        "p/0 at the revision it was deleted",
        RangeRequest {
            revision: p0_deleted,
            ..get(b"p/0")
        },
    )
    .await;
    p.del(
        "delete from \\xff to the end with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\xff", b"\0")
        },
    )
    .await;
    p.del(
        "delete binary key",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\0\xff\0", b"")
        },
    )
    .await;
    p.range("everything at the end", range(b"\0", b"\0")).await;
    p.range(
        "everything at rev 20",
        RangeRequest {
            revision: 20,
            ..range(b"\0", b"\0")
        },
    )
    .await;
    p.del(
        "delete everything with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\0", b"\0")
        },
    )
    .await;
    p.range("empty store", range(b"\0", b"\0")).await;
    p.range(
        "history survives deletes",
        RangeRequest {
            revision: 25,
            ..range(b"\0", b"\0")
        },
    )
    .await;
    p.finish(45);
}
