//! `POST /api/me/profile`: encrypted user info from `wx.getUserProfile` / `wx.getUserInfo`
//! (legacy and anonymous eras, every tamper, signatures, watermarks, another user's data) and
//! the plain avatar-and-nickname fill-in; nothing is written when a request fails.

use std::time::Duration;

use mock_server::Timestamp;
use mock_server::ids::OpenId;
use mock_server::opendata::{
    self, RuleEra, Tamper, UserInfo, UserInfoApi, UserInfoGrant, Watermark,
};
use serde_json::{Value, json};

use crate::helpers::*;

/// `wx.getUserProfile` of `user` under the legacy rules (the real profile).
async fn legacy_profile(app: &TestApp, user: &str) -> UserInfoGrant {
    legacy_user_info(app, user, UserInfoApi::GetUserProfile, None).await
}

/// `api` of `user` under the legacy rules, tampered with if `tamper` says so.
async fn legacy_user_info(
    app: &TestApp,
    user: &str,
    api: UserInfoApi,
    tamper: Option<Tamper>,
) -> UserInfoGrant {
    app.user_info(user, api, Some(RuleEra::Legacy), tamper)
        .await
}

/// What a client usually forwards: the four fields.
fn signed(g: &UserInfoGrant) -> Value {
    json!({
        "encryptedData": g.encrypted_data,
        "iv": g.iv,
        "rawData": g.raw_data,
        "signature": g.signature,
    })
}

fn unsigned(g: &UserInfoGrant) -> Value {
    encrypted(&g.encrypted_data, &g.iv)
}

/// The user's real profile in the mock.
async fn real_profile(app: &TestApp, user: &str) -> UserInfo {
    UserInfo::from(&app.mock.control().user(user).await.expect("mock user"))
}

async fn update(app: &TestApp, token: &str, body: Value) -> Resp {
    app.update_profile(token, body).await
}

/// Asserts that the profile update `body` is refused as `invalid_field` and that nothing was
/// written; returns the message.
async fn assert_invalid_field(app: &TestApp, token: &str, before: &Value, body: Value) -> String {
    let r = update(app, token, body.clone()).await;
    let message = assert_refused(&r, 400, "invalid_field");
    assert_eq!(app.me(token).await, *before, "{body}: nothing written");
    message
}

/// Asserts that the update with `g` is refused with `signed_code` when signed and with
/// `unsigned_code` when not, and that nothing was written.
async fn assert_both_refused(
    app: &TestApp,
    token: &str,
    before: &Value,
    g: &UserInfoGrant,
    (signed_code, unsigned_code): (&str, &str),
) {
    assert_refused(&update(app, token, signed(g)).await, 400, signed_code);
    assert_refused(&update(app, token, unsigned(g)).await, 400, unsigned_code);
    assert_eq!(app.me(token).await, *before);
}

/// The encrypted user info WeChat would send: `plain` sealed with `key` and an iv of
/// `iv_byte`s.
fn sealed(key: &str, iv_byte: u8, plain: &str) -> Value {
    let sealed = opendata::seal(key, None, &[iv_byte; 16], plain, None).expect("sealed");
    encrypted(&sealed.encrypted_data, &sealed.iv)
}

/// The user info plaintext of `real` naming `openid`, watermarked for the default app at
/// `secs`.
fn plaintext(app: &TestApp, openid: &OpenId, real: &UserInfo, secs: i64) -> String {
    opendata::user_info_plaintext(
        openid,
        real,
        None,
        &Watermark::new(&app.appid, Timestamp::from_secs(secs)),
    )
}

/// Asserts the stored profile as login-core shows it equals the mock's `real` one.
#[track_caller]
fn assert_profile_is(profile: &Value, real: &UserInfo) {
    assert_eq!(profile["nickName"], real.nick_name.as_str(), "{profile}");
    assert_eq!(profile["avatarUrl"], real.avatar_url.as_str(), "{profile}");
    assert_eq!(profile["gender"], real.gender, "{profile}");
    assert_eq!(profile["language"], real.language.as_str(), "{profile}");
    assert_eq!(profile["city"], real.city.as_str(), "{profile}");
    assert_eq!(profile["province"], real.province.as_str(), "{profile}");
    assert_eq!(profile["country"], real.country.as_str(), "{profile}");
}

