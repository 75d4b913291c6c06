//! The replicated auth store: users, roles, whether auth is on, and the auth
//! revision. Changes are applied from committed commands, deterministically, and
//! written to the `auth` column family in the command's write batch.

use std::collections::{BTreeMap, HashMap};

use ectd_proto::authpb::{Permission, Role, User, UserAddOptions};
use ectd_proto::etcdserverpb::{
    AuthRoleGrantPermissionRequest, AuthRoleRevokePermissionRequest, AuthUserAddRequest,
    AuthUserChangePasswordRequest, AuthUserGrantRoleRequest, AuthUserRevokeRoleRequest,
};
use prost::Message as _;
use rocksdb::WriteBatch;

use super::perms::{Access, UserPerms};
use crate::engine::schema::auth as keys;
use crate::engine::{Cf, Engine};
use crate::error::Error;

/// The name of the administrator user and of the role that makes one.
pub const ROOT: &str = "root";

/// The auth store as of some applied index. Readers share it behind an `Arc`;
/// apply replaces it whole.
#[derive(Debug, Clone, Default)]
pub struct State {
    enabled: bool,
    revision: u64,
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Role>,
    perms: HashMap<String, UserPerms>,
}

fn name_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl State {
    /// The state the `auth` column family holds.
    pub fn load(engine: &Engine) -> State {
        let mut st = State::default();
        let db = engine.db();
        let mut it = db.raw_iterator_cf(engine.cf(Cf::Auth));
        it.seek_to_first();
        while it.valid() {
            let k = it.key().expect("valid iterator has a key");
            let v = it.value().expect("valid iterator has a value");
            match k.first() {
                Some(&keys::USER) => {
                    let u = User::decode(v)
                        .unwrap_or_else(|e| panic!("undecodable auth user record: {e}"));
                    st.users.insert(name_of(&k[1..]), u);
                }
                Some(&keys::ROLE) => {
                    let r = Role::decode(v)
                        .unwrap_or_else(|e| panic!("undecodable auth role record: {e}"));
                    st.roles.insert(name_of(&k[1..]), r);
                }
                _ if k == keys::ENABLED => st.enabled = v == [1],
                _ if k == keys::REVISION => {
                    st.revision = u64::from_be_bytes(v.try_into().expect("u64 auth revision"));
                }
                _ => {}
            }
            it.next();
        }
        // A new store starts at revision 1, so that 0 can mean "no credentials".
        st.revision = st.revision.max(1);
        st.refresh_perms();
        st
    }

    /// Whether auth is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The auth revision: bumped by every change but enabling.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// User `name`.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Role `name`.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// Every user name, in byte order.
    pub fn user_names(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    /// Every role name, in byte order.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.keys().cloned().collect()
    }

    /// Whether user `name` has role `role`.
    pub fn has_role(&self, name: &str, role: &str) -> bool {
        self.users
            .get(name)
            .is_some_and(|u| u.roles.iter().any(|r| r == role))
    }

    fn refresh_perms(&mut self) {
        let roles = &self.roles;
        self.perms = self
            .users
            .iter()
            .map(|(name, u)| {
                let perms = u
                    .roles
                    .iter()
                    .filter_map(|r| roles.get(r))
                    .flat_map(|r| r.key_permission.iter());
                (name.clone(), UserPerms::from_permissions(perms))
            })
            .collect();
    }

    /// Checks `access` to a key or range for `user` whose credentials were
    /// checked at auth revision `revision` (0: no credentials), as etcd does.
    pub fn check(
        &self,
        user: &str,
        revision: u64,
        access: Access,
        key: &[u8],
        range_end: &[u8],
    ) -> Result<(), Error> {
        if !self.enabled {
            return Ok(());
        }
        if revision == 0 {
            return Err(Error::UserEmpty);
        }
        if revision < self.revision {
            return Err(Error::AuthOldRevision);
        }
        if self.has_role(user, ROOT) {
            return Ok(());
        }
        match self.perms.get(user) {
            Some(p) if p.allows(access, key, range_end) => Ok(()),
            _ => Err(Error::PermissionDenied),
        }
    }

    /// Checks that `user` is an administrator (holds the `root` role).
    pub fn check_admin(&self, user: &str) -> Result<(), Error> {
        if !self.enabled {
            return Ok(());
        }
        if user.is_empty() {
            return Err(Error::UserEmpty);
        }
        match self.users.get(user) {
            None => Err(Error::UserNotFound),
            Some(u) if u.roles.iter().any(|r| r == ROOT) => Ok(()),
            Some(_) => Err(Error::PermissionDenied),
        }
    }
}

/// Stages writes of auth records into one command's batch.
pub struct Writer<'a> {
    engine: &'a Engine,
    batch: &'a mut WriteBatch,
}

