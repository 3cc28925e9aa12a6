//! Configuration: how the server starts (`Config`), the behaviour switches that tests may change at
//! run time (`Options`), and the seed file of apps, users and the SMS gateway's settings.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::catalogue::RidStyle;
use crate::clock::{Clock, format_duration, parse_duration};
use crate::ids::{AppId, AppSecret, PlatformId, UserHandle};

/// Everything needed to start a mock server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Seed for every derived identity and random choice.
    pub seed: String,
    /// Apps, users and options loaded at start (and restored by `POST /__mock__/reset`).
    pub seed_file: SeedFile,
    /// When set, the control plane requires `Authorization: Bearer <token>`.
    pub control_token: Option<String>,
    /// Serve the control plane without a token on an address other than loopback. The control
    /// plane shows every user's session_key and can reset the mock, plant faults and move the
    /// clock: off, a non-loopback `listen` without `control_token` is refused at start.
    pub open_control_plane: bool,
    /// The clock to use; pass a shared [`Clock`] to drive several servers together.
    pub clock: Clock,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: "0".into(),
            seed_file: SeedFile::default(),
            control_token: None,
            open_control_plane: false,
            clock: Clock::system(),
        }
    }
}

impl Config {
    /// Refuses what cannot be honoured safely: a control plane open to the network (a
    /// non-loopback `listen` without a token, unless `open_control_plane` says it is wanted),
    /// or an empty token.
    pub fn check(&self) -> Result<(), String> {
        match &self.control_token {
            Some(t) if t.trim().is_empty() => {
                return Err(
                    "the control token is empty: give a secret of your own, or none on loopback"
                        .into(),
                );
            }
            Some(_) => return Ok(()),
            None => {}
        }
        if !self.listen.ip().is_loopback() && !self.open_control_plane {
            return Err(format!(
                "listening on {} (not loopback) would open the control plane (/__mock__/: every \
                 user's session_key, reset, faults, the clock) to the network: give a control \
                 token (--control-token or MOCK_CONTROL_TOKEN) that clients send as \
                 `Authorization: Bearer <token>`, or --open-control-plane if that is what you want",
                self.listen
            ));
        }
        Ok(())
    }
}

/// What the per-minute login quota counts.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QuotaScope {
    /// Each (app, user) pair: the documented unit (`wechat-api.md` 2.2).
    #[default]
    User,
    /// Every call of an app together (one staff answer said so).
    App,
}

/// The Content-Type of vendor answers.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ContentTypeMode {
    /// As WeChat: `text/plain` on sns, JSON types on cgi-bin and wxa, no charset.
    #[default]
    Faithful,
    /// `application/json` everywhere, for clients that cannot cope with `text/plain`.
    Json,
}

/// How jscode2session treats `grant_type` (WeChat's real behaviour was never observed).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GrantTypeCheck {
    /// Missing or other than `authorization_code`: 40002 (as on the token endpoints).
    #[default]
    Required,
    /// Anything, including nothing, is accepted.
    Ignored,
}

/// The options that shape every vendor response, read under the engine's lock with the rest.
#[derive(Clone, Copy, Debug)]
pub struct WireStyle {
    /// Content-Type policy.
    pub content_type: ContentTypeMode,
    /// rid suffix style.
    pub rid_style: RidStyle,
}

/// What checkencryptedmsg answers for a hash of no phone-number encryptedData the app was issued in
/// the last 3 days; the docs list both answers (`wechat-api.md` 7a).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnknownEncryptedMsg {
    /// errcode 1 `data not exit`: the docs' error table names this case.
    #[default]
    #[serde(rename = "errcode_1")]
    Errcode1,
    /// `{"errcode":0,"errmsg":"ok","vaild":false}`.
    VaildFalse,
}

