//! Lock (`v3lockpb`): holding, queueing behind a holder in creation order,
//! unlocking, the holder's key revision as a fencing token, and errors.

use crate::builders::*;
use crate::harness::*;
use crate::lease::{grant, time_to_live, TIMING};
use crate::rpc::*;
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::TxnRequest;
use ectd_client::proto::v3lockpb::{LockRequest, LockResponse, UnlockRequest, UnlockResponse};
use std::time::Duration;

/// How long a blocked call is given to reach the server before the test goes on.
const SETTLE: Duration = Duration::from_millis(700);

fn lock_req(name: &[u8], lease: i64) -> LockRequest {
    LockRequest {
        name: name.to_vec(),
        lease,
    }
}

async fn lock(p: &mut Pair, label: &str, name: &[u8], lease: i64) -> Answer<LockResponse> {
    p.unary(label, lock_req(name, lease), |c, r| async move {
        c.lock().lock(r).await
    })
    .await
}

async fn start_lock(p: &mut Pair, label: &str, name: &[u8], lease: i64) -> Pending<LockResponse> {
    p.start_call(
        label,
        lock_req(name, lease),
        |c, r| async move { c.lock().lock(r).await },
        SETTLE,
    )
    .await
}

async fn unlock(p: &mut Pair, label: &str, key: &[u8]) -> Answer<UnlockResponse> {
    p.unary(
        label,
        UnlockRequest { key: key.to_vec() },
        |c, r| async move { c.lock().unlock(r).await },
    )
    .await
}

/// A write that succeeds only while `key` has create revision `rev`.
fn fenced(key: &[u8], rev: i64, value: &[u8]) -> TxnRequest {
    txn(
        vec![cmp(
            key,
            CompareTarget::Create,
            CompareResult::Equal,
            TargetUnion::CreateRevision(rev),
        )],
        vec![op_put(put(b"guarded", value))],
        vec![op_range(get(key))],
    )
}

fn key_of(r: &Answer<LockResponse>) -> Vec<u8> {
    match &r.0 {
        Ok(r) => r.key.clone(),
        Err(e) => panic!("etcd refused a lock the test needs: {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_matches_etcd() {
    let mut p = Pair::start_with("lock", &TIMING).await;
    for (id, label) in [(0x10, "A"), (0x20, "B"), (0x30, "C")] {
        grant(&mut p, &format!("grant lease {label}"), id, 60).await;
    }
    let all = || range(b"mylock/", &prefix_end(b"mylock/"));

    let a = lock(&mut p, "A locks mylock", b"mylock", 0x10).await;
    let a_key = key_of(&a);
    let a_rev = rev_of(&a.0.as_ref().expect("A holds the lock").header);
    p.range("the holder's key", all()).await;
    p.txn(
        "fenced write with A's revision",
        fenced(&a_key, a_rev, b"A"),
    )
    .await;
    lock(&mut p, "A locks mylock again", b"mylock", 0x10).await;

    let b = start_lock(&mut p, "B locks mylock", b"mylock", 0x20).await;
    b.check_waiting(&mut p, "B behind A", true);
    let c = start_lock(&mut p, "C locks mylock", b"mylock", 0x30).await;
    c.check_waiting(&mut p, "C behind A and B", true);
    p.range("three keys in creation order", all()).await;

    unlock(&mut p, "A unlocks", &a_key).await;
    let b = b.finish(&mut p).await;
    let b_key = key_of(&b);
    c.check_waiting(&mut p, "C behind B", true);
    p.txn(
        "fenced write with A's stale revision",
        fenced(&a_key, a_rev, b"A2"),
    )
    .await;
    let b_rev = p
        .range("B's key", get(&b_key))
        .await
        .0
        .ok()
        .and_then(|r| match r {
            Resp::Range(r) => r.kvs.first().map(|kv| kv.create_revision),
            _ => None,
        })
        .expect("B's key exists on etcd");
    p.txn(
        "fenced write with B's revision",
        fenced(&b_key, b_rev, b"B"),
    )
    .await;

    unlock(&mut p, "B unlocks", &b_key).await;
    let c = c.finish(&mut p).await;
    let c_key = key_of(&c);
    unlock(&mut p, "C unlocks", &c_key).await;
    unlock(&mut p, "C unlocks again (no key)", &c_key).await;
    p.range("no keys left", all()).await;

    lock(&mut p, "lock with an unknown lease", b"mylock", 0x999).await;
    p.range("no key for the refused lock", all()).await;

    // A waiter whose caller goes away removes its key.
    let a = lock(&mut p, "A locks mylock once more", b"mylock", 0x10).await;
    let a_key = key_of(&a);
    let b = start_lock(&mut p, "B locks mylock and gives up", b"mylock", 0x20).await;
    b.check_waiting(&mut p, "B behind A", true);
    drop(b);
    tokio::time::sleep(SETTLE).await;
    p.range("no key left by the waiter that gave up", all())
        .await;
    unlock(&mut p, "A unlocks once more", &a_key).await;
    lock(&mut p, "lock an empty name", b"", 0x10).await;
    lock(&mut p, "a second name with the same lease", b"other", 0x10).await;
    unlock(&mut p, "unlock a key that is no lock", b"guarded").await;
    unlock(&mut p, "unlock the empty key", b"").await;
    p.range("everything", range(b"\0", b"\0")).await;
    grant(&mut p, "grant a negative lease id", -3, 60).await;
    lock(&mut p, "lock with a negative lease id", b"neg", -3).await;
    p.range("the key of a negative lease id", range(b"neg/", b"neg0"))
        .await;
    p.finish(30);
}

/// etcd does not keep a waiting locker's lease alive (its lock service orphans
/// the session): a waiter whose lease expires loses its key but still gets the
/// lock once the holder unlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_waiter_lease_expiry_matches_etcd() {
    let mut p = Pair::start_with("lock waiter lease expiry", &TIMING).await;
    grant(&mut p, "grant holder lease", 0x10, 60).await;
    grant(&mut p, "grant a 2 s waiter lease", 0x20, 2).await;
    let a = lock(&mut p, "holder locks", b"l", 0x10).await;
    let a_key = key_of(&a);
    let b = start_lock(&mut p, "waiter locks", b"l", 0x20).await;
    b.check_waiting(&mut p, "waiter behind holder", true);
    tokio::time::sleep(Duration::from_secs(4)).await;
    time_to_live(&mut p, "waiter's lease after 4 s", 0x20, true).await;
    p.range("keys while waiting", range(b"l/", b"l0")).await;
    unlock(&mut p, "holder unlocks", &a_key).await;
    b.finish(&mut p).await;
    p.range("keys after the waiter got the lock", range(b"l/", b"l0"))
        .await;
    p.finish(8);
}
