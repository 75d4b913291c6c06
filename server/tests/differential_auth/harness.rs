//! The pair of servers every case is sent to, who a case is sent as, and the
//! record of both answers.
//!
//! A case goes to etcd first, then to the subject, each time with that
//! server's own token for the caller (tokens are issued per server, so each
//! side keeps its own). Both answers are normalised (`normalize.rs`) and must
//! agree; mismatches are collected and reported together when the test
//! finishes, each with its request and both answers.

use crate::call::{self, Call};
use crate::common::{Ectd, Etcd, Kind, Member};
use crate::normalize::{self, Names};
use crate::render::clip;
use ectd_client::{Client, ConnectOptions};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use tempfile::TempDir;

/// How long a server may take to answer one call.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// After this many calls the subject did not answer in time, the test stops:
/// every later case would wait as long.
const MAX_TIMEOUTS: usize = 3;

/// Which server is compared with etcd. `DIFF_AUTH_SUBJECT=etcd` compares etcd
/// with a second etcd, which must always pass: that checks the suite's own
/// normalisation. Unset (the default), the subject is ectd.
pub(crate) fn subject_kind() -> Kind {
    match std::env::var("DIFF_AUTH_SUBJECT").as_deref() {
        Err(_) | Ok("ectd") => Kind::Ectd,
        Ok("etcd") => Kind::Etcd,
        Ok(other) => panic!("DIFF_AUTH_SUBJECT must be ectd or etcd, not {other:?}"),
    }
}

/// Who a call is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// With the token this server issued when the user last authenticated.
    User(&'static str),
    /// Without any token.
    Nobody,
    /// With a token no server issued.
    Forged(&'static str),
}

/// An error answer: what a client can tell apart. `code` is `None` when no
/// gRPC status came back (a timeout, a stream that ended without a message).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) code: Option<tonic::Code>,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn status(s: &tonic::Status) -> Failure {
        Failure {
            code: Some(s.code()),
            message: s.message().to_string(),
        }
    }

    pub(crate) fn timeout() -> Failure {
        Failure {
            code: None,
            message: format!("no answer within {REQUEST_TIMEOUT:?}"),
        }
    }

    pub(crate) fn other(what: &str) -> Failure {
        Failure {
            code: None,
            message: what.to_string(),
        }
    }
}

/// One server's answer to a gRPC case: the response as the gateway's JSON
/// (pbjson, the same field names and encodings), or the error.
pub(crate) type Item = Result<Value, Failure>;

/// etcd's answer to a case, for the steps that build on it (most ignore it,
/// so it is no `#[must_use]` `Result`).
pub(crate) struct Seen(pub(crate) Item);

/// What a subject may answer, while a gap is open, where it knowingly differs
/// from etcd 3.4 (see [`Pair::gap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// An auth refusal: permission denied, no user name, or a bad token.
    Refused,
    /// Any success.
    Success,
}

/// Error messages that refuse a caller for who they are (etcd 3.4 sends the
/// `auth:` forms from the Maintenance service, untranslated).
const REFUSALS: [&str; 6] = [
    "etcdserver: permission denied",
    "etcdserver: user name is empty",
    "etcdserver: invalid auth token",
    "auth: permission denied",
    "auth: user name is empty",
    "auth: invalid auth token",
];

impl Expect {
    /// Whether `answer` is one this expectation allows.
    pub(crate) fn admits(self, answer: &Item) -> bool {
        match (self, answer) {
            (Expect::Refused, Err(f)) => REFUSALS.contains(&f.message.as_str()),
            (Expect::Success, Ok(_)) => true,
            _ => false,
        }
    }
}

/// How both servers of a pair are started.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// Flags given to both servers (`--auth-token`, `--enable-v2`, ...).
    pub(crate) flags: Vec<String>,
}

