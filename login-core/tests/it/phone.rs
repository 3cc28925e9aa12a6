//! `POST /api/me/phone`: binding by getPhoneNumber code and by the legacy encryptedData,
//! codes that WeChat refuses, conflicts, joining an account from another app, and
//! getuserphonenumber faults.

use mock_server::UserSpec;
use mock_server::config::PhoneSpec;
use mock_server::engine::PhoneGrant;
use mock_server::ids::{AppId, UserHandle};
use mock_server::opendata::{RuleEra, Tamper, UserInfoApi};
use serde_json::{Value, json};

use crate::helpers::*;

const SECOND_APP: &str = "wx2222222222222222";

/// A user's phone number in the mock.
fn phone_spec(country_code: &str, number: &str) -> Option<Option<PhoneSpec>> {
    Some(Some(PhoneSpec {
        country_code: country_code.into(),
        number: number.into(),
    }))
}

/// Creates a WeChat user in the mock with this phone number (before it first logs in).
async fn user_with_phone(app: &TestApp, handle: &str, country_code: &str, number: &str) {
    app.mock
        .control()
        .create_user(&UserSpec {
            handle: Some(UserHandle::new(handle)),
            phone: phone_spec(country_code, number),
            ..UserSpec::default()
        })
        .await
        .expect("user created");
}

/// Two WeChat users with the same number (mainland China): `owner` logs in and binds it,
/// `other` logs in. Returns their tokens.
async fn two_users_one_number(
    app: &TestApp,
    (owner, other): (&str, &str),
    number: &str,
) -> (String, String) {
    user_with_phone(app, owner, "86", number).await;
    user_with_phone(app, other, "86", number).await;
    let (owner_token, _) = app.login(owner).await;
    let (other_token, _) = app.login(other).await;
    app.bind_phone_of(&owner_token, owner).await;
    (owner_token, other_token)
}

/// The legacy getPhoneNumber payload of `user` (encryptedData and iv), tampered with if
/// `tamper` says so.
async fn legacy_body(app: &TestApp, user: &str, tamper: Option<Tamper>) -> Value {
    let g = app.legacy_phone(user, tamper).await;
    encrypted(&g.encrypted_data, &g.iv)
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
    let grant = app.phone_grant("alice").await;
    let r = app.bind_phone_code(&token, &grant.code).await.ok();
    assert_eq!(r["joined"], false);
    assert_eq!(r["user"]["id"], login["user"]["id"]);
    assert_eq!(r["user"]["phone_bound"], true);
    assert_eq!(r["user"]["phone"], phone_of(&grant));
    let m = app.me(&token).await;
    assert_eq!(m, r["user"]);
    assert!(m["phone"]["countryCode"].is_string(), "{m}");
    assert_eq!(m["phone"]["countryCode"], "86");
    assert_eq!(
        m["phone"]["purePhoneNumber"],
        grant.mock.phone.number.as_str()
    );
    // login-core passed the session's openid along, so WeChat checked the code's owner.
    assert_eq!(app.errcodes("getuserphonenumber").await, [Some(0)]);

    // The same code again: WeChat's 40029.
    let r = app.bind_phone_code(&token, &grant.code).await;
    r.assert_error(400, "phone_code_invalid");
    assert_eq!(app.me(&token).await, m, "nothing changed");
    // A fresh code for the same number is fine (idempotent).
    let again = app.phone_grant("alice").await;
    let r = app.bind_phone_code(&token, &again.code).await.ok();
    assert_eq!(r["user"], m);
}

#[tokio::test]
async fn a_foreign_number_keeps_its_prefix_in_phone_number_only() {
    let app = TestApp::new().await;
    user_with_phone(&app, "hk", "852", "51234567").await;
    let (token, _) = app.login("hk").await;
    let grant = app.phone_grant("hk").await;
    let r = app.bind_phone_code(&token, &grant.code).await.ok();
    assert_eq!(
        r["user"]["phone"],
        json!({"phoneNumber": "+85251234567", "purePhoneNumber": "51234567", "countryCode": "852"})
    );
}

