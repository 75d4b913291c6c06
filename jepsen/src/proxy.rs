//! A fault-injecting TCP proxy in front of one member's peer port.
//!
//! A [`Proxy`] listens on `127.0.0.1` (a free port) and forwards every accepted
//! connection to a fixed target. Each connection is governed by one [`Link`]: the
//! directed link it belongs to, whose [`Fault`] the harness changes at runtime and
//! which takes effect on connections already open, not only on new ones.
//!
//! Faults act on whole chunks or whole connections, never on single bytes: a TCP
//! stream that silently loses bytes would be corrupt rather than lossy, which is not
//! a failure a real network produces. So "packet loss" here means connections reset
//! at random, and a cut link closes its connections (the peer sees a reset and
//! reconnects; while cut, new connections are accepted and closed at once).
//!
//! A proxy may route different connections to different links (see
//! [`Proxy::start_routed`]): that is how one listener per member still gives
//! directional faults per (from, to) pair in [`crate::cluster`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Size of the buffer each direction of a connection forwards through.
const CHUNK_LEN: usize = 16 * 1024;

/// What a link currently does to the traffic it carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Forward everything unchanged.
    Pass,
    /// Cut: open connections are closed and new ones are closed on accept, so no
    /// byte crosses the link in either direction until the fault changes.
    Drop,
    /// Hold every forwarded chunk this long before writing it on. Order is kept.
    Delay(Duration),
    /// Each forwarded chunk resets its whole connection with this probability
    /// (0.0 ..= 1.0).
    Loss(f64),
}

/// The control of one directed link. Clones control the same link.
#[derive(Debug, Clone)]
pub struct Link {
    fault: Arc<watch::Sender<Fault>>,
}

impl Default for Link {
    fn default() -> Link {
        Link::new()
    }
}

impl Link {
    /// A link that passes traffic.
    pub fn new() -> Link {
        let (fault, _) = watch::channel(Fault::Pass);
        Link {
            fault: Arc::new(fault),
        }
    }

    /// Sets the fault; connections already open observe it from their next chunk
    /// (or at once, for [`Fault::Drop`]).
    ///
    /// # Panics
    ///
    /// If a [`Fault::Loss`] probability is outside `0.0..=1.0`.
    pub fn set(&self, fault: Fault) {
        if let Fault::Loss(p) = fault {
            assert!(
                (0.0..=1.0).contains(&p),
                "loss probability {p} not in 0..=1"
            );
        }
        self.fault.send_replace(fault);
    }

    /// The fault currently in force.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<Fault> {
        self.fault.subscribe()
    }
}

/// Chooses the link an accepted connection belongs to, from the connection's
/// remote (client) address and the proxy's own address.
pub type Route = Arc<dyn Fn(SocketAddr, SocketAddr) -> Link + Send + Sync>;

