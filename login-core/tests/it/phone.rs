//! `POST /api/me/phone`: binding by getPhoneNumber code and by the legacy encryptedData,
//! codes that WeChat refuses, conflicts, joining an account from another app, and
//! getuserphonenumber faults.

use mock_server::UserSpec;
use mock_server::config::{AppSpec, PhoneSpec};
use mock_server::engine::PhoneGrant;
use mock_server::ids::{AppId, UserHandle};
use mock_server::opendata::{RuleEra, Tamper, UserInfoApi};
use serde_json::{Value, json};

use crate::helpers::*;

const SECOND_APP: &str = "wx2222222222222222";

/// An app of its own (no open platform): its users get no unionid.
fn plain_app(appid: &str) -> AppSpec {
    AppSpec {
        appid: Some(AppId::new(appid)),
        ..AppSpec::default()
    }
}

/// The getPhoneNumber button for `user` in `appid`: a code and, once the user has logged in,
/// the legacy encryptedData.
async fn phone_grant(app: &TestApp, appid: &AppId, user: &str) -> PhoneGrant {
    app.mock
        .control()
        .wx_phone_code(appid, user)
        .await
        .expect("getPhoneNumber")
}

/// Creates a WeChat user in the mock with this phone number (before it first logs in).
async fn user_with_phone(app: &TestApp, handle: &str, country_code: &str, number: &str) {
    app.mock
        .control()
        .create_user(&UserSpec {
            handle: Some(UserHandle::new(handle)),
            phone: Some(Some(PhoneSpec {
                country_code: country_code.into(),
                number: number.into(),
            })),
            ..UserSpec::default()
        })
        .await
        .expect("user created");
}

async fn bind(app: &TestApp, token: &str, body: Value) -> Resp {
    app.post("/api/me/phone", Some(token), body).await
}

async fn bind_code(app: &TestApp, token: &str, code: &str) -> Resp {
    bind(app, token, json!({ "code": code })).await
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.get("/api/me", Some(token)).await.ok()
}

/// The phone object login-core shows for the mock's number of `grant`.
fn phone_of(grant: &PhoneGrant) -> Value {
    let p = &grant.mock.phone;
    json!({
        "phoneNumber": p.display(),
        "purePhoneNumber": p.number,
        "countryCode": p.country_code,
    })
}

#[tokio::test]
async fn bind_by_code_then_the_code_is_spent() {
    let app = TestApp::new().await;
    let (token, login) = app.login("alice").await;
    let grant = phone_grant(&app, &app.appid, "alice").await;
    let r = bind_code(&app, &token, &grant.code).await.ok();
    assert_eq!(r["joined"], false);
    assert_eq!(r["user"]["id"], login["user"]["id"]);
    assert_eq!(r["user"]["phone_bound"], true);
    assert_eq!(r["user"]["phone"], phone_of(&grant));
    let m = me(&app, &token).await;
    assert_eq!(m, r["user"]);
    assert!(m["phone"]["countryCode"].is_string(), "{m}");
    assert_eq!(m["phone"]["countryCode"], "86");
    assert_eq!(
        m["phone"]["purePhoneNumber"],
        grant.mock.phone.number.as_str()
    );
    // login-core passed the session's openid along, so WeChat checked the code's owner.
    let page = app
        .mock
        .control()
        .journal("endpoint=getuserphonenumber")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].errcode, Some(0));

    // The same code again: WeChat's 40029.
    let r = bind_code(&app, &token, &grant.code).await;
    r.assert_error(400, "phone_code_invalid");
    assert_eq!(me(&app, &token).await, m, "nothing changed");
    // A fresh code for the same number is fine (idempotent).
    let again = phone_grant(&app, &app.appid, "alice").await;
    let r = bind_code(&app, &token, &again.code).await.ok();
    assert_eq!(r["user"], m);
}

#[tokio::test]
async fn a_foreign_number_keeps_its_prefix_in_phone_number_only() {
    let app = TestApp::new().await;
    user_with_phone(&app, "hk", "852", "51234567").await;
    let (token, _) = app.login("hk").await;
    let grant = phone_grant(&app, &app.appid, "hk").await;
    let r = bind_code(&app, &token, &grant.code).await.ok();
    assert_eq!(
        r["user"]["phone"],
        json!({"phoneNumber": "+85251234567", "purePhoneNumber": "51234567", "countryCode": "852"})
    );
}

