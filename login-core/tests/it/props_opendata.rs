//! Property tests of open data: whatever profile the mock encrypts as WeChat does, login-core
//! decrypts to the same profile, and every spoiled payload is refused with its documented code.
//!
//! Two layers. The library layer (many cases) seals generated profiles with
//! `mock_server::opendata` and opens them with `login_core::crypto`, through [`accept`]: the
//! checks README documents for `POST /api/me/profile`, in login-core's order. The HTTP layer
//! (fewer cases) creates a mock user with the generated profile, takes its legacy
//! `wx.getUserProfile` / `wx.getUserInfo` output to `POST /api/me/profile`, and checks that
//! login-core answers what [`accept`] and the README's error table predict, and stores exactly
//! the nickname and avatar.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use login_core::crypto::{self, OpenDataError as CoreError};
use login_core::ids::SessionKey;
use mock_server::Timestamp;
use mock_server::config::UserSpec;
use mock_server::ids::{AppId, OpenId, UnionId, UserHandle};
use mock_server::opendata::{
    self, ANONYMOUS_NICKNAME, OpenDataError as MockError, RuleEra, Tamper, UserInfo, UserInfoApi,
    UserInfoGrant, UserInfoRequest, Watermark,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use crate::helpers::*;

/// Oldest watermark login-core accepts by default (`limits.open_data_max_age`).
const MAX_AGE_SECS: i64 = 600;
/// How far ahead of login-core's clock a watermark may be.
const MAX_SKEW_SECS: i64 = 300;
/// What the mock's control plane accepts for a text field of a user.
const MOCK_TEXT_BYTES: usize = 1024;

// ---------------------------------------------------------------------------------------------
// The documented checks

/// Why login-core refuses open data: one README error code each (and the field, for
/// `invalid_field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// `invalid_field`, naming the field.
    Field(&'static str),
    SignatureMismatch,
    DecryptFailed,
    WatermarkMismatch,
    WatermarkExpired,
    IdentityMismatch,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Self::Field(_) => "invalid_field",
            Self::SignatureMismatch => "signature_mismatch",
            Self::DecryptFailed => "decrypt_failed",
            Self::WatermarkMismatch => "watermark_mismatch",
            Self::WatermarkExpired => "watermark_expired",
            Self::IdentityMismatch => "identity_mismatch",
        }
    }
}

/// What the mini-program forwards: `encryptedData`, `iv`, and optionally `rawData` +
/// `signature`.
#[derive(Clone, Debug)]
struct Forwarded {
    encrypted_data: String,
    iv: String,
    signed: Option<(String, String)>,
}

impl Forwarded {
    fn of(g: &UserInfoGrant, signed: bool) -> Self {
        Self {
            encrypted_data: g.encrypted_data.clone(),
            iv: g.iv.clone(),
            signed: signed.then(|| (g.raw_data.clone(), g.signature.clone())),
        }
    }

    fn with_data(&self, encrypted_data: String) -> Self {
        Self {
            encrypted_data,
            ..self.clone()
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({"encryptedData": self.encrypted_data, "iv": self.iv});
        if let Some((raw, sig)) = &self.signed {
            body["rawData"] = json!(raw);
            body["signature"] = json!(sig);
        }
        body
    }
}

/// The session the data is checked against.
#[derive(Clone, Copy, Debug)]
struct Receiver<'a> {
    session_key: &'a str,
    appid: &'a str,
    openid: &'a str,
    now: i64,
}

