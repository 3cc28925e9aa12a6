//! The scenario format: one YAML file, one user journey. Types here are the contract: the JSON
//! Schema in `scenarios/schema.json` is generated from them, and [`load`] turns a file into a
//! [`Scenario`] with errors that name the file, line and field.

pub mod generate;
pub mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::target::{OutcomeName, Registration, StatusSpec};

/// A scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the journey is, in a sentence.
    pub name: String,
    /// Why it matters, for someone reading the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags to select scenarios by (`--tag login`). `login-core` marks scenarios that use
    /// login-core's own API beyond the login endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Generated inputs: each becomes a variable, and the scenario runs once per case with
    /// values drawn from these ranges; a failure is shrunk to the simplest failing values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generate: BTreeMap<String, generate::Generator>,
    /// How many cases to run when `generate` is given (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<u32>,
    /// The world before the first step.
    #[serde(default)]
    pub setup: Setup,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// The world before the first step.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Start of the virtual clock: RFC 3339 (`2024-08-22T01:14:57Z`) or Unix seconds.
    /// Default: 2024-08-22T01:14:57Z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Value>,
    /// The mock's seed (same seed, same appids, openids and keys). Default: the file's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// Mock options, as `PATCH /__mock__/options` takes them (`strict`,
    /// `login_quota_per_minute`, `session_key_min_rotation`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<Value>,
    /// Apps besides the mock's default one (named `default`), or changes to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppSetup>,
    /// WeChat users, as `POST /__mock__/users` takes them (`handle`, `nickname`, `phone`,
    /// `high_risk`, ...). Users not listed are created on their first `wx.login`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<Value>,
    /// Changes to the embedded login-core's configuration (`sessions`, `limits`, `upstream`),
    /// as in its TOML file. Ignored with `--target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Value>,
    /// Embedded login-core instances (1 to 8; default 1). Several share a new PostgreSQL schema
    /// behind a round-robin proxy: a request goes to the next one, or to the one its
    /// `x-harness-instance: N` header names (from 0), which every answer names. Needs
    /// `LOGIN_CORE_TEST_POSTGRES` (else skipped, saying so); skipped against a team's backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
}

/// An app in the mock.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSetup {
    /// How steps name the app (`${apps.NAME.appid}`); `default` is the mock's default app.
    pub name: String,
    /// The appid; default: derived from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The AppSecret; default: derived from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The open-platform account; apps sharing one get unionids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_platform: Option<String>,
    /// `legacy` (real profiles) or `anonymous` ("微信用户"); default anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_era: Option<String>,
    /// What the backend does with a WeChat identity it does not know in this app: `auto`
    /// (creates the account) or `phone_required` (answers `registration_required` with a
    /// ticket). The embedded login-core is configured so; a team's backend must serve the app
    /// so (the profile's `apps.NAME.registration`), or the scenario is skipped. Default: what
    /// the backend does (auto for the embedded login-core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
}

/// One step: exactly one action, with an optional label for the report.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Step {
    /// A label for reports; default: the action's summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The action.
    #[serde(flatten)]
    pub action: Action,
}

