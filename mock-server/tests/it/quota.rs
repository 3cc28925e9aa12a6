//! Tests: WeChat's daily quotas over HTTP (`wechat-api.md` 1.1, 5 and 7a): `cgi-bin/token`'s
//! daily limit and `stable_token`'s 20 forced refreshes, on China days of the virtual clock;
//! `openapi/quota/get`; `clear_quota` and `clear_quota/v2` with their 10 clears a month; and
//! `openapi/rid/get`, answered from the journal.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, TestMock};

const CGI_BIN: &str = "application/json; encoding=utf-8";
/// From the helpers' start (2024-08-22T01:14:57Z, 09:14:57 in Beijing) to the next midnight in
/// China (2024-08-22T16:00:00Z).
const TO_MIDNIGHT: Duration = Duration::from_secs(53_103);

/// The rid an error's errmsg ends with.
fn rid_of(r: &Raw) -> String {
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    msg.rsplit_once("rid: ")
        .map(|(_, rid)| rid.to_owned())
        .unwrap_or_else(|| panic!("no rid in {msg:?}"))
}

/// A WeChat error with exactly this text before ` rid: `, on `cgi-bin/*`.
#[track_caller]
fn assert_errmsg(r: &Raw, code: i64, text: &str) {
    r.assert_err(code);
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    let rid = msg
        .strip_prefix(&format!("{text} rid: "))
        .unwrap_or_else(|| panic!("errmsg {msg:?} is not `{text} rid: ...`"));
    assert_eq!(rid.len(), 26, "{msg}");
    assert_eq!(r.content_type.as_deref(), Some(CGI_BIN));
}

async fn token_call(t: &TestMock, appid: &str, secret: &str) -> Raw {
    t.get(&format!(
        "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"
    ))
    .await
}

async fn default_token(t: &TestMock) -> Raw {
    token_call(t, t.app.appid.as_str(), &t.app.secret).await
}

async fn quota_get(t: &TestMock, token: &str, cgi_path: &str) -> Raw {
    t.post(
        &format!("/cgi-bin/openapi/quota/get?access_token={token}"),
        &json!({ "cgi_path": cgi_path }).to_string(),
    )
    .await
}

/// quota/get's `quota`, asserted to be a success.
async fn quota(t: &TestMock, token: &str, cgi_path: &str) -> Value {
    let r = quota_get(t, token, cgi_path).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    r.json()["quota"].clone()
}

async fn clear(t: &TestMock, token: &str, appid: &str) -> Raw {
    t.post(
        &format!("/cgi-bin/clear_quota?access_token={token}"),
        &json!({ "appid": appid }).to_string(),
    )
    .await
}

async fn clear_v2(t: &TestMock, appid: &str, secret: &str) -> Raw {
    t.post(
        "/cgi-bin/clear_quota/v2",
        &json!({ "appid": appid, "appsecret": secret }).to_string(),
    )
    .await
}

async fn rid_get(t: &TestMock, token: &str, rid: &str) -> Raw {
    t.post(
        &format!("/cgi-bin/openapi/rid/get?access_token={token}"),
        &json!({ "rid": rid }).to_string(),
    )
    .await
}

async fn stable(t: &TestMock, force: bool) -> Raw {
    let body = json!({"grant_type": "client_credential", "appid": t.app.appid,
        "secret": t.app.secret, "force_refresh": force});
    t.post("/cgi-bin/stable_token", &body.to_string()).await
}

/// Another app and its token.
async fn other_app(t: &TestMock) -> (String, String, String) {
    let (status, app) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app}");
    let appid = app["appid"].as_str().expect("appid").to_owned();
    let secret = app["secret"].as_str().expect("secret").to_owned();
    let token = token_call(t, &appid, &secret).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (appid, secret, token)
}

