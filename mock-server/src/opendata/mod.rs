//! WeChat "open data": the `encryptedData`, `iv`, `rawData` and `signature` a mini-program gets
//! from `wx.getUserInfo`, `wx.getUserProfile`, the legacy getPhoneNumber button,
//! `wx.getShareInfo` and `wx.getWeRunData`, produced byte for byte as WeChat does
//! (`wechat-api.md` 8).
//!
//! - Encryption is AES-128-CBC with 16-byte PKCS#7 padding, key = base64-decoded session_key,
//!   output standard base64 ([`encrypt`], [`decrypt`]). The official test vector is reproduced
//!   exactly by the unit tests.
//! - Plaintexts are compact UTF-8 JSON with WeChat's field order and the
//!   `{"timestamp":N,"appid":"..."}` watermark always last ([`user_info_plaintext`] and friends).
//! - `rawData` is the compact JSON of the client `userInfo` object and
//!   `signature = hex(sha1(rawData + session_key))` ([`raw_data`], [`raw_data_signature`]).
//! - What a profile reveals depends on the rule era ([`RuleEra`]): since 2021/2022 WeChat hands
//!   out the anonymous "微信用户" profile with the grey avatar.
//! - [`seal`] encrypts a plaintext honestly or with one [`Tamper`] applied, for negative tests;
//!   [`decrypt_json`] and [`check_fresh`] are the strict reference decryptor those tests use.
//!
//! Everything is deterministic: IVs come from the seed through [`iv_for`], step counts through
//! [`werun_steps`], and time only from the [`Timestamp`] the caller passes.

use std::time::Duration;

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::clock::Timestamp;
use crate::ids::{AppId, Generator, OpenId, UnionId};

/// The grey default avatar WeChat hands out instead of the real one under the anonymous rules.
pub const ANONYMOUS_AVATAR_URL: &str = "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132";
/// The nickname WeChat hands out instead of the real one under the anonymous rules.
pub const ANONYMOUS_NICKNAME: &str = "微信用户";
/// Number of days in a `wx.getWeRunData` step list (today and the 30 days before).
pub const WERUN_DAYS: usize = 31;
/// Offset of China Standard Time from UTC; WeRun days start at local midnight.
pub const CHINA_UTC_OFFSET_SECS: i64 = 8 * 3600;
/// How far [`Tamper::ExpiredTimestamp`] moves the watermark timestamp into the past: one day.
pub const EXPIRED_AGE_SECS: i64 = 86_400;
/// The appid [`Tamper::ForeignWatermark`] writes into the watermark.
pub const FOREIGN_APPID: &str = "wx0123456789abcdef";
/// The appid [`Tamper::ForeignWatermark`] writes when the real one is [`FOREIGN_APPID`].
pub const FOREIGN_APPID_ALT: &str = "wxfedcba9876543210";

const BLOCK: usize = 16;
const SECS_PER_DAY: i64 = 86_400;

/// Why open data could not be produced or did not decrypt.
///
/// The decryption errors are the ones a strict decryptor (the official PHP/Node demos, OpenSSL,
/// RustCrypto) reports; [`OpenDataError::demo_code`] gives the official demo's error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenDataError {
    /// The session_key is not 24 base64 characters decoding to 16 bytes.
    #[error("session_key must be 24 base64 characters decoding to 16 bytes")]
    InvalidSessionKey,
    /// The iv is not 24 base64 characters decoding to 16 bytes.
    #[error("iv must be 24 base64 characters decoding to 16 bytes")]
    InvalidIv,
    /// encryptedData is not canonical standard base64.
    #[error("encryptedData is not valid base64")]
    InvalidBase64,
    /// The ciphertext is empty or not a whole number of 16-byte blocks.
    #[error("ciphertext of {len} bytes is not a positive multiple of 16")]
    BadLength {
        /// Decoded ciphertext length in bytes.
        len: usize,
    },
    /// The decrypted data does not end in valid 16-byte PKCS#7 padding.
    #[error("bad PKCS#7 padding")]
    BadPadding,
    /// The decrypted data is not a JSON document.
    #[error("decrypted data is not JSON: {0}")]
    InvalidJson(String),
    /// `watermark.appid` is missing or names another app.
    #[error("watermark.appid is {found:?}, expected {expected:?}")]
    AppIdMismatch {
        /// The appid the caller expected.
        expected: String,
        /// The appid in the watermark, if there is one.
        found: Option<String>,
    },
    /// The plaintext has no `watermark` object with an integer timestamp and a string appid.
    #[error("watermark is missing or malformed")]
    MissingWatermark,
    /// The watermark is older than the freshness limit.
    #[error("watermark timestamp {timestamp} is more than {max_age_secs}s before {now}")]
    WatermarkExpired {
        /// `watermark.timestamp`, Unix seconds.
        timestamp: i64,
        /// The time of the check, Unix seconds.
        now: i64,
        /// The limit, seconds.
        max_age_secs: u64,
    },
    /// [`Tamper::StaleKey`] was asked for without a previous key different from the current one.
    #[error("the stale_key tamper needs a previous session_key different from the current one")]
    NoStaleKey,
}