/// What a step does.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// The mini-program calls `wx.login`; saves `{code, openid, unionid, session_key, ...}`.
    #[serde(rename = "wx.login")]
    WxLogin(WxCall),
    /// The getPhoneNumber button; saves `{code, encryptedData?, iv?}`.
    #[serde(rename = "wx.getPhoneNumber")]
    WxGetPhoneNumber(WxCall),
    /// `wx.getUserInfo`; saves the callback object.
    #[serde(rename = "wx.getUserInfo")]
    WxGetUserInfo(WxCall),
    /// `wx.getUserProfile`; saves the callback object.
    #[serde(rename = "wx.getUserProfile")]
    WxGetUserProfile(WxCall),
    /// `wx.getShareInfo`; saves the callback object.
    #[serde(rename = "wx.getShareInfo")]
    WxGetShareInfo(WxCall),
    /// `wx.getWeRunData`; saves the callback object.
    #[serde(rename = "wx.getWeRunData")]
    WxGetWeRunData(WxCall),
    /// `wx.login` then the backend's login endpoint; expects 200 and saves the answer (with
    /// `token`).
    #[serde(rename = "login")]
    Login(LoginCall),
    /// An HTTP request to the system under test.
    #[serde(rename = "request")]
    Request(HttpCall),
    /// An HTTP request straight to the mock's WeChat surface (fidelity checks).
    #[serde(rename = "wechat")]
    WeChat(HttpCall),
    /// An HTTP request to the mock's control plane (`/__mock__/...` is added).
    #[serde(rename = "mock")]
    Mock(HttpCall),
    /// Moves the virtual clock.
    #[serde(rename = "clock")]
    Clock(ClockStep),
    /// Adds a fault rule to the mock (the control plane's fault body).
    #[serde(rename = "fault")]
    Fault(Value),
    /// Removes every fault rule.
    #[serde(rename = "clear_faults")]
    ClearFaults(Empty),
    /// Expectations on what the mock received.
    #[serde(rename = "journal")]
    Journal(JournalCheck),
    /// Runs steps several times.
    #[serde(rename = "repeat")]
    Repeat(Repeat),
    /// Who am I: the backend's user behind a login's token (the profile's `whoami` route).
    #[serde(rename = "whoami")]
    Whoami(SessionCall),
    /// A new token for a login's session (the profile's `refresh` route).
    #[serde(rename = "refresh")]
    Refresh(SessionCall),
    /// Revokes a login's token (the profile's `logout` route).
    #[serde(rename = "logout")]
    Logout(SessionCall),
    /// Asks the backend whether the stored session_key is current (`session_check` route).
    #[serde(rename = "session_check")]
    SessionCheck(SessionCall),
    /// Submits `wx.getUserProfile` / `wx.getUserInfo` data (the profile's `profile` route).
    #[serde(rename = "submit_profile")]
    SubmitProfile(ProfileCall),
    /// Binds a phone number by code or legacy encrypted data (`phone_code`,
    /// `phone_encrypted` routes).
    #[serde(rename = "bind_phone")]
    BindPhone(PhoneCall),
    /// Asks the backend to send an SMS code to a number (the profile's `sms_send` route).
    #[serde(rename = "sms_send")]
    SmsSend(SmsSendCall),
    /// The phone reads its messages: the latest SMS the mock's gateway delivered to a number
    /// during the scenario; saves it (`code`, `content`, `phone` in E.164, `template_id`,
    /// `sign_name`, ...) with `number` (the 11 digits the scenario's number became) and `count`.
    #[serde(rename = "sms.inbox")]
    SmsInbox(SmsInboxCall),
    /// Logs in with a phone number and the SMS code (the profile's `login_sms` route); without
    /// `code`, asks for one first (`sms_send`) and reads it from the inbox.
    #[serde(rename = "login_sms")]
    LoginSms(SmsLoginCall),
    /// Logs in with a phone number and a password (the profile's `login_password` route).
    #[serde(rename = "login_password")]
    LoginPassword(PasswordLoginCall),
}

/// A number to send a code to.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsSendCall {
    /// A mainland number, 11 digits (`13800138000`): like setup users' numbers, it is made
    /// unique to the run (the same literal in setup and steps is the same number); a `${...}`
    /// value is sent as it expands.
    pub phone: String,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// A look at a phone's messages.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsInboxCall {
    /// The number, as `sms_send` takes it.
    pub phone: String,
    /// Variable to save the latest message in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    /// Exactly this many messages reached the number during the scenario (`0`: none did).
    /// Left out: at least one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// A login by phone number and SMS code.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsLoginCall {
    /// The number, as `sms_send` takes it.
    pub phone: String,
    /// The code to send (`"${sms.code}"`, `"000000"`); left out, a fresh one is asked for
    /// (`sms_send`, expecting `ok`) and read from the inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A registration ticket from a `registration_required` login (`"${alice.ticket}"`): the
    /// backend binds its WeChat identity to the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The app, by setup name; default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Variable to save the answer in (with `token` and `user_id`), for `as:` later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// A login by phone number and password.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordLoginCall {
    /// The number, as `sms_send` takes it.
    pub phone: String,
    /// The password.
    pub password: String,
    /// A registration ticket from a `registration_required` login (`"${alice.ticket}"`): the
    /// backend binds its WeChat identity to the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The app, by setup name; default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Variable to save the answer in (with `token` and `user_id`), for `as:` later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// A semantic action on a logged-in session.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCall {
    /// The login whose token is sent (a variable saved by `login`, such as `alice`).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Send this token instead of a login's (`"${alice.token}x"`, a forged one); with neither
    /// `as` nor `token` the request carries no token at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Variable to save in: the answer (`whoami`), or the refreshed login (`refresh`, default
    /// the `as` variable itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
}

