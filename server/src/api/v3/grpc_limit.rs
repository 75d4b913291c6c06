//! Oversized gRPC messages get grpc-go's answer, as etcd gives it:
//! `ResourceExhausted` and `grpc: received message larger than max (N vs. M)`.
//! tonic enforces the same limit but reports it as `OutOfRange` with its own text,
//! which clients that retry or classify by code would misread.

use axum::http::HeaderValue;
use axum::response::Response;

const TONIC_PREFIX: &str = "Error, decoded message length too large: found ";

/// Rewrites tonic's message-too-large status on a trailers-only gRPC response.
pub async fn rewrite(mut res: Response) -> Response {
    let headers = res.headers();
    if headers.get("grpc-status").map(|v| v.as_bytes()) != Some(b"11") {
        return res;
    }
    let Some(msg) = headers
        .get("grpc-message")
        .map(|v| percent_decode(v.as_bytes()))
    else {
        return res;
    };
    let Some((found, limit)) = parse_tonic_limit(&msg) else {
        return res;
    };
    let go = format!("grpc: received message larger than max ({found} vs. {limit})");
    let headers = res.headers_mut();
    headers.insert("grpc-status", HeaderValue::from_static("8"));
    headers.insert(
        "grpc-message",
        HeaderValue::from_str(&go).expect("ASCII status message"),
    );
    res
}

/// tonic's message-too-large status as grpc-go's (for a status that ends a
/// stream in its trailers, where [`rewrite`] does not look); any other as it is.
pub fn as_go(status: tonic::Status) -> tonic::Status {
    if status.code() != tonic::Code::OutOfRange {
        return status;
    }
    match parse_tonic_limit(status.message()) {
        Some((found, limit)) => tonic::Status::resource_exhausted(format!(
            "grpc: received message larger than max ({found} vs. {limit})"
        )),
        None => status,
    }
}

/// `(found, limit)` from tonic's "found N bytes, the limit is: M bytes".
fn parse_tonic_limit(msg: &str) -> Option<(u64, u64)> {
    let rest = msg.strip_prefix(TONIC_PREFIX)?;
    let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
    let limit = rest.strip_suffix(" bytes")?;
    Some((found.parse().ok()?, limit.parse().ok()?))
}

fn percent_decode(b: &[u8]) -> String {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tonic_text() {
        let m = percent_decode(
            b"Error,%20decoded%20message%20length%20too%20large:%20found%202098186%20bytes,%20the%20limit%20is:%202097152%20bytes",
        );
        assert_eq!(parse_tonic_limit(&m), Some((2098186, 2097152)));
        assert_eq!(
            parse_tonic_limit("etcdserver: mvcc: required revision has been compacted"),
            None
        );
    }
}
