//! Phone-number codes from the getPhoneNumber button and `wxa/business/getuserphonenumber`
//! (`wechat-api.md` section 6).

use serde::{Deserialize, Serialize};

use super::directory::{PhoneFacts, PhoneGrant};
use super::{CODE_TTL, Engine, EngineError, Map, State, maybe_sweep, tokens};
use super::{encrypted_msg, opendata};
use crate::catalogue::WxError;
use crate::clock::Timestamp;
use crate::ids::{AppId, OpenId, PhoneCode, UserHandle};
use crate::opendata::{Tamper, phone_plaintext_for};
use crate::reply::{Answer, PhoneInfo, Reply};
use crate::request::{PhoneNumber, VendorRequest};
use crate::users::Phone;

struct PhoneEntry {
    appid: AppId,
    user: UserHandle,
    openid: OpenId,
    phone: Phone,
    expires_at: Timestamp,
    used: bool,
}

#[derive(Default)]
pub(super) struct PhoneCodes {
    codes: Map<PhoneCode, PhoneEntry>,
    minted: Map<(AppId, UserHandle), u64>,
}

impl PhoneCodes {
    pub fn sweep(&mut self, now: Timestamp) {
        self.codes.retain(|_, c| c.expires_at > now);
    }

    pub fn count(&self) -> usize {
        self.codes.len()
    }
}

/// `POST /wxa/business/getuserphonenumber?access_token` with `{"code"}` (and optional `openid`).
pub(super) fn get_user_phone_number(
    st: &mut State,
    req: &VendorRequest,
    call: &PhoneNumber,
    now: Timestamp,
) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = exchange(st, req, call, token.clone(), now, &mut user);
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

fn exchange(
    st: &mut State,
    req: &VendorRequest,
    call: &PhoneNumber,
    token: Result<AppId, WxError>,
    now: Timestamp,
    who: &mut Option<UserHandle>,
) -> Result<Reply, WxError> {
    if !req.method_allowed() {
        return Err(WxError::RequirePost);
    }
    let appid = token?;
    let (code, openid) = call.body.as_ref().map_err(|e| *e)?;
    let code = code.as_deref().ok_or(WxError::InvalidCode)?;
    let entry = st.phones.codes.get_mut(code).ok_or(WxError::InvalidCode)?;
    // Expired, reused, wrong, or issued for another app: all 40029 [C14].
    if entry.appid != appid || entry.expires_at <= now || entry.used {
        return Err(WxError::InvalidCode);
    }
    *who = Some(entry.user.clone());
    if openid.as_ref().is_some_and(|o| *o != entry.openid.as_str()) {
        return Err(WxError::InvalidCode);
    }
    entry.used = true;
    let phone = &entry.phone;
    Ok(Reply::PhoneNumber(PhoneInfo {
        phone_number: phone.display(),
        pure_phone_number: phone.number.clone(),
        country_code: phone.country_code.clone(),
        timestamp: now.secs(),
        appid: entry.appid.clone(),
    }))
}

/// Marks the request's phone code used (a fault that "still consumes the code").
pub(super) fn consume(st: &mut State, call: &PhoneNumber, now: Timestamp) {
    let Ok(appid) = tokens::token_app(st, call.access_token.as_deref(), now) else {
        return;
    };
    if let Ok((Some(code), _)) = &call.body
        && let Some(entry) = st.phones.codes.get_mut(code.as_str())
        && entry.appid == appid
    {
        entry.used = true;
    }
}

/// App and user of a getuserphonenumber request, for fault matching.
pub(super) fn context(st: &State, call: &PhoneNumber) -> (Option<AppId>, Option<UserHandle>) {
    match &call.body {
        Ok((Some(code), _)) => st
            .phones
            .codes
            .get(code.as_str())
            .map_or((None, None), |e| {
                (Some(e.appid.clone()), Some(e.user.clone()))
            }),
        _ => (None, None),
    }
}

/// The phone-number button's `open-type`, which prefixes the handler's `errMsg`. Billed apart on
/// real WeChat; one `phone_quota` here.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum PhoneButton {
    /// `open-type="getPhoneNumber"`, the fast check.
    #[default]
    #[serde(rename = "getPhoneNumber")]
    Fast,
    /// `open-type="getRealtimePhoneNumber"`, the real-time check.
    #[serde(rename = "getRealtimePhoneNumber")]
    Realtime,
}

impl PhoneButton {
    /// The event name, which prefixes the handler's `errMsg`.
    pub fn event(self) -> &'static str {
        match self {
            PhoneButton::Fast => "getPhoneNumber",
            PhoneButton::Realtime => "getRealtimePhoneNumber",
        }
    }
}