/// Behaviour switches. Every one has a default (shown per field); `PATCH /options` replaces the
/// ones given, keeps the others and validates the result as a whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Refuse `/wx/login` and `/wx/getPhoneNumber` for users that were not created first
    /// (`unknown_user`); otherwise such users are created on the fly.
    pub strict: bool,
    /// jscode2session calls allowed per minute before errcode 45011.
    pub login_quota_per_minute: u32,
    /// What the quota counts.
    pub quota_scope: QuotaScope,
    /// A new login code rotates the session_key only if the last rotation is at least this old.
    #[serde(with = "duration_text")]
    #[schemars(with = "crate::clock::DurationText")]
    pub session_key_min_rotation: Duration,
    /// Lifetime of a session_key from its rotation; `null`: it never expires by itself.
    #[serde(with = "opt_duration_text")]
    #[schemars(with = "Option<crate::clock::DurationText>")]
    pub session_key_ttl: Option<Duration>,
    /// Content-Type policy of the vendor surface.
    pub content_type: ContentTypeMode,
    /// Current or legacy rid suffix in errmsg.
    pub rid_style: RidStyle,
    /// grant_type policy of jscode2session.
    pub jscode2session_grant_type: GrantTypeCheck,
    /// Accept `"force_refresh":"true"` (a string) on stable_token; when false such a body gets
    /// 47001.
    pub lenient_force_refresh: bool,
    /// Entries the journal keeps before it drops the oldest (and counts them in `dropped`).
    #[schemars(range(min = 1))]
    pub journal_capacity: usize,
    /// Accept, once, a `wx.login` code the mock never minted (one real WeChat gave a mini-program
    /// running without the wx-login-kit shim) as a code of `foreign_code_user`: jscode2session
    /// exchanges it like a code of the mock's own (quota, high-risk and single use apply). Login
    /// only: the mini-program's open data stays sealed with real WeChat's key, which the mock never
    /// had. An adopted code is forgotten 5 minutes after adoption. Off by default: a faithful
    /// server answers 40029.
    pub accept_foreign_codes: bool,
    /// The user foreign codes log in as (created on first use unless `strict`; under `strict` an
    /// unknown one leaves foreign codes at 40029). 1 to 128 bytes, no control characters.
    #[schemars(length(min = 1, max = 128))]
    pub foreign_code_user: UserHandle,
    /// checkencryptedmsg's answer for data WeChat did not issue to the app, or issued over 3 days
    /// ago.
    pub checkencryptedmsg_unknown: UnknownEncryptedMsg,
    /// `cgi-bin/token` calls an app may make per day (China time, UTC+8) before errcode 45009
    /// `reach max api daily quota limit`; the next day or `clear_quota` gives them back. The
    /// reference shows 10,000 for mini-programs.
    #[schemars(range(min = 1))]
    pub token_daily_limit: u32,
    /// Answer a vendor path the mock does not model `{"errcode":0,"errmsg":"ok"}` (in its family's
    /// Content-Type) when it carries a valid access token of any app; no token: 41001, a bad one:
    /// 40001/42001, as any endpoint that needs a token. Such calls are journaled as `stubbed` with
    /// the token's app, and fault rules can name `stubbed`. Off: 40066 `invalid url`, as WeChat
    /// answers.
    pub stub_unmodelled: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            strict: false,
            login_quota_per_minute: 100,
            quota_scope: QuotaScope::User,
            session_key_min_rotation: Duration::from_secs(300),
            session_key_ttl: None,
            content_type: ContentTypeMode::Faithful,
            rid_style: RidStyle::Current,
            jscode2session_grant_type: GrantTypeCheck::Required,
            lenient_force_refresh: true,
            journal_capacity: 10_000,
            accept_foreign_codes: false,
            foreign_code_user: UserHandle::new("developer"),
            checkencryptedmsg_unknown: UnknownEncryptedMsg::Errcode1,
            token_daily_limit: 10_000,
            stub_unmodelled: false,
        }
    }
}

impl Options {
    /// These options with the fields present in `patch` (a JSON object) replaced.
    pub fn patched(&self, patch: &serde_json::Value) -> Result<Options, String> {
        let serde_json::Value::Object(fields) = patch else {
            return Err("options must be a JSON object".into());
        };
        let mut merged = serde_json::to_value(self).map_err(|e| e.to_string())?;
        if let serde_json::Value::Object(m) = &mut merged {
            for (k, v) in fields {
                m.insert(k.clone(), v.clone());
            }
        }
        let opts: Options = serde_path_to_error::deserialize(merged)
            .map_err(|e| format!("invalid options at `{}`: {}", e.path(), e.inner()))?;
        opts.validate()?;
        Ok(opts)
    }

    fn validate(&self) -> Result<(), String> {
        if self.journal_capacity == 0 {
            return Err("`journal_capacity` must be at least 1".into());
        }
        let handle = self.foreign_code_user.as_str();
        if handle.is_empty() || handle.len() > 128 || handle.chars().any(char::is_control) {
            return Err(
                "`foreign_code_user` must be a user handle: 1 to 128 bytes, no control characters"
                    .into(),
            );
        }
        if self.token_daily_limit == 0 {
            return Err("`token_daily_limit` must be at least 1".into());
        }
        Ok(())
    }
}

/// What kind of WeChat account an app is. Both fetch tokens; apps of both kinds under one
/// open-platform account give a user the same unionid.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// A mini-program: `wx.login`, jscode2session, the phone button, open data, payments.
    #[default]
    MiniProgram,
    /// An official account (公众号): users follow it; `cgi-bin/user/info` tells about them.
    OfficialAccount,
}

