//! Watching keys: a stream of change events that survives broken
//! connections without losing or repeating an event.
//!
//! A [`Watcher`] owns one watch on its own gRPC stream, served by a
//! background task. When the stream breaks (the member restarts, the
//! connection drops) the task opens a new one and re-creates the watch at
//! the revision after the last one it handed out, so the caller sees one
//! uninterrupted sequence of revisions. Only the server ends a watch for
//! good: by canceling it (its start revision was compacted, …) or with an
//! error that retrying cannot cure.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::codec::Streaming;

use crate::client::Client;
use crate::proto::etcdserverpb::{
    watch_request, ResponseHeader, WatchCreateRequest, WatchProgressRequest, WatchRequest,
    WatchResponse,
};
use crate::Error;

/// How many complete responses may wait for the caller before the task
/// stops reading from the server (gRPC flow control then slows the server
/// down rather than letting memory grow).
const BUFFERED_RESPONSES: usize = 64;

/// First and longest pause between attempts to re-create a broken watch.
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(1);

impl Client {
    /// Opens a watch as `create` describes it (key or range, start
    /// revision, `prev_kv`, filters, `progress_notify`, `fragment`, …).
    ///
    /// Returns once the server has confirmed the watch, so every change
    /// committed after this returns is delivered. A start revision of 0
    /// (or below) means "changes after the current revision". Waiting for
    /// the confirmation is bounded by the command timeout; a watch the
    /// server refuses outright fails here.
    pub async fn open_watch(&self, create: WatchCreateRequest) -> Result<Watcher, Error> {
        let timeout = self.options().command_timeout;
        // A stream presents its token when it opens: one refused for its
        // token is opened again after a new login.
        let opening = self.with_token_retry(|| WatchStream::open(self, create.clone()));
        let (stream, created) = if timeout.is_zero() {
            opening.await?
        } else {
            tokio::time::timeout(timeout, opening)
                .await
                .map_err(|_| Error::Timeout)??
        };
        let mut resume = ResumePoint::new(create.start_revision);
        resume.created(&created);
        let (deliver, responses) = mpsc::channel(BUFFERED_RESPONSES);
        let (control, requests) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(
            self.clone(),
            create,
            stream,
            resume,
            deliver,
            requests,
        ));
        Ok(Watcher {
            created_header: created.header,
            responses,
            control,
            task,
        })
    }
}

/// An open watch. Responses arrive complete (fragments reassembled) and in
/// revision order; progress notifications (no events, a header revision up
/// to which everything has been delivered) are passed on as they come.
/// `created` responses are not: [`Client::open_watch`] has consumed the
/// first, and the ones of re-created watches are internal.
///
/// Dropping the watcher stops its task and closes its stream.
#[derive(Debug)]
pub struct Watcher {
    created_header: Option<ResponseHeader>,
    responses: mpsc::Receiver<Result<WatchResponse, Error>>,
    control: mpsc::UnboundedSender<Control>,
    task: JoinHandle<()>,
}

impl Watcher {
    /// The next response, or an error that ended the watch
    /// ([`Error::WatchCanceled`] when the server canceled it); `None` after
    /// that.
    pub async fn recv(&mut self) -> Option<Result<WatchResponse, Error>> {
        self.responses.recv().await
    }

    /// Asks the server for a progress notification: a response without
    /// events whose header revision everything up to has been delivered.
    /// Asked while the watch is being re-created, it is dropped.
    pub fn request_progress(&self) {
        let _ = self.control.send(Control::RequestProgress);
    }

    /// A handle that asks for progress notifications
    /// ([`Watcher::request_progress`]) from elsewhere, e.g. while another
    /// task consumes the responses.
    pub fn progress_requester(&self) -> ProgressRequester {
        ProgressRequester {
            control: self.control.clone(),
        }
    }

    /// The header of the server's confirmation of the watch: its revision
    /// is the store's revision when the watch started.
    pub fn created_header(&self) -> Option<ResponseHeader> {
        self.created_header
    }
}

