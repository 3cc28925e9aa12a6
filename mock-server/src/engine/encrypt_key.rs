//! The user encrypt keys of the mini-program's encrypted network channel (`wechat-api.md` 7a):
//! the simulated `wx.getUserCryptoManager().getLatestUserKey()` and the backend's
//! `wxa/business/getuserencryptkey`.
//!
//! Each (app, user) has a line of keys, versions 1, 2, ...; each lives 3600 s. A new key is
//! made only when the client asks for the latest one and it has expired (or there is none): in
//! the docs' example the three keys were made hours apart, not hourly, so keys follow the
//! client's use. The backend only reads: getuserencryptkey lists the 3 most recent keys,
//! newest first, expired ones included with `expire_in` 0 (as in the docs' example), and an
//! empty list before the client's first key. So at most 3 keys per (app, user) are kept.
//!
//! `encrypt_key` is the base64 of 16 key bytes; `iv` is 16 lowercase hex characters, as in the
//! docs' example (`"iv":"6003f73ec441c386"`), and its 16 characters are the AES IV's 16 bytes
//! (hex-decoding it would give 8, too few for AES-CBC). Data is AES-128-CBC with PKCS#7.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::login::{login_signature, verify_session};
use super::{Engine, EngineError, Map, State, maybe_sweep, tokens};
use crate::clock::Timestamp;
use crate::ids::{AppId, OpenId, UserHandle};
use crate::reply::{Answer, Reply, UserKeyInfo};
use crate::request::SessionCheck;

/// How long a user encrypt key lives.
pub const USER_KEY_TTL: Duration = Duration::from_secs(3600);
/// How many keys getuserencryptkey lists (and the mock keeps) per (app, user).
pub const USER_KEYS_LISTED: usize = 3;

#[derive(Clone)]
struct UserKey {
    encrypt_key: String,
    iv: String,
    version: u64,
    created: Timestamp,
}

impl UserKey {
    fn expires_at(&self) -> Timestamp {
        self.created.plus(USER_KEY_TTL)
    }
}

/// The keys of every (app, user), oldest first, at most [`USER_KEYS_LISTED`] each.
#[derive(Default)]
pub(super) struct UserKeys {
    keys: Map<(AppId, UserHandle), VecDeque<UserKey>>,
}

impl UserKeys {
    pub fn count(&self) -> usize {
        self.keys.values().map(VecDeque::len).sum()
    }
}

/// What `UserCryptoManager.getLatestUserKey` hands its success callback. Keys live 3600 s; the
/// latest one is handed out until it expires, then a new one (the next `version`) is made. A
/// backend reads the same keys with `GET /wxa/business/getuserencryptkey` (the 3 most recent,
/// newest first, expired ones with `expire_in` 0) and decrypts with AES-128-CBC, key =
/// base64-decoded `encryptKey`, IV = the 16 bytes of `iv`, PKCS#7.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserKeyGrant {
    /// `getLatestUserKey:ok`.
    #[serde(rename = "errMsg")]
    #[schemars(extend("const" = "getLatestUserKey:ok"))]
    pub err_msg: String,
    /// base64 of the 16-byte AES key.
    #[serde(rename = "encryptKey")]
    pub encrypt_key: String,
    /// 16 lowercase hex characters, as WeChat shows it; its 16 characters are the IV's 16 bytes.
    pub iv: String,
    /// The key's version: 1, 2, ... per app and user.
    #[schemars(range(min = 1))]
    pub version: u64,
    /// When the key expires, Unix seconds.
    #[serde(rename = "expireTime")]
    pub expire_time: i64,
    /// Only with `data`: base64 of `data` under this key and iv (AES-128-CBC, PKCS#7), what the
    /// mini-program would send its backend. Not part of the real callback.
    #[serde(
        rename = "encryptedData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub encrypted_data: Option<String>,
    /// Facts for tests (not part of the real callback).
    pub mock: UserKeyFacts,
}

/// Facts for tests (not part of the real callback).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserKeyFacts {
    /// The user's openid in the app.
    pub openid: OpenId,
    /// When the key was made, Unix seconds (`create_time` in getuserencryptkey).
    pub create_time: i64,
    /// hex(HMAC-SHA256(key = the user's current session_key, "")): getuserencryptkey's `signature`.
    pub signature: String,
}

