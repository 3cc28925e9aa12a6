//! WeChat's daily API quotas (`wechat-api.md` 7a): calls per app and API per day, the day being
//! China's (UTC+8); past an API's daily limit its calls answer 45009 `reach max api daily quota
//! limit` until the next day or a `clear_quota`; `stable_token` with `force_refresh` has 20 a
//! day of its own; `clear_quota` itself takes effect 10 times a calendar month.
//!
//! What is counted is what WeChat can bill an app for: a call whose app is known before its
//! rules run (a valid access token, or the right appid and secret on the endpoints that take
//! them), whatever it then answers (a `40029` on a phone code ran on WeChat's side too). Not
//! counted: calls refused before the app is known (41001, 40001, 42001, 40013, 40125, 41002,
//! 41004, 43002, a 47001 before the credentials), calls the quota itself refuses (45009), and
//! answers of fault rules (the network's, not WeChat's). `sns/*` APIs are neither counted nor
//! limited: WeChat publishes no daily limit for them and `openapi/quota/get` refuses them
//! (76022).

use super::{Map, State, tokens};
use crate::catalogue::{Family, WxError};
use crate::clock::Timestamp;
use crate::config::{AppKind, Options};
use crate::endpoint::{Endpoint, Vendor};
use crate::ids::AppId;
use crate::request::{Call, VendorRequest};

/// Daily limit of an API WeChat publishes none for (the `wxa/*` login APIs, quota/get, rid/get,
/// and any the mock adds without one of its own): the mock's choice, 500,000, the figure
/// WeChat's community answers give as an account's default (quota/get tells the real one).
pub const DEFAULT_DAILY_LIMIT: u64 = 500_000;
/// `cgi-bin/stable_token` calls a day (`wechat-api.md` 5.2: 500,000 a day overall).
pub const STABLE_TOKEN_DAILY_LIMIT: u64 = 500_000;
/// `stable_token` calls with `force_refresh: true` a day (`wechat-api.md` 5.2).
pub const FORCE_REFRESH_DAILY_LIMIT: u32 = 20;
/// `cgi-bin/user/info` calls a day (the official accounts' API limits table: 5,000,000).
pub const USER_INFO_DAILY_LIMIT: u64 = 5_000_000;
/// `clear_quota` calls a day, as quota/get shows them on WeChat (100).
pub const CLEAR_QUOTA_DAILY_LIMIT: u64 = 100;
/// Clears that take effect per calendar month (China time), `clear_quota` and
/// `clear_quota/v2` together; the 11th answers 48006.
pub const CLEARS_PER_MONTH: u32 = 10;

/// The daily limit of an API for an app, `None` for those WeChat neither counts nor limits
/// (`sns/*`, Tencent Cloud's, the catch-alls).
pub fn daily_limit(endpoint: Endpoint, options: &Options) -> Option<u64> {
    let row = endpoint.row();
    if row.vendor != Vendor::WeChat || row.family == Family::Sns {
        return None;
    }
    match endpoint {
        Endpoint::Token => Some(u64::from(options.token_daily_limit)),
        Endpoint::StableToken => Some(STABLE_TOKEN_DAILY_LIMIT),
        Endpoint::UserInfo => Some(USER_INFO_DAILY_LIMIT),
        Endpoint::ClearQuota | Endpoint::ClearQuotaV2 => Some(CLEAR_QUOTA_DAILY_LIMIT),
        Endpoint::Stubbed | Endpoint::Unknown => None,
        _ => Some(DEFAULT_DAILY_LIMIT),
    }
}

/// The kind of account an API belongs to, `None` for those every account calls (tokens, the
/// quota and rid APIs): `wxa/*` are mini-programs', `cgi-bin/user/info` official accounts'.
/// The other kind's token gets 48001 there, and 76022 from quota/get.
pub(super) fn account_kind(endpoint: Endpoint) -> Option<AppKind> {
    match endpoint {
        Endpoint::UserInfo => Some(AppKind::OfficialAccount),
        e if e.row().family == Family::Wxa => Some(AppKind::MiniProgram),
        _ => None,
    }
}

/// Today's counts, by China day number.
#[derive(Default)]
pub(super) struct Quotas {
    /// Calls per (app, API): (day, count).
    calls: Map<(AppId, Endpoint), (i64, u64)>,
    /// `stable_token` calls with `force_refresh` per app: (day, count).
    forced: Map<AppId, (i64, u32)>,
    /// Clears that took effect per app: (month, count).
    clears: Map<AppId, (i64, u32)>,
}

/// Today's count of a (day, count) slot.
fn today<N: Copy + Default>(slot: Option<&(i64, N)>, day: i64) -> N {
    slot.filter(|(d, _)| *d == day)
        .map_or_else(N::default, |(_, n)| *n)
}

impl Quotas {
    /// Calls `appid` made to `endpoint` on China day `day`.
    pub fn used(&self, appid: &AppId, endpoint: Endpoint, day: i64) -> u64 {
        today(self.calls.get(&(appid.clone(), endpoint)), day)
    }

