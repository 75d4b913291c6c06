//! The Auth service: turning authentication on and off, and managing users,
//! roles and the key permissions roles grant.
//!
//! A user holds roles; a role holds permissions, each a key or key range
//! that may be read, written or both. The user `root` with the role `root`
//! may do anything, and must exist before authentication can be enabled.
//! Once it is enabled every call needs a login (see
//! [`Client::with_credentials`]), and these calls need root's.
//!
//! Every change to users, roles or permissions bumps the auth store's own
//! revision ([`AuthStatusResponse::auth_revision`]), which is independent
//! of the key-value store's revision in the response headers.

use crate::client::Client;
use crate::proto::authpb::{Permission, UserAddOptions};
use crate::proto::etcdserverpb::{
    AuthDisableRequest, AuthDisableResponse, AuthEnableRequest, AuthEnableResponse,
    AuthRoleAddRequest, AuthRoleAddResponse, AuthRoleDeleteRequest, AuthRoleDeleteResponse,
    AuthRoleGetRequest, AuthRoleGetResponse, AuthRoleGrantPermissionRequest,
    AuthRoleGrantPermissionResponse, AuthRoleListRequest, AuthRoleListResponse,
    AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse, AuthStatusRequest,
    AuthStatusResponse, AuthUserAddRequest, AuthUserAddResponse, AuthUserChangePasswordRequest,
    AuthUserChangePasswordResponse, AuthUserDeleteRequest, AuthUserDeleteResponse,
    AuthUserGetRequest, AuthUserGetResponse, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse,
    AuthUserListRequest, AuthUserListResponse, AuthUserRevokeRoleRequest,
    AuthUserRevokeRoleResponse, AuthenticateRequest, AuthenticateResponse,
};
use crate::Error;

impl Client {
    /// `Auth.AuthEnable`: from now on every call needs a login. Fails with
    /// `etcdserver: root user does not exist` until the user `root` exists
    /// (etcd 3.5 and later also want it to hold the role `root`).
    pub async fn auth_enable(&self) -> Result<AuthEnableResponse, Error> {
        self.unary(AuthEnableRequest {}, |req| {
            let mut auth = self.auth();
            async move { auth.auth_enable(req).await }
        })
        .await
    }

    /// `Auth.AuthDisable`: calls need no login any more. Users, roles and
    /// permissions are kept for when authentication is enabled again.
    pub async fn auth_disable(&self) -> Result<AuthDisableResponse, Error> {
        self.unary(AuthDisableRequest {}, |req| {
            let mut auth = self.auth();
            async move { auth.auth_disable(req).await }
        })
        .await
    }

    /// `Auth.AuthStatus`: whether authentication is enabled, and the auth
    /// store's revision. etcd serves it from 3.5 on; etcd 3.4 answers
    /// `Unimplemented`.
    pub async fn auth_status(&self) -> Result<AuthStatusResponse, Error> {
        self.unary(AuthStatusRequest {}, |req| {
            let mut auth = self.auth();
            async move { auth.auth_status(req).await }
        })
        .await
    }

