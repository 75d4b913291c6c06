//! Authentication and role-based access: the replicated auth store
//! ([`state`]), key permissions ([`perms`]), tokens ([`token`]), and the checks
//! every API surface makes with a request's identity.
//!
//! A request's identity is resolved once, where it enters (gRPC metadata
//! `token`, the gateway's `Authorization` header, or the client certificate's
//! CN under `--client-cert-auth`). Reads are checked against the applied auth
//! store when they are served; writes carry the identity in their raft command
//! and are checked when applied, against the auth revision the request was
//! authorised at, so no write is applied with rights revoked before it
//! committed.

pub mod options;
pub mod perms;
pub mod state;
pub mod token;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ectd_proto::etcdserverpb::{request_op, RequestOp, TxnRequest};
use ectd_proto::raftcmd::AuthHeader;

pub use perms::Access;
pub use state::{State, ROOT};
use token::{Lookup, Tokens};

use crate::engine::Engine;
use crate::error::Error;

/// Who sent a request: a user and the auth revision its credentials were
/// checked at. A request without credentials has no `AuthInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    /// The user name.
    pub user: String,
    /// The auth revision the credentials were checked at.
    pub revision: u64,
}

/// A request's identity: `None` when it carried no credentials.
pub type Identity = Option<AuthInfo>;

/// The header a client request's raft command carries.
pub fn header_of(id: &Identity) -> AuthHeader {
    match id {
        Some(a) => AuthHeader {
            username: a.user.clone(),
            revision: a.revision,
        },
        None => AuthHeader::default(),
    }
}

/// The auth store of one member: the applied state, and the tokens this member
/// knows.
pub struct AuthStore {
    state: RwLock<Arc<State>>,
    /// Whether the applied state has auth on, readable without the lock.
    enabled: AtomicBool,
    /// The applied state's revision, readable without the lock.
    revision: AtomicU64,
    tokens: Tokens,
    bcrypt_cost: u32,
}

impl AuthStore {
    /// The store the engine holds, with `tokens` and `bcrypt_cost` from the
    /// configuration.
    pub fn load(engine: &Engine, tokens: Tokens, bcrypt_cost: u32) -> AuthStore {
        let state = State::load(engine);
        AuthStore {
            enabled: AtomicBool::new(state.enabled()),
            revision: AtomicU64::new(state.revision()),
            state: RwLock::new(Arc::new(state)),
            tokens,
            bcrypt_cost,
        }
    }

    /// The applied state.
    pub fn state(&self) -> Arc<State> {
        self.state.read().expect("auth state lock").clone()
    }

    /// Replaces the applied state (apply, after the change is committed).
    pub fn install(&self, next: State) {
        let was_enabled = self.state().enabled();
        if was_enabled && !next.enabled() {
            if let Tokens::Simple(t) = &self.tokens {
                t.clear();
            }
        }
        let (enabled, revision) = (next.enabled(), next.revision());
        *self.state.write().expect("auth state lock") = Arc::new(next);
        self.revision.store(revision, Ordering::Release);
        self.enabled.store(enabled, Ordering::Release);
    }

    /// Reloads the state from the engine (a state snapshot was installed).
    pub fn reload(&self, engine: &Engine) {
        self.install(State::load(engine));
    }

    /// Whether auth is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The bcrypt cost passwords are hashed with.
    pub fn bcrypt_cost(&self) -> u32 {
        self.bcrypt_cost
    }

    /// The token provider.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Drops the tokens of `user` (deleted, or its password changed).
    pub fn invalidate_user(&self, user: &str) {
        if let Tokens::Simple(t) = &self.tokens {
            t.invalidate_user(user);
        }
    }

    /// What `token` says, given the raft index this member has applied.
    pub fn lookup(&self, token: &str, applied: u64) -> Lookup {
        match &self.tokens {
            Tokens::Simple(t) => t.lookup(token, applied),
            Tokens::Jwt(t) => t.lookup(token),
        }
    }

