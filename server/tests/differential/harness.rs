//! Requests and answers, how two answers are compared, and the pair of servers
//! every case is sent to.

use crate::common::{Ectd, Etcd, Kind, Member, ServerTls};
use crate::render::clip;
use ectd_client::proto::etcdserverpb::range_request::SortTarget;
use ectd_client::proto::etcdserverpb::{
    request_op, response_op, CompactionRequest, CompactionResponse, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, ResponseHeader,
    TxnRequest, TxnResponse,
};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{Client, ConnectOptions, TlsOptions};
use std::time::Duration;
use tempfile::TempDir;

// ------------------------------------------------------------------ requests and answers

#[derive(Debug, Clone)]
pub(crate) enum Req {
    Range(RangeRequest),
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resp {
    Range(RangeResponse),
    Put(PutResponse),
    Delete(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact(CompactionResponse),
}

/// An error answer: what a client can tell apart. `code` is `None` for failures
/// that never got a gRPC status (timeouts, lost connections).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    code: Option<tonic::Code>,
    message: String,
}

impl Failure {
    /// What a client can tell of a failed call of the project's client.
    pub(crate) fn from_error(e: &ectd_client::Error) -> Failure {
        Failure {
            code: e.code(),
            message: e.message().map_or_else(|| e.to_string(), str::to_string),
        }
    }

    /// What a client can tell of a failed call of a raw tonic client.
    pub(crate) fn from_status(s: &tonic::Status) -> Failure {
        Failure {
            code: Some(s.code()),
            message: s.message().to_string(),
        }
    }

    /// No answer within `waited` (a call or stream that hangs).
    pub(crate) fn timeout(waited: Duration) -> Failure {
        Failure {
            code: None,
            message: format!("no answer within {waited:?}"),
        }
    }
}

pub(crate) type Outcome = Result<Resp, Failure>;

/// etcd's answer to a case, for the cases that build on it (most ignore it).
pub(crate) struct Seen(pub(crate) Outcome);

pub(crate) async fn send(c: &Client, req: &Req) -> Outcome {
    let r = match req.clone() {
        Req::Range(r) => c.range(r).await.map(Resp::Range),
        Req::Put(r) => c.put(r).await.map(Resp::Put),
        Req::Delete(r) => c.delete_range(r).await.map(Resp::Delete),
        Req::Txn(r) => c.txn(r).await.map(Resp::Txn),
        Req::Compact(r) => c.compact(r).await.map(Resp::Compact),
    };
    r.map_err(|e| Failure::from_error(&e))
}

pub(crate) fn scrub(h: &mut Option<ResponseHeader>) {
    if let Some(h) = h {
        h.cluster_id = 0;
        h.member_id = 0;
    }
}

pub(crate) fn scrub_txn(t: &mut TxnResponse) {
    scrub(&mut t.header);
    for op in &mut t.responses {
        match &mut op.response {
            Some(response_op::Response::ResponseRange(r)) => scrub(&mut r.header),
            Some(response_op::Response::ResponsePut(r)) => scrub(&mut r.header),
            Some(response_op::Response::ResponseDeleteRange(r)) => scrub(&mut r.header),
            Some(response_op::Response::ResponseTxn(t)) => scrub_txn(t),
            None => {}
        }
    }
}

/// Zeroes the two header fields that identify the cluster rather than the data.
pub(crate) fn normalize(o: &mut Outcome) {
    match o {
        Ok(Resp::Range(r)) => scrub(&mut r.header),
        Ok(Resp::Put(r)) => scrub(&mut r.header),
        Ok(Resp::Delete(r)) => scrub(&mut r.header),
        Ok(Resp::Txn(t)) => scrub_txn(t),
        Ok(Resp::Compact(r)) => scrub(&mut r.header),
        Err(_) => {}
    }
}

pub(crate) fn equivalent(req: &Req, a: &Outcome, b: &Outcome) -> bool {
    match (req, a, b) {
        (Req::Range(q), Ok(Resp::Range(x)), Ok(Resp::Range(y))) => range_equiv(q, x, y),
        (Req::Txn(q), Ok(Resp::Txn(x)), Ok(Resp::Txn(y))) => txn_equiv(q, x, y),
        _ => a == b,
    }
}

/// Whether two answers to the same sorted range may both be right.
///
/// etcd sorts with Go's `sort.Sort`: an insertion sort (stable, so equal elements
/// keep key order) for at most 12 elements, pdqsort above that, which is unstable
/// and may reorder even two equal elements while partitioning. So when more than
/// 12 keys are sorted on something other than the key itself (keys are unique), the
/// order of elements with equal sort values is not defined by etcd, and when a
/// limit cuts through such a group, neither is which of them are returned. Every
/// range with at most 12 keys (`count` bounds the sorted set) is compared exactly;
/// above that, the sequence of sort values must match exactly, each group of equal
/// values must hold the same key-values, and only the group a limit cut into is
/// compared by sort value alone.
pub(crate) fn range_equiv(q: &RangeRequest, a: &RangeResponse, b: &RangeResponse) -> bool {
    if a == b {
        return true;
    }
    // A non-KEY target sorts (ascending) even with order NONE.
    if q.sort_target == SortTarget::Key as i32 || a.count <= 12 || a.kvs.len() != b.kvs.len() {
        return false;
    }
    let bare = |r: &RangeResponse| RangeResponse {
        kvs: Vec::new(),
        ..r.clone()
    };
    if bare(a) != bare(b) {
        return false;
    }
    let target = |kv: &KeyValue| -> (i64, Vec<u8>) {
        match SortTarget::try_from(q.sort_target) {
            Ok(SortTarget::Version) => (kv.version, Vec::new()),
            Ok(SortTarget::Create) => (kv.create_revision, Vec::new()),
            Ok(SortTarget::Mod) => (kv.mod_revision, Vec::new()),
            Ok(SortTarget::Value) => (0, kv.value.clone()),
            _ => (0, kv.key.clone()),
        }
    };
    let ta: Vec<_> = a.kvs.iter().map(target).collect();
    let tb: Vec<_> = b.kvs.iter().map(target).collect();
    if ta != tb {
        return false;
    }
    let n = a.kvs.len();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && ta[j] == ta[i] {
            j += 1;
        }
        let cut_by_limit = j == n && a.more;
        if !cut_by_limit {
            let mut ga = a.kvs[i..j].to_vec();
            let mut gb = b.kvs[i..j].to_vec();
            ga.sort_by(|x, y| x.key.cmp(&y.key));
            gb.sort_by(|x, y| x.key.cmp(&y.key));
            if ga != gb {
                return false;
            }
        }
        i = j;
    }
    true
}

