//! Users and roles of etcd 3.4's v2 auth: their JSON as etcd's Go structs read
//! and write it, the changes a grant or revoke makes, and which keys a role's
//! patterns allow.
//!
//! etcd distinguishes a list that is absent (`null` in its JSON) from an empty
//! one (`[]`), and so do these types (`None` and `Some(vec![])`): the difference
//! shows in answers and decides whether an update changes anything.

use std::collections::BTreeSet;
use std::fmt;

use axum::http::StatusCode;

use crate::v2::gojson::{self, Value};
use crate::v2::json;

/// The role that may do anything, including administer auth; never stored.
pub const ROOT_ROLE: &str = "root";

/// The role of requests without credentials while auth is on.
pub const GUEST_ROLE: &str = "guest";

/// The user who must exist before auth can be turned on.
pub const ROOT_USER: &str = "root";

/// An auth error as etcd words it: an HTTP status and a message that starts
/// with `auth: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// The answer's status.
    pub status: StatusCode,
    /// The answer's `message`.
    pub message: String,
}

impl AuthError {
    /// etcd's auth error with `status` about `what`.
    pub fn new(status: StatusCode, what: impl fmt::Display) -> AuthError {
        AuthError {
            status,
            message: format!("auth: {what}"),
        }
    }
}

/// A user. In a stored record `password` is the bcrypt hash; in a request it
/// is the new password in clear text; in an answer it is empty (and left out).
#[derive(Clone, Default, PartialEq)]
pub struct User {
    /// The user's name.
    pub user: String,
    /// See the type's documentation.
    pub password: String,
    /// The roles granted.
    pub roles: Option<Vec<String>>,
    /// Roles to grant (requests only).
    pub grant: Option<Vec<String>>,
    /// Roles to revoke (requests only).
    pub revoke: Option<Vec<String>>,
}

/// Passwords and their hashes never reach a log.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("user", &self.user)
            .field("roles", &self.roles)
            .field("grant", &self.grant)
            .field("revoke", &self.revoke)
            .finish_non_exhaustive()
    }
}

/// A role: the key patterns its users may read and write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Role {
    /// The role's name.
    pub role: String,
    /// What the role allows.
    pub permissions: Permissions,
    /// Patterns to grant (requests; kept in a record created with it, as etcd
    /// keeps it).
    pub grant: Option<Permissions>,
    /// Patterns to revoke (likewise).
    pub revoke: Option<Permissions>,
}

/// A role's permissions (etcd's only kind is `kv`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    /// Key patterns.
    pub kv: RwPermission,
}

/// Key patterns: `/a` allows that key alone, `/a*` every key that starts
/// with `/a`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RwPermission {
    /// Patterns readable.
    pub read: Option<Vec<String>>,
    /// Patterns writable.
    pub write: Option<Vec<String>>,
}