/// The checks of `POST /api/me/profile` (README: "signature, decryption, watermark appid and
/// age, openId checked"), in login-core's order, on `login_core::crypto`: the decrypted user
/// info, or why it is refused.
fn accept(to: Receiver<'_>, data: &Forwarded) -> Result<Map<String, Value>, Refusal> {
    let key = SessionKey::new(to.session_key);
    if let Some((raw, sig)) = &data.signed {
        let expected = crypto::raw_data_signature(raw, &key);
        if !crypto::constant_time_eq(&expected, &sig.to_ascii_lowercase()) {
            return Err(Refusal::SignatureMismatch);
        }
    }
    let plain =
        crypto::decrypt_open_data(&key, &data.encrypted_data, &data.iv).map_err(|e| match e {
            CoreError::BadIv => Refusal::Field("iv"),
            CoreError::BadCiphertext => Refusal::Field("encryptedData"),
            CoreError::Undecryptable | CoreError::BadSessionKey => Refusal::DecryptFailed,
        })?;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&plain) else {
        return Err(Refusal::DecryptFailed);
    };
    let watermark = map.get("watermark").and_then(Value::as_object);
    let appid = watermark
        .and_then(|w| w.get("appid"))
        .and_then(Value::as_str);
    let timestamp = watermark
        .and_then(|w| w.get("timestamp"))
        .and_then(Value::as_i64);
    let (Some(appid), Some(timestamp)) = (appid, timestamp) else {
        return Err(Refusal::DecryptFailed);
    };
    if appid != to.appid {
        return Err(Refusal::WatermarkMismatch);
    }
    if to.now.saturating_sub(timestamp) > MAX_AGE_SECS
        || timestamp.saturating_sub(to.now) > MAX_SKEW_SECS
    {
        return Err(Refusal::WatermarkExpired);
    }
    if let Some(open_id) = map.get("openId") {
        if open_id.as_str() != Some(to.openid) {
            return Err(Refusal::IdentityMismatch);
        }
    }
    if !map.get("nickName").is_some_and(Value::is_string) {
        return Err(Refusal::DecryptFailed);
    }
    Ok(map)
}

/// What a refused tamper is documented to give (README error table, `scenarios/profile`).
fn documented(tamper: Tamper, signed: bool) -> Refusal {
    match tamper {
        Tamper::ForeignWatermark => Refusal::WatermarkMismatch,
        Tamper::ExpiredTimestamp => Refusal::WatermarkExpired,
        // Signed with the old key too: the signature check comes first.
        Tamper::StaleKey if signed => Refusal::SignatureMismatch,
        Tamper::StaleKey | Tamper::FlippedByte => Refusal::DecryptFailed,
        Tamper::TruncatedBase64 => Refusal::Field("encryptedData"),
        Tamper::WrongIvLength => Refusal::Field("iv"),
    }
}

/// What cutting `encryptedData` to its first `keep` characters gives: not base64, or not whole
/// blocks (`invalid_field`); or whole blocks ending inside the JSON text, whose last byte is
/// never a valid padding byte (serde_json escapes every byte below 0x20): `decrypt_failed`.
fn truncation_refusal(keep: usize) -> Refusal {
    let whole_blocks = keep > 0 && keep % 4 == 0 && (keep / 4 * 3) % 16 == 0;
    if whole_blocks {
        Refusal::DecryptFailed
    } else {
        Refusal::Field("encryptedData")
    }
}

/// `encryptedData` with one ciphertext byte XORed with `mask`.
fn flip(encrypted_data: &str, at: prop::sample::Index, mask: u8) -> String {
    let mut ct = STANDARD.decode(encrypted_data).expect("the mock's base64");
    let i = at.index(ct.len());
    ct[i] ^= mask;
    STANDARD.encode(ct)
}