impl OpenDataError {
    /// The error code the official `WXBizDataCrypt` demo returns for this failure: `-41001`
    /// bad session_key, `-41002` bad iv, `-41003` decryption, JSON or appid failure, `-41004`
    /// base64 (`wechat-api.md` 8.5). `None` for checks the demo does not make.
    pub fn demo_code(&self) -> Option<i32> {
        match self {
            Self::InvalidSessionKey => Some(-41001),
            Self::InvalidIv => Some(-41002),
            Self::InvalidBase64 => Some(-41004),
            Self::BadLength { .. }
            | Self::BadPadding
            | Self::InvalidJson(_)
            | Self::AppIdMismatch { .. }
            | Self::MissingWatermark => Some(-41003),
            Self::WatermarkExpired { .. } | Self::NoStaleKey => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cipher

/// Decodes a 24-character standard-base64 value of 16 bytes (a session_key or an iv).
fn decode16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 24 {
        return None;
    }
    let bytes = STANDARD.decode(s).ok()?;
    <[u8; 16]>::try_from(bytes.as_slice()).ok()
}

fn encrypt_raw(key: &[u8; 16], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// Encrypts `plaintext` as WeChat does: AES-128-CBC, key = base64-decoded `session_key`,
/// 16-byte PKCS#7 padding (a full padding block when the length is a multiple of 16), output
/// standard base64 with padding.
pub fn encrypt(
    session_key: &str,
    iv: &[u8; 16],
    plaintext: &[u8],
) -> Result<String, OpenDataError> {
    let key = decode16(session_key).ok_or(OpenDataError::InvalidSessionKey)?;
    Ok(STANDARD.encode(encrypt_raw(&key, iv, plaintext)))
}

/// Decrypts open data strictly, like the official demo on top of OpenSSL: `session_key` and
/// `iv_b64` must each be 24 base64 characters decoding to 16 bytes, `encrypted_b64` canonical
/// standard base64 of a whole number of blocks, and the padding exact 16-byte PKCS#7.
pub fn decrypt(
    session_key: &str,
    iv_b64: &str,
    encrypted_b64: &str,
) -> Result<Vec<u8>, OpenDataError> {
    let key = decode16(session_key).ok_or(OpenDataError::InvalidSessionKey)?;
    let iv = decode16(iv_b64).ok_or(OpenDataError::InvalidIv)?;
    let ciphertext = STANDARD
        .decode(encrypted_b64)
        .map_err(|_| OpenDataError::InvalidBase64)?;
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(OpenDataError::BadLength {
            len: ciphertext.len(),
        });
    }
    cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .map_err(|_| OpenDataError::BadPadding)
}

/// [`decrypt`], then parses the JSON and checks `watermark.appid` against `expected_appid`, as
/// the official demo does. The returned value does not keep the key order; compare the bytes
/// from [`decrypt`] to check layouts.
pub fn decrypt_json(
    session_key: &str,
    iv_b64: &str,
    encrypted_b64: &str,
    expected_appid: &str,
) -> Result<serde_json::Value, OpenDataError> {
    let plain = decrypt(session_key, iv_b64, encrypted_b64)?;
    let value: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|e| OpenDataError::InvalidJson(e.to_string()))?;
    let found = value
        .get("watermark")
        .and_then(|w| w.get("appid"))
        .and_then(serde_json::Value::as_str);
    if found != Some(expected_appid) {
        return Err(OpenDataError::AppIdMismatch {
            expected: expected_appid.to_owned(),
            found: found.map(str::to_owned),
        });
    }
    Ok(value)
}

/// A freshness check on decrypted open data: fails when `watermark.timestamp` is more than
/// `max_age` before `now`. WeChat's demos do not check this; careful backends do.
pub fn check_fresh(
    plaintext: &serde_json::Value,
    now: Timestamp,
    max_age: Duration,
) -> Result<(), OpenDataError> {
    let timestamp = plaintext
        .get("watermark")
        .and_then(|w| w.get("timestamp"))
        .and_then(serde_json::Value::as_i64)
        .ok_or(OpenDataError::MissingWatermark)?;
    let limit = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    if now.secs().saturating_sub(timestamp) > limit {
        return Err(OpenDataError::WatermarkExpired {
            timestamp,
            now: now.secs(),
            max_age_secs: max_age.as_secs(),
        });
    }
    Ok(())
}

/// The `signature` WeChat sends with `rawData`: lowercase hex of
/// `sha1(raw_data + session_key)`, where `session_key` is the base64 string itself.
pub fn raw_data_signature(raw_data: &str, session_key: &str) -> String {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(session_key.as_bytes());
    hex::encode(h.finalize())
}

/// A 16-byte IV determined by the seed and `parts` (say appid, user, purpose and a counter), so
/// the same seed gives the same `encryptedData` in every run.
pub fn iv_for(generator: &Generator, parts: &[&[u8]]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&generator.number("opendata-iv-0", parts).to_be_bytes());
    iv[8..].copy_from_slice(&generator.number("opendata-iv-1", parts).to_be_bytes());
    iv
}