/// Logs alice in and gives her a plain profile, so that "unchanged" means something.
async fn alice_with_profile(app: &TestApp) -> (String, Value) {
    let (token, _) = app.login("alice").await;
    let body = json!({"nickName": "阿丽", "avatarUrl": "https://cdn.example.com/a.png"});
    let r = update(app, &token, body).await.ok();
    assert_eq!(r["updated"], true);
    let before = app.me(&token).await;
    assert_eq!(before["profile"]["nickName"], "阿丽");
    (token, before)
}

#[tokio::test]
async fn legacy_get_user_profile_sets_the_real_profile() {
    let app = TestApp::new().await;
    let (token, login) = app.login("alice").await;
    assert_eq!(login["user"]["profile"], Value::Null);
    let g = legacy_profile(&app, "alice").await;
    let r = update(&app, &token, signed(&g)).await.ok();
    assert_eq!(r["updated"], true);
    let real = real_profile(&app, "alice").await;
    assert!(!real.nick_name.is_empty() && real.nick_name != opendata::ANONYMOUS_NICKNAME);
    assert_profile_is(&r["user"]["profile"], &real);
    let after = app.me(&token).await;
    assert_eq!(after, r["user"], "the answer is the stored user");
    assert_profile_is(&after["profile"], &real);

    // Without rawData and signature (they are optional) the same data is accepted.
    let g = legacy_profile(&app, "alice").await;
    let r = update(&app, &token, unsigned(&g)).await.ok();
    assert_eq!(r["updated"], true);
    assert_profile_is(&r["user"]["profile"], &real);
}

#[tokio::test]
async fn the_whole_callback_object_may_be_forwarded() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let real = real_profile(&app, "alice").await;
    for api in [UserInfoApi::GetUserProfile, UserInfoApi::GetUserInfo] {
        let g = legacy_user_info(&app, "alice", api, None).await;
        let mut whole = serde_json::to_value(&g).expect("grant as JSON");
        whole["cloudID"] = json!("19_Rk-CD3gR7PcJp0NlPXjDGsBdPgkT0yrW");
        for key in [
            "errMsg",
            "userInfo",
            "rawData",
            "signature",
            "encryptedData",
            "iv",
        ] {
            assert!(whole.get(key).is_some(), "{key} in {whole}");
        }
        let r = update(&app, &token, whole).await.ok();
        assert_eq!(r["updated"], true);
        assert_profile_is(&r["user"]["profile"], &real);
    }
    // The forwarded userInfo is not trusted: a forged one changes nothing.
    let g = legacy_profile(&app, "alice").await;
    let mut whole = serde_json::to_value(&g).expect("grant as JSON");
    whole["userInfo"]["nickName"] = json!("forged");
    let r = update(&app, &token, whole).await.ok();
    assert_profile_is(&r["user"]["profile"], &real);
}

#[tokio::test]
async fn get_user_info_with_open_id_works() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let g = legacy_user_info(&app, "alice", UserInfoApi::GetUserInfo, None).await;
    let r = update(&app, &token, signed(&g)).await.ok();
    assert_eq!(r["updated"], true);
    assert_profile_is(&r["user"]["profile"], &real_profile(&app, "alice").await);
    // The profile carries no ids.
    let profile = r["user"]["profile"].as_object().expect("profile");
    assert!(!profile.contains_key("openId") && !profile.contains_key("unionId"));
}

