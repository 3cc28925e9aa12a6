//! `POST /api/sms/send` and `POST /api/login/sms`: codes and their life (expiry, wrong tries,
//! single use, replacement), new and existing numbers, the limits with `Retry-After`, and what
//! each SMS gateway failure becomes.

use std::time::Duration;

use login_core::sms::{LimitWindow, SmsError};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_code_is_sent_and_only_its_hash_is_kept() {
    let app = TestApp::new().await;
    let r = app.send_code("+86 138-1234-0101").await.ok();
    assert_eq!(r, json!({"sent": true, "expires_in": 300, "resend_in": 60}));
    let messages = app.outbox.messages();
    assert_eq!(messages.len(), 1);
    let code = messages[0].code.expose().to_owned();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(messages[0].phone.e164(), "+8613812340101");
    assert_eq!(messages[0].minutes(), 5);
    let stats = app.stats().await;
    assert_eq!((stats.sms_codes, stats.users, stats.sessions), (1, 0, 0));
    // The database holds no code in any form a reader could type.
    let db: Vec<u8> = app
        .database_files()
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    assert!(
        !db.windows(6).any(|w| w == code.as_bytes()),
        "the code is not stored in clear"
    );
}

#[tokio::test]
async fn a_new_number_registers_and_an_existing_one_logs_in() {
    let app = TestApp::new().await;
    let first = app.sms_login_fresh("13812340102", None).await.ok();
    assert_eq!(first["user"]["is_new"], true);
    assert_eq!(first["user"]["phone_bound"], true);
    assert_eq!(first["user"]["apps"], json!([]));
    app.advance(Duration::from_secs(60));
    // The same number in the other accepted form.
    let again = app.sms_login_fresh("+8613812340102", None).await.ok();
    assert_eq!(again["user"]["id"], first["user"]["id"]);
    assert_eq!(again["user"]["is_new"], false);
    assert_ne!(token_of(&again), token_of(&first));
    app.me(&token_of(&first)).await;
    let stats = app.stats().await;
    assert_eq!(
        (stats.users, stats.sessions, stats.sms_codes),
        (1, 2, 0),
        "codes are spent"
    );
}

#[tokio::test]
async fn a_code_is_single_use_expires_and_is_replaced_by_a_new_one() {
    let app = TestApp::new().await;
    let n = "13812340103";
    app.send_code(n).await.ok();
    let code = app.outbox.last_code(&e164(n));
    app.sms_login(n, &code, None).await.ok();
    let message = app
        .sms_login(n, &code, None)
        .await
        .assert_error(400, "sms_code_expired");
    assert!(message.contains("POST /api/sms/send"), "{message}");

    app.advance(Duration::from_secs(60));
    app.send_code(n).await.ok();
    let old = app.outbox.last_code(&e164(n));
    app.advance(Duration::from_secs(60));
    app.send_code(n).await.ok();
    let new = app.outbox.last_code(&e164(n));
    if old != new {
        // The earlier code no longer works (a wrong try of the pending one).
        app.sms_login(n, &old, None)
            .await
            .assert_error(400, "sms_code_invalid");
    }
    // Five minutes.
    app.advance(Duration::from_secs(300));
    let message = app
        .sms_login(n, &new, None)
        .await
        .assert_error(400, "sms_code_expired");
    assert!(message.contains("expired"), "{message}");
    app.send_code(n).await.ok();
    let fresh = app.outbox.last_code(&e164(n));
    app.advance(Duration::from_secs(299));
    app.sms_login(n, &fresh, None).await.ok();
}

#[tokio::test]
async fn five_wrong_tries_void_a_code() {
    let app = TestApp::new().await;
    let n = "13812340104";
    app.send_code(n).await.ok();
    let code = app.outbox.last_code(&e164(n));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for left in (1..=4).rev() {
        let message = app
            .sms_login(n, wrong, None)
            .await
            .assert_error(400, "sms_code_invalid");
        assert!(message.contains(&format!("{left} tries left")), "{message}");
    }
    app.sms_login(n, wrong, None)
        .await
        .assert_error(400, "sms_code_exhausted");
    // Even the right code is refused now; nothing was registered.
    app.sms_login(n, &code, None)
        .await
        .assert_error(400, "sms_code_exhausted");
    assert_eq!(app.stats().await.users, 0);
    // A new code works.
    app.advance(Duration::from_secs(60));
    app.sms_login_fresh(n, None).await.ok();
}

