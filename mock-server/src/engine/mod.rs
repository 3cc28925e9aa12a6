//! The engine: WeChat's rules over the mock's state, free of HTTP.
//!
//! One mutex guards the whole state; every vendor call takes it once, does a few map lookups and
//! hashes, and releases it before any I/O. The vendor surface hands the engine a request parsed
//! before the lock ([`VendorRequest`]) and gets a typed [`Answer`] (`wire.rs` writes its bytes);
//! the control plane calls the `wx_*` and directory methods. Time comes only from the injected
//! [`Clock`].

mod directory;
mod encrypt_key;
mod encrypted_msg;
mod followers;
mod login;
mod openapi;
mod opendata;
mod payments;
mod phone;
mod platforms;
mod plugins;
mod quota;
mod risk;
mod sms;
mod tokens;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::catalogue::WxError;
use crate::clock::{Clock, Timestamp};
use crate::config::{AppKind, Options, SeedFile, WireStyle};
use crate::endpoint::Endpoint;
use crate::faults::{FaultBook, FaultPlan};
use crate::ids::{AppId, Generator, UserHandle};
use crate::reply::Answer;
use crate::request::{Call, VendorRequest};
use crate::tencent::{RequestIds, SmsConfig};

pub use crate::users::{Phone, Profile, UserAppView, UserView};
pub use directory::{AppView, Counts, LoginFacts, LoginGrant, PhoneFacts, PhoneGrant, StateView};
pub use encrypt_key::{USER_KEY_TTL, USER_KEYS_LISTED, UserKeyFacts, UserKeyGrant};
pub use encrypted_msg::{PHONE_DATA_TTL, encrypted_msg_hash};
pub use followers::{FollowerSpec, FollowerView, SUBSCRIBE_SCENES};
pub use login::{CheckSessionGrant, login_signature};
pub use opendata::{ShareInfoFacts, ShareInfoGrant, WeRunFacts, WeRunGrant};
pub use payments::{PAYMENT_WINDOW, PaymentSpec, PaymentView};
pub use phone::{PHONE_QUOTA_ERRNO, PhoneButton};
pub use platforms::{PlatformView, TICKET_INTERVAL, TICKET_LIFETIME};
pub use plugins::{PluginLoginFacts, PluginLoginGrant};
pub use quota::{CLEARS_PER_MONTH, DEFAULT_DAILY_LIMIT, FORCE_REFRESH_DAILY_LIMIT, daily_limit};
pub use risk::VISIT_WINDOW;
pub use sms::{SmsFilter, SmsMessage, SmsOutbox, TIMESTAMP_TOLERANCE};

use directory::Directory;
use encrypt_key::UserKeys;
use encrypted_msg::EncryptedMsgs;
use followers::Followers;
use login::Logins;
use payments::Payments;
use phone::PhoneCodes;
use platforms::Platforms;
use plugins::PluginCodes;
use quota::Quotas;
use risk::RiskRequests;
use sms::Gateway;
use tokens::Tokens;

/// How long a `wx.login` code or phone-number code stays valid.
pub const CODE_TTL: Duration = Duration::from_secs(300);
/// Lifetime of an access token.
pub const TOKEN_TTL: Duration = Duration::from_secs(7200);
/// How long a superseded access token keeps working.
pub const TOKEN_GRACE: Duration = Duration::from_secs(300);
/// Minimum virtual time between sweeps of expired entries.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What the engine makes of a vendor request as it arrives.
pub struct Arrival {
    /// How the response is shaped.
    pub style: WireStyle,
    /// The fault rule that fired, if any.
    pub plan: Option<FaultPlan>,
    /// The answer, given at once when no rule fired (none for an oversized body or a fault).
    pub answer: Option<Answer>,
    /// The endpoint the request is filed under (fault rules, the journal): the one its path
    /// names, or `stubbed` for a path the mock does not model under `stub_unmodelled`.
    pub endpoint: Endpoint,
}

