//! The control plane under `/__mock__/`: JSON in and out, never mixed with vendor routes. It seeds
//! apps and users, plays the mini-program's `wx.login`, getPhoneNumber and open-data calls and
//! the user's payments (`payments.rs`), follows of official accounts (`followers.rs`) and a
//! plugin's `wx.pluginLogin` (`plugins.rs`), keeps third-party platforms (`platforms.rs`), moves
//! the clock, reads the journal (its own changing calls included, `log.rs`) and manages fault rules; for the Tencent Cloud SMS gateway it
//! shows and changes the configuration and reads the outbox; it hands out the encrypted network
//! channel's user keys (`crypto.rs`). Described by `openapi.json`, served at
//! `/__mock__/openapi.json`. The dashboard at `/__mock__/ui/` (`ui/`) is a page over these
//! routes; its files are served without the control token, every route here needs it.

mod crypto;
mod error;
mod followers;
mod log;
pub mod openapi;
mod payments;
mod platforms;
mod plugins;
mod sms;
pub mod ui;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, OriginalUri, Path, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crypto::UserCryptoCall;
pub use error::{ControlError, ErrorBody, ErrorCode, ErrorDetail};

use crate::clock::{Timestamp, parse_duration};
use crate::config::{AppSpec, Options, UserSpec};
use crate::engine::{
    AppView, CheckSessionGrant, EngineError, PHONE_QUOTA_ERRNO, PhoneButton, PhoneGrant,
    ShareInfoGrant, StateView, UserView, WeRunGrant,
};
use crate::faults::{FaultRule, FaultSpec};
use crate::ids::{AppId, UserHandle};
use crate::journal::{JournalFilter, JournalPage};
use crate::opendata::{RuleEra, Tamper, UserInfoApi, UserInfoGrant};
use crate::shared::Shared;

/// The OpenAPI document of the control plane.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route of [`router`] as (METHOD, path relative to `/__mock__`), path parameters in
/// braces as in both axum and OpenAPI. A unit test checks it against the router and `openapi.json`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/openapi.json"),
    ("GET", "/state"),
    ("POST", "/reset"),
    ("GET", "/options"),
    ("PATCH", "/options"),
    ("POST", "/apps"),
    ("GET", "/apps/{appid}"),
    ("PATCH", "/apps/{appid}"),
    ("POST", "/users"),
    ("GET", "/users/{handle}"),
    ("PATCH", "/users/{handle}"),
    ("POST", "/wx/login"),
    ("POST", "/wx/checkSession"),
    ("POST", "/wx/getPhoneNumber"),
    ("POST", "/wx/getUserInfo"),
    ("POST", "/wx/getUserProfile"),
    ("POST", "/wx/getShareInfo"),
    ("POST", "/wx/getWeRunData"),
    ("GET", "/clock"),
    ("POST", "/clock"),
    ("GET", "/journal"),
    ("DELETE", "/journal"),
    ("GET", "/journal/control"),
    ("GET", "/faults"),
    ("POST", "/faults"),
    ("DELETE", "/faults"),
    ("DELETE", "/faults/{id}"),
    ("GET", "/sms"),
    ("DELETE", "/sms"),
    ("GET", "/sms/config"),
    ("PATCH", "/sms/config"),
    ("POST", "/payments"),
    ("POST", "/wx/getUserCryptoManager"),
    ("POST", "/apps/{appid}/followers"),
    ("POST", "/platforms"),
    ("GET", "/platforms/{component_appid}"),
    ("POST", "/platforms/{component_appid}/authorizations"),
    (
        "DELETE",
        "/platforms/{component_appid}/authorizations/{appid}",
    ),
    ("POST", "/platforms/{component_appid}/ticket"),
    ("POST", "/wx/pluginLogin"),
];

type Ctx = State<Arc<Shared>>;
type Res<T> = Result<Json<T>, ControlError>;

