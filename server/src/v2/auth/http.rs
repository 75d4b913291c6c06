//! `/v2/auth/enable`, `/v2/auth/users[/<name>]` and `/v2/auth/roles[/<name>]`,
//! answered as etcd 3.4 answers them: every one but reading whether auth is on
//! needs the root role while auth is on; errors are `{"message":...}`.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::access::{self, Caller};
use super::records::{user_with_roles_json, Role, User};
use super::store::{Error, Read, Records};
use crate::server::Server;
use crate::v2::form::Form;
use crate::v2::http::{http_error, json, method_not_allowed, not_found, v2_error, with_cluster};
use crate::v2::path;

/// The largest request body read.
const MAX_BODY: usize = crate::v2::http::MAX_FORM_BYTES;

/// etcd's refusal of missing or insufficient credentials.
pub fn no_auth() -> Response {
    http_error(StatusCode::UNAUTHORIZED, "Insufficient credentials")
}

/// Answers a request for `p` (a decoded, clean path under `/v2/auth/`).
pub async fn serve(s: &Arc<Server>, req: Request, p: &str) -> Response {
    let sub = &p["/v2/auth".len()..];
    match sub {
        "/enable" => enable(s, req).await,
        "/users" => users(s, req).await,
        "/roles" => roles(s, req).await,
        _ if sub.starts_with("/users/") || sub.starts_with("/roles/") => {
            // "/users/<name>": a name, or nothing (the list); anything deeper
            // is refused.
            let users_path = sub.starts_with("/users/");
            let clean = path::clean(sub);
            let pieces: Vec<&str> = clean.split('/').collect();
            match (pieces.len(), users_path) {
                (2, true) => users(s, req).await,
                (2, false) => roles(s, req).await,
                (3, true) => user(s, req, pieces[2]).await,
                (3, false) => role(s, req, pieces[2]).await,
                _ => http_error(StatusCode::BAD_REQUEST, "Invalid path"),
            }
        }
        _ => not_found(),
    }
}

/// An error as etcd's handlers write it.
fn error(e: Error) -> Response {
    match e {
        Error::Auth(a) => http_error(a.status, &a.message),
        Error::Store(e) => v2_error(&e),
        Error::Internal => internal(),
    }
}