/// Txn answers compared op by op, so that sorted ranges inside get the same
/// tolerance as top-level ones.
pub(crate) fn txn_equiv(q: &TxnRequest, a: &TxnResponse, b: &TxnResponse) -> bool {
    if a == b {
        return true;
    }
    if a.header != b.header || a.succeeded != b.succeeded || a.responses.len() != b.responses.len()
    {
        return false;
    }
    let ops = if a.succeeded { &q.success } else { &q.failure };
    if ops.len() != a.responses.len() {
        return false;
    }
    ops.iter()
        .zip(a.responses.iter().zip(&b.responses))
        .all(
            |(op, (x, y))| match (&op.request, &x.response, &y.response) {
                (
                    Some(request_op::Request::RequestRange(rq)),
                    Some(response_op::Response::ResponseRange(rx)),
                    Some(response_op::Response::ResponseRange(ry)),
                ) => range_equiv(rq, rx, ry),
                (
                    Some(request_op::Request::RequestTxn(t)),
                    Some(response_op::Response::ResponseTxn(tx)),
                    Some(response_op::Response::ResponseTxn(ty)),
                ) => txn_equiv(t, tx, ty),
                _ => x == y,
            },
        )
}

// ------------------------------------------------------------------ the pair of servers

pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Pair {
    // Clients before servers: dropped first.
    etcd_c: Client,
    ectd_c: Client,
    etcd: Member,
    ectd: Member,
    _dirs: [TempDir; 2],
    /// Shown with every failure (such as the random seed).
    context: String,
    cases: usize,
    mismatches: Vec<String>,
}

impl Pair {
    pub(crate) async fn start(context: &str) -> Pair {
        Pair::start_with(context, &[]).await
    }

