//! Tests: plugin login over HTTP (`wechat-api.md` 7a): `POST /__mock__/wx/pluginLogin` plays
//! the plugin's `wx.pluginLogin`, `POST /wxa/getpluginopenpid` trades the code, with the
//! plugin's own access token, for the user's openpid.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, TestMock};

const PATH: &str = "/wxa/getpluginopenpid";

/// A mock with a plugin app; its appid and its access token.
async fn with_plugin() -> (TestMock, String, String) {
    let t = TestMock::new().await;
    let (appid, token) = new_plugin(&t).await;
    (t, appid, token)
}

/// A new plugin app: its appid and a cgi-bin/token of it.
async fn new_plugin(t: &TestMock) -> (String, String) {
    let (status, app) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app}");
    let appid = app["appid"].as_str().expect("appid").to_owned();
    let r = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={}",
            app["secret"].as_str().expect("secret")
        ))
        .await;
    let token = r.json()["access_token"].as_str().expect("token").to_owned();
    (appid, token)
}

async fn plugin_login(t: &TestMock, body: Value) -> Value {
    let (status, grant) = t.control(Method::POST, "/wx/pluginLogin", Some(body)).await;
    assert_eq!(status, 200, "{grant}");
    grant
}

async fn openpid(t: &TestMock, token: &str, code: &str) -> Raw {
    t.post(
        &format!("{PATH}?access_token={token}"),
        &json!({ "code": code }).to_string(),
    )
    .await
}