impl SessionCall {
    /// Who the call is made as, for labels: `alice`, `a given token`, `no token`.
    pub fn who(&self) -> String {
        match (&self.session, &self.token) {
            (Some(s), _) => s.clone(),
            (None, Some(_)) => "a given token".into(),
            (None, None) => "no token".into(),
        }
    }
}

/// Profile data to submit.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileCall {
    /// The login whose token is sent.
    #[serde(rename = "as")]
    pub session: String,
    /// The callback object of `wx.getUserProfile` / `wx.getUserInfo` (`"${p}"`); its
    /// `encryptedData`, `iv`, `rawData` and `signature` go where the profile says.
    pub data: Value,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// A phone number to bind: give `code` or `encrypted`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCall {
    /// The login whose token is sent.
    #[serde(rename = "as")]
    pub session: String,
    /// A getPhoneNumber code (`"${tel.code}"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Value>,
    /// A getPhoneNumber result with the legacy `encryptedData` and `iv` (`"${tel}"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<Value>,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// Steps run `times` times.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many times: a number or `${var}` (a generated count, say).
    pub times: Value,
    /// A variable holding the round number, from 1.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub var: Option<String>,
    /// The steps of one round.
    pub steps: Vec<Step>,
}

/// The action names, as written in files.
pub const ACTIONS: &[&str] = &[
    "wx.login",
    "wx.getPhoneNumber",
    "wx.getUserInfo",
    "wx.getUserProfile",
    "wx.getShareInfo",
    "wx.getWeRunData",
    "login",
    "request",
    "wechat",
    "mock",
    "clock",
    "fault",
    "clear_faults",
    "journal",
    "repeat",
    "whoami",
    "refresh",
    "logout",
    "session_check",
    "submit_profile",
    "bind_phone",
    "sms_send",
    "sms.inbox",
    "login_sms",
    "login_password",
];

// By hand rather than `#[serde(flatten)]`: flattening loses the unknown key's name and the
// line of the error inside the action.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StepVisitor;

        impl<'de> serde::de::Visitor<'de> for StepVisitor {
            type Value = Step;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a step: one action (`wx.login`, `request`, ...) and an optional `name`",
                )
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
                use serde::de::Error as _;
                let mut name = None;
                let mut action: Option<(String, Action)> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "name" {
                        name = Some(map.next_value::<String>()?);
                        continue;
                    }
                    if let Some((first, _)) = &action {
                        return Err(A::Error::custom(format!(
                            "a step has exactly one action; found `{first}` and `{key}`"
                        )));
                    }
                    let a = match key.as_str() {
                        "wx.login" => Action::WxLogin(map.next_value()?),
                        "wx.getPhoneNumber" => Action::WxGetPhoneNumber(map.next_value()?),
                        "wx.getUserInfo" => Action::WxGetUserInfo(map.next_value()?),
                        "wx.getUserProfile" => Action::WxGetUserProfile(map.next_value()?),
                        "wx.getShareInfo" => Action::WxGetShareInfo(map.next_value()?),
                        "wx.getWeRunData" => Action::WxGetWeRunData(map.next_value()?),
                        "login" => Action::Login(map.next_value()?),
                        "request" => Action::Request(map.next_value()?),
                        "wechat" => Action::WeChat(map.next_value()?),
                        "mock" => Action::Mock(map.next_value()?),
                        "clock" => Action::Clock(map.next_value()?),
                        "fault" => Action::Fault(map.next_value()?),
                        "clear_faults" => Action::ClearFaults(map.next_value()?),
                        "journal" => Action::Journal(map.next_value()?),
                        "repeat" => Action::Repeat(map.next_value()?),
                        "whoami" => Action::Whoami(map.next_value()?),
                        "refresh" => Action::Refresh(map.next_value()?),
                        "logout" => Action::Logout(map.next_value()?),
                        "session_check" => Action::SessionCheck(map.next_value()?),
                        "submit_profile" => Action::SubmitProfile(map.next_value()?),
                        "bind_phone" => Action::BindPhone(map.next_value()?),
                        "sms_send" => Action::SmsSend(map.next_value()?),
                        "sms.inbox" => Action::SmsInbox(map.next_value()?),
                        "login_sms" => Action::LoginSms(map.next_value()?),
                        "login_password" => Action::LoginPassword(map.next_value()?),
                        other => {
                            return Err(A::Error::unknown_field(other, ACTIONS));
                        }
                    };
                    action = Some((key, a));
                }
                let (_, action) = action.ok_or_else(|| {
                    A::Error::custom(format!(
                        "a step needs one action: one of {}",
                        ACTIONS.join(", ")
                    ))
                })?;
                Ok(Step { name, action })
            }
        }

        d.deserialize_map(StepVisitor)
    }
}

