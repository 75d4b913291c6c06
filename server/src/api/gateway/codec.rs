//! JSON in and out, as etcd's gateway speaks it: request bodies decoded by the
//! `.proto` descriptors ([`transcode`]: snake_case or lowerCamelCase names,
//! int64 as string or number, bytes as base64, enums by name or number), responses
//! encoded with the `.proto` field names and zero values left out, strings
//! escaped as Go escapes them. Bodies are read within the same limit gRPC puts
//! on a request.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use futures::StreamExt;
use serde::Serialize;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue};
use tonic::Status;

use super::scan::{self, Scan};
use super::transcode;

/// How many bytes of JSON a request may take for each byte its protobuf form may
/// take: base64 grows bytes by a third, and field names and quotes add more.
const JSON_PER_PROTO_BYTE: usize = 2;

/// Headers forwarded as gRPC metadata carry this prefix, as in grpc-gateway.
const METADATA_PREFIX: &str = "grpc-metadata-";

/// A request message the gateway can decode and size.
pub trait Message: prost::Message + prost::Name + Default {}
impl<T: prost::Message + prost::Name + Default> Message for T {}

/// The most bytes of JSON read for one request whose protobuf form may take
/// `limit` bytes.
pub fn json_cap(limit: usize) -> usize {
    limit.saturating_mul(JSON_PER_PROTO_BYTE)
}

/// grpc-go's refusal of an oversized message, which etcd's gateway relays.
pub fn too_large(found: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "grpc: received message larger than max ({found} vs. {limit})"
    ))
}

/// Decodes `json`, which holds exactly one JSON value, and checks the size of
/// its protobuf form against `limit`.
// `Status` is large, but it is the error every gRPC method returns.
#[allow(clippy::result_large_err)]
pub fn decode<T: Message>(json: &[u8], limit: usize) -> Result<T, Status> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| Status::invalid_argument(serde_text(&e)))?;
    let wire = transcode::to_wire(&T::full_name(), &value).map_err(Status::invalid_argument)?;
    drop(value);
    let msg = T::decode(wire.as_slice()).map_err(|e| Status::invalid_argument(e.to_string()))?;
    let size = msg.encoded_len();
    if size > limit {
        return Err(too_large(size, limit));
    }
    Ok(msg)
}

/// serde's message without its position suffix.
fn serde_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Reads a unary call's body: at most `json_cap(limit)` bytes, its first JSON
/// value decoded. An empty body is an empty request, as in etcd.
pub async fn read_unary<T: Message>(body: Body, limit: usize) -> Result<T, Status> {
    let cap = json_cap(limit);
    let mut buf = Vec::new();
    let mut body = body.into_data_stream();
    while let Some(data) = body.next().await {
        let data = data.map_err(|e| Status::invalid_argument(e.to_string()))?;
        if buf.len() + data.len() > cap {
            return Err(too_large(buf.len() + data.len(), limit));
        }
        buf.extend_from_slice(&data);
        // Go stops reading at the end of the first value; so does this.
        if let Scan::Complete(_) | Scan::Invalid(_) = scan::first_value(&buf) {
            break;
        }
    }
    match scan::finish(&buf) {
        Scan::Empty => Ok(T::default()),
        Scan::Complete(end) => decode(&buf[..end], limit),
        Scan::Invalid(e) => Err(Status::invalid_argument(e)),
        Scan::Incomplete => Err(Status::invalid_argument("unexpected EOF")),
    }
}

/// A gRPC request carrying `msg` and the metadata the HTTP request carries: the
/// `Authorization` header as the auth `token`, and every `Grpc-Metadata-*`
/// header under its name without the prefix.
pub fn grpc_request<T>(headers: &HeaderMap, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.extensions_mut().insert(crate::api::Gatewayed);
    let md = req.metadata_mut();
    for (name, value) in headers {
        let Ok(value) = AsciiMetadataValue::try_from(value.as_bytes()) else {
            continue;
        };
        if *name == header::AUTHORIZATION {
            md.insert("token", value);
        } else if let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) {
            if let Ok(key) = AsciiMetadataKey::from_bytes(key.as_bytes()) {
                md.append(key, value);
            }
        }
    }
    req
}

/// `value` as JSON with Go's escaping (`<`, `>`, `&`, U+2028 and U+2029 as
/// `\uXXXX`), which etcd's answers carry.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let plain = serde_json::to_vec(value).expect("generated message serializes");
    go_escape(plain)
}

