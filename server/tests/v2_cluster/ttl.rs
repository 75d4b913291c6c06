//! TTL keys on three members: each key expires once, at one index that every
//! member reports, in the order of the keys' expiration times, also when the
//! leader is killed while keys are pending and after the killed member comes back;
//! and `refresh=true` extends a key without waking any watcher.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Cluster, Kind};
use crate::http::{self, Event};
use crate::support::*;
use crate::watcher::*;

/// How early (by the test's clock) an expiry may be seen: none, beyond the
/// resolution of comparing two clocks of one machine.
const EARLY: Duration = Duration::from_millis(50);

/// How late an expiry may be seen on a healthy cluster: etcd's leader proposes
/// the expiry sweep every 500 ms, and this machine may be busy.
const LATE_STEADY: Duration = Duration::from_millis(2500);

/// How late an expiry may be seen when the leader was killed while it was
/// pending: an election (a few 500 ms election timeouts) comes first.
const LATE_AFTER_KILL: Duration = Duration::from_secs(6);

/// A key written with a TTL.
struct TtlKey {
    key: String,
    value: String,
    ttl: u64,
    /// When the PUT was sent: no member may expire the key before `sent + ttl`.
    sent: Instant,
    created: u64,
    /// `node.expiration` of the create answer, as (seconds part, nanoseconds).
    expiration: (String, u32),
}

/// `2026-01-02T03:04:05.123Z` as a pair that orders like the instant it names.
fn parse_expiration(s: &str) -> (String, u32) {
    let s = s
        .strip_suffix('Z')
        .unwrap_or_else(|| panic!("expiration not in UTC: {s:?}"));
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits: String = frac.chars().chain("000000000".chars()).take(9).collect();
    let nanos = digits
        .parse::<u32>()
        .unwrap_or_else(|_| panic!("unreadable expiration {s:?}"));
    (secs.to_string(), nanos)
}

/// Creates `dir/k0..` with the given TTLs (`prevExist=false`, so nothing is
/// written twice), spread over `endpoints`.
async fn create_ttl_keys(endpoints: &[String], dir: &str, ttls: &[u64]) -> Vec<TtlKey> {
    let mut out = Vec::new();
    for (i, &ttl) in ttls.iter().enumerate() {
        let ep = &endpoints[i % endpoints.len()];
        let key = format!("{dir}/k{i}");
        let value = format!("v{i}-ttl{ttl}");
        let sent = Instant::now();
        let ttl_s = ttl.to_string();
        let r = http::put(
            ep,
            &key,
            Some(&value),
            &[("ttl", &ttl_s), ("prevExist", "false")],
        )
        .await
        .unwrap_or_else(|e| panic!("creating {key} with ttl {ttl}: {e}"));
        assert!(
            r.status == 201 && r.action() == "create",
            "creating {key} with ttl {ttl} on {ep}: HTTP {} {}",
            r.status,
            r.body
        );
        let node = r.node();
        assert_eq!(
            node.get("ttl").and_then(Value::as_u64),
            Some(ttl),
            "ttl of the created {key}: {}",
            r.body
        );
        let expiration = node
            .get("expiration")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no expiration on the created {key}: {}", r.body));
        out.push(TtlKey {
            key,
            value,
            ttl,
            sent,
            created: r
                .modified_index()
                .unwrap_or_else(|| panic!("no modifiedIndex: {}", r.body)),
            expiration: parse_expiration(expiration),
        });
    }
    out
}

fn expired_all(log: &WatchLog, keys: &[TtlKey]) -> bool {
    keys.iter().all(|k| {
        log.events
            .iter()
            .any(|(e, _)| e.action == "expire" && e.key == k.key)
    })
}