#[tokio::test]
async fn anonymous_data_keeps_the_stored_profile() {
    let app = TestApp::new().await;
    // A user without a profile stays without one.
    let (bob, _) = app.login("bob").await;
    let g = app
        .user_info(
            "bob",
            UserInfoApi::GetUserProfile,
            Some(RuleEra::Anonymous),
            None,
        )
        .await;
    assert_eq!(g.user_info.info.nick_name, opendata::ANONYMOUS_NICKNAME);
    let r = update(&app, &bob, signed(&g)).await.ok();
    assert_eq!(r["updated"], false);
    assert_eq!(r["user"]["profile"], Value::Null);
    assert_eq!(app.me(&bob).await["profile"], Value::Null);

    // A stored profile is kept, from either API, and the app's default era (anonymous).
    let (token, before) = alice_with_profile(&app).await;
    for (api, era) in [
        (UserInfoApi::GetUserProfile, Some(RuleEra::Anonymous)),
        (UserInfoApi::GetUserInfo, Some(RuleEra::Anonymous)),
        (UserInfoApi::GetUserProfile, None),
    ] {
        let g = app.user_info("alice", api, era, None).await;
        let r = update(&app, &token, signed(&g)).await.ok();
        assert_eq!(r["updated"], false, "{api:?} {era:?}");
        assert_eq!(r["user"], before);
        assert_eq!(app.me(&token).await, before);
    }
}

/// Asserts the documented error (status, code); returns its message.
#[track_caller]
fn assert_refused(r: &Resp, status: u16, code: &str) -> String {
    r.assert_error(status, code)
}

#[tokio::test]
async fn tampered_data_is_refused_with_its_reason_and_nothing_is_written() {
    let app = TestApp::new().await;
    let (token, before) = alice_with_profile(&app).await;
    // A rotated key, so that the mock has a previous key for the stale-key tamper.
    app.advance(Duration::from_secs(301));
    let (token2, _) = app.login("alice").await;
    assert_eq!(app.me(&token2).await, before);

    let cases = [
        (Tamper::ForeignWatermark, 400, "watermark_mismatch", None),
        (Tamper::ExpiredTimestamp, 400, "watermark_expired", None),
        (Tamper::FlippedByte, 400, "decrypt_failed", None),
        (
            Tamper::TruncatedBase64,
            400,
            "invalid_field",
            Some("encryptedData"),
        ),
        (Tamper::WrongIvLength, 400, "invalid_field", Some("iv")),
    ];
    for api in [UserInfoApi::GetUserProfile, UserInfoApi::GetUserInfo] {
        for (tamper, status, code, field) in cases {
            let g = legacy_user_info(&app, "alice", api, Some(tamper)).await;
            for body in [signed(&g), unsigned(&g)] {
                let r = update(&app, &token, body).await;
                let message = assert_refused(&r, status, code);
                if let Some(f) = field {
                    assert!(
                        message.contains(&format!("`{f}`")),
                        "{tamper:?}: message names {f}: {message}"
                    );
                }
                assert_eq!(app.me(&token).await, before, "{tamper:?}: nothing written");
            }
        }
    }

    // Stale key: encrypted and signed with the previous session_key. With rawData and
    // signature the signature is checked first (SHA-1 over rawData + the current key) and
    // fails: `signature_mismatch`. Without them decryption with the current key fails on the
    // padding (or, rarely, yields bytes that are not JSON): `decrypt_failed` either way.
    for api in [UserInfoApi::GetUserProfile, UserInfoApi::GetUserInfo] {
        let g = legacy_user_info(&app, "alice", api, Some(Tamper::StaleKey)).await;
        let codes = ("signature_mismatch", "decrypt_failed");
        assert_both_refused(&app, &token, &before, &g, codes).await;
    }
}

#[tokio::test]
async fn data_older_than_ten_minutes_is_expired() {
    let app = TestApp::new().await;
    let (token, before) = alice_with_profile(&app).await;
    // Exactly at the limit it is still accepted...
    let g = legacy_profile(&app, "alice").await;
    app.advance(Duration::from_secs(600));
    update(&app, &token, signed(&g)).await.ok();
    // ...a minute past it, not.
    let g = legacy_profile(&app, "alice").await;
    app.advance(Duration::from_secs(11 * 60));
    let r = update(&app, &token, signed(&g)).await;
    let message = assert_refused(&r, 400, "watermark_expired");
    let ts = (START + 600).to_string();
    assert!(message.contains(&ts), "names the timestamp {ts}: {message}");
    // The successful update above did change the profile; the refused one did not.
    let after = app.me(&token).await;
    assert_ne!(after, before);
    assert_profile_is(&after["profile"], &real_profile(&app, "alice").await);
}

