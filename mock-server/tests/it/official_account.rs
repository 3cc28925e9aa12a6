//! Tests: official accounts over HTTP (`wechat-api.md` 7a): an app of kind `official_account`
//! under the same open-platform account as a mini-program, followers made on the control plane
//! (`POST /__mock__/apps/{appid}/followers`), and `GET /cgi-bin/user/info` with the body of
//! after 2021-12-27.

use std::time::Duration;

use mock_server::config::SeedFile;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, START, TestMock};

/// A mock with a mini-program and an official account bound to open platform `acct-1`: the
/// account's appid and token.
async fn with_account() -> (TestMock, String, String) {
    let t = TestMock::new().await;
    let (status, app) = t
        .control(
            Method::PATCH,
            &format!("/apps/{}", t.app.appid),
            Some(json!({"open_platform": "acct-1"})),
        )
        .await;
    assert_eq!(status, 200, "{app}");
    let (status, oa) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"kind": "official_account", "open_platform": "acct-1", "name": "news"})),
        )
        .await;
    assert_eq!(status, 201, "{oa}");
    assert_eq!(oa["kind"], "official_account");
    let appid = oa["appid"].as_str().expect("appid").to_owned();
    let token = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={}",
            oa["secret"].as_str().expect("secret")
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (t, appid, token)
}

async fn follow(t: &TestMock, appid: &str, body: Value) -> Value {
    let (status, f) = t
        .control(
            Method::POST,
            &format!("/apps/{appid}/followers"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{f}");
    f
}

async fn user_info(t: &TestMock, token: &str, openid: &str) -> Raw {
    t.get(&format!(
        "/cgi-bin/user/info?access_token={token}&openid={openid}&lang=zh_CN"
    ))
    .await
}

#[track_caller]
fn assert_errmsg(r: &Raw, code: i64, text: &str) {
    r.assert_err(code);
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    assert!(
        msg.strip_prefix(&format!("{text} rid: "))
            .is_some_and(|rid| rid.len() == 26),
        "errmsg {msg:?} is not `{text} rid: ...`"
    );
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json; encoding=utf-8")
    );
}

#[tokio::test]
async fn a_follower_is_told_with_the_post_2021_body_and_the_shared_unionid() {
    let (t, appid, token) = with_account().await;
    let f = follow(
        &t,
        &appid,
        json!({"user": "alice", "subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene": 98765,
            "qr_scene_str": "poster-1", "remark": "vip", "tagid_list": [128, 2]}),
    )
    .await;
    let openid = f["openid"].as_str().expect("openid").to_owned();
    let unionid = f["unionid"].as_str().expect("unionid").to_owned();
    assert_eq!(f["subscribe"], true);
    assert_eq!(f["subscribe_time"], START);
    // The unionid the mini-program's login gives; the openid is the account's own.
    let login = t.login("alice").await;
    assert_eq!(
        login.mock.unionid.as_ref().map(|u| u.as_str()),
        Some(unionid.as_str())
    );
    assert_ne!(login.mock.openid.as_str(), openid);
    let user = t.control(Method::GET, "/users/alice", None).await.1;
    let apps = user["apps"].as_array().expect("apps");
    assert!(
        apps.iter()
            .any(|a| a["appid"] == appid.as_str() && a["openid"] == openid.as_str()),
        "{user}"
    );

    let r = user_info(&t, &token, &openid).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json; encoding=utf-8")
    );
    assert_eq!(
        r.body,
        format!(
            r#"{{"subscribe":1,"openid":"{openid}","language":"zh_CN","subscribe_time":{START},"unionid":"{unionid}","remark":"vip","groupid":0,"tagid_list":[128,2],"subscribe_scene":"ADD_SCENE_QR_CODE","qr_scene":98765,"qr_scene_str":"poster-1"}}"#
        )
    );
    // lang does not matter, nor POST.
    let r2 = t
        .post(
            &format!("/cgi-bin/user/info?access_token={token}&openid={openid}&lang=en"),
            "",
        )
        .await;
    assert_eq!(r2.body, r.body);
    // The language is the user's.
    let (status, _) = t
        .control(
            Method::PATCH,
            "/users/alice",
            Some(json!({"language": "en"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        user_info(&t, &token, &openid).await.json()["language"],
        "en"
    );
    // The journal names the app and the user.
    let page = t
        .mock
        .control()
        .journal("endpoint=user_info")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 3);
    for e in &page.entries {
        assert_eq!(e.appid.as_deref(), Some(appid.as_str()));
        assert_eq!(e.user.as_deref(), Some("alice"));
        assert_eq!(e.errcode, Some(0));
    }
}

#[tokio::test]
async fn an_unfollow_leaves_subscribe_0_and_a_new_follow_a_new_time() {
    let (t, appid, token) = with_account().await;
    let f = follow(&t, &appid, json!({"user": "bob", "remark": "r"})).await;
    let openid = f["openid"].as_str().expect("openid").to_owned();
    let unionid = f["unionid"].as_str().expect("unionid").to_owned();
    assert_eq!(f["subscribe_scene"], "ADD_SCENE_SEARCH");
    t.advance(Duration::from_secs(100));
    let f = follow(&t, &appid, json!({"user": "bob", "subscribe": false})).await;
    assert_eq!(f["subscribe"], false);
    assert_eq!(f["subscribe_time"], Value::Null);
    // What WeChat answers for someone who does not follow: the openid, the unionid, no more.
    let r = user_info(&t, &token, &openid).await;
    assert_eq!(
        r.body,
        format!(r#"{{"subscribe":0,"openid":"{openid}","unionid":"{unionid}","tagid_list":[]}}"#)
    );
    t.advance(Duration::from_secs(100));
    follow(&t, &appid, json!({"user": "bob"})).await;
    let v = user_info(&t, &token, &openid).await.json();
    assert_eq!(v["subscribe"], 1);
    assert_eq!(v["subscribe_time"], START + 200);
    // What the account knew is kept.
    assert_eq!(v["remark"], "r");
    // Following while following keeps the time.
    t.advance(Duration::from_secs(100));
    let f = follow(&t, &appid, json!({"user": "bob", "tagid_list": [7]})).await;
    assert_eq!(f["subscribe_time"], START + 200);
    assert_eq!(
        user_info(&t, &token, &openid).await.json()["tagid_list"],
        json!([7])
    );
    // Someone known only by an unfollow (a web authorization): subscribe 0.
    let f = follow(&t, &appid, json!({"user": "carol", "subscribe": false})).await;
    let r = user_info(&t, &token, f["openid"].as_str().expect("openid")).await;
    assert_eq!(r.json()["subscribe"], 0, "{}", r.body);
}

#[tokio::test]
async fn an_account_without_an_open_platform_answers_no_unionid() {
    let t = TestMock::new().await;
    let (status, oa) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"kind": "official_account"})),
        )
        .await;
    assert_eq!(status, 201, "{oa}");
    let appid = oa["appid"].as_str().expect("appid");
    let token = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={}",
            oa["secret"].as_str().expect("secret")
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let f = follow(&t, appid, json!({"user": "alice"})).await;
    assert!(f.get("unionid").is_none(), "{f}");
    let openid = f["openid"].as_str().expect("openid");
    let v = user_info(&t, &token, openid).await.json();
    assert!(v.get("unionid").is_none(), "{v}");
    assert_eq!(v["subscribe"], 1);
    follow(&t, appid, json!({"user": "alice", "subscribe": false})).await;
    let r = user_info(&t, &token, openid).await;
    assert_eq!(
        r.body,
        format!(r#"{{"subscribe":0,"openid":"{openid}","tagid_list":[]}}"#)
    );
}

