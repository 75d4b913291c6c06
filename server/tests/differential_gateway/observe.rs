//! What of a gateway answer is compared, and how two answers are found to agree.
//!
//! Compared: the status, `Content-Type`, and the body — as JSON values when it
//! parses as JSON (with whether the text ended in a newline), as text
//! otherwise. Other headers (`Date`, `Grpc-Metadata-*`, framing) are not.
//!
//! Masked, each because two independent clusters cannot agree on it:
//!
//! - `header.cluster_id`, `header.member_id`, `header.raft_term`, and a member's
//!   own id wherever it appears (`members[].ID`, status `leader`);
//! - lease ids the suite granted without choosing them: `ID` and `lease` fields
//!   equal to one become `<lease NAME>`, and a `key` whose bytes end in the
//!   lease id in hex (lock and election keys) becomes `NAME/<lease NAME>`;
//! - leases the server grants itself for a lock or election session held
//!   without a lease of the client's, learnt from those answers in order of
//!   appearance and named `session N` ([`learn_session_leases`]);
//! - a member's own URLs in `peerURLs` and `clientURLs`;
//! - status counters of the process and its files (`dbSize`, `dbSizeInUse`,
//!   `raftIndex`, `raftAppliedIndex`, `raftTerm`) and the hash of the whole
//!   database file (`/maintenance/hash`), which depend on the storage engine;
//! - the `keys` of a lease (`/lease/timetolive`) are compared as a set: etcd
//!   keeps them in a map, so their order changes from one answer to the next;
//! - `TTL` of a lease may differ by one second (each server rounds the time
//!   left when it answers).
//!
//! Revisions are compared exactly: both stores start empty and see the same
//! writes in the same order.

use crate::http::{HttpError, Response};
use serde_json::Value;

/// What a server calls itself, masked in its answers.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub client_url: String,
    pub peer_url: String,
    /// The member id as the gateway prints it (decimal), once known.
    pub member_id: Option<String>,
    /// Leases granted by this server: decimal id and the name the suite gave.
    pub leases: Vec<(String, String)>,
}

impl Identity {
    fn lease_name(&self, id: &str) -> Option<&str> {
        self.leases
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.as_str())
    }
}

/// An answer as compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    /// A JSON document and whether the text ended with a newline.
    Json(Value, bool),
    Text(String),
}

/// The outcome of one request on one server.
pub type Outcome = Result<Observed, HttpError>;

/// Normalises a complete answer to a request for `path`.
pub fn observe(r: &Response, path: &str, me: &Identity) -> Observed {
    Observed {
        status: r.head.status,
        content_type: r.head.get("content-type").map(str::to_string),
        body: body(&r.body, path, me),
    }
}

/// Parses and masks a body (or one line of a stream).
pub fn body(bytes: &[u8], path: &str, me: &Identity) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    match serde_json::from_str::<Value>(&text) {
        Ok(mut v) => {
            mask(&mut v, path, me);
            Body::Json(v, text.ends_with('\n'))
        }
        Err(_) => Body::Text(text),
    }
}

/// Fields of `/maintenance/status` that count the process's own work or files.
const PROCESS_COUNTERS: [&str; 5] = [
    "dbSize",
    "dbSizeInUse",
    "raftIndex",
    "raftAppliedIndex",
    "raftTerm",
];

fn mask(v: &mut Value, path: &str, me: &Identity) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "header" => {
                        if let Value::Object(h) = x {
                            for f in ["cluster_id", "member_id", "raft_term"] {
                                if h.contains_key(f) {
                                    h.insert(f.into(), Value::String(format!("<{f}>")));
                                }
                            }
                        }
                    }
                    "ID" | "lease" | "leader" | "memberID" if !x.is_object() => {
                        let s = scalar(x);
                        if let Some(name) = me.lease_name(&s) {
                            *x = Value::String(format!("<lease {name}>"));
                        } else if me.member_id.as_deref() == Some(s.as_str()) {
                            *x = Value::String("<member id>".into());
                        }
                    }
                    "key" => {
                        if let Some(masked) = x.as_str().and_then(|s| lease_key(s, me)) {
                            *x = Value::String(masked);
                        }
                    }
                    "peerURLs" | "clientURLs" => {
                        if let Value::Array(urls) = x {
                            for u in urls {
                                if u.as_str() == Some(me.client_url.as_str()) {
                                    *u = Value::String("<client url>".into());
                                } else if u.as_str() == Some(me.peer_url.as_str()) {
                                    *u = Value::String("<peer url>".into());
                                }
                            }
                        }
                    }
                    "keys" if path.ends_with("/timetolive") => {
                        if let Value::Array(keys) = x {
                            keys.sort_by_key(|k| k.to_string());
                        }
                    }
                    "hash" if path.ends_with("/maintenance/hash") => {
                        *x = Value::String("<hash>".into());
                    }
                    c if PROCESS_COUNTERS.contains(&c) => {
                        *x = Value::String(format!("<{c}>"));
                    }
                    _ => mask(x, path, me),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask(x, path, me)),
        _ => {}
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Registers the lease ids a lock or election answer names that this suite did
/// not grant: the `lease` of a leader, the `HEX` of a `PREFIX/HEX` key.
pub fn learn_session_leases(me: &mut Identity, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let id = match k.as_str() {
                    "lease" => Some(scalar(x)).filter(|s| s != "0"),
                    "key" => x
                        .as_str()
                        .and_then(decode_b64)
                        .and_then(|raw| String::from_utf8(raw).ok())
                        .and_then(|t| {
                            let hex = t.rsplit_once('/')?.1.to_string();
                            u64::from_str_radix(&hex, 16).ok()
                        })
                        .map(|i| (i as i64).to_string()),
                    _ => {
                        learn_session_leases(me, x);
                        None
                    }
                };
                if let Some(id) = id {
                    if me.lease_name(&id).is_none() {
                        let n = me
                            .leases
                            .iter()
                            .filter(|(_, n)| n.starts_with("session"))
                            .count();
                        me.leases.push((id, format!("session {}", n + 1)));
                    }
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| learn_session_leases(me, x)),
        _ => {}
    }
}

