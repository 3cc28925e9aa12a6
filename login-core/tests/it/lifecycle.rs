//! Whole-server properties: graceful shutdown finishes in-flight requests.

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