#[tokio::test]
async fn bind_by_legacy_encrypted_data() {
    let app = TestApp::new().await;
    let (token, _) = app.login("bob").await;
    let grant = app
        .mock
        .control()
        .wx_phone_number(&app.appid, "bob", None)
        .await
        .expect("getPhoneNumber");
    let (data, iv) = (
        grant.encrypted_data.clone().expect("encryptedData"),
        grant.iv.clone().expect("iv"),
    );
    // The whole callback may be forwarded (cloudID and errMsg are ignored).
    let body = json!({
        "errMsg": "getPhoneNumber:ok",
        "encryptedData": data,
        "iv": iv,
        "cloudID": "19_abc",
    });
    let r = bind(&app, &token, body).await.ok();
    assert_eq!(r["joined"], false);
    assert_eq!(r["user"]["phone"], phone_of(&grant));
    assert_eq!(me(&app, &token).await, r["user"]);
    assert_eq!(app.calls("getuserphonenumber").await, 0, "no WeChat call");
}

#[tokio::test]
async fn bad_legacy_payloads_are_refused_and_nothing_is_written() {
    let app = TestApp::new().await;
    let (token, _) = app.login("bob").await;
    let before = me(&app, &token).await;
    let cases = [
        (Tamper::ForeignWatermark, "watermark_mismatch", None),
        (Tamper::ExpiredTimestamp, "watermark_expired", None),
        (Tamper::FlippedByte, "decrypt_failed", None),
        (
            Tamper::TruncatedBase64,
            "invalid_field",
            Some("encryptedData"),
        ),
        (Tamper::WrongIvLength, "invalid_field", Some("iv")),
    ];
    for (tamper, code, field) in cases {
        let g = app
            .mock
            .control()
            .wx_phone_number(&app.appid, "bob", Some(tamper))
            .await
            .expect("getPhoneNumber");
        let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv});
        let message = bind(&app, &token, body).await.assert_error(400, code);
        if let Some(f) = field {
            assert!(message.contains(&format!("`{f}`")), "{message}");
        }
        assert_eq!(me(&app, &token).await, before, "{tamper:?}");
    }
    // User info is not a phone number.
    let g = app
        .mock
        .control()
        .wx_user_info(
            &app.appid,
            "bob",
            UserInfoApi::GetUserProfile,
            Some(RuleEra::Legacy),
            None,
        )
        .await
        .expect("user info");
    let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv});
    bind(&app, &token, body)
        .await
        .assert_error(400, "decrypt_failed");
    // Field pairs.
    for (field, body) in [
        ("iv", json!({"encryptedData": "AAAA"})),
        ("encryptedData", json!({"iv": "AAAA"})),
        ("code", json!({})),
        (
            "code",
            json!({"code": "abc", "encryptedData": "AAAA", "iv": "AAAA"}),
        ),
        ("code", json!({"code": ""})),
        ("code", json!({"code": "x".repeat(300)})),
        ("rawData", json!({"code": "abc", "rawData": "{}"})),
    ] {
        let message = bind(&app, &token, body.clone())
            .await
            .assert_error(400, "invalid_field");
        assert!(message.contains(&format!("`{field}`")), "{body}: {message}");
    }
    assert_eq!(me(&app, &token).await, before);
    assert_eq!(app.calls("getuserphonenumber").await, 0);
}

#[tokio::test]
async fn a_phone_code_of_another_app_is_invalid() {
    let app = TestApp::with(Setup {
        extra_apps: vec![plain_app(SECOND_APP)],
        ..Setup::default()
    })
    .await;
    let (token, _) = app.login("alice").await;
    let other = phone_grant(&app, &AppId::new(SECOND_APP), "alice").await;
    bind_code(&app, &token, &other.code)
        .await
        .assert_error(400, "phone_code_invalid");
    let m = me(&app, &token).await;
    assert_eq!(m["phone_bound"], false);
    assert_eq!(m["phone"], Value::Null);
}