/// Checks one member's sequence: each key appears exactly as its create and then
/// one expire of that creation, and the expiries come in expiration-time order.
fn check_expiries(seq: &[Event], keys: &[TtlKey], who: &str) {
    for k in keys {
        let mine: Vec<&Event> = seq.iter().filter(|e| e.key == k.key).collect();
        let shown = mine.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert!(
            mine.len() == 2
                && mine[0].action == "create"
                && mine[0].modified_index == k.created
                && mine[0].value.as_deref() == Some(k.value.as_str())
                && mine[1].action == "expire"
                && mine[1].created_index == k.created
                && mine[1].modified_index > k.created
                && mine[1].value.is_none()
                && mine[1].prev_value.as_deref() == Some(k.value.as_str()),
            "{who}: {} (ttl {}, created at {}) should show exactly its create and one \
             expire, got {shown:?}",
            k.key,
            k.ttl,
            k.created
        );
    }
    let mut expired: Vec<(&Event, &TtlKey)> = seq
        .iter()
        .filter(|e| e.action == "expire")
        .filter_map(|e| keys.iter().find(|k| k.key == e.key).map(|k| (e, k)))
        .collect();
    expired.sort_by_key(|(e, _)| e.modified_index);
    for w in expired.windows(2) {
        assert!(
            w[0].1.expiration <= w[1].1.expiration,
            "{who}: {} (expiration {:?}) expired at index {} after {} (expiration {:?}) \
             at index {}",
            w[0].1.key,
            w[0].1.expiration,
            w[0].0.modified_index,
            w[1].1.key,
            w[1].1.expiration,
            w[1].0.modified_index
        );
    }
}

/// Checks that no watcher saw a key expire before its TTL ran out, and that
/// some watcher saw it within `late` of that.
fn check_timing(logs: &[&WatchLog], keys: &[TtlKey], late: Duration, when: &str) {
    for k in keys {
        let due = k.sent + Duration::from_secs(k.ttl);
        let seen: Vec<Instant> = logs
            .iter()
            .flat_map(|l| l.events.iter())
            .filter(|(e, _)| e.action == "expire" && e.key == k.key)
            .map(|(_, at)| *at)
            .collect();
        let first = seen
            .iter()
            .min()
            .unwrap_or_else(|| panic!("{when}: nobody saw {} expire", k.key));
        assert!(
            *first + EARLY >= due,
            "{when}: {} (ttl {}s) was seen expired {:?} after its PUT was sent",
            k.key,
            k.ttl,
            first.duration_since(k.sent)
        );
        assert!(
            first.duration_since(due) <= late,
            "{when}: {} (ttl {}s) was first seen expired {:?} after its TTL ran out",
            k.key,
            k.ttl,
            first.duration_since(due)
        );
    }
}

