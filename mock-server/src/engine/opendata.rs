//! The mini-program's open-data calls: `wx.getUserInfo`, `wx.getUserProfile`, `wx.getShareInfo`
//! and `wx.getWeRunData`, each answered with `encryptedData` under the user's current
//! session_key (`wechat-api.md` 8). The encryption itself lives in [`crate::opendata`].

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, State, maybe_sweep};
use crate::ids::{AppId, Generator, OpenId, UserHandle};
use crate::opendata::{
    self, OpenDataError, RuleEra, Sealed, StepInfo, Tamper, UserInfo, UserInfoApi, UserInfoGrant,
    UserInfoRequest, WERUN_DAYS, Watermark,
};

/// What `wx.getShareInfo` answers; `encryptedData` decrypts to `{"openGId","watermark"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShareInfoGrant {
    /// `getShareInfo:ok`.
    #[serde(rename = "errMsg")]
    #[schemars(extend("const" = "getShareInfo:ok"))]
    pub err_msg: String,
    /// base64 ciphertext.
    #[serde(rename = "encryptedData")]
    pub encrypted_data: String,
    /// base64 iv.
    pub iv: String,
    /// What the payload holds (not part of the real callback).
    pub mock: ShareInfoFacts,
}

/// What the payload holds (not part of the real callback).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShareInfoFacts {
    /// The group's id in the app: 28 characters starting `tG` or `G`.
    #[serde(rename = "openGId")]
    pub open_g_id: String,
}

/// What `wx.getWeRunData` answers; `encryptedData` decrypts to `{"stepInfoList":[...31
/// days...],"watermark"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WeRunGrant {
    /// `getWeRunData:ok`.
    #[serde(rename = "errMsg")]
    #[schemars(extend("const" = "getWeRunData:ok"))]
    pub err_msg: String,
    /// base64 ciphertext.
    #[serde(rename = "encryptedData")]
    pub encrypted_data: String,
    /// base64 iv.
    pub iv: String,
    /// What the payload holds (not part of the real callback).
    pub mock: WeRunFacts,
}

/// What the payload holds (not part of the real callback).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WeRunFacts {
    /// 31 days, oldest first, ending today.
    #[serde(rename = "stepInfoList")]
    pub step_info_list: Vec<StepInfo>,
}

/// The session keys and IV one payload is made with.
pub(super) struct Sealing {
    pub openid: OpenId,
    pub current: String,
    pub previous: Option<String>,
    pub iv: [u8; 16],
}

/// Keys and a fresh IV for a payload of `purpose` for (app, user): `NoSession` when the user has
/// never logged in to the app. Changes nothing: once the payload is made, [`count_payload`] counts
/// it, so the next one gets another IV (and a refused call leaves the IVs as they were).
pub(super) fn sealing(
    st: &State,
    idgen: &Generator,
    appid: &AppId,
    user: &UserHandle,
    purpose: &str,
) -> Result<Sealing, EngineError> {
    let (openid, current, previous) = st
        .logins
        .keys(appid, user)
        .map(|(o, c, p)| {
            (
                o.clone(),
                c.as_str().to_owned(),
                p.map(|k| k.as_str().to_owned()),
            )
        })
        .ok_or_else(|| EngineError::NoSession(user.to_string()))?;
    let n = st
        .opendata_counts
        .get(&(appid.clone(), user.clone()))
        .copied()
        .unwrap_or(0);
    let iv = opendata::iv_for(
        idgen,
        &[
            appid.as_str().as_bytes(),
            user.as_str().as_bytes(),
            purpose.as_bytes(),
            &n.to_be_bytes(),
        ],
    );
    Ok(Sealing {
        openid,
        current,
        previous,
        iv,
    })
}

/// Counts a payload made with [`sealing`] for (app, user), so the next one gets another IV.
pub(super) fn count_payload(st: &mut State, appid: &AppId, user: &UserHandle) {
    *st.opendata_counts
        .entry((appid.clone(), user.clone()))
        .or_insert(0) += 1;
}

/// The engine error for a failed seal.
pub(super) fn seal_error(user: &UserHandle, e: OpenDataError) -> EngineError {
    match e {
        OpenDataError::NoStaleKey => EngineError::NoStaleKey(user.to_string()),
        other => EngineError::Invalid {
            field: "session_key",
            message: other.to_string(),
        },
    }
}