/// Asserts that the decrypted user info is `info` (under the legacy rules: all of it).
fn assert_same_profile(map: &Map<String, Value>, info: &UserInfo) -> Result<(), TestCaseError> {
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    prop_assert_eq!(text("nickName"), Some(info.nick_name.as_str()));
    prop_assert_eq!(text("avatarUrl"), Some(info.avatar_url.as_str()));
    prop_assert_eq!(text("language"), Some(info.language.as_str()));
    prop_assert_eq!(text("city"), Some(info.city.as_str()));
    prop_assert_eq!(text("province"), Some(info.province.as_str()));
    prop_assert_eq!(text("country"), Some(info.country.as_str()));
    prop_assert_eq!(
        map.get("gender").and_then(Value::as_u64),
        Some(u64::from(info.gender))
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Characters of a nickname: anything, with weight on what breaks naive code: ASCII, CJK,
/// emoji (astral), JSON's special characters and controls, line separators, joiners.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        3 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\u{4e00}', '\u{9fff}'),
        2 => proptest::char::range('\u{1f300}', '\u{1faff}'),
        2 => prop::sample::select(vec![
            '"', '\\', '/', '\u{0}', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{1f}', '\u{7f}',
            '\u{80}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{200d}', '\u{fe0f}', '\u{fffd}',
            '\u{10ffff}',
        ]),
    ]
}

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any_char(), 0..max_chars).prop_map(String::from_iter)
}

/// Nicknames of 0 to 299 characters, sometimes WeChat's anonymous one.
fn nickname() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => text(300),
        1 => Just(ANONYMOUS_NICKNAME.to_owned()),
    ]
}

/// Avatar URLs: WeChat-shaped ones of any length, or any text at all (the encrypted path
/// stores what WeChat says).
fn avatar_url() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[A-Za-z0-9]{0,250}"
            .prop_map(|s| format!("https://thirdwx.qlogo.cn/mmopen/vi_32/{s}/132")),
        1 => text(300),
    ]
}

fn user_info() -> impl Strategy<Value = UserInfo> {
    (
        nickname(),
        avatar_url(),
        0u8..=2,
        text(12),
        text(12),
        text(12),
        text(12),
    )
        .prop_map(
            |(nick_name, avatar_url, gender, language, city, province, country)| UserInfo {
                nick_name,
                gender,
                language,
                city,
                province,
                country,
                avatar_url,
            },
        )
}

fn api() -> impl Strategy<Value = UserInfoApi> {
    prop_oneof![
        Just(UserInfoApi::GetUserProfile),
        Just(UserInfoApi::GetUserInfo)
    ]
}

fn appid() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "wx[0-9a-f]{16}",
        1 => Just(opendata::FOREIGN_APPID.to_owned()),
        1 => Just(opendata::FOREIGN_APPID_ALT.to_owned()),
    ]
}

/// Truncates `s` to at most `max` bytes, at a character boundary.
fn clip(mut s: String, max: usize) -> String {
    while s.len() > max {
        s.pop();
    }
    s
}

/// One sealed profile and the ways to spoil it.
#[derive(Clone, Debug)]
struct LibCase {
    info: UserInfo,
    api: UserInfoApi,
    /// Grow the avatar URL so the plaintext is a whole number of blocks (a full padding block).
    fill_blocks: bool,
    unionid: Option<String>,
    appid: String,
    session_key: [u8; 16],
    /// The user's previous key (for the stale-key tamper); forced to differ from `session_key`.
    stale_key: [u8; 16],
    /// Another key (a wrong session).
    wrong_key: [u8; 16],
    iv: [u8; 16],
    timestamp: i64,
    /// login-core's clock minus the watermark's timestamp.
    age: i64,
    signed: bool,
    flip_at: prop::sample::Index,
    flip_mask: u8,
    cut_at: prop::sample::Index,
    iv_cut_at: prop::sample::Index,
}

