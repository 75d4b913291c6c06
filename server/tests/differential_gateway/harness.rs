//! The pair of servers every case is sent to, and the record of their answers.
//!
//! Each case goes to etcd first, then to the subject; both answers are
//! normalised (`observe.rs`) and must agree. Mismatches are collected and
//! reported together when the test finishes, each with its request and both
//! answers, so one divergence does not hide the next.
//!
//! Request bodies are templates: `{{NAME}}` stands for a value that differs per
//! server, such as the id of a lease each granted ([`Pair::grant`]), its own
//! peer URL (`{{peer_url}}`) or member id (`{{member_id}}`); `<<b64:TEXT>>` is
//! TEXT, so filled, in base64 (a lock key that names a lease).

use crate::common::{Ectd, Etcd, Kind, Member};
use crate::http::{self, HttpError, Request, Response};
use crate::observe::{self, Identity, Outcome};
use crate::stream::{CurlLines, HttpLines, Lines, Step};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a server may take to answer an ordinary request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stream may take to deliver a line that is due.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a stream is listened to before it counts as still open and quiet.
/// A line that is due is already queued when the write causing it has been
/// answered, so this only covers delivery to the socket.
pub const QUIET: Duration = Duration::from_millis(500);

/// After this many requests the subject did not answer, the test stops.
const MAX_TIMEOUTS: usize = 3;

/// Which server is compared with etcd. `DIFF_GW_SUBJECT=etcd` compares etcd
/// with a second etcd, which must always pass: that checks the suite's own
/// normalisation. Unset (the default), the subject is ectd.
pub fn subject_kind() -> Kind {
    match std::env::var("DIFF_GW_SUBJECT").as_deref() {
        Err(_) | Ok("ectd") => Kind::Ectd,
        Ok("etcd") => Kind::Etcd,
        Ok(other) => panic!("DIFF_GW_SUBJECT must be ectd or etcd, not {other:?}"),
    }
}

/// A JSON POST, the form of every gateway call.
pub fn post(path: &str, body: &str) -> Request {
    Request::post(path).body_with("application/json", body.as_bytes().to_vec())
}

/// One running server.
struct Side {
    member: Member,
    _dir: TempDir,
    me: Identity,
    /// Values of the `{{NAME}}` placeholders for this server.
    vars: HashMap<String, String>,
    name: &'static str,
}

impl Side {
    fn start(kind: Kind, name: &'static str, version: Option<&str>) -> Side {
        let dir = TempDir::new().expect("temp dir");
        let member = match kind {
            Kind::Etcd => Etcd::start(dir.path()),
            // Told the reference's version, so that status compares the answer's
            // form rather than two release numbers.
            Kind::Ectd => match version {
                Some(v) => Ectd::start(dir.path(), &["--etcd-version", v]),
                None => Ectd::start(dir.path(), &[]),
            },
        };
        let me = Identity {
            client_url: member.endpoint(),
            peer_url: member.peer_url(),
            ..Identity::default()
        };
        let mut side = Side {
            member,
            _dir: dir,
            me,
            vars: HashMap::new(),
            name,
        };
        // The member id, as the gateway prints it, is masked in answers; a
        // subject without the gateway yet simply has none to mask.
        if let Ok(r) = side.send_raw(&post("/v3/maintenance/status", "{}")) {
            side.me.member_id = r.json()["header"]["member_id"].as_str().map(str::to_string);
        }
        side.vars
            .insert("peer_url".into(), side.me.peer_url.clone());
        side.vars.insert(
            "member_id".into(),
            side.me.member_id.clone().unwrap_or_default(),
        );
        side
    }

    fn port(&self) -> u16 {
        self.member.client_port()
    }

    /// `req` with this server's values in its body.
    fn fill(&self, req: &Request) -> Request {
        let mut r = req.clone();
        let mut text = String::from_utf8_lossy(&r.body).into_owned();
        if text.contains("{{") || text.contains("<<b64:") {
            for (k, v) in &self.vars {
                text = text.replace(&format!("{{{{{k}}}}}"), v);
            }
            // `<<b64:TEXT>>`: TEXT, placeholders filled, in base64.
            while let Some(start) = text.find("<<b64:") {
                let Some(len) = text[start..].find(">>") else {
                    break;
                };
                let inner = observe::b64(&text[start + 6..start + len]);
                text.replace_range(start..start + len + 2, &inner);
            }
            r.body = text.into_bytes();
        }
        r
    }