/// Seals `plaintext` with the keys of `s`, with `tamper` applied.
pub(super) fn seal_with(
    s: &Sealing,
    user: &UserHandle,
    plaintext: &str,
    tamper: Option<Tamper>,
) -> Result<Sealed, EngineError> {
    opendata::seal(&s.current, s.previous.as_deref(), &s.iv, plaintext, tamper)
        .map_err(|e| seal_error(user, e))
}

impl Engine {
    /// The simulated `wx.getUserInfo` / `wx.getUserProfile`: the user's profile as `era` (else
    /// the app's era, else anonymous) reveals it, sealed under the current session_key.
    pub fn wx_user_info(
        &self,
        appid: &AppId,
        user: &UserHandle,
        api: UserInfoApi,
        era: Option<RuleEra>,
        tamper: Option<Tamper>,
    ) -> Result<UserInfoGrant, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        let app = st.dir.mini_program(appid)?;
        let era = era.or(app.profile_era).unwrap_or(RuleEra::Anonymous);
        let unionid = app.platform.as_ref().map(|p| self.idgen.unionid(p, user));
        let purpose = match api {
            UserInfoApi::GetUserInfo => "getUserInfo",
            UserInfoApi::GetUserProfile => "getUserProfile",
        };
        let s = sealing(st, &self.idgen, appid, user, purpose)?;
        let profile = st
            .dir
            .users
            .get(user)
            .map(|u| UserInfo::from(&u.profile))
            .ok_or_else(|| EngineError::UnknownUser(user.to_string()))?;
        let req = UserInfoRequest {
            api,
            era,
            profile: &profile,
            openid: &s.openid,
            unionid: unionid.as_ref(),
            appid,
            session_key: &s.current,
            stale_key: s.previous.as_deref(),
            iv: s.iv,
            now,
        };
        let grant = opendata::user_info_grant(&req, tamper).map_err(|e| seal_error(user, e))?;
        count_payload(st, appid, user);
        Ok(grant)
    }

    /// The simulated `wx.getShareInfo` for a share card from the chat group named `group`.
    pub fn wx_share_info(
        &self,
        appid: &AppId,
        user: &UserHandle,
        group: &str,
        tamper: Option<Tamper>,
    ) -> Result<ShareInfoGrant, EngineError> {
        if group.is_empty() {
            return Err(EngineError::Invalid {
                field: "group",
                message: "must not be empty".into(),
            });
        }
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        st.dir.mini_program(appid)?;
        let s = sealing(st, &self.idgen, appid, user, "getShareInfo")?;
        let open_g_id = self.idgen.open_gid(appid, group);
        let plaintext = opendata::share_info_plaintext(&open_g_id, &Watermark::new(appid, now));
        let sealed = seal_with(&s, user, &plaintext, tamper)?;
        count_payload(st, appid, user);
        Ok(ShareInfoGrant {
            err_msg: "getShareInfo:ok".into(),
            encrypted_data: sealed.encrypted_data,
            iv: sealed.iv,
            mock: ShareInfoFacts { open_g_id },
        })
    }

    /// The simulated `wx.getWeRunData`: 31 days of steps ending today, `steps` (oldest first)
    /// when given, else derived from the seed.
    pub fn wx_werun(
        &self,
        appid: &AppId,
        user: &UserHandle,
        steps: Option<Vec<u32>>,
        tamper: Option<Tamper>,
    ) -> Result<WeRunGrant, EngineError> {
        let steps: Option<[u32; WERUN_DAYS]> = steps
            .map(|v| {
                let len = v.len();
                <[u32; WERUN_DAYS]>::try_from(v).map_err(|_| EngineError::Invalid {
                    field: "steps",
                    message: format!("must have exactly {WERUN_DAYS} entries, not {len}"),
                })
            })
            .transpose()?;
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        st.dir.mini_program(appid)?;
        let s = sealing(st, &self.idgen, appid, user, "getWeRunData")?;
        let steps = steps.unwrap_or_else(|| opendata::werun_steps(&self.idgen, user, now));
        let plaintext = opendata::werun_plaintext(now, &steps, &Watermark::new(appid, now));
        let sealed = seal_with(&s, user, &plaintext, tamper)?;
        count_payload(st, appid, user);
        Ok(WeRunGrant {
            err_msg: "getWeRunData:ok".into(),
            encrypted_data: sealed.encrypted_data,
            iv: sealed.iv,
            mock: WeRunFacts {
                step_info_list: opendata::werun_days(now)
                    .into_iter()
                    .zip(steps)
                    .map(|(timestamp, step)| StepInfo { timestamp, step })
                    .collect(),
            },
        })
    }
}
