//! Sessions over HTTP: bearer authentication of every protected endpoint, refresh, logout,
//! idle and absolute expiry on the shared clock, `/api/session/check` against the mock's
//! checksession, and sessions surviving a restart of login-core.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use login_core::config::ServerKeyText;
use login_core::crypto::login_signature;
use login_core::ids::SessionKey;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const MIN: u64 = 60;

fn mins(n: u64) -> Duration {
    Duration::from_secs(n * MIN)
}

/// Every endpoint that needs a session, with a body that would be acceptable otherwise.
fn protected() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/me", None),
        (Method::GET, "/api/session/check", None),
        (Method::POST, "/api/session/refresh", None),
        (Method::POST, "/api/logout", None),
        (
            Method::POST,
            "/api/me/profile",
            Some(json!({"nickName": "小明"})),
        ),
        (Method::POST, "/api/me/phone", Some(json!({"code": "abc"}))),
    ]
}

/// Asserts a 401 `login_required` with a Bearer challenge.
#[track_caller]
fn assert_login_required(r: &Resp, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    r.assert_error(401, "login_required");
    let challenge = r
        .header("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate header"));
    assert!(
        challenge.starts_with("Bearer"),
        "{what}: challenge {challenge:?}"
    );
}

/// Asserts that `GET /api/me` with `token` is refused as [`assert_login_required`] says.
async fn assert_me_refused(app: &TestApp, token: &str, what: &str) {
    assert_login_required(&app.get("/api/me", Some(token)).await, what);
}

/// A login-core whose sessions last an idle hour, renewed at most every ten minutes, and end
/// after `max_lifetime` if given.
async fn hour_sessions(max_lifetime: Option<Duration>) -> TestApp {
    TestApp::configured(move |c| {
        c.sessions.ttl = Duration::from_secs(3600);
        c.sessions.renew_interval = Duration::from_secs(600);
        if let Some(max) = max_lifetime {
            c.sessions.max_lifetime = max;
        }
    })
    .await
}

/// Asserts that the mock answered the last checksession with `errcode`.
async fn assert_last_checksession(app: &TestApp, errcode: i64, what: &str) {
    let answered = app.errcodes("checksession").await;
    assert_eq!(answered.last().copied().flatten(), Some(errcode), "{what}");
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: &Option<Value>,
    auth: Option<&str>,
) -> Resp {
    let mut req = app.http.request(method.clone(), app.url(path));
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    app.send(req).await
}

#[tokio::test]
async fn every_protected_endpoint_needs_a_valid_bearer_token() {
    let app = TestApp::new().await;
    // A real session exists, so "unknown" is not just "empty database".
    let (token, _) = app.login("alice").await;
    let unknown = "A".repeat(43);
    assert_ne!(token, unknown);
    let before = app.stats().await;
    for (method, path, body) in protected() {
        for (auth, what) in [
            (None, "no header".to_owned()),
            (Some("Basic xyz".to_owned()), "Basic".to_owned()),
            (
                Some(format!("Basic {token}")),
                "Basic with a real token".to_owned(),
            ),
            (Some("Bearer".to_owned()), "Bearer without token".to_owned()),
            (
                Some("Bearer not-a-token!".to_owned()),
                "malformed".to_owned(),
            ),
            (
                Some(format!("Bearer {}", &token[..42])),
                "truncated".to_owned(),
            ),
            (Some(format!("Bearer {unknown}")), "unknown".to_owned()),
        ] {
            let r = call(&app, &method, path, &body, auth.as_deref()).await;
            assert_login_required(&r, &format!("{method} {path} with {what}"));
        }
    }
    assert_eq!(app.stats().await, before, "no request wrote anything");
    // The real token still works, and the scheme is case-insensitive.
    app.me(&token).await;
    let r = app
        .get_with_authorization("/api/me", &format!("bearer {token}"))
        .await;
    r.ok();
}

