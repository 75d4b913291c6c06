//! Leases across members: expiry deletes a lease's keys at one revision on every
//! member, a leader kill neither resets nor shortens a lease's remaining TTL, and
//! keep-alives sent to a follower keep a lease alive through a leader kill, and
//! keep-alives the leader answers reach the members that outlive it, and a leader
//! cut off from the others stops answering keep-alives.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{watch_key, watch_prefix};
use crate::common::{within, Cluster, Kind, WatchConn, ELECTION_MS};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
    PutRequest, WatchResponse,
};
use ectd_client::proto::mvccpb::event::EventType;
use ectd_client::Client;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

const ELECTION: Duration = Duration::from_millis(ELECTION_MS);

async fn grant(c: &Client, ttl: i64) -> i64 {
    let mut l = c.lease();
    let r = rpc(
        Duration::from_secs(10),
        l.lease_grant(LeaseGrantRequest { ttl, id: 0 }),
    )
    .await
    .unwrap_or_else(|e| panic!("LeaseGrant({ttl}) on {}: {e}", c.endpoint()));
    assert_eq!(r.ttl, ttl, "granted TTL");
    r.id
}

async fn time_to_live(c: &Client, id: i64) -> LeaseTimeToLiveResponse {
    let mut l = c.lease();
    rpc(
        Duration::from_secs(10),
        l.lease_time_to_live(LeaseTimeToLiveRequest { id, keys: true }),
    )
    .await
    .unwrap_or_else(|e| panic!("LeaseTimeToLive({id:x}) on {}: {e}", c.endpoint()))
}

/// Puts `key` attached to `lease`; returns the revision.
async fn put_leased(c: &Client, key: &str, lease: i64) -> i64 {
    let r = within(
        10,
        "put with a lease",
        c.put(PutRequest {
            key: key.as_bytes().to_vec(),
            value: b"leased".to_vec(),
            lease,
            ..Default::default()
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("put {key} with lease {lease:x} on {}: {e}", c.endpoint()));
    header_rev(&r.header)
}

/// Waits up to `limit` for the next response with events.
async fn next_events(w: &mut WatchConn, limit: Duration, what: &str) -> (WatchResponse, Instant) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, w.next()).await {
            Ok(Ok(Some(r))) if r.events.is_empty() && !r.canceled => continue,
            Ok(Ok(Some(r))) => return (r, Instant::now()),
            Ok(other) => panic!("{what}: the watch stream ended: {other:?}"),
            Err(_) => panic!("{what}: no event within {limit:?}"),
        }
    }
}

