//! Third-party platforms (`wechat-api.md` 7a): their `component_verify_ticket`s,
//! `cgi-bin/component/api_component_token` and `sns/component/jscode2session`, which logs a
//! user in to a mini-program that authorised the platform.
//!
//! WeChat pushes each platform a new ticket every ten minutes, and a ticket works for twelve
//! hours. The mock needs no timer for that: time since the platform's creation is cut into
//! ten-minute windows on the virtual clock, and window `n`'s ticket is derived from the seed,
//! the platform and `n` (`ids.rs`), carrying `n` so that a ticket sent back tells its window
//! (and so its age) by itself. `POST /__mock__/platforms/{id}/ticket` pushes a fresh ticket at
//! once: it starts a new run of windows at that instant, whose first window's number follows
//! the last one's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, Map, State, directory, login, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::config::PlatformSpec;
use crate::ids::{AppId, AppSecret, Generator, UserHandle};
use crate::reply::{Answer, Reply};
use crate::request::{ComponentCodeExchange, ComponentToken, VendorRequest};

/// How often WeChat pushes a platform a new `component_verify_ticket`.
pub const TICKET_INTERVAL: Duration = Duration::from_secs(600);
/// How long a `component_verify_ticket` works.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(12 * 3600);

pub(super) struct Platform {
    secret: AppSecret,
    name: Option<String>,
    /// Mini-programs that authorised the platform, in the order they did.
    authorized: Vec<AppId>,
    /// Runs of ticket windows, oldest first: (number of the run's first window, when it
    /// began). A run goes on in ten-minute steps until the next run begins.
    runs: Vec<(u64, Timestamp)>,
}

impl Platform {
    /// The window current at `now`, and when its ticket was pushed.
    fn current_window(&self, now: Timestamp) -> (u64, Timestamp) {
        let (first, began) = self.runs.last().copied().unwrap_or((0, now));
        let steps = began.until(now).as_secs() / TICKET_INTERVAL.as_secs();
        (first + steps, began.plus(TICKET_INTERVAL * u32_of(steps)))
    }

    /// When window `n`'s ticket was pushed; `None` for a window that has not begun by `now`.
    fn pushed_at(&self, n: u64, now: Timestamp) -> Option<Timestamp> {
        if n > self.current_window(now).0 {
            return None;
        }
        let run = self.runs.iter().rev().find(|(first, _)| *first <= n)?;
        Some(run.1.plus(TICKET_INTERVAL * u32_of(n - run.0)))
    }
}

/// Saturating: window counts past `u32::MAX` (80,000 years of windows) do not occur.
fn u32_of(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Default)]
pub(super) struct Platforms {
    by_id: Map<AppId, Platform>,
    order: Vec<AppId>,
    /// Platforms created with a generated `component_appid`: numbers the next one.
    generated: u64,
}

impl Platforms {
    pub fn count(&self) -> usize {
        self.by_id.len()
    }

    fn get(&self, id: &AppId) -> Result<&Platform, EngineError> {
        self.by_id
            .get(id)
            .ok_or_else(|| EngineError::UnknownPlatform(id.to_string()))
    }

    fn get_mut(&mut self, id: &AppId) -> Result<&mut Platform, EngineError> {
        self.by_id
            .get_mut(id)
            .ok_or_else(|| EngineError::UnknownPlatform(id.to_string()))
    }
}

/// A third-party platform, with the `component_verify_ticket` WeChat pushed it last.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlatformView {
    /// The platform's appid.
    pub component_appid: AppId,
    /// Its AppSecret (shown: tests need it).
    pub component_appsecret: String,
    /// A name for humans.
    pub name: Option<String>,
    /// The ticket of the current ten-minute window: `ticket@@@` + 86 base64url characters, as
    /// WeChat's. What `api_component_token` takes.
    pub component_verify_ticket: String,
    /// When it was pushed, Unix seconds (virtual clock).
    pub ticket_pushed_at: i64,
    /// When it stops working (61005), Unix seconds: twelve hours after its push.
    pub ticket_expires_at: i64,
    /// When WeChat pushes the next one, Unix seconds: ten minutes after this one (or at once, `POST
    /// .../ticket`).
    pub next_ticket_at: i64,
    /// The mini-programs that authorised the platform, in the order they did.
    pub authorizations: Vec<AppId>,
}

