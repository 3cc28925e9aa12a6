//! What goes over the wire: request bodies (strict: unknown fields are refused, except the
//! extras a mini-program forwards from WeChat's callbacks), their shape rules as conversions
//! into the services' requests, and response bodies built from the domain's types.

use serde::{Deserialize, Serialize};

use crate::clock::UnixMs;
use crate::domain::{PhoneInfo, Profile, User};
use crate::service::{
    Error, LoginPhone, LoginRequest, PasswordLoginRequest, PhoneRequest, ProfileRequest,
    SmsLoginRequest, SmsSendRequest,
};

/// `POST /api/login`: the `wx.login` code and, optionally, the user's number from WeChat (a
/// getPhoneNumber `phone_code`, or the legacy `encryptedData` and `iv`).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LoginRequest")]
pub struct LoginBody {
    /// The wx.login code.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub code: String,
    /// The app; default: the first configured.
    #[serde(default)]
    pub appid: Option<String>,
    /// A getPhoneNumber code: register or join by the user's WeChat number when no account knows
    /// this WeChat user.
    #[serde(default)]
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub phone_code: Option<String>,
    /// Legacy getPhoneNumber data (made after this wx.login), with `iv`; instead of `phone_code`.
    #[serde(default, rename = "encryptedData")]
    pub encrypted_data: Option<String>,
    /// With `encryptedData`.
    #[serde(default)]
    pub iv: Option<String>,
}

/// `POST /api/sms/send`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SmsSendRequest")]
pub struct SmsSendBody {
    /// `+` country code and number (E.164: `+8613800138000`, `+85251234567`; 7 to 15 digits), or an
    /// 11-digit mainland China mobile number (`13800138000`, read as +86). Spaces and hyphens
    /// between digits are ignored.
    pub phone: String,
    /// What the code is for.
    #[schemars(extend("enum" = ["login"]))]
    pub purpose: String,
}

/// `POST /api/login/sms`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SmsLoginRequest")]
pub struct SmsLoginBody {
    /// `+` country code and number (E.164: `+8613800138000`, `+85251234567`; 7 to 15 digits), or an
    /// 11-digit mainland China mobile number (`13800138000`, read as +86). Spaces and hyphens
    /// between digits are ignored.
    pub phone: String,
    /// The 6-digit code the SMS carried.
    #[schemars(regex(pattern = r"^[0-9]{6}$"))]
    pub code: String,
    /// `registration.ticket` of a `registration_required` answer: binds that WeChat identity.
    #[serde(default)]
    #[schemars(length(min = 43, max = 43))]
    pub ticket: Option<String>,
    /// The app of the session; default: the first configured (with a ticket: the ticket's, which
    /// `appid` must then match).
    #[serde(default)]
    pub appid: Option<String>,
}

/// `POST /api/login/password`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PasswordLoginRequest")]
pub struct PasswordLoginBody {
    /// `+` country code and number (E.164: `+8613800138000`, `+85251234567`; 7 to 15 digits), or an
    /// 11-digit mainland China mobile number (`13800138000`, read as +86). Spaces and hyphens
    /// between digits are ignored.
    pub phone: String,
    /// A new number is registered with it: then 8 (`phone.password_min_chars`) to 128 characters,
    /// no control characters.
    #[schemars(length(min = 1, max = 128))]
    pub password: String,
    /// `registration.ticket` of a `registration_required` answer: binds that WeChat identity.
    #[serde(default)]
    #[schemars(length(min = 43, max = 43))]
    pub ticket: Option<String>,
    /// The app of the session; default: the first configured (with a ticket: the ticket's, which
    /// `appid` must then match).
    #[serde(default)]
    pub appid: Option<String>,
}

/// `POST /api/sms/send` answer.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "SmsSent")]
pub struct SmsSentView {
    /// Always true: the gateway took the message.
    #[schemars(extend("const" = true))]
    pub sent: bool,
    /// Seconds the code stays usable.
    pub expires_in: u64,
    /// Seconds before another code can be sent to the number.
    pub resend_in: u64,
}

