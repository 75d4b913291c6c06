//! `grpc_server_*` and `etcd_network_client_grpc_*`: a middleware on the gRPC
//! router counts calls, messages and bytes per method, and the status each call
//! ended with. Every (method, code) counter exists from the start, as etcd's do, and
//! is looked up in a map built once, so a request takes no lock.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Buf;
use http_body::Frame;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};

use super::Level;

/// How a method streams, with grpc-prometheus's label value (ectd serves no
/// client-streaming method).
#[derive(Clone, Copy)]
enum Kind {
    Unary,
    ServerStream,
    BidiStream,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Unary => "unary",
            Kind::ServerStream => "server_stream",
            Kind::BidiStream => "bidi_stream",
        }
    }
}

use Kind::{BidiStream, ServerStream, Unary};

/// Every gRPC method ectd serves on the client port.
const METHODS: &[(&str, &str, Kind)] = &[
    ("etcdserverpb.KV", "Range", Unary),
    ("etcdserverpb.KV", "Put", Unary),
    ("etcdserverpb.KV", "DeleteRange", Unary),
    ("etcdserverpb.KV", "Txn", Unary),
    ("etcdserverpb.KV", "Compact", Unary),
    ("etcdserverpb.Watch", "Watch", BidiStream),
    ("etcdserverpb.Lease", "LeaseGrant", Unary),
    ("etcdserverpb.Lease", "LeaseRevoke", Unary),
    ("etcdserverpb.Lease", "LeaseKeepAlive", BidiStream),
    ("etcdserverpb.Lease", "LeaseTimeToLive", Unary),
    ("etcdserverpb.Lease", "LeaseLeases", Unary),
    ("etcdserverpb.Cluster", "MemberAdd", Unary),
    ("etcdserverpb.Cluster", "MemberRemove", Unary),
    ("etcdserverpb.Cluster", "MemberUpdate", Unary),
    ("etcdserverpb.Cluster", "MemberList", Unary),
    ("etcdserverpb.Cluster", "MemberPromote", Unary),
    ("etcdserverpb.Maintenance", "Alarm", Unary),
    ("etcdserverpb.Maintenance", "Status", Unary),
    ("etcdserverpb.Maintenance", "Defragment", Unary),
    ("etcdserverpb.Maintenance", "Hash", Unary),
    ("etcdserverpb.Maintenance", "HashKV", Unary),
    ("etcdserverpb.Maintenance", "Snapshot", ServerStream),
    ("etcdserverpb.Maintenance", "MoveLeader", Unary),
    ("etcdserverpb.Maintenance", "Downgrade", Unary),
    ("v3lockpb.Lock", "Lock", Unary),
    ("v3lockpb.Lock", "Unlock", Unary),
    ("v3electionpb.Election", "Campaign", Unary),
    ("v3electionpb.Election", "Proclaim", Unary),
    ("v3electionpb.Election", "Leader", Unary),
    ("v3electionpb.Election", "Observe", ServerStream),
    ("v3electionpb.Election", "Resign", Unary),
    ("grpc.health.v1.Health", "Check", Unary),
    ("grpc.health.v1.Health", "Watch", ServerStream),
];

/// gRPC status codes by number, with grpc-prometheus's names.
const CODES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];
const CANCELED: usize = 1;

/// One method's counters, resolved at start.
struct MethodStats {
    started: IntCounter,
    handled: [IntCounter; 17],
    received: IntCounter,
    sent: IntCounter,
    handling: Option<Histogram>,
}

/// The gRPC counters of a member.
pub struct GrpcMetrics {
    methods: HashMap<String, Arc<MethodStats>>,
    sent_bytes: IntCounter,
    received_bytes: IntCounter,
}

impl GrpcMetrics {
    pub(super) fn new(r: &Registry, level: Level) -> GrpcMetrics {
        let labels = ["grpc_type", "grpc_service", "grpc_method"];
        let vec = |name: &str, help: &str, extra: &[&'static str]| {
            let mut l = labels.to_vec();
            l.extend_from_slice(extra);
            super::register(
                r,
                IntCounterVec::new(Opts::new(name, help), &l).expect("valid metric"),
            )
        };
        let started = vec(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            &[],
        );
        let handled = vec(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            &["grpc_code"],
        );
        let received = vec(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            &[],
        );
        let sent = vec(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            &[],
        );
        let handling = (level == Level::Extensive).then(|| {
            super::register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "grpc_server_handling_seconds",
                        "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
                    ),
                    &labels,
                )
                .expect("valid metric"),
            )
        });
        let methods = METHODS
            .iter()
            .map(|&(service, method, kind)| {
                let l = [kind.label(), service, method];
                let stats = MethodStats {
                    started: started.with_label_values(&l),
                    handled: CODES.map(|c| handled.with_label_values(&[l[0], l[1], l[2], c])),
                    received: received.with_label_values(&l),
                    sent: sent.with_label_values(&l),
                    handling: handling.as_ref().map(|h| h.with_label_values(&l)),
                };
                (format!("/{service}/{method}"), Arc::new(stats))
            })
            .collect();
        GrpcMetrics {
            methods,
            sent_bytes: super::register(
                r,
                IntCounter::new(
                    "etcd_network_client_grpc_sent_bytes_total",
                    "The total number of bytes sent to grpc clients.",
                )
                .expect("valid metric"),
            ),
            received_bytes: super::register(
                r,
                IntCounter::new(
                    "etcd_network_client_grpc_received_bytes_total",
                    "The total number of bytes received from grpc clients.",
                )
                .expect("valid metric"),
            ),
        }
    }
}

