//! What of an answer is compared, and how two answers are found to agree.
//!
//! Everything a client can see is compared except what differs between two
//! independent clusters or with the clock, each masked in one place here:
//!
//! - headers: `Date` (presence only), `X-Raft-Index` and `X-Raft-Term` (present
//!   and numeric), `X-Etcd-Cluster-Id` (present and hexadecimal); the framing
//!   headers `Content-Length`, `Transfer-Encoding` and `Connection` are not
//!   compared, the body itself is. Every other header must be equal, values and
//!   repetitions included (`X-Etcd-Index`, `Content-Type`, `Allow`, `Location`,
//!   CORS headers, ...).
//! - JSON bodies are compared as values, not text. `ttl` may differ by one second
//!   (it is rounded up from the time left when each server answers) and
//!   `expiration` must be an RFC 3339 UTC time on both sides, the two no more
//!   than [`EXPIRATION_SLACK_SECS`] apart (each server stamps its own clock when
//!   it applies the write).
//! - A listing asked for without `sorted=true` is compared as a set: etcd walks a
//!   Go map, so its order changes from one request to the next.
//! - `/v2/members` and `/v2/machines` name each server's own URLs and member id;
//!   those are replaced by placeholders.
//! - `/v2/stats/*` carry counters and clocks of each process; only their shape
//!   (field names and JSON types) is compared.

use crate::http::{clip, Head, HttpError, Response};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How far apart two `expiration` times of the same write may be: the two
/// servers receive it one after the other, milliseconds apart on an idle
/// machine.
pub const EXPIRATION_SLACK_SECS: f64 = 3.0;

/// How an answer is normalised before comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `/v2/keys` answers; `ordered` when the request asked for `sorted=true`.
    Keys { ordered: bool },
    /// `/v2/members`, `/v2/machines`: own URLs and member ids masked.
    Cluster,
    /// `/v2/stats/*`: only the shape.
    Shape,
    /// Anything else: compared as it is.
    Exact,
}

impl Mode {
    /// The mode for a request to `target`, `sorted` being its `sorted` parameter.
    pub fn of(target: &str, sorted: Option<&str>) -> Mode {
        let path = target.split('?').next().unwrap_or_default();
        if path.starts_with("/v2/keys") {
            Mode::Keys {
                ordered: go_bool(sorted),
            }
        } else if path.starts_with("/v2/stats/") {
            Mode::Shape
        } else if path.starts_with("/v2/members") || path.starts_with("/v2/machines") {
            Mode::Cluster
        } else {
            Mode::Exact
        }
    }
}

/// Whether a boolean parameter is true as Go's `strconv.ParseBool`, which etcd
/// uses for every boolean parameter, reads it.
pub fn go_bool(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "t" | "T" | "TRUE" | "true" | "True"))
}

/// The URLs a server names itself by, masked in cluster answers.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub client_url: String,
    pub peer_url: String,
}

/// An answer as compared: masked headers and a parsed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub headers: BTreeMap<String, Vec<String>>,
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

const FRAMING: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// Masks the headers of `head` as described in the module documentation.
pub fn headers(head: &Head) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &head.headers {
        if FRAMING.contains(&k.as_str()) {
            continue;
        }
        let numeric = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let hex = !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit());
        let v = match k.as_str() {
            "date" => "<date>".to_string(),
            "x-raft-index" | "x-raft-term" if numeric => "<number>".to_string(),
            "x-etcd-cluster-id" if hex => "<cluster id>".to_string(),
            _ => v.clone(),
        };
        out.entry(k.clone()).or_default().push(v);
    }
    out
}

/// Parses and normalises a body for `mode`.
pub fn body(bytes: &[u8], content_type: Option<&str>, mode: Mode, me: &Identity) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        // Invalid UTF-8 is not JSON, whatever the content type says.
        return Body::Text(format!("<not UTF-8> {}", String::from_utf8_lossy(bytes)));
    };
    let mut text = text.to_string();
    if mode == Mode::Cluster {
        text = text
            .replace(&me.client_url, "<client url>")
            .replace(&me.peer_url, "<peer url>");
    }
    let json = content_type.is_some_and(|t| t.starts_with("application/json"));
    match serde_json::from_str::<Value>(&text) {
        Ok(mut v) if json => {
            match mode {
                Mode::Keys { ordered: false } => sort_nodes(&mut v),
                Mode::Cluster => mask_ids(&mut v),
                Mode::Shape => v = shape(&v),
                _ => {}
            }
            Body::Json(v, text.ends_with('\n'))
        }
        _ => Body::Text(text),
    }
}

/// Normalises a complete answer.
pub fn observe(r: &Response, mode: Mode, me: &Identity) -> Observed {
    Observed {
        status: r.head.status,
        headers: headers(&r.head),
        body: body(&r.body, r.head.get("content-type"), mode, me),
    }
}

