//! The system under test, described by a target profile (version 2): where a backend takes the
//! `wx.login` code, where its token is and how it is sent back, which routes serve the other
//! semantic actions, and how it says each outcome. login-core's own profile is a file shipped
//! with the harness (`harness/profiles/login-core.yaml`), loaded like any team's.

pub mod outcome;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use outcome::{OutcomeName, Rule, Rules, StatusItem, StatusSpec};

/// login-core's profile, as shipped (`extends: login-core` names it).
pub const LOGIN_CORE_PROFILE: &str = include_str!("../../profiles/login-core.yaml");

/// The profile format this harness reads.
pub const VERSION: u32 = 2;

/// How to talk to a backend: a target profile file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// The format's version: `2`.
    pub version: u32,
    /// Another profile this one starts from: `login-core` (the shipped one) or a path relative
    /// to this file. Keys given here replace the other's (apps, routes and outcomes one by one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// A name for reports (`flask-wechatpy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The backend's base URL (`--target` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The apps the backend serves, by the names scenarios use: `default`, and `second` for a
    /// second app of the same open-platform account. Left out: the mock's default app.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, TargetApp>,
    /// Where the login token is and how later requests carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenRule>,
    /// Where the user's id is in the login answer (a JSONPath, `$.user.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// How long the backend waits for WeChat (`2s`): scenarios about a WeChat slower than
    /// that delay their faults past it. Left out: those scenarios are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_timeout: Option<String>,
    /// How the backend takes phone numbers: `national` (`13800138000`, the default) or
    /// `e164` (`+8613800138000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_format: Option<PhoneFormat>,
    /// The backend's SMS account at Tencent Cloud SMS, given to the mock's gateway before the
    /// run. Left out: the mock's gateway keeps its own (configure the backend with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsAccount>,
    /// The routes of the semantic actions; only `login` is required.
    #[serde(default)]
    pub routes: Routes,
    /// How the backend says each outcome; left-out outcomes keep the defaults.
    #[serde(default)]
    pub outcomes: Outcomes,
    /// Run before every scenario (then scenarios run one at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<ResetHook>,
}

/// The credentials of an app the backend serves.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetApp {
    /// appid.
    pub appid: String,
    /// AppSecret.
    pub secret: String,
    /// The open-platform account the app is bound to, if any (then WeChat sends unionids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_platform: Option<String>,
    /// What the backend does with a WeChat identity it does not know: `auto` (creates the
    /// account; the default) or `phone_required` (answers `registration_required` until the
    /// user gives a phone number). Scenarios about the phone-first flows log in to an app
    /// that registers by phone (`phone_first`, by convention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// What a backend does on a login by a WeChat identity it does not know yet.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Creates the account.
    #[default]
    Auto,
    /// Answers `registration_required` (with a ticket) until the user gives a phone number.
    PhoneRequired,
}

impl std::fmt::Display for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::PhoneRequired => "phone_required",
        })
    }
}

/// How a backend takes phone numbers.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PhoneFormat {
    /// A mainland number's 11 digits: `13800138000`.
    #[default]
    National,
    /// E.164: `+8613800138000`.
    E164,
}

impl PhoneFormat {
    /// A mainland number (11 digits, as scenarios write them) in this format.
    pub fn write(self, national: &str) -> String {
        match self {
            Self::National => national.to_owned(),
            Self::E164 => format!("+86{national}"),
        }
    }
}

/// The backend's Tencent Cloud SMS account, which the harness gives the mock's SMS gateway
/// before the run so that the backend's signed `SendSms` calls are accepted there.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsAccount {
    /// The API key's SecretId.
    pub secret_id: String,
    /// The API key's SecretKey.
    pub secret_key: String,
    /// The SmsSdkAppId the backend sends with.
    pub sdk_app_id: String,
    /// The sign name (`SignName`) it sends with.
    pub sign_name: String,
    /// The verification template (`TemplateId`) it sends with.
    pub template_id: String,
    /// That template's text, parameters written `{1}`, `{2}`; the first is the code. Default:
    /// the mock's login template (`{1}` the code, `{2}` the minutes it is valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// Where the token is and how it goes back.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRule {
    /// JSONPath of the token in the login (and refresh) answer; default `$.token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The token is this cookie, set by the login answer and sent back as a cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// The header carrying it; default `Authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Text before it in that header; default `Bearer ` (give `""` for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Where a value goes in a request: exactly one of a JSON body field (a dotted path such as
