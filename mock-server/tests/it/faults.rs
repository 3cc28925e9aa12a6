//! Tests: fault rules under `/__mock__/faults` (catalogue errcodes, HTTP statuses, broken
//! transports, delays, seeded probabilities, app and user filters, validation, listing and removal).

use std::time::{Duration, Instant};

use mock_server::ids::AppId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestMock;

/// Adds a rule and returns it as the control plane stored it.
async fn add_fault(t: &TestMock, rule: Value) -> Value {
    let (status, body) = t.control(Method::POST, "/faults", Some(rule.clone())).await;
    assert_eq!(status, 201, "rule {rule} refused: {body}");
    body
}

async fn list_faults(t: &TestMock) -> Vec<Value> {
    let (status, body) = t.control(Method::GET, "/faults", None).await;
    assert_eq!(status, 200, "{body}");
    body["faults"].as_array().expect("faults array").clone()
}

/// The entries of `GET /__mock__/journal?{query}`.
async fn journal(t: &TestMock, query: &str) -> Vec<Value> {
    let (status, body) = t
        .control(Method::GET, &format!("/journal?{query}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().expect("entries array").clone()
}

/// The jscode2session URL for `code` with the default app's credentials.
fn exchange_url(t: &TestMock, code: &str) -> String {
    t.url(&format!(
        "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
        t.app.appid, t.app.secret
    ))
}

/// Creates an extra app (no open platform) and returns its appid and secret.
async fn create_app(t: &TestMock) -> (String, String) {
    let (status, app) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app}");
    (
        app["appid"].as_str().expect("appid").to_owned(),
        app["secret"].as_str().expect("secret").to_owned(),
    )
}

fn session_body(grant: &mock_server::engine::LoginGrant) -> Value {
    json!({"session_key": grant.mock.session_key, "openid": grant.mock.openid})
}

#[track_caller]
fn assert_invalid_field(resp: &(u16, Value), field: &str) {
    assert_eq!(resp.0, 400, "{}", resp.1);
    assert_eq!(resp.1["error"]["code"], "invalid_field", "{}", resp.1);
    let message = resp.1["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("`{field}`")),
        "message should name `{field}`: {message}"
    );
}

#[tokio::test]
async fn errcode_fault_answers_system_error_then_the_same_code_still_exchanges() {
    let t = TestMock::new().await;
    let rule = add_fault(
        &t,
        json!({"endpoint": "jscode2session", "errcode": -1, "times": 2}),
    )
    .await;
    assert_eq!(
        rule,
        json!({
            "id": 1, "endpoint": "jscode2session", "appid": null, "user": null, "errcode": -1,
            "http_status": null, "transport": null, "delay": null, "times": 2,
            "probability": null, "consume_code": false, "hits": 0, "remaining": 2
        })
    );
    let grant = t.login("alice").await;
    for _ in 0..2 {
        let r = t.exchange(&grant.code).await;
        r.assert_err(-1);
        assert_eq!(r.errmsg_base(), "system error");
        assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    }
    let ok = t.exchange(&grant.code).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json(), session_body(&grant));
    t.exchange(&grant.code).await.assert_err(40163);

    let rules = list_faults(&t).await;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["hits"], 2);
    assert_eq!(rules[0]["remaining"], 0);

    let faulted = journal(&t, "errcode=-1").await;
    assert_eq!(faulted.len(), 2);
    for e in &faulted {
        assert_eq!(e["fault"], "rule 1: errcode -1");
        assert_eq!(e["user"], "alice");
        assert_eq!(e["appid"], t.app.appid.as_str());
        assert_eq!(e["status"], 200);
    }
}

#[tokio::test]
async fn consume_code_fault_uses_up_the_code_so_the_retry_gets_40163() {
    let t = TestMock::new().await;
    add_fault(
        &t,
        json!({"endpoint": "jscode2session", "errcode": -1, "times": 1, "consume_code": true}),
    )
    .await;
    let grant = t.login("alice").await;
    t.exchange(&grant.code).await.assert_err(-1);
    let retry = t.exchange(&grant.code).await;
    retry.assert_err(40163);
    assert_eq!(retry.errmsg_base(), "code been used");

    // A fresh code is not affected: the rule has retired.
    let next = t.login("alice").await;
    assert_eq!(t.exchange(&next.code).await.json(), session_body(&next));
}