/// Routes, relative to `/__mock__`: the control plane's (behind the token, when one is set) and
/// the dashboard's files (without it: they hold no data, see `ui/`).
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let control = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/state", get(state))
        .route("/reset", post(reset))
        .route("/options", get(options).patch(patch_options))
        .route("/apps", post(create_app))
        .route("/apps/{appid}", get(app).patch(patch_app))
        .route("/users", post(create_user))
        .route("/users/{handle}", get(user).patch(patch_user))
        .route("/wx/login", post(wx_login))
        .route("/wx/checkSession", post(wx_check_session))
        .route("/wx/getPhoneNumber", post(wx_phone))
        .route("/wx/getUserInfo", post(wx_get_user_info))
        .route("/wx/getUserProfile", post(wx_get_user_profile))
        .route("/wx/getShareInfo", post(wx_share_info))
        .route("/wx/getWeRunData", post(wx_werun))
        .route("/clock", get(clock).post(set_clock))
        .route("/journal", get(journal).delete(clear_journal))
        .route("/journal/control", get(log::read))
        .route("/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/sms", get(sms::outbox).delete(sms::clear))
        .route("/sms/config", get(sms::config).patch(sms::patch_config))
        .route("/payments", post(payments::pay))
        .route("/wx/getUserCryptoManager", post(crypto::wx_user_crypto))
        .route("/apps/{appid}/followers", post(followers::follow))
        .route("/platforms", post(platforms::create))
        .route("/platforms/{component_appid}", get(platforms::show))
        .route(
            "/platforms/{component_appid}/authorizations",
            post(platforms::authorize),
        )
        .route(
            "/platforms/{component_appid}/authorizations/{appid}",
            delete(platforms::withdraw),
        )
        .route(
            "/platforms/{component_appid}/ticket",
            post(platforms::push_ticket),
        )
        .route("/wx/pluginLogin", post(plugins::login))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(shared.clone(), log::record))
        .layer(middleware::from_fn_with_state(shared, authorize));
    ui::router()
        .method_not_allowed_fallback(wrong_method)
        .merge(control)
}

