//! The `fields` format: one `"Name" : value` line per field, with byte
//! strings Go-quoted. Nested responses of a transaction repeat their own
//! (mostly zero) headers, as etcdctl shows them.

use std::io::Write;

use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseTimeToLiveResponse, MemberListResponse, PutResponse, RangeResponse,
    ResponseHeader, TxnResponse, WatchResponse,
};
use ectd_client::proto::mvccpb::KeyValue;

use super::{event_type_name, EndpointHealth, EndpointStatus};
use crate::ectl::gostr::quote;

pub fn range(out: &mut Vec<u8>, resp: &RangeResponse) {
    header(out, &resp.header);
    for kv in &resp.kvs {
        key_value(out, "", kv);
    }
    let _ = writeln!(out, "\"More\" : {}", resp.more);
    let _ = writeln!(out, "\"Count\" : {}", resp.count);
}

pub fn put(out: &mut Vec<u8>, resp: &PutResponse) {
    header(out, &resp.header);
    if let Some(prev) = &resp.prev_kv {
        key_value(out, "Prev", prev);
    }
}

pub fn delete(out: &mut Vec<u8>, resp: &DeleteRangeResponse) {
    header(out, &resp.header);
    let _ = writeln!(out, "\"Deleted\" : {}", resp.deleted);
    for prev in &resp.prev_kvs {
        key_value(out, "Prev", prev);
    }
}

pub fn txn(out: &mut Vec<u8>, resp: &TxnResponse) {
    header(out, &resp.header);
    let _ = writeln!(out, "\"Succeeded\" : {}", resp.succeeded);
    for op in &resp.responses {
        match &op.response {
            Some(response_op::Response::ResponseRange(r)) => range(out, r),
            Some(response_op::Response::ResponsePut(r)) => put(out, r),
            Some(response_op::Response::ResponseDeleteRange(r)) => delete(out, r),
            Some(response_op::Response::ResponseTxn(r)) => txn(out, r),
            None => {
                let _ = writeln!(out, "\"Unknown\" : \"<nil>\"");
            }
        }
    }
}

