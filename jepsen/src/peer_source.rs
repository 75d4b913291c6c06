//! Which local process opened an accepted loopback connection.
//!
//! Every member reaches member `i` through the single peer URL `i` advertises, so
//! the proxy in front of `i` sees connections from all other members, all from
//! `127.0.0.1`. To still cut one direction of one pair, the proxy asks the kernel
//! who owns the client end: `/proc/net/tcp` maps the connection's two addresses to
//! a socket inode, and `/proc/<pid>/fd` shows which process holds that inode. This
//! is Linux-only; elsewhere (or if the lookup races a closing socket) the owner is
//! unknown and the caller decides what an unattributed connection gets.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The pid, among `candidates`, whose process holds the client end of the
/// connection from `client` to `server`; `None` if none of them does or the
/// lookup is impossible.
pub fn owner(client: SocketAddr, server: SocketAddr, candidates: &[u32]) -> Option<u32> {
    let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else {
        return None;
    };
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = socket_inode(&table, client, server)?;
    let wanted = format!("socket:[{inode}]");
    candidates.iter().copied().find(|pid| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == &*wanted)
        })
    })
}

/// The inode of the socket whose local end is `local` and remote end is
/// `remote`, from the text of `/proc/net/tcp`.
fn socket_inode(table: &str, local: SocketAddrV4, remote: SocketAddrV4) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 10 {
            return None;
        }
        let matches = parse_addr(fields[1]) == Some(local) && parse_addr(fields[2]) == Some(remote);
        let inode: u64 = fields[9].parse().ok()?;
        (matches && inode != 0).then_some(inode)
    })
}

/// Parses `0100007F:1F90`: the address as the kernel's raw (network-order) 32-bit
/// word printed in host order, then the port in host order.
fn parse_addr(text: &str) -> Option<SocketAddrV4> {
    let (ip, port) = text.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_tcp_lines() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0 20 4 30 10 -1\n";
        let local = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0x9C40);
        let remote = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0x1F90);
        if cfg!(target_endian = "little") {
            assert_eq!(socket_inode(table, local, remote), Some(424242));
        }
        assert_eq!(socket_inode(table, remote, local), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn finds_this_process_as_owner() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server_end, client_addr) = listener.accept().unwrap();
        assert_eq!(client_addr, client.local_addr().unwrap());
        let me = std::process::id();
        let server = listener.local_addr().unwrap();
        assert_eq!(owner(client_addr, server, &[1, me]), Some(me));
        assert_eq!(owner(client_addr, server, &[1]), None);
    }
}
