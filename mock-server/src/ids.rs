//! Typed identifiers and secrets in WeChat's real formats, and the seeded generator that derives
//! them.
//!
//! Every identity the mock hands out (appids, secrets, openids, unionids, login codes,
//! session keys, access tokens, phone-number codes) is derived from the seed with HMAC-SHA256, so
//! the same seed gives the same identities in every run, and a given user's n-th login code is the
//! same whatever else happened in between.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $debug:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value without checking its format (the mock accepts what it is given).
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The value as it goes on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                string_id!(@debug $debug, stringify!($name), &self.0, f)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
    (@debug plain, $n:expr, $v:expr, $f:ident) => {
        write!($f, "{}({:?})", $n, $v)
    };
    (@debug redacted, $n:expr, $v:expr, $f:ident) => {
        write!($f, "{}(<redacted>)", $n)
    };
}

string_id!(
    /// A mini-program's appid (`wx` + 16 hex digits).
    AppId, plain
);
string_id!(
    /// An app's AppSecret (32 hex digits).
    AppSecret, redacted
);
string_id!(
    /// An open-platform account that binds several apps; unionids are per account.
    PlatformId, plain
);
string_id!(
    /// A WeChat user's stable handle in the mock (`alice`), the key tests name users by.
    UserHandle, plain
);
string_id!(
    /// A user's openid within one app (28 chars, starts with `o`).
    OpenId, plain
);
string_id!(
    /// A user's unionid within one open-platform account (28 chars, starts with `o`).
    UnionId, plain
);
string_id!(
    /// A `wx.login` code (32 alphanumerics, starts with `0`), valid 5 minutes, single use.
    JsCode, redacted
);
string_id!(
    /// A session_key: standard base64 of 16 bytes (24 chars).
    SessionKey, redacted
);
string_id!(
    /// An access token: `<generation>_<body>`, 136 chars.
    AccessToken, redacted
);
string_id!(
    /// A phone-number code from the getPhoneNumber button (64 lowercase hex digits).
    PhoneCode, redacted
);

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const URLSAFE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
const HEX: &[u8] = b"0123456789abcdef";

/// The generation prefix of access tokens (`89_` was current in 2025).
pub const ACCESS_TOKEN_GENERATION: &str = "89";
/// Total length of an access token as seen 2023–2025.
pub const ACCESS_TOKEN_LEN: usize = 136;

type HmacSha256 = Hmac<Sha256>;

/// Derives identities and secrets from a seed. Cheap to clone.
#[derive(Clone)]
pub struct Generator {
    key: [u8; 32],
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Generator(<seeded>)")
    }
}

