//! `etcdserverpb.Auth`: users, roles, permissions and logins. Changes go
//! through raft and are checked when applied (administrators only, as etcd);
//! reads are served from the applied auth store after a read barrier.

use std::sync::Arc;

use ectd_proto::etcdserverpb::auth_server::Auth;
use ectd_proto::etcdserverpb::*;
use ectd_proto::raftcmd::{command::Op, Authenticate};
use tonic::{Request, Response, Status};

use super::kv::require_leader;
use crate::apply::Output;
use crate::auth::token::{SimpleTokens, Tokens};
use crate::auth::{hash_password, password_matches, Identity};
use crate::error::Error;
use crate::server::Server;

/// The Auth service of one member.
pub struct AuthService {
    server: Arc<Server>,
}

impl AuthService {
    /// An Auth service backed by `server`.
    pub fn new(server: Arc<Server>) -> AuthService {
        AuthService { server }
    }

    fn header(&self) -> Option<ResponseHeader> {
        Some(self.server.header(0))
    }

    /// Proposes a change as the request's sender.
    async fn change<T>(&self, req: &Request<T>, op: Op) -> Result<(), Status> {
        require_leader(&self.server, req)?;
        let id = self.server.identity(req).await?;
        match self.server.propose_as(op, &id).await? {
            Output::AuthChanged => Ok(()),
            o => panic!("apply answered an auth change with {o:?}"),
        }
    }

    /// The sender of a read, after the read barrier.
    async fn reader<T>(&self, req: &Request<T>) -> Result<Identity, Status> {
        require_leader(&self.server, req)?;
        let id = self.server.identity(req).await?;
        self.server.read_barrier().await?;
        Ok(id)
    }

    /// A password's bcrypt hash, made off the async threads.
    async fn hash(&self, password: String) -> Result<String, Status> {
        let cost = self.server.auth().bcrypt_cost();
        tokio::task::spawn_blocking(move || hash_password(&password, cost))
            .await
            .map_err(|_| Status::internal("hashing the password failed"))?
            .map_err(Status::from)
    }

    /// Checks `name`'s password against the applied store; the stored hash it
    /// matched.
    async fn check_password(&self, name: &str, password: String) -> Result<Vec<u8>, Error> {
        let state = self.server.auth().state();
        if !state.enabled() {
            return Err(Error::AuthNotEnabled);
        }
        let user = state.user(name).ok_or(Error::AuthFailed)?;
        if user.options.is_some_and(|o| o.no_password) {
            return Err(Error::NoPasswordUser);
        }
        let hash = user.password.clone();
        let checked = hash.clone();
        let ok = tokio::task::spawn_blocking(move || password_matches(&password, &checked))
            .await
            .unwrap_or(false);
        if !ok {
            tracing::info!(user = name, "authentication failed");
            return Err(Error::AuthFailed);
        }
        Ok(hash)
    }
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(
        &self,
        req: Request<AuthEnableRequest>,
    ) -> Result<Response<AuthEnableResponse>, Status> {
        let op = Op::AuthEnable(*req.get_ref());
        self.change(&req, op).await?;
        Ok(Response::new(AuthEnableResponse {
            header: self.header(),
        }))
    }

    async fn auth_disable(
        &self,
        req: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        let op = Op::AuthDisable(*req.get_ref());
        self.change(&req, op).await?;
        Ok(Response::new(AuthDisableResponse {
            header: self.header(),
        }))
    }

    async fn auth_status(
        &self,
        req: Request<AuthStatusRequest>,
    ) -> Result<Response<AuthStatusResponse>, Status> {
        let id = self.reader(&req).await?;
        self.server.auth().check_admin(&id)?;
        let state = self.server.auth().state();
        Ok(Response::new(AuthStatusResponse {
            header: self.header(),
            enabled: state.enabled(),
            auth_revision: state.revision(),
        }))
    }

    async fn authenticate(
        &self,
        req: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        require_leader(&self.server, &req)?;
        self.server.read_barrier().await?;
        let r = req.into_inner();
        let hash = self.check_password(&r.name, r.password.clone()).await?;
        let prefix = match self.server.auth().tokens() {
            Tokens::Simple(_) => SimpleTokens::prefix(),
            Tokens::Jwt(_) => String::new(),
        };
        // The login is recorded only if the password is still the one checked
        // when it is applied.
        let op = Op::Authenticate(Authenticate {
            name: r.name.clone(),
            simple_token: prefix.clone(),
            password_hash: hash,
        });
        let (revision, index) = match self.server.propose(op).await? {
            Output::Authenticated { revision, index } => (revision, index),
            o => panic!("apply answered a login with {o:?}"),
        };
        let token = match self.server.auth().tokens() {
            Tokens::Simple(_) => format!("{prefix}.{index}"),
            Tokens::Jwt(t) => t.assign(&r.name, revision)?,
        };
        Ok(Response::new(AuthenticateResponse {
            header: self.header(),
            token,
        }))
    }

