//! Disaster recovery: the last member of a destroyed three-member cluster is
//! restarted with `--force-new-cluster`, serves every acknowledged write, and
//! grows back to three members.

use std::time::Duration;

use crate::common::{within, Cluster, Kind, Ports};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{MemberAddRequest, MemberListRequest};

#[test]
fn lone_survivor_forced_into_a_new_cluster_keeps_every_acked_write() {
    run(lone_survivor());
}

async fn lone_survivor() {
    let mut cl = Cluster::start(Kind::Ectd, 3, &[]);
    let clients = connect_all(&cl).await;
    let mut acked = Vec::new();
    for i in 0..300 {
        let c = &clients[i % 3];
        let key = format!("acked/{i:04}");
        within(10, "put", c.put_kv(key.clone(), format!("v{i}")))
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
        acked.push(key);
    }
    let rev_before = current_rev(&clients[0]).await;
    drop(clients);

    // The cluster is destroyed: every member dies at once, and two of them lose
    // their disks.
    cl.kill9_all();
    for i in [1, 2] {
        std::fs::remove_dir_all(cl.members[i].data_dir()).expect("wiping a member");
    }

    cl.members[0].add_args(&["--force-new-cluster"]);
    cl.members[0].launch();
    cl.members[0].wait_ready(Duration::from_secs(30));
    let c = connect(&cl.members[0]).await;
    let got = read_prefix(&c, "acked/").await;
    let keys: Vec<String> = got
        .kvs
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect();
    assert_eq!(keys, acked, "every acknowledged write survives");
    assert!(current_rev(&c).await >= rev_before);
    let members = rpc(
        Duration::from_secs(10),
        c.cluster()
            .member_list(MemberListRequest { linearizable: true }),
    )
    .await
    .expect("member list")
    .members;
    assert_eq!(members.len(), 1, "{members:?}");
    within(10, "put on the new cluster", c.put_kv("after", "force"))
        .await
        .expect("a lone member of its own cluster takes writes");

    // Restarted without the flag, it is still the one-member cluster.
    cl.members[0].remove_arg("--force-new-cluster");
    cl.members[0].restart();
    let c = connect(&cl.members[0]).await;

    // It grows back to three members, one at a time.
    let mut initial = cl.initial_cluster_of(&[0]);
    for name in ["n2", "n3"] {
        let ports = Ports::free();
        let peer_url = format!("http://127.0.0.1:{}", ports.peer);
        rpc(
            Duration::from_secs(10),
            c.cluster().member_add(MemberAddRequest {
                peer_ur_ls: vec![peer_url.clone()],
                is_learner: false,
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("member add {peer_url}: {e}"));
        initial = format!("{initial},{name}={peer_url}");
        let cfg = cl.config(name, ports, &initial, "existing");
        let m = cl.new_member(&cfg);
        cl.members.push(m);
        let last = cl.members.len() - 1;
        cl.members[last].launch();
        cl.members[last].wait_ready(Duration::from_secs(30));
    }
    let last = cl.members.len() - 1;
    let newest = connect(&cl.members[last]).await;
    let got = read_prefix(&newest, "acked/").await;
    assert_eq!(got.kvs.len(), acked.len(), "the new members hold the data");
    within(10, "put on the grown cluster", newest.put_kv("grown", "3"))
        .await
        .expect("the grown cluster takes writes");
    let members = rpc(
        Duration::from_secs(10),
        c.cluster()
            .member_list(MemberListRequest { linearizable: true }),
    )
    .await
    .expect("member list")
    .members;
    assert_eq!(members.len(), 3, "{members:?}");
}
