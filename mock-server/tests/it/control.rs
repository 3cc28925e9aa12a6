//! Tests: the control plane under `/__mock__/` (apps, users, unionids, the simulated `wx.login`,
//! the clock, state, reset, options, routing errors, the bearer token and the OpenAPI document).

use std::time::Duration;

use mock_server::config::{Config, SeedFile, UserSpec};
use mock_server::ids::{AppId, UserHandle};
use mock_server::{Clock, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{START, TestMock};

/// Asserts a control-plane error `{"error":{"code","message"}}` and returns its message.
#[track_caller]
fn assert_error(resp: &(u16, Value), status: u16, code: &str) -> String {
    let (got, body) = resp;
    assert_eq!(*got, status, "{body}");
    let error = body["error"].as_object().expect("an error object");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    assert_eq!(error.len(), 2, "only code and message: {body}");
    assert_eq!(error["code"], code, "{body}");
    error["message"].as_str().expect("message").to_owned()
}

/// Asserts a 400 `invalid_field` whose message names `field` in backticks.
#[track_caller]
fn assert_names_field(resp: &(u16, Value), field: &str) {
    let message = assert_error(resp, 400, "invalid_field");
    assert!(
        message.contains(&format!("`{field}`")),
        "message should name `{field}`: {message}"
    );
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn post(t: &TestMock, path: &str, body: Value) -> (u16, Value) {
    t.control(Method::POST, path, Some(body)).await
}

async fn patch(t: &TestMock, path: &str, body: Value) -> (u16, Value) {
    t.control(Method::PATCH, path, Some(body)).await
}

async fn get(t: &TestMock, path: &str) -> (u16, Value) {
    t.control(Method::GET, path, None).await
}

/// Sends raw text to a control route (for bodies that are not JSON).
async fn send_text(t: &TestMock, method: Method, path: &str, text: &str) -> (u16, Value) {
    let resp = t
        .http
        .request(method, t.url(&format!("/__mock__{path}")))
        .header("content-type", "application/json")
        .body(text.to_owned())
        .send()
        .await
        .expect("request completes");
    let status = resp.status().as_u16();
    let body = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// jscode2session for `code` with explicit credentials.
async fn exchange_in(t: &TestMock, appid: &str, secret: &str, code: &str) -> crate::helpers::Raw {
    t.get(&format!(
        "/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"
    ))
    .await
}

fn manual_config() -> Config {
    Config {
        seed: "test".into(),
        clock: Clock::manual(Timestamp::from_secs(START)),
        ..Config::default()
    }
}

#[tokio::test]
async fn apps_are_created_with_generated_or_given_credentials() {
    let t = TestMock::new().await;
    let (status, app) = post(&t, "/apps", json!({})).await;
    assert_eq!(status, 201, "{app}");
    let appid = app["appid"].as_str().expect("appid");
    assert!(
        appid.len() == 18 && appid.starts_with("wx") && is_hex(&appid[2..]),
        "{appid}"
    );
    assert_ne!(appid, t.app.appid.as_str());
    let secret = app["secret"].as_str().expect("secret");
    assert!(secret.len() == 32 && is_hex(secret), "{secret}");
    assert_eq!(app["open_platform"], Value::Null);
    assert_eq!(app["name"], Value::Null);
    assert_eq!(app["default"], false);

    let given = json!({"appid": "wx00000000000000aa", "secret": "s3", "name": "Shop", "open_platform": "op"});
    let (status, app) = post(&t, "/apps", given).await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(
        app,
        json!({"appid": "wx00000000000000aa", "secret": "s3", "open_platform": "op", "name": "Shop", "default": false, "profile_era": null, "phone_quota": null, "kind": "mini_program"})
    );

    let dup = post(&t, "/apps", json!({"appid": "wx00000000000000aa"})).await;
    let message = assert_error(&dup, 409, "app_exists");
    assert!(message.contains("wx00000000000000aa"), "{message}");
    let dup_default = post(&t, "/apps", json!({"appid": t.app.appid})).await;
    assert_error(&dup_default, 409, "app_exists");

    assert_names_field(&post(&t, "/apps", json!({"appid": ""})).await, "appid");
    assert_names_field(&post(&t, "/apps", json!({"colour": "red"})).await, "colour");
}

#[tokio::test]
async fn apps_are_read_and_patched_and_unknown_ones_are_404() {
    let t = TestMock::new().await;
    let (status, default) = get(&t, &format!("/apps/{}", t.app.appid)).await;
    assert_eq!(status, 200);
    assert_eq!(
        default,
        json!({"appid": t.app.appid, "secret": t.app.secret, "open_platform": null, "name": null, "default": true, "profile_era": null, "phone_quota": null, "kind": "mini_program"})
    );

    let (status, patched) = patch(
        &t,
        &format!("/apps/{}", t.app.appid),
        json!({"secret": "newsecret", "name": "Renamed"}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["secret"], "newsecret");
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["appid"], t.app.appid.as_str());
    assert_eq!(get(&t, &format!("/apps/{}", t.app.appid)).await.1, patched);

    // The vendor surface follows the new secret at once.
    let grant = t.login("alice").await;
    t.exchange(&grant.code).await.assert_err(40125);
    let ok = exchange_in(&t, t.app.appid.as_str(), "newsecret", &grant.code).await;
    assert_eq!(ok.errcode(), 0, "{}", ok.body);

    let renamed = patch(
        &t,
        &format!("/apps/{}", t.app.appid),
        json!({"appid": "wxother"}),
    )
    .await;
    assert_names_field(&renamed, "appid");

    let message = assert_error(&get(&t, "/apps/wxnope").await, 404, "unknown_app");
    assert!(message.contains("wxnope"), "{message}");
    assert_error(
        &patch(&t, "/apps/wxnope", json!({"name": "x"})).await,
        404,
        "unknown_app",
    );
}

#[tokio::test]
async fn users_are_created_with_derived_profiles_and_conflicts_refused() {
    let t = TestMock::new().await;
    let (status, alice) = post(&t, "/users", json!({"handle": "alice"})).await;
    assert_eq!(status, 201, "{alice}");
    assert_eq!(alice["handle"], "alice");
    assert_eq!(alice["nickname"], "alice");
    let avatar = alice["avatar_url"].as_str().expect("avatar");
    assert!(
        avatar.starts_with("https://thirdwx.qlogo.cn/mmopen/vi_32/") && avatar.ends_with("/132"),
        "{avatar}"
    );
    assert!(alice["gender"] == 1 || alice["gender"] == 2, "{alice}");
    assert_eq!(alice["country"], "CN");
    assert_eq!(alice["province"], "Guangdong");
    assert_eq!(alice["city"], "Guangzhou");
    assert_eq!(alice["language"], "zh_CN");
    assert_eq!(alice["phone"]["country_code"], "86");
    let number = alice["phone"]["number"].as_str().expect("number");
    assert!(
        number.len() == 11 && number.starts_with('1') && number.bytes().all(|b| b.is_ascii_digit()),
        "{number}"
    );
    assert_eq!(alice["high_risk"], false);
    let apps = alice["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["appid"], t.app.appid.as_str());
    let openid = apps[0]["openid"].as_str().expect("openid");
    assert!(openid.len() == 28 && openid.starts_with('o'), "{openid}");
    assert_eq!(apps[0]["unionid"], Value::Null);
    assert_eq!(apps[0]["session_key"], Value::Null);

    let (status, bob) = post(
        &t,
        "/users",
        json!({"handle": "bob", "nickname": "Bob", "gender": 0, "phone": null, "high_risk": true}),
    )
    .await;
    assert_eq!(status, 201, "{bob}");
    assert_eq!(bob["nickname"], "Bob");
    assert_eq!(bob["gender"], 0);
    assert_eq!(bob["phone"], Value::Null);
    assert_eq!(bob["high_risk"], true);

    let dup = post(
        &t,
        "/users",
        json!({"handle": "alice", "nickname": "Other"}),
    )
    .await;
    let message = assert_error(&dup, 409, "user_exists");
    assert!(message.contains("alice"), "{message}");
    assert_eq!(get(&t, "/users/alice").await.1["nickname"], "alice");
}

#[tokio::test]
async fn invalid_users_are_refused_naming_the_field() {
    let t = TestMock::new().await;
    assert_names_field(&post(&t, "/users", json!({})).await, "handle");
    assert_names_field(
        &post(&t, "/users", json!({"nickname": "x"})).await,
        "handle",
    );
    assert_names_field(&post(&t, "/users", json!({"handle": ""})).await, "handle");
    assert_names_field(
        &post(&t, "/users", json!({"handle": "x", "gender": 3})).await,
        "gender",
    );
    assert_names_field(
        &post(&t, "/users", json!({"handle": "x", "gender": "male"})).await,
        "gender",
    );
    assert_names_field(
        &post(&t, "/users", json!({"handle": "x", "nickanme": "y"})).await,
        "nickanme",
    );
    assert_names_field(
        &post(
            &t,
            "/users",
            json!({"handle": "x", "phone": {"country_code": "+86", "number": "13800138000"}}),
        )
        .await,
        "phone.country_code",
    );
    assert_error(
        &send_text(&t, Method::POST, "/users", "{\"handle\":").await,
        400,
        "invalid_body",
    );
    let (_, state) = get(&t, "/state").await;
    assert_eq!(state["users"], json!([]), "no refused user was created");
}

#[tokio::test]
async fn user_patch_keeps_untouched_fields_and_a_bad_patch_changes_nothing() {
    let t = TestMock::new().await;
    let (_, before) = post(&t, "/users", json!({"handle": "alice", "nickname": "Al"})).await;

    let (status, after) = patch(&t, "/users/alice", json!({"city": "Shenzhen"})).await;
    assert_eq!(status, 200, "{after}");
    let mut expected = before.clone();
    expected["city"] = json!("Shenzhen");
    assert_eq!(after, expected);

    let bad = patch(
        &t,
        "/users/alice",
        json!({"nickname": "Changed", "gender": 9}),
    )
    .await;
    assert_names_field(&bad, "gender");
    let bad = patch(
        &t,
        "/users/alice",
        json!({"nickname": "Changed", "phone": {"country_code": "86", "number": "12"}}),
    )
    .await;
    assert_names_field(&bad, "phone.number");
    assert_names_field(
        &patch(&t, "/users/alice", json!({"handle": "alicia"})).await,
        "handle",
    );
    assert_eq!(get(&t, "/users/alice").await, (200, expected.clone()));

    let (status, no_phone) = patch(&t, "/users/alice", json!({"phone": null})).await;
    assert_eq!(status, 200);
    assert_eq!(no_phone["phone"], Value::Null);
    assert_eq!(no_phone["nickname"], "Al");

    let message = assert_error(
        &patch(&t, "/users/nobody", json!({"city": "x"})).await,
        404,
        "unknown_user",
    );
    assert!(message.contains("nobody"), "{message}");
    assert_error(&get(&t, "/users/nobody").await, 404, "unknown_user");
}

#[tokio::test]
async fn user_view_shows_openid_per_app_and_session_key_after_login() {
    let t = TestMock::new().await;
    let (_, app2) = post(&t, "/apps", json!({"open_platform": "op1"})).await;
    let appid2 = app2["appid"].as_str().expect("appid").to_owned();
    let grant = t.login("alice").await;

    let (status, alice) = get(&t, "/users/alice").await;
    assert_eq!(status, 200);
    let apps = alice["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0]["appid"], t.app.appid.as_str());
    assert_eq!(apps[0]["openid"], json!(grant.mock.openid));
    assert_eq!(apps[0]["unionid"], Value::Null);
    assert_eq!(apps[0]["session_key"], grant.mock.session_key.as_str());
    assert_eq!(apps[1]["appid"], appid2.as_str());
    assert_ne!(apps[1]["openid"], apps[0]["openid"]);
    let unionid = apps[1]["unionid"]
        .as_str()
        .expect("bound app has a unionid");
    assert!(unionid.len() == 28 && unionid.starts_with('o'), "{unionid}");
    assert_eq!(apps[1]["session_key"], Value::Null, "no login in app 2 yet");

    let ex = t.exchange(&grant.code).await;
    assert_eq!(ex.json()["session_key"], apps[0]["session_key"]);
}

#[tokio::test]
async fn apps_bound_to_one_open_platform_share_the_unionid() {
    let t = TestMock::new().await;
    let (_, a) = post(&t, "/apps", json!({"open_platform": "op-shared"})).await;
    let (_, b) = post(&t, "/apps", json!({"open_platform": "op-shared"})).await;
    let (_, c) = post(&t, "/apps", json!({"open_platform": "op-else"})).await;
    let creds = |app: &Value| {
        (
            app["appid"].as_str().expect("appid").to_owned(),
            app["secret"].as_str().expect("secret").to_owned(),
        )
    };
    let mut bodies = Vec::new();
    for app in [&a, &b, &c] {
        let (appid, secret) = creds(app);
        let grant = t.login_in(&AppId::new(appid.clone()), "alice").await;
        let r = exchange_in(&t, &appid, &secret, &grant.code).await;
        assert_eq!(r.errcode(), 0, "{}", r.body);
        let unionid = grant.mock.unionid.clone().expect("bound app");
        // Key order as WeChat sends it: session_key, openid, unionid.
        assert_eq!(
            r.body,
            format!(
                r#"{{"session_key":"{}","openid":"{}","unionid":"{}"}}"#,
                grant.mock.session_key,
                grant.mock.openid.as_str(),
                unionid.as_str()
            )
        );
        bodies.push(r.json());
    }
    assert_eq!(bodies[0]["unionid"], bodies[1]["unionid"]);
    assert_ne!(bodies[0]["openid"], bodies[1]["openid"]);
    assert_ne!(bodies[0]["unionid"], bodies[2]["unionid"]);

    // Another user of the same platform gets another unionid.
    let (appid, secret) = creds(&a);
    let bob = t.login_in(&AppId::new(appid.clone()), "bob").await;
    let r = exchange_in(&t, &appid, &secret, &bob.code).await;
    assert_ne!(r.json()["unionid"], bodies[0]["unionid"]);

    // The unbound default app answers without unionid.
    let home = t.login("alice").await;
    assert_eq!(home.mock.unionid, None);
    let r = t.exchange(&home.code).await;
    assert_eq!(
        r.body,
        format!(
            r#"{{"session_key":"{}","openid":"{}"}}"#,
            home.mock.session_key,
            home.mock.openid.as_str()
        )
    );
}

#[tokio::test]
async fn wx_login_creates_users_on_the_fly_and_defaults_to_the_default_app() {
    let t = TestMock::new().await;
    assert_error(&get(&t, "/users/carol").await, 404, "unknown_user");
    let (status, grant) = post(&t, "/wx/login", json!({"user": "carol"})).await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["errMsg"], "login:ok");
    let code = grant["code"].as_str().expect("code");
    assert!(
        code.len() == 32
            && code.starts_with('0')
            && code.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{code}"
    );
    assert_eq!(grant["mock"]["appid"], t.app.appid.as_str());
    assert_eq!(grant["mock"]["user"], "carol");
    assert_eq!(grant["mock"]["unionid"], Value::Null);
    assert_eq!(grant["mock"]["rotated"], true);
    assert_eq!(grant["mock"]["expires_at"], START + 300);
    let (status, carol) = get(&t, "/users/carol").await;
    assert_eq!(status, 200);
    assert_eq!(carol["apps"][0]["openid"], grant["mock"]["openid"]);

    let r = t.exchange(code).await;
    assert_eq!(
        r.json(),
        json!({"session_key": grant["mock"]["session_key"], "openid": grant["mock"]["openid"]})
    );
}

#[tokio::test]
async fn wx_login_refusals() {
    let t = TestMock::new().await;
    let message = assert_error(
        &post(&t, "/wx/login", json!({"appid": "wxnope", "user": "alice"})).await,
        404,
        "unknown_app",
    );
    assert!(message.contains("wxnope"), "{message}");
    assert_error(
        &send_text(&t, Method::POST, "/wx/login", "{user: alice}").await,
        400,
        "invalid_body",
    );
    assert_error(
        &send_text(&t, Method::POST, "/wx/login", "").await,
        400,
        "invalid_body",
    );
    let missing_user = post(&t, "/wx/login", json!({"appid": t.app.appid})).await;
    assert_eq!(missing_user.0, 400, "{}", missing_user.1);

    t.set_options(json!({"strict": true})).await;
    let message = assert_error(
        &post(&t, "/wx/login", json!({"user": "dave"})).await,
        404,
        "unknown_user",
    );
    assert!(message.contains("dave"), "{message}");
    assert_error(&get(&t, "/users/dave").await, 404, "unknown_user");
    // A created user may log in under strict mode.
    assert_eq!(post(&t, "/users", json!({"handle": "dave"})).await.0, 201);
    assert_eq!(post(&t, "/wx/login", json!({"user": "dave"})).await.0, 200);
}

#[tokio::test]
async fn clock_reads_advances_and_sets() {
    let t = TestMock::new().await;
    assert_eq!(
        get(&t, "/clock").await,
        (
            200,
            json!({"now_ms": START * 1000, "now": "2024-08-22T01:14:57Z", "frozen": true})
        )
    );
    assert_eq!(
        post(&t, "/clock", json!({"advance": "5m"})).await,
        (
            200,
            json!({"now_ms": (START + 300) * 1000, "now": "2024-08-22T01:19:57Z", "frozen": true})
        )
    );
    assert_eq!(
        post(&t, "/clock", json!({"set": 1_735_689_600})).await,
        (
            200,
            json!({"now_ms": 1_735_689_600_000_i64, "now": "2025-01-01T00:00:00Z", "frozen": true})
        )
    );
    assert_eq!(
        post(&t, "/clock", json!({"set": "2025-01-02T03:04:05+08:00"})).await,
        (
            200,
            json!({"now_ms": 1_735_758_245_000_i64, "now": "2025-01-01T19:04:05Z", "frozen": true})
        )
    );
    // set then advance, in that order.
    let (_, view) = post(&t, "/clock", json!({"set": START, "advance": "1h30m"})).await;
    assert_eq!(view["now_ms"], (START + 5400) * 1000);

    // The vendor surface runs on this clock: a code minted now is dead 5 minutes later.
    let grant = t.login("alice").await;
    post(&t, "/clock", json!({"advance": "300s"})).await;
    t.exchange(&grant.code).await.assert_err(40029);
}

#[tokio::test]
async fn clock_freezes_and_resumes() {
    let t = TestMock::new().await;
    let (status, running) = post(&t, "/clock", json!({"resume": true})).await;
    assert_eq!(status, 200, "{running}");
    assert_eq!(running["frozen"], false);
    let start_ms = START * 1000;
    let now = running["now_ms"].as_i64().expect("now_ms");
    assert!(
        (start_ms..start_ms + 60_000).contains(&now),
        "resumes from its frozen reading: {now}"
    );

    let (_, frozen) = post(&t, "/clock", json!({"freeze": true})).await;
    assert_eq!(frozen["frozen"], true);
    let at = frozen["now_ms"].as_i64().expect("now_ms");
    assert!(at >= now && at < start_ms + 60_000, "{at}");
    assert_eq!(get(&t, "/clock").await.1, frozen);
    assert_eq!(get(&t, "/clock").await.1, frozen);
}

#[tokio::test]
async fn clock_refuses_bad_requests_naming_the_field() {
    let t = TestMock::new().await;
    assert_names_field(
        &post(&t, "/clock", json!({"advance": "soon"})).await,
        "advance",
    );
    assert_names_field(
        &post(&t, "/clock", json!({"advance": "5 parsecs"})).await,
        "advance",
    );
    assert_names_field(
        &post(&t, "/clock", json!({"set": "yesterday"})).await,
        "set",
    );
    assert_names_field(
        &post(&t, "/clock", json!({"freeze": true, "resume": true})).await,
        "freeze",
    );
    assert_error(&post(&t, "/clock", json!({})).await, 400, "invalid_body");
    assert_names_field(&post(&t, "/clock", json!({"rewind": "5m"})).await, "rewind");
    // Nothing moved.
    assert_eq!(get(&t, "/clock").await.1["now_ms"], START * 1000);
}

#[tokio::test]
async fn state_shows_apps_users_counts_and_options() {
    let t = TestMock::new().await;
    let (status, state) = get(&t, "/state").await;
    assert_eq!(status, 200);
    assert_eq!(state["now_ms"], START * 1000);
    assert_eq!(state["now"], "2024-08-22T01:14:57Z");
    assert_eq!(state["frozen"], true);
    assert_eq!(
        state["apps"],
        json!([get(&t, &format!("/apps/{}", t.app.appid)).await.1])
    );
    assert_eq!(state["users"], json!([]));
    assert_eq!(state["platforms"], json!([]));
    assert_eq!(
        state["counts"],
        json!({"login_codes": 0, "sessions": 0, "access_tokens": 0, "phone_codes": 0, "quota_windows": 0, "faults": 0, "sms_messages": 0, "sms_rate_windows": 0, "payments": 0, "phone_data_hashes": 0, "user_encrypt_keys": 0, "followers": 0, "platforms": 0, "plugin_codes": 0})
    );
    assert_eq!(state["options"], get(&t, "/options").await.1);
    assert_eq!(state["sms"], get(&t, "/sms/config").await.1);

    let grant = t.login("alice").await;
    t.login("bob").await;
    t.exchange(&grant.code).await;
    t.token().await;
    post(
        &t,
        "/faults",
        json!({"endpoint": "token", "errcode": -1, "times": 1}),
    )
    .await;
    let (_, state) = get(&t, "/state").await;
    let handles: Vec<&Value> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| &u["handle"])
        .collect();
    assert_eq!(handles, [&json!("alice"), &json!("bob")]);
    assert_eq!(state["users"][0], get(&t, "/users/alice").await.1);
    assert_eq!(
        state["counts"],
        json!({"login_codes": 2, "sessions": 2, "access_tokens": 1, "phone_codes": 0, "quota_windows": 1, "faults": 1, "sms_messages": 0, "sms_rate_windows": 0, "payments": 0, "phone_data_hashes": 0, "user_encrypt_keys": 0, "followers": 0, "platforms": 0, "plugin_codes": 0})
    );
}

#[tokio::test]
async fn reset_restores_the_startup_state() {
    let t = TestMock::new().await;
    let first = t.login("alice").await;
    post(&t, "/users", json!({"handle": "bob"})).await;
    post(&t, "/apps", json!({"appid": "wxextra"})).await;
    post(&t, "/faults", json!({"endpoint": "*", "errcode": -1})).await;
    t.set_options(json!({"strict": true, "journal_capacity": 5}))
        .await;
    t.get("/x").await;
    t.advance(Duration::from_secs(10));

    assert_eq!(
        post(&t, "/reset", json!({})).await,
        (200, json!({"ok": true}))
    );
    let (_, state) = get(&t, "/state").await;
    assert_eq!(state["users"], json!([]));
    assert_eq!(state["apps"].as_array().map(Vec::len), Some(1));
    assert_eq!(state["apps"][0]["appid"], t.app.appid.as_str());
    assert_eq!(state["counts"]["faults"], 0);
    assert_eq!(state["counts"]["login_codes"], 0);
    assert_eq!(state["options"]["strict"], false);
    // The clock is not part of the state that resets.
    assert_eq!(state["now_ms"], (START + 10) * 1000);
    assert_eq!(
        get(&t, "/journal").await.1,
        json!({"entries": [], "recorded": 0, "dropped": 0, "capacity": 10000, "last_seq": 1})
    );
    assert_error(&get(&t, "/apps/wxextra").await, 404, "unknown_app");

    // Old codes are gone...
    t.exchange(&first.code).await.assert_err(40029);
    // ...and the same seed mints the same code again.
    let again = t.login("alice").await;
    assert_eq!(again.code, first.code);
    assert_eq!(again.mock.openid, first.mock.openid);
    assert_eq!(again.mock.session_key, first.mock.session_key);
    assert_eq!(t.exchange(&again.code).await.errcode(), 0);
}

#[tokio::test]
async fn reset_brings_back_the_seed_file() {
    let seed = SeedFile {
        options: Some(json!({"strict": true})),
        users: vec![UserSpec {
            handle: Some(UserHandle::new("seeded")),
            nickname: Some("Seedy".into()),
            ..UserSpec::default()
        }],
        ..SeedFile::default()
    };
    let t = TestMock::with(seed).await;
    patch(&t, "/users/seeded", json!({"nickname": "Changed"})).await;
    t.set_options(json!({"strict": false})).await;
    post(&t, "/wx/login", json!({"user": "walkin"})).await;

    post(&t, "/reset", json!({})).await;
    let (_, state) = get(&t, "/state").await;
    let users = state["users"].as_array().expect("users");
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["handle"], "seeded");
    assert_eq!(users[0]["nickname"], "Seedy");
    assert_eq!(state["options"]["strict"], true);
}

#[tokio::test]
async fn options_are_read_and_patched() {
    let t = TestMock::new().await;
    let defaults = json!({
        "strict": false,
        "login_quota_per_minute": 100,
        "quota_scope": "user",
        "session_key_min_rotation": "5m",
        "session_key_ttl": null,
        "content_type": "faithful",
        "rid_style": "current",
        "jscode2session_grant_type": "required",
        "lenient_force_refresh": true,
        "journal_capacity": 10000,
        "accept_foreign_codes": false,
        "foreign_code_user": "developer",
        "checkencryptedmsg_unknown": "errcode_1",
        "token_daily_limit": 10000,
        "stub_unmodelled": false
    });
    assert_eq!(get(&t, "/options").await, (200, defaults.clone()));

    let (status, patched) = patch(
        &t,
        "/options",
        json!({"strict": true, "session_key_ttl": "2h", "quota_scope": "app"}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    let mut expected = defaults.clone();
    expected["strict"] = json!(true);
    expected["session_key_ttl"] = json!("2h");
    expected["quota_scope"] = json!("app");
    assert_eq!(patched, expected);
    assert_eq!(get(&t, "/options").await.1, expected);

    for (bad, field) in [
        (json!({"quota_scope": "planet"}), "quota_scope"),
        (json!({"stirct": true}), "stirct"),
        (
            json!({"login_quota_per_minute": -1}),
            "login_quota_per_minute",
        ),
        (
            json!({"session_key_min_rotation": "soon"}),
            "session_key_min_rotation",
        ),
        (json!({"journal_capacity": 0}), "journal_capacity"),
    ] {
        let resp = patch(&t, "/options", bad.clone()).await;
        let message = assert_error(&resp, 400, "invalid_field");
        assert!(message.contains(field), "{bad}: {message}");
    }
    assert_error(
        &patch(&t, "/options", json!([1])).await,
        400,
        "invalid_body",
    );
    assert_error(
        &send_text(&t, Method::PATCH, "/options", "{strict}").await,
        400,
        "invalid_body",
    );
    assert_eq!(
        get(&t, "/options").await.1,
        expected,
        "bad patches change nothing"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json_errors() {
    let t = TestMock::new().await;
    let message = assert_error(&get(&t, "/nope").await, 404, "not_found");
    assert!(message.contains("GET /__mock__/nope"), "{message}");
    assert_error(&get(&t, "/apps").await, 405, "method_not_allowed");

    let resp = t.control(Method::DELETE, "/state", None).await;
    let message = assert_error(&resp, 405, "method_not_allowed");
    assert!(
        message.contains("/__mock__/state does not take DELETE"),
        "{message}"
    );
    let resp = t.control(Method::PUT, "/clock", Some(json!({}))).await;
    assert_error(&resp, 405, "method_not_allowed");
    // Bodies are objects: an array is not read field by field.
    let resp = t
        .control(Method::POST, "/wx/login", Some(json!([null, "bob"])))
        .await;
    assert_error(&resp, 400, "invalid_body");
}

#[tokio::test]
async fn control_token_guards_the_control_plane_only() {
    let t = TestMock::with_config(Config {
        control_token: Some("s3cret".into()),
        ..manual_config()
    })
    .await;
    let state_url = t.url("/__mock__/state");
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("s3cret"),
        Some("Basic s3cret"),
    ] {
        let mut req = t.http.get(&state_url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("JSON error");
        assert_error(&(status, body), 401, "unauthorized");
    }
    let (status, body) = t
        .control(Method::POST, "/wx/login", Some(json!({"user": "x"})))
        .await;
    assert_error(&(status, body), 401, "unauthorized");

    let resp = t
        .http
        .get(&state_url)
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("request completes");
    assert_eq!(resp.status().as_u16(), 200);
    let state: Value = resp.json().await.expect("state");
    assert_eq!(state["now_ms"], START * 1000);

    // The typed client carries the token; the vendor surface needs none.
    let grant = t.login("alice").await;
    let r = t.exchange(&grant.code).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_eq!(t.token().await.len(), 136);
}

#[tokio::test]
async fn openapi_document_is_served() {
    let t = TestMock::new().await;
    let r = t.get("/__mock__/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let doc = r.json();
    let version = doc["openapi"].as_str().expect("openapi field");
    assert!(version.starts_with("3."), "{version}");
    assert!(doc["paths"].is_object(), "{doc}");
}
