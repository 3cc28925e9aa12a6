//! Apps and WeChat users: creation, change and the views the control plane shows.

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Map, State};
use crate::config::{AppKind, AppSpec, PhoneSpec, UserSpec};
use crate::ids::{AppId, AppSecret, Generator, OpenId, PlatformId, UnionId, UserHandle};
use crate::opendata::RuleEra;
use crate::users::{Phone, Profile, UserAppView, UserView};

pub(super) struct App {
    pub secret: AppSecret,
    pub platform: Option<PlatformId>,
    pub name: Option<String>,
    pub profile_era: Option<RuleEra>,
    /// Successful phone-number buttons left; `None`: unlimited.
    pub phone_quota: Option<u64>,
    /// A mini-program or an official account.
    pub kind: AppKind,
}

pub(super) struct User {
    pub profile: Profile,
    pub phone: Option<Phone>,
    pub high_risk: bool,
    /// The getuserriskrank rank set through the control plane, if any.
    pub risk_rank: Option<u8>,
}

/// The rank a high-risk user without a rank of its own answers: the highest.
const HIGH_RISK_RANK: u8 = 4;

impl User {
    /// getuserriskrank's `risk_rank`: the one set, else 4 for a high-risk user, else 0.
    pub fn risk_rank(&self) -> u8 {
        self.risk_rank
            .unwrap_or(if self.high_risk { HIGH_RISK_RANK } else { 0 })
    }
}

#[derive(Default)]
pub(super) struct Directory {
    pub apps: Map<AppId, App>,
    pub app_order: Vec<AppId>,
    pub users: Map<UserHandle, User>,
    pub user_order: Vec<UserHandle>,
    pub default_app: Option<AppId>,
    generated_apps: u64,
}

impl Directory {
    pub fn create_default_app(&mut self, idgen: &Generator) {
        if let Ok(view) = self.create_app(idgen, AppSpec::default()) {
            self.default_app = Some(view);
        }
    }

    pub fn create_app(&mut self, idgen: &Generator, spec: AppSpec) -> Result<AppId, EngineError> {
        // Validate everything first: a refusal must not use up a generated appid.
        if let Some(a) = &spec.appid {
            check_text("appid", a.as_str(), 64)?;
            if self.apps.contains_key(a) {
                return Err(EngineError::AppExists(a.to_string()));
            }
        }
        if let Some(s) = &spec.secret {
            check_text("secret", s.as_str(), 128)?;
        }
        if let Some(p) = &spec.open_platform {
            check_text("open_platform", p.as_str(), 64)?;
        }
        let appid = match spec.appid {
            Some(a) => a,
            None => loop {
                let a = idgen.appid(self.generated_apps);
                self.generated_apps += 1;
                if !self.apps.contains_key(&a) {
                    break a;
                }
            },
        };
        let secret = spec.secret.unwrap_or_else(|| idgen.secret(&appid));
        self.apps.insert(
            appid.clone(),
            App {
                secret,
                platform: spec.open_platform,
                name: spec.name,
                profile_era: spec.profile_era,
                phone_quota: spec.phone_quota,
                kind: spec.kind.unwrap_or_default(),
            },
        );
        self.app_order.push(appid.clone());
        Ok(appid)
    }

    pub fn patch_app(&mut self, appid: &AppId, spec: AppSpec) -> Result<(), EngineError> {
        if spec.appid.as_ref().is_some_and(|a| a != appid) {
            return Err(invalid("appid", "cannot be changed"));
        }
        if let Some(s) = &spec.secret {
            check_text("secret", s.as_str(), 128)?;
        }
        if let Some(p) = &spec.open_platform {
            check_text("open_platform", p.as_str(), 64)?;
        }
        let app = self
            .apps
            .get_mut(appid)
            .ok_or_else(|| EngineError::UnknownApp(appid.to_string()))?;
        if spec.kind.is_some_and(|k| k != app.kind) {
            return Err(invalid("kind", "cannot be changed"));
        }
        if let Some(s) = spec.secret {
            app.secret = s;
        }
        if spec.open_platform.is_some() {
            app.platform = spec.open_platform;
        }
        if spec.name.is_some() {
            app.name = spec.name;
        }
        if spec.profile_era.is_some() {
            app.profile_era = spec.profile_era;
        }
        if spec.phone_quota.is_some() {
            app.phone_quota = spec.phone_quota;
        }
        Ok(())
    }