#[tokio::test]
async fn appid_filter_limits_the_rule_to_one_app() {
    let t = TestMock::new().await;
    let (appid, secret) = create_app(&t).await;
    add_fault(
        &t,
        json!({"endpoint": "jscode2session", "appid": appid, "errcode": -1}),
    )
    .await;

    let home = t.login("alice").await;
    assert_eq!(t.exchange(&home.code).await.json(), session_body(&home));

    let other = t.login_in(&AppId::new(appid.clone()), "alice").await;
    let r = t
        .get(&format!(
            "/sns/jscode2session?appid={appid}&secret={secret}&js_code={}&grant_type=authorization_code",
            other.code
        ))
        .await;
    r.assert_err(-1);

    let rules = list_faults(&t).await;
    assert_eq!(rules[0]["hits"], 1);
    assert_eq!(rules[0]["appid"], appid.as_str());
    assert_eq!(rules[0]["remaining"], Value::Null);
}

#[tokio::test]
async fn user_filter_hits_bob_and_spares_alice() {
    let t = TestMock::new().await;
    // The path form of the endpoint names the same endpoint as its short name.
    add_fault(
        &t,
        json!({"endpoint": "/sns/jscode2session", "user": "bob", "errcode": 45011}),
    )
    .await;
    let alice = t.login("alice").await;
    let bob = t.login("bob").await;
    assert_eq!(t.exchange(&alice.code).await.json(), session_body(&alice));
    t.exchange(&bob.code).await.assert_err(45011);
    t.exchange(&bob.code).await.assert_err(45011);
    let alice2 = t.login("alice").await;
    assert_eq!(t.exchange(&alice2.code).await.json(), session_body(&alice2));
    assert_eq!(list_faults(&t).await[0]["hits"], 2);
}

#[tokio::test]
async fn http_status_fault_answers_a_gateway_page() {
    let t = TestMock::new().await;
    add_fault(
        &t,
        json!({"endpoint": "jscode2session", "http_status": 503, "times": 1}),
    )
    .await;
    let grant = t.login("alice").await;
    let r = t.exchange(&grant.code).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.content_type.as_deref(), Some("text/html"));
    assert!(
        r.body.starts_with("<html>") && r.body.contains("<h1>503 Service Unavailable</h1>"),
        "{}",
        r.body
    );
    assert!(serde_json::from_str::<Value>(&r.body).is_err());

    // The code was not consumed.
    assert_eq!(t.exchange(&grant.code).await.json(), session_body(&grant));

    let e = &journal(&t, "").await[0];
    assert_eq!(e["status"], 503);
    assert_eq!(e["errcode"], Value::Null);
    assert_eq!(e["fault"], "rule 1: http_status 503");
    assert_eq!(e["response"], r.body.as_str());
}

#[tokio::test]
async fn malformed_fault_answers_200_with_a_body_that_is_not_json() {
    let t = TestMock::new().await;
    add_fault(
        &t,
        json!({"endpoint": "token", "transport": "malformed", "times": 1}),
    )
    .await;
    let r = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            t.app.appid, t.app.secret
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_str::<Value>(&r.body).is_err(),
        "{}",
        r.body
    );
    assert!(r.body.starts_with("<html>"), "{}", r.body);
    let e = &journal(&t, "").await[0];
    assert_eq!(e["fault"], "rule 1: transport malformed");
    assert_eq!(e["status"], 200);
    assert_eq!(e["errcode"], Value::Null);
    // Retired after one hit: the next call gets a token.
    assert_eq!(t.token().await.len(), 136);
}

#[tokio::test]
async fn drop_and_reset_fail_the_request_and_the_server_keeps_serving() {
    for transport in ["drop", "reset"] {
        let t = TestMock::new().await;
        add_fault(
            &t,
            json!({"endpoint": "jscode2session", "transport": transport, "times": 1}),
        )
        .await;
        let grant = t.login("alice").await;
        let err = t
            .http
            .get(exchange_url(&t, &grant.code))
            .send()
            .await
            .expect_err("the connection is cut before any answer");
        assert!(!err.is_timeout(), "{transport}: {err:?}");
        assert!(err.status().is_none(), "{transport}: {err:?}");

        // Same client, same code: the next request is served and the code was not consumed.
        let ok = t.exchange(&grant.code).await;
        assert_eq!(ok.json(), session_body(&grant), "{transport}");

        let entries = journal(&t, "").await;
        assert_eq!(entries.len(), 2, "{transport}");
        assert_eq!(entries[0]["status"], 0, "{transport}");
        assert_eq!(entries[0]["errcode"], Value::Null, "{transport}");
        assert_eq!(
            entries[0]["fault"],
            format!("rule 1: transport {transport}")
        );
        assert_eq!(entries[1]["errcode"], 0, "{transport}");
    }
}

