//! The `json` format: the response message encoded the way Go's
//! `encoding/json` encodes etcd's generated structs. That fixes the details
//! clients rely on: snake_case field names in proto order, zero values
//! omitted, bytes in padded standard base64, 64-bit integers as bare numbers,
//! and `ResponseOp` wrapped as `{"Response":{"ResponsePut":{…}}}`.

use std::fmt::Write;

use base64::Engine;
use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeResponse, PutResponse, RangeResponse, ResponseHeader, ResponseOp,
    TxnResponse,
};
use ectd_client::proto::mvccpb::KeyValue;

/// Appends `json` and the newline etcdctl ends it with.
pub fn line(out: &mut Vec<u8>, json: String) {
    out.extend_from_slice(json.as_bytes());
    out.push(b'\n');
}

pub fn range(resp: &RangeResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    obj.array("kvs", resp.kvs.iter().map(key_value));
    obj.bool("more", resp.more);
    obj.int("count", resp.count);
    obj.finish()
}

pub fn put(resp: &PutResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    if let Some(prev) = &resp.prev_kv {
        obj.raw("prev_kv", &key_value(prev));
    }
    obj.finish()
}

pub fn delete(resp: &DeleteRangeResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    obj.int("deleted", resp.deleted);
    obj.array("prev_kvs", resp.prev_kvs.iter().map(key_value));
    obj.finish()
}

pub fn txn(resp: &TxnResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    obj.bool("succeeded", resp.succeeded);
    obj.array("responses", resp.responses.iter().map(response_op));
    obj.finish()
}

fn response_op(op: &ResponseOp) -> String {
    let (name, body) = match &op.response {
        Some(response_op::Response::ResponseRange(r)) => ("ResponseRange", range(r)),
        Some(response_op::Response::ResponsePut(r)) => ("ResponsePut", put(r)),
        Some(response_op::Response::ResponseDeleteRange(r)) => ("ResponseDeleteRange", delete(r)),
        Some(response_op::Response::ResponseTxn(r)) => ("ResponseTxn", txn(r)),
        // An unset oneof is a nil interface in Go, encoded as null.
        None => return r#"{"Response":null}"#.to_string(),
    };
    format!(r#"{{"Response":{{"{name}":{body}}}}}"#)
}

fn header_object(header: &ResponseHeader) -> String {
    let mut obj = Object::default();
    obj.uint("cluster_id", header.cluster_id);
    obj.uint("member_id", header.member_id);
    obj.int("revision", header.revision);
    obj.uint("raft_term", header.raft_term);
    obj.finish()
}

fn key_value(kv: &KeyValue) -> String {
    let mut obj = Object::default();
    obj.bytes("key", &kv.key);
    obj.int("create_revision", kv.create_revision);
    obj.int("mod_revision", kv.mod_revision);
    obj.int("version", kv.version);
    obj.bytes("value", &kv.value);
    obj.int("lease", kv.lease);
    obj.finish()
}

/// A JSON object whose members are all `omitempty`. Keys and base64 text
/// never need escaping, so members are written directly.
#[derive(Default)]
struct Object {
    body: String,
}

impl Object {
    fn raw(&mut self, key: &str, value: &str) {
        if !self.body.is_empty() {
            self.body.push(',');
        }
        let _ = write!(self.body, "\"{key}\":{value}");
    }

    fn header(&mut self, header: &Option<ResponseHeader>) {
        if let Some(h) = header {
            self.raw("header", &header_object(h));
        }
    }

    fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.raw(key, &value.to_string());
        }
    }

    fn uint(&mut self, key: &str, value: u64) {
        if value != 0 {
            self.raw(key, &value.to_string());
        }
    }

    fn bool(&mut self, key: &str, value: bool) {
        if value {
            self.raw(key, "true");
        }
    }

    fn bytes(&mut self, key: &str, value: &[u8]) {
        if !value.is_empty() {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            self.raw(key, &format!("\"{encoded}\""));
        }
    }

    fn array(&mut self, key: &str, items: impl Iterator<Item = String>) {
        let items: Vec<String> = items.collect();
        if !items.is_empty() {
            self.raw(key, &format!("[{}]", items.join(",")));
        }
    }

    fn finish(self) -> String {
        format!("{{{}}}", self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: 15118495548433857066,
            member_id: 13668033151171901709,
            revision,
            raft_term: 2,
        })
    }

    #[test]
    fn range_matches_etcdctl() {
        let resp = RangeResponse {
            header: hdr(3),
            kvs: vec![KeyValue {
                key: b"foo".to_vec(),
                create_revision: 2,
                mod_revision: 3,
                version: 2,
                value: b"bar2".to_vec(),
                lease: 0,
            }],
            more: false,
            count: 1,
        };
        assert_eq!(
            range(&resp),
            r#"{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":3,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmFyMg=="}],"count":1}"#
        );
    }

    #[test]
    fn zero_values_are_omitted() {
        assert_eq!(
            range(&RangeResponse {
                header: hdr(11),
                ..Default::default()
            }),
            r#"{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":11,"raft_term":2}}"#
        );
        assert_eq!(put(&PutResponse::default()), "{}");
        assert_eq!(
            put(&PutResponse {
                header: Some(ResponseHeader::default()),
                prev_kv: Some(KeyValue::default()),
            }),
            r#"{"header":{},"prev_kv":{}}"#
        );
    }

    #[test]
    fn delete_with_prev_kvs() {
        let resp = DeleteRangeResponse {
            header: hdr(24),
            deleted: 1,
            prev_kvs: vec![KeyValue {
                key: b"a".to_vec(),
                create_revision: 5,
                mod_revision: 12,
                version: 2,
                value: b"b".to_vec(),
                lease: 4111120161794475060,
            }],
        };
        assert_eq!(
            delete(&resp),
            r#"{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":24,"raft_term":2},"deleted":1,"prev_kvs":[{"key":"YQ==","create_revision":5,"mod_revision":12,"version":2,"value":"Yg==","lease":4111120161794475060}]}"#
        );
    }

    #[test]
    fn txn_wraps_each_response() {
        let inner = |revision| {
            Some(ResponseHeader {
                revision,
                ..Default::default()
            })
        };
        let resp = TxnResponse {
            header: hdr(35),
            succeeded: true,
            responses: vec![
                ResponseOp {
                    response: Some(response_op::Response::ResponsePut(PutResponse {
                        header: inner(35),
                        prev_kv: None,
                    })),
                },
                ResponseOp {
                    response: Some(response_op::Response::ResponseDeleteRange(
                        DeleteRangeResponse {
                            header: inner(35),
                            deleted: 1,
                            prev_kvs: vec![],
                        },
                    )),
                },
                ResponseOp { response: None },
            ],
        };
        assert_eq!(
            txn(&resp),
            r#"{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":35,"raft_term":2},"succeeded":true,"responses":[{"Response":{"ResponsePut":{"header":{"revision":35}}}},{"Response":{"ResponseDeleteRange":{"header":{"revision":35},"deleted":1}}},{"Response":null}]}"#
        );
    }
}
