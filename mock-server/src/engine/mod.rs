//! The engine: WeChat's rules over the mock's state, free of HTTP.
//!
//! One mutex guards the whole state; every vendor call takes it once, does a few map lookups and
//! hashes, and releases it before any I/O. The vendor surface hands the engine a parsed
//! [`VendorRequest`] and gets an [`Answer`]; the control plane calls the `wx_*` and directory
//! methods. Time comes only from the injected [`Clock`].

mod directory;
mod login;
mod opendata;
mod phone;
mod sms;
mod tokens;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::catalogue::WxError;
use crate::clock::{Clock, Timestamp};
use crate::config::{Options, SeedFile};
use crate::faults::{FaultBook, FaultPlan};
use crate::ids::{AppId, Generator, UserHandle};
use crate::tencent::{RequestIds, SmsConfig};
use crate::wire::WireStyle;

pub use directory::{
    AppView, Counts, LoginFacts, LoginGrant, Phone, PhoneFacts, PhoneGrant, Profile, StateView,
    UserAppView, UserView,
};
pub use login::{CheckSessionGrant, login_signature};
pub use opendata::{ShareInfoFacts, ShareInfoGrant, WeRunFacts, WeRunGrant};
pub use phone::{PHONE_QUOTA_ERRNO, PhoneButton};
pub use sms::{SmsFilter, SmsMessage, SmsOutbox, TIMESTAMP_TOLERANCE};

use directory::Directory;
use login::Logins;
use phone::PhoneCodes;
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

/// The vendor endpoints the mock serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /sns/jscode2session`
    Jscode2session,
    /// `GET /cgi-bin/token`
    Token,
    /// `POST /cgi-bin/stable_token`
    StableToken,
    /// `GET /wxa/checksession`
    Checksession,
    /// `GET /wxa/resetusersessionkey`
    Resetusersessionkey,
    /// `POST /wxa/business/getuserphonenumber`
    Getuserphonenumber,
    /// `POST /tencentcloud/sms` (or `/tencentcloud/sms/`): Tencent Cloud SMS `SendSms`, in place
    /// of `https://sms.tencentcloudapi.com/`.
    SmsSend,
    /// Any other path: 40066.
    Unknown,
}

impl Endpoint {
    /// Every endpoint, in documentation order.
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Jscode2session,
        Endpoint::Token,
        Endpoint::StableToken,
        Endpoint::Checksession,
        Endpoint::Resetusersessionkey,
        Endpoint::Getuserphonenumber,
        Endpoint::SmsSend,
        Endpoint::Unknown,
    ];

    /// The endpoint a path names (paths are case-sensitive, as on WeChat).
    pub fn of_path(path: &str) -> Self {
        match path {
            "/sns/jscode2session" => Endpoint::Jscode2session,
            "/cgi-bin/token" => Endpoint::Token,
            "/cgi-bin/stable_token" => Endpoint::StableToken,
            "/wxa/checksession" => Endpoint::Checksession,
            "/wxa/resetusersessionkey" => Endpoint::Resetusersessionkey,
            "/wxa/business/getuserphonenumber" => Endpoint::Getuserphonenumber,
            "/tencentcloud/sms" | "/tencentcloud/sms/" => Endpoint::SmsSend,
            _ => Endpoint::Unknown,
        }
    }

    /// Short name used in the journal and in fault rules.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Jscode2session => "jscode2session",
            Endpoint::Token => "token",
            Endpoint::StableToken => "stable_token",
            Endpoint::Checksession => "checksession",
            Endpoint::Resetusersessionkey => "resetusersessionkey",
            Endpoint::Getuserphonenumber => "getuserphonenumber",
            Endpoint::SmsSend => "sms_send",
            Endpoint::Unknown => "unknown",
        }
    }

    /// Whose API the endpoint plays: its errors come from that vendor's catalogue.
    pub fn vendor(self) -> Vendor {
        match self {
            Endpoint::SmsSend => Vendor::TencentCloud,
            _ => Vendor::WeChat,
        }
    }

    /// The endpoint a short name or a path names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .or_else(|| Some(Self::of_path(s)).filter(|e| *e != Endpoint::Unknown))
    }
}

