//! The v2 keys API workloads: `v2-set` (`PUT /v2/keys/bench/<key>` with the form
//! `value=...`) and `v2-get` (`GET /v2/keys/bench/<key>`, with `quorum=true` for
//! linearizable reads), each a closed loop over [`crate::load::drive_with`].
//!
//! They speak HTTP/1.1 with keep-alive, as etcd's v2 clients do. HTTP/1.1 carries one
//! request at a time per connection, so clients sharing a connection take turns on it:
//! give `--conns` at least `--clients` for that many requests in flight (a Go client
//! opens a connection per concurrent request). A request counts as an error unless it
//! gets a 2xx answer.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::load::{self, drive_with, key, Load, Report, Target};

/// Where the workloads' keys live in the v2 store.
const DIR: &str = "/v2/keys/bench";

/// Why a v2 request did not succeed.
#[derive(Debug)]
pub enum V2Error {
    /// No connection, a broken one, or a timeout.
    Transport(String),
    /// An answer other than 2xx (the body is a v2 error such as `{"errorCode":100,...}`).
    Status(u16, String),
}

impl std::fmt::Display for V2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            V2Error::Transport(e) => write!(f, "{e}"),
            V2Error::Status(code, body) => write!(f, "status {code}: {body}"),
        }
    }
}

/// One HTTP/1.1 connection to a member, reopened after a failure. Clones share it.
#[derive(Clone)]
pub struct Conn {
    authority: Arc<str>,
    sender: Arc<Mutex<Option<SendRequest<String>>>>,
}

impl Conn {
    /// Opens a connection to `endpoint` (`host:port` or `http://host:port`).
    pub async fn open(endpoint: &str) -> anyhow::Result<Conn> {
        let url = load::url(endpoint);
        let authority = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("the v2 workloads speak plain http, not {url}"))?
            .trim_end_matches('/');
        let conn = Conn {
            authority: authority.into(),
            sender: Arc::new(Mutex::new(None)),
        };
        let opened = tokio::time::timeout(Duration::from_secs(5), conn.connect()).await;
        *conn.sender.lock().await =
            Some(opened.map_err(|_| anyhow::anyhow!("connect {authority}: timed out"))??);
        Ok(conn)
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<String>> {
        let stream = TcpStream::connect(&*self.authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Sends one request (`path` includes any query; a `form` goes in the body) and
    /// waits for the whole answer, holding the connection meanwhile.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        form: Option<String>,
    ) -> Result<(), V2Error> {
        let body = form.map(|f| ("application/x-www-form-urlencoded", f));
        self.send_body(method, path, body).await
    }

    /// Sends one request with an optional (content type, body) and waits for the
    /// whole answer, holding the connection meanwhile.
    pub async fn send_body(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, String)>,
    ) -> Result<(), V2Error> {
        let transport = |e: &dyn std::fmt::Display| V2Error::Transport(e.to_string());
        let mut guard = self.sender.lock().await;
        if guard.as_ref().is_none_or(|s| s.is_closed()) {
            *guard = Some(self.connect().await.map_err(|e| transport(&e))?);
        }
        let sender = guard.as_mut().expect("connection just opened");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &*self.authority);
        let body = match body {
            Some((content_type, body)) => {
                request = request.header(CONTENT_TYPE, content_type);
                body
            }
            None => String::new(),
        };
        let request = request.body(body).map_err(|e| transport(&e))?;
        let result = async {
            sender.ready().await.map_err(|e| transport(&e))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| transport(&e))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(&e))?
                .to_bytes();
            if status.is_success() {
                Ok(())
            } else {
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                Err(V2Error::Status(status.as_u16(), text))
            }
        }
        .await;
        if matches!(result, Err(V2Error::Transport(_))) {
            *guard = None;
        }
        result
    }
}

/// Opens `load.conns` connections to the members `load.target` names.
pub async fn connect(endpoints: &[String], load: &Load) -> anyhow::Result<Vec<Conn>> {
    anyhow::ensure!(!endpoints.is_empty(), "no endpoints");
    let targets = match load.target {
        Target::All => endpoints.to_vec(),
        Target::Leader => vec![load::leader(endpoints).await?],
    };
    let mut conns = Vec::new();
    for i in 0..load.conns.max(1) {
        conns.push(Conn::open(&targets[i % targets.len()]).await?);
    }
    Ok(conns)
}

/// `/v2/keys/bench/<key>` for key number `n` of the key space.
fn path(load: &Load, n: u64) -> String {
    let k = key(load, n);
    format!("{DIR}/{}", String::from_utf8_lossy(&k))
}

/// Sets keys `0..key_space` in turn to `val_size`-byte values.
pub async fn set(conns: &[Conn], load: &Load) -> anyhow::Result<Report> {
    let form = format!("value={}", "v".repeat(load.val_size));
    let load2 = load.clone();
    let op = move |conn: Conn, n: u64| {
        let (path, form) = (path(&load2, n), form.clone());
        async move {
            let r = conn.send(Method::PUT, &path, Some(form)).await;
            (conn, r)
        }
    };
    drive_with(conns, load, |c| async move { Ok(c) }, op).await
}

/// Sets every key of the key space once (not timed), so gets find them.
pub async fn preload(conns: &[Conn], load: &Load) -> anyhow::Result<()> {
    let mut fill = load.clone();
    fill.total = load.key_space;
    fill.duration = None;
    fill.quiet = true;
    let report = set(conns, &fill).await?;
    anyhow::ensure!(report.errors == 0, "{} preload sets failed", report.errors);
    Ok(())
}

/// Gets over the key space; `quorum=true` (linearizable, through consensus) if `quorum`,
/// else answered from the member's own store.
pub async fn get(conns: &[Conn], load: &Load, quorum: bool) -> anyhow::Result<Report> {
    let load2 = load.clone();
    let query = if quorum { "?quorum=true" } else { "" };
    let op = move |conn: Conn, n: u64| {
        let path = format!("{}{query}", path(&load2, n.wrapping_mul(2_654_435_761)));
        async move {
            let r = conn.send(Method::GET, &path, None).await;
            (conn, r)
        }
    };
    drive_with(conns, load, |c| async move { Ok(c) }, op).await
}
