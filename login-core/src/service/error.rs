//! The service's one error enum. Every failure of a use case is a variant here, with a stable
//! machine code; `crate::http::error` wraps it, beside the failures of HTTP itself (bodies,
//! routes), and turns both into HTTP in one place.

use crate::clock::UnixMs;
use crate::crypto::OpenDataError;
use crate::ids::Ticket;

/// What went wrong, as the client is told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field is missing, has the wrong type or an unacceptable value.
    #[error("field `{field}`: {reason}")]
    InvalidField {
        /// The field's path (`code`, `watermark.appid`).
        field: String,
        /// What is wrong with it.
        reason: String,
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
    /// A WeChat user no account knows, under `registration = "phone_required"`: the answer
    /// carries a ticket for the phone step.
    #[error(
        "this WeChat user has no account yet: verify a phone number with the ticket (POST /api/login/sms or /api/login/password), or log in again with code and phone_code"
    )]
    RegistrationRequired {
        /// The ticket, shown once.
        ticket: Ticket,
        /// When it stops working.
        expires_at: UnixMs,
        /// Its lifetime in seconds.
        expires_in: u64,
    },
    /// The ticket cannot be used.
    #[error(
        "the registration ticket is unknown, expired, already used or of another app: call wx.login and POST /api/login again for a new one"
    )]
    TicketInvalid,
    /// No SMS code is pending for the number, or it expired.
    #[error("{0}")]
    SmsCodeExpired(&'static str),
    /// The SMS code is not the one sent.
    #[error("the SMS code is wrong; {attempts_left} tries left")]
    SmsCodeInvalid {
        /// Tries left before the code is void.
        attempts_left: u32,
    },
    /// The SMS code took its last wrong try.
    #[error("the SMS code took too many wrong tries and is void: request a new one")]
    SmsCodeExhausted,
    /// The password does not match the number's account.
    #[error("the password is wrong for this number")]
    PasswordIncorrect,
    /// The number's account has no password.
    #[error(
        "this number's account has no password: log in with an SMS code (POST /api/login/sms) or WeChat"
    )]
    PasswordNotSet,
    /// The number's account has another WeChat identity in this app (or belongs to another
    /// WeChat user).
    #[error(
        "this phone number's account is bound to another WeChat user in this app: log in with that WeChat, or without a ticket"
    )]
    PhoneBoundToOtherWeChat,
    /// This WeChat user's account has another number.
    #[error(
        "this WeChat user's account has another phone number: log in with WeChat alone, or with that number"
    )]
    WeChatBoundToOtherPhone,
    /// The session has no WeChat identity for this request.
    #[error(
        "this session was opened without WeChat (SMS or password, no ticket): log in with wx.login to use WeChat data"
    )]
    WeChatRequired,
    /// The SMS gateway's own limit for the number or the account.
    #[error("the SMS gateway's limit was reached; retry in {retry_after} s")]
    SmsRateLimited {
        /// Seconds until the gateway's window resets.
        retry_after: u64,
    },
    /// The SMS gateway refused the number.
    #[error(
        "the SMS gateway refused this number (invalid, blocked, or in a region not served): check the number"
    )]
    SmsNumberRefused,
    /// No SMS could be sent: none configured, or the gateway failed.
    #[error("{reason}")]
    SmsUnavailable {
        /// Why.
        reason: &'static str,
        /// When trying again may help (gateway trouble), in seconds.
        retry_after: Option<u64>,
    },
    /// The database could not be reached or kept losing races: nothing was written, and the
    /// same request may succeed shortly.
    #[error("the database is unavailable; nothing was changed: retry shortly")]
    StoreUnavailable,
    /// Anything else: logged, not explained.
    #[error("internal error")]
    Internal,
}

impl Error {
    /// The stable machine code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidField { .. } => "invalid_field",
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
            Self::RegistrationRequired { .. } => "registration_required",
            Self::TicketInvalid => "ticket_invalid",
            Self::SmsCodeExpired(_) => "sms_code_expired",
            Self::SmsCodeInvalid { .. } => "sms_code_invalid",
            Self::SmsCodeExhausted => "sms_code_exhausted",
            Self::PasswordIncorrect => "password_incorrect",
            Self::PasswordNotSet => "password_not_set",
            Self::PhoneBoundToOtherWeChat => "phone_bound_to_other_wechat",
            Self::WeChatBoundToOtherPhone => "wechat_bound_to_other_phone",
            Self::WeChatRequired => "wechat_required",
            Self::SmsRateLimited { .. } => "sms_rate_limited",
            Self::SmsNumberRefused => "sms_number_refused",
            Self::SmsUnavailable { .. } => "sms_unavailable",
            Self::StoreUnavailable => "store_unavailable",
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
        if e.is_unavailable() {
            tracing::warn!(error = %e, "store unavailable");
            Self::StoreUnavailable
        } else {
            tracing::error!(error = %e, "store failure");
            Self::Internal
        }
    }
}
