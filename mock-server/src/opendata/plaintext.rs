//! Open-data plaintexts in WeChat's exact field order, and what each rule era reveals.

use serde::{Deserialize, Serialize};

use super::{
    ANONYMOUS_AVATAR_URL, ANONYMOUS_NICKNAME, CHINA_UTC_OFFSET_SECS, SECS_PER_DAY, WERUN_DAYS,
};
use crate::clock::Timestamp;
use crate::ids::{AppId, Generator, OpenId, UnionId, UserHandle};
use crate::users::{Phone, Profile, UserView};

/// Compact JSON of a plain struct. Serializing these structs (strings, integers, options,
/// sequences; no maps with non-string keys) cannot fail, so the fallback is never taken.
pub(super) fn compact<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The watermark WeChat appends to every plaintext: `{"timestamp":N,"appid":"..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// When the data was produced, Unix seconds.
    pub timestamp: i64,
    /// The app the data was produced for.
    pub appid: AppId,
}

impl Watermark {
    /// A watermark for `appid` at `at` (whole seconds).
    pub fn new(appid: &AppId, at: Timestamp) -> Self {
        Self {
            timestamp: at.secs(),
            appid: appid.clone(),
        }
    }
}

/// The seven user-info fields in WeChat's order: the `userInfo` object, `rawData` and the body
/// of the user-info plaintexts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// `nickName`.
    pub nick_name: String,
    /// `gender`: 0 unknown, 1 male, 2 female.
    #[schemars(range(max = 2))]
    pub gender: u8,
    /// `language`, e.g. `zh_CN`.
    pub language: String,
    /// `city`.
    pub city: String,
    /// `province`.
    pub province: String,
    /// `country`.
    pub country: String,
    /// `avatarUrl`.
    pub avatar_url: String,
}

impl UserInfo {
    /// What WeChat reveals under the anonymous rules: "微信用户", gender 0, empty language and
    /// region, the grey default avatar.
    pub fn anonymous() -> Self {
        Self {
            nick_name: ANONYMOUS_NICKNAME.to_owned(),
            gender: 0,
            language: String::new(),
            city: String::new(),
            province: String::new(),
            country: String::new(),
            avatar_url: ANONYMOUS_AVATAR_URL.to_owned(),
        }
    }
}

impl From<&Profile> for UserInfo {
    /// The real profile, as the legacy rules reveal it.
    fn from(p: &Profile) -> Self {
        Self {
            nick_name: p.nickname.clone(),
            gender: p.gender,
            language: p.language.clone(),
            city: p.city.clone(),
            province: p.province.clone(),
            country: p.country.clone(),
            avatar_url: p.avatar_url.clone(),
        }
    }
}

impl From<&UserView> for UserInfo {
    /// The user's real profile, as the legacy rules reveal it.
    fn from(view: &UserView) -> Self {
        Self::from(&view.profile)
    }
}

/// The `userInfo` object; its compact JSON is `rawData`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientUserInfo {
    /// The seven user-info fields.
    #[serde(flatten)]
    pub info: UserInfo,
    /// Only on demoted (anonymous-era) `wx.getUserProfile` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("const" = true))]
    pub is_demote: Option<bool>,
}

/// Which client API asked for the user's profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserInfoApi {
    /// `wx.getUserInfo` or `<button open-type="getUserInfo">`: its plaintext carries
    /// openId/unionId.
    GetUserInfo,
    /// `wx.getUserProfile` (base library 2.10.4+): its plaintext has no openId/unionId.
    GetUserProfile,
}

impl UserInfoApi {
    /// The `errMsg` of a successful call, e.g. `getUserInfo:ok`.
    pub fn ok_message(self) -> &'static str {
        match self {
            Self::GetUserInfo => "getUserInfo:ok",
            Self::GetUserProfile => "getUserProfile:ok",
        }
    }
}

/// Which of WeChat's user-info rules apply (`wechat-api.md` 8.4).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleEra {
    /// Before the 2021-04-28 (getUserInfo) and 2022-11-08 (getUserProfile) changes: the real
    /// profile.
    Legacy,
    /// Today: "微信用户", gender 0, empty language and region, grey avatar. openId and unionId
    /// are unaffected.
    Anonymous,
}

impl RuleEra {
    /// What this era reveals of `profile`.
    pub fn reveal(self, profile: &UserInfo) -> UserInfo {
        match self {
            Self::Legacy => profile.clone(),
            Self::Anonymous => UserInfo::anonymous(),
        }
    }

    /// What this era reveals of a stored user profile.
    pub fn reveal_profile(self, profile: &Profile) -> UserInfo {
        self.reveal(&UserInfo::from(profile))
    }

    /// The `userInfo` object `api` hands the mini-program in this era: the revealed profile,
    /// with `is_demote: true` when `wx.getUserProfile` is demoted.
    pub fn client_user_info(self, api: UserInfoApi, profile: &UserInfo) -> ClientUserInfo {
        ClientUserInfo {
            info: self.reveal(profile),
            is_demote: (self == Self::Anonymous && api == UserInfoApi::GetUserProfile)
                .then_some(true),
        }
    }
}

/// `rawData`: the compact JSON of the client `userInfo` object (no openId, unionId or
/// watermark), the string [`raw_data_signature`] signs.
pub fn raw_data(user_info: &ClientUserInfo) -> String {
    compact(user_info)
}

/// The decrypted `wx.getUserInfo` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoData {
    /// `openId`.
    pub open_id: OpenId,
    /// `nickName`.
    pub nick_name: String,
    /// `gender`.
    pub gender: u8,
    /// `language`.
    pub language: String,
    /// `city`.
    pub city: String,
    /// `province`.
    pub province: String,
    /// `country`.
    pub country: String,
    /// `avatarUrl`.
    pub avatar_url: String,
    /// `unionId`, only when the app is bound to an open-platform account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub union_id: Option<UnionId>,
    /// `watermark`, always last.
    pub watermark: Watermark,
}

/// The `wx.getUserInfo` plaintext: `openId, nickName, gender, language, city, province,
/// country, avatarUrl, unionId (only if bound), watermark`.
pub fn user_info_plaintext(
    openid: &OpenId,
    info: &UserInfo,
    unionid: Option<&UnionId>,
    watermark: &Watermark,
) -> String {
    compact(&UserInfoData {
        open_id: openid.clone(),
        nick_name: info.nick_name.clone(),
        gender: info.gender,
        language: info.language.clone(),
        city: info.city.clone(),
        province: info.province.clone(),
        country: info.country.clone(),
        avatar_url: info.avatar_url.clone(),
        union_id: unionid.cloned(),
        watermark: watermark.clone(),
    })
}