/// Errors of control-plane operations (mapped to HTTP in `control`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    /// No app with this appid.
    #[error("unknown appid `{0}`")]
    UnknownApp(String),
    /// No user with this handle (strict mode, or a lookup).
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    /// An app with this appid exists already.
    #[error("an app with appid `{0}` exists already")]
    AppExists(String),
    /// A user with this handle exists already.
    #[error("a user with handle `{0}` exists already")]
    UserExists(String),
    /// The user has no phone number to share.
    #[error("user `{0}` has no phone number")]
    NoPhone(String),
    /// The user has never logged in to the app, so there is no session_key to encrypt with.
    #[error("user `{0}` has no session_key in this app: call wx.login first")]
    NoSession(String),
    /// A stale-key payload was asked for, but the user's session_key has never changed.
    #[error("user `{0}` has no previous session_key in this app for the stale_key tamper")]
    NoStaleKey(String),
    /// The app has used up its phone-number quota (`phone_quota`).
    #[error("app `{0}` has no phone-number quota left (phone_quota 0)")]
    PhoneQuotaExhausted(String),
    /// No third-party platform with this `component_appid`.
    #[error("unknown third-party platform `{0}`")]
    UnknownPlatform(String),
    /// A third-party platform with this `component_appid` exists already.
    #[error("a third-party platform `{0}` exists already")]
    PlatformExists(String),
    /// The mini-program has not authorised the platform.
    #[error("app `{appid}` has not authorised third-party platform `{platform}`")]
    NotAuthorized {
        /// The platform's `component_appid`.
        platform: String,
        /// The mini-program's appid.
        appid: String,
    },
    /// A field is missing or has a bad value.
    #[error("invalid `{field}`: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The app is not of the kind the call needs (a mini-program's `wx.login` for an official
    /// account, followers of a mini-program).
    #[error("app `{appid}` is not {}", .expected.described())]
    WrongAppKind {
        /// The app.
        appid: String,
        /// The kind the call needs.
        expected: AppKind,
    },
}

/// Everything behind the lock.
struct State {
    options: Options,
    dir: Directory,
    logins: Logins,
    tokens: Tokens,
    phones: PhoneCodes,
    /// Payments of the last five minutes, for getpaidunionid.
    payments: Payments,
    /// Calls per app and API today (China time), and `clear_quota`'s monthly allowance.
    quotas: Quotas,
    /// Who follows which official account.
    followers: Followers,
    /// The Tencent Cloud SMS gateway.
    sms: Gateway,
    /// Third-party platforms, their tickets and authorisations.
    platforms: Platforms,
    /// `wx.pluginLogin` codes.
    plugins: PluginCodes,
    /// Open-data payloads made per (app, user), for distinct IVs.
    opendata_counts: Map<(AppId, UserHandle), u64>,
    faults: FaultBook,
    next_sweep: Timestamp,
    /// getuserriskrank's answered requests.
    risk: RiskRequests,
    /// Phone-number encryptedData issued lately, for checkencryptedmsg.
    encrypted_msgs: EncryptedMsgs,
    /// The encrypted network channel's user keys.
    user_keys: UserKeys,
}

/// The mock's rules and state. Shared by the vendor surface and the control plane.
pub struct Engine {
    state: Mutex<State>,
    clock: Clock,
    idgen: Generator,
    seed_file: SeedFile,
    /// Tencent Cloud `RequestId`s.
    request_ids: RequestIds,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// A new engine loaded with the default app and the seed file.
    pub fn new(seed: &str, seed_file: SeedFile, clock: Clock) -> Result<Self, EngineError> {
        let idgen = Generator::new(seed);
        let state = Self::initial_state(&idgen, &seed_file, clock.now())?;
        Ok(Self {
            state: Mutex::new(state),
            clock,
            request_ids: RequestIds::new(idgen.clone()),
            idgen,
            seed_file,
        })
    }

