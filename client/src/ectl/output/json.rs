//! The `json` format: the response message encoded the way Go's
//! `encoding/json` encodes etcd's generated structs. That fixes the details
//! clients rely on: the proto's field names (snake_case for key-value
//! messages, `ID`/`peerURLs`/`dbSize`/… for cluster messages) in proto
//! order, zero values omitted, bytes in padded standard base64, 64-bit
//! integers as bare numbers, strings with Go's escapes (`<` as `\u003c`, …),
//! and `ResponseOp` wrapped as `{"Response":{"ResponsePut":{…}}}`.

use std::fmt::Write;

use base64::Engine;
use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeResponse, LeaseRevokeResponse, Member, MemberAddResponse,
    MemberListResponse, MoveLeaderResponse, PutResponse, RangeResponse, ResponseHeader, ResponseOp,
    TxnResponse,
};
use ectd_client::proto::mvccpb::KeyValue;

use super::{EndpointHealth, EndpointStatus};

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

pub fn member_list(resp: &MemberListResponse) -> String {
    members_response(&resp.header, &resp.members)
}

pub fn member_add(resp: &MemberAddResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    if let Some(member) = &resp.member {
        obj.raw("member", &member_object(member));
    }
    obj.array("members", resp.members.iter().map(member_object));
    obj.finish()
}

/// The responses of `member remove`, `update` and `promote`, which share
/// one shape: a header and the members afterwards.
pub fn members_response(header: &Option<ResponseHeader>, members: &[Member]) -> String {
    let mut obj = Object::default();
    obj.header(header);
    obj.array("members", members.iter().map(member_object));
    obj.finish()
}

pub fn revoke(resp: &LeaseRevokeResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    obj.finish()
}

pub fn move_leader(resp: &MoveLeaderResponse) -> String {
    let mut obj = Object::default();
    obj.header(&resp.header);
    obj.finish()
}