/// Orders every `nodes` list by key, at any depth.
pub fn sort_nodes(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(nodes)) = m.get_mut("nodes") {
                nodes.sort_by_key(|n| n.get("key").and_then(Value::as_str).map(str::to_string));
            }
            m.values_mut().for_each(sort_nodes);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_nodes),
        _ => {}
    }
}

/// Replaces member ids (lowercase hexadecimal `id` fields) by a placeholder.
fn mask_ids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let is_id = k == "id"
                    && x.as_str().is_some_and(|s| {
                        !s.is_empty()
                            && s.bytes()
                                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    });
                if is_id {
                    *x = Value::String("<member id>".into());
                } else {
                    mask_ids(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_ids),
        _ => {}
    }
}

/// Field names and JSON types of `v`, values dropped.
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Null => Value::String("<null>".into()),
        Value::Bool(_) => Value::String("<bool>".into()),
        Value::Number(_) => Value::String("<number>".into()),
        Value::String(_) => Value::String("<string>".into()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), shape(x)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// Whether two outcomes agree; otherwise what differs first.
pub fn agree(a: &Outcome, b: &Outcome) -> Result<(), String> {
    match (a, b) {
        (Ok(a), Ok(b)) => agree_observed(a, b),
        (Err(x), Err(y)) if x == y => Ok(()),
        _ => Err("one answered, the other did not".into()),
    }
}

fn agree_observed(a: &Observed, b: &Observed) -> Result<(), String> {
    if a.status != b.status {
        return Err(format!("status {} vs {}", a.status, b.status));
    }
    if a.headers != b.headers {
        let names: std::collections::BTreeSet<&String> = a
            .headers
            .keys()
            .chain(b.headers.keys())
            .filter(|k| a.headers.get(*k) != b.headers.get(*k))
            .collect();
        return Err(format!("headers {names:?}"));
    }
    agree_body(&a.body, &b.body)
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

/// Equality of two JSON values, except that `ttl` may differ by one and
/// `expiration` by [`EXPIRATION_SLACK_SECS`].
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
                match k.as_str() {
                    "ttl" => match (vx.as_i64(), vy.as_i64()) {
                        (Some(p), Some(q)) if (p - q).abs() <= 1 => {}
                        _ => return Err(format!("{here}: {vx} vs {vy}")),
                    },
                    "expiration" => {
                        let close = match (vx.as_str().and_then(utc), vy.as_str().and_then(utc)) {
                            (Some(p), Some(q)) => (p - q).abs() <= EXPIRATION_SLACK_SECS,
                            _ => false,
                        };
                        if !close {
                            return Err(format!("{here}: {vx} vs {vy}"));
                        }
                    }
                    _ => agree_json(vx, vy, &here)?,
                }
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
        _ => Err(format!(
            "{at}: {} vs {}",
            clip(&a.to_string(), 200),
            clip(&b.to_string(), 200)
        )),
    }
}

/// Seconds since the epoch of an RFC 3339 time in UTC as Go's `RFC3339Nano`
/// writes it (`2006-01-02T15:04:05.999999999Z`), or `None` if `s` is not one.
pub fn utc(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 || d[0].len() != 4 || d[1].len() != 2 || d[2].len() != 2 {
        return None;
    }
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, frac),
        None => (time, ""),
    };
    let t: Vec<&str> = hms.split(':').collect();
    if t.len() != 3 || t.iter().any(|p| p.len() != 2) || frac.len() > 9 {
        return None;
    }
    let num = |p: &str| -> Option<i64> {
        p.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| p.parse().ok())
            .flatten()
    };
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (hh, mm, ss) = (num(t[0])?, num(t[1])?, num(t[2])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let nanos = if frac.is_empty() {
        0.0
    } else {
        num(frac)? as f64 / 10f64.powi(frac.len() as i32)
    };
    Some((days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss) as f64 + nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One line per outcome for a mismatch report.
pub fn render(o: &Outcome) -> String {
    match o {
        Err(e) => format!("<{e}>"),
        Ok(ob) => {
            let headers: Vec<String> = ob
                .headers
                .iter()
                .map(|(k, vs)| format!("{k}: {}", vs.join(" | ")))
                .collect();
            let body = match &ob.body {
                Body::Empty => "<empty>".to_string(),
                Body::Json(v, nl) => format!("{}{}", v, if *nl { "\\n" } else { "" }),
                Body::Text(t) => format!("{t:?}"),
            };
            format!(
                "{} {{{}}} {}",
                ob.status,
                headers.join("; "),
                clip(&body, 1500)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_reads_go_times() {
        assert_eq!(utc("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(utc("2000-03-01T00:00:01.5Z"), Some(951_868_801.5));
        assert!(utc("2026-12-04T05:36:55.705130752Z").is_some());
        assert!(utc("2026-12-04 05:36:55Z").is_none());
        assert!(utc("2026-12-04T05:36:55+01:00").is_none());
    }
}