async fn authorize(State(shared): Ctx, req: Request, next: Next) -> Response {
    if let Some(token) = &shared.control_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return ControlError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

async fn wrong_method(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ControlError {
    ControlError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn no_route(method: axum::http::Method, OriginalUri(uri): OriginalUri) -> ControlError {
    ControlError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// A JSON body parsed whatever the Content-Type says, with errors that name the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ControlError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let slot = req.extensions().get::<log::BodySlot>().cloned();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ControlError::InvalidBody(format!("cannot read body: {e}")))?;
        if let Some(slot) = slot {
            slot.fill(&bytes);
        }
        parse_json(&bytes).map(Body)
    }
}

/// Parses JSON, naming the path of the offending field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ControlError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ControlError::InvalidBody("a JSON body is required".into())),
        // Every body is an object; serde would otherwise fill a struct from an array by position.
        Some(b'{') => {}
        Some(_) => {
            return Err(ControlError::InvalidBody(
                "the body must be a JSON object".into(),
            ));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if (inner.is_syntax() || inner.is_eof()) && !is_value_error(&inner, bytes) {
            ControlError::InvalidBody(format!("body is not valid JSON: {inner}"))
        } else if path == "." {
            ControlError::InvalidBody(format!("invalid body: {inner}"))
        } else if inner.to_string().starts_with("expected value") {
            ControlError::InvalidField {
                field: path,
                message: format!("not a value this field takes ({inner})"),
            }
        } else {
            ControlError::InvalidField {
                field: path,
                message: inner.to_string(),
            }
        }
    })?;
    // One JSON value and nothing after it.
    de.end()
        .map_err(|e| ControlError::InvalidBody(format!("body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Whether a syntax error of serde_json is about a value in valid JSON: a number beyond f64
/// ("number out of range"), or a number, boolean or array where an enum is expected ("expected
/// value"). Those name the field like any other bad value; the rest is a body that is not JSON.
fn is_value_error(e: &serde_json::Error, bytes: &[u8]) -> bool {
    let text = e.to_string();
    if !(text.starts_with("number out of range") || text.starts_with("expected value")) {
        return false;
    }
    // `IgnoredAny` reads numbers without converting them and strings without decoding them.
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    std::str::from_utf8(bytes).is_ok()
        && serde::de::IgnoredAny::deserialize(&mut *de).is_ok()
        && de.end().is_ok()
}

/// A route's one path parameter, or why axum could not read it.
type PathParam = Result<Path<String>, PathRejection>;

/// The path parameter `field`; one axum refuses (percent-encoded bytes that are not UTF-8) is
/// `invalid_field` like any other bad value, not axum's text/plain answer.
fn path_param(param: PathParam, field: &str) -> Result<String, ControlError> {
    param
        .map(|Path(value)| value)
        .map_err(|e| ControlError::InvalidField {
            field: field.into(),
            message: e.body_text(),
        })
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn state(State(s): Ctx) -> Json<StateView> {
    Json(s.engine.state_view())
}

/// Done.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Ok")]
struct Done {
    /// Always true.
    #[schemars(extend("const" = true))]
    ok: bool,
}

async fn reset(State(s): Ctx) -> Res<Done> {
    s.engine.reset()?;
    s.journal.clear();
    s.journal.set_capacity(s.engine.options().journal_capacity);
    Ok(Json(Done { ok: true }))
}

async fn options(State(s): Ctx) -> Json<Options> {
    Json(s.engine.options())
}

async fn patch_options(State(s): Ctx, Body(patch): Body<PatchObject>) -> Res<Options> {
    let opts = s
        .engine
        .patch_options(&serde_json::Value::Object(patch.0))?;
    s.journal.set_capacity(opts.journal_capacity);
    Ok(Json(opts))
}

/// A JSON object whose keys are all different: serde_json's own map keeps the last of a repeated
/// key, so a duplicated option would silently win.
struct PatchObject(serde_json::Map<String, serde_json::Value>);

impl<'de> Deserialize<'de> for PatchObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        /// The value of a repeated key: refused while it is read, so the error names the key.
        struct Repeated;

        impl<'de> serde::de::DeserializeSeed<'de> for Repeated {
            type Value = serde_json::Value;

            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                _: D,
            ) -> Result<Self::Value, D::Error> {
                Err(serde::de::Error::custom("is given more than once"))
            }
        }

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PatchObject;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = if out.contains_key(&key) {
                        map.next_value_seed(Repeated)?
                    } else {
                        map.next_value()?
                    };
                    out.insert(key, value);
                }
                Ok(PatchObject(out))
            }
        }

        d.deserialize_map(Visitor)
    }
}

async fn create_app(
    State(s): Ctx,
    Body(spec): Body<AppSpec>,
) -> Result<(StatusCode, Json<AppView>), ControlError> {
    Ok((StatusCode::CREATED, Json(s.engine.create_app(spec)?)))
}

async fn app(State(s): Ctx, appid: PathParam) -> Res<AppView> {
    let appid = path_param(appid, "appid")?;
    Ok(Json(s.engine.app(&AppId::new(appid))?))
}

async fn patch_app(State(s): Ctx, appid: PathParam, Body(spec): Body<AppSpec>) -> Res<AppView> {
    let appid = path_param(appid, "appid")?;
    Ok(Json(s.engine.patch_app(&AppId::new(appid), spec)?))
}

async fn create_user(
    State(s): Ctx,
    Body(spec): Body<UserSpec>,
) -> Result<(StatusCode, Json<UserView>), ControlError> {
    Ok((StatusCode::CREATED, Json(s.engine.create_user(spec)?)))
}

async fn user(State(s): Ctx, handle: PathParam) -> Res<UserView> {
    let handle = path_param(handle, "handle")?;
    Ok(Json(s.engine.user(&UserHandle::new(handle))?))
}

async fn patch_user(State(s): Ctx, handle: PathParam, Body(spec): Body<UserSpec>) -> Res<UserView> {
    let handle = path_param(handle, "handle")?;
    Ok(Json(s.engine.patch_user(&UserHandle::new(handle), spec)?))
}

/// Body of the simulated mini-program calls.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WxCall {
    /// The app; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle. Unless `strict`, an unknown user is created on the fly.
    pub user: UserHandle,
}

async fn wx_login(State(s): Ctx, Body(call): Body<WxCall>) -> Result<Response, ControlError> {
    let grant = s
        .engine
        .wx_login_in(call.appid.as_ref(), &call.user)
        .map_err(wx_error)?;
    Ok(sized_json(&grant, 512))
}