/// `data.code`), a query parameter or a header.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FieldAt {
    /// A JSON body field; dots nest (`data.jsCode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// A query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// The routes of the semantic actions. Scenarios that need a route left out are skipped.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// Log in with a `wx.login` code (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<LoginRoute>,
    /// Who am I: the user behind a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whoami: Option<WhoamiRoute>,
    /// A new token for the session; the old one stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RefreshRoute>,
    /// Revoke the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout: Option<Route>,
    /// Is the stored session_key still current (WeChat's checksession)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_check: Option<Route>,
    /// Submit `wx.getUserProfile` / `wx.getUserInfo` data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRoute>,
    /// Bind a phone number by a getPhoneNumber code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_code: Option<PhoneCodeRoute>,
    /// Bind a phone number by the legacy encryptedData/iv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_encrypted: Option<EncryptedRoute>,
    /// Send a verification code by SMS to a phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_send: Option<SmsSendRoute>,
    /// Log in with a phone number and the SMS code (with a registration ticket: bind its
    /// WeChat identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_sms: Option<PhoneLoginRoute>,
    /// Log in with a phone number and a password (with a registration ticket: bind its WeChat
    /// identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_password: Option<PhoneLoginRoute>,
}

impl Routes {
    /// Every route given, as (key, method, path).
    fn each(&self) -> Vec<(&'static str, &Option<String>, &str)> {
        let mut out = Vec::new();
        if let Some(x) = &self.login {
            out.push(("login", &x.method, x.path.as_str()));
        }
        if let Some(x) = &self.whoami {
            out.push(("whoami", &x.method, x.path.as_str()));
        }
        if let Some(x) = &self.refresh {
            out.push(("refresh", &x.method, x.path.as_str()));
        }
        for (key, route) in [
            ("logout", &self.logout),
            ("session_check", &self.session_check),
        ] {
            if let Some(x) = route {
                out.push((key, &x.method, x.path.as_str()));
            }
        }
        if let Some(x) = &self.profile {
            out.push(("profile", &x.method, x.path.as_str()));
        }
        if let Some(x) = &self.phone_code {
            out.push(("phone_code", &x.method, x.path.as_str()));
        }
        if let Some(x) = &self.phone_encrypted {
            out.push(("phone_encrypted", &x.method, x.path.as_str()));
        }
        if let Some(x) = &self.sms_send {
            out.push(("sms_send", &x.method, x.path.as_str()));
        }
        for (key, route) in [
            ("login_sms", &self.login_sms),
            ("login_password", &self.login_password),
        ] {
            if let Some(x) = route {
                out.push((key, &x.method, x.path.as_str()));
            }
        }
        out
    }
}

/// The login route.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path (`/api/login`).
    pub path: String,
    /// Where the code goes; default `{ json: code }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<FieldAt>,
    /// Where the appid goes when a scenario logs in to another app; left out: never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<FieldAt>,
    /// Where a getPhoneNumber code sent with the login code goes (a login that gives the
    /// user's number in one call); left out: scenarios doing that are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_code: Option<FieldAt>,
    /// JSONPath of the registration ticket in a `registration_required` answer
    /// (`$.registration.ticket`); the login saves it as `ticket`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Sending an SMS code: the JSON body fields (dots nest).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsSendRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path (`/api/sms/send`).
    pub path: String,
    /// Field for the phone number; default `phone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Fields sent as they are with every request (`{ purpose: login }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<serde_json::Map<String, Value>>,
}

/// A phone login (SMS code or password): the JSON body fields (dots nest).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneLoginRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path (`/api/login/sms`, `/api/login/password`).
    pub path: String,
    /// Field for the phone number; default `phone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Field for the secret: the SMS code (default `code`) or the password (default
    /// `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Field for the registration ticket; default `ticket`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Field for the appid when a scenario logs in to another app; left out: never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// Fields sent as they are with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<serde_json::Map<String, Value>>,
}

/// A route with a token and no body.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Default `POST` for logout, `GET` for session_check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path.
    pub path: String,
}

/// Who am I.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiRoute {
    /// Default `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path.
    pub path: String,
    /// JSONPath of the user id in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Token refresh.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path.
    pub path: String,
    /// JSONPath of the new token in the answer; default the token's `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Profile data submission: the JSON body fields (dots nest).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path.
    pub path: String,
    /// Field for `encryptedData`; default `encryptedData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_data: Option<String>,
    /// Field for `iv`; default `iv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// Field for `rawData`; left out: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_data: Option<String>,
    /// Field for `signature`; left out: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Phone number by code.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCodeRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path.
    pub path: String,
    /// The JSON field of the code; default `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Legacy encrypted phone data.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptedRoute {
    /// Default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path.
    pub path: String,
    /// Field for `encryptedData`; default `encryptedData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_data: Option<String>,
    /// Field for `iv`; default `iv`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// How the backend says each outcome. An answer is classified by the first outcome, in the
