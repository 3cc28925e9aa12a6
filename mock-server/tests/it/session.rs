//! Tests: the server-side session APIs over HTTP: `GET /wxa/checksession` and
//! `GET /wxa/resetusersessionkey`, and how `wx.login` rotates the session_key
//! (`wechat-api.md` section 4).

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Raw, TestMock, signature};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `wx.login` then jscode2session for `user` in the default app: (openid, session_key), after
/// checking that the exchange returns the key the login announced.
async fn logged_in(t: &TestMock, user: &str) -> (String, String) {
    let grant = t.login(user).await;
    let r = t.exchange(&grant.code).await;
    assert_eq!(r.errcode(), 0, "exchange: {}", r.body);
    let v = r.json();
    let key = v["session_key"].as_str().expect("session_key").to_owned();
    let openid = v["openid"].as_str().expect("openid").to_owned();
    assert_eq!(key, grant.mock.session_key);
    assert_eq!(openid, grant.mock.openid.as_str());
    (openid, key)
}

fn session_query(token: &str, openid: &str, signature: &str, sig_method: Option<&str>) -> String {
    let mut q = format!("access_token={token}&openid={openid}&signature={signature}");
    if let Some(m) = sig_method {
        q.push_str("&sig_method=");
        q.push_str(m);
    }
    q
}

/// `GET /wxa/checksession` signed with `key` (hmac_sha256).
async fn check(t: &TestMock, token: &str, openid: &str, key: &str) -> Raw {
    t.get(&format!(
        "/wxa/checksession?{}",
        session_query(token, openid, &signature(key), Some("hmac_sha256"))
    ))
    .await
}

/// `GET /wxa/resetusersessionkey` signed with `key` (hmac_sha256).
async fn reset(t: &TestMock, token: &str, openid: &str, key: &str) -> Raw {
    t.get(&format!(
        "/wxa/resetusersessionkey?{}",
        session_query(token, openid, &signature(key), Some("hmac_sha256"))
    ))
    .await
}

const OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

#[track_caller]
fn assert_ok(r: &Raw) {
    assert_eq!(r.status, 200);
    assert_eq!(r.body, OK);
}

/// Asserts the error, its text, and the cgi-bin/wxa `" rid: "` separator.
#[track_caller]
fn assert_wx_err(r: &Raw, code: i64, text: &str) {
    r.assert_err(code);
    assert_eq!(r.errmsg_base(), text, "body: {}", r.body);
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    assert!(
        msg.starts_with(&format!("{text} rid: ")),
        "errmsg {msg:?} should be {text:?} + \" rid: ...\""
    );
}

/// A base64 session_key of 16 bytes: 24 chars ending in `==`.
#[track_caller]
fn assert_key_shape(key: &str) {
    assert_eq!(key.len(), 24, "{key}");
    assert!(key.ends_with("=="), "{key}");
    assert!(
        key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
        "{key}"
    );
}

#[tokio::test]
async fn checksession_valid_is_exactly_errcode_0_ok() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, key) = logged_in(&t, "alice").await;
    let r = check(&t, &token, &openid, &key).await;
    assert_ok(&r);
    // Checking does not change anything: a second check passes too.
    assert_ok(&check(&t, &token, &openid, &key).await);
}

#[tokio::test]
async fn checksession_wrong_signature_is_87009() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, key) = logged_in(&t, "alice").await;
    let (_, bob_key) = logged_in(&t, "bob").await;
    let wrong = [
        signature(&bob_key),
        signature("o0q0otL8aEzpcZL/FT9WsQ=="),
        "0".repeat(64),
        "not-a-signature".into(),
    ];
    for sig in wrong {
        let r = t
            .get(&format!(
                "/wxa/checksession?{}",
                session_query(&token, &openid, &sig, Some("hmac_sha256"))
            ))
            .await;
        assert_wx_err(&r, 87009, "invalid signature");
    }
    assert_ok(&check(&t, &token, &openid, &key).await);
}

