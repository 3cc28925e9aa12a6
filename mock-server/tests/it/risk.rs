//! Tests: `POST /wxa/getuserriskrank` over HTTP (`wechat-api.md` 7a): the exact success body
//! (errmsg `getuserriskrank succ`, the field spelled `unoin_id`), the user's `risk_rank` knob
//! and how it follows `high_risk`, the two-hour visit window on the virtual clock, every error in
//! WeChat's order, faults and the journal.

use std::time::Duration;

use mock_server::config::SeedFile;
use mock_server::faults::FaultSpec;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, START, TestMock, assert_wxa_err};

const RISK: &str = "/wxa/getuserriskrank";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `POST /wxa/getuserriskrank?access_token=<token>` with `body` as given.
async fn risk(t: &TestMock, token: &str, body: &str) -> Raw {
    t.post(&format!("{RISK}?access_token={token}"), body).await
}

/// A body that succeeds for `openid` in the default app, with `over`'s fields replaced
/// (`null`: left out).
fn body(t: &TestMock, openid: &str, over: Value) -> String {
    let mut b = json!({
        "appid": t.app.appid,
        "openid": openid,
        "scene": 0,
        "client_ip": "203.0.113.7",
    });
    if let (Some(b), Some(o)) = (b.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    b.to_string()
}

/// The rank in a success, after checking the body's exact shape.
#[track_caller]
fn rank_of(r: &Raw) -> u64 {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let v = r.json();
    let rank = v["risk_rank"].as_u64().expect("risk_rank");
    let id = v["unoin_id"].as_u64().expect("unoin_id is a number");
    assert_eq!(
        r.body,
        format!(
            r#"{{"errcode":0,"errmsg":"getuserriskrank succ","risk_rank":{rank},"unoin_id":{id}}}"#
        )
    );
    rank
}

async fn patch_user(t: &TestMock, handle: &str, patch: Value) -> Value {
    let (status, user) = t
        .control(Method::PATCH, &format!("/users/{handle}"), Some(patch))
        .await;
    assert_eq!(status, 200, "{user}");
    user
}

#[tokio::test]
async fn success_body_is_byte_exact_with_a_fresh_unoin_id_per_request() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let openid = t.login("alice").await.mock.openid.to_string();
    let first = risk(&t, &token, &body(&t, &openid, json!({}))).await;
    assert_eq!(rank_of(&first), 0);
    let id = first.json()["unoin_id"].as_u64().expect("id");
    assert!(
        (1..=u64::from(i32::MAX.unsigned_abs())).contains(&id),
        "{id}"
    );
    // The marketing scene and the optional fields the docs list are taken too.
    let second = risk(
        &t,
        &token,
        &body(
            &t,
            &openid,
            json!({"scene": 1, "mobile_no": "13800138000", "email_address": "a@example.com",
                "extended_info": "", "is_test": true, "bank_card_no": "x"}),
        ),
    )
    .await;
    assert_eq!(rank_of(&second), 0);
    assert_ne!(second.json()["unoin_id"], first.json()["unoin_id"]);

    // The ids come from the seed: another mock with the same seed answers the same first id.
    let again = TestMock::new().await;
    let token = again.token().await;
    let openid = again.login("alice").await.mock.openid.to_string();
    let r = risk(&again, &token, &body(&again, &openid, json!({}))).await;
    assert_eq!(r.body, first.body);
}