/// Keys with 1–3 s TTLs on a healthy cluster, then more keys pending while the
/// leader is killed; every member, the killed one after its restart included,
/// reports the same sequence of creates and expiries at the same indexes.
pub(crate) async fn expiry_agrees_across_members(kind: Kind) {
    let mut cl = Cluster::start(kind, 3, ENABLE_V2);
    let eps = cl.endpoints();
    let start = must_put(&eps, "/ttl/start", "0", &[])
        .await
        .modified_index()
        .expect("index of the start marker");
    let watchers: Vec<Watcher> = (0..3)
        .map(|i| {
            Watcher::spawn(
                &format!("m{}", i + 1),
                vec![eps[i].clone()],
                "/ttl",
                start + 1,
            )
        })
        .collect();
    let all: Vec<&Watcher> = watchers.iter().collect();

    // A healthy cluster.
    let steady = create_ttl_keys(&eps, "/ttl/steady", &[1, 2, 3, 1, 3, 2, 1]).await;
    until_all(&all, Duration::from_secs(10), "steady keys expired", |l| {
        expired_all(l, &steady)
    })
    .await;
    for w in &watchers {
        check_expiries(&w.log().plain(), &steady, &format!("{} (steady)", w.name));
    }
    let logs: Vec<WatchLog> = watchers.iter().map(Watcher::log).collect();
    check_timing(
        &logs.iter().collect::<Vec<_>>(),
        &steady,
        LATE_STEADY,
        "steady",
    );

    // The leader dies while keys are pending.
    let leader = agreed_leader(&cl, &[0, 1, 2]).await;
    let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let via: Vec<String> = survivors.iter().map(|&i| eps[i].clone()).collect();
    let pending = create_ttl_keys(&via, "/ttl/pending", &[2, 3, 2, 3, 2, 3]).await;
    cl.members[leader].kill9();
    eprintln!("killed the leader m{}", leader + 1);
    let surviving: Vec<&Watcher> = survivors.iter().map(|&i| &watchers[i]).collect();
    until_all(
        &surviving,
        Duration::from_secs(15),
        "keys pending at the leader kill expired on the survivors",
        |l| expired_all(l, &pending),
    )
    .await;
    let new_leader = agreed_leader(&cl, &survivors).await;
    eprintln!("m{} leads the survivors", new_leader + 1);
    let logs: Vec<WatchLog> = survivors.iter().map(|&i| watchers[i].log()).collect();
    check_timing(
        &logs.iter().collect::<Vec<_>>(),
        &pending,
        LATE_AFTER_KILL,
        "pending at the leader kill",
    );

    tokio::task::block_in_place(|| cl.members[leader].restart());
    let end = must_put(&eps, "/ttl/end", "0", &[])
        .await
        .modified_index()
        .expect("index of the end marker");
    until_all(
        &all,
        Duration::from_secs(20),
        "every watcher reached the end marker",
        |l| l.last_index() >= end,
    )
    .await;
    let mut named = Vec::new();
    for w in watchers {
        let name = w.name.clone();
        let log = w.stop().await;
        assert!(
            log.resyncs.is_empty(),
            "{name}: the watch from {} fell out of the member's history (401) at {:?}",
            start + 1,
            log.resyncs.iter().map(|r| r.index).collect::<Vec<_>>()
        );
        let seq = log.plain();
        assert_increasing(&seq, &name);
        check_expiries(&seq, &steady, &name);
        check_expiries(&seq, &pending, &name);
        assert_eq!(
            seq.last()
                .map(|e| (e.action.as_str(), e.key.as_str(), e.modified_index)),
            Some(("set", "/ttl/end", end)),
            "{name}: the last event should be the end marker"
        );
        assert_eq!(
            seq.len(),
            2 * (steady.len() + pending.len()) + 1,
            "{name}: events under /ttl: {}",
            brief(&seq)
        );
        named.push((format!("{name} watching live"), seq));
    }
    assert_same_sequences(&named, "live watchers of the three members");

    for m in &mut cl.members {
        m.assert_running();
    }
    // Each member's own history, the restarted one's included, tells the same.
    for (i, ep) in eps.iter().enumerate() {
        let who = format!("m{} history", i + 1);
        let seq = http::history(ep, "/ttl", start + 1, end, &who).await;
        named.push((who, seq));
    }
    assert_same_sequences(&named, "live watchers and each member's history");

    for ep in &eps {
        for k in steady.iter().chain(&pending) {
            assert_absent(ep, &k.key, "after every expiry").await;
        }
        // The quorum read and the member's own store (a local read) agree.
        for quorum in [true, false] {
            let (_, files) = list_files(ep, "/ttl", quorum)
                .await
                .unwrap_or_else(|e| panic!("listing /ttl on {ep}: {e}"));
            assert_eq!(
                files.keys().map(String::as_str).collect::<Vec<_>>(),
                ["/ttl/end", "/ttl/start"],
                "{ep}: files under /ttl after every expiry (quorum={quorum})"
            );
        }
    }
}

