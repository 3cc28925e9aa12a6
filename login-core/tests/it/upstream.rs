//! WeChat failing: every jscode2session error mapped to its HTTP answer with nothing written and
//! the failure counted, `-1` retries, and the access-token cache behind phone binding and
//! session checks.

use std::time::Duration;

use login_core::wechat::TokenMode;
use mock_server::config::UserSpec;
use mock_server::ids::UserHandle;
use mock_server::journal::JournalEntry;
use serde_json::json;

use crate::helpers::*;

/// Seconds to the next minute of the shared virtual clock.
fn to_next_minute(app: &TestApp) -> u64 {
    seconds_to_next(app.mock.clock().now().millis(), 60)
}

/// Asserts a failed first login: the error, nothing stored, and the upstream error counted
/// `count` times under `label`.
async fn assert_failed_first_login(
    app: &TestApp,
    resp: &Resp,
    status: u16,
    code: &str,
    label: &str,
    count: f64,
) -> String {
    let message = resp.assert_error(status, code);
    app.assert_nothing_stored().await;
    assert_eq!(
        app.upstream_errors("jscode2session", label).await,
        count,
        "upstream errors labelled {label}"
    );
    assert_eq!(
        app.metric(&format!("login_core_logins_total{{result=\"{code}\"}}"))
            .await,
        1.0
    );
    message
}

/// WeChat answers every jscode2session with `errcode`; alice tries her first login.
async fn first_login_while_wechat_answers(app: &TestApp, errcode: i64) -> Resp {
    app.fault(json!({"endpoint": "jscode2session", "errcode": errcode}))
        .await;
    app.try_login("alice").await
}

#[tokio::test]
async fn a_blocked_code_is_403_user_blocked() {
    let app = TestApp::new().await;
    let resp = first_login_while_wechat_answers(&app, 40226).await;
    let message = assert_failed_first_login(&app, &resp, 403, "user_blocked", "40226", 1.0).await;
    assert!(!message.contains("40226"), "{message}");
    assert!(resp.header("retry-after").is_none());
    assert_eq!(app.calls("jscode2session").await, 1, "40226 is not retried");
}

#[tokio::test]
async fn a_high_risk_user_is_403_user_blocked() {
    let app = TestApp::new().await;
    app.mock
        .control()
        .create_user(&UserSpec {
            handle: Some(UserHandle::new("mallory")),
            high_risk: Some(true),
            ..UserSpec::default()
        })
        .await
        .expect("user created");
    let resp = app.try_login("mallory").await;
    assert_failed_first_login(&app, &resp, 403, "user_blocked", "40226", 1.0).await;
    let answered = app.journal_entries("endpoint=jscode2session").await;
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].errcode, Some(40226));
    assert_eq!(answered[0].fault, None, "the mock's own rule, not a fault");

    // Other users are not affected.
    let (_, body) = app.login("alice").await;
    assert_eq!(body["user"]["is_new"], true);
}

#[tokio::test]
async fn wechat_minute_quota_is_429_with_retry_after_to_the_next_minute() {
    let app = TestApp::new().await;
    // Somewhere inside a minute, not at its start or end.
    app.advance(Duration::from_secs(20));
    let expected = to_next_minute(&app);
    assert!((2..59).contains(&expected), "{expected}");
    let resp = first_login_while_wechat_answers(&app, 45011).await;
    let message =
        assert_failed_first_login(&app, &resp, 429, "wechat_rate_limited", "45011", 1.0).await;
    assert_eq!(
        resp.header("retry-after"),
        Some(expected.to_string()),
        "{message}"
    );
    assert!(message.contains(&format!("{expected} s")), "{message}");
    assert_eq!(app.calls("jscode2session").await, 1, "45011 is not retried");
}

#[tokio::test]
async fn the_mocks_real_login_quota_is_429_until_the_next_minute() {
    let app = TestApp::new().await;
    app.set_mock_options(json!({"login_quota_per_minute": 2}))
        .await;
    app.login("alice").await;
    app.login("alice").await;
    let before = app.stats().await;

    let code = app.wx_login("alice").await;
    let resp = app.login_code(&code).await;
    resp.assert_error(429, "wechat_rate_limited");
    let wait = to_next_minute(&app);
    assert_eq!(resp.header("retry-after"), Some(wait.to_string()));
    assert_eq!(app.stats().await, before, "nothing written");
    assert_eq!(app.upstream_errors("jscode2session", "45011").await, 1.0);
    assert_eq!(
        app.errcodes("jscode2session").await,
        [Some(0), Some(0), Some(45011)]
    );
    let answered = app.journal_entries("endpoint=jscode2session").await;
    assert_eq!(answered[2].fault, None, "the mock's own quota, not a fault");

    // After waiting as told, the same code works: the quota did not spend it.
    app.advance(Duration::from_secs(wait));
    let body = app.login_code(&code).await.ok();
    assert_eq!(body["user"]["is_new"], false);
}

