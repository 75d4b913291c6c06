//! Lease: grant, revoke, keys attached by put and txn, keep-alive, time-to-live,
//! listing, and expiry.
//!
//! Both servers run with the same heartbeat and election timeout, which set the
//! minimum TTL (etcd: ceil(1.5 × election timeout) = 2 s here). Tests choose
//! lease ids themselves; where the server chooses, the ids differ by design and
//! only the rest of the answer is compared. Normalised, and only here: remaining
//! TTLs may differ by 1 s, and the order of LeaseLeases and of TimeToLive keys
//! is not defined.

use crate::builders::*;
use crate::harness::*;
use crate::rpc::*;
use crate::streams::*;
use ectd_client::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseLeasesRequest,
    LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest,
    LeaseTimeToLiveResponse, PutRequest,
};
use std::time::Duration;

/// Flags both servers of a lease test run with.
pub(crate) const TIMING: [&str; 2] = ["--heartbeat-interval=100", "--election-timeout=1000"];

pub(crate) async fn grant(
    p: &mut Pair,
    label: &str,
    id: i64,
    ttl: i64,
) -> Answer<LeaseGrantResponse> {
    p.unary(label, LeaseGrantRequest { id, ttl }, |c, r| async move {
        c.lease().lease_grant(r).await
    })
    .await
}

pub(crate) async fn revoke(p: &mut Pair, label: &str, id: i64) -> Answer<LeaseRevokeResponse> {
    p.unary(label, LeaseRevokeRequest { id }, |c, r| async move {
        c.lease().lease_revoke(r).await
    })
    .await
}

/// TimeToLive, compared with a remaining TTL that may differ by 1 s and keys
/// compared as a set.
pub(crate) async fn time_to_live(
    p: &mut Pair,
    label: &str,
    id: i64,
    keys: bool,
) -> Answer<LeaseTimeToLiveResponse> {
    p.unary_with(
        label,
        LeaseTimeToLiveRequest { id, keys },
        |c, r| async move { c.lease().lease_time_to_live(r).await },
        |a, b| {
            if let (Ok(a), Ok(b)) = (a, b) {
                if (a.ttl - b.ttl).abs() <= 1 {
                    b.ttl = a.ttl;
                }
                a.keys.sort();
                b.keys.sort();
            }
        },
    )
    .await
}

/// LeaseLeases, compared as a set.
pub(crate) async fn leases(p: &mut Pair, label: &str) -> Answer<LeaseLeasesResponse> {
    p.unary_with(
        label,
        LeaseLeasesRequest {},
        |c, r| async move { c.lease().lease_leases(r).await },
        |a, b| {
            for r in [a, b].into_iter().flatten() {
                r.leases.sort_by_key(|l| l.id);
            }
        },
    )
    .await
}

fn with_lease(key: &[u8], value: &[u8], lease: i64) -> PutRequest {
    PutRequest {
        lease,
        ..put(key, value)
    }
}

