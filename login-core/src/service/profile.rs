//! `GET /api/me` and `POST /api/me/profile`: the profile from encrypted user info (signature
//! and watermark checked) or from the avatar-and-nickname fill-in.

use crate::domain::{Profile, User};
use crate::wechat::opendata::UserInfoData;

use super::opendata::Forwarded;
use super::{Authenticated, Error, Services};

/// The nickname WeChat gives when it hides the real one (anonymous user info).
const ANONYMOUS_NICKNAME: &str = "微信用户";
/// What user-info open data is called in errors.
const USER_INFO: &str = "user info";
/// Longest nickname accepted.
const MAX_NICKNAME_CHARS: usize = 64;
/// Longest avatar URL accepted.
const MAX_URL_BYTES: usize = 2048;

/// A profile update.
#[derive(Debug)]
pub enum ProfileRequest {
    /// `wx.getUserInfo` / `wx.getUserProfile` output.
    Encrypted {
        /// `encryptedData`.
        encrypted_data: String,
        /// `iv`.
        iv: String,
        /// `rawData` and `signature`, if the client sent them.
        signed: Option<(String, String)>,
    },
    /// The avatar-and-nickname fill-in: plain values.
    Plain {
        /// `nickName`.
        nick_name: Option<String>,
        /// `avatarUrl`.
        avatar_url: Option<String>,
    },
}

/// The result of a profile update.
#[derive(Debug)]
pub struct ProfileOutput {
    /// The user after the update.
    pub user: User,
    /// False when WeChat gave anonymous data ("微信用户", grey avatar) and the stored
    /// profile was kept.
    pub updated: bool,
}

impl Services {
    /// The logged-in user.
    pub async fn me(&self, auth: &Authenticated) -> Result<User, Error> {
        const GONE: Error = Error::LoginRequired("the account no longer exists: log in again");
        if let Some(user) = self.store.user(auth.user_id).await? {
            return Ok(user);
        }
        // A phone binding of the same session may have just joined this user into another
        // account: the session now points there.
        match self.store.session(&auth.token_hash).await? {
            Some(s) if s.user_id != auth.user_id => self.store.user(s.user_id).await?.ok_or(GONE),
            _ => Err(GONE),
        }
    }

    /// Updates the profile.
    pub async fn update_profile(
        &self,
        auth: &Authenticated,
        req: ProfileRequest,
    ) -> Result<ProfileOutput, Error> {
        let user = self.me(auth).await?;
        let mut profile = user.profile.clone().unwrap_or_default();
        match req {
            ProfileRequest::Encrypted {
                encrypted_data,
                iv,
                signed,
            } => {
                let sent = Forwarded {
                    encrypted_data: &encrypted_data,
                    iv: &iv,
                    signed: signed.as_ref().map(|(r, s)| (r.as_str(), s.as_str())),
                };
                let data: UserInfoData = self.open_data(auth, sent, USER_INFO).await?;
                let got = Profile::try_from(data).map_err(|_| Error::OpenDataShape(USER_INFO))?;
                if got.nick_name.as_deref() == Some(ANONYMOUS_NICKNAME) {
                    return Ok(ProfileOutput {
                        user,
                        updated: false,
                    });
                }
                profile = got;
            }
            ProfileRequest::Plain {
                nick_name,
                avatar_url,
            } => {
                if nick_name.is_none() && avatar_url.is_none() {
                    return Err(Error::field(
                        "nickName",
                        "give nickName and/or avatarUrl, or encryptedData and iv",
                    ));
                }
                if let Some(n) = nick_name {
                    profile.nick_name = Some(check_nickname(&n)?);
                }
                if let Some(u) = avatar_url {
                    profile.avatar_url = Some(check_avatar_url(&u)?);
                }
            }
        }
        // `user.id` is current (see `me`), even if a join moved the session a moment ago.
        let user = self.store.set_profile(user.id, profile, self.now()).await?;
        Ok(ProfileOutput {
            user,
            updated: true,
        })
    }
}

fn check_nickname(n: &str) -> Result<String, Error> {
    let n = n.trim();
    if n.is_empty() {
        return Err(Error::field("nickName", "must not be empty"));
    }
    if n.chars().count() > MAX_NICKNAME_CHARS {
        return Err(Error::field(
            "nickName",
            format!("must be at most {MAX_NICKNAME_CHARS} characters"),
        ));
    }
    if n.chars().any(char::is_control) {
        return Err(Error::field(
            "nickName",
            "must not contain control characters",
        ));
    }
    Ok(n.to_owned())
}

fn check_avatar_url(u: &str) -> Result<String, Error> {
    if u.len() > MAX_URL_BYTES {
        return Err(Error::field(
            "avatarUrl",
            format!("must be at most {MAX_URL_BYTES} bytes"),
        ));
    }
    let ok_scheme = u.starts_with("https://") || u.starts_with("http://");
    let rest = u.split_once("://").map(|(_, r)| r).unwrap_or("");
    if !ok_scheme || rest.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::field(
            "avatarUrl",
            "must be an http(s) URL (upload the chosen avatar first; wxfile:// paths are local to the phone)",
        ));
    }
    Ok(u.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_checked() {
        assert_eq!(check_nickname("  小明 ").expect("ok"), "小明");
        assert!(check_nickname(" ").is_err());
        assert!(check_nickname(&"字".repeat(65)).is_err());
        assert!(check_nickname("a\u{0}b").is_err());
        assert!(check_avatar_url("https://x.example/a.png").is_ok());
        assert!(check_avatar_url("wxfile://tmp_abc.png").is_err());
        assert!(check_avatar_url("https://").is_err());
        assert!(check_avatar_url("https://a b").is_err());
    }
}