#[tokio::test]
async fn cgi_bin_token_stops_at_its_daily_limit_until_midnight_in_china() {
    let t = TestMock::new().await;
    t.set_options(json!({"token_daily_limit": 3})).await;
    let mut last = String::new();
    for _ in 0..3 {
        let r = default_token(&t).await;
        last = r.json()["access_token"].as_str().expect("token").to_owned();
    }
    // Calls refused before the app is known are not the app's.
    token_call(&t, t.app.appid.as_str(), "wrong")
        .await
        .assert_err(40125);
    let refused = default_token(&t).await;
    assert_errmsg(&refused, 45009, "reach max api daily quota limit");
    assert_eq!(
        quota(&t, &last, "/cgi-bin/token").await,
        json!({"daily_limit": 3, "used": 3, "remain": 0})
    );
    // One second before midnight in Beijing it is still today.
    t.advance(TO_MIDNIGHT - Duration::from_secs(1));
    default_token(&t).await.assert_err(45009);
    t.advance(Duration::from_secs(1));
    let r = default_token(&t).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let token = r.json()["access_token"].as_str().expect("token").to_owned();
    // A new day counts from zero; the 45009s were not counted.
    assert_eq!(
        quota(&t, &token, "/cgi-bin/token").await,
        json!({"daily_limit": 3, "used": 1, "remain": 2})
    );
    // The journal names the refusal's app.
    let page = t
        .mock
        .control()
        .journal("endpoint=token&errcode=45009")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 2);
    assert!(
        page.entries
            .iter()
            .all(|e| e.appid.as_deref() == Some(t.app.appid.as_str()))
    );
}

#[tokio::test]
async fn token_daily_limit_is_an_option_validated_on_patch() {
    let t = TestMock::new().await;
    let (status, err) = t
        .control(
            Method::PATCH,
            "/options",
            Some(json!({"token_daily_limit": 0})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("token_daily_limit")),
        "{err}"
    );
    let (status, err) = t
        .control(
            Method::PATCH,
            "/options",
            Some(json!({"token_daily_limit": -5})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let token = t.token().await;
    assert_eq!(
        quota(&t, &token, "/cgi-bin/token").await,
        json!({"daily_limit": 10000, "used": 1, "remain": 9999})
    );
}

#[tokio::test]
async fn twenty_forced_stable_token_refreshes_a_day() {
    let t = TestMock::new().await;
    let mut token = String::new();
    for i in 0..20 {
        let r = stable(&t, true).await;
        assert_eq!(r.errcode(), 0, "forced call {i}: {}", r.body);
        token = r.json()["access_token"].as_str().expect("token").to_owned();
        // 30 s apart, so each one really refreshes.
        t.advance(Duration::from_secs(30));
    }
    assert_errmsg(
        &stable(&t, true).await,
        45009,
        "reach max api daily quota limit",
    );
    // Normal calls go on: the same token.
    let r = stable(&t, false).await;
    assert_eq!(r.json()["access_token"], token.as_str(), "{}", r.body);
    assert_eq!(
        quota(&t, &token, "/cgi-bin/stable_token").await,
        json!({"daily_limit": 500_000, "used": 21, "remain": 499_979})
    );
    t.advance(TO_MIDNIGHT);
    let r = stable(&t, true).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    assert_ne!(r.json()["access_token"], token.as_str());
}

#[tokio::test]
async fn quota_get_answers_the_documented_shape_and_errors() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let r = quota_get(&t, &token, "/cgi-bin/token").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some(CGI_BIN));
    assert_eq!(
        r.body,
        r#"{"errcode":0,"errmsg":"ok","quota":{"daily_limit":10000,"used":1,"remain":9999}}"#
    );
    // Every API the mock serves is counted under its path, success or not, once the token
    // names the app: a checksession with a wrong signature ran on WeChat's side.
    let r = t
        .get(&format!(
            "/wxa/checksession?access_token={token}&openid=nobody&signature=x&sig_method=hmac_sha256"
        ))
        .await;
    r.assert_err(40003);
    assert_eq!(
        quota(&t, &token, "/wxa/checksession").await,
        json!({"daily_limit": 500_000, "used": 1, "remain": 499_999})
    );
    // quota/get counts itself once answered.
    assert_eq!(
        quota(&t, &token, "/cgi-bin/openapi/quota/get").await["used"],
        2
    );
    for unknown in [
        "/cgi-bin/nope",
        "cgi-bin/token",
        "/CGI-BIN/TOKEN",
        "/tencentcloud/sms",
    ] {
        assert_errmsg(
            &quota_get(&t, &token, unknown).await,
            76021,
            "cgi_path not found, please check",
        );
    }
    let r = t
        .post(
            &format!("/cgi-bin/openapi/quota/get?access_token={token}"),
            "{}",
        )
        .await;
    assert_errmsg(&r, 76021, "cgi_path not found, please check");
    // sns APIs are not served, nor another kind of account's.
    for refused in ["/sns/jscode2session", "/cgi-bin/user/info"] {
        assert_errmsg(
            &quota_get(&t, &token, refused).await,
            76022,
            "could not use this cgi_path,no permission",
        );
    }
    // Token errors and the method and body checks first.
    assert_errmsg(
        &quota_get(&t, "", "/cgi-bin/token").await,
        41001,
        "access_token missing",
    );
    quota_get(&t, "bogus", "/cgi-bin/token")
        .await
        .assert_err(40001);
    let r = t
        .get(&format!("/cgi-bin/openapi/quota/get?access_token={token}"))
        .await;
    assert_errmsg(&r, 43002, "require POST method");
    let r = t
        .post(
            &format!("/cgi-bin/openapi/quota/get?access_token={token}"),
            "[\"/cgi-bin/token\"]",
        )
        .await;
    assert_errmsg(&r, 47001, "data format error");
    t.advance(Duration::from_secs(7200));
    assert_errmsg(
        &quota_get(&t, &token, "/cgi-bin/token").await,
        42001,
        "access_token expired",
    );
}