/// Middleware for the gRPC router: counts the call, its messages each way, and
/// the status it ended with (when the response's trailers pass, or `Canceled` if
/// the client went away first).
pub async fn track(State(m): State<Arc<GrpcMetrics>>, req: Request, next: Next) -> Response {
    let Some(stats) = m.methods.get(req.uri().path()).cloned() else {
        return next.run(req).await;
    };
    stats.started.inc();
    let begun = Instant::now();
    let req = req.map(|b| {
        Body::new(Counted {
            inner: b,
            frames: Frames::default(),
            messages: stats.received.clone(),
            bytes: m.received_bytes.clone(),
            end: None,
        })
    });
    let res = next.run(req).await;
    // A trailers-only answer (an error before any message) has its status here.
    let code = status_of(res.headers());
    let end = End {
        stats: stats.clone(),
        begun,
        done: false,
    };
    if let Some(code) = code {
        end.finish(code);
        return res;
    }
    res.map(|b| {
        Body::new(Counted {
            inner: b,
            frames: Frames::default(),
            messages: stats.sent.clone(),
            bytes: m.sent_bytes.clone(),
            end: Some(end),
        })
    })
}

fn status_of(h: &axum::http::HeaderMap) -> Option<usize> {
    let v = h.get("grpc-status")?.to_str().ok()?.parse::<usize>().ok()?;
    Some(v.min(CODES.len() - 1))
}

/// Records how a call ended, once.
struct End {
    stats: Arc<MethodStats>,
    begun: Instant,
    done: bool,
}

impl End {
    fn finish(mut self, code: usize) {
        self.record(code);
    }
    fn record(&mut self, code: usize) {
        if self.done {
            return;
        }
        self.done = true;
        self.stats.handled[code].inc();
        if let Some(h) = &self.stats.handling {
            h.observe(self.begun.elapsed().as_secs_f64());
        }
    }
}

impl Drop for End {
    fn drop(&mut self) {
        self.record(CANCELED);
    }
}

/// Walks gRPC's length-prefixed framing (1 flag byte, 4 length bytes, message)
/// across data chunks, counting whole messages.
#[derive(Default)]
struct Frames {
    header: [u8; 5],
    have: usize,
    remaining: u64,
}

impl Frames {
    /// Feeds `chunk`; returns (messages started, message bytes) seen in it.
    fn feed(&mut self, mut chunk: &[u8]) -> (u64, u64) {
        let (mut messages, mut bytes) = (0, 0);
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let n = (self.remaining as usize).min(chunk.len());
                self.remaining -= n as u64;
                chunk = &chunk[n..];
                continue;
            }
            let n = (5 - self.have).min(chunk.len());
            self.header[self.have..self.have + n].copy_from_slice(&chunk[..n]);
            self.have += n;
            chunk = &chunk[n..];
            if self.have == 5 {
                self.have = 0;
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                self.remaining = u64::from(len);
                messages += 1;
                bytes += u64::from(len);
            }
        }
        (messages, bytes)
    }
}

/// A body whose gRPC messages are counted as they pass.
struct Counted {
    inner: Body,
    frames: Frames,
    messages: IntCounter,
    bytes: IntCounter,
    end: Option<End>,
}

impl http_body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let (messages, bytes) = this.frames.feed(data.chunk());
                    if messages > 0 {
                        this.messages.inc_by(messages);
                    }
                    if bytes > 0 {
                        this.bytes.inc_by(bytes);
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    if let (Some(end), Some(code)) = (this.end.take(), status_of(trailers)) {
                        end.finish(code);
                    }
                }
            }
            Poll::Ready(None) => {
                // Ended without trailers: a status-less end is an unknown outcome.
                if let Some(end) = this.end.take() {
                    end.finish(2);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::Frames;

    #[test]
    fn frames_split_across_chunks_are_counted_once() {
        let mut f = Frames::default();
        let msg = [0u8, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 1, 9];
        let (a, b) = msg.split_at(3);
        let (m1, b1) = f.feed(a);
        let (m2, b2) = f.feed(b);
        assert_eq!((m1 + m2, b1 + b2), (2, 4));
    }
}