impl Stream for Watcher {
    type Item = Result<WatchResponse, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.responses.poll_recv(cx)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Asks a [`Watcher`]'s server for a progress notification; cheap to clone.
/// Requests made after the watcher is gone are ignored.
#[derive(Debug, Clone)]
pub struct ProgressRequester {
    control: mpsc::UnboundedSender<Control>,
}

impl ProgressRequester {
    /// See [`Watcher::request_progress`].
    pub fn request_progress(&self) {
        let _ = self.control.send(Control::RequestProgress);
    }
}

/// What the caller can ask of the task.
#[derive(Debug)]
enum Control {
    RequestProgress,
}

/// One gRPC watch stream carrying the watch.
struct WatchStream {
    requests: mpsc::UnboundedSender<WatchRequest>,
    responses: Streaming<WatchResponse>,
    /// The client's connection the stream runs on (see
    /// [`Link::recover`](crate::link::Link::recover)).
    connection: u64,
}

impl WatchStream {
    /// Opens a stream, creates the watch on it and waits for the server's
    /// confirmation, which is returned.
    async fn open(
        client: &Client,
        create: WatchCreateRequest,
    ) -> Result<(WatchStream, WatchResponse), Error> {
        let (requests, outgoing) = mpsc::unbounded_channel();
        let outgoing = futures::stream::unfold(outgoing, |mut outgoing| async move {
            outgoing.recv().await.map(|request| (request, outgoing))
        });
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(create)),
        };
        // Sent before the call starts, so the server sees it first.
        let _ = requests.send(create);
        let connection = client.link().generation();
        let responses = match client.watch().watch(outgoing).await {
            Ok(responses) => responses.into_inner(),
            Err(status) => {
                client.link().recover(connection, &status).await;
                return Err(status.into());
            }
        };
        let mut stream = WatchStream {
            requests,
            responses,
            connection,
        };
        loop {
            match stream.responses.next().await {
                Some(Ok(resp)) if resp.canceled => {
                    return Err(Error::WatchCanceled {
                        response: Box::new(resp),
                    })
                }
                Some(Ok(resp)) if resp.created => return Ok((stream, resp)),
                // Nothing else can precede the confirmation on a fresh
                // stream; tolerate it rather than fail.
                Some(Ok(_)) => continue,
                Some(Err(status)) => {
                    client.link().recover(connection, &status).await;
                    return Err(status.into());
                }
                None => {
                    return Err(Error::Rpc {
                        code: tonic::Code::Unavailable,
                        message: "watch stream closed before the watch was created".into(),
                    })
                }
            }
        }
    }
}

/// The task behind a [`Watcher`]: forwards complete responses and
/// re-creates the watch whenever its stream breaks.
async fn serve(
    client: Client,
    create: WatchCreateRequest,
    mut stream: WatchStream,
    mut resume: ResumePoint,
    deliver: mpsc::Sender<Result<WatchResponse, Error>>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut reassembly = Reassembly::default();
    loop {
        let message = tokio::select! {
            message = stream.responses.next() => message,
            Some(Control::RequestProgress) = control.recv() => {
                let progress = WatchRequest {
                    request_union: Some(watch_request::RequestUnion::ProgressRequest(
                        WatchProgressRequest {},
                    )),
                };
                let _ = stream.requests.send(progress);
                continue;
            }
        };
        let failure = match message {
            Some(Ok(resp)) => {
                let Some(resp) = reassembly.push(resp) else {
                    continue;
                };
                if resp.canceled {
                    let canceled = Error::WatchCanceled {
                        response: Box::new(resp),
                    };
                    let _ = deliver.send(Err(canceled)).await;
                    return;
                }
                if resp.created {
                    continue;
                }
                resume.delivered(&resp);
                if deliver.send(Ok(resp)).await.is_err() {
                    return;
                }
                continue;
            }
            Some(Err(status)) => {
                client.link().recover(stream.connection, &status).await;
                Error::from(status)
            }
            None => Error::Rpc {
                code: tonic::Code::Unavailable,
                message: "watch stream closed by the server".into(),
            },
        };
        if !is_retryable(&failure) {
            let _ = deliver.send(Err(failure)).await;
            return;
        }
        // Events of a batch cut off mid-way come again, whole, from the
        // re-created watch.
        reassembly = Reassembly::default();
        stream = match recreate(&client, &create, &resume, &deliver).await {
            Some(stream) => stream,
            None => return,
        };
    }
}