/// order of the fields here, with a rule it matches.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    /// Success. Default: any 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<Rules>,
    /// The login found no account for the WeChat identity and the backend wants the user to
    /// register (by phone) first. Classified before `relogin`. No default: a profile says how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_required: Option<Rules>,
    /// A phone login's SMS code or password was refused: wrong, expired, used, out of
    /// attempts, or no password set. Classified before `relogin`. No default: a profile says
    /// how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_rejected: Option<Rules>,
    /// Log in again: the code was invalid, used or expired, the session_key is stale, the
    /// token is missing or expired. Default: 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relogin: Option<Rules>,
    /// WeChat said the user is high-risk (40226). Default: 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Rules>,
    /// Too many logins (WeChat 45011, or the backend's own limit). Default: 429.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limited: Option<Rules>,
    /// The phone number belongs to someone else. Default: 409.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Rules>,
    /// WeChat could not be reached or kept failing (-1, timeouts, bad gateway). Default: 502,
    /// 503 or 504.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_unavailable: Option<Rules>,
    /// The request was refused as bad (open data failing its checks, a bad phone code).
    /// Default: 400 or 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_request: Option<Rules>,
}

/// A command or an HTTP call run before every scenario.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetHook {
    /// A shell command (`sh -c`), run in the profile's folder; it must exit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A URL to call; it must answer 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The method for `url`; default `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), location.map_or(String::new(), |(l, c)| format!(":{l}:{c}")))]
