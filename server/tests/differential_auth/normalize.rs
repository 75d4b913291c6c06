//! What of a successful gRPC answer is compared. Answers are compared as the
//! gateway's JSON (every field etcd sets, by name), after masking what two
//! independent clusters cannot agree on, each in one place here:
//!
//! - `header.cluster_id`, `header.member_id`, `header.raft_term`;
//! - a token (`token` of Authenticate): random (simple) or signed with a
//!   random nonce (JWT), so only whether there is one is compared;
//! - member ids (the server's own, and those of members it added) wherever a
//!   member is named (`ID`, `leader`, `memberID`, the text of Status
//!   `errors`), and the server's own URLs in `peerURLs` / `clientURLs`;
//!   members are compared in the order of their masked ids (etcd lists them
//!   by id);
//! - Status counters of the process and its files (`dbSize`, `dbSizeInUse`,
//!   `raftIndex`, `raftAppliedIndex`, `raftTerm`) and the hash of the whole
//!   database file (Hash), which depend on the storage engine;
//! - the `keys` of LeaseTimeToLive and the leases of LeaseLeases are compared
//!   as sets (etcd keeps them in maps), and a lease's `TTL` may differ by one
//!   second (`gw_observe::agree_json`: each server rounds the time left).
//!
//! Revisions are compared exactly: both stores start empty and see the same
//! writes in the same order, and auth changes do not move them.

use crate::call::Call;
use crate::gw_observe::decode_b64;
use serde_json::Value;

/// What a server calls itself, and the members it added, masked in answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub(crate) own_id: u64,
    pub(crate) client_url: String,
    pub(crate) peer_url: String,
    /// Members added for the suite: the name it gave and the id the server chose.
    pub(crate) learnt: Vec<(&'static str, u64)>,
}

impl Names {
    fn member(&self, id: &str) -> Option<String> {
        let id: u64 = id.parse().ok()?;
        if id == self.own_id {
            return Some("<own member>".into());
        }
        self.learnt
            .iter()
            .find(|(_, i)| *i == id)
            .map(|(n, _)| format!("<member {n}>"))
    }
}

const PROCESS_COUNTERS: [&str; 5] = [
    "dbSize",
    "dbSizeInUse",
    "raftIndex",
    "raftAppliedIndex",
    "raftTerm",
];

/// Masks a successful answer to `call` from the server named by `me`.
pub(crate) fn mask(v: &mut Value, call: &Call, me: &Names) {
    walk(v, call, me);
}

fn walk(v: &mut Value, call: &Call, me: &Names) {
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
                    "token" => {
                        if x.as_str().is_some_and(|t| !t.is_empty()) {
                            *x = Value::String("<token>".into());
                        }
                    }
                    "ID" | "leader" | "memberID" | "member_id" if !x.is_object() => {
                        if let Some(name) = x.as_str().and_then(|s| me.member(s)) {
                            *x = Value::String(name);
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
                    "errors" => {
                        if let Value::Array(errs) = x {
                            let own = me.own_id.to_string();
                            for e in errs {
                                if let Some(s) = e.as_str() {
                                    *e = Value::String(s.replace(&own, "<own member>"));
                                }
                            }
                        }
                    }
                    // Listed in id order, and ids differ between clusters.
                    "members" => {
                        walk(x, call, me);
                        if let Value::Array(members) = x {
                            members.sort_by_key(|m| m["ID"].to_string());
                        }
                    }
                    "hash" if matches!(call, Call::Hash) => {
                        *x = Value::String("<hash>".into());
                    }
                    "keys" if matches!(call, Call::LeaseTimeToLive(_)) => {
                        if let Value::Array(keys) = x {
                            keys.sort_by_key(|k| k.to_string());
                        }
                    }
                    "leases" if matches!(call, Call::LeaseLeases) => {
                        if let Value::Array(leases) = x {
                            leases.sort_by_key(|l| l["ID"].to_string());
                        }
                    }
                    c if PROCESS_COUNTERS.contains(&c) && matches!(call, Call::Status) => {
                        *x = Value::String(format!("<{c}>"));
                    }
                    _ => walk(x, call, me),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, call, me)),
        _ => {}
    }
}

/// Masks every non-empty `token` field (an answer of the gateway).
pub(crate) fn mask_tokens(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "token" && x.as_str().is_some_and(|t| !t.is_empty()) {
                    *x = Value::String("<token>".into());
                } else {
                    mask_tokens(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_tokens),
        _ => {}
    }
}

/// `v` with its byte fields (`key`, `value`, `range_end`, `keys`), which the
/// JSON form holds in base64, shown as text when they are printable: for
/// mismatch reports only.
pub(crate) fn readable(v: &Value) -> Value {
    let text = |x: &Value| -> Option<Value> {
        let raw = decode_b64(x.as_str()?)?;
        let s = String::from_utf8(raw).ok()?;
        s.chars()
            .all(|c| !c.is_control() || c == '\0')
            .then(|| Value::String(format!("b{s:?}")))
    };
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let shown = match k.as_str() {
                        "key" | "value" | "range_end" => text(x),
                        "keys" => x.as_array().map(|a| {
                            Value::Array(a.iter().map(|k| text(k).unwrap_or(k.clone())).collect())
                        }),
                        _ => None,
                    };
                    (k.clone(), shown.unwrap_or_else(|| readable(x)))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(readable).collect()),
        other => other.clone(),
    }
}