/// Creates a platform in `st` (the seed file's and the control plane's), checking everything
/// before anything is written.
pub(super) fn create(
    st: &mut State,
    idgen: &Generator,
    spec: PlatformSpec,
    now: Timestamp,
) -> Result<AppId, EngineError> {
    if let Some(id) = &spec.component_appid {
        directory::check_text("component_appid", id.as_str(), 64)?;
        if st.platforms.by_id.contains_key(id) {
            return Err(EngineError::PlatformExists(id.to_string()));
        }
    }
    if let Some(s) = &spec.component_appsecret {
        directory::check_text("component_appsecret", s.as_str(), 128)?;
    }
    if let Some(name) = &spec.name {
        directory::check_text("name", name, 1024)?;
    }
    let mut authorized: Vec<AppId> = Vec::new();
    for appid in &spec.authorizations {
        st.dir.app(appid)?;
        if !authorized.contains(appid) {
            authorized.push(appid.clone());
        }
    }
    let platforms = &mut st.platforms;
    let id = match spec.component_appid {
        Some(id) => id,
        None => loop {
            let id = idgen.component_appid(platforms.generated);
            platforms.generated += 1;
            if !platforms.by_id.contains_key(&id) {
                break id;
            }
        },
    };
    let secret = spec
        .component_appsecret
        .unwrap_or_else(|| idgen.secret(&id));
    platforms.by_id.insert(
        id.clone(),
        Platform {
            secret,
            name: spec.name,
            authorized,
            runs: vec![(0, now)],
        },
    );
    platforms.order.push(id.clone());
    Ok(id)
}

pub(super) fn view(st: &State, idgen: &Generator, id: &AppId, now: Timestamp) -> PlatformView {
    let p = &st.platforms.by_id[id];
    let (window, pushed) = p.current_window(now);
    PlatformView {
        component_appid: id.clone(),
        component_appsecret: p.secret.as_str().to_owned(),
        name: p.name.clone(),
        component_verify_ticket: idgen.component_verify_ticket(id, window),
        ticket_pushed_at: pushed.secs(),
        ticket_expires_at: pushed.plus(TICKET_LIFETIME).secs(),
        next_ticket_at: pushed.plus(TICKET_INTERVAL).secs(),
        authorizations: p.authorized.clone(),
    }
}

/// Every platform, in creation order (`GET /__mock__/state`).
pub(super) fn views(st: &State, idgen: &Generator, now: Timestamp) -> Vec<PlatformView> {
    st.platforms
        .order
        .iter()
        .map(|id| view(st, idgen, id, now))
        .collect()
}

impl Engine {
    /// Creates a third-party platform.
    pub fn create_platform(&self, spec: PlatformSpec) -> Result<PlatformView, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let id = create(&mut st, &self.idgen, spec, now)?;
        Ok(view(&st, &self.idgen, &id, now))
    }

    /// One platform, with its current ticket.
    pub fn platform(&self, id: &AppId) -> Result<PlatformView, EngineError> {
        let now = self.clock.now();
        let st = self.lock();
        st.platforms.get(id)?;
        Ok(view(&st, &self.idgen, id, now))
    }

    /// A mini-program (an app of the mock) authorises the platform; authorising again changes
    /// nothing.
    pub fn authorize_platform(
        &self,
        id: &AppId,
        appid: &AppId,
    ) -> Result<PlatformView, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        st.platforms.get(id)?;
        st.dir.app(appid)?;
        let p = st.platforms.get_mut(id)?;
        if !p.authorized.contains(appid) {
            p.authorized.push(appid.clone());
        }
        Ok(view(st, &self.idgen, id, now))
    }

    /// The mini-program withdraws its authorisation: `sns/component/jscode2session` for it
    /// answers 61003 from now on.
    pub fn withdraw_platform(
        &self,
        id: &AppId,
        appid: &AppId,
    ) -> Result<PlatformView, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let p = st.platforms.get_mut(id)?;
        let before = p.authorized.len();
        p.authorized.retain(|a| a != appid);
        if p.authorized.len() == before {
            return Err(EngineError::NotAuthorized {
                platform: id.to_string(),
                appid: appid.to_string(),
            });
        }
        Ok(view(&st, &self.idgen, id, now))
    }

    /// WeChat pushes the platform a fresh ticket now: a new ten-minute window begins at once.
    /// The earlier tickets keep their twelve hours.
    pub fn push_ticket(&self, id: &AppId) -> Result<PlatformView, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let p = st.platforms.get_mut(id)?;
        let (current, _) = p.current_window(now);
        p.runs.push((current + 1, now));
        Ok(view(&st, &self.idgen, id, now))
    }
}

/// `POST /cgi-bin/component/api_component_token` with `{"component_appid",
/// "component_appsecret","component_verify_ticket"}`: a new component access token on every
/// call, as `cgi-bin/token`.
pub(super) fn component_token(
    st: &mut State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &ComponentToken,
    now: Timestamp,
) -> Answer {
    let result = judge_token(st, idgen, req, call, now).map(|id| Reply::ComponentToken {
        component_access_token: tokens::mint_component(st, idgen, &id, now),
        expires_in: super::TOKEN_TTL.as_secs(),
    });
    Answer {
        result,
        appid: req.call.named_appid(),
        user: None,
        tencent: None,
    }
}