/// Whose API an endpoint plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    /// WeChat: `{"errcode","errmsg"}` errors from `catalogue`.
    WeChat,
    /// Tencent Cloud API 3.0: `{"Response":{...}}` answers from `tencent::catalogue`.
    TencentCloud,
}

/// Query parameters in order; the first occurrence of a name wins, empty values count as absent.
///
/// The names and values live in one string, each pair a span of it: two allocations per
/// request instead of one per name and value.
#[derive(Clone, Debug, Default)]
pub struct Params {
    text: String,
    /// (start of the name, its end = start of the value, end of the value) in `text`.
    spans: Vec<(usize, usize, usize)>,
}

impl Params {
    /// Parses a raw query string leniently (bad escapes are kept as they are).
    pub fn parse(query: Option<&str>) -> Self {
        let query = query.unwrap_or("");
        if query.contains(['%', '+']) {
            let decoded: Vec<(String, String)> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            let mut params = Self::default();
            for (name, value) in &decoded {
                params.push(name, value);
            }
            return params;
        }
        // Nothing to decode, as in nearly every query: split the pairs as the form decoder
        // does (`&` between pairs, empty ones skipped, the first `=` ends the name) without
        // its byte-by-byte decoding pass.
        let mut params = Self {
            text: String::with_capacity(query.len()),
            spans: Vec::with_capacity(8),
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push(name, value);
        }
        params
    }

    /// A request's headers as parameters, names lowercase: API 3.0's common parameters travel
    /// in headers (`X-TC-Action`, `Authorization`, ...), and the signature covers some of them.
    /// Values that are not UTF-8 are kept lossily (their signature cannot match anyway).
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Self {
        let mut params = Self::default();
        for (name, value) in headers {
            params.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        params
    }

    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let middle = self.text.len();
        self.text.push_str(value);
        self.spans.push((start, middle, self.text.len()));
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    /// All pairs, in order, for the journal.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(start, middle, end)| {
            (
                self.text.get(start..middle).unwrap_or_default(),
                self.text.get(middle..end).unwrap_or_default(),
            )
        })
    }
}

/// A request on the vendor surface, parsed but not yet judged.
#[derive(Clone, Debug)]
pub struct VendorRequest {
    /// Whether the method was POST (WeChat cares only about GET vs POST).
    pub is_post: bool,
    /// Which endpoint the path named.
    pub endpoint: Endpoint,
    /// Query parameters; for the Tencent Cloud endpoint, the request headers
    /// ([`Params::from_headers`]), which carry API 3.0's common parameters.
    pub params: Params,
    /// The raw body.
    pub body: Bytes,
}

/// What the engine answers to a vendor request, and whom it concerned (for faults and the journal).
#[derive(Debug)]
pub struct Answer {
    /// Success body (compact JSON) or a catalogue error.
    pub result: Result<String, WxError>,
    /// The app the request concerned, when known.
    pub appid: Option<AppId>,
    /// The user the request concerned, when known.
    pub user: Option<UserHandle>,
    /// For Tencent Cloud answers (always a rendered body, as every one carries a `RequestId`
    /// drawn here): the error's code, `Ok`, or the first refused number's code.
    pub tencent: Option<&'static str>,
}

