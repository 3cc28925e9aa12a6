//! Access tokens: `cgi-bin/token` and `cgi-bin/stable_token`, and the check every endpoint that
//! needs a token makes (`wechat-api.md` section 5); third-party platforms' component access
//! tokens live in the same store, minted by `platforms.rs` with cgi-bin/token's rules, and
//! each kind of check refuses the other kind (40001).

use std::time::Duration;

use super::{Map, State, TOKEN_GRACE, TOKEN_TTL};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::ids::{AccessToken, AppId, Generator};
use crate::reply::{Answer, Reply};
use crate::request::{Credentials, Flag, StableToken, VendorRequest};

/// Expired tokens are remembered this long so they answer 42001, not 40001.
const REMEMBER_EXPIRED: Duration = Duration::from_secs(86_400);
/// A forced stable_token refresh within this time of the previous one does not refresh.
const FORCE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Basic,
    Stable,
    /// A third-party platform's `component_access_token`; its "appid" is the platform's
    /// `component_appid`.
    Component,
}

struct TokenEntry {
    appid: AppId,
    kind: Kind,
    expires_at: Timestamp,
    /// Set when a newer token replaced this one: it works until then.
    valid_until: Option<Timestamp>,
}

#[derive(Default)]
struct AppTokens {
    basic: Option<AccessToken>,
    stable: Option<AccessToken>,
    component: Option<AccessToken>,
    basic_minted: u64,
    stable_minted: u64,
    component_minted: u64,
    last_forced: Option<Timestamp>,
}

#[derive(Default)]
pub(super) struct Tokens {
    tokens: Map<AccessToken, TokenEntry>,
    apps: Map<AppId, AppTokens>,
}

impl Tokens {
    pub fn sweep(&mut self, now: Timestamp) {
        self.tokens
            .retain(|_, t| t.expires_at.plus(REMEMBER_EXPIRED) > now);
    }

    pub fn count(&self) -> usize {
        self.tokens.len()
    }

    fn mint(
        &mut self,
        idgen: &Generator,
        appid: &AppId,
        kind: Kind,
        now: Timestamp,
    ) -> AccessToken {
        let slot = self.apps.entry(appid.clone()).or_default();
        let (current, minted, family) = match kind {
            Kind::Basic => (&mut slot.basic, &mut slot.basic_minted, "basic"),
            Kind::Stable => (&mut slot.stable, &mut slot.stable_minted, "stable"),
            Kind::Component => (&mut slot.component, &mut slot.component_minted, "component"),
        };
        let token = idgen.access_token(appid, family, *minted);
        *minted += 1;
        let previous = current.replace(token.clone());
        if let Some(prev) = previous.and_then(|p| self.tokens.get_mut(&p)) {
            // The previous token keeps working for five more minutes (never past its expiry).
            let until = now.plus(TOKEN_GRACE);
            prev.valid_until = Some(prev.valid_until.map_or(until, |v| v.min(until)));
        }
        self.tokens.insert(
            token.clone(),
            TokenEntry {
                appid: appid.clone(),
                kind,
                expires_at: now.plus(TOKEN_TTL),
                valid_until: None,
            },
        );
        token
    }
}

/// The app of a valid `access_token` query parameter, or the token error (41001, 40001, 42001).
pub(super) fn token_app(st: &State, token: Option<&str>, now: Timestamp) -> Result<AppId, WxError> {
    owner(st, token, now, |k| k != Kind::Component)
}

/// The platform (`component_appid`) of a valid `component_access_token`, or the token error
/// (41001, 40001, 42001); an app's token is no component token (40001).
pub(super) fn component_owner(
    st: &State,
    token: Option<&str>,
    now: Timestamp,
) -> Result<AppId, WxError> {
    owner(st, token, now, |k| k == Kind::Component)
}

/// A new component access token for a platform: a new one on every call, the previous one
/// working five more minutes, as `cgi-bin/token`.
pub(super) fn mint_component(
    st: &mut State,
    idgen: &Generator,
    component_appid: &AppId,
    now: Timestamp,
) -> AccessToken {
    st.tokens.mint(idgen, component_appid, Kind::Component, now)
}