/// Re-creates the watch at the resume point, retrying while the failure is
/// transient. `None` when the watch has ended (the reason was delivered) or
/// nobody listens any more.
async fn recreate(
    client: &Client,
    create: &WatchCreateRequest,
    resume: &ResumePoint,
    deliver: &mpsc::Sender<Result<WatchResponse, Error>>,
) -> Option<WatchStream> {
    let mut pause = FIRST_RETRY_PAUSE;
    loop {
        if deliver.is_closed() {
            return None;
        }
        let again = WatchCreateRequest {
            start_revision: resume.start_revision(),
            ..create.clone()
        };
        match WatchStream::open(client, again).await {
            Ok((stream, _created)) => return Some(stream),
            Err(err) if is_retryable(&err) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY_PAUSE);
            }
            Err(err) => {
                let _ = deliver.send(Err(err)).await;
                return None;
            }
        }
    }
}

/// Failures that a new stream may cure: the connection or the member went
/// away (`Unavailable`), or the transport broke mid-stream, which gRPC
/// reports as `Unknown`, `Internal` or (a connection closed under an open
/// stream) `Cancelled`; nobody else cancels this stream. Everything else is
/// an answer from the server that would only be repeated.
fn is_retryable(err: &Error) -> bool {
    matches!(
        err.code(),
        Some(
            tonic::Code::Unavailable
                | tonic::Code::Unknown
                | tonic::Code::Internal
                | tonic::Code::Cancelled
        )
    )
}

/// True for a progress notification: no events, not a created or canceled
/// response, and a header revision (up to which every event of the watch
/// has been delivered), as clientv3 defines it.
pub fn is_progress_notify(resp: &WatchResponse) -> bool {
    resp.events.is_empty()
        && !resp.canceled
        && !resp.created
        && resp.compact_revision == 0
        && resp.header.is_some_and(|h| h.revision != 0)
}

/// The revision a re-created watch must start at so that the caller sees
/// every event exactly once: one past the newest revision known to be
/// delivered completely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ResumePoint {
    /// 0 until something is known: then the watch starts "now".
    next_revision: i64,
}

impl ResumePoint {
    /// A watch asked to start at `start_revision` (0 or below: now).
    fn new(start_revision: i64) -> ResumePoint {
        ResumePoint {
            next_revision: start_revision.max(0),
        }
    }

    /// The server confirmed the watch. A watch that started "now" sees
    /// every change after the confirmation's revision; one with an explicit
    /// start revision has not delivered anything yet, whatever the store's
    /// revision is.
    fn created(&mut self, created: &WatchResponse) {
        if self.next_revision == 0 {
            if let Some(header) = created.header {
                self.next_revision = header.revision + 1;
            }
        }
    }

    /// `resp` (complete, not a created or canceled response) was handed to
    /// the caller: its last event, or for a progress notification its
    /// header revision, has been delivered.
    fn delivered(&mut self, resp: &WatchResponse) {
        let delivered = match resp.events.last() {
            Some(event) => event.kv.as_ref().map_or(0, |kv| kv.mod_revision),
            None if is_progress_notify(resp) => resp.header.map_or(0, |h| h.revision),
            None => 0,
        };
        if delivered > 0 {
            self.next_revision = self.next_revision.max(delivered + 1);
        }
    }

    /// The start revision for a re-created watch.
    fn start_revision(&self) -> i64 {
        self.next_revision
    }
}

/// Joins the parts of a fragmented response (`fragment` set on every part
/// but the last) into one, as clientv3 does: the first part's header and
/// watch ID, every part's events in order.
#[derive(Debug, Default)]
struct Reassembly {
    partial: Option<WatchResponse>,
}

impl Reassembly {
    /// Takes the next response off the stream; returns a complete response
    /// once one is.
    fn push(&mut self, resp: WatchResponse) -> Option<WatchResponse> {
        if resp.created || resp.canceled {
            return Some(resp);
        }
        let whole = match self.partial.take() {
            Some(mut partial) if partial.watch_id == resp.watch_id => {
                partial.events.extend(resp.events);
                partial.fragment = resp.fragment;
                partial
            }
            // A response for another watch ID cannot be part of the batch;
            // keep waiting for the batch's remaining parts.
            Some(partial) => {
                self.partial = Some(partial);
                return Some(resp);
            }
            None => resp,
        };
        if whole.fragment {
            self.partial = Some(whole);
            None
        } else {
            Some(whole)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::mvccpb::{event::EventType, Event, KeyValue};

    fn header(revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            revision,
            ..Default::default()
        })
    }

    fn event(key: &str, mod_revision: i64) -> Event {
        Event {
            r#type: EventType::Put as i32,
            kv: Some(KeyValue {
                key: key.into(),
                mod_revision,
                ..Default::default()
            }),
            prev_kv: None,
        }
    }