    pub fn create_user(
        &mut self,
        idgen: &Generator,
        spec: UserSpec,
    ) -> Result<UserHandle, EngineError> {
        let handle = spec
            .handle
            .clone()
            .ok_or_else(|| invalid("handle", "is required"))?;
        check_text("handle", handle.as_str(), 128)?;
        if self.users.contains_key(&handle) {
            return Err(EngineError::UserExists(handle.to_string()));
        }
        let mut user = User {
            profile: Profile {
                nickname: handle.to_string(),
                avatar_url: format!(
                    "https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132",
                    idgen.openid(&AppId::new("avatar"), &handle).as_str()
                ),
                gender: u8::try_from(idgen.number("gender", &[handle.as_str().as_bytes()]) % 2 + 1)
                    .unwrap_or(1),
                country: "CN".into(),
                province: "Guangdong".into(),
                city: "Guangzhou".into(),
                language: "zh_CN".into(),
            },
            phone: Some(Phone {
                country_code: "86".into(),
                number: idgen.phone_number(&handle),
            }),
            high_risk: false,
            risk_rank: None,
        };
        apply_user_spec(&mut user, spec)?;
        self.users.insert(handle.clone(), user);
        self.user_order.push(handle.clone());
        Ok(handle)
    }

    pub fn patch_user(&mut self, handle: &UserHandle, spec: UserSpec) -> Result<(), EngineError> {
        if spec.handle.as_ref().is_some_and(|h| h != handle) {
            return Err(invalid("handle", "cannot be changed"));
        }
        let user = self
            .users
            .get_mut(handle)
            .ok_or_else(|| EngineError::UnknownUser(handle.to_string()))?;
        // Validate on a copy so a bad field leaves the user untouched.
        let mut next = User {
            profile: user.profile.clone(),
            phone: user.phone.clone(),
            high_risk: user.high_risk,
            risk_rank: user.risk_rank,
        };
        apply_user_spec(&mut next, spec)?;
        *user = next;
        Ok(())
    }

    /// The user, created on the fly unless `strict`.
    pub fn ensure_user(
        &mut self,
        idgen: &Generator,
        handle: &UserHandle,
        strict: bool,
    ) -> Result<(), EngineError> {
        if self.users.contains_key(handle) {
            return Ok(());
        }
        if strict {
            return Err(EngineError::UnknownUser(handle.to_string()));
        }
        self.create_user(
            idgen,
            UserSpec {
                handle: Some(handle.clone()),
                ..UserSpec::default()
            },
        )
        .map(|_| ())
    }

    /// Removes a user [`Directory::ensure_user`] just created for a call that was then refused.
    pub fn forget_user(&mut self, handle: &UserHandle) {
        self.users.remove(handle);
        self.user_order.retain(|h| h != handle);
    }

    /// The app the mock starts with (the first app when none is marked default).
    pub fn default_appid(&self) -> &AppId {
        self.default_app.as_ref().unwrap_or(&self.app_order[0])
    }

    pub fn app(&self, appid: &AppId) -> Result<&App, EngineError> {
        self.apps
            .get(appid)
            .ok_or_else(|| EngineError::UnknownApp(appid.to_string()))
    }

    /// The app, which must be of `kind`: the simulated client's calls are a mini-program's,
    /// followers an official account's.
    pub fn app_of_kind(&self, appid: &AppId, kind: AppKind) -> Result<&App, EngineError> {
        let app = self.app(appid)?;
        if app.kind != kind {
            return Err(EngineError::WrongAppKind {
                appid: appid.to_string(),
                expected: kind,
            });
        }
        Ok(app)
    }

    /// The app, which must be a mini-program.
    pub fn mini_program(&self, appid: &AppId) -> Result<&App, EngineError> {
        self.app_of_kind(appid, AppKind::MiniProgram)
    }
}

