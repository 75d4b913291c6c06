//! A watch stream as the tests drive it: requests go in through a channel, so a
//! test can add watchers to a stream it is reading, or leave a stream unread.

use ectd_client::proto::etcdserverpb::watch_request::RequestUnion;
use ectd_client::proto::etcdserverpb::{
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use ectd_client::{prefix_range_end, Client};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Status, Streaming};

/// One `Watch` call: the request side is a channel, the response side tonic's
/// stream. Dropping it ends the call (and with it every watcher on it).
pub struct WatchConn {
    requests: mpsc::UnboundedSender<WatchRequest>,
    responses: Streaming<WatchResponse>,
}

impl WatchConn {
    /// Opens a watch stream on `c`'s connection. Nothing is created yet.
    pub async fn open(c: &Client) -> Result<WatchConn, Status> {
        let (tx, rx) = mpsc::unbounded_channel();
        let responses = c
            .watch()
            .watch(UnboundedReceiverStream::new(rx))
            .await?
            .into_inner();
        Ok(WatchConn {
            requests: tx,
            responses,
        })
    }

    /// Sends a create request; its `created` response comes later on the stream.
    pub fn create(&self, req: WatchCreateRequest) {
        self.send(RequestUnion::CreateRequest(req));
    }

    /// Asks for a progress notification (`WatchProgressRequest`).
    pub fn request_progress(&self) {
        self.send(RequestUnion::ProgressRequest(WatchProgressRequest {}));
    }

    fn send(&self, r: RequestUnion) {
        // A closed request side shows up as the end of the response stream.
        let _ = self.requests.send(WatchRequest {
            request_union: Some(r),
        });
    }

    /// The next response; `Ok(None)` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<WatchResponse>, Status> {
        self.responses.message().await
    }

    /// Waits for the next response and panics unless it is a successful
    /// `created`; returns it (its header revision is the watcher's "now").
    pub async fn expect_created(&mut self, what: &str) -> WatchResponse {
        let r = tokio::time::timeout(std::time::Duration::from_secs(10), self.next()).await;
        match r {
            Ok(Ok(Some(resp))) if resp.created && !resp.canceled => resp,
            other => panic!("{what}: expected a created response, got {other:?}"),
        }
    }
}

/// A create request for every key under `prefix`, from `start_revision` (0:
/// from the member's next revision).
pub fn watch_prefix(prefix: &str, start_revision: i64, prev_kv: bool) -> WatchCreateRequest {
    WatchCreateRequest {
        key: prefix.as_bytes().to_vec(),
        range_end: prefix_range_end(prefix.as_bytes()),
        start_revision,
        prev_kv,
        ..Default::default()
    }
}

/// A create request for the single key `key`.
pub fn watch_key(key: &str, start_revision: i64, prev_kv: bool) -> WatchCreateRequest {
    WatchCreateRequest {
        key: key.as_bytes().to_vec(),
        start_revision,
        prev_kv,
        ..Default::default()
    }
}
