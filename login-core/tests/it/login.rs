//! `POST /api/login`: first and returning logins, unionid joining, and every upstream error.

use std::time::Duration;

use mock_server::ids::AppId;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn first_login_creates_a_user_and_returning_login_finds_it() {
    let app = TestApp::new().await;
    let (token, body) = app.login("alice").await;
    assert_eq!(token.len(), 43);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["is_new"], true);
    assert_eq!(body["user"]["phone_bound"], false);
    assert_eq!(body["expires_in"], 7 * 86_400);
    let id = body["user"]["id"].clone();

    let (token2, again) = app.login("alice").await;
    assert_ne!(token, token2);
    assert_eq!(again["user"]["is_new"], false);
    assert_eq!(again["user"]["id"], id);
    assert_eq!(app.stats().await.users, 1);

    let me = app.me(&token).await;
    assert_eq!(me["id"], id);
    assert_eq!(me["apps"], json!([app.appid.as_str()]));
}

#[tokio::test]
async fn login_with_an_explicit_appid() {
    let app = TestApp::new().await;
    let (token, body) = app.login_in(&app.appid.clone(), "alice").await;
    assert_eq!(body["user"]["is_new"], true);
    assert_eq!(body["user"]["apps"], json!([app.appid.as_str()]));
    assert_eq!(app.me(&token).await["id"], body["user"]["id"]);
    assert_eq!(app.calls("jscode2session").await, 1);
}

#[tokio::test]
async fn an_unknown_appid_is_400_unknown_app_and_wechat_is_not_called() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    let resp = app.login_code_in("wx0000000000000000", &code).await;
    let message = resp.assert_error(400, "unknown_app");
    assert!(message.contains("`appid`"), "{message}");
    assert!(message.contains("wx0000000000000000"), "{message}");
    assert_eq!(app.calls("jscode2session").await, 0);
    app.assert_nothing_stored().await;
    // The code was not spent: it still logs in to the right app.
    app.login_code(&code).await.ok();
}

#[tokio::test]
async fn malformed_login_bodies_name_the_field() {
    let app = TestApp::new().await;
    let long = "a".repeat(129);
    let cases = [
        (json!({}), "code", "required"),
        (json!({"code": ""}), "code", "empty"),
        (json!({"code": long}), "code", "128"),
        (json!({"code": "abc def"}), "code", "letters"),
        (json!({"code": "abc+/="}), "code", "letters"),
        (json!({"code": "码码码"}), "code", "letters"),
        (json!({"code": 123}), "code", ""),
        (json!({"code": null}), "code", ""),
        (json!({"code": "abc", "foo": 1}), "foo", "not accepted"),
        (json!({"code": "abc", "appid": 7}), "appid", ""),
        (json!([]), "body", "JSON object"),
        (json!("abc"), "body", "JSON object"),
    ];
    for (body, field, reason) in cases {
        let resp = app.post("/api/login", None, body.clone()).await;
        let message = resp.assert_error(400, "invalid_field");
        assert!(
            message.contains(&format!("`{field}`")),
            "{body}: the message should name `{field}`: {message}"
        );
        assert!(message.contains(reason), "{body}: {message}");
    }

    // Not JSON at all.
    let resp = app
        .post_json_bytes("/api/login", None, b"code=abc".to_vec())
        .await;
    let message = resp.assert_error(400, "invalid_json");
    assert!(message.contains("JSON"), "{message}");
    // Trailing garbage after the object.
    let resp = app
        .post_json_bytes("/api/login", None, br#"{"code":"abc"} x"#.to_vec())
        .await;
    resp.assert_error(400, "invalid_json");

    // A field given twice.
    let resp = app
        .post_json_bytes(
            "/api/login",
            None,
            br#"{"code":"abc","code":"def"}"#.to_vec(),
        )
        .await;
    let message = resp.assert_error(400, "invalid_field");
    assert!(message.contains("`code`"), "{message}");
    // A body over the limit (16 KiB by default).
    let big = json!({ "code": "a".repeat(17 * 1024) })
        .to_string()
        .into_bytes();
    let resp = app.post_json_bytes("/api/login", None, big).await;
    resp.assert_error(413, "payload_too_large");

    // JSON without a Content-Type, or with another one.
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let resp = app
            .post_bytes("/api/login", None, ct, br#"{"code":"abc"}"#.to_vec())
            .await;
        let message = resp.assert_error(415, "unsupported_media_type");
        assert!(message.contains("application/json"), "{ct:?}: {message}");
    }
    // A Content-Type with parameters is still JSON.
    let resp = app
        .post_bytes(
            "/api/login",
            None,
            Some("application/json; charset=utf-8"),
            br#"{"code":"abc"}"#.to_vec(),
        )
        .await;
    resp.assert_error(400, "code_invalid");

    // Only the last request reached WeChat; nothing was written.
    assert_eq!(app.calls("jscode2session").await, 1);
    app.assert_nothing_stored().await;
}

#[tokio::test]
async fn a_code_of_128_characters_is_accepted_and_asked_of_wechat() {
    let app = TestApp::new().await;
    let code = "A".repeat(128);
    let message = app
        .login_code(&code)
        .await
        .assert_error(400, "code_invalid");
    assert!(message.contains("wx.login"), "{message}");
    let asked = app.journal_entries("endpoint=jscode2session").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].params["js_code"], code.as_str());
    assert_eq!(asked[0].errcode, Some(40029));
    app.assert_nothing_stored().await;
}

