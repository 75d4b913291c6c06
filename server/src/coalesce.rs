//! A connection's write side that gathers what is written into fewer system
//! calls. HTTP/2 writes a frame and flushes as soon as one stream has something to
//! send, and the task that queued the frame wakes the connection at once; with a
//! thousand watch streams on a connection, each event became its own `writev`.
//! Here the first flush after new bytes is put off by one turn of the scheduler:
//! the connection yields, every task already runnable queues its frames, and the
//! next flush writes them all at once. A flush therefore costs one yield, never a
//! timer, and at most [`LIMIT`] bytes are held before they are written.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;

/// Most bytes held before they are written, flush or not.
const LIMIT: usize = 64 << 10;

/// Wraps the write half of a connection.
pub struct Coalescing<W> {
    inner: W,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already written.
    sent: usize,
    /// The flush of what is in `buf` was put off once already.
    deferred: bool,
}

impl<W> Coalescing<W> {
    /// Gathers the writes to `inner`.
    pub fn new(inner: W) -> Coalescing<W> {
        Coalescing {
            inner,
            buf: Vec::new(),
            sent: 0,
            deferred: false,
        }
    }
}

impl<W: AsyncWrite + Unpin> Coalescing<W> {
    /// Writes out everything held.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.buf.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Coalescing<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.len() >= LIMIT {
            ready!(this.poll_drain(cx))?;
        }
        if this.buf.is_empty() && data.len() >= LIMIT {
            // Large writes (a snapshot's chunks) go straight through.
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        let n = data.len().min(LIMIT - this.buf.len());
        this.buf.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.sent < this.buf.len() {
            if !this.deferred {
                // Let the tasks that are ready to write run first; the waker puts
                // this task behind them.
                this.deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            ready!(this.poll_drain(cx))?;
        }
        this.deferred = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Writes are held until a flush, the flush yields once and then writes them
    /// all, and large writes pass through whole.
    #[tokio::test]
    async fn writes_wait_for_the_flush_and_arrive_in_order() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = Coalescing::new(a);
        w.write_all(b"one ").await.unwrap();
        w.write_all(b"two ").await.unwrap();
        let mut probe = [0u8; 1];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(50), b.read(&mut probe)).await;
        assert!(early.is_err(), "nothing is written before a flush");
        w.flush().await.unwrap();
        let big = vec![7u8; 3 * LIMIT];
        w.write_all(&big).await.unwrap();
        w.write_all(b" end").await.unwrap();
        w.shutdown().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        let mut want = b"one two ".to_vec();
        want.extend(&big);
        want.extend(b" end");
        assert_eq!(got, want);
    }

    /// A flush first yields, then completes on the next poll.
    #[test]
    fn a_flush_yields_once() {
        use std::future::Future as _;
        let (a, _b) = tokio::io::duplex(1 << 20);
        let mut w = Coalescing::new(a);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(
            Pin::new(&mut w).poll_write(&mut cx, b"x"),
            Poll::Ready(Ok(1))
        ));
        let mut flush = Box::pin(async { w.flush().await });
        assert!(flush.as_mut().poll(&mut cx).is_pending());
        assert!(matches!(flush.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    }
}
