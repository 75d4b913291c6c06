//! A watch stream's queue of responses waiting to be sent: bounded in messages and
//! bytes, so a client that stops reading costs a fixed amount of memory. Producers
//! that must not wait (the hub, called from apply) learn the queue is full and
//! leave the watcher behind for catch-up instead.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::frame::Frame;

/// Most responses queued per stream.
const MAX_MESSAGES: usize = 1024;
/// Most bytes queued per stream (a single larger response is still accepted into
/// an empty queue).
const MAX_BYTES: usize = 8 << 20;

/// Why responses were not queued.
pub(super) enum Refused {
    /// The queue has no room for them now; what they need.
    Full(Room),
    /// The stream is gone.
    Closed,
}

/// Room asked of the queue: a number of responses and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Room {
    pub(super) messages: usize,
    pub(super) bytes: usize,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<(Frame, usize)>,
    bytes: usize,
    closed: bool,
}

impl Queue {
    /// Whether responses needing `room` may be queued: always into an empty queue
    /// (a single large response is sent alone), else within both bounds.
    fn has_room(&self, room: Room) -> bool {
        self.items.is_empty()
            || (self.items.len() + room.messages <= MAX_MESSAGES
                && self.bytes + room.bytes <= MAX_BYTES)
    }
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
    pub(super) fn try_push(&self, msgs: Vec<Frame>) -> Result<(), Refused> {
        let sizes: Vec<usize> = msgs.iter().map(|m| m.encoded_len()).collect();
        let total: usize = sizes.iter().sum();
        let mut q = self.lock();
        if q.closed {
            return Err(Refused::Closed);
        }
        let room = Room {
            messages: msgs.len(),
            bytes: total,
        };
        if !q.has_room(room) {
            return Err(Refused::Full(room));
        }
        q.bytes += total;
        q.items.extend(msgs.into_iter().zip(sizes));
        drop(q);
        self.readable.notify_one();
        Ok(())
    }

    /// Queues each group of responses whole or not at all, in order, under one lock
    /// and with one wake-up of the consumer; says for each group whether it was queued.
    pub(super) fn try_push_each(&self, groups: Vec<Vec<Frame>>) -> Vec<Result<(), Refused>> {
        let sized: Vec<Vec<(Frame, usize)>> = groups
            .into_iter()
            .map(|g| {
                g.into_iter()
                    .map(|m| {
                        let n = m.encoded_len();
                        (m, n)
                    })
                    .collect()
            })
            .collect();
        let mut q = self.lock();
        let mut queued = false;
        let results = sized
            .into_iter()
            .map(|group| {
                if q.closed {
                    return Err(Refused::Closed);
                }
                let room = Room {
                    messages: group.len(),
                    bytes: group.iter().map(|(_, n)| n).sum(),
                };
                if !q.has_room(room) {
                    return Err(Refused::Full(room));
                }
                q.bytes += room.bytes;
                q.items.extend(group);
                queued = true;
                Ok(())
            })
            .collect();
        drop(q);
        if queued {
            self.readable.notify_one();
        }
        results
    }

    /// Queues a small control response (created, canceled, progress) regardless of
    /// the bounds; callers that take requests from the client first wait for
    /// [`Outbox::writable`], which keeps these bounded too.
    pub(super) fn force_push(&self, msg: Frame) {
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

    /// Waits until the queue is at most half full (or the stream is closed), so the
    /// requests taken meanwhile add only bounded control responses.
    pub(super) async fn writable(&self) {
        self.wait_for(Room::default()).await
    }

    /// Waits until the queue would take responses needing `room` (what it refused),
    /// and is at most half full besides, so a refused producer retries with success
    /// rather than spinning on the last free slot or on a response that cannot fit
    /// yet. Also returns once the stream is closed.
    pub(super) async fn room_for(&self, room: Room) {
        self.wait_for(room).await
    }

    async fn wait_for(&self, room: Room) {
        loop {
            let notified = self.writable.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let q = self.lock();
                let half_empty = q.items.len() <= MAX_MESSAGES / 2 && q.bytes <= MAX_BYTES / 2;
                if q.closed || q.items.is_empty() || (half_empty && q.has_room(room)) {
                    return;
                }
            }
            notified.await;
        }
    }