#[tokio::test]
async fn token_errors_come_first_then_the_account_kind_then_the_openid() {
    let (t, appid, token) = with_account().await;
    let f = follow(&t, &appid, json!({"user": "alice"})).await;
    let openid = f["openid"].as_str().expect("openid").to_owned();
    let r = t.get(&format!("/cgi-bin/user/info?openid={openid}")).await;
    assert_errmsg(&r, 41001, "access_token missing");
    user_info(&t, "bogus", &openid).await.assert_err(40001);
    // A mini-program's token: not its API.
    let mp = t.token().await;
    assert_errmsg(
        &user_info(&t, &mp, &openid).await,
        48001,
        "api unauthorized",
    );
    // The mini-program's openid of the same user, an unknown one, none.
    let login = t.login("alice").await;
    assert_errmsg(
        &user_info(&t, &token, login.mock.openid.as_str()).await,
        40003,
        "invalid openid",
    );
    assert_errmsg(
        &user_info(&t, &token, "oZZZZZZZZZZZZZZZZZZZZZZZZZZZ").await,
        40003,
        "invalid openid",
    );
    let r = t
        .get(&format!("/cgi-bin/user/info?access_token={token}"))
        .await;
    assert_errmsg(&r, 40003, "invalid openid");
    // Another account's follower is not this one's.
    let (status, other) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"kind": "official_account"})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other_follower = follow(
        &t,
        other["appid"].as_str().expect("appid"),
        json!({"user": "bob"}),
    )
    .await;
    assert_errmsg(
        &user_info(
            &t,
            &token,
            other_follower["openid"].as_str().expect("openid"),
        )
        .await,
        40003,
        "invalid openid",
    );
    t.advance(Duration::from_secs(7200));
    assert_errmsg(
        &user_info(&t, &token, &openid).await,
        42001,
        "access_token expired",
    );
}

