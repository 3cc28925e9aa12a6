//! The open-data decryption path: whatever a client sends as `encryptedData` and `iv` (and
//! whatever the store hands back as a session_key), `login_core::crypto::decrypt_open_data`
//! answers `Ok` or an `OpenDataError`, never panics, and agrees with the mock's strict reference
//! decryptor (`mock_server::opendata::decrypt`). And the round trip: any profile, phone or raw
//! plaintext the mock encrypts as WeChat does decrypts in login-core to the same bytes, with the
//! same rawData signature on both sides.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use login_core::crypto::{decrypt_open_data, raw_data_signature};
use login_core::ids::SessionKey;
use mock_server::Timestamp;
use mock_server::ids::{AppId, OpenId, UnionId};
use mock_server::opendata::{self, ClientUserInfo, UserInfo, Watermark};

#[derive(Arbitrary, Debug)]
struct Profile {
    nick_name: String,
    gender: u8,
    language: String,
    city: String,
    province: String,
    country: String,
    avatar_url: String,
}

#[derive(Arbitrary, Debug)]
enum Payload {
    /// `wx.getUserInfo`: openId, the profile, unionId when bound.
    UserInfo {
        openid: String,
        unionid: Option<String>,
    },
    /// `wx.getUserProfile`, possibly demoted.
    UserProfile { is_demote: Option<bool> },
    /// The legacy phone number.
    Phone {
        country_code: String,
        number: String,
    },
    /// Any bytes at all.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Arbitrary text everywhere: the stored key, `iv`, `encryptedData`.
    Text {
        session_key: String,
        iv: String,
        encrypted_data: String,
    },
    /// A well-formed key and iv, arbitrary ciphertext bytes: reaches the padding checks.
    Blocks {
        key: [u8; 16],
        iv: Vec<u8>,
        ciphertext: Vec<u8>,
    },
    /// Encrypted by the mock, decrypted by login-core.
    RoundTrip {
        key: [u8; 16],
        iv: [u8; 16],
        profile: Profile,
        appid: String,
        timestamp: i64,
        payload: Payload,
        raw_data: String,
    },
}

/// Both decryptors on the same input: never a panic, and the same plaintext or none.
fn both(session_key: &str, iv: &str, encrypted_data: &str) {
    let ours = decrypt_open_data(&SessionKey::new(session_key), encrypted_data, iv);
    let reference = opendata::decrypt(session_key, iv, encrypted_data);
    assert_eq!(
        ours.as_ref().ok(),
        reference.as_ref().ok(),
        "login-core and the reference decryptor disagree: {ours:?} vs {reference:?}"
    );
}

fuzz_target!(|input: Input| match input {
    Input::Text {
        session_key,
        iv,
        encrypted_data,
    } => both(&session_key, &iv, &encrypted_data),
    Input::Blocks {
        key,
        iv,
        ciphertext,
    } => both(
        &STANDARD.encode(key),
        &STANDARD.encode(iv),
        &STANDARD.encode(ciphertext),
    ),
    Input::RoundTrip {
        key,
        iv,
        profile,
        appid,
        timestamp,
        payload,
        raw_data,
    } => {
        let session_key = STANDARD.encode(key);
        let watermark = Watermark::new(&AppId::new(appid), Timestamp::from_secs(timestamp));
        let info = UserInfo {
            nick_name: profile.nick_name,
            gender: profile.gender,
            language: profile.language,
            city: profile.city,
            province: profile.province,
            country: profile.country,
            avatar_url: profile.avatar_url,
        };
        let plaintext: Vec<u8> = match payload {
            Payload::UserInfo { openid, unionid } => opendata::user_info_plaintext(
                &OpenId::new(openid),
                &info,
                unionid.map(UnionId::new).as_ref(),
                &watermark,
            )
            .into_bytes(),
            Payload::UserProfile { is_demote } => {
                opendata::user_profile_plaintext(&ClientUserInfo { info, is_demote }, &watermark)
                    .into_bytes()
            }
            Payload::Phone {
                country_code,
                number,
            } => opendata::phone_plaintext_for(
                &mock_server::users::Phone {
                    country_code,
                    number,
                },
                &watermark,
            )
            .into_bytes(),
            Payload::Raw(bytes) => bytes,
        };
        let encrypted = opendata::encrypt(&session_key, &iv, &plaintext).expect("a 16-byte key");
        let iv_b64 = STANDARD.encode(iv);
        let clear = decrypt_open_data(&SessionKey::new(session_key.as_str()), &encrypted, &iv_b64)
            .expect("what the mock encrypts, login-core decrypts");
        assert_eq!(clear, plaintext, "the round trip changes the plaintext");
        both(&session_key, &iv_b64, &encrypted);
        assert_eq!(
            raw_data_signature(&raw_data, &SessionKey::new(session_key.as_str())),
            opendata::raw_data_signature(&raw_data, &session_key),
            "both sides sign rawData alike"
        );
    }
});