fn apply_user_spec(user: &mut User, spec: UserSpec) -> Result<(), EngineError> {
    let texts = [
        ("nickname", &spec.nickname, &mut user.profile.nickname),
        ("avatar_url", &spec.avatar_url, &mut user.profile.avatar_url),
        ("country", &spec.country, &mut user.profile.country),
        ("province", &spec.province, &mut user.profile.province),
        ("city", &spec.city, &mut user.profile.city),
        ("language", &spec.language, &mut user.profile.language),
    ];
    // Check everything first, then write, so an error changes nothing.
    for (field, value, _) in &texts {
        if let Some(v) = value {
            check_len(field, v, 1024)?;
        }
    }
    if let Some(g) = spec.gender
        && g > 2
    {
        return Err(invalid(
            "gender",
            "must be 0 (unknown), 1 (male) or 2 (female)",
        ));
    }
    if let Some(Some(p)) = &spec.phone {
        check_digits("phone.country_code", &p.country_code, 1, 4)?;
        check_digits("phone.number", &p.number, 4, 20)?;
    }
    if let Some(Some(rank)) = spec.risk_rank
        && rank > HIGH_RISK_RANK
    {
        return Err(invalid("risk_rank", "must be 0 to 4 (or null: none)"));
    }
    for (_, value, slot) in texts {
        if let Some(v) = value {
            slot.clone_from(v);
        }
    }
    if let Some(g) = spec.gender {
        user.profile.gender = g;
    }
    if let Some(phone) = spec.phone {
        user.phone = phone.map(
            |PhoneSpec {
                 country_code,
                 number,
             }| Phone {
                country_code,
                number,
            },
        );
    }
    if let Some(h) = spec.high_risk {
        user.high_risk = h;
    }
    if let Some(rank) = spec.risk_rank {
        user.risk_rank = rank;
    }
    Ok(())
}

fn invalid(field: &'static str, message: &str) -> EngineError {
    EngineError::Invalid {
        field,
        message: message.into(),
    }
}

fn check_len(field: &'static str, v: &str, max: usize) -> Result<(), EngineError> {
    if v.len() > max {
        return Err(invalid(field, &format!("is longer than {max} bytes")));
    }
    Ok(())
}

pub(super) fn check_text(field: &'static str, v: &str, max: usize) -> Result<(), EngineError> {
    if v.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    check_len(field, v, max)?;
    if v.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn check_digits(field: &'static str, v: &str, min: usize, max: usize) -> Result<(), EngineError> {
    if v.len() < min || v.len() > max || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(field, &format!("must be {min} to {max} digits")));
    }
    Ok(())
}

/// An app as the control plane shows it.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AppView {
    /// The appid.
    pub appid: AppId,
    /// The AppSecret (the mock shows it: tests need it).
    pub secret: String,
    /// Open-platform account, if bound.
    pub open_platform: Option<PlatformId>,
    /// Name for humans.
    pub name: Option<String>,
    /// Whether this is the app the mock starts with.
    pub default: bool,
    /// User-info rules of the app; `null`: anonymous.
    pub profile_era: Option<RuleEra>,
    /// Successful phone-number buttons left; `null`: unlimited.
    pub phone_quota: Option<u64>,
    /// A mini-program or an official account.
    #[serde(default)]
    pub kind: AppKind,
}

/// Counts of live entries, to watch memory in long runs.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counts {
    /// Login codes not yet expired (used or not).
    pub login_codes: usize,
    /// (app, user) pairs with a session_key.
    pub sessions: usize,
    /// Access tokens kept (valid, or expired less than a day ago); third-party platforms' component
    /// tokens included.
    pub access_tokens: usize,
    /// Phone-number codes not yet expired.
    pub phone_codes: usize,
    /// Quota windows being counted.
    pub quota_windows: usize,
    /// Fault rules.
    pub faults: usize,
    /// Messages in the SMS outbox.
    pub sms_messages: usize,
    /// (SmsSdkAppId, number) pairs whose sends of the last day the SMS frequency limits count.
    pub sms_rate_windows: usize,
    /// Payments getpaidunionid still answers for (the last five minutes').
    pub payments: usize,
    /// Phone-number encryptedData issued in the last 3 days, kept by hash for checkencryptedmsg.
    pub phone_data_hashes: usize,
    /// User encrypt keys kept for getuserencryptkey (at most 3 per app and user).
    pub user_encrypt_keys: usize,
    /// Users official accounts know (following or not).
    #[serde(default)]
    pub followers: usize,
    /// Third-party platforms.
    pub platforms: usize,
    /// `wx.pluginLogin` codes not yet expired (used or not).
    pub plugin_codes: usize,
}

