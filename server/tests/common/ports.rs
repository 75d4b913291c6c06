//! Free ports on 127.0.0.1.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// A TCP port on 127.0.0.1 that was free a moment ago and that this test binary
/// has not handed out before (tests of one binary run in parallel threads, and two
/// of them must never be given the same port).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        if given.insert(port) {
            return port;
        }
    }
}

/// The two ports of one cluster member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Client port: gRPC and `/health`.
    pub client: u16,
    /// Peer port: raft traffic and joining.
    pub peer: u16,
}

impl Ports {
    /// Two ports that were free a moment ago.
    pub fn free() -> Ports {
        Ports {
            client: free_port(),
            peer: free_port(),
        }
    }
}
