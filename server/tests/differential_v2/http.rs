//! A minimal HTTP/1.1 client over a raw socket.
//!
//! The request target goes on the wire byte for byte as written: double slashes,
//! dot segments, `%2F` and invalid escapes reach the server unaltered, which a
//! URL-normalising client library would hide. Bodies are read incrementally, so a
//! long-polling `wait=true` answer can be taken apart event by event, and every
//! read has a deadline, so a server that never answers fails the case instead of
//! hanging the suite.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// One HTTP request, sent with `Connection: close` on its own connection.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query exactly as they go on the request line.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(target: &str) -> Request {
        Request::new("GET", target)
    }

    pub fn put(target: &str) -> Request {
        Request::new("PUT", target)
    }

    pub fn post(target: &str) -> Request {
        Request::new("POST", target)
    }

    pub fn delete(target: &str) -> Request {
        Request::new("DELETE", target)
    }

    /// An `application/x-www-form-urlencoded` body; `form` is sent as given, so
    /// the caller escapes what needs escaping.
    pub fn form(self, form: &str) -> Request {
        self.body_with(
            "application/x-www-form-urlencoded",
            form.as_bytes().to_vec(),
        )
    }

    /// A body with the given `Content-Type`.
    pub fn body_with(mut self, content_type: &str, body: Vec<u8>) -> Request {
        self.headers
            .push(("Content-Type".into(), content_type.to_string()));
        self.body = body;
        self
    }

    /// A body without any `Content-Type` header.
    pub fn raw_body(mut self, body: &str) -> Request {
        self.body = body.as_bytes().to_vec();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The value of the first `name` parameter in the query string or, for PUT
    /// and POST with a form body, in the body (where Go's `ParseForm` also looks;
    /// body values come first there).
    pub fn param(&self, name: &str) -> Option<String> {
        let form = self
            .headers
            .iter()
            .any(|(k, v)| {
                k.eq_ignore_ascii_case("content-type")
                    && v.starts_with("application/x-www-form-urlencoded")
            })
            .then(|| String::from_utf8_lossy(&self.body).into_owned());
        let query = self.target.split_once('?').map(|(_, q)| q.to_string());
        let sources = match self.method.as_str() {
            "PUT" | "POST" | "PATCH" => [form, query],
            _ => [None, query],
        };
        sources.into_iter().flatten().find_map(|s| {
            s.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == name).then(|| v.to_string())
            })
        })
    }

    fn encode(&self, port: u16) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n",
            self.method, self.target
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "PUT" | "POST") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, clip(&self.target, 300))?;
        for (k, v) in &self.headers {
            write!(f, " [{k}: {v}]")?;
        }
        if !self.body.is_empty() {
            write!(
                f,
                " body {:?}",
                clip(&String::from_utf8_lossy(&self.body), 300)
            )?;
        }
        Ok(())
    }
}

/// Cuts `s` to at most `max` bytes for a report, saying how much was left out.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...({} bytes in all)", &s[..cut], s.len())
}

/// Status line and headers of an answer. Header names are lowercased; order and
/// repetitions are kept.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

impl Response {
    /// `X-Etcd-Index`, when present and numeric.
    pub fn etcd_index(&self) -> Option<u64> {
        self.head.get("x-etcd-index")?.parse().ok()
    }

    /// The body as JSON, `Null` if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// Nothing (more) arrived before the deadline.
    Timeout,
    /// The connection failed or closed before the answer was complete.
    Broken(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout => write!(f, "no answer before the deadline"),
            HttpError::Broken(why) => write!(f, "connection failed: {why}"),
        }
    }
}

/// Where the reader stands in a body.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// Before the head has been read.
    Head,
    Length(usize),
    /// Inside a chunk with this many bytes left (`None`: at a chunk-size line).
    Chunked(Option<usize>),
    UntilClose,
    Done,
}

/// One connection carrying one request, read as its answer arrives.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    framing: Framing,
    head_only: bool,
}