/// `refresh=true&ttl=N` on a key with a TTL: the key outlives its first TTL, no
/// watcher (on any member) sees the refresh, and the only event is the expiry
/// at the new deadline, at one index everywhere.
pub(crate) async fn refresh_extends_without_event(kind: Kind) {
    let cl = Cluster::start(kind, 3, ENABLE_V2);
    let eps = cl.endpoints();
    let leader = agreed_leader(&cl, &[0, 1, 2]).await;
    let followers: Vec<String> = (0..3)
        .filter(|&i| i != leader)
        .map(|i| eps[i].clone())
        .collect();

    let sent = Instant::now();
    let r = http::put(&followers[0], "/refresh/k", Some("v"), &[("ttl", "2")])
        .await
        .unwrap_or_else(|e| panic!("creating /refresh/k: {e}"));
    assert_eq!(r.status, 201, "creating /refresh/k: {}", r.body);
    let created = r.modified_index().expect("created index");
    let watchers: Vec<Watcher> = (0..3)
        .map(|i| {
            Watcher::spawn(
                &format!("m{}", i + 1),
                vec![eps[i].clone()],
                "/refresh",
                created + 1,
            )
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let refreshed_at = Instant::now();
    let r = http::put(
        &followers[1],
        "/refresh/k",
        None,
        &[("refresh", "true"), ("ttl", "4"), ("prevExist", "true")],
    )
    .await
    .unwrap_or_else(|e| panic!("refreshing /refresh/k: {e}"));
    assert!(
        r.status == 200 && r.action() == "update",
        "refresh: HTTP {} {}",
        r.status,
        r.body
    );
    let node = r.node();
    assert_eq!(
        node.get("value").and_then(Value::as_str),
        Some("v"),
        "refresh keeps the value: {}",
        r.body
    );
    assert_eq!(
        node.get("ttl").and_then(Value::as_u64),
        Some(4),
        "refreshed ttl: {}",
        r.body
    );
    assert_eq!(
        node.get("createdIndex").and_then(Value::as_u64),
        Some(created),
        "{}",
        r.body
    );
    let refresh_index = r.modified_index().expect("refresh index");
    assert!(
        refresh_index > created,
        "refresh at {refresh_index}, created at {created}"
    );

    // Well past the first TTL (and an expiry sweep), the key is still there.
    let first_due = sent + Duration::from_secs(2);
    tokio::time::sleep_until((first_due + Duration::from_millis(1500)).into()).await;
    for ep in &eps {
        let r = http::get(ep, "/refresh/k", &[("quorum", "true")])
            .await
            .unwrap_or_else(|e| panic!("GET /refresh/k on {ep}: {e}"));
        assert_eq!(
            (r.status, r.node().get("value").and_then(Value::as_str)),
            (200, Some("v")),
            "{ep}: the refreshed key should outlive its first TTL: {}",
            r.body
        );
        let ttl = r.node().get("ttl").and_then(Value::as_i64).unwrap_or(0);
        assert!(
            (1..=4).contains(&ttl),
            "{ep}: remaining ttl {ttl}: {}",
            r.body
        );
    }
    for w in &watchers {
        let l = w.log();
        assert!(
            l.events.is_empty(),
            "{}: a watcher from {} saw {} before the key expired",
            w.name,
            created + 1,
            brief(&l.plain())
        );
    }

    let all: Vec<&Watcher> = watchers.iter().collect();
    until_all(
        &all,
        Duration::from_secs(10),
        "the refreshed key expired",
        |l| !l.events.is_empty(),
    )
    .await;
    let mut named = Vec::new();
    for w in watchers {
        let name = w.name.clone();
        let log = w.stop().await;
        let (e, at) = &log.events[0];
        assert!(
            e.action == "expire"
                && e.key == "/refresh/k"
                && e.created_index == created
                && e.modified_index > refresh_index,
            "{name}: the first event after the create should be the expiry, got {e}"
        );
        assert!(
            *at + EARLY >= refreshed_at + Duration::from_secs(4),
            "{name}: the refreshed key expired {:?} after its refresh (ttl 4s)",
            at.duration_since(refreshed_at)
        );
        named.push((name, vec![e.clone()]));
    }
    assert_same_sequences(&named, "the expiry of the refreshed key");
    for ep in &eps {
        assert_absent(ep, "/refresh/k", "after the refreshed TTL").await;
    }
}