#[tokio::test]
async fn the_rank_is_the_users_knob_and_high_risk_gives_4_unless_a_rank_is_set() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let openid = t.login("alice").await.mock.openid.to_string();
    let ask = || async { rank_of(&risk(&t, &token, &body(&t, &openid, json!({}))).await) };
    assert_eq!(ask().await, 0);

    let user = patch_user(&t, "alice", json!({"high_risk": true})).await;
    assert_eq!(user["risk_rank"], 4, "{user}");
    assert_eq!(ask().await, 4);

    // An explicit rank wins over high_risk, either way round.
    let user = patch_user(&t, "alice", json!({"risk_rank": 2})).await;
    assert_eq!(
        (user["risk_rank"].clone(), user["high_risk"].clone()),
        (json!(2), json!(true))
    );
    assert_eq!(ask().await, 2);
    patch_user(&t, "alice", json!({"high_risk": false})).await;
    assert_eq!(ask().await, 2);
    patch_user(&t, "alice", json!({"risk_rank": 0, "high_risk": true})).await;
    assert_eq!(ask().await, 0);

    // Leaving the rank out keeps it; null clears it, and high_risk decides again.
    patch_user(&t, "alice", json!({"nickname": "A"})).await;
    assert_eq!(ask().await, 0);
    let user = patch_user(&t, "alice", json!({"risk_rank": null})).await;
    assert_eq!(user["risk_rank"], 4, "{user}");
    assert_eq!(ask().await, 4);

    // A user created with a rank; an out-of-range rank changes nothing.
    let (status, user) = t
        .control(
            Method::POST,
            "/users",
            Some(json!({"handle": "bob", "risk_rank": 3})),
        )
        .await;
    assert_eq!(
        (status, user["risk_rank"].clone()),
        (201, json!(3)),
        "{user}"
    );
    let bob = t.login("bob").await.mock.openid.to_string();
    assert_eq!(
        rank_of(&risk(&t, &token, &body(&t, &bob, json!({}))).await),
        3
    );
    let (status, err) = t
        .control(
            Method::PATCH,
            "/users/bob",
            Some(json!({"risk_rank": 5, "nickname": "B"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`risk_rank`")),
        "{err}"
    );
    let (_, user) = t.control(Method::GET, "/users/bob", None).await;
    assert_eq!(
        (user["risk_rank"].clone(), user["nickname"].clone()),
        (json!(3), json!("bob"))
    );
}

#[tokio::test]
async fn a_seeded_high_risk_user_answers_4() {
    let seed = SeedFile::from_json(
        &json!({"users": [{"handle": "mallory", "high_risk": true},
            {"handle": "trent", "high_risk": true, "risk_rank": 1}]})
        .to_string(),
    )
    .expect("seed");
    let t = TestMock::with(seed).await;
    let token = t.token().await;
    for (user, rank) in [("mallory", 4), ("trent", 1)] {
        let openid = t.login(user).await.mock.openid.to_string();
        assert_eq!(
            rank_of(&risk(&t, &token, &body(&t, &openid, json!({}))).await),
            rank,
            "{user}"
        );
    }
}

#[tokio::test]
async fn only_a_user_who_logged_in_within_two_hours_gets_a_rank() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let openid = t.login("alice").await.mock.openid.to_string();
    let ask = |token: String| {
        let b = body(&t, &openid, json!({}));
        let t = &t;
        async move { risk(t, &token, &b).await }
    };
    t.advance(secs(2 * 3600 - 1));
    let token = {
        // The token lives 7200 s too: a fresh one for the rest.
        assert_eq!(rank_of(&ask(token).await), 0);
        t.token().await
    };
    t.advance(secs(1));
    assert_wxa_err(&ask(token.clone()).await, 61010, "code is expired");
    // A new wx.login is a new visit.
    t.login("alice").await;
    assert_eq!(rank_of(&ask(token.clone()).await), 0);
    t.advance(secs(2 * 3600));
    assert_wxa_err(&ask(t.token().await).await, 61010, "code is expired");
}

#[tokio::test]
async fn errors_come_in_wechats_order_with_wechats_texts() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let openid = t.login("alice").await.mock.openid.to_string();
    let good = body(&t, &openid, json!({}));

    // Method first (as getuserphonenumber), then the token.
    let r = t.get(&format!("{RISK}?access_token={token}")).await;
    assert_wxa_err(&r, 43002, "require POST method");
    assert_wxa_err(&t.post(RISK, &good).await, 41001, "access_token missing");
    let r = risk(&t, "89_not_a_token", &good).await;
    r.assert_err(40001);
    assert!(
        r.errmsg_base().starts_with("invalid credential"),
        "{}",
        r.body
    );

    // The body: none, not JSON, a field of the wrong type.
    assert_wxa_err(&risk(&t, &token, "").await, 44002, "empty post data");
    assert_wxa_err(&risk(&t, &token, "{").await, 47001, "data format error");
    assert_wxa_err(&risk(&t, &token, "[1]").await, 47001, "data format error");
    let r = risk(&t, &token, &body(&t, &openid, json!({"openid": 5}))).await;
    assert_wxa_err(&r, 47001, "data format error");

    // Then appid, openid, scene, client_ip, each with everything before it right.
    let r = risk(&t, &token, &body(&t, &openid, json!({"appid": null}))).await;
    assert_wxa_err(&r, 41002, "appid missing");
    let r = risk(
        &t,
        &token,
        &body(
            &t,
            &openid,
            json!({"appid": "wx0000000000000000", "scene": 9}),
        ),
    )
    .await;
    assert_wxa_err(&r, 40013, "invalid appid");
    let r = risk(
        &t,
        &token,
        &body(&t, "oNOBODYoNOBODYoNOBODYoNOBODY", json!({"scene": 9})),
    )
    .await;
    assert_wxa_err(&r, 40003, "invalid openid");
    for scene in [json!(null), json!(2), json!("0"), json!(-1), json!(true)] {
        let r = risk(
            &t,
            &token,
            &body(&t, &openid, json!({"scene": scene, "client_ip": null})),
        )
        .await;
        assert_wxa_err(&r, 40129, "invalid scene");
    }
    for ip in [json!(null), json!(""), json!("localhost"), json!("1.2.3")] {
        let r = risk(&t, &token, &body(&t, &openid, json!({"client_ip": ip}))).await;
        assert_wxa_err(&r, 47001, "data format error");
    }
    // IPv6 is an address too.
    let r = risk(
        &t,
        &token,
        &body(&t, &openid, json!({"client_ip": "2001:db8::1"})),
    )
    .await;
    assert_eq!(rank_of(&r), 0);

    // An expired token: 42001, before anything else.
    t.advance(secs(7200));
    t.login("alice").await;
    assert_wxa_err(
        &risk(&t, &token, &good).await,
        42001,
        "access_token expired",
    );
}