fn list(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

/// The root role as etcd shows it: everything, read and write.
pub fn root_role() -> Role {
    Role {
        role: ROOT_ROLE.into(),
        permissions: Permissions {
            kv: RwPermission {
                read: list(&["/*"]),
                write: list(&["/*"]),
            },
        },
        grant: None,
        revoke: None,
    }
}

/// The guest role etcd creates when auth is turned on without one: everything,
/// read and write, so turning auth on locks nobody out until guest is limited.
pub fn default_guest_role() -> Role {
    Role {
        role: GUEST_ROLE.into(),
        ..root_role()
    }
}

fn len(v: &Option<Vec<String>>) -> usize {
    v.as_ref().map_or(0, Vec::len)
}

impl User {
    /// Adds the root role to the root user's roles if it is missing: etcd
    /// always counts the root user as having it.
    pub fn attach_root_role(&mut self) {
        let roles = self.roles.get_or_insert_with(Vec::new);
        if !roles.iter().any(|r| r == ROOT_ROLE) {
            roles.push(ROOT_ROLE.into());
        }
    }

    /// Whether the request grants or revokes roles (rather than setting them).
    pub fn changes_roles(&self) -> bool {
        len(&self.grant) > 0 || len(&self.revoke) > 0
    }

    /// Whether the request names roles.
    pub fn has_roles(&self) -> bool {
        len(&self.roles) > 0
    }

    /// The stored user `self` with `req`'s roles granted, then its revokes
    /// revoked (the password is the caller's to set). Roles come out sorted
    /// and without duplicates.
    pub fn merge_roles(&self, req: &User) -> Result<User, AuthError> {
        let mut roles: BTreeSet<String> = self.roles.iter().flatten().cloned().collect();
        for g in req.grant.iter().flatten() {
            if !roles.insert(g.clone()) {
                return Err(AuthError::new(
                    StatusCode::CONFLICT,
                    format!("Granting duplicate role {g} for user {}", req.user),
                ));
            }
        }
        for r in req.revoke.iter().flatten() {
            if !roles.remove(r) {
                return Err(AuthError::new(
                    StatusCode::CONFLICT,
                    format!("Revoking ungranted role {r} for user {}", req.user),
                ));
            }
        }
        Ok(User {
            user: self.user.clone(),
            password: self.password.clone(),
            roles: Some(roles.into_iter().collect()),
            grant: None,
            revoke: None,
        })
    }

    /// The user as Go's `json.Marshal` writes etcd's struct: the password only
    /// if set, grants and revokes only if not empty.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"user\":");
        json::string(&mut out, self.user.as_bytes());
        if !self.password.is_empty() {
            out.push_str(",\"password\":");
            json::string(&mut out, self.password.as_bytes());
        }
        out.push_str(",\"roles\":");
        strings(&mut out, &self.roles);
        for (name, v) in [("grant", &self.grant), ("revoke", &self.revoke)] {
            if len(v) > 0 {
                out.push_str(&format!(",\"{name}\":"));
                strings(&mut out, v);
            }
        }
        out.push('}');
        out
    }

    /// A request body or stored record, read as Go's decoder reads it into
    /// etcd's struct (`None` if it is not JSON of that shape).
    pub fn from_json(body: &[u8]) -> Option<User> {
        let v = gojson::parse_first(body).ok()?;
        let mut u = User::default();
        decode_struct(
            &v,
            &["user", "password", "roles", "grant", "revoke"],
            |i, x| match i {
                0 => decode_string(x, &mut u.user),
                1 => decode_string(x, &mut u.password),
                2 => decode_strings(x, &mut u.roles),
                3 => decode_strings(x, &mut u.grant),
                _ => decode_strings(x, &mut u.revoke),
            },
        )
        .ok()?;
        Some(u)
    }
}

/// A user with its roles spelled out, as `/v2/auth/users` shows users: the
/// roles are left out when there are none.
pub fn user_with_roles_json(user: &str, roles: &[Role]) -> String {
    let mut out = String::from("{\"user\":");
    json::string(&mut out, user.as_bytes());
    if !roles.is_empty() {
        out.push_str(",\"roles\":[");
        for (i, r) in roles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&r.to_json());
        }
        out.push(']');
    }
    out.push('}');
    out
}

impl Role {
    /// Whether the request grants or revokes patterns (rather than creating the
    /// role).
    pub fn changes_permissions(&self) -> bool {
        !Permissions::is_empty(self.grant.as_ref()) || !Permissions::is_empty(self.revoke.as_ref())
    }

    /// The stored role `self` with `req`'s grants added, then its revokes taken
    /// away.
    pub fn merge(&self, req: &Role) -> Result<Role, AuthError> {
        let mut kv = self.permissions.kv.clone();
        if let Some(g) = &req.grant {
            kv = kv.grant(&g.kv)?;
        }
        if let Some(r) = &req.revoke {
            kv = kv.revoke(&r.kv);
        }
        Ok(Role {
            role: self.role.clone(),
            permissions: Permissions { kv },
            grant: None,
            revoke: None,
        })
    }

    /// Whether the role may read (or, with `write`, write) `key` itself.
    pub fn has_key_access(&self, key: &str, write: bool) -> bool {
        self.role == ROOT_ROLE
            || self
                .permissions
                .kv
                .patterns(write)
                .any(|p| simple_match(p, key))
    }

