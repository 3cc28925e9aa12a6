//! Typed identifiers and secrets.
//!
//! Secrets (app secrets, session keys, access tokens, login tokens, codes) print as
//! `<redacted>` in `Debug` and have no `Display`, so they cannot reach a log line by accident.
//! Values that arrive from clients are checked by [`JsCode::parse`] and [`PhoneCode::parse`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
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
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
}

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The secret itself: only for the wire and for cryptography.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(<redacted>)", stringify!($name))
            }
        }
    };
}

id!(
    /// A mini-program's appid.
    AppId
);
id!(
    /// A user's openid within one app.
    OpenId
);
id!(
    /// A user's unionid within one open-platform account.
    UnionId
);
id!(
    /// An open-platform account binding several apps.
    PlatformId
);

secret!(
    /// An app's AppSecret.
    AppSecret
);
secret!(
    /// A `wx.login` code.
    JsCode
);
secret!(
    /// A phone-number code from the getPhoneNumber button.
    PhoneCode
);
secret!(
    /// An access token for WeChat's server APIs.
    AccessToken
);
secret!(
    /// A 6-digit SMS verification code.
    SmsCode
);

/// Why a client-supplied code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Empty.
    #[error("must not be empty")]
    Empty,
    /// Longer than the limit.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A character outside `[A-Za-z0-9_-]`.
    #[error("must contain only letters, digits, '-' and '_'")]
    BadChar,
}

fn check_code(s: &str, max: usize) -> Result<(), CodeError> {
    if s.is_empty() {
        return Err(CodeError::Empty);
    }
    if s.len() > max {
        return Err(CodeError::TooLong { max });
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(CodeError::BadChar);
    }
    Ok(())
}

impl JsCode {
    /// Longest code accepted (real ones are 32 characters).
    pub const MAX_LEN: usize = 128;

    /// Checks a code from a client.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        check_code(s, Self::MAX_LEN).map(|()| Self(s.to_owned()))
    }

    /// A short, non-reversible tag of the code for rate limiting and logs.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..8])
    }
}

impl PhoneCode {
    /// Longest code accepted (real ones are 64 hex digits).
    pub const MAX_LEN: usize = 256;

    /// Checks a code from a client.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        check_code(s, Self::MAX_LEN).map(|()| Self(s.to_owned()))
    }
}

/// A session_key: 16 bytes, carried as base64 text (the form WeChat's signatures use).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    /// Wraps the base64 text as WeChat sent it.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The base64 text: for signatures and sealing only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The AES-128 key, if the text is base64 of exactly 16 bytes.
    pub fn aes_key(&self) -> Option<[u8; 16]> {
        STANDARD.decode(&self.0).ok()?.try_into().ok()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// The internal id of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A bearer secret handed to a client once and stored only as SHA-256: 256 random bits,
/// base64url without padding (43 characters), with its hash type.
macro_rules! bearer {
    ($(#[$doc:meta])* $name:ident, $hash:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Length of the text form.
            pub const LEN: usize = 43;

            #[doc = concat!("A ", $what, " from 32 random bytes.")]
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(URL_SAFE_NO_PAD.encode(bytes))
            }

            #[doc = concat!("Reads a ", $what, " presented by a client; `None` if it cannot be one of ours.")]
            pub fn parse(s: &str) -> Option<Self> {
                let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
                (bytes.len() == 32).then(|| Self(s.to_owned()))
            }

            /// The text to hand to the client, once.
            pub fn expose(&self) -> &str {
                &self.0
            }

            #[doc = concat!("What the store keeps: SHA-256 of the ", $what, ".")]
            pub fn hash(&self) -> $hash {
                $hash(Sha256::digest(self.0.as_bytes()).into())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        #[doc = concat!("SHA-256 of a ", $what, ": the only form in which it is stored.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $hash(pub [u8; 32]);

        impl fmt::Debug for $hash {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($hash), "({}..)"), hex::encode(&self.0[..4]))
            }
        }
    };
}

bearer!(
    /// A login token as the client holds it.
    LoginToken,
    TokenHash,
    "login token"
);
bearer!(
    /// A registration ticket as the client holds it. It stands for a WeChat identity that no
    /// account knows yet (kept server-side, with its session_key), until a phone number is
    /// verified.
    Ticket,
    TicketHash,
    "registration ticket"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let all = format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            AppSecret::new("s3cr3t"),
            JsCode::new("c0de"),
            SessionKey::new("a2V5a2V5a2V5a2V5a2V5aw=="),
            AccessToken::new("89_tok"),
            LoginToken::from_bytes([7; 32]),
            PhoneCode::new("ph0ne"),
            SmsCode::new("123456"),
            Ticket::from_bytes([9; 32]),
        );
        for secret in [
            "s3cr3t", "c0de", "a2V5", "89_tok", "ph0ne", "BwcH", "123456", "CQkJ",
        ] {
            assert!(!all.contains(secret), "{secret} leaked in {all}");
        }
        assert_eq!(all.matches("<redacted>").count(), 8);
        let t = Ticket::from_bytes([1; 32]);
        assert_eq!(t.expose().len(), Ticket::LEN);
        assert_eq!(Ticket::parse(t.expose()).map(|t| t.hash()), Some(t.hash()));
        assert!(Ticket::parse("short").is_none());
    }

    #[test]
    fn codes_are_checked() {
        assert!(JsCode::parse("0a1B-_z").is_ok());
        assert_eq!(JsCode::parse("").unwrap_err(), CodeError::Empty);
        assert_eq!(JsCode::parse("a b").unwrap_err(), CodeError::BadChar);
        assert_eq!(JsCode::parse("码").unwrap_err(), CodeError::BadChar);
        assert_eq!(
            JsCode::parse(&"a".repeat(129)).unwrap_err(),
            CodeError::TooLong { max: 128 }
        );
    }

    #[test]
    fn login_tokens_round_trip_and_reject_foreign_text() {
        let t = LoginToken::from_bytes([1; 32]);
        assert_eq!(t.expose().len(), LoginToken::LEN);
        let back = LoginToken::parse(t.expose()).expect("own token parses");
        assert_eq!(back.hash(), t.hash());
        assert!(LoginToken::parse("short").is_none());
        assert!(LoginToken::parse(&"*".repeat(43)).is_none());
    }

    #[test]
    fn session_key_must_be_16_bytes() {
        assert!(
            SessionKey::new("tiihtNczf5v6AKRyjwEUhQ==")
                .aes_key()
                .is_some()
        );
        assert!(SessionKey::new("dG9vc2hvcnQ=").aes_key().is_none());
        assert!(SessionKey::new("!!").aes_key().is_none());
    }
}