    /// Forgets the days and months that are over (one entry per app and API at most, so
    /// bounded anyway).
    pub fn sweep(&mut self, now: Timestamp) {
        let (day, month) = (now.china_day(), now.china_month());
        self.calls.retain(|_, (d, _)| *d >= day);
        self.forced.retain(|_, (d, _)| *d >= day);
        self.clears.retain(|_, (m, _)| *m >= month);
    }

    /// Whether `appid` has a clear left this month.
    pub fn may_clear(&self, appid: &AppId, now: Timestamp) -> bool {
        today(self.clears.get(appid), now.china_month()) < CLEARS_PER_MONTH
    }

    /// `clear_quota`: every daily count of `appid` back to zero, one clear of the month used.
    pub fn clear(&mut self, appid: &AppId, now: Timestamp) {
        self.calls.retain(|(app, _), _| app != appid);
        self.forced.remove(appid);
        let month = now.china_month();
        let slot = self.clears.entry(appid.clone()).or_insert((month, 0));
        if slot.0 != month {
            *slot = (month, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }
}

/// A call the quota counts: the app it is billed to.
pub(super) struct Billed {
    /// The app.
    pub app: AppId,
    /// A `stable_token` call with `force_refresh: true`.
    force: bool,
}

/// The app a call is billed to, when WeChat knows it before the call's rules run.
pub(super) fn billed(st: &State, req: &VendorRequest, now: Timestamp) -> Option<Billed> {
    // A POST API asked with GET is refused before anything else (43002).
    if !req.method_allowed() {
        return None;
    }
    daily_limit(req.endpoint, &st.options)?;
    let by_secret = |appid: Option<&AppId>, secret: Option<&str>| {
        let appid = appid?;
        let app = st.dir.apps.get(appid)?;
        (Some(app.secret.as_str()) == secret).then(|| appid.clone())
    };
    let (app, force) = match &req.call {
        Call::Token(c) => (by_secret(c.appid.as_ref(), c.secret.as_deref())?, false),
        Call::StableToken(s) => {
            let (c, flag) = s.body.as_ref().ok()?;
            let force = tokens::force_flag(st, flag.as_ref()).ok()?;
            (by_secret(c.appid.as_ref(), c.secret.as_deref())?, force)
        }
        Call::ClearQuotaV2(c) => {
            let (appid, secret) = c.body.as_ref().ok()?;
            (by_secret(appid.as_ref(), secret.as_deref())?, false)
        }
        call => {
            let token = call.access_token()?;
            (tokens::token_app(st, token, now).ok()?, false)
        }
    };
    Some(Billed { app, force })
}

/// 45009 when the call is past its API's daily limit, or past the 20 forced refreshes.
pub(super) fn admit(
    st: &State,
    b: &Billed,
    endpoint: Endpoint,
    now: Timestamp,
) -> Result<(), WxError> {
    let day = now.china_day();
    let limit = daily_limit(endpoint, &st.options).unwrap_or(u64::MAX);
    if st.quotas.used(&b.app, endpoint, day) >= limit {
        return Err(WxError::DailyQuota);
    }
    if b.force && today(st.quotas.forced.get(&b.app), day) >= FORCE_REFRESH_DAILY_LIMIT {
        return Err(WxError::DailyQuota);
    }
    Ok(())
}

/// Counts an answered call.
pub(super) fn count(st: &mut State, b: Billed, endpoint: Endpoint, now: Timestamp) {
    let day = now.china_day();
    let q = &mut st.quotas;
    if b.force {
        let slot = q.forced.entry(b.app.clone()).or_insert((day, 0));
        if slot.0 != day {
            *slot = (day, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }
    let slot = q.calls.entry((b.app, endpoint)).or_insert((day, 0));
    if slot.0 != day {
        *slot = (day, 0);
    }
    slot.1 = slot.1.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_documented_table() {
        let o = Options::default();
        assert_eq!(daily_limit(Endpoint::Token, &o), Some(10_000));
        assert_eq!(daily_limit(Endpoint::StableToken, &o), Some(500_000));
        assert_eq!(daily_limit(Endpoint::UserInfo, &o), Some(5_000_000));
        assert_eq!(daily_limit(Endpoint::ClearQuota, &o), Some(100));
        assert_eq!(
            daily_limit(Endpoint::Getuserphonenumber, &o),
            Some(DEFAULT_DAILY_LIMIT)
        );
        for none in [
            Endpoint::Jscode2session,
            Endpoint::SmsSend,
            Endpoint::Stubbed,
            Endpoint::Unknown,
        ] {
            assert_eq!(daily_limit(none, &o), None, "{none:?}");
        }
        assert_eq!(
            account_kind(Endpoint::Checksession),
            Some(AppKind::MiniProgram)
        );
        assert_eq!(
            account_kind(Endpoint::UserInfo),
            Some(AppKind::OfficialAccount)
        );
        assert_eq!(account_kind(Endpoint::Token), None);
    }
}