/// In the order the token endpoints check: the method (43002), the body (47001), the appid
/// (41002 missing; 61011 an app's, not a platform's; 40013 unknown), the secret (41004, 40125),
/// then the ticket: none or one never pushed to this platform 61006, pushed more than twelve
/// hours ago 61005.
fn judge_token(
    st: &State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &ComponentToken,
    now: Timestamp,
) -> Result<AppId, WxError> {
    if !req.method_allowed() {
        return Err(WxError::RequirePost);
    }
    let c = call.body.as_ref().map_err(|e| *e)?;
    let id = c.component_appid.as_ref().ok_or(WxError::AppidMissing)?;
    let Some(platform) = st.platforms.by_id.get(id) else {
        return Err(if st.dir.apps.contains_key(id) {
            WxError::InvalidComponent
        } else {
            WxError::InvalidAppid
        });
    };
    let secret = c
        .component_appsecret
        .as_deref()
        .ok_or(WxError::AppsecretMissing)?;
    if platform.secret.as_str() != secret {
        return Err(WxError::InvalidAppsecret);
    }
    let pushed = c
        .component_verify_ticket
        .as_deref()
        .and_then(|t| idgen.ticket_window(id, t))
        .and_then(|n| platform.pushed_at(n, now))
        .ok_or(WxError::TicketInvalid)?;
    if pushed.plus(TICKET_LIFETIME) <= now {
        return Err(WxError::TicketExpired);
    }
    Ok(id.clone())
}

/// `GET /sns/component/jscode2session?appid&js_code&grant_type&component_appid&
/// component_access_token`: jscode2session for a mini-program that authorised the platform,
/// with the same code rules over the same codes ([`login::redeem`]).
pub(super) fn component_jscode2session(
    st: &mut State,
    idgen: &Generator,
    call: &ComponentCodeExchange,
    now: Timestamp,
) -> Answer {
    let mut user = None;
    let result = exchange(st, idgen, call, now, &mut user);
    Answer {
        result,
        appid: call.appid.clone(),
        user,
        tencent: None,
    }
}

/// The component token first (41001, 40001, 42001; a token of another platform than
/// `component_appid`, 40001; no `component_appid`, 41002), then the mini-program (41002
/// missing, 40013 unknown, 61003 not authorised to the platform), then 41008 and grant_type as
/// jscode2session, then the code.
fn exchange(
    st: &mut State,
    idgen: &Generator,
    call: &ComponentCodeExchange,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<Reply, WxError> {
    let owner = tokens::component_owner(st, call.component_access_token.as_deref(), now)?;
    let id = call.component_appid.as_ref().ok_or(WxError::AppidMissing)?;
    if *id != owner {
        return Err(WxError::InvalidCredential);
    }
    let appid = call.appid.as_ref().ok_or(WxError::AppidMissing)?;
    if !st.dir.apps.contains_key(appid) {
        return Err(WxError::InvalidAppid);
    }
    let authorized = st
        .platforms
        .by_id
        .get(id)
        .is_some_and(|p| p.authorized.contains(appid));
    if !authorized {
        return Err(WxError::ComponentNotAuthorized);
    }
    let code = call.js_code.as_deref().ok_or(WxError::MissingCode)?;
    login::check_grant_type(st, call.grant_type.as_deref())?;
    login::redeem(st, idgen, appid, code, now, who)
}

/// Marks the request's code used (a fault that "still consumes the code").
pub(super) fn consume(st: &mut State, call: &ComponentCodeExchange, now: Timestamp) {
    login::consume_code(st, call.appid.as_ref(), call.js_code.as_deref(), now);
}

/// App (the mini-program) and user of a component jscode2session request.
pub(super) fn context(
    st: &State,
    call: &ComponentCodeExchange,
) -> (Option<AppId>, Option<UserHandle>) {
    (
        call.appid.clone(),
        login::code_user(st, call.appid.as_ref(), call.js_code.as_deref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(began: i64) -> Platform {
        Platform {
            secret: AppSecret::new("s"),
            name: None,
            authorized: Vec::new(),
            runs: vec![(0, Timestamp::from_secs(began))],
        }
    }

    #[test]
    fn windows_are_ten_minutes_from_creation_and_a_push_starts_a_new_run() {
        let at = Timestamp::from_secs;
        let mut p = platform(1000);
        assert_eq!(p.current_window(at(1000)), (0, at(1000)));
        assert_eq!(p.current_window(at(1599)), (0, at(1000)));
        assert_eq!(p.current_window(at(1600)), (1, at(1600)));
        // A push at 1700 begins window 2 there; window 1 keeps its push time.
        p.runs.push((2, at(1700)));
        assert_eq!(p.current_window(at(1700)), (2, at(1700)));
        assert_eq!(p.current_window(at(2300)), (3, at(2300)));
        assert_eq!(p.pushed_at(1, at(2300)), Some(at(1600)));
        assert_eq!(p.pushed_at(3, at(2300)), Some(at(2300)));
        assert_eq!(p.pushed_at(4, at(2300)), None, "not pushed yet");
        // A clock set back before the run began stays in the run's first window.
        assert_eq!(p.current_window(at(10)), (2, at(1700)));
    }
}