impl AppKind {
    /// How the kind is written on the control plane.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::MiniProgram => "mini_program",
            AppKind::OfficialAccount => "official_account",
        }
    }

    /// The kind in a sentence: `a mini-program`, `an official account`.
    pub fn described(self) -> &'static str {
        match self {
            AppKind::MiniProgram => "a mini-program",
            AppKind::OfficialAccount => "an official account",
        }
    }
}

/// An app to create (`POST /apps`) or the fields of an app to change (`PATCH /apps/{appid}`). Every
/// field may be left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AppSpec {
    /// The appid (`wx` + 16 hex digits is the real shape; any non-empty text of at most 64 bytes
    /// without control characters is accepted). Left out on create: generated from the seed. On
    /// `PATCH` it may only repeat the appid of the path.
    #[schemars(length(min = 1))]
    pub appid: Option<AppId>,
    /// The AppSecret (at most 128 bytes). Left out on create: 32 hex digits derived from the seed;
    /// on `PATCH`: unchanged.
    #[schemars(length(min = 1))]
    pub secret: Option<AppSecret>,
    /// Open-platform account the app is bound to (at most 64 bytes); unionids are returned only
    /// when set. Left out or `null` on `PATCH`: unchanged (a binding cannot be removed).
    #[schemars(length(min = 1))]
    pub open_platform: Option<PlatformId>,
    /// A name for humans. Left out or `null` on `PATCH`: unchanged.
    pub name: Option<String>,
    /// User-info rules of the app's `wx.getUserInfo` / `wx.getUserProfile`. Left out or `null` on
    /// create: anonymous (WeChat's current behaviour); on `PATCH`: unchanged.
    pub profile_era: Option<crate::opendata::RuleEra>,
    /// Successful phone-number buttons (`getPhoneNumber` and `getRealtimePhoneNumber` together) the
    /// app has left; each grant uses one, and at 0 the button answers `errno` 1400001. Left out or
    /// `null` on create: unlimited; on `PATCH`: unchanged.
    pub phone_quota: Option<u64>,
    /// Left out or `null` on create: `mini_program`. It cannot be changed: on `PATCH` only the
    /// app's own kind (or nothing) is taken.
    pub kind: Option<AppKind>,
}

/// A third-party platform to create (also the seed file's `platforms` entries). Every field may be
/// left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PlatformSpec {
    /// The platform's appid; left out or `null`: `wx` + 16 hex digits from the seed.
    #[schemars(length(min = 1))]
    pub component_appid: Option<AppId>,
    /// Its AppSecret; left out or `null`: 32 hex digits from the seed.
    #[schemars(length(min = 1))]
    pub component_appsecret: Option<AppSecret>,
    /// A name for humans.
    pub name: Option<String>,
    /// Apps (mini-programs) that have authorised the platform from the start.
    pub authorizations: Vec<AppId>,
}

/// A phone number with its country calling code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneSpec {
    /// Country calling code without `+`, 1 to 4 digits.
    #[schemars(regex(pattern = r"^[0-9]{1,4}$"))]
    pub country_code: String,
    /// The number without the country code, 4 to 20 digits.
    #[schemars(regex(pattern = r"^[0-9]{4,20}$"))]
    pub number: String,
}

