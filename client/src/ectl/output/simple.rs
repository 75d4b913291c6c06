//! The `simple` format: keys and values as raw bytes, one per line.

use std::io::Write;

use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseTimeToLiveResponse, Member, MemberAddResponse, PutResponse,
    RangeResponse, RequestOp, ResponseHeader, TxnResponse, WatchResponse,
};
use ectd_client::proto::mvccpb::KeyValue;

use super::{
    event_type_name, executed_branch, rows, view_of, EndpointHealth, EndpointStatus, GetView,
};
use crate::ectl::gostr::{hex_id, quote};

pub fn range(out: &mut Vec<u8>, resp: &RangeResponse, hex: bool, view: GetView) {
    if view.count_only {
        // etcdctl 3.4 has no `--count-only`; the count is the whole answer.
        let _ = writeln!(out, "{}", resp.count);
        return;
    }
    for kv in &resp.kvs {
        key_value(out, kv, hex, view.value_only);
    }
}

pub fn put(out: &mut Vec<u8>, resp: &PutResponse, hex: bool) {
    out.extend_from_slice(b"OK\n");
    if let Some(prev) = &resp.prev_kv {
        key_value(out, prev, hex, false);
    }
}

pub fn delete(out: &mut Vec<u8>, resp: &DeleteRangeResponse, hex: bool) {
    let _ = writeln!(out, "{}", resp.deleted);
    for prev in &resp.prev_kvs {
        key_value(out, prev, hex, false);
    }
}

/// `SUCCESS` or `FAILURE`, then each response as its stand-alone command
/// prints it, each preceded by an empty line.
pub fn txn(out: &mut Vec<u8>, resp: &TxnResponse, hex: bool, ops: &[RequestOp]) {
    out.extend_from_slice(if resp.succeeded {
        b"SUCCESS\n"
    } else {
        b"FAILURE\n"
    });
    for (i, op_resp) in resp.responses.iter().enumerate() {
        out.push(b'\n');
        let op = ops.get(i);
        match &op_resp.response {
            Some(response_op::Response::ResponseRange(r)) => range(out, r, hex, view_of(op)),
            Some(response_op::Response::ResponsePut(r)) => put(out, r, hex),
            Some(response_op::Response::ResponseDeleteRange(r)) => delete(out, r, hex),
            Some(response_op::Response::ResponseTxn(r)) => {
                txn(out, r, hex, executed_branch(op, r.succeeded))
            }
            None => out.extend_from_slice(b"unexpected response {Response:<nil>}\n"),
        }
    }
}

