//! The `fields` format: one `"Name" : value` line per field, with byte
//! strings Go-quoted. Nested responses of a transaction repeat their own
//! (mostly zero) headers, as etcdctl shows them.

use std::io::Write;

use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeResponse, PutResponse, RangeResponse, ResponseHeader, TxnResponse,
};
use ectd_client::proto::mvccpb::KeyValue;

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

fn header(out: &mut Vec<u8>, header: &Option<ResponseHeader>) {
    let h = header.unwrap_or_default();
    let _ = writeln!(out, "\"ClusterID\" : {}", h.cluster_id);
    let _ = writeln!(out, "\"MemberID\" : {}", h.member_id);
    let _ = writeln!(out, "\"Revision\" : {}", h.revision);
    let _ = writeln!(out, "\"RaftTerm\" : {}", h.raft_term);
}

fn key_value(out: &mut Vec<u8>, prefix: &str, kv: &KeyValue) {
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
}