#[tokio::test]
async fn a_fault_rule_names_the_follower() {
    let (t, appid, token) = with_account().await;
    let alice = follow(&t, &appid, json!({"user": "alice"})).await;
    let bob = follow(&t, &appid, json!({"user": "bob"})).await;
    let (status, rule) = t
        .control(
            Method::POST,
            "/faults",
            Some(json!({"endpoint": "user_info", "user": "bob", "errcode": -1})),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    let ok = user_info(&t, &token, alice["openid"].as_str().expect("openid")).await;
    assert_eq!(ok.errcode(), 0, "{}", ok.body);
    let failed = user_info(&t, &token, bob["openid"].as_str().expect("openid")).await;
    assert_errmsg(&failed, -1, "system error");
}

#[tokio::test]
async fn an_official_account_is_no_mini_program_and_a_mini_program_has_no_followers() {
    let (t, appid, _) = with_account().await;
    for route in [
        "/wx/login",
        "/wx/getPhoneNumber",
        "/wx/checkSession",
        "/payments",
    ] {
        let (status, err) = t
            .control(
                Method::POST,
                route,
                Some(json!({"appid": appid, "user": "alice"})),
            )
            .await;
        assert_eq!(status, 409, "{route}: {err}");
        assert_eq!(err["error"]["code"], "wrong_app_kind", "{route}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("is not a mini-program")),
            "{err}"
        );
    }
    // A mini-program's APIs refuse the account's token once it is known good.
    let app = t
        .control(Method::GET, &format!("/apps/{appid}"), None)
        .await
        .1;
    let token = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={}",
            app["secret"].as_str().expect("secret")
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let r = t
        .get(&format!(
            "/wxa/checksession?access_token={token}&openid=x&signature=y&sig_method=hmac_sha256"
        ))
        .await;
    r.assert_err(48001);
    assert!(
        r.json()["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("api unauthorized rid: ")),
        "{}",
        r.body
    );
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let r = t
        .post(
            &format!("/wxa/business/getuserphonenumber?access_token={token}"),
            r#"{"code":"x"}"#,
        )
        .await;
    r.assert_err(48001);
    // The method check still comes first.
    t.get(&format!(
        "/wxa/business/getuserphonenumber?access_token={token}"
    ))
    .await
    .assert_err(43002);
    // jscode2session knows no such mini-program.
    let app = t
        .control(Method::GET, &format!("/apps/{appid}"), None)
        .await
        .1;
    let r = t
        .get(&format!(
            "/sns/jscode2session?appid={appid}&secret={}&js_code=0ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ&grant_type=authorization_code",
            app["secret"].as_str().expect("secret")
        ))
        .await;
    r.assert_err(40013);
    let (status, err) = t
        .control(
            Method::POST,
            &format!("/apps/{}/followers", t.app.appid),
            Some(json!({"user": "alice"})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "wrong_app_kind");
    // The kind stays.
    let (status, err) = t
        .control(
            Method::PATCH,
            &format!("/apps/{appid}"),
            Some(json!({"kind": "mini_program"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, same) = t
        .control(
            Method::PATCH,
            &format!("/apps/{appid}"),
            Some(json!({"kind": "official_account", "name": "daily"})),
        )
        .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["kind"], "official_account");
    // Refused follows write nothing, the user included.
    let (status, _) = t
        .control(
            Method::POST,
            &format!("/apps/{appid}/followers"),
            Some(json!({"user": "zed", "remark": "x".repeat(31)})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(t.control(Method::GET, "/users/zed", None).await.0, 404);
    let state = t.control(Method::GET, "/state", None).await.1;
    assert_eq!(state["counts"]["followers"], 0, "{state}");
}

#[tokio::test]
async fn official_accounts_come_from_the_seed_file_too() {
    let seed = SeedFile::from_json(
        r#"{"apps":[{"appid":"wxoa0000000000001","secret":"s","kind":"official_account"}]}"#,
    )
    .expect("valid seed file");
    let t = TestMock::with(seed).await;
    let app = t
        .control(Method::GET, "/apps/wxoa0000000000001", None)
        .await
        .1;
    assert_eq!(app["kind"], "official_account", "{app}");
    let state = t.control(Method::GET, "/state", None).await.1;
    assert_eq!(state["apps"][0]["kind"], "mini_program", "{state}");
    assert!(SeedFile::from_json(r#"{"apps":[{"kind":"mini_game"}]}"#).is_err());
    // After a reset it is there again, followers gone.
    follow(&t, "wxoa0000000000001", json!({"user": "alice"})).await;
    t.control(Method::POST, "/reset", None).await;
    let state = t.control(Method::GET, "/state", None).await.1;
    assert_eq!(state["apps"][1]["kind"], "official_account", "{state}");
    assert_eq!(state["counts"]["followers"], 0, "{state}");
}