    fn send_raw(&self, req: &Request) -> Result<Response, HttpError> {
        http::send(self.port(), req, REQUEST_TIMEOUT)
    }

    fn check_alive(&mut self, what: &str) {
        if !self.member.is_running() {
            panic!(
                "{} died during {what}\n{}",
                self.name,
                self.member.stderr_tail(40)
            );
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
    /// Known differences met (see [`Pair::gap`]).
    gaps: Vec<String>,
    /// `DIFF_GW_TRACE` set: every request and etcd's answer are printed.
    trace: bool,
}

impl Pair {
    /// Starts etcd and the subject (see [`subject_kind`]), single members on
    /// fresh data directories. `context` names the test (and seed) in reports.
    pub fn start(context: &str) -> Pair {
        let etcd = Side::start(Kind::Etcd, "etcd", None);
        let version = http::send(etcd.port(), &Request::get("/version"), REQUEST_TIMEOUT)
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
        let mut subject = Side::start(kind, name, Some(&version));
        subject.check_alive("start-up");
        Pair {
            etcd,
            subject,
            context: context.to_string(),
            sent: 0,
            cases: 0,
            timeouts: 0,
            mismatches: Vec::new(),
            gaps: Vec::new(),
            trace: std::env::var_os("DIFF_GW_TRACE").is_some(),
        }
    }

    /// POSTs the JSON `body` to `path` on both servers and returns etcd's
    /// answer as JSON (`Null` if it is not JSON).
    pub fn post(&mut self, label: &str, path: &str, body: &str) -> Value {
        self.case(label, post(path, body)).json()
    }

    /// POSTs the JSON value `body` to `path`; see [`Pair::post`].
    pub fn json(&mut self, label: &str, path: &str, body: Value) -> Value {
        self.post(label, path, &body.to_string())
    }

    /// Sends `req` to both servers, compares, and returns etcd's answer.
    pub fn case(&mut self, label: &str, req: Request) -> Response {
        self.case_both(label, req, |_, _| {})
    }

    /// A request where ectd is known to answer otherwise than etcd 3.4, for the
    /// reason `why` (a feature of a later issue, or a deliberate choice named in
    /// the README). The subject must give etcd's answer or, while the gap is
    /// open, exactly `status`; a second etcd must always agree. Gaps are listed
    /// when the test ends, and one that has closed says so.
    pub fn gap(&mut self, label: &str, req: Request, why: &str, status: u16) -> Response {
        if subject_kind() == Kind::Etcd {
            return self.case(label, req);
        }
        let before = self.mismatches.len();
        // Statuses in the order answered: etcd's, then the subject's if it answered.
        let statuses = std::cell::RefCell::new(Vec::new());
        let reference =
            self.case_both(label, req, |_, r| statuses.borrow_mut().push(r.head.status));
        if self.mismatches.len() == before {
            self.gaps
                .push(format!("{label}: now answered as etcd does ({why})"));
            return reference;
        }
        let shown = self.mismatches.pop().expect("the mismatch just recorded");
        if statuses.borrow().get(1) == Some(&status) {
            self.gaps.push(format!("{label}: known gap ({why})"));
        } else {
            self.mismatches.push(format!(
                "{shown}\n    (a known gap, {why}, but not the expected status {status})"
            ));
        }
        reference
    }

    /// Like [`Pair::case`], returning both answers (the subject's if it gave
    /// one); `before_compare` may learn from them first (such as a lease id to
    /// mask).
    fn case_both(
        &mut self,
        label: &str,
        req: Request,
        before_compare: impl Fn(&mut Side, &Response),
    ) -> Response {
        self.sent += 1;
        let path = req.target.split('?').next().unwrap_or_default().to_string();
        let reference = self
            .etcd
            .send_raw(&self.etcd.fill(&req))
            .unwrap_or_else(|e| {
                self.etcd.check_alive(label);
                panic!("{label}: etcd did not answer {req}: {e}")
            });
        let theirs = self.subject.send_raw(&self.subject.fill(&req));
        if theirs.is_err() {
            self.subject.check_alive(label);
        }
        before_compare(&mut self.etcd, &reference);
        if let Ok(r) = &theirs {
            before_compare(&mut self.subject, r);
        }
        if path.contains("/lock/") || path.contains("/election/") {
            observe::learn_session_leases(&mut self.etcd.me, &reference.json());
            if let Ok(r) = &theirs {
                observe::learn_session_leases(&mut self.subject.me, &r.json());
            }
        }
        let a: Outcome = Ok(observe::observe(&reference, &path, &self.etcd.me));
        let b: Outcome = theirs
            .as_ref()
            .map(|r| observe::observe(r, &path, &self.subject.me))
            .map_err(Clone::clone);
        self.record(label, &req.to_string(), &a, &b);
        reference
    }

    /// Grants a lease on both servers with `body` (a `LeaseGrantRequest`) and
    /// names each server's lease id `name`: `{{name}}` in later bodies is the
    /// id in decimal, `{{name_hex}}` in hexadecimal, and answers naming it are
    /// masked as `<lease name>`.
    pub fn grant(&mut self, label: &str, name: &str, body: &str) -> Value {
        let learn = |side: &mut Side, r: &Response| {
            let Some(id) = r.json()["ID"].as_str().map(str::to_string) else {
                return;
            };
            let hex = id
                .parse::<i64>()
                .map(|i| format!("{i:x}"))
                .unwrap_or_default();
            side.vars.insert(name.to_string(), id.clone());
            side.vars.insert(format!("{name}_hex"), hex);
            side.me.leases.push((id, name.to_string()));
        };
        self.case_both(label, post("/v3/lease/grant", body), learn)
            .json()
    }

    /// Opens a streaming call (watch, keepalive) on both servers over raw
    /// sockets and compares the status and `Content-Type` of each.
    pub fn stream(&mut self, label: &str, path: &str, body: &str) -> Stream {
        self.sent += 1;
        let req = post(path, body);
        let mut a = HttpLines::open(self.etcd.port(), &self.etcd.fill(&req))
            .unwrap_or_else(|e| panic!("{label}: cannot reach etcd: {e}"));
        let mut b = HttpLines::open(self.subject.port(), &self.subject.fill(&req))
            .unwrap_or_else(|e| panic!("{label}: cannot reach {}: {e}", self.subject.name));
        let ha = a.head(Instant::now() + LINE_TIMEOUT);
        // Headers held back until the first line: the subject gets a moment,
        // and both count as not yet answered.
        let wait = if ha.is_err() { QUIET } else { LINE_TIMEOUT };
        let hb = b.head(Instant::now() + wait);
        if hb.is_err() {
            self.subject.check_alive(label);
        }
        let (ha, hb) = (head_outcome(ha), head_outcome(hb));
        self.record(label, &req.to_string(), &ha, &hb);
        Stream {
            what: req.to_string(),
            path: path.to_string(),
            sides: [Box::new(a), Box::new(b)],
        }
    }

    /// Runs `curl -N` on both servers with a JSON POST of `body` to `path`,
    /// reading its output line by line as a streaming client would.
    pub fn curl(&mut self, label: &str, path: &str, body: &str) -> Stream {
        self.sent += 1;
        let req = post(path, body);
        let open = |side: &Side| {
            let body = String::from_utf8_lossy(&side.fill(&req).body).into_owned();
            CurlLines::spawn(side.port(), path, &body)
                .unwrap_or_else(|e| panic!("{label}: cannot run curl: {e}"))
        };
        let (a, b) = (open(&self.etcd), open(&self.subject));
        Stream {
            what: format!("curl -N -X POST -d '{body}' <url>{path}"),
            path: path.to_string(),
            sides: [Box::new(a), Box::new(b)],
        }
    }

    /// Both streams must deliver the same next line, or both end.
    pub fn line(&mut self, label: &str, s: &mut Stream) {
        let a = s.next(0, LINE_TIMEOUT, &self.etcd.me);
        assert!(
            a != Step::Waiting,
            "{label}: the case expects etcd's stream to answer, it did not within {LINE_TIMEOUT:?}: {}",
            s.what
        );
        let b = s.next(1, LINE_TIMEOUT, &self.subject.me);
        self.record_step(label, s, a, b);
    }

    /// Both streams must stay open and send nothing.
    pub fn quiet(&mut self, label: &str, s: &mut Stream) {
        let a = s.next(0, QUIET, &self.etcd.me);
        assert!(
            a == Step::Waiting,
            "{label}: the case expects etcd's stream to stay quiet, it gave {a:?}: {}",
            s.what
        );
        let b = s.next(1, QUIET, &self.subject.me);
        self.record_step(label, s, a, b);
    }

    /// Whatever etcd's stream does next (a line, the end, or nothing for a
    /// moment), the subject's must do too.
    pub fn step(&mut self, label: &str, s: &mut Stream) {
        let a = s.next(0, QUIET, &self.etcd.me);
        let b = if a == Step::Waiting {
            s.next(1, QUIET, &self.subject.me)
        } else {
            s.next(1, LINE_TIMEOUT, &self.subject.me)
        };
        self.record_step(label, s, a, b);
    }

    /// Both streams must end (after any lines they still hold, which must
    /// agree too).
    pub fn end(&mut self, label: &str, s: &mut Stream) {
        loop {
            let a = s.next(0, LINE_TIMEOUT, &self.etcd.me);
            let b = s.next(1, LINE_TIMEOUT, &self.subject.me);
            let done = a == Step::Ended || a == Step::Waiting;
            self.record_step(label, s, a, b);
            if done {
                return;
            }
        }
    }

    fn record_step(&mut self, label: &str, s: &Stream, a: Step, b: Step) {
        self.cases += 1;
        if self.trace {
            eprintln!("{label}: {}\n    etcd: {a:?}", s.what);
        }
        let verdict = match (&a, &b) {
            (Step::Line(x), Step::Line(y)) => observe::agree_body(x, y),
            _ if a == b => Ok(()),
            _ => Err("stream step".to_string()),
        };
        if let Err(why) = verdict {
            if b == Step::Waiting {
                self.timeouts += 1;
            }
            let show = |st: &Step| match st {
                Step::Line(body) => observe::render_body(body),
                other => format!("{other:?}"),
            };
            self.mismatches.push(format!(
                "#{} {label}: {why}\n    request: {}\n    etcd: {}\n    {}: {}",
                self.cases,
                s.what,
                show(&a),
                self.subject.name,
                show(&b)
            ));
            self.stop_if_unresponsive();
        }
    }

    fn record(&mut self, label: &str, req: &str, a: &Outcome, b: &Outcome) {
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
            self.stop_if_unresponsive();
        }
    }

    fn stop_if_unresponsive(&self) {
        if self.timeouts >= MAX_TIMEOUTS {
            panic!(
                "{} stopped answering [{}]; mismatches so far:\n{}",
                self.subject.name,
                self.context,
                self.mismatches.join("\n")
            );
        }
    }

    /// Fails the test if any case differed; `min_requests` guards against a
    /// test that quietly stopped sending.
    pub fn finish(mut self, min_requests: usize) {
        self.etcd.check_alive("the test");
        self.subject.check_alive("the test");
        eprintln!(
            "{}: {} requests to each of etcd and {}, {} comparisons, {} differ",
            self.context,
            self.sent,
            self.subject.name,
            self.cases,
            self.mismatches.len()
        );
        for g in &self.gaps {
            eprintln!("  {g}");
        }
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
    }
}

fn head_outcome(h: Result<(u16, Option<String>, observe::Body), HttpError>) -> Outcome {
    h.map(|(status, content_type, body)| observe::Observed {
        status,
        content_type,
        body,
    })
}

/// A streaming call open on both servers; etcd's side first.
pub struct Stream {
    what: String,
    path: String,
    sides: [Box<dyn Lines>; 2],
}

impl Stream {
    fn next(&mut self, side: usize, wait: Duration, me: &Identity) -> Step {
        match self.sides[side].next_line(Instant::now() + wait) {
            Ok(Some(line)) => Step::Line(observe::body(&line, &self.path, me)),
            Ok(None) => Step::Ended,
            Err(HttpError::Timeout) => Step::Waiting,
            Err(e) => Step::Failed(e.to_string()),
        }
    }
}
