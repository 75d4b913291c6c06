//! The gateway's error answers, as etcd 3.4's gateway writes them: a gRPC status
//! becomes `{"error":M,"message":M,"code":N}` under the HTTP status grpc-gateway
//! v1 gives code N; a stream that fails mid-way ends with one
//! `{"error":{"grpc_code":N,...}}` chunk; paths and methods the gateway does not
//! serve get Go's plain-text `http.Error` answers.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde::Serialize;
use tonic::{Code, Status};

use super::codec::to_json;

/// The HTTP status grpc-gateway v1 (the version etcd 3.4 ships) answers a gRPC
/// code with.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::REQUEST_TIMEOUT,
        Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::PRECONDITION_FAILED,
        Code::Aborted => StatusCode::CONFLICT,
        Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The body of a failed unary call. Field order is etcd's.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    code: i32,
}

/// The answer to a call that failed before any response was written.
pub fn unary(status: &Status) -> Response {
    let body = to_json(&ErrorBody {
        error: status.message(),
        message: status.message(),
        code: status.code() as i32,
    });
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = http_status(status.code());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A stream's closing error. Zero fields are left out, as everywhere else.
#[derive(Serialize)]
struct StreamError<'a> {
    grpc_code: i32,
    http_code: u16,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    http_status: &'a str,
}

#[derive(Serialize)]
struct ErrorChunk<'a> {
    error: StreamError<'a>,
}

/// The chunk that ends a failed stream (no newline follows it).
pub fn stream_chunk(status: &Status) -> Vec<u8> {
    let http = http_status(status.code());
    to_json(&ErrorChunk {
        error: StreamError {
            grpc_code: status.code() as i32,
            http_code: http.as_u16(),
            message: status.message(),
            http_status: http.canonical_reason().unwrap_or(""),
        },
    })
}

/// A stream that failed before its first message: the HTTP status says so and
/// the body is the error chunk alone. etcd sets no content type here, so Go
/// sniffs one from the body.
pub fn stream_first(status: &Status) -> Response {
    let mut res = Response::new(Body::from(stream_chunk(status)));
    *res.status_mut() = http_status(status.code());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// Go's `http.Error`: a plain-text line under `status`.
pub fn plain(status: StatusCode) -> Response {
    let text = format!("{}\n", status.canonical_reason().unwrap_or(""));
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Go's `ServeMux` answer to `/v3`, which etcd serves as a subtree under `/v3/`.
pub async fn to_v3(req: axum::extract::Request) -> Response {
    moved(req.method(), "/v3/", req.uri().query())
}

/// Go's `ServeMux` redirect to `path` (a subtree's root, or a path cleaned of
/// `//`, `.` and `..`): permanent, keeping the query, with a link in the body
/// for GET and HEAD only.
pub fn moved(method: &Method, path: &str, query: Option<&str>) -> Response {
    let target = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let with_body = matches!(*method, Method::GET | Method::HEAD);
    let body = if with_body {
        format!("<a href=\"{target}\">Moved Permanently</a>.\n\n")
    } else {
        String::new()
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let h = res.headers_mut();
    if with_body {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    if let Ok(location) = HeaderValue::from_str(&target) {
        h.insert(header::LOCATION, location);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_as_grpc_gateway_v1_maps_them() {
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status(Code::FailedPrecondition),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(http_status(Code::OutOfRange), StatusCode::BAD_REQUEST);
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn bodies_are_etcds() {
        let s = Status::not_found("etcdserver: requested lease not found");
        assert_eq!(
            String::from_utf8(stream_chunk(&s)).unwrap(),
            r#"{"error":{"grpc_code":5,"http_code":404,"message":"etcdserver: requested lease not found","http_status":"Not Found"}}"#
        );
        let res = unary(&Status::out_of_range("a < b"));
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
}
