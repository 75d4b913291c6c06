//! The pair of servers every case is sent to, and the record of their answers.
//!
//! Each case goes to etcd first, then to the server under test; both answers are
//! normalised (see `observe.rs`) and must agree. Mismatches are collected and
//! reported together when the test finishes, each with its request and both
//! answers, so one divergence does not hide the next.

use crate::common::{Ectd, Etcd, Kind, Member};
use crate::http::{self, Conn, Head, HttpError, Request, Response};
use crate::observe::{self, Body, Identity, Mode, Observed, Outcome};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a server may take to answer an ordinary request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a watcher may take to send its headers: etcd flushes them as soon as
/// the watcher is registered.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a watcher may take to deliver an event that is due.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a watcher is listened to before it counts as still waiting. An
/// event that is due is already queued when the write that caused it has been
/// answered, so this only covers the delivery to the socket.
pub const QUIET: Duration = Duration::from_millis(400);

/// The `/v2/keys` URL path of `key` (which starts with `/`, or is empty for the
/// path without a trailing slash).
pub fn keys(key: &str) -> String {
    format!("/v2/keys{key}")
}

/// Servers that stop answering make every later case wait for a timeout;
/// after this many the test stops.
const MAX_TIMEOUTS: usize = 3;

/// Which server is compared with etcd. Set `DIFF_V2_SUBJECT=etcd` to compare
/// etcd with a second etcd, which must always pass: that checks the suite's own
/// normalisation. Unset (the default), the subject is ectd.
pub fn subject_kind() -> Kind {
    match std::env::var("DIFF_V2_SUBJECT").as_deref() {
        Err(_) | Ok("ectd") => Kind::Ectd,
        Ok("etcd") => Kind::Etcd,
        Ok(other) => panic!("DIFF_V2_SUBJECT must be ectd or etcd, not {other:?}"),
    }
}

/// One running server with the v2 API on.
pub struct Side {
    member: Member,
    _dir: TempDir,
    me: Identity,
    name: &'static str,
}

impl Side {
    fn start(kind: Kind, name: &'static str, version: Option<&str>) -> Side {
        let dir = TempDir::new().expect("temp dir");
        let member = match kind {
            Kind::Etcd => Etcd::start_with(dir.path(), &["--enable-v2"]),
            // ectd reports the version it is told to; it is told the reference's,
            // so that `/version` compares the answer's form rather than two
            // release numbers.
            Kind::Ectd => match version {
                Some(v) => Ectd::start(dir.path(), &["--enable-v2", "--etcd-version", v]),
                None => Ectd::start(dir.path(), &["--enable-v2"]),
            },
        };
        let me = Identity {
            client_url: member.endpoint(),
            peer_url: member.peer_url(),
        };
        Side {
            member,
            _dir: dir,
            me,
            name,
        }
    }

    pub fn port(&self) -> u16 {
        self.member.client_port()
    }

    fn send(&self, req: &Request) -> Result<Response, HttpError> {
        http::send(self.port(), req, REQUEST_TIMEOUT)
    }

    /// Panics with the log tail if the process has exited.
    fn check_alive(&mut self, what: &str) {
        if !self.member.is_running() {
            panic!(
                "{} died during {what}\n{}",
                self.name,
                self.member.stderr_tail(40)
            );
        }
    }

    /// `X-Etcd-Index` of the root.
    fn index(&self) -> Option<u64> {
        self.send(&Request::get(&keys("/"))).ok()?.etcd_index()
    }

