//! Whole-server properties: graceful shutdown finishes in-flight requests, and no secret ever
//! reaches a log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    // WeChat takes 300 ms to answer: the login is in flight when shutdown starts.
    app.fault(json!({"endpoint": "jscode2session", "delay": "300ms", "times": 1}))
        .await;
    let url = app.url("/api/login");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({ "code": code }))
            .send()
            .await
    });
    // Let the request reach the server before asking it to stop.
    while app.calls("jscode2session").await == 0 {
        tokio::task::yield_now().await;
    }
    let TestApp { core, mock, .. } = app;
    core.shutdown().await;
    let resp = pending
        .await
        .expect("task")
        .expect("the in-flight login completes");
    assert_eq!(resp.status(), 200);
    drop(mock);
}

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("sink").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_never_carry_secrets() {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The current-thread runtime runs the servers' tasks on this thread, so they log here.
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = TestApp::new().await;
    let grant = app
        .mock
        .control()
        .wx_login(&app.appid, "alice")
        .await
        .expect("wx.login");
    let session_key = grant.mock.session_key.clone();
    let body = app.login_code(&grant.code).await.ok();
    let token = body["token"].as_str().expect("token").to_owned();
    // An error path and a misconfiguration path log too.
    app.login_code(&grant.code)
        .await
        .assert_error(400, "code_used");
    app.get("/api/session/check", Some(&token)).await.ok();
    let phone = app
        .mock
        .control()
        .wx_phone_code(&app.appid, "alice")
        .await
        .expect("phone code");
    app.post("/api/me/phone", Some(&token), json!({"code": phone.code}))
        .await
        .ok();
    let secret = app.mock.default_app().secret.clone();

    let logs = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8 logs");
    // The capture works: login-core's own lines and the HTTP client's traces are here.
    for expected in [
        "login_core::service::login",
        "is_new=true",
        "hyper_util::client",
    ] {
        assert!(logs.contains(expected), "{expected} not captured: {logs}");
    }
    for (what, value) in [
        ("session_key", session_key.as_str()),
        ("login code", grant.code.as_str()),
        ("login token", token.as_str()),
        ("phone code", phone.code.as_str()),
        ("app secret", secret.as_str()),
    ] {
        assert!(!logs.contains(value), "the {what} reached the logs");
    }
}