fn keep_alive(id: i64) -> LeaseKeepAliveRequest {
    LeaseKeepAliveRequest { id }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_grant_and_revoke_match_etcd() {
    let mut p = Pair::start_with("lease grant and revoke", &TIMING).await;
    grant(&mut p, "grant 0x1000 for 60 s", 0x1000, 60).await;
    grant(&mut p, "grant 0x1000 again", 0x1000, 60).await;
    // Leases with the minimum TTL expire within the test: each is revoked
    // right after it has been looked at.
    for (id, ttl, label) in [
        (0x1001, 1, "TTL 1 is raised to the minimum"),
        (0x1002, 0, "TTL 0 is raised to the minimum"),
        (0x1003, -5, "negative TTL is raised to the minimum"),
    ] {
        grant(&mut p, label, id, ttl).await;
        time_to_live(&mut p, &format!("{label}: TimeToLive"), id, true).await;
        revoke(&mut p, &format!("{label}: revoke"), id).await;
    }
    grant(&mut p, "TTL 9000000001 is too large", 0x1004, 9_000_000_001).await;
    grant(
        &mut p,
        "TTL 9000000000 is the largest",
        0x1005,
        9_000_000_000,
    )
    .await;
    grant(&mut p, "too large TTL on a taken id", 0x1000, 9_000_000_001).await;
    grant(&mut p, "negative id", -3, 60).await;
    grant(&mut p, "grant 0x1006 for 60 s", 0x1006, 60).await;
    grant(&mut p, "grant 0x1007 for 60 s", 0x1007, 60).await;
    time_to_live(
        &mut p,
        "TTL of the lease with the largest TTL",
        0x1005,
        true,
    )
    .await;

    // A server-chosen id: everything but the id must match.
    let req = LeaseGrantRequest { id: 0, ttl: 30 };
    let mut a = call(p.etcd().lease().lease_grant(req)).await;
    let mut b = call(p.ectd().lease().lease_grant(req)).await;
    let ids = match (&a, &b) {
        (Ok(a), Ok(b)) => Some((a.id, b.id)),
        _ => None,
    };
    for r in [&mut a, &mut b] {
        r.scrub();
        if let Ok(r) = r {
            assert!(r.id > 0, "a server-chosen lease id must be positive: {r:?}");
            r.id = 0;
        }
    }
    p.check("grant with a server-chosen id (id ignored)", &req, &a, &b);
    if let Some((ea, eb)) = ids {
        let mut a = call(p.etcd().lease().lease_revoke(LeaseRevokeRequest { id: ea })).await;
        let mut b = call(p.ectd().lease().lease_revoke(LeaseRevokeRequest { id: eb })).await;
        a.scrub();
        b.scrub();
        p.check("revoke the server-chosen id", &"revoke", &a, &b);
    }
    leases(&mut p, "leases after grants").await;

    // Keys attached by put and txn.
    let mut w = watches(&p);
    w.create(
        &mut p,
        "watch prefix l/",
        watch_on(b"l/", &prefix_end(b"l/")),
    )
    .await;
    p.put("put l/a with 0x1000", with_lease(b"l/a", b"1", 0x1000))
        .await;
    p.put("put l/b with 0x1000", with_lease(b"l/b", b"1", 0x1000))
        .await;
    p.put("put l/c with 0x1006", with_lease(b"l/c", b"1", 0x1006))
        .await;
    p.put(
        "put with an unknown lease",
        with_lease(b"l/x", b"1", 0x9999),
    )
    .await;
    p.put(
        "ignore_lease keeps the lease",
        PutRequest {
            ignore_lease: true,
            ..put(b"l/a", b"2")
        },
    )
    .await;
    p.put("put l/e then move it", with_lease(b"l/e", b"1", 0x1000))
        .await;
    p.put("move l/e to 0x1007", with_lease(b"l/e", b"2", 0x1007))
        .await;
    p.txn(
        "txn put l/d with 0x1000",
        txn(
            vec![],
            vec![op_put(with_lease(b"l/d", b"1", 0x1000))],
            vec![],
        ),
    )
    .await;
    p.txn(
        "txn put with an unknown lease",
        txn(
            vec![],
            vec![op_put(with_lease(b"l/y", b"1", 0x9999))],
            vec![],
        ),
    )
    .await;
    p.range("keys and their leases", range(b"l/", &prefix_end(b"l/")))
        .await;
    w.expect(&mut p, "watcher sees the puts", 7).await;
    time_to_live(&mut p, "TTL of 0x1000 with keys", 0x1000, true).await;
    time_to_live(&mut p, "TTL of 0x1000 without keys", 0x1000, false).await;
    time_to_live(&mut p, "TTL of 0x1007 with keys", 0x1007, true).await;
    time_to_live(&mut p, "TTL of an unknown lease", 0x7777, true).await;

    revoke(&mut p, "revoke 0x1000 (three keys)", 0x1000).await;
    w.expect(&mut p, "revoke: three deletes in one revision", 1)
        .await;
    p.range("keys after revoke", range(b"l/", &prefix_end(b"l/")))
        .await;
    revoke(&mut p, "revoke 0x1000 again", 0x1000).await;
    revoke(&mut p, "revoke an unknown lease", 0x7777).await;
    revoke(&mut p, "revoke lease 0", 0).await;
    time_to_live(&mut p, "TTL of a revoked lease", 0x1000, true).await;
    p.put("detach l/c from 0x1006", put(b"l/c", b"2")).await;
    time_to_live(&mut p, "TTL of 0x1006 after detaching", 0x1006, true).await;
    revoke(&mut p, "revoke a lease without keys", 0x1006).await;
    w.expect(&mut p, "watcher: detach, no event for an empty revoke", 1)
        .await;
    leases(&mut p, "leases after revokes").await;
    p.finish(40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_keep_alive_matches_etcd() {
    let mut p = Pair::start_with("lease keep-alive", &TIMING).await;
    grant(&mut p, "grant 0x10 for 30 s", 0x10, 30).await;
    grant(&mut p, "grant 0x12 for 60 s", 0x12, 60).await;
    revoke(&mut p, "revoke 0x12", 0x12).await;
    p.put("put with 0x10", with_lease(b"k", b"v", 0x10)).await;

    let mut k = keep_alives(&p);
    k.send(keep_alive(0x10));
    k.expect(&mut p, "keep-alive 0x10", 1).await;
    k.send(keep_alive(0x9999));
    k.expect(&mut p, "keep-alive of an unknown lease: TTL 0", 1)
        .await;
    k.send(keep_alive(0x12));
    k.expect(&mut p, "keep-alive of a revoked lease: TTL 0", 1)
        .await;
    k.send(keep_alive(0));
    k.expect(&mut p, "keep-alive of lease 0", 1).await;
    k.send(keep_alive(0x10));
    k.send(keep_alive(0x10));
    k.expect(&mut p, "two keep-alives in a row", 2).await;
    time_to_live(&mut p, "TTL after keep-alive", 0x10, true).await;

    // Keep a 2 s lease alive well past its TTL (each round takes about 1 s).
    grant(&mut p, "grant 0x11 with the minimum TTL", 0x11, 2).await;
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        k.send(keep_alive(0x11));
        k.expect(&mut p, &format!("keep-alive 0x11 round {i}"), 1)
            .await;
    }
    time_to_live(
        &mut p,
        "0x11 survives its TTL while kept alive",
        0x11,
        false,
    )
    .await;
    let mut k2 = keep_alives(&p);
    k2.send(keep_alive(0x10));
    k2.expect(&mut p, "keep-alive on a second stream", 1).await;
    p.finish(16);
}

/// A 2 s lease expires by itself: its keys are deleted in one revision, which a
/// watcher sees as one response of DELETE events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_expiry_matches_etcd() {
    let mut p = Pair::start_with("lease expiry", &TIMING).await;
    let mut w = watches(&p);
    w.create(
        &mut p,
        "watch prefix e/",
        watch_on(b"e/", &prefix_end(b"e/")),
    )
    .await;
    grant(&mut p, "grant 0x20 for 2 s", 0x20, 2).await;
    grant(&mut p, "grant 0x21 for 60 s", 0x21, 60).await;
    p.put("put e/1 with 0x20", with_lease(b"e/1", b"1", 0x20))
        .await;
    p.put("put e/2 with 0x20", with_lease(b"e/2", b"1", 0x20))
        .await;
    p.put("put e/3 with 0x21", with_lease(b"e/3", b"1", 0x21))
        .await;
    p.put("put e/4 without lease", put(b"e/4", b"1")).await;
    w.expect(&mut p, "watcher sees the puts", 4).await;
    time_to_live(&mut p, "remaining TTL of 0x20", 0x20, true).await;

    // Wait until etcd has expired the lease (it checks every 500 ms), then until
    // ectd has.
    for (name, c) in [("etcd", p.etcd().clone()), ("ectd", p.ectd().clone())] {
        let mut gone = false;
        for _ in 0..100 {
            let r = call(c.lease().lease_time_to_live(LeaseTimeToLiveRequest {
                id: 0x20,
                keys: false,
            }))
            .await;
            if matches!(r, Ok(ref r) if r.ttl == -1) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if name == "etcd" {
            assert!(gone, "etcd did not expire a 2 s lease within 10 s");
        } else {
            p.check(
                "ectd expires a 2 s lease within 10 s",
                &"LeaseTimeToLive(0x20) until -1",
                &true,
                &gone,
            );
        }
    }
    w.expect(&mut p, "expiry: two deletes in one revision", 1)
        .await;
    p.range("keys after expiry", range(b"e/", &prefix_end(b"e/")))
        .await;
    time_to_live(&mut p, "TTL of the expired lease", 0x20, true).await;
    leases(&mut p, "leases after expiry").await;
    revoke(&mut p, "revoke the expired lease", 0x20).await;
    p.put("put with the expired lease", with_lease(b"e/5", b"1", 0x20))
        .await;
    let mut k = keep_alives(&p);
    k.send(keep_alive(0x20));
    k.expect(&mut p, "keep-alive of the expired lease", 1).await;
    p.finish(17);
}