impl Generator {
    /// A generator for `seed`; any string is a valid seed.
    pub fn new(seed: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"wx-mock seed\0");
        h.update(seed.as_bytes());
        Self {
            key: h.finalize().into(),
        }
    }

    /// Fills `out` with bytes determined by the label and parts only.
    fn fill(&self, label: &str, parts: &[&[u8]], out: &mut [u8]) {
        for (block, chunk) in out.chunks_mut(32).enumerate() {
            let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
                unreachable!("HMAC accepts keys of any length")
            };
            mac.update(&u32::try_from(block).unwrap_or(u32::MAX).to_be_bytes());
            mac.update(label.as_bytes());
            for p in parts {
                // Length-prefix each part so ("ab","c") and ("a","bc") differ.
                mac.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
                mac.update(p);
            }
            let digest = mac.finalize().into_bytes();
            chunk.copy_from_slice(&digest[..chunk.len()]);
        }
    }

    /// `len` characters from `alphabet`, uniform (rejection sampling), determined by the inputs.
    fn chars(&self, alphabet: &[u8], len: usize, label: &str, parts: &[&[u8]]) -> String {
        let n = alphabet.len();
        let limit = 256 - 256 % n;
        let mut out = String::with_capacity(len);
        let mut round: u32 = 0;
        while out.len() < len {
            let mut buf = [0u8; 64];
            let round_bytes = round.to_be_bytes();
            let mut all: Vec<&[u8]> = parts.to_vec();
            all.push(&round_bytes);
            self.fill(label, &all, &mut buf);
            for b in buf {
                if usize::from(b) < limit && out.len() < len {
                    out.push(char::from(alphabet[usize::from(b) % n]));
                }
            }
            round += 1;
        }
        out
    }

    /// A 64-bit number determined by the inputs, for seeding per-purpose random generators.
    pub fn number(&self, label: &str, parts: &[&[u8]]) -> u64 {
        let mut b = [0u8; 8];
        self.fill(label, parts, &mut b);
        u64::from_be_bytes(b)
    }

    /// The n-th generated appid: `wx` + 16 hex digits.
    pub fn appid(&self, n: u64) -> AppId {
        AppId(format!(
            "wx{}",
            self.chars(HEX, 16, "appid", &[&n.to_be_bytes()])
        ))
    }

    /// The AppSecret of a generated app: 32 hex digits.
    pub fn secret(&self, appid: &AppId) -> AppSecret {
        AppSecret(self.chars(HEX, 32, "secret", &[appid.0.as_bytes()]))
    }

    /// A user's openid in an app. The first six characters depend on the app only, as real
    /// openids of one app share a prefix.
    pub fn openid(&self, appid: &AppId, user: &UserHandle) -> OpenId {
        let prefix = self.chars(URLSAFE, 5, "openid-prefix", &[appid.0.as_bytes()]);
        let body = self.chars(
            URLSAFE,
            22,
            "openid",
            &[appid.0.as_bytes(), user.0.as_bytes()],
        );
        OpenId(format!("o{prefix}{body}"))
    }

    /// A user's unionid in an open-platform account.
    pub fn unionid(&self, platform: &PlatformId, user: &UserHandle) -> UnionId {
        let prefix = self.chars(URLSAFE, 5, "unionid-prefix", &[platform.0.as_bytes()]);
        let body = self.chars(
            URLSAFE,
            22,
            "unionid",
            &[platform.0.as_bytes(), user.0.as_bytes()],
        );
        UnionId(format!("o{prefix}{body}"))
    }

    /// The n-th `wx.login` code of a user in an app.
    pub fn js_code(&self, appid: &AppId, user: &UserHandle, n: u64) -> JsCode {
        let body = self.chars(
            ALNUM,
            31,
            "js_code",
            &[appid.0.as_bytes(), user.0.as_bytes(), &n.to_be_bytes()],
        );
        JsCode(format!("0{body}"))
    }

    /// The n-th session_key of a user in an app.
    pub fn session_key(&self, appid: &AppId, user: &UserHandle, n: u64) -> SessionKey {
        let mut raw = [0u8; 16];
        self.fill(
            "session_key",
            &[appid.0.as_bytes(), user.0.as_bytes(), &n.to_be_bytes()],
            &mut raw,
        );
        SessionKey(base64::engine::general_purpose::STANDARD.encode(raw))
    }

    /// The n-th access token of an app for a token family (`basic` or `stable`).
    pub fn access_token(&self, appid: &AppId, family: &str, n: u64) -> AccessToken {
        let body_len = ACCESS_TOKEN_LEN - ACCESS_TOKEN_GENERATION.len() - 1;
        let body = self.chars(
            URLSAFE,
            body_len,
            "access_token",
            &[appid.0.as_bytes(), family.as_bytes(), &n.to_be_bytes()],
        );
        AccessToken(format!("{ACCESS_TOKEN_GENERATION}_{body}"))
    }

    /// The n-th phone-number code of a user in an app.
    pub fn phone_code(&self, appid: &AppId, user: &UserHandle, n: u64) -> PhoneCode {
        PhoneCode(self.chars(
            HEX,
            64,
            "phone_code",
            &[appid.0.as_bytes(), user.0.as_bytes(), &n.to_be_bytes()],
        ))
    }

    /// The openGId of a named chat group as seen by an app: 28 characters, `tG` + 26
    /// alphanumerics or `G` + 27 (`wechat-api.md` 3); stable per (app, group).
    pub fn open_gid(&self, appid: &AppId, group: &str) -> String {
        let parts: [&[u8]; 2] = [appid.0.as_bytes(), group.as_bytes()];
        if self.number("open_gid-prefix", &parts) % 2 == 0 {
            format!("tG{}", self.chars(ALNUM, 26, "open_gid", &parts))
        } else {
            format!("G{}", self.chars(ALNUM, 27, "open_gid", &parts))
        }
    }

    /// A mainland mobile number for a user who was not given one (`1` + 10 digits).
    pub fn phone_number(&self, user: &UserHandle) -> String {
        const PREFIXES: [&str; 8] = ["138", "139", "137", "136", "135", "186", "187", "188"];
        let pick = self.number("phone-prefix", &[user.0.as_bytes()]) % 8;
        let digits = self.chars(b"0123456789", 8, "phone", &[user.0.as_bytes()]);
        format!("{}{digits}", PREFIXES[usize::try_from(pick).unwrap_or(0)])
    }

    /// A short random-looking tag (`hint: [...]` in some errmsgs), from a sequence number.
    pub fn hint(&self, n: u64) -> String {
        self.chars(URLSAFE, 16, "hint", &[&n.to_be_bytes()])
    }
}