#[tokio::test]
async fn sends_are_limited_per_number_and_per_address_with_retry_after() {
    let app = TestApp::configured(|c| c.phone.sms_per_address_per_hour = 7).await;
    let n = "13812340105";
    app.send_code(n).await.ok();
    app.advance(Duration::from_secs(20));
    let r = app.send_code(n).await;
    let message = r.assert_error(429, "rate_limited");
    assert!(message.contains("this number"), "{message}");
    assert_eq!(r.header("retry-after").as_deref(), Some("40"));
    // Five per hour per number (the refused request above counted against the address only).
    for _ in 0..4 {
        app.advance(Duration::from_secs(60));
        app.send_code(n).await.ok();
    }
    app.advance(Duration::from_secs(60));
    let r = app.send_code(n).await;
    r.assert_error(429, "rate_limited");
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert_eq!(wait, 3600 - 20 - 5 * 60);
    assert_eq!(app.outbox.messages().len(), 5);
    // Seven requests from this address this hour: the eighth is refused whatever the number.
    let r = app.send_code("13812340106").await;
    let message = r.assert_error(429, "rate_limited");
    assert!(message.contains("address"), "{message}");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.outbox.messages().len(), 5);
}

#[tokio::test]
async fn gateway_failures_have_their_answers_and_leave_no_code() {
    let app = TestApp::new().await;
    let cases = [
        (
            SmsError::RateLimited {
                code: "LimitExceeded.PhoneNumberDailyLimit".into(),
                window: LimitWindow::DayInChina,
            },
            429,
            "sms_rate_limited",
        ),
        (
            SmsError::RateLimited {
                code: "LimitExceeded.PhoneNumberThirtySecondLimit".into(),
                window: LimitWindow::Seconds(30),
            },
            429,
            "sms_rate_limited",
        ),
        (
            SmsError::NumberRefused {
                code: "InvalidParameterValue.IncorrectPhoneNumber".into(),
            },
            400,
            "sms_number_refused",
        ),
        (
            SmsError::Misconfigured {
                code: "AuthFailure.SignatureFailure".into(),
                message: "The provided credentials could not be validated.".into(),
            },
            500,
            "server_misconfigured",
        ),
        (
            SmsError::Unavailable("HTTP 502".into()),
            503,
            "sms_unavailable",
        ),
        (SmsError::NotConfigured, 503, "sms_unavailable"),
    ];
    for (i, (failure, status, code)) in cases.into_iter().enumerate() {
        let n = format!("1381234020{i}");
        app.outbox.fail_next(failure.clone());
        let r = app.send_code(&n).await;
        let message = r.assert_error(status, code);
        assert!(
            !message.contains("AuthFailure") && !message.contains("credentials"),
            "details stay in the log: {message}"
        );
        let retry_after = r.header("retry-after");
        match &failure {
            SmsError::RateLimited {
                window: LimitWindow::DayInChina,
                ..
            } => {
                // START is 09:14:57 in China: 14 h 45 min 3 s to midnight there.
                assert_eq!(retry_after.as_deref(), Some("53103"), "{failure:?}");
            }
            SmsError::RateLimited { .. } => assert_eq!(retry_after.as_deref(), Some("30")),
            SmsError::Unavailable(_) => assert_eq!(retry_after.as_deref(), Some("5")),
            _ => assert_eq!(retry_after, None, "{failure:?}"),
        }
        assert_eq!(
            app.stats().await.sms_codes,
            0,
            "{failure:?}: no code pending"
        );
    }
    assert!(app.outbox.messages().is_empty());
}

#[tokio::test]
async fn logins_by_sms_count_against_the_address_limit() {
    let app = TestApp::configured(|c| c.limits.logins_per_address_per_minute = 2).await;
    let n = "13812340107";
    app.send_code(n).await.ok();
    app.sms_login(n, "000000", None).await;
    app.sms_login(n, "000000", None).await;
    let r = app.sms_login(n, "000000", None).await;
    r.assert_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
}

/// What the gateway saw, one JSON summary per request.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

/// A SendSms endpoint at a path of its own: checks the signature the way Tencent does (with
/// the secret key it knows) and answers Tencent's shapes.
async fn tencent_gateway() -> (String, Seen, tokio::task::JoinHandle<()>) {
    use axum::http::HeaderMap;
    use login_core::sms::tc3::Signing;

    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let handler = move |headers: HeaderMap, body: String| {
        let record = record.clone();
        async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let expected = Signing {
                secret_id: "AKIDgateway",
                secret_key: "gateway-secret",
                service: "sms",
                host: &h("host"),
                content_type: &h("content-type"),
                timestamp: h("x-tc-timestamp").parse().unwrap_or(0),
            }
            .authorization(&body);
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            record
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(json!({"authorization_ok": h("authorization") == expected, "action": h("x-tc-action"), "body": parsed}));
            if h("authorization") != expected {
                return json!({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "The provided credentials could not be validated."}, "RequestId": "r1"}}).to_string();
            }
            let phone = parsed["PhoneNumberSet"][0].clone();
            json!({"Response": {"SendStatusSet": [{"SerialNo": "2028:1", "PhoneNumber": phone, "Fee": 1, "SessionContext": "", "Code": "Ok", "Message": "send success", "IsoCode": "CN"}], "RequestId": "r2"}}).to_string()
        }
    };
    let router = axum::Router::new().route("/tencentcloud/sms", axum::routing::post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/tencentcloud/sms",
        listener.local_addr().expect("addr")
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, seen, server)
}

