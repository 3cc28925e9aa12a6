//! `POST /api/login`: first and returning logins, unionid joining, and every upstream error.

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

    let me = app.get("/api/me", Some(&token)).await.ok();
    assert_eq!(me["id"], id);
    assert_eq!(me["apps"], json!([app.appid.as_str()]));
}