fn owner(
    st: &State,
    token: Option<&str>,
    now: Timestamp,
    kind: impl Fn(Kind) -> bool,
) -> Result<AppId, WxError> {
    let token = token.ok_or(WxError::AccessTokenMissing)?;
    let entry = st
        .tokens
        .tokens
        .get(token)
        .filter(|e| kind(e.kind))
        .ok_or(WxError::InvalidCredential)?;
    // Forgotten a day after it expired, whether or not a sweep has removed it yet.
    if entry.expires_at.plus(REMEMBER_EXPIRED) <= now {
        return Err(WxError::InvalidCredential);
    }
    if entry.expires_at <= now {
        return Err(WxError::AccessTokenExpired);
    }
    if entry.valid_until.is_some_and(|t| t <= now) {
        return Err(WxError::InvalidCredential);
    }
    Ok(entry.appid.clone())
}

/// What `force_refresh` asks: a string flag is 47001 unless `lenient_force_refresh` takes
/// "true" and "false".
pub(super) fn force_flag(st: &State, flag: Option<&Flag>) -> Result<bool, WxError> {
    let lenient = st.options.lenient_force_refresh;
    match flag {
        Some(Flag::Bool(b)) => Ok(*b),
        Some(Flag::Text(t)) if lenient && (t == "true" || t == "false") => Ok(t == "true"),
        Some(Flag::Text(_)) => Err(WxError::DataFormatError),
        None => Ok(false),
    }
}

/// Checks appid and secret in the observed order: an invalid appid wins over a missing
/// grant_type ([S7-probe]), so grant_type comes last.
fn check_credentials(st: &State, c: &Credentials) -> Result<AppId, WxError> {
    let appid = c.appid.as_ref().ok_or(WxError::AppidMissing)?;
    let app = st.dir.apps.get(appid).ok_or(WxError::InvalidAppid)?;
    let secret = c.secret.as_deref().ok_or(WxError::AppsecretMissing)?;
    if app.secret.as_str() != secret {
        return Err(WxError::InvalidAppsecret);
    }
    if c.grant_type.as_deref() != Some("client_credential") {
        return Err(WxError::InvalidGrantType);
    }
    Ok(appid.clone())
}

/// `GET /cgi-bin/token?grant_type=client_credential&appid&secret`: a new token on every call.
pub(super) fn token(
    st: &mut State,
    idgen: &Generator,
    call: &Credentials,
    now: Timestamp,
) -> Answer {
    let result = check_credentials(st, call).map(|appid| {
        let token = st.tokens.mint(idgen, &appid, Kind::Basic, now);
        Reply::Token {
            access_token: token,
            expires_in: TOKEN_TTL.as_secs(),
        }
    });
    Answer {
        result,
        appid: call.appid.clone(),
        user: None,
        tencent: None,
    }
}

/// `POST /cgi-bin/stable_token`: the same token while it has more than five minutes left, with the
/// remaining lifetime; `force_refresh` rotates it (at most once per 30 s) and voids the old one.
pub(super) fn stable_token(
    st: &mut State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &StableToken,
    now: Timestamp,
) -> Answer {
    Answer {
        result: stable(st, idgen, req, call, now),
        appid: req.call.named_appid(),
        user: None,
        tencent: None,
    }
}

fn stable(
    st: &mut State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &StableToken,
    now: Timestamp,
) -> Result<Reply, WxError> {
    if !req.method_allowed() {
        return Err(WxError::RequirePost);
    }
    let (credentials, flag) = call.body.as_ref().map_err(|e| *e)?;
    let force = force_flag(st, flag.as_ref())?;
    let appid = check_credentials(st, credentials)?;
    let tokens = &mut st.tokens;
    let slot = tokens.apps.entry(appid.clone()).or_default();
    let last_forced = slot.last_forced;
    let current = slot
        .stable
        .clone()
        .and_then(|t| tokens.tokens.get(&t).map(|e| (t, e.expires_at)))
        .filter(|(_, exp)| *exp > now);
    let recently_forced = last_forced.is_some_and(|t| t.plus(FORCE_REFRESH_INTERVAL) > now);
    let (token, expires_at) = match current {
        Some((t, exp)) if force && recently_forced => (t, exp),
        // The platform rotates five minutes early, so a caller never sees less than 300 s.
        Some((t, exp)) if !force && now.until(exp) > TOKEN_GRACE => (t, exp),
        previous => {
            let fresh = tokens.mint(idgen, &appid, Kind::Stable, now);
            if force {
                tokens.apps.entry(appid).or_default().last_forced = Some(now);
                // A forced refresh voids the previous token at once.
                if let Some(old) = previous.and_then(|(t, _)| tokens.tokens.get_mut(&t)) {
                    old.valid_until = Some(now);
                }
            }
            (fresh, now.plus(TOKEN_TTL))
        }
    };
    Ok(Reply::Token {
        access_token: token,
        expires_in: now.until(expires_at).as_secs(),
    })
}
