//! The gRPC face of `etcdserverpb.Watch`, written out rather than generated so its
//! responses go through a codec of our own: a response whose events are shared
//! with other watchers is written from the bytes encoded once for all of them,
//! with only its header and watch id encoded for it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use ectd_proto::etcdserverpb::WatchRequest;
use prost::Message as _;
use tonic::body::BoxBody;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Body, Service, StdError};
use tonic::server::{Grpc, NamedService, StreamingService};
use tonic::{Request, Response, Status, Streaming};

use super::watch::{FrameStream, WatchService};
use crate::watch::Frame;

/// The full name clients call the service by.
const SERVICE: &str = "etcdserverpb.Watch";
/// The service's one method.
const METHOD_PATH: &str = "/etcdserverpb.Watch/Watch";

/// Reads `WatchRequest`s and writes [`Frame`]s.
#[derive(Default, Clone, Copy)]
struct WatchCodec;

struct FrameEncoder;

impl Encoder for FrameEncoder {
    type Item = Frame;
    type Error = Status;

    fn encode(&mut self, frame: Frame, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(frame.encoded_len());
        frame.encode(dst);
        Ok(())
    }
}

struct RequestDecoder;

impl Decoder for RequestDecoder {
    type Item = WatchRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<WatchRequest>, Status> {
        // As tonic's own codec reports a message it cannot decode.
        let req = WatchRequest::decode(src.copy_to_bytes(src.remaining()))
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Some(req))
    }
}

impl Codec for WatchCodec {
    type Encode = Frame;
    type Decode = WatchRequest;
    type Encoder = FrameEncoder;
    type Decoder = RequestDecoder;

    fn encoder(&mut self) -> FrameEncoder {
        FrameEncoder
    }

    fn decoder(&mut self) -> RequestDecoder {
        RequestDecoder
    }
}

/// The Watch service as the gRPC server mounts it.
#[derive(Clone)]
pub struct WatchServer {
    service: WatchService,
    /// Largest request accepted, in bytes.
    max_request: usize,
}

impl WatchServer {
    /// Serves `service`, refusing requests larger than `max_request` bytes.
    pub fn new(service: WatchService, max_request: usize) -> WatchServer {
        WatchServer {
            service,
            max_request,
        }
    }
}

impl NamedService for WatchServer {
    const NAME: &'static str = SERVICE;
}

/// One call of the method.
struct Call(WatchService);

impl StreamingService<WatchRequest> for Call {
    type Response = Frame;
    type ResponseStream = FrameStream;
    type Future = std::future::Ready<Result<Response<FrameStream>, Status>>;

    fn call(&mut self, req: Request<Streaming<WatchRequest>>) -> Self::Future {
        std::future::ready(self.0.open_frames(req).map(Response::new))
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<http::Response<BoxBody>, Infallible>> + Send>>;

impl<B> Service<http::Request<B>> for WatchServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<BoxBody>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Answer {
        if req.uri().path() != METHOD_PATH {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let call = Call(self.service.clone());
        let max_request = self.max_request;
        Box::pin(async move {
            let mut grpc =
                Grpc::new(WatchCodec).apply_max_message_size_config(Some(max_request), None);
            Ok(grpc.streaming(call, req).await)
        })
    }
}