fn keys_of(r: &WatchResponse) -> BTreeSet<String> {
    r.events
        .iter()
        .filter_map(|e| e.kv.as_ref())
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------

#[test]
fn an_expired_lease_deletes_its_keys_at_one_revision_on_every_member() {
    run(expiry());
}

async fn expiry() {
    const TTL: i64 = 3;
    const KEYS: usize = 5;
    let cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    let follower = (leader + 1) % 3;
    within(10, "put", clients[0].put_kv("lease/a/free", "no lease"))
        .await
        .expect("put lease/a/free");
    let sent = Instant::now();
    let id = grant(&clients[follower], TTL).await;
    let granted = Instant::now();
    let mut put_rev = 0;
    let mut leased = BTreeSet::new();
    for i in 0..KEYS {
        let key = format!("lease/a/k{i}");
        put_rev = put_leased(&clients[i % 3], &key, id).await;
        leased.insert(key);
    }
    let mut watchers = Vec::new();
    for c in &clients {
        let mut w = WatchConn::open(c).await.expect("open watch stream");
        w.create(watch_prefix("lease/a/", put_rev + 1, true));
        w.expect_created("watch lease/a/").await;
        watchers.push(w);
    }
    assert!(
        granted.elapsed() < Duration::from_secs(TTL as u64) - Duration::from_millis(500),
        "setting up took {:?}, too close to the TTL to watch the expiry",
        granted.elapsed()
    );

    let mut revs = Vec::new();
    for (i, w) in watchers.iter_mut().enumerate() {
        let what = format!("m{}: the expiry of lease {id:x} (TTL {TTL}s)", i + 1);
        let (r, at) = next_events(w, Duration::from_secs(TTL as u64 + 10), &what).await;
        let expired_after = at - sent;
        eprintln!(
            "m{}: lease {id:x} keys deleted {expired_after:?} after the grant was sent: {:?}",
            i + 1,
            r.events
                .iter()
                .map(crate::watch_history::show_event)
                .collect::<Vec<_>>()
        );
        let all_deletes = r
            .events
            .iter()
            .all(|e| e.r#type == EventType::Delete as i32);
        let rev_set: BTreeSet<i64> = r
            .events
            .iter()
            .filter_map(|e| e.kv.as_ref().map(|kv| kv.mod_revision))
            .collect();
        assert!(
            all_deletes && keys_of(&r) == leased && rev_set.len() == 1,
            "{what}: the first response after the puts should hold one DELETE of each of \
             {leased:?} at a single revision; it holds {:?}",
            r.events
                .iter()
                .map(crate::watch_history::show_event)
                .collect::<Vec<_>>()
        );
        assert!(
            expired_after >= Duration::from_secs(TTL as u64),
            "{what}: keys deleted only {expired_after:?} after the grant was sent"
        );
        assert!(
            at - granted <= Duration::from_secs(TTL as u64) + Duration::from_secs(2),
            "{what}: keys deleted {:?} after the grant was acknowledged",
            at - granted
        );
        revs.push(rev_set.into_iter().next().expect("one revision"));
    }
    assert!(
        revs.iter().all(|&r| r == revs[0]),
        "members deleted the keys of lease {id:x} at different revisions: {revs:?}"
    );
    let del = revs[0];
    // Each member's own store: everything before the revoke, only the free key at it.
    for (i, c) in clients.iter().enumerate() {
        let before = eventually(Duration::from_secs(10), "serializable read", || async {
            read_local(c, "lease/a/", del - 1)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        let at = read_local(c, "lease/a/", del)
            .await
            .unwrap_or_else(|e| panic!("serializable read at {del} on m{}: {e}", i + 1));
        let names = |kvs: &[ectd_client::proto::mvccpb::KeyValue]| -> Vec<String> {
            kvs.iter()
                .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
                .collect()
        };
        let mut all = leased.clone();
        all.insert("lease/a/free".into());
        assert_eq!(
            names(&before.kvs),
            all.iter().cloned().collect::<Vec<_>>(),
            "m{}: keys at revision {} (before the expiry)",
            i + 1,
            del - 1
        );
        assert_eq!(
            names(&at.kvs),
            vec!["lease/a/free".to_string()],
            "m{}: keys at revision {del} (the expiry)",
            i + 1
        );
        let ttl = time_to_live(c, id).await;
        assert_eq!(
            ttl.ttl,
            -1,
            "m{}: TimeToLive of the expired lease: {ttl:?}",
            i + 1
        );
    }
}

// ---------------------------------------------------------------------------
// Remaining TTL across a leader kill
// ---------------------------------------------------------------------------

#[test]
fn a_leader_kill_keeps_the_remaining_ttl_of_a_lease() {
    run(remaining_ttl());
}

async fn remaining_ttl() {
    const TTL: i64 = 10;
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let f = survivors[0];
    let id = grant(&clients[leader], TTL).await;
    let rev = put_leased(&clients[leader], "lease/b/k", id).await;
    let mut w = WatchConn::open(&clients[f])
        .await
        .expect("open watch stream");
    w.create(watch_key("lease/b/k", rev + 1, false));
    w.expect_created("watch lease/b/k").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let before_sent = Instant::now();
    let before = time_to_live(&clients[f], id).await;
    let before_recv = Instant::now();
    assert!(
        before.ttl > 0 && before.ttl < TTL,
        "TimeToLive 3s after the grant: {before:?}"
    );
    cl.members[leader].kill9();
    let (new, _) = agreed_leader(&clients, &ids, &survivors).await;
    let mut after = Vec::new();
    for i in [new, survivors[0] + survivors[1] - new] {
        let sent = Instant::now();
        let r = time_to_live(&clients[i], id).await;
        after.push((i, r, sent, Instant::now()));
    }
    // A remaining TTL of R seconds is reported as floor(R), R measured somewhere
    // between sending the request and receiving the answer. The new leader may add
    // up to one election timeout of grace, never more, and never reset the TTL.
    for (i, r, sent, recv) in &after {
        let least = (*sent - before_recv).as_secs_f64();
        let most = (*recv - before_sent).as_secs_f64();
        let ceiling = before.ttl as f64 + 1.0 - least + ELECTION.as_secs_f64();
        let floor = before.ttl as f64 - most - 1.0;
        eprintln!(
            "lease {id:x}: TTL {} on m{} before killing leader m{}, {} on m{} {least:.2}s \
             to {most:.2}s later (new leader m{}); allowed {floor:.2}..{ceiling:.2}",
            before.ttl,
            f + 1,
            leader + 1,
            r.ttl,
            i + 1,
            new + 1
        );
        assert_eq!(r.granted_ttl, TTL, "m{}: granted TTL: {r:?}", i + 1);
        assert!(
            (r.ttl as f64) < ceiling,
            "m{}: after the leader kill the lease has {}s left, but it had {}s left {least:.2}s \
             earlier: its TTL was extended by more than one election timeout ({ELECTION:?}) \
             (reset to the full {TTL}s?)",
            i + 1,
            r.ttl,
            before.ttl
        );
        assert!(
            r.ttl as f64 >= floor,
            "m{}: after the leader kill the lease has {}s left, but it had {}s left at most \
             {most:.2}s earlier",
            i + 1,
            r.ttl,
            before.ttl
        );
    }

    // It expires when its remaining TTL says, not a full TTL after the failover.
    let what = format!("expiry of lease {id:x}");
    let (resp, at) = next_events(&mut w, Duration::from_secs(TTL as u64 + 5), &what).await;
    assert!(
        resp.events.len() == 1 && resp.events[0].r#type == EventType::Delete as i32,
        "{what}: {resp:?}"
    );
    let expired = (at - before_sent).as_secs_f64();
    let latest = before.ttl as f64 + 1.0 + ELECTION.as_secs_f64() + 1.0;
    eprintln!(
        "lease {id:x} expired {expired:.2}s after TimeToLive said {}s (latest allowed \
         {latest:.2}s)",
        before.ttl
    );
    assert!(
        expired >= before.ttl as f64 && expired <= latest,
        "{what}: keys deleted {expired:.2}s after TimeToLive reported {}s left; expected \
         between {}s and {latest:.2}s",
        before.ttl,
        before.ttl
    );
}

// ---------------------------------------------------------------------------
// Keep-alives through a follower across a leader kill
// ---------------------------------------------------------------------------

#[derive(Default)]
struct KeepAliveLog {
    /// When each answer arrived and the TTL it gave.
    answers: Vec<(Instant, i64)>,
    errors: Vec<(Instant, String)>,
}

/// Sends a keep-alive for `id` to `c` every `every` until `stop`, reopening the
/// stream whenever it fails, as etcd's client does.
async fn keep_alive(c: Client, id: i64, every: Duration, stop: Arc<AtomicBool>) -> KeepAliveLog {
    let mut log = KeepAliveLog::default();
    'stream: while !stop.load(Ordering::Relaxed) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut l = c.lease();
        let opened = tokio::time::timeout(
            Duration::from_secs(2),
            l.lease_keep_alive(UnboundedReceiverStream::new(rx)),
        )
        .await;
        let mut answers = match opened {
            Ok(Ok(r)) => r.into_inner(),
            other => {
                log.errors
                    .push((Instant::now(), format!("open: {other:?}")));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            let _ = tx.send(LeaseKeepAliveRequest { id });
            match tokio::time::timeout(Duration::from_secs(2), answers.message()).await {
                Ok(Ok(Some(r))) => log.answers.push((Instant::now(), r.ttl)),
                other => {
                    log.errors.push((Instant::now(), format!("{other:?}")));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue 'stream;
                }
            }
            tokio::time::sleep(every).await;
        }
    }
    log
}

/// A 3-member ectd cluster, a client of each member, their ids and which one leads.
async fn three_with_a_leader() -> (Cluster, Vec<Client>, Vec<u64>, usize) {
    let cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (leader, _) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    (cl, clients, ids, leader)
}

/// A watcher of `key` from `from` on each of `members`, each reporting the first
/// change it sees (and when), or failing after a minute.
async fn first_changes(
    clients: &[Client],
    members: &[usize],
    key: &str,
    from: i64,
) -> Vec<(usize, tokio::task::JoinHandle<(WatchResponse, Instant)>)> {
    let mut changes = Vec::new();
    for &i in members {
        let mut w = WatchConn::open(&clients[i])
            .await
            .expect("open watch stream");
        w.create(watch_key(key, from, false));
        w.expect_created(&format!("watch {key}")).await;
        let what = format!("m{}: a change of {key}", i + 1);
        changes.push((
            i,
            tokio::spawn(async move { next_events(&mut w, Duration::from_secs(60), &what).await }),
        ));
    }
    changes
}

#[test]
fn keep_alives_through_a_follower_keep_a_lease_through_a_leader_kill() {
    run(keep_alive_through_follower());
}

async fn keep_alive_through_follower() {
    const TTL: i64 = 3;
    let ttl = Duration::from_secs(TTL as u64);
    let (mut cl, clients, ids, leader) = three_with_a_leader().await;
    let f = (leader + 1) % 3;
    let other = 3 - leader - f;
    let id = grant(&clients[f], TTL).await;
    let rev = put_leased(&clients[f], "lease/c/k", id).await;
    // A watcher of the key on each survivor reports its first change.
    let mut changes = first_changes(&clients, &[f, other], "lease/c/k", rev + 1).await;
    let stop = Arc::new(AtomicBool::new(false));
    let every = Duration::from_millis(500);
    let task = tokio::spawn(keep_alive(clients[f].clone(), id, every, stop.clone()));

    tokio::time::sleep(2 * ttl).await;
    let alive = time_to_live(&clients[f], id).await;
    cl.members[leader].kill9();
    let killed = Instant::now();
    let (new, _) = agreed_leader(&clients, &ids, &[f, other]).await;
    let elected = killed.elapsed();
    tokio::time::sleep(3 * ttl).await;
    let mut ttls = Vec::new();
    for &i in &[f, other] {
        ttls.push((i, time_to_live(&clients[i], id).await));
    }
    let gone: Vec<usize> = changes
        .iter()
        .filter(|(_, h)| h.is_finished())
        .map(|(i, _)| *i)
        .collect();
    stop.store(true, Ordering::Relaxed);
    let stopped = Instant::now();
    let log = within(10, "keep-alive task", task)
        .await
        .expect("keep-alive task");

    let at = |t: &Instant| {
        if *t >= killed {
            format!("+{:.2}s", (*t - killed).as_secs_f64())
        } else {
            format!("-{:.2}s", (killed - *t).as_secs_f64())
        }
    };
    let mut gaps = Vec::new();
    for w in log.answers.windows(2) {
        if w[1].0 - w[0].0 > 2 * every {
            gaps.push(format!("{}..{}", at(&w[0].0), at(&w[1].0)));
        }
    }
    let after: Vec<i64> = log
        .answers
        .iter()
        .filter(|(t, _)| *t > killed)
        .map(|(_, ttl)| *ttl)
        .collect();
    let summary = format!(
        "lease {id:x} (TTL {TTL}s) kept alive through follower m{} every {every:?}; leader m{} \
         killed at 0s, m{} elected at {}; TimeToLive before the kill {}s; keep-alive answers: \
         {} before the kill, {} after (TTLs after: {after:?}), gaps: {gaps:?}, errors: {:?}",
        f + 1,
        leader + 1,
        new + 1,
        at(&(killed + elected)),
        alive.ttl,
        log.answers.len() - after.len(),
        after.len(),
        log.errors
            .iter()
            .map(|(t, e)| format!("{} {e}", at(t)))
            .collect::<Vec<_>>()
    );
    eprintln!("{summary}");
    assert!(alive.ttl > 0, "{summary}; before the kill: {alive:?}");
    for (i, h) in &mut changes {
        if gone.contains(i) {
            let (r, t) = h.await.expect("watch task");
            panic!(
                "m{}: the lease expired while being kept alive: {} at {}; {summary}",
                *i + 1,
                r.events
                    .iter()
                    .map(crate::watch_history::show_event)
                    .collect::<Vec<_>>()
                    .join(", "),
                at(&t)
            );
        }
    }
    for (i, r) in &ttls {
        assert!(
            r.ttl > 0 && r.granted_ttl == TTL && r.keys == vec![b"lease/c/k".to_vec()],
            "m{}: TimeToLive {r:?} {:?} after the leader kill; {summary}",
            i + 1,
            stopped - killed
        );
    }
    assert!(
        !after.is_empty() && after.iter().all(|&t| t == TTL),
        "keep-alive answers after the leader kill: {after:?}; {summary}"
    );

    // Without keep-alives it now expires: the watchers above could see it.
    for (i, h) in changes {
        let (r, t) = within(TTL as u64 + 10, "watch task", h)
            .await
            .expect("watch task");
        assert!(
            r.events.len() == 1 && r.events[0].r#type == EventType::Delete as i32,
            "m{}: expiry once keep-alives stopped: {r:?}",
            i + 1
        );
        eprintln!(
            "m{}: lease {id:x} expired {:?} after keep-alives stopped",
            i + 1,
            t - stopped
        );
    }
}

#[test]
fn keep_alives_the_leader_answers_reach_the_members_that_outlive_it() {
    run(keep_alive_through_leader());
}

/// The leader answers keep-alives from memory; what it renewed must reach the
/// followers, so that when it dies right after answering, the lease lives its
/// whole TTL from that answer, and no longer than it should.
async fn keep_alive_through_leader() {
    const TTL: i64 = 3;
    let ttl = Duration::from_secs(TTL as u64);
    let (mut cl, clients, _, leader) = three_with_a_leader().await;
    let followers = [(leader + 1) % 3, (leader + 2) % 3];
    let id = grant(&clients[leader], TTL).await;
    let rev = put_leased(&clients[leader], "lease/l/k", id).await;
    let changes = first_changes(&clients, &followers, "lease/l/k", rev + 1).await;
    // Twice the TTL of keep-alives: without their renewals replicated, the
    // followers' deadlines would have passed long before the kill.
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(keep_alive(
        clients[leader].clone(),
        id,
        Duration::from_millis(500),
        stop.clone(),
    ));
    tokio::time::sleep(2 * ttl).await;
    stop.store(true, Ordering::Relaxed);
    let log = within(10, "keep-alive task", task)
        .await
        .expect("keep-alive task");
    let (last, last_ttl) = *log.answers.last().expect("a keep-alive answer");
    assert!(
        log.errors.is_empty() && last_ttl == TTL,
        "keep-alives through the leader: {} answers, last TTL {last_ttl}, errors {:?}",
        log.answers.len(),
        log.errors
    );
    let mut seen = Vec::new();
    for &i in &followers {
        seen.push((i, time_to_live(&clients[i], id).await.ttl));
    }
    cl.members[leader].kill9();
    let killed = Instant::now();
    for (i, t) in &seen {
        assert!(
            *t >= TTL - 1,
            "m{}: TimeToLive {t}s right after keep-alives answered by the leader",
            i + 1
        );
    }
    for (i, h) in changes {
        let (r, at) = within(TTL as u64 + 20, "watch task", h)
            .await
            .expect("watch task");
        assert!(
            r.events.len() == 1 && r.events[0].r#type == EventType::Delete as i32,
            "m{}: expiry after the leader kill: {r:?}",
            i + 1
        );
        let lived = at - last;
        eprintln!(
            "m{}: lease {id:x} expired {lived:?} after the last keep-alive \
             (the leader was killed {:?} after it)",
            i + 1,
            killed - last
        );
        assert!(
            lived >= ttl,
            "m{}: the lease expired {lived:?} after the last keep-alive, before its TTL",
            i + 1
        );
        assert!(
            lived <= ttl + 2 * ELECTION + Duration::from_secs(5),
            "m{}: the lease outlived its TTL by far: {lived:?}",
            i + 1
        );
    }
}

#[test]
fn a_leader_cut_off_from_the_others_stops_answering_keep_alives() {
    run(keep_alive_on_a_cut_off_leader());
}

/// The leader answers keep-alives from memory only while it knows a quorum
/// follows it: once both followers are stopped, a keep-alive sent more than half
/// an election timeout later gets no TTL from it, although raft has not yet
/// made it step down (check-quorum takes a whole election timeout for that).
async fn keep_alive_on_a_cut_off_leader() {
    const TTL: i64 = 30;
    let (mut cl, clients, _, leader) = three_with_a_leader().await;
    let followers = [(leader + 1) % 3, (leader + 2) % 3];
    let id = grant(&clients[leader], TTL).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut answers = clients[leader]
        .lease()
        .lease_keep_alive(UnboundedReceiverStream::new(rx))
        .await
        .expect("open a keep-alive stream")
        .into_inner();
    let ask = |what: &str| {
        tx.send(LeaseKeepAliveRequest { id })
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    };
    // Answered from memory while the followers run (twice, so that the second
    // uses the confirmation the first made).
    for round in 0..2 {
        ask("keep-alive");
        let r = within(10, "a keep-alive with every member up", answers.message())
            .await
            .expect("keep-alive answered")
            .expect("keep-alive stream open");
        assert_eq!(r.ttl, TTL, "round {round}: {r:?}");
    }
    for &i in &followers {
        cl.members[i].signal("STOP");
    }
    let cut = Instant::now();
    tokio::time::sleep(ELECTION * 3 / 5).await;
    ask("keep-alive on the cut-off leader");
    let late = tokio::time::timeout(Duration::from_secs(2), answers.message()).await;
    let sent_after = ELECTION * 3 / 5;
    for &i in &followers {
        cl.members[i].signal("CONT");
    }
    match late {
        Err(_) | Ok(Err(_)) | Ok(Ok(None)) => {}
        Ok(Ok(Some(r))) => assert!(
            r.ttl <= 0,
            "a keep-alive sent {sent_after:?} after the leader was cut off from both followers renewed the lease: {r:?} (answered {:?} after the cut)",
            cut.elapsed()
        ),
    }
    cl.wait_all_ready();
    // The lease is still there once the members are back.
    let (again, _) = agreed_leader(&clients, &member_ids(&clients).await, &[0, 1, 2]).await;
    let left = time_to_live(&clients[again], id).await.ttl;
    assert!(
        left > 0,
        "the lease is gone after the followers came back: {left}"
    );
}