#[tokio::test]
async fn signatures_and_field_pairs_are_checked() {
    let app = TestApp::new().await;
    let (token, before) = alice_with_profile(&app).await;
    let g = legacy_profile(&app, "alice").await;

    let mut altered = signed(&g);
    altered["rawData"] = json!(
        g.raw_data
            .replacen("\"nickName\":\"", "\"nickName\":\"x", 1)
    );
    assert_ne!(altered["rawData"], g.raw_data.as_str());
    assert_refused(
        &update(&app, &token, altered).await,
        400,
        "signature_mismatch",
    );

    let mut wrong_sig = signed(&g);
    wrong_sig["signature"] = json!("0".repeat(40));
    assert_refused(
        &update(&app, &token, wrong_sig).await,
        400,
        "signature_mismatch",
    );

    let named = |field: &'static str, body: Value| (field, body);
    let mut cases = vec![
        named(
            "signature",
            json!({"encryptedData": g.encrypted_data, "iv": g.iv, "rawData": g.raw_data}),
        ),
        named(
            "rawData",
            json!({"encryptedData": g.encrypted_data, "iv": g.iv, "signature": g.signature}),
        ),
        named("iv", json!({"encryptedData": g.encrypted_data})),
        named("encryptedData", json!({"iv": g.iv})),
        named("nickName", json!({})),
        named("unexpected", json!({"nickName": "a", "unexpected": 1})),
        named("encryptedData", json!({"encryptedData": 5, "iv": g.iv})),
    ];
    // Both kinds at once.
    let mut both = signed(&g);
    both["nickName"] = json!("小明");
    cases.push(named("nickName", both));
    let mut both = unsigned(&g);
    both["avatarUrl"] = json!("https://cdn.example.com/b.png");
    cases.push(named("nickName", both));
    for (field, body) in cases {
        let message = assert_invalid_field(&app, &token, &before, body.clone()).await;
        let names_field = message.contains(&format!("`{field}`"));
        assert!(names_field, "{body}: names {field}: {message}");
    }
    // The honest data still works afterwards.
    update(&app, &token, signed(&g)).await.ok();
}

#[tokio::test]
async fn plain_fill_in_sets_the_nickname_and_avatar() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let r = update(
        &app,
        &token,
        json!({"nickName": "  小明 ", "avatarUrl": "https://cdn.example.com/avatar/1.png"}),
    )
    .await
    .ok();
    assert_eq!(r["updated"], true);
    let m = app.me(&token).await;
    assert_eq!(m["profile"]["nickName"], "小明", "trimmed");
    assert_eq!(
        m["profile"]["avatarUrl"],
        "https://cdn.example.com/avatar/1.png"
    );
    assert_eq!(m, r["user"]);

    // One field at a time keeps the other.
    update(&app, &token, json!({"nickName": "Ming"})).await.ok();
    let m = app.me(&token).await;
    assert_eq!(m["profile"]["nickName"], "Ming");
    assert_eq!(
        m["profile"]["avatarUrl"],
        "https://cdn.example.com/avatar/1.png"
    );
    update(
        &app,
        &token,
        json!({"avatarUrl": "http://cdn.example.com/2.png"}),
    )
    .await
    .ok();
    let m = app.me(&token).await;
    assert_eq!(m["profile"]["nickName"], "Ming");
    assert_eq!(m["profile"]["avatarUrl"], "http://cdn.example.com/2.png");

    // 64 characters is the longest nickname.
    let longest = "字".repeat(64);
    update(&app, &token, json!({"nickName": longest}))
        .await
        .ok();
    assert_eq!(
        app.me(&token).await["profile"]["nickName"],
        longest.as_str()
    );
}

