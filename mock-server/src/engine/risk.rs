//! `wxa/getuserriskrank`: a user's risk rank for a registration or marketing scene
//! (`wechat-api.md` 7a). The rank is a knob of the user (`risk_rank`, else 4 while
//! `high_risk`, else 0); WeChat only answers for a user who used the app lately.

use std::time::Duration;

use super::{State, tokens};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::ids::{AppId, Generator, UserHandle};
use crate::reply::{Answer, Reply};
use crate::request::{RiskRank, VendorRequest};

/// How recent the user's last visit must be: the docs' error table says 61010 means the user
/// "has not visited the mini-program in the last two hours". The mock reads a visit as a
/// `wx.login` in the app (what a mini-program does on every launch).
pub const VISIT_WINDOW: Duration = Duration::from_secs(2 * 3600);

/// The ids of answered requests: `unoin_id` "marks a single request" (the docs), so each
/// success gets the next one.
#[derive(Default)]
pub(super) struct RiskRequests {
    answered: u64,
}

/// `POST /wxa/getuserriskrank?access_token` with `{"appid","openid","scene","client_ip",...}`.
pub(super) fn get_user_risk_rank(
    st: &mut State,
    idgen: &Generator,
    req: &VendorRequest,
    call: &RiskRank,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = judge(st, req, call, token.clone(), now, &mut user).map(|risk_rank| {
        let n = st.risk.answered;
        st.risk.answered += 1;
        Reply::RiskRank {
            risk_rank,
            unoin_id: unoin_id(idgen, n),
        }
    });
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

/// The id of the n-th answered request: a positive 32-bit number (SDKs decode it as an `i32`).
fn unoin_id(idgen: &Generator, n: u64) -> u32 {
    let max = u64::from(i32::MAX.unsigned_abs());
    u32::try_from(idgen.number("unoin_id", &[&n.to_be_bytes()]) % max + 1).unwrap_or(1)
}

/// The checks in order: method (as getuserphonenumber), token, body (44002 none, 47001 not a
/// JSON object), 41002 no appid, 40013 an appid other than the token's app, 40003 an openid
/// the app has not seen, 40129 scene not 0 or 1, 47001 no valid client_ip, 61010 no
/// `wx.login` in the last two hours.
fn judge(
    st: &State,
    req: &VendorRequest,
    call: &RiskRank,
    token: Result<AppId, WxError>,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<u8, WxError> {
    if !req.method_allowed() {
        return Err(WxError::RequirePost);
    }
    let appid = token?;
    let query = call.body.as_ref().map_err(|e| *e)?;
    let named = query.appid.as_ref().ok_or(WxError::AppidMissing)?;
    if *named != appid {
        return Err(WxError::InvalidAppid);
    }
    let (user, visited_at) = query
        .openid
        .as_deref()
        .and_then(|o| st.logins.last_visit(&appid, o))
        .ok_or(WxError::InvalidOpenid)?;
    *who = Some(user.clone());
    query.scene.ok_or(WxError::InvalidScene)?;
    query.client_ip.ok_or(WxError::DataFormatError)?;
    if visited_at.plus(VISIT_WINDOW) <= now {
        return Err(WxError::VisitExpired);
    }
    st.dir
        .users
        .get(user)
        .map(super::directory::User::risk_rank)
        .ok_or(WxError::InvalidOpenid)
}

/// App and user of a getuserriskrank request, for fault matching and the journal.
pub(super) fn context(
    st: &State,
    call: &RiskRank,
    now: Timestamp,
) -> (Option<AppId>, Option<UserHandle>) {
    let appid = tokens::token_app(st, call.access_token.as_deref(), now).ok();
    let user = appid.as_ref().and_then(|a| {
        let openid = call.body.as_ref().ok()?.openid.as_deref()?;
        st.logins.last_visit(a, openid).map(|(u, _)| u.clone())
    });
    (appid, user)
}
