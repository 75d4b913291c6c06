//! A watch stream's queue of responses waiting to be sent: bounded in messages and
//! bytes, so a client that stops reading costs a fixed amount of memory. Producers
//! that must not wait (the hub, called from apply) learn the queue is full and
//! leave the watcher behind for catch-up instead.

use std::collections::VecDeque;
use std::sync::Mutex;

use ectd_proto::etcdserverpb::WatchResponse;
use prost::Message as _;
use tokio::sync::Notify;

/// Most responses queued per stream.
const MAX_MESSAGES: usize = 1024;
/// Most bytes queued per stream (a single larger response is still accepted into
/// an empty queue).
const MAX_BYTES: usize = 8 << 20;

/// Why responses were not queued.
pub(super) enum Refused {
    /// The queue is full.
    Full,
    /// The stream is gone.
    Closed,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(WatchResponse, usize)>,
    bytes: usize,
    closed: bool,
}

/// The queue; one consumer (the stream's sender), several producers.
#[derive(Default)]
pub(super) struct Outbox {
    queue: Mutex<Queue>,
    readable: Notify,
    writable: Notify,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().expect("watch outbox lock")
    }

    /// Queues all of `msgs` or none of them.
    pub(super) fn try_push(&self, msgs: Vec<WatchResponse>) -> Result<(), Refused> {
        let sizes: Vec<usize> = msgs.iter().map(|m| m.encoded_len()).collect();
        let total: usize = sizes.iter().sum();
        let mut q = self.lock();
        if q.closed {
            return Err(Refused::Closed);
        }
        let empty = q.items.is_empty();
        if !empty && (q.items.len() + msgs.len() > MAX_MESSAGES || q.bytes + total > MAX_BYTES) {
            return Err(Refused::Full);
        }
        q.bytes += total;
        q.items.extend(msgs.into_iter().zip(sizes));
        drop(q);
        self.readable.notify_one();
        Ok(())
    }

    /// Queues a small control response (created, canceled, progress) regardless of
    /// the bounds; callers that take requests from the client first wait for
    /// [`Outbox::writable`], which keeps these bounded too.
    pub(super) fn force_push(&self, msg: WatchResponse) {
        let size = msg.encoded_len();
        let mut q = self.lock();
        if q.closed {
            return;
        }
        q.bytes += size;
        q.items.push_back((msg, size));
        drop(q);
        self.readable.notify_one();
    }

    /// Waits until the queue is at most half full (or the stream is closed), so a
    /// producer that was refused finds room for a whole response when it retries
    /// rather than spinning on the last free slot.
    pub(super) async fn writable(&self) {
        loop {
            let notified = self.writable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let q = self.lock();
                if q.closed || (q.items.len() <= MAX_MESSAGES / 2 && q.bytes <= MAX_BYTES / 2) {
                    return;
                }
            }
            notified.await;
        }
    }

    /// The next response; `None` once closed.
    pub(super) async fn pop(&self) -> Option<WatchResponse> {
        loop {
            {
                let mut q = self.lock();
                if let Some((msg, size)) = q.items.pop_front() {
                    q.bytes -= size;
                    drop(q);
                    self.writable.notify_waiters();
                    return Some(msg);
                }
                if q.closed {
                    return None;
                }
            }
            self.readable.notified().await;
        }
    }

    /// Closes the queue: queued responses are dropped, producers are refused.
    pub(super) fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.items.clear();
        q.bytes = 0;
        drop(q);
        self.readable.notify_one();
        self.writable.notify_waiters();
    }

    /// Responses queued (for tests and metrics).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: i64) -> WatchResponse {
        WatchResponse {
            watch_id: id,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn bounded_all_or_nothing_and_ordered() {
        let ob = Outbox::default();
        for i in 0..MAX_MESSAGES as i64 {
            assert!(ob.try_push(vec![msg(i)]).is_ok());
        }
        assert!(
            matches!(ob.try_push(vec![msg(-1), msg(-2)]), Err(Refused::Full)),
            "a full outbox must refuse"
        );
        assert_eq!(ob.pop().await.unwrap().watch_id, 0);
        assert!(ob.try_push(vec![msg(7)]).is_ok());
        assert_eq!(ob.len(), MAX_MESSAGES);
        ob.close();
        assert!(ob.pop().await.is_none());
        assert!(matches!(ob.try_push(vec![msg(1)]), Err(Refused::Closed)));
    }
}