/// Re-escapes serde's JSON as Go would. Outside strings JSON has none of these
/// characters, so every occurrence is inside a string.
fn go_escape(json: Vec<u8>) -> Vec<u8> {
    if !json.iter().any(|&c| matches!(c, b'<' | b'>' | b'&' | 0xe2)) {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xe2 if json[i..].starts_with(&[0xe2, 0x80, 0xa8]) => {
                out.extend_from_slice(b"\\u2028");
                i += 2;
            }
            0xe2 if json[i..].starts_with(&[0xe2, 0x80, 0xa9]) => {
                out.extend_from_slice(b"\\u2029");
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// A successful unary answer.
pub fn ok<T: Serialize>(msg: &T) -> Response {
    json_response(Body::from(to_json(msg)))
}

/// A 200 answer with `body` and the gateway's content-type headers.
pub fn json_response(body: Body) -> Response {
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "grpc-metadata-content-type",
        HeaderValue::from_static("application/grpc"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::etcdserverpb::{
        range_request::SortOrder, RangeRequest, RangeResponse, ResponseHeader,
    };
    use ectd_proto::mvccpb::KeyValue;

    fn body(s: &'static str) -> Body {
        Body::from(s)
    }

    #[tokio::test]
    async fn accepts_both_spellings_and_etcds_encodings() {
        let r: RangeRequest = read_unary(
            body(r#"{"key":"Zm9v","range_end":"Zm9w","keysOnly":true,"revision":"7","limit":3,"sort_order":"DESCEND","bogus":1}"#),
            1 << 20,
        )
        .await
        .unwrap();
        assert_eq!(r.key, b"foo");
        assert_eq!(r.range_end, b"fop");
        assert!(r.keys_only);
        assert_eq!(r.revision, 7);
        assert_eq!(r.limit, 3);
        assert_eq!(r.sort_order, SortOrder::Descend as i32);
    }

    #[tokio::test]
    async fn empty_and_broken_bodies() {
        let r: RangeRequest = read_unary(body(" \n"), 1 << 20).await.unwrap();
        assert_eq!(r, RangeRequest::default());
        let e = read_unary::<RangeRequest>(body(r#"{"key":"Zm9v""#), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            (tonic::Code::InvalidArgument, "unexpected EOF")
        );
        let e = read_unary::<RangeRequest>(body("xx"), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(
            e.message(),
            "invalid character 'x' looking for beginning of value"
        );
        let r: RangeRequest = read_unary(body(" null "), 1 << 20).await.unwrap();
        assert_eq!(r, RangeRequest::default());
        let r: RangeRequest = read_unary(body(r#"{"key":"YQ==","limit":null}"#), 1 << 20)
            .await
            .unwrap();
        assert_eq!((r.key.as_slice(), r.limit), (&b"a"[..], 0));
        // Whatever follows the first value is not read.
        let r: RangeRequest = read_unary(body(r#"{"key":"YQ=="} trailing"#), 1 << 20)
            .await
            .unwrap();
        assert_eq!(r.key, b"a");
    }

    #[tokio::test]
    async fn oversized_requests_are_refused_as_grpc_refuses_them() {
        let e = read_unary::<RangeRequest>(body(r#"{"key":"YWFhYWFhYWFhYWFh"}"#), 8)
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e
            .message()
            .starts_with("grpc: received message larger than max ("));
    }

    #[test]
    fn encodes_as_etcds_gateway() {
        let resp = RangeResponse {
            header: Some(ResponseHeader {
                cluster_id: 1,
                revision: 2,
                ..Default::default()
            }),
            kvs: vec![KeyValue {
                key: b"a<b".to_vec(),
                value: b"".to_vec(),
                version: 1,
                ..Default::default()
            }],
            count: 1,
            more: false,
        };
        assert_eq!(
            String::from_utf8(to_json(&resp)).unwrap(),
            r#"{"header":{"cluster_id":"1","revision":"2"},"kvs":[{"key":"YTxi","version":"1"}],"count":"1"}"#
        );
        assert_eq!(
            go_escape(br#"{"a":"<&>"}"#.to_vec()),
            br#"{"a":"\u003c\u0026\u003e"}"#.to_vec()
        );
    }

    #[test]
    fn authorization_travels_as_the_token() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("abc.def"));
        h.insert("grpc-metadata-hasleader", HeaderValue::from_static("true"));
        let req = grpc_request(&h, ());
        assert_eq!(req.metadata().get("token").unwrap(), "abc.def");
        assert_eq!(req.metadata().get("hasleader").unwrap(), "true");
    }
}
