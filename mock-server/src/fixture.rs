//! `mock-server fixture`: prints one open-data payload (`encryptedData`, `iv` and, for user
//! info, `rawData` and `signature`) for given inputs, for teams that only need fixtures. Same
//! generator as the control plane's `wx/*` calls.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::clock::{Clock, Timestamp};
use crate::ids::{AppId, Generator, OpenId, UnionId, UserHandle};
use crate::opendata::{
    self, RuleEra, Tamper, UserInfo, UserInfoApi, UserInfoRequest, WERUN_DAYS, Watermark,
};
use crate::users::{Phone, Profile};

/// Inputs common to every payload.
#[derive(Args, Debug, Clone)]
pub struct FixtureArgs {
    /// The app the watermark names.
    #[arg(long)]
    pub appid: String,
    /// The session_key to encrypt with (24 base64 chars).
    #[arg(long)]
    pub session_key: String,
    /// Watermark time, Unix seconds; default now.
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// Seed the IV (and WeRun steps) derive from.
    #[arg(long, default_value = "0")]
    pub seed: String,
    /// Produce a payload that a correct backend must reject.
    #[arg(long, value_enum)]
    pub tamper: Option<Tamper>,
    /// The previous session_key, for `--tamper stale-key`.
    #[arg(long)]
    pub stale_key: Option<String>,
    /// Which payload.
    #[command(subcommand)]
    pub kind: Kind,
}

/// The payload kinds.
#[derive(Subcommand, Debug, Clone)]
pub enum Kind {
    /// `wx.getUserInfo`: userInfo, rawData, signature, encryptedData (with openId).
    UserInfo(ProfileArgs),
    /// `wx.getUserProfile`: as user-info, without openId/unionId in the plaintext.
    UserProfile(ProfileArgs),
    /// The legacy getPhoneNumber button's encryptedData.
    Phone {
        /// The number without country code.
        #[arg(long)]
        number: String,
        /// Country calling code.
        #[arg(long, default_value = "86")]
        country_code: String,
    },
    /// `wx.getShareInfo`: `{"openGId"}`.
    ShareInfo {
        /// The group id to encrypt.
        #[arg(long)]
        open_gid: String,
    },
    /// `wx.getWeRunData`: 31 days of steps at local (UTC+8) midnights.
    Werun {
        /// 31 comma-separated step counts, oldest first; default derived from the seed.
        #[arg(long, value_delimiter = ',')]
        steps: Vec<u32>,
    },
}

/// A profile; defaults are the official demo's user.
#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    /// openId in the plaintext.
    #[arg(long, default_value = "oGZUI0egBJY1zhBYw2KhdUfwVJJE")]
    pub openid: String,
    /// unionId, for apps bound to an open-platform account.
    #[arg(long)]
    pub unionid: Option<String>,
    /// Which rules apply: the real profile (legacy) or "微信用户" (anonymous).
    #[arg(long, value_enum, default_value = "legacy")]
    pub era: RuleEra,
    /// nickName.
    #[arg(long, default_value = "Band")]
    pub nickname: String,
    /// gender: 0, 1 or 2.
    #[arg(long, default_value_t = 1)]
    pub gender: u8,
    /// language.
    #[arg(long, default_value = "zh_CN")]
    pub language: String,
    /// city.
    #[arg(long, default_value = "Guangzhou")]
    pub city: String,
    /// province.
    #[arg(long, default_value = "Guangdong")]
    pub province: String,
    /// country.
    #[arg(long, default_value = "CN")]
    pub country: String,
    /// avatarUrl.
    #[arg(long, default_value = "https://thirdwx.qlogo.cn/mmopen/vi_32/demo/132")]
    pub avatar_url: String,
}

#[derive(Serialize)]
struct Payload {
    #[serde(rename = "encryptedData")]
    encrypted_data: String,
    iv: String,
    plaintext: String,
}

/// Builds the payload and returns it as pretty JSON, or a message naming the bad input.
pub fn run(args: &FixtureArgs) -> Result<String, String> {
    let now = args
        .timestamp
        .map_or_else(|| Clock::system().now(), Timestamp::from_secs);
    let appid = AppId::new(args.appid.clone());
    let watermark = Watermark::new(&appid, now);
    let generator = Generator::new(&args.seed);
    let tamper = args.tamper;
    let stale = args.stale_key.as_deref();
    let iv = opendata::iv_for(&generator, &[appid.as_str().as_bytes(), b"fixture"]);
    let fail = |e: opendata::OpenDataError| e.to_string();
    let plaintext = match &args.kind {
        Kind::UserInfo(p) | Kind::UserProfile(p) => {
            let api = match args.kind {
                Kind::UserProfile(_) => UserInfoApi::GetUserProfile,
                _ => UserInfoApi::GetUserInfo,
            };
            if p.gender > 2 {
                return Err("--gender must be 0, 1 or 2".into());
            }
            let profile = UserInfo::from(&Profile {
                nickname: p.nickname.clone(),
                avatar_url: p.avatar_url.clone(),
                gender: p.gender,
                country: p.country.clone(),
                province: p.province.clone(),
                city: p.city.clone(),
                language: p.language.clone(),
            });
            let openid = OpenId::new(p.openid.clone());
            let unionid = p.unionid.clone().map(UnionId::new);
            let grant = opendata::user_info_grant(
                &UserInfoRequest {
                    api,
                    era: p.era,
                    profile: &profile,
                    openid: &openid,
                    unionid: unionid.as_ref(),
                    appid: &appid,
                    session_key: &args.session_key,
                    stale_key: stale,
                    iv,
                    now,
                },
                tamper,
            )
            .map_err(fail)?;
            return serde_json::to_string_pretty(&grant).map_err(|e| e.to_string());
        }
        Kind::Phone {
            number,
            country_code,
        } => {
            let phone = Phone {
                country_code: country_code.clone(),
                number: number.clone(),
            };
            opendata::phone_plaintext_for(&phone, &watermark)
        }
        Kind::ShareInfo { open_gid } => opendata::share_info_plaintext(open_gid, &watermark),
        Kind::Werun { steps } => {
            let steps: [u32; WERUN_DAYS] = if steps.is_empty() {
                opendata::werun_steps(&generator, &UserHandle::new("fixture"), now)
            } else {
                steps.as_slice().try_into().map_err(|_| {
                    format!("--steps needs {WERUN_DAYS} values, got {}", steps.len())
                })?
            };
            opendata::werun_plaintext(now, &steps, &watermark)
        }
    };
    let sealed = opendata::seal(&args.session_key, stale, &iv, &plaintext, tamper).map_err(fail)?;
    serde_json::to_string_pretty(&Payload {
        encrypted_data: sealed.encrypted_data,
        iv: sealed.iv,
        plaintext,
    })
    .map_err(|e| e.to_string())
}