async fn wx_check_session(State(s): Ctx, Body(call): Body<WxCall>) -> Res<CheckSessionGrant> {
    Ok(Json(
        s.engine
            .wx_check_session(call.appid.as_ref(), &call.user)
            .map_err(wx_error)?,
    ))
}

/// What `Json(value)` answers, written into a buffer of `capacity` bytes up front: axum's starts
/// at 128 and grows, which costs the busiest calls a reallocation and a copy or two.
fn sized_json<T: Serialize>(value: &T, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        // Cannot happen for plain data; let axum answer as it answers any failed `Json`.
        Err(_) => Json(value).into_response(),
    }
}

/// An engine refusal of a `/wx/*` call, naming the field as sent: the engine calls the user
/// `handle`, these bodies call it `user`.
fn wx_error(e: EngineError) -> ControlError {
    match e {
        EngineError::Invalid {
            field: "handle",
            message,
        } => EngineError::Invalid {
            field: "user",
            message,
        }
        .into(),
        other => other.into(),
    }
}

fn app_or_default(s: &Shared, appid: &Option<AppId>) -> AppId {
    appid.clone().unwrap_or_else(|| s.engine.default_appid())
}

/// Body of `POST /wx/getPhoneNumber`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCall {
    /// The app; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle. Unless `strict`, an unknown user is created on the fly.
    pub user: UserHandle,
    /// Which button: `getPhoneNumber` (fast, the default) or `getRealtimePhoneNumber`.
    #[serde(default)]
    pub kind: PhoneButton,
    /// The user declines to share the number: the answer is `<kind>:fail user deny`, nothing is
    /// minted.
    #[serde(default)]
    pub deny: bool,
    /// Spoil the payload (left out or `null`: an honest one).
    #[serde(default)]
    pub tamper: Option<Tamper>,
}

/// What the button's handler gets in `e.detail` (plus `mock`, facts for tests, on a grant): a grant
/// or a refusal.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PhoneAnswer {
    /// `<kind>:ok` with the code (and the legacy encrypted number).
    Granted(Box<PhoneGrant>),
    /// `<kind>:fail ...`.
    Refused(PhoneRefusal),
}

/// A phone-number button that gave no number, as the handler's `e.detail`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PhoneRefusal {
    /// `<kind>:fail user deny` when the user declined; `<kind>:fail no quota` when the app's quota
    /// is used up (WeChat documents only the `errno` of that case: check `errno`, not the text).
    #[serde(rename = "errMsg")]
    pub err_msg: String,
    /// The app's phone-number quota is used up; absent when the user declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("const" = PHONE_QUOTA_ERRNO))]
    pub errno: Option<i64>,
}

async fn wx_phone(State(s): Ctx, Body(call): Body<PhoneCall>) -> Res<PhoneAnswer> {
    let appid = app_or_default(&s, &call.appid);
    let event = call.kind.event();
    if call.deny {
        s.engine
            .wx_phone_declined(&appid, &call.user)
            .map_err(wx_error)?;
        return Ok(Json(PhoneAnswer::Refused(PhoneRefusal {
            err_msg: format!("{event}:fail user deny"),
            errno: None,
        })));
    }
    match s
        .engine
        .wx_phone_button(&appid, &call.user, call.kind, call.tamper)
    {
        Ok(grant) => Ok(Json(PhoneAnswer::Granted(Box::new(grant)))),
        // Out of quota is the button's answer, not the control plane's error.
        Err(EngineError::PhoneQuotaExhausted(_)) => Ok(Json(PhoneAnswer::Refused(PhoneRefusal {
            err_msg: format!("{event}:fail no quota"),
            errno: Some(PHONE_QUOTA_ERRNO),
        }))),
        Err(e) => Err(wx_error(e)),
    }
}