impl<'a> Writer<'a> {
    /// Writes into `batch` for `engine`.
    pub fn new(engine: &'a Engine, batch: &'a mut WriteBatch) -> Writer<'a> {
        Writer { engine, batch }
    }

    fn put_user(&mut self, name: &str, u: &User) {
        let cf = self.engine.cf(Cf::Auth);
        self.batch
            .put_cf(cf, keys::user_key(name), u.encode_to_vec());
    }

    fn delete_user(&mut self, name: &str) {
        let cf = self.engine.cf(Cf::Auth);
        self.batch.delete_cf(cf, keys::user_key(name));
    }

    fn put_role(&mut self, name: &str, r: &Role) {
        let cf = self.engine.cf(Cf::Auth);
        self.batch
            .put_cf(cf, keys::role_key(name), r.encode_to_vec());
    }

    fn delete_role(&mut self, name: &str) {
        let cf = self.engine.cf(Cf::Auth);
        self.batch.delete_cf(cf, keys::role_key(name));
    }

    fn put_enabled(&mut self, on: bool) {
        let cf = self.engine.cf(Cf::Auth);
        self.batch.put_cf(cf, keys::ENABLED, [u8::from(on)]);
    }

    fn put_revision(&mut self, rev: u64) {
        let cf = self.engine.cf(Cf::Auth);
        self.batch.put_cf(cf, keys::REVISION, rev.to_be_bytes());
    }
}

/// The outcome of applying an auth change: the state after it, or `None` when
/// nothing changed.
pub type Change = Result<Option<State>, Error>;

impl State {
    /// The state after a change: revision bumped, permissions recomputed.
    fn commit(mut self, w: &mut Writer<'_>) -> Option<State> {
        self.revision += 1;
        w.put_revision(self.revision);
        self.refresh_perms();
        Some(self)
    }

    /// Turns auth on; refused unless `root` exists with the `root` role. Does not
    /// bump the revision, as in etcd.
    pub fn enable(&self, w: &mut Writer<'_>) -> Change {
        if self.enabled {
            return Ok(None);
        }
        let root = self.users.get(ROOT).ok_or(Error::RootUserNotExist)?;
        if !root.roles.iter().any(|r| r == ROOT) {
            return Err(Error::RootRoleNotExist);
        }
        let mut next = self.clone();
        next.enabled = true;
        w.put_enabled(true);
        Ok(Some(next))
    }

    /// Turns auth off.
    pub fn disable(&self, w: &mut Writer<'_>) -> Change {
        if !self.enabled {
            return Ok(None);
        }
        let mut next = self.clone();
        next.enabled = false;
        w.put_enabled(false);
        Ok(next.commit(w))
    }

    /// Adds a user; its password arrives hashed.
    pub fn user_add(&self, r: &AuthUserAddRequest, w: &mut Writer<'_>) -> Change {
        if r.name.is_empty() {
            return Err(Error::UserEmpty);
        }
        if self.users.contains_key(&r.name) {
            return Err(Error::UserAlreadyExist);
        }
        let options = r.options.unwrap_or(UserAddOptions { no_password: false });
        let user = User {
            name: r.name.as_bytes().to_vec(),
            password: if options.no_password {
                Vec::new()
            } else {
                r.hashed_password.as_bytes().to_vec()
            },
            roles: Vec::new(),
            options: Some(options),
        };
        let mut next = self.clone();
        w.put_user(&r.name, &user);
        next.users.insert(r.name.clone(), user);
        Ok(next.commit(w))
    }

    /// Deletes a user (never `root` while auth is on).
    pub fn user_delete(&self, name: &str, w: &mut Writer<'_>) -> Change {
        if self.enabled && name == ROOT {
            return Err(Error::InvalidAuthMgmt);
        }
        if !self.users.contains_key(name) {
            return Err(Error::UserNotFound);
        }
        let mut next = self.clone();
        next.users.remove(name);
        w.delete_user(name);
        Ok(next.commit(w))
    }

    /// Replaces a user's password with a new hash.
    pub fn user_change_password(
        &self,
        r: &AuthUserChangePasswordRequest,
        w: &mut Writer<'_>,
    ) -> Change {
        let Some(user) = self.users.get(&r.name) else {
            return Err(Error::UserNotFound);
        };
        let mut user = user.clone();
        user.password = r.hashed_password.as_bytes().to_vec();
        let mut next = self.clone();
        w.put_user(&r.name, &user);
        next.users.insert(r.name.clone(), user);
        Ok(next.commit(w))
    }