#[tokio::test]
async fn bind_by_legacy_encrypted_data() {
    let app = TestApp::new().await;
    let (token, _) = app.login("bob").await;
    let grant = app.legacy_phone("bob", None).await;
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
    let r = app.bind_phone(&token, body).await.ok();
    assert_eq!(r["joined"], false);
    assert_eq!(r["user"]["phone"], phone_of(&grant));
    assert_eq!(app.me(&token).await, r["user"]);
    assert_eq!(app.calls("getuserphonenumber").await, 0, "no WeChat call");
}

#[tokio::test]
async fn bad_legacy_payloads_are_refused_and_nothing_is_written() {
    let app = TestApp::new().await;
    let (token, _) = app.login("bob").await;
    let before = app.me(&token).await;
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
        let body = legacy_body(&app, "bob", Some(tamper)).await;
        let message = app.bind_phone(&token, body).await.assert_error(400, code);
        if let Some(f) = field {
            assert!(message.contains(&format!("`{f}`")), "{message}");
        }
        assert_eq!(app.me(&token).await, before, "{tamper:?}");
    }
    // User info is not a phone number.
    let g = app
        .user_info(
            "bob",
            UserInfoApi::GetUserProfile,
            Some(RuleEra::Legacy),
            None,
        )
        .await;
    app.bind_phone(&token, encrypted(&g.encrypted_data, &g.iv))
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
        let message = app
            .bind_phone(&token, body.clone())
            .await
            .assert_error(400, "invalid_field");
        assert!(message.contains(&format!("`{field}`")), "{body}: {message}");
    }
    assert_eq!(app.me(&token).await, before);
    assert_eq!(app.calls("getuserphonenumber").await, 0);
}

#[tokio::test]
async fn a_phone_code_of_another_app_is_invalid() {
    let app = TestApp::with_apps(vec![plain_app(SECOND_APP)]).await;
    let (token, _) = app.login("alice").await;
    let other = app.phone_grant_in(&AppId::new(SECOND_APP), "alice").await;
    app.bind_phone_code(&token, &other.code)
        .await
        .assert_error(400, "phone_code_invalid");
    let m = app.me(&token).await;
    assert_eq!(m["phone_bound"], false);
    assert_eq!(m["phone"], Value::Null);
}

#[tokio::test]
async fn a_number_bound_to_another_user_of_the_same_app_is_a_conflict() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users_one_number(&app, ("alice", "bob"), "13800138000").await;
    let alice_before = app.me(&alice).await;
    let bob_before = app.me(&bob).await;
    let stats = app.stats().await;

    let g = app.phone_grant("bob").await;
    assert_eq!(g.mock.phone.number, "13800138000");
    app.bind_phone_code(&bob, &g.code)
        .await
        .assert_error(409, "phone_conflict");
    // The legacy payload of the same number: the same conflict.
    let body = legacy_body(&app, "bob", None).await;
    app.bind_phone(&bob, body)
        .await
        .assert_error(409, "phone_conflict");

    assert_eq!(app.me(&bob).await, bob_before);
    assert_eq!(app.me(&bob).await["phone"], Value::Null);
    assert_eq!(app.me(&alice).await, alice_before);
    assert_eq!(app.stats().await, stats);
}