/// Body of `POST /wx/getUserInfo` and `POST /wx/getUserProfile`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInfoCall {
    /// The app; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle; the user must have logged in to the app (`POST /wx/login`).
    pub user: UserHandle,
    /// Rules for this call; left out: the app's `profile_era`, else anonymous.
    #[serde(default)]
    pub era: Option<RuleEra>,
    /// Spoil the payload (left out or `null`: an honest one).
    #[serde(default)]
    pub tamper: Option<Tamper>,
}

async fn user_info(s: &Shared, call: UserInfoCall, api: UserInfoApi) -> Res<UserInfoGrant> {
    let appid = app_or_default(s, &call.appid);
    Ok(Json(
        s.engine
            .wx_user_info(&appid, &call.user, api, call.era, call.tamper)
            .map_err(wx_error)?,
    ))
}

async fn wx_get_user_info(State(s): Ctx, Body(call): Body<UserInfoCall>) -> Res<UserInfoGrant> {
    user_info(&s, call, UserInfoApi::GetUserInfo).await
}

async fn wx_get_user_profile(State(s): Ctx, Body(call): Body<UserInfoCall>) -> Res<UserInfoGrant> {
    user_info(&s, call, UserInfoApi::GetUserProfile).await
}

/// Body of `POST /wx/getShareInfo`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInfoCall {
    /// The app; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle; the user must have logged in to the app (`POST /wx/login`).
    pub user: UserHandle,
    /// Name of the chat group the share card was opened in; its openGId is stable per (app, group).
    #[schemars(length(min = 1))]
    pub group: String,
    /// Spoil the payload (left out or `null`: an honest one).
    #[serde(default)]
    pub tamper: Option<Tamper>,
}

async fn wx_share_info(State(s): Ctx, Body(call): Body<ShareInfoCall>) -> Res<ShareInfoGrant> {
    let appid = app_or_default(&s, &call.appid);
    Ok(Json(
        s.engine
            .wx_share_info(&appid, &call.user, &call.group, call.tamper)
            .map_err(wx_error)?,
    ))
}

/// Body of `POST /wx/getWeRunData`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeRunCall {
    /// The app; left out or `null`: the default app.
    #[serde(default)]
    pub appid: Option<AppId>,
    /// User handle; the user must have logged in to the app (`POST /wx/login`).
    pub user: UserHandle,
    /// Exactly 31 step counts, oldest day first (30 days ago .. today); left out: derived from the
    /// seed.
    #[serde(default)]
    #[schemars(length(min = 31, max = 31))]
    pub steps: Option<Vec<u32>>,
    /// Spoil the payload (left out or `null`: an honest one).
    #[serde(default)]
    pub tamper: Option<Tamper>,
}

async fn wx_werun(State(s): Ctx, Body(call): Body<WeRunCall>) -> Res<WeRunGrant> {
    let appid = app_or_default(&s, &call.appid);
    Ok(Json(
        s.engine
            .wx_werun(&appid, &call.user, call.steps, call.tamper)
            .map_err(wx_error)?,
    ))
}

/// The virtual clock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ClockView {
    /// Virtual time, Unix milliseconds.
    pub now_ms: i64,
    /// Virtual time, RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub now: String,
    /// Whether the clock is frozen.
    pub frozen: bool,
}

fn clock_view(s: &Shared) -> ClockView {
    let c = s.engine.clock();
    let now = c.now();
    ClockView {
        now_ms: now.millis(),
        now: now.rfc3339(),
        frozen: c.is_frozen(),
    }
}

async fn clock(State(s): Ctx) -> Json<ClockView> {
    Json(clock_view(&s))
}

/// A time: Unix seconds or RFC 3339 text.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum SetTime {
    /// Unix seconds.
    Secs(i64),
    /// RFC 3339 text.
    #[schemars(extend("format" = "date-time"))]
    Text(String),
}

/// Clock changes, applied in the order freeze/resume, set, advance. At least one is needed
/// (`invalid_body` otherwise); `freeze` and `resume` together are refused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClockRequest {
    /// Stop the clock.
    pub freeze: bool,
    /// Let it run again.
    pub resume: bool,
    /// Jump to this time, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z (the times an HTTP
    /// `Date` header can show; `invalid_field` otherwise).
    pub set: Option<SetTime>,
    /// Move forward by this duration (`"5m"`, `"301s"`); refused with `invalid_field` if it would
    /// take the clock past 9999-12-31T23:59:59Z.
    #[schemars(with = "Option<crate::clock::DurationText>")]
    pub advance: Option<String>,
}