    /// Like [`Pair::start`], with the same extra flags (such as
    /// `--max-request-bytes`) given to both servers.
    pub(crate) async fn start_with(context: &str, args: &[&str]) -> Pair {
        let etcd_dir = TempDir::new().expect("temp dir");
        let ectd_dir = TempDir::new().expect("temp dir");
        let etcd = Etcd::start_with(etcd_dir.path(), args);
        let ectd = Ectd::start(ectd_dir.path(), args);
        let etcd_c = Client::connect_with(&[etcd.endpoint()], Pair::options())
            .await
            .unwrap_or_else(|e| panic!("connecting to etcd at {}: {e}", etcd.endpoint()));
        let ectd_c = Client::connect_with(&[ectd.endpoint()], Pair::options())
            .await
            .unwrap_or_else(|e| panic!("connecting to ectd at {}: {e}", ectd.endpoint()));
        Pair::of(
            context,
            [etcd, ectd],
            [etcd_c, ectd_c],
            [etcd_dir, ectd_dir],
        )
    }

    /// Like [`Pair::start`], the clients talking to both servers over TLS (a
    /// certificate from a CA made for the run, checked by the clients).
    pub(crate) async fn start_tls(context: &str) -> Pair {
        let etcd_dir = TempDir::new().expect("temp dir");
        let ectd_dir = TempDir::new().expect("temp dir");
        let ca = crate::pki::Ca::new(etcd_dir.path(), "ca");
        let leaf = ca.issue("server", "server", &["127.0.0.1"]);
        let server = ServerTls {
            cert: leaf.cert,
            key: leaf.key,
        };
        let etcd = Member::start_tls(Kind::Etcd, etcd_dir.path(), &[], &server);
        let ectd = Member::start_tls(Kind::Ectd, ectd_dir.path(), &[], &server);
        let tls = TlsOptions {
            ca_file: Some(ca.cert_file()),
            ..Default::default()
        };
        let mut clients = Vec::new();
        for m in [&etcd, &ectd] {
            let ep = m.tls_endpoint().expect("an https URL");
            let c = Client::connect_tls(std::slice::from_ref(&ep), Pair::options(), &tls)
                .await
                .unwrap_or_else(|e| panic!("connecting to {:?} at {ep}: {e}", m.kind()));
            clients.push(c);
        }
        let ectd_c = clients.pop().expect("two clients");
        let etcd_c = clients.pop().expect("two clients");
        Pair::of(
            context,
            [etcd, ectd],
            [etcd_c, ectd_c],
            [etcd_dir, ectd_dir],
        )
    }

    /// Physical compactions and 100 KiB values may take longer than the client's
    /// default 5 s command timeout on a loaded machine.
    fn options() -> ConnectOptions {
        ConnectOptions {
            dial_timeout: Duration::from_secs(5),
            command_timeout: REQUEST_TIMEOUT,
        }
    }

    fn of(context: &str, servers: [Member; 2], clients: [Client; 2], dirs: [TempDir; 2]) -> Pair {
        let [etcd, ectd] = servers;
        let [etcd_c, ectd_c] = clients;
        Pair {
            etcd_c,
            ectd_c,
            etcd,
            ectd,
            _dirs: dirs,
            context: context.to_string(),
            cases: 0,
            mismatches: Vec::new(),
        }
    }

    /// The client connected to etcd.
    pub(crate) fn etcd(&self) -> &Client {
        &self.etcd_c
    }

    /// The client connected to ectd.
    pub(crate) fn ectd(&self) -> &Client {
        &self.ectd_c
    }

    /// Records one case whose answers were obtained elsewhere (a stream, a
    /// service without a [`Req`]): `etcd` and `ectd` must be equal, after the
    /// caller's normalisation. Returns whether they were.
    pub(crate) fn check<T: std::fmt::Debug + PartialEq>(
        &mut self,
        label: &str,
        request: &dyn std::fmt::Debug,
        etcd: &T,
        ectd: &T,
    ) -> bool {
        self.cases += 1;
        if etcd == ectd {
            return true;
        }
        if !self.etcd.is_running() {
            panic!(
                "case {} ({label}): the reference etcd died [{}]\nrequest: {request:?}\n{}",
                self.cases,
                self.context,
                self.etcd.stderr_tail(40)
            );
        }
        if !self.ectd.is_running() {
            panic!(
                "case {} ({label}): ectd died [{}]\nrequest: {request:?}\netcd:    {etcd:?}\n\
                 ectd:    {ectd:?}\n{}",
                self.cases,
                self.context,
                self.ectd.stderr_tail(40)
            );
        }
        self.mismatches.push(format!(
            "case {} ({label}):\n  request: {}\n  etcd:    {}\n  ectd:    {}",
            self.cases,
            clip(format!("{request:?}")),
            clip(format!("{etcd:?}")),
            clip(format!("{ectd:?}"))
        ));
        false
    }