/// Whether `s` looks like a real `wx.login` code: 32 ASCII alphanumerics.
pub fn is_js_code_shaped(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_urlsafe(s: &str) -> bool {
        s.bytes().all(|b| URLSAFE.contains(&b))
    }

    #[test]
    fn identities_have_the_real_formats() {
        let g = Generator::new("seed");
        let app = g.appid(0);
        assert!(app.as_str().starts_with("wx") && app.as_str().len() == 18);
        assert!(app.as_str()[2..].bytes().all(|b| HEX.contains(&b)));
        let secret = g.secret(&app);
        assert_eq!(secret.as_str().len(), 32);
        let alice = UserHandle::new("alice");
        let openid = g.openid(&app, &alice);
        assert_eq!(openid.as_str().len(), 28);
        assert!(openid.as_str().starts_with('o') && is_urlsafe(openid.as_str()));
        let unionid = g.unionid(&PlatformId::new("acct"), &alice);
        assert_eq!(unionid.as_str().len(), 28);
        assert!(unionid.as_str().starts_with('o') && is_urlsafe(unionid.as_str()));
        let code = g.js_code(&app, &alice, 0);
        assert!(is_js_code_shaped(code.as_str()) && code.as_str().starts_with('0'));
        let key = g.session_key(&app, &alice, 0);
        assert_eq!(key.as_str().len(), 24);
        assert!(key.as_str().ends_with("=="));
        let token = g.access_token(&app, "basic", 0);
        assert_eq!(token.as_str().len(), ACCESS_TOKEN_LEN);
        assert!(token.as_str().starts_with("89_") && is_urlsafe(token.as_str()));
        let phone_code = g.phone_code(&app, &alice, 0);
        assert_eq!(phone_code.as_str().len(), 64);
        assert_eq!(g.phone_number(&alice).len(), 11);
        assert_eq!(g.hint(3).len(), 16);
    }

    #[test]
    fn same_seed_same_identities_other_seed_others() {
        let (a, b, c) = (
            Generator::new("s1"),
            Generator::new("s1"),
            Generator::new("s2"),
        );
        let bob = UserHandle::new("bob");
        assert_eq!(a.appid(0), b.appid(0));
        assert_eq!(a.openid(&a.appid(0), &bob), b.openid(&b.appid(0), &bob));
        assert_ne!(a.appid(0), c.appid(0));
        assert_ne!(
            a.js_code(&a.appid(0), &bob, 0),
            a.js_code(&a.appid(0), &bob, 1)
        );
    }

    #[test]
    fn openids_of_one_app_share_a_prefix() {
        let g = Generator::new("seed");
        let app = g.appid(0);
        let x = g.openid(&app, &UserHandle::new("x"));
        let y = g.openid(&app, &UserHandle::new("y"));
        assert_eq!(x.as_str()[..6], y.as_str()[..6]);
        assert_ne!(x, y);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = AppSecret::new("0123456789abcdef0123456789abcdef");
        assert_eq!(format!("{s:?}"), "AppSecret(<redacted>)");
        assert_eq!(format!("{:?}", AppId::new("wx1")), "AppId(\"wx1\")");
    }
}
