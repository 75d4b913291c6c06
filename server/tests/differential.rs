//! Differential tests: real etcd and ectd are started side by side on fresh data
//! directories, receive exactly the same sequence of KV requests through the
//! project's client, and must give the same answers.
//!
//! Responses are compared whole after zeroing `cluster_id` and `member_id` in every
//! header (the only fields that legitimately differ between two clusters); errors
//! are compared by gRPC code and message. Since both stores start empty and see the
//! same writes in the same order, revisions line up and can be compared too.
//!
//! Each test owns its own pair of servers, so a divergence in one group of cases
//! cannot cascade into the others. Mismatches are collected and reported together
//! (case number, request, both answers) rather than stopping at the first.
//!
//! Besides the hand-written groups, a seeded generator sends random requests over
//! a small key space; the seed is printed and every failure names it. Set
//! `DIFF_SEED` to replay a run and `DIFF_CASES` to change its length (400).
//!
//! The reference is the installed etcd 3.4. Requests that crash it (see
//! `Gen::safe_txn`, and invalid sort enums, covered in `limits.rs`) are not sent.

mod common;

use common::{Ectd, Etcd, Member};
use ectd_client::proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use ectd_client::proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use ectd_client::proto::etcdserverpb::{
    request_op, response_op, CompactionRequest, CompactionResponse, Compare, DeleteRangeRequest,
    DeleteRangeResponse, PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp,
    ResponseHeader, TxnRequest, TxnResponse,
};
use ectd_client::proto::mvccpb::KeyValue;
use ectd_client::{Client, ConnectOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;
use tempfile::TempDir;

// ------------------------------------------------------------------ requests and answers

#[derive(Debug, Clone)]
enum Req {
    Range(RangeRequest),
    Put(PutRequest),
    Delete(DeleteRangeRequest),
    Txn(TxnRequest),
    Compact(CompactionRequest),
}

#[derive(Debug, Clone, PartialEq)]
enum Resp {
    Range(RangeResponse),
    Put(PutResponse),
    Delete(DeleteRangeResponse),
    Txn(TxnResponse),
    Compact(CompactionResponse),
}

/// An error answer: what a client can tell apart. `code` is `None` for failures
/// that never got a gRPC status (timeouts, lost connections).
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    code: Option<tonic::Code>,
    message: String,
}

type Outcome = Result<Resp, Failure>;

/// etcd's answer to a case, for the cases that build on it (most ignore it).
struct Seen(Outcome);

async fn send(c: &Client, req: &Req) -> Outcome {
    let r = match req.clone() {
        Req::Range(r) => c.range(r).await.map(Resp::Range),
        Req::Put(r) => c.put(r).await.map(Resp::Put),
        Req::Delete(r) => c.delete_range(r).await.map(Resp::Delete),
        Req::Txn(r) => c.txn(r).await.map(Resp::Txn),
        Req::Compact(r) => c.compact(r).await.map(Resp::Compact),
    };
    r.map_err(|e| Failure {
        code: e.code(),
        message: e.message().map_or_else(|| e.to_string(), str::to_string),
    })
}

fn scrub(h: &mut Option<ResponseHeader>) {
    if let Some(h) = h {
        h.cluster_id = 0;
        h.member_id = 0;
    }
}

fn scrub_txn(t: &mut TxnResponse) {
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
fn normalize(o: &mut Outcome) {
    match o {
        Ok(Resp::Range(r)) => scrub(&mut r.header),
        Ok(Resp::Put(r)) => scrub(&mut r.header),
        Ok(Resp::Delete(r)) => scrub(&mut r.header),
        Ok(Resp::Txn(t)) => scrub_txn(t),
        Ok(Resp::Compact(r)) => scrub(&mut r.header),
        Err(_) => {}
    }
}

fn equivalent(req: &Req, a: &Outcome, b: &Outcome) -> bool {
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
fn range_equiv(q: &RangeRequest, a: &RangeResponse, b: &RangeResponse) -> bool {
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
fn txn_equiv(q: &TxnRequest, a: &TxnResponse, b: &TxnResponse) -> bool {
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

const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

struct Pair {
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
    async fn start(context: &str) -> Pair {
        let etcd_dir = TempDir::new().expect("temp dir");
        let ectd_dir = TempDir::new().expect("temp dir");
        let etcd = Etcd::start(etcd_dir.path());
        let ectd = Ectd::start(ectd_dir.path(), &[]);
        // Physical compactions and 100 KiB values may take longer than the
        // client's default 5 s command timeout on a loaded machine.
        let opts = ConnectOptions {
            dial_timeout: Duration::from_secs(5),
            command_timeout: REQUEST_TIMEOUT,
        };
        let etcd_c = Client::connect_with(&[etcd.endpoint()], opts)
            .await
            .unwrap_or_else(|e| panic!("connecting to etcd at {}: {e}", etcd.endpoint()));
        let ectd_c = Client::connect_with(&[ectd.endpoint()], opts)
            .await
            .unwrap_or_else(|e| panic!("connecting to ectd at {}: {e}", ectd.endpoint()));
        Pair {
            etcd_c,
            ectd_c,
            etcd,
            ectd,
            _dirs: [etcd_dir, ectd_dir],
            context: context.to_string(),
            cases: 0,
            mismatches: Vec::new(),
        }
    }

    /// Sends `req` to etcd, then to ectd, compares, and returns etcd's answer.
    async fn case(&mut self, label: &str, req: Req) -> Seen {
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

    async fn range(&mut self, label: &str, r: RangeRequest) -> Seen {
        self.case(label, Req::Range(r)).await
    }

    async fn put(&mut self, label: &str, r: PutRequest) -> Seen {
        self.case(label, Req::Put(r)).await
    }

    async fn del(&mut self, label: &str, r: DeleteRangeRequest) -> Seen {
        self.case(label, Req::Delete(r)).await
    }

    async fn txn(&mut self, label: &str, r: TxnRequest) -> Seen {
        self.case(label, Req::Txn(r)).await
    }

    async fn compact(&mut self, label: &str, revision: i64, physical: bool) -> Seen {
        self.case(
            label,
            Req::Compact(CompactionRequest { revision, physical }),
        )
        .await
    }

    /// Fails the test if any case differed; `min_cases` guards against a suite that
    /// quietly stopped sending requests.
    fn finish(mut self, min_cases: usize) {
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

/// Shortens a rendering of a huge message (a 129-op txn) to what a reader can use.
fn clip(s: String) -> String {
    const MAX: usize = 4000;
    if s.len() <= MAX {
        return s;
    }
    let mut cut = MAX;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ... ({} more bytes)", &s[..cut], s.len() - cut)
}

// ------------------------------------------------------------------ request builders

fn range(key: &[u8], end: &[u8]) -> RangeRequest {
    RangeRequest {
        key: key.to_vec(),
        range_end: end.to_vec(),
        ..Default::default()
    }
}

fn get(key: &[u8]) -> RangeRequest {
    range(key, b"")
}

fn put(key: &[u8], value: &[u8]) -> PutRequest {
    PutRequest {
        key: key.to_vec(),
        value: value.to_vec(),
        ..Default::default()
    }
}

fn del(key: &[u8], end: &[u8]) -> DeleteRangeRequest {
    DeleteRangeRequest {
        key: key.to_vec(),
        range_end: end.to_vec(),
        prev_kv: false,
    }
}

fn txn(compare: Vec<Compare>, success: Vec<RequestOp>, failure: Vec<RequestOp>) -> TxnRequest {
    TxnRequest {
        compare,
        success,
        failure,
    }
}

fn cmp(key: &[u8], target: CompareTarget, result: CompareResult, union: TargetUnion) -> Compare {
    Compare {
        result: result as i32,
        target: target as i32,
        key: key.to_vec(),
        target_union: Some(union),
        range_end: Vec::new(),
    }
}

fn op_range(r: RangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestRange(r)),
    }
}

fn op_put(r: PutRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestPut(r)),
    }
}

fn op_del(r: DeleteRangeRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestDeleteRange(r)),
    }
}

fn op_txn(r: TxnRequest) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::RequestTxn(r)),
    }
}