    /// Grants a role (`root` need not exist as a role); granting a role twice
    /// changes nothing.
    pub fn user_grant_role(&self, r: &AuthUserGrantRoleRequest, w: &mut Writer<'_>) -> Change {
        let Some(user) = self.users.get(&r.user) else {
            return Err(Error::UserNotFound);
        };
        if r.role != ROOT && !self.roles.contains_key(&r.role) {
            return Err(Error::RoleNotFound);
        }
        let at = match user.roles.binary_search(&r.role) {
            Ok(_) => return Ok(None),
            Err(at) => at,
        };
        let mut user = user.clone();
        user.roles.insert(at, r.role.clone());
        let mut next = self.clone();
        w.put_user(&r.user, &user);
        next.users.insert(r.user.clone(), user);
        Ok(next.commit(w))
    }

    /// Revokes a role (never `root`'s `root` role while auth is on).
    pub fn user_revoke_role(&self, r: &AuthUserRevokeRoleRequest, w: &mut Writer<'_>) -> Change {
        if self.enabled && r.name == ROOT && r.role == ROOT {
            return Err(Error::InvalidAuthMgmt);
        }
        let Some(user) = self.users.get(&r.name) else {
            return Err(Error::UserNotFound);
        };
        let mut user = user.clone();
        let before = user.roles.len();
        user.roles.retain(|x| *x != r.role);
        if user.roles.len() == before {
            return Err(Error::RoleNotGranted);
        }
        let mut next = self.clone();
        w.put_user(&r.name, &user);
        next.users.insert(r.name.clone(), user);
        Ok(next.commit(w))
    }

    /// Adds a role.
    pub fn role_add(&self, name: &str, w: &mut Writer<'_>) -> Change {
        if name.is_empty() {
            return Err(Error::RoleEmpty);
        }
        if self.roles.contains_key(name) {
            return Err(Error::RoleAlreadyExist);
        }
        let role = Role {
            name: name.as_bytes().to_vec(),
            key_permission: Vec::new(),
        };
        let mut next = self.clone();
        w.put_role(name, &role);
        next.roles.insert(name.to_string(), role);
        Ok(next.commit(w))
    }

    /// Deletes a role and takes it from every user (never `root` while auth is on).
    pub fn role_delete(&self, name: &str, w: &mut Writer<'_>) -> Change {
        if self.enabled && name == ROOT {
            return Err(Error::InvalidAuthMgmt);
        }
        if !self.roles.contains_key(name) {
            return Err(Error::RoleNotFound);
        }
        let mut next = self.clone();
        next.roles.remove(name);
        w.delete_role(name);
        for (uname, u) in next.users.iter_mut() {
            let before = u.roles.len();
            u.roles.retain(|r| r != name);
            if u.roles.len() != before {
                w.put_user(uname, u);
            }
        }
        Ok(next.commit(w))
    }

    /// Grants a permission, or changes the type of one on the same key and range.
    pub fn role_grant_permission(
        &self,
        r: &AuthRoleGrantPermissionRequest,
        w: &mut Writer<'_>,
    ) -> Change {
        let Some(role) = self.roles.get(&r.name) else {
            return Err(Error::RoleNotFound);
        };
        let Some(perm) = &r.perm else {
            return Err(Error::PermissionNotGiven);
        };
        let mut role = role.clone();
        let at = role
            .key_permission
            .partition_point(|p| p.key.as_slice() < perm.key.as_slice());
        match role.key_permission.get_mut(at) {
            Some(p) if p.key == perm.key && p.range_end == perm.range_end => {
                p.perm_type = perm.perm_type;
            }
            _ => {
                role.key_permission.push(Permission {
                    perm_type: perm.perm_type,
                    key: perm.key.clone(),
                    range_end: perm.range_end.clone(),
                });
                role.key_permission.sort_by(|a, b| a.key.cmp(&b.key));
            }
        }
        let mut next = self.clone();
        w.put_role(&r.name, &role);
        next.roles.insert(r.name.clone(), role);
        Ok(next.commit(w))
    }

    /// Revokes the permission on exactly `key` and `range_end`.
    pub fn role_revoke_permission(
        &self,
        r: &AuthRoleRevokePermissionRequest,
        w: &mut Writer<'_>,
    ) -> Change {
        let Some(role) = self.roles.get(&r.role) else {
            return Err(Error::RoleNotFound);
        };
        let mut role = role.clone();
        let before = role.key_permission.len();
        role.key_permission
            .retain(|p| p.key != r.key || p.range_end != r.range_end);
        if role.key_permission.len() == before {
            return Err(Error::PermissionNotGranted);
        }
        let mut next = self.clone();
        w.put_role(&r.role, &role);
        next.roles.insert(r.role.clone(), role);
        Ok(next.commit(w))
    }
}
