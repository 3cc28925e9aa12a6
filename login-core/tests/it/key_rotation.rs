//! Rotating the server key: the new key seals, the previous ones (`previous_server_keys`) still
//! open what they sealed, a metric says which key opened each stored session_key, and a key
//! retired too early leaves exactly the values it sealed unreadable.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use login_core::config::ServerKeyText;

use crate::helpers::*;

fn key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

const OPENED_CURRENT: &str = "login_core_sealed_values_opened_total{key=\"current\"}";
const OPENED_PREVIOUS: &str = "login_core_sealed_values_opened_total{key=\"previous\"}";

#[tokio::test]
async fn the_new_key_seals_and_the_previous_one_still_opens() {
    let app = TestApp::configured(|c| c.server_key = Some(ServerKeyText(key(1)))).await;
    let (alice, _) = app.login("alice").await;
    let (bob, _) = app.login("bob").await;
    app.check(&alice).await;
    assert_eq!(app.metric(OPENED_CURRENT).await, 1.0);

    // Rotated: key 2 seals, key 1 still opens. Sessions made before go on working.
    let app = app
        .restart_core(|c| {
            c.server_key = Some(ServerKeyText(key(2)));
            c.previous_server_keys = vec![ServerKeyText(key(1))];
        })
        .await;
    app.check(&alice).await;
    app.check(&bob).await;
    assert_eq!(app.metric(OPENED_PREVIOUS).await, 2.0);
    assert_eq!(app.metric(OPENED_CURRENT).await, 0.0);

    // alice logs in again: her session_key is sealed under key 2 now.
    let (alice, _) = app.login("alice").await;
    app.check(&alice).await;
    assert_eq!(app.metric(OPENED_CURRENT).await, 1.0);

    // Key 1 retired while bob's value is still under it: alice is fine, bob's stored key no
    // longer opens (500 `internal`, logged) until he logs in again.
    let app = app
        .restart_core(|c| c.server_key = Some(ServerKeyText(key(2))))
        .await;
    app.check(&alice).await;
    app.get("/api/session/check", Some(&bob))
        .await
        .assert_error(500, "internal");
    let (bob, _) = app.login("bob").await;
    app.check(&bob).await;
}

#[tokio::test]
async fn a_previous_key_that_is_not_a_key_refuses_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let config = login_core::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: format!("sqlite://{}", dir.path().join("core.db").display()),
        server_key: Some(ServerKeyText(key(1))),
        previous_server_keys: vec![ServerKeyText(key(2)), ServerKeyText("c2hvcnQ=".into())],
        apps: vec![login_core::config::AppConfig {
            appid: login_core::ids::AppId::new("wx1"),
            secret: login_core::ids::AppSecret::new("s"),
            open_platform: None,
            registration: login_core::config::Registration::Auto,
        }],
        ..login_core::Config::default()
    };
    let e = login_core::spawn(config).await.expect_err("refused");
    let text = e.to_string();
    assert!(
        text.contains("previous_server_keys[1] must be base64 of 32 bytes"),
        "{text}"
    );
    assert!(!text.contains("c2hvcnQ"), "the key is not echoed: {text}");
}