/// The whole state.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StateView {
    /// Virtual time, Unix milliseconds.
    pub now_ms: i64,
    /// Virtual time, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub now: String,
    /// Whether the clock is frozen.
    pub frozen: bool,
    /// Options in force.
    pub options: crate::config::Options,
    /// Apps, in creation order.
    pub apps: Vec<AppView>,
    /// Users, in creation order.
    pub users: Vec<UserView>,
    /// Live entry counts.
    pub counts: Counts,
    /// The Tencent Cloud SMS gateway's configuration.
    pub sms: crate::tencent::SmsConfigView,
    /// Third-party platforms, in creation order, with their current tickets.
    pub platforms: Vec<super::PlatformView>,
}

/// What `wx.login` answers: the success callback's shape plus what a test needs to know.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginGrant {
    /// The login code for jscode2session (32 alphanumerics; valid 5 minutes, single use).
    pub code: String,
    /// As in the real success callback.
    #[serde(rename = "errMsg")]
    #[schemars(extend("const" = "login:ok"))]
    pub err_msg: String,
    /// What the code will map to (not part of the real callback).
    pub mock: LoginFacts,
}

/// Facts about a minted login code (not part of the real callback).
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoginFacts {
    /// App.
    pub appid: AppId,
    /// User handle.
    pub user: UserHandle,
    /// openid the code exchanges to.
    pub openid: OpenId,
    /// unionid, when the app is bound.
    pub unionid: Option<UnionId>,
    /// session_key the exchange will return.
    pub session_key: String,
    /// Whether minting this code rotated the session_key.
    pub rotated: bool,
    /// When the code expires, Unix seconds.
    pub expires_at: i64,
}

/// What the getPhoneNumber button answers: a phone-number code and, once the user has logged in to
/// the app, the legacy `encryptedData` of the same number.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhoneGrant {
    /// The phone-number code for getuserphonenumber (64 lowercase hex digits; valid 5 minutes,
    /// single use).
    pub code: String,
    /// As in the real success callback of the button.
    #[serde(rename = "errMsg")]
    #[schemars(extend("enum" = ["getPhoneNumber:ok", "getRealtimePhoneNumber:ok"]))]
    pub err_msg: String,
    /// Legacy payload `{"phoneNumber","purePhoneNumber","countryCode","watermark"}` under the
    /// current session_key (AES-128-CBC, base64). Absent when the user has never logged in to the
    /// app.
    #[serde(
        rename = "encryptedData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub encrypted_data: Option<String>,
    /// The iv of `encryptedData` (base64); absent with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// Facts for tests (not part of the real callback).
    pub mock: PhoneFacts,
}

/// Facts about a minted phone-number code.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhoneFacts {
    /// App.
    pub appid: AppId,
    /// User handle.
    pub user: UserHandle,
    /// openid of the user in the app.
    pub openid: OpenId,
    /// The number the exchange will return.
    pub phone: Phone,
    /// When the code expires, Unix seconds.
    pub expires_at: i64,
    /// The lowercase hex SHA-256 of the base64 `encryptedData` text: what a backend sends to
    /// checkencryptedmsg, which answers `vaild` for 3 days. Absent with `encryptedData`, and for a
    /// tampered payload (which WeChat did not make as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_msg_hash: Option<String>,
}

impl Engine {
    /// Creates an app.
    pub fn create_app(&self, spec: AppSpec) -> Result<AppView, EngineError> {
        let mut st = self.lock();
        let appid = st.dir.create_app(&self.idgen, spec)?;
        Ok(app_view(&st, &appid))
    }

    /// Changes an app's secret, open-platform binding or name.
    pub fn patch_app(&self, appid: &AppId, spec: AppSpec) -> Result<AppView, EngineError> {
        let mut st = self.lock();
        st.dir.patch_app(appid, spec)?;
        Ok(app_view(&st, appid))
    }