    fn initial_state(
        idgen: &Generator,
        seed: &SeedFile,
        now: Timestamp,
    ) -> Result<State, EngineError> {
        let options = match &seed.options {
            Some(patch) => {
                Options::default()
                    .patched(patch)
                    .map_err(|message| EngineError::Invalid {
                        field: "options",
                        message,
                    })?
            }
            None => Options::default(),
        };
        let mut dir = Directory::default();
        dir.create_default_app(idgen);
        for app in &seed.apps {
            dir.create_app(idgen, app.clone())?;
        }
        for user in &seed.users {
            dir.create_user(idgen, user.clone())?;
        }
        let sms = SmsConfig::seeded(idgen)
            .patched(&seed.sms.clone().unwrap_or_default())
            .map_err(|(field, message)| EngineError::Invalid {
                field: "sms",
                message: format!("`{field}` {message}"),
            })?;
        let mut st = State {
            faults: FaultBook::new(idgen.number("faults", &[])),
            options,
            dir,
            logins: Logins::default(),
            tokens: Tokens::default(),
            phones: PhoneCodes::default(),
            payments: Payments::default(),
            quotas: Quotas::default(),
            followers: Followers::default(),
            sms: Gateway::new(sms),
            platforms: Platforms::default(),
            plugins: PluginCodes::default(),
            opendata_counts: Map::default(),
            next_sweep: now.plus(SWEEP_EVERY),
            risk: RiskRequests::default(),
            encrypted_msgs: EncryptedMsgs::default(),
            user_keys: UserKeys::default(),
        };
        for platform in &seed.platforms {
            platforms::create(&mut st, idgen, platform.clone(), now)?;
        }
        Ok(st)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Engine methods validate before they write, so a panic cannot leave a half-done change
        // behind; keep serving rather than poisoning every later request.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock the engine reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The generator the engine derives identities with.
    pub fn generator(&self) -> &Generator {
        &self.idgen
    }

    /// Current options.
    pub fn options(&self) -> Options {
        self.lock().options.clone()
    }

    /// Replaces the options given in `patch` (a JSON object); returns the result.
    pub fn patch_options(&self, patch: &serde_json::Value) -> Result<Options, EngineError> {
        let mut st = self.lock();
        let next = st
            .options
            .patched(patch)
            .map_err(|message| EngineError::Invalid {
                field: "options",
                message,
            })?;
        st.options = next.clone();
        Ok(next)
    }

    /// Back to the startup state: seed-file apps, users and options; no codes, sessions, tokens
    /// or faults. The clock is left alone.
    pub fn reset(&self) -> Result<(), EngineError> {
        let fresh = Self::initial_state(&self.idgen, &self.seed_file, self.clock.now())?;
        *self.lock() = fresh;
        Ok(())
    }

    /// Takes in a vendor request under one lock: reads how responses are shaped, consults the
    /// fault rules and, when none fires, answers it. A body over the size limit (`oversized`) is
    /// refused before the rules or the engine see it.
    pub fn arrive(&self, req: &VendorRequest, oversized: bool) -> Arrival {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        let style = WireStyle {
            content_type: st.options.content_type,
            rid_style: st.options.rid_style,
        };
        let endpoint = filed_under(st, req);
        if oversized {
            return Arrival {
                style,
                plan: None,
                answer: None,
                endpoint,
            };
        }
        let plan = plan_fault(st, req, endpoint, now);
        let answer = match plan {
            None => Some(answer(st, &self.idgen, &self.request_ids, req, now)),
            Some(_) => None,
        };
        Arrival {
            style,
            plan,
            answer,
            endpoint,
        }
    }

    /// Judges a vendor request: the only way vendor state changes. [`Engine::arrive`] does it
    /// at once when no fault rule fires; this is for a request a delay-only rule held back.
    pub fn answer(&self, req: &VendorRequest) -> Answer {
        let now = self.clock.now();
        answer(&mut self.lock(), &self.idgen, &self.request_ids, req, now)
    }

    /// Runs `f` on the fault book (control plane).
    pub fn with_faults<R>(&self, f: impl FnOnce(&mut FaultBook) -> R) -> R {
        f(&mut self.lock().faults)
    }
}

/// The endpoint a request is filed under: the one its path names, or `stubbed` for a path the
/// mock does not model while `stub_unmodelled` is on.
fn filed_under(st: &State, req: &VendorRequest) -> Endpoint {
    match req.endpoint {
        Endpoint::Unknown if st.options.stub_unmodelled => Endpoint::Stubbed,
        known => known,
    }
}

/// Judges a vendor request: WeChat's daily quota first (a call past it does not run), then one
/// engine file per endpoint; a call the quota counts is counted once answered.
fn answer(
    st: &mut State,
    idgen: &Generator,
    ids: &RequestIds,
    req: &VendorRequest,
    now: Timestamp,
) -> Answer {
    // Vendor traffic alone (token fetches with no wx.login) must also let expired state go.
    maybe_sweep(st, now);
    let billed = quota::billed(st, req, now);
    // An API of the other kind of account (a mini-program's `wxa/*` with an official
    // account's token): 48001, once the token is known good.
    if let Some(b) = &billed
        && let Some(kind) = quota::account_kind(req.endpoint)
        && st.dir.apps.get(&b.app).is_some_and(|a| a.kind != kind)
    {
        return Answer {
            result: Err(WxError::ApiUnauthorized),
            appid: Some(b.app.clone()),
            user: None,
            tencent: None,
        };
    }
    if let Some(b) = &billed
        && let Err(e) = quota::admit(st, b, req.endpoint, now)
    {
        return Answer {
            result: Err(e),
            appid: Some(b.app.clone()),
            user: None,
            tencent: None,
        };
    }
    let answer = dispatch(st, idgen, ids, req, now);
    if let Some(b) = billed {
        quota::count(st, b, req.endpoint, now);
    }
    answer
}

/// Judges a vendor request: one engine file per endpoint.
fn dispatch(
    st: &mut State,
    idgen: &Generator,
    ids: &RequestIds,
    req: &VendorRequest,
    now: Timestamp,
) -> Answer {
    match &req.call {
        Call::Jscode2session(c) => login::jscode2session(st, idgen, c, now),
        Call::Token(c) => tokens::token(st, idgen, c, now),
        Call::StableToken(c) => tokens::stable_token(st, idgen, req, c, now),
        Call::Checksession(c) => login::checksession(st, c, now),
        Call::Resetusersessionkey(c) => login::reset_session_key(st, idgen, c, now),
        Call::Getuserphonenumber(c) => phone::get_user_phone_number(st, req, c, now),
        Call::SmsSend(c) => sms::send_sms(st, ids, idgen, req, c, now),
        Call::Getpaidunionid(c) => payments::get_paid_unionid(st, idgen, c, now),
        Call::Getuserriskrank(c) => risk::get_user_risk_rank(st, idgen, req, c, now),
        Call::Checkencryptedmsg(c) => encrypted_msg::check_encrypted_msg(st, req, c, now),
        Call::Getuserencryptkey(c) => encrypt_key::get_user_encrypt_key(st, c, now),
        Call::QuotaGet(c) => openapi::quota_get(st, req, c, now),
        Call::ClearQuota(c) => openapi::clear_quota(st, req, c, now),
        Call::ClearQuotaV2(c) => openapi::clear_quota_v2(st, req, c, now),
        Call::RidGet(c) => openapi::rid_get(st, req, c, now),
        Call::UserInfo(c) => followers::user_info(st, idgen, c, now),
        Call::ComponentToken(c) => platforms::component_token(st, idgen, req, c, now),
        Call::ComponentJscode2session(c) => platforms::component_jscode2session(st, idgen, c, now),
        Call::Getpluginopenpid(c) => plugins::get_plugin_openpid(st, idgen, req, c, now),
        Call::Unknown {
            appid,
            access_token,
        } => {
            if st.options.stub_unmodelled {
                stub(st, access_token.as_deref(), now)
            } else {
                Answer {
                    result: Err(WxError::InvalidUrl),
                    appid: appid.clone(),
                    user: None,
                    tencent: None,
                }
            }
        }
    }
}

/// A path the mock does not model, under `stub_unmodelled`: the token checks any endpoint that
/// needs one makes, then `{"errcode":0,"errmsg":"ok"}`.
fn stub(st: &State, access_token: Option<&str>, now: Timestamp) -> Answer {
    let token = tokens::token_app(st, access_token, now);
    Answer {
        result: token.clone().map(|_| crate::reply::Reply::Ok),
        appid: token.ok(),
        user: None,
        tencent: None,
    }
}

/// Consults the fault rules for a request; `None` when no rule fires. Consumes the request's
/// code when the firing rule says so.
fn plan_fault(
    st: &mut State,
    req: &VendorRequest,
    endpoint: Endpoint,
    now: Timestamp,
) -> Option<FaultPlan> {
    if st.faults.is_empty() {
        return None;
    }
    let (appid, user) = context(st, req, endpoint, now);
    let plan = st.faults.fire(endpoint, appid.as_ref(), user.as_ref())?;
    if plan.consume_code && plan.action.is_some() {
        match &req.call {
            Call::Jscode2session(c) => login::consume(st, c, now),
            Call::Getuserphonenumber(c) => phone::consume(st, c, now),
            Call::ComponentJscode2session(c) => platforms::consume(st, c, now),
            Call::Getpluginopenpid(c) => plugins::consume(st, c, now),
            _ => {}
        }
    }
    Some(FaultPlan {
        appid,
        user,
        ..plan
    })
}

/// The app and user a request filed under `endpoint` concerns, without changing anything.
fn context(
    st: &State,
    req: &VendorRequest,
    endpoint: Endpoint,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let call = &req.call;
    let token_app = |token: Option<&str>| tokens::token_app(st, token, now).ok();
    match call {
        Call::Jscode2session(c) => login::context(st, c),
        Call::Checksession(c) | Call::Resetusersessionkey(c) | Call::Getuserencryptkey(c) => {
            login::session_context(st, c, now)
        }
        Call::Getuserphonenumber(c) => phone::context(st, c),
        Call::Getpaidunionid(c) => payments::context(st, c, now),
        Call::Getuserriskrank(c) => risk::context(st, c, now),
        Call::Checkencryptedmsg(c) => encrypted_msg::context(st, c, now),
        Call::QuotaGet(c) | Call::ClearQuota(c) | Call::RidGet(c) => {
            (token_app(c.access_token.as_deref()), None)
        }
        Call::UserInfo(c) => followers::context(st, c, now),
        // A stubbed call concerns its token's app, as its journal entry says.
        Call::Unknown { access_token, .. } if endpoint == Endpoint::Stubbed => {
            (token_app(access_token.as_deref()), None)
        }
        Call::ComponentJscode2session(c) => platforms::context(st, c),
        Call::Getpluginopenpid(c) => plugins::context(st, c, now),
        Call::Token(_)
        | Call::StableToken(_)
        | Call::SmsSend(_)
        | Call::ClearQuotaV2(_)
        | Call::ComponentToken(_)
        | Call::Unknown { .. } => (call.named_appid(), None),
    }
}

/// Removes what has expired, at most once per [`SWEEP_EVERY`] of virtual time, so long runs keep
/// bounded memory.
fn maybe_sweep(st: &mut State, now: Timestamp) {
    if now < st.next_sweep {
        return;
    }
    st.next_sweep = now.plus(SWEEP_EVERY);
    st.logins.sweep(now);
    st.tokens.sweep(now);
    st.phones.sweep(now);
    st.payments.sweep(now);
    st.quotas.sweep(now);
    st.sms.sweep(now);
    st.encrypted_msgs.sweep(now);
    st.plugins.sweep(now);
}

/// Minute window number of a timestamp (quota windows are calendar minutes: "retry next minute").
fn minute_of(t: Timestamp) -> i64 {
    t.secs().div_euclid(60)
}

/// A map kept in [`SHARDS`] parts by key, so that growing it rehashes one part at a
/// time. The login codes grow by one per `wx.login` and live five minutes: one map of a few
/// hundred thousand codes doubled in one go, stopping every request behind the engine lock for
/// 50 to 200 ms.
pub(super) struct Sharded<K, V> {
    shards: Vec<Map<K, V>>,
}

/// How many parts a [`Sharded`] map has. With 16, the longest wx/login answer under load went
/// from 100-200 ms to under 20 ms; 64 parts cost a fifth of wx/login's throughput.
const SHARDS: usize = 16;

impl<K, V> Default for Sharded<K, V> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Map::default()).collect(),
        }
    }
}