#[tokio::test]
async fn system_error_twice_then_success_is_retried_to_200() {
    let app = TestApp::new().await;
    app.fault(json!({"endpoint": "jscode2session", "errcode": -1, "times": 2}))
        .await;
    let (_, body) = app.login("alice").await;
    assert_eq!(body["user"]["is_new"], true);
    assert_eq!(
        app.errcodes("jscode2session").await,
        [Some(-1), Some(-1), Some(0)]
    );
    assert_eq!(app.upstream_errors("jscode2session", "-1").await, 2.0);
    let rules = app
        .mock_control(reqwest::Method::GET, "/faults", serde_json::Value::Null)
        .await;
    assert_eq!(rules["faults"][0]["hits"], 2, "{rules}");
    assert_eq!(rules["faults"][0]["remaining"], 0, "{rules}");
    assert_eq!(
        app.metric("login_core_upstream_calls_total{endpoint=\"jscode2session\"}")
            .await,
        3.0
    );
    assert_eq!(app.counts().await, (1, 1, 1));
}

#[tokio::test]
async fn system_error_always_is_503_after_the_default_attempts() {
    let app = TestApp::new().await;
    let resp = first_login_while_wechat_answers(&app, -1).await;
    assert_failed_first_login(&app, &resp, 503, "wechat_unavailable", "-1", 3.0).await;
    assert!(
        resp.header("retry-after").is_some(),
        "503 carries Retry-After"
    );
    assert_eq!(app.calls("jscode2session").await, 3);
}

#[tokio::test]
async fn system_error_always_is_503_after_the_configured_attempts() {
    let app = TestApp::configured(|c| c.upstream.attempts = 5).await;
    let resp = first_login_while_wechat_answers(&app, -1).await;
    assert_failed_first_login(&app, &resp, 503, "wechat_unavailable", "-1", 5.0).await;
    assert_eq!(app.calls("jscode2session").await, 5);
}

#[tokio::test]
async fn a_system_error_that_spent_the_code_is_503_not_code_used() {
    let app = TestApp::new().await;
    app.fault(json!({
        "endpoint": "jscode2session", "errcode": -1, "times": 1, "consume_code": true
    }))
    .await;
    let resp = app.try_login("alice").await;
    resp.assert_error(503, "wechat_unavailable");
    app.assert_nothing_stored().await;
    assert_eq!(
        app.errcodes("jscode2session").await,
        [Some(-1), Some(40163)],
        "the retry found the code spent and stopped"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_500_server_misconfigured_without_details() {
    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    let app =
        TestApp::configured(|c| c.apps[0].secret = login_core::ids::AppSecret::new(SECRET)).await;
    let resp = app.try_login("alice").await;
    let message =
        assert_failed_first_login(&app, &resp, 500, "server_misconfigured", "40125", 1.0).await;
    let answered = app.journal_entries("endpoint=jscode2session").await;
    assert_eq!(answered.len(), 1, "not retried");
    assert_eq!(answered[0].errcode, Some(40125));
    let errmsg = answered[0].response.clone();
    for leak in [SECRET, "40125", "appsecret", "invalid", "rid"] {
        assert!(
            !resp.text.to_lowercase().contains(leak),
            "the answer leaks {leak:?}: {} (WeChat said {errmsg})",
            resp.text
        );
    }
    assert!(!message.is_empty());
}

#[tokio::test]
async fn an_appid_wechat_does_not_know_is_500_server_misconfigured() {
    const APPID: &str = "wx0000000000000bad";
    const SECRET: &str = "fedcba9876543210fedcba9876543210";
    let app = TestApp::configured(|c| {
        c.apps.push(login_core::config::AppConfig {
            appid: login_core::ids::AppId::new(APPID),
            secret: login_core::ids::AppSecret::new(SECRET),
            open_platform: None,
            registration: login_core::config::Registration::default(),
        });
    })
    .await;
    let code = app.wx_login("alice").await;
    let resp = app.login_code_in(APPID, &code).await;
    assert_failed_first_login(&app, &resp, 500, "server_misconfigured", "40013", 1.0).await;
    for leak in [SECRET, "40013", "invalid appid"] {
        assert!(!resp.text.contains(leak), "{leak}: {}", resp.text);
    }
    let answered = app.journal_entries("endpoint=jscode2session").await;
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].errcode, Some(40013));
}