/// `POST /api/me/profile`: either the encrypted user info (as `wx.getUserProfile` returns it,
/// forwarded whole if the client likes) or plain `nickName`/`avatarUrl`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "ProfileRequest")]
pub struct ProfileBody {
    /// `encryptedData`.
    pub encrypted_data: Option<String>,
    /// `iv`.
    pub iv: Option<String>,
    /// `rawData`.
    pub raw_data: Option<String>,
    /// `signature`.
    pub signature: Option<String>,
    /// Trimmed; 1 to 64 characters, no control characters.
    #[schemars(length(min = 1, max = 64))]
    pub nick_name: Option<String>,
    /// An http(s) URL of the uploaded avatar (wxfile:// paths are local to the phone).
    #[schemars(length(max = 2048), regex(pattern = r"^https?://\S+$"))]
    pub avatar_url: Option<String>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "userInfo")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub _user_info: Option<serde::de::IgnoredAny>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "cloudID")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub _cloud_id: Option<serde::de::IgnoredAny>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "errMsg")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub _err_msg: Option<serde::de::IgnoredAny>,
}

/// `POST /api/me/phone`: a phone-number `code`, or the legacy `encryptedData` + `iv`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "PhoneRequest")]
pub struct PhoneBody {
    /// The getPhoneNumber code.
    #[schemars(length(max = 256))]
    pub code: Option<String>,
    /// `encryptedData`.
    pub encrypted_data: Option<String>,
    /// `iv`.
    pub iv: Option<String>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "cloudID")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub _cloud_id: Option<serde::de::IgnoredAny>,
    /// Forwarded from the callback; ignored.
    #[serde(default, rename = "errMsg")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub _err_msg: Option<serde::de::IgnoredAny>,
}

impl TryFrom<LoginBody> for LoginRequest {
    type Error = Error;

    /// A phone number comes as `phone_code`, or as `encryptedData` with `iv`, never both.
    fn try_from(body: LoginBody) -> Result<Self, Error> {
        let phone = match (body.phone_code, body.encrypted_data, body.iv) {
            (None, None, None) => None,
            (Some(code), None, None) => Some(LoginPhone::Code(code)),
            (None, Some(encrypted_data), Some(iv)) => {
                Some(LoginPhone::Encrypted { encrypted_data, iv })
            }
            (Some(_), _, _) => {
                return Err(Error::field(
                    "phone_code",
                    "give either phone_code, or encryptedData and iv, not both",
                ));
            }
            (None, Some(_), None) => {
                return Err(Error::field("iv", "is required with encryptedData"));
            }
            (None, None, Some(_)) => {
                return Err(Error::field("encryptedData", "is required with iv"));
            }
        };
        Ok(LoginRequest {
            code: body.code,
            appid: body.appid,
            phone,
        })
    }
}

impl From<SmsSendBody> for SmsSendRequest {
    fn from(body: SmsSendBody) -> Self {
        SmsSendRequest {
            phone: body.phone,
            purpose: body.purpose,
        }
    }
}

impl From<SmsLoginBody> for SmsLoginRequest {
    fn from(body: SmsLoginBody) -> Self {
        SmsLoginRequest {
            phone: body.phone,
            code: body.code,
            ticket: body.ticket,
            appid: body.appid,
        }
    }
}

impl From<PasswordLoginBody> for PasswordLoginRequest {
    fn from(body: PasswordLoginBody) -> Self {
        PasswordLoginRequest {
            phone: body.phone,
            password: body.password,
            ticket: body.ticket,
            appid: body.appid,
        }
    }
}

impl TryFrom<ProfileBody> for ProfileRequest {
    type Error = Error;

    /// Either `encryptedData` with `iv` (and `rawData` with `signature`, when signed), or plain
    /// `nickName`/`avatarUrl`.
    fn try_from(body: ProfileBody) -> Result<Self, Error> {
        match (body.encrypted_data, body.iv) {
            (Some(encrypted_data), Some(iv)) => {
                if body.nick_name.is_some() || body.avatar_url.is_some() {
                    return Err(Error::field(
                        "nickName",
                        "give either encryptedData and iv, or nickName/avatarUrl, not both",
                    ));
                }
                let signed = match (body.raw_data, body.signature) {
                    (Some(r), Some(sig)) => Some((r, sig)),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(Error::field("signature", "is required with rawData"));
                    }
                    (None, Some(_)) => {
                        return Err(Error::field("rawData", "is required with signature"));
                    }
                };
                Ok(ProfileRequest::Encrypted {
                    encrypted_data,
                    iv,
                    signed,
                })
            }
            (Some(_), None) => Err(Error::field("iv", "is required with encryptedData")),
            (None, Some(_)) => Err(Error::field("encryptedData", "is required with iv")),
            (None, None) => Ok(ProfileRequest::Plain {
                nick_name: body.nick_name,
                avatar_url: body.avatar_url,
            }),
        }
    }
}

impl TryFrom<PhoneBody> for PhoneRequest {
    type Error = Error;

