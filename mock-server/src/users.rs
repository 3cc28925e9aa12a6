//! WeChat users as the mock keeps and shows them: the profile the user-info APIs report, the
//! phone number, and a user as the control plane shows it. Plain data, free of the engine, so
//! the open-data layer can read them.

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, OpenId, UnionId, UserHandle};

/// A user's profile as the mini-program's user-info APIs report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Profile {
    /// Nickname.
    pub nickname: String,
    /// Avatar URL.
    pub avatar_url: String,
    /// 0 unknown, 1 male, 2 female.
    #[schemars(range(max = 2))]
    pub gender: u8,
    /// Country (`CN`).
    pub country: String,
    /// Province.
    pub province: String,
    /// City.
    pub city: String,
    /// Language (`zh_CN`).
    pub language: String,
}

/// A phone number as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Phone {
    /// Country calling code, digits (`86`).
    pub country_code: String,
    /// The number without country code.
    pub number: String,
}

impl Phone {
    /// `phoneNumber` as WeChat writes it: the pure number in mainland China, `+<cc><number>`
    /// elsewhere (`wechat-api.md` 6).
    pub fn display(&self) -> String {
        if self.country_code == "86" {
            self.number.clone()
        } else {
            format!("+{}{}", self.country_code, self.number)
        }
    }
}

/// A user's identity in one app.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserAppView {
    /// The app.
    pub appid: AppId,
    /// openid in that app (28 characters, starts with `o`).
    pub openid: OpenId,
    /// unionid, when the app is bound to an open-platform account.
    pub unionid: Option<UnionId>,
    /// The current session_key, once the user has logged in to the app.
    pub session_key: Option<String>,
}

/// A user as the control plane shows it: the handle, the profile fields (flattened), phone,
/// high-risk flag and the identity in every app.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserView {
    /// Handle.
    pub handle: UserHandle,
    /// Profile.
    #[serde(flatten)]
    pub profile: Profile,
    /// Phone, if any.
    pub phone: Option<Phone>,
    /// High-risk flag.
    pub high_risk: bool,
    /// Identity in every app, in creation order.
    pub apps: Vec<UserAppView>,
    /// What getuserriskrank answers for the user: the `risk_rank` set, else 4 while `high_risk`,
    /// else 0.
    #[serde(default)]
    #[schemars(range(max = 4))]
    pub risk_rank: u8,
}