async fn set_clock(State(s): Ctx, Body(req): Body<ClockRequest>) -> Res<ClockView> {
    let field = |field: &str, message: String| ControlError::InvalidField {
        field: field.into(),
        message,
    };
    if req.freeze && req.resume {
        return Err(field("freeze", "cannot freeze and resume at once".into()));
    }
    let set = match &req.set {
        None => None,
        Some(SetTime::Secs(n)) => Some(Timestamp::from_secs(*n)),
        Some(SetTime::Text(t)) => Some(Timestamp::parse_rfc3339(t).ok_or_else(|| {
            field(
                "set",
                format!("{t:?} is neither Unix seconds nor an RFC 3339 time"),
            )
        })?),
    };
    let advance = req
        .advance
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| field("advance", e))?;
    if !req.freeze && !req.resume && set.is_none() && advance.is_none() {
        return Err(ControlError::InvalidBody(
            "give at least one of `freeze`, `resume`, `set`, `advance`".into(),
        ));
    }
    let c = s.engine.clock();
    // The vendor surface dates every answer (`Date`), which IMF-fixdate can do from 1970 up to
    // the end of 9999: the clock stays in that range.
    let range = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z";
    if let Some(t) = set
        && !(Timestamp::EPOCH..=Timestamp::LATEST).contains(&t)
    {
        return Err(field("set", format!("{} {range}", t.rfc3339())));
    }
    if let Some(d) = advance {
        let from = set.unwrap_or_else(|| c.now());
        let to = from.plus(d);
        if to > Timestamp::LATEST {
            return Err(field(
                "advance",
                format!(
                    "would take the clock to {}; the clock {range}",
                    to.rfc3339()
                ),
            ));
        }
    }
    if req.freeze {
        c.freeze();
    }
    if req.resume {
        c.resume();
    }
    if let Some(t) = set {
        c.set(t);
    }
    if let Some(d) = advance {
        c.advance(d);
    }
    Ok(Json(clock_view(&s)))
}

async fn journal(State(s): Ctx, uri: Uri) -> Res<JournalPage> {
    let filter: JournalFilter =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|e| {
            ControlError::InvalidField {
                field: "query".into(),
                message: e.to_string(),
            }
        })?;
    Ok(Json(s.journal.read(&filter)))
}

async fn clear_journal(State(s): Ctx) -> Json<Done> {
    s.journal.clear();
    Json(Done { ok: true })
}

/// The fault rules in force.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FaultList {
    /// Rules in the order they are tried.
    pub faults: Vec<FaultRule>,
}

async fn faults(State(s): Ctx) -> Json<FaultList> {
    Json(FaultList {
        faults: s.engine.with_faults(|f| f.list()),
    })
}

async fn add_fault(
    State(s): Ctx,
    Body(spec): Body<FaultSpec>,
) -> Result<(StatusCode, Json<FaultRule>), ControlError> {
    let rule = s
        .engine
        .with_faults(|f| f.add(spec))
        .map_err(|(field, message)| ControlError::InvalidField {
            field: field.into(),
            message,
        })?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Fault rules removed.
#[derive(Serialize, schemars::JsonSchema)]
struct Removed {
    /// How many rules were removed.
    removed: usize,
}

async fn clear_faults(State(s): Ctx) -> Json<Removed> {
    let removed = s.engine.with_faults(|f| {
        let n = f.len();
        f.clear();
        n
    });
    Json(Removed { removed })
}

async fn remove_fault(State(s): Ctx, id: PathParam) -> Result<Json<Removed>, ControlError> {
    let id = path_param(id, "id")?;
    let id: u64 = id.parse().map_err(|_| ControlError::InvalidField {
        field: "id".into(),
        message: format!("{id:?} is not a fault rule id"),
    })?;
    if s.engine.with_faults(|f| f.remove(id)) {
        Ok(Json(Removed { removed: 1 }))
    } else {
        Err(ControlError::UnknownFault(id))
    }
}
