//! WeChat's API-management calls (`wechat-api.md` 1.1 and 7a): `openapi/quota/get` (today's
//! calls of one API), `clear_quota` and `clear_quota/v2` (today's counts back to zero, 10
//! times a month) and `openapi/rid/get` (the request behind a rid, which the vendor entry
//! point reads from the journal once the engine has judged the call).

use super::{State, quota, tokens};
use crate::catalogue::{self, WxError};
use crate::clock::Timestamp;
use crate::endpoint::{Endpoint, Vendor};
use crate::ids::AppId;
use crate::reply::{Answer, Quota, Reply};
use crate::request::{AppCredentials, TokenBody, VendorRequest};

/// A token-checked call's answer: the token's app concerns it, whatever the outcome.
fn with_token(
    st: &State,
    req: &VendorRequest,
    call: &TokenBody,
    now: Timestamp,
    judge: impl FnOnce(AppId, Option<&str>) -> Result<Reply, WxError>,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let result = if req.method_allowed() {
        token
            .clone()
            .and_then(|appid| judge(appid, call.body.as_ref().map_err(|e| *e)?.as_deref()))
    } else {
        Err(WxError::RequirePost)
    };
    Answer {
        result,
        appid: token.ok(),
        user: None,
        tencent: None,
    }
}

/// `POST /cgi-bin/openapi/quota/get?access_token` with `{"cgi_path"}`: 43002, token errors,
/// 47001; a path the mock does not serve (or none): 76021 `cgi_path not found, please check`;
/// an `sns/*` API, or one of the other kind of account's: 76022; else today's `quota`.
pub(super) fn quota_get(
    st: &State,
    req: &VendorRequest,
    call: &TokenBody,
    now: Timestamp,
) -> Answer {
    with_token(st, req, call, now, |appid, cgi_path| {
        let endpoint = Endpoint::of_path(cgi_path.ok_or(WxError::CgiPathNotFound)?);
        if endpoint == Endpoint::Unknown || endpoint.vendor() != Vendor::WeChat {
            return Err(WxError::CgiPathNotFound);
        }
        let daily_limit =
            quota::daily_limit(endpoint, &st.options).ok_or(WxError::CgiPathNoPermission)?;
        let kind = st.dir.apps.get(&appid).map(|a| a.kind);
        if quota::account_kind(endpoint).is_some_and(|k| Some(k) != kind) {
            return Err(WxError::CgiPathNoPermission);
        }
        let used = st.quotas.used(&appid, endpoint, now.china_day());
        Ok(Reply::Quota(Quota {
            daily_limit,
            used,
            remain: daily_limit.saturating_sub(used),
        }))
    })
}

/// `POST /cgi-bin/clear_quota?access_token` with `{"appid"}`: 43002, token errors, 47001; no
/// appid: 41002; another app's than the token's: 40013 (clearQuota's errcode table); the
/// month's 10 clears used: 48006; else every daily count of the app back to zero.
pub(super) fn clear_quota(
    st: &mut State,
    req: &VendorRequest,
    call: &TokenBody,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let judged = with_token(st, req, call, now, |token_app, appid| {
        let appid = appid.ok_or(WxError::AppidMissing)?;
        if appid != token_app.as_str() {
            return Err(WxError::InvalidAppid);
        }
        if !st.quotas.may_clear(&token_app, now) {
            return Err(WxError::ClearQuotaLimit);
        }
        Ok(Reply::Ok)
    });
    if let (Ok(_), Ok(appid)) = (&judged.result, token) {
        st.quotas.clear(&appid, now);
    }
    judged
}

/// `POST /cgi-bin/clear_quota/v2` with `{"appid","appsecret"}` (no token; the query is read
/// when there is no body, as the documentation's example sends them): 43002, 47001, then 41002,
/// 40013, 41004, 40125 in the token endpoints' order, 48006; else as `clear_quota`.
pub(super) fn clear_quota_v2(
    st: &mut State,
    req: &VendorRequest,
    call: &AppCredentials,
    now: Timestamp,
) -> Answer {
    let judged = (|| {
        if !req.method_allowed() {
            return Err(WxError::RequirePost);
        }
        let (appid, secret) = call.body.as_ref().map_err(|e| *e)?;
        let appid = appid.as_ref().ok_or(WxError::AppidMissing)?;
        let app = st.dir.apps.get(appid).ok_or(WxError::InvalidAppid)?;
        let secret = secret.as_deref().ok_or(WxError::AppsecretMissing)?;
        if app.secret.as_str() != secret {
            return Err(WxError::InvalidAppsecret);
        }
        if !st.quotas.may_clear(appid, now) {
            return Err(WxError::ClearQuotaLimit);
        }
        Ok(appid.clone())
    })();
    if let Ok(appid) = &judged {
        st.quotas.clear(appid, now);
    }
    Answer {
        result: judged.map(|_| Reply::Ok),
        appid: req.call.named_appid(),
        user: None,
        tencent: None,
    }
}

/// `POST /cgi-bin/openapi/rid/get?access_token` with `{"rid"}`: 43002, token errors, 47001;
/// no rid, or not shaped like one: 76002 `rid is error`; else the rid to look up for the
/// token's app, which the vendor entry point answers from the journal.
pub(super) fn rid_get(st: &State, req: &VendorRequest, call: &TokenBody, now: Timestamp) -> Answer {
    with_token(st, req, call, now, |appid, rid| {
        let rid = rid
            .filter(|r| catalogue::is_rid_shaped(r))
            .ok_or(WxError::RidError)?;
        Ok(Reply::RidQuery {
            appid,
            rid: rid.to_owned(),
        })
    })
}