/// `errno` of a phone-number button whose app has used up its quota (`wechat-api.md`,
/// client side).
pub const PHONE_QUOTA_ERRNO: i64 = 1_400_001;

impl Engine {
    /// The simulated getPhoneNumber button: a phone-number code for (app, user).
    /// With a session_key for (app, user), the grant also carries the legacy `encryptedData`
    /// of the same number (with `tamper` applied); without one, a `tamper` is `NoSession`.
    pub fn wx_phone_code(
        &self,
        appid: &AppId,
        user: &UserHandle,
        tamper: Option<Tamper>,
    ) -> Result<PhoneGrant, EngineError> {
        self.wx_phone_button(appid, user, PhoneButton::Fast, tamper)
    }

    /// A user declining the phone-number button: nothing is minted, but the app must exist
    /// (and, under `strict`, the user).
    pub fn wx_phone_declined(&self, appid: &AppId, user: &UserHandle) -> Result<(), EngineError> {
        let st = self.lock();
        st.dir.mini_program(appid)?;
        if st.options.strict && !st.dir.users.contains_key(user) {
            return Err(EngineError::UnknownUser(user.to_string()));
        }
        Ok(())
    }

    /// A phone-number button of either kind. Each grant uses one of the app's `phone_quota`;
    /// with none left, [`EngineError::PhoneQuotaExhausted`] and nothing changes.
    pub fn wx_phone_button(
        &self,
        appid: &AppId,
        user: &UserHandle,
        button: PhoneButton,
        tamper: Option<Tamper>,
    ) -> Result<PhoneGrant, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        if st.dir.mini_program(appid)?.phone_quota == Some(0) {
            return Err(EngineError::PhoneQuotaExhausted(appid.to_string()));
        }
        let created = !st.dir.users.contains_key(user);
        st.dir.ensure_user(&self.idgen, user, st.options.strict)?;
        let sealed = self.phone_sealed(st, appid, user, tamper, now);
        if sealed.is_err() && created {
            // A refusal changes nothing: the user made for it goes again.
            st.dir.forget_user(user);
        }
        let (phone, sealed) = sealed?;
        // Only what WeChat made counts for checkencryptedmsg: a tampered payload plays data
        // that did not come from WeChat as it is.
        let encrypted_msg_hash = sealed
            .as_ref()
            .filter(|_| tamper.is_none())
            .map(|s| encrypted_msg::record(st, appid, user, &s.encrypted_data, now));
        if let Some(left) = st
            .dir
            .apps
            .get_mut(appid)
            .and_then(|a| a.phone_quota.as_mut())
        {
            *left -= 1;
        }
        let n = st
            .phones
            .minted
            .entry((appid.clone(), user.clone()))
            .or_insert(0);
        let code = self.idgen.phone_code(appid, user, *n);
        *n += 1;
        let openid = self.idgen.openid(appid, user);
        let expires_at = now.plus(CODE_TTL);
        st.phones.codes.insert(
            code.clone(),
            PhoneEntry {
                appid: appid.clone(),
                user: user.clone(),
                openid: openid.clone(),
                phone: phone.clone(),
                expires_at,
                used: false,
            },
        );
        Ok(PhoneGrant {
            code: code.as_str().to_owned(),
            err_msg: format!("{}:ok", button.event()),
            encrypted_data: sealed.as_ref().map(|s| s.encrypted_data.clone()),
            iv: sealed.map(|s| s.iv),
            mock: PhoneFacts {
                appid: appid.clone(),
                user: user.clone(),
                openid,
                phone,
                expires_at: expires_at.secs(),
                encrypted_msg_hash,
            },
        })
    }

    /// The user's number and, with a session_key for (app, user) or a `tamper`, its legacy
    /// `encryptedData`; changes nothing on a refusal.
    fn phone_sealed(
        &self,
        st: &mut State,
        appid: &AppId,
        user: &UserHandle,
        tamper: Option<Tamper>,
        now: Timestamp,
    ) -> Result<(Phone, Option<crate::opendata::Sealed>), EngineError> {
        let phone = st.dir.users[user]
            .phone
            .clone()
            .ok_or_else(|| EngineError::NoPhone(user.to_string()))?;
        if tamper.is_none() && st.logins.keys(appid, user).is_none() {
            return Ok((phone, None));
        }
        let s = opendata::sealing(st, &self.idgen, appid, user, "getPhoneNumber")?;
        let plaintext = phone_plaintext_for(&phone, &crate::opendata::Watermark::new(appid, now));
        let sealed = opendata::seal_with(&s, user, &plaintext, tamper)?;
        opendata::count_payload(st, appid, user);
        Ok((phone, Some(sealed)))
    }
}
