//! flannel's etcd v2 subnet manager (CNI IPAM) on three members: 50 simulated
//! hosts take /24 leases out of `10.5.0.0/16` concurrently, renew them, and some
//! stop renewing so that their leases expire and later hosts take the freed
//! subnets; meanwhile the leader is killed and restarted and a follower restarted.
//!
//! Checked: no subnet is ever granted while another host may still hold it (at
//! every acquisition, against a ledger of what the hosts were told); expired
//! leases free their subnets (an `expire` event, then a new holder); every watcher
//! (pinned to one member, or moving between members as flannel's does) receives
//! every change in index order, the same as a reference watcher, re-listing only
//! after a 401; and every member's final listing is the reference's events
//! replayed and exactly the live hosts' leases.

mod checks;
mod host;
mod ledger;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Cluster, Kind};
use crate::http::Event;
use crate::support::*;
use crate::watcher::*;
use checks::{check_reference, check_watcher, replay};
use host::Host;
use ledger::Ledger;

/// flannel's network configuration key.
pub(crate) const CONFIG: &str = "/coreos.com/network/config";

/// The directory of subnet leases.
pub(crate) const SUBNETS: &str = "/coreos.com/network/subnets";

/// Lease TTL: short, so that stopped hosts' leases expire within the test.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(6);

/// How often a host renews: a leader election (well under two seconds with these
/// raft timings) may fail one renewal, never a whole TTL's worth.
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(2);

/// Hosts that start together.
const FIRST: Range<usize> = 0..40;
/// Hosts of the first group that stop renewing on a healthy cluster.
const STOP_HEALTHY: Range<usize> = 5..10;
/// Hosts of the first group that stop renewing just before the leader is killed.
const STOP_AT_KILL: Range<usize> = 10..15;
/// Hosts that join once the first stopped leases have expired.
const JOIN_HEALTHY: Range<usize> = 40..45;
/// Hosts that join once the leases stopped at the leader kill have expired.
const JOIN_AFTER_KILL: Range<usize> = 45..50;

/// `endpoints` starting at `first`, then the others in order.
fn rotated(endpoints: &[String], first: usize) -> Vec<String> {
    (0..endpoints.len())
        .map(|i| endpoints[(first + i) % endpoints.len()].clone())
        .collect()
}

fn spawn_hosts(ids: Range<usize>, endpoints: &[String], ledger: &Arc<Mutex<Ledger>>) -> Vec<Host> {
    ids.map(|id| Host::spawn(id, rotated(endpoints, id), Arc::clone(ledger)))
        .collect()
}

