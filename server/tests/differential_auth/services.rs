//! Watch, Lease, Lock and Election by caller: what each caller of the cast is
//! allowed to watch, grant, revoke, inspect, lock and campaign for.
//!
//! A watch is compared by its first answer: the created response of a watch
//! that is allowed, or the created-and-canceled response etcd 3.4 sends for
//! one that is not (`created`, `canceled`, `cancel_reason`, `watch_id` and the
//! header all count).

use crate::call::*;
use crate::cast::*;
use crate::harness::{Expect, Options, Pair};
use ectd_client::proto::etcdserverpb::{
    LeaseRevokeRequest, LeaseTimeToLiveRequest, PutRequest, WatchCreateRequest,
};
use ectd_client::proto::v3electionpb::CampaignRequest;
use ectd_client::proto::v3lockpb::{LockRequest, UnlockRequest};

/// A lease holding `/r/leased`, granted by root.
const FOREIGN_LEASE: i64 = 0x4c1;

/// Why ectd refuses a lease's time to live with its keys where etcd 3.4 lists
/// them: ectd checks read access to every key first, as etcd 3.5 does (the
/// fix for CVE-2023-32082).
pub(crate) const LEASE_KEYS: &str =
    "ectd lists a lease's keys only to a caller who may read each, as etcd 3.5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_by_caller_matches_etcd() {
    let mut p = Pair::start("auth: watch by caller", Options::default()).await;
    provision(&mut p).await;
    for (name, who) in CALLERS {
        let watches = [
            ("prefix /r/", watch("/r/", R_END)),
            ("key k1", watch("k1", "")),
            ("range [a, c)", watch("a", "c")),
            ("range [a, d)", watch("a", "d")),
            ("from key x", watch("x", "\0")),
            ("everything", watch("\0", "\0")),
            (
                "/r/1 with watch id 7 and prev_kv",
                Call::Watch(WatchCreateRequest {
                    key: b"/r/1".to_vec(),
                    watch_id: 7,
                    prev_kv: true,
                    ..Default::default()
                }),
            ),
            (
                "/r/1 from revision 2",
                Call::Watch(WatchCreateRequest {
                    key: b"/r/1".to_vec(),
                    start_revision: 2,
                    ..Default::default()
                }),
            ),
        ];
        for (label, call) in watches {
            p.case(&format!("{name}: watch {label}"), who, call).await;
        }
    }
    p.finish(64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_by_caller_matches_etcd() {
    let mut p = Pair::start("auth: lease by caller", Options::default()).await;
    provision(&mut p).await;
    p.must(
        "grant the foreign lease",
        ROOT,
        grant_lease(FOREIGN_LEASE, 600),
    )
    .await;
    p.must(
        "attach it to /r/leased",
        ROOT,
        Call::Put(PutRequest {
            lease: FOREIGN_LEASE,
            ..put_req("/r/leased", "x")
        }),
    )
    .await;
    for (i, (name, who)) in CALLERS.into_iter().enumerate() {
        let i = i as i64;
        let own = 0x5000 + i;
        let in_range = 0x6000 + i;
        let outside = 0x7000 + i;
        p.case(
            &format!("{name}: grant a lease"),
            who,
            grant_lease(own, 600),
        )
        .await;
        for (lease, key) in [
            (in_range, format!("b-lease-{name}")),
            (outside, format!("/r/lease-{name}")),
        ] {
            p.must(
                &format!("{name}: root grants {lease:#x}"),
                ROOT,
                grant_lease(lease, 600),
            )
            .await;
            p.must(
                &format!("{name}: root attaches {lease:#x} to {key}"),
                ROOT,
                Call::Put(PutRequest {
                    lease,
                    ..put_req(&key, "x")
                }),
            )
            .await;
        }
        let ttl = |id: i64| Call::LeaseTimeToLive(LeaseTimeToLiveRequest { id, keys: true });
        let cases = [
            ("time to live of its own lease", ttl(own)),
            ("time to live of a lease on [a, c)", ttl(in_range)),
            ("time to live of a lease on /r/", ttl(outside)),
            ("time to live of the lease on /r/leased", ttl(FOREIGN_LEASE)),
            (
                "time to live without keys",
                Call::LeaseTimeToLive(LeaseTimeToLiveRequest {
                    id: FOREIGN_LEASE,
                    keys: false,
                }),
            ),
            ("list leases", Call::LeaseLeases),
            (
                "revoke a lease with a key on [a, c)",
                Call::LeaseRevoke(LeaseRevokeRequest { id: in_range }),
            ),
            (
                "revoke a lease with a key on /r/",
                Call::LeaseRevoke(LeaseRevokeRequest { id: outside }),
            ),
            (
                "revoke its own lease",
                Call::LeaseRevoke(LeaseRevokeRequest { id: own }),
            ),
            (
                "revoke a lease that does not exist",
                Call::LeaseRevoke(LeaseRevokeRequest { id: 0x7fff }),
            ),
        ];
        for (label, call) in cases {
            let label = format!("{name}: {label}");
            if matches!(&call, Call::LeaseTimeToLive(r) if r.keys) {
                p.gap_where(&label, who, call, LEASE_KEYS, Expect::Refused, |etcd| {
                    etcd.is_ok()
                })
                .await;
                continue;
            }
            p.case(&label, who, call).await;
        }
    }
    p.finish(120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_election_by_caller_match_etcd() {
    let mut p = Pair::start("auth: lock and election by caller", Options::default()).await;
    provision(&mut p).await;
    for (i, (name, who)) in CALLERS.into_iter().enumerate() {
        let lease = 0x8000 + i as i64;
        p.must(
            &format!("{name}: root grants its lease"),
            ROOT,
            grant_lease(lease, 600),
        )
        .await;
        for lock in ["b-lock", "/r/lock", "k1", "z-lock"] {
            let held = p
                .case(
                    &format!("{name}: lock {lock}"),
                    who,
                    Call::Lock(LockRequest {
                        name: lock.as_bytes().to_vec(),
                        lease,
                    }),
                )
                .await;
            if held.0.is_ok() {
                p.case(
                    &format!("{name}: unlock {lock}"),
                    who,
                    Call::Unlock(UnlockRequest {
                        key: format!("{lock}/{lease:x}").into_bytes(),
                    }),
                )
                .await;
            }
        }
        p.case(
            &format!("{name}: unlock a key it cannot write"),
            who,
            Call::Unlock(UnlockRequest {
                key: b"/r/1".to_vec(),
            }),
        )
        .await;
        for election in [format!("b-elect-{name}"), format!("/r/elect-{name}")] {
            p.case(
                &format!("{name}: campaign in {election}"),
                who,
                Call::Campaign(CampaignRequest {
                    name: election.clone().into_bytes(),
                    lease,
                    value: b"me".to_vec(),
                }),
            )
            .await;
        }
    }
    p.finish(56);
}
