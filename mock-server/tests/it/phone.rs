//! Tests: phone numbers over HTTP: `POST /wxa/business/getuserphonenumber` with codes from the
//! simulated getPhoneNumber button (`wechat-api.md` section 6).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, START, TestMock};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `POST /wxa/business/getuserphonenumber?access_token=<token>` with `body` as given.
async fn get_phone(t: &TestMock, token: &str, body: &str) -> Raw {
    t.post(
        &format!("/wxa/business/getuserphonenumber?access_token={token}"),
        body,
    )
    .await
}

fn code_body(code: &str) -> String {
    json!({ "code": code }).to_string()
}

/// The exact success body WeChat sends.
fn success_body(pure: &str, display: &str, cc: &str, timestamp: i64, appid: &str) -> String {
    format!(
        r#"{{"errcode":0,"errmsg":"ok","phone_info":{{"phoneNumber":"{display}","purePhoneNumber":"{pure}","countryCode":"{cc}","watermark":{{"timestamp":{timestamp},"appid":"{appid}"}}}}}}"#
    )
}

/// Asserts 40029 with getuserphonenumber's errmsg: `invalid code hint: [XXXX] rid: t-r-r`.
#[track_caller]
fn assert_invalid_code(r: &Raw, now_secs: i64) {
    // assert_err checks the exact errcode/errmsg shape and key order.
    r.assert_err(40029);
    let v = r.json();
    let msg = v["errmsg"].as_str().expect("errmsg");
    assert_eq!(r.errmsg_base(), "invalid code", "{msg}");
    let rest = msg
        .strip_prefix("invalid code hint: [")
        .unwrap_or_else(|| panic!("errmsg {msg:?} lacks \"invalid code hint: [\""));
    let (hint, rid) = rest
        .split_once("] rid: ")
        .unwrap_or_else(|| panic!("errmsg {msg:?} lacks \"] rid: \""));
    assert_eq!(hint.len(), 16, "hint {hint:?}");
    assert!(
        hint.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "hint {hint:?}"
    );
    let groups: Vec<&str> = rid.split('-').collect();
    assert_eq!(groups.len(), 3, "rid {rid:?}");
    for g in &groups {
        assert!(
            g.len() == 8
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "rid group {g:?} in {msg:?}"
        );
    }
    assert_eq!(groups[0], format!("{now_secs:08x}"));
}

/// Creates an app through the control plane: (appid, secret).
async fn create_app(t: &TestMock) -> (String, String) {
    let (status, app) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app}");
    (
        app["appid"].as_str().expect("appid").to_owned(),
        app["secret"].as_str().expect("secret").to_owned(),
    )
}

async fn token_of(t: &TestMock, appid: &str, secret: &str) -> String {
    let r = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"
        ))
        .await;
    r.json()["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("token: {}", r.body))
        .to_owned()
}

/// A phone code through `POST /__mock__/wx/getPhoneNumber`: (status, body).
async fn phone_code_in(t: &TestMock, appid: &str, user: &str) -> (u16, Value) {
    t.control(
        Method::POST,
        "/wx/getPhoneNumber",
        Some(json!({ "appid": appid, "user": user })),
    )
    .await
}

#[tokio::test]
async fn success_body_is_byte_exact() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let grant = t.phone_code("alice").await;
    assert_eq!(grant.mock.phone.country_code, "86");
    let number = grant.mock.phone.number.clone();
    assert_eq!(number.len(), 11, "{number}");
    assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");

    t.advance(secs(42));
    let r = get_phone(&t, &token, &code_body(&grant.code)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        success_body(&number, &number, "86", START + 42, t.app.appid.as_str())
    );
    let v = r.json();
    assert!(
        v["phone_info"]["countryCode"].is_string(),
        "countryCode must be a JSON string"
    );
    assert!(v["phone_info"]["watermark"]["timestamp"].is_i64());

    // The number is the user's, as the control plane shows it.
    let (status, user) = t.control(Method::GET, "/users/alice", None).await;
    assert_eq!(status, 200);
    assert_eq!(user["phone"]["number"].as_str(), Some(number.as_str()));
}

#[tokio::test]
async fn non_mainland_number_has_the_prefix_in_phone_number_only() {
    let t = TestMock::new().await;
    let (status, user) = t
        .control(
            Method::POST,
            "/users",
            Some(json!({
                "handle": "hk",
                "phone": { "country_code": "852", "number": "51234567" }
            })),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let token = t.token().await;
    let grant = t.phone_code("hk").await;
    let r = get_phone(&t, &token, &code_body(&grant.code)).await;
    assert_eq!(
        r.body,
        success_body(
            "51234567",
            "+85251234567",
            "852",
            START,
            t.app.appid.as_str()
        )
    );
}

#[tokio::test]
async fn reused_code_is_40029_with_hint_and_rid() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let grant = t.phone_code("alice").await;
    let body = code_body(&grant.code);
    assert_eq!(get_phone(&t, &token, &body).await.errcode(), 0);

    t.advance(secs(5));
    let r = get_phone(&t, &token, &body).await;
    assert_invalid_code(&r, START + 5);
    // Still refused later, and with a fresh token.
    let r = get_phone(&t, &t.token().await, &body).await;
    assert_invalid_code(&r, START + 5);
}