/// The header, then each event: its type, the previous key-value pair if
/// any (`Prev…`), the key-value pair.
pub fn watch(out: &mut Vec<u8>, resp: &WatchResponse) {
    header(out, &resp.header);
    for event in &resp.events {
        let _ = writeln!(out, "\"Type\" : {}", event_type_name(event.r#type));
        if let Some(prev) = &event.prev_kv {
            key_value(out, "Prev", prev);
        }
        if let Some(kv) = &event.kv {
            key_value(out, "", kv);
        }
    }
}

pub fn lease_grant(out: &mut Vec<u8>, resp: &LeaseGrantResponse) {
    header(out, &resp.header);
    let _ = writeln!(out, "\"ID\" : {}", resp.id);
    let _ = writeln!(out, "\"TTL\" : {}", resp.ttl);
}

pub fn lease_keep_alive(out: &mut Vec<u8>, resp: &LeaseKeepAliveResponse) {
    header(out, &resp.header);
    let _ = writeln!(out, "\"ID\" : {}", resp.id);
    let _ = writeln!(out, "\"TTL\" : {}", resp.ttl);
}

/// The attached keys are listed whether or not `--keys` asked for them
/// (without it the server sends none).
pub fn lease_time_to_live(out: &mut Vec<u8>, resp: &LeaseTimeToLiveResponse) {
    header(out, &resp.header);
    let _ = writeln!(out, "\"ID\" : {}", resp.id);
    let _ = writeln!(out, "\"TTL\" : {}", resp.ttl);
    let _ = writeln!(out, "\"GrantedTTL\" : {}", resp.granted_ttl);
    for key in &resp.keys {
        let _ = writeln!(out, "\"Key\" : {}", quote(key));
    }
}

pub fn lease_leases(out: &mut Vec<u8>, resp: &LeaseLeasesResponse) {
    header(out, &resp.header);
    for lease in &resp.leases {
        let _ = writeln!(out, "\"ID\" : {}", lease.id);
    }
}

/// The header, then one block per member, each ended by an empty line.
pub fn member_list(out: &mut Vec<u8>, resp: &MemberListResponse) {
    header(out, &resp.header);
    for m in &resp.members {
        let _ = writeln!(out, "\"ID\" : {}", m.id);
        let _ = writeln!(out, "\"Name\" : {}", quote(m.name.as_bytes()));
        for url in &m.peer_ur_ls {
            let _ = writeln!(out, "\"PeerURL\" : {}", quote(url.as_bytes()));
        }
        for url in &m.client_ur_ls {
            let _ = writeln!(out, "\"ClientURL\" : {}", quote(url.as_bytes()));
        }
        let _ = writeln!(out, "\"IsLearner\" : {}", m.is_learner);
        out.push(b'\n');
    }
}

/// One block per endpoint; the took and error texts are not quoted.
pub fn endpoint_health(out: &mut Vec<u8>, list: &[EndpointHealth]) {
    for h in list {
        let _ = writeln!(out, "\"Endpoint\" : {}", quote(h.endpoint.as_bytes()));
        let _ = writeln!(out, "\"Health\" : {}", h.health);
        let _ = writeln!(out, "\"Took\" : {}", h.took);
        let _ = writeln!(out, "\"Error\" : {}", h.error);
        out.push(b'\n');
    }
}

/// One block per endpoint, its header first and its address last. Alarms
/// are listed the way Go prints a slice of strings: `[a b]`.
pub fn endpoint_status(out: &mut Vec<u8>, list: &[EndpointStatus]) {
    for ep in list {
        let s = &ep.status;
        header(out, &s.header);
        let _ = writeln!(out, "\"Version\" : {}", quote(s.version.as_bytes()));
        let _ = writeln!(out, "\"DBSize\" : {}", s.db_size);
        let _ = writeln!(out, "\"Leader\" : {}", s.leader);
        let _ = writeln!(out, "\"IsLearner\" : {}", s.is_learner);
        let _ = writeln!(out, "\"RaftIndex\" : {}", s.raft_index);
        let _ = writeln!(out, "\"RaftTerm\" : {}", s.raft_term);
        let _ = writeln!(out, "\"RaftAppliedIndex\" : {}", s.raft_applied_index);
        let _ = writeln!(out, "\"Errors\" : [{}]", s.errors.join(" "));
        let _ = writeln!(out, "\"Endpoint\" : {}", quote(ep.endpoint.as_bytes()));
        out.push(b'\n');
    }
}

pub(super) fn header(out: &mut Vec<u8>, header: &Option<ResponseHeader>) {
    let h = header.unwrap_or_default();
    let _ = writeln!(out, "\"ClusterID\" : {}", h.cluster_id);
    let _ = writeln!(out, "\"MemberID\" : {}", h.member_id);
    let _ = writeln!(out, "\"Revision\" : {}", h.revision);
    let _ = writeln!(out, "\"RaftTerm\" : {}", h.raft_term);
}

pub(super) fn key_value(out: &mut Vec<u8>, prefix: &str, kv: &KeyValue) {
    let _ = writeln!(out, "\"{prefix}Key\" : {}", quote(&kv.key));
    let _ = writeln!(out, "\"{prefix}CreateRevision\" : {}", kv.create_revision);
    let _ = writeln!(out, "\"{prefix}ModRevision\" : {}", kv.mod_revision);
    let _ = writeln!(out, "\"{prefix}Version\" : {}", kv.version);
    let _ = writeln!(out, "\"{prefix}Value\" : {}", quote(&kv.value));
    let _ = writeln!(out, "\"{prefix}Lease\" : {}", kv.lease);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_client::proto::etcdserverpb::ResponseOp;

    #[test]
    fn put_with_prev_kv() {
        let resp = PutResponse {
            header: Some(ResponseHeader {
                cluster_id: 1,
                member_id: 2,
                revision: 16,
                raft_term: 2,
            }),
            prev_kv: Some(KeyValue {
                key: b"foo".to_vec(),
                create_revision: 2,
                mod_revision: 15,
                version: 6,
                value: b"x".to_vec(),
                lease: 0,
            }),
        };
        let mut out = Vec::new();
        put(&mut out, &resp);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"ClusterID\" : 1\n\"MemberID\" : 2\n\"Revision\" : 16\n\"RaftTerm\" : 2\n\
             \"PrevKey\" : \"foo\"\n\"PrevCreateRevision\" : 2\n\"PrevModRevision\" : 15\n\
             \"PrevVersion\" : 6\n\"PrevValue\" : \"x\"\n\"PrevLease\" : 0\n"
        );
    }

    #[test]
    fn txn_with_nested_range() {
        let resp = TxnResponse {
            header: None,
            succeeded: false,
            responses: vec![ResponseOp {
                response: Some(response_op::Response::ResponseRange(RangeResponse {
                    header: Some(ResponseHeader {
                        revision: 53,
                        ..Default::default()
                    }),
                    ..Default::default()
                })),
            }],
        };
        let mut out = Vec::new();
        txn(&mut out, &resp);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"ClusterID\" : 0\n\"MemberID\" : 0\n\"Revision\" : 0\n\"RaftTerm\" : 0\n\
             \"Succeeded\" : false\n\
             \"ClusterID\" : 0\n\"MemberID\" : 0\n\"Revision\" : 53\n\"RaftTerm\" : 0\n\
             \"More\" : false\n\"Count\" : 0\n"
        );
    }

    #[test]
    fn keys_are_go_quoted() {
        let mut out = Vec::new();
        key_value(
            &mut out,
            "",
            &KeyValue {
                key: b"a\x01\"".to_vec(),
                ..Default::default()
            },
        );
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("\"Key\" : \"a\\x01\\\"\"\n"));
    }

    #[test]
    fn watch_and_lease_blocks_like_etcdctl() {
        use ectd_client::proto::mvccpb::Event;
        let hdr = Some(ResponseHeader {
            cluster_id: 1,
            member_id: 2,
            revision: 6,
            raft_term: 3,
        });
        let resp = WatchResponse {
            header: hdr,
            events: vec![Event {
                r#type: 1,
                kv: Some(KeyValue {
                    key: b"w/a".to_vec(),
                    mod_revision: 6,
                    ..Default::default()
                }),
                prev_kv: None,
            }],
            ..Default::default()
        };
        let mut out = Vec::new();
        watch(&mut out, &resp);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"ClusterID\" : 1\n\"MemberID\" : 2\n\"Revision\" : 6\n\"RaftTerm\" : 3\n\
             \"Type\" : DELETE\n\"Key\" : \"w/a\"\n\"CreateRevision\" : 0\n\"ModRevision\" : 6\n\
             \"Version\" : 0\n\"Value\" : \"\"\n\"Lease\" : 0\n"
        );
        let mut out = Vec::new();
        lease_time_to_live(
            &mut out,
            &LeaseTimeToLiveResponse {
                header: hdr,
                id: 7,
                ttl: 96,
                granted_ttl: 100,
                keys: vec![b"k1".to_vec()],
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"ClusterID\" : 1\n\"MemberID\" : 2\n\"Revision\" : 6\n\"RaftTerm\" : 3\n\
             \"ID\" : 7\n\"TTL\" : 96\n\"GrantedTTL\" : 100\n\"Key\" : \"k1\"\n"
        );
    }

    #[test]
    fn endpoint_blocks_like_etcdctl() {
        use ectd_client::proto::etcdserverpb::StatusResponse;
        let mut out = Vec::new();
        endpoint_health(
            &mut out,
            &[EndpointHealth {
                endpoint: "127.0.0.1:42455".into(),
                health: true,
                took: "1.587151ms".into(),
                error: String::new(),
            }],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"Endpoint\" : \"127.0.0.1:42455\"\n\"Health\" : true\n\
             \"Took\" : 1.587151ms\n\"Error\" : \n\n"
        );
        let mut out = Vec::new();
        endpoint_status(
            &mut out,
            &[EndpointStatus {
                endpoint: "127.0.0.1:42455".into(),
                status: StatusResponse {
                    header: Some(ResponseHeader {
                        cluster_id: 8,
                        member_id: 5,
                        revision: 1,
                        raft_term: 2,
                    }),
                    version: "3.4.23".into(),
                    db_size: 20480,
                    leader: 5,
                    raft_index: 8,
                    raft_term: 2,
                    raft_applied_index: 8,
                    errors: vec!["a".into(), "b c".into()],
                    ..Default::default()
                },
            }],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"ClusterID\" : 8\n\"MemberID\" : 5\n\"Revision\" : 1\n\"RaftTerm\" : 2\n\
             \"Version\" : \"3.4.23\"\n\"DBSize\" : 20480\n\"Leader\" : 5\n\
             \"IsLearner\" : false\n\"RaftIndex\" : 8\n\"RaftTerm\" : 2\n\
             \"RaftAppliedIndex\" : 8\n\"Errors\" : [a b c]\n\
             \"Endpoint\" : \"127.0.0.1:42455\"\n\n"
        );
    }
}