/// etcd's `GetPrefixRangeEnd`: the first key after every key with prefix `p`;
/// `"\0"` (every key from `p` on) if `p` is all 0xff.
fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            *end.last_mut().unwrap() += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

fn header_rev(o: &Seen) -> Option<i64> {
    let h = match o.0.as_ref().ok()? {
        Resp::Range(r) => r.header.as_ref(),
        Resp::Put(r) => r.header.as_ref(),
        Resp::Delete(r) => r.header.as_ref(),
        Resp::Txn(r) => r.header.as_ref(),
        Resp::Compact(r) => r.header.as_ref(),
    };
    h.map(|h| h.revision)
}

/// Writes that must succeed on etcd: a setup step that fails would make every
/// later case meaningless.
async fn must(p: &mut Pair, label: &str, req: Req) -> i64 {
    let o = p.case(label, req).await;
    match &o.0 {
        Ok(_) => header_rev(&o).expect("a header"),
        Err(e) => panic!("setup step {label} failed on etcd: {e:?}"),
    }
}

const ORDERS: [SortOrder; 3] = [SortOrder::None, SortOrder::Ascend, SortOrder::Descend];
const TARGETS: [SortTarget; 5] = [
    SortTarget::Key,
    SortTarget::Version,
    SortTarget::Create,
    SortTarget::Mod,
    SortTarget::Value,
];
const RESULTS: [CompareResult; 4] = [
    CompareResult::Equal,
    CompareResult::Greater,
    CompareResult::Less,
    CompareResult::NotEqual,
];

// ------------------------------------------------------------------ hand-written cases

