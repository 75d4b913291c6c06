//! Corruption checks: one member's RocksDB state is changed while it is stopped.

use std::time::{Duration, Instant};

use ectd_client::proto::etcdserverpb::alarm_request::AlarmAction;
use ectd_client::proto::etcdserverpb::{
    AlarmRequest, AlarmType, PutRequest, RangeRequest, StatusRequest,
};
use ectd_server::engine::{Cf, Engine};

use crate::common::{Cluster, Kind};
use crate::{connect, refuses_writes_as_corrupt, run};

/// Changes the value of the oldest put in the member's `kv` column family (the
/// history by revision), as a disk that flipped bits would.
pub(crate) fn corrupt_history(data_dir: &std::path::Path) {
    let engine = Engine::open(&data_dir.join("member").join("db")).expect("opening the db");
    let mut it = engine.db().raw_iterator_cf(engine.cf(Cf::Kv));
    it.seek_to_first();
    let mut target = None;
    while it.valid() {
        let v = it.value().expect("value");
        if v.first() == Some(&1) && v.len() > 8 {
            target = Some((it.key().expect("key").to_vec(), v.to_vec()));
            break;
        }
        it.next();
    }
    drop(it);
    let (key, mut value) = target.expect("a put in the history");
    let last = value.len() - 1;
    value[last] ^= 0x01;
    let mut batch = rocksdb::WriteBatch::default();
    batch.put_cf(engine.cf(Cf::Kv), key, value);
    engine.write(batch).expect("writing");
    engine.flush().expect("flushing");
}

#[test]
fn changed_history_is_found_at_start_and_by_the_periodic_check() {
    run(async {
        let mut cl = Cluster::start(Kind::Ectd, 3, &["--experimental-corrupt-check-time", "1s"]);
        let c0 = connect(&cl.members[0].endpoint()).await;
        for i in 0..20 {
            c0.kv()
                .put(PutRequest {
                    key: format!("k{i}").into_bytes(),
                    value: format!("value-{i}").into_bytes(),
                    ..Default::default()
                })
                .await
                .expect("put");
        }
        // Let every member apply them; nothing is raised while the hashes agree.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let leader = c0
            .maintenance()
            .status(StatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .leader;
        let mut victim = None;
        for (i, m) in cl.members.iter().enumerate() {
            let c = connect(&m.endpoint()).await;
            let s = c
                .maintenance()
                .status(StatusRequest {})
                .await
                .unwrap()
                .into_inner();
            assert!(s.errors.is_empty(), "{:?}", s.errors);
            if s.header.map_or(0, |h| h.member_id) != leader {
                victim = Some(i);
            }
        }
        let f = victim.expect("a follower");
        cl.members[f].stop();
        corrupt_history(cl.members[f].data_dir());

        // With the start-up check the member refuses to start.
        let mut cfg = cl.config(
            cl.members[f].name(),
            cl.members[f].ports(),
            &cl.initial_cluster_of(&[0, 1, 2]),
            "new",
        );
        cfg.extra_args
            .push("--experimental-initial-corrupt-check".into());
        let checking = cl.new_member(&cfg);
        let normal = std::mem::replace(&mut cl.members[f], checking);
        cl.members[f].launch();
        let exit = cl.members[f]
            .wait_exit(Duration::from_secs(60))
            .expect("the member started despite the changed history");
        assert!(!exit.success(), "{exit}");
        let log = cl.members[f].stderr_tail(30);
        assert!(log.contains("found data inconsistency with peers"), "{log}");

        // Without it, it starts, and the leader's periodic check raises CORRUPT.
        cl.members[f] = normal;
        cl.members[f].launch();
        let others: Vec<usize> = (0..3).filter(|i| *i != f).collect();
        let watcher = connect(&cl.members[others[0]].endpoint()).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = watcher
                .maintenance()
                .alarm(AlarmRequest {
                    action: AlarmAction::Get as i32,
                    member_id: 0,
                    alarm: AlarmType::None as i32,
                })
                .await;
            if let Ok(r) = r {
                let got: Vec<(u64, i32)> = r
                    .into_inner()
                    .alarms
                    .iter()
                    .map(|m| (m.member_id, m.alarm))
                    .collect();
                if !got.is_empty() {
                    assert_eq!(got, vec![(0, AlarmType::Corrupt as i32)]);
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no CORRUPT alarm\n{}",
                cl.log_tails(20)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Every member now refuses writes, as etcd does; reads still work.
        for m in &cl.members {
            let c = refuses_writes_as_corrupt(m).await;
            c.kv()
                .range(RangeRequest {
                    key: b"k1".to_vec(),
                    serializable: true,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("{}: range: {e}", m.name()));
            let s = c
                .maintenance()
                .status(StatusRequest {})
                .await
                .unwrap()
                .into_inner();
            assert!(
                s.errors.contains(&"alarm:CORRUPT ".to_string()),
                "{:?}",
                s.errors
            );
        }
    });
}