    /// Sends `req` to etcd, then to ectd, compares, and returns etcd's answer.
    pub(crate) async fn case(&mut self, label: &str, req: Req) -> Seen {
        self.cases += 1;
        let n = self.cases;
        let mut a = match tokio::time::timeout(WAIT_TIMEOUT, send(&self.etcd_c, &req)).await {
            Ok(o) => o,
            Err(_) => panic!(
                "case {n} ({label}): etcd did not answer within {WAIT_TIMEOUT:?}\nrequest: {req:?}\n{}",
                self.etcd.stderr_tail(30)
            ),
        };
        let mut b = match tokio::time::timeout(WAIT_TIMEOUT, send(&self.ectd_c, &req)).await {
            Ok(o) => o,
            Err(_) => panic!(
                "case {n} ({label}): ectd did not answer within {WAIT_TIMEOUT:?} [{}]\n\
                 request: {req:?}\netcd:    {a:?}\n{}\nearlier mismatches:\n{}",
                self.context,
                self.ectd.stderr_tail(30),
                self.mismatches.join("\n")
            ),
        };
        normalize(&mut a);
        normalize(&mut b);
        if !equivalent(&req, &a, &b) {
            if !self.etcd.is_running() {
                panic!(
                    "case {n} ({label}): the reference etcd died [{}]\nrequest: {req:?}\nectd:    {b:?}\n{}",
                    self.context,
                    self.etcd.stderr_tail(40)
                );
            }
            if !self.ectd.is_running() {
                panic!(
                    "case {n} ({label}): ectd died [{}]\nrequest: {req:?}\netcd:    {a:?}\nectd:    {b:?}\n{}",
                    self.context,
                    self.ectd.stderr_tail(40)
                );
            }
            // A timeout where etcd answered means ectd is stuck; every later case
            // would wait for the same timeout, so stop at the request that did it.
            let stuck = matches!(&b, Err(f) if f.code.is_none()
                || f.message == "etcdserver: request timed out");
            if stuck && !matches!(&a, Err(f) if f.code.is_none()) {
                panic!(
                    "case {n} ({label}): ectd timed out where etcd answered [{}]\n\
                     request: {req:?}\netcd:    {a:?}\nectd:    {b:?}\n{}\nearlier mismatches:\n{}",
                    self.context,
                    self.ectd.stderr_tail(40),
                    self.mismatches.join("\n")
                );
            }
            self.mismatches.push(format!(
                "case {n} ({label}):\n  request: {}\n  etcd:    {}\n  ectd:    {}",
                clip(format!("{req:?}")),
                clip(format!("{a:?}")),
                clip(format!("{b:?}"))
            ));
        }
        Seen(a)
    }

    pub(crate) async fn range(&mut self, label: &str, r: RangeRequest) -> Seen {
        self.case(label, Req::Range(r)).await
    }

    pub(crate) async fn put(&mut self, label: &str, r: PutRequest) -> Seen {
        self.case(label, Req::Put(r)).await
    }

    pub(crate) async fn del(&mut self, label: &str, r: DeleteRangeRequest) -> Seen {
        self.case(label, Req::Delete(r)).await
    }

    pub(crate) async fn txn(&mut self, label: &str, r: TxnRequest) -> Seen {
        self.case(label, Req::Txn(r)).await
    }

    pub(crate) async fn compact(&mut self, label: &str, revision: i64, physical: bool) -> Seen {
        self.case(
            label,
            Req::Compact(CompactionRequest { revision, physical }),
        )
        .await
    }

    /// Fails the test if any case differed; `min_cases` guards against a suite that
    /// quietly stopped sending requests.
    pub(crate) fn finish(mut self, min_cases: usize) {
        self.ectd.assert_running();
        self.etcd.assert_running();
        if !self.mismatches.is_empty() {
            const SHOWN: usize = 25;
            panic!(
                "{} of {} cases differ between etcd and ectd [{}]; first {}:\n{}",
                self.mismatches.len(),
                self.cases,
                self.context,
                SHOWN.min(self.mismatches.len()),
                self.mismatches[..SHOWN.min(self.mismatches.len())].join("\n")
            );
        }
        assert!(
            self.cases >= min_cases,
            "only {} cases ran, expected at least {min_cases}",
            self.cases
        );
        eprintln!("{}: {} cases, all identical", self.context, self.cases);
    }
}