mod plaintext;

use plaintext::compact;
pub use plaintext::*;

// ---------------------------------------------------------------------------------------------
// Sealing and tampering

/// A way to spoil open data, for negative tests (`wechat-api.md` 8.5): each makes a strict
/// decryptor fail as noted.
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
pub enum Tamper {
    /// Decrypts, but `watermark.appid` names another app: the appid check fails.
    ForeignWatermark,
    /// Decrypts with the right `watermark.appid`, but the watermark is one day old: a freshness
    /// check with a limit under a day fails.
    ExpiredTimestamp,
    /// Encrypted (and signed) with the user's previous session_key: decrypting with the current key
    /// fails (bad padding, or JSON that does not parse in the rare case the garbage ends in valid
    /// padding). Without a previous key: 409 `no_stale_key`.
    StaleKey,
    /// Flips the top bit of the last byte of the second-to-last ciphertext block (of the iv when
    /// there is one block), which flips the same bit of the final padding byte: it becomes 0x81 to
    /// 0x90, never valid PKCS#7, so strict decryption always fails; lenient decryptors that strip 1
    /// to 32 bytes strip nothing and the trailing padding bytes break the JSON.
    FlippedByte,
    /// Cuts the last five base64 characters: the text is not a multiple of 4 characters, and
    /// lenient decoders get 12 to 14 bytes past a block boundary.
    TruncatedBase64,
    /// The iv is base64 of its first 12 bytes (16 characters): the official demo's -41002.
    WrongIvLength,
}

/// The `encryptedData` and `iv` the client hands the mini-program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sealed {
    /// `encryptedData`: standard base64 of the ciphertext.
    pub encrypted_data: String,
    /// `iv`: standard base64 of the 16-byte IV.
    pub iv: String,
}

/// Rewrites the watermark of a plaintext built by this module (compact JSON, watermark last).
fn rewrite_watermark(
    plaintext_json: &str,
    change: impl FnOnce(&mut Watermark),
) -> Result<String, OpenDataError> {
    // `"watermark":` can only match a key: inside a JSON string every `"` is escaped.
    const KEY: &str = "\"watermark\":";
    let at = plaintext_json
        .rfind(KEY)
        .ok_or(OpenDataError::MissingWatermark)?;
    let (head, tail) = plaintext_json.split_at(at + KEY.len());
    let object = tail
        .strip_suffix('}')
        .ok_or(OpenDataError::MissingWatermark)?;
    let mut watermark: Watermark =
        serde_json::from_str(object).map_err(|_| OpenDataError::MissingWatermark)?;
    change(&mut watermark);
    Ok(format!("{head}{}}}", compact(&watermark)))
}

/// The session_key [`seal`] encrypts with: `stale_key` for [`Tamper::StaleKey`], else
/// `session_key`.
fn sealing_key<'a>(
    session_key: &'a str,
    stale_key: Option<&'a str>,
    tamper: Option<Tamper>,
) -> Result<&'a str, OpenDataError> {
    decode16(session_key).ok_or(OpenDataError::InvalidSessionKey)?;
    if tamper != Some(Tamper::StaleKey) {
        return Ok(session_key);
    }
    match stale_key {
        Some(k) if k != session_key => Ok(k),
        _ => Err(OpenDataError::NoStaleKey),
    }
}

