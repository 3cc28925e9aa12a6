//! `POST /api/login`: exchange a `wx.login` code, find or create the user, open a session.
//! Nothing is written unless WeChat's exchange succeeded.

use crate::clock::UnixMs;
use crate::ids::{JsCode, LoginToken};
use crate::random::bytes;
use crate::store::{LoginWrite, NewSession, UserRecord};
use crate::wechat::{Endpoint, WeChatError};

use super::{Error, Services};

/// A login request, already parsed from JSON.
#[derive(Debug)]
pub struct LoginRequest {
    /// The code as the client sent it.
    pub code: String,
    /// The app, when the server serves several.
    pub appid: Option<String>,
    /// The client's address, for rate limiting.
    pub client: String,
}

/// A successful login.
#[derive(Debug)]
pub struct LoginOutput {
    /// The login token: shown to the client once, stored only as a hash.
    pub token: LoginToken,
    /// When the session ends unless used.
    pub expires_at: UnixMs,
    /// The user.
    pub user: UserRecord,
    /// Whether this login created the user.
    pub is_new: bool,
}

impl Services {
    /// Logs a user in with a `wx.login` code.
    pub async fn login(&self, req: LoginRequest) -> Result<LoginOutput, Error> {
        let result = self.login_inner(req).await;
        self.metrics.login(match &result {
            Ok(out) if out.is_new => "new",
            Ok(_) => "returning",
            Err(e) => e.code(),
        });
        result
    }

    async fn login_inner(&self, req: LoginRequest) -> Result<LoginOutput, Error> {
        let code = JsCode::parse(&req.code).map_err(|e| Error::field("code", e.to_string()))?;
        let app = self.app(req.appid.as_deref())?.clone();
        let now = self.now();
        self.per_address
            .hit(&req.client, now)
            .map_err(|retry_after| Error::RateLimited {
                what: "logins from this address",
                retry_after,
            })?;
        self.per_code
            .hit(&code.fingerprint(), now)
            .map_err(|retry_after| Error::RateLimited {
                what: "attempts with this code",
                retry_after,
            })?;

        let session = self
            .wechat
            .code2session(&app, &code)
            .await
            .map_err(|e| match e {
                WeChatError::Api { errcode: 40029, .. } => Error::CodeInvalid,
                WeChatError::Api { errcode: 40163, .. } => Error::CodeUsed,
                WeChatError::Api { errcode: 40226, .. } => Error::UserBlocked,
                e => self.upstream(Endpoint::Code2Session, &app.appid, e),
            })?;
        if session.session_key.aes_key().is_none() || session.openid.as_str().is_empty() {
            tracing::warn!(appid = %app.appid, "jscode2session answered an unusable openid or session_key");
            return Err(Error::UpstreamFailed);
        }

        // WeChat's answer is good: from here on, one transaction writes everything.
        let now = self.now();
        let token = LoginToken::from_bytes(bytes(self.random.as_ref()));
        let expires_at = now.plus(self.sessions.ttl);
        let write = LoginWrite {
            sealed_session_key: self.seal_session_key(
                &app.appid,
                &session.openid,
                &session.session_key,
            ),
            appid: app.appid.clone(),
            openid: session.openid,
            unionid: session.unionid,
            session: NewSession {
                token_hash: token.hash(),
                expires_at,
                absolute_expires_at: now.plus(self.sessions.max_lifetime),
            },
            now,
        };
        let outcome = self.store.record_login(write).await?;
        tracing::info!(appid = %app.appid, user = %outcome.user.id, is_new = outcome.is_new, "login");
        Ok(LoginOutput {
            token,
            expires_at,
            user: outcome.user,
            is_new: outcome.is_new,
        })
    }
}
