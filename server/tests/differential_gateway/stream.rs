//! Streaming answers (watch, lease keepalive) read line by line, as `curl -N`
//! shows them: each line is one `{"result":...}` (or `{"error":...}`) object.
//!
//! Two readers: [`HttpLines`] over a raw socket, which also sees the status and
//! headers, and [`CurlLines`], a real `curl -N` subprocess, which checks that an
//! ordinary command-line client gets its lines as they are sent.

use crate::http::{Conn, HttpError, Request};
use crate::observe::Body;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Instant;

/// What a stream did next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One line, parsed and masked.
    Line(Body),
    /// The answer ended.
    Ended,
    /// Nothing within the time given.
    Waiting,
    Failed(String),
}

/// A source of newline-terminated lines with deadlines.
pub trait Lines {
    /// The next line (without its newline), `None` at the end of the answer,
    /// [`HttpError::Timeout`] if nothing came before `deadline`.
    fn next_line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, HttpError>;
}

/// A streaming answer read from a raw socket.
pub struct HttpLines {
    conn: Conn,
    /// Whether the status and headers have been read.
    head_read: bool,
    pending: Vec<u8>,
    ended: bool,
}

impl HttpLines {
    pub fn open(port: u16, req: &Request) -> Result<HttpLines, HttpError> {
        Ok(HttpLines {
            conn: Conn::open(port, req)?,
            head_read: false,
            pending: Vec::new(),
            ended: false,
        })
    }

    /// Status, `Content-Type`, and, for an answer that is not a `200`, the whole
    /// body (a `200` streams, and its lines are read with [`Lines::next_line`]).
    /// A gateway may hold its headers back until the first line is due; then
    /// this times out and [`Lines::next_line`] reads them later.
    pub fn head(&mut self, deadline: Instant) -> Result<(u16, Option<String>, Body), HttpError> {
        let head = self.conn.read_head(deadline)?;
        self.head_read = true;
        let content_type = head.get("content-type").map(str::to_string);
        let body = if head.status == 200 {
            Body::Empty
        } else {
            let bytes = self.conn.read_body(deadline)?;
            self.ended = true;
            crate::observe::body(&bytes, "", &Default::default())
        };
        Ok((head.status, content_type, body))
    }
}

impl Lines for HttpLines {
    fn next_line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, HttpError> {
        if !self.head_read {
            let (status, _, body) = self.head(deadline)?;
            if status != 200 {
                // The error answer was read whole; it is the one "line".
                return Ok(Some(format!("HTTP {status} {body:?}").into_bytes()));
            }
        }
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=i).collect();
                line.pop();
                return Ok(Some(line));
            }
            if self.ended {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(std::mem::take(&mut self.pending)));
            }
            match self.conn.read_body_part(deadline)? {
                Some(part) => self.pending.extend_from_slice(&part),
                None => self.ended = true,
            }
        }
    }
}

/// `curl -sS -N` running against one server; killed when dropped.
pub struct CurlLines {
    child: Child,
    lines: Receiver<Vec<u8>>,
}

impl CurlLines {
    /// Starts `curl -N` with a JSON POST of `body` to `path` on
    /// `127.0.0.1:port`.
    pub fn spawn(port: u16, path: &str, body: &str) -> std::io::Result<CurlLines> {
        let mut child = Command::new("curl")
            .args(["-sS", "-N", "--max-time", "60", "-X", "POST"])
            .args(["-H", "Content-Type: application/json", "-d", body])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("curl stdout is piped");
        let (tx, rx) = mpsc::channel();
        // The reader ends when curl's stdout closes, which killing curl does.
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(CurlLines { child, lines: rx })
    }
}

impl Lines for CurlLines {
    fn next_line(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, HttpError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Ok(Some(line)),
            Err(RecvTimeoutError::Timeout) => Err(HttpError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Ok(None),
        }
    }
}

impl Drop for CurlLines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