/// Encrypts `plaintext_json` (built by this module's builders) under `session_key` with `iv`,
/// honestly when `tamper` is `None`, else with the tamper applied. [`Tamper::StaleKey`]
/// encrypts with `stale_key`, the user's previous session_key, which must be given and differ
/// from `session_key`; other tampers ignore `stale_key`.
pub fn seal(
    session_key: &str,
    stale_key: Option<&str>,
    iv: &[u8; 16],
    plaintext_json: &str,
    tamper: Option<Tamper>,
) -> Result<Sealed, OpenDataError> {
    let key_text = sealing_key(session_key, stale_key, tamper)?;
    let key = decode16(key_text).ok_or(OpenDataError::InvalidSessionKey)?;
    let plaintext = match tamper {
        Some(Tamper::ForeignWatermark) => rewrite_watermark(plaintext_json, |w| {
            let foreign = if w.appid.as_str() == FOREIGN_APPID {
                FOREIGN_APPID_ALT
            } else {
                FOREIGN_APPID
            };
            w.appid = AppId::new(foreign);
        })?,
        Some(Tamper::ExpiredTimestamp) => rewrite_watermark(plaintext_json, |w| {
            w.timestamp = w.timestamp.saturating_sub(EXPIRED_AGE_SECS);
        })?,
        _ => plaintext_json.to_owned(),
    };
    let mut ciphertext = encrypt_raw(&key, iv, plaintext.as_bytes());
    let mut iv_out = *iv;
    if tamper == Some(Tamper::FlippedByte) {
        // The byte that CBC XORs into the final padding byte: the last byte of the previous
        // ciphertext block, or of the IV for a one-block ciphertext.
        match ciphertext.len().checked_sub(BLOCK + 1) {
            Some(i) => {
                if let Some(b) = ciphertext.get_mut(i) {
                    *b ^= 0x80;
                }
            }
            None => iv_out[BLOCK - 1] ^= 0x80,
        }
    }
    let mut encrypted_data = STANDARD.encode(&ciphertext);
    if tamper == Some(Tamper::TruncatedBase64) {
        encrypted_data.truncate(encrypted_data.len().saturating_sub(5));
    }
    let iv_text = if tamper == Some(Tamper::WrongIvLength) {
        STANDARD.encode(&iv_out[..12])
    } else {
        STANDARD.encode(iv_out)
    };
    Ok(Sealed {
        encrypted_data,
        iv: iv_text,
    })
}

/// What `wx.getUserInfo` / `wx.getUserProfile` answer. `encryptedData` decrypts (AES-128-CBC, key
/// the session_key) to `openId, nickName, gender, language, city, province, country, avatarUrl,
/// unionId (bound apps only), watermark` for getUserInfo, and to the userInfo fields (plus
/// `is_demote`) and watermark, without openId/unionId, for getUserProfile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserInfoGrant {
    /// `errMsg`: `getUserInfo:ok` or `getUserProfile:ok`.
    #[serde(rename = "errMsg")]
    #[schemars(extend("enum" = ["getUserInfo:ok", "getUserProfile:ok"]))]
    pub err_msg: String,
    /// Compact JSON of `userInfo`.
    #[serde(rename = "rawData")]
    pub raw_data: String,
    /// `userInfo`.
    #[serde(rename = "userInfo")]
    pub user_info: ClientUserInfo,
    /// hex(sha1(rawData + session_key)), with the key the data was encrypted with.
    pub signature: String,
    /// base64 ciphertext.
    #[serde(rename = "encryptedData")]
    pub encrypted_data: String,
    /// base64 iv.
    pub iv: String,
}

/// Everything a user-info answer depends on.
#[derive(Clone, Copy, Debug)]
pub struct UserInfoRequest<'a> {
    /// The client API called.
    pub api: UserInfoApi,
    /// The rules in force.
    pub era: RuleEra,
    /// The user's real profile.
    pub profile: &'a UserInfo,
    /// The user's openid in the app.
    pub openid: &'a OpenId,
    /// The user's unionid, when the app is bound to an open-platform account.
    pub unionid: Option<&'a UnionId>,
    /// The app.
    pub appid: &'a AppId,
    /// The user's current session_key in the app.
    pub session_key: &'a str,
    /// The user's previous session_key, for [`Tamper::StaleKey`].
    pub stale_key: Option<&'a str>,
    /// The IV (see [`iv_for`]).
    pub iv: [u8; 16],
    /// Now, for the watermark.
    pub now: Timestamp,
}

/// The full success answer of `wx.getUserInfo` / `wx.getUserProfile`: the era's `userInfo`,
/// its `rawData`, the signature, and the sealed plaintext (with `tamper` applied, if any).
pub fn user_info_grant(
    req: &UserInfoRequest<'_>,
    tamper: Option<Tamper>,
) -> Result<UserInfoGrant, OpenDataError> {
    let user_info = req.era.client_user_info(req.api, req.profile);
    let watermark = Watermark::new(req.appid, req.now);
    let plaintext = match req.api {
        UserInfoApi::GetUserInfo => {
            user_info_plaintext(req.openid, &user_info.info, req.unionid, &watermark)
        }
        UserInfoApi::GetUserProfile => user_profile_plaintext(&user_info, &watermark),
    };
    let key = sealing_key(req.session_key, req.stale_key, tamper)?;
    let sealed = seal(req.session_key, req.stale_key, &req.iv, &plaintext, tamper)?;
    let raw = raw_data(&user_info);
    Ok(UserInfoGrant {
        err_msg: req.api.ok_message().to_owned(),
        signature: raw_data_signature(&raw, key),
        raw_data: raw,
        user_info,
        encrypted_data: sealed.encrypted_data,
        iv: sealed.iv,
    })
}

#[cfg(test)]
mod tests;