/// Twelve live keys (so full ranges are sorted exactly, see [`range_equiv`]) with
/// history: overwrites, a delete, a multi-key txn (equal mod and create
/// revisions), keys and values holding 0x00 and 0xff.
async fn seed_range_data(p: &mut Pair) -> i64 {
    let writes: Vec<(&str, Req)> = vec![
        ("put a=1", Req::Put(put(b"a", b"1"))),
        ("put a/1", Req::Put(put(b"a/1", b"x"))),
        ("put a/2", Req::Put(put(b"a/2", b"y"))),
        ("put a/3", Req::Put(put(b"a/3", b"x"))),
        ("put ab", Req::Put(put(b"ab", b"z"))),
        ("put a=2", Req::Put(put(b"a", b"2"))),
        ("put b", Req::Put(put(b"b", b"1"))),
        ("put b\\0", Req::Put(put(b"b\0", b"\0\xff"))),
        ("put b\\xff", Req::Put(put(b"b\xff", b"\xff"))),
        ("put \\xff", Req::Put(put(b"\xff", b"ff"))),
        (
            "put \\xff\\xff empty value",
            Req::Put(put(b"\xff\xff", b"")),
        ),
        ("put \\0", Req::Put(put(b"\0", b"zero"))),
        ("delete ab", Req::Delete(del(b"ab", b""))),
        ("put a=3", Req::Put(put(b"a", b"3"))),
        (
            "txn put c and d",
            Req::Txn(txn(
                vec![],
                vec![op_put(put(b"c", b"1")), op_put(put(b"d", b"1"))],
                vec![],
            )),
        ),
        ("put a/2=y2", Req::Put(put(b"a/2", b"y2"))),
    ];
    let mut rev = 0;
    for (label, req) in writes {
        rev = must(p, label, req).await;
    }
    rev
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_options_match_etcd() {
    let mut p = Pair::start("range options").await;
    p.range("empty store", range(b"\0", b"\0")).await;
    let cur = seed_range_data(&mut p).await;
    // The revisions named in the cases below assume this history.
    assert_eq!(cur, 17, "revision after seeding");
    let all = || range(b"\0", b"\0");

    let keys: [&[u8]; 15] = [
        b"\0",
        b"a",
        b"a/1",
        b"a/2",
        b"a/3",
        b"b",
        b"b\0",
        b"b\xff",
        b"c",
        b"d",
        b"\xff",
        b"\xff\xff",
        b"ab",
        b"a/",
        b"zz",
    ];
    for k in keys {
        p.range(&format!("get {k:?}"), get(k)).await;
    }

    let ranges: Vec<(&str, &[u8], &[u8])> = vec![
        ("[a, b)", b"a", b"b"),
        ("prefix a/", b"a/", b"a0"),
        ("prefix b", b"b", b"c"),
        ("prefix \\xff (end \\0)", b"\xff", b"\0"),
        ("from b", b"b", b"\0"),
        ("from \\0 (everything)", b"\0", b"\0"),
        ("from \\xff\\xff", b"\xff\xff", b"\0"),
        ("[b, b\\0)", b"b", b"b\0"),
        ("[b\\0, b\\xff]", b"b\0", b"b\xff\0"),
        ("end before key", b"c", b"a"),
        ("end equals key", b"a", b"a"),
        ("nothing in [e, f)", b"e", b"f"),
        ("[\\0, a)", b"\0", b"a"),
        ("from a/3", b"a/3", b"\0"),
        ("[a, \\xff)", b"a", b"\xff"),
    ];
    for (label, k, e) in &ranges {
        p.range(label, range(k, e)).await;
    }
    assert_eq!(prefix_end(b"a/"), b"a0");
    assert_eq!(prefix_end(b"\xff\xff"), b"\0");

    for limit in [-1, 0, 1, 2, 11, 12, 13, 100] {
        p.range(
            &format!("all, limit {limit}"),
            RangeRequest { limit, ..all() },
        )
        .await;
        p.range(
            &format!("prefix a/, limit {limit}"),
            RangeRequest {
                limit,
                ..range(b"a/", b"a0")
            },
        )
        .await;
    }

    for revision in [-100, -1, 0, 1, 2, 5, 7, 13, 14, 15, cur, cur + 1, 1000] {
        p.range(
            &format!("all at rev {revision}"),
            RangeRequest { revision, ..all() },
        )
        .await;
    }
    for revision in [2, 6, 7, 13, 14, 15] {
        p.range(
            &format!("a and ab history at rev {revision}"),
            RangeRequest {
                revision,
                ..range(b"a", b"b")
            },
        )
        .await;
    }
    p.range(
        "deleted ab at rev 13",
        RangeRequest {
            revision: 13,
            ..get(b"ab")
        },
    )
    .await;
    p.range(
        "deleted ab at rev 14",
        RangeRequest {
            revision: 14,
            ..get(b"ab")
        },
    )
    .await;
    p.range(
        "old rev, limit 2",
        RangeRequest {
            revision: 9,
            limit: 2,
            ..all()
        },
    )
    .await;

    for order in ORDERS {
        for target in TARGETS {
            let s = |r: RangeRequest| RangeRequest {
                sort_order: order as i32,
                sort_target: target as i32,
                ..r
            };
            p.range(&format!("all sorted {order:?} by {target:?}"), s(all()))
                .await;
            // With order NONE and a non-KEY target etcd fetches limit+1 keys in key
            // order and sorts only those: a quirk clients can observe.
            p.range(
                &format!("all sorted {order:?} by {target:?}, limit 3"),
                s(RangeRequest { limit: 3, ..all() }),
            )
            .await;
            p.range(
                &format!("prefix a/ sorted {order:?} by {target:?}"),
                s(range(b"a/", b"a0")),
            )
            .await;
            p.range(
                &format!("all sorted {order:?} by {target:?}, keys only, limit 5"),
                s(RangeRequest {
                    keys_only: true,
                    limit: 5,
                    ..all()
                }),
            )
            .await;
        }
    }
    p.range(
        "sorted descending by mod at rev 10",
        RangeRequest {
            revision: 10,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Mod as i32,
            ..all()
        },
    )
    .await;

    p.range(
        "serializable all",
        RangeRequest {
            serializable: true,
            ..all()
        },
    )
    .await;
    p.range(
        "serializable get a at rev 7",
        RangeRequest {
            serializable: true,
            revision: 7,
            ..get(b"a")
        },
    )
    .await;
    p.range(
        "serializable future rev",
        RangeRequest {
            serializable: true,
            revision: cur + 5,
            ..get(b"a")
        },
    )
    .await;

    p.range(
        "keys only",
        RangeRequest {
            keys_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "count only",
        RangeRequest {
            count_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "count only and keys only",
        RangeRequest {
            count_only: true,
            keys_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "count only with limit",
        RangeRequest {
            count_only: true,
            limit: 2,
            ..all()
        },
    )
    .await;
    p.range(
        "count only of a missing key",
        RangeRequest {
            count_only: true,
            ..get(b"nope")
        },
    )
    .await;
    p.range(
        "count only at old rev",
        RangeRequest {
            count_only: true,
            revision: 5,
            ..all()
        },
    )
    .await;
    p.range(
        "keys only single key",
        RangeRequest {
            keys_only: true,
            ..get(b"b\0")
        },
    )
    .await;

    let filters: Vec<(&str, RangeRequest)> = vec![
        (
            "min mod 10",
            RangeRequest {
                min_mod_revision: 10,
                ..all()
            },
        ),
        (
            "max mod 10",
            RangeRequest {
                max_mod_revision: 10,
                ..all()
            },
        ),
        (
            "min create 5",
            RangeRequest {
                min_create_revision: 5,
                ..all()
            },
        ),
        (
            "max create 5",
            RangeRequest {
                max_create_revision: 5,
                ..all()
            },
        ),
        (
            "mod in [8, 15]",
            RangeRequest {
                min_mod_revision: 8,
                max_mod_revision: 15,
                ..all()
            },
        ),
        (
            "create in [3, 9], mod >= 16",
            RangeRequest {
                min_create_revision: 3,
                max_create_revision: 9,
                min_mod_revision: 16,
                ..all()
            },
        ),
        (
            "min mod 10, limit 2",
            RangeRequest {
                min_mod_revision: 10,
                limit: 2,
                ..all()
            },
        ),
        (
            "max mod 10, limit 1, sorted by value descending",
            RangeRequest {
                max_mod_revision: 10,
                limit: 1,
                sort_order: SortOrder::Descend as i32,
                sort_target: SortTarget::Value as i32,
                ..all()
            },
        ),
        (
            "min create 5 at rev 12",
            RangeRequest {
                min_create_revision: 5,
                revision: 12,
                ..all()
            },
        ),
        (
            "min mod beyond everything",
            RangeRequest {
                min_mod_revision: 1000,
                ..all()
            },
        ),
        (
            "max create 1",
            RangeRequest {
                max_create_revision: 1,
                ..all()
            },
        ),
        (
            "negative filters",
            RangeRequest {
                min_mod_revision: -5,
                max_create_revision: -5,
                ..all()
            },
        ),
        (
            "min mod 10, count only",
            RangeRequest {
                min_mod_revision: 10,
                count_only: true,
                ..all()
            },
        ),
        (
            "min mod 10, keys only",
            RangeRequest {
                min_mod_revision: 10,
                keys_only: true,
                ..all()
            },
        ),
    ];
    for (label, r) in filters {
        p.range(label, r).await;
    }

    p.range("empty key", get(b"")).await;
    p.range("empty key with range end", range(b"", b"\0")).await;
    p.finish(150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_delete_match_etcd() {
    let mut p = Pair::start("put and delete").await;
    p.put(
        "new key with prev_kv",
        PutRequest {
            prev_kv: true,
            ..put(b"k", b"v1")
        },
    )
    .await;
    p.put(
        "overwrite with prev_kv",
        PutRequest {
            prev_kv: true,
            ..put(b"k", b"v2")
        },
    )
    .await;
    p.put("overwrite without prev_kv", put(b"k", b"v3")).await;
    p.range("k after three puts", get(b"k")).await;
    p.put(
        "ignore_value keeps the value",
        PutRequest {
            ignore_value: true,
            prev_kv: true,
            ..put(b"k", b"")
        },
    )
    .await;
    p.range("k after ignore_value", get(b"k")).await;
    p.put(
        "ignore_lease keeps the lease",
        PutRequest {
            ignore_lease: true,
            prev_kv: true,
            ..put(b"k", b"v4")
        },
    )
    .await;
    p.put("empty key", put(b"", b"v")).await;
    p.put(
        "value with ignore_value",
        PutRequest {
            ignore_value: true,
            ..put(b"k", b"v")
        },
    )
    .await;
    p.put(
        "ignore_value on a missing key",
        PutRequest {
            ignore_value: true,
            ..put(b"missing", b"")
        },
    )
    .await;
    p.put(
        "ignore_lease on a missing key",
        PutRequest {
            ignore_lease: true,
            ..put(b"missing", b"v")
        },
    )
    .await;
    p.put(
        "lease with ignore_lease",
        PutRequest {
            ignore_lease: true,
            lease: 7,
            ..put(b"k", b"v")
        },
    )
    .await;
    p.put(
        "unknown lease",
        PutRequest {
            lease: 12345,
            ..put(b"k", b"v")
        },
    )
    .await;
    p.put(
        "empty key and ignore_value with value",
        PutRequest {
            ignore_value: true,
            ..put(b"", b"v")
        },
    )
    .await;
    p.put("empty value", put(b"empty", b"")).await;
    p.put("binary key and value", put(b"\0\xff\0", b"\xff\0\xff"))
        .await;
    p.put("key \\xff", put(b"\xff", b"top")).await;
    p.put("key \\0", put(b"\0", b"bottom")).await;
    p.put("100 KiB value", put(b"big", &vec![b'x'; 100 * 1024]))
        .await;
    p.range("everything", range(b"\0", b"\0")).await;
    for i in 0..5 {
        p.put(
            &format!("p/{i}"),
            PutRequest {
                prev_kv: i % 2 == 0,
                ..put(format!("p/{i}").as_bytes(), b"p")
            },
        )
        .await;
    }

    p.del("delete a missing key", del(b"missing", b"")).await;
    p.del(
        "delete a missing key with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"missing", b"")
        },
    )
    .await;
    p.del("delete an empty range", del(b"q", b"r")).await;
    p.del("delete with end before key", del(b"p/4", b"p/0"))
        .await;
    let p0_deleted =
        header_rev(&p.del("delete one key", del(b"p/0", b"")).await).expect("a header");
    p.del(
        "delete [p/1, p/3) with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"p/1", b"p/3")
        },
    )
    .await;
    p.range("p/ after deletes", range(b"p/", b"p0")).await;
    p.del(
        "delete prefix p/ with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"p/", b"p0")
        },
    )
    .await;
    p.del("delete prefix p/ again", del(b"p/", b"p0")).await;
    p.del("delete empty key", del(b"", b"")).await;
    p.del("delete empty key to end", del(b"", b"\0")).await;
    p.put(
        "ignore_value on a deleted key",
        PutRequest {
            ignore_value: true,
            ..put(b"p/0", b"")
        },
    )
    .await;
    p.put(
        "re-create a deleted key",
        PutRequest {
            prev_kv: true,
            ..put(b"p/0", b"again")
        },
    )
    .await;
    p.range("re-created key has version 1", get(b"p/0")).await;
    p.range(
        "p/0 just before it was deleted",
        RangeRequest {
            revision: p0_deleted - 1,
            ..get(b"p/0")
        },
    )
    .await;
    p.range(
        "p/0 at the revision it was deleted",
        RangeRequest {
            revision: p0_deleted,
            ..get(b"p/0")
        },
    )
    .await;
    p.del(
        "delete from \\xff to the end with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\xff", b"\0")
        },
    )
    .await;
    p.del(
        "delete binary key",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\0\xff\0", b"")
        },
    )
    .await;
    p.range("everything at the end", range(b"\0", b"\0")).await;
    p.range(
        "everything at rev 20",
        RangeRequest {
            revision: 20,
            ..range(b"\0", b"\0")
        },
    )
    .await;
    p.del(
        "delete everything with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"\0", b"\0")
        },
    )
    .await;
    p.range("empty store", range(b"\0", b"\0")).await;
    p.range(
        "history survives deletes",
        RangeRequest {
            revision: 25,
            ..range(b"\0", b"\0")
        },
    )
    .await;
    p.finish(45);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txn_matches_etcd() {
    use CompareTarget as T;
    let mut p = Pair::start("txn").await;
    // "x" at version 3 with create rev 2 and mod rev 4; "y" at version 1 with mod
    // rev 5; "w" with an empty value; nothing at "none*".
    for (k, v) in [("x", "1"), ("x", "2"), ("x", "3"), ("y", "b"), ("w", "")] {
        must(
            &mut p,
            &format!("put {k}={v}"),
            Req::Put(put(k.as_bytes(), v.as_bytes())),
        )
        .await;
    }
    let reads = || vec![op_range(get(b"x")), op_range(range(b"w", b"z"))];
    let other = || vec![op_range(get(b"y"))];

    // Every target against every result, on one key, a missing key, a range and a
    // from-key range, with constants below, at and above the stored values.
    let unions: Vec<(CompareTarget, Vec<TargetUnion>)> = vec![
        (
            T::Version,
            vec![TargetUnion::Version(0), TargetUnion::Version(3)],
        ),
        (
            T::Create,
            vec![
                TargetUnion::CreateRevision(2),
                TargetUnion::CreateRevision(5),
            ],
        ),
        (
            T::Mod,
            vec![TargetUnion::ModRevision(4), TargetUnion::ModRevision(6)],
        ),
        (
            T::Value,
            vec![
                TargetUnion::Value(b"2".to_vec()),
                TargetUnion::Value(b"3".to_vec()),
            ],
        ),
        (T::Lease, vec![TargetUnion::Lease(0), TargetUnion::Lease(1)]),
    ];
    let places: Vec<(&str, &[u8], &[u8])> = vec![
        ("x", b"x", b""),
        ("missing", b"none", b""),
        ("[w, z)", b"w", b"z"),
        ("from x", b"x", b"\0"),
        ("empty range [none, nonf)", b"none", b"nonf"),
    ];
    for (target, values) in &unions {
        for result in RESULTS {
            for u in values {
                for (place, k, e) in &places {
                    let c = Compare {
                        range_end: e.to_vec(),
                        ..cmp(k, *target, result, u.clone())
                    };
                    p.txn(
                        &format!("{target:?} {result:?} {u:?} on {place}"),
                        txn(vec![c], reads(), other()),
                    )
                    .await;
                }
            }
        }
    }

    let c_ver3 = || {
        cmp(
            b"x",
            T::Version,
            CompareResult::Equal,
            TargetUnion::Version(3),
        )
    };
    let c_false = || {
        cmp(
            b"x",
            T::Value,
            CompareResult::Equal,
            TargetUnion::Value(b"nope".to_vec()),
        )
    };
    p.txn("no compares, no ops", txn(vec![], vec![], vec![]))
        .await;
    p.txn(
        "false compare, no ops",
        txn(vec![c_false()], vec![], vec![]),
    )
    .await;
    p.txn(
        "two compares, both true",
        txn(vec![c_ver3(), c_ver3()], reads(), other()),
    )
    .await;
    p.txn(
        "two compares, one false",
        txn(vec![c_ver3(), c_false()], reads(), other()),
    )
    .await;
    p.txn(
        "target and union disagree",
        txn(
            vec![cmp(
                b"x",
                T::Mod,
                CompareResult::Greater,
                TargetUnion::Value(b"9".to_vec()),
            )],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "no union: compares against zero",
        txn(
            vec![Compare {
                target_union: None,
                ..cmp(
                    b"x",
                    T::Version,
                    CompareResult::Greater,
                    TargetUnion::Version(0),
                )
            }],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "value compare against empty value",
        txn(
            vec![cmp(
                b"w",
                T::Value,
                CompareResult::Equal,
                TargetUnion::Value(vec![]),
            )],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "value of a missing key is not empty",
        txn(
            vec![cmp(
                b"none",
                T::Value,
                CompareResult::Equal,
                TargetUnion::Value(vec![]),
            )],
            reads(),
            other(),
        ),
    )
    .await;
    p.txn(
        "compare with empty key",
        txn(
            vec![cmp(
                b"",
                T::Version,
                CompareResult::Equal,
                TargetUnion::Version(0),
            )],
            reads(),
            other(),
        ),
    )
    .await;

    // Writes in both branches.
    p.txn(
        "success branch writes",
        txn(
            vec![c_ver3()],
            vec![
                op_put(PutRequest {
                    prev_kv: true,
                    ..put(b"s", b"1")
                }),
                op_range(get(b"s")),
            ],
            vec![op_put(put(b"f", b"1"))],
        ),
    )
    .await;
    p.txn(
        "failure branch writes",
        txn(
            vec![c_false()],
            vec![op_put(put(b"s", b"2"))],
            vec![
                op_put(PutRequest {
                    prev_kv: true,
                    ..put(b"f", b"2")
                }),
                op_range(range(b"f", b"t")),
            ],
        ),
    )
    .await;
    p.txn(
        "write txn that takes its read-only branch",
        txn(
            vec![c_false()],
            vec![op_put(put(b"s", b"3"))],
            vec![op_range(get(b"s"))],
        ),
    )
    .await;
    p.txn(
        "range after put and delete in one txn",
        txn(
            vec![],
            vec![
                op_range(range(b"r", b"s")),
                op_put(put(b"r1", b"a")),
                op_range(range(b"r", b"s")),
                op_put(put(b"r2", b"b")),
                op_del(DeleteRangeRequest {
                    prev_kv: true,
                    ..del(b"s", b"")
                }),
                op_range(range(b"r", b"t")),
                op_range(RangeRequest {
                    count_only: true,
                    ..range(b"r", b"t")
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "delete of nothing only",
        txn(vec![], vec![op_del(del(b"nothing", b""))], vec![]),
    )
    .await;
    p.txn(
        "delete then re-put a different key range",
        txn(
            vec![],
            vec![
                op_del(DeleteRangeRequest {
                    prev_kv: true,
                    ..del(b"r", b"r2")
                }),
                op_put(put(b"r2", b"c")),
            ],
            vec![],
        ),
    )
    .await;
    let now = header_rev(&p.range("current revision", get(b"x")).await).expect("a header");
    p.txn(
        "range at the txn's own new revision",
        txn(
            vec![],
            vec![
                op_put(put(b"n1", b"1")),
                op_range(RangeRequest {
                    revision: now + 1,
                    ..get(b"n1")
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at the current revision inside a write txn",
        txn(
            vec![],
            vec![
                op_put(put(b"n1", b"2")),
                op_range(RangeRequest {
                    revision: now,
                    ..get(b"n1")
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at a future revision in the branch not taken",
        txn(
            vec![c_false()],
            vec![op_range(RangeRequest {
                revision: 1000,
                ..get(b"x")
            })],
            vec![op_range(get(b"x"))],
        ),
    )
    .await;
    p.txn(
        "range at a future revision in the branch taken",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 1000,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at a negative revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: -5,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at revision -1",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: -1,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "range at an old revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 3,
                ..get(b"x")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "put with ignore_value on a missing key",
        txn(
            vec![],
            vec![op_put(PutRequest {
                ignore_value: true,
                ..put(b"nokey", b"")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "put with unknown lease",
        txn(
            vec![],
            vec![op_put(PutRequest {
                lease: 99,
                ..put(b"l", b"")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "put with ignore_value on an existing key",
        txn(
            vec![],
            vec![op_put(PutRequest {
                ignore_value: true,
                prev_kv: true,
                ..put(b"x", b"")
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "empty key in a nested put",
        txn(vec![], vec![op_put(put(b"", b"v"))], vec![]),
    )
    .await;
    p.txn(
        "empty key in a range op",
        txn(vec![], vec![op_range(get(b""))], vec![]),
    )
    .await;
    p.txn(
        "empty RequestOp",
        txn(vec![], vec![RequestOp { request: None }], vec![]),
    )
    .await;
    p.txn(
        "empty RequestOp in the branch not taken",
        txn(
            vec![],
            vec![op_range(get(b"x"))],
            vec![RequestOp { request: None }],
        ),
    )
    .await;

    // Nested txns: compares of every nested txn see the state before the outer one.
    p.txn(
        "nested txn sees the state before the outer txn",
        txn(
            vec![],
            vec![
                op_put(put(b"n2", b"1")),
                op_txn(txn(
                    vec![cmp(
                        b"n2",
                        T::Value,
                        CompareResult::Equal,
                        TargetUnion::Value(b"1".to_vec()),
                    )],
                    vec![op_put(put(b"n3", b"then"))],
                    vec![op_put(put(b"n3", b"else")), op_range(get(b"n2"))],
                )),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "two nested txns and a nested-nested one",
        txn(
            vec![c_ver3()],
            vec![
                op_txn(txn(
                    vec![c_false()],
                    vec![op_put(put(b"m1", b"t"))],
                    vec![op_put(put(b"m1", b"f"))],
                )),
                op_range(get(b"m1")),
                op_txn(txn(
                    vec![c_ver3()],
                    vec![
                        op_txn(txn(vec![], vec![op_put(put(b"m2", b"deep"))], vec![])),
                        op_range(range(b"m", b"n")),
                    ],
                    vec![],
                )),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "read-only nested txns",
        txn(
            vec![],
            vec![op_txn(txn(
                vec![c_false()],
                vec![op_range(get(b"x"))],
                vec![op_range(get(b"y"))],
            ))],
            vec![],
        ),
    )
    .await;
    p.txn(
        "nested txn with an empty RequestOp",
        txn(
            vec![],
            vec![op_txn(txn(
                vec![],
                vec![RequestOp { request: None }],
                vec![],
            ))],
            vec![],
        ),
    )
    .await;
    p.txn(
        "nested txn with a future-revision range in the taken branch",
        txn(
            vec![],
            vec![
                op_put(put(b"q", b"1")),
                op_txn(txn(
                    vec![],
                    vec![op_range(RangeRequest {
                        revision: 999,
                        ..get(b"x")
                    })],
                    vec![],
                )),
            ],
            vec![],
        ),
    )
    .await;

    // Duplicate keys.
    let dup_cases: Vec<(&str, Vec<RequestOp>)> = vec![
        (
            "two puts of one key",
            vec![op_put(put(b"d", b"1")), op_put(put(b"d", b"2"))],
        ),
        (
            "put inside a deleted range",
            vec![op_del(del(b"d", b"e")), op_put(put(b"d1", b"1"))],
        ),
        (
            "put of a deleted key",
            vec![op_del(del(b"d", b"")), op_put(put(b"d", b"1"))],
        ),
        (
            "put before a delete covering it",
            vec![op_put(put(b"d1", b"1")), op_del(del(b"d", b"e"))],
        ),
        (
            "put at the end of a deleted range",
            vec![op_del(del(b"d", b"e")), op_put(put(b"e", b"1"))],
        ),
        (
            "put after a from-key delete",
            vec![op_del(del(b"d", b"\0")), op_put(put(b"z", b"1"))],
        ),
        (
            "two deletes of one key",
            vec![op_del(del(b"d", b"")), op_del(del(b"d", b""))],
        ),
        (
            "range and put of one key",
            vec![op_range(get(b"d")), op_put(put(b"d", b"1"))],
        ),
        (
            "same key in both branches of a nested txn",
            vec![op_txn(txn(
                vec![],
                vec![op_put(put(b"d", b"t"))],
                vec![op_put(put(b"d", b"f"))],
            ))],
        ),
        (
            "nested put then outer put of one key",
            vec![
                op_txn(txn(vec![], vec![op_put(put(b"d", b"1"))], vec![])),
                op_put(put(b"d", b"2")),
            ],
        ),
        (
            "outer put then nested put of one key",
            vec![
                op_put(put(b"d", b"2")),
                op_txn(txn(vec![], vec![op_put(put(b"d", b"1"))], vec![])),
            ],
        ),
        (
            "nested failure-branch put of an outer put key",
            vec![
                op_put(put(b"d", b"2")),
                op_txn(txn(vec![], vec![], vec![op_put(put(b"d", b"1"))])),
            ],
        ),
        (
            "outer delete covering a nested put",
            vec![
                op_del(del(b"d", b"e")),
                op_txn(txn(vec![], vec![op_put(put(b"d5", b"1"))], vec![])),
            ],
        ),
        (
            "nested delete covering an outer put",
            vec![
                op_txn(txn(vec![], vec![op_del(del(b"d", b"e"))], vec![])),
                op_put(put(b"d5", b"1")),
            ],
        ),
        (
            "two nested txns putting one key",
            vec![
                op_txn(txn(vec![], vec![op_put(put(b"d", b"1"))], vec![])),
                op_txn(txn(vec![], vec![op_put(put(b"d", b"2"))], vec![])),
            ],
        ),
        (
            "two nested txns, one key in else branches",
            vec![
                op_txn(txn(vec![], vec![], vec![op_put(put(b"d", b"1"))])),
                op_txn(txn(vec![], vec![], vec![op_put(put(b"d", b"2"))])),
            ],
        ),
        (
            "put and delete within one nested branch",
            vec![op_txn(txn(
                vec![],
                vec![op_del(del(b"d", b"")), op_put(put(b"d", b"1"))],
                vec![],
            ))],
        ),
        (
            "deeply nested duplicate",
            vec![
                op_put(put(b"d", b"1")),
                op_txn(txn(
                    vec![],
                    vec![op_txn(txn(vec![], vec![op_put(put(b"d", b"2"))], vec![]))],
                    vec![],
                )),
            ],
        ),
    ];
    for (label, ops) in dup_cases {
        p.txn(
            &format!("duplicate check in success: {label}"),
            txn(vec![], ops.clone(), vec![]),
        )
        .await;
        p.txn(
            &format!("duplicate check in failure: {label}"),
            txn(vec![c_false()], vec![], ops),
        )
        .await;
    }

    // Op limits: 128 is --max-txn-ops' default.
    let puts = |n: usize, prefix: &str| -> Vec<RequestOp> {
        (0..n)
            .map(|i| op_put(put(format!("{prefix}{i:03}").as_bytes(), b"v")))
            .collect()
    };
    let ranges = |n: usize| -> Vec<RequestOp> {
        (0..n)
            .map(|i| op_range(get(format!("x{i}").as_bytes())))
            .collect()
    };
    p.txn("128 puts", txn(vec![], puts(128, "o/"), vec![]))
        .await;
    p.txn("129 puts", txn(vec![], puts(129, "o/"), vec![]))
        .await;
    p.txn(
        "129 ops in the failure branch",
        txn(vec![], vec![], ranges(129)),
    )
    .await;
    p.txn("128 compares", txn(vec![c_ver3(); 128], ranges(1), vec![]))
        .await;
    p.txn("129 compares", txn(vec![c_ver3(); 129], ranges(1), vec![]))
        .await;
    // etcd checks a nested txn against what the outer one leaves of the limit:
    // 128 minus the outer's largest op list (here 101 ops).
    let mut outer = ranges(100);
    outer.push(op_txn(txn(vec![], ranges(27), vec![])));
    p.txn(
        "nested txn within what the outer leaves",
        txn(vec![], outer, vec![]),
    )
    .await;
    let mut outer = ranges(100);
    outer.push(op_txn(txn(vec![], ranges(28), vec![])));
    p.txn(
        "nested txn beyond what the outer leaves",
        txn(vec![], outer, vec![]),
    )
    .await;
    p.txn(
        "nested txn of 128 ops alone",
        txn(
            vec![],
            vec![op_txn(txn(vec![], ranges(128), vec![]))],
            vec![],
        ),
    )
    .await;
    p.range(
        "o/ after the op-limit txns",
        RangeRequest {
            count_only: true,
            ..range(b"o/", b"o0")
        },
    )
    .await;
    p.range("everything at the end", range(b"\0", b"\0")).await;
    p.finish(250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_matches_etcd() {
    let mut p = Pair::start("compaction").await;
    p.compact("compact 0 on a fresh store", 0, false).await;
    p.compact("compact 0 again", 0, false).await;
    p.compact("compact -1", -1, false).await;
    p.compact("compact a future revision", 5, false).await;
    // Revisions 2..=21: k0..k9 created, then k0..k4 overwritten, k5..k7 deleted,
    // k8 overwritten twice more.
    for i in 0..10 {
        must(
            &mut p,
            &format!("put k{i}"),
            Req::Put(put(format!("k{i}").as_bytes(), b"a")),
        )
        .await;
    }
    for i in 0..5 {
        must(
            &mut p,
            &format!("overwrite k{i}"),
            Req::Put(put(format!("k{i}").as_bytes(), b"b")),
        )
        .await;
    }
    for i in 5..8 {
        must(
            &mut p,
            &format!("delete k{i}"),
            Req::Delete(del(format!("k{i}").as_bytes(), b"")),
        )
        .await;
    }
    must(&mut p, "overwrite k8", Req::Put(put(b"k8", b"c"))).await;
    let cur = must(&mut p, "overwrite k8 again", Req::Put(put(b"k8", b"d"))).await;
    assert_eq!(cur, 21, "setup revisions");
    let all = || range(b"k", b"l");

    p.compact("compact a future revision", cur + 1, false).await;
    p.compact("compact at 10", 10, false).await;
    for revision in [1, 9, 10, 11, 16, 17, cur, cur + 1, 0, -1] {
        p.range(
            &format!("all at rev {revision} after compacting at 10"),
            RangeRequest { revision, ..all() },
        )
        .await;
    }
    p.range(
        "count only at compact rev",
        RangeRequest {
            revision: 10,
            count_only: true,
            ..all()
        },
    )
    .await;
    p.range(
        "sorted by create at compact rev",
        RangeRequest {
            revision: 10,
            sort_order: SortOrder::Descend as i32,
            sort_target: SortTarget::Create as i32,
            ..all()
        },
    )
    .await;
    p.range(
        "k8 history kept after compaction",
        RangeRequest {
            revision: 20,
            ..get(b"k8")
        },
    )
    .await;
    p.compact("compact at 10 again", 10, false).await;
    p.compact("compact below the compacted revision", 5, false)
        .await;
    p.compact("compact -1 after compaction", -1, false).await;
    p.txn(
        "txn reading below the compact revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 9,
                ..all()
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "txn reading at the compact revision",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: 10,
                ..all()
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "write txn reading below the compact revision",
        txn(
            vec![],
            vec![
                op_put(put(b"w", b"1")),
                op_range(RangeRequest {
                    revision: 3,
                    ..all()
                }),
            ],
            vec![],
        ),
    )
    .await;
    p.txn(
        "txn with revision -1 range after compaction",
        txn(
            vec![],
            vec![op_range(RangeRequest {
                revision: -1,
                ..all()
            })],
            vec![],
        ),
    )
    .await;
    p.txn(
        "compare on compacted history",
        txn(
            vec![cmp(
                b"k0",
                CompareTarget::Create,
                CompareResult::Equal,
                TargetUnion::CreateRevision(2),
            )],
            vec![op_range(get(b"k0"))],
            vec![op_range(get(b"k1"))],
        ),
    )
    .await;

    p.compact("physical compaction at the current revision", cur, true)
        .await;
    for revision in [cur - 1, cur, 0] {
        p.range(
            &format!("all at rev {revision} after compacting at {cur}"),
            RangeRequest { revision, ..all() },
        )
        .await;
    }
    p.range(
        "serializable below compaction",
        RangeRequest {
            revision: 15,
            serializable: true,
            ..all()
        },
    )
    .await;
    for i in 0..3 {
        p.put(
            &format!("write after compaction {i}"),
            PutRequest {
                prev_kv: true,
                ..put(b"k8", b"e")
            },
        )
        .await;
    }
    p.del(
        "delete after compaction with prev_kv",
        DeleteRangeRequest {
            prev_kv: true,
            ..del(b"k0", b"k3")
        },
    )
    .await;
    p.range("all after compaction and writes", all()).await;
    p.range(
        "all at the compact revision",
        RangeRequest {
            revision: cur,
            ..all()
        },
    )
    .await;
    p.compact("compact at the latest revision", cur + 5, false)
        .await;
    p.range(
        "all at the latest compact revision",
        RangeRequest {
            revision: cur + 5,
            ..all()
        },
    )
    .await;
    p.range(
        "just below the latest compact revision",
        RangeRequest {
            revision: cur + 4,
            ..all()
        },
    )
    .await;
    p.finish(40);
}

// ------------------------------------------------------------------ generated cases

/// A seeded generator of KV requests over a small key space, so that requests
/// keep hitting the same keys and build up history, ties and collisions.
struct Gen {
    rng: StdRng,
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    cur: i64,
    compacted: i64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let keys: Vec<&[u8]> = vec![
            b"a",
            b"a/1",
            b"a/2",
            b"a/3",
            b"b",
            b"b/1",
            b"c",
            b"\0",
            b"\0\0",
            b"k\0",
            b"k\xff",
            b"\xff",
            b"\xff\xff",
            b"z",
            b"z\0",
        ];
        let values: Vec<&[u8]> = vec![b"", b"v", b"w", b"x", b"vv", b"\0", b"\xff", b"v\0"];
        Gen {
            rng: StdRng::seed_from_u64(seed),
            keys: keys.into_iter().map(<[u8]>::to_vec).collect(),
            values: values.into_iter().map(<[u8]>::to_vec).collect(),
            cur: 1,
            compacted: 0,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn key(&mut self) -> Vec<u8> {
        let i = self.rng.gen_range(0..self.keys.len());
        self.keys[i].clone()
    }

    fn value(&mut self) -> Vec<u8> {
        let i = self.rng.gen_range(0..self.values.len());
        self.values[i].clone()
    }

    fn range_end(&mut self, key: &[u8]) -> Vec<u8> {
        match self.rng.gen_range(0..10) {
            0..=3 => Vec::new(),
            4 => vec![0],
            5 | 6 => prefix_end(key),
            _ => self.key(),
        }
    }

    fn revision(&mut self) -> i64 {
        match self.rng.gen_range(0..10) {
            0..=4 => 0,
            5 => -1,
            6 => self.cur + self.rng.gen_range(1..3),
            _ => self.rng.gen_range((self.compacted - 1).max(1)..=self.cur),
        }
    }

    fn small(&mut self, zero: f64, max: i64) -> i64 {
        if self.chance(zero) {
            0
        } else {
            self.rng.gen_range(-1..=max)
        }
    }

    fn range(&mut self) -> RangeRequest {
        let key = self.key();
        let range_end = self.range_end(&key);
        let cur = self.cur;
        RangeRequest {
            key,
            range_end,
            limit: self.small(0.6, 6),
            revision: self.revision(),
            sort_order: self.rng.gen_range(0..3),
            sort_target: if self.chance(0.4) {
                0
            } else {
                self.rng.gen_range(0..5)
            },
            serializable: self.chance(0.2),
            keys_only: self.chance(0.15),
            count_only: self.chance(0.1),
            min_mod_revision: self.small(0.85, cur),
            max_mod_revision: self.small(0.85, cur),
            min_create_revision: self.small(0.85, cur),
            max_create_revision: self.small(0.85, cur),
        }
    }

    fn put(&mut self) -> PutRequest {
        let ignore_value = self.chance(0.07);
        PutRequest {
            key: self.key(),
            value: if ignore_value && self.chance(0.7) {
                Vec::new()
            } else {
                self.value()
            },
            lease: if self.chance(0.02) { 42 } else { 0 },
            prev_kv: self.chance(0.4),
            ignore_value,
            ignore_lease: self.chance(0.07),
        }
    }

    fn delete(&mut self) -> DeleteRangeRequest {
        let key = self.key();
        // Mostly single keys: wide deletes would keep the store nearly empty.
        let range_end = if self.chance(0.7) {
            Vec::new()
        } else {
            self.range_end(&key)
        };
        DeleteRangeRequest {
            key,
            range_end,
            prev_kv: self.chance(0.5),
        }
    }

    fn compare(&mut self) -> Compare {
        let key = self.key();
        let range_end = if self.chance(0.75) {
            Vec::new()
        } else {
            self.range_end(&key)
        };
        let target = self.rng.gen_range(0..5);
        let cur = self.cur;
        let target_union = match target {
            0 => TargetUnion::Version(self.rng.gen_range(0..4)),
            1 => TargetUnion::CreateRevision(self.rng.gen_range(0..=cur)),
            2 => TargetUnion::ModRevision(self.rng.gen_range(0..=cur)),
            3 => TargetUnion::Value(self.value()),
            _ => TargetUnion::Lease(self.rng.gen_range(0..2)),
        };
        Compare {
            result: self.rng.gen_range(0..4),
            target,
            key,
            target_union: Some(target_union),
            range_end,
        }
    }

    fn ops(&mut self, depth: u32) -> Vec<RequestOp> {
        let n = self.rng.gen_range(0..4);
        (0..n)
            .map(|_| match self.rng.gen_range(0..10) {
                0..=3 => op_range(self.range()),
                4..=6 => op_put(self.put()),
                7 | 8 => op_del(self.delete()),
                _ if depth < 2 => op_txn(self.txn(depth + 1)),
                _ => op_range(self.range()),
            })
            .collect()
    }

    fn txn(&mut self, depth: u32) -> TxnRequest {
        let nc = self.rng.gen_range(0..3);
        TxnRequest {
            compare: (0..nc).map(|_| self.compare()).collect(),
            success: self.ops(depth),
            failure: self.ops(depth),
        }
    }

    /// A txn etcd 3.4 can take without crashing. etcd checks `ignore_value` and
    /// `ignore_lease` puts against the state before the txn and trusts its
    /// duplicate-key check to rule out a delete of the same key earlier in the txn;
    /// that check treats a from-key delete (`range_end` `"\0"`) as an empty
    /// interval, so such a put after such a delete fails mid-apply and etcd
    /// panics. Those combinations are left to a dedicated test.
    fn safe_txn(&mut self) -> TxnRequest {
        loop {
            let t = self.txn(0);
            if !(any_op(
                &t,
                &|op| matches!(op, request_op::Request::RequestDeleteRange(d) if d.range_end == [0]),
            ) && any_op(
                &t,
                &|op| matches!(op, request_op::Request::RequestPut(p) if p.ignore_value || p.ignore_lease),
            )) {
                return t;
            }
        }
    }

    fn request(&mut self) -> Req {
        match self.rng.gen_range(0..100) {
            0..=34 => Req::Range(self.range()),
            35..=64 => Req::Put(self.put()),
            65..=74 => Req::Delete(self.delete()),
            75..=96 => Req::Txn(self.safe_txn()),
            _ => Req::Compact(CompactionRequest {
                revision: self.rng.gen_range((self.compacted - 1)..=self.cur + 1),
                physical: self.chance(0.5),
            }),
        }
    }
}

/// Whether any op of `t`, in either branch and at any depth, satisfies `f`.
fn any_op(t: &TxnRequest, f: &dyn Fn(&request_op::Request) -> bool) -> bool {
    t.success
        .iter()
        .chain(&t.failure)
        .any(|op| match &op.request {
            Some(request_op::Request::RequestTxn(inner)) => any_op(inner, f),
            Some(r) => f(r),
            None => false,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_match_etcd() {
    let seed: u64 = match std::env::var("DIFF_SEED") {
        Ok(s) => s.parse().expect("DIFF_SEED must be a u64"),
        Err(_) => rand::random(),
    };
    let cases: usize = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let context = format!("generated, seed {seed}: rerun with DIFF_SEED={seed}");
    eprintln!("{context}");
    let mut p = Pair::start(&context).await;
    let mut g = Gen::new(seed);
    for i in 0..cases {
        let req = g.request();
        let o = p.case(&format!("generated #{i}"), req.clone()).await;
        if let Some(rev) = header_rev(&o) {
            g.cur = g.cur.max(rev);
        }
        if let (Req::Compact(c), Ok(_)) = (&req, &o.0) {
            g.compacted = c.revision;
        }
    }
    // The store must have grown: a generator that only produced errors would test
    // little.
    assert!(
        g.cur > (cases / 5) as i64,
        "only {} revisions after {cases} requests",
        g.cur
    );
    p.finish(cases);
}
