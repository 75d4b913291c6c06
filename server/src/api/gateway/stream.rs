//! Streaming calls over HTTP/1: the request body is a sequence of JSON requests
//! read as they arrive, and the answer is newline-delimited `{"result":...}`
//! chunks, flushed one by one, ended by an `{"error":...}` chunk if the call
//! fails mid-way.
//!
//! As in etcd's gateway, the first request is decoded before the call starts (a
//! broken one fails the whole request), later ones are fed to the call while it
//! runs, and the first broken one after that simply ends the client's side. No
//! header is written until the call produces its first answer or ends.

use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures::{Stream, StreamExt};
use serde::Serialize;
use tonic::Status;

use super::codec::{self, Message};
use super::errors;
use super::scan::{self, Scan};

/// The requests of a streaming call, as a service takes them.
pub type RequestStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Requests read from a body, one JSON value after another. Holds at most one
/// request's worth of JSON (`codec::json_cap`) at a time.
pub struct Requests {
    body: Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>,
    buf: Vec<u8>,
    ended: bool,
    limit: usize,
}

impl Requests {
    /// Requests from `body`, each at most `limit` bytes in protobuf form.
    pub fn new(body: Body, limit: usize) -> Requests {
        Requests {
            body: Box::pin(body.into_data_stream()),
            buf: Vec::new(),
            ended: false,
            limit,
        }
    }

    /// The next request; `None` once the body ends between requests.
    pub async fn next<T: Message>(&mut self) -> Option<Result<T, Status>> {
        loop {
            let scanned = if self.ended {
                scan::finish(&self.buf)
            } else {
                scan::first_value(&self.buf)
            };
            match scanned {
                Scan::Complete(end) => {
                    let msg = codec::decode(&self.buf[..end], self.limit);
                    self.buf.drain(..end);
                    return Some(msg);
                }
                Scan::Invalid(e) => return Some(Err(Status::unknown(e))),
                Scan::Empty if self.ended => return None,
                Scan::Incomplete if self.ended => {
                    return Some(Err(Status::unknown("unexpected EOF")));
                }
                Scan::Empty | Scan::Incomplete => {}
            }
            match self.body.next().await {
                Some(Ok(data)) => {
                    let cap = codec::json_cap(self.limit);
                    if self.buf.len() + data.len() > cap {
                        return Some(Err(codec::too_large(
                            self.buf.len() + data.len(),
                            self.limit,
                        )));
                    }
                    self.buf.extend_from_slice(&data);
                }
                Some(Err(e)) => return Some(Err(Status::unknown(e.to_string()))),
                None => self.ended = true,
            }
        }
    }

    /// The rest of the requests as a stream for a service, ending at the body's
    /// end or at the first request that does not decode.
    pub fn into_stream<T: Message + Send + 'static>(self, first: Option<T>) -> RequestStream<T> {
        let rest = futures::stream::unfold(self, |mut reqs| async move {
            match reqs.next::<T>().await {
                Some(Ok(msg)) => Some((Ok(msg), reqs)),
                _ => None,
            }
        });
        Box::pin(futures::stream::iter(first.map(Ok)).chain(rest))
    }
}

/// Reads the first request of a streaming call: `Ok(None)` for an empty body,
/// `Err` with the answer to give if it does not decode.
pub async fn first<T: Message>(reqs: &mut Requests) -> Result<Option<T>, Response> {
    match reqs.next::<T>().await {
        None => Ok(None),
        Some(Ok(msg)) => Ok(Some(msg)),
        // A request the gateway cannot decode never reaches the server; etcd's
        // gateway reports it as a plain (Unknown) error.
        Some(Err(status)) => Err(errors::unary(&Status::unknown(status.message()))),
    }
}

/// `{"result":...}\n`.
fn result_chunk<T: Serialize>(msg: &T) -> Bytes {
    let json = codec::to_json(msg);
    let mut out = Vec::with_capacity(json.len() + 12);
    out.extend_from_slice(b"{\"result\":");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// Answers a streaming call: waits for its first answer, then streams the rest.
pub async fn respond<T, S>(call: Result<S, Status>) -> Response
where
    T: Serialize + Send + 'static,
    S: Stream<Item = Result<T, Status>> + Send + Unpin + 'static,
{
    let mut answers = match call {
        Ok(s) => s,
        Err(status) => return errors::stream_first(&status),
    };
    let first = match answers.next().await {
        Some(Ok(msg)) => Some(result_chunk(&msg)),
        Some(Err(status)) => return errors::stream_first(&status),
        None => None,
    };
    // A call that ended without an answer is not polled again.
    let rest_of = first.is_some().then_some(answers);
    let rest = futures::stream::unfold(rest_of, |answers| async move {
        let mut answers = answers?;
        match answers.next().await? {
            Ok(msg) => Some((result_chunk(&msg), Some(answers))),
            Err(status) => Some((Bytes::from(errors::stream_chunk(&status)), None)),
        }
    });
    let chunks = futures::stream::iter(first)
        .chain(rest)
        .map(Ok::<_, std::convert::Infallible>);
    super::codec::json_response(Body::from_stream(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ectd_proto::etcdserverpb::{LeaseKeepAliveRequest, LeaseKeepAliveResponse};

    #[tokio::test]
    async fn reads_concatenated_requests_across_chunks() {
        let parts: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from_static(b"{\"ID\":\"1\"}{\"I")),
            Ok(Bytes::from_static(b"D\":2} \n {\"ID\":\"3\"}")),
            Ok(Bytes::from_static(b" xx")),
        ];
        let mut reqs = Requests::new(Body::from_stream(futures::stream::iter(parts)), 1 << 20);
        let first = first::<LeaseKeepAliveRequest>(&mut reqs).await.unwrap();
        let ids: Vec<i64> = reqs
            .into_stream(first)
            .map(|r| r.unwrap().id)
            .collect()
            .await;
        // The broken tail ends the client's side quietly.
        assert_eq!(ids, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_broken_first_request_fails_the_call() {
        let mut reqs = Requests::new(Body::from("xx"), 1 << 20);
        let res = first::<LeaseKeepAliveRequest>(&mut reqs).await.unwrap_err();
        assert_eq!(res.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut reqs = Requests::new(Body::from(""), 1 << 20);
        assert!(first::<LeaseKeepAliveRequest>(&mut reqs)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn a_call_without_answers_is_an_empty_body() {
        // An unfold panics if polled after its end: the answers must not be.
        let answers = futures::stream::unfold((), |_| async {
            None::<(Result<LeaseKeepAliveResponse, Status>, ())>
        });
        let res = respond(Ok(Box::pin(answers))).await;
        assert_eq!(res.status(), axum::http::StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn answers_are_chunks_and_a_failure_ends_them() {
        let answers = futures::stream::iter(vec![
            Ok(LeaseKeepAliveResponse {
                id: 1,
                ttl: 5,
                ..Default::default()
            }),
            Err(Status::not_found("etcdserver: requested lease not found")),
        ]);
        let res = respond(Ok(answers)).await;
        assert_eq!(res.status(), axum::http::StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "{\"result\":{\"ID\":\"1\",\"TTL\":\"5\"}}\n{\"error\":{\"grpc_code\":5,\"http_code\":404,\"message\":\"etcdserver: requested lease not found\",\"http_status\":\"Not Found\"}}"
        );
    }
}