fn lib_case() -> impl Strategy<Value = LibCase> {
    (
        (
            user_info(),
            api(),
            any::<bool>(),
            proptest::option::of("o[A-Za-z0-9_-]{27}"),
            appid(),
        ),
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
        ),
        (
            1_000_000_000i64..2_000_000_000,
            prop_oneof![3 => 0i64..=30, 2 => -400i64..=800],
            any::<bool>(),
        ),
        (
            any::<prop::sample::Index>(),
            1u8..=255,
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
        ),
    )
        .prop_map(
            |(
                (info, api, fill_blocks, unionid, appid),
                (session_key, mut stale_key, mut wrong_key, iv),
                (timestamp, age, signed),
                (flip_at, flip_mask, cut_at, iv_cut_at),
            )| {
                if stale_key == session_key {
                    stale_key[0] ^= 1;
                }
                if wrong_key == session_key {
                    wrong_key[15] ^= 1;
                }
                LibCase {
                    info,
                    api,
                    fill_blocks,
                    unionid,
                    appid,
                    session_key,
                    stale_key,
                    wrong_key,
                    iv,
                    timestamp,
                    age,
                    signed,
                    flip_at,
                    flip_mask,
                    cut_at,
                    iv_cut_at,
                }
            },
        )
}

const OPENID: &str = "oSeedOpenIdForPropertyTests1";

impl LibCase {
    fn key(&self) -> String {
        STANDARD.encode(self.session_key)
    }

    /// The plaintext WeChat builds for this case (the one the mock encrypts).
    fn plaintext(&self, info: &UserInfo) -> String {
        let client = RuleEra::Legacy.client_user_info(self.api, info);
        let watermark = Watermark::new(
            &AppId::new(self.appid.as_str()),
            Timestamp::from_secs(self.timestamp),
        );
        match self.api {
            UserInfoApi::GetUserProfile => opendata::user_profile_plaintext(&client, &watermark),
            UserInfoApi::GetUserInfo => opendata::user_info_plaintext(
                &OpenId::new(OPENID),
                &client.info,
                self.unionid.clone().map(UnionId::new).as_ref(),
                &watermark,
            ),
        }
    }

    /// The profile actually sealed: with `fill_blocks`, the avatar URL grown by ASCII bytes
    /// until the plaintext fills whole blocks.
    fn sealed_info(&self) -> UserInfo {
        let mut info = self.info.clone();
        if self.fill_blocks {
            let short = (16 - self.plaintext(&info).len() % 16) % 16;
            info.avatar_url.extend(std::iter::repeat_n('x', short));
        }
        info
    }

    /// The mock's `wx.getUserProfile` / `wx.getUserInfo` answer for `info`.
    fn grant(&self, info: &UserInfo, tamper: Option<Tamper>) -> UserInfoGrant {
        let (appid, openid) = (AppId::new(self.appid.as_str()), OpenId::new(OPENID));
        let unionid = self.unionid.clone().map(UnionId::new);
        let (key, stale) = (self.key(), STANDARD.encode(self.stale_key));
        opendata::user_info_grant(
            &UserInfoRequest {
                api: self.api,
                era: RuleEra::Legacy,
                profile: info,
                openid: &openid,
                unionid: unionid.as_ref(),
                appid: &appid,
                session_key: &key,
                stale_key: Some(&stale),
                iv: self.iv,
                now: Timestamp::from_secs(self.timestamp),
            },
            tamper,
        )
        .expect("the mock seals any profile")
    }

    fn receiver<'a>(&'a self, key: &'a str) -> Receiver<'a> {
        Receiver {
            session_key: key,
            appid: &self.appid,
            openid: OPENID,
            now: self.timestamp + self.age,
        }
    }
}

const TAMPERS: [Tamper; 6] = [
    Tamper::ForeignWatermark,
    Tamper::ExpiredTimestamp,
    Tamper::StaleKey,
    Tamper::FlippedByte,
    Tamper::TruncatedBase64,
    Tamper::WrongIvLength,
];

/// `default` cases, or `PROPTEST_CASES` if set (for deeper runs).
fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
        // Failures are reported with the shrunk case; no regression files in the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Library layer

