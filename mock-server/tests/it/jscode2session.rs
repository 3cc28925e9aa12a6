//! `GET /sns/jscode2session`: codes, their lifetime and single use, quotas, high-risk users,
//! parameter validation order and every errcode.

use std::time::Duration;

use serde_json::json;

use crate::helpers::TestMock;

#[tokio::test]
async fn first_login_exchanges_the_code_for_the_session() {
    let t = TestMock::new().await;
    let login = t.login("alice").await;
    assert_eq!(login.err_msg, "login:ok");
    assert_eq!(login.code.len(), 32);
    assert!(login.code.starts_with('0') && login.code.bytes().all(|b| b.is_ascii_alphanumeric()));

    let r = t.exchange(&login.code).await;
    assert_eq!(r.status, 200);
    // Exact body: session_key then openid, no unionid (the default app is not bound), no errcode.
    assert_eq!(
        r.body,
        format!(
            r#"{{"session_key":"{}","openid":"{}"}}"#,
            login.mock.session_key, login.mock.openid
        )
    );
    assert_eq!(login.mock.openid.as_str().len(), 28);
    assert!(login.mock.openid.as_str().starts_with('o'));
}

#[tokio::test]
async fn a_code_is_single_use() {
    let t = TestMock::new().await;
    let code = t.login("alice").await.code;
    assert_eq!(t.exchange(&code).await.errcode(), 0);
    let again = t.exchange(&code).await;
    again.assert_err(40163);
    assert_eq!(again.errmsg_base(), "code been used");
}

#[tokio::test]
async fn a_code_is_valid_for_exactly_five_minutes() {
    let t = TestMock::new().await;
    let early = t.login("alice").await.code;
    let late = t.login("bob").await.code;
    t.advance(Duration::from_secs(299));
    assert_eq!(t.exchange(&early).await.errcode(), 0, "valid at 4:59");
    t.advance(Duration::from_secs(1));
    let r = t.exchange(&late).await;
    r.assert_err(40029);
    assert_eq!(r.errmsg_base(), "invalid code");
}

#[tokio::test]
async fn unknown_and_malformed_codes_are_invalid() {
    let t = TestMock::new().await;
    for code in ["0000000000000000000000000000000A", "nope", "%E4%BD%A0"] {
        t.exchange(code).await.assert_err(40029);
    }
}

#[tokio::test]
async fn a_code_of_another_app_is_invalid_and_stays_usable_by_its_own_app() {
    let t = TestMock::new().await;
    let other = t
        .mock
        .control()
        .create_app(&Default::default())
        .await
        .unwrap();
    let code = t.login_in(&other.appid, "alice").await.code;
    t.exchange(&code).await.assert_err(40029);
    let own = t
        .get(&format!(
            "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
            other.appid, other.secret
        ))
        .await;
    assert_eq!(own.errcode(), 0, "{}", own.body);
}

#[tokio::test]
async fn parameters_are_validated_in_the_real_order() {
    let t = TestMock::new().await;
    let code = t.login("alice").await.code;
    let (a, s) = (t.app.appid.to_string(), t.app.secret.clone());
    let cases: [(String, i64, &str); 9] = [
        (String::new(), 41002, "appid missing"),
        ("appid=".into(), 41002, "appid missing"),
        (format!("appid={a}"), 41004, "appsecret missing"),
        (format!("appid={a}&secret={s}"), 41008, "missing code"),
        (
            format!("appid=wx0000&secret={s}&js_code={code}"),
            40013,
            "invalid appid",
        ),
        (
            format!("appid={a}&secret=bad&js_code={code}"),
            40125,
            "invalid appsecret",
        ),
        (
            format!("appid={a}&secret={s}&js_code={code}"),
            40002,
            "invalid grant_type",
        ),
        (
            format!("appid={a}&secret={s}&js_code={code}&grant_type=client_credential"),
            40002,
            "invalid grant_type",
        ),
        // Presence is checked before validity: a missing code beats a bad appid.
        ("appid=wx0000&secret=bad".into(), 41008, "missing code"),
    ];
    for (query, errcode, text) in cases {
        let r = t.get(&format!("/sns/jscode2session?{query}")).await;
        assert_eq!(
            (r.errcode(), r.errmsg_base()),
            (errcode, text.to_owned()),
            "query {query:?}"
        );
    }
    // None of the failures above used the code up.
    assert_eq!(t.exchange(&code).await.errcode(), 0);
}