#[tokio::test]
async fn a_new_user_of_another_app_joins_the_account_with_the_number() {
    let app = TestApp::with_apps(vec![plain_app(SECOND_APP)]).await;
    let second = AppId::new(SECOND_APP);
    user_with_phone(&app, "alice", "86", "13900139000").await;
    user_with_phone(&app, "carol", "86", "13900139000").await;
    let (alice, login) = app.login("alice").await;
    let alice_id = login["user"]["id"].clone();
    app.bind_phone_of(&alice, "alice").await;

    // carol: another WeChat user (no unionid links them), in the second app.
    let (carol, carol_login) = app.login_in(&second, "carol").await;
    assert_eq!(carol_login["user"]["is_new"], true);
    assert_ne!(carol_login["user"]["id"], alice_id);
    assert_eq!(app.stats().await.users, 2);
    // carol's fill-in profile goes with her (alice has none).
    app.update_profile(&carol, json!({"nickName": "Carol"}))
        .await
        .ok();

    let g = app.phone_grant_in(&second, "carol").await;
    let r = app.bind_phone_code(&carol, &g.code).await.ok();
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
    let m = app.me(&carol).await;
    assert_eq!(m["id"], alice_id);
    assert_eq!(m, r["user"]);
    assert_eq!(app.me(&alice).await, m);
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
    let app = TestApp::with_apps(vec![
        sibling_app("wx3333333333333333"),
        sibling_app("wx4444444444444444"),
    ])
    .await;
    let (app2, app3) = (
        AppId::new("wx3333333333333333"),
        AppId::new("wx4444444444444444"),
    );
    user_with_phone(&app, "alice", "86", "13700137000").await;
    user_with_phone(&app, "dave", "86", "13700137000").await;
    let (alice, _) = app.login("alice").await;
    app.bind_phone_of(&alice, "alice").await;

    let (dave, first) = app.login_in(&app2, "dave").await;
    let (_, second) = app.login_in(&app3, "dave").await;
    assert_eq!(second["user"]["is_new"], false);
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    assert_eq!(second["user"]["apps"].as_array().map(Vec::len), Some(2));
    let before = app.me(&dave).await;
    let stats = app.stats().await;

    let g = app.phone_grant_in(&app2, "dave").await;
    app.bind_phone_code(&dave, &g.code)
        .await
        .assert_error(409, "phone_conflict");
    assert_eq!(app.me(&dave).await, before);
    assert_eq!(app.stats().await, stats);
    assert_eq!(app.stats().await.users, 2);
}

#[tokio::test]
async fn system_errors_are_retried_then_answered_503() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let g = app.phone_grant("alice").await;
    app.fault(json!({"endpoint": "getuserphonenumber", "errcode": -1}))
        .await;
    let r = app.bind_phone_code(&token, &g.code).await;
    r.assert_error(503, "wechat_unavailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(app.calls("getuserphonenumber").await, 3, "three tries");
    assert_eq!(app.me(&token).await["phone"], Value::Null);
    // The failures did not spend the code.
    app.mock
        .control()
        .clear_faults()
        .await
        .expect("faults cleared");
    let r = app.bind_phone_code(&token, &g.code).await.ok();
    assert_eq!(r["user"]["phone"], phone_of(&g));
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_once() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let g = app.phone_grant("alice").await;
    app.fault(json!({"endpoint": "getuserphonenumber", "errcode": 40001, "times": 1}))
        .await;
    let r = app.bind_phone_code(&token, &g.code).await.ok();
    assert_eq!(r["user"]["phone"], phone_of(&g));
    assert_eq!(app.calls("getuserphonenumber").await, 2);
    assert_eq!(app.calls("token").await, 2, "the token was fetched again");
}

#[tokio::test]
async fn a_new_number_replaces_the_old_one_which_becomes_free() {
    let app = TestApp::new().await;
    let (alice, bob) = two_users_one_number(&app, ("alice", "bob"), "13600136000").await;

    // alice changes her number in WeChat and binds the new one.
    app.mock
        .control()
        .patch_user(
            &UserHandle::new("alice"),
            &UserSpec {
                phone: phone_spec("86", "13500135000"),
                ..UserSpec::default()
            },
        )
        .await
        .expect("user changed");
    let g = app.phone_grant("alice").await;
    let r = app.bind_phone_code(&alice, &g.code).await.ok();
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13500135000");

    // The old number is free for bob now.
    let g = app.phone_grant("bob").await;
    let r = app.bind_phone_code(&bob, &g.code).await.ok();
    assert_eq!(r["joined"], false);
    assert_eq!(r["user"]["phone"]["purePhoneNumber"], "13600136000");
    assert_eq!(
        app.me(&alice).await["phone"]["purePhoneNumber"],
        "13500135000"
    );
}

#[tokio::test]
async fn another_users_legacy_payload_does_not_decrypt() {
    let app = TestApp::new().await;
    let (alice, _) = app.login("alice").await;
    app.login("bob").await;
    let body = legacy_body(&app, "bob", None).await;
    app.bind_phone(&alice, body)
        .await
        .assert_error(400, "decrypt_failed");
    assert_eq!(app.me(&alice).await["phone"], Value::Null);
}