    /// The identity of a token's user: a simple token is as current as the
    /// store; a JWT keeps the revision it was issued at.
    pub fn identity_of(&self, user: String, revision: Option<u64>) -> AuthInfo {
        AuthInfo {
            user,
            revision: revision.unwrap_or_else(|| self.revision.load(Ordering::Acquire)),
        }
    }

    /// Checks read access to a key or range.
    pub fn check_range(&self, id: &Identity, key: &[u8], range_end: &[u8]) -> Result<(), Error> {
        if !self.enabled() {
            return Ok(());
        }
        let state = self.state.read().expect("auth state lock");
        check(&state, id, Access::Read, key, range_end)
    }

    /// Checks that `id` is an administrator.
    pub fn check_admin(&self, id: &Identity) -> Result<(), Error> {
        self.state()
            .check_admin(id.as_ref().map_or("", |a| a.user.as_str()))
    }

    /// Refuses a read answered with credentials the auth store has moved past
    /// while it was served.
    pub fn check_not_stale(&self, id: &Identity) -> Result<(), Error> {
        match id {
            Some(a) if a.revision != 0 && a.revision != self.revision.load(Ordering::Acquire) => {
                Err(Error::AuthOldRevision)
            }
            _ => Ok(()),
        }
    }
}

/// Checks `access` for an identity.
pub fn check(
    state: &State,
    id: &Identity,
    access: Access,
    key: &[u8],
    range_end: &[u8],
) -> Result<(), Error> {
    match id {
        Some(a) => state.check(&a.user, a.revision, access, key, range_end),
        None => state.check("", 0, access, key, range_end),
    }
}

/// Checks `access` for the identity a raft command carries.
pub fn check_header(
    state: &State,
    h: &AuthHeader,
    access: Access,
    key: &[u8],
    range_end: &[u8],
) -> Result<(), Error> {
    state.check(&h.username, h.revision, access, key, range_end)
}

/// Checks every compare and op of a txn, nested txns included, as etcd does:
/// compares and ranges need read access, puts write access, deletes write
/// access (and read access with `prev_kv`).
pub fn check_txn(state: &State, user: &str, revision: u64, txn: &TxnRequest) -> Result<(), Error> {
    for c in &txn.compare {
        state.check(user, revision, Access::Read, &c.key, &c.range_end)?;
    }
    check_ops(state, user, revision, &txn.success)?;
    check_ops(state, user, revision, &txn.failure)
}

fn check_ops(state: &State, user: &str, revision: u64, ops: &[RequestOp]) -> Result<(), Error> {
    use request_op::Request as R;
    for op in ops {
        match &op.request {
            Some(R::RequestRange(r)) => {
                state.check(user, revision, Access::Read, &r.key, &r.range_end)?
            }
            Some(R::RequestPut(p)) => state.check(user, revision, Access::Write, &p.key, &[])?,
            Some(R::RequestDeleteRange(d)) => {
                if d.prev_kv {
                    state.check(user, revision, Access::Read, &d.key, &d.range_end)?;
                }
                state.check(user, revision, Access::Write, &d.key, &d.range_end)?
            }
            Some(R::RequestTxn(t)) => check_txn(state, user, revision, t)?,
            None => {}
        }
    }
    Ok(())
}

/// Checks a txn for an identity.
pub fn check_txn_for(state: &State, id: &Identity, txn: &TxnRequest) -> Result<(), Error> {
    match id {
        Some(a) => check_txn(state, &a.user, a.revision, txn),
        None => check_txn(state, "", 0, txn),
    }
}

/// Hashes a password with bcrypt at `cost`.
pub fn hash_password(password: &str, cost: u32) -> Result<String, Error> {
    bcrypt::hash(password, cost).map_err(|e| {
        tracing::warn!(error = %e, "hashing a password failed");
        Error::AuthFailed
    })
}

/// Whether `password` matches the bcrypt `hash`.
pub fn password_matches(password: &str, hash: &[u8]) -> bool {
    std::str::from_utf8(hash)
        .ok()
        .is_some_and(|h| bcrypt::verify(password, h).unwrap_or(false))
}
