//! `etcdserverpb.Watch`: one bidirectional stream per call, many watchers on it.
//! Requests are read only as fast as the client takes responses, so a client that
//! stops reading holds at most one stream outbox of memory.

use std::pin::Pin;
use std::sync::Arc;

use ectd_proto::etcdserverpb::watch_request::RequestUnion;
use ectd_proto::etcdserverpb::{WatchCreateRequest, WatchRequest, WatchResponse};
use futures::{Stream, StreamExt};
use tonic::{Request, Status};

use super::kv::{reject_learner, require_leader};
use super::watchdog::{wants_leader, watchdog};
use crate::error::Error;
use crate::server::Server;
use crate::watch::{Frame, WatchStream};

/// The Watch service of one member.
#[derive(Clone)]
pub struct WatchService {
    server: Arc<Server>,
}

impl WatchService {
    /// A Watch service backed by `server`.
    pub fn new(server: Arc<Server>) -> WatchService {
        WatchService { server }
    }
}

/// The responses of one watch call.
pub type ResponseStream =
    Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send + 'static>>;

/// The responses of one watch call as queued: shared events stay encoded.
pub type FrameStream = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send + 'static>>;

// Refused watchers' cancel reasons: the gRPC status as Go prints it, as etcd
// writes them.
const DENIED: &str = "rpc error: code = PermissionDenied desc = etcdserver: permission denied";
const INVALID_TOKEN: &str =
    "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token";
const OLD_REVISION: &str =
    "rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old";
const NO_USER: &str = "rpc error: code = InvalidArgument desc = etcdserver: user name is empty";

/// Whether the sender of the watch call may watch what `c` asks for, checked
/// when the watcher is created, as etcd checks it (a range end of `0x00` is
/// checked as the key alone, as etcd does); the cancel reason if not. A watcher
/// keeps running if the right is revoked later, as in etcd.
async fn refusal(
    server: &Server,
    creds: &Request<()>,
    c: &WatchCreateRequest,
) -> Option<&'static str> {
    let auth = server.auth();
    if !auth.enabled() && creds.metadata().is_empty() {
        return None;
    }
    let id = match server.identity(creds).await {
        Ok(id) => id,
        Err(Error::InvalidAuthToken) => return Some(INVALID_TOKEN),
        Err(_) => return Some(DENIED),
    };
    let key: &[u8] = if c.key.is_empty() { &[0] } else { &c.key };
    let end: &[u8] = if c.range_end == [0] {
        &[]
    } else {
        &c.range_end
    };
    match auth.check_range(&id, key, end) {
        Ok(()) => None,
        Err(Error::AuthOldRevision) => Some(OLD_REVISION),
        Err(Error::UserEmpty) => Some(NO_USER),
        Err(_) => Some(DENIED),
    }
}

/// The credentials of a call, kept to check each watcher it creates.
fn credentials_of<T>(req: &Request<T>) -> Request<()> {
    let mut creds = Request::new(());
    *creds.metadata_mut() = req.metadata().clone();
    if let Some(cn) = req.extensions().get::<crate::tls::ClientCn>() {
        creds.extensions_mut().insert(cn.clone());
    }
    if let Some(g) = req.extensions().get::<crate::api::Gatewayed>() {
        creds.extensions_mut().insert(*g);
    }
    creds
}

/// Why a call's request stream broke, for the response stream to end with.
type Broken = Arc<std::sync::Mutex<Option<Status>>>;

/// Takes the client's requests until it closes its side (the watchers keep
/// running, as in etcd) or the stream breaks (everything is cancelled, and the
/// status it broke with is left in `broken`).
async fn take_requests<S>(
    server: Arc<Server>,
    creds: Request<()>,
    stream: Arc<WatchStream>,
    mut incoming: S,
    broken: Broken,
) where
    S: Stream<Item = Result<WatchRequest, Status>> + Unpin,
{
    loop {
        stream.writable().await;
        match incoming.next().await {
            Some(Ok(req)) => match req.request_union {
                Some(RequestUnion::CreateRequest(c)) => match refusal(&server, &creds, &c).await {
                    Some(reason) => stream.refuse(reason),
                    None => stream.create(&c),
                },
                Some(RequestUnion::CancelRequest(c)) => stream.cancel(c.watch_id),
                Some(RequestUnion::ProgressRequest(_)) => stream.request_progress(),
                None => {}
            },
            None => return,
            Some(Err(status)) => {
                *broken.lock().expect("watch call status lock") = Some(status);
                stream.close();
                return;
            }
        }
    }
}

impl WatchService {
    /// One watch call over any source of requests (the gRPC stream, or the JSON
    /// gateway's request body); the answer is the same either way.
    #[allow(clippy::result_large_err)] // the error every gRPC method returns
    pub fn open<S>(&self, req: Request<S>) -> Result<ResponseStream, Status>
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Send + Unpin + 'static,
    {
        // etcd's gateway stops sending when a later request does not decode, and
        // the call ends without an error.
        let frames = self.calls(req, false)?;
        Ok(Box::pin(frames.map(|f| f.map(Frame::into_response))))
    }

    /// [`WatchService::open`] for the gRPC service: the responses as they were
    /// queued, to write without decoding them, and a request that does not decode
    /// (or is too large) ends the call with its status, as etcd's gRPC server does.
    #[allow(clippy::result_large_err)] // the error every gRPC method returns
    pub fn open_frames<S>(&self, req: Request<S>) -> Result<FrameStream, Status>
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Send + Unpin + 'static,
    {
        self.calls(req, true)
    }

    #[allow(clippy::result_large_err)] // the error every gRPC method returns
    fn calls<S>(&self, req: Request<S>, end_with_request_error: bool) -> Result<FrameStream, Status>
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Send + Unpin + 'static,
    {
        require_leader(&self.server, &req)?;
        reject_learner(&self.server)?;
        let dog = watchdog(&self.server, wants_leader(&req));
        let stream = Arc::new(self.server.hub().open_stream());
        let creds = credentials_of(&req);
        let broken = Broken::default();
        tokio::spawn(take_requests(
            self.server.clone(),
            creds,
            stream.clone(),
            req.into_inner(),
            broken.clone(),
        ));
        let server = self.server.clone();
        let state = (stream, server, Some(dog), broken);
        let out = futures::stream::unfold(state, move |(stream, server, dog, broken)| async move {
            let mut dog = dog?;
            let mut frame = tokio::select! {
                frame = stream.next_frame() => match frame {
                    Some(frame) => frame,
                    None => {
                        let status = broken.lock().expect("watch call status lock").take();
                        let status = status.filter(|_| end_with_request_error)?;
                        let status = super::grpc_limit::as_go(status);
                        return Some((Err(status), (stream, server, None, broken)));
                    }
                },
                status = &mut dog => {
                    stream.close();
                    return Some((Err(status), (stream, server, None, broken)));
                }
            };
            let revision = frame.header().map_or(0, |h| h.revision);
            let mut header = server.header(0);
            header.revision = revision;
            frame.set_header(header);
            Some((Ok(frame), (stream, server, Some(dog), broken)))
        });
        Ok(Box::pin(out))
    }
}