    /// One app.
    pub fn app(&self, appid: &AppId) -> Result<AppView, EngineError> {
        let st = self.lock();
        st.dir.app(appid)?;
        Ok(app_view(&st, appid))
    }

    /// The app the mock starts with.
    pub fn default_app(&self) -> AppView {
        let st = self.lock();
        app_view(&st, st.dir.default_appid())
    }

    /// The appid of [`Engine::default_app`], without the rest of its view.
    pub fn default_appid(&self) -> AppId {
        self.lock().dir.default_appid().clone()
    }

    /// Creates a user.
    pub fn create_user(&self, spec: UserSpec) -> Result<UserView, EngineError> {
        let mut st = self.lock();
        let handle = st.dir.create_user(&self.idgen, spec)?;
        Ok(user_view(&st, &self.idgen, &handle))
    }

    /// Changes a user's profile, phone or high-risk flag.
    pub fn patch_user(&self, handle: &UserHandle, spec: UserSpec) -> Result<UserView, EngineError> {
        let mut st = self.lock();
        st.dir.patch_user(handle, spec)?;
        Ok(user_view(&st, &self.idgen, handle))
    }

    /// One user.
    pub fn user(&self, handle: &UserHandle) -> Result<UserView, EngineError> {
        let st = self.lock();
        if !st.dir.users.contains_key(handle) {
            return Err(EngineError::UnknownUser(handle.to_string()));
        }
        Ok(user_view(&st, &self.idgen, handle))
    }

    /// The whole state, for `GET /__mock__/state`.
    pub fn state_view(&self) -> StateView {
        let now = self.clock.now();
        let st = self.lock();
        StateView {
            now_ms: now.millis(),
            now: now.rfc3339(),
            frozen: self.clock.is_frozen(),
            options: st.options.clone(),
            apps: st.dir.app_order.iter().map(|a| app_view(&st, a)).collect(),
            users: st
                .dir
                .user_order
                .iter()
                .map(|u| user_view(&st, &self.idgen, u))
                .collect(),
            counts: Counts {
                login_codes: st.logins.code_count(),
                sessions: st.logins.session_count(),
                access_tokens: st.tokens.count(),
                phone_codes: st.phones.count(),
                quota_windows: st.logins.quota_count(),
                faults: st.faults.len(),
                sms_messages: st.sms.message_count(),
                sms_rate_windows: st.sms.window_count(),
                payments: st.payments.count(),
                phone_data_hashes: st.encrypted_msgs.count(),
                user_encrypt_keys: st.user_keys.count(),
                followers: st.followers.count(),
                platforms: st.platforms.count(),
                plugin_codes: st.plugins.count(),
            },
            sms: st.sms.view(),
            platforms: super::platforms::views(&st, &self.idgen, now),
        }
    }
}

fn app_view(st: &State, appid: &AppId) -> AppView {
    let app = st.dir.apps.get(appid);
    AppView {
        appid: appid.clone(),
        secret: app
            .map(|a| a.secret.as_str().to_owned())
            .unwrap_or_default(),
        open_platform: app.and_then(|a| a.platform.clone()),
        name: app.and_then(|a| a.name.clone()),
        default: st.dir.default_app.as_ref() == Some(appid),
        profile_era: app.and_then(|a| a.profile_era),
        phone_quota: app.and_then(|a| a.phone_quota),
        kind: app.map(|a| a.kind).unwrap_or_default(),
    }
}

fn user_view(st: &State, idgen: &Generator, handle: &UserHandle) -> UserView {
    let user = &st.dir.users[handle];
    UserView {
        handle: handle.clone(),
        profile: user.profile.clone(),
        phone: user.phone.clone(),
        high_risk: user.high_risk,
        risk_rank: user.risk_rank(),
        apps: st
            .dir
            .app_order
            .iter()
            .map(|appid| UserAppView {
                appid: appid.clone(),
                openid: idgen.openid(appid, handle),
                unionid: st.dir.apps[appid]
                    .platform
                    .as_ref()
                    .map(|p| idgen.unionid(p, handle)),
                session_key: st
                    .logins
                    .current_key(appid, handle)
                    .map(|k| k.as_str().to_owned()),
            })
            .collect(),
    }
}