#[tokio::test]
async fn clear_quota_gives_the_calls_back_ten_times_a_month() {
    let t = TestMock::new().await;
    t.set_options(json!({"token_daily_limit": 1})).await;
    let token = t.token().await;
    default_token(&t).await.assert_err(45009);
    let appid = t.app.appid.as_str().to_owned();
    let r = clear(&t, &token, &appid).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some(CGI_BIN));
    assert_eq!(r.body, r#"{"errcode":0,"errmsg":"ok"}"#);
    assert_eq!(
        quota(&t, &token, "/cgi-bin/token").await,
        json!({"daily_limit": 1, "used": 0, "remain": 1})
    );
    // The clear is a call of clear_quota's own, counted after it cleared.
    assert_eq!(
        quota(&t, &token, "/cgi-bin/clear_quota").await,
        json!({"daily_limit": 100, "used": 1, "remain": 99})
    );
    let token = default_token(&t).await.json()["access_token"]
        .as_str()
        .expect("token after the clear")
        .to_owned();

    // Refusals use no clear: another app's appid, none, a bad token.
    let (other, other_secret, other_token) = other_app(&t).await;
    assert_errmsg(&clear(&t, &token, &other).await, 40013, "invalid appid");
    let r = t
        .post(&format!("/cgi-bin/clear_quota?access_token={token}"), "{}")
        .await;
    assert_errmsg(&r, 41002, "appid missing");
    clear(&t, "bogus", &appid).await.assert_err(40001);
    let r = t
        .get(&format!("/cgi-bin/clear_quota?access_token={token}"))
        .await;
    assert_errmsg(&r, 43002, "require POST method");

    // Nine more clears, by either door, then the month is used up.
    for i in 0..9 {
        let r = if i % 2 == 0 {
            clear(&t, &token, &appid).await
        } else {
            clear_v2(&t, &appid, &t.app.secret).await
        };
        assert_eq!(r.body, r#"{"errcode":0,"errmsg":"ok"}"#, "clear {}", i + 2);
    }
    assert_errmsg(
        &clear(&t, &token, &appid).await,
        48006,
        "forbid to clear quota because of reaching the limit",
    );
    assert_errmsg(
        &clear_v2(&t, &appid, &t.app.secret).await,
        48006,
        "forbid to clear quota because of reaching the limit",
    );
    // Another app has its own ten.
    let r = clear(&t, &other_token, &other).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    let r = clear_v2(&t, &other, &other_secret).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);

    // September starts at 2024-08-31T16:00:00Z.
    t.mock
        .control()
        .set_clock(1_725_119_999)
        .await
        .expect("clock set");
    assert_eq!(clear_v2(&t, &appid, &t.app.secret).await.errcode(), 48006);
    t.advance(Duration::from_secs(1));
    let r = clear_v2(&t, &appid, &t.app.secret).await;
    assert_eq!(r.body, r#"{"errcode":0,"errmsg":"ok"}"#);
}

#[tokio::test]
async fn clear_quota_v2_checks_the_credentials_in_the_token_endpoints_order() {
    let t = TestMock::new().await;
    let appid = t.app.appid.as_str();
    let v2 = "/cgi-bin/clear_quota/v2";
    let t = &t;
    let post = |body: Value| async move { t.post(v2, &body.to_string()).await };
    assert_errmsg(&post(json!({})).await, 41002, "appid missing");
    assert_errmsg(
        &post(json!({"appid": "wx-nobody", "appsecret": "x"})).await,
        40013,
        "invalid appid",
    );
    assert_errmsg(
        &post(json!({ "appid": appid })).await,
        41004,
        "appsecret missing",
    );
    assert_errmsg(
        &post(json!({"appid": appid, "appsecret": "wrong"})).await,
        40125,
        "invalid appsecret",
    );
    assert_errmsg(&t.post(v2, "{").await, 47001, "data format error");
    let query = format!("{v2}?appid={appid}&appsecret={}", t.app.secret);
    assert_errmsg(&t.get(&query).await, 43002, "require POST method");
    // The documentation's example sends them in the query of a POST.
    let r = t.post(&query, "").await;
    assert_eq!(r.body, r#"{"errcode":0,"errmsg":"ok"}"#);
    let page = t
        .mock
        .control()
        .journal("endpoint=clear_quota_v2")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 7);
    assert_eq!(page.entries[6].appid.as_deref(), Some(appid));
}

#[tokio::test]
async fn rid_get_answers_the_request_behind_a_rid_of_the_tokens_app() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let target = format!("/wxa/business/getuserphonenumber?access_token={token}");
    let refused = t.post(&target, r#"{"code":"nope"}"#).await;
    refused.assert_err(40029);
    let rid = rid_of(&refused);
    t.advance(Duration::from_secs(60));
    let r = rid_get(&t, &token, &rid).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some(CGI_BIN));
    let v = r.json();
    assert_eq!(v["errcode"], 0, "{}", r.body);
    assert_eq!(v["errmsg"], "ok");
    let request = &v["request"];
    // The documented fields, in the documented order (checked on the text: a parsed map
    // does not keep it), and nothing else.
    assert_eq!(request.as_object().map(|o| o.len()), Some(6), "{}", r.body);
    let at: Vec<usize> = [
        "invoke_time",
        "cost_in_ms",
        "request_url",
        "request_body",
        "response_body",
        "client_ip",
    ]
    .iter()
    .map(|k| {
        r.body
            .find(&format!("\"{k}\":"))
            .unwrap_or_else(|| panic!("no {k}"))
    })
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", r.body);
    assert!(
        r.body
            .starts_with(r#"{"errcode":0,"errmsg":"ok","request":{"invoke_time":"#),
        "{}",
        r.body
    );
    assert_eq!(request["invoke_time"], crate::helpers::START);
    assert!(request["cost_in_ms"].is_u64(), "{}", r.body);
    assert_eq!(request["request_url"], format!("access_token={token}"));
    assert_eq!(request["request_body"], r#"{"code":"nope"}"#);
    assert_eq!(request["response_body"], refused.body.as_str());
    assert_eq!(request["client_ip"], "127.0.0.1");
    // The journal keeps the rid with the entry.
    let page = t
        .mock
        .control()
        .journal(&format!("rid={rid}"))
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].endpoint, "getuserphonenumber");

    // Another app may not read it.
    let (_, _, other_token) = other_app(&t).await;
    assert_errmsg(
        &rid_get(&t, &other_token, &rid).await,
        76003,
        "could not query this rid,no permission",
    );
    // A rid nobody got, and text that is no rid.
    assert_errmsg(
        &rid_get(&t, &token, "66c69111-00000000-00000000").await,
        76001,
        "rid not found, please check",
    );
    for bad in ["", "nope", "66C69111-4157F271-729CA238"] {
        assert_errmsg(&rid_get(&t, &token, bad).await, 76002, "rid is error");
    }
    // An sns API's rid: not served.
    let sns = t.exchange("0ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ").await;
    sns.assert_err(40029);
    assert_errmsg(
        &rid_get(&t, &token, &rid_of(&sns)).await,
        76022,
        "could not use this cgi_path,no permission",
    );
    // A rid lives 7 days.
    t.advance(Duration::from_secs(7 * 86_400 - 61));
    let token = t.token().await;
    assert_eq!(rid_get(&t, &token, &rid).await.errcode(), 0);
    t.advance(Duration::from_secs(1));
    let token = t.token().await;
    assert_errmsg(
        &rid_get(&t, &token, &rid).await,
        76001,
        "rid not found, please check",
    );
}

