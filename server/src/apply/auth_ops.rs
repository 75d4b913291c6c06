//! Applying auth store changes: the administrator check etcd makes when the
//! change is applied, then the change itself.

use ectd_proto::raftcmd::{command::Op, AuthHeader};

use super::Output;
use crate::auth::state::{Change, State, Writer};
use crate::auth::AuthStore;
use crate::error::Error;

/// What an applied auth command does to the member beyond its write batch,
/// once the batch is committed.
pub struct Effect {
    state: Option<State>,
    login: Option<(String, String, u64)>,
    invalidate: Option<String>,
}

impl Effect {
    /// Installs the new state and keeps the member's tokens in step.
    pub fn apply_to(self, auth: &AuthStore) {
        if let Some(s) = self.state {
            auth.install(s);
        }
        if let Some(user) = self.invalidate {
            auth.invalidate_user(&user);
        }
        if let Some((user, prefix, index)) = self.login {
            if let crate::auth::token::Tokens::Simple(t) = auth.tokens() {
                if !prefix.is_empty() {
                    t.assign(&prefix, index, &user);
                }
            }
        }
    }
}

/// Whether `op` changes the auth store.
pub fn is_auth(op: &Op) -> bool {
    matches!(
        op,
        Op::AuthEnable(_)
            | Op::AuthDisable(_)
            | Op::Authenticate(_)
            | Op::UserAdd(_)
            | Op::UserDelete(_)
            | Op::UserChangePassword(_)
            | Op::UserGrantRole(_)
            | Op::UserRevokeRole(_)
            | Op::RoleAdd(_)
            | Op::RoleDelete(_)
            | Op::RoleGrantPermission(_)
            | Op::RoleRevokePermission(_)
    )
}

/// Applies an auth command proposed by `who` at raft `index`.
pub fn apply(
    state: &State,
    who: Option<&AuthHeader>,
    op: Op,
    index: u64,
    w: &mut Writer<'_>,
) -> Result<(Output, Effect), Error> {
    let mut effect = Effect {
        state: None,
        login: None,
        invalidate: None,
    };
    if !matches!(op, Op::Authenticate(_)) {
        if let Some(h) = who {
            state.check_admin(&h.username)?;
        }
    }
    let change: Change = match op {
        Op::AuthEnable(_) => state.enable(w),
        Op::AuthDisable(_) => state.disable(w),
        Op::Authenticate(a) => {
            if !state.enabled() {
                return Err(Error::AuthNotEnabled);
            }
            match state.user(&a.name) {
                None => return Err(Error::AuthFailed),
                Some(u) if u.options.is_some_and(|o| o.no_password) => {
                    return Err(Error::AuthFailed)
                }
                // The password changed since the proposer checked it.
                Some(u) if u.password != a.password_hash => return Err(Error::AuthFailed),
                Some(_) => {}
            }
            effect.login = Some((a.name, a.simple_token, index));
            return Ok((
                Output::Authenticated {
                    revision: state.revision(),
                    index,
                },
                effect,
            ));
        }
        Op::UserAdd(r) => state.user_add(&r, w),
        Op::UserDelete(r) => {
            effect.invalidate = Some(r.name.clone());
            state.user_delete(&r.name, w)
        }
        Op::UserChangePassword(r) => {
            effect.invalidate = Some(r.name.clone());
            state.user_change_password(&r, w)
        }
        Op::UserGrantRole(r) => state.user_grant_role(&r, w),
        Op::UserRevokeRole(r) => state.user_revoke_role(&r, w),
        Op::RoleAdd(r) => state.role_add(&r.name, w),
        Op::RoleDelete(r) => state.role_delete(&r.role, w),
        Op::RoleGrantPermission(r) => state.role_grant_permission(&r, w),
        Op::RoleRevokePermission(r) => state.role_revoke_permission(&r, w),
        other => unreachable!("not an auth command: {other:?}"),
    };
    effect.state = change?;
    Ok((Output::AuthChanged, effect))
}
