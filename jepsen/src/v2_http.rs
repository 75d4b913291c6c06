//! etcd's v2 keys API (`/v2/keys`) over HTTP/1.1, as the v2 workloads speak it: one
//! keep-alive connection per client, every request bounded by a timeout, and every reply
//! sorted into what it says about whether the request took effect.
//!
//! - An event (`{"action":...,"node":...}`) or a v2 error (`{"errorCode":N,...}`) is an
//!   answer: the server decided.
//! - [`Failure::NotSent`]: no connection could be opened, so no byte of the request left
//!   the client; the request certainly had no effect.
//! - [`Failure::Indeterminate`]: the request was (or may have been) sent and no complete
//!   answer came back in time; it may still take effect.
//! - [`Failure::Malformed`]: an answer that is neither an event nor a v2 error, which a
//!   server speaking etcd's protocol never sends.
//!
//! Bodies of PUT and POST are forms (`application/x-www-form-urlencoded`), as etcd's own
//! v2 client sends them; query parameters go in the URL.

use std::fmt;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

/// One node of the v2 store as a reply shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Full path, e.g. `/jepsen/r0` (absent for the root).
    #[serde(default)]
    pub key: String,
    /// The value of a file node.
    #[serde(default)]
    pub value: Option<String>,
    /// Whether the node is a directory.
    #[serde(default)]
    pub dir: bool,
    /// Children of a directory listed with the request.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// etcd index at which the node was created.
    #[serde(default)]
    pub created_index: u64,
    /// etcd index of the node's last modification.
    #[serde(default)]
    pub modified_index: u64,
}

impl Node {
    /// Every file node under this one (itself if it is a file), depth first in reply order.
    pub fn files(&self) -> Vec<&Node> {
        if !self.dir {
            return vec![self];
        }
        self.nodes.iter().flat_map(Node::files).collect()
    }
}

/// A successful reply: what was done and the node it was done to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `get`, `set`, `create`, `update`, `compareAndSwap`, ...
    pub action: String,
    /// The node after the action.
    pub node: Node,
    /// The node before it, for writes that replaced one.
    #[serde(default)]
    pub prev_node: Option<Node>,
}

/// A v2 error reply, e.g. `{"errorCode":101,"message":"Compare failed",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2Error {
    /// etcd's error code (100 key not found, 101 compare failed, 105 key exists, 300 raft
    /// internal, ...).
    pub error_code: u32,
    /// The code's fixed message.
    #[serde(default)]
    pub message: String,
    /// What the error is about (a key, a comparison).
    #[serde(default)]
    pub cause: String,
    /// The store's index when the error was made.
    #[serde(default)]
    pub index: u64,
}

/// Error codes from 300 up are the server's own trouble (raft internal, leader election,
/// watcher): etcd reports a proposal that timed out as 300, and such a proposal may still
/// be committed. Codes below are decisions about the request itself.
pub const FIRST_SERVER_ERROR: u32 = 300;

impl V2Error {
    /// Whether the error says the request was not applied and never will be.
    pub fn is_definite(&self) -> bool {
        self.error_code < FIRST_SERVER_ERROR
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The request was carried out.
    Event(Event),
    /// The request was refused (or, for codes from [`FIRST_SERVER_ERROR`], not decided).
    Error(V2Error),
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `X-Etcd-Index`: the store's index when the reply was made.
    pub etcd_index: Option<u64>,
    /// The decoded body.
    pub body: Body,
}

impl Reply {
    /// The reply's index: `X-Etcd-Index`, else an error's `index`.
    pub fn index(&self) -> Option<u64> {
        match (&self.body, self.etcd_index) {
            (_, Some(i)) => Some(i),
            (Body::Error(e), None) => Some(e.index),
            (Body::Event(_), None) => None,
        }
    }
}

/// Why there is no [`Reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be opened: nothing was sent.
    NotSent(String),
    /// Sent, or possibly sent, without a complete answer in time.
    Indeterminate(String),
    /// An answer that is neither an event nor a v2 error.
    Malformed(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotSent(why) => write!(f, "not sent: {why}"),
            Failure::Indeterminate(why) => write!(f, "no answer: {why}"),
            Failure::Malformed(why) => write!(f, "malformed answer: {why}"),
        }
    }
}

