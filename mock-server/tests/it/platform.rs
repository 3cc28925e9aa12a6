//! Tests: third-party platforms over HTTP (`wechat-api.md` 7a): the `component_verify_ticket`
//! on the virtual clock, `POST /cgi-bin/component/api_component_token` and
//! `GET /sns/component/jscode2session`, which shares jscode2session's codes and rules.

use std::time::Duration;

use mock_server::config::SeedFile;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Raw, TestMock};

const TOKEN_PATH: &str = "/cgi-bin/component/api_component_token";

/// A mock whose default app authorised a platform; the platform's view.
async fn with_platform() -> (TestMock, Value) {
    let t = TestMock::new().await;
    let body = json!({"name": "isv", "authorizations": [t.app.appid]});
    let p = create(&t, body).await;
    (t, p)
}

async fn create(t: &TestMock, body: Value) -> Value {
    let (status, p) = t.control(Method::POST, "/platforms", Some(body)).await;
    assert_eq!(status, 201, "{p}");
    p
}

async fn view(t: &TestMock, p: &Value) -> Value {
    let (status, v) = t
        .control(
            Method::GET,
            &format!("/platforms/{}", text(p, "component_appid")),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no `{field}` in {v}"))
}

/// api_component_token with the platform's credentials and `ticket`.
async fn component_token(t: &TestMock, p: &Value, ticket: &str) -> Raw {
    let body = json!({"component_appid": p["component_appid"],
        "component_appsecret": p["component_appsecret"], "component_verify_ticket": ticket});
    t.post(TOKEN_PATH, &body.to_string()).await
}

/// A fresh component access token with the current ticket.
async fn token_of(t: &TestMock, p: &Value) -> String {
    let ticket = text(&view(t, p).await, "component_verify_ticket").to_owned();
    let r = component_token(t, p, &ticket).await;
    text(&r.json(), "component_access_token").to_owned()
}

/// sns/component/jscode2session for `appid` with `code`.
async fn component_exchange(t: &TestMock, p: &Value, token: &str, appid: &str, code: &str) -> Raw {
    t.get(&format!(
        "/sns/component/jscode2session?appid={appid}&js_code={code}&grant_type=authorization_code&component_appid={}&component_access_token={token}",
        text(p, "component_appid")
    ))
    .await
}

#[track_caller]
fn assert_errmsg(r: &Raw, code: i64, expected: &str) {
    r.assert_err(code);
    assert_eq!(r.errmsg_base(), expected, "{}", r.body);
}

#[tokio::test]
async fn a_platform_logs_users_in_to_the_mini_programs_that_authorised_it() {
    let (t, p) = with_platform().await;
    let id = text(&p, "component_appid");
    assert!(id.starts_with("wx") && id.len() == 18, "{p}");
    assert_eq!(text(&p, "component_appsecret").len(), 32, "{p}");
    let ticket = text(&p, "component_verify_ticket");
    assert!(ticket.starts_with("ticket@@@") && ticket.len() == 95, "{p}");
    assert_eq!(p["ticket_pushed_at"], crate::helpers::START);
    assert_eq!(p["next_ticket_at"], crate::helpers::START + 600);
    assert_eq!(p["ticket_expires_at"], crate::helpers::START + 12 * 3600);
    assert_eq!(p["authorizations"], json!([t.app.appid]));

    let r = component_token(&t, &p, ticket).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json; encoding=utf-8")
    );
    // Exactly WeChat's shape: no errcode, a 136-character token, 7200 s.
    let token = text(&r.json(), "component_access_token").to_owned();
    assert_eq!(
        r.body,
        format!(r#"{{"component_access_token":"{token}","expires_in":7200}}"#)
    );
    assert_eq!(token.len(), 136);

    let grant = t.login("alice").await;
    let r = component_exchange(&t, &p, &token, t.app.appid.as_str(), &grant.code).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    // The body jscode2session would have given for this code.
    assert_eq!(
        r.body,
        format!(
            r#"{{"session_key":"{}","openid":"{}"}}"#,
            grant.mock.session_key, grant.mock.openid
        )
    );
    let journal = t
        .mock
        .control()
        .journal("endpoint=component_jscode2session")
        .await
        .expect("journal");
    assert_eq!(journal.entries.len(), 1);
    let entry = serde_json::to_value(&journal.entries[0]).expect("entry");
    assert_eq!(entry["appid"], t.app.appid.as_str(), "{entry}");
    assert_eq!(entry["user"], "alice", "{entry}");
}

#[tokio::test]
async fn a_bound_mini_program_answers_the_unionid_too() {
    let t = TestMock::new().await;
    let (status, app) = t
        .control(
            Method::POST,
            "/apps",
            Some(json!({"open_platform": "acct"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    let appid = text(&app, "appid").to_owned();
    let p = create(&t, json!({"authorizations": [appid]})).await;
    let token = token_of(&t, &p).await;
    let grant = t
        .login_in(&mock_server::ids::AppId::new(&appid), "bob")
        .await;
    let r = component_exchange(&t, &p, &token, &appid, &grant.code).await;
    let unionid = grant.mock.unionid.expect("bound app");
    assert_eq!(
        r.body,
        format!(
            r#"{{"session_key":"{}","openid":"{}","unionid":"{}"}}"#,
            grant.mock.session_key, grant.mock.openid, unionid
        )
    );
}

#[tokio::test]
async fn one_code_is_single_use_across_both_endpoints() {
    let (t, p) = with_platform().await;
    let token = token_of(&t, &p).await;
    let a = t.app.appid.to_string();
    // Spent by the platform: jscode2session says 40163.
    let grant = t.login("alice").await;
    assert_eq!(
        component_exchange(&t, &p, &token, &a, &grant.code)
            .await
            .errcode(),
        0
    );
    assert_errmsg(&t.exchange(&grant.code).await, 40163, "code been used");
    // Spent by jscode2session: the platform says 40163.
    let grant = t.login("alice").await;
    assert_eq!(t.exchange(&grant.code).await.errcode(), 0);
    assert_errmsg(
        &component_exchange(&t, &p, &token, &a, &grant.code).await,
        40163,
        "code been used",
    );
    // Unknown, another app's, expired: 40029; a high-risk user: 40226, with sns's `, rid: `.
    let r = component_exchange(&t, &p, &token, &a, "0ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ").await;
    assert_errmsg(&r, 40029, "invalid code");
    assert!(
        r.json()["errmsg"]
            .as_str()
            .is_some_and(|m| m.contains(", rid: "))
    );
    let (_, other) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    let other = mock_server::ids::AppId::new(text(&other, "appid"));
    let grant = t.login_in(&other, "alice").await;
    assert_errmsg(
        &component_exchange(&t, &p, &token, &a, &grant.code).await,
        40029,
        "invalid code",
    );
    let grant = t.login("alice").await;
    t.advance(Duration::from_secs(300));
    assert_errmsg(
        &component_exchange(&t, &p, &token, &a, &grant.code).await,
        40029,
        "invalid code",
    );
    t.control(
        Method::POST,
        "/users",
        Some(json!({"handle": "mallory", "high_risk": true})),
    )
    .await;
    let grant = t.login("mallory").await;
    assert_errmsg(
        &component_exchange(&t, &p, &token, &a, &grant.code).await,
        40226,
        "code blocked",
    );
}

#[tokio::test]
async fn racing_exchanges_of_one_code_give_one_session() {
    let (t, p) = with_platform().await;
    let token = token_of(&t, &p).await;
    let a = t.app.appid.to_string();
    for _ in 0..20 {
        let grant = t.login("alice").await;
        let (plain, component) = tokio::join!(
            t.exchange(&grant.code),
            component_exchange(&t, &p, &token, &a, &grant.code)
        );
        let mut codes = [plain.errcode(), component.errcode()];
        codes.sort_unstable();
        assert_eq!(codes, [0, 40163], "{} / {}", plain.body, component.body);
    }
}

#[tokio::test]
async fn the_quota_counts_both_endpoints() {
    let (t, p) = with_platform().await;
    t.set_options(json!({"login_quota_per_minute": 2})).await;
    let token = token_of(&t, &p).await;
    let a = t.app.appid.to_string();
    let first = t.login("alice").await;
    let second = t.login("alice").await;
    let third = t.login("alice").await;
    assert_eq!(t.exchange(&first.code).await.errcode(), 0);
    assert_eq!(
        component_exchange(&t, &p, &token, &a, &second.code)
            .await
            .errcode(),
        0
    );
    assert_errmsg(
        &component_exchange(&t, &p, &token, &a, &third.code).await,
        45011,
        "api minute-quota reach limit, must slower, retry next minute",
    );
}

#[tokio::test]
async fn a_mini_program_that_did_not_authorise_the_platform_answers_61003() {
    let (t, p) = with_platform().await;
    let token = token_of(&t, &p).await;
    let (_, other) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    let other_id = mock_server::ids::AppId::new(text(&other, "appid"));
    let grant = t.login_in(&other_id, "alice").await;
    let r = component_exchange(&t, &p, &token, other_id.as_str(), &grant.code).await;
    assert_errmsg(&r, 61003, "component is not authorized by this account");
    assert!(
        r.json()["errmsg"]
            .as_str()
            .is_some_and(|m| m.contains("account, rid: ")),
        "{}",
        r.body
    );
    // Authorised, the same code goes through: the refusal did not spend it.
    let uri = format!("/platforms/{}/authorizations", text(&p, "component_appid"));
    let (status, v) = t
        .control(Method::POST, &uri, Some(json!({"appid": other_id})))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["authorizations"], json!([t.app.appid, other_id]));
    let r = component_exchange(&t, &p, &token, other_id.as_str(), &grant.code).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    // Withdrawn: 61003 again, for a fresh code too.
    let (status, v) = t
        .control(Method::DELETE, &format!("{uri}/{other_id}"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["authorizations"], json!([t.app.appid]));
    let grant = t.login_in(&other_id, "alice").await;
    let r = component_exchange(&t, &p, &token, other_id.as_str(), &grant.code).await;
    assert_errmsg(&r, 61003, "component is not authorized by this account");
    // An appid WeChat does not know: 40013.
    let r = component_exchange(&t, &p, &token, "wx-nobody", &grant.code).await;
    assert_errmsg(&r, 40013, "invalid appid");
}

#[tokio::test]
async fn component_token_errors_come_first_and_are_the_platforms() {
    let (t, p) = with_platform().await;
    let token = token_of(&t, &p).await;
    let a = t.app.appid.to_string();
    let grant = t.login("alice").await;
    let other = create(&t, json!({"authorizations": [a]})).await;
    let other_token = token_of(&t, &other).await;
    let r = t
        .get(&format!(
            "/sns/component/jscode2session?appid={a}&js_code={}&grant_type=authorization_code&component_appid={}",
            grant.code,
            text(&p, "component_appid")
        ))
        .await;
    assert_errmsg(&r, 41001, "access_token missing");
    // Another platform's token, an app's token, a made-up one: 40001 in sns's words.
    for bad in [other_token.as_str(), &t.token().await, "nope"] {
        let r = component_exchange(&t, &p, bad, &a, &grant.code).await;
        assert_errmsg(
            &r,
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    }
    // A component token is no app token either.
    let r = t
        .get(&format!(
            "/wxa/checksession?access_token={token}&openid={}&signature=x&sig_method=hmac_sha256",
            grant.mock.openid
        ))
        .await;
    r.assert_err(40001);
    // A new token leaves the previous one five minutes, as cgi-bin/token.
    let newer = token_of(&t, &p).await;
    assert_ne!(newer, token);
    t.advance(Duration::from_secs(299));
    let grant = t.login("alice").await;
    assert_eq!(
        component_exchange(&t, &p, &token, &a, &grant.code)
            .await
            .errcode(),
        0
    );
    t.advance(Duration::from_secs(1));
    let grant = t.login("alice").await;
    component_exchange(&t, &p, &token, &a, &grant.code)
        .await
        .assert_err(40001);
    assert_eq!(
        component_exchange(&t, &p, &newer, &a, &grant.code)
            .await
            .errcode(),
        0
    );
    // Expired after 7200 s: 42001.
    t.advance(Duration::from_secs(7200));
    let grant = t.login("alice").await;
    assert_errmsg(
        &component_exchange(&t, &p, &newer, &a, &grant.code).await,
        42001,
        "access_token expired",
    );
}

#[tokio::test]
async fn api_component_token_checks_the_platforms_credentials() {
    let (t, p) = with_platform().await;
    let ticket = text(&p, "component_verify_ticket").to_owned();
    let id = text(&p, "component_appid").to_owned();
    let secret = text(&p, "component_appsecret").to_owned();
    let send = |body: Value| {
        let t = &t;
        async move { t.post(TOKEN_PATH, &body.to_string()).await }
    };
    let cases = [
        (
            json!({"component_appsecret": secret, "component_verify_ticket": ticket}),
            41002,
            "appid missing",
        ),
        (
            json!({"component_appid": "wx-nobody", "component_appsecret": secret, "component_verify_ticket": ticket}),
            40013,
            "invalid appid",
        ),
        (
            json!({"component_appid": t.app.appid, "component_appsecret": t.app.secret, "component_verify_ticket": ticket}),
            61011,
            "invalid component",
        ),
        (
            json!({"component_appid": id, "component_verify_ticket": ticket}),
            41004,
            "appsecret missing",
        ),
        (
            json!({"component_appid": id, "component_appsecret": "x", "component_verify_ticket": ticket}),
            40125,
            "invalid appsecret",
        ),
        (
            json!({"component_appid": id, "component_appsecret": secret}),
            61006,
            "component ticket is invalid",
        ),
        (
            json!({"component_appid": id, "component_appsecret": secret, "component_verify_ticket": "ticket@@@nope"}),
            61006,
            "component ticket is invalid",
        ),
    ];
    for (body, code, msg) in cases {
        let r = send(body.clone()).await;
        assert_errmsg(&r, code, msg);
        // cgi-bin's separator: a plain space before the rid.
        assert!(
            r.json()["errmsg"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("{msg} rid: "))),
            "{body}: {}",
            r.body
        );
    }
    assert_errmsg(&t.post(TOKEN_PATH, "{").await, 47001, "data format error");
    let r = t.get(TOKEN_PATH).await;
    assert_errmsg(&r, 43002, "require POST method");
    // Another platform's ticket is no ticket of this one.
    let other = create(&t, json!({})).await;
    let r = component_token(&t, &p, text(&other, "component_verify_ticket")).await;
    assert_errmsg(&r, 61006, "component ticket is invalid");
    assert_eq!(component_token(&t, &p, &ticket).await.errcode(), 0);
}

#[tokio::test]
async fn tickets_come_every_ten_minutes_and_work_for_twelve_hours() {
    let (t, p) = with_platform().await;
    let first = text(&p, "component_verify_ticket").to_owned();
    t.advance(Duration::from_secs(599));
    assert_eq!(
        view(&t, &p).await["component_verify_ticket"],
        first.as_str()
    );
    t.advance(Duration::from_secs(1));
    let second = view(&t, &p).await;
    let second_ticket = text(&second, "component_verify_ticket").to_owned();
    assert_ne!(second_ticket, first);
    assert_eq!(second["ticket_pushed_at"], crate::helpers::START + 600);
    // Both work; the first until twelve hours after its push.
    assert_eq!(component_token(&t, &p, &first).await.errcode(), 0);
    assert_eq!(component_token(&t, &p, &second_ticket).await.errcode(), 0);
    t.advance(Duration::from_secs(12 * 3600 - 600 - 1));
    assert_eq!(component_token(&t, &p, &first).await.errcode(), 0);
    t.advance(Duration::from_secs(1));
    assert_errmsg(
        &component_token(&t, &p, &first).await,
        61005,
        "component ticket is expired",
    );
    assert_eq!(component_token(&t, &p, &second_ticket).await.errcode(), 0);
    // The same seed, the same platform, the same window: the same ticket.
    let again = TestMock::new().await;
    let p2 = create(&again, json!({"authorizations": [again.app.appid]})).await;
    assert_eq!(p2["component_appid"], p["component_appid"]);
    assert_eq!(p2["component_verify_ticket"], first.as_str());
}

#[tokio::test]
async fn a_push_starts_a_new_window_at_once() {
    let (t, p) = with_platform().await;
    let first = text(&p, "component_verify_ticket").to_owned();
    t.advance(Duration::from_secs(120));
    let uri = format!("/platforms/{}/ticket", text(&p, "component_appid"));
    let (status, pushed) = t.control(Method::POST, &uri, None).await;
    assert_eq!(status, 200, "{pushed}");
    let fresh = text(&pushed, "component_verify_ticket").to_owned();
    assert_ne!(fresh, first);
    assert_eq!(pushed["ticket_pushed_at"], crate::helpers::START + 120);
    assert_eq!(pushed["next_ticket_at"], crate::helpers::START + 720);
    assert_eq!(
        view(&t, &p).await["component_verify_ticket"],
        fresh.as_str()
    );
    // The windows now run from the push: ten minutes later the next one.
    t.advance(Duration::from_secs(600));
    let next = view(&t, &p).await;
    assert_ne!(next["component_verify_ticket"], fresh.as_str());
    assert_eq!(next["ticket_pushed_at"], crate::helpers::START + 720);
    // Every ticket pushed keeps its twelve hours.
    for ticket in [&first, &fresh] {
        assert_eq!(component_token(&t, &p, ticket).await.errcode(), 0);
    }
    t.advance(Duration::from_secs(12 * 3600 - 720));
    assert_eq!(component_token(&t, &p, &first).await.errcode(), 61005);
    assert_eq!(component_token(&t, &p, &fresh).await.errcode(), 0);
}

#[tokio::test]
async fn platforms_come_from_the_seed_file_and_survive_a_reset() {
    let seed = json!({
        "apps": [{"appid": "wx00000000000000a1"}],
        "platforms": [{"component_appid": "wx00000000000000c1", "component_appsecret": "s",
            "authorizations": ["wx00000000000000a1"]}],
    });
    let t = TestMock::with(SeedFile::from_json(&seed.to_string()).expect("seed file")).await;
    let (status, p) = t
        .control(Method::GET, "/platforms/wx00000000000000c1", None)
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["authorizations"], json!(["wx00000000000000a1"]));
    assert_eq!(token_of(&t, &p).await.len(), 136);
    create(&t, json!({"component_appid": "wx00000000000000c2"})).await;
    let (status, _) = t.control(Method::POST, "/reset", None).await;
    assert_eq!(status, 200);
    let state = t.control(Method::GET, "/state", None).await.1;
    let ids: Vec<&Value> = state["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .map(|p| &p["component_appid"])
        .collect();
    assert_eq!(ids, [&json!("wx00000000000000c1")], "{state}");
    let bad = json!({"platforms": [{"authorizations": ["wx-nobody"]}]});
    let seed = SeedFile::from_json(&bad.to_string()).expect("parses");
    let err = mock_server::spawn(mock_server::config::Config {
        seed_file: seed,
        ..mock_server::config::Config::default()
    })
    .await
    .expect_err("an unknown app in the seed file is refused");
    assert!(err.to_string().contains("wx-nobody"), "{err}");
}

#[tokio::test]
async fn a_fault_on_the_component_exchange_can_spend_the_code() {
    let (t, p) = with_platform().await;
    let token = token_of(&t, &p).await;
    let a = t.app.appid.to_string();
    let rule = json!({"endpoint": "component_jscode2session", "user": "alice", "errcode": -1,
        "times": 1, "consume_code": true});
    let (status, rule) = t.control(Method::POST, "/faults", Some(rule)).await;
    assert_eq!(status, 201, "{rule}");
    let grant = t.login("alice").await;
    assert_errmsg(
        &component_exchange(&t, &p, &token, &a, &grant.code).await,
        -1,
        "system error",
    );
    assert_errmsg(&t.exchange(&grant.code).await, 40163, "code been used");
}