    /// `Auth.Authenticate`: trades a user name and password for a token,
    /// without keeping it. [`Client::with_credentials`] logs in and keeps
    /// the token up to date instead.
    pub async fn authenticate(
        &self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AuthenticateResponse, Error> {
        let request = AuthenticateRequest {
            name: user.into(),
            password: password.into(),
        };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.authenticate(req).await }
        })
        .await
    }

    /// `Auth.UserAdd`: creates a user who logs in with `password`.
    pub async fn user_add(
        &self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AuthUserAddResponse, Error> {
        let request = AuthUserAddRequest {
            name: user.into(),
            password: password.into(),
            ..Default::default()
        };
        self.user_add_request(request).await
    }

    /// `Auth.UserAdd` with the `no_password` option: creates a user who has
    /// no password and so can only be identified by the common name of a
    /// client certificate.
    pub async fn user_add_without_password(
        &self,
        user: impl Into<String>,
    ) -> Result<AuthUserAddResponse, Error> {
        let request = AuthUserAddRequest {
            name: user.into(),
            options: Some(UserAddOptions { no_password: true }),
            ..Default::default()
        };
        self.user_add_request(request).await
    }

    async fn user_add_request(
        &self,
        request: AuthUserAddRequest,
    ) -> Result<AuthUserAddResponse, Error> {
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.user_add(req).await }
        })
        .await
    }

    /// `Auth.UserGet`: the roles `user` holds, in name order.
    pub async fn user_get(&self, user: impl Into<String>) -> Result<AuthUserGetResponse, Error> {
        let request = AuthUserGetRequest { name: user.into() };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.user_get(req).await }
        })
        .await
    }

    /// `Auth.UserList`: every user, in name order.
    pub async fn user_list(&self) -> Result<AuthUserListResponse, Error> {
        self.unary(AuthUserListRequest {}, |req| {
            let mut auth = self.auth();
            async move { auth.user_list(req).await }
        })
        .await
    }

    /// `Auth.UserDelete`: removes `user`. Tokens issued to the user stop
    /// working.
    pub async fn user_delete(
        &self,
        user: impl Into<String>,
    ) -> Result<AuthUserDeleteResponse, Error> {
        let request = AuthUserDeleteRequest { name: user.into() };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.user_delete(req).await }
        })
        .await
    }

    /// `Auth.UserChangePassword`: gives `user` a new password.
    pub async fn user_change_password(
        &self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<AuthUserChangePasswordResponse, Error> {
        let request = AuthUserChangePasswordRequest {
            name: user.into(),
            password: password.into(),
            ..Default::default()
        };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.user_change_password(req).await }
        })
        .await
    }

    /// `Auth.UserGrantRole`: gives `user` the permissions of `role`.
    pub async fn user_grant_role(
        &self,
        user: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<AuthUserGrantRoleResponse, Error> {
        let request = AuthUserGrantRoleRequest {
            user: user.into(),
            role: role.into(),
        };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.user_grant_role(req).await }
        })
        .await
    }

    /// `Auth.UserRevokeRole`: takes `role` from `user`; fails with
    /// `etcdserver: role is not granted to the user` if the user does not
    /// hold it.
    pub async fn user_revoke_role(
        &self,
        user: impl Into<String>,
        role: impl Into<String>,
    ) -> Result<AuthUserRevokeRoleResponse, Error> {
        let request = AuthUserRevokeRoleRequest {
            name: user.into(),
            role: role.into(),
        };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.user_revoke_role(req).await }
        })
        .await
    }

    /// `Auth.RoleAdd`: creates a role without permissions.
    pub async fn role_add(&self, role: impl Into<String>) -> Result<AuthRoleAddResponse, Error> {
        let request = AuthRoleAddRequest { name: role.into() };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.role_add(req).await }
        })
        .await
    }

    /// `Auth.RoleGet`: the permissions `role` grants, in key order.
    pub async fn role_get(&self, role: impl Into<String>) -> Result<AuthRoleGetResponse, Error> {
        let request = AuthRoleGetRequest { role: role.into() };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.role_get(req).await }
        })
        .await
    }

    /// `Auth.RoleList`: every role, in name order.
    pub async fn role_list(&self) -> Result<AuthRoleListResponse, Error> {
        self.unary(AuthRoleListRequest {}, |req| {
            let mut auth = self.auth();
            async move { auth.role_list(req).await }
        })
        .await
    }

    /// `Auth.RoleDelete`: removes `role`, and with it from every user who
    /// held it.
    pub async fn role_delete(
        &self,
        role: impl Into<String>,
    ) -> Result<AuthRoleDeleteResponse, Error> {
        let request = AuthRoleDeleteRequest { role: role.into() };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.role_delete(req).await }
        })
        .await
    }

    /// `Auth.RoleGrantPermission`: lets holders of `role` read and/or
    /// write `permission`'s key, or its range `[key, range_end)` when
    /// `range_end` is set (`\0` meaning "every key from `key` on"). A
    /// permission for a key the role already has a permission for replaces
    /// it.
    pub async fn role_grant_permission(
        &self,
        role: impl Into<String>,
        permission: Permission,
    ) -> Result<AuthRoleGrantPermissionResponse, Error> {
        let request = AuthRoleGrantPermissionRequest {
            name: role.into(),
            perm: Some(permission),
        };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.role_grant_permission(req).await }
        })
        .await
    }

    /// `Auth.RoleRevokePermission`: removes the permission of `role` for
    /// exactly `key` (empty `range_end`) or exactly `[key, range_end)`;
    /// fails with `etcdserver: permission is not granted to the role` if
    /// the role has no such permission.
    pub async fn role_revoke_permission(
        &self,
        role: impl Into<String>,
        key: impl Into<Vec<u8>>,
        range_end: impl Into<Vec<u8>>,
    ) -> Result<AuthRoleRevokePermissionResponse, Error> {
        let request = AuthRoleRevokePermissionRequest {
            role: role.into(),
            key: key.into(),
            range_end: range_end.into(),
        };
        self.unary(request, |req| {
            let mut auth = self.auth();
            async move { auth.role_revoke_permission(req).await }
        })
        .await
    }
}