impl Options {
    pub(crate) fn with(flags: &[&str]) -> Options {
        Options {
            flags: flags.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One running server and what the suite knows of it.
pub(crate) struct Side {
    pub(crate) name: &'static str,
    member: Member,
    _dir: TempDir,
    client: Client,
    /// The token this server issued to each user at their last authentication.
    tokens: HashMap<String, String>,
    /// Its own member id and URLs, and the members it was asked to add.
    pub(crate) names: Names,
}

impl Side {
    async fn start(kind: Kind, name: &'static str, opts: &Options, version: Option<&str>) -> Side {
        let dir = TempDir::new().expect("temp dir");
        let mut flags: Vec<&str> = opts.flags.iter().map(String::as_str).collect();
        let member = match kind {
            Kind::Etcd => Etcd::start_with(dir.path(), &flags),
            // Told the reference's version, so that Status compares the
            // answer's form rather than two release numbers.
            Kind::Ectd => {
                if let Some(v) = version {
                    flags.extend(["--etcd-version", v]);
                }
                Ectd::start(dir.path(), &flags)
            }
        };
        let options = ConnectOptions {
            dial_timeout: Duration::from_secs(5),
            command_timeout: REQUEST_TIMEOUT,
        };
        let client = Client::connect_with(&[member.endpoint()], options)
            .await
            .unwrap_or_else(|e| panic!("connecting to {name} at {}: {e}", member.endpoint()));
        let names = Names {
            own_id: 0,
            client_url: member.endpoint(),
            peer_url: member.peer_url(),
            learnt: Vec::new(),
        };
        let mut side = Side {
            name,
            member,
            _dir: dir,
            client,
            tokens: HashMap::new(),
            names,
        };
        // Auth is off on a fresh server, so anyone may list the members.
        match call::send(&side, Who::Nobody, &Call::MemberList).await {
            Ok(v) => {
                side.names.own_id = v["members"][0]["ID"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{name}: no member id in {v}"));
            }
            Err(e) => panic!("{name}: member list at start-up: {e:?}"),
        }
        side
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The client port (the JSON gateway and v2 are served there too).
    pub(crate) fn port(&self) -> u16 {
        self.member.client_port()
    }

    /// The token to send as `who`, if any. A user this server never gave a
    /// token to (its authentication failed, a mismatch already recorded) sends
    /// a token it will not know.
    pub(crate) fn token(&self, who: Who) -> Option<String> {
        match who {
            Who::Nobody => None,
            Who::Forged(t) => Some(t.to_string()),
            Who::User(u) => Some(
                self.tokens
                    .get(u)
                    .cloned()
                    .unwrap_or_else(|| format!("<{u} was never authenticated here>")),
            ),
        }
    }

    /// Keeps `token` as `user`'s.
    pub(crate) fn learn_token(&mut self, user: &str, token: &str) {
        self.tokens.insert(user.to_string(), token.to_string());
    }

    /// `q` as a gRPC request carrying `who`'s token in the `token` metadata.
    pub(crate) fn authed<Q>(&self, who: Who, q: Q) -> tonic::Request<Q> {
        let mut r = tonic::Request::new(q);
        if let Some(t) = self.token(who) {
            let v = t
                .parse()
                .unwrap_or_else(|e| panic!("token {t:?} is no metadata value: {e}"));
            r.metadata_mut().insert("token", v);
        }
        r
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

pub(crate) struct Pair {
    /// etcd, then the subject.
    sides: [Side; 2],
    context: String,
    cases: usize,
    timeouts: usize,
    mismatches: Vec<String>,
    /// Known differences met (see [`Pair::gap`]).
    gaps: Vec<String>,
    /// `DIFF_AUTH_TRACE` set: every case and etcd's answer are printed.
    trace: bool,
}

impl Pair {
    /// Starts etcd and the subject (see [`subject_kind`]), single members on
    /// fresh data directories with the same `opts`. `context` names the test
    /// in reports.
    pub(crate) async fn start(context: &str, opts: Options) -> Pair {
        let etcd = Side::start(Kind::Etcd, "etcd", &opts, None).await;
        let version = call::send(&etcd, Who::Nobody, &Call::Status)
            .await
            .ok()
            .and_then(|v| v["version"].as_str().map(str::to_string));
        let kind = subject_kind();
        let name = match kind {
            Kind::Ectd => "ectd",
            Kind::Etcd => "etcd (second instance)",
        };
        let subject = Side::start(kind, name, &opts, version.as_deref()).await;
        Pair {
            sides: [etcd, subject],
            context: context.to_string(),
            cases: 0,
            timeouts: 0,
            mismatches: Vec::new(),
            gaps: Vec::new(),
            trace: std::env::var_os("DIFF_AUTH_TRACE").is_some(),
        }
    }

    /// Both sides, etcd first, for the surfaces that send their own requests.
    pub(crate) fn sides(&self) -> &[Side; 2] {
        &self.sides
    }

    /// Like [`Pair::sides`], for a surface that learns from the answers.
    pub(crate) fn sides_mut(&mut self) -> &mut [Side; 2] {
        &mut self.sides
    }

    /// Sends `call` as `who` to both servers, compares, and returns etcd's
    /// answer (not normalised).
    pub(crate) async fn case(&mut self, label: &str, who: Who, call: Call) -> Seen {
        self.case_learning(label, who, call, |_, _| {}).await
    }

    /// Like [`Pair::case`]; `learn` sees each side's answer first (to keep a
    /// token or a member id it names).
    pub(crate) async fn case_learning(
        &mut self,
        label: &str,
        who: Who,
        call: Call,
        learn: impl Fn(&mut Side, &Item),
    ) -> Seen {
        let [a, b] = self.exchange(label, who, &call, learn).await;
        let verdict = agree(&a.1, &b.1);
        self.record(label, &format!("as {who:?}: {call:?}"), verdict, &a.1, &b.1);
        Seen(a.0)
    }

    /// A call where ectd knowingly answers otherwise than etcd 3.4, for the
    /// reason `why`. The subject must give etcd's answer or, while the gap is
    /// open, one that `expect` admits; a second etcd must always agree. Gaps
    /// met are listed when the test ends, and one that has closed says so.
    pub(crate) async fn gap(
        &mut self,
        label: &str,
        who: Who,
        call: Call,
        why: &str,
        expect: Expect,
    ) -> Seen {
        self.gap_where(label, who, call, why, expect, |_| true)
            .await
    }

    /// Like [`Pair::gap`], where the gap only concerns some of etcd's answers:
    /// `applies` sees etcd's answer and says whether it is one ectd knowingly
    /// does not give (such as a success where ectd refuses); otherwise the
    /// case is compared as any other.
    pub(crate) async fn gap_where(
        &mut self,
        label: &str,
        who: Who,
        call: Call,
        why: &str,
        expect: Expect,
        applies: impl Fn(&Item) -> bool,
    ) -> Seen {
        let [a, b] = self.exchange(label, who, &call, |_, _| {}).await;
        let mut verdict = agree(&a.1, &b.1);
        if subject_kind() == Kind::Ectd && applies(&a.0) {
            match &verdict {
                Ok(()) => self
                    .gaps
                    .push(format!("{label}: now answered as etcd does ({why})")),
                Err(_) if expect.admits(&b.1) => {
                    self.gaps.push(format!("{label}: known gap ({why})"));
                    verdict = Ok(());
                }
                Err(e) => {
                    verdict = Err(format!(
                        "{e} (a known gap, {why}, but not answered as {expect:?})"
                    ))
                }
            }
        }
        self.record(label, &format!("as {who:?}: {call:?}"), verdict, &a.1, &b.1);
        Seen(a.0)
    }

    /// Like [`Pair::case`], for a setup step: etcd must succeed, or every later
    /// case would be meaningless.
    pub(crate) async fn must(&mut self, label: &str, who: Who, call: Call) -> Value {
        match self.case(label, who, call).await.0 {
            Ok(v) => v,
            Err(e) => panic!(
                "setup step {label:?} failed on etcd [{}]: {e:?}",
                self.context
            ),
        }
    }

    /// Authenticates `user` with `password` on both servers (compared), and
    /// keeps each server's token for later calls as `Who::User(user)`.
    /// Returns whether etcd accepted.
    pub(crate) async fn authenticate(&mut self, label: &str, user: &str, password: &str) -> bool {
        let learn = |side: &mut Side, r: &Item| {
            if let Ok(v) = r {
                if let Some(t) = v["token"].as_str() {
                    side.learn_token(user, t);
                }
            }
        };
        self.case_learning(
            label,
            Who::Nobody,
            call::authenticate(user, password),
            learn,
        )
        .await
        .0
        .is_ok()
    }

    /// Sends `call` to etcd, then to the subject; each answer is returned as
    /// it came (`.0`) and normalised (`.1`).
    async fn exchange(
        &mut self,
        label: &str,
        who: Who,
        call: &Call,
        learn: impl Fn(&mut Side, &Item),
    ) -> [(Item, Item); 2] {
        let mut out = Vec::with_capacity(2);
        for i in 0..2 {
            let raw = call::send(&self.sides[i], who, call).await;
            if raw.is_err() {
                self.sides[i].check_alive(label);
            }
            learn(&mut self.sides[i], &raw);
            let mut shown = raw.clone();
            if let Ok(v) = &mut shown {
                normalize::mask(v, call, &self.sides[i].names);
            }
            out.push((raw, shown));
        }
        let b = out.pop().expect("two answers");
        let a = out.pop().expect("two answers");
        [a, b]
    }

    /// Records one comparison made by a surface of its own (HTTP): `verdict`
    /// says whether the two answers agreed, `etcd` and `subject` show them.
    /// Records that the gateway case `label` met the known gap `why`.
    pub(crate) fn note_gap(&mut self, label: &str, why: &str) {
        self.gaps.push(format!("{label}: known gap ({why})"));
    }

    pub(crate) fn record_http(
        &mut self,
        label: &str,
        request: &str,
        verdict: Result<(), String>,
        etcd: String,
        subject: String,
        subject_timed_out: bool,
    ) {
        self.cases += 1;
        if self.trace {
            eprintln!("#{} {label}: {request}\n    etcd: {etcd}", self.cases);
        }
        if let Err(why) = verdict {
            if subject_timed_out {
                self.timeouts += 1;
            }
            self.push_mismatch(label, request, &why, &etcd, &subject);
        }
    }

    fn record(
        &mut self,
        label: &str,
        request: &str,
        verdict: Result<(), String>,
        a: &Item,
        b: &Item,
    ) {
        self.cases += 1;
        if self.trace {
            eprintln!(
                "#{} {label}: {}\n    etcd: {}",
                self.cases,
                clip(request.to_string()),
                show(a)
            );
        }
        if let Err(why) = verdict {
            if matches!(b, Err(f) if f.code.is_none()) {
                self.timeouts += 1;
            }
            self.push_mismatch(label, &clip(request.to_string()), &why, &show(a), &show(b));
        }
    }

    fn push_mismatch(&mut self, label: &str, request: &str, why: &str, a: &str, b: &str) {
        self.mismatches.push(format!(
            "#{} {label}: {why}\n    request: {request}\n    etcd: {a}\n    {}: {b}",
            self.cases, self.sides[1].name
        ));
        if self.timeouts >= MAX_TIMEOUTS {
            panic!(
                "{} stopped answering [{}]; mismatches so far:\n{}",
                self.sides[1].name,
                self.context,
                self.mismatches.join("\n")
            );
        }
    }

    /// Fails the test if any case differed; `min_cases` guards against a test
    /// that quietly stopped sending.
    pub(crate) fn finish(mut self, min_cases: usize) {
        for side in &mut self.sides {
            side.check_alive("the test");
        }
        eprintln!(
            "{}: {} cases compared between etcd and {}, {} differ",
            self.context,
            self.cases,
            self.sides[1].name,
            self.mismatches.len()
        );
        for g in &self.gaps {
            eprintln!("  {g}");
        }
        if !self.mismatches.is_empty() {
            panic!(
                "{} of {} cases differ between etcd and {} [{}]:\n{}",
                self.mismatches.len(),
                self.cases,
                self.sides[1].name,
                self.context,
                self.mismatches.join("\n")
            );
        }
        assert!(
            self.cases >= min_cases,
            "only {} cases ran, expected at least {min_cases}",
            self.cases
        );
    }
}

/// Whether two normalised answers agree; otherwise what differs first.
pub(crate) fn agree(a: &Item, b: &Item) -> Result<(), String> {
    match (a, b) {
        (Ok(x), Ok(y)) => crate::gw_observe::agree_json(x, y, "answer"),
        (Err(x), Err(y)) if x == y => Ok(()),
        (Err(_), Err(_)) => Err("different errors".into()),
        _ => Err("one succeeded, the other failed".into()),
    }
}

/// One answer for a report, byte fields shown as text.
pub(crate) fn show(o: &Item) -> String {
    match o {
        Ok(v) => clip(normalize::readable(v).to_string()),
        Err(f) => match f.code {
            Some(c) => format!("error {c:?}: {:?}", f.message),
            None => format!("<{}>", f.message),
        },
    }
}