#[tokio::test]
async fn the_apps_are_apart_an_openid_of_another_app_is_unknown() {
    let t = TestMock::new().await;
    let (status, app) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app}");
    let other = mock_server::ids::AppId::new(app["appid"].as_str().expect("appid"));
    let token = t.token().await;
    let elsewhere = t.login_in(&other, "alice").await.mock.openid.to_string();
    // alice has used the other app only: her openid there means nothing to this app.
    let r = risk(&t, &token, &body(&t, &elsewhere, json!({}))).await;
    assert_wxa_err(&r, 40003, "invalid openid");
    // The other app's appid with this app's token: 40013.
    let r = risk(
        &t,
        &token,
        &body(&t, &elsewhere, json!({"appid": other.as_str()})),
    )
    .await;
    assert_wxa_err(&r, 40013, "invalid appid");
}

#[tokio::test]
async fn faults_filtered_by_app_hit_it_and_the_journal_names_app_user_and_errcode() {
    let t = TestMock::new().await;
    let token = t.token().await;
    let openid = t.login("alice").await.mock.openid.to_string();
    let good = body(&t, &openid, json!({}));
    let spec = FaultSpec {
        endpoint: "getuserriskrank".into(),
        appid: Some(t.app.appid.clone()),
        errcode: Some(-1),
        times: Some(1),
        ..FaultSpec::default()
    };
    t.mock.control().add_fault(&spec).await.expect("fault");
    assert_wxa_err(&risk(&t, &token, &good).await, -1, "system error");
    assert_eq!(rank_of(&risk(&t, &token, &good).await), 0);
    // A rule for another app leaves this one alone.
    let spec = FaultSpec {
        appid: Some(mock_server::ids::AppId::new("wx-someone-else")),
        ..spec
    };
    t.mock.control().add_fault(&spec).await.expect("fault");
    assert_eq!(rank_of(&risk(&t, &token, &good).await), 0);

    let page = t
        .mock
        .control()
        .journal("endpoint=getuserriskrank")
        .await
        .expect("journal");
    let rows: Vec<_> = page
        .entries
        .iter()
        .map(|e| {
            (
                e.endpoint.as_str(),
                e.errcode,
                e.appid.as_deref(),
                e.user.as_deref(),
            )
        })
        .collect();
    let app = t.app.appid.as_str();
    assert_eq!(
        rows,
        [
            ("getuserriskrank", Some(-1), Some(app), Some("alice")),
            ("getuserriskrank", Some(0), Some(app), Some("alice")),
            ("getuserriskrank", Some(0), Some(app), Some("alice")),
        ]
    );
    assert_eq!(page.entries[0].time_ms, START * 1000);
}