pub struct ProfileError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl TargetProfile {
    /// login-core's shipped profile, parsed once (a test keeps the file valid).
    pub fn shipped() -> &'static Self {
        static SHIPPED: std::sync::OnceLock<TargetProfile> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(|| {
            Self::parse(Path::new("login-core.yaml"), LOGIN_CORE_PROFILE)
                .and_then(|p| p.resolve(Path::new(".")))
                .unwrap_or_default()
        })
    }

    /// login-core's shipped profile at `base_url`.
    pub fn login_core(base_url: String) -> Self {
        Self {
            base_url: Some(base_url),
            ..Self::shipped().clone()
        }
    }

    /// Reads a profile file (YAML or JSON), follows `extends` and checks it.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            path: path.to_owned(),
            location: None,
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(path, &text)?.resolve(base)
    }

    /// Parses one file, without following `extends` (`path` is for errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ProfileError> {
        let p: Self = yaml_serde::from_str(text).map_err(|e| ProfileError {
            path: path.to_owned(),
            location: e.location().map(|l| (l.line(), l.column())),
            message: e.to_string(),
        })?;
        let err = |key: &str, message: String| ProfileError {
            path: path.to_owned(),
            location: key_location(text, key),
            message,
        };
        if p.version != VERSION {
            return Err(err(
                "version",
                format!(
                    "version: this harness reads version {VERSION} profiles, not {}; write `version: {VERSION}` (see scenarios/README.md, \"Your own backend\")",
                    p.version
                ),
            ));
        }
        p.check_fields().map_err(|(key, m)| err(key, m))?;
        Ok(p)
    }

    /// Follows `extends`, then checks that the result can drive a backend.
    fn resolve(self, base: &Path) -> Result<Self, ProfileError> {
        let merged = match &self.extends {
            None => self,
            Some(parent) => {
                let parent_profile = if parent == "login-core" {
                    Self::parse(Path::new("login-core (shipped)"), LOGIN_CORE_PROFILE)?
                } else {
                    let path = base.join(parent);
                    let text = std::fs::read_to_string(&path).map_err(|e| ProfileError {
                        path: path.clone(),
                        location: None,
                        message: format!("extends: {e}"),
                    })?;
                    let p = Self::parse(&path, &text)?;
                    if p.extends.is_some() {
                        return Err(ProfileError {
                            path,
                            location: key_location(&text, "extends"),
                            message: "extends: a profile that is extended may not extend another; merge them into one file".into(),
                        });
                    }
                    p
                };
                self.over(parent_profile)
            }
        };
        if merged.routes.login.is_none() {
            return Err(ProfileError {
                path: base.to_owned(),
                location: None,
                message: "routes.login: missing; every profile needs the login route, e.g. `routes: { login: { path: /api/login, code: { json: code } } }`".into(),
            });
        }
        Ok(merged)
    }

    /// This profile's keys over `parent`'s.
    fn over(self, parent: Self) -> Self {
        let mut apps = parent.apps;
        apps.extend(self.apps);
        let (r, pr) = (self.routes, parent.routes);
        let (o, po) = (self.outcomes, parent.outcomes);
        Self {
            version: self.version,
            extends: None,
            name: self.name.or(parent.name),
            base_url: self.base_url.or(parent.base_url),
            apps,
            token: self.token.or(parent.token),
            user_id: self.user_id.or(parent.user_id),
            upstream_timeout: self.upstream_timeout.or(parent.upstream_timeout),
            phone_format: self.phone_format.or(parent.phone_format),
            sms: self.sms.or(parent.sms),
            routes: Routes {
                login: r.login.or(pr.login),
                whoami: r.whoami.or(pr.whoami),
                refresh: r.refresh.or(pr.refresh),
                logout: r.logout.or(pr.logout),
                session_check: r.session_check.or(pr.session_check),
                profile: r.profile.or(pr.profile),
                phone_code: r.phone_code.or(pr.phone_code),
                phone_encrypted: r.phone_encrypted.or(pr.phone_encrypted),
                sms_send: r.sms_send.or(pr.sms_send),
                login_sms: r.login_sms.or(pr.login_sms),
                login_password: r.login_password.or(pr.login_password),
            },
            outcomes: Outcomes {
                ok: o.ok.or(po.ok),
                registration_required: o.registration_required.or(po.registration_required),
                credentials_rejected: o.credentials_rejected.or(po.credentials_rejected),
                relogin: o.relogin.or(po.relogin),
                blocked: o.blocked.or(po.blocked),
                rate_limited: o.rate_limited.or(po.rate_limited),
                conflict: o.conflict.or(po.conflict),
                upstream_unavailable: o.upstream_unavailable.or(po.upstream_unavailable),
                bad_request: o.bad_request.or(po.bad_request),
            },
            reset: self.reset.or(parent.reset),
        }
    }

    /// Checks what the types cannot say: one place per field, valid JSONPaths, durations,
    /// methods, status classes and regular expressions. Errors name the key.
    fn check_fields(&self) -> Result<(), (&'static str, String)> {
        let path_ok =
            |key: &'static str, p: &Option<String>| -> Result<(), (&'static str, String)> {
                if let Some(p) = p {
                    serde_json_path::JsonPath::parse(p).map_err(|e| {
                        (
                            key,
                            format!(
                                "{key}: {p:?} is not a JSONPath ({e}); write it like `$.data.token`"
                            ),
                        )
                    })?;
                }
                Ok(())
            };
        let method_ok =
            |key: &'static str, m: &Option<String>| -> Result<(), (&'static str, String)> {
                match m {
                    Some(m)
                        if reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).is_err()
                            || m.is_empty() =>
                    {
                        Err((
                            key,
                            format!("{key}: {m:?} is not an HTTP method (GET, POST, PUT, ...)"),
                        ))
                    }
                    _ => Ok(()),
                }
            };
        let path_is_path = |key: &'static str, p: &str| -> Result<(), (&'static str, String)> {
            if p.starts_with('/') {
                Ok(())
            } else {
                Err((
                    key,
                    format!(
                        "{key}: {p:?} must start with `/` (a path on the backend, such as /api/login)"
                    ),
                ))
            }
        };
        if let Some(t) = &self.token {
            path_ok("token", &t.path)?;
            if t.cookie.is_some() && t.path.is_some() {
                return Err(("token", "token: give `path` (the token is in the answer's JSON) or `cookie` (the answer sets it), not both".into()));
            }
            if let Some(h) = &t.header {
                if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    return Err(("token", format!("token.header: {h:?} is not a header name")));
                }
            }
        }
        path_ok("user_id", &self.user_id)?;
        if let Some(d) = &self.upstream_timeout {
            humantime::parse_duration(d).map_err(|e| {
                ("upstream_timeout", format!("upstream_timeout: {d:?} is not a duration ({e}); write it like `2s` or `1500ms`"))
            })?;
        }
        for (key, method, path) in self.routes.each() {
            method_ok(key, method)?;
            path_is_path(key, path)?;
        }
        let r = &self.routes;
        if let Some(l) = &r.login {
            path_ok("login", &l.ticket)?;
            for (what, f) in [
                ("routes.login.code", l.code.as_ref()),
                ("routes.login.appid", l.appid.as_ref()),
                ("routes.login.phone_code", l.phone_code.as_ref()),
            ] {
                if let Some(f) = f {
                    let n = [&f.json, &f.query, &f.header]
                        .iter()
                        .filter(|x| x.is_some())
                        .count();
                    if n != 1 {
                        return Err((
                            "login",
                            format!(
                                "{what}: give exactly one of `json` (a body field), `query` (a query parameter) or `header`, such as `{{ json: code }}`; found {n}"
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(w) = &r.whoami {
            path_ok("whoami", &w.user_id)?;
        }
        if let Some(x) = &r.refresh {
            path_ok("refresh", &x.token)?;
        }
        for (name, rules) in self.outcomes.iter_given() {
            for rule in rules.iter() {
                rule.check()
                    .map_err(|m| (name.key(), format!("outcomes.{}: {m}", name.key())))?;
            }
        }
        if let Some(h) = &self.reset {
            if h.command.is_some() == h.url.is_some() {
                return Err((
                    "reset",
                    "reset: give `command` (a shell command) or `url` (an HTTP call), one of them"
                        .into(),
                ));
            }
            method_ok("reset", &h.method)?;
        }
        Ok(())
    }

    /// A mainland number as the backend takes it.
    pub fn phone(&self, national: &str) -> String {
        self.phone_format.unwrap_or_default().write(national)
    }

    /// The registration policy of a served app (by scenario name): `auto` unless the
    /// profile says.
    pub fn registration(&self, app: &str) -> Registration {
        self.apps
            .get(app)
            .and_then(|a| a.registration)
            .unwrap_or_default()
    }

    /// The base URL (set by the file or `--target`).
    pub fn base(&self) -> &str {
        self.base_url.as_deref().unwrap_or_default()
    }

    /// The login route (checked present when loaded).
    pub fn login_route(&self) -> LoginRoute {
        self.routes.login.clone().unwrap_or(LoginRoute {
            method: None,
            path: "/api/login".into(),
            code: None,
            appid: None,
            phone_code: None,
            ticket: None,
        })
    }

    /// Where the login code goes.
    pub fn code_at(&self) -> FieldAt {
        self.routes
            .login
            .as_ref()
            .and_then(|l| l.code.clone())
            .unwrap_or(FieldAt {
                json: Some("code".into()),
                ..FieldAt::default()
            })
    }

    /// JSONPath of the token in a login answer (none: a cookie carries it).
    pub fn token_path(&self) -> Option<String> {
        match &self.token {
            Some(TokenRule {
                cookie: Some(_), ..
            }) => None,
            Some(TokenRule { path: Some(p), .. }) => Some(p.clone()),
            _ => Some("$.token".into()),
        }
    }

    /// The cookie carrying the token, if it is one.
    pub fn token_cookie(&self) -> Option<&str> {
        self.token.as_ref().and_then(|t| t.cookie.as_deref())
    }

    /// The header and prefix that carry the token.
    pub fn token_header(&self) -> (String, String) {
        let t = self.token.as_ref();
        (
            t.and_then(|t| t.header.clone())
                .unwrap_or_else(|| "Authorization".into()),
            t.and_then(|t| t.prefix.clone())
                .unwrap_or_else(|| "Bearer ".into()),
        )
    }

    /// The backend's upstream timeout, if the profile says.
    pub fn upstream_timeout(&self) -> Option<Duration> {
        self.upstream_timeout
            .as_deref()
            .and_then(|d| humantime::parse_duration(d).ok())
    }

    /// A name for reports.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.base().to_owned())
    }
}

/// The 1-based line and column of the first line that starts (after indentation) with `key:`.
fn key_location(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let rest = trimmed.strip_prefix(key)?;
        rest.trim_start()
            .starts_with(':')
            .then(|| (i + 1, line.len() - trimmed.len() + 1))
    })
}

/// The JSON Schema of target profiles.
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(TargetProfile)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_login_core_profile_loads() {
        let p = TargetProfile::login_core("http://x".into());
        assert_eq!(p.name.as_deref(), Some("login-core"));
        assert_eq!(
            p.routes.login.as_ref().map(|l| l.path.as_str()),
            Some("/api/login")
        );
        assert!(p.routes.refresh.is_some() && p.routes.phone_encrypted.is_some());
        assert_eq!(p.token_path().as_deref(), Some("$.token"));
    }

    #[test]
    fn mistakes_name_the_line_and_the_fix() {
        let e = TargetProfile::parse(
            Path::new("p.yaml"),
            "version: 2\nroutes:\n  login:\n    pth: /x\n",
        )
        .expect_err("unknown key");
        assert!(e.to_string().starts_with("p.yaml:4:"), "{e}");
        assert!(e.to_string().contains("pth"), "{e}");
        let e = TargetProfile::parse(Path::new("p.yaml"), "version: 1\n").expect_err("version");
        assert!(e.to_string().contains("p.yaml:1:1: version"), "{e}");
        let e = TargetProfile::parse(
            Path::new("p.yaml"),
            "version: 2\nroutes:\n  login:\n    path: /x\n    code: { json: a, query: b }\n",
        )
        .expect_err("two places");
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = TargetProfile::parse(Path::new("p.yaml"), "version: 2\nuser_id: \"user.id\"\n")
            .expect_err("jsonpath");
        assert!(e.to_string().contains("p.yaml:2:1: user_id"), "{e}");
        let e = TargetProfile::parse(Path::new("p.yaml"), "version: 2\nupstream_timeout: soon\n")
            .expect_err("duration");
        assert!(e.to_string().contains("upstream_timeout"), "{e}");
        let e = TargetProfile::parse(
            Path::new("p.yaml"),
            "version: 2\noutcomes:\n  ok: { status: 6xx }\n",
        )
        .expect_err("status class");
        assert!(e.to_string().contains("outcomes.ok"), "{e}");
    }

    #[test]
    fn a_missing_login_route_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, "version: 2\nbase_url: http://x\n").expect("write");
        let e = TargetProfile::load(&path).expect_err("no login");
        assert!(e.to_string().contains("routes.login: missing"), "{e}");
    }

    #[test]
    fn extends_takes_the_parents_keys_unless_given() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            "version: 2\nextends: login-core\nname: mine\napps:\n  second: { appid: wx2, secret: s2 }\nroutes:\n  logout: { path: /bye }\n",
        )
        .expect("write");
        let p = TargetProfile::load(&path).expect("loads");
        assert_eq!(p.name.as_deref(), Some("mine"));
        assert_eq!(
            p.routes.logout.as_ref().map(|r| r.path.as_str()),
            Some("/bye")
        );
        assert_eq!(
            p.routes.whoami.as_ref().map(|r| r.path.as_str()),
            Some("/api/me")
        );
        assert!(p.apps.contains_key("second"));
        assert!(p.outcomes.relogin.is_some());
    }

    #[test]
    fn phone_first_keys_load_merge_and_are_checked() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            "version: 2\nextends: login-core\nphone_format: e164\napps:\n  phone_first: { appid: wx1, secret: s, registration: phone_required }\nroutes:\n  login_sms: { path: /sms/login, secret: smsCode }\n",
        )
        .expect("write");
        let p = TargetProfile::load(&path).expect("loads");
        assert_eq!(p.phone("13800138000"), "+8613800138000");
        assert_eq!(p.registration("phone_first"), Registration::PhoneRequired);
        assert_eq!(p.registration("default"), Registration::Auto);
        let sms = p.routes.login_sms.as_ref().expect("login_sms");
        assert_eq!(
            (sms.path.as_str(), sms.secret.as_deref()),
            ("/sms/login", Some("smsCode"))
        );
        assert!(p.routes.login_password.is_some() && p.routes.sms_send.is_some());
        assert!(p.outcomes.credentials_rejected.is_some());
        let shipped = TargetProfile::shipped();
        assert_eq!(shipped.phone("13800138000"), "13800138000");
        let e = TargetProfile::parse(
            Path::new("p.yaml"),
            "version: 2\nroutes:\n  login: { path: /x, ticket: \"registration.ticket\" }\n",
        )
        .expect_err("jsonpath");
        assert!(e.to_string().contains("login"), "{e}");
        let e = TargetProfile::parse(
            Path::new("p.yaml"),
            "version: 2\nroutes:\n  sms_send: { path: sms }\n",
        )
        .expect_err("path");
        assert!(e.to_string().contains("sms_send"), "{e}");
        let e = TargetProfile::parse(Path::new("p.yaml"), "version: 2\nphone_format: local\n")
            .expect_err("format");
        assert!(e.to_string().contains("phone_format"), "{e}");
    }
}
