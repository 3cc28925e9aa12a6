//! The wire format every SDK relies on: HTTP 200 for business errors, compact bodies with no
//! trailing newline, Content-Type per family without charset, the rid suffix, unknown paths.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{START, TestMock};

fn rid_of(errmsg: &str) -> &str {
    errmsg.rsplit("rid: ").next().unwrap()
}

#[tokio::test]
async fn errors_are_http_200_compact_with_the_rid_from_the_clock() {
    let t = TestMock::new().await;
    let r = t.exchange("0000000000000000000000000000000A").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    let v = r.json();
    // Compact: exactly what a compact serializer writes, no trailing newline.
    assert_eq!(r.body, serde_json::to_string(&v).unwrap());
    assert!(v["errcode"].is_i64());
    let msg = v["errmsg"].as_str().unwrap();
    assert!(msg.starts_with("invalid code, rid: "), "{msg}");
    let rid = rid_of(msg);
    let groups: Vec<&str> = rid.split('-').collect();
    assert_eq!(groups.len(), 3);
    assert!(groups.iter().all(|g| {
        g.len() == 8
            && g.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }));
    assert_eq!(groups[0], format!("{START:08x}"));
    // The body is byte-for-byte the shape of the captured one: 74 bytes.
    assert_eq!(r.body.len(), 74);
    assert_eq!(r.body, format!(r#"{{"errcode":40029,"errmsg":"{msg}"}}"#));
    // Date header follows the virtual clock too.
    assert_eq!(r.date.as_deref(), Some("Thu, 22 Aug 2024 01:14:57 GMT"));
}

#[tokio::test]
async fn the_rid_time_moves_with_the_clock() {
    let t = TestMock::new().await;
    t.advance(Duration::from_secs(3600));
    let r = t.exchange("x").await;
    let msg = r.json()["errmsg"].as_str().unwrap().to_owned();
    assert!(
        rid_of(&msg).starts_with(&format!("{:08x}", START + 3600)),
        "{msg}"
    );
}

#[tokio::test]
async fn cgi_bin_and_wxa_use_a_space_before_rid_and_json_content_types() {
    let t = TestMock::new().await;
    let r = t
        .get("/cgi-bin/token?grant_type=client_credential&appid=wx_nope&secret=x")
        .await;
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json; encoding=utf-8")
    );
    let msg = r.json()["errmsg"].as_str().unwrap().to_owned();
    assert!(msg.starts_with("invalid appid rid: "), "{msg}");
    let w = t.get("/wxa/checksession").await;
    assert_eq!(w.content_type.as_deref(), Some("application/json"));
    w.assert_err(41001);
    assert!(
        w.json()["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("access_token missing rid: ")
    );
}

#[tokio::test]
async fn success_bodies_carry_errcode_only_on_wxa() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let login = t.login("alice").await;
    let sns = t.exchange(&login.code).await;
    assert!(sns.json().get("errcode").is_none());
    let tok = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            t.app.appid, t.app.secret
        ))
        .await;
    assert!(tok.json().get("errcode").is_none());
    assert!(!tok.body.ends_with('\n'));
    let check = t
        .get(&format!(
            "/wxa/checksession?access_token={token}&openid={}&signature={}&sig_method=hmac_sha256",
            login.mock.openid,
            crate::helpers::signature(&login.mock.session_key)
        ))
        .await;
    assert_eq!(check.body, r#"{"errcode":0,"errmsg":"ok"}"#);
}

#[tokio::test]
async fn unknown_paths_answer_40066_and_paths_are_case_sensitive() {
    let t = TestMock::new().await;
    let sns = t.get("/sns/jsCode2Session?appid=x").await;
    sns.assert_err(40066);
    assert!(
        sns.json()["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("invalid url, rid: ")
    );
    assert_eq!(sns.content_type.as_deref(), Some("text/plain"));
    let other = t.post("/cgi-bin/nothing", "{}").await;
    other.assert_err(40066);
    assert!(
        other.json()["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("invalid url rid: ")
    );
}

#[tokio::test]
async fn content_type_can_be_json_everywhere() {
    let t = TestMock::new().await;
    t.set_options(json!({"content_type": "json"})).await;
    let r = t.exchange("x").await;
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn legacy_rid_style_uses_hints() {
    let t = TestMock::new().await;
    t.set_options(json!({"rid_style": "legacy"})).await;
    let sns = t.exchange("x").await.json()["errmsg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sns.starts_with("invalid code, hints: [ req_id: ") && sns.ends_with(" ]"),
        "{sns}"
    );
    let cgi = t.get("/cgi-bin/token?appid=nope").await.json()["errmsg"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        cgi.starts_with("invalid appid hint: [") && cgi.ends_with(']'),
        "{cgi}"
    );
}

#[tokio::test]
async fn oversized_bodies_get_the_gateway_413_and_the_server_stays_up() {
    let t = TestMock::new().await;
    let big = "x".repeat(mock_server::MAX_BODY + 1);
    let r = t.post("/cgi-bin/stable_token", &big).await;
    assert_eq!(r.status, 413);
    t.exchange("x").await.assert_err(40029);
}

#[tokio::test]
async fn json_bodies_are_parsed_whatever_the_content_type() {
    let t = TestMock::new().await;
    let body =
        json!({"grant_type": "client_credential", "appid": t.app.appid, "secret": t.app.secret})
            .to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = t
            .http
            .post(t.url("/cgi-bin/stable_token"))
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let v: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
        assert_eq!(v["expires_in"], 7200, "content-type {ct:?}: {v}");
    }
}