    fn events(revision: i64, list: &[(&str, i64)]) -> WatchResponse {
        WatchResponse {
            header: header(revision),
            events: list.iter().map(|&(k, r)| event(k, r)).collect(),
            ..Default::default()
        }
    }

    fn created(revision: i64) -> WatchResponse {
        WatchResponse {
            header: header(revision),
            created: true,
            ..Default::default()
        }
    }

    #[test]
    fn watch_from_now_resumes_after_the_creation_revision() {
        let mut resume = ResumePoint::new(0);
        resume.created(&created(7));
        assert_eq!(resume.start_revision(), 8);
        resume.delivered(&events(9, &[("a", 8), ("b", 9)]));
        assert_eq!(resume.start_revision(), 10);
    }

    #[test]
    fn explicit_start_revision_is_kept_until_events_arrive() {
        let mut resume = ResumePoint::new(3);
        // The store is far ahead, but revisions 3.. are still to come.
        resume.created(&created(20));
        assert_eq!(resume.start_revision(), 3);
        resume.delivered(&events(20, &[("a", 4)]));
        assert_eq!(resume.start_revision(), 5);
        assert_eq!(ResumePoint::new(-4).start_revision(), 0);
    }

    #[test]
    fn progress_notifications_advance_the_resume_point() {
        let mut resume = ResumePoint::new(0);
        resume.created(&created(5));
        resume.delivered(&WatchResponse {
            header: header(12),
            ..Default::default()
        });
        assert_eq!(resume.start_revision(), 13);
        // An older progress notification never moves it back.
        resume.delivered(&WatchResponse {
            header: header(9),
            ..Default::default()
        });
        assert_eq!(resume.start_revision(), 13);
        // A response without events or revision tells nothing.
        resume.delivered(&WatchResponse::default());
        assert_eq!(resume.start_revision(), 13);
    }

    #[test]
    fn progress_notify_detection() {
        assert!(is_progress_notify(&WatchResponse {
            header: header(3),
            watch_id: -1,
            ..Default::default()
        }));
        assert!(!is_progress_notify(&events(3, &[("a", 3)])));
        assert!(!is_progress_notify(&created(3)));
        assert!(!is_progress_notify(&WatchResponse::default()));
        assert!(!is_progress_notify(&WatchResponse {
            header: header(3),
            canceled: true,
            compact_revision: 2,
            ..Default::default()
        }));
    }

    #[test]
    fn fragments_are_joined() {
        let part = |list: &[(&str, i64)], fragment| WatchResponse {
            fragment,
            watch_id: 1,
            ..events(9, list)
        };
        let mut reassembly = Reassembly::default();
        assert_eq!(reassembly.push(part(&[("a", 5), ("b", 6)], true)), None);
        assert_eq!(reassembly.push(part(&[("c", 7)], true)), None);
        let whole = reassembly.push(part(&[("d", 8)], false)).unwrap();
        let keys: Vec<&[u8]> = whole
            .events
            .iter()
            .map(|e| e.kv.as_ref().unwrap().key.as_slice())
            .collect();
        assert_eq!(keys, [b"a", b"b", b"c", b"d"]);
        assert!(!whole.fragment);
        assert_eq!(whole.header, header(9));
        // The next response stands on its own again.
        assert_eq!(
            reassembly.push(part(&[("e", 9)], false)),
            Some(part(&[("e", 9)], false))
        );
    }

    #[test]
    fn unfragmented_and_control_responses_pass_through() {
        let mut reassembly = Reassembly::default();
        assert_eq!(reassembly.push(created(4)), Some(created(4)));
        let whole = events(5, &[("a", 5)]);
        assert_eq!(reassembly.push(whole.clone()), Some(whole));
        // A progress notification for another watch ID does not disturb a
        // batch in progress.
        let first = WatchResponse {
            fragment: true,
            watch_id: 2,
            ..events(9, &[("x", 9)])
        };
        assert_eq!(reassembly.push(first), None);
        let progress = WatchResponse {
            watch_id: -1,
            header: header(9),
            ..Default::default()
        };
        assert_eq!(reassembly.push(progress.clone()), Some(progress));
        let last = WatchResponse {
            watch_id: 2,
            ..events(9, &[("y", 9)])
        };
        assert_eq!(reassembly.push(last).unwrap().events.len(), 2);
    }
}