#[tokio::test]
async fn bad_plain_values_are_refused_naming_the_field() {
    let app = TestApp::new().await;
    let (token, before) = alice_with_profile(&app).await;
    let cases = [
        ("nickName", json!({"nickName": ""})),
        ("nickName", json!({"nickName": "   "})),
        ("nickName", json!({"nickName": "字".repeat(65)})),
        ("nickName", json!({"nickName": "a".repeat(65)})),
        ("nickName", json!({"nickName": "a\u{7}b"})),
        ("nickName", json!({"nickName": "a\nb"})),
        ("nickName", json!({"nickName": "a\u{0}b"})),
        ("nickName", json!({"nickName": 5})),
        ("avatarUrl", json!({"avatarUrl": "wxfile://tmp_4f2a.png"})),
        (
            "avatarUrl",
            json!({"avatarUrl": "http://tmp/wxfile.png wx"}),
        ),
        ("avatarUrl", json!({"avatarUrl": "https://"})),
        (
            "avatarUrl",
            json!({"avatarUrl": "ftp://cdn.example.com/a.png"}),
        ),
        ("avatarUrl", json!({"avatarUrl": "/local/a.png"})),
        (
            "avatarUrl",
            json!({"avatarUrl": format!("https://cdn.example.com/{}", "a".repeat(2100))}),
        ),
        // A good nickname does not save a bad avatar (nothing is half-written).
        (
            "avatarUrl",
            json!({"nickName": "好名字", "avatarUrl": "wxfile://tmp_4f2a.png"}),
        ),
    ];
    for (field, body) in cases {
        let message = assert_invalid_field(&app, &token, &before, body.clone()).await;
        let names_field = message.starts_with(&format!("field `{field}`"));
        assert!(names_field, "{body}: names {field}: {message}");
    }
}

#[tokio::test]
async fn another_users_data_is_refused() {
    let app = TestApp::new().await;
    let (alice, before) = alice_with_profile(&app).await;
    let (_bob, _) = app.login("bob").await;
    for api in [UserInfoApi::GetUserProfile, UserInfoApi::GetUserInfo] {
        let g = legacy_user_info(&app, "bob", api, None).await;
        // Bob's signature is over bob's session_key: it does not match under alice's; bob's
        // data is encrypted with bob's session_key: it does not decrypt with alice's.
        let codes = ("signature_mismatch", "decrypt_failed");
        assert_both_refused(&app, &alice, &before, &g, codes).await;
    }
}

#[tokio::test]
async fn data_naming_another_open_id_is_refused() {
    // Cannot come from WeChat (only alice's key encrypts for alice), but the backend still
    // checks openId: build such a payload with the mock's sealing code and alice's key.
    let app = TestApp::new().await;
    let Login { token, grant, .. } = app.login_with_grant("alice").await;
    let bob = app.grant("bob").await;
    let real = real_profile(&app, "alice").await;
    let key = &grant.mock.session_key;
    let plain = plaintext(&app, &bob.mock.openid, &real, START);
    let r = update(&app, &token, sealed(key, 7, &plain)).await;
    assert_refused(&r, 400, "identity_mismatch");
    assert_eq!(app.me(&token).await["profile"], Value::Null);

    // The same payload naming alice is accepted: the check is on openId only.
    let plain = plaintext(&app, &grant.mock.openid, &real, START);
    let r = update(&app, &token, sealed(key, 7, &plain)).await.ok();
    assert_eq!(r["updated"], true);
}

#[tokio::test]
async fn watermarks_are_checked_for_presence_and_clock_skew() {
    let app = TestApp::new().await;
    let Login { token, grant, .. } = app.login_with_grant("alice").await;
    let real = real_profile(&app, "alice").await;
    let payload = |plain: &str| sealed(&grant.mock.session_key, 9, plain);
    let at = |secs: i64| plaintext(&app, &grant.mock.openid, &real, secs);
    // Up to five minutes ahead of our clock is tolerated; more is not.
    update(&app, &token, payload(&at(START + 300))).await.ok();
    update(&app, &token, payload(&at(START + 301)))
        .await
        .assert_error(400, "watermark_expired");
    // No watermark, or not an object at all: not the user info expected.
    update(
        &app,
        &token,
        payload(r#"{"nickName":"x","avatarUrl":"https://a.example/x"}"#),
    )
    .await
    .assert_error(400, "decrypt_failed");
    update(&app, &token, payload(r#"["nickName"]"#))
        .await
        .assert_error(400, "decrypt_failed");
    let foreign =
        r#"{"nickName":"x","watermark":{"timestamp":1724289297,"appid":"wx0123456789abcdef"}}"#;
    update(&app, &token, payload(foreign))
        .await
        .assert_error(400, "watermark_mismatch");
}