fn check_lib_case(case: &LibCase) -> Result<(), TestCaseError> {
    let info = case.sealed_info();
    let key = case.key();
    let plain = case.plaintext(&info);
    let grant = case.grant(&info, None);
    let ct_len = STANDARD
        .decode(&grant.encrypted_data)
        .expect("the mock's base64")
        .len();
    prop_assert_eq!(
        ct_len,
        (plain.len() / 16 + 1) * 16,
        "PKCS#7 pads 1..=16 bytes"
    );
    if case.fill_blocks {
        prop_assert_eq!(plain.len() % 16, 0, "the plaintext fills whole blocks");
    }

    // Honest data: login-core's decryption gives back the mock's plaintext byte for byte...
    let opened = crypto::decrypt_open_data(
        &SessionKey::new(key.as_str()),
        &grant.encrypted_data,
        &grant.iv,
    );
    prop_assert_eq!(opened.as_deref(), Ok(plain.as_bytes()));
    // ...the signature over rawData verifies with the session_key...
    prop_assert_eq!(
        crypto::raw_data_signature(&grant.raw_data, &SessionKey::new(key.as_str())),
        grant.signature.as_str()
    );
    // ...and the checks pass within the freshness window, with the same profile.
    let to = case.receiver(&key);
    let honest = Forwarded::of(&grant, case.signed);
    let fresh = (-MAX_SKEW_SECS..=MAX_AGE_SECS).contains(&case.age);
    match accept(to, &honest) {
        Ok(map) => {
            prop_assert!(fresh, "accepted at age {}", case.age);
            assert_same_profile(&map, &info)?;
            let watermark = &map["watermark"];
            prop_assert_eq!(watermark["appid"].as_str(), Some(case.appid.as_str()));
            prop_assert_eq!(watermark["timestamp"].as_i64(), Some(case.timestamp));
            if case.api == UserInfoApi::GetUserInfo {
                prop_assert_eq!(map["openId"].as_str(), Some(OPENID));
                prop_assert_eq!(
                    map.get("unionId").and_then(Value::as_str),
                    case.unionid.as_deref()
                );
            }
        }
        Err(r) => {
            prop_assert!(!fresh, "refused at age {}: {r:?}", case.age);
            prop_assert_eq!(r, Refusal::WatermarkExpired);
        }
    }

    // Spoiled data, checked at a time it would be fresh, is never accepted.
    let on_time = Receiver {
        now: case.timestamp,
        ..to
    };

    // Any one byte of the ciphertext flipped.
    let flipped = honest.with_data(flip(&grant.encrypted_data, case.flip_at, case.flip_mask));
    prop_assert_eq!(accept(on_time, &flipped), Err(Refusal::DecryptFailed));

    // encryptedData cut anywhere.
    let keep = case.cut_at.index(grant.encrypted_data.len());
    let cut = honest.with_data(grant.encrypted_data[..keep].to_owned());
    prop_assert_eq!(
        accept(on_time, &cut),
        Err(truncation_refusal(keep)),
        "cut to {}",
        keep
    );

    // The iv cut anywhere.
    let iv_keep = case.iv_cut_at.index(grant.iv.len());
    let bad_iv = Forwarded {
        iv: grant.iv[..iv_keep].to_owned(),
        ..honest.clone()
    };
    prop_assert_eq!(accept(on_time, &bad_iv), Err(Refusal::Field("iv")));

    // Another session's key.
    let wrong = STANDARD.encode(case.wrong_key);
    let expected = if case.signed {
        Refusal::SignatureMismatch
    } else {
        Refusal::DecryptFailed
    };
    prop_assert_eq!(
        accept(
            Receiver {
                session_key: &wrong,
                ..on_time
            },
            &honest
        ),
        Err(expected)
    );

    // Each of the mock's tampers.
    for tamper in TAMPERS {
        let g = case.grant(&info, Some(tamper));
        let data = Forwarded::of(&g, case.signed);
        prop_assert_eq!(
            accept(on_time, &data),
            Err(documented(tamper, case.signed)),
            "{:?}",
            tamper
        );
        if tamper == Tamper::ForeignWatermark {
            // It decrypts; the watermark names another app.
            let bytes =
                crypto::decrypt_open_data(&SessionKey::new(key.as_str()), &g.encrypted_data, &g.iv)
                    .expect("a foreign watermark decrypts");
            let v: Value = serde_json::from_slice(&bytes).expect("JSON");
            prop_assert_ne!(v["watermark"]["appid"].as_str(), Some(case.appid.as_str()));
            assert_same_profile(v.as_object().expect("object"), &info)?;
        }
    }
    Ok(())
}

