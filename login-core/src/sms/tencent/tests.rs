//! The adapter against a small SendSms server on 127.0.0.1:0 that checks every request the way
//! Tencent Cloud does (a signature computed here independently of `tc3.rs`, the action, version,
//! SDK app id and template) and answers with Tencent's shapes: success, request errors,
//! per-number failures, HTTP errors, garbage and silence.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;
use crate::clock::{ManualClock, UnixMs};
use crate::config::TencentSecretKey;
use crate::ids::SmsCode;
use crate::phone::PhoneNumber;

const SECRET_ID: &str = "AKIDtest0000000000000000000000000000";
const SECRET_KEY: &str = "test-secret-key-0000000000000000";
const SDK_APP_ID: &str = "1400000001";
const TEMPLATE: &str = "100001";

/// What the test gateway saw.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Gateway {
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(msg.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// TC3-HMAC-SHA256 as the gateway computes it, from the headers received.
fn expected_authorization(headers: &HeaderMap, body: &str) -> Option<String> {
    let header = |n: &str| headers.get(n)?.to_str().ok().map(str::to_owned);
    let timestamp: i64 = header("x-tc-timestamp")?.parse().ok()?;
    let date = crate::sms::tc3::utc_date(timestamp);
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        header("content-type")?,
        header("host")?,
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("TC3{SECRET_KEY}").as_bytes(), &date);
    let k = hmac(&k, "sms");
    let k = hmac(&k, "tc3_request");
    Some(format!(
        "TC3-HMAC-SHA256 Credential={SECRET_ID}/{date}/sms/tc3_request, \
         SignedHeaders=content-type;host, Signature={}",
        hex::encode(hmac(&k, &to_sign))
    ))
}

fn error(code: &str, message: &str) -> (StatusCode, String) {
    let body =
        json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "req-err"}});
    (StatusCode::OK, body.to_string())
}

fn status(phone: &str, code: &str, message: &str) -> (StatusCode, String) {
    let body = json!({"Response": {"SendStatusSet": [{
        "SerialNo": if code == "Ok" { "2028:342f9fba0b9e36a33c1b" } else { "" },
        "PhoneNumber": phone,
        "Fee": u32::from(code == "Ok"),
        "SessionContext": "",
        "Code": code,
        "Message": message,
        "IsoCode": "CN"
    }], "RequestId": "req-1"}});
    (StatusCode::OK, body.to_string())
}

async fn send_sms(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    gw.seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Seen {
            headers: headers.clone(),
            body: parsed.clone(),
        });
    let given = headers.get("authorization").and_then(|v| v.to_str().ok());
    if given.is_none() || given.map(str::to_owned) != expected_authorization(&headers, &body) {
        return error(
            "AuthFailure.SignatureFailure",
            "The provided credentials could not be validated. Please check your signature is correct.",
        );
    }
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if h("x-tc-action") != "SendSms" || h("x-tc-version") != "2021-01-11" {
        return error(
            "InvalidAction",
            "The requested action does not exist or is not supported.",
        );
    }
    if parsed["SmsSdkAppId"] != SDK_APP_ID {
        return error(
            "InvalidParameterValue.SdkAppIdNotExist",
            "SdkAppId does not exist.",
        );
    }
    if parsed["TemplateId"] != TEMPLATE {
        return error(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "The template is not approved or has incorrect content.",
        );
    }
    let phone = parsed["PhoneNumberSet"][0]
        .as_str()
        .unwrap_or("")
        .to_owned();
    match phone.as_str() {
        "+8613800000001" => status(
            &phone,
            "LimitExceeded.PhoneNumberDailyLimit",
            "the number of SMS messages sent from a single mobile number every day exceeds the upper limit",
        ),
        "+8613800000002" => error("InternalError.Timeout", "request timed out"),
        "+8613800000003" => (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>".into()),
        "+8613800000004" => (StatusCode::OK, "not json".into()),
        "+8613800000005" => status(
            &phone,
            "InvalidParameterValue.IncorrectPhoneNumber",
            "invalid mobile number",
        ),
        // Never answers: the adapter's timeout must give up on it.
        "+8613800000006" => std::future::pending().await,
        "+8613800000007" => error(
            "LimitExceeded.PhoneNumberThirtySecondLimit",
            "too many messages within 30 seconds",
        ),
        "+8613800000008" => (
            StatusCode::OK,
            json!({"Response": {"RequestId": "r"}}).to_string(),
        ),
        _ => status(&phone, "Ok", "send success"),
    }
}

