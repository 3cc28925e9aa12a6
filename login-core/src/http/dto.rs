//! What goes over the wire: request bodies (strict: unknown fields are refused, except the
//! extras a mini-program forwards from WeChat's callbacks) and response bodies.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMs;
use crate::store::{Profile, UserRecord};
use crate::wechat::PhoneInfo;

/// `POST /api/login`: the code, and optionally the user's number from WeChat (a
/// getPhoneNumber `phone_code`, or the legacy `encryptedData` + `iv`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The `wx.login` code.
    pub code: String,
    /// The app, when the server serves several.
    #[serde(default)]
    pub appid: Option<String>,
    /// A getPhoneNumber code.
    #[serde(default)]
    pub phone_code: Option<String>,
    /// The legacy getPhoneNumber `encryptedData`.
    #[serde(default, rename = "encryptedData")]
    pub encrypted_data: Option<String>,
    /// The legacy getPhoneNumber `iv`.
    #[serde(default)]
    pub iv: Option<String>,
}

/// `POST /api/sms/send`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSendBody {
    /// The number: `+8613800138000` (E.164) or `13800138000` (mainland China).
    pub phone: String,
    /// What the code is for: `login`.
    pub purpose: String,
}

/// `POST /api/login/sms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsLoginBody {
    /// The number the code was sent to.
    pub phone: String,
    /// The 6-digit code.
    pub code: String,
    /// A registration ticket, to bind its WeChat identity.
    #[serde(default)]
    pub ticket: Option<String>,
    /// The app of the session.
    #[serde(default)]
    pub appid: Option<String>,
}

/// `POST /api/login/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordLoginBody {
    /// The number.
    pub phone: String,
    /// The password (a new number is registered with it).
    pub password: String,
    /// A registration ticket, to bind its WeChat identity.
    #[serde(default)]
    pub ticket: Option<String>,
    /// The app of the session.
    #[serde(default)]
    pub appid: Option<String>,
}

/// `POST /api/sms/send` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct SmsSentView {
    /// Always true: the gateway took the message.
    pub sent: bool,
    /// Seconds the code stays usable.
    pub expires_in: u64,
    /// Seconds before another code can be sent to the number.
    pub resend_in: u64,
}

/// `POST /api/me/profile`: either the encrypted user info (as `wx.getUserProfile` returns it,
/// forwarded whole if the client likes) or plain `nickName`/`avatarUrl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProfileBody {
    /// `encryptedData`.
    pub encrypted_data: Option<String>,
    /// `iv`.
    pub iv: Option<String>,
    /// `rawData`.
    pub raw_data: Option<String>,
    /// `signature`.
    pub signature: Option<String>,
    /// `nickName` (fill-in).
    pub nick_name: Option<String>,
    /// `avatarUrl` (fill-in).
    pub avatar_url: Option<String>,
    /// Forwarded from the callback; ignored (not trusted).
    #[serde(default, rename = "userInfo")]
    pub _user_info: Option<serde::de::IgnoredAny>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "cloudID")]
    pub _cloud_id: Option<serde::de::IgnoredAny>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "errMsg")]
    pub _err_msg: Option<serde::de::IgnoredAny>,
}

/// `POST /api/me/phone`: a phone-number `code`, or the legacy `encryptedData` + `iv`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PhoneBody {
    /// The getPhoneNumber code.
    pub code: Option<String>,
    /// `encryptedData`.
    pub encrypted_data: Option<String>,
    /// `iv`.
    pub iv: Option<String>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "cloudID")]
    pub _cloud_id: Option<serde::de::IgnoredAny>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "errMsg")]
    pub _err_msg: Option<serde::de::IgnoredAny>,
}

/// A user as clients see it.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserView {
    /// The user's id.
    pub id: i64,
    /// Whether this login created the user (login answers only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub is_new: Option<bool>,
    /// Whether a phone number is bound.
    pub phone_bound: bool,
    /// The bound phone number.
    pub phone: Option<PhoneInfo>,
    /// The profile, once set.
    pub profile: Option<Profile>,
    /// The apps the user has logged in to.
    pub apps: Vec<String>,
}

impl UserView {
    /// The view of a stored user.
    pub fn of(user: &UserRecord, is_new: Option<bool>) -> Self {
        let mut apps: Vec<String> = user
            .identities
            .iter()
            .map(|(a, _)| a.as_str().to_owned())
            .collect();
        apps.sort();
        apps.dedup();
        Self {
            id: user.id.0,
            is_new,
            phone_bound: user.phone.is_some(),
            phone: user.phone.clone(),
            profile: user.profile.clone(),
            apps,
        }
    }
}

/// A login token and its lifetime.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenView {
    /// The token, for `Authorization: Bearer`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When the session ends unless used: Unix seconds.
    pub expires_at: i64,
    /// Seconds from now until `expires_at`.
    pub expires_in: i64,
}

impl TokenView {
    /// The view of a token.
    pub fn new(token: &str, expires_at: UnixMs, now: UnixMs) -> Self {
        Self {
            token: token.to_owned(),
            token_type: "Bearer".into(),
            expires_at: expires_at.secs(),
            expires_in: (expires_at.0 - now.0).div_euclid(1000).max(0),
        }
    }
}

/// `POST /api/login` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginView {
    /// The token.
    #[serde(flatten)]
    pub token: TokenView,
    /// The user.
    pub user: UserView,
}

/// `GET /api/session/check` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckView {
    /// Always true (a stale session is a 401).
    pub valid: bool,
    /// When the session ends unless used: Unix seconds.
    pub expires_at: i64,
}

/// `POST /api/me/profile` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProfileView {
    /// False when WeChat gave anonymous data and the stored profile was kept.
    pub updated: bool,
    /// The user.
    pub user: UserView,
}

/// `POST /api/me/phone` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct PhoneView {
    /// The account the number is bound to; after a join, the existing account.
    pub user: UserView,
    /// True when this WeChat identity joined the account that already had the number; the
    /// session now belongs to that account.
    pub joined: bool,
}
