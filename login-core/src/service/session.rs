//! Sessions: authenticating a bearer token (with sliding renewal), rotating it, revoking it,
//! and checking the stored session_key with WeChat.

use crate::clock::UnixMs;
use crate::ids::{AppId, LoginToken, OpenId, SessionKey, TokenHash, UserId};
use crate::random::bytes;
use crate::store::NewSession;
use crate::wechat::{AppCredentials, Endpoint, WeChatError, errcode};

use super::{Error, Services};

/// A request's verified session.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The token's hash.
    pub token_hash: TokenHash,
    /// The user.
    pub user_id: UserId,
    /// The app the session was opened in.
    pub appid: AppId,
    /// The user's openid in that app; `None` for a session opened without WeChat.
    pub openid: Option<OpenId>,
    /// When the session ends unless used (after this request's renewal).
    pub expires_at: UnixMs,
    /// When the session ends whatever happens.
    pub absolute_expires_at: UnixMs,
}

impl Authenticated {
    /// The session's openid; [`Error::WeChatRequired`] for a session opened without WeChat.
    pub fn wechat(&self) -> Result<&OpenId, Error> {
        self.openid.as_ref().ok_or(Error::WeChatRequired)
    }
}

/// A new token.
#[derive(Debug)]
pub struct TokenOutput {
    /// The token, shown once.
    pub token: LoginToken,
    /// When it ends unless used.
    pub expires_at: UnixMs,
}

/// The result of a session check.
#[derive(Debug)]
pub struct CheckOutput {
    /// When the session ends unless used.
    pub expires_at: UnixMs,
}

impl Services {
    /// Verifies a bearer token; renews the session when `renew_interval` has passed.
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Authenticated, Error> {
        let bearer = bearer.ok_or(Error::LoginRequired(
            "log in first: send Authorization: Bearer <token>",
        ))?;
        let token = LoginToken::parse(bearer).ok_or(Error::LoginRequired(
            "the login token is malformed: log in again",
        ))?;
        let hash = token.hash();
        let session = self
            .store
            .session(&hash)
            .await?
            .ok_or(Error::LoginRequired(
                "the login token is unknown: log in again",
            ))?;
        let now = self.now();
        if session.revoked_at.is_some() {
            return Err(Error::LoginRequired(
                "the login token was revoked: log in again",
            ));
        }
        if session.expires_at <= now || session.absolute_expires_at <= now {
            return Err(Error::LoginRequired(
                "the login session expired: log in again",
            ));
        }
        let renewed = now.plus(self.sessions.ttl).min(session.absolute_expires_at);
        let expires_at = if renewed.0 - session.expires_at.0
            >= i64::try_from(self.sessions.renew_interval.as_millis()).unwrap_or(i64::MAX)
        {
            self.store.renew_session(&hash, renewed).await?;
            renewed
        } else {
            session.expires_at
        };
        Ok(Authenticated {
            token_hash: hash,
            user_id: session.user_id,
            appid: session.appid,
            openid: session.openid,
            expires_at,
            absolute_expires_at: session.absolute_expires_at,
        })
    }

    /// Replaces the session's token with a new one; the old one stops working.
    pub async fn refresh(&self, auth: &Authenticated) -> Result<TokenOutput, Error> {
        let now = self.now();
        let token = LoginToken::from_bytes(bytes(self.random.as_ref()));
        // The new token keeps the session's absolute end.
        let absolute = auth.absolute_expires_at;
        let expires_at = now.plus(self.sessions.ttl).min(absolute);
        let rotated = self
            .store
            .rotate_session(
                &auth.token_hash,
                NewSession {
                    token_hash: token.hash(),
                    expires_at,
                    absolute_expires_at: absolute,
                },
                now,
            )
            .await?;
        if !rotated {
            return Err(Error::LoginRequired(
                "the login token was revoked: log in again",
            ));
        }
        Ok(TokenOutput { token, expires_at })
    }

    /// Revokes the session.
    pub async fn logout(&self, auth: &Authenticated) -> Result<(), Error> {
        self.store
            .revoke_session(&auth.token_hash, self.now())
            .await?;
        Ok(())
    }

    /// Asks WeChat whether the session_key stored for this session is still current.
    pub async fn check(&self, auth: &Authenticated) -> Result<CheckOutput, Error> {
        let openid = auth.wechat()?;
        let app = self.app(Some(auth.appid.as_str()))?.clone();
        let key = self.session_key(&auth.appid, openid).await?;
        match self.judge_session_key(&app, openid, &key).await {
            Ok(KeyVerdict::Current) => Ok(CheckOutput {
                expires_at: auth.expires_at,
            }),
            Ok(KeyVerdict::Stale) => Err(Error::SessionKeyStale),
            Err(e) => Err(self.upstream(Endpoint::CheckSession, &app.appid, e)),
        }
    }

    /// Asks WeChat's checksession whether `key` is still the current session_key of `openid`
    /// in `app`. A verdict either way is `Ok`; `Err` means WeChat gave none (transport,
    /// `-1`, credentials), and each caller decides what that means for its request.
    pub(super) async fn judge_session_key(
        &self,
        app: &AppCredentials,
        openid: &OpenId,
        key: &SessionKey,
    ) -> Result<KeyVerdict, WeChatError> {
        match self.wechat.check_session(app, openid, key).await {
            Ok(()) => Ok(KeyVerdict::Current),
            // The signature does not match the current key, or the key expired.
            Err(WeChatError::Api {
                errcode: errcode::INVALID_SIGNATURE | errcode::SESSION_KEY_EXPIRED,
                ..
            }) => Ok(KeyVerdict::Stale),
            Err(e) => Err(e),
        }
    }
}

/// What WeChat says of a stored session_key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyVerdict {
    /// It is the user's current key.
    Current,
    /// WeChat holds another key now (a `wx.login` the backend never saw) or it expired.
    Stale,
}