#[tokio::test]
async fn code_expires_after_five_minutes() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let early = t.phone_code("alice").await;
    let late = t.phone_code("alice").await;
    assert_ne!(early.code, late.code);
    assert_eq!(early.mock.expires_at, START + 300);

    t.advance(secs(299));
    let r = get_phone(&t, &token, &code_body(&early.code)).await;
    assert_eq!(r.errcode(), 0, "valid at 4m59s: {}", r.body);

    let (status, clock) = t
        .control(Method::POST, "/clock", Some(json!({ "advance": "1s" })))
        .await;
    assert_eq!(status, 200, "{clock}");
    let r = get_phone(&t, &token, &code_body(&late.code)).await;
    assert_invalid_code(&r, START + 300);
}

#[tokio::test]
async fn code_of_another_app_is_40029() {
    let t = TestMock::new().await;
    let (appid_b, secret_b) = create_app(&t).await;
    let token_a = t.token().await;
    let token_b = token_of(&t, &appid_b, &secret_b).await;

    let (status, grant_b) = phone_code_in(&t, &appid_b, "alice").await;
    assert_eq!(status, 200, "{grant_b}");
    let code_b = grant_b["code"].as_str().expect("code").to_owned();
    let code_a = t.phone_code("alice").await.code;

    assert_invalid_code(&get_phone(&t, &token_a, &code_body(&code_b)).await, START);
    assert_invalid_code(&get_phone(&t, &token_b, &code_body(&code_a)).await, START);

    // Each code still works with its own app's token; the watermark names that app.
    let r = get_phone(&t, &token_b, &code_body(&code_b)).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(
        r.json()["phone_info"]["watermark"]["appid"].as_str(),
        Some(appid_b.as_str())
    );
    let r = get_phone(&t, &token_a, &code_body(&code_a)).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(
        r.json()["phone_info"]["watermark"]["appid"].as_str(),
        Some(t.app.appid.as_str())
    );
}

#[tokio::test]
async fn missing_code_is_40029() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let code = t.phone_code("alice").await.code;
    for body in ["{}", "", r#"{"code":""}"#, r#"{"openid":"x"}"#] {
        let r = get_phone(&t, &token, body).await;
        assert_invalid_code(&r, START);
    }
    // The code in the query string only.
    let r = t
        .post(
            &format!("/wxa/business/getuserphonenumber?access_token={token}&code={code}"),
            "",
        )
        .await;
    assert_invalid_code(&r, START);
    // None of that used the code up.
    let r = get_phone(&t, &token, &code_body(&code)).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
}

#[tokio::test]
async fn openid_in_body_must_be_the_code_owner() {
    let t = TestMock::new().await;
    let token = t.token().await;
    // The openid as the backend knows it, from jscode2session.
    let login = t.login("alice").await;
    let exchanged = t.exchange(&login.code).await;
    let openid = exchanged.json()["openid"]
        .as_str()
        .expect("openid")
        .to_owned();
    let bob_openid = t.login("bob").await.mock.openid.as_str().to_owned();

    let grant = t.phone_code("alice").await;
    assert_eq!(grant.mock.openid.as_str(), openid);
    let body = json!({ "code": grant.code, "openid": openid }).to_string();
    let r = get_phone(&t, &token, &body).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(r.json()["errmsg"], "ok");

    let other = t.phone_code("alice").await;
    let body = json!({ "code": other.code, "openid": bob_openid }).to_string();
    assert_invalid_code(&get_phone(&t, &token, &body).await, START);
}

#[tokio::test]
async fn get_is_43002() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let code = t.phone_code("alice").await.code;
    let r = t
        .get(&format!(
            "/wxa/business/getuserphonenumber?access_token={token}&code={code}"
        ))
        .await;
    r.assert_err(43002);
    assert_eq!(r.errmsg_base(), "require POST method");
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    assert!(msg.starts_with("require POST method rid: "), "{msg}");
    // The code is still good.
    assert_eq!(get_phone(&t, &token, &code_body(&code)).await.errcode(), 0);
}

#[tokio::test]
async fn token_errors_come_before_the_code() {
    let t = TestMock::new().await;
    let code = t.phone_code("alice").await.code;
    let body = code_body(&code);

    let r = t.post("/wxa/business/getuserphonenumber", &body).await;
    r.assert_err(41001);
    assert_eq!(r.errmsg_base(), "access_token missing");

    let r = get_phone(&t, "89_not_a_token", &body).await;
    r.assert_err(40001);
    assert_eq!(
        r.errmsg_base(),
        "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r"
    );

    let token = t.token().await;
    assert_eq!(get_phone(&t, &token, &body).await.errcode(), 0);
}

#[tokio::test]
async fn user_without_phone_gets_no_code() {
    let t = TestMock::new().await;
    let (status, user) = t
        .control(
            Method::POST,
            "/users",
            Some(json!({ "handle": "nophone", "phone": null })),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert!(user["phone"].is_null(), "{user}");

    let (status, body) = t
        .control(
            Method::POST,
            "/wx/getPhoneNumber",
            Some(json!({ "user": "nophone" })),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "no_phone", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("nophone"), "{message}");
}