#[tokio::test]
async fn truncate_fails_reading_the_body() {
    let t = TestMock::new().await;
    add_fault(
        &t,
        json!({"endpoint": "jscode2session", "transport": "truncate", "times": 1}),
    )
    .await;
    let grant = t.login("alice").await;
    let resp = t
        .http
        .get(exchange_url(&t, &grant.code))
        .send()
        .await
        .expect("status and headers arrive");
    assert_eq!(resp.status().as_u16(), 200);
    let announced = resp.content_length().expect("Content-Length announced");
    assert!(announced > 0);
    let err = resp
        .text()
        .await
        .expect_err("the body ends before its announced length");
    assert!(err.is_body() || err.is_decode(), "{err:?}");

    assert_eq!(t.exchange(&grant.code).await.json(), session_body(&grant));
    let e = &journal(&t, "").await[0];
    assert_eq!(e["fault"], "rule 1: transport truncate");
    assert_eq!(e["errcode"], Value::Null);
    assert_eq!(
        e["response"].as_str().expect("response").len() as u64,
        announced
    );
}

#[tokio::test]
async fn delay_trips_a_short_client_timeout_and_alone_then_serves_normally() {
    let t = TestMock::new().await;
    add_fault(&t, json!({"endpoint": "jscode2session", "delay": "300ms"})).await;
    let first = t.login("alice").await;
    let second = t.login("alice").await;

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .expect("client");
    let err = impatient
        .get(exchange_url(&t, &first.code))
        .send()
        .await
        .expect_err("the answer comes after the client gave up");
    assert!(err.is_timeout(), "{err:?}");

    let started = Instant::now();
    let ok = t.exchange(&second.code).await;
    let waited = started.elapsed();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json(), session_body(&second));
    assert!(waited >= Duration::from_millis(300), "waited {waited:?}");

    let entry = journal(&t, "errcode=0")
        .await
        .into_iter()
        .find(|e| e["params"]["js_code"] == second.code.as_str())
        .expect("the delayed exchange is journaled");
    assert_eq!(entry["fault"], "rule 1: delay");
    assert!(
        entry["latency_us"].as_u64().expect("latency") >= 300_000,
        "{entry}"
    );
}

/// Hits of a probability-0.5 rule over 48 token calls, as a list of fired / not fired.
async fn probability_run(t: &TestMock) -> Vec<bool> {
    add_fault(
        t,
        json!({"endpoint": "token", "errcode": -1, "probability": 0.5}),
    )
    .await;
    let url = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        t.app.appid, t.app.secret
    );
    let mut fired = Vec::new();
    for _ in 0..48 {
        let r = t.get(&url).await;
        match r.errcode() {
            -1 => fired.push(true),
            0 => {
                assert_eq!(r.json()["access_token"].as_str().map(str::len), Some(136));
                fired.push(false);
            }
            other => panic!("unexpected errcode {other}: {}", r.body),
        }
    }
    fired
}

#[tokio::test]
async fn probability_rules_repeat_with_the_seed() {
    let a = probability_run(&TestMock::new().await).await;
    let t = TestMock::new().await;
    let b = probability_run(&t).await;
    assert_eq!(a, b, "same seed, same sequence of hits");
    let hits = a.iter().filter(|f| **f).count();
    assert!((12..=36).contains(&hits), "fired {hits} of 48 at p=0.5");
    assert_eq!(list_faults(&t).await[0]["hits"], hits);

    let other = TestMock::with_config(mock_server::config::Config {
        seed: "another seed".into(),
        clock: mock_server::Clock::manual(mock_server::Timestamp::from_secs(crate::helpers::START)),
        ..mock_server::config::Config::default()
    })
    .await;
    assert_ne!(
        probability_run(&other).await,
        a,
        "another seed draws otherwise"
    );
}