/// Percent-encodes `s` for a URL query or form value (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `a=1&b=2`, each value percent-encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A client of one member's `/v2/keys`, one request at a time.
pub struct V2Client {
    /// `host:port` of the member's client URL.
    authority: String,
    timeout: Duration,
    conn: Option<SendRequest<String>>,
}

impl V2Client {
    /// A client of the member at `url` (`http://host:port`); connects on first use.
    /// Every request, connecting included, gives up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> V2Client {
        let authority = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        V2Client {
            authority,
            timeout,
            conn: None,
        }
    }

    /// `GET /v2/keys{key}?{query}`.
    pub async fn get(&mut self, key: &str, query: &[(&str, &str)]) -> Result<Reply, Failure> {
        self.request(Method::GET, key, query, None).await
    }

    /// `PUT /v2/keys{key}` with the form `fields`.
    pub async fn put(&mut self, key: &str, fields: &[(&str, &str)]) -> Result<Reply, Failure> {
        self.request(Method::PUT, key, &[], Some(form(fields)))
            .await
    }

    /// `POST /v2/keys{dir}` with the form `fields`: an in-order key in `dir`.
    pub async fn post(&mut self, dir: &str, fields: &[(&str, &str)]) -> Result<Reply, Failure> {
        self.request(Method::POST, dir, &[], Some(form(fields)))
            .await
    }

    async fn request(
        &mut self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Reply, Failure> {
        let mut path = format!("/v2/keys{key}");
        if !query.is_empty() {
            path.push('?');
            path.push_str(&form(query));
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request
            .body(body.unwrap_or_default())
            .expect("a request from a valid path and headers");
        let result = tokio::time::timeout(self.timeout, self.exchange(request)).await;
        let result = result.unwrap_or_else(|_| {
            Err(Failure::Indeterminate(format!(
                "no reply within {:?}",
                self.timeout
            )))
        });
        if result.is_err() {
            // A connection that failed a request is never reused: it may still carry the
            // answer to it.
            self.conn = None;
        }
        result
    }

    async fn exchange(&mut self, request: Request<String>) -> Result<Reply, Failure> {
        let conn = self.connection().await?;
        let response = conn
            .send_request(request)
            .await
            .map_err(|e| Failure::Indeterminate(e.to_string()))?;
        let status = response.status().as_u16();
        let etcd_index = response
            .headers()
            .get("x-etcd-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::Indeterminate(e.to_string()))?
            .to_bytes();
        let body = decode(status, &bytes)?;
        Ok(Reply {
            status,
            etcd_index,
            body,
        })
    }

    /// The open connection, or a new one. Only a failure to connect is [`Failure::NotSent`].
    async fn connection(&mut self) -> Result<&mut SendRequest<String>, Failure> {
        if self.conn.as_ref().is_some_and(|c| c.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|e| Failure::NotSent(format!("connect {}: {e}", self.authority)))?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| Failure::NotSent(format!("handshake: {e}")))?;
            tokio::spawn(connection);
            self.conn = Some(sender);
        }
        let conn = self.conn.as_mut().expect("connection just opened");
        // A connection the server closed while idle fails here, before anything is sent.
        conn.ready()
            .await
            .map_err(|e| Failure::NotSent(format!("connection closed: {e}")))?;
        Ok(conn)
    }
}