/// What the engine makes of a vendor request as it arrives.
pub struct Arrival {
    /// How the response is shaped.
    pub style: WireStyle,
    /// The fault rule that fired, if any.
    pub plan: Option<FaultPlan>,
    /// The answer, given at once when no rule fired (none for an oversized body or a fault).
    pub answer: Option<Answer>,
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
    /// A field is missing or has a bad value.
    #[error("invalid `{field}`: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

/// Everything behind the lock.
struct State {
    options: Options,
    dir: Directory,
    logins: Logins,
    tokens: Tokens,
    phones: PhoneCodes,
    /// The Tencent Cloud SMS gateway.
    sms: Gateway,
    /// Open-data payloads made per (app, user), for distinct IVs.
    opendata_counts: Map<(AppId, UserHandle), u64>,
    faults: FaultBook,
    next_sweep: Timestamp,
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
        Ok(State {
            faults: FaultBook::new(idgen.number("faults", &[])),
            options,
            dir,
            logins: Logins::default(),
            tokens: Tokens::default(),
            phones: PhoneCodes::default(),
            sms: Gateway::new(sms),
            opendata_counts: Map::default(),
            next_sweep: now.plus(SWEEP_EVERY),
        })
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
        if oversized {
            return Arrival {
                style,
                plan: None,
                answer: None,
            };
        }
        let plan = plan_fault(st, req, now);
        let answer = match plan {
            None => Some(answer(st, &self.idgen, &self.request_ids, req, now)),
            Some(_) => None,
        };
        Arrival {
            style,
            plan,
            answer,
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

/// Judges a vendor request.
fn answer(
    st: &mut State,
    idgen: &Generator,
    ids: &RequestIds,
    req: &VendorRequest,
    now: Timestamp,
) -> Answer {
    // Vendor traffic alone (token fetches with no wx.login) must also let expired state go.
    maybe_sweep(st, now);
    match req.endpoint {
        Endpoint::Jscode2session => login::jscode2session(st, idgen, req, now),
        Endpoint::Token => tokens::token(st, idgen, req, now),
        Endpoint::StableToken => tokens::stable_token(st, idgen, req, now),
        Endpoint::Checksession => login::checksession(st, req, now),
        Endpoint::Resetusersessionkey => login::reset_session_key(st, idgen, req, now),
        Endpoint::Getuserphonenumber => phone::get_user_phone_number(st, req, now),
        Endpoint::SmsSend => sms::send_sms(st, ids, idgen, req, now),
        Endpoint::Unknown => Answer {
            result: Err(WxError::InvalidUrl),
            appid: req.params.get("appid").map(AppId::new),
            user: None,
            tencent: None,
        },
    }
}

/// Consults the fault rules for a request; `None` when no rule fires. Consumes the request's
/// code when the firing rule says so.
fn plan_fault(st: &mut State, req: &VendorRequest, now: Timestamp) -> Option<FaultPlan> {
    if st.faults.is_empty() {
        return None;
    }
    let (appid, user) = context(st, req, now);
    let plan = st
        .faults
        .fire(req.endpoint, appid.as_ref(), user.as_ref())?;
    if plan.consume_code && plan.action.is_some() {
        match req.endpoint {
            Endpoint::Jscode2session => login::consume(st, req, now),
            Endpoint::Getuserphonenumber => phone::consume(st, req, now),
            _ => {}
        }
    }
    Some(FaultPlan {
        appid,
        user,
        ..plan
    })
}

/// The app and user a request concerns, without changing anything.
fn context(st: &State, req: &VendorRequest, now: Timestamp) -> (Option<AppId>, Option<UserHandle>) {
    match req.endpoint {
        Endpoint::Jscode2session => login::context(st, req),
        Endpoint::Token => (req.params.get("appid").map(AppId::new), None),
        Endpoint::StableToken => (tokens::body_appid(req), None),
        Endpoint::Checksession | Endpoint::Resetusersessionkey => {
            login::session_context(st, req, now)
        }
        Endpoint::Getuserphonenumber => phone::context(st, req),
        Endpoint::SmsSend => (sms::context(req), None),
        Endpoint::Unknown => (req.params.get("appid").map(AppId::new), None),
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
    st.sms.sweep(now);
}

/// Renders a success body; the structs are plain data, so serialization cannot fail in practice.
fn to_json<T: Serialize>(body: &T) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// A vendor POST body, which must be one JSON object (serde would otherwise fill a struct from an
/// array by position); anything else is 47001.
fn from_json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WxError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(WxError::DataFormatError);
    }
    serde_json::from_slice(body).map_err(|_| WxError::DataFormatError)
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
    use proptest::prelude::*;

    use super::{Map, Params, SHARDS, Sharded};

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

    proptest! {
        #[test]
        fn params_parse_as_the_form_decoder_does(query in "[a-z=&%+2Ö_]{0,24}") {
            let full: Vec<(String, String)> =
                serde_urlencoded::from_str(&query).unwrap_or_default();
            let ours: Vec<(String, String)> = Params::parse(Some(&query))
                .pairs()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            prop_assert_eq!(ours, full);
        }
    }
}
