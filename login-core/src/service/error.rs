//! The service's one error enum. Every failure a client can see is a variant here, with a
//! stable machine code; `crate::http::error` turns it into HTTP in one place.

use crate::crypto::OpenDataError;

/// What went wrong, as the client is told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not JSON (or not UTF-8).
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A field is missing, has the wrong type or an unacceptable value.
    #[error("field `{field}`: {reason}")]
    InvalidField {
        /// The field's path (`code`, `watermark.appid`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The body is not `application/json`.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// No such route.
    #[error("no route {method} {path}")]
    NotFound {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The route exists with another method.
    #[error("{path} does not accept {method}")]
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The appid is not one this server serves.
    #[error("field `appid`: {0} is not an app of this server")]
    UnknownApp(String),
    /// Too many requests from this client or with this code.
    #[error("too many requests: {what}; retry in {retry_after} s")]
    RateLimited {
        /// Which limit.
        what: &'static str,
        /// Seconds until the window resets.
        retry_after: u64,
    },
    /// WeChat says the code is unknown, expired or of another app (40029).
    #[error("the login code is invalid or expired: call wx.login again and retry")]
    CodeInvalid,
    /// WeChat says the code was already used (40163).
    #[error("the login code was already used: call wx.login again and retry")]
    CodeUsed,
    /// WeChat blocked the login of a high-risk user (40226).
    #[error("WeChat refused this user's login (high-risk account)")]
    UserBlocked,
    /// WeChat's rate limit (45011, 45009).
    #[error("WeChat's rate limit was reached; retry in {retry_after} s")]
    UpstreamRateLimited {
        /// Seconds until WeChat's window resets.
        retry_after: u64,
    },
    /// WeChat kept answering `-1 system error`.
    #[error("WeChat is temporarily unavailable; retry shortly")]
    UpstreamBusy,
    /// WeChat did not answer in time.
    #[error("WeChat did not answer in time")]
    UpstreamTimeout,
    /// WeChat could not be reached or answered something unusable.
    #[error("WeChat could not be reached or gave an unusable answer")]
    UpstreamFailed,
    /// WeChat rejected our own credentials or setup; details are in the server log only.
    #[error("the server is misconfigured; the operator has been alerted")]
    Misconfigured,
    /// No valid login session: log in (again) and retry.
    #[error("{0}")]
    LoginRequired(&'static str),
    /// The session_key behind this session is no longer valid at WeChat.
    #[error("the WeChat session has expired: call wx.login and log in again")]
    SessionKeyStale,
    /// `signature` does not match `rawData` under this session's key.
    #[error(
        "signature does not match rawData for this session: the data was altered or the session is stale"
    )]
    SignatureMismatch,
    /// The encrypted data could not be used.
    #[error("encryptedData: {0}")]
    OpenData(OpenDataError),
    /// The decrypted data is not the JSON this endpoint expects.
    #[error("encryptedData decrypted to something other than {0}")]
    OpenDataShape(&'static str),
    /// The decrypted data's watermark names another app.
    #[error("the data was issued to another app (watermark.appid does not match)")]
    WatermarkMismatch,
    /// The decrypted data's watermark is too old (or in the future).
    #[error("the data is too old (watermark.timestamp {timestamp}); get it again and retry")]
    WatermarkExpired {
        /// The watermark's Unix seconds.
        timestamp: i64,
    },
    /// The decrypted data names another user.
    #[error("the data belongs to another user (openId does not match this session)")]
    IdentityMismatch,
    /// WeChat says the phone-number code is invalid, expired or used (40029).
    #[error("the phone-number code is invalid, expired or already used: ask the user again")]
    PhoneCodeInvalid,
    /// The phone number belongs to another account that cannot be joined.
    #[error("this phone number is bound to another account")]
    PhoneConflict,
    /// Anything else: logged, not explained.
    #[error("internal error")]
    Internal,
}

impl Error {
    /// The stable machine code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidField { .. } => "invalid_field",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NotFound { .. } => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UnknownApp(_) => "unknown_app",
            Self::RateLimited { .. } => "rate_limited",
            Self::CodeInvalid => "code_invalid",
            Self::CodeUsed => "code_used",
            Self::UserBlocked => "user_blocked",
            Self::UpstreamRateLimited { .. } => "wechat_rate_limited",
            Self::UpstreamBusy => "wechat_unavailable",
            Self::UpstreamTimeout => "wechat_timeout",
            Self::UpstreamFailed => "wechat_bad_gateway",
            Self::Misconfigured => "server_misconfigured",
            Self::LoginRequired(_) => "login_required",
            Self::SessionKeyStale => "session_key_stale",
            Self::SignatureMismatch => "signature_mismatch",
            Self::OpenData(OpenDataError::Undecryptable) => "decrypt_failed",
            Self::OpenData(OpenDataError::BadSessionKey) => "session_key_stale",
            Self::OpenData(_) => "invalid_field",
            Self::OpenDataShape(_) => "decrypt_failed",
            Self::WatermarkMismatch => "watermark_mismatch",
            Self::WatermarkExpired { .. } => "watermark_expired",
            Self::IdentityMismatch => "identity_mismatch",
            Self::PhoneCodeInvalid => "phone_code_invalid",
            Self::PhoneConflict => "phone_conflict",
            Self::Internal => "internal",
        }
    }

    /// A field error.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A field error for a bad `encryptedData` or `iv`.
    pub fn open_data(e: OpenDataError) -> Self {
        match e {
            OpenDataError::BadIv => Self::field("iv", e.to_string()),
            OpenDataError::BadCiphertext => Self::field("encryptedData", e.to_string()),
            _ => Self::OpenData(e),
        }
    }
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        Self::Internal
    }
}
