//! Who a v2 request comes from, and what etcd 3.4's v2 auth lets it do.
//!
//! While v2 auth is off everything is allowed. While it is on, a request names
//! its user with HTTP basic auth (or, under `--client-cert-auth` and without an
//! `Authorization` header, with its certificate's common name); wrong
//! credentials are refused outright, and a request without any is the guest.
//! Key access is decided by the key's path as the request wrote it; a recursive
//! request needs a prefix pattern covering the whole subtree (guests are only
//! checked for the key itself, as etcd checks them).

use axum::extract::Request;
use axum::http::{header, Method};

use super::records::{User, GUEST_ROLE, ROOT_ROLE};
use super::store::{password_matches, Read, Records};
use crate::server::Server;

/// The credentials a request carries.
pub struct Caller {
    /// The first `Authorization` header, if not empty.
    authorization: Option<Vec<u8>>,
    /// The client certificate's common name, when it names the user
    /// (`--client-cert-auth`).
    cert_cn: Option<String>,
}

impl Caller {
    /// The credentials of `req`, sent to the member `s`.
    pub fn of(req: &Request, s: &Server) -> Caller {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec())
            .filter(|v| !v.is_empty());
        let cert_cn = s
            .client_cert_auth()
            .then(|| req.extensions().get::<crate::tls::ClientCn>())
            .flatten()
            .map(|cn| cn.0.clone());
        Caller {
            authorization,
            cert_cn,
        }
    }
}

/// Whether the request is a write for access checks (anything but a read).
pub fn is_write(method: &Method) -> bool {
    method != Method::GET && method != Method::HEAD
}

/// Go's `Request.BasicAuth`: `Basic ` (in any case), then standard base64 of
/// `user:password`.
fn basic_auth(header: &[u8]) -> Option<(String, Vec<u8>)> {
    const PREFIX: &[u8] = b"basic ";
    if header.len() < PREFIX.len() || !header[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let decoded = base64_std(&header[PREFIX.len()..])?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8_lossy(&decoded[..colon]).into_owned();
    Some((user, decoded[colon + 1..].to_vec()))
}

/// Go's `base64.StdEncoding`: padded, line breaks skipped, the unused bits of
/// the last character not checked.
fn base64_std(s: &[u8]) -> Option<Vec<u8>> {
    let mut sextets = Vec::with_capacity(s.len());
    let mut padding = 0;
    for &c in s.iter().filter(|&&c| c != b'\r' && c != b'\n') {
        let v = match c {
            b'=' => {
                padding += 1;
                continue;
            }
            _ if padding > 0 => return None,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        sextets.push(v);
    }
    let tail = sextets.len() % 4;
    let padding_fits = matches!((tail, padding), (0, 0) | (2, 2) | (3, 1));
    if !padding_fits {
        return None;
    }
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let mut n = 0u32;
        for (i, v) in chunk.iter().enumerate() {
            n |= u32::from(*v) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The user the credentials name, if they are right; `None` for wrong or
/// malformed ones.
async fn user_of(records: &Records<'_>, caller: &Caller) -> Option<User> {
    match &caller.authorization {
        None => {
            let cn = caller.cert_cn.as_deref()?;
            records.get_user(cn, Read::Local).await.ok()
        }
        Some(h) => {
            let Some((name, password)) = basic_auth(h) else {
                tracing::warn!("malformed v2 basic auth header");
                return None;
            };
            let user = records.get_user(&name, Read::Local).await.ok()?;
            if !password_matches(&user, password).await {
                tracing::warn!(user = %name, "incorrect v2 auth password");
                return None;
            }
            Some(user)
        }
    }
}

/// Whether the caller may administer (etcd's `hasRootAccess`): auth is off,
/// or the credentials are right and the user has the root role.
pub async fn has_root_access(s: &Server, caller: &Caller) -> bool {
    let records = Records::new(s);
    if !records.enabled() {
        return true;
    }
    let Some(user) = user_of(&records, caller).await else {
        return false;
    };
    let root = user.roles.iter().flatten().any(|r| r == ROOT_ROLE);
    if !root {
        tracing::warn!(user = %user.user, "v2 request needs the root role");
    }
    root
}

/// Whether the caller may read (or, with `write`, write) `key` — with
/// `recursive`, everything below it too (etcd's `hasKeyPrefixAccess`).
pub async fn has_key_access(
    s: &Server,
    caller: &Caller,
    key: &str,
    write: bool,
    recursive: bool,
) -> bool {
    let records = Records::new(s);
    if !records.enabled() {
        return true;
    }
    let user = match user_of(&records, caller).await {
        Some(u) => u,
        None if caller.authorization.is_some() => return false,
        None => {
            let guest = records.get_role(GUEST_ROLE, Read::Local).await;
            return guest.is_ok_and(|r| r.has_key_access(key, write));
        }
    };
    for name in user.roles.iter().flatten() {
        let Ok(role) = records.get_role(name, Read::Local).await else {
            continue;
        };
        let ok = if recursive {
            role.has_recursive_access(key, write)
        } else {
            role.has_key_access(key, write)
        };
        if ok {
            return true;
        }
    }
    tracing::warn!(user = %user.user, key, "v2 access refused");
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_reads_as_go_reads_it() {
        let ok = |h: &str| basic_auth(h.as_bytes());
        assert_eq!(
            ok("Basic cm9vdDpyb290cHc="),
            Some(("root".into(), b"rootpw".to_vec()))
        );
        assert_eq!(ok("bAsIc cm9vdDpyb290cHc=").unwrap().0, "root");
        assert_eq!(ok("Basic cm9vdDpyb290cHc"), None);
        assert_eq!(ok("Basic  cm9vdDpyb290cHc="), None);
        assert_eq!(ok("Basic cm9vdHJvb3Rwdw=="), None);
        assert_eq!(ok("Bearer x"), None);
        assert_eq!(ok("Basic"), None);
        assert_eq!(ok("Basic YTo="), Some(("a".into(), Vec::new())));
        assert_eq!(ok("Basic OmI="), Some((String::new(), b"b".to_vec())));
        assert_eq!(base64_std(b"YWJj"), Some(b"abc".to_vec()));
        assert_eq!(base64_std(b"YQ==\r\n"), Some(b"a".to_vec()));
        assert_eq!(base64_std(b"YR=="), Some(b"a".to_vec()));
        assert_eq!(base64_std(b"Y==="), None);
        assert_eq!(base64_std(b"YQ==YQ=="), None);
    }
}