/// etcdctl's own health records, whose fields are not `omitempty` except
/// the error.
pub fn endpoint_health(list: &[EndpointHealth]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|h| {
            let mut obj = Object::default();
            obj.raw("endpoint", &string(&h.endpoint));
            obj.raw("health", if h.health { "true" } else { "false" });
            obj.raw("took", &string(&h.took));
            obj.string("error", &h.error);
            obj.finish()
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// etcdctl's `{"Endpoint":…,"Status":{…}}` records. The status has the
/// fields etcd 3.4 defines; later additions (storage version, quota,
/// downgrade info) are not part of etcdctl 3.4's output.
pub fn endpoint_status(list: &[EndpointStatus]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|ep| {
            let s = &ep.status;
            let mut status = Object::default();
            status.header(&s.header);
            status.string("version", &s.version);
            status.int("dbSize", s.db_size);
            status.uint("leader", s.leader);
            status.uint("raftIndex", s.raft_index);
            status.uint("raftTerm", s.raft_term);
            status.uint("raftAppliedIndex", s.raft_applied_index);
            status.strings("errors", &s.errors);
            status.int("dbSizeInUse", s.db_size_in_use);
            status.bool("isLearner", s.is_learner);
            let mut obj = Object::default();
            obj.raw("Endpoint", &string(&ep.endpoint));
            obj.raw("Status", &status.finish());
            obj.finish()
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn member_object(member: &Member) -> String {
    let mut obj = Object::default();
    obj.uint("ID", member.id);
    obj.string("name", &member.name);
    obj.strings("peerURLs", &member.peer_ur_ls);
    obj.strings("clientURLs", &member.client_ur_ls);
    obj.bool("isLearner", member.is_learner);
    obj.finish()
}

/// A JSON string literal as Go's `encoding/json` writes it: besides quotes,
/// backslashes and control characters it escapes `<`, `>` and `&` (so the
/// output is safe to embed in HTML) and U+2028/U+2029.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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

pub(super) fn header_object(header: &ResponseHeader) -> String {
    let mut obj = Object::default();
    obj.uint("cluster_id", header.cluster_id);
    obj.uint("member_id", header.member_id);
    obj.int("revision", header.revision);
    obj.uint("raft_term", header.raft_term);
    obj.finish()
}

pub(super) fn key_value(kv: &KeyValue) -> String {
    let mut obj = Object::default();
    obj.bytes("key", &kv.key);
    obj.int("create_revision", kv.create_revision);
    obj.int("mod_revision", kv.mod_revision);
    obj.int("version", kv.version);
    obj.bytes("value", &kv.value);
    obj.int("lease", kv.lease);
    obj.finish()
}

/// A JSON object whose members are all `omitempty` unless written with
/// [`Object::raw`]. Keys and base64 text never need escaping, so they are
/// written directly; strings go through [`string`].
#[derive(Default)]
pub(super) struct Object {
    body: String,
}

impl Object {
    pub(super) fn raw(&mut self, key: &str, value: &str) {
        if !self.body.is_empty() {
            self.body.push(',');
        }
        let _ = write!(self.body, "\"{key}\":{value}");
    }

    pub(super) fn header(&mut self, header: &Option<ResponseHeader>) {
        if let Some(h) = header {
            self.raw("header", &header_object(h));
        }
    }

    pub(super) fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.raw(key, &value.to_string());
        }
    }

    pub(super) fn uint(&mut self, key: &str, value: u64) {
        if value != 0 {
            self.raw(key, &value.to_string());
        }
    }

    pub(super) fn bool(&mut self, key: &str, value: bool) {
        if value {
            self.raw(key, "true");
        }
    }

    pub(super) fn bytes(&mut self, key: &str, value: &[u8]) {
        if !value.is_empty() {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            self.raw(key, &format!("\"{encoded}\""));
        }
    }

    pub(super) fn string(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.raw(key, &string(value));
        }
    }

    pub(super) fn strings(&mut self, key: &str, values: &[String]) {
        self.array(key, values.iter().map(|v| string(v)));
    }

    pub(super) fn array(&mut self, key: &str, items: impl Iterator<Item = String>) {
        let items: Vec<String> = items.collect();
        if !items.is_empty() {
            self.raw(key, &format!("[{}]", items.join(",")));
        }
    }

    pub(super) fn finish(self) -> String {
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

    fn member(id: u64, name: &str, peer: &str, client: &str, is_learner: bool) -> Member {
        Member {
            id,
            name: name.into(),
            peer_ur_ls: vec![peer.into()],
            client_ur_ls: if client.is_empty() {
                vec![]
            } else {
                vec![client.into()]
            },
            is_learner,
        }
    }

    #[test]
    fn member_list_matches_etcdctl() {
        let resp = MemberListResponse {
            header: Some(ResponseHeader {
                cluster_id: 8440308543500536138,
                member_id: 5196351988517935155,
                revision: 0,
                raft_term: 4,
            }),
            members: vec![
                member(
                    5196351988517935155,
                    "m1",
                    "http://127.0.0.1:37621",
                    "http://127.0.0.1:42455",
                    false,
                ),
                member(11777867680637916359, "", "http://127.0.0.1:39697", "", true),
            ],
        };
        assert_eq!(
            member_list(&resp),
            r#"{"header":{"cluster_id":8440308543500536138,"member_id":5196351988517935155,"raft_term":4},"members":[{"ID":5196351988517935155,"name":"m1","peerURLs":["http://127.0.0.1:37621"],"clientURLs":["http://127.0.0.1:42455"]},{"ID":11777867680637916359,"peerURLs":["http://127.0.0.1:39697"],"isLearner":true}]}"#
        );
        let added = MemberAddResponse {
            header: None,
            member: Some(Member::default()),
            members: vec![],
        };
        assert_eq!(member_add(&added), r#"{"member":{}}"#);
        assert_eq!(move_leader(&MoveLeaderResponse::default()), "{}");
    }

    #[test]
    fn endpoint_records_match_etcdctl() {
        use ectd_client::proto::etcdserverpb::StatusResponse;
        let status = vec![EndpointStatus {
            endpoint: "http://127.0.0.1:39263".into(),
            status: StatusResponse {
                header: hdr(1),
                version: "3.4.23".into(),
                db_size: 20480,
                leader: 5196351988517935155,
                raft_index: 16,
                raft_term: 4,
                raft_applied_index: 16,
                db_size_in_use: 16384,
                is_learner: true,
                storage_version: "3.6.0".into(),
                db_size_quota: 1,
                ..Default::default()
            },
        }];
        assert_eq!(
            endpoint_status(&status),
            r#"[{"Endpoint":"http://127.0.0.1:39263","Status":{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":5196351988517935155,"raftIndex":16,"raftTerm":4,"raftAppliedIndex":16,"dbSizeInUse":16384,"isLearner":true}}]"#
        );
        assert_eq!(endpoint_status(&[]), "[]");
        let health = vec![
            EndpointHealth {
                endpoint: "127.0.0.1:42455".into(),
                health: true,
                took: "3.616716ms".into(),
                error: String::new(),
            },
            EndpointHealth {
                endpoint: "127.0.0.1:1".into(),
                health: false,
                took: "1.000838423s".into(),
                error: "context deadline exceeded".into(),
            },
        ];
        assert_eq!(
            endpoint_health(&health),
            r#"[{"endpoint":"127.0.0.1:42455","health":true,"took":"3.616716ms"},{"endpoint":"127.0.0.1:1","health":false,"took":"1.000838423s","error":"context deadline exceeded"}]"#
        );
    }

    #[test]
    fn strings_escape_like_go() {
        assert_eq!(
            string("a\"b\\c\n\r\t\u{1}\u{8}<>&\u{7f}é\u{2028}"),
            r#""a\"b\\c\n\r\t\u0001\u0008\u003c\u003e\u0026"#.to_string() + "\u{7f}é\\u2028\""
        );
    }
}
