//! Tests: Tencent Cloud SMS `SendSms` at `POST /tencentcloud/sms` (TC3 signature, clock, keys,
//! common parameters, templates, sign names, numbers, frequency limits on the virtual clock), its
//! outbox and configuration under `/__mock__/sms`, and the typed client.

use std::time::Duration;

use mock_server::config::{Config, SeedFile};
use mock_server::tencent::{self, Key, SmsConfigPatch, sign};
use mock_server::{Clock, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, START, TestMock};

const PHONE: &str = "+8613800138000";
const OTHER: &str = "+8613900139000";

/// Asserts a whole-request refusal: HTTP 200, exactly
/// `{"Response":{"Error":{"Code","Message"},"RequestId"}}`; returns the message.
#[track_caller]
fn assert_tc_error(r: &Raw, code: &str) -> String {
    assert_eq!(r.status, 200, "Tencent Cloud errors are HTTP 200: {r:?}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"), "{r:?}");
    let prefix = format!(r#"{{"Response":{{"Error":{{"Code":"{code}","Message":""#);
    assert!(r.body.starts_with(&prefix), "expected {code}: {}", r.body);
    let v = r.json();
    let response = v["Response"].as_object().expect("Response");
    assert_eq!(response.len(), 2, "{}", r.body);
    assert_eq!(v["Response"]["Error"].as_object().map(|o| o.len()), Some(2));
    assert_request_id(&v);
    v["Response"]["Error"]["Message"]
        .as_str()
        .expect("message")
        .to_owned()
}

#[track_caller]
fn assert_request_id(v: &Value) {
    let id = v["Response"]["RequestId"].as_str().expect("RequestId");
    let lens: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(lens, [8, 4, 4, 4, 12], "{id}");
}

/// The `SendStatusSet` of a SendSms answer.
#[track_caller]
fn statuses(r: &Raw) -> Vec<Value> {
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert!(v["Response"]["Error"].is_null(), "an error: {}", r.body);
    assert_request_id(&v);
    v["Response"]["SendStatusSet"]
        .as_array()
        .expect("SendStatusSet")
        .clone()
}

fn codes(r: &Raw) -> Vec<String> {
    statuses(r)
        .iter()
        .map(|s| s["Code"].as_str().expect("Code").to_owned())
        .collect()
}

async fn control(t: &TestMock, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, v) = t.control(method, path, body).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn outbox(t: &TestMock, query: &str) -> Value {
    control(t, Method::GET, &format!("/sms?{query}"), None).await
}

async fn set_config(t: &TestMock, patch: Value) -> Value {
    control(t, Method::PATCH, "/sms/config", Some(patch)).await
}

#[tokio::test]
async fn a_signed_send_answers_the_documented_shape_and_lands_in_the_outbox() {
    let t = TestMock::new().await;
    let c = t.sms();
    let r = t.send_sms(&t.sms_body(&[PHONE], &["123456", "5"])).await;
    assert!(r.date.is_some());
    // The documented success example's shape, field by field and in its order.
    assert!(
        r.body
            .starts_with(r#"{"Response":{"SendStatusSet":[{"SerialNo":""#),
        "{}",
        r.body
    );
    let set = statuses(&r);
    assert_eq!(set.len(), 1);
    let s = &set[0];
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "Code",
            "Fee",
            "IsoCode",
            "Message",
            "PhoneNumber",
            "SerialNo",
            "SessionContext"
        ]
    );
    assert_eq!(s["Code"], "Ok");
    assert_eq!(s["Message"], "send success");
    assert_eq!(s["PhoneNumber"], PHONE);
    assert_eq!(s["Fee"], 1);
    assert_eq!(s["SessionContext"], "");
    assert_eq!(s["IsoCode"], "CN");
    let serial = s["SerialNo"].as_str().unwrap();
    let (prefix, rest) = serial.split_once(':').expect("prefix:digits");
    assert_eq!(prefix.len(), 4);
    assert!(rest.contains(&START.to_string()), "{serial}");
    assert!(rest.bytes().all(|b| b.is_ascii_digit()), "{serial}");

    let page = outbox(&t, "").await;
    assert_eq!(page["recorded"], 1);
    assert_eq!(page["last_seq"], 1);
    let m = &page["messages"][0];
    assert_eq!(m["seq"], 1);
    assert_eq!(m["phone"], PHONE);
    assert_eq!(m["phone_as_sent"], PHONE);
    assert_eq!(m["code"], "123456");
    assert_eq!(m["params"], json!(["123456", "5"]));
    assert_eq!(m["template_id"], c.templates[0].spec.id.as_str());
    assert_eq!(m["sdk_app_id"], c.sdk_app_ids[0].as_str());
    assert_eq!(m["sign_name"], "登录验证");
    assert_eq!(
        m["content"],
        "【登录验证】123456为您的登录验证码，请于5分钟内填写，如非本人操作，请忽略本短信。"
    );
    assert_eq!(m["serial_no"], serial);
    assert_eq!(m["request_id"], r.json()["Response"]["RequestId"]);
    assert_eq!(m["time_ms"], START * 1000);
    assert_eq!(m["fee"], 1);

    // The typed client reads the code by any form of the number.
    let client = t.mock.control();
    for form in [PHONE, "13800138000", "8613800138000", "008613800138000"] {
        assert_eq!(
            client.last_sms_code(form).await.unwrap().as_deref(),
            Some("123456"),
            "{form}"
        );
    }
    assert_eq!(client.last_sms_code(OTHER).await.unwrap(), None);

    // The journal files it under the SmsSdkAppId with its headers and Tencent code.
    let journal = t.mock.control().journal("endpoint=sms_send").await.unwrap();
    let e = &journal.entries[0];
    assert_eq!(e.path, "/tencentcloud/sms");
    assert_eq!(e.appid.as_deref(), Some(c.sdk_app_ids[0].as_str()));
    assert_eq!(e.tencent_code.as_deref(), Some("Ok"));
    assert_eq!(e.errcode, None);
    let headers = e.headers.as_ref().expect("headers");
    assert_eq!(headers["x-tc-action"], "SendSms");
    assert!(
        headers["authorization"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "TC3-HMAC-SHA256 Credential={}/2024-08-22/sms/tc3_request",
                c.secret_id
            ))
    );
    let filtered = t.mock.control().journal("tencent_code=Ok").await.unwrap();
    assert_eq!(filtered.entries.len(), 1);
}