/// A WeChat user to create (`POST /users`, only `handle` needed; everything else derived from the
/// seed) or the fields of a user to change (`PATCH /users/{handle}`). Apart from `phone` and
/// `risk_rank`, a field left out or `null` keeps its value (or default).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserSpec {
    /// The stable handle tests name the user by (`alice`): non-empty, at most 128 bytes, no control
    /// characters. Required on create; on `PATCH` it may only repeat the handle of the path.
    #[schemars(length(min = 1, max = 128))]
    pub handle: Option<UserHandle>,
    /// Nickname. Default on create: the handle. At most 1024 bytes.
    pub nickname: Option<String>,
    /// Avatar URL. Default on create: derived. At most 1024 bytes.
    pub avatar_url: Option<String>,
    /// 0 unknown, 1 male, 2 female. Default on create: 1 or 2, derived.
    #[schemars(range(max = 2))]
    pub gender: Option<u8>,
    /// Country as WeChat reports it. Default `CN`. At most 1024 bytes.
    pub country: Option<String>,
    /// Province. Default `Guangdong`. At most 1024 bytes.
    pub province: Option<String>,
    /// City. Default `Guangzhou`. At most 1024 bytes.
    pub city: Option<String>,
    /// Language. Default `zh_CN`. At most 1024 bytes.
    pub language: Option<String>,
    /// Phone number. Left out: on create a derived mainland number (`86`, 11 digits), on `PATCH`
    /// unchanged. `null`: the user has no phone (then `/wx/getPhoneNumber` answers `no_phone`).
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub phone: Option<Option<PhoneSpec>>,
    /// High-risk users get 40226 `code blocked` on jscode2session. Default false.
    pub high_risk: Option<bool>,
    /// What getuserriskrank answers as `risk_rank` for the user, 0 (lowest) to 4. Left out: on
    /// create none, on `PATCH` unchanged; `null`: none. Without a rank of its own a user answers 4
    /// while `high_risk` is true, else 0: setting `high_risk` alone makes the rank 4, an explicit
    /// rank wins over `high_risk`.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 4))]
    pub risk_rank: Option<Option<u8>>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The seed file: options, apps, users and third-party platforms loaded at start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedFile {
    /// Options to change from their defaults (same fields as `PATCH /__mock__/options`).
    pub options: Option<serde_json::Value>,
    /// Apps besides the default app.
    pub apps: Vec<AppSpec>,
    /// Users to create up front.
    pub users: Vec<UserSpec>,
    /// Changes to the SMS gateway's seeded configuration (same fields as
    /// `PATCH /__mock__/sms/config`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<crate::tencent::SmsConfigPatch>,
    /// Third-party platforms to create up front (after the apps they name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformSpec>,
}

impl SeedFile {
    /// Parses a seed file (JSON), naming the offending field on error.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de)
            .map_err(|e| format!("invalid seed file at `{}`: {}", e.path(), e.inner()))
    }
}

mod duration_text {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

mod opt_duration_text {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => parse_duration(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_patch_replaces_only_given_fields_and_names_bad_ones() {
        let o = Options::default();
        let p = o
            .patched(&serde_json::json!({"strict": true, "session_key_min_rotation": "0s"}))
            .expect("valid patch");
        assert!(p.strict);
        assert_eq!(p.session_key_min_rotation, Duration::ZERO);
        assert_eq!(p.login_quota_per_minute, 100);
        let e = o
            .patched(&serde_json::json!({"quota_scope": "planet"}))
            .unwrap_err();
        assert!(e.contains("quota_scope"), "{e}");
        let e = o.patched(&serde_json::json!({"stirct": true})).unwrap_err();
        assert!(e.contains("stirct"), "{e}");
        assert_eq!(o.token_daily_limit, 10_000);
        assert!(!o.stub_unmodelled);
        let e = o
            .patched(&serde_json::json!({"token_daily_limit": 0}))
            .unwrap_err();
        assert!(e.contains("token_daily_limit"), "{e}");
        let p = o
            .patched(&serde_json::json!({"token_daily_limit": 3, "stub_unmodelled": true}))
            .expect("valid patch");
        assert_eq!((p.token_daily_limit, p.stub_unmodelled), (3, true));
    }

    #[test]
    fn user_phone_distinguishes_absent_and_null() {
        let absent: UserSpec = serde_json::from_str(r#"{"handle":"a"}"#).expect("valid");
        assert_eq!(absent.phone, None);
        let null: UserSpec = serde_json::from_str(r#"{"handle":"a","phone":null}"#).expect("valid");
        assert_eq!(null.phone, Some(None));
    }

    #[test]
    fn seed_file_errors_name_the_field() {
        let e = SeedFile::from_json(r#"{"users":[{"handle":"a","gender":"x"}]}"#).unwrap_err();
        assert!(e.contains("users[0].gender"), "{e}");
    }

    #[test]
    fn the_control_plane_is_open_to_the_network_only_with_a_token_or_when_asked() {
        let on = |listen: &str, token: Option<&str>, open: bool| Config {
            listen: listen.parse().unwrap(),
            control_token: token.map(str::to_owned),
            open_control_plane: open,
            ..Config::default()
        };
        assert!(on("127.0.0.1:9100", None, false).check().is_ok());
        assert!(on("[::1]:9100", None, false).check().is_ok());
        let e = on("0.0.0.0:9100", None, false).check().unwrap_err();
        assert!(e.contains("0.0.0.0:9100 (not loopback)"), "{e}");
        assert!(on("192.168.1.5:9100", None, false).check().is_err());
        assert!(on("0.0.0.0:9100", Some("s3cret"), false).check().is_ok());
        assert!(on("0.0.0.0:9100", None, true).check().is_ok());
        assert!(on("127.0.0.1:9100", Some(""), false).check().is_err());
    }
}