async fn until_acquired(hosts: &[Host], ids: Range<usize>, ledger: &Arc<Mutex<Ledger>>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: Vec<usize> = ids
            .clone()
            .filter(|&i| hosts[i].state().subnet.is_none())
            .collect();
        if waiting.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let l = ledger.lock().unwrap_or_else(|e| e.into_inner());
            panic!(
                "hosts {waiting:?} have no subnet after 60s; {} acquisitions, {} conflicts, \
                 violations {:?}",
                l.acquisitions.len(),
                l.conflicts,
                l.violations
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The (key, created index) each host in `ids` holds.
fn holdings(hosts: &[Host], ids: Range<usize>, ledger: &Arc<Mutex<Ledger>>) -> Vec<(String, u64)> {
    let l = ledger.lock().unwrap_or_else(|e| e.into_inner());
    ids.map(|i| {
        let key = hosts[i]
            .state()
            .subnet
            .unwrap_or_else(|| panic!("host {i} holds no subnet"));
        let created = l
            .acquisitions
            .iter()
            .rev()
            .find(|a| a.host == i && a.subnet == key)
            .map_or(0, |a| a.created_index);
        (key, created)
    })
    .collect()
}

fn saw_expired(log: &WatchLog, leases: &[(String, u64)]) -> bool {
    leases.iter().all(|(key, created)| {
        log.events
            .iter()
            .any(|(e, _)| e.action == "expire" && &e.key == key && e.created_index == *created)
    })
}

/// The scenario; see the module documentation.
pub(crate) async fn subnet_leases(kind: Kind) {
    let mut cl = Cluster::start(kind, 3, ENABLE_V2);
    let eps = cl.endpoints();
    let config = must_put(
        &eps,
        CONFIG,
        r#"{"Network":"10.5.0.0/16","SubnetLen":24}"#,
        &[],
    )
    .await
    .modified_index()
    .expect("index of the network config");
    let from = config + 1;
    let pinned: Vec<Watcher> = (0..3)
        .map(|i| {
            Watcher::spawn(
                &format!("m{} watcher", i + 1),
                vec![eps[i].clone()],
                SUBNETS,
                from,
            )
        })
        .collect();
    let roaming: Vec<Watcher> = (0..3)
        .map(|i| {
            Watcher::spawn(
                &format!("roaming watcher {i}"),
                rotated(&eps, i),
                SUBNETS,
                from,
            )
        })
        .collect();
    let ledger = Arc::new(Mutex::new(Ledger::new()));
    let began = ledger.lock().unwrap_or_else(|e| e.into_inner()).epoch;

    let mut hosts = spawn_hosts(FIRST, &eps, &ledger);
    until_acquired(&hosts, FIRST, &ledger).await;
    eprintln!(
        "{} hosts hold subnets after {:?}",
        FIRST.len(),
        began.elapsed()
    );

    // Leases that stop being renewed on a healthy cluster expire, and the hosts
    // that join then take exactly those subnets (the lowest free ones).
    let stopped_healthy = holdings(&hosts, STOP_HEALTHY, &ledger);
    for h in &mut hosts[STOP_HEALTHY] {
        h.stop().await;
    }
    let all_pinned: Vec<&Watcher> = pinned.iter().collect();
    until_all(
        &all_pinned,
        LEASE_TTL + Duration::from_secs(6),
        "leases no longer renewed expired",
        |l| saw_expired(l, &stopped_healthy),
    )
    .await;
    hosts.extend(spawn_hosts(JOIN_HEALTHY, &eps, &ledger));
    until_acquired(&hosts, JOIN_HEALTHY, &ledger).await;

    // The same while the leader is killed: the remaining hosts keep their leases
    // through the election.
    let stopped_at_kill = holdings(&hosts, STOP_AT_KILL, &ledger);
    for h in &mut hosts[STOP_AT_KILL] {
        h.stop().await;
    }
    let leader = agreed_leader(&cl, &[0, 1, 2]).await;
    cl.members[leader].kill9();
    eprintln!(
        "killed the leader m{} after {:?}",
        leader + 1,
        began.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    tokio::task::block_in_place(|| cl.members[leader].restart());
    eprintln!("m{} is back after {:?}", leader + 1, began.elapsed());
    until_all(
        &all_pinned,
        LEASE_TTL + Duration::from_secs(10),
        "leases stopped at the leader kill expired",
        |l| saw_expired(l, &stopped_at_kill),
    )
    .await;
    hosts.extend(spawn_hosts(JOIN_AFTER_KILL, &eps, &ledger));
    until_acquired(&hosts, JOIN_AFTER_KILL, &ledger).await;

    // A follower restarts (gracefully) while every host renews.
    let now_leader = agreed_leader(&cl, &[0, 1, 2]).await;
    let follower = (0..3)
        .find(|&i| i != now_leader && i != leader)
        .expect("a follower other than the restarted member");
    let untouched = (0..3)
        .find(|&i| i != follower && i != leader)
        .expect("a member neither killed nor restarted");
    tokio::task::block_in_place(|| cl.members[follower].restart());
    eprintln!(
        "follower m{} restarted after {:?}",
        follower + 1,
        began.elapsed()
    );
    tokio::time::sleep(RENEW_EVERY).await;
    for m in &mut cl.members {
        m.assert_running();
    }

    // Every member's listing while all live hosts renew.
    let mut listings = Vec::new();
    for ep in &eps {
        let l = list_files(ep, SUBNETS, true)
            .await
            .unwrap_or_else(|e| panic!("final listing on {ep}: {e}"));
        listings.push(l);
    }
    let upto = listings.iter().map(|(i, _)| *i).max().unwrap_or(0);
    let watchers: Vec<&Watcher> = pinned.iter().chain(&roaming).collect();
    until_all(
        &watchers,
        Duration::from_secs(20),
        "every watcher past the final listings",
        |l| l.last_index() > upto,
    )
    .await;
    for h in &mut hosts {
        h.stop().await;
    }
    let mut logs = Vec::new();
    for w in pinned.into_iter().chain(roaming) {
        let name = w.name.clone();
        logs.push((name, w.stop().await));
    }
    let ledger = Arc::try_unwrap(ledger)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_else(|_| panic!("a host task still holds the ledger"));
    eprintln!(
        "{} acquisitions ({} after a lost answer; {} conflicts, {} lost answers), \
         {} acknowledged writes, reference m{} saw {} events; {:?} in all",
        ledger.acquisitions.len(),
        ledger.acquisitions.iter().filter(|a| a.adopted).count(),
        ledger.conflicts,
        ledger.ambiguous.len(),
        ledger.acked.len(),
        untouched + 1,
        logs[untouched].1.events.len(),
        began.elapsed()
    );

    assert!(
        ledger.violations.is_empty(),
        "broken lease guarantees:\n  {}",
        ledger.violations.join("\n  ")
    );
    assert!(
        ledger.conflicts > 0,
        "no create ever met `105 Key already exists`: the hosts did not contend"
    );
    check_hand_over(
        &hosts,
        &stopped_healthy,
        JOIN_HEALTHY,
        "on a healthy cluster",
    );
    check_hand_over(
        &hosts,
        &stopped_at_kill,
        JOIN_AFTER_KILL,
        "at the leader kill",
    );

    let stopped: BTreeSet<usize> = STOP_HEALTHY.chain(STOP_AT_KILL).collect();
    let live: BTreeMap<String, String> = hosts
        .iter()
        .filter(|h| !stopped.contains(&h.id))
        .map(|h| {
            let s = h.state();
            assert!(!s.lost && s.renewals > 0, "host {}: {s:?}", h.id);
            (s.subnet.expect("a subnet"), h.value.clone())
        })
        .collect();
    assert_eq!(live.len(), 40, "live hosts should hold 40 distinct subnets");

    let (ref_name, ref_log) = &logs[untouched];
    check_reference(ref_name, ref_log, &ledger, upto);
    let reference: Vec<Event> = ref_log.plain();
    for (i, (index, files)) in listings.iter().enumerate() {
        let orphans: Vec<(&String, &String)> = files
            .iter()
            .filter(|(k, v)| live.get(*k) != Some(*v))
            .collect();
        for (k, v) in &orphans {
            let from_lost_answer = ledger
                .ambiguous
                .iter()
                .any(|(h, key)| key == *k && hosts[*h].value == **v);
            assert!(
                from_lost_answer,
                "m{}: the listing at {index} holds {k}={v}, which no live host holds",
                i + 1
            );
        }
        for (k, v) in &live {
            assert_eq!(
                files.get(k),
                Some(v),
                "m{}: the listing at {index} lacks a live host's lease",
                i + 1
            );
        }
        assert_eq!(
            files,
            &replay(&reference, *index),
            "m{}: the listing at {index} is not the reference's events replayed to it",
            i + 1
        );
    }
    check_expiries(&reference, &stopped_healthy, &ledger);
    check_expiries(&reference, &stopped_at_kill, &ledger);
    let all_stopped: Vec<(String, u64)> = stopped_healthy
        .iter()
        .chain(&stopped_at_kill)
        .cloned()
        .collect();
    check_only_stopped_expire(&reference, &all_stopped, &ledger);
    for (name, log) in &logs {
        check_watcher(name, log, from, &reference, upto);
    }
}

/// The hosts in `joined` took exactly the subnets whose leases `stopped` had.
fn check_hand_over(hosts: &[Host], stopped: &[(String, u64)], joined: Range<usize>, when: &str) {
    let freed: BTreeSet<&String> = stopped.iter().map(|(k, _)| k).collect();
    let states: Vec<_> = joined.map(|i| hosts[i].state()).collect();
    let taken: BTreeSet<&String> = states.iter().filter_map(|s| s.subnet.as_ref()).collect();
    assert_eq!(
        taken, freed,
        "{when}: the joining hosts should take the subnets of the expired leases"
    );
}

/// Each of `stopped` expired exactly once, after its holder's last renewal, and
/// its subnet was created again only after that.
fn check_expiries(reference: &[Event], stopped: &[(String, u64)], ledger: &Ledger) {
    for (key, created) in stopped {
        let expiries: Vec<&Event> = reference
            .iter()
            .filter(|e| e.action == "expire" && &e.key == key && e.created_index == *created)
            .collect();
        assert_eq!(
            expiries.len(),
            1,
            "{key} (created at {created}) should expire exactly once: {expiries:?}"
        );
        let expired = expiries[0].modified_index;
        let last_write = reference
            .iter()
            .filter(|e| &e.key == key && e.created_index == *created && e.action != "expire")
            .map(|e| e.modified_index)
            .max()
            .unwrap_or(0);
        assert!(
            expired > last_write,
            "{key} expired at {expired}, before its last renewal at {last_write}"
        );
        let retaken = ledger
            .acquisitions
            .iter()
            .filter(|a| &a.subnet == key && a.created_index > *created)
            .map(|a| a.created_index)
            .min();
        assert!(
            retaken.is_some_and(|r| r > expired),
            "{key}: taken again at {retaken:?}, its lease expired at {expired}"
        );
    }
}

/// Every expiry in `reference` ends a lease in `stopped`, or a lease created by a
/// request whose answer was lost (which its host never knew it held).
fn check_only_stopped_expire(reference: &[Event], stopped: &[(String, u64)], ledger: &Ledger) {
    let known: BTreeMap<(&str, u64), usize> = ledger
        .acquisitions
        .iter()
        .map(|a| ((a.subnet.as_str(), a.created_index), a.host))
        .collect();
    for e in reference.iter().filter(|e| e.action == "expire") {
        if stopped
            .iter()
            .any(|(k, c)| *k == e.key && *c == e.created_index)
        {
            continue;
        }
        match known.get(&(e.key.as_str(), e.created_index)) {
            Some(h) => panic!("{e}: the lease of host {h}, which kept renewing, expired"),
            None => assert!(
                ledger.ambiguous.iter().any(|(_, k)| *k == e.key),
                "{e}: no host created this lease"
            ),
        }
    }
}
