//! The domain's plain types: a user, their profile, phone number and WeChat identities, as the
//! services reason about them. No serde: the database rows (`store`), the API answers
//! (`http::dto`) and WeChat's payloads (`wechat`) each have a shape of their own and map to and
//! from these, so none of those formats can change by accident when another does.

use crate::clock::UnixMs;
use crate::ids::{AppId, OpenId, UnionId, UserId};

/// A user's profile: nickname and avatar, plus what older user-info APIs gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Nickname.
    pub nick_name: Option<String>,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    pub gender: Option<i64>,
    /// Language (`zh_CN`).
    pub language: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Province.
    pub province: Option<String>,
    /// Country.
    pub country: Option<String>,
}

/// A phone number as WeChat gives it (getuserphonenumber or the legacy encryptedData).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneInfo {
    /// The number with the country prefix for non-mainland numbers.
    pub phone_number: String,
    /// The number without any prefix.
    pub pure_phone_number: String,
    /// The country code, as text (`"86"`).
    pub country_code: String,
}

impl PhoneInfo {
    /// Whether it looks like a number: digits of sane lengths (WeChat's answers are trusted
    /// only this far).
    pub fn is_plausible(&self) -> bool {
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        digits(&self.pure_phone_number, 20)
            && digits(&self.country_code, 4)
            && !self.phone_number.is_empty()
            && self.phone_number.len() <= 24
    }
}

/// A user's WeChat identity: their openid in one app.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// The app.
    pub appid: AppId,
    /// The user's openid in that app.
    pub openid: OpenId,
}

/// A user: one person, whatever the apps and logins they came by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The id.
    pub id: UserId,
    /// The unionid, once WeChat has told us one.
    pub unionid: Option<UnionId>,
    /// The bound phone number.
    pub phone: Option<PhoneInfo>,
    /// The profile, once set.
    pub profile: Option<Profile>,
    /// The user's WeChat identities, sorted by appid, then openid.
    pub identities: Vec<Identity>,
    /// Created.
    pub created_at: UnixMs,
    /// Last changed.
    pub updated_at: UnixMs,
}

impl User {
    /// The apps the user has logged in to, sorted, each once.
    pub fn apps(&self) -> Vec<&AppId> {
        let mut apps: Vec<&AppId> = self.identities.iter().map(|i| &i.appid).collect();
        apps.sort();
        apps.dedup();
        apps
    }
}