    /// Waits (a bounded time) until the store's index reaches `index`: a new
    /// member records itself and the cluster version in the v2 store after it
    /// starts, and a comparison begun before that is over compares start-up
    /// timing rather than the API. If the index never gets there, the first
    /// case shows it.
    fn wait_index(&mut self, index: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(self.index(), Some(i) if i >= index) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the cluster version is decided: etcd 3.4 records it in the v2
    /// store, so until then its `X-Etcd-Index` may still move on its own.
    fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ans = self.send(&Request::get("/version"));
            if let Ok(r) = &ans {
                let v = r.json();
                if v["etcdcluster"]
                    .as_str()
                    .is_some_and(|c| c != "not_decided")
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: cluster version not decided in 15 s; last /version answer {ans:?}",
                    self.name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub struct Pair {
    etcd: Side,
    subject: Side,
    context: String,
    /// Requests sent to each server.
    sent: usize,
    cases: usize,
    timeouts: usize,
    mismatches: Vec<String>,
    /// `DIFF_V2_TRACE` set: every request and etcd's answer are printed.
    trace: bool,
}

impl Pair {
    /// Starts etcd and the subject (see [`subject_kind`]), both single members
    /// with fresh data directories and `--enable-v2`, and waits until both have
    /// made their own start-up records. `context` is shown with every failure
    /// (such as a seed).
    pub fn start(context: &str) -> Pair {
        let mut p = Pair::launch(context, true);
        p.case("the fresh store", Request::get(&keys("/")));
        p
    }

    /// Like [`Pair::start`], but requests may reach each server as soon as it
    /// reports itself healthy.
    pub fn start_unsettled(context: &str) -> Pair {
        Pair::launch(context, false)
    }

    fn launch(context: &str, settle: bool) -> Pair {
        let mut etcd = Side::start(Kind::Etcd, "etcd", None);
        let version = etcd
            .send(&Request::get("/version"))
            .map(|r| {
                r.json()["etcdserver"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_else(|e| panic!("etcd /version: {e}"));
        let kind = subject_kind();
        let name = match kind {
            Kind::Ectd => "ectd",
            Kind::Etcd => "etcd (second instance)",
        };
        let mut subject = if settle {
            etcd.settle();
            let start = etcd
                .index()
                .unwrap_or_else(|| panic!("etcd: no X-Etcd-Index on /v2/keys/"));
            let mut subject = Side::start(kind, name, Some(&version));
            subject.settle();
            subject.wait_index(start);
            subject
        } else {
            Side::start(kind, name, Some(&version))
        };
        subject.check_alive("start-up");
        Pair {
            etcd,
            subject,
            context: context.to_string(),
            sent: 0,
            cases: 0,
            timeouts: 0,
            mismatches: Vec::new(),
            trace: std::env::var_os("DIFF_V2_TRACE").is_some(),
        }
    }

    /// Sends `req` to both servers, compares in the mode its target calls for,
    /// and returns etcd's answer.
    pub fn case(&mut self, label: &str, req: Request) -> Response {
        let mode = Mode::of(&req.target, req.param("sorted").as_deref());
        self.case_in(label, req, mode)
    }

    /// Like [`Pair::case`] with an explicit normalisation.
    pub fn case_in(&mut self, label: &str, req: Request, mode: Mode) -> Response {
        self.sent += 1;
        let reference = self.etcd.send(&req).unwrap_or_else(|e| {
            self.etcd.check_alive(label);
            panic!("{label}: etcd did not answer {req}: {e}")
        });
        let theirs = self.subject.send(&req);
        if theirs.is_err() {
            self.subject.check_alive(label);
        }
        let a: Outcome = Ok(observe::observe(&reference, mode, &self.etcd.me));
        let b: Outcome = theirs
            .as_ref()
            .map(|r| observe::observe(r, mode, &self.subject.me))
            .map_err(Clone::clone);
        self.record(label, &req, &a, &b);
        reference
    }

    /// Compares two outcomes of the case `label` and keeps a mismatch.
    fn record(&mut self, label: &str, req: &Request, a: &Outcome, b: &Outcome) {
        self.cases += 1;
        if self.trace {
            eprintln!("{label}: {req}\n    etcd: {}", observe::render(a));
        }
        if let Err(why) = observe::agree(a, b) {
            if matches!(b, Err(HttpError::Timeout)) {
                self.timeouts += 1;
            }
            self.mismatches.push(format!(
                "#{} {label}: {why}\n    request: {req}\n    etcd: {}\n    {}: {}",
                self.cases,
                observe::render(a),
                self.subject.name,
                observe::render(b)
            ));
            if self.timeouts >= MAX_TIMEOUTS {
                panic!(
                    "{} stopped answering [{}]; mismatches so far:\n{}",
                    self.subject.name,
                    self.context,
                    self.mismatches.join("\n")
                );
            }
        }
    }

    /// Sends a watching request (`wait=true`) to both servers and compares the
    /// status and headers, which etcd sends as soon as the watcher is
    /// registered: a write made after this returns is one the watcher sees. An
    /// answer that is not a `200` (an error) is compared whole.
    pub fn watch(&mut self, label: &str, req: Request) -> Watch {
        self.sent += 1;
        let stream = observe::go_bool(req.param("stream").as_deref());
        let mut reference = WatchSide::open(self.etcd.port(), &req)
            .unwrap_or_else(|e| panic!("{label}: cannot reach etcd: {e}"));
        let mut subject = WatchSide::open(self.subject.port(), &req)
            .unwrap_or_else(|e| panic!("{label}: cannot reach {}: {e}", self.subject.name));
        let a = reference.head(Instant::now() + HEAD_TIMEOUT, &self.etcd.me);
        if let Err(e) = &a {
            panic!("{label}: etcd sent no headers for {req}: {e}");
        }
        let b = subject.head(Instant::now() + HEAD_TIMEOUT, &self.subject.me);
        if b.is_err() {
            self.subject.check_alive(label);
        }
        self.record(label, &req, &a, &b);
        Watch {
            req,
            stream,
            sides: [reference, subject],
        }
    }

    /// Both watchers must deliver the same next event (after which a watcher
    /// without `stream=true` must end its answer), or both end.
    pub fn event(&mut self, label: &str, w: &mut Watch) {
        let a = w.sides[0].next(Instant::now() + EVENT_TIMEOUT, w.stream);
        assert!(
            a != Step::Waiting,
            "{label}: the case expects etcd's watcher to answer, it did not within {EVENT_TIMEOUT:?}: {}",
            w.req
        );
        let b = w.sides[1].next(Instant::now() + EVENT_TIMEOUT, w.stream);
        self.record_step(label, w, a, b);
    }

    /// Both watchers must still be waiting.
    pub fn no_event(&mut self, label: &str, w: &mut Watch) {
        let a = w.sides[0].next(Instant::now() + QUIET, w.stream);
        assert!(
            a == Step::Waiting,
            "{label}: the case expects etcd's watcher to wait, it answered {a:?}: {}",
            w.req
        );
        let b = w.sides[1].next(Instant::now() + QUIET, w.stream);
        self.record_step(label, w, a, b);
    }

    /// Whatever etcd's watcher does next (answer or keep waiting), the subject's
    /// must do too.
    pub fn event_or_not(&mut self, label: &str, w: &mut Watch) {
        let mut a = w.sides[0].next(Instant::now() + QUIET, w.stream);
        let b = if a == Step::Waiting {
            let b = w.sides[1].next(Instant::now() + QUIET, w.stream);
            if b != Step::Waiting {
                // Give etcd the benefit of a slow moment before calling it a
                // difference.
                a = w.sides[0].next(Instant::now() + Duration::from_secs(2), w.stream);
            }
            b
        } else {
            w.sides[1].next(Instant::now() + EVENT_TIMEOUT, w.stream)
        };
        self.record_step(label, w, a, b);
    }

    fn record_step(&mut self, label: &str, w: &Watch, a: Step, b: Step) {
        self.cases += 1;
        if self.trace {
            eprintln!("{label}: {}\n    etcd: {a:?}", w.req);
        }
        let verdict = match (&a, &b) {
            (Step::Event(x, ex), Step::Event(y, ey)) => observe::agree_body(x, y).and_then(|()| {
                if ex == ey {
                    Ok(())
                } else {
                    Err("whether the answer ended after the event".into())
                }
            }),
            _ if a == b => Ok(()),
            _ => Err("watcher step".to_string()),
        };
        if let Err(why) = verdict {
            if b == Step::Waiting {
                self.timeouts += 1;
            }
            self.mismatches.push(format!(
                "#{} {label}: {why}\n    request: {}\n    etcd: {a:?}\n    {}: {b:?}",
                self.cases, w.req, self.subject.name,
            ));
            if self.timeouts >= MAX_TIMEOUTS {
                panic!(
                    "{} stopped answering [{}]; mismatches so far:\n{}",
                    self.subject.name,
                    self.context,
                    self.mismatches.join("\n")
                );
            }
        }
    }

    /// Fails the test if any case differed; `min_requests` guards against a
    /// test that quietly stopped sending.
    pub fn finish(mut self, min_requests: usize) {
        self.etcd.check_alive("the test");
        self.subject.check_alive("the test");
        if !self.mismatches.is_empty() {
            panic!(
                "{} of {} comparisons differ between etcd and {} [{}]:\n{}",
                self.mismatches.len(),
                self.cases,
                self.subject.name,
                self.context,
                self.mismatches.join("\n")
            );
        }
        assert!(
            self.sent >= min_requests,
            "only {} requests sent, expected at least {min_requests}",
            self.sent
        );
        eprintln!(
            "{}: {} requests to each of etcd and {}, {} comparisons, all equal",
            self.context, self.sent, self.subject.name, self.cases
        );
    }
}

/// What a watcher did next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An event, and whether the answer ended right after it.
    Event(Body, bool),
    /// The answer ended without (another) event.
    Ended,
    /// Nothing within the time given.
    Waiting,
    Failed(String),
}

/// A watching request open on both servers; etcd's side first.
pub struct Watch {
    req: Request,
    stream: bool,
    sides: [WatchSide; 2],
}

struct WatchSide {
    conn: Conn,
    head: Option<Head>,
    /// De-chunked body bytes not yet taken as events.
    pending: Vec<u8>,
    ended: bool,
}

impl WatchSide {
    fn open(port: u16, req: &Request) -> Result<WatchSide, HttpError> {
        Ok(WatchSide {
            conn: Conn::open(port, req)?,
            head: None,
            pending: Vec::new(),
            ended: false,
        })
    }

    /// Reads the head; an error answer (not `200`) is read whole and compared
    /// with its body, a `200` by its head alone.
    fn head(&mut self, deadline: Instant, me: &Identity) -> Outcome {
        let head = self.conn.read_head(deadline)?;
        let body = if head.status == 200 {
            Body::Empty
        } else {
            let bytes = self.conn.read_body(deadline)?;
            self.ended = true;
            observe::body(
                &bytes,
                head.get("content-type"),
                Mode::Keys { ordered: true },
                me,
            )
        };
        let ob = Observed {
            status: head.status,
            headers: observe::headers(&head),
            body,
        };
        self.head = Some(head);
        Ok(ob)
    }

    /// The next newline-terminated JSON event, or the end of the answer.
    fn next(&mut self, deadline: Instant, stream: bool) -> Step {
        if self.head.is_none() {
            // Headers that did not come in time (a mismatch already recorded)
            // may come with the event.
            match self.conn.read_head(deadline) {
                Ok(h) => self.head = Some(h),
                Err(HttpError::Timeout) => return Step::Waiting,
                Err(e) => return Step::Failed(e.to_string()),
            }
        }
        let line = loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                break self.pending.drain(..=i).collect::<Vec<u8>>();
            }
            if self.ended {
                if self.pending.is_empty() {
                    return Step::Ended;
                }
                break std::mem::take(&mut self.pending);
            }
            match self.conn.read_body_part(deadline) {
                Ok(Some(part)) => self.pending.extend_from_slice(&part),
                Ok(None) => self.ended = true,
                Err(HttpError::Timeout) => return Step::Waiting,
                Err(e) => return Step::Failed(e.to_string()),
            }
        };
        let content_type = self.head.as_ref().and_then(|h| h.get("content-type"));
        let event = observe::body(
            &line,
            content_type,
            Mode::Keys { ordered: true },
            &Identity::default(),
        );
        // A one-shot watcher ends its answer after the event.
        let ended_after = if stream {
            false
        } else {
            let end = Instant::now() + Duration::from_secs(2);
            loop {
                if !self.pending.is_empty() {
                    break false;
                }
                if self.ended {
                    break true;
                }
                match self.conn.read_body_part(end) {
                    Ok(Some(part)) => self.pending.extend_from_slice(&part),
                    Ok(None) => self.ended = true,
                    Err(_) => break false,
                }
            }
        };
        Step::Event(event, ended_after)
    }
}