#[tokio::test]
async fn the_path_with_a_trailing_slash_and_multiple_numbers_work() {
    let t = TestMock::new().await;
    let body = t
        .sms_body(&[PHONE, "13900139000"], &["654321", "5"])
        .to_string();
    let headers = t.sms_headers(&body, t.now_secs());
    let r = t.post_with("/tencentcloud/sms/", &headers, &body).await;
    assert_eq!(codes(&r), ["Ok", "Ok"]);
    assert_eq!(
        statuses(&r)[1]["PhoneNumber"],
        "13900139000",
        "echoed as given"
    );
    let to_other = t.mock.control().sms_to(OTHER).await.unwrap();
    assert_eq!(to_other.len(), 1);
    assert_eq!(to_other[0].phone_as_sent, "13900139000");
}

fn key(t: &TestMock) -> (String, String) {
    let c = t.sms();
    (c.secret_id, c.secret_key)
}

/// Headers signed with a given key, time, host and payload; `Host` left to reqwest (so a host
/// other than the mock's is signed but not sent).
fn signed(
    secret_id: &str,
    secret_key: &str,
    timestamp: i64,
    host: &str,
    body: &str,
) -> Vec<(&'static str, String)> {
    let key = Key {
        secret_id,
        secret_key,
    };
    tencent::send_sms_headers(&key, host, "ap-guangzhou", timestamp, body.as_bytes())
        .into_iter()
        .filter(|(name, _)| *name != "Host")
        .collect()
}