/// A base64 key `PREFIX/HEX` whose `HEX` is a lease of `me` (the form of lock
/// and election keys), spelled `PREFIX/<lease NAME>`.
fn lease_key(b64: &str, me: &Identity) -> Option<String> {
    let raw = decode_b64(b64)?;
    let text = String::from_utf8(raw).ok()?;
    let (prefix, hex) = text.rsplit_once('/')?;
    let id = u64::from_str_radix(hex, 16).ok()?;
    let name = me.lease_name(&(id as i64).to_string())?;
    Some(format!("{prefix}/<lease {name}>"))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as the gateway expects `bytes` fields.
pub fn b64(data: impl AsRef<[u8]>) -> String {
    let mut out = String::new();
    for c in data.as_ref().chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` if it is not base64.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for b in s.bytes() {
        let d = ALPHABET.iter().position(|&a| a == b)? as u32;
        acc = acc << 6 | d;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Whether two outcomes agree; otherwise what differs first.
pub fn agree(a: &Outcome, b: &Outcome) -> Result<(), String> {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            if a.status != b.status {
                return Err(format!("status {} vs {}", a.status, b.status));
            }
            if a.content_type != b.content_type {
                return Err(format!(
                    "Content-Type {:?} vs {:?}",
                    a.content_type, b.content_type
                ));
            }
            agree_body(&a.body, &b.body)
        }
        (Err(x), Err(y)) if x == y => Ok(()),
        _ => Err("one answered, the other did not".into()),
    }
}

pub fn agree_body(a: &Body, b: &Body) -> Result<(), String> {
    match (a, b) {
        (Body::Json(x, nx), Body::Json(y, ny)) => {
            agree_json(x, y, "body")?;
            if nx != ny {
                return Err("body: trailing newline".into());
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        _ => Err("body".into()),
    }
}

/// Equality of two JSON values, except that a lease's `TTL` may differ by one.
pub fn agree_json(a: &Value, b: &Value, at: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<&String> = x.keys().collect();
            let ky: Vec<&String> = y.keys().collect();
            if kx != ky {
                return Err(format!("{at}: fields {kx:?} vs {ky:?}"));
            }
            for (k, vx) in x {
                let vy = &y[k];
                let here = format!("{at}.{k}");
                if k == "TTL" {
                    let (p, q) = (scalar(vx).parse::<i64>(), scalar(vy).parse::<i64>());
                    if let (Ok(p), Ok(q)) = (p, q) {
                        if (p - q).abs() <= 1 && vx.is_string() == vy.is_string() {
                            continue;
                        }
                    }
                }
                agree_json(vx, vy, &here)?;
            }
            Ok(())
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{at}: {} vs {} elements", x.len(), y.len()));
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                agree_json(p, q, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{at}: {a} vs {b}")),
    }
}

/// One line for a report.
pub fn render(o: &Outcome) -> String {
    match o {
        Err(e) => format!("<{e}>"),
        Ok(ob) => format!(
            "{} [{}] {}",
            ob.status,
            ob.content_type.as_deref().unwrap_or("no Content-Type"),
            render_body(&ob.body)
        ),
    }
}

pub fn render_body(b: &Body) -> String {
    let s = match b {
        Body::Empty => "<empty>".to_string(),
        Body::Json(v, nl) => format!("{v}{}", if *nl { "\\n" } else { "" }),
        Body::Text(t) => format!("{t:?}"),
    };
    crate::http::clip(&s, 1500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "\u{0}\u{ff}"] {
            assert_eq!(decode_b64(&b64(s)).unwrap(), s.as_bytes());
        }
        assert_eq!(b64("foo"), "Zm9v");
        assert_eq!(b64("fo"), "Zm8=");
    }
}
