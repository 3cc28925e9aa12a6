//! Open data that does not open, and the session_key behind it: when the mini-program's
//! `wx.login` rotated the key at WeChat without the backend seeing the code, the profile and
//! legacy phone endpoints answer 401 `session_key_stale` (checksession says 87009) and the
//! client logs in again; data that is bad under a current key stays 400, and so does data whose
//! key WeChat could not judge (checksession failing). Nothing is written in any of these cases.

use mock_server::opendata::{RuleEra, Tamper, UserInfoApi, UserInfoGrant};
use serde_json::{Value, json};

use crate::helpers::*;

const PROFILE: &str = "/api/me/profile";
const PHONE: &str = "/api/me/phone";

/// A test app whose mock rotates the session_key on every `wx.login`.
async fn rotating_app() -> TestApp {
    let app = TestApp::new().await;
    app.set_mock_options(json!({"session_key_min_rotation": "0s"}))
        .await;
    app
}

/// A POST through [`TestApp::send_unchecked`]: the code `session_key_stale` names the
/// session_key, which `send` refuses in any answer. Callers check that no key leaks.
async fn post_unchecked(app: &TestApp, path: &str, token: &str, body: &Value) -> Resp {
    let req = app.http.post(app.url(path)).bearer_auth(token).json(body);
    app.send_unchecked(req).await
}

/// `wx.getUserProfile` of `user` under the legacy rules, tampered with if `tamper` says so.
async fn profile_data(app: &TestApp, user: &str, tamper: Option<Tamper>) -> UserInfoGrant {
    app.user_info(
        user,
        UserInfoApi::GetUserProfile,
        Some(RuleEra::Legacy),
        tamper,
    )
    .await
}