#[tokio::test]
async fn the_tencent_provider_signs_sendsms_to_the_configured_endpoint() {
    let (endpoint, seen, server) = tencent_gateway().await;
    let configure = |secret: &'static str, endpoint: String| {
        move |c: &mut login_core::Config| {
            c.sms.provider = login_core::config::SmsProvider::Tencent;
            let t = &mut c.sms.tencent;
            t.endpoint = endpoint;
            t.secret_id = "AKIDgateway".into();
            t.secret_key = login_core::config::TencentSecretKey(secret.into());
            t.sms_sdk_app_id = "1400000001".into();
            t.sign_name = "测试".into();
            t.template_id = "100001".into();
        }
    };
    let app = TestApp::configured(configure("gateway-secret", endpoint.clone())).await;
    app.send_code("13812340108").await.ok();
    let requests = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["authorization_ok"], true);
    assert_eq!(requests[0]["action"], "SendSms");
    let body = &requests[0]["body"];
    assert_eq!(body["PhoneNumberSet"], json!(["+8613812340108"]));
    assert_eq!(body["SmsSdkAppId"], "1400000001");
    assert_eq!(body["TemplateId"], "100001");
    // The code in the message logs in.
    let code = body["TemplateParamSet"][0]
        .as_str()
        .expect("code")
        .to_owned();
    assert_eq!(body["TemplateParamSet"][1], "5");
    app.sms_login("13812340108", &code, None).await.ok();

    // A wrong SecretKey: Tencent's signature failure is this server's setup: 500, nothing pending.
    let app = TestApp::configured(configure("not-the-secret", endpoint)).await;
    app.send_code("13812340109")
        .await
        .assert_error(500, "server_misconfigured");
    assert_eq!(app.stats().await.sms_codes, 0);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_raced_by_eight_logins_logs_in_once() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let n = "13812340110";
    app.send_code(n).await.ok();
    let code = app.outbox.last_code(&e164(n));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, code) = (app.clone(), code.clone());
        set.spawn(async move { app.sms_login(n, &code, None).await });
    }
    let mut ok = 0;
    while let Some(done) = set.join_next().await {
        let r = done.expect("ran");
        if r.status == 200 {
            ok += 1;
        } else {
            r.assert_error(400, "sms_code_expired");
        }
    }
    assert_eq!(ok, 1);
    let stats = app.stats().await;
    assert_eq!((stats.users, stats.sessions, stats.sms_codes), (1, 1, 0));
}

#[tokio::test]
async fn sendsms_reaches_the_mocks_tencent_gateway_signed_and_its_code_logs_in() {
    let app = TestApp::configured(|c: &mut login_core::Config| {
        c.sms.provider = login_core::config::SmsProvider::Tencent;
        let t = &mut c.sms.tencent;
        t.endpoint = format!("{}/tencentcloud/sms", c.wechat_base_url);
        t.secret_id = "AKIDmockgatewaytest0000000000000000".into();
        t.secret_key = login_core::config::TencentSecretKey("mock-gateway-secret".into());
        t.sms_sdk_app_id = "1400123456".into();
        t.sign_name = "登录验证".into();
        t.template_id = "2000001".into();
    })
    .await;
    let gateway = |secret: &str| {
        json!({
            "secret_id": "AKIDmockgatewaytest0000000000000000",
            "secret_key": secret,
            "sdk_app_ids": ["1400123456"],
            "sign_names": [{"name": "登录验证"}],
            "templates": [{"id": "2000001", "content": "{1}为您的登录验证码，请于{2}分钟内填写。"}]
        })
    };
    let control = app.mock.control();
    let patch = gateway("mock-gateway-secret");
    control
        .raw(reqwest::Method::PATCH, "/sms/config", Some(&patch))
        .await
        .expect("the mock takes the gateway's configuration");

    // login-core signs SendSms; the mock checks the signature and puts the message in its outbox.
    app.send_code("13812340110").await.ok();
    let code = control
        .last_sms_code("+8613812340110")
        .await
        .expect("outbox")
        .expect("a message with a code");
    assert_eq!(code.len(), 6, "{code}");
    app.sms_login("13812340110", &code, None).await.ok();

    // The mock's key no longer matches login-core's: Tencent's signature failure, which is this
    // server's setup (500), and no code is pending.
    let patch = gateway("another-secret");
    control
        .raw(reqwest::Method::PATCH, "/sms/config", Some(&patch))
        .await
        .expect("the mock takes the new key");
    app.send_code("13812340111")
        .await
        .assert_error(500, "server_misconfigured");
    assert_eq!(
        control
            .last_sms_code("+8613812340111")
            .await
            .expect("outbox"),
        None
    );
    let journal = control
        .raw(
            reqwest::Method::GET,
            "/journal?endpoint=sms_send&tencent_code=AuthFailure.SignatureFailure",
            None,
        )
        .await
        .expect("journal");
    assert_eq!(
        journal["entries"].as_array().map(Vec::len),
        Some(1),
        "{journal}"
    );
}