    /// Whether the role may read (or write) `key` and everything below it: only
    /// a prefix pattern (`...*`) covers a subtree.
    pub fn has_recursive_access(&self, key: &str, write: bool) -> bool {
        self.role == ROOT_ROLE
            || self
                .permissions
                .kv
                .patterns(write)
                .any(|p| prefix_match(p, key))
    }

    /// The role as Go's `json.Marshal` writes etcd's struct: grant and revoke
    /// only when present.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"role\":");
        json::string(&mut out, self.role.as_bytes());
        out.push_str(",\"permissions\":");
        self.permissions.write(&mut out);
        for (name, p) in [("grant", &self.grant), ("revoke", &self.revoke)] {
            if let Some(p) = p {
                out.push_str(&format!(",\"{name}\":"));
                p.write(&mut out);
            }
        }
        out.push('}');
        out
    }

    /// A request body or stored record, read as Go's decoder reads it into
    /// etcd's struct (`None` if it is not JSON of that shape).
    pub fn from_json(body: &[u8]) -> Option<Role> {
        let v = gojson::parse_first(body).ok()?;
        let mut r = Role::default();
        decode_struct(
            &v,
            &["role", "permissions", "grant", "revoke"],
            |i, x| match i {
                0 => decode_string(x, &mut r.role),
                1 => r.permissions.decode(x),
                2 => decode_permissions(x, &mut r.grant),
                _ => decode_permissions(x, &mut r.revoke),
            },
        )
        .ok()?;
        Some(r)
    }
}

impl Permissions {
    /// Whether `p` is absent or lists no pattern.
    pub fn is_empty(p: Option<&Permissions>) -> bool {
        p.is_none_or(|p| len(&p.kv.read) == 0 && len(&p.kv.write) == 0)
    }

    fn write(&self, out: &mut String) {
        out.push_str("{\"kv\":{\"read\":");
        strings(out, &self.kv.read);
        out.push_str(",\"write\":");
        strings(out, &self.kv.write);
        out.push_str("}}");
    }

    fn decode(&mut self, v: &Value) -> Result<(), Mismatch> {
        decode_struct(v, &["kv"], |_, x| self.kv.decode(x))
    }
}

impl RwPermission {
    fn patterns(&self, write: bool) -> impl Iterator<Item = &str> {
        let l = if write { &self.write } else { &self.read };
        l.iter().flatten().map(String::as_str)
    }

    /// Both lists with `add`'s patterns added (sorted); a pattern already there
    /// is refused.
    fn grant(&self, add: &RwPermission) -> Result<RwPermission, AuthError> {
        let mut lists = [&self.read, &self.write]
            .map(|l| -> BTreeSet<String> { l.iter().flatten().cloned().collect() });
        for (i, (kind, new)) in [("read", &add.read), ("write", &add.write)]
            .into_iter()
            .enumerate()
        {
            for p in new.iter().flatten() {
                if !lists[i].insert(p.clone()) {
                    return Err(AuthError::new(
                        StatusCode::CONFLICT,
                        format!("Granting duplicate {kind} permission {p}"),
                    ));
                }
            }
        }
        let [read, write] = lists.map(|s| Some(s.into_iter().collect()));
        Ok(RwPermission { read, write })
    }

    /// Both lists without `remove`'s patterns (sorted); patterns not there are
    /// passed over.
    fn revoke(&self, remove: &RwPermission) -> RwPermission {
        let take = |l: &Option<Vec<String>>, r: &Option<Vec<String>>| {
            let mut s: BTreeSet<String> = l.iter().flatten().cloned().collect();
            for p in r.iter().flatten() {
                s.remove(p);
            }
            Some(s.into_iter().collect())
        };
        RwPermission {
            read: take(&self.read, &remove.read),
            write: take(&self.write, &remove.write),
        }
    }

    fn decode(&mut self, v: &Value) -> Result<(), Mismatch> {
        decode_struct(v, &["read", "write"], |i, x| match i {
            0 => decode_strings(x, &mut self.read),
            _ => decode_strings(x, &mut self.write),
        })
    }
}

