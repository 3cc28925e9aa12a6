//! Tests: `GET /wxa/getpaidunionid` over HTTP (`wechat-api.md` sections 7 and 7a), with payments
//! recorded through `POST /__mock__/payments`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, TestMock};

/// A mock with an app bound to an open-platform account; its appid, secret and a token.
async fn bound() -> (TestMock, String, String) {
    let t = TestMock::new().await;
    let (status, app) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"open_platform": "acct-1"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    let appid = app["appid"].as_str().expect("appid").to_owned();
    let secret = app["secret"].as_str().expect("secret");
    let token = t
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"
        ))
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    (t, appid, token)
}

async fn pay(t: &TestMock, body: Value) -> Value {
    let (status, payment) = t.control(Method::POST, "/payments", Some(body)).await;
    assert_eq!(status, 201, "{payment}");
    payment
}

async fn paid_unionid(t: &TestMock, query: &str) -> Raw {
    t.get(&format!("/wxa/getpaidunionid?{query}")).await
}

#[track_caller]
fn assert_errmsg(r: &Raw, code: i64, text: &str) {
    r.assert_err(code);
    let msg = r.json()["errmsg"].as_str().expect("errmsg").to_owned();
    let rid = msg
        .strip_prefix(&format!("{text} rid: "))
        .unwrap_or_else(|| panic!("errmsg {msg:?} is not `{text} rid: ...`"));
    assert_eq!(rid.len(), 26, "{msg}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
}

#[tokio::test]
async fn a_payment_trades_for_the_unionid_by_either_order_number() {
    let (t, appid, token) = bound().await;
    let p = pay(&t, json!({"appid": appid, "user": "alice"})).await;
    let openid = p["openid"].as_str().expect("openid");
    let unionid = p["unionid"].as_str().expect("unionid");
    let txn = p["transaction_id"].as_str().expect("transaction_id");
    assert_eq!(txn.len(), 28, "{p}");
    assert!(txn.starts_with("42000"), "{p}");
    // The unionid the app's logins give too.
    let login = t
        .control(
            Method::POST,
            "/wx/login",
            Some(json!({"appid": appid, "user": "alice"})),
        )
        .await
        .1;
    assert_eq!(login["mock"]["unionid"], unionid);
    assert_eq!(login["mock"]["openid"], openid);

    let r = paid_unionid(
        &t,
        &format!("access_token={token}&openid={openid}&transaction_id={txn}"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    // Exactly WeChat's body, the unionid first [D8].
    assert_eq!(
        r.body,
        format!(r#"{{"unionid":"{unionid}","errcode":0,"errmsg":"ok"}}"#)
    );
    // Not single use: within the window, asking again answers again, also by the merchant's
    // numbers.
    let (mch, out) = (
        p["mch_id"].as_str().expect("mch_id"),
        p["out_trade_no"].as_str().expect("out_trade_no"),
    );
    let r = paid_unionid(
        &t,
        &format!("access_token={token}&openid={openid}&mch_id={mch}&out_trade_no={out}"),
    )
    .await;
    assert_eq!(r.json()["unionid"], unionid, "{}", r.body);
    // POST with the same query is answered too (a GET endpoint).
    let r = t
        .post(
            &format!(
                "/wxa/getpaidunionid?access_token={token}&openid={openid}&transaction_id={txn}"
            ),
            "",
        )
        .await;
    assert_eq!(r.json()["unionid"], unionid, "{}", r.body);
}

#[tokio::test]
async fn the_window_is_five_minutes_on_the_virtual_clock() {
    let (t, appid, token) = bound().await;
    let p = pay(
        &t,
        json!({"appid": appid, "user": "alice", "transaction_id": "4200000001"}),
    )
    .await;
    let openid = p["openid"].as_str().expect("openid");
    let q = format!("access_token={token}&openid={openid}&transaction_id=4200000001");
    t.advance(Duration::from_secs(299));
    assert_eq!(paid_unionid(&t, &q).await.errcode(), 0);
    t.advance(Duration::from_secs(1));
    // The payer stays known to the app (never logged in, but paid): the trade is what expired.
    assert_errmsg(&paid_unionid(&t, &q).await, 89300, "invalid trade");
    let (status, state) = t.control(Method::GET, "/state", None).await;
    assert_eq!(status, 200);
    // Counted until swept; a minute later the sweep has removed it.
    t.advance(Duration::from_secs(60));
    t.login("bob").await;
    let state_after = t.control(Method::GET, "/state", None).await.1;
    assert!(state["counts"]["payments"].as_u64().is_some(), "{state}");
    assert_eq!(state_after["counts"]["payments"], 0, "{state_after}");
}

#[tokio::test]
async fn a_user_who_logged_in_gets_89300_after_the_window_and_for_other_orders() {
    let (t, appid, token) = bound().await;
    let login = t
        .control(
            Method::POST,
            "/wx/login",
            Some(json!({"appid": appid, "user": "alice"})),
        )
        .await
        .1;
    let openid = login["mock"]["openid"].as_str().expect("openid").to_owned();
    let q = |extra: &str| format!("access_token={token}&openid={openid}&{extra}");
    // No payment at all.
    assert_errmsg(
        &paid_unionid(&t, &q("transaction_id=4200000002")).await,
        89300,
        "invalid trade",
    );
    // No order number at all.
    assert_errmsg(&paid_unionid(&t, &q("")).await, 89300, "invalid trade");
    let p = pay(
        &t,
        json!({"appid": appid, "user": "alice", "mch_id": "1900000109", "out_trade_no": "A-1"}),
    )
    .await;
    // mch_id without out_trade_no, or the wrong merchant.
    for extra in ["mch_id=1900000109", "mch_id=1900000108&out_trade_no=A-1"] {
        assert_errmsg(&paid_unionid(&t, &q(extra)).await, 89300, "invalid trade");
    }
    assert_eq!(
        paid_unionid(&t, &q("mch_id=1900000109&out_trade_no=A-1"))
            .await
            .errcode(),
        0
    );
    // Bob's payment is not Alice's.
    let bob = pay(&t, json!({"appid": appid, "user": "bob"})).await;
    let r = paid_unionid(
        &t,
        &q(&format!(
            "transaction_id={}",
            bob["transaction_id"].as_str().expect("txn")
        )),
    )
    .await;
    assert_errmsg(&r, 89300, "invalid trade");
    t.advance(Duration::from_secs(300));
    let txn = p["transaction_id"].as_str().expect("txn");
    assert_errmsg(
        &paid_unionid(&t, &q(&format!("transaction_id={txn}"))).await,
        89300,
        "invalid trade",
    );
}

#[tokio::test]
async fn an_app_without_an_open_platform_account_answers_89002() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let p = pay(&t, json!({"user": "alice"})).await;
    assert!(p.get("unionid").is_none(), "{p}");
    assert_eq!(p["appid"], t.app.appid.as_str());
    let r = paid_unionid(
        &t,
        &format!(
            "access_token={token}&openid={}&transaction_id={}",
            p["openid"].as_str().expect("openid"),
            p["transaction_id"].as_str().expect("txn")
        ),
    )
    .await;
    assert_errmsg(&r, 89002, "open not exists");
}

#[tokio::test]
async fn token_and_openid_errors_come_first() {
    let (t, appid, token) = bound().await;
    let p = pay(&t, json!({"appid": appid, "user": "alice"})).await;
    let (openid, txn) = (
        p["openid"].as_str().expect("openid"),
        p["transaction_id"].as_str().expect("txn"),
    );
    let r = paid_unionid(&t, &format!("openid={openid}&transaction_id={txn}")).await;
    assert_errmsg(&r, 41001, "access_token missing");
    let r = paid_unionid(
        &t,
        &format!("access_token=nope&openid={openid}&transaction_id={txn}"),
    )
    .await;
    r.assert_err(40001);
    // Another app's token: its openids are not this one.
    let other = t.token().await;
    let r = paid_unionid(
        &t,
        &format!("access_token={other}&openid={openid}&transaction_id={txn}"),
    )
    .await;
    assert_errmsg(&r, 40003, "invalid openid");
    let r = paid_unionid(&t, &format!("access_token={token}&transaction_id={txn}")).await;
    assert_errmsg(&r, 40003, "invalid openid");
    // The token expires: 42001 before anything else.
    t.advance(Duration::from_secs(7200));
    let r = paid_unionid(
        &t,
        &format!("access_token={token}&openid={openid}&transaction_id={txn}"),
    )
    .await;
    assert_errmsg(&r, 42001, "access_token expired");
}

#[tokio::test]
async fn the_control_plane_refuses_bad_payments_and_writes_nothing() {
    let (t, appid, _) = bound().await;
    let cases = [
        (json!({}), 400, "user"),
        (
            json!({"user": "alice", "transaction_id": ""}),
            400,
            "transaction_id",
        ),
        (
            json!({"user": "alice", "out_trade_no": "x".repeat(33)}),
            400,
            "out_trade_no",
        ),
        (json!({"user": "alice", "mch_id": "19 00"}), 400, "mch_id"),
        (json!({"user": "alice", "amount": 1}), 400, "amount"),
        (json!({"appid": "nope", "user": "alice"}), 404, ""),
    ];
    for (body, status, field) in cases {
        let (got, err) = t
            .control(Method::POST, "/payments", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {err}");
        assert!(err["error"]["message"].as_str().is_some(), "{err}");
        assert!(err.to_string().contains(field), "{body}: {err}");
    }
    let first = pay(
        &t,
        json!({"appid": appid, "user": "alice", "transaction_id": "T1"}),
    )
    .await;
    // The same order twice, by either number, is refused.
    let (status, err) = t
        .control(
            Method::POST,
            "/payments",
            Some(json!({"appid": appid, "user": "bob", "transaction_id": "T1"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, err) = t
        .control(
            Method::POST,
            "/payments",
            Some(
                json!({"appid": appid, "user": "bob", "mch_id": first["mch_id"],
                "out_trade_no": first["out_trade_no"]}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    // Nothing of the refused ones was kept, and bob was not created by a refusal.
    let state = t.control(Method::GET, "/state", None).await.1;
    assert_eq!(state["counts"]["payments"], 1, "{state}");
    let (status, _) = t.control(Method::GET, "/users/bob", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn faults_and_the_journal_see_the_app_and_the_payer() {
    let (t, appid, token) = bound().await;
    let p = pay(&t, json!({"appid": appid, "user": "alice"})).await;
    let q = format!(
        "access_token={token}&openid={}&transaction_id={}",
        p["openid"].as_str().expect("openid"),
        p["transaction_id"].as_str().expect("txn")
    );
    let (status, rule) = t
        .control(
            Method::POST,
            "/faults",
            Some(json!({"endpoint": "getpaidunionid", "user": "alice", "errcode": -1, "times": 1})),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    assert_errmsg(&paid_unionid(&t, &q).await, -1, "system error");
    assert_eq!(paid_unionid(&t, &q).await.errcode(), 0);
    let journal = t
        .control(Method::GET, "/journal?endpoint=getpaidunionid", None)
        .await
        .1;
    let entries = journal["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{journal}");
    for e in entries {
        assert_eq!(e["appid"], appid.as_str(), "{e}");
        assert_eq!(e["user"], "alice", "{e}");
    }
    assert_eq!(entries[0]["errcode"], -1, "{journal}");
    assert_eq!(entries[1]["errcode"], 0, "{journal}");
}
