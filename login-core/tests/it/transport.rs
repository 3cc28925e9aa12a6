//! WeChat answering what the mock cannot: login-core pointed at a wiremock server that answers
//! jscode2session with broken bodies, odd statuses, late answers or no listener at all. Each
//! failure is a 502 or 504 with nothing written.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

/// A well-formed login code (wiremock does not care which).
const CODE: &str = "0c3Ab1000Hf0bZ1wJm100YUQtw1Ab10K";

/// login-core with its WeChat at `base_url`, an upstream timeout of 300 ms.
async fn core_against(base_url: String) -> TestApp {
    TestApp::configured(move |c| {
        c.wechat_base_url = base_url;
        c.upstream.timeout = Duration::from_millis(300);
    })
    .await
}

/// A wiremock server answering every jscode2session call with `answer`.
async fn wechat_answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

/// Every request `server` received, oldest first.
async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording is on")
}

async fn jscode2session_calls(server: &MockServer) -> usize {
    requests(server)
        .await
        .iter()
        .filter(|r| r.url.path() == "/sns/jscode2session")
        .count()
}

/// Logs in against `answer`; asserts the error, one call, nothing written, and the upstream
/// error counted under `label`.
async fn assert_login_fails(answer: ResponseTemplate, status: u16, code: &str, label: &str) {
    let server = wechat_answering(answer).await;
    let app = core_against(server.uri()).await;
    let resp = app.login_code(CODE).await;
    resp.assert_error(status, code);
    app.assert_nothing_stored().await;
    assert_eq!(jscode2session_calls(&server).await, 1, "{label}: one try");
    assert_eq!(
        app.upstream_errors("jscode2session", label).await,
        1.0,
        "{label}"
    );
    assert_eq!(
        app.calls("jscode2session").await,
        0,
        "the mock was not asked"
    );
}

#[tokio::test]
async fn a_good_answer_logs_in_and_the_request_is_well_formed() {
    // The control: the same wiring with a valid answer works.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("js_code", CODE))
        .and(query_param("grant_type", "authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oVBkZ0aYgDMDIywRdgPW8-joxXc4"}"#,
            "text/plain",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let app = core_against(server.uri()).await;
    let body = app.login_code(CODE).await.ok();
    assert_eq!(body["user"]["is_new"], true);
    assert_eq!(app.counts().await, (1, 1, 1));
    let requests = requests(&server).await;
    let param = |name: &str| {
        requests[0]
            .url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("appid").as_deref(), Some(app.appid.as_str()));
    assert_eq!(
        param("secret").as_deref(),
        Some(app.mock.default_app().secret.as_str())
    );
}

#[tokio::test]
async fn a_200_that_is_not_json_is_502() {
    assert_login_fails(
        ResponseTemplate::new(200).set_body_raw(
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "text/html",
        ),
        502,
        "wechat_bad_gateway",
        "bad_body",
    )
    .await;
}

#[tokio::test]
async fn an_errcode_as_a_string_is_502() {
    assert_login_fails(
        ResponseTemplate::new(200).set_body_raw(
            r#"{"errcode":"40029","errmsg":"invalid code"}"#,
            "text/plain",
        ),
        502,
        "wechat_bad_gateway",
        "bad_body",
    )
    .await;
}

#[tokio::test]
async fn unusable_success_bodies_are_502() {
    for body in [
        // No session_key.
        json!({"openid": "oVBkZ0aYgDMDIywRdgPW8-joxXc4"}),
        // No openid.
        json!({"session_key": "tiihtNczf5v6AKRyjwEUhQ=="}),
        // A session_key that is not base64 of 16 bytes.
        json!({"session_key": "not-a-key", "openid": "oVBkZ0aYgDMDIywRdgPW8-joxXc4"}),
        // A unionid that is not a string.
        json!({"session_key": "tiihtNczf5v6AKRyjwEUhQ==", "openid": "o1", "unionid": 5}),
        // A JSON array.
        json!([]),
    ] {
        let server = wechat_answering(ResponseTemplate::new(200).set_body_json(&body)).await;
        let app = core_against(server.uri()).await;
        let resp = app.login_code(CODE).await;
        assert_eq!(resp.status, 502, "{body}: {}", resp.text);
        resp.assert_error(502, "wechat_bad_gateway");
        app.assert_nothing_stored().await;
    }
}

#[tokio::test]
async fn a_body_larger_than_64_kib_is_502() {
    let huge = format!(
        r#"{{"errcode":0,"padding":"{}","openid":"o1","session_key":"tiihtNczf5v6AKRyjwEUhQ=="}}"#,
        "x".repeat(70 * 1024)
    );
    assert_login_fails(
        ResponseTemplate::new(200).set_body_raw(huge, "text/plain"),
        502,
        "wechat_bad_gateway",
        "bad_body",
    )
    .await;
}

#[tokio::test]
async fn http_503_is_502() {
    assert_login_fails(
        ResponseTemplate::new(503).set_body_string("Service Unavailable"),
        502,
        "wechat_bad_gateway",
        "http_503",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_502() {
    let server = MockServer::start().await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "session_key": "tiihtNczf5v6AKRyjwEUhQ==", "openid": "o1"
        })))
        .mount(&server)
        .await;
    Mock::given(path("/sns/jscode2session"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/elsewhere", server.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let app = core_against(server.uri()).await;
    app.login_code(CODE)
        .await
        .assert_error(502, "wechat_bad_gateway");
    app.assert_nothing_stored().await;
    assert!(
        requests(&server)
            .await
            .iter()
            .all(|r| r.url.path() != "/elsewhere"),
        "the redirect (and the secret in its query) was not followed"
    );
    assert_eq!(app.upstream_errors("jscode2session", "http_302").await, 1.0);
}

#[tokio::test]
async fn a_late_answer_is_504() {
    let started = std::time::Instant::now();
    assert_login_fails(
        ResponseTemplate::new(200)
            .set_body_json(json!({"session_key": "tiihtNczf5v6AKRyjwEUhQ==", "openid": "o1"}))
            .set_delay(Duration::from_secs(2)),
        504,
        "wechat_timeout",
        "timeout",
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(1800));
}

#[tokio::test]
async fn system_error_from_wiremock_is_retried_then_503() {
    let server = wechat_answering(
        ResponseTemplate::new(200)
            .set_body_raw(r#"{"errcode":-1,"errmsg":"system error"}"#, "text/plain"),
    )
    .await;
    let app = core_against(server.uri()).await;
    let resp = app.login_code(CODE).await;
    resp.assert_error(503, "wechat_unavailable");
    assert_eq!(resp.header("retry-after").as_deref(), Some("1"));
    assert_eq!(jscode2session_calls(&server).await, 3);
    app.assert_nothing_stored().await;
}

#[tokio::test]
async fn connection_refused_is_502() {
    // A port nobody listens on: bind one, note it, close it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let app = core_against(format!("http://127.0.0.1:{port}")).await;
    let resp = app.login_code(CODE).await;
    let message = resp.assert_error(502, "wechat_bad_gateway");
    assert!(!message.contains(&port.to_string()), "{message}");
    app.assert_nothing_stored().await;
    assert_eq!(app.upstream_errors("jscode2session", "connect").await, 1.0);
}
