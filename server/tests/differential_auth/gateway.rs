//! The JSON gateway with auth on: tokens from `POST /v3/auth/authenticate`,
//! sent in the `Authorization` header (and the spellings that are not it),
//! and what each caller of the cast is allowed and refused. Answers are
//! compared as the gateway suite compares them (status, `Content-Type`, body;
//! `gw_observe`), with tokens masked as well; refusals carry etcd's
//! `{"error","message","code"}` body.

use crate::call::Call;
use crate::cast::*;
use crate::common::Kind;
use crate::gw_observe::{self, b64, Body, Identity, Observed, Outcome};
use crate::harness::{subject_kind, Options, Pair, Side, Who, REQUEST_TIMEOUT};
use crate::http::{self, Conn, HttpError, Request};
use crate::normalize::mask_tokens;
use serde_json::{json, Value};
use std::time::Instant;

/// Where a request's token goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    /// `Authorization: <token>`, as etcd's documentation shows.
    Authorization,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Grpc-Metadata-Token: <token>`, which the gateway forwards as the
    /// `token` metadata.
    GrpcMetadata,
    /// `Token: <token>`, a header the gateway does not forward.
    TokenHeader,
}

fn request(side: &Side, who: Who, carrier: Carrier, path: &str, body: &str) -> Request {
    let r = Request::post(path).body_with("application/json", body.as_bytes().to_vec());
    match (side.token(who), carrier) {
        (None, _) => r,
        (Some(t), Carrier::Authorization) => r.header("Authorization", &t),
        (Some(t), Carrier::Bearer) => r.header("Authorization", &format!("Bearer {t}")),
        (Some(t), Carrier::GrpcMetadata) => r.header("Grpc-Metadata-Token", &t),
        (Some(t), Carrier::TokenHeader) => r.header("Token", &t),
    }
}

fn identity(side: &Side) -> Identity {
    Identity {
        client_url: side.names.client_url.clone(),
        peer_url: side.names.peer_url.clone(),
        member_id: Some(side.names.own_id.to_string()),
        leases: Vec::new(),
    }
}

fn observe(side: &Side, path: &str, r: Result<http::Response, HttpError>) -> Outcome {
    r.map(|r| {
        let mut o = gw_observe::observe(&r, path, &identity(side));
        if let Body::Json(v, _) = &mut o.body {
            mask_tokens(v);
        }
        o
    })
}

/// POSTs `body` to `path` as `who` on both servers and compares.
fn case(p: &mut Pair, label: &str, who: Who, path: &str, body: Value) {
    case_via(p, label, who, Carrier::Authorization, path, body)
}

/// Like [`case`], with the token carried as `carrier` says.
fn case_via(p: &mut Pair, label: &str, who: Who, carrier: Carrier, path: &str, body: Value) {
    let body = body.to_string();
    let outcomes: Vec<Outcome> = p
        .sides()
        .iter()
        .map(|side| {
            let req = request(side, who, carrier, path, &body);
            observe(side, path, http::send(side.port(), &req, REQUEST_TIMEOUT))
        })
        .collect();
    let shown = format!("as {who:?} via {carrier:?}: POST {path} {body}");
    compare(p, label, &shown, &outcomes[0], &outcomes[1]);
}

/// A lease's time to live with its keys: etcd 3.4 lists the keys to anyone,
/// ectd only to a caller who may read each of them (see
/// `services::LEASE_KEYS`), so an etcd success that ectd refuses for who the
/// caller is counts as the known gap.
fn lease_keys_case(p: &mut Pair, label: &str, who: Who, path: &str, body: Value) {
    let body = body.to_string();
    let outcomes: Vec<Outcome> = p
        .sides()
        .iter()
        .map(|side| {
            let req = request(side, who, Carrier::Authorization, path, &body);
            observe(side, path, http::send(side.port(), &req, REQUEST_TIMEOUT))
        })
        .collect();
    let raw: Vec<Option<u16>> = outcomes
        .iter()
        .map(|o| o.as_ref().ok().map(|r| r.status))
        .collect();
    let refused_here = matches!(raw[1], Some(400 | 401 | 403));
    if subject_kind() == Kind::Ectd && raw[0] == Some(200) && refused_here {
        p.note_gap(label, crate::services::LEASE_KEYS);
        p.record_http(
            label,
            &format!("as {who:?}: POST {path} {body}"),
            Ok(()),
            gw_observe::render(&outcomes[0]),
            gw_observe::render(&outcomes[1]),
            false,
        );
        return;
    }
    let shown = format!("as {who:?} via Authorization: POST {path} {body}");
    compare(p, label, &shown, &outcomes[0], &outcomes[1]);
}

fn compare(p: &mut Pair, label: &str, request: &str, a: &Outcome, b: &Outcome) {
    p.record_http(
        label,
        request,
        gw_observe::agree(a, b),
        gw_observe::render(a),
        gw_observe::render(b),
        matches!(b, Err(HttpError::Timeout)),
    );
}

/// Authenticates `user` over the gateway on both servers (compared) and
/// keeps each server's token.
fn authenticate(p: &mut Pair, label: &str, user: &str, password: &str) -> bool {
    let path = "/v3/auth/authenticate";
    let body = json!({"name": user, "password": password}).to_string();
    let mut outcomes = Vec::new();
    let mut ok = false;
    for (i, side) in p.sides_mut().iter_mut().enumerate() {
        let req = request(side, Who::Nobody, Carrier::Authorization, path, &body);
        let r = http::send(side.port(), &req, REQUEST_TIMEOUT);
        if let Ok(resp) = &r {
            if let Some(t) = resp.json()["token"].as_str() {
                side.learn_token(user, t);
                ok |= i == 0;
            }
        }
        outcomes.push(observe(side, path, r));
    }
    compare(
        p,
        label,
        &format!("POST {path} {body}"),
        &outcomes[0],
        &outcomes[1],
    );
    ok
}

/// Opens a gateway watch as `who` on both servers and compares the status and
/// the first line (the created, or canceled, response).
fn watch(p: &mut Pair, label: &str, who: Who, key: &str, end: &str) {
    let path = "/v3/watch";
    let body = json!({"create_request": {"key": b64(key), "range_end": b64(end)}}).to_string();
    let outcomes: Vec<Outcome> = p
        .sides()
        .iter()
        .map(|side| {
            first_line(
                side,
                path,
                &request(side, who, Carrier::Authorization, path, &body),
            )
        })
        .collect();
    compare(
        p,
        label,
        &format!("as {who:?}: POST {path} {body} (first line)"),
        &outcomes[0],
        &outcomes[1],
    );
}

fn first_line(side: &Side, path: &str, req: &Request) -> Outcome {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut conn = Conn::open(side.port(), req)?;
    let head = conn.read_head(deadline)?;
    let mut bytes = Vec::new();
    while !bytes.contains(&b'\n') {
        match conn.read_body_part(deadline)? {
            Some(part) => bytes.extend_from_slice(&part),
            None => break,
        }
    }
    let line = match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &bytes[..],
    };
    let mut body = gw_observe::body(line, path, &identity(side));
    if let Body::Json(v, _) = &mut body {
        mask_tokens(v);
    }
    Ok(Observed {
        status: head.status,
        content_type: head.get("content-type").map(str::to_string),
        body,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_by_caller_matches_etcd() {
    let mut p = Pair::start("auth: JSON gateway", Options::default()).await;
    provision(&mut p).await;
    p.must(
        "grant lease 0x9001",
        ROOT,
        crate::call::grant_lease(0x9001, 600),
    )
    .await;
    p.must(
        "attach it to /r/leased",
        ROOT,
        Call::Put(ectd_client::proto::etcdserverpb::PutRequest {
            key: b"/r/leased".to_vec(),
            value: b"x".to_vec(),
            lease: 0x9001,
            ..Default::default()
        }),
    )
    .await;
    tokio::task::block_in_place(|| gateway_cases(&mut p));
    p.finish(150);
}

fn gateway_cases(p: &mut Pair) {
    // The first six callers are the cast's users, named after them.
    for &(user, _) in CALLERS.iter().take(6) {
        assert!(authenticate(
            p,
            &format!("gateway: authenticate {user}"),
            user,
            &password(user)
        ));
    }
    let logins = [
        (
            "a wrong password",
            json!({"name": "reader", "password": "wrong"}),
        ),
        (
            "a missing user",
            json!({"name": "nobody-here", "password": "x"}),
        ),
        ("an empty body", json!({})),
        (
            "camelCase fields",
            json!({"Name": "reader", "Password": password("reader")}),
        ),
    ];
    for (label, body) in logins {
        case(
            p,
            &format!("gateway: authenticate with {label}"),
            NOBODY,
            "/v3/auth/authenticate",
            body,
        );
    }
    for (i, (name, who)) in KINDS.into_iter().enumerate() {
        let mine = format!("/r/gw-{name}");
        let calls = [
            ("range /r/1", "/v3/kv/range", json!({"key": b64("/r/1")})),
            (
                "range /r/",
                "/v3/kv/range",
                json!({"key": b64("/r/"), "range_end": b64(R_END)}),
            ),
            (
                "range [a, c)",
                "/v3/kv/range",
                json!({"key": b64("a"), "range_end": b64("c")}),
            ),
            (
                "serializable count of everything",
                "/v3/kv/range",
                json!({"key": b64("\0"), "range_end": b64("\0"), "serializable": true, "count_only": true}),
            ),
            (
                "put under /r/",
                "/v3/kv/put",
                json!({"key": b64(&mine), "value": b64("v")}),
            ),
            (
                "put k1 prev_kv",
                "/v3/kv/put",
                json!({"key": b64("k1"), "value": b64(name), "prev_kv": true}),
            ),
            (
                "delete under /r/",
                "/v3/kv/deleterange",
                json!({"key": b64(&mine)}),
            ),
            (
                "txn read /r/1 if it exists",
                "/v3/kv/txn",
                json!({
                    "compare": [{"key": b64("/r/1"), "target": "VERSION", "result": "GREATER", "version": "0"}],
                    "success": [{"request_range": {"key": b64("/r/1")}}],
                }),
            ),
            (
                "txn writing k1",
                "/v3/kv/txn",
                json!({
                    "success": [{"request_put": {"key": b64("k1"), "value": b64("t")}}],
                }),
            ),
            (
                "lease grant",
                "/v3/lease/grant",
                json!({"TTL": "600", "ID": (0x9100 + i).to_string()}),
            ),
            (
                "lease time to live with keys",
                "/v3/lease/timetolive",
                json!({"ID": "36865", "keys": true}),
            ),
            (
                "lease revoke of one that does not exist",
                "/v3/lease/revoke",
                json!({"ID": "4660"}),
            ),
            (
                "lock /r/lock",
                "/v3/lock/lock",
                json!({"name": b64("/r/lock"), "lease": "36865"}),
            ),
            ("user list", "/v3/auth/user/list", json!({})),
            (
                "user get reader",
                "/v3/auth/user/get",
                json!({"name": "reader"}),
            ),
            (
                "role get prefix-reader",
                "/v3/auth/role/get",
                json!({"role": "prefix-reader"}),
            ),
            ("role list", "/v3/auth/role/list", json!({})),
            (
                "user add",
                "/v3/auth/user/add",
                json!({"name": format!("gw-{name}"), "password": "x"}),
            ),
            (
                "grant a role",
                "/v3/auth/user/grant",
                json!({"user": format!("gw-{name}"), "role": "prefix-reader"}),
            ),
            (
                "role add",
                "/v3/auth/role/add",
                json!({"name": format!("gw-role-{name}")}),
            ),
            (
                "grant a permission",
                "/v3/auth/role/grant",
                json!({
                    "name": format!("gw-role-{name}"),
                    "perm": {"permType": "READWRITE", "key": b64("g"), "range_end": b64("h")},
                }),
            ),
            ("enable auth", "/v3/auth/enable", json!({})),
            ("status", "/v3/maintenance/status", json!({})),
            ("defragment", "/v3/maintenance/defragment", json!({})),
            (
                "alarm list",
                "/v3/maintenance/alarm",
                json!({"action": "GET"}),
            ),
            ("member list", "/v3/cluster/member/list", json!({})),
            ("hash", "/v3/maintenance/hash", json!({})),
        ];
        for (label, path, body) in calls {
            let label = format!("gateway, {name}: {label}");
            if path == "/v3/lease/timetolive" {
                lease_keys_case(p, &label, who, path, body);
                continue;
            }
            case(p, &label, who, path, body);
        }
        watch(p, &format!("gateway, {name}: watch /r/"), who, "/r/", R_END);
        watch(p, &format!("gateway, {name}: watch [a, c)"), who, "a", "c");
        if who != ROOT {
            case(
                p,
                &format!("gateway, {name}: disable auth"),
                who,
                "/v3/auth/disable",
                json!({}),
            );
        }
    }
    for carrier in [Carrier::Bearer, Carrier::GrpcMetadata, Carrier::TokenHeader] {
        case_via(
            p,
            &format!("gateway: root's token via {carrier:?}"),
            ROOT,
            carrier,
            "/v3/kv/range",
            json!({"key": b64("/r/1")}),
        );
    }
    case(
        p,
        "gateway: root disables auth",
        ROOT,
        "/v3/auth/disable",
        json!({}),
    );
    case(
        p,
        "gateway: nobody reads once auth is off",
        NOBODY,
        "/v3/kv/range",
        json!({"key": b64("/r/1")}),
    );
    case(
        p,
        "gateway: authenticate once auth is off",
        NOBODY,
        "/v3/auth/authenticate",
        json!({"name": "root", "password": password("root")}),
    );
}
