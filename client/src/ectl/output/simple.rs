//! The `simple` format: keys and values as raw bytes, one per line.

use std::io::Write;

use ectd_client::proto::etcdserverpb::{
    response_op, DeleteRangeResponse, PutResponse, RangeResponse, RequestOp, TxnResponse,
};
use ectd_client::proto::mvccpb::KeyValue;

use super::{executed_branch, view_of, GetView};

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
}