#[tokio::test]
async fn grant_type_can_be_ignored_by_option() {
    let t = TestMock::new().await;
    t.set_options(json!({"jscode2session_grant_type": "ignored"}))
        .await;
    let code = t.login("alice").await.code;
    let r = t
        .get(&format!(
            "/sns/jscode2session?appid={}&secret={}&js_code={code}",
            t.app.appid, t.app.secret
        ))
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
}

#[tokio::test]
async fn extra_parameters_and_post_are_accepted() {
    // WxJava, wechatpy and PowerWeChat append access_token (and more) to jscode2session.
    let t = TestMock::new().await;
    let code = t.login("alice").await.code;
    let r = t
        .post(
            &format!(
                "/sns/jscode2session?access_token=whatever&appid={}&secret={}&js_code={code}&grant_type=authorization_code&neededText=",
                t.app.appid, t.app.secret
            ),
            "",
        )
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
}

#[tokio::test]
async fn parameters_in_a_post_form_body_count_as_missing() {
    let t = TestMock::new().await;
    let code = t.login("alice").await.code;
    let form = format!(
        "appid={}&secret={}&js_code={code}&grant_type=authorization_code",
        t.app.appid, t.app.secret
    );
    t.post("/sns/jscode2session", &form).await.assert_err(41002);
}

#[tokio::test]
async fn high_risk_users_are_blocked() {
    let t = TestMock::new().await;
    t.mock
        .control()
        .create_user(
            &serde_json::from_value(json!({"handle": "mallory", "high_risk": true})).unwrap(),
        )
        .await
        .unwrap();
    let code = t.login("mallory").await.code;
    let r = t.exchange(&code).await;
    r.assert_err(40226);
    assert_eq!(r.errmsg_base(), "code blocked");
}

#[tokio::test]
async fn the_minute_quota_counts_per_user_and_resets_next_minute() {
    let t = TestMock::new().await;
    t.set_options(json!({"login_quota_per_minute": 3})).await;
    let codes: Vec<String> = futures_codes(&t, "alice", 5).await;
    for c in &codes[..3] {
        assert_eq!(t.exchange(c).await.errcode(), 0);
    }
    let over = t.exchange(&codes[3]).await;
    over.assert_err(45011);
    assert_eq!(
        over.errmsg_base(),
        "api minute-quota reach limit, must slower, retry next minute"
    );
    // Another user of the same app is not affected.
    let bob = t.login("bob").await.code;
    assert_eq!(t.exchange(&bob).await.errcode(), 0);
    // The refused code was not used up: next minute it works.
    t.advance(Duration::from_secs(60));
    assert_eq!(t.exchange(&codes[3]).await.errcode(), 0);
}

#[tokio::test]
async fn the_quota_can_count_per_app() {
    let t = TestMock::new().await;
    t.set_options(json!({"login_quota_per_minute": 2, "quota_scope": "app"}))
        .await;
    let a = t.login("alice").await.code;
    let b = t.login("bob").await.code;
    let c = t.login("carol").await.code;
    assert_eq!(t.exchange(&a).await.errcode(), 0);
    assert_eq!(t.exchange(&b).await.errcode(), 0);
    t.exchange(&c).await.assert_err(45011);
}

async fn futures_codes(t: &TestMock, user: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(t.login(user).await.code);
    }
    out
}

#[tokio::test]
async fn every_login_code_differs_but_identities_are_stable() {
    let t = TestMock::new().await;
    let a = t.login("alice").await;
    let b = t.login("alice").await;
    assert_ne!(a.code, b.code);
    assert_eq!(a.mock.openid, b.mock.openid);
    // Within the minimum rotation period the session_key stays.
    assert_eq!(a.mock.session_key, b.mock.session_key);
    assert!(a.mock.rotated && !b.mock.rotated);
    // Same seed in another mock: same identities and codes.
    let u = TestMock::new().await;
    let c = u.login("alice").await;
    assert_eq!((c.code, c.mock.openid), (a.code, a.mock.openid));
}

#[tokio::test]
async fn an_old_code_returns_the_key_it_was_minted_with() {
    let t = TestMock::new().await;
    t.set_options(json!({"session_key_min_rotation": "0s"}))
        .await;
    let first = t.login("alice").await;
    let second = t.login("alice").await;
    assert_ne!(first.mock.session_key, second.mock.session_key);
    let r = t.exchange(&first.code).await;
    assert_eq!(r.json()["session_key"], first.mock.session_key.as_str());
}