#[tokio::test]
async fn checksession_sig_method_missing_or_other_is_87008() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, key) = logged_in(&t, "alice").await;
    let sig = signature(&key);
    for method in [None, Some("hmac_sha1"), Some("md5"), Some("sha256")] {
        for path in ["/wxa/checksession", "/wxa/resetusersessionkey"] {
            let r = t
                .get(&format!(
                    "{path}?{}",
                    session_query(&token, &openid, &sig, method)
                ))
                .await;
            assert_wx_err(&r, 87008, "invalid sig_method");
        }
    }
    // The key was not reset by the refused calls.
    assert_ok(&check(&t, &token, &openid, &key).await);
}

#[tokio::test]
async fn checksession_unknown_openid_is_40003() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (_, key) = logged_in(&t, "alice").await;
    let unknown = "oAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let r = check(&t, &token, unknown, &key).await;
    assert_wx_err(&r, 40003, "invalid openid");
    let r = reset(&t, &token, unknown, &key).await;
    assert_wx_err(&r, 40003, "invalid openid");
}

#[tokio::test]
async fn checksession_token_errors() {
    let t = TestMock::new().await;
    let (openid, key) = logged_in(&t, "alice").await;
    let sig = signature(&key);
    let r = t
        .get(&format!(
            "/wxa/checksession?openid={openid}&signature={sig}&sig_method=hmac_sha256"
        ))
        .await;
    assert_wx_err(&r, 41001, "access_token missing");
    let r = check(&t, "89_unknown", &openid, &key).await;
    r.assert_err(40001);
    let r = reset(&t, "89_unknown", &openid, &key).await;
    r.assert_err(40001);
}

#[tokio::test]
async fn rotated_key_fails_and_new_key_passes_with_zero_min_rotation() {
    let t = TestMock::new().await;
    t.set_options(json!({ "session_key_min_rotation": "0s" }))
        .await;
    let token = t.token().await;
    let first = t.login("alice").await;
    assert!(first.mock.rotated, "the first login creates the key");
    let (openid, old_key) = logged_in(&t, "alice").await;
    assert_ne!(old_key, first.mock.session_key, "0s: every login rotates");

    let grant = t.login("alice").await;
    assert!(grant.mock.rotated);
    assert_ne!(grant.mock.session_key, old_key);
    let r = t.exchange(&grant.code).await;
    let new_key = r.json()["session_key"].as_str().expect("key").to_owned();
    assert_eq!(new_key, grant.mock.session_key);
    assert_key_shape(&new_key);

    assert_wx_err(
        &check(&t, &token, &openid, &old_key).await,
        87009,
        "invalid signature",
    );
    assert_ok(&check(&t, &token, &openid, &new_key).await);
}

#[tokio::test]
async fn key_rotates_once_the_default_minimum_period_has_passed() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, old_key) = logged_in(&t, "alice").await;

    t.advance(secs(299));
    let grant = t.login("alice").await;
    assert!(!grant.mock.rotated, "4m59s after the rotation: no new key");
    assert_eq!(grant.mock.session_key, old_key);

    let (status, clock) = t
        .control(Method::POST, "/clock", Some(json!({ "advance": "1s" })))
        .await;
    assert_eq!(status, 200, "{clock}");
    let grant = t.login("alice").await;
    assert!(
        grant.mock.rotated,
        "5 minutes after the rotation: a new key"
    );
    assert_ne!(grant.mock.session_key, old_key);
    let r = t.exchange(&grant.code).await;
    let new_key = r.json()["session_key"].as_str().expect("key").to_owned();
    assert_eq!(new_key, grant.mock.session_key);

    let r = check(&t, &token, &openid, &old_key).await;
    assert_wx_err(&r, 87009, "invalid signature");
    assert_ok(&check(&t, &token, &openid, &new_key).await);
}