#[test]
fn props_opendata_what_the_mock_seals_login_core_opens_and_spoiled_data_is_refused() {
    let mut runner = TestRunner::new(config(256));
    let result = runner.run(&lib_case(), |case| check_lib_case(&case));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Anything at all as `encryptedData` and `iv`: login-core's decryption never panics and
/// agrees with the mock's strict reference decryptor (WeChat's demo on OpenSSL).
fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/]{0,90}={0,3}",
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| STANDARD.encode(b)),
    ]
}

#[test]
fn props_opendata_any_input_is_refused_or_decrypted_as_the_reference_does() {
    let mut runner = TestRunner::new(config(512));
    let strategy = (any::<[u8; 16]>(), garbage(), garbage());
    let result = runner.run(&strategy, |(key, data, iv)| {
        let key = STANDARD.encode(key);
        let ours = crypto::decrypt_open_data(&SessionKey::new(key.as_str()), &data, &iv);
        let reference = opendata::decrypt(&key, &iv, &data);
        match (&ours, &reference) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(CoreError::BadIv), Err(MockError::InvalidIv))
            | (
                Err(CoreError::BadCiphertext),
                Err(MockError::InvalidBase64 | MockError::BadLength { .. }),
            )
            | (Err(CoreError::Undecryptable), Err(MockError::BadPadding)) => {}
            _ => prop_assert!(false, "login-core {ours:?}, reference {reference:?}"),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP layer

/// One user of the mock with a generated profile, and how the test treats its data.
#[derive(Clone, Debug)]
struct HttpCase {
    nickname: String,
    avatar_url: String,
    api: UserInfoApi,
    signed: bool,
    flip_at: prop::sample::Index,
    flip_mask: u8,
    cut_at: prop::sample::Index,
}

fn http_case() -> impl Strategy<Value = HttpCase> {
    (
        nickname().prop_map(|s| clip(s, MOCK_TEXT_BYTES)),
        avatar_url().prop_map(|s| clip(s, MOCK_TEXT_BYTES)),
        api(),
        any::<bool>(),
        any::<prop::sample::Index>(),
        1u8..=255,
        any::<prop::sample::Index>(),
    )
        .prop_map(
            |(nickname, avatar_url, api, signed, flip_at, flip_mask, cut_at)| HttpCase {
                nickname,
                avatar_url,
                api,
                signed,
                flip_at,
                flip_mask,
                cut_at,
            },
        )
}

/// Every case gets a user of its own in the one app.
static NEXT_USER: AtomicUsize = AtomicUsize::new(0);

/// Asserts login-core refused `data` with `expected`, which [`accept`] predicts too, and that
/// nothing was written.
async fn assert_refused(
    app: &TestApp,
    token: &str,
    to: Receiver<'_>,
    data: &Forwarded,
    expected: Refusal,
    before: &Value,
    what: &str,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(accept(to, data), Err(expected), "{}: predicted", what);
    let r = app.update_profile(token, data.body()).await;
    prop_assert_eq!(r.status, 400, "{}: {}", what, r.text);
    let message = r.assert_error(400, expected.code());
    if let Refusal::Field(field) = expected {
        prop_assert!(
            message.contains(&format!("`{field}`")),
            "{}: names {}: {}",
            what,
            field,
            message
        );
    }
    prop_assert_eq!(&app.me(token).await, before, "{}: nothing written", what);
    Ok(())
}

async fn check_http_case(app: &TestApp, case: &HttpCase) -> Result<(), TestCaseError> {
    let handle = format!("p{}", NEXT_USER.fetch_add(1, Ordering::Relaxed));
    app.mock
        .control()
        .create_user(&UserSpec {
            handle: Some(UserHandle::new(handle.as_str())),
            nickname: Some(case.nickname.clone()),
            avatar_url: Some(case.avatar_url.clone()),
            ..UserSpec::default()
        })
        .await
        .expect("the mock takes any profile of up to 1 KiB per field");
    // Two logins: the second rotates the session_key, so the stale-key tamper has a key.
    app.login(&handle).await;
    let Login { token, grant, .. } = app.login_with_grant(&handle).await;
    let before = app.me(&token).await;
    prop_assert_eq!(&before["profile"], &Value::Null);

    let user_info = |tamper| app.user_info(&handle, case.api, Some(RuleEra::Legacy), tamper);
    let to = Receiver {
        session_key: &grant.mock.session_key,
        appid: app.appid.as_str(),
        openid: grant.mock.openid.as_str(),
        now: app.mock.clock().now().secs(),
    };

    // Each tamper: its documented code, nothing written.
    for tamper in TAMPERS {
        let data = Forwarded::of(&user_info(Some(tamper)).await, case.signed);
        let expected = documented(tamper, case.signed);
        let what = format!("{tamper:?}");
        assert_refused(app, &token, to, &data, expected, &before, &what).await?;
    }

    // The honest data with one ciphertext byte flipped, or cut short.
    let honest = Forwarded::of(&user_info(None).await, case.signed);
    let flipped = honest.with_data(flip(&honest.encrypted_data, case.flip_at, case.flip_mask));
    let expected = Refusal::DecryptFailed;
    assert_refused(app, &token, to, &flipped, expected, &before, "flipped").await?;
    let keep = case.cut_at.index(honest.encrypted_data.len());
    let cut = honest.with_data(honest.encrypted_data[..keep].to_owned());
    let what = format!("cut to {keep}");
    assert_refused(
        app,
        &token,
        to,
        &cut,
        truncation_refusal(keep),
        &before,
        &what,
    )
    .await?;

    // The honest data: stored exactly, unless it is WeChat's anonymous nickname.
    let accepted = accept(to, &honest);
    prop_assert!(accepted.is_ok(), "predicted {:?}", accepted);
    let r = app.update_profile(&token, honest.body()).await;
    prop_assert_eq!(r.status, 200, "{}", r.text);
    let r = r.json();
    let after = app.me(&token).await;
    prop_assert_eq!(&r["user"], &after, "the answer is the stored user");
    if case.nickname == ANONYMOUS_NICKNAME {
        prop_assert_eq!(&r["updated"], &json!(false));
        prop_assert_eq!(&after, &before);
    } else {
        prop_assert_eq!(&r["updated"], &json!(true));
        let profile = &after["profile"];
        prop_assert_eq!(profile["nickName"].as_str(), Some(case.nickname.as_str()));
        prop_assert_eq!(
            profile["avatarUrl"].as_str(),
            Some(case.avatar_url.as_str())
        );
    }
    Ok(())
}

#[test]
fn props_opendata_any_profile_goes_through_login_core_and_tampers_get_their_code() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(async {
        let app = TestApp::configured(|c| {
            // Shrinking replays many cases from one address on a frozen clock.
            c.limits.logins_per_address_per_minute = u32::MAX;
        })
        .await;
        // Every wx.login rotates the session_key, so a previous key exists after two logins.
        app.set_mock_options(json!({"session_key_min_rotation": "0s"}))
            .await;
        app.advance(Duration::from_secs(1));
        app
    });
    let mut runner = TestRunner::new(config(24));
    let result = runner.run(&http_case(), |case| {
        rt.block_on(check_http_case(&app, &case))
    });
    rt.block_on(async move { drop(app) });
    if let Err(e) = result {
        panic!("{e}");
    }
}