#[tokio::test]
async fn refresh_rotates_the_token() {
    let app = TestApp::new().await;
    let (old, login) = app.login("alice").await;
    app.advance(mins(3));
    let body = app.refresh(&old).await.ok();
    let new = token_of(&body);
    assert_eq!(new.len(), 43);
    assert_ne!(new, old);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7 * 86_400);
    assert_eq!(
        body["expires_at"].as_i64().expect("expires_at"),
        START + 3 * 60 + 7 * 86_400
    );
    assert_eq!(app.me(&new).await["id"], login["user"]["id"]);
    assert_me_refused(&app, &old, "old token after refresh").await;
    assert_login_required(&app.refresh(&old).await, "refresh with the old token");
    // Refresh without a body works too (the endpoint takes none).
    let r = app
        .send(
            app.http
                .post(app.url("/api/session/refresh"))
                .bearer_auth(&new),
        )
        .await;
    let newer = token_of(&r.ok());
    assert_me_refused(&app, &new, "second old token").await;
    app.me(&newer).await;
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let (other, _) = app.login("alice").await;
    let r = app.post("/api/logout", Some(&token), json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty(), "204 has no body: {:?}", r.text);
    assert_me_refused(&app, &token, "after logout").await;
    assert_login_required(
        &app.post("/api/logout", Some(&token), json!({})).await,
        "logout again",
    );
    assert_login_required(&app.refresh(&token).await, "refresh after logout");
    // Only that session ended.
    app.me(&other).await;
}

#[tokio::test]
async fn idle_sessions_expire_and_use_slides_the_expiry() {
    let app = hour_sessions(None).await;
    let (token, body) = app.login("alice").await;
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["expires_at"], START + 3600);

    // A use within the renew interval does not move the expiry.
    app.advance(mins(5));
    let r = app.check(&token).await;
    assert_eq!(r["expires_at"], START + 3600);

    // 59 minutes after login: still valid, and this use slides the expiry to now + 1 h.
    app.advance(mins(54));
    let r = app.check(&token).await;
    assert_eq!(r["valid"], true);
    assert_eq!(r["expires_at"], START + 59 * 60 + 3600);

    // Another 59 minutes (1 h 58 min after login, past the original hour): still valid.
    app.advance(mins(59));
    app.me(&token).await;
    let r = app.check(&token).await;
    assert_eq!(r["expires_at"], START + 118 * 60 + 3600);

    // One idle hour ends it.
    app.advance(mins(60));
    assert_me_refused(&app, &token, "after 1 h idle").await;
    assert_login_required(&app.refresh(&token).await, "refresh after 1 h idle");
}

#[tokio::test]
async fn idle_expiry_is_exact_to_the_second() {
    let app = hour_sessions(None).await;
    let (a, _) = app.login("alice").await;
    let (b, _) = app.login("bob").await;
    app.advance(Duration::from_secs(3599));
    app.me(&a).await;
    app.advance(Duration::from_secs(1));
    // `a` was renewed a second ago; `b` was not used and ends exactly at one hour.
    app.me(&a).await;
    assert_me_refused(&app, &b, "at exactly 1 h").await;
}

#[tokio::test]
async fn absolute_lifetime_ends_a_session_in_use() {
    let app = hour_sessions(Some(Duration::from_secs(7200))).await;
    let (token, _) = app.login("alice").await;
    let (refreshed_from, _) = app.login("alice").await;
    let end = START + 7200;
    app.advance(mins(50));
    let r = app.check(&token).await;
    assert_eq!(r["expires_at"], START + 50 * 60 + 3600);
    app.me(&refreshed_from).await;
    app.advance(mins(50));
    // Renewal is clamped to the absolute end.
    let r = app.check(&token).await;
    assert_eq!(r["expires_at"], end);
    // A refresh keeps the absolute end too.
    let r = app.refresh(&refreshed_from).await.ok();
    assert_eq!(r["expires_at"], end);
    assert_eq!(r["expires_in"], 20 * 60);
    let refreshed = token_of(&r);
    app.advance(mins(19));
    app.me(&token).await;
    app.me(&refreshed).await;
    app.advance(mins(1));
    assert_me_refused(&app, &token, "at the absolute end").await;
    assert_me_refused(&app, &refreshed, "refreshed token at the absolute end").await;
    // A new login starts a new lifetime.
    let (fresh, _) = app.login("alice").await;
    app.me(&fresh).await;
}

/// jscode2session straight at the mock, as another backend of the same app would.
async fn exchange_at_mock(app: &TestApp, code: &str) -> Value {
    let secret = app.mock.default_app().secret;
    let url = format!(
        "{}/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
        app.mock.base_url(),
        app.appid,
        secret.as_str()
    );
    let text = reqwest::get(url)
        .await
        .expect("mock answers")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).expect("json")
}