/// `GET /wxa/business/getuserencryptkey?access_token&openid&signature&sig_method=hmac_sha256`
/// (also POST): the query is checked as checksession checks it, then the keys are listed.
pub(super) fn get_user_encrypt_key(st: &State, call: &SessionCheck, now: Timestamp) -> Answer {
    let token = tokens::token_app(st, call.access_token.as_deref(), now);
    let mut user = None;
    let result = verify_session(st, call, token.clone(), now, &mut user).map(|key| {
        let list = st.user_keys.keys.get(&key).map_or_else(Vec::new, |keys| {
            keys.iter()
                .rev()
                .map(|k| UserKeyInfo {
                    encrypt_key: k.encrypt_key.clone(),
                    version: k.version,
                    expire_in: now.until(k.expires_at()).as_secs(),
                    iv: k.iv.clone(),
                    create_time: k.created.secs(),
                })
                .collect()
        });
        Reply::UserEncryptKeys(list)
    });
    Answer {
        result,
        appid: token.ok(),
        user,
        tencent: None,
    }
}

impl Engine {
    /// The simulated `wx.getUserCryptoManager().getLatestUserKey()` for (app, user): the latest
    /// key, made anew when it has expired or there is none; with `data`, its ciphertext under
    /// the key. The user must have logged in to the app ([`EngineError::NoSession`]).
    pub fn wx_user_key(
        &self,
        appid: &AppId,
        user: &UserHandle,
        data: Option<&[u8]>,
    ) -> Result<UserKeyGrant, EngineError> {
        let now = self.clock.now();
        let mut st = self.lock();
        let st = &mut *st;
        maybe_sweep(st, now);
        st.dir.app(appid)?;
        if st.options.strict && !st.dir.users.contains_key(user) {
            return Err(EngineError::UnknownUser(user.to_string()));
        }
        let (openid, session_key) = st
            .logins
            .keys(appid, user)
            .map(|(openid, current, _)| (openid.clone(), current.as_str().to_owned()))
            .ok_or_else(|| EngineError::NoSession(user.to_string()))?;
        let keys = st
            .user_keys
            .keys
            .entry((appid.clone(), user.clone()))
            .or_default();
        let (key, fresh) = match keys.back().filter(|k| k.expires_at() > now) {
            Some(k) => (k.clone(), false),
            None => {
                let version = keys.back().map_or(1, |k| k.version + 1);
                let (encrypt_key, iv) = self.idgen.user_key(appid, user, version);
                let key = UserKey {
                    encrypt_key,
                    iv,
                    version,
                    created: now,
                };
                (key, true)
            }
        };
        // Encrypt before keeping a new key, so a refusal changes nothing.
        let encrypted_data = data
            .map(|d| encrypt(&key.encrypt_key, &key.iv, d))
            .transpose()?;
        if fresh {
            keys.push_back(key.clone());
            while keys.len() > USER_KEYS_LISTED {
                keys.pop_front();
            }
        }
        Ok(UserKeyGrant {
            err_msg: "getLatestUserKey:ok".into(),
            expire_time: key.expires_at().secs(),
            encrypt_key: key.encrypt_key,
            iv: key.iv,
            version: key.version,
            encrypted_data,
            mock: UserKeyFacts {
                openid,
                create_time: key.created.secs(),
                signature: login_signature(&session_key, b""),
            },
        })
    }
}

/// base64(AES-128-CBC/PKCS#7(data)) with key = base64-decoded `encrypt_key` and IV = the 16
/// bytes of `iv`.
fn encrypt(encrypt_key: &str, iv: &str, data: &[u8]) -> Result<String, EngineError> {
    let iv: [u8; 16] = iv.as_bytes().try_into().map_err(|_| EngineError::Invalid {
        field: "iv",
        message: "is not 16 bytes".into(),
    })?;
    crate::opendata::encrypt(encrypt_key, &iv, data).map_err(|e| EngineError::Invalid {
        field: "encryptKey",
        message: e.to_string(),
    })
}