/// A pattern ending in `*` matches keys with the prefix before it; any other
/// matches only itself. (etcd's server fails on an empty pattern; here it
/// matches nothing.)
fn simple_match(pattern: &str, key: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => key.starts_with(prefix),
        None => key == pattern,
    }
}

/// Only a pattern ending in `*` covers keys below a prefix.
fn prefix_match(pattern: &str, key: &str) -> bool {
    pattern
        .strip_suffix('*')
        .is_some_and(|prefix| key.starts_with(prefix))
}

fn strings(out: &mut String, v: &Option<Vec<String>>) {
    let Some(items) = v else {
        out.push_str("null");
        return;
    };
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::string(out, s.as_bytes());
    }
    out.push(']');
}

/// A JSON value whose type does not fit the field (Go's decoder fails the
/// whole body for it).
struct Mismatch;

/// Decodes an object into a struct with `fields`, as Go does: each member is
/// matched to a field by name, exactly or else ignoring case, and decoded into
/// what the field already holds; unknown members are skipped; `null` changes
/// nothing.
fn decode_struct(
    v: &Value,
    fields: &[&str],
    mut set: impl FnMut(usize, &Value) -> Result<(), Mismatch>,
) -> Result<(), Mismatch> {
    match v {
        Value::Null => Ok(()),
        Value::Object(members) => {
            for (k, x) in members {
                let found = fields
                    .iter()
                    .position(|f| f == k)
                    .or_else(|| fields.iter().position(|f| fold_eq(f, k)));
                if let Some(i) = found {
                    set(i, x)?;
                }
            }
            Ok(())
        }
        _ => Err(Mismatch),
    }
}