/// The two forms a client forwards user info in: with rawData and signature, and without.
fn both_forms(g: &UserInfoGrant) -> [(&'static str, Value); 2] {
    [
        (
            "signed",
            json!({
                "encryptedData": g.encrypted_data,
                "iv": g.iv,
                "rawData": g.raw_data,
                "signature": g.signature,
            }),
        ),
        ("unsigned", encrypted(&g.encrypted_data, &g.iv)),
    ]
}

/// The legacy getPhoneNumber payload of `user`, tampered with if `tamper` says so.
async fn phone_data(app: &TestApp, user: &str, tamper: Option<Tamper>) -> Value {
    let g = app.legacy_phone(user, tamper).await;
    encrypted(&g.encrypted_data, &g.iv)
}

/// What login-core holds for `token`'s user, and how many rows it has: nothing may change.
async fn snapshot(app: &TestApp, token: &str) -> (Value, (u64, u64, u64)) {
    (app.me(token).await, app.counts().await)
}

/// Asserts `r` is the 401 `session_key_stale` that `GET /api/session/check` gives for the same
/// session (body and `WWW-Authenticate` alike), without any of `keys` in it.
async fn assert_stale(app: &TestApp, token: &str, r: &Resp, keys: &[&str], what: &str) {
    r.assert_error(401, "session_key_stale");
    for key in keys {
        assert!(!r.text.contains(key), "{what}: a session_key leaked");
    }
    let check = app.check_unchecked(token).await;
    check.assert_error(401, "session_key_stale");
    assert_eq!(r.text, check.text, "{what}: the same error as the check");
    assert_eq!(
        r.header("www-authenticate"),
        check.header("www-authenticate"),
        "{what}"
    );
    assert!(r.header("www-authenticate").is_some(), "{what}");
}

#[tokio::test]
async fn profile_data_sealed_with_a_key_rotated_behind_the_backend_asks_for_a_new_login() {
    let app = rotating_app().await;
    let alice = app.login_with_grant("alice").await;
    let before = snapshot(&app, &alice.token).await;

    // The mini-program calls wx.login again and throws the code away: WeChat rotates the key,
    // login-core still holds the old one.
    let unseen = app.grant("alice").await;
    assert!(unseen.mock.rotated, "the key rotated");
    let keys = [
        alice.grant.mock.session_key.as_str(),
        unseen.mock.session_key.as_str(),
    ];
    let g = profile_data(&app, "alice", None).await;
    for (form, body) in both_forms(&g) {
        let r = post_unchecked(&app, PROFILE, &alice.token, &body).await;
        assert_stale(&app, &alice.token, &r, &keys, form).await;
        assert_eq!(
            snapshot(&app, &alice.token).await,
            before,
            "{form}: nothing written"
        );
    }
    // Each refusal asked checksession once (and each check once more): 87009 every time.
    assert_eq!(app.errcodes("checksession").await, [Some(87009); 4]);
    // The login session itself is fine: only WeChat's side is stale.
    app.me(&alice.token).await;

    // Doing what the 401 asks: a fresh login hands login-core the current key.
    let again = app.login_with_grant("alice").await;
    let g = profile_data(&app, "alice", None).await;
    for (form, body) in both_forms(&g) {
        let r = app.update_profile(&again.token, body).await.ok();
        assert_eq!(r["updated"], true, "{form}");
        assert_eq!(r["user"]["id"], before.0["id"], "{form}");
        assert!(r["user"]["profile"]["nickName"].is_string(), "{form}");
    }
    // Data that opens needs no checksession.
    assert_eq!(app.calls("checksession").await, 4);
}

#[tokio::test]
async fn legacy_phone_data_sealed_with_a_key_rotated_behind_the_backend_asks_for_a_new_login() {
    let app = rotating_app().await;
    let bob = app.login_with_grant("bob").await;
    let before = snapshot(&app, &bob.token).await;
    let unseen = app.grant("bob").await;
    assert!(unseen.mock.rotated, "the key rotated");
    let keys = [
        bob.grant.mock.session_key.as_str(),
        unseen.mock.session_key.as_str(),
    ];

    let body = phone_data(&app, "bob", None).await;
    let r = post_unchecked(&app, PHONE, &bob.token, &body).await;
    assert_stale(&app, &bob.token, &r, &keys, "phone").await;
    assert_eq!(snapshot(&app, &bob.token).await, before, "nothing written");
    assert_eq!(app.errcodes("checksession").await, [Some(87009); 2]);
    assert_eq!(app.calls("getuserphonenumber").await, 0);

    let again = app.login_with_grant("bob").await;
    let grant = app.legacy_phone("bob", None).await;
    let body = encrypted(&grant.encrypted_data, &grant.iv);
    let r = app.bind_phone(&again.token, body).await.ok();
    assert_eq!(r["user"]["phone_bound"], true);
    assert_eq!(
        r["user"]["phone"]["purePhoneNumber"],
        grant.mock.phone.number.as_str()
    );
}

#[tokio::test]
async fn tampered_data_under_a_current_key_stays_a_400() {
    let app = rotating_app().await;
    // Two logins through login-core: it holds the current key, and the mock has a previous
    // one for the stale-key tamper.
    app.login("alice").await;
    let (token, _) = app.login("alice").await;
    let before = snapshot(&app, &token).await;

    let mut refusals = 0;
    for (tamper, codes) in [
        (Tamper::FlippedByte, ["decrypt_failed", "decrypt_failed"]),
        (Tamper::StaleKey, ["signature_mismatch", "decrypt_failed"]),
    ] {
        let g = profile_data(&app, "alice", Some(tamper)).await;
        for ((form, body), code) in both_forms(&g).into_iter().zip(codes) {
            let r = app.update_profile(&token, body).await;
            r.assert_error(400, code);
            assert!(r.header("www-authenticate").is_none(), "{tamper:?} {form}");
            assert_eq!(snapshot(&app, &token).await, before, "{tamper:?} {form}");
            refusals += 1;
        }
        let body = phone_data(&app, "alice", Some(tamper)).await;
        app.bind_phone(&token, body)
            .await
            .assert_error(400, "decrypt_failed");
        assert_eq!(snapshot(&app, &token).await, before, "{tamper:?} phone");
        refusals += 1;
    }
    // WeChat was asked each time, and said the stored key is current.
    assert_eq!(app.errcodes("checksession").await, vec![Some(0); refusals]);

    // Refusals that no key explains (a foreign watermark decrypts fine; a short iv never
    // reaches the decryption) do not ask.
    let g = profile_data(&app, "alice", Some(Tamper::ForeignWatermark)).await;
    for (_, body) in both_forms(&g) {
        let r = app.update_profile(&token, body).await;
        r.assert_error(400, "watermark_mismatch");
    }
    let body = phone_data(&app, "alice", Some(Tamper::WrongIvLength)).await;
    app.bind_phone(&token, body)
        .await
        .assert_error(400, "invalid_field");
    assert_eq!(app.calls("checksession").await, refusals);
    assert_eq!(snapshot(&app, &token).await, before);
}

#[tokio::test]
async fn without_a_verdict_from_checksession_the_data_error_stands() {
    let app = rotating_app().await;
    let (token, _) = app.login("alice").await;
    let before = snapshot(&app, &token).await;
    // The key rotates behind login-core, so a verdict would be 401.
    app.grant("alice").await;
    let g = profile_data(&app, "alice", None).await;
    let phone = phone_data(&app, "alice", None).await;
    let refused = |form: &str| {
        if form == "signed" {
            "signature_mismatch"
        } else {
            "decrypt_failed"
        }
    };

    // The connection is reset: one try, the 400 is kept, not a 502.
    app.fault(json!({"endpoint": "checksession", "transport": "reset"}))
        .await;
    for (form, body) in both_forms(&g) {
        let r = app.update_profile(&token, body).await;
        r.assert_error(400, refused(form));
        assert_eq!(snapshot(&app, &token).await, before, "reset {form}");
    }
    app.bind_phone(&token, phone.clone())
        .await
        .assert_error(400, "decrypt_failed");
    assert_eq!(snapshot(&app, &token).await, before, "reset phone");
    assert_eq!(app.calls("checksession").await, 3);
    assert_eq!(app.upstream_errors("checksession", "connect").await, 3.0);

    // WeChat answers -1 on every try: retried, then the 400 is kept, not a 503.
    app.mock
        .control()
        .clear_faults()
        .await
        .expect("faults cleared");
    app.fault(json!({"endpoint": "checksession", "errcode": -1}))
        .await;
    for (form, body) in both_forms(&g) {
        let r = app.update_profile(&token, body).await;
        r.assert_error(400, refused(form));
        assert!(r.header("retry-after").is_none(), "{form}");
    }
    app.bind_phone(&token, phone.clone())
        .await
        .assert_error(400, "decrypt_failed");
    assert_eq!(snapshot(&app, &token).await, before, "-1");
    assert_eq!(
        app.calls("checksession").await,
        3 + 3 * 3,
        "three tries each"
    );
    assert_eq!(app.calls("getuserphonenumber").await, 0);

    // Once WeChat answers again, the verdict comes through.
    app.mock
        .control()
        .clear_faults()
        .await
        .expect("faults cleared");
    let r = post_unchecked(&app, PHONE, &token, &phone).await;
    r.assert_error(401, "session_key_stale");
    assert_eq!(snapshot(&app, &token).await, before);
}