/// The decrypted `wx.getUserProfile` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfileData {
    /// `nickName`.
    pub nick_name: String,
    /// `gender`.
    pub gender: u8,
    /// `language`.
    pub language: String,
    /// `city`.
    pub city: String,
    /// `province`.
    pub province: String,
    /// `country`.
    pub country: String,
    /// `avatarUrl`.
    pub avatar_url: String,
    /// `is_demote`, on demoted answers only (see [`user_profile_plaintext`]).
    #[serde(rename = "is_demote", default, skip_serializing_if = "Option::is_none")]
    pub is_demote: Option<bool>,
    /// `watermark`, always last.
    pub watermark: Watermark,
}

/// The `wx.getUserProfile` plaintext: the `userInfo` fields without openId/unionId, then the
/// watermark. A demoted answer's `"is_demote":true` goes before the watermark: the length of a
/// real demoted 2024 ciphertext (336 bytes for a 321-byte plaintext) fits exactly that.
pub fn user_profile_plaintext(user_info: &ClientUserInfo, watermark: &Watermark) -> String {
    let info = &user_info.info;
    compact(&UserProfileData {
        nick_name: info.nick_name.clone(),
        gender: info.gender,
        language: info.language.clone(),
        city: info.city.clone(),
        province: info.province.clone(),
        country: info.country.clone(),
        avatar_url: info.avatar_url.clone(),
        is_demote: user_info.is_demote,
        watermark: watermark.clone(),
    })
}

/// The decrypted legacy getPhoneNumber payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneData {
    /// `phoneNumber`: the pure number in mainland China, `+<cc><number>` elsewhere.
    pub phone_number: String,
    /// `purePhoneNumber`: without country code.
    pub pure_phone_number: String,
    /// `countryCode`, a string (`"86"`).
    pub country_code: String,
    /// `watermark`, always last.
    pub watermark: Watermark,
}

