//! Tests: the `stub_unmodelled` option over HTTP: with it on, a path the mock does not model
//! answers `{"errcode":0,"errmsg":"ok"}` to any valid access token, in its family's
//! Content-Type, journaled as `stubbed`; off, 40066 as WeChat answers.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestMock;

const OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;

#[tokio::test]
async fn off_an_unmodelled_path_is_40066() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let r = t
        .post(
            &format!("/wxa/msg_sec_check?access_token={token}"),
            r#"{"content":"hi"}"#,
        )
        .await;
    r.assert_err(40066);
    let page = t
        .mock
        .control()
        .journal("endpoint=unknown")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 1);
}

#[tokio::test]
async fn on_any_valid_token_gets_ok_in_the_paths_family() {
    let t = TestMock::new().await;
    t.set_options(json!({"stub_unmodelled": true})).await;
    let token = t.token().await;
    for (path, content_type) in [
        ("/wxa/msg_sec_check", "application/json"),
        (
            "/cgi-bin/message/custom/send",
            "application/json; encoding=utf-8",
        ),
        ("/sns/userinfo", "text/plain"),
        (
            "/datacube/getweanalysisappiddailysummarytrend",
            "application/json; encoding=utf-8",
        ),
    ] {
        let r = t
            .post(&format!("{path}?access_token={token}"), r#"{"x":1}"#)
            .await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.body, OK, "{path}");
        assert_eq!(r.content_type.as_deref(), Some(content_type), "{path}");
        // GET too.
        let r = t.get(&format!("{path}?access_token={token}")).await;
        assert_eq!(r.body, OK, "{path}");
    }
    let page = t
        .mock
        .control()
        .journal("endpoint=stubbed")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 8);
    for e in &page.entries {
        assert_eq!(e.endpoint, "stubbed");
        assert_eq!(e.appid.as_deref(), Some(t.app.appid.as_str()));
        assert_eq!(e.errcode, Some(0));
    }
    // An official account's token is as good.
    let (status, oa) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"kind": "official_account"})),
        )
        .await;
    assert_eq!(status, 201, "{oa}");
    let oa_token = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            oa["appid"].as_str().expect("appid"),
            oa["secret"].as_str().expect("secret")
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let r = t
        .get(&format!("/cgi-bin/menu/get?access_token={oa_token}"))
        .await;
    assert_eq!(r.body, OK);
    // Served paths keep their rules; quota/get does not know a stubbed path.
    t.get("/cgi-bin/token?appid=nope").await.assert_err(40013);
    let r = t
        .post(
            &format!("/cgi-bin/openapi/quota/get?access_token={token}"),
            r#"{"cgi_path":"/wxa/msg_sec_check"}"#,
        )
        .await;
    r.assert_err(76021);
}

#[tokio::test]
async fn on_the_token_checks_come_as_on_any_endpoint_that_needs_one() {
    let t = TestMock::new().await;
    t.set_options(json!({"stub_unmodelled": true})).await;
    let r = t.get("/wxa/msg_sec_check").await;
    r.assert_err(41001);
    assert!(
        r.json()["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("access_token missing rid: ")),
        "{}",
        r.body
    );
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let r = t.get("/sns/userinfo?access_token=bogus").await;
    r.assert_err(40001);
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    let token = t.token().await;
    t.advance(Duration::from_secs(7200));
    t.get(&format!("/cgi-bin/anything?access_token={token}"))
        .await
        .assert_err(42001);
    let page = t
        .mock
        .control()
        .journal("endpoint=stubbed")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 3);
    assert!(page.entries.iter().all(|e| e.appid.is_none()));
    // Off again: 40066.
    t.set_options(json!({"stub_unmodelled": false})).await;
    t.get("/wxa/msg_sec_check").await.assert_err(40066);
}

#[tokio::test]
async fn fault_rules_can_target_the_stubbed_calls_by_app() {
    let t = TestMock::new().await;
    t.set_options(json!({"stub_unmodelled": true})).await;
    let token = t.token().await;
    let (status, rule) = t
        .control(
            Method::POST,
            "/faults",
            Some(
                json!({"endpoint": "stubbed", "appid": t.app.appid, "errcode": 45009, "times": 1}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    let r = t
        .get(&format!("/wxa/msg_sec_check?access_token={token}"))
        .await;
    r.assert_err(45009);
    assert_eq!(
        t.get(&format!("/wxa/msg_sec_check?access_token={token}"))
            .await
            .body,
        OK
    );
    // A rule on `unknown` does not fire for stubbed calls, nor one on `stubbed` with the
    // option off.
    t.control(
        Method::POST,
        "/faults",
        Some(json!({"endpoint": "unknown", "errcode": -1})),
    )
    .await;
    assert_eq!(
        t.get(&format!("/wxa/x?access_token={token}")).await.body,
        OK
    );
    t.control(Method::DELETE, "/faults", None).await;
    t.control(
        Method::POST,
        "/faults",
        Some(json!({"endpoint": "stubbed", "errcode": -1})),
    )
    .await;
    t.set_options(json!({"stub_unmodelled": false})).await;
    t.get(&format!("/wxa/x?access_token={token}"))
        .await
        .assert_err(40066);
}