#[tokio::test]
async fn a_used_code_is_400_code_used() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    app.login_code(&code).await.ok();
    let message = app.login_code(&code).await.assert_error(400, "code_used");
    assert!(message.contains("wx.login"), "{message}");
    assert_eq!(app.errcodes("jscode2session").await, [Some(0), Some(40163)]);
    assert_eq!(app.counts().await, (1, 1, 1));
    assert_eq!(
        app.metric("login_core_logins_total{result=\"code_used\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn a_code_lives_five_minutes() {
    let app = TestApp::new().await;
    let young = app.wx_login("alice").await;
    app.advance(Duration::from_secs(299));
    app.login_code(&young).await.ok();

    let old = app.wx_login("alice").await;
    app.advance(Duration::from_secs(300));
    app.login_code(&old).await.assert_error(400, "code_invalid");

    let older = app.wx_login("bob").await;
    app.advance(Duration::from_secs(3600));
    app.login_code(&older)
        .await
        .assert_error(400, "code_invalid");

    let (users, _, sessions) = app.counts().await;
    assert_eq!((users, sessions), (1, 1));
}

#[tokio::test]
async fn a_code_of_another_app_is_400_code_invalid() {
    let other = AppId::new("wx00000000000000a1");
    let app = TestApp::with_apps(vec![plain_app(other.as_str())]).await;
    let foreign = app.wx_login_in(&other, "alice").await;
    app.login_code(&foreign)
        .await
        .assert_error(400, "code_invalid");
    app.assert_nothing_stored().await;
    // The code is still good in its own app.
    let body = app.login_code_in(other.as_str(), &foreign).await.ok();
    assert_eq!(body["user"]["apps"], json!([other.as_str()]));
}

#[tokio::test]
async fn sibling_apps_of_one_open_platform_share_the_user_by_unionid() {
    let sibling = AppId::new("wx00000000000000b2");
    let app = TestApp::on_platform_with(sibling_app(sibling.as_str())).await;
    let home = app.grant("alice").await;
    let away = app.grant_in(&sibling, "alice").await;
    assert_ne!(home.mock.openid, away.mock.openid);
    assert!(home.mock.unionid.is_some());
    assert_eq!(home.mock.unionid, away.mock.unionid);

    let first = app.login_code(&home.code).await.ok();
    assert_eq!(first["user"]["is_new"], true);
    let second = app.login_code_in(sibling.as_str(), &away.code).await.ok();
    assert_eq!(second["user"]["is_new"], false);
    assert_eq!(second["user"]["id"], first["user"]["id"]);
    let mut apps = vec![app.appid.as_str().to_owned(), sibling.as_str().to_owned()];
    apps.sort();
    assert_eq!(second["user"]["apps"], json!(apps));

    let me = app.get("/api/me", first["token"].as_str()).await.ok();
    assert_eq!(me["apps"], json!(apps));
    assert_eq!(app.counts().await, (1, 2, 2));

    // Another person in the sibling app is another user.
    let (_, bob) = app.login_in(&sibling, "bob").await;
    assert_ne!(bob["user"]["id"], first["user"]["id"]);
    assert_eq!(app.stats().await.users, 2);
}

#[tokio::test]
async fn an_app_without_open_platform_gets_a_separate_user() {
    let lone = AppId::new("wx00000000000000c3");
    let app = TestApp::on_platform_with(plain_app(lone.as_str())).await;
    let (_, home) = app.login("alice").await;
    let grant = app.grant_in(&lone, "alice").await;
    assert_eq!(grant.mock.unionid, None);
    let away = app.login_code_in(lone.as_str(), &grant.code).await.ok();
    assert_eq!(away["user"]["is_new"], true);
    assert_ne!(away["user"]["id"], home["user"]["id"]);
    assert_eq!(away["user"]["apps"], json!([lone.as_str()]));
    let (users, identities, _) = app.counts().await;
    assert_eq!((users, identities), (2, 2));
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_session_key_is_stored_sealed_and_never_answered() {
    let app = TestApp::new().await;
    let grant = app.grant("alice").await;
    let session_key = grant.mock.session_key.clone();
    // The mock's own view agrees on the key it will hand out.
    let user = app.mock.control().user("alice").await.expect("user");
    assert_eq!(
        user.apps[0].session_key.as_deref(),
        Some(session_key.as_str())
    );

    let resp = app.login_code(&grant.code).await;
    let body = resp.ok();
    assert!(!resp.text.contains(&session_key), "{}", resp.text);
    let token = token_of(&body);
    app.me(&token).await;

    let raw_key = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &session_key)
        .expect("the mock's session_key is base64");
    assert_eq!(raw_key.len(), 16);

    let files = app.database_files();
    assert!(
        files.iter().any(|(n, _)| n == "core.db"),
        "the database exists"
    );
    let all: Vec<u8> = files.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    // A positive control: what is stored in clear can be found.
    assert!(
        contains(&all, grant.mock.openid.as_str().as_bytes()),
        "the openid is stored in clear: the files read are the right ones"
    );
    for (name, bytes) in &files {
        assert!(
            !contains(bytes, session_key.as_bytes()),
            "{name} holds the session_key's text"
        );
        assert!(
            !contains(bytes, &raw_key),
            "{name} holds the session_key's bytes"
        );
        assert!(
            !contains(bytes, token.as_bytes()),
            "{name} holds the login token"
        );
    }
}

#[tokio::test]
async fn a_json_array_is_not_a_login_body() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    // The body must be an object; serde would also read a struct from an array of its fields.
    let resp = app.post("/api/login", None, json!([code])).await;
    let message = resp.assert_error(400, "invalid_field");
    assert!(message.contains("`body`"), "{message}");
    assert_eq!(app.calls("jscode2session").await, 0);
    app.assert_nothing_stored().await;
}