#[tokio::test]
async fn repeated_login_within_min_rotation_keeps_the_key() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let first = t.login("alice").await;
    assert!(first.mock.rotated);
    let key = first.mock.session_key.clone();
    assert_key_shape(&key);

    let mut codes = vec![first.code.clone()];
    for _ in 0..3 {
        t.advance(secs(30));
        let g = t.login("alice").await;
        assert!(!g.mock.rotated);
        assert_eq!(g.mock.session_key, key);
        assert!(!codes.contains(&g.code), "every wx.login gives a new code");
        codes.push(g.code);
    }
    for code in &codes {
        let r = t.exchange(code).await;
        assert_eq!(r.errcode(), 0, "{}", r.body);
        assert_eq!(r.json()["session_key"].as_str(), Some(key.as_str()));
    }
    assert_ok(&check(&t, &token, first.mock.openid.as_str(), &key).await);
}

#[tokio::test]
async fn reset_returns_a_new_key_and_voids_the_old_one() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (openid, old_key) = logged_in(&t, "alice").await;

    let r = reset(&t, &token, &openid, &old_key).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let new_key = v["session_key"].as_str().expect("session_key").to_owned();
    assert_eq!(
        r.body,
        format!(r#"{{"errcode":0,"errmsg":"ok","openid":"{openid}","session_key":"{new_key}"}}"#),
        "exact body, key order errcode, errmsg, openid, session_key"
    );
    assert_ne!(new_key, old_key);
    assert_key_shape(&new_key);

    assert_wx_err(
        &check(&t, &token, &openid, &old_key).await,
        87009,
        "invalid signature",
    );
    assert_wx_err(
        &reset(&t, &token, &openid, &old_key).await,
        87009,
        "invalid signature",
    );
    assert_ok(&check(&t, &token, &openid, &new_key).await);

    // A wx.login right after the reset keeps the reset key, and the exchange returns it.
    let grant = t.login("alice").await;
    assert!(!grant.mock.rotated);
    assert_eq!(grant.mock.session_key, new_key);
    let r = t.exchange(&grant.code).await;
    assert_eq!(r.json()["session_key"].as_str(), Some(new_key.as_str()));
}

#[tokio::test]
async fn session_key_ttl_expiry_is_87007() {
    let t = TestMock::new().await;
    t.set_options(json!({ "session_key_ttl": "1h" })).await;
    let token = t.token().await;
    let (openid, key) = logged_in(&t, "alice").await;

    t.advance(secs(3599));
    assert_ok(&check(&t, &token, &openid, &key).await);

    t.advance(secs(1));
    let r = check(&t, &token, &openid, &key).await;
    assert_wx_err(&r, 87007, "session_key is not existed or expired");
    let r = reset(&t, &token, &openid, &key).await;
    assert_wx_err(&r, 87007, "session_key is not existed or expired");
}

#[tokio::test]
async fn reset_key_inherits_the_old_expiry() {
    let t = TestMock::new().await;
    t.set_options(json!({ "session_key_ttl": "1h" })).await;
    let token = t.token().await;
    let (openid, old_key) = logged_in(&t, "alice").await;

    t.advance(secs(1800));
    let r = reset(&t, &token, &openid, &old_key).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let new_key = r.json()["session_key"].as_str().expect("key").to_owned();

    t.advance(secs(1799));
    assert_ok(&check(&t, &token, &openid, &new_key).await);
    t.advance(secs(1));
    let r = check(&t, &token, &openid, &new_key).await;
    assert_wx_err(&r, 87007, "session_key is not existed or expired");
}

