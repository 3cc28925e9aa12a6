//! Typed identifiers and secrets in WeChat's real formats, and the seeded generator that derives
//! them.
//!
//! Every identity the mock hands out (appids, secrets, openids, unionids, login codes,
//! session keys, access tokens, phone-number codes, `component_verify_ticket`s, plugin codes,
//! openpids) is derived from the seed with HMAC-SHA256, so
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
        #[derive(schemars::JsonSchema)]
        #[serde(transparent)]
        #[schemars(inline)]
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
string_id!(
    /// A `wx.pluginLogin` code (32 alphanumerics, starts with `0`, as `wx.login` codes),
    /// valid 5 minutes, single use, for `wxa/getpluginopenpid` with the plugin's token.
    PluginCode, redacted
);
string_id!(
    /// A user's id within one plugin (28 chars, starts with `o`), not any app's openid.
    OpenPid, plain
);

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const URLSAFE: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";
const HEX: &[u8] = b"0123456789abcdef";

/// The generation prefix of access tokens (`89_` was current in 2025).
pub const ACCESS_TOKEN_GENERATION: &str = "89";
/// Total length of an access token as seen 2023–2025.
pub const ACCESS_TOKEN_LEN: usize = 136;
/// What every `component_verify_ticket` starts with (real ones: `ticket@@@` + 86 base64url
/// characters).
pub const TICKET_PREFIX: &str = "ticket@@@";
/// Bytes behind a ticket's text: the window number (masked) and a MAC, 86 characters of
/// unpadded base64url as real tickets have.
const TICKET_BYTES: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Derives identities and secrets from a seed. Cheap to clone.
#[derive(Clone)]
pub struct Generator {
    /// HMAC-SHA256 already keyed with the seed's key: each derivation clones it instead of
    /// hashing the key again.
    mac: HmacSha256,
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
        let key: [u8; 32] = h.finalize().into();
        let Ok(mac) = HmacSha256::new_from_slice(&key) else {
            unreachable!("HMAC accepts keys of any length")
        };
        Self { mac }
    }

    /// Block number `block` of the byte stream determined by the label and parts:
    /// HMAC(seed key, block ‖ label ‖ each part length-prefixed).
    fn block<'a>(
        &self,
        block: usize,
        label: &str,
        parts: impl IntoIterator<Item = &'a [u8]>,
    ) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(&u32::try_from(block).unwrap_or(u32::MAX).to_be_bytes());
        mac.update(label.as_bytes());
        for p in parts {
            // Length-prefix each part so ("ab","c") and ("a","bc") differ.
            mac.update(&u64::try_from(p.len()).unwrap_or(u64::MAX).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Fills `out` with bytes determined by the label and parts only.
    fn fill(&self, label: &str, parts: &[&[u8]], out: &mut [u8]) {
        for (block, chunk) in out.chunks_mut(32).enumerate() {
            let digest = self.block(block, label, parts.iter().copied());
            chunk.copy_from_slice(&digest[..chunk.len()]);
        }
    }

    /// `len` characters from `alphabet`, uniform (rejection sampling), determined by the inputs.
    /// Round `r` draws the 64 bytes `fill` gives for the parts followed by `r`; a block whose
    /// bytes would go unused is not computed.
    fn chars(&self, alphabet: &[u8], len: usize, label: &str, parts: &[&[u8]]) -> String {
        let n = alphabet.len();
        let limit = 256 - 256 % n;
        let mut out = String::with_capacity(len);
        let mut round: u32 = 0;
        while out.len() < len {
            let round_bytes = round.to_be_bytes();
            for block in 0..2 {
                if out.len() == len {
                    break;
                }
                let all = parts.iter().copied().chain([&round_bytes[..]]);
                for b in self.block(block, label, all) {
                    if usize::from(b) < limit && out.len() < len {
                        out.push(char::from(alphabet[usize::from(b) % n]));
                    }
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

    /// The n-th generated third-party platform's `component_appid`: `wx` + 16 hex digits, as
    /// an app's (its secret comes from [`Generator::secret`], as an app's).
    pub fn component_appid(&self, n: u64) -> AppId {
        AppId(format!(
            "wx{}",
            self.chars(HEX, 16, "component_appid", &[&n.to_be_bytes()])
        ))
    }

    /// The `component_verify_ticket` WeChat pushes to a platform in its ticket window number
    /// `window`: `ticket@@@` + 86 base64url characters. The window number travels in the
    /// ticket, masked, beside a MAC over (platform, window), so [`Generator::ticket_window`]
    /// reads it back without any table of pushed tickets.
    pub fn component_verify_ticket(&self, platform: &AppId, window: u64) -> String {
        let mut raw = [0u8; TICKET_BYTES];
        let (head, mac) = raw.split_at_mut(8);
        head.copy_from_slice(&(window ^ self.ticket_mask(platform)).to_be_bytes());
        self.fill(
            "component_verify_ticket",
            &[platform.0.as_bytes(), &window.to_be_bytes()],
            mac,
        );
        format!(
            "{TICKET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        )
    }

    /// The window number of a ticket [`Generator::component_verify_ticket`] made for
    /// `platform`; `None` for anything else (another platform's ticket included).
    pub fn ticket_window(&self, platform: &AppId, ticket: &str) -> Option<u64> {
        let body = ticket.strip_prefix(TICKET_PREFIX)?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .ok()?;
        let head: [u8; 8] = raw.get(..8)?.try_into().ok()?;
        let window = u64::from_be_bytes(head) ^ self.ticket_mask(platform);
        (self.component_verify_ticket(platform, window) == ticket).then_some(window)
    }

    fn ticket_mask(&self, platform: &AppId) -> u64 {
        self.number("component_verify_ticket-mask", &[platform.0.as_bytes()])
    }

    /// The n-th `wx.pluginLogin` code of a user in a plugin.
    pub fn plugin_code(&self, plugin: &AppId, user: &UserHandle, n: u64) -> PluginCode {
        let body = self.chars(
            ALNUM,
            31,
            "plugin_code",
            &[plugin.0.as_bytes(), user.0.as_bytes(), &n.to_be_bytes()],
        );
        PluginCode(format!("0{body}"))
    }

    /// A user's openpid in a plugin: shaped as an openid, derived apart from every openid.
    pub fn openpid(&self, plugin: &AppId, user: &UserHandle) -> OpenPid {
        let prefix = self.chars(URLSAFE, 5, "openpid-prefix", &[plugin.0.as_bytes()]);
        let body = self.chars(
            URLSAFE,
            22,
            "openpid",
            &[plugin.0.as_bytes(), user.0.as_bytes()],
        );
        OpenPid(format!("o{prefix}{body}"))
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

    /// Version `version` of a user's encrypt key in an app (`wx.getUserCryptoManager`,
    /// getuserencryptkey): the base64 of 16 key bytes, and the IV as WeChat shows it, 16
    /// lowercase hex characters whose 16 bytes are the AES IV.
    pub fn user_key(&self, appid: &AppId, user: &UserHandle, version: u64) -> (String, String) {
        let parts: [&[u8]; 3] = [
            appid.0.as_bytes(),
            user.0.as_bytes(),
            &version.to_be_bytes(),
        ];
        let mut key = [0u8; 16];
        self.fill("user_key", &parts, &mut key);
        let iv = self.chars(HEX, 16, "user_key_iv", &parts);
        (base64::engine::general_purpose::STANDARD.encode(key), iv)
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

    /// `len` alphanumerics for `label`: Tencent Cloud API keys and the like.
    pub fn alnum(&self, label: &str, len: usize) -> String {
        self.chars(ALNUM, len, label, &[])
    }

    /// `len` decimal digits for `label` and a number: SmsSdkAppIds, template ids, serial numbers.
    pub fn digits(&self, label: &str, n: u64, len: usize) -> String {
        self.chars(b"0123456789", len, label, &[&n.to_be_bytes()])
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
    fn tickets_carry_their_window_and_belong_to_one_platform() {
        let g = Generator::new("seed");
        let (p, q) = (g.component_appid(0), g.component_appid(1));
        assert!(p.as_str().starts_with("wx") && p.as_str().len() == 18);
        assert_ne!(p, q);
        let t = g.component_verify_ticket(&p, 7);
        // As real tickets: `ticket@@@` + 86 base64url characters.
        assert_eq!(t.len(), 95, "{t}");
        assert!(
            t[TICKET_PREFIX.len()..]
                .bytes()
                .all(|b| URLSAFE.contains(&b))
        );
        assert_eq!(g.ticket_window(&p, &t), Some(7));
        assert_eq!(g.ticket_window(&q, &t), None, "another platform's");
        assert_eq!(
            g.ticket_window(&p, &t.replace("ticket@@@", "ticket@@")),
            None
        );
        let mut forged = t.clone();
        forged.pop();
        forged.push(if t.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(g.ticket_window(&p, &forged), None);
        assert_ne!(g.component_verify_ticket(&p, 8), t);
        assert_eq!(Generator::new("seed").component_verify_ticket(&p, 7), t);
        let alice = UserHandle::new("alice");
        let code = g.plugin_code(&p, &alice, 0);
        assert!(is_js_code_shaped(code.as_str()));
        assert_ne!(code.as_str(), g.js_code(&p, &alice, 0).as_str());
        let openpid = g.openpid(&p, &alice);
        assert_eq!(openpid.as_str().len(), 28);
        assert_ne!(openpid.as_str(), g.openid(&p, &alice).as_str());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = AppSecret::new("0123456789abcdef0123456789abcdef");
        assert_eq!(format!("{s:?}"), "AppSecret(<redacted>)");
        assert_eq!(format!("{:?}", AppId::new("wx1")), "AppId(\"wx1\")");
    }

    #[test]
    fn derivations_do_not_change() {
        // Pinned: every seeded identity must stay the same from version to version.
        let g = Generator::new("golden");
        let app = g.appid(7);
        let u = UserHandle::new("alice");
        assert_eq!(app.as_str(), "wxf234583262908d21");
        assert_eq!(g.secret(&app).as_str(), "70d5d19f3bdd2a202b4648a3dc5db509");
        assert_eq!(g.openid(&app, &u).as_str(), "op7avBJE4-5UGSwteLtuDuJB-rnB");
        let acct = PlatformId::new("acct");
        assert_eq!(
            g.unionid(&acct, &u).as_str(),
            "o7US4MOVtXyo0IOHjTJhWG9m9sHi"
        );
        assert_eq!(
            g.js_code(&app, &u, 0).as_str(),
            "0HMZuxoE0DaSBAZ6LrdtLzXvlejLzsHL"
        );
        assert_eq!(
            g.js_code(&app, &u, 41).as_str(),
            "0VOzBxed7XNP1nGzjffLdDG3HGg26gEX"
        );
        assert_eq!(
            g.session_key(&app, &u, 3).as_str(),
            "uoXcw5bTpE8kvIvgbu/jfA=="
        );
        assert_eq!(
            g.access_token(&app, "stable", 2).as_str(),
            "89_Jacn2nQ-NzmlDRA6Eapile5MC4Jd0CuIXD5hlxyS7z7FGkMkgmfCSqVEfZlZ7L6M3cJCZV8mce6BUMx-\
             KArMjc7U7ZBHbeXyc_RSACpU1RNDb9poaNhCzNr-1SKOIMtnJPZYw"
        );
        assert_eq!(
            g.phone_code(&app, &u, 5).as_str(),
            "80854169dc9262e9fce25404c794b0be2ffe14dfc456d541c561557f14ff09bf"
        );
        assert_eq!(g.open_gid(&app, "family"), "tGhLnL0EVswSrSIMzoLgwQMotlz5");
        assert_eq!(g.phone_number(&u), "13782874942");
        assert_eq!(g.hint(9), "syM0XG-Rs9GcyCdr");
        assert_eq!(
            g.number("rid", &[&9u64.to_be_bytes()]),
            12_284_248_693_195_172_136
        );
        // Many draws, through every rejection-sampling path (several rounds, unused blocks).
        let mut h = Sha256::new();
        for n in 0..2000u64 {
            h.update(g.js_code(&app, &u, n).as_str());
            h.update(g.openid(&g.appid(n), &u).as_str());
            h.update(g.chars(b"0123456789", 40, "digits", &[&n.to_be_bytes()]));
            h.update(g.chars(b"ab", 70, "ab", &[&n.to_be_bytes()]));
            h.update(g.number("rid", &[&n.to_be_bytes()]).to_be_bytes());
        }
        assert_eq!(
            hex::encode(h.finalize()),
            "82b1696bdf9bb06b91c677f24328fb603403d3772f1ff1d8b4445b2d59e76029"
        );
    }
}