#[tokio::test]
async fn a_number_bound_to_another_user_of_the_same_app_is_a_conflict() {
    let app = TestApp::new().await;
    user_with_phone(&app, "alice", "86", "13800138000").await;
    user_with_phone(&app, "bob", "86", "13800138000").await;
    let (alice, _) = app.login("alice").await;
    let (bob, _) = app.login("bob").await;
    let g = phone_grant(&app, &app.appid, "alice").await;
    bind_code(&app, &alice, &g.code).await.ok();
    let alice_before = me(&app, &alice).await;
    let bob_before = me(&app, &bob).await;
    let stats = app.stats().await;

    let g = phone_grant(&app, &app.appid, "bob").await;
    assert_eq!(g.mock.phone.number, "13800138000");
    bind_code(&app, &bob, &g.code)
        .await
        .assert_error(409, "phone_conflict");
    // The legacy payload of the same number: the same conflict.
    let g = app
        .mock
        .control()
        .wx_phone_number(&app.appid, "bob", None)
        .await
        .expect("getPhoneNumber");
    let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv});
    bind(&app, &bob, body)
        .await
        .assert_error(409, "phone_conflict");

    assert_eq!(me(&app, &bob).await, bob_before);
    assert_eq!(me(&app, &bob).await["phone"], Value::Null);
    assert_eq!(me(&app, &alice).await, alice_before);
    assert_eq!(app.stats().await, stats);
}

#[tokio::test]
async fn a_new_user_of_another_app_joins_the_account_with_the_number() {
    let app = TestApp::with(Setup {
        extra_apps: vec![plain_app(SECOND_APP)],
        ..Setup::default()
    })
    .await;
    let second = AppId::new(SECOND_APP);
    user_with_phone(&app, "alice", "86", "13900139000").await;
    user_with_phone(&app, "carol", "86", "13900139000").await;
    let (alice, login) = app.login("alice").await;
    let alice_id = login["user"]["id"].clone();
    let g = phone_grant(&app, &app.appid, "alice").await;
    bind_code(&app, &alice, &g.code).await.ok();

    // carol: another WeChat user (no unionid links them), in the second app.
    let (carol, carol_login) = app.login_in(&second, "carol").await;
    assert_eq!(carol_login["user"]["is_new"], true);
    assert_ne!(carol_login["user"]["id"], alice_id);
    assert_eq!(app.stats().await.users, 2);
    // carol's fill-in profile goes with her (alice has none).
    app.post(
        "/api/me/profile",
        Some(&carol),
        json!({"nickName": "Carol"}),
    )
    .await
    .ok();

    let g = phone_grant(&app, &second, "carol").await;
    let r = bind_code(&app, &carol, &g.code).await.ok();
    assert_eq!(r["joined"], true);
    assert_eq!(r["user"]["id"], alice_id);
    let mut apps = vec![app.appid.as_str().to_owned(), SECOND_APP.to_owned()];
    apps.sort();
    assert_eq!(r["user"]["apps"], json!(apps));
    assert_eq!(r["user"]["phone"], phone_of(&g));
    assert_eq!(r["user"]["profile"]["nickName"], "Carol");
    let stats = app.stats().await;
    assert_eq!(stats.users, 1);
    assert_eq!(stats.identities, 2);

    // carol's session now belongs to alice's account; alice's still works.
    let m = me(&app, &carol).await;
    assert_eq!(m["id"], alice_id);
    assert_eq!(m, r["user"]);
    assert_eq!(me(&app, &alice).await, m);
    // Her WeChat identity (and its sealed session_key) moved intact: checksession still works.
    app.get("/api/session/check", Some(&carol)).await.ok();
    // And carol's next login in the second app finds the joined account.
    let (_, again) = app.login_in(&second, "carol").await;
    assert_eq!(again["user"]["is_new"], false);
    assert_eq!(again["user"]["id"], alice_id);
    assert_eq!(app.stats().await.users, 1);
}