#[tokio::test]
async fn openid_of_another_app_is_40003() {
    let t = TestMock::new().await;
    let (status, app_b) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app_b}");
    let appid_b = app_b["appid"].as_str().expect("appid").to_owned();
    let secret_b = app_b["secret"].as_str().expect("secret").to_owned();
    assert_ne!(appid_b, t.app.appid.as_str());
    let r = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid_b}&secret={secret_b}"
        ))
        .await;
    let token_b = r.json()["access_token"]
        .as_str()
        .expect("token B")
        .to_owned();
    let token_a = t.token().await;

    let (openid_a, key_a) = logged_in(&t, "alice").await;
    // alice never logged in to B.
    let r = check(&t, &token_b, &openid_a, &key_a).await;
    assert_wx_err(&r, 40003, "invalid openid");

    // Now she has a session in B too: A's openid is still foreign to B.
    let grant_b = t
        .login_in(&mock_server::ids::AppId::new(&appid_b), "alice")
        .await;
    let openid_b = grant_b.mock.openid.as_str().to_owned();
    let key_b = grant_b.mock.session_key.clone();
    assert_ne!(openid_b, openid_a);
    let r = check(&t, &token_b, &openid_a, &key_a).await;
    assert_wx_err(&r, 40003, "invalid openid");
    let r = check(&t, &token_b, &openid_a, &key_b).await;
    assert_wx_err(&r, 40003, "invalid openid");
    let r = check(&t, &token_a, &openid_b, &key_b).await;
    assert_wx_err(&r, 40003, "invalid openid");
    let r = reset(&t, &token_b, &openid_a, &key_a).await;
    assert_wx_err(&r, 40003, "invalid openid");

    // Each openid with its own app's token is fine.
    assert_ok(&check(&t, &token_a, &openid_a, &key_a).await);
    assert_ok(&check(&t, &token_b, &openid_b, &key_b).await);
}

/// `POST /__mock__/wx/checkSession` for `user` in the default app: (errMsg, reason).
async fn client_check(t: &TestMock, user: &str) -> (String, Option<String>) {
    let (status, v) = t
        .control(
            Method::POST,
            "/wx/checkSession",
            Some(json!({ "user": user })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    (
        v["errMsg"].as_str().expect("errMsg").to_owned(),
        v["reason"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn wx_check_session_follows_the_key_of_the_last_wx_login() {
    let t = TestMock::new().await;
    t.set_options(json!({ "session_key_ttl": "1h" })).await;
    let fail = |reason: &str| ("checkSession:fail".to_owned(), Some(reason.to_owned()));
    let ok = ("checkSession:ok".to_owned(), None);
    assert_eq!(client_check(&t, "alice").await, fail("never_logged_in"));

    let (openid, key) = logged_in(&t, "alice").await;
    assert_eq!(client_check(&t, "alice").await, ok);

    // The backend resets the key: the mini-program's key from its last wx.login is stale.
    let token = t.token().await;
    let r = reset(&t, &token, &openid, &key).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(client_check(&t, "alice").await, fail("reset"));
    // A new wx.login hands out the current key again.
    logged_in(&t, "alice").await;
    assert_eq!(client_check(&t, "alice").await, ok);

    // The key outlives nothing: past its lifetime, the check fails until the next wx.login.
    t.advance(secs(3600));
    assert_eq!(client_check(&t, "alice").await, fail("expired"));
    logged_in(&t, "alice").await;
    assert_eq!(client_check(&t, "alice").await, ok);
    // Another user's login does not count for alice, and checking changes nothing.
    assert_eq!(client_check(&t, "bob").await, fail("never_logged_in"));
    assert_eq!(client_check(&t, "alice").await, ok);
}

#[tokio::test]
async fn foreign_codes_are_refused_unless_accepted_then_used_once_as_the_configured_user() {
    let t = TestMock::new().await;
    let foreign = "0a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P";
    t.exchange(foreign).await.assert_err(40029);

    t.set_options(json!({ "accept_foreign_codes": true, "foreign_code_user": "devtools" }))
        .await;
    let r = t.exchange(foreign).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let (status, user) = t.control(Method::GET, "/users/devtools", None).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(r.json()["openid"], user["apps"][0]["openid"]);
    assert_eq!(r.json()["session_key"], user["apps"][0]["session_key"]);
    // Once, like any code.
    t.exchange(foreign).await.assert_err(40163);
    // The mock's own codes still work as ever.
    let (_, key) = logged_in(&t, "alice").await;
    assert_key_shape(&key);

    // Under strict, a foreign user that does not exist is not made up: the code stays unknown.
    t.set_options(json!({ "strict": true, "foreign_code_user": "nobody" }))
        .await;
    t.exchange("0ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")
        .await
        .assert_err(40029);
    let (status, _) = t.control(Method::GET, "/users/nobody", None).await;
    assert_eq!(status, 404);
}
