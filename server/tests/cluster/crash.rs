//! The whole cluster killed at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::PutRequest;
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::Client;
use rand::Rng;

const CRASH_ROUNDS: usize = 3;
const WRITERS_PER_MEMBER: usize = 2;

fn crash_value(key: &str) -> Vec<u8> {
    let mut v = format!("{key}=").into_bytes();
    v.resize(16 + key.len() * 3, b'.');
    v
}

/// Puts distinct keys through `c` until stopped or until the cluster goes away;
/// returns every acknowledged put with its revision.
async fn crash_writer(c: Client, prefix: String, stop: Arc<AtomicBool>) -> Vec<(String, i64)> {
    let mut acked = Vec::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let key = format!("{prefix}{i:06}");
        let put = c.put(PutRequest {
            key: key.clone().into_bytes(),
            value: crash_value(&key),
            ..Default::default()
        });
        match tokio::time::timeout(Duration::from_secs(5), put).await {
            Ok(Ok(r)) => acked.push((key, header_rev(&r.header))),
            // In flight at the kill: it may or may not have committed.
            Ok(Err(_)) | Err(_) => break,
        }
    }
    acked
}

#[test]
fn whole_cluster_kill_9_keeps_acknowledged_writes() {
    run(whole_cluster_crash());
}

async fn whole_cluster_crash() {
    let started = Instant::now();
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut rng = rand::thread_rng();
    for round in 0..CRASH_ROUNDS {
        let clients = connect_all(&cl).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (i, c) in clients.iter().enumerate() {
            for w in 0..WRITERS_PER_MEMBER {
                let prefix = format!("fc/{round}/m{}/{w}/", i + 1);
                tasks.push(tokio::spawn(crash_writer(c.clone(), prefix, stop.clone())));
            }
        }
        let delay = Duration::from_millis(rng.gen_range(300..=800));
        tokio::time::sleep(delay).await;
        cl.kill9_all();
        stop.store(true, Ordering::Relaxed);
        let mut this_round = 0;
        for t in tasks {
            let acks = within(30, "writers noticing the kill", t)
                .await
                .expect("writer task");
            this_round += acks.len();
            acked.extend(acks);
        }
        assert!(
            this_round > 0,
            "round {round}: no write was acknowledged in {delay:?}"
        );

        let t = Instant::now();
        cl.restart_stopped();
        let restart = t.elapsed();
        let clients = connect_all(&cl).await;
        let mut first: Option<Vec<KeyValue>> = None;
        for (j, c) in clients.iter().enumerate() {
            let when = format!("round {round} (killed after {delay:?}), m{}", j + 1);
            let view = read_prefix(c, "fc/").await;
            let mut present: HashMap<&[u8], &KeyValue> = HashMap::new();
            let mut revs: HashMap<i64, &[u8]> = HashMap::new();
            for kv in &view.kvs {
                assert_eq!(
                    kv.value,
                    crash_value(&String::from_utf8_lossy(&kv.key)),
                    "{when}: {} holds a value never written to it",
                    show(kv)
                );
                if let Some(other) = revs.insert(kv.mod_revision, &kv.key) {
                    panic!(
                        "{when}: {} and {} share revision {}",
                        show(kv),
                        String::from_utf8_lossy(other),
                        kv.mod_revision
                    );
                }
                present.insert(&kv.key, kv);
            }
            let mut lost: Vec<String> = acked
                .iter()
                .filter_map(|(key, &rev)| match present.get(key.as_bytes()) {
                    None => Some(format!("{key} (acknowledged at {rev}) is missing")),
                    Some(kv) if kv.mod_revision != rev => Some(format!(
                        "{key} acknowledged at {rev} has mod_revision {}",
                        kv.mod_revision
                    )),
                    Some(_) => None,
                })
                .collect();
            lost.sort();
            assert!(
                lost.is_empty(),
                "{when}: {} of {} acknowledged writes lost or moved: {:?}",
                lost.len(),
                acked.len(),
                &lost[..lost.len().min(20)]
            );
            match &first {
                None => first = Some(view.kvs.clone()),
                Some(f) => {
                    if let Err(d) = same_kvs(&view.kvs, f) {
                        panic!("{when}: m{} and m1 differ after the restart: {d}", j + 1);
                    }
                }
            }
        }
        let r = within(
            10,
            "put after the restart",
            clients[round % 3].put_kv("probe/fc", "after"),
        )
        .await
        .unwrap_or_else(|e| panic!("round {round}: put after the restart: {e}"));
        let rev = header_rev(&r.header);
        assert!(
            acked.values().all(|&a| a < rev),
            "round {round}: a put after the restart got revision {rev}, not after every acknowledged one"
        );
        assert_same_hash(
            &clients,
            &[0, 1, 2],
            rev,
            &format!("round {round}, after the restart"),
        )
        .await;
        eprintln!(
            "round {round}: killed after {delay:?}, {this_round} writes acknowledged, \
             cluster back in {restart:?}"
        );
    }
    eprintln!(
        "{} acknowledged writes survived {CRASH_ROUNDS} whole-cluster kills ({:?})",
        acked.len(),
        started.elapsed()
    );
}