#[tokio::test]
async fn signatures_are_checked_as_tencent_cloud_checks_them() {
    let t = TestMock::new().await;
    let (id, secret) = key(&t);
    let body = t.sms_body(&[PHONE], &["123456", "5"]).to_string();
    let now = t.now_secs();
    let host = t.host();
    let path = tencent::SMS_PATH;

    let wrong_key = signed(&id, "not-the-secret", now, &host, &body);
    let r = t.post_with(path, &wrong_key, &body).await;
    assert_eq!(
        assert_tc_error(&r, "AuthFailure.SignatureFailure"),
        "The provided credentials could not be validated. Please check your signature is correct."
    );

    let unknown = signed("AKIDunknown", &secret, now, &host, &body);
    assert_tc_error(
        &t.post_with(path, &unknown, &body).await,
        "AuthFailure.SecretIdNotFound",
    );

    // The body signed is not the body sent.
    let tampered = body.replace("123456", "999999");
    let headers = signed(&id, &secret, now, &host, &body);
    assert_tc_error(
        &t.post_with(path, &headers, &tampered).await,
        "AuthFailure.SignatureFailure",
    );

    // Signed for Tencent's host, sent to the mock.
    let other_host = signed(&id, &secret, now, "sms.tencentcloudapi.com", &body);
    assert_tc_error(
        &t.post_with(path, &other_host, &body).await,
        "AuthFailure.SignatureFailure",
    );

    // Five minutes either way, inclusive; the clock is the mock's.
    for late in [now - 301, now + 301] {
        let headers = signed(&id, &secret, late, &host, &body);
        assert_eq!(
            assert_tc_error(
                &t.post_with(path, &headers, &body).await,
                "AuthFailure.SignatureExpire"
            ),
            "The signature is expired, please request again."
        );
    }
    assert!(
        t.mock
            .control()
            .sms_outbox("")
            .await
            .unwrap()
            .messages
            .is_empty()
    );
    for edge in [now - 300, now + 300] {
        let body = t.sms_body(&[PHONE], &["123456", "5"]).to_string();
        let headers = signed(&id, &secret, edge, &host, &body);
        let r = t.post_with(path, &headers, &body).await;
        assert_eq!(statuses(&r).len(), 1, "{edge}: {}", r.body);
        t.advance(Duration::from_secs(31));
    }

    // A signature of the wrong service or a date other than the timestamp's.
    let now = t.now_secs();
    let good = signed(&id, &secret, now, &host, &body);
    let auth = good
        .iter()
        .find(|(n, _)| *n == "Authorization")
        .unwrap()
        .1
        .clone();
    for bad in [
        auth.replace("/sms/", "/cvm/"),
        auth.replace("/2024-08-22/", "/2024-08-21/"),
        auth.replace(
            "SignedHeaders=content-type;host",
            "SignedHeaders=content-type",
        ),
    ] {
        let headers: Vec<(&str, String)> = good
            .iter()
            .map(|(n, v)| {
                (
                    *n,
                    if *n == "Authorization" {
                        bad.clone()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        assert_tc_error(
            &t.post_with(path, &headers, &body).await,
            "AuthFailure.SignatureFailure",
        );
    }
    for bad in ["", "Bearer x", "TC3-HMAC-SHA256 Credential=x"] {
        let headers: Vec<(&str, String)> = good
            .iter()
            .map(|(n, v)| {
                (
                    *n,
                    if *n == "Authorization" {
                        bad.into()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        assert_tc_error(
            &t.post_with(path, &headers, &body).await,
            "AuthFailure.InvalidAuthorization",
        );
    }
    assert_eq!(t.mock.control().sms_outbox("").await.unwrap().recorded, 2);
}

#[tokio::test]
async fn other_signed_header_sets_and_unsigned_payloads_are_accepted() {
    let t = TestMock::new().await;
    let (id, secret) = key(&t);
    let body = t.sms_body(&[PHONE], &["123456", "5"]).to_string();
    let now = t.now_secs();
    let host = t.host();
    // As the current Signature v3 example signs: content-type;host;x-tc-action, the action's
    // value lowercased in the canonical request.
    let ct = "application/json; charset=utf-8";
    let auth = sign::sign(
        &Key {
            secret_id: &id,
            secret_key: &secret,
        },
        &sign::Request {
            service: "sms",
            timestamp: now,
            headers: &[
                ("content-type", ct),
                ("host", &host),
                ("x-tc-action", "SendSms"),
            ],
            payload: body.as_bytes(),
        },
    );
    let headers = vec![
        ("Content-Type", ct.to_owned()),
        ("X-TC-Action", "SendSms".to_owned()),
        ("X-TC-Version", "2021-01-11".to_owned()),
        ("X-TC-Timestamp", now.to_string()),
        ("Authorization", auth),
    ];
    let r = t.post_with(tencent::SMS_PATH, &headers, &body).await;
    assert_eq!(codes(&r), ["Ok"], "no region is fine");

    t.advance(Duration::from_secs(31));
    let now = t.now_secs();
    let auth = sign::sign(
        &Key {
            secret_id: &id,
            secret_key: &secret,
        },
        &sign::Request {
            service: "sms",
            timestamp: now,
            headers: &[("content-type", "application/json"), ("host", &host)],
            payload: sign::UNSIGNED_PAYLOAD.as_bytes(),
        },
    );
    let headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("X-TC-Action", "SendSms".to_owned()),
        ("X-TC-Version", "2021-01-11".to_owned()),
        ("X-TC-Timestamp", now.to_string()),
        ("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD".to_owned()),
        ("Authorization", auth),
    ];
    let r = t.post_with(tencent::SMS_PATH, &headers, &body).await;
    assert_eq!(codes(&r), ["Ok"], "{}", r.body);
}

#[tokio::test]
async fn common_parameters_are_checked_before_the_signature() {
    let t = TestMock::new().await;
    let body = t.sms_body(&[PHONE], &["123456", "5"]).to_string();
    let good = t.sms_headers(&body, t.now_secs());
    let with = |name: &str, value: Option<&str>| -> Vec<(&'static str, String)> {
        good.iter()
            .filter(|(n, _)| *n != name)
            .cloned()
            .chain(value.map(|v| {
                let n: &'static str = good.iter().find(|(n, _)| *n == name).unwrap().0;
                (n, v.to_owned())
            }))
            .collect()
    };
    let cases = [
        ("X-TC-Action", None, "MissingParameter", Some("`Action`")),
        ("X-TC-Action", Some("SendSMS"), "InvalidAction", None),
        ("X-TC-Version", None, "MissingParameter", Some("`Version`")),
        ("X-TC-Version", Some("2019-07-11"), "NoSuchVersion", None),
        (
            "X-TC-Timestamp",
            None,
            "MissingParameter",
            Some("`Timestamp`"),
        ),
        (
            "X-TC-Timestamp",
            Some("soon"),
            "InvalidParameter",
            Some("`Timestamp`"),
        ),
        (
            "X-TC-Timestamp",
            Some("-5"),
            "InvalidParameter",
            Some("`Timestamp`"),
        ),
        ("X-TC-Region", Some("ap-mars"), "UnsupportedRegion", None),
        (
            "Authorization",
            None,
            "AuthFailure.InvalidAuthorization",
            None,
        ),
    ];
    for (name, value, code, names) in cases {
        let r = t
            .post_with(tencent::SMS_PATH, &with(name, value), &body)
            .await;
        let message = assert_tc_error(&r, code);
        if let Some(param) = names {
            assert!(message.contains(param), "{name}: {message}");
        }
    }
    let r = t.http.get(t.url(tencent::SMS_PATH)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "UnsupportedProtocol");
    assert!(
        t.mock
            .control()
            .sms_outbox("")
            .await
            .unwrap()
            .messages
            .is_empty()
    );
}

#[tokio::test]
async fn bodies_are_refused_naming_the_field_in_tencent_clouds_words() {
    let t = TestMock::new().await;
    let c = t.sms();
    let app = c.sdk_app_ids[0].clone();
    let tpl = c.templates[0].spec.id.clone();
    let many: Vec<String> = (0..201).map(|_| PHONE.to_owned()).collect();
    let cases = [
        ("not json".to_owned(), "FailedOperation.JsonParseFail", None),
        ("[]".to_owned(), "FailedOperation.JsonParseFail", None),
        (
            json!({"PhoneNumberSet": PHONE, "SmsSdkAppId": app, "TemplateId": tpl}).to_string(),
            "InvalidParameter",
            Some("The value type of parameter `PhoneNumberSet` is not valid."),
        ),
        (
            json!({"PhoneNumberSet": [PHONE], "SmsSdkAppId": 1_400_000_000, "TemplateId": tpl})
                .to_string(),
            "InvalidParameter",
            Some("The value type of parameter `SmsSdkAppId` is not valid."),
        ),
        (
            json!({"PhoneNumberSet": [PHONE], "TemplateId": tpl}).to_string(),
            "MissingParameter",
            Some("The request is missing a required parameter `SmsSdkAppId`."),
        ),
        (
            json!({"PhoneNumberSet": [PHONE], "SmsSdkAppId": app, "TemplateID": tpl}).to_string(),
            "UnknownParameter",
            Some("The parameter `TemplateID` is not recognized."),
        ),
        (
            json!({"PhoneNumberSet": [], "SmsSdkAppId": app, "TemplateId": tpl}).to_string(),
            "MissingParameter.EmptyPhoneNumberSet",
            None,
        ),
        (
            json!({"PhoneNumberSet": many, "SmsSdkAppId": app, "TemplateId": tpl}).to_string(),
            "LimitExceeded.PhoneNumberCountLimit",
            None,
        ),
        (
            json!({"PhoneNumberSet": [PHONE], "SmsSdkAppId": "1400999999", "TemplateId": tpl})
                .to_string(),
            "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
            None,
        ),
        (
            json!({"PhoneNumberSet": [PHONE, "+14155550100"], "SmsSdkAppId": app,
                "TemplateId": tpl, "SignName": "登录验证", "TemplateParamSet": ["1", "2"]})
            .to_string(),
            "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
            None,
        ),
    ];
    for (body, code, message) in cases {
        let headers = t.sms_headers(&body, t.now_secs());
        let r = t.post_with(tencent::SMS_PATH, &headers, &body).await;
        let got = assert_tc_error(&r, code);
        if let Some(m) = message {
            assert_eq!(got, m);
        }
    }
    let state = control(&t, Method::GET, "/state", None).await;
    assert_eq!(state["counts"]["sms_messages"], 0);
    assert_eq!(state["counts"]["sms_rate_windows"], 0);
}

#[tokio::test]
async fn per_number_refusals_come_as_statuses_and_the_other_numbers_still_go() {
    let t = TestMock::new().await;
    let c = t.sms();
    set_config(
        &t,
        json!({
            "sign_names": [{"name": "登录验证"}, {"name": "待审核", "approved": false}],
            "templates": [
                {"id": "100", "content": "{1}为您的登录验证码，请于{2}分钟内填写。"},
                {"id": "101", "content": "审核中{1}", "approved": false},
                {"id": "102", "content": "您的订单{1}已发货", "kind": "notification"},
                {"id": "103", "content": "Your code is {1}", "international": true},
            ],
        }),
    )
    .await;
    let app = c.sdk_app_ids[0].clone();
    let send = |numbers: Vec<&str>, sign: Option<&str>, tpl: &str, params: Vec<&str>| {
        let mut body = json!({"PhoneNumberSet": numbers, "SmsSdkAppId": app,
            "TemplateId": tpl, "TemplateParamSet": params, "SessionContext": "ctx-1"});
        if let Some(s) = sign {
            body["SignName"] = json!(s);
        }
        body
    };
    // A bad number next to a good one.
    let r = t
        .send_sms(&send(
            vec!["1380013800", PHONE],
            Some("登录验证"),
            "100",
            vec!["1", "5"],
        ))
        .await;
    let set = statuses(&r);
    assert_eq!(
        set[0],
        json!({"SerialNo": "", "PhoneNumber": "1380013800", "Fee": 0, "SessionContext": "ctx-1",
            "Code": "InvalidParameterValue.IncorrectPhoneNumber",
            "Message": "incorrect mobile number format", "IsoCode": ""})
    );
    assert_eq!(set[1]["Code"], "Ok");
    assert_eq!(set[1]["SessionContext"], "ctx-1");

    let phone2 = "+8613700137000";
    let cases = [
        (
            Some("未知签名"),
            "100",
            vec!["1", "5"],
            "FailedOperation.SignatureIncorrectOrUnapproved",
        ),
        (
            Some("待审核"),
            "100",
            vec!["1", "5"],
            "FailedOperation.SignatureIncorrectOrUnapproved",
        ),
        (
            None,
            "100",
            vec!["1", "5"],
            "FailedOperation.SignatureIncorrectOrUnapproved",
        ),
        (
            Some("登录验证"),
            "999",
            vec!["1", "5"],
            "FailedOperation.TemplateIncorrectOrUnapproved",
        ),
        (
            Some("登录验证"),
            "101",
            vec!["1"],
            "FailedOperation.TemplateIncorrectOrUnapproved",
        ),
        (
            Some("登录验证"),
            "100",
            vec!["1"],
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        ),
        (
            Some("登录验证"),
            "100",
            vec!["1234567", "5"],
            "InvalidParameterValue.TemplateParameterFormatError",
        ),
        (
            Some("登录验证"),
            "100",
            vec!["12a456", "5"],
            "InvalidParameterValue.TemplateParameterFormatError",
        ),
        (
            Some("登录验证"),
            "103",
            vec!["1"],
            "UnsupportedOperation.GlobalTemplateToChineseMainlandPhone",
        ),
    ];
    for (sign, tpl, params, code) in cases {
        let r = t.send_sms(&send(vec![phone2], sign, tpl, params)).await;
        let set = statuses(&r);
        assert_eq!(set[0]["Code"], code, "{sign:?} {tpl}: {}", r.body);
        assert_eq!(
            (&set[0]["Fee"], &set[0]["SerialNo"]),
            (&json!(0), &json!(""))
        );
    }
    // Notification templates take any text; the outbox shows no code for them.
    let r = t
        .send_sms(&send(
            vec![phone2],
            Some("登录验证"),
            "102",
            vec!["SF-10086 顺丰"],
        ))
        .await;
    assert_eq!(codes(&r), ["Ok"]);
    let last = t.mock.control().last_sms(phone2).await.unwrap().unwrap();
    assert_eq!(last.code, None);
    assert_eq!(last.content, "【登录验证】您的订单SF-10086 顺丰已发货");

    // International numbers: their own templates, no sign needed.
    let us = "+14155550100";
    let r = t.send_sms(&send(vec![us], None, "103", vec!["4321"])).await;
    assert_eq!(statuses(&r)[0]["IsoCode"], "US");
    assert_eq!(codes(&r), ["Ok"]);
    let r = t
        .send_sms(&send(vec!["+447911123456"], None, "100", vec!["1", "5"]))
        .await;
    assert_eq!(
        codes(&r),
        ["UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"]
    );
    assert_eq!(t.mock.control().sms_outbox("").await.unwrap().recorded, 3);
}

#[tokio::test]
async fn frequency_limits_count_per_number_on_the_virtual_clock() {
    let t = TestMock::new().await;
    let send = async |phone: &str| -> String {
        let body = t.sms_body(&[phone], &["123456", "5"]);
        codes(&t.send_sms(&body).await).remove(0)
    };
    assert_eq!(send(PHONE).await, "Ok");
    let limited = t.send_sms(&t.sms_body(&[PHONE], &["123456", "5"])).await;
    assert_eq!(
        statuses(&limited)[0],
        json!({"SerialNo": "", "PhoneNumber": PHONE, "Fee": 0, "SessionContext": "",
            "Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
            "Message": "the number of SMS messages sent from a single mobile number within 30 seconds exceeds the upper limit",
            "IsoCode": "CN"})
    );
    // Another number is not affected.
    assert_eq!(send(OTHER).await, "Ok");
    t.advance(Duration::from_secs(29));
    assert_eq!(
        send(PHONE).await,
        "LimitExceeded.PhoneNumberThirtySecondLimit"
    );
    t.advance(Duration::from_secs(1));
    // 5 an hour: at 0, 30, 60, 90, 120 s; the sixth, at 150 s, is refused until 3600 s.
    for _ in 0..4 {
        assert_eq!(send(PHONE).await, "Ok");
        t.advance(Duration::from_secs(30));
    }
    assert_eq!(send(PHONE).await, "LimitExceeded.PhoneNumberOneHourLimit");
    t.advance(Duration::from_secs(3600 - 150 - 1));
    assert_eq!(send(PHONE).await, "LimitExceeded.PhoneNumberOneHourLimit");
    t.advance(Duration::from_secs(1));
    assert_eq!(send(PHONE).await, "Ok");

    // One number twice in one request: the second is the thirty-second limit's.
    let r = t
        .send_sms(&t.sms_body(&["+8613600136000", "13600136000"], &["1", "2"]))
        .await;
    assert_eq!(
        codes(&r),
        ["Ok", "LimitExceeded.PhoneNumberThirtySecondLimit"]
    );

    // Refused sends are not counted, and the outbox holds the sent ones only.
    let sent = t.mock.control().sms_to(PHONE).await.unwrap();
    assert_eq!(sent.len(), 6);
}

#[tokio::test]
async fn the_daily_limit_counts_the_calendar_day_in_china() {
    // 2024-08-22T15:00:00Z is 23:00 in China: the day ends an hour later.
    let clock = Clock::manual(Timestamp::from_secs(1_724_338_800));
    let t = TestMock::with_config(Config {
        seed: "test".into(),
        clock,
        ..Config::default()
    })
    .await;
    set_config(
        &t,
        json!({"limits": {"thirty_seconds": null, "one_hour": null}}),
    )
    .await;
    for _ in 0..10 {
        let r = t.send_sms(&t.sms_body(&[PHONE], &["1", "2"])).await;
        assert_eq!(codes(&r), ["Ok"]);
    }
    let r = t.send_sms(&t.sms_body(&[PHONE], &["1", "2"])).await;
    let set = statuses(&r);
    assert_eq!(set[0]["Code"], "LimitExceeded.PhoneNumberDailyLimit");
    assert_eq!(set[0]["IsoCode"], "CN");
    t.advance(Duration::from_secs(3599));
    let r = t.send_sms(&t.sms_body(&[PHONE], &["1", "2"])).await;
    assert_eq!(codes(&r), ["LimitExceeded.PhoneNumberDailyLimit"]);
    t.advance(Duration::from_secs(1));
    let r = t.send_sms(&t.sms_body(&[PHONE], &["1", "2"])).await;
    assert_eq!(codes(&r), ["Ok"], "a new day in China");
    // Lifted limits: anything goes.
    set_config(&t, json!({"limits": {"daily": null}})).await;
    for _ in 0..12 {
        let r = t.send_sms(&t.sms_body(&[PHONE], &["1", "2"])).await;
        assert_eq!(codes(&r), ["Ok"]);
    }
}

#[tokio::test]
async fn the_outbox_filters_by_number_sequence_template_and_last() {
    let t = TestMock::new().await;
    let c = t.sms();
    let one_param = c.templates[1].spec.id.clone();
    t.send_sms(&t.sms_body(&[PHONE], &["111111", "5"])).await;
    t.send_sms(&t.sms_body(&[OTHER], &["222222", "5"])).await;
    t.advance(Duration::from_secs(30));
    let mut body = t.sms_body(&[PHONE], &["333333"]);
    body["TemplateId"] = json!(one_param);
    assert_eq!(codes(&t.send_sms(&body).await), ["Ok"]);

    let phones = |page: &Value| -> Vec<String> {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        phones(&outbox(&t, "").await),
        ["111111", "222222", "333333"]
    );
    // `+` left raw in a query string arrives as a space: still the number.
    assert_eq!(
        phones(&outbox(&t, "phone=+8613800138000").await),
        ["111111", "333333"]
    );
    assert_eq!(
        phones(&outbox(&t, "phone=%2B8613800138000").await),
        ["111111", "333333"]
    );
    assert_eq!(
        phones(&outbox(&t, "phone=13800138000&last=1").await),
        ["333333"]
    );
    assert_eq!(phones(&outbox(&t, "since=1").await), ["222222", "333333"]);
    assert_eq!(
        phones(&outbox(&t, &format!("template_id={one_param}")).await),
        ["333333"]
    );
    assert_eq!(phones(&outbox(&t, "last=0").await), Vec::<String>::new());
    for bad in ["phone=12", "since=x", "nope=1", "last=-1"] {
        let (status, v) = t.control(Method::GET, &format!("/sms?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert_eq!(v["error"]["code"], "invalid_field", "{bad}");
    }

    let cleared = control(&t, Method::DELETE, "/sms", None).await;
    assert_eq!(cleared, json!({"removed": 3}));
    let page = outbox(&t, "").await;
    assert_eq!(
        page,
        json!({"messages": [], "recorded": 0, "dropped": 0, "capacity": 10000, "last_seq": 3})
    );
    // The limits still remember what was sent; sequence numbers go on.
    let r = t.send_sms(&t.sms_body(&[PHONE], &["444444", "5"])).await;
    assert_eq!(codes(&r), ["LimitExceeded.PhoneNumberThirtySecondLimit"]);
    let r = t
        .send_sms(&t.sms_body(&["+8613700137000"], &["555555", "5"]))
        .await;
    assert_eq!(codes(&r), ["Ok"]);
    assert_eq!(outbox(&t, "").await["messages"][0]["seq"], 4);

    // A small outbox keeps the newest and counts what it dropped.
    set_config(&t, json!({"outbox_capacity": 1})).await;
    let page = outbox(&t, "").await;
    assert_eq!(
        (
            page["capacity"].clone(),
            page["messages"].as_array().unwrap().len()
        ),
        (json!(1), 1)
    );
    t.advance(Duration::from_secs(30));
    let r = t.send_sms(&t.sms_body(&[OTHER], &["666666", "5"])).await;
    assert_eq!(codes(&r), ["Ok"]);
    let page = outbox(&t, "").await;
    assert_eq!(phones(&page), ["666666"]);
    assert_eq!(page["dropped"], 1);
}

#[tokio::test]
async fn configuration_changes_validate_first_and_keys_follow() {
    let t = TestMock::new().await;
    let before = control(&t, Method::GET, "/sms/config", None).await;
    assert_eq!(
        before["sign_names"],
        json!([{"name": "登录验证", "approved": true}])
    );
    assert_eq!(before["templates"][0]["params"], 2);
    assert_eq!(before["templates"][1]["params"], 1);
    assert_eq!(
        before["limits"],
        json!({"thirty_seconds": 1, "one_hour": 5, "daily": 10})
    );
    // The same seed gives the same defaults.
    let again = TestMock::new().await;
    assert_eq!(
        control(&again, Method::GET, "/sms/config", None).await,
        before
    );

    for (patch, field) in [
        (json!({"secret_key": ""}), "secret_key"),
        (json!({"templates": [{"id": "1"}]}), "templates[0]"),
        (
            json!({"templates": [{"id": "1", "content": "{3}"}]}),
            "templates",
        ),
        (json!({"limits": {"daily": -1}}), "limits.daily"),
        (json!({"colour": "red"}), "colour"),
        (json!({"outbox_capacity": 0}), "outbox_capacity"),
    ] {
        let (status, v) = t
            .control(Method::PATCH, "/sms/config", Some(patch.clone()))
            .await;
        assert_eq!(status, 400, "{patch}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(field),
            "{patch}: {v}"
        );
    }
    assert_eq!(control(&t, Method::GET, "/sms/config", None).await, before);

    let changed = set_config(&t, json!({"secret_id": "AKIDnew", "secret_key": "newkey"})).await;
    assert_eq!(changed["secret_id"], "AKIDnew");
    let body = t.sms_body(&[PHONE], &["1", "2"]).to_string();
    let old = signed(
        before["secret_id"].as_str().unwrap(),
        before["secret_key"].as_str().unwrap(),
        t.now_secs(),
        &t.host(),
        &body,
    );
    assert_tc_error(
        &t.post_with(tencent::SMS_PATH, &old, &body).await,
        "AuthFailure.SecretIdNotFound",
    );
    assert_eq!(
        codes(&t.send_sms(&t.sms_body(&[PHONE], &["1", "2"])).await),
        ["Ok"]
    );

    // The typed client.
    let client = t.mock.control();
    let view = client
        .set_sms_config(&SmsConfigPatch {
            sdk_app_ids: Some(vec!["1400000001".into()]),
            ..SmsConfigPatch::default()
        })
        .await
        .unwrap();
    assert_eq!(view.sdk_app_ids, ["1400000001"]);
    assert_eq!(client.sms_config().await.unwrap(), view);
    assert_eq!(t.mock.sms_config(), view);
}

#[tokio::test]
async fn the_seed_file_configures_the_gateway_and_reset_restores_it() {
    let seed = SeedFile::from_json(
        r#"{"sms": {"secret_id": "AKIDseed", "secret_key": "seedkey", "sdk_app_ids": ["1400000002"],
            "templates": [{"id": "7", "content": "code {1}"}]}}"#,
    )
    .unwrap();
    let t = TestMock::with(seed).await;
    let c = t.sms();
    assert_eq!(
        (c.secret_id.as_str(), c.sdk_app_ids[0].as_str()),
        ("AKIDseed", "1400000002")
    );
    assert_eq!(
        c.sign_names[0].name, "登录验证",
        "untouched fields keep their defaults"
    );
    let mut body = t.sms_body(&[PHONE], &["9"]);
    body["TemplateId"] = json!("7");
    assert_eq!(codes(&t.send_sms(&body).await), ["Ok"]);
    set_config(&t, json!({"secret_id": "AKIDother"})).await;
    control(&t, Method::POST, "/reset", None).await;
    assert_eq!(t.sms().secret_id, "AKIDseed");
    assert_eq!(outbox(&t, "").await["messages"], json!([]));
    // The limits forgot too.
    assert_eq!(codes(&t.send_sms(&body).await), ["Ok"]);

    let bad =
        SeedFile::from_json(r#"{"sms": {"templates": [{"id": "", "content": "x"}]}}"#).unwrap();
    let err = mock_server::spawn(Config {
        seed_file: bad,
        ..Config::default()
    })
    .await
    .expect_err("an invalid seed file");
    assert!(err.to_string().contains("templates"), "{err}");
}

#[tokio::test]
async fn faults_answer_tencent_codes_and_break_transports_on_the_sms_endpoint() {
    let t = TestMock::new().await;
    let add = async |rule: Value| -> Value {
        let (status, v) = t.control(Method::POST, "/faults", Some(rule.clone())).await;
        assert_eq!(status, 201, "{rule}: {v}");
        v
    };
    let rule =
        add(json!({"endpoint": "sms_send", "tencent_error": "InternalError", "times": 1})).await;
    assert_eq!(rule["tencent_error"], "InternalError");
    let body = t.sms_body(&[PHONE, OTHER], &["123456", "5"]);
    assert_tc_error(&t.send_sms(&body).await, "InternalError");
    // A per-number code answers every number of the request with that status.
    add(json!({"endpoint": "/tencentcloud/sms", "tencent_error": "LimitExceeded.PhoneNumberDailyLimit", "times": 1})).await;
    let r = t.send_sms(&body).await;
    assert_eq!(
        codes(&r),
        [
            "LimitExceeded.PhoneNumberDailyLimit",
            "LimitExceeded.PhoneNumberDailyLimit"
        ]
    );
    assert_eq!(statuses(&r)[1]["PhoneNumber"], OTHER);
    assert!(
        outbox(&t, "").await["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // WeChat errcodes never answer the SMS endpoint, Tencent codes never WeChat's.
    add(json!({"endpoint": "*", "errcode": -1})).await;
    assert_eq!(codes(&t.send_sms(&body).await), ["Ok", "Ok"]);
    control(&t, Method::DELETE, "/faults", None).await;
    add(json!({"endpoint": "*", "tencent_error": "InternalError"})).await;
    let grant = t.login("alice").await;
    assert_eq!(t.exchange(&grant.code).await.status, 200);
    control(&t, Method::DELETE, "/faults", None).await;
    for (rule, field) in [
        (json!({"endpoint": "sms_send", "errcode": -1}), "errcode"),
        (
            json!({"endpoint": "jscode2session", "tencent_error": "InternalError"}),
            "tencent_error",
        ),
        (
            json!({"endpoint": "sms_send", "tencent_error": "Nope"}),
            "tencent_error",
        ),
        (
            json!({"endpoint": "sms_send", "tencent_error": "InternalError", "http_status": 502}),
            "errcode",
        ),
    ] {
        let (status, v) = t.control(Method::POST, "/faults", Some(rule.clone())).await;
        assert_eq!(status, 400, "{rule}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`")),
            "{v}"
        );
    }
    // Gateway pages and broken connections, filtered by SmsSdkAppId.
    let app = t.sms().sdk_app_ids[0].clone();
    add(json!({"endpoint": "sms_send", "appid": "1400999999", "http_status": 502})).await;
    t.advance(Duration::from_secs(30));
    assert_eq!(codes(&t.send_sms(&body).await), ["Ok", "Ok"]);
    add(json!({"endpoint": "sms_send", "appid": app, "http_status": 502, "times": 1})).await;
    let r = t.send_sms(&body).await;
    assert_eq!(r.status, 502);
    add(json!({"endpoint": "sms_send", "transport": "drop", "times": 1})).await;
    let text = body.to_string();
    let headers = t.sms_headers(&text, t.now_secs());
    let mut req = t.http.post(t.url(tencent::SMS_PATH)).body(text);
    for (n, v) in &headers {
        req = req.header(*n, v);
    }
    assert!(req.send().await.is_err(), "the connection is dropped");

    let journal = t.mock.control().journal("endpoint=sms_send").await.unwrap();
    let faults: Vec<Option<&str>> = journal.entries.iter().map(|e| e.fault.as_deref()).collect();
    assert_eq!(faults[0], Some("rule 1: tencent_error InternalError"));
    assert_eq!(
        journal.entries[0].tencent_code.as_deref(),
        Some("InternalError")
    );
    assert_eq!(
        journal.entries[1].tencent_code.as_deref(),
        Some("LimitExceeded.PhoneNumberDailyLimit")
    );
    let dropped = journal.entries.last().unwrap();
    assert_eq!((dropped.status, dropped.tencent_code.as_deref()), (0, None));
}

#[tokio::test]
async fn request_ids_and_serial_numbers_repeat_with_the_seed() {
    let run = || async {
        let t = TestMock::new().await;
        let r = t.send_sms(&t.sms_body(&[PHONE], &["123456", "5"])).await;
        let v = r.json();
        (
            v["Response"]["RequestId"].clone(),
            v["Response"]["SendStatusSet"][0]["SerialNo"].clone(),
        )
    };
    assert_eq!(run().await, run().await);
}