impl<K: std::borrow::Borrow<str> + std::hash::Hash + Eq, V> Sharded<K, V> {
    /// The part of `key`: any spread of the keys' bytes does (the parts' own hashers are
    /// seeded).
    fn shard(key: &str) -> usize {
        let spread = key.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        spread % SHARDS
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.shards.get(Self::shard(key))?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.shards.get_mut(Self::shard(key))?.get_mut(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) {
        if let Some(shard) = self.shards.get_mut(Self::shard(key.borrow())) {
            shard.insert(key, value);
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for shard in &mut self.shards {
            shard.retain(&mut keep);
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(Map::len).sum()
    }
}

/// The engine's maps. Their keys are short strings from requests, hashed several times per
/// request under the engine lock: foldhash (randomly seeded per map) instead of SipHash.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

#[cfg(test)]
mod tests {
    use super::{Map, SHARDS, Sharded};

    #[test]
    fn a_sharded_map_behaves_as_one_map_and_spreads_its_keys() {
        let mut sharded: Sharded<String, u32> = Sharded::default();
        let mut plain: Map<String, u32> = Map::default();
        for i in 0..2000u32 {
            let key = format!("code-{}", i.wrapping_mul(2_654_435_761));
            sharded.insert(key.clone(), i);
            plain.insert(key, i);
        }
        sharded.insert("code-0".into(), 7);
        plain.insert("code-0".into(), 7);
        if let Some(v) = sharded.get_mut("code-0") {
            *v += 1;
        }
        if let Some(v) = plain.get_mut("code-0") {
            *v += 1;
        }
        sharded.retain(|_, v| *v % 3 != 0);
        plain.retain(|_, v| *v % 3 != 0);
        assert_eq!(sharded.len(), plain.len());
        for (key, value) in &plain {
            assert_eq!(sharded.get(key), Some(value), "{key}");
        }
        assert!(!sharded.contains_key("absent"));
        assert_eq!(sharded.get(""), None);
        let used = sharded.shards.iter().filter(|s| !s.is_empty()).count();
        assert!(used > SHARDS / 2, "keys in {used} of {SHARDS} parts");
    }
}