#[tokio::test]
async fn a_rid_the_journal_no_longer_holds_is_not_found() {
    let t = TestMock::new().await;
    t.set_options(json!({"journal_capacity": 3})).await;
    let token = t.token().await;
    let refused = t
        .get(&format!("/wxa/getpaidunionid?access_token={token}"))
        .await;
    refused.assert_err(40003);
    let rid = rid_of(&refused);
    assert_eq!(rid_get(&t, &token, &rid).await.errcode(), 0);
    // Three more requests push it out.
    for _ in 0..2 {
        rid_get(&t, &token, &rid).await;
    }
    assert_eq!(rid_get(&t, &token, &rid).await.errcode(), 76001);
    // A cleared journal has forgotten every rid, too.
    t.set_options(json!({"journal_capacity": 100})).await;
    let refused = t
        .get(&format!("/wxa/getpaidunionid?access_token={token}"))
        .await;
    let rid = rid_of(&refused);
    assert_eq!(rid_get(&t, &token, &rid).await.errcode(), 0);
    t.control(Method::DELETE, "/journal", None).await;
    assert_eq!(rid_get(&t, &token, &rid).await.errcode(), 76001);
}

#[tokio::test]
async fn faults_and_the_journal_see_the_new_endpoints_and_their_app() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let (other, _, other_token) = other_app(&t).await;
    let (status, rule) = t
        .control(
            Method::POST,
            "/faults",
            Some(json!({"endpoint": "quota_get", "appid": other, "errcode": -1})),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    assert_errmsg(
        &quota_get(&t, &other_token, "/cgi-bin/token").await,
        -1,
        "system error",
    );
    assert_eq!(quota_get(&t, &token, "/cgi-bin/token").await.errcode(), 0);
    // A fault's answer is not WeChat's: the failed call was not counted.
    t.control(Method::DELETE, "/faults", None).await;
    assert_eq!(
        quota(&t, &other_token, "/cgi-bin/openapi/quota/get").await["used"],
        0
    );
    for (endpoint, count) in [("quota_get", 3), ("token", 2)] {
        let page = t
            .mock
            .control()
            .journal(&format!("endpoint={endpoint}"))
            .await
            .expect("journal");
        assert_eq!(page.entries.len(), count, "{endpoint}");
    }
    let page = t
        .mock
        .control()
        .journal("endpoint=quota_get&errcode=-1")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].appid.as_deref(), Some(other.as_str()));
    assert!(page.entries[0].rid.is_some());
}