/// No fields: `clear_faults: {}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A call of the simulated mini-program.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WxCall {
    /// The WeChat user (a handle such as `alice`).
    pub user: String,
    /// The app, by setup name; default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Variable to save the result in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    /// `legacy` or `anonymous` for getUserInfo/getUserProfile; default: the app's era.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub era: Option<String>,
    /// A tampered payload: `foreign_watermark`, `expired_timestamp`, `stale_key`,
    /// `flipped_byte`, `truncated_base64`, `wrong_iv_length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tamper: Option<String>,
    /// The group, for getShareInfo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// 31 step counts, for getWeRunData.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<u32>>,
}

/// A full login of a user.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginCall {
    /// The WeChat user.
    pub user: String,
    /// The app, by setup name; default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Variable to save the answer in; default: the user's handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    /// Send this code instead of a fresh `wx.login` one (a saved code again, an expired one,
    /// another app's): `"${c1.code}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A getPhoneNumber code sent with the login code (`"${tel.code}"`): the user's number
    /// in the same call (the profile's `routes.login.phone_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_code: Option<String>,
    /// Checks on the answer (default: outcome `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// An HTTP request. Strings anywhere may use `${var}` and `${var.field}`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCall {
    /// `GET`, `POST`, ...; default GET, or POST when a body is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path (`/api/me`).
    pub path: String,
    /// Query parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, Value>,
    /// Headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A raw body, sent as is (with the `headers` given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The login token to send (a variable saved by `login`, or `${...}`); the target's token
    /// header carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// Checks on the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Variables to save from the answer's JSON: `name: $.json.path`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub save: BTreeMap<String, String>,
}

/// Checks on an HTTP answer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// What the answer means, by the target profile's rules: `ok`, `registration_required`,
    /// `credentials_rejected`, `relogin`, `blocked`, `rate_limited`, `conflict`, `upstream_unavailable`, `bad_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeName>,
    /// The status: `200`, any of `[400, 401]`, or a class `4xx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSpec>,
    /// The answer is about the same user as this saved login (`alice`): the user ids, where
    /// the profile says they are, are equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The answer is about another user than this saved login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_user: Option<String>,
    /// Texts the answer must hold: in a JSON string anywhere (however it is escaped) or in
    /// the raw body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contains: Vec<String>,
    /// The body must contain this JSON: objects match when every key given matches, arrays
    /// element by element, anything else by equality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// JSONPath assertions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathCheck>,
    /// Headers: an exact value, or `{ exists: true }`, `{ exists: false }`,
    /// `{ matches: "^\\d+$" }` (names are case-insensitive).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderExpect>,
    /// The raw body must be exactly this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// What a header must be.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum HeaderExpect {
    /// Exactly this value.
    Exact(String),
    /// Present or absent, or matching a pattern.
    Check(HeaderCheck),
}