    /// The next response; `None` once closed.
    pub(super) async fn pop(&self) -> Option<Frame> {
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
    use ectd_proto::etcdserverpb::WatchResponse;

    fn msg(id: i64) -> Frame {
        Frame::One(WatchResponse {
            watch_id: id,
            ..Default::default()
        })
    }

    fn id_of(f: Frame) -> i64 {
        f.into_response().watch_id
    }

    #[tokio::test]
    async fn bounded_all_or_nothing_and_ordered() {
        let ob = Outbox::default();
        for i in 0..MAX_MESSAGES as i64 {
            assert!(ob.try_push(vec![msg(i)]).is_ok());
        }
        assert!(
            matches!(ob.try_push(vec![msg(-1), msg(-2)]), Err(Refused::Full(_))),
            "a full outbox must refuse"
        );
        assert_eq!(id_of(ob.pop().await.unwrap()), 0);
        assert!(ob.try_push(vec![msg(7)]).is_ok());
        assert_eq!(ob.len(), MAX_MESSAGES);
        ob.close();
        assert!(ob.pop().await.is_none());
        assert!(matches!(ob.try_push(vec![msg(1)]), Err(Refused::Closed)));
    }

    /// Each group is admitted or refused on its own, in order: a group that does not
    /// fit is refused while a later, smaller one is still queued behind the earlier.
    #[tokio::test]
    async fn groups_are_admitted_each_on_its_own() {
        let ob = Outbox::default();
        for i in 0..(MAX_MESSAGES - 3) as i64 {
            assert!(ob.try_push(vec![msg(i)]).is_ok());
        }
        let results = ob.try_push_each(vec![
            vec![msg(100)],
            vec![msg(200), msg(201), msg(202)],
            vec![msg(300), msg(301)],
        ]);
        assert!(results[0].is_ok());
        assert!(matches!(
            results[1],
            Err(Refused::Full(Room { messages: 3, .. }))
        ));
        assert!(results[2].is_ok());
        assert_eq!(ob.len(), MAX_MESSAGES);
        let mut tail = Vec::new();
        for _ in 0..MAX_MESSAGES {
            tail.push(id_of(ob.pop().await.unwrap()));
        }
        assert_eq!(tail[MAX_MESSAGES - 3..], [100, 300, 301]);
        ob.close();
        let closed = ob.try_push_each(vec![vec![msg(1)]]);
        assert!(matches!(closed[0], Err(Refused::Closed)));
    }

    fn big(bytes: usize) -> Frame {
        Frame::One(WatchResponse {
            cancel_reason: "x".repeat(bytes),
            ..Default::default()
        })
    }

    /// A producer refused a response that cannot fit beside what is queued must wait
    /// until it can, even when the queue is less than half full: returning at once
    /// made the watch catch-up retry in a loop that never yielded.
    #[tokio::test]
    async fn waiting_for_room_covers_the_refused_response() {
        use std::future::Future as _;
        use std::task::{Context, Poll};
        let ob = Outbox::default();
        assert!(ob.try_push(vec![big(3 << 20)]).is_ok());
        let Err(Refused::Full(room)) = ob.try_push(vec![big(6 << 20)]) else {
            panic!("3 MiB queued and 6 MiB more must be refused");
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wait = Box::pin(ob.room_for(room));
        assert!(
            wait.as_mut().poll(&mut cx).is_pending(),
            "no room for 6 MiB beside 3 MiB"
        );
        ob.pop().await.unwrap();
        assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
        assert!(
            ob.try_push(vec![big(6 << 20)]).is_ok(),
            "fits an empty queue"
        );
    }
}
