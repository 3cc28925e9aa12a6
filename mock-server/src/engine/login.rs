//! `wx.login` codes, session keys and the endpoints that use them: jscode2session, checksession
//! and resetusersessionkey (`wechat-api.md` sections 2 and 4).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::directory::{LoginFacts, LoginGrant};
use super::{CODE_TTL, Engine, EngineError, Map, Sharded, State, maybe_sweep, minute_of, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::config::{AppKind, GrantTypeCheck, QuotaScope};
use crate::ids::{AppId, Generator, JsCode, OpenId, SessionKey, UnionId, UserHandle};
use crate::reply::{Answer, Reply};
use crate::request::{CodeExchange, SessionCheck};

struct CodeEntry {
    appid: AppId,
    user: UserHandle,
    openid: OpenId,
    unionid: Option<UnionId>,
    /// The key current when the code was minted: what the exchange returns.
    session_key: SessionKey,
    expires_at: Timestamp,
    used: bool,
}

struct Session {
    openid: OpenId,
    current: SessionKey,
    /// The key `current` replaced, for stale-key open data.
    previous: Option<SessionKey>,
    /// Keys minted so far; the next key is number `generation`.
    generation: u64,
    rotated_at: Timestamp,
    expires_at: Option<Timestamp>,
    codes_minted: u64,
    /// The key the mini-program got with its last `wx.login`: `wx.checkSession` succeeds while
    /// it is still the current one.
    handed_out: SessionKey,
    /// The user's last `wx.login` in the app: the visit getuserriskrank asks about.
    visited_at: Timestamp,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum QuotaKey {
    User(AppId, UserHandle),
    App(AppId),
}

#[derive(Default)]
pub(super) struct Logins {
    codes: Sharded<JsCode, CodeEntry>,
    sessions: Map<(AppId, UserHandle), Session>,
    by_openid: Map<OpenId, UserHandle>,
    quotas: Map<QuotaKey, (i64, u32)>,
}

impl Logins {
    pub fn sweep(&mut self, now: Timestamp) {
        // Used codes stay until they expire so a reuse still answers 40163; after that an
        // expired code is unknown, which is 40029 either way.
        self.codes.retain(|_, c| c.expires_at > now);
        let minute = minute_of(now);
        self.quotas.retain(|_, (m, _)| *m >= minute);
    }

    pub fn code_count(&self) -> usize {
        self.codes.len()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn quota_count(&self) -> usize {
        self.quotas.len()
    }

    pub fn current_key(&self, appid: &AppId, user: &UserHandle) -> Option<&SessionKey> {
        self.sessions
            .get(&(appid.clone(), user.clone()))
            .map(|s| &s.current)
    }

    /// The user of `openid` in `appid` and the time of their last `wx.login` there, once the
    /// user has logged in to the app.
    pub fn last_visit(&self, appid: &AppId, openid: &str) -> Option<(&UserHandle, Timestamp)> {
        let user = self.by_openid.get(openid)?;
        let session = self.sessions.get(&(appid.clone(), user.clone()))?;
        (session.openid.as_str() == openid).then_some((user, session.visited_at))
    }

    /// The openid, current and previous session_key of (app, user), once the user has logged in.
    pub fn keys(
        &self,
        appid: &AppId,
        user: &UserHandle,
    ) -> Option<(&OpenId, &SessionKey, Option<&SessionKey>)> {
        self.sessions
            .get(&(appid.clone(), user.clone()))
            .map(|s| (&s.openid, &s.current, s.previous.as_ref()))
    }

    /// The user behind `openid` in `appid`, once they have logged in to the app.
    pub fn user_of(&self, appid: &AppId, openid: &str) -> Option<&UserHandle> {
        let user = self.by_openid.get(openid)?;
        self.sessions
            .get(&(appid.clone(), user.clone()))
            .filter(|s| s.openid.as_str() == openid)
            .map(|_| user)
    }
}

/// Counts a call in its minute window; false when it goes over the limit.
fn admit(
    quotas: &mut Map<QuotaKey, (i64, u32)>,
    key: QuotaKey,
    limit: u32,
    now: Timestamp,
) -> bool {
    let minute = minute_of(now);
    let slot = quotas.entry(key).or_insert((minute, 0));
    if slot.0 != minute {
        *slot = (minute, 0);
    }
    slot.1 = slot.1.saturating_add(1);
    slot.1 <= limit
}

/// `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`.
pub(super) fn jscode2session(
    st: &mut State,
    idgen: &Generator,
    call: &CodeExchange,
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

fn exchange(
    st: &mut State,
    idgen: &Generator,
    call: &CodeExchange,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<Reply, WxError> {
    // Validation order as the reference gives it: 41002, 41004, 41008, 40013, 40125, 40002,
    // then the code itself.
    let appid = call.appid.as_ref().ok_or(WxError::AppidMissing)?;
    let secret = call.secret.as_deref().ok_or(WxError::AppsecretMissing)?;
    let code = call.js_code.as_deref().ok_or(WxError::MissingCode)?;
    // An official account's appid has no login codes: WeChat knows no such mini-program.
    let app = st
        .dir
        .apps
        .get(appid)
        .filter(|a| a.kind == AppKind::MiniProgram)
        .ok_or(WxError::InvalidAppid)?;
    if app.secret.as_str() != secret {
        return Err(WxError::InvalidAppsecret);
    }
    check_grant_type(st, call.grant_type.as_deref())?;
    redeem(st, idgen, appid, code, now, who)
}

/// 40002 unless `grant_type` is `authorization_code` (under the default
/// `jscode2session_grant_type`).
pub(super) fn check_grant_type(st: &State, grant_type: Option<&str>) -> Result<(), WxError> {
    if st.options.jscode2session_grant_type == GrantTypeCheck::Required
        && grant_type != Some("authorization_code")
    {
        return Err(WxError::InvalidGrantType);
    }
    Ok(())
}

/// Trades `code` for `appid`'s session: the code rules every exchange shares (jscode2session
/// and the third-party platforms' `sns/component/jscode2session`), over the one code store,
/// so a code is single use whichever endpoint spends it. In order: foreign codes adopted
/// (`accept_foreign_codes`), the app-wide quota (45011), unknown, expired or another app's
/// code (40029), the per-user quota (45011), used (40163), high-risk user (40226). `who` names
/// the code's user for the journal, even when the call is refused.
pub(super) fn redeem(
    st: &mut State,
    idgen: &Generator,
    appid: &AppId,
    code: &str,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<Reply, WxError> {
    if st.options.accept_foreign_codes && !st.logins.codes.contains_key(code) {
        // A code real WeChat gave a mini-program without the shim: adopted for the configured
        // user as if the mock had minted it (then used once, like any code). A user the mock
        // may not create (strict) leaves it unknown.
        let user = st.options.foreign_code_user.clone();
        let _ = mint(st, idgen, appid, &user, Some(JsCode::new(code)), now);
    }
    let limit = st.options.login_quota_per_minute;
    let Logins { codes, quotas, .. } = &mut st.logins;
    let entry = codes.get_mut(code);
    // Name the user in the journal even when the app-wide quota refuses the call.
    if let Some(entry) = &entry {
        *who = Some(entry.user.clone());
    }
    if st.options.quota_scope == QuotaScope::App
        && !admit(quotas, QuotaKey::App(appid.clone()), limit, now)
    {
        return Err(WxError::MinuteQuota);
    }
    let Some(entry) = entry else {
        return Err(WxError::InvalidCode);
    };
    if entry.expires_at <= now || entry.appid != *appid {
        return Err(WxError::InvalidCode);
    }
    if st.options.quota_scope == QuotaScope::User {
        let key = QuotaKey::User(entry.appid.clone(), entry.user.clone());
        if !admit(quotas, key, limit, now) {
            return Err(WxError::MinuteQuota);
        }
    }
    if entry.used {
        return Err(WxError::CodeBeenUsed);
    }
    if st.dir.users.get(&entry.user).is_some_and(|u| u.high_risk) {
        return Err(WxError::CodeBlocked);
    }
    entry.used = true;
    Ok(Reply::Session {
        session_key: entry.session_key.clone(),
        openid: entry.openid.clone(),
        unionid: entry.unionid.clone(),
    })
}

/// Marks the request's code used (a fault that "still consumes the code").
pub(super) fn consume(st: &mut State, call: &CodeExchange, now: Timestamp) {
    consume_code(st, call.appid.as_ref(), call.js_code.as_deref(), now);
}

/// Marks `code` used if it is a live code of `appid`, whichever exchange named it.
pub(super) fn consume_code(
    st: &mut State,
    appid: Option<&AppId>,
    code: Option<&str>,
    now: Timestamp,
) {
    if let Some(entry) = code.and_then(|c| st.logins.codes.get_mut(c))
        && entry.expires_at > now
        && Some(&entry.appid) == appid
    {
        entry.used = true;
    }
}

/// App and user of a jscode2session request, for fault matching.
pub(super) fn context(st: &State, call: &CodeExchange) -> (Option<AppId>, Option<UserHandle>) {
    (
        call.appid.clone(),
        code_user(st, call.appid.as_ref(), call.js_code.as_deref()),
    )
}

/// The user of `code` when it is a code of `appid` (live or not).
pub(super) fn code_user(
    st: &State,
    appid: Option<&AppId>,
    code: Option<&str>,
) -> Option<UserHandle> {
    code.and_then(|c| st.logins.codes.get(c))
        .filter(|e| Some(&e.appid) == appid)
        .map(|e| e.user.clone())
}

/// Whether `code` is a `wx.login` code not yet expired (of any app): getpluginopenpid tells
/// such a code from one it never saw (1007, not 1001).
pub(super) fn is_live_login_code(st: &State, code: &str, now: Timestamp) -> bool {
    st.logins
        .codes
        .get(code)
        .is_some_and(|e| e.expires_at > now)
}

/// App and user of a checksession or resetusersessionkey request.
pub(super) fn session_context(
    st: &State,
    call: &SessionCheck,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let appid = tokens::token_app(st, call.access_token.as_deref(), now).ok();
    let user = call
        .openid
        .as_deref()
        .and_then(|o| st.logins.by_openid.get(o))
        .cloned();
    (appid, user)
}

/// hex(HMAC-SHA256(key = the session_key string, message)) (`wechat-api.md` 4.2).
pub fn login_signature(session_key: &str, message: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(session_key.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks sig_method, openid and signature against the session of the token's app
/// (`token`, the outcome of [`tokens::token_app`]); returns the (app, user) key of the session.
/// getuserencryptkey checks its query the same way.
pub(super) fn verify_session(
    st: &State,
    call: &SessionCheck,
    token: Result<AppId, WxError>,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<(AppId, UserHandle), WxError> {
    let appid = token?;
    if call.sig_method.as_deref() != Some("hmac_sha256") {
        return Err(WxError::InvalidSigMethod);
    }
    let openid = call.openid.as_deref();
    let user = openid
        .and_then(|o| st.logins.by_openid.get(o))
        .cloned()
        .ok_or(WxError::InvalidOpenid)?;
    *who = Some(user.clone());
    let key = (appid, user);
    let session = st
        .logins
        .sessions
        .get(&key)
        .filter(|s| openid == Some(s.openid.as_str()))
        .ok_or(WxError::InvalidOpenid)?;
    if session.expires_at.is_some_and(|t| t <= now) {
        return Err(WxError::SessionKeyNotExisted);
    }
    let expected = login_signature(session.current.as_str(), b"");
    if call.signature.as_deref() != Some(expected.as_str()) {
        return Err(WxError::InvalidSignature);
    }
    Ok(key)
}

/// `GET /wxa/checksession?access_token&openid&signature&sig_method=hmac_sha256`.
pub(super) fn checksession(st: &mut State, call: &SessionCheck, now: Timestamp) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = verify_session(st, call, token.clone(), now, &mut user).map(|_| Reply::Ok);
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// `GET /wxa/resetusersessionkey`: a new key at once; it inherits the old key's expiry.
pub(super) fn reset_session_key(
    st: &mut State,
    idgen: &Generator,
    call: &SessionCheck,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = verify_session(st, call, token.clone(), now, &mut user).and_then(|key| {
        let session = st
            .logins
            .sessions
            .get_mut(&key)
            .ok_or(WxError::SessionKeyNotExisted)?;
        let next = idgen.session_key(&key.0, &key.1, session.generation);
        session.previous = Some(std::mem::replace(&mut session.current, next));
        session.generation += 1;
        session.rotated_at = now;
        Ok(Reply::SessionKeyReset {
            openid: session.openid.clone(),
            session_key: session.current.clone(),
        })
    });
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// What `wx.checkSession` answers.
#[derive(Clone, Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct CheckSessionGrant {
    /// `checkSession:ok` while the session_key the last `wx.login` handed out is still the user's
    /// current, unexpired key in the app; else `checkSession:fail`.
    #[serde(rename = "errMsg")]
    #[schemars(extend("enum" = ["checkSession:ok", "checkSession:fail"]))]
    pub err_msg: String,
    /// Why it failed (not part of the real callback): no `wx.login` yet in this app, the key
    /// expired (`session_key_ttl`), or resetusersessionkey replaced it since the last `wx.login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["never_logged_in", "expired", "reset"]))]
    pub reason: Option<String>,
}

impl Engine {
    /// The simulated mini-program's `wx.checkSession` for (app, user); the default app when
    /// `appid` is `None`. A user the mock does not know has no session (under `strict`, an
    /// unknown user is refused as by `wx.login`).
    pub fn wx_check_session(
        &self,
        appid: Option<&AppId>,
        user: &UserHandle,
    ) -> Result<CheckSessionGrant, EngineError> {
        let now = self.clock.now();
        let st = self.lock();
        let appid = appid.unwrap_or_else(|| st.dir.default_appid());
        st.dir.mini_program(appid)?;
        if st.options.strict && !st.dir.users.contains_key(user) {
            return Err(EngineError::UnknownUser(user.to_string()));
        }
        let reason = match st.logins.sessions.get(&(appid.clone(), user.clone())) {
            None => Some("never_logged_in"),
            Some(s) if s.expires_at.is_some_and(|t| t <= now) => Some("expired"),
            Some(s) if s.current != s.handed_out => Some("reset"),
            Some(_) => None,
        };
        Ok(CheckSessionGrant {
            err_msg: if reason.is_none() {
                "checkSession:ok"
            } else {
                "checkSession:fail"
            }
            .into(),
            reason: reason.map(str::to_owned),
        })
    }

    /// The simulated mini-program's `wx.login`: mints a code for (app, user), rotating the
    /// session_key unless it rotated within `session_key_min_rotation` (or has expired).
    pub fn wx_login(&self, appid: &AppId, user: &UserHandle) -> Result<LoginGrant, EngineError> {
        self.wx_login_in(Some(appid), user)
    }

    /// [`Engine::wx_login`] in `appid`, or in the default app when it is `None` (looked up under
    /// the same lock).
    pub fn wx_login_in(
        &self,
        appid: Option<&AppId>,
        user: &UserHandle,
    ) -> Result<LoginGrant, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        let appid = match appid {
            Some(appid) => Cow::Borrowed(appid),
            None => Cow::Owned(st.dir.default_appid().clone()),
        };
        maybe_sweep(st, now);
        mint(st, &self.idgen, appid.as_ref(), user, None, now)
    }
}

/// Mints a login code for (app, user), rotating the session_key unless it rotated within
/// `session_key_min_rotation` (or has expired): a fresh code, or `given` (a foreign code
/// adopted under `accept_foreign_codes`).
fn mint(
    st: &mut State,
    idgen: &Generator,
    appid: &AppId,
    user: &UserHandle,
    given: Option<JsCode>,
    now: Timestamp,
) -> Result<LoginGrant, EngineError> {
    let platform = st.dir.mini_program(appid)?.platform.clone();
    st.dir.ensure_user(idgen, user, st.options.strict)?;
    let (min_rotation, ttl) = (
        st.options.session_key_min_rotation,
        st.options.session_key_ttl,
    );
    let key = (appid.clone(), user.clone());
    let mut rotated = false;
    let session = st.logins.sessions.entry(key).or_insert_with(|| {
        rotated = true;
        Session {
            openid: idgen.openid(appid, user),
            current: idgen.session_key(appid, user, 0),
            previous: None,
            generation: 1,
            rotated_at: now,
            expires_at: ttl.map(|t| now.plus(t)),
            codes_minted: 0,
            handed_out: idgen.session_key(appid, user, 0),
            visited_at: now,
        }
    });
    session.visited_at = now;
    let expired = session.expires_at.is_some_and(|t| t <= now);
    if !rotated && (expired || session.rotated_at.plus(min_rotation) <= now) {
        let next = idgen.session_key(appid, user, session.generation);
        session.previous = Some(std::mem::replace(&mut session.current, next));
        session.generation += 1;
        session.rotated_at = now;
        session.expires_at = ttl.map(|t| now.plus(t));
        rotated = true;
    }
    let code = match given {
        Some(code) => code,
        None => loop {
            let c = idgen.js_code(appid, user, session.codes_minted);
            session.codes_minted += 1;
            if !st.logins.codes.contains_key(c.as_str()) {
                break c;
            }
        },
    };
    session.handed_out = session.current.clone();
    let openid = session.openid.clone();
    let unionid = platform.as_ref().map(|p| idgen.unionid(p, user));
    let session_key = session.current.clone();
    if st.logins.by_openid.get(&openid) != Some(user) {
        st.logins.by_openid.insert(openid.clone(), user.clone());
    }
    let expires_at = now.plus(CODE_TTL);
    st.logins.codes.insert(
        code.clone(),
        CodeEntry {
            appid: appid.clone(),
            user: user.clone(),
            openid: openid.clone(),
            unionid: unionid.clone(),
            session_key: session_key.clone(),
            expires_at,
            used: false,
        },
    );
    Ok(LoginGrant {
        code: code.as_str().to_owned(),
        err_msg: "login:ok".into(),
        mock: LoginFacts {
            appid: appid.clone(),
            user: user.clone(),
            openid,
            unionid,
            session_key: session_key.as_str().to_owned(),
            rotated,
            expires_at: expires_at.secs(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_signature_matches_the_reference_vectors() {
        // wechat-api.md 4.2, from the login-state signature doc [D10].
        assert_eq!(
            login_signature("o0q0otL8aEzpcZL/FT9WsQ==", br#"{"foo":"bar"}"#),
            "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"
        );
        assert_eq!(
            login_signature("tiihtNczf5v6AKRyjwEUhQ==", b""),
            "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735"
        );
    }
}