/// A running proxy. Dropping it stops the listener and closes every connection.
pub struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `target` whose connections all belong to `link`.
    /// Must be called inside a tokio runtime.
    pub async fn start(target: SocketAddr, link: Link) -> std::io::Result<Proxy> {
        Proxy::start_routed(target, Arc::new(move |_, _| link.clone())).await
    }

    /// Starts a proxy to `target` that asks `route` which link each accepted
    /// connection belongs to. Must be called inside a tokio runtime.
    pub async fn start_routed(target: SocketAddr, route: Route) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(accept_loop(listener, target, route));
        Ok(Proxy {
            addr,
            target,
            accept,
        })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The connection tasks live in the accept task's JoinSet, which aborts
        // them when it is dropped with the accept task.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, route: Route) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((inbound, remote)) = accepted else { continue };
                let Ok(local) = inbound.local_addr() else { continue };
                let route = route.clone();
                connections.spawn(async move {
                    // Routing may read /proc; keep it off the accept path.
                    let link = route(remote, local);
                    serve(inbound, target, link).await;
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// How one direction of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The sender closed its side; the other direction may go on.
    Eof,
    /// A fault or an error: the whole connection must close.
    Cut,
}

async fn serve(inbound: TcpStream, target: SocketAddr, link: Link) {
    let faults = link.subscribe();
    if *faults.borrow() == Fault::Drop {
        return;
    }
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let forward = pump(in_read, out_write, faults.clone());
    let backward = pump(out_read, in_write, faults);
    tokio::pin!(forward, backward);
    // Returning drops both halves of both sockets, which closes the connection.
    tokio::select! {
        ended = &mut forward => if ended == Ended::Eof { backward.await; },
        ended = &mut backward => if ended == Ended::Eof { forward.await; },
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut faults: watch::Receiver<Fault>,
) -> Ended {
    let mut buf = vec![0u8; CHUNK_LEN];
    loop {
        let len = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) => {
                    let _ = to.shutdown().await;
                    return Ended::Eof;
                }
                Ok(len) => len,
                Err(_) => return Ended::Cut,
            },
            changed = faults.changed() => {
                if changed.is_err() || *faults.borrow_and_update() == Fault::Drop {
                    return Ended::Cut;
                }
                continue;
            }
        };
        let fault = *faults.borrow_and_update();
        match fault {
            Fault::Pass => {}
            Fault::Drop => return Ended::Cut,
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                if *faults.borrow_and_update() == Fault::Drop {
                    return Ended::Cut;
                }
            }
            Fault::Loss(p) => {
                if rand::random::<f64>() < p {
                    return Ended::Cut;
                }
            }
        }
        if to.write_all(&buf[..len]).await.is_err() {
            return Ended::Cut;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An echo server on a free port; it runs until the test's runtime ends.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    /// Sends `msg` and waits up to `wait` for the same bytes to come back.
    async fn round_trip(stream: &mut TcpStream, msg: &[u8], wait: Duration) -> bool {
        if stream.write_all(msg).await.is_err() {
            return false;
        }
        let mut got = vec![0u8; msg.len()];
        matches!(
            tokio::time::timeout(wait, stream.read_exact(&mut got)).await,
            Ok(Ok(_)) if got == msg
        )
    }

    const WAIT: Duration = Duration::from_secs(2);

    #[tokio::test]
    async fn pass_drop_pass() {
        let link = Link::new();
        let proxy = Proxy::start(echo_server().await, link.clone())
            .await
            .unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut stream, b"hello", WAIT).await);

        link.set(Fault::Drop);
        // The open connection is cut: nothing comes back on it.
        assert!(!round_trip(&mut stream, b"lost", Duration::from_millis(300)).await);
        // New connections get no bytes through either.
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(!round_trip(&mut fresh, b"lost", Duration::from_millis(300)).await);

        link.set(Fault::Pass);
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut stream, b"again", WAIT).await);
    }

    #[tokio::test]
    async fn delay_is_applied_each_way() {
        let link = Link::new();
        let proxy = Proxy::start(echo_server().await, link.clone())
            .await
            .unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut stream, b"warm", WAIT).await);

        link.set(Fault::Delay(Duration::from_millis(150)));
        let started = Instant::now();
        assert!(round_trip(&mut stream, b"slow", WAIT).await);
        // Delayed on the way to the echo server and again on the way back.
        assert!(started.elapsed() >= Duration::from_millis(300));

        link.set(Fault::Pass);
        let started = Instant::now();
        assert!(round_trip(&mut stream, b"fast", WAIT).await);
        assert!(started.elapsed() < Duration::from_millis(150));
    }

    #[tokio::test]
    async fn certain_loss_resets_connections() {
        let link = Link::new();
        let proxy = Proxy::start(echo_server().await, link.clone())
            .await
            .unwrap();
        link.set(Fault::Loss(1.0));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(!round_trip(&mut stream, b"gone", Duration::from_millis(300)).await);
        link.set(Fault::Loss(0.0));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut stream, b"kept", WAIT).await);
    }

    #[test]
    #[should_panic(expected = "loss probability")]
    fn loss_probability_is_checked() {
        Link::new().set(Fault::Loss(1.5));
    }
}
