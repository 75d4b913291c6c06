//! The users and roles every auth test starts from, and how both servers are
//! brought to that state: seed keys written while auth is off, users and
//! roles created, auth enabled, everyone authenticated.
//!
//! | user     | role              | permission                          |
//! |----------|-------------------|-------------------------------------|
//! | `root`   | `root`            | everything                          |
//! | `reader` | `prefix-reader`   | READ on the prefix `/r/`            |
//! | `writer` | `key-writer`      | WRITE on the single key `k1`        |
//! | `ranger` | `range-rw`        | READWRITE on `[a, c)`               |
//! | `tail`   | `from-key-reader` | READ from `x` on (range_end `"\0"`) |
//! | `lonely` | none              | nothing                             |

use crate::call::{self, grant_perm, grant_role, role_add, user_add, Call, Perm};
use crate::harness::{Pair, Who};

pub(crate) const ROOT: Who = Who::User("root");
pub(crate) const READER: Who = Who::User("reader");
pub(crate) const WRITER: Who = Who::User("writer");
pub(crate) const RANGER: Who = Who::User("ranger");
pub(crate) const TAIL: Who = Who::User("tail");
pub(crate) const LONELY: Who = Who::User("lonely");
pub(crate) const NOBODY: Who = Who::Nobody;
/// Shaped like a simple token (`random.index`), issued by no one.
pub(crate) const FORGED: Who = Who::Forged("AbCdEfGhIjKlMnOp.42");

/// Every caller of the request matrix, with a short name for labels.
pub(crate) const CALLERS: [(&str, Who); 8] = [
    ("root", ROOT),
    ("reader", READER),
    ("writer", WRITER),
    ("ranger", RANGER),
    ("tail", TAIL),
    ("lonely", LONELY),
    ("nobody", NOBODY),
    ("forged", FORGED),
];

/// The callers that stand for the kinds of refusal, for the calls whose
/// answer does not depend on key permissions.
pub(crate) const KINDS: [(&str, Who); 5] = [
    ("root", ROOT),
    ("reader", READER),
    ("lonely", LONELY),
    ("nobody", NOBODY),
    ("forged", FORGED),
];

/// The password of every user of the cast.
pub(crate) fn password(user: &str) -> String {
    format!("{user}-secret")
}

/// The prefix `/r/` as a range end.
pub(crate) const R_END: &str = "/r0";

/// Keys written before auth is enabled, one or more in each permission's
/// range and some in none.
pub(crate) const SEED: [&str; 12] = [
    "/r/1", "/r/2", "/s/1", "k1", "k10", "k2", "a1", "b1", "c1", "x1", "y1", "z1",
];

/// Roles and their single permission.
const ROLES: [(&str, Perm, &str, &str); 4] = [
    ("prefix-reader", Perm::Read, "/r/", R_END),
    ("key-writer", Perm::Write, "k1", ""),
    ("range-rw", Perm::Readwrite, "a", "c"),
    ("from-key-reader", Perm::Read, "x", "\0"),
];

/// Users and their role, if any.
const USERS: [(&str, Option<&str>); 6] = [
    ("root", Some("root")),
    ("reader", Some("prefix-reader")),
    ("writer", Some("key-writer")),
    ("ranger", Some("range-rw")),
    ("tail", Some("from-key-reader")),
    ("lonely", None),
];

/// Brings both servers of a fresh pair to the cast's state: seed keys, users
/// and roles, auth enabled, and every user authenticated. Every step is a
/// compared case.
pub(crate) async fn provision(p: &mut Pair) {
    for k in SEED {
        p.must("seed", NOBODY, call::put(k, &format!("v-{k}")))
            .await;
    }
    create_cast(p).await;
    p.must("enable auth", NOBODY, Call::AuthEnable).await;
    authenticate_all(p).await;
}

/// Creates the cast's roles and users (auth still off).
pub(crate) async fn create_cast(p: &mut Pair) {
    for (role, perm, key, end) in ROLES {
        p.must("add role", NOBODY, role_add(role)).await;
        p.must("grant permission", NOBODY, grant_perm(role, perm, key, end))
            .await;
    }
    for (user, role) in USERS {
        p.must("add user", NOBODY, user_add(user, &password(user)))
            .await;
        if let Some(role) = role {
            p.must("grant role", NOBODY, grant_role(user, role)).await;
        }
    }
}

/// Authenticates every user of the cast on both servers.
pub(crate) async fn authenticate_all(p: &mut Pair) {
    for (user, _) in USERS {
        let ok = p
            .authenticate(&format!("authenticate {user}"), user, &password(user))
            .await;
        assert!(ok, "etcd refused to authenticate {user}");
    }
}