/// getpluginopenpid's errors: the errmsg is the rid alone, as WeChat sends them
/// (`{"errcode":1007,"errmsg":" rid: 6374a31a-1d2ecec6-3d2c5d0a"}`).
#[track_caller]
fn assert_bare(r: &Raw, code: i64) {
    r.assert_err(code);
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    let rid = msg
        .strip_prefix(" rid: ")
        .unwrap_or_else(|| panic!("errmsg {msg:?} is not ` rid: ...`"));
    assert_eq!(rid.len(), 26, "{msg}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
}

fn code_of(grant: &Value) -> &str {
    grant["code"].as_str().expect("code")
}

#[tokio::test]
async fn a_plugin_code_trades_for_the_openpid_once() {
    let (t, plugin, token) = with_plugin().await;
    let grant = plugin_login(&t, json!({"user": "alice", "plugin_appid": plugin})).await;
    assert_eq!(grant["errMsg"], "pluginLogin:ok");
    assert_eq!(grant["mock"]["appid"], t.app.appid.as_str());
    assert_eq!(grant["mock"]["plugin_appid"], plugin.as_str());
    assert_eq!(code_of(&grant).len(), 32);
    let pid = grant["mock"]["openpid"]
        .as_str()
        .expect("openpid")
        .to_owned();
    assert_eq!(pid.len(), 28);
    let r = openpid(&t, &token, code_of(&grant)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        r.body,
        format!(r#"{{"errcode":0,"errmsg":"ok","openpid":"{pid}"}}"#)
    );
    // Single use: 1000.
    assert_bare(&openpid(&t, &token, code_of(&grant)).await, 1000);
}

#[tokio::test]
async fn the_openpid_is_per_plugin_and_user_and_no_openid() {
    let (t, plugin, token) = with_plugin().await;
    let (other_plugin, other_token) = new_plugin(&t).await;
    let (status, host) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{host}");
    let mut seen = Vec::new();
    for (p, tok, user, host) in [
        (&plugin, &token, "alice", None),
        (&plugin, &token, "alice", Some(&host["appid"])),
        (&plugin, &token, "bob", None),
        (&other_plugin, &other_token, "alice", None),
    ] {
        let mut body = json!({"user": user, "plugin_appid": p});
        if let Some(h) = host {
            body["appid"] = h.clone();
        }
        let grant = plugin_login(&t, body).await;
        let r = openpid(&t, tok, code_of(&grant)).await;
        assert_eq!(r.json()["openpid"], grant["mock"]["openpid"], "{}", r.body);
        seen.push(r.json()["openpid"].as_str().expect("openpid").to_owned());
    }
    // The same in every host; another user or another plugin, another id.
    assert_eq!(seen[0], seen[1]);
    assert_ne!(seen[0], seen[2]);
    assert_ne!(seen[0], seen[3]);
    // Not alice's openid in the plugin app or the host.
    let (_, alice) = t.control(Method::GET, "/users/alice", None).await;
    for app in alice["apps"].as_array().expect("apps") {
        assert_ne!(app["openid"], seen[0].as_str(), "{alice}");
    }
}

#[tokio::test]
async fn bad_codes_answer_as_documented() {
    let (t, plugin, token) = with_plugin().await;
    let (other_plugin, _) = new_plugin(&t).await;
    // A wx.login code: 1007, openpid data does not exist.
    let login = t.login("alice").await;
    assert_bare(&openpid(&t, &token, &login.code).await, 1007);
    // Unknown, another plugin's, expired, none: 1001.
    assert_bare(
        &openpid(&t, &token, "0ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ").await,
        1001,
    );
    let other = plugin_login(&t, json!({"user": "alice", "plugin_appid": other_plugin})).await;
    assert_bare(&openpid(&t, &token, code_of(&other)).await, 1001);
    let grant = plugin_login(&t, json!({"user": "alice", "plugin_appid": plugin})).await;
    assert_bare(
        &t.post(&format!("{PATH}?access_token={token}"), "{}").await,
        1001,
    );
    assert_bare(
        &t.post(&format!("{PATH}?access_token={token}"), "").await,
        1001,
    );
    // JSON that does not parse: 1022.
    assert_bare(
        &t.post(&format!("{PATH}?access_token={token}"), "{\"code\":")
            .await,
        1022,
    );
    t.advance(Duration::from_secs(299));
    let young = plugin_login(&t, json!({"user": "alice", "plugin_appid": plugin})).await;
    t.advance(Duration::from_secs(1));
    assert_bare(&openpid(&t, &token, code_of(&grant)).await, 1001);
    assert_eq!(openpid(&t, &token, code_of(&young)).await.errcode(), 0);
    // A wx.login code past its five minutes is unknown like any other.
    assert_bare(&openpid(&t, &token, &login.code).await, 1001);
    // A plugin code is no wx.login code.
    let r = t.exchange(code_of(&young)).await;
    r.assert_err(40029);
}

#[tokio::test]
async fn the_method_and_the_token_come_first() {
    let (t, plugin, token) = with_plugin().await;
    let grant = plugin_login(&t, json!({"user": "alice", "plugin_appid": plugin})).await;
    let code = code_of(&grant);
    let r = t.get(&format!("{PATH}?access_token={token}")).await;
    r.assert_err(43002);
    assert_eq!(r.errmsg_base(), "require POST method");
    let body = json!({ "code": code }).to_string();
    let r = t.post(PATH, &body).await;
    r.assert_err(41001);
    assert_eq!(r.errmsg_base(), "access_token missing");
    t.post(&format!("{PATH}?access_token=nope"), &body)
        .await
        .assert_err(40001);
    // The host's token is not the plugin's: the plugin's code is unknown to it.
    assert_bare(&openpid(&t, &t.token().await, code).await, 1001);
    t.advance(Duration::from_secs(7200));
    let grant = plugin_login(&t, json!({"user": "alice", "plugin_appid": plugin})).await;
    let r = openpid(&t, &token, code_of(&grant)).await;
    r.assert_err(42001);
    assert_eq!(r.errmsg_base(), "access_token expired");
}

#[tokio::test]
async fn faults_and_the_journal_see_the_plugin_and_the_user() {
    let (t, plugin, token) = with_plugin().await;
    let rule = json!({"endpoint": "getpluginopenpid", "user": "alice", "errcode": -1,
        "times": 1, "consume_code": true});
    let (status, rule) = t.control(Method::POST, "/faults", Some(rule)).await;
    assert_eq!(status, 201, "{rule}");
    let grant = plugin_login(&t, json!({"user": "alice", "plugin_appid": plugin})).await;
    openpid(&t, &token, code_of(&grant)).await.assert_err(-1);
    // The fault spent the code.
    assert_bare(&openpid(&t, &token, code_of(&grant)).await, 1000);
    let journal = t
        .control(Method::GET, "/journal?endpoint=getpluginopenpid", None)
        .await
        .1;
    let entries = journal["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{journal}");
    for e in entries {
        assert_eq!(e["appid"], plugin.as_str(), "{e}");
        assert_eq!(e["user"], "alice", "{e}");
    }
    let state = t.control(Method::GET, "/state", None).await.1;
    assert_eq!(state["counts"]["plugin_codes"], 1, "{state}");
    t.advance(Duration::from_secs(360));
    t.login("bob").await;
    let state = t.control(Method::GET, "/state", None).await.1;
    assert_eq!(state["counts"]["plugin_codes"], 0, "{state}");
}
