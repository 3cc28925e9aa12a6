//! Talking to WeChat: the port ([`WeChatApi`], one method per server API, no policy), the
//! reqwest adapter ([`http::HttpWeChat`]), and the policy on top ([`WeChat`]): one access token
//! per app shared by every instance on the database and refreshed by one caller at a time,
//! refresh-and-retry once on 40001/42001, bounded retries of `-1 system error`.

/// The calling policy over the port: [`WeChat`] and its [`RetryPolicy`].
pub mod client;
/// The errcodes login-core acts on, by name.
pub mod errcode;
/// The reqwest adapter of the port: [`http::HttpWeChat`].
pub mod http;
/// Decrypted open data's layouts ([`opendata::UserInfoData`], [`opendata::PhoneData`]) and
/// their mapping to the domain.
pub mod opendata;
/// The apps' access tokens (shared rows, one refresh at a time) and the [`TokenMode`]
/// choosing the token API.
pub mod tokens;

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::PhoneInfo;
use crate::ids::{AccessToken, AppId, AppSecret, JsCode, OpenId, PhoneCode, SessionKey, UnionId};

pub use client::{RetryPolicy, WeChat};
pub use tokens::{TokenMode, TokenVault};

/// An app's credentials, as the adapter needs them.
#[derive(Clone, Debug)]
pub struct AppCredentials {
    /// The appid.
    pub appid: AppId,
    /// The AppSecret.
    pub secret: AppSecret,
}

/// What jscode2session answers on success.
#[derive(Clone, Debug)]
pub struct CodeSession {
    /// The user's openid in the app.
    pub openid: OpenId,
    /// The user's unionid, when the app is bound to an open-platform account.
    pub unionid: Option<UnionId>,
    /// The session_key.
    pub session_key: SessionKey,
}

/// A fresh access token.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The token.
    pub token: AccessToken,
    /// Seconds it stays valid, as WeChat said.
    pub expires_in: u64,
}

/// Which access-token API to call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRequest {
    /// `GET /cgi-bin/token`: a new token on every call.
    Plain,
    /// `POST /cgi-bin/stable_token`.
    Stable {
        /// Ask for a new token even if the current one is valid.
        force_refresh: bool,
    },
}

/// WeChat's server APIs, one call each, exactly as on the wire: no caching, no retries.
#[async_trait]
pub trait WeChatApi: Send + Sync + 'static {
    /// `GET /sns/jscode2session`.
    async fn code2session(
        &self,
        app: &AppCredentials,
        code: &JsCode,
    ) -> Result<CodeSession, WeChatError>;

    /// `GET /cgi-bin/token` or `POST /cgi-bin/stable_token`.
    async fn access_token(
        &self,
        app: &AppCredentials,
        request: TokenRequest,
    ) -> Result<IssuedToken, WeChatError>;

    /// `GET /wxa/checksession` with the HMAC-SHA256 signature of the empty string.
    async fn check_session(
        &self,
        token: &AccessToken,
        openid: &OpenId,
        signature: &str,
    ) -> Result<(), WeChatError>;

    /// `POST /wxa/business/getuserphonenumber`.
    async fn phone_number(
        &self,
        token: &AccessToken,
        code: &PhoneCode,
        openid: Option<&OpenId>,
    ) -> Result<PhoneInfo, WeChatError>;
}

/// Which WeChat API a failure came from (a metrics label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// jscode2session.
    Code2Session,
    /// cgi-bin/token or stable_token.
    AccessToken,
    /// wxa/checksession.
    CheckSession,
    /// wxa/business/getuserphonenumber.
    PhoneNumber,
}

impl Endpoint {
    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code2Session => "jscode2session",
            Self::AccessToken => "access_token",
            Self::CheckSession => "checksession",
            Self::PhoneNumber => "getuserphonenumber",
        }
    }
}

/// How a WeChat call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WeChatError {
    /// WeChat answered with a non-zero `errcode`.
    #[error("WeChat error {errcode}: {errmsg}")]
    Api {
        /// The errcode.
        errcode: i64,
        /// The errmsg, rid included.
        errmsg: String,
    },
    /// No answer within the timeout.
    #[error("WeChat did not answer within {0:?}")]
    Timeout(Duration),
    /// The connection was refused, reset or closed early.
    #[error("connection to WeChat failed: {0}")]
    Connect(String),
    /// An HTTP status other than 200.
    #[error("WeChat answered HTTP {0}")]
    Status(u16),
    /// A 200 whose body is not the JSON expected.
    #[error("WeChat answered a body that is not the expected JSON: {0}")]
    Body(String),
    /// The store of access tokens failed (or another instance's refresh held the app's token
    /// lock past the wait): WeChat was not asked.
    #[error("the access token store failed: {message}")]
    Store {
        /// The failure is transient (the database is unreachable or busy).
        unavailable: bool,
        /// What failed.
        message: String,
    },
}

impl WeChatError {
    /// The errcode, for a business error.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    /// A metrics label: the errcode, or the transport failure's kind.
    pub fn label(&self) -> String {
        match self {
            Self::Api { errcode, .. } => errcode.to_string(),
            Self::Timeout(_) => "timeout".into(),
            Self::Connect(_) => "connect".into(),
            Self::Status(s) => format!("http_{s}"),
            Self::Body(_) => "bad_body".into(),
            Self::Store { .. } => "token_store".into(),
        }
    }

    /// `-1 system error`: transient, worth retrying.
    pub fn is_system_busy(&self) -> bool {
        self.errcode() == Some(errcode::SYSTEM_BUSY)
    }

    /// 40001, 40014 or 42001: the access token is no longer good.
    pub fn is_token_rejected(&self) -> bool {
        matches!(
            self.errcode(),
            Some(errcode::TOKEN_INVALID | errcode::TOKEN_MALFORMED | errcode::TOKEN_EXPIRED)
        )
    }
}

/// Told about every call to WeChat, for metrics.
pub trait UpstreamObserver: Send + Sync + 'static {
    /// One raw call ended (each retry is its own call).
    fn observe(&self, endpoint: Endpoint, outcome: Result<(), &WeChatError>, elapsed: Duration);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl UpstreamObserver for NoObserver {
    fn observe(&self, _: Endpoint, _: Result<(), &WeChatError>, _: Duration) {}
}
