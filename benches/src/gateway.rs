//! The JSON gateway workloads: `gw-put` (`POST /v3/kv/put`) and `gw-range`
//! (`POST /v3/kv/range`, linearizable unless `--serializable`), the same requests as
//! the gRPC `put` and `range` workloads written as the gateway's JSON (keys and values
//! in base64), over HTTP/1.1 keep-alive connections as curl or a Python client sends
//! them. A request counts as an error unless it gets a 2xx answer.

use base64::Engine as _;
use hyper::Method;

use crate::load::{drive_with, key, Load, Report};
use crate::v2::Conn;

const JSON: &str = "application/json";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Puts keys `0..key_space` in turn with `val_size`-byte values.
pub async fn put(conns: &[Conn], load: &Load) -> anyhow::Result<Report> {
    let value = b64(&vec![b'v'; load.val_size]);
    let load2 = load.clone();
    let op = move |conn: Conn, n: u64| {
        let body = format!(
            "{{\"key\":\"{}\",\"value\":\"{value}\"}}",
            b64(&key(&load2, n))
        );
        async move {
            let r = conn
                .send_body(Method::POST, "/v3/kv/put", Some((JSON, body)))
                .await;
            (conn, r)
        }
    };
    drive_with(conns, load, |c| async move { Ok(c) }, op).await
}

/// Single-key ranges over the key space; linearizable unless `serializable`.
pub async fn range(conns: &[Conn], load: &Load, serializable: bool) -> anyhow::Result<Report> {
    let load2 = load.clone();
    let extra = if serializable {
        ",\"serializable\":true"
    } else {
        ""
    };
    let op = move |conn: Conn, n: u64| {
        let body = format!(
            "{{\"key\":\"{}\"{extra}}}",
            b64(&key(&load2, n.wrapping_mul(2_654_435_761)))
        );
        async move {
            let r = conn
                .send_body(Method::POST, "/v3/kv/range", Some((JSON, body)))
                .await;
            (conn, r)
        }
    };
    drive_with(conns, load, |c| async move { Ok(c) }, op).await
}