    /// A `code`, or `encryptedData` with `iv`: exactly one of them.
    fn try_from(body: PhoneBody) -> Result<Self, Error> {
        match (body.code, body.encrypted_data, body.iv) {
            (Some(code), None, None) => Ok(PhoneRequest::Code(code)),
            (None, Some(encrypted_data), Some(iv)) => {
                Ok(PhoneRequest::Encrypted { encrypted_data, iv })
            }
            (Some(_), _, _) => Err(Error::field(
                "code",
                "give either code, or encryptedData and iv, not both",
            )),
            (None, Some(_), None) => Err(Error::field("iv", "is required with encryptedData")),
            (None, None, Some(_)) => Err(Error::field("encryptedData", "is required with iv")),
            (None, None, None) => Err(Error::field(
                "code",
                "is required (or encryptedData and iv from the legacy button)",
            )),
        }
    }
}

/// A user as clients see it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "User")]
pub struct UserView {
    /// The user's id.
    pub id: i64,
    /// Login answers only: whether this login created the user.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub is_new: Option<bool>,
    /// Whether a phone number is bound.
    pub phone_bound: bool,
    /// The bound phone number.
    pub phone: Option<PhoneNumberView>,
    /// The profile, once set.
    pub profile: Option<UserProfileView>,
    /// Appids the user has logged in to.
    pub apps: Vec<String>,
}

impl UserView {
    /// The view of a user; `is_new` for login answers.
    pub fn of(user: &User, is_new: Option<bool>) -> Self {
        Self {
            id: user.id.0,
            is_new,
            phone_bound: user.phone.is_some(),
            phone: user.phone.as_ref().map(PhoneNumberView::from),
            profile: user.profile.as_ref().map(UserProfileView::from),
            apps: user
                .apps()
                .into_iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        }
    }
}

/// A phone number, as getuserphonenumber or the legacy encryptedData carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Phone")]
pub struct PhoneNumberView {
    /// The number with the country prefix for non-mainland numbers.
    pub phone_number: String,
    /// The number without any prefix.
    pub pure_phone_number: String,
    /// The country code, as text (`"86"`).
    pub country_code: String,
}

impl From<&PhoneInfo> for PhoneNumberView {
    fn from(p: &PhoneInfo) -> Self {
        Self {
            phone_number: p.phone_number.clone(),
            pure_phone_number: p.pure_phone_number.clone(),
            country_code: p.country_code.clone(),
        }
    }
}

/// A user's profile: nickname and avatar, plus what older user-info APIs gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "Profile")]
pub struct UserProfileView {
    /// Nickname.
    pub nick_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    pub gender: Option<i64>,
    /// Language (`zh_CN`).
    pub language: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Province.
    pub province: Option<String>,
    /// Country.
    pub country: Option<String>,
}

impl From<&Profile> for UserProfileView {
    fn from(p: &Profile) -> Self {
        Self {
            nick_name: p.nick_name.clone(),
            avatar_url: p.avatar_url.clone(),
            gender: p.gender,
            language: p.language.clone(),
            city: p.city.clone(),
            province: p.province.clone(),
            country: p.country.clone(),
        }
    }
}

/// A login token and its lifetime.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Token")]
pub struct TokenView {
    /// The token, for `Authorization: Bearer`.
    #[schemars(length(min = 43, max = 43))]
    pub token: String,
    /// Always `Bearer`.
    #[schemars(extend("const" = "Bearer"))]
    pub token_type: String,
    /// Unix seconds; slides forward with use.
    pub expires_at: i64,
    /// Seconds from now until `expires_at`.
    #[schemars(range(min = 0))]
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
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Login")]
pub struct LoginView {
    /// The token.
    #[serde(flatten)]
    pub token: TokenView,
    /// The user.
    pub user: UserView,
}

/// `GET /api/session/check` answer.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Check")]
pub struct CheckView {
    /// Always true (a stale session is a 401).
    #[schemars(extend("const" = true))]
    pub valid: bool,
    /// When the session ends unless used: Unix seconds.
    pub expires_at: i64,
}

/// `POST /api/me/profile` answer.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ProfileResult")]
pub struct ProfileView {
    /// False when WeChat gave anonymous data and the stored profile was kept.
    pub updated: bool,
    /// The user.
    pub user: UserView,
}

/// `POST /api/me/phone` answer.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "PhoneResult")]
pub struct PhoneView {
    /// The account the number is bound to; after a join, the existing account.
    pub user: UserView,
    /// True when this identity joined the account that already had the number.
    pub joined: bool,
}