/// The gateway on a port of its own; the adapter pointed at it.
async fn setup(
    change: impl FnOnce(&mut TencentSmsConfig),
) -> (TencentSms, Gateway, tokio::task::JoinHandle<()>) {
    let gw = Gateway::default();
    let app = Router::new()
        .route("/", post(send_sms))
        .with_state(gw.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut config = TencentSmsConfig {
        endpoint: format!("http://{addr}/"),
        secret_id: SECRET_ID.into(),
        secret_key: TencentSecretKey(SECRET_KEY.into()),
        sms_sdk_app_id: SDK_APP_ID.into(),
        sign_name: "腾讯云".into(),
        template_id: TEMPLATE.into(),
        timeout: Duration::from_millis(500),
        ..TencentSmsConfig::default()
    };
    change(&mut config);
    let clock = Arc::new(ManualClock::new(UnixMs(1_724_289_297_000)));
    let sms = TencentSms::new(&config, clock).expect("adapter");
    (sms, gw, server)
}

fn message(number: &str) -> SmsMessage {
    SmsMessage {
        phone: PhoneNumber::parse(number).expect("number"),
        code: SmsCode::new("428913"),
        ttl: Duration::from_secs(300),
    }
}

#[tokio::test]
async fn a_signed_request_is_accepted_and_carries_the_documented_fields() {
    let (sms, gw, server) = setup(|_| {}).await;
    let receipt = sms.send(&message("13912345678")).await.expect("sent");
    assert_eq!(
        receipt.serial_no.as_deref(),
        Some("2028:342f9fba0b9e36a33c1b")
    );
    assert_eq!(receipt.request_id.as_deref(), Some("req-1"));
    let seen = gw.seen.lock().unwrap_or_else(PoisonError::into_inner)[0].clone();
    assert_eq!(
        seen.body,
        json!({
            "PhoneNumberSet": ["+8613912345678"],
            "SmsSdkAppId": SDK_APP_ID,
            "SignName": "腾讯云",
            "TemplateId": TEMPLATE,
            "TemplateParamSet": ["428913", "5"],
        })
    );
    let h = |n: &str| seen.headers[n].to_str().expect("text").to_owned();
    assert_eq!(h("x-tc-timestamp"), "1724289297");
    assert_eq!(h("x-tc-region"), "ap-guangzhou");
    assert_eq!(h("content-type"), "application/json; charset=utf-8");
    assert!(
        h("authorization").starts_with(&format!(
            "TC3-HMAC-SHA256 Credential={SECRET_ID}/2024-08-22/sms/tc3_request, SignedHeaders=content-type;host, Signature="
        )),
        "{}",
        h("authorization")
    );
    server.abort();
}

#[tokio::test]
async fn request_errors_are_classified() {
    // A wrong key: Tencent's signature error, which is this server's setup.
    let (sms, _, server) = setup(|c| c.secret_key = TencentSecretKey("wrong".into())).await;
    let e = sms
        .send(&message("13912345678"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, SmsError::Misconfigured { code, .. } if code == "AuthFailure.SignatureFailure"),
        "{e:?}"
    );
    server.abort();
    let (sms, _, server) = setup(|c| c.template_id = "999".into()).await;
    let e = sms
        .send(&message("13912345678"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, SmsError::Misconfigured { code, .. } if code == "FailedOperation.TemplateIncorrectOrUnapproved"),
        "{e:?}"
    );
    server.abort();
    let (sms, _, server) = setup(|c| c.sms_sdk_app_id = "1".into()).await;
    let e = sms
        .send(&message("13912345678"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, SmsError::Misconfigured { code, .. } if code == "InvalidParameterValue.SdkAppIdNotExist"),
        "{e:?}"
    );
    server.abort();
}

#[tokio::test]
async fn per_number_failures_limits_and_trouble_are_classified() {
    let (sms, _, server) = setup(|_| {}).await;
    let cases: [(&str, SmsError); 7] = [
        (
            "13800000001",
            SmsError::RateLimited {
                code: "LimitExceeded.PhoneNumberDailyLimit".into(),
                window: LimitWindow::DayInChina,
            },
        ),
        (
            "13800000007",
            SmsError::RateLimited {
                code: "LimitExceeded.PhoneNumberThirtySecondLimit".into(),
                window: LimitWindow::Seconds(30),
            },
        ),
        (
            "13800000005",
            SmsError::NumberRefused {
                code: "InvalidParameterValue.IncorrectPhoneNumber".into(),
            },
        ),
        (
            "13800000002",
            SmsError::Unavailable("InternalError.Timeout: request timed out".into()),
        ),
        ("13800000003", SmsError::Unavailable("HTTP 502".into())),
        ("13800000004", SmsError::Unavailable(String::new())),
        ("13800000008", SmsError::Unavailable(String::new())),
    ];
    for (number, expected) in cases {
        let e = sms.send(&message(number)).await.expect_err(number);
        match (&e, &expected) {
            (SmsError::Unavailable(_), SmsError::Unavailable(m)) if m.is_empty() => {}
            _ => assert_eq!(e, expected, "{number}"),
        }
    }
    // Silence past the timeout.
    let started = std::time::Instant::now();
    let e = sms
        .send(&message("13800000006"))
        .await
        .expect_err("timeout");
    assert!(
        matches!(e, SmsError::Unavailable(ref m) if m.contains("no answer")),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    server.abort();
    // Nobody listening.
    let e = sms
        .send(&message("13912345678"))
        .await
        .expect_err("refused");
    assert!(matches!(e, SmsError::Unavailable(_)), "{e:?}");
}

#[test]
fn codes_are_classified_by_family() {
    let limited = |c: &str| matches!(classify(c, ""), SmsError::RateLimited { .. });
    assert!(limited("LimitExceeded.PhoneNumberOneHourLimit"));
    assert!(limited("LimitExceeded.AppDailyLimit"));
    assert!(limited("RequestLimitExceeded"));
    assert!(limited("RequestLimitExceeded.IPLimitExceeded"));
    assert!(matches!(
        classify("FailedOperation.PhoneNumberInBlacklist", ""),
        SmsError::NumberRefused { .. }
    ));
    assert!(matches!(
        classify("ResourceUnavailable", ""),
        SmsError::Unavailable(_)
    ));
    for c in [
        "AuthFailure.SecretIdNotFound",
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "FailedOperation.InsufficientBalanceInSmsPackage",
        "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
        "InvalidParameter",
    ] {
        assert!(
            matches!(classify(c, "m"), SmsError::Misconfigured { .. }),
            "{c}"
        );
    }
    assert!(
        TencentSms::new(
            &TencentSmsConfig {
                endpoint: "not a url".into(),
                ..TencentSmsConfig::default()
            },
            Arc::new(ManualClock::new(UnixMs(0)))
        )
        .is_err()
    );
}
