//! The v2 store travels in state snapshots: a member wiped and added back, too far
//! behind for the leader's log, gets the v2 tree, index and history from the state.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{within, Cluster, Kind};
use crate::helpers::*;
use ectd_client::proto::etcdserverpb::{MemberAddRequest, MemberRemoveRequest};

/// One HTTP/1.1 request with a form body; returns status, `X-Etcd-Index` and body.
fn v2(port: u16, method: &str, target: &str, form: &str) -> (u16, u64, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let index = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-etcd-index")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    (status, index, body.to_string())
}

#[test]
fn a_member_restored_from_a_snapshot_has_the_v2_store() {
    run(restore());
}

async fn restore() {
    let mut cl = Cluster::start(Kind::Ectd, 3, &["--snapshot-count", "100", "--enable-v2"]);
    let mut clients = connect_all(&cl).await;
    let mut ids = member_ids(&clients).await;
    let all = [0, 1, 2];
    let (leader, _) = agreed_leader(&clients, &ids, &all).await;
    let lport = cl.members[leader].client_port();

    // A v2 tree with directories, hidden keys, CAS'd values and deletions.
    for i in 0..200 {
        let (st, _, body) = v2(
            lport,
            "PUT",
            &format!("/v2/keys/dir{}/k{i}", i % 7),
            &format!("value=v{i}"),
        );
        assert_eq!(st, 201, "v2 set: {body}");
    }
    v2(lport, "PUT", "/v2/keys/_hidden", "value=h");
    let (st, cas_index, body) = v2(
        lport,
        "PUT",
        "/v2/keys/dir1/k1?prevValue=v1",
        "value=swapped",
    );
    assert_eq!(st, 200, "v2 compare-and-swap: {body}");
    v2(lport, "DELETE", "/v2/keys/dir2?recursive=true", "");

    // Then more raft entries than the leader keeps in memory, through v3.
    let c = clients[leader].clone();
    within(300, "v3 load", async move {
        for i in 0..11_000 {
            c.put_kv(format!("fill/{:05}", i % 500), format!("{i}"))
                .await
                .expect("v3 put");
        }
    })
    .await;

    let v = all.iter().copied().find(|&i| i != leader).unwrap();
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != v).collect();
    let mut cluster = clients[leader].cluster();
    rpc(
        Duration::from_secs(10),
        cluster.member_remove(MemberRemoveRequest { id: ids[v] }),
    )
    .await
    .expect("member remove");
    assert!(cl.members[v].wait_exit(Duration::from_secs(10)).is_some());
    std::fs::remove_dir_all(cl.members[v].data_dir()).expect("wipe");
    let peer_url = cl.members[v].peer_url();
    let added = rpc(
        Duration::from_secs(10),
        cluster.member_add(MemberAddRequest {
            peer_ur_ls: vec![peer_url.clone()],
            is_learner: false,
        }),
    )
    .await
    .expect("member add");
    ids[v] = added.member.map_or(0, |m| m.id);
    let initial = format!(
        "{},{}={peer_url}",
        cl.initial_cluster_of(&others),
        cl.members[v].name()
    );
    let cfg = cl.config(
        cl.members[v].name(),
        cl.members[v].ports(),
        &initial,
        "existing",
    );
    cl.members[v] = cl.new_member(&cfg);
    cl.members[v].launch();
    cl.members[v].wait_ready(crate::common::READY_TIMEOUT);
    clients[v] = connect(&cl.members[v]).await;
    let vport = cl.members[v].client_port();

    let (_, leader_index, leader_tree) =
        v2(lport, "GET", "/v2/keys/?recursive=true&sorted=true", "");
    let restored = eventually(
        Duration::from_secs(20),
        "the v2 tree on the restored member",
        || async {
            let (st, index, tree) = v2(vport, "GET", "/v2/keys/?recursive=true&sorted=true", "");
            if st == 200 && index == leader_index {
                Ok(tree)
            } else {
                Err(format!(
                    "status {st}, index {index} (leader: {leader_index})"
                ))
            }
        },
    )
    .await;
    assert_eq!(
        restored, leader_tree,
        "the restored member's v2 tree differs"
    );
    assert!(restored.contains("\"value\":\"swapped\"") && !restored.contains("/dir2/"));
    let (_, _, hidden) = v2(vport, "GET", "/v2/keys/_hidden", "");
    assert!(hidden.contains("\"value\":\"h\""), "hidden key: {hidden}");
    // The history came along: a watch from an old index is answered from it.
    let (st, _, event) = v2(
        vport,
        "GET",
        &format!("/v2/keys/dir1/k1?wait=true&waitIndex={cas_index}"),
        "",
    );
    assert_eq!(st, 200);
    assert!(
        event.contains("\"action\":\"compareAndSwap\""),
        "history event: {event}"
    );
    // And it takes v2 writes as a member again.
    let (st, index, body) = v2(vport, "PUT", "/v2/keys/after", "value=1");
    assert_eq!(st, 201, "{body}");
    assert_eq!(index, leader_index + 1);
}
