//! The v2 auth store as etcd 3.4 runs it: a client of the member's own v2 store.
//!
//! Records are read from the local v2 store (after a read barrier where etcd
//! reads through raft) and changed by proposing ordinary v2 writes of etcd's
//! paths (`/2/users/<name>`, `/2/roles/<name>`, `/2/enabled`), one proposal per
//! write etcd makes, so every change takes the store index etcd's takes and
//! reaches every member the way a key does. Before its first write etcd makes
//! the `/2`, `/2/users` and `/2/roles` directories and `/2/enabled` (`false`);
//! the same creates are proposed here for whichever are missing.

use axum::http::StatusCode;
use ectd_proto::raftcmd::{command::Op, V2Request};

use super::records::{self, AuthError, Role, User, GUEST_ROLE, ROOT_ROLE, ROOT_USER};
use crate::apply::Output;
use crate::server::Server;
use crate::v2::event::code;
use crate::v2::{Event, V2Error};

/// etcd's bcrypt cost (Go's `bcrypt.DefaultCost`).
const BCRYPT_COST: u32 = 10;

const ENABLED: &str = "/2/enabled";

/// Why an auth operation failed, as etcd's handlers tell it.
#[derive(Debug)]
pub enum Error {
    /// An auth error (`{"message":"auth: ..."}`).
    Auth(AuthError),
    /// A v2 store error the auth store does not translate, shown as etcd shows
    /// store errors.
    Store(V2Error),
    /// Anything else (no leader, a timeout, an unreadable record): etcd's
    /// `500 Internal Server Error`.
    Internal,
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Error {
        Error::Auth(e)
    }
}

fn auth(status: StatusCode, what: impl std::fmt::Display) -> Error {
    Error::Auth(AuthError::new(status, what))
}

/// Whether a read must reflect every write committed before it (etcd reads
/// these through raft) or may read this member's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Linearizable.
    Quorum,
    /// This member's applied state.
    Local,
}

/// The v2 auth records of the member `s`.
pub struct Records<'a> {
    s: &'a Server,
}

fn user_path(name: &str) -> String {
    format!("/2/users/{name}")
}

fn role_path(name: &str) -> String {
    format!("/2/roles/{name}")
}

/// The names of a directory listing's children, sorted.
fn child_names(e: &Event) -> Vec<String> {
    let mut names: Vec<String> = e
        .node
        .nodes
        .iter()
        .map(|n| n.key.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Hashes a password as etcd does (bcrypt, `$2a$`, cost 10), off the async
/// threads.
async fn hash_password(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        bcrypt::hash_with_result(password, BCRYPT_COST)
            .map(|h| h.format_for_version(bcrypt::Version::TwoA))
    })
    .await
    .map_err(|_| Error::Internal)?
    .map_err(|e| {
        tracing::warn!(error = %e, "hashing a v2 auth password failed");
        Error::Internal
    })
}