#[tokio::test]
async fn a_gateway_error_page_is_502_bad_gateway() {
    for status in [500u16, 502] {
        let app = TestApp::new().await;
        app.fault(json!({"endpoint": "jscode2session", "http_status": status}))
            .await;
        let resp = app.try_login("alice").await;
        assert_failed_first_login(
            &app,
            &resp,
            502,
            "wechat_bad_gateway",
            &format!("http_{status}"),
            1.0,
        )
        .await;
        assert_eq!(
            app.calls("jscode2session").await,
            1,
            "{status} is not retried"
        );
    }
}

#[tokio::test]
async fn broken_transports_are_502_bad_gateway() {
    for (transport, label) in [
        ("drop", "connect"),
        ("reset", "connect"),
        ("truncate", "connect"),
        ("malformed", "bad_body"),
    ] {
        let app = TestApp::new().await;
        app.fault(json!({"endpoint": "jscode2session", "transport": transport}))
            .await;
        let resp = app.try_login("alice").await;
        assert_eq!(resp.status, 502, "{transport}: {}", resp.text);
        assert_failed_first_login(&app, &resp, 502, "wechat_bad_gateway", label, 1.0).await;
        let answered = app.journal_entries("endpoint=jscode2session").await;
        assert_eq!(answered.len(), 1, "{transport}: one try");
        assert_eq!(
            answered[0].fault.as_deref(),
            Some(format!("rule 1: transport {transport}").as_str())
        );
    }
}

#[tokio::test]
async fn a_slow_wechat_is_504_wechat_timeout() {
    let app = TestApp::configured(|c| c.upstream.timeout = Duration::from_millis(300)).await;
    app.fault(json!({"endpoint": "jscode2session", "delay": "2s", "times": 1}))
        .await;
    let code = app.wx_login("alice").await;
    let started = std::time::Instant::now();
    let resp = app.login_code(&code).await;
    let took = started.elapsed();
    assert_failed_first_login(&app, &resp, 504, "wechat_timeout", "timeout", 1.0).await;
    assert!(
        took < Duration::from_millis(1500),
        "login-core gave up at its timeout, not WeChat's answer: {took:?}"
    );
}

/// Asserts that a second stable_token request was made, with `force_refresh` as `forced`
/// (for the reason `why`); returns both requests.
async fn assert_second_stable_token(app: &TestApp, forced: bool, why: &str) -> Vec<JournalEntry> {
    let stable = app.journal_entries("endpoint=stable_token").await;
    assert_eq!(stable.len(), 2);
    assert_eq!(request_body(&stable[1])["force_refresh"], forced, "{why}");
    stable
}

/// Binds `user`'s phone number from a fresh phone-number code to the session of `token`.
async fn bind_own_phone(app: &TestApp, token: &str, user: &str) -> serde_json::Value {
    let (grant, body) = app.bind_phone_of(token, user).await;
    assert_eq!(body["user"]["phone_bound"], true, "{body}");
    assert_eq!(
        body["user"]["phone"]["purePhoneNumber"],
        grant.mock.phone.number.as_str()
    );
    body
}

#[tokio::test]
async fn the_access_token_is_cached_until_it_nears_expiry() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    bind_own_phone(&app, &token, "alice").await;
    let check = app.check(&token).await;
    assert_eq!(check["valid"], true);
    assert_eq!(app.calls("token").await, 1, "one token for both calls");
    assert_eq!(app.calls("getuserphonenumber").await, 1);
    assert_eq!(app.calls("checksession").await, 1);

    // Still well inside the token's 7200 s.
    app.advance(Duration::from_secs(3600));
    app.check(&token).await;
    assert_eq!(app.calls("token").await, 1);

    // Past its lifetime: a new token is fetched, and used.
    app.advance(Duration::from_secs(3601));
    app.check(&token).await;
    bind_own_phone(&app, &token, "alice").await;
    let tokens = app.journal_entries("endpoint=token").await;
    assert_eq!(tokens.len(), 2);
    assert_eq!(app.calls("checksession").await, 3);
    let second: serde_json::Value =
        serde_json::from_str(&tokens[1].response).expect("token answer");
    let second = second["access_token"].as_str().expect("access_token");
    let last_check = app.journal_entries("endpoint=checksession").await;
    assert_eq!(
        last_check[2].params["access_token"], second,
        "the new token is the one used"
    );
    assert_eq!(app.upstream_errors("checksession", "40001").await, 0.0);
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_and_the_call_tried_once_more() {
    for errcode in [40001, 42001] {
        let app = TestApp::new().await;
        let (token, _) = app.login("alice").await;
        app.fault(json!({"endpoint": "getuserphonenumber", "errcode": errcode, "times": 1}))
            .await;
        bind_own_phone(&app, &token, "alice").await;
        assert_eq!(app.calls("token").await, 2, "{errcode}: refreshed once");
        assert_eq!(
            app.errcodes("getuserphonenumber").await,
            [Some(errcode), Some(0)]
        );
        let phone = app.journal_entries("endpoint=getuserphonenumber").await;
        assert_ne!(
            phone[0].params["access_token"], phone[1].params["access_token"],
            "{errcode}: the retry used the new token"
        );
        assert_eq!(
            app.upstream_errors("getuserphonenumber", &errcode.to_string())
                .await,
            1.0
        );
        // The new token is cached for what follows.
        app.check(&token).await;
        assert_eq!(app.calls("token").await, 2);
    }
}

