//! Requests as a given caller sends them, and the JSON bodies `/v2/auth` takes.

use crate::http::Request;

/// Who a request is sent as.
#[derive(Debug, Clone, Copy)]
pub enum Caller {
    /// HTTP basic auth with this user and password.
    Basic(&'static str, &'static str),
    /// This `Authorization` header, as written.
    Header(&'static str),
    /// No credentials: the guest.
    Nobody,
}

pub const ROOT: Caller = Caller::Basic("root", "root-pw");

impl Caller {
    /// `req` with this caller's credentials.
    pub fn on(self, req: Request) -> Request {
        match self {
            Caller::Basic(user, password) => req.header(
                "Authorization",
                &format!("Basic {}", base64(format!("{user}:{password}").as_bytes())),
            ),
            Caller::Header(h) => req.header("Authorization", h),
            Caller::Nobody => req,
        }
    }
}

/// Standard padded base64.
pub fn base64(b: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | u32::from(c) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A PUT of a JSON body (etcd reads `/v2/auth` bodies whatever their type).
pub fn json_put(target: &str, body: &str) -> Request {
    Request::put(target).body_with("application/json", body.as_bytes().to_vec())
}

/// `/v2/auth/users/<name>`.
pub fn user(name: &str) -> String {
    format!("/v2/auth/users/{name}")
}

/// `/v2/auth/roles/<name>`.
pub fn role(name: &str) -> String {
    format!("/v2/auth/roles/{name}")
}

#[test]
fn base64_pads_as_go_expects() {
    assert_eq!(base64(b"root:rootpw"), "cm9vdDpyb290cHc=");
    assert_eq!(base64(b"a:"), "YTo=");
    assert_eq!(base64(b"abc"), "YWJj");
}