/// Each event as its type (`PUT`, `DELETE`), then the previous key-value
/// pair if the watch asked for it, then the key-value pair.
pub fn watch(out: &mut Vec<u8>, resp: &WatchResponse, hex: bool) {
    for event in &resp.events {
        let _ = writeln!(out, "{}", event_type_name(event.r#type));
        if let Some(prev) = &event.prev_kv {
            key_value(out, prev, hex, false);
        }
        if let Some(kv) = &event.kv {
            key_value(out, kv, hex, false);
        }
    }
}

pub fn lease_grant(out: &mut Vec<u8>, resp: &LeaseGrantResponse) {
    let _ = writeln!(
        out,
        "lease {} granted with TTL({}s)",
        hex_id(resp.id),
        resp.ttl
    );
}

pub fn lease_revoke(out: &mut Vec<u8>, id: i64) {
    let _ = writeln!(out, "lease {} revoked", hex_id(id));
}

pub fn lease_keep_alive(out: &mut Vec<u8>, resp: &LeaseKeepAliveResponse) {
    let _ = writeln!(
        out,
        "lease {} keepalived with TTL({})",
        hex_id(resp.id),
        resp.ttl
    );
}

/// A lease the server does not know is reported as expired; the attached
/// keys are listed raw, separated by spaces, as Go prints a `[]string`.
pub fn lease_time_to_live(out: &mut Vec<u8>, resp: &LeaseTimeToLiveResponse, keys: bool) {
    if resp.granted_ttl == 0 && resp.ttl == -1 {
        let _ = writeln!(out, "lease {} already expired", hex_id(resp.id));
        return;
    }
    let _ = write!(
        out,
        "lease {} granted with TTL({}s), remaining({}s)",
        hex_id(resp.id),
        resp.granted_ttl,
        resp.ttl
    );
    if keys {
        out.extend_from_slice(b", attached keys([");
        for (i, key) in resp.keys.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(key);
        }
        out.extend_from_slice(b"])");
    }
    out.push(b'\n');
}

pub fn lease_leases(out: &mut Vec<u8>, resp: &LeaseLeasesResponse) {
    let _ = writeln!(out, "found {} leases", resp.leases.len());
    for lease in &resp.leases {
        let _ = writeln!(out, "{}", hex_id(lease.id));
    }
}

pub fn member_list(out: &mut Vec<u8>, members: &[Member]) {
    joined_rows(out, rows::members(members));
}

/// The confirmation, then the settings the new member has to be started
/// with, ready to be sourced by a shell: its name, the whole cluster (the
/// new member under the name given here, since it has not published one
/// yet) and the state `existing`.
pub fn member_add(out: &mut Vec<u8>, resp: &MemberAddResponse, name: &[u8], peer_urls: &str) {
    let id = resp.member.as_ref().map_or(0, |m| m.id);
    let cluster_id = resp.header.map_or(0, |h| h.cluster_id);
    let _ = writeln!(out, "Member {id:16x} added to cluster {cluster_id:16x}");
    let mut cluster = Vec::new();
    for member in &resp.members {
        let member_name = if member.id == id {
            name
        } else {
            member.name.as_bytes()
        };
        for url in &member.peer_ur_ls {
            if !cluster.is_empty() {
                cluster.push(b',');
            }
            cluster.extend_from_slice(member_name);
            cluster.push(b'=');
            cluster.extend_from_slice(url.as_bytes());
        }
    }
    let _ = writeln!(out, "\nETCD_NAME={}", quote(name));
    let _ = writeln!(out, "ETCD_INITIAL_CLUSTER={}", quote(&cluster));
    let _ = writeln!(
        out,
        "ETCD_INITIAL_ADVERTISE_PEER_URLS={}",
        quote(peer_urls.as_bytes())
    );
    out.extend_from_slice(b"ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n");
}

/// `Member <id> removed from cluster <cluster id>` and its siblings, with
/// both IDs in hex padded to 16 columns.
pub fn member_changed(out: &mut Vec<u8>, id: u64, change: &str, header: &Option<ResponseHeader>) {
    let cluster_id = header.map_or(0, |h| h.cluster_id);
    let _ = writeln!(out, "Member {id:16x} {change} cluster {cluster_id:16x}");
}

/// etcdctl reports health on stderr, so `diag` is meant for stderr.
pub fn endpoint_health(diag: &mut Vec<u8>, list: &[EndpointHealth]) {
    for h in list {
        if h.error.is_empty() {
            let _ = writeln!(
                diag,
                "{} is healthy: successfully committed proposal: took = {}",
                h.endpoint, h.took
            );
        } else {
            let _ = writeln!(
                diag,
                "{} is unhealthy: failed to commit proposal: {}",
                h.endpoint, h.error
            );
        }
    }
}

pub fn endpoint_status(out: &mut Vec<u8>, list: &[EndpointStatus]) {
    joined_rows(out, rows::status(list));
}

pub fn move_leader(out: &mut Vec<u8>, leader: u64, target: u64) {
    let _ = writeln!(out, "Leadership transferred from {leader:x} to {target:x}");
}

fn joined_rows(out: &mut Vec<u8>, rows: Vec<Vec<String>>) {
    for row in rows {
        let _ = writeln!(out, "{}", row.join(", "));
    }
}

fn key_value(out: &mut Vec<u8>, kv: &KeyValue, hex: bool, value_only: bool) {
    if !value_only {
        bytes(out, &kv.key, hex);
        out.push(b'\n');
    }
    bytes(out, &kv.value, hex);
    out.push(b'\n');
}

fn bytes(out: &mut Vec<u8>, data: &[u8], hex: bool) {
    if hex {
        for byte in data {
            let _ = write!(out, "\\x{byte:02x}");
        }
    } else {
        out.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_client::proto::etcdserverpb::{request_op, RangeRequest, ResponseOp};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        }
    }

    #[test]
    fn get_prints_keys_and_values() {
        let resp = RangeResponse {
            kvs: vec![kv("a", "1"), kv("b", "")],
            count: 2,
            ..Default::default()
        };
        let mut out = Vec::new();
        range(&mut out, &resp, false, GetView::default());
        assert_eq!(out, b"a\n1\nb\n\n");

        let mut out = Vec::new();
        let view = GetView {
            value_only: true,
            count_only: false,
        };
        range(&mut out, &resp, false, view);
        assert_eq!(out, b"1\n\n");

        let mut out = Vec::new();
        range(&mut out, &resp, true, GetView::default());
        assert_eq!(out, b"\\x61\n\\x31\n\\x62\n\n");

        let mut out = Vec::new();
        let view = GetView {
            value_only: false,
            count_only: true,
        };
        range(&mut out, &resp, false, view);
        assert_eq!(out, b"2\n");
    }

    #[test]
    fn put_and_del() {
        let mut out = Vec::new();
        put(&mut out, &PutResponse::default(), false);
        assert_eq!(out, b"OK\n");
        let mut out = Vec::new();
        let resp = PutResponse {
            prev_kv: Some(kv("foo", "bar")),
            ..Default::default()
        };
        put(&mut out, &resp, false);
        assert_eq!(out, b"OK\nfoo\nbar\n");
        let mut out = Vec::new();
        let resp = DeleteRangeResponse {
            deleted: 2,
            prev_kvs: vec![kv("a", "1"), kv("b", "2")],
            ..Default::default()
        };
        delete(&mut out, &resp, false);
        assert_eq!(out, b"2\na\n1\nb\n2\n");
    }

    #[test]
    fn txn_separates_responses_with_blank_lines() {
        let resp = TxnResponse {
            succeeded: false,
            responses: vec![
                ResponseOp {
                    response: Some(response_op::Response::ResponsePut(PutResponse::default())),
                },
                ResponseOp {
                    response: Some(response_op::Response::ResponseRange(RangeResponse {
                        kvs: vec![kv("k", "v")],
                        count: 1,
                        ..Default::default()
                    })),
                },
                ResponseOp {
                    response: Some(response_op::Response::ResponseRange(RangeResponse {
                        count: 7,
                        ..Default::default()
                    })),
                },
            ],
            ..Default::default()
        };
        let ops = vec![
            RequestOp::default(),
            RequestOp::default(),
            RequestOp {
                request: Some(request_op::Request::RequestRange(RangeRequest {
                    count_only: true,
                    ..Default::default()
                })),
            },
        ];
        let mut out = Vec::new();
        txn(&mut out, &resp, false, &ops);
        assert_eq!(out, b"FAILURE\n\nOK\n\nk\nv\n\n7\n");
    }

    #[test]
    fn watch_events_with_previous_values() {
        use ectd_client::proto::mvccpb::Event;
        let resp = WatchResponse {
            events: vec![
                Event {
                    r#type: 0,
                    kv: Some(kv("k", "2")),
                    prev_kv: Some(kv("k", "1")),
                },
                Event {
                    r#type: 1,
                    kv: Some(kv("k", "")),
                    prev_kv: None,
                },
            ],
            ..Default::default()
        };
        let mut out = Vec::new();
        watch(&mut out, &resp, false);
        assert_eq!(out, b"PUT\nk\n1\nk\n2\nDELETE\nk\n\n");
        let mut out = Vec::new();
        watch(&mut out, &resp, true);
        assert!(out.starts_with(b"PUT\n\\x6b\n\\x31\n"));
    }

    #[test]
    fn lease_lines_like_etcdctl() {
        use ectd_client::proto::etcdserverpb::LeaseStatus;
        let mut out = Vec::new();
        lease_grant(
            &mut out,
            &LeaseGrantResponse {
                id: 0x694d_77aa_9e1e_4e0b,
                ttl: 10,
                ..Default::default()
            },
        );
        lease_revoke(&mut out, 0x1234);
        lease_keep_alive(
            &mut out,
            &LeaseKeepAliveResponse {
                id: 0x1234,
                ttl: 100,
                ..Default::default()
            },
        );
        let ttl = LeaseTimeToLiveResponse {
            id: 0x1234,
            ttl: 96,
            granted_ttl: 100,
            keys: vec![b"k1".to_vec(), b"k2".to_vec()],
            ..Default::default()
        };
        lease_time_to_live(&mut out, &ttl, false);
        lease_time_to_live(&mut out, &ttl, true);
        let expired = LeaseTimeToLiveResponse {
            id: 0x1234,
            ttl: -1,
            ..Default::default()
        };
        lease_time_to_live(&mut out, &expired, true);
        lease_leases(
            &mut out,
            &LeaseLeasesResponse {
                header: None,
                leases: vec![LeaseStatus { id: 5 }],
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "lease 694d77aa9e1e4e0b granted with TTL(10s)\n\
             lease 0000000000001234 revoked\n\
             lease 0000000000001234 keepalived with TTL(100)\n\
             lease 0000000000001234 granted with TTL(100s), remaining(96s)\n\
             lease 0000000000001234 granted with TTL(100s), remaining(96s), attached keys([k1 k2])\n\
             lease 0000000000001234 already expired\n\
             found 1 leases\n\
             0000000000000005\n"
        );
    }

    #[test]
    fn member_add_prints_the_new_members_settings() {
        let member = |id: u64, name: &str, url: &str| Member {
            id,
            name: name.into(),
            peer_ur_ls: vec![url.into()],
            ..Default::default()
        };
        let resp = MemberAddResponse {
            header: Some(ResponseHeader {
                cluster_id: 0x7521_ffe6_d20b_494a,
                ..Default::default()
            }),
            member: Some(member(0x0373_6440_f3fa_14c7, "", "http://127.0.0.1:39697")),
            members: vec![
                member(0x481d, "m1", "http://127.0.0.1:37621"),
                member(0x0373_6440_f3fa_14c7, "", "http://127.0.0.1:39697"),
            ],
        };
        let mut out = Vec::new();
        member_add(&mut out, &resp, b"m4", "http://127.0.0.1:39697");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Member  3736440f3fa14c7 added to cluster 7521ffe6d20b494a\n\n\
             ETCD_NAME=\"m4\"\n\
             ETCD_INITIAL_CLUSTER=\"m1=http://127.0.0.1:37621,m4=http://127.0.0.1:39697\"\n\
             ETCD_INITIAL_ADVERTISE_PEER_URLS=\"http://127.0.0.1:39697\"\n\
             ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n"
        );
        let mut out = Vec::new();
        member_changed(&mut out, 0xa37, "removed from", &resp.header);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Member              a37 removed from cluster 7521ffe6d20b494a\n"
        );
    }

    #[test]
    fn health_and_leadership() {
        let mut diag = Vec::new();
        let healthy = EndpointHealth {
            endpoint: "127.0.0.1:2379".into(),
            health: true,
            took: "6.30505ms".into(),
            error: String::new(),
        };
        let unhealthy = EndpointHealth {
            endpoint: "127.0.0.1:1".into(),
            health: false,
            took: "5s".into(),
            error: "context deadline exceeded".into(),
        };
        endpoint_health(&mut diag, &[healthy, unhealthy]);
        assert_eq!(
            String::from_utf8(diag).unwrap(),
            "127.0.0.1:2379 is healthy: successfully committed proposal: took = 6.30505ms\n\
             127.0.0.1:1 is unhealthy: failed to commit proposal: context deadline exceeded\n"
        );
        let mut out = Vec::new();
        move_leader(&mut out, 0x481d_269a_2381_9833, 0xc64c);
        assert_eq!(
            out,
            b"Leadership transferred from 481d269a23819833 to c64c\n"
        );
    }
}