#[tokio::test]
async fn probability_zero_never_fires_and_one_always_fires() {
    let t = TestMock::new().await;
    add_fault(
        &t,
        json!({"endpoint": "unknown", "errcode": -1, "probability": 0.0}),
    )
    .await;
    add_fault(
        &t,
        json!({"endpoint": "unknown", "errcode": 40001, "probability": 1.0}),
    )
    .await;
    for _ in 0..10 {
        t.get("/no/such/path").await.assert_err(40001);
    }
    let rules = list_faults(&t).await;
    assert_eq!(rules[0]["hits"], 0);
    assert_eq!(rules[1]["hits"], 10);
}

#[tokio::test]
async fn invalid_rules_are_refused_naming_the_field() {
    let t = TestMock::new().await;
    let cases = [
        (json!({"endpoint": "nope", "errcode": -1}), "endpoint"),
        (json!({"errcode": -1}), "endpoint"),
        (
            json!({"endpoint": "jscode2session", "errcode": 12345}),
            "errcode",
        ),
        (
            json!({"endpoint": "jscode2session", "errcode": -1, "times": 0}),
            "times",
        ),
        (
            json!({"endpoint": "jscode2session", "errcode": -1, "probability": 2}),
            "probability",
        ),
        (json!({"endpoint": "jscode2session"}), "errcode"),
        (
            json!({"endpoint": "jscode2session", "errcode": -1, "http_status": 503}),
            "errcode",
        ),
        (json!({"endpoint": "*", "http_status": 200}), "http_status"),
        (json!({"endpoint": "*", "delay": "soon"}), "delay"),
        (json!({"endpoint": "*", "delay": "11m"}), "delay"),
        (
            json!({"endpoint": "*", "transport": "explode"}),
            "transport",
        ),
    ];
    for (rule, field) in cases {
        let resp = t.control(Method::POST, "/faults", Some(rule.clone())).await;
        assert_invalid_field(&resp, field);
    }
    assert!(list_faults(&t).await.is_empty());
    // Refused rules use up no ids.
    let rule = add_fault(&t, json!({"endpoint": "*", "errcode": -1})).await;
    assert_eq!(rule["id"], 1);
}

#[tokio::test]
async fn rules_are_listed_tried_in_order_and_removed() {
    let t = TestMock::new().await;
    add_fault(
        &t,
        json!({"endpoint": "jscode2session", "errcode": -1, "times": 3}),
    )
    .await;
    add_fault(&t, json!({"endpoint": "token", "http_status": 502})).await;
    add_fault(&t, json!({"endpoint": "*", "errcode": 45009, "times": 1})).await;

    // Rule 1 matches first and wins over rule 3.
    let grant = t.login("alice").await;
    t.exchange(&grant.code).await.assert_err(-1);

    let rules = list_faults(&t).await;
    let summary: Vec<Value> = rules
        .iter()
        .map(|r| json!([r["id"], r["endpoint"], r["hits"], r["remaining"]]))
        .collect();
    assert_eq!(
        summary,
        vec![
            json!([1, "jscode2session", 1, 2]),
            json!([2, "token", 0, null]),
            json!([3, "*", 0, 1]),
        ]
    );
    let (status, state) = t.control(Method::GET, "/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(state["counts"]["faults"], 3);

    assert_eq!(
        t.control(Method::DELETE, "/faults/2", None).await,
        (200, json!({"removed": 1}))
    );
    let ids: Vec<Value> = list_faults(&t)
        .await
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(1), json!(3)]);

    let (status, body) = t.control(Method::DELETE, "/faults/2", None).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error": {"code": "unknown_fault", "message": "no fault rule with id 2"}})
    );
    let resp = t.control(Method::DELETE, "/faults/abc", None).await;
    assert_invalid_field(&resp, "id");

    assert_eq!(
        t.control(Method::DELETE, "/faults", None).await,
        (200, json!({"removed": 2}))
    );
    assert!(list_faults(&t).await.is_empty());
    assert_eq!(
        t.control(Method::DELETE, "/faults", None).await,
        (200, json!({"removed": 0}))
    );

    // With no rules the code exchanges normally.
    assert_eq!(t.exchange(&grant.code).await.json(), session_body(&grant));
}
