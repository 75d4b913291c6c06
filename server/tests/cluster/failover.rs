//! Leader failure and minority partitions (SIGSTOP).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{http_get, within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::RangeRequest;
use ectd_client::{Client, Error};

// ---------------------------------------------------------------------------
// Leader failure
// ---------------------------------------------------------------------------

#[test]
fn leader_kill_9_fails_over_and_the_old_leader_catches_up() {
    run(leader_failure());
}

async fn leader_failure() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let ids = member_ids(&clients).await;
    let (old, old_term) = agreed_leader(&clients, &ids, &[0, 1, 2]).await;
    for (i, c) in clients.iter().enumerate() {
        within(
            10,
            "put before the kill",
            c.put_kv(format!("before/{i}"), "x"),
        )
        .await
        .unwrap_or_else(|e| panic!("put through m{}: {e}", i + 1));
    }
    let survivors: Vec<usize> = (0..3).filter(|&i| i != old).collect();

    cl.members[old].kill9();
    let killed = Instant::now();
    // A new attempt every RETRY_INTERVAL, alternating between the survivors,
    // without waiting for earlier ones: the first acknowledgement marks the end
    // of the outage, late by at most one interval.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut attempts = Vec::new();
    let mut ticker = tokio::time::interval(RETRY_INTERVAL);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let (key, rev, through, outage) = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let n = attempts.len();
                let via = survivors[n % survivors.len()];
                let c = clients[via].clone();
                let tx = tx.clone();
                attempts.push(tokio::spawn(async move {
                    let key = format!("failover/{n:04}");
                    let r = c.put_kv(key.clone(), "after the kill").await;
                    let _ = tx.send((key, via, r, killed.elapsed()));
                }));
            }
            Some((key, via, r, at)) = rx.recv() => match r {
                Ok(resp) => break (key, header_rev(&resp.header), via, at),
                Err(e) => *errors.entry(e.to_string()).or_default() += 1,
            },
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no write through the survivors within 20s of killing the leader m{}; errors: {errors:?}",
            old + 1
        );
    };
    for a in &attempts {
        a.abort();
    }
    eprintln!(
        "leader m{} killed: first write acknowledged after {outage:?} through m{} \
         ({} attempts, errors before: {errors:?})",
        old + 1,
        through + 1,
        attempts.len()
    );
    // Only a survivor counts as a leader here: still naming the killed member fails.
    let (new, new_term) = agreed_leader(&clients, &ids, &survivors).await;
    assert!(
        new_term > old_term,
        "new leader m{} has term {new_term}, not after {old_term}",
        new + 1
    );
    assert!(
        outage <= FAILOVER_BOUND + RETRY_INTERVAL,
        "writes stopped for {outage:?} after the leader was killed; the bound is 3 election \
         timeouts ({FAILOVER_BOUND:?}) plus the retry interval ({RETRY_INTERVAL:?})"
    );

    // Writes while the old leader is down.
    let mut down = BTreeMap::new();
    for i in 0..20 {
        let c = &clients[survivors[i % 2]];
        let key = format!("down/{i:02}");
        let r = within(
            10,
            "put while m is down",
            c.put_kv(key.clone(), format!("d{i}")),
        )
        .await
        .unwrap_or_else(|e| panic!("put {key} while the old leader is down: {e}"));
        down.insert(key, header_rev(&r.header));
    }
    down.insert(key, rev);

    // Back on its data, the old leader gets everything it missed.
    let restart = Instant::now();
    cl.members[old].restart();
    let c = connect(&cl.members[old]).await;
    let caught_up = eventually(
        Duration::from_secs(10),
        "the restarted member catching up",
        || async {
            let mut missing = Vec::new();
            for (key, &rev) in &down {
                let r = c
                    .range(RangeRequest {
                        key: key.as_bytes().to_vec(),
                        serializable: true,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                if r.kvs.len() != 1 || r.kvs[0].mod_revision != rev {
                    missing.push(format!(
                        "{key}@{rev}: {:?}",
                        r.kvs.iter().map(show).collect::<Vec<_>>()
                    ));
                }
            }
            if missing.is_empty() {
                Ok(restart.elapsed())
            } else {
                Err(format!(
                    "{} of {} writes missing or different: {missing:?}",
                    missing.len(),
                    down.len()
                ))
            }
        },
    )
    .await;
    let rev = current_rev(&clients[new]).await;
    let mut all_clients = clients.clone();
    all_clients[old] = c;
    assert_same_hash(
        &all_clients,
        &[0, 1, 2],
        rev,
        "after the old leader came back",
    )
    .await;
    eprintln!(
        "old leader back and caught up {caught_up:?} after its restart; test took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Minority partitions (SIGSTOP)
// ---------------------------------------------------------------------------

async fn partitions(n: usize) {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, n, &[]);
    let clients = connect_all(&cl).await;
    let short: Vec<Client> = {
        let mut v = Vec::new();
        for m in &cl.members {
            v.push(connect_with(m, Duration::from_secs(2)).await);
        }
        v
    };
    let ids = member_ids(&clients).await;
    let all: Vec<usize> = (0..n).collect();
    let (leader, _) = agreed_leader(&clients, &ids, &all).await;
    within(10, "first put", clients[leader].put_kv("part/k", "v0"))
        .await
        .expect("put part/k=v0");

    // A minority of followers stops: the majority goes on.
    let minority: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| i != leader)
        .take((n - 1) / 2)
        .collect();
    let majority: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| !minority.contains(i))
        .collect();
    for &i in &minority {
        cl.members[i].signal("STOP");
    }
    for &i in &majority {
        let key = format!("part/majority/{i}");
        let what = format!("put through m{} with m{minority:?} stopped", i + 1);
        let put = within(10, &what, clients[i].put_kv(key.clone(), "ok"))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        for &j in &majority {
            let what = format!(
                "linearizable get of {key} on m{} with {minority:?} stopped",
                j + 1
            );
            let got = within(10, &what, clients[j].get(key.clone()))
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                got.kvs.len() == 1 && got.kvs[0].mod_revision == header_rev(&put.header),
                "{what}: {:?}",
                got.kvs.iter().map(show).collect::<Vec<_>>()
            );
        }
    }
    // A stopped member answers nothing, not even a serializable read. The raw
    // client sends no deadline, so the only way the call can end is the local
    // timeout.
    for &i in &minority {
        let mut kv = clients[i].kv();
        let r = rpc(
            Duration::from_secs(1),
            kv.range(RangeRequest {
                key: b"part/k".to_vec(),
                serializable: true,
                ..Default::default()
            }),
        )
        .await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "a SIGSTOPped member (m{}) answered: {r:?}",
            i + 1
        );
    }
    for &i in &minority {
        cl.members[i].signal("CONT");
    }
    cl.wait_all_ready();

    // The leader is isolated with stale data: stopped while the others elect a
    // new leader and overwrite part/k, then resumed while all the others stop.
    let (x, _) = agreed_leader(&clients, &ids, &all).await;
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != x).collect();
    cl.members[x].signal("STOP");
    let (new, _) = agreed_leader(&clients, &ids, &others).await;
    let v1 = within(10, "put part/k=v1", clients[new].put_kv("part/k", "v1"))
        .await
        .unwrap_or_else(|e| panic!("put part/k=v1 through the new leader m{}: {e}", new + 1));
    let v1_rev = header_rev(&v1.header);
    for &i in &others {
        cl.members[i].signal("STOP");
    }
    cl.members[x].signal("CONT");
    let port = cl.members[x].client_port();
    let health =
        tokio::task::spawn_blocking(move || http_get(port, "/health", Duration::from_secs(2)));
    let (read, write) = tokio::join!(
        short[x].get("part/k"),
        short[x].put_kv("part/isolated", "must not be acknowledged")
    );
    let health = health.await.expect("health probe thread");
    eprintln!(
        "isolated old leader m{}: linearizable read -> {:?}, write -> {:?}, /health -> {health:?}",
        x + 1,
        read.as_ref()
            .map(|r| r.kvs.iter().map(show).collect::<Vec<_>>()),
        write.as_ref().map(|r| header_rev(&r.header)),
    );
    assert!(
        read.is_err(),
        "a linearizable read through m{}, cut off from all other members, succeeded: {:?} \
         (part/k was overwritten with v1 at revision {v1_rev} while m{} was stopped)",
        x + 1,
        read.as_ref()
            .map(|r| r.kvs.iter().map(show).collect::<Vec<_>>()),
        x + 1
    );
    assert!(
        write.is_err(),
        "a write through m{}, cut off from all other members, was acknowledged: {write:?}",
        x + 1
    );
    assert!(
        !matches!(&health, Ok((200, body)) if body.contains("\"health\":\"true\"")),
        "/health of m{}, cut off from all other members, says it is healthy: {health:?}",
        x + 1
    );

    // Everyone back: all members converge on the majority's history.
    for &i in &others {
        cl.members[i].signal("CONT");
    }
    cl.wait_all_ready();
    let healed = within(
        10,
        "put after healing",
        clients[x].put_kv("part/healed", "yes"),
    )
    .await
    .unwrap_or_else(|e| panic!("put through m{} after healing: {e}", x + 1));
    let rev = header_rev(&healed.header);
    for (j, c) in clients.iter().enumerate() {
        let got = within(10, "get part/k", c.get("part/k"))
            .await
            .unwrap_or_else(|e| panic!("get part/k on m{}: {e}", j + 1));
        assert!(
            got.kvs.len() == 1 && got.kvs[0].value == b"v1" && got.kvs[0].mod_revision == v1_rev,
            "m{} reads part/k as {:?} after healing; v1 was acknowledged at {v1_rev}",
            j + 1,
            got.kvs.iter().map(show).collect::<Vec<_>>()
        );
        if let Err(Error::Rpc { message, .. }) = &write {
            // "no leader" means raft dropped the proposal: it can never apply.
            if message == "etcdserver: no leader" {
                let r = within(10, "get part/isolated", c.get("part/isolated")).await;
                let kvs = r.map(|r| r.kvs).unwrap_or_default();
                assert!(
                    kvs.is_empty(),
                    "m{}: a write refused with {message:?} was applied: {:?}",
                    j + 1,
                    kvs.iter().map(show).collect::<Vec<_>>()
                );
            }
        }
    }
    assert_same_hash(&clients, &all, rev, "after the partitions healed").await;
    eprintln!("{n}-member partitions: {:?}", started.elapsed());
}

#[test]
fn three_members_minority_partitions() {
    run(partitions(3));
}

#[test]
fn five_members_minority_partitions() {
    run(partitions(5));
}