/// Decodes a body by its status: 2xx must be an event, anything else a v2 error.
fn decode(status: u16, bytes: &[u8]) -> Result<Body, Failure> {
    let text = || String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    if (200..300).contains(&status) {
        serde_json::from_slice(bytes)
            .map(Body::Event)
            .map_err(|e| Failure::Malformed(format!("status {status}: {e}: {}", text())))
    } else {
        match serde_json::from_slice::<V2Error>(bytes) {
            Ok(e) => Ok(Body::Error(e)),
            // A bare 5xx (a proxy, a server going down mid-reply) decides nothing.
            Err(_) if status >= 500 => Err(Failure::Indeterminate(format!(
                "status {status}: {}",
                text()
            ))),
            Err(e) => Err(Failure::Malformed(format!(
                "status {status}: {e}: {}",
                text()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn forms_are_percent_encoded() {
        assert_eq!(
            form(&[("value", "a b&c=d/é")]),
            "value=a%20b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            form(&[("prevExist", "false"), ("value", "c1-2")]),
            "prevExist=false&value=c1-2"
        );
    }

    #[test]
    fn bodies_decode_by_status() {
        let event = br#"{"action":"compareAndSwap","node":{"key":"/a","value":"2","modifiedIndex":9,"createdIndex":4},"prevNode":{"key":"/a","value":"1","modifiedIndex":8,"createdIndex":4}}"#;
        let Body::Event(e) = decode(200, event).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(e.action, "compareAndSwap");
        assert_eq!(e.node.modified_index, 9);
        assert_eq!(e.prev_node.unwrap().value.as_deref(), Some("1"));
        let error = br#"{"errorCode":101,"message":"Compare failed","cause":"[x != a]","index":4}"#;
        let Body::Error(e) = decode(412, error).unwrap() else {
            panic!("not an error")
        };
        assert_eq!((e.error_code, e.index, e.is_definite()), (101, 4, true));
        let timeout = br#"{"errorCode":300,"message":"Raft Internal Error","cause":"etcdserver: request timed out","index":0}"#;
        let Body::Error(e) = decode(500, timeout).unwrap() else {
            panic!("not an error")
        };
        assert!(!e.is_definite());
        assert!(matches!(decode(200, b"{}"), Err(Failure::Malformed(_))));
        assert!(matches!(decode(404, b"nope"), Err(Failure::Malformed(_))));
        assert!(matches!(
            decode(502, b"bad gateway"),
            Err(Failure::Indeterminate(_))
        ));
    }

    #[test]
    fn directories_list_their_files() {
        let listing = br#"{"action":"get","node":{"key":"/s","dir":true,"nodes":[{"key":"/s/q","dir":true,"nodes":[{"key":"/s/q/00000000000000000005","value":"z","modifiedIndex":5,"createdIndex":5}]},{"key":"/s/a","value":"x","modifiedIndex":4,"createdIndex":4}]}}"#;
        let Body::Event(e) = decode(200, listing).unwrap() else {
            panic!("not an event")
        };
        let keys: Vec<&str> = e.node.files().iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["/s/q/00000000000000000005", "/s/a"]);
    }

    /// A server that answers the first request on each connection with `reply` (or never).
    async fn canned(reply: Option<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let _ = socket.read(&mut buf).await;
                    match reply {
                        Some(body) => {
                            let head = format!(
                                "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\nX-Etcd-Index: 7\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(body.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn replies_and_failures_are_told_apart() {
        let url = canned(Some(
            r#"{"errorCode":105,"message":"Key already exists","cause":"/k","index":7}"#,
        ))
        .await;
        let mut client = V2Client::new(&url, Duration::from_secs(2));
        let reply = client.put("/k", &[("value", "v")]).await.unwrap();
        assert_eq!((reply.status, reply.index()), (412, Some(7)));
        assert!(matches!(
            reply.body,
            Body::Error(V2Error {
                error_code: 105,
                ..
            })
        ));

        let silent = canned(None).await;
        let mut client = V2Client::new(&silent, Duration::from_millis(200));
        let failure = client.get("/k", &[("quorum", "true")]).await.unwrap_err();
        assert!(matches!(failure, Failure::Indeterminate(_)), "{failure}");

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let mut client = V2Client::new(&url, Duration::from_secs(2));
        let failure = client.put("/k", &[("value", "v")]).await.unwrap_err();
        assert!(matches!(failure, Failure::NotSent(_)), "{failure}");
    }
}