fn internal() -> Response {
    http_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// A JSON answer, the body followed by a newline as Go's JSON encoder ends it.
fn answer(status: StatusCode, body: Option<String>) -> Response {
    json(status, body.map(|b| b + "\n").unwrap_or_default())
}

/// Whether a request's query reads as a form (etcd parses it and fails with a
/// `500` when it cannot).
fn query_ok(req: &Request) -> bool {
    Form::parse(req.uri().query().unwrap_or(""), None).is_ok()
}

async fn body(req: Request) -> Option<Vec<u8>> {
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .ok()
        .map(|b| b.to_vec())
}

async fn enable(s: &Arc<Server>, req: Request) -> Response {
    let method = req.method().clone();
    if !matches!(method.as_str(), "GET" | "PUT" | "DELETE") {
        return method_not_allowed(Some("GET,PUT,DELETE"));
    }
    let caller = Caller::of(&req, s);
    if access::is_write(&method) && !access::has_root_access(s, &caller).await {
        return no_auth();
    }
    let records = Records::new(s);
    let res = match method.as_str() {
        "GET" => {
            let on = records.enabled();
            Ok(Some(format!("{{\"enabled\":{on}}}")))
        }
        "PUT" => records.enable().await.map(|()| None),
        _ => records.disable().await.map(|()| None),
    };
    let r = res.map_or_else(error, |body| answer(StatusCode::OK, body));
    with_cluster(r, s)
}

/// The answer to a listing that is not a GET by root, if it is not.
async fn refuse_unless_root_get(s: &Arc<Server>, method: &Method, who: Caller) -> Option<Response> {
    if *method != Method::GET {
        return Some(method_not_allowed(Some("GET")));
    }
    if !access::has_root_access(s, &who).await {
        return Some(no_auth());
    }
    None
}

async fn users(s: &Arc<Server>, req: Request) -> Response {
    let who = Caller::of(&req, s);
    if let Some(refused) = refuse_unless_root_get(s, &req.method().clone(), who).await {
        return refused;
    }
    let query_ok = query_ok(&req);
    with_cluster(list_users(s, query_ok).await.unwrap_or_else(error), s)
}

async fn list_users(s: &Server, query_ok: bool) -> Result<Response, Error> {
    let records = Records::new(s);
    let names = records.all_users().await?;
    if !query_ok {
        return Ok(internal());
    }
    let mut shown = Vec::with_capacity(names.len());
    for name in names {
        let u = records.get_user(&name, Read::Local).await?;
        let mut roles = Vec::new();
        for r in u.roles.iter().flatten() {
            // A role that no longer exists is left out of the listing.
            if let Ok(role) = records.get_role(r, Read::Local).await {
                roles.push(role);
            }
        }
        shown.push(user_with_roles_json(&u.user, &roles));
    }
    let list = if shown.is_empty() {
        "null".to_string()
    } else {
        format!("[{}]", shown.join(","))
    };
    Ok(answer(
        StatusCode::OK,
        Some(format!("{{\"users\":{list}}}")),
    ))
}

async fn roles(s: &Arc<Server>, req: Request) -> Response {
    let who = Caller::of(&req, s);
    if let Some(refused) = refuse_unless_root_get(s, &req.method().clone(), who).await {
        return refused;
    }
    let query_ok = query_ok(&req);
    with_cluster(list_roles(s, query_ok).await.unwrap_or_else(error), s)
}

async fn list_roles(s: &Server, query_ok: bool) -> Result<Response, Error> {
    let records = Records::new(s);
    let names = records.all_roles().await?;
    if !query_ok {
        return Ok(internal());
    }
    let mut shown = Vec::with_capacity(names.len());
    for name in names {
        shown.push(records.get_role(&name, Read::Local).await?.to_json());
    }
    Ok(answer(
        StatusCode::OK,
        Some(format!("{{\"roles\":[{}]}}", shown.join(","))),
    ))
}

async fn user(s: &Arc<Server>, req: Request, name: &str) -> Response {
    let method = req.method().clone();
    if !matches!(method.as_str(), "GET" | "PUT" | "DELETE") {
        return method_not_allowed(Some("GET,PUT,DELETE"));
    }
    if !access::has_root_access(s, &Caller::of(&req, s)).await {
        return no_auth();
    }
    let records = Records::new(s);
    let res = match method.as_str() {
        "GET" => get_user(&records, query_ok(&req), name).await,
        "PUT" => put_user(&records, req, name).await,
        _ => records
            .delete_user(name)
            .await
            .map(|()| answer(StatusCode::OK, None)),
    };
    with_cluster(res.unwrap_or_else(error), s)
}

async fn get_user(records: &Records<'_>, query_ok: bool, name: &str) -> Result<Response, Error> {
    let u = records.get_user(name, Read::Local).await?;
    if !query_ok {
        return Ok(internal());
    }
    let mut roles = Vec::new();
    for r in u.roles.iter().flatten() {
        roles.push(records.get_role(r, Read::Local).await?);
    }
    Ok(answer(
        StatusCode::OK,
        Some(user_with_roles_json(&u.user, &roles)),
    ))
}

async fn put_user(records: &Records<'_>, req: Request, name: &str) -> Result<Response, Error> {
    let Some(u) = body(req).await.as_deref().and_then(User::from_json) else {
        return Ok(http_error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON in request body.",
        ));
    };
    if u.user != name {
        return Ok(http_error(
            StatusCode::BAD_REQUEST,
            "User JSON name does not match the name in the URL",
        ));
    }
    let (mut out, created) = if !u.changes_roles() {
        if u.has_roles() {
            // etcd answers a creation with roles `200 OK`, not `201`.
            (records.create_user(u).await?, false)
        } else {
            records.create_or_update_user(u).await?
        }
    } else {
        if u.has_roles() {
            return Ok(http_error(
                StatusCode::BAD_REQUEST,
                "User JSON contains both roles and grant/revoke",
            ));
        }
        (records.update_user(&u).await?, false)
    };
    out.password.clear();
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(answer(status, Some(out.to_json())))
}

async fn role(s: &Arc<Server>, req: Request, name: &str) -> Response {
    let method = req.method().clone();
    if !matches!(method.as_str(), "GET" | "PUT" | "DELETE") {
        return method_not_allowed(Some("GET,PUT,DELETE"));
    }
    if !access::has_root_access(s, &Caller::of(&req, s)).await {
        return no_auth();
    }
    let records = Records::new(s);
    let res = match method.as_str() {
        "GET" => records
            .get_role(name, Read::Local)
            .await
            .map(|r| answer(StatusCode::OK, Some(r.to_json()))),
        "PUT" => put_role(&records, req, name).await,
        _ => records
            .delete_role(name)
            .await
            .map(|()| answer(StatusCode::OK, None)),
    };
    with_cluster(res.unwrap_or_else(error), s)
}

async fn put_role(records: &Records<'_>, req: Request, name: &str) -> Result<Response, Error> {
    let Some(r) = body(req).await.as_deref().and_then(Role::from_json) else {
        return Ok(http_error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON in request body.",
        ));
    };
    if r.role != name {
        return Ok(http_error(
            StatusCode::BAD_REQUEST,
            "Role JSON name does not match the name in the URL",
        ));
    }
    if !r.changes_permissions() {
        records.create_role(&r).await?;
        // etcd answers a creation with the role as it was sent.
        return Ok(answer(StatusCode::CREATED, Some(r.to_json())));
    }
    if !super::records::Permissions::is_empty(Some(&r.permissions)) {
        return Ok(http_error(
            StatusCode::BAD_REQUEST,
            "Role JSON contains both permissions and grant/revoke",
        ));
    }
    let out = records.update_role(&r).await?;
    Ok(answer(StatusCode::OK, Some(out.to_json())))
}