    async fn user_add(
        &self,
        req: Request<AuthUserAddRequest>,
    ) -> Result<Response<AuthUserAddResponse>, Status> {
        let mut r = req.get_ref().clone();
        if r.name.is_empty() {
            return Err(Error::UserEmpty.into());
        }
        let no_password = r.options.is_some_and(|o| o.no_password);
        let password = std::mem::take(&mut r.password);
        if !no_password {
            r.hashed_password = if r.hashed_password.is_empty() {
                self.hash(password).await?
            } else {
                r.hashed_password
            };
        } else {
            r.hashed_password.clear();
        }
        self.change(&req, Op::UserAdd(r)).await?;
        Ok(Response::new(AuthUserAddResponse {
            header: self.header(),
        }))
    }

    async fn user_get(
        &self,
        req: Request<AuthUserGetRequest>,
    ) -> Result<Response<AuthUserGetResponse>, Status> {
        let id = self.reader(&req).await?;
        let r = req.into_inner();
        if let Err(e) = self.server.auth().check_admin(&id) {
            if id.as_ref().map(|a| a.user.as_str()) != Some(r.name.as_str()) {
                return Err(e.into());
            }
        }
        let state = self.server.auth().state();
        let user = state.user(&r.name).ok_or(Error::UserNotFound)?;
        Ok(Response::new(AuthUserGetResponse {
            header: self.header(),
            roles: user.roles.clone(),
        }))
    }

    async fn user_list(
        &self,
        req: Request<AuthUserListRequest>,
    ) -> Result<Response<AuthUserListResponse>, Status> {
        let id = self.reader(&req).await?;
        self.server.auth().check_admin(&id)?;
        Ok(Response::new(AuthUserListResponse {
            header: self.header(),
            users: self.server.auth().state().user_names(),
        }))
    }

    async fn user_delete(
        &self,
        req: Request<AuthUserDeleteRequest>,
    ) -> Result<Response<AuthUserDeleteResponse>, Status> {
        let op = Op::UserDelete(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthUserDeleteResponse {
            header: self.header(),
        }))
    }

    async fn user_change_password(
        &self,
        req: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        let mut r = req.get_ref().clone();
        let password = std::mem::take(&mut r.password);
        if r.hashed_password.is_empty() {
            r.hashed_password = self.hash(password).await?;
        }
        self.change(&req, Op::UserChangePassword(r)).await?;
        Ok(Response::new(AuthUserChangePasswordResponse {
            header: self.header(),
        }))
    }

    async fn user_grant_role(
        &self,
        req: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let op = Op::UserGrantRole(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthUserGrantRoleResponse {
            header: self.header(),
        }))
    }

    async fn user_revoke_role(
        &self,
        req: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let op = Op::UserRevokeRole(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthUserRevokeRoleResponse {
            header: self.header(),
        }))
    }

    async fn role_add(
        &self,
        req: Request<AuthRoleAddRequest>,
    ) -> Result<Response<AuthRoleAddResponse>, Status> {
        let op = Op::RoleAdd(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthRoleAddResponse {
            header: self.header(),
        }))
    }

    async fn role_get(
        &self,
        req: Request<AuthRoleGetRequest>,
    ) -> Result<Response<AuthRoleGetResponse>, Status> {
        let id = self.reader(&req).await?;
        let r = req.into_inner();
        let state = self.server.auth().state();
        if let Err(e) = self.server.auth().check_admin(&id) {
            let user = id.as_ref().map_or("", |a| a.user.as_str());
            if !state.has_role(user, &r.role) {
                return Err(e.into());
            }
        }
        let role = state.role(&r.role).ok_or(Error::RoleNotFound)?;
        Ok(Response::new(AuthRoleGetResponse {
            header: self.header(),
            perm: role.key_permission.clone(),
        }))
    }

    async fn role_list(
        &self,
        req: Request<AuthRoleListRequest>,
    ) -> Result<Response<AuthRoleListResponse>, Status> {
        let id = self.reader(&req).await?;
        self.server.auth().check_admin(&id)?;
        Ok(Response::new(AuthRoleListResponse {
            header: self.header(),
            roles: self.server.auth().state().role_names(),
        }))
    }

    async fn role_delete(
        &self,
        req: Request<AuthRoleDeleteRequest>,
    ) -> Result<Response<AuthRoleDeleteResponse>, Status> {
        let op = Op::RoleDelete(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthRoleDeleteResponse {
            header: self.header(),
        }))
    }

    async fn role_grant_permission(
        &self,
        req: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let op = Op::RoleGrantPermission(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthRoleGrantPermissionResponse {
            header: self.header(),
        }))
    }

    async fn role_revoke_permission(
        &self,
        req: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let op = Op::RoleRevokePermission(req.get_ref().clone());
        self.change(&req, op).await?;
        Ok(Response::new(AuthRoleRevokePermissionResponse {
            header: self.header(),
        }))
    }
}
