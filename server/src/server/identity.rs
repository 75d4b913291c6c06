//! Who sent a client request: resolved once where the request enters, from
//! its token or, under `--client-cert-auth`, its client certificate.

use super::Server;
use crate::error::Error;

impl Server {
    /// Who sent a request: the user of its token (gRPC metadata `token`, or
    /// `authorization` as the gateway forwards it), else, under
    /// `--client-cert-auth`, the CN of its client certificate (never for
    /// requests through the gateway). A token that is not valid is refused.
    pub async fn identity<T>(
        &self,
        req: &tonic::Request<T>,
    ) -> Result<crate::auth::Identity, Error> {
        let md = req.metadata();
        let token = md.get("token").or_else(|| md.get("authorization"));
        if let Some(token) = token {
            let token = token.to_str().map_err(|_| Error::InvalidAuthToken)?;
            return self.identity_of_token(token).await.map(Some);
        }
        if self.client_cert_auth && req.extensions().get::<crate::api::Gatewayed>().is_none() {
            if let Some(cn) = req.extensions().get::<crate::tls::ClientCn>() {
                return Ok(Some(self.auth.identity_of(cn.0.clone(), None)));
            }
        }
        Ok(None)
    }

    /// The identity a token names; a simple token issued by a login this member
    /// has not applied yet is waited for (up to the request timeout).
    pub async fn identity_of_token(&self, token: &str) -> Result<crate::auth::AuthInfo, Error> {
        use crate::auth::token::Lookup;
        let lookup = match self.auth.lookup(token, self.applied_index()) {
            Lookup::NotYetApplied(index) => {
                let mut applied = self.applied.clone();
                let reached = tokio::time::timeout(self.limits.request_timeout, async {
                    applied.wait_for(|a| *a >= index).await.is_ok()
                })
                .await;
                if reached != Ok(true) {
                    return Err(Error::InvalidAuthToken);
                }
                self.auth.lookup(token, self.applied_index())
            }
            other => other,
        };
        match lookup {
            Lookup::User(user, revision) => Ok(self.auth.identity_of(user, revision)),
            _ => Err(Error::InvalidAuthToken),
        }
    }
}