impl Conn {
    /// Connects to `127.0.0.1:port` and writes `req`.
    pub fn open(port: u16, req: &Request) -> Result<Conn, HttpError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| HttpError::Broken(format!("connect: {e}")))?;
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| HttpError::Broken(e.to_string()))?;
        stream
            .write_all(&req.encode(port))
            .map_err(|e| HttpError::Broken(format!("write: {e}")))?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            framing: Framing::Head,
            head_only: req.method == "HEAD",
        })
    }

    /// Reads more bytes into the buffer; `Ok(false)` at end of stream.
    fn fill(&mut self, deadline: Instant) -> Result<bool, HttpError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HttpError::Timeout);
        }
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|e| HttpError::Broken(e.to_string()))?;
        let mut tmp = [0u8; 16 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(HttpError::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(HttpError::Broken(format!("read: {e}"))),
        }
    }

    /// Reads the status line and headers.
    pub fn read_head(&mut self, deadline: Instant) -> Result<Head, HttpError> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if !self.fill(deadline)? {
                return Err(HttpError::Broken(format!(
                    "closed before the end of the headers: {:?}",
                    String::from_utf8_lossy(&self.buf)
                )));
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| HttpError::Broken(format!("bad status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let head = Head { status, headers };
        self.framing = if self.head_only || status == 204 || status == 304 || status < 200 {
            Framing::Done
        } else if head
            .get("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            Framing::Chunked(None)
        } else if let Some(n) = head.get("content-length") {
            let n = n
                .parse()
                .map_err(|_| HttpError::Broken(format!("bad Content-Length {n:?}")))?;
            Framing::Length(n)
        } else {
            Framing::UntilClose
        };
        Ok(head)
    }

    /// The next piece of the body, de-chunked; `None` at its end.
    pub fn read_body_part(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            match self.framing {
                Framing::Head => panic!("the body is read before the head"),
                Framing::Done | Framing::Length(0) => {
                    self.framing = Framing::Done;
                    return Ok(None);
                }
                Framing::Length(n) => {
                    if self.buf.is_empty() && !self.fill(deadline)? {
                        return Err(HttpError::Broken(format!(
                            "closed with {n} body bytes missing"
                        )));
                    }
                    let k = n.min(self.buf.len());
                    self.framing = Framing::Length(n - k);
                    return Ok(Some(self.buf.drain(..k).collect()));
                }
                Framing::UntilClose => {
                    if self.buf.is_empty() && !self.fill(deadline)? {
                        self.framing = Framing::Done;
                        return Ok(None);
                    }
                    return Ok(Some(std::mem::take(&mut self.buf)));
                }
                Framing::Chunked(None) => {
                    let Some(eol) = find(&self.buf, b"\r\n") else {
                        if !self.fill(deadline)? {
                            return Err(HttpError::Broken("closed inside a chunk size".into()));
                        }
                        continue;
                    };
                    let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
                    self.buf.drain(..eol + 2);
                    let size = line.split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(size, 16)
                        .map_err(|_| HttpError::Broken(format!("bad chunk size {line:?}")))?;
                    // The trailer after the last chunk is not read: the
                    // connection is closed after every answer.
                    self.framing = if size == 0 {
                        Framing::Done
                    } else {
                        Framing::Chunked(Some(size))
                    };
                }
                Framing::Chunked(Some(0)) => {
                    if self.buf.len() < 2 {
                        if !self.fill(deadline)? {
                            return Err(HttpError::Broken("closed after a chunk".into()));
                        }
                        continue;
                    }
                    self.buf.drain(..2);
                    self.framing = Framing::Chunked(None);
                }
                Framing::Chunked(Some(n)) => {
                    if self.buf.is_empty() && !self.fill(deadline)? {
                        return Err(HttpError::Broken("closed inside a chunk".into()));
                    }
                    let k = n.min(self.buf.len());
                    self.framing = Framing::Chunked(Some(n - k));
                    return Ok(Some(self.buf.drain(..k).collect()));
                }
            }
        }
    }

    /// The rest of the body.
    pub fn read_body(&mut self, deadline: Instant) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        while let Some(part) = self.read_body_part(deadline)? {
            body.extend_from_slice(&part);
        }
        Ok(body)
    }
}

/// Sends `req` to `127.0.0.1:port` and reads the whole answer within `timeout`.
pub fn send(port: u16, req: &Request, timeout: Duration) -> Result<Response, HttpError> {
    let deadline = Instant::now() + timeout;
    let mut c = Conn::open(port, req)?;
    let head = c.read_head(deadline)?;
    let body = c.read_body(deadline)?;
    Ok(Response { head, body })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Percent-encodes `s` for a query value or form field: everything but
/// unreserved characters.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