#[tokio::test]
async fn a_token_rejected_twice_is_not_retried_forever() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    app.fault(json!({"endpoint": "checksession", "errcode": 40001}))
        .await;
    let resp = app.get("/api/session/check", Some(&token)).await;
    resp.assert_error(500, "server_misconfigured");
    assert_eq!(app.calls("checksession").await, 2);
    assert_eq!(app.calls("token").await, 2);
}

#[tokio::test]
async fn stable_token_mode_uses_stable_token_and_forces_a_refresh_after_a_rejection() {
    let app = TestApp::configured(|c| c.upstream.access_token = TokenMode::Stable).await;
    let (token, _) = app.login("alice").await;
    bind_own_phone(&app, &token, "alice").await;
    app.check(&token).await;
    assert_eq!(app.calls("stable_token").await, 1);
    assert_eq!(app.calls("token").await, 0);
    let body = request_body(&app.journal_entries("endpoint=stable_token").await[0]);
    assert_eq!(body["grant_type"], "client_credential");
    assert_eq!(body["appid"], app.appid.as_str());
    assert_eq!(body["force_refresh"], false);

    app.fault(json!({"endpoint": "checksession", "errcode": 40001, "times": 1}))
        .await;
    app.check(&token).await;
    let why = "the normal call would return the rejected token";
    assert_second_stable_token(&app, true, why).await;
    assert_eq!(app.calls("token").await, 0);
}

#[tokio::test]
async fn a_failing_token_endpoint_fails_the_phone_binding_and_writes_nothing() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    app.fault(json!({"endpoint": "token", "errcode": -1})).await;
    let grant = app.phone_grant("alice").await;
    let resp = app.bind_phone_code(&token, &grant.code).await;
    resp.assert_error(503, "wechat_unavailable");
    assert_eq!(app.calls("token").await, 3);
    assert_eq!(app.calls("getuserphonenumber").await, 0);
    assert_eq!(app.me(&token).await["phone_bound"], false);
    assert_eq!(app.upstream_errors("access_token", "-1").await, 3.0);
}

#[tokio::test]
async fn wechat_daily_quota_is_429_until_midnight_china_time() {
    let app = TestApp::new().await;
    let resp = first_login_while_wechat_answers(&app, 45009).await;
    assert_failed_first_login(&app, &resp, 429, "wechat_rate_limited", "45009", 1.0).await;
    // 2024-08-22T01:14:57Z to 2024-08-22T16:00:00Z (midnight in UTC+8).
    let now = app.mock.clock().now().millis();
    let expected = seconds_to_next(now + 8 * 3_600_000, 86_400);
    assert_eq!(expected, 14 * 3600 + 45 * 60 + 3);
    assert_eq!(resp.header("retry-after"), Some(expected.to_string()));
}

#[tokio::test]
async fn a_stable_token_is_cached_until_it_nears_expiry_then_renewed_without_force() {
    let app = TestApp::configured(|c| c.upstream.access_token = TokenMode::Stable).await;
    let (token, _) = app.login("alice").await;
    app.check(&token).await;
    app.advance(Duration::from_secs(6000));
    app.check(&token).await;
    assert_eq!(app.calls("stable_token").await, 1);
    app.advance(Duration::from_secs(1201));
    app.check(&token).await;
    let stable = assert_second_stable_token(&app, false, "expiry needs no forced refresh").await;
    assert_ne!(stable[0].response, stable[1].response, "a new token");
    assert_eq!(app.calls("checksession").await, 3);
}