#[tokio::test]
async fn check_is_valid_after_login_and_signs_with_the_session_key() {
    let app = TestApp::new().await;
    let Login {
        token,
        body: login,
        grant,
    } = app.login_with_grant("alice").await;
    assert_eq!(app.calls("checksession").await, 0);
    let r = app.check(&token).await;
    assert_eq!(r, json!({"valid": true, "expires_at": login["expires_at"]}));

    let entries = app.journal_entries("endpoint=checksession").await;
    assert_eq!(entries.len(), 1, "one checksession call");
    let e = &entries[0];
    assert_eq!(e.method, "GET");
    assert_eq!(e.errcode, Some(0), "{}", e.response);
    assert_eq!(e.params["sig_method"], "hmac_sha256");
    assert_eq!(e.params["openid"], grant.mock.openid.as_str());
    let expected = login_signature(&SessionKey::new(grant.mock.session_key.clone()), b"");
    assert_eq!(e.params["signature"], expected.as_str());
    assert!(
        e.params["access_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
}

#[tokio::test]
async fn check_reports_a_rotated_session_key_as_stale() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    app.check(&token).await;

    // Within the mock's minimum rotation period a new wx.login keeps the key.
    app.advance(mins(4));
    let same = app.grant("alice").await;
    assert!(!same.mock.rotated);
    app.check(&token).await;

    // Past it, the mini-program's next wx.login rotates the key; the new code is exchanged
    // elsewhere (straight at the mock), so login-core still holds the old key.
    app.advance(mins(2));
    let grant = app.grant("alice").await;
    assert!(grant.mock.rotated, "the key rotated");
    let exchanged = exchange_at_mock(&app, &grant.code).await;
    assert_eq!(exchanged["session_key"], grant.mock.session_key.as_str());

    // `send` refuses any body mentioning "session_key", and this error's code does; check
    // instead that neither key leaks.
    let r = app.check_unchecked(&token).await;
    r.assert_error(401, "session_key_stale");
    assert!(!r.text.contains(grant.mock.session_key.as_str()));
    assert!(r.header("www-authenticate").is_some());
    assert_last_checksession(&app, 87009, "the mock said invalid signature").await;
    // The login session itself is still valid: only WeChat's side is stale.
    app.me(&token).await;

    // Logging in again through login-core stores the new key; its session checks fine.
    let (fresh, _) = app.login("alice").await;
    app.check(&fresh).await;
}

#[tokio::test]
async fn sessions_survive_a_restart_with_the_same_server_key() {
    let app = TestApp::new().await;
    let (token, login) = app.login("alice").await;
    let key_path = app.data_dir().join("server.key");
    let key_file = std::fs::read_to_string(&key_path).expect("server key file");
    let app = app.restart_core(|_| {}).await;
    assert_eq!(
        std::fs::read_to_string(&key_path).expect("server key file"),
        key_file,
        "the key file was reused, not replaced"
    );
    assert_eq!(app.me(&token).await["id"], login["user"]["id"]);
    let r = app.check(&token).await;
    assert_eq!(r["valid"], true);
    // And new logins work after the restart.
    let (again, body) = app.login("alice").await;
    assert_ne!(again, token);
    assert_eq!(body["user"]["is_new"], false);
    assert_eq!(app.stats().await.users, 1);
}

#[tokio::test]
async fn another_server_key_cannot_open_stored_session_keys() {
    let app = TestApp::new().await;
    let (token, login) = app.login("alice").await;
    let other = STANDARD.encode([0x5a_u8; 32]);
    let app = app
        .restart_core(move |c| c.server_key = Some(ServerKeyText(other)))
        .await;
    // The session itself (a token hash) does not depend on the server key.
    assert_eq!(app.me(&token).await["id"], login["user"]["id"]);
    // The sealed session_key does: an internal error, not a panic, and the server stays up.
    let r = app.get("/api/session/check", Some(&token)).await;
    r.assert_error(500, "internal");
    assert_eq!(app.calls("checksession").await, 0, "WeChat was not asked");
    app.me(&token).await;
    app.get("/healthz", None).await.ok();
    // A new login re-seals the key under the new server key; then check works again.
    let (fresh, _) = app.login("alice").await;
    app.check(&fresh).await;
    app.check(&token).await;
}

#[tokio::test]
async fn check_reports_an_expired_session_key_as_stale() {
    let app = TestApp::new().await;
    app.set_mock_options(json!({"session_key_ttl": "1h"})).await;
    let (token, _) = app.login("alice").await;
    app.advance(mins(59));
    app.check(&token).await;
    app.advance(mins(1));
    app.check_unchecked(&token)
        .await
        .assert_error(401, "session_key_stale");
    assert_last_checksession(&app, 87007, "the mock said expired").await;
    // The login session (7 days) outlives WeChat's session_key.
    app.me(&token).await;
}