/// Whether `password` is `user`'s (checked off the async threads).
pub async fn password_matches(user: &User, password: Vec<u8>) -> bool {
    let hash = user.password.clone();
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

impl<'a> Records<'a> {
    /// The records of the member `s`.
    pub fn new(s: &'a Server) -> Records<'a> {
        Records { s }
    }

    /// The record at `path`, if there is one.
    async fn read(&self, path: &str, how: Read) -> Result<Option<Event>, Error> {
        if how == Read::Quorum {
            self.s.read_barrier().await.map_err(|_| Error::Internal)?;
        }
        match self.s.v2().get_auth(path) {
            Ok(e) => Ok(Some(e)),
            Err(e) if e.code == code::KEY_NOT_FOUND => Ok(None),
            Err(e) => Err(Error::Store(e)),
        }
    }

    /// Whether v2 auth is on.
    pub fn enabled(&self) -> bool {
        self.s
            .v2()
            .get_auth(ENABLED)
            .is_ok_and(|e| e.node.value.as_deref() == Some(b"true"))
    }

    /// The user `name`, the root user always with the root role.
    pub async fn get_user(&self, name: &str, how: Read) -> Result<User, Error> {
        let Some(e) = self.read(&user_path(name), how).await? else {
            return Err(auth(
                StatusCode::NOT_FOUND,
                format!("User {name} does not exist."),
            ));
        };
        let mut u =
            User::from_json(e.node.value.as_deref().unwrap_or_default()).ok_or(Error::Internal)?;
        if u.user == ROOT_USER {
            u.attach_root_role();
        }
        Ok(u)
    }

    /// The role `name`; the root role is built in.
    pub async fn get_role(&self, name: &str, how: Read) -> Result<Role, Error> {
        if name == ROOT_ROLE {
            return Ok(records::root_role());
        }
        let Some(e) = self.read(&role_path(name), how).await? else {
            return Err(auth(
                StatusCode::NOT_FOUND,
                format!("Role {name} does not exist."),
            ));
        };
        Role::from_json(e.node.value.as_deref().unwrap_or_default()).ok_or(Error::Internal)
    }

    /// The users' names, sorted (those starting with `_` are hidden from the
    /// listing, as etcd's store hides them).
    pub async fn all_users(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .read("/2/users", Read::Local)
            .await?
            .map(|e| child_names(&e))
            .unwrap_or_default())
    }

    /// The roles' names with `root`, sorted.
    pub async fn all_roles(&self) -> Result<Vec<String>, Error> {
        let mut names = self
            .read("/2/roles", Read::Local)
            .await?
            .map(|e| child_names(&e))
            .unwrap_or_default();
        names.push(ROOT_ROLE.into());
        names.sort();
        Ok(names)
    }

    /// Creates a user (the root user gets the root role). Returns the user as
    /// stored, password hashed.
    pub async fn create_user(&self, mut user: User) -> Result<User, Error> {
        if user.user == ROOT_USER {
            user.attach_root_role();
        }
        if user.password.is_empty() {
            return Err(auth(
                StatusCode::BAD_REQUEST,
                format!("Cannot create user {} with an empty password", user.user),
            ));
        }
        user.password = hash_password(std::mem::take(&mut user.password)).await?;
        match self
            .put(&user_path(&user.user), user.to_json(), false)
            .await
        {
            Err(Error::Store(e)) if e.code == code::NODE_EXIST => Err(auth(
                StatusCode::CONFLICT,
                format!("User {} already exists.", user.user),
            )),
            Err(e) => Err(e),
            Ok(()) => Ok(user),
        }
    }

    /// Changes a user's password and roles as `req` asks.
    pub async fn update_user(&self, req: &User) -> Result<User, Error> {
        let old = self.get_user(&req.user, Read::Quorum).await?;
        let mut new = old.merge_roles(req)?;
        if !req.password.is_empty() {
            new.password = hash_password(req.password.clone()).await?;
        }
        if new == old {
            return Err(auth(
                StatusCode::BAD_REQUEST,
                "User not updated. Use grant/revoke/password to update the user.",
            ));
        }
        self.put(&user_path(&req.user), new.to_json(), true).await?;
        Ok(new)
    }

    /// Updates the user if it exists, else creates it; says whether it was
    /// created.
    pub async fn create_or_update_user(&self, user: User) -> Result<(User, bool), Error> {
        if self.get_user(&user.user, Read::Quorum).await.is_ok() {
            return self.update_user(&user).await.map(|u| (u, false));
        }
        self.create_user(user).await.map(|u| (u, true))
    }

    /// Deletes a user; the root user stays while auth is on.
    pub async fn delete_user(&self, name: &str) -> Result<(), Error> {
        if name == ROOT_USER && self.enabled() {
            return Err(auth(
                StatusCode::FORBIDDEN,
                "Cannot delete root user while auth is enabled.",
            ));
        }
        match self.delete(&user_path(name)).await {
            Err(Error::Store(e)) if e.code == code::KEY_NOT_FOUND => Err(auth(
                StatusCode::NOT_FOUND,
                format!("User {name} does not exist"),
            )),
            other => other,
        }
    }

    fn refuse_root(name: &str) -> Result<(), Error> {
        if name == ROOT_ROLE {
            return Err(auth(
                StatusCode::FORBIDDEN,
                format!("Cannot modify role {name}: is root role."),
            ));
        }
        Ok(())
    }

    /// Creates a role as given.
    pub async fn create_role(&self, role: &Role) -> Result<(), Error> {
        Self::refuse_root(&role.role)?;
        match self
            .put(&role_path(&role.role), role.to_json(), false)
            .await
        {
            Err(Error::Store(e)) if e.code == code::NODE_EXIST => Err(auth(
                StatusCode::CONFLICT,
                format!("Role {} already exists.", role.role),
            )),
            other => other,
        }
    }

    /// Grants and revokes a role's patterns as `req` asks.
    pub async fn update_role(&self, req: &Role) -> Result<Role, Error> {
        Self::refuse_root(&req.role)?;
        let old = self.get_role(&req.role, Read::Quorum).await?;
        let new = old.merge(req)?;
        if new == old {
            return Err(auth(
                StatusCode::BAD_REQUEST,
                "Role not updated. Use grant/revoke to update the role.",
            ));
        }
        self.put(&role_path(&req.role), new.to_json(), true).await?;
        Ok(new)
    }

    /// Deletes a role (the root role cannot be).
    pub async fn delete_role(&self, name: &str) -> Result<(), Error> {
        Self::refuse_root(name)?;
        match self.delete(&role_path(name)).await {
            Err(Error::Store(e)) if e.code == code::KEY_NOT_FOUND => Err(auth(
                StatusCode::NOT_FOUND,
                format!("Role {name} doesn't exist."),
            )),
            other => other,
        }
    }

    /// Turns auth on: the root user must exist; a guest role with full access
    /// is created if there is none.
    pub async fn enable(&self) -> Result<(), Error> {
        if self.enabled() {
            return Err(auth(StatusCode::CONFLICT, "already enabled"));
        }
        if self.get_user(ROOT_USER, Read::Quorum).await.is_err() {
            return Err(auth(
                StatusCode::CONFLICT,
                "No root user available, please create one",
            ));
        }
        if self.get_role(GUEST_ROLE, Read::Quorum).await.is_err() {
            tracing::info!("no v2 guest role; creating one with full access");
            self.create_role(&records::default_guest_role()).await?;
        }
        self.put(ENABLED, "true".into(), true).await?;
        tracing::info!("enabled v2 auth");
        Ok(())
    }

    /// Turns auth off.
    pub async fn disable(&self) -> Result<(), Error> {
        if !self.enabled() {
            return Err(auth(StatusCode::CONFLICT, "already disabled"));
        }
        self.put(ENABLED, "false".into(), true).await?;
        tracing::info!("disabled v2 auth");
        Ok(())
    }

    async fn propose(&self, req: V2Request) -> Result<Event, Error> {
        let req = V2Request {
            auth: true,
            time: now_nanos(),
            ..req
        };
        match self.s.propose(Op::V2(req)).await {
            Ok(Output::V2(Ok(e))) => Ok(e),
            Ok(Output::V2(Err(e))) => Err(Error::Store(e)),
            Ok(_) => Err(Error::Internal),
            Err(e) => {
                tracing::warn!(error = %e, "a v2 auth write failed");
                Err(Error::Internal)
            }
        }
    }

    /// Creates the directories and the `enabled` record etcd makes before its
    /// first auth write, where missing.
    async fn ensure_layout(&self) -> Result<(), Error> {
        for (path, dir, value) in [
            ("/2", true, ""),
            ("/2/users", true, ""),
            ("/2/roles", true, ""),
            (ENABLED, false, "false"),
        ] {
            if self.s.v2().has_auth(path) {
                continue;
            }
            let created = self
                .propose(V2Request {
                    method: "PUT".into(),
                    path: path.into(),
                    dir,
                    value: value.as_bytes().to_vec(),
                    prev_exist: 1,
                    ..Default::default()
                })
                .await;
            match created {
                Err(Error::Store(e)) if e.code == code::NODE_EXIST => {}
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// Writes the record at `path`: creates it, or (`exists`) replaces it.
    async fn put(&self, path: &str, value: String, exists: bool) -> Result<(), Error> {
        self.ensure_layout().await?;
        self.propose(V2Request {
            method: "PUT".into(),
            path: path.into(),
            value: value.into_bytes(),
            prev_exist: if exists { 2 } else { 1 },
            ..Default::default()
        })
        .await
        .map(|_| ())
    }

    async fn delete(&self, path: &str) -> Result<(), Error> {
        self.ensure_layout().await?;
        self.propose(V2Request {
            method: "DELETE".into(),
            path: path.into(),
            prev_exist: 2,
            ..Default::default()
        })
        .await
        .map(|_| ())
    }
}