/// Presence and pattern checks of a header.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderCheck {
    /// Present (`true`) or absent (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The value matches this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

/// One JSONPath assertion; give one or more checks.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathCheck {
    /// An RFC 9535 JSONPath (`$.user.id`); `${...}` is expanded in it.
    pub path: String,
    /// The single match equals this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The single match differs from this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<Value>,
    /// Something matches (`true`) or nothing does (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// The single match is a string matching this regular expression; `${...}` is expanded
    /// in it (as text, not escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// The single match is an array, object or string of this length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    /// The single match is a number at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The single match is a number at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// Moves the virtual clock (shared by the mock and the embedded backend).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockStep {
    /// Forward by a duration (`4m59s`, `7200s`, `1d`; units ms, s, m, h, d).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<String>,
    /// To a time: RFC 3339 or Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Value>,
}

/// Expectations on the mock's request journal.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalCheck {
    /// Only requests to this endpoint (`jscode2session`, `token`, `stable_token`,
    /// `checksession`, `getuserphonenumber`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Exactly this many such requests since the scenario started (a number or `${var}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Value>,
    /// At least this many (a number or `${var}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Value>,
    /// At most this many (a number or `${var}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Value>,
    /// Every such request carried these query parameters with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, Value>,
    /// Every such request was answered with this errcode (0: success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errcode: Option<i64>,
    /// Wait up to this long, in real time, for `count` or `min` to be reached (`"2s"`,
    /// `"${timeouts.beyond}"`). WeChat journals a request when it answers it, so a request the
    /// backend gave up on (a delay past its timeout) arrives in the journal later; waiting for
    /// it keeps it from landing in a later scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
}

/// Why a scenario file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the format.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: unknown).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, with the field.
        message: String,
    },
}

impl Scenario {
    /// Parses YAML text; `path` is only used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, LoadError> {
        let scenario: Scenario = yaml_serde::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            LoadError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        if scenario.steps.is_empty() {
            return Err(LoadError::Invalid {
                path: path.to_owned(),
                line: 0,
                column: 0,
                message: "steps: a scenario needs at least one step".into(),
            });
        }
        Ok(scenario)
    }
}

/// Reads a scenario file.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    Scenario::parse(path, &text)
}

/// The JSON Schema of scenario files.
pub fn json_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_parses() {
        let s = Scenario::parse(
            Path::new("x.yaml"),
            r#"
name: first login
tags: [login]
setup:
  apps:
    - name: shop
      open_platform: p1
steps:
  - wx.login: { user: alice, save: code1 }
  - name: log in
    request:
      path: /api/login
      json: { code: "${code1.code}" }
      expect:
        status: 200
        json: { user: { is_new: true } }
        paths:
          - { path: "$.token", matches: "^[A-Za-z0-9_-]{43}$" }
      save: { token: "$.token" }
  - clock: { advance: 5m }
  - fault: { endpoint: jscode2session, errcode: -1, times: 2 }
  - clear_faults: {}
  - journal: { endpoint: jscode2session, count: 1 }
"#,
        )
        .expect("parses");
        assert_eq!(s.steps.len(), 6);
        assert_eq!(s.steps[1].name.as_deref(), Some("log in"));
        assert!(matches!(s.steps[0].action, Action::WxLogin(_)));
    }

    #[test]
    fn mistakes_name_the_line_and_field() {
        let e = Scenario::parse(
            Path::new("bad.yaml"),
            "name: x\nsteps:\n  - request:\n      pth: /api/me\n",
        )
        .expect_err("unknown field");
        let text = e.to_string();
        assert!(text.starts_with("bad.yaml:"), "{text}");
        assert!(text.contains("pth"), "{text}");
        let e = Scenario::parse(Path::new("b.yaml"), "name: x\nsteps:\n  - teleport: {}\n")
            .expect_err("unknown action");
        assert!(e.to_string().contains("teleport"), "{e}");
        let e = Scenario::parse(Path::new("c.yaml"), "name: x\nsteps: []\n").expect_err("empty");
        assert!(e.to_string().contains("at least one step"), "{e}");
    }
}