/// The legacy getPhoneNumber plaintext: `phoneNumber, purePhoneNumber, countryCode (string),
/// watermark`.
pub fn phone_plaintext(
    phone_number: &str,
    pure_phone_number: &str,
    country_code: &str,
    watermark: &Watermark,
) -> String {
    compact(&PhoneData {
        phone_number: phone_number.to_owned(),
        pure_phone_number: pure_phone_number.to_owned(),
        country_code: country_code.to_owned(),
        watermark: watermark.clone(),
    })
}

/// [`phone_plaintext`] for a stored phone: `phoneNumber` from [`Phone::display`],
/// `purePhoneNumber` the number, `countryCode` the country code.
pub fn phone_plaintext_for(phone: &Phone, watermark: &Watermark) -> String {
    phone_plaintext(
        &phone.display(),
        &phone.number,
        &phone.country_code,
        watermark,
    )
}

/// [`phone_plaintext_for`] the user's phone; `None` when the user has no phone.
pub fn phone_plaintext_of(view: &UserView, watermark: &Watermark) -> Option<String> {
    view.phone
        .as_ref()
        .map(|p| phone_plaintext_for(p, watermark))
}

/// The decrypted `wx.getShareInfo` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareInfoData {
    /// `openGId`: the group's id within the app.
    pub open_g_id: String,
    /// `watermark`, always last.
    pub watermark: Watermark,
}

/// The `wx.getShareInfo` plaintext: `{"openGId":"...","watermark":{...}}`.
pub fn share_info_plaintext(open_gid: &str, watermark: &Watermark) -> String {
    compact(&ShareInfoData {
        open_g_id: open_gid.to_owned(),
        watermark: watermark.clone(),
    })
}

/// One WeRun day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepInfo {
    /// The day's local (UTC+8) midnight, Unix seconds.
    pub timestamp: i64,
    /// Steps walked that day.
    pub step: u32,
}

/// The decrypted `wx.getWeRunData` payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeRunData {
    /// `stepInfoList`: 31 days, oldest first, ending today.
    pub step_info_list: Vec<StepInfo>,
    /// `watermark`, always last (the docs omit it; a real 2017 capture has it).
    pub watermark: Watermark,
}

/// The Unix time of the local (UTC+8) midnight starting the day `now` falls in.
pub fn local_midnight(now: Timestamp) -> i64 {
    let local = now.secs().saturating_add(CHINA_UTC_OFFSET_SECS);
    local.div_euclid(SECS_PER_DAY) * SECS_PER_DAY - CHINA_UTC_OFFSET_SECS
}

/// The local midnights of the 31 WeRun days ending with the day of `now`, oldest first.
pub fn werun_days(now: Timestamp) -> [i64; WERUN_DAYS] {
    let today = local_midnight(now);
    let mut days = [0i64; WERUN_DAYS];
    for (back, slot) in (0i64..).zip(days.iter_mut().rev()) {
        *slot = today.saturating_sub(back * SECS_PER_DAY);
    }
    days
}

/// The `wx.getWeRunData` plaintext: `{"stepInfoList":[{"timestamp":T,"step":N},...],
/// "watermark":{...}}` with the 31 days ending on the day of `now`; `steps[0]` is 30 days ago,
/// `steps[30]` today.
pub fn werun_plaintext(now: Timestamp, steps: &[u32; WERUN_DAYS], watermark: &Watermark) -> String {
    compact(&WeRunData {
        step_info_list: werun_days(now)
            .iter()
            .zip(steps)
            .map(|(&timestamp, &step)| StepInfo { timestamp, step })
            .collect(),
        watermark: watermark.clone(),
    })
}

/// Step counts (0..=19999) for a user's 31 WeRun days ending on the day of `now`, oldest first;
/// each day's count depends only on the seed, the user and the day.
pub fn werun_steps(generator: &Generator, user: &UserHandle, now: Timestamp) -> [u32; WERUN_DAYS] {
    let mut steps = [0u32; WERUN_DAYS];
    for (slot, day) in steps.iter_mut().zip(werun_days(now)) {
        let n = generator.number(
            "werun-steps",
            &[user.as_str().as_bytes(), &day.to_be_bytes()],
        );
        *slot = u32::try_from(n % 20_000).unwrap_or(0);
    }
    steps
}