/// Go's case-insensitive match of a JSON key with an ASCII field name, in which
/// the Kelvin sign folds to `k` and the long s to `s`.
fn fold_eq(field: &str, key: &str) -> bool {
    let mut k = key.chars();
    for f in field.chars() {
        let ok = match k.next() {
            Some(c) if c.is_ascii() => c.eq_ignore_ascii_case(&f),
            Some('\u{212A}') => f == 'k',
            Some('\u{17F}') => f == 's',
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    k.next().is_none()
}

fn decode_string(v: &Value, into: &mut String) -> Result<(), Mismatch> {
    match v {
        Value::Null => Ok(()),
        Value::Str(s) => {
            *into = s.clone();
            Ok(())
        }
        _ => Err(Mismatch),
    }
}

/// A `[]string` field: `null` makes it absent; an array is decoded over what
/// the field holds element by element (a `null` element keeps what was there),
/// then cut to the array's length.
fn decode_strings(v: &Value, into: &mut Option<Vec<String>>) -> Result<(), Mismatch> {
    match v {
        Value::Null => {
            *into = None;
            Ok(())
        }
        Value::Array(items) => {
            let mut out = into.take().unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                if i == out.len() {
                    out.push(String::new());
                }
                decode_string(item, &mut out[i])?;
            }
            out.truncate(items.len());
            *into = Some(out);
            Ok(())
        }
        _ => Err(Mismatch),
    }
}

/// A `*Permissions` field: `null` makes it absent; an object is decoded into
/// the permissions already there, or new ones.
fn decode_permissions(v: &Value, into: &mut Option<Permissions>) -> Result<(), Mismatch> {
    match v {
        Value::Null => {
            *into = None;
            Ok(())
        }
        _ => into.get_or_insert_with(Permissions::default).decode(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(read: &[&str], write: &[&str]) -> Role {
        Role {
            role: "r".into(),
            permissions: Permissions {
                kv: RwPermission {
                    read: list(read),
                    write: list(write),
                },
            },
            ..Role::default()
        }
    }

    #[test]
    fn bodies_decode_as_gos_decoder_reads_them() {
        let u = User::from_json(
            br#"{"USER":"a","pa\u017fsword":"p","roles":["x",null],"extra":{},"grant":null} junk"#,
        )
        .unwrap();
        assert_eq!(u.user, "a");
        assert_eq!(u.password, "p");
        assert_eq!(u.roles, list(&["x", ""]));
        assert_eq!(u.grant, None);
        assert_eq!(User::from_json(b"null"), Some(User::default()));
        assert_eq!(User::from_json(b"[1]"), None);
        assert_eq!(User::from_json(br#"{"user":1}"#), None);
        assert_eq!(User::from_json(br#"{"roles":"x"}"#), None);
        assert_eq!(User::from_json(b""), None);

        // A repeated pointer member decodes into the same permissions.
        let r = Role::from_json(
            br#"{"role":"r","grant":{"kv":{"read":["a"]}},"grant":{"kv":{"write":["b"]}}}"#,
        )
        .unwrap();
        let g = r.grant.unwrap();
        assert_eq!((g.kv.read, g.kv.write), (list(&["a"]), list(&["b"])));
        assert_eq!(Role::from_json(br#"{"permissions":{"kv":[]}}"#), None);
    }

    #[test]
    fn records_encode_as_etcd_writes_them() {
        let u = User {
            user: "a<b".into(),
            roles: None,
            grant: Some(vec![]),
            ..User::default()
        };
        assert_eq!(u.to_json(), r#"{"user":"a\u003cb","roles":null}"#);
        let mut r = role(&["/a"], &[]);
        r.permissions.kv.write = None;
        r.grant = Some(Permissions::default());
        assert_eq!(
            r.to_json(),
            r#"{"role":"r","permissions":{"kv":{"read":["/a"],"write":null}},"grant":{"kv":{"read":null,"write":null}}}"#
        );
        assert_eq!(
            user_with_roles_json("u", &[]),
            r#"{"user":"u"}"#.to_string()
        );
    }

    #[test]
    fn merges_sort_and_refuse_as_etcd() {
        let stored = User {
            user: "u".into(),
            roles: list(&["b", "a", "b"]),
            ..User::default()
        };
        let req = User {
            user: "u".into(),
            grant: list(&["c"]),
            revoke: list(&["b"]),
            ..User::default()
        };
        assert_eq!(stored.merge_roles(&req).unwrap().roles, list(&["a", "c"]));
        let dup = User {
            grant: list(&["a"]),
            ..req.clone()
        };
        assert_eq!(
            stored.merge_roles(&dup).unwrap_err().message,
            "auth: Granting duplicate role a for user u"
        );

        let r = role(&["/b", "/a"], &["/a"]);
        let add = Role {
            grant: Some(Permissions {
                kv: RwPermission {
                    read: list(&["/c"]),
                    write: None,
                },
            }),
            ..Role::default()
        };
        let merged = r.merge(&add).unwrap();
        assert_eq!(merged.permissions.kv.read, list(&["/a", "/b", "/c"]));
        assert_eq!(
            merged.merge(&add).unwrap_err().message,
            "auth: Granting duplicate read permission /c"
        );
        // Revoking what is not there still turns absent lists into empty ones.
        let bare = Role {
            role: "r".into(),
            ..Role::default()
        };
        let gone = bare.merge(&Role {
            revoke: Some(Permissions {
                kv: RwPermission {
                    read: list(&["/x"]),
                    write: None,
                },
            }),
            ..Role::default()
        });
        assert_eq!(gone.unwrap().permissions.kv, role(&[], &[]).permissions.kv);
    }

    #[test]
    fn patterns_match_keys_and_subtrees() {
        let r = role(&["/a/*", "/b"], &["/a/*"]);
        assert!(r.has_key_access("/a/x", false));
        assert!(r.has_key_access("/a/", false));
        assert!(!r.has_key_access("/a", false));
        assert!(r.has_key_access("/b", false));
        assert!(!r.has_key_access("/b", true));
        assert!(r.has_recursive_access("/a/x", true));
        assert!(!r.has_recursive_access("/b", false));
        assert!(root_role().has_recursive_access("", true));
        assert!(!role(&[""], &[]).has_key_access("/x", false));
        assert!(default_guest_role().has_key_access("/", true));
        assert!(!default_guest_role().has_key_access("", false));
    }
}