#[tokio::test]
async fn a_user_with_identities_in_two_apps_cannot_join() {
    // app2 and app3 share an open platform, so dave's logins to both are one user (unionid);
    // moving only his app2 identity to alice would split him.
    let app = TestApp::with(Setup {
        extra_apps: vec![
            sibling_app("wx3333333333333333"),
            sibling_app("wx4444444444444444"),
        ],
        ..Setup::default()
    })
    .await;
    let (app2, app3) = (
        AppId::new("wx3333333333333333"),
        AppId::new("wx4444444444444444"),
    );
    user_with_phone(&app, "alice", "86", "13700137000").await;
    user_with_phone(&app, "dave", "86", "13700137000").await;
    let (alice, _) = app.login("alice").await;
    let g = phone_grant(&app, &app.appid, "alice").await;
    bind_code(&app, &alice, &g.code).await.ok();

    let (dave, first) = app.login_in(&app2, "dave").await;
    let (_, second) = app.login_in(&app3, "dave").await;
    assert_eq!(second["user"]["is_new"], false);
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    assert_eq!(second["user"]["apps"].as_array().map(Vec::len), Some(2));
    let before = me(&app, &dave).await;
    let stats = app.stats().await;

    let g = phone_grant(&app, &app2, "dave").await;
    bind_code(&app, &dave, &g.code)
        .await
        .assert_error(409, "phone_conflict");
    assert_eq!(me(&app, &dave).await, before);
    assert_eq!(app.stats().await, stats);
    assert_eq!(app.stats().await.users, 2);
}

#[tokio::test]
async fn system_errors_are_retried_then_answered_503() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let g = phone_grant(&app, &app.appid, "alice").await;
    app.fault(json!({"endpoint": "getuserphonenumber", "errcode": -1}))
        .await;
    let r = bind_code(&app, &token, &g.code).await;
    r.assert_error(503, "wechat_unavailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(app.calls("getuserphonenumber").await, 3, "three tries");
    assert_eq!(me(&app, &token).await["phone"], Value::Null);
    // The failures did not spend the code.
    app.mock
        .control()
        .clear_faults()
        .await
        .expect("faults cleared");
    let r = bind_code(&app, &token, &g.code).await.ok();
    assert_eq!(r["user"]["phone"], phone_of(&g));
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_once() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let g = phone_grant(&app, &app.appid, "alice").await;
    app.fault(json!({"endpoint": "getuserphonenumber", "errcode": 40001, "times": 1}))
        .await;
    let r = bind_code(&app, &token, &g.code).await.ok();
    assert_eq!(r["user"]["phone"], phone_of(&g));
    assert_eq!(app.calls("getuserphonenumber").await, 2);
    assert_eq!(app.calls("token").await, 2, "the token was fetched again");
}

#[tokio::test]
async fn a_new_number_replaces_the_old_one_which_becomes_free() {
    let app = TestApp::new().await;
    user_with_phone(&app, "alice", "86", "13600136000").await;
    user_with_phone(&app, "bob", "86", "13600136000").await;
    let (alice, _) = app.login("alice").await;
    let (bob, _) = app.login("bob").await;
    let g = phone_grant(&app, &app.appid, "alice").await;
    bind_code(&app, &alice, &g.code).await.ok();

    // alice changes her number in WeChat and binds the new one.
    app.mock
        .control()
        .patch_user(
            &UserHandle::new("alice"),
            &UserSpec {
                phone: Some(Some(PhoneSpec {
                    country_code: "86".into(),
                    number: "13500135000".into(),
                })),
                ..UserSpec::default()
            },
        )
        .await
        .expect("user changed");
    let g = phone_grant(&app, &app.appid, "alice").await;
    let r = bind_code(&app, &alice, &g.code).await.ok();
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13500135000");

    // The old number is free for bob now.
    let g = phone_grant(&app, &app.appid, "bob").await;
    let r = bind_code(&app, &bob, &g.code).await.ok();
    assert_eq!(r["joined"], false);
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13600136000");
    assert_eq!(
        me(&app, &alice).await["phone"]["purePhoneNumber"],
        "13500135000"
    );
}

#[tokio::test]
async fn another_users_legacy_payload_does_not_decrypt() {
    let app = TestApp::new().await;
    let (alice, _) = app.login("alice").await;
    app.login("bob").await;
    let g = app
        .mock
        .control()
        .wx_phone_number(&app.appid, "bob", None)
        .await
        .expect("getPhoneNumber");
    let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv});
    bind(&app, &alice, body)
        .await
        .assert_error(400, "decrypt_failed");
    assert_eq!(me(&app, &alice).await["phone"], Value::Null);
}
