//! Tests: access tokens over HTTP: `GET /cgi-bin/token`, `POST /cgi-bin/stable_token` and the
//! token check every token-taking endpoint makes (`wechat-api.md` section 5).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Raw, START, TestMock};

/// The current cgi-bin/wxa text of 40001 (`wechat-api.md` 5.3).
const STABLE_HINT_40001: &str = "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `GET /cgi-bin/token` with the given query string.
async fn basic_raw(t: &TestMock, query: &str) -> Raw {
    t.get(&format!("/cgi-bin/token?{query}")).await
}

/// A correct `GET /cgi-bin/token` for the default app.
async fn basic(t: &TestMock) -> Raw {
    basic_raw(
        t,
        &format!(
            "grant_type=client_credential&appid={}&secret={}",
            t.app.appid, t.app.secret
        ),
    )
    .await
}

/// A stable_token body for the default app with `extra` fields merged in (null removes a field).
fn stable_body(t: &TestMock, extra: &Value) -> String {
    let mut body = json!({
        "grant_type": "client_credential",
        "appid": t.app.appid.as_str(),
        "secret": t.app.secret,
    });
    if let (Some(map), Some(fields)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in fields {
            if v.is_null() {
                map.remove(k);
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    body.to_string()
}

/// `POST /cgi-bin/stable_token` for the default app (no Content-Type header).
async fn stable(t: &TestMock, extra: Value) -> Raw {
    t.post("/cgi-bin/stable_token", &stable_body(t, &extra))
        .await
}

/// Asserts a token success body (`{"access_token":...,"expires_in":N}`, nothing else) and
/// returns the token.
#[track_caller]
fn issued(r: &Raw, expires_in: u64) -> String {
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    // Key order on the raw text (a parsed map sorts keys): access_token, then expires_in.
    let obj = v.as_object().expect("a JSON object");
    assert_eq!(obj.len(), 2, "body: {}", r.body);
    assert!(
        r.body.starts_with(r#"{"access_token":""#) && r.body.contains(r#"","expires_in":"#),
        "body: {}",
        r.body
    );
    let token = v["access_token"].as_str().expect("access_token string");
    assert_eq!(
        v["expires_in"].as_u64(),
        Some(expires_in),
        "expires_in must be the integer {expires_in}: {}",
        r.body
    );
    assert_eq!(
        r.body,
        format!(r#"{{"access_token":"{token}","expires_in":{expires_in}}}"#),
        "compact body"
    );
    token.to_owned()
}

/// Splits `"<base> rid: xxxxxxxx-xxxxxxxx-xxxxxxxx"` (cgi-bin/wxa separator) and checks the rid:
/// three groups of 8 lowercase hex digits, the first the request time in hex seconds.
#[track_caller]
fn assert_space_rid(errmsg: &str, base: &str, now_secs: i64) {
    let rest = errmsg
        .strip_prefix(base)
        .unwrap_or_else(|| panic!("errmsg {errmsg:?} does not start with {base:?}"));
    let rid = rest
        .strip_prefix(" rid: ")
        .unwrap_or_else(|| panic!("errmsg {errmsg:?}: expected \" rid: \" right after the text"));
    let groups: Vec<&str> = rid.split('-').collect();
    assert_eq!(groups.len(), 3, "rid {rid:?}");
    for g in &groups {
        assert!(
            g.len() == 8
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "rid group {g:?} in {errmsg:?}"
        );
    }
    assert_eq!(
        groups[0],
        format!("{now_secs:08x}"),
        "first rid group is the time"
    );
}

#[track_caller]
fn assert_token_err(r: &Raw, code: i64, base: &str, now_secs: i64) {
    // assert_err checks the exact errcode/errmsg shape and key order.
    r.assert_err(code);
    let v = r.json();
    assert_space_rid(v["errmsg"].as_str().expect("errmsg"), base, now_secs);
}

/// Uses `token` on getuserphonenumber with a fresh phone code: the whole answer.
async fn use_token(t: &TestMock, token: &str) -> Raw {
    let code = t.phone_code("alice").await.code;
    t.post(
        &format!("/wxa/business/getuserphonenumber?access_token={token}"),
        &json!({ "code": code }).to_string(),
    )
    .await
}

/// errcode of using `token` (0: the token works).
async fn token_errcode(t: &TestMock, token: &str) -> i64 {
    use_token(t, token).await.errcode()
}

#[tokio::test]
async fn token_success_is_exactly_access_token_and_expires_in() {
    let t = TestMock::new().await;
    let r = basic(&t).await;
    let token = issued(&r, 7200);
    assert!(r.json().get("errcode").is_none());
    assert_eq!(token.len(), 136, "{token}");
    assert!(token.starts_with("89_"), "{token}");
    assert!(
        token[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{token}"
    );
    assert_eq!(token_errcode(&t, &token).await, 0);
}

#[tokio::test]
async fn each_token_call_issues_a_new_token() {
    let t = TestMock::new().await;
    let a = issued(&basic(&t).await, 7200);
    let b = issued(&basic(&t).await, 7200);
    let c = issued(&basic(&t).await, 7200);
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_ne!(a, c);
    for tok in [&a, &b, &c] {
        assert_eq!(token_errcode(&t, tok).await, 0);
    }
}

#[tokio::test]
async fn previous_token_works_for_five_minutes_then_40001() {
    let t = TestMock::new().await;
    let old = issued(&basic(&t).await, 7200);
    let new = issued(&basic(&t).await, 7200);

    t.advance(secs(299));
    assert_eq!(token_errcode(&t, &old).await, 0, "old token valid at 4m59s");
    assert_eq!(token_errcode(&t, &new).await, 0);

    t.advance(secs(1));
    let r = use_token(&t, &old).await;
    assert_token_err(&r, 40001, STABLE_HINT_40001, START + 300);
    assert_eq!(
        token_errcode(&t, &new).await,
        0,
        "the newest token still works"
    );

    // The same on checksession.
    let r = t
        .get(&format!(
            "/wxa/checksession?access_token={old}&openid=x&signature=y&sig_method=hmac_sha256"
        ))
        .await;
    assert_token_err(&r, 40001, STABLE_HINT_40001, START + 300);
}

#[tokio::test]
async fn token_expires_after_7200s_with_42001() {
    let t = TestMock::new().await;
    let token = issued(&basic(&t).await, 7200);

    t.advance(secs(7199));
    assert_eq!(
        token_errcode(&t, &token).await,
        0,
        "valid one second before expiry"
    );

    t.advance(secs(1));
    let r = use_token(&t, &token).await;
    assert_token_err(&r, 42001, "access_token expired", START + 7200);
    assert_eq!(r.errmsg_base(), "access_token expired");

    let r = t
        .get(&format!(
            "/wxa/checksession?access_token={token}&openid=x&signature=y&sig_method=hmac_sha256"
        ))
        .await;
    assert_token_err(&r, 42001, "access_token expired", START + 7200);
}

#[tokio::test]
async fn unknown_token_is_40001_with_the_stable_token_hint() {
    let t = TestMock::new().await;
    let bogus = format!("89_{}", "A".repeat(133));
    let r = use_token(&t, &bogus).await;
    assert_token_err(&r, 40001, STABLE_HINT_40001, START);
    assert_eq!(r.errmsg_base(), STABLE_HINT_40001);

    let r = t
        .get("/wxa/checksession?access_token=nope&openid=x&signature=y&sig_method=hmac_sha256")
        .await;
    assert_token_err(&r, 40001, STABLE_HINT_40001, START);
}

#[tokio::test]
async fn missing_token_is_41001() {
    let t = TestMock::new().await;
    let code = t.phone_code("alice").await.code;
    let body = json!({ "code": code }).to_string();
    for path in [
        "/wxa/business/getuserphonenumber",
        "/wxa/business/getuserphonenumber?access_token=",
    ] {
        let r = t.post(path, &body).await;
        assert_token_err(&r, 41001, "access_token missing", START);
    }
    let r = t
        .get("/wxa/checksession?openid=x&signature=y&sig_method=hmac_sha256")
        .await;
    assert_token_err(&r, 41001, "access_token missing", START);
    let r = t
        .get("/wxa/resetusersessionkey?openid=x&signature=y&sig_method=hmac_sha256")
        .await;
    assert_token_err(&r, 41001, "access_token missing", START);
}

#[tokio::test]
async fn token_validation_order() {
    let t = TestMock::new().await;
    let (a, s) = (t.app.appid.as_str().to_owned(), t.app.secret.clone());
    let cases: Vec<(String, i64, &str)> = vec![
        (String::new(), 41002, "appid missing"),
        (
            format!("grant_type=client_credential&secret={s}"),
            41002,
            "appid missing",
        ),
        (
            format!("grant_type=client_credential&appid=&secret={s}"),
            41002,
            "appid missing",
        ),
        (
            format!("grant_type=client_credential&appid=wx0000000000000000&secret={s}"),
            40013,
            "invalid appid",
        ),
        // An invalid appid wins over a missing grant_type [S7-probe].
        (
            format!("appid=wx0000000000000000&secret={s}"),
            40013,
            "invalid appid",
        ),
        ("appid=wx0000000000000000".into(), 40013, "invalid appid"),
        (
            format!("grant_type=client_credential&appid={a}"),
            41004,
            "appsecret missing",
        ),
        (format!("appid={a}"), 41004, "appsecret missing"),
        (
            format!("grant_type=client_credential&appid={a}&secret=wrong"),
            40125,
            "invalid appsecret",
        ),
        (
            format!("appid={a}&secret=wrong"),
            40125,
            "invalid appsecret",
        ),
        (format!("appid={a}&secret={s}"), 40002, "invalid grant_type"),
        (
            format!("grant_type=authorization_code&appid={a}&secret={s}"),
            40002,
            "invalid grant_type",
        ),
        (
            format!("grant_type=CLIENT_CREDENTIAL&appid={a}&secret={s}"),
            40002,
            "invalid grant_type",
        ),
    ];
    for (query, code, text) in cases {
        let r = basic_raw(&t, &query).await;
        assert!(
            r.json().get("access_token").is_none(),
            "{query}: {}",
            r.body
        );
        assert_eq!(r.errcode(), code, "query {query:?}: {}", r.body);
        assert_token_err(&r, code, text, START);
    }
    // And the complete query still succeeds.
    issued(&basic(&t).await, 7200);
}

#[tokio::test]
async fn stable_token_get_is_43002() {
    let t = TestMock::new().await;
    let r = t
        .get(&format!(
            "/cgi-bin/stable_token?grant_type=client_credential&appid={}&secret={}",
            t.app.appid, t.app.secret
        ))
        .await;
    assert_token_err(&r, 43002, "require POST method", START);
}

#[tokio::test]
async fn stable_token_parses_the_body_whatever_the_content_type() {
    let t = TestMock::new().await;
    // No Content-Type at all.
    let r = stable(&t, json!({})).await;
    let token = issued(&r, 7200);
    assert!(r.json().get("errcode").is_none());
    assert_eq!(token.len(), 136, "{token}");
    assert!(token.starts_with("89_"), "{token}");
    assert_eq!(token_errcode(&t, &token).await, 0);

    // Other Content-Types: still the JSON body, and still the same stable token.
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json",
    ] {
        let resp = t
            .http
            .post(t.url("/cgi-bin/stable_token"))
            .header("content-type", ct)
            .body(stable_body(&t, &json!({})))
            .send()
            .await
            .expect("request completes");
        assert_eq!(resp.status().as_u16(), 200);
        let text = resp.text().await.expect("body");
        assert_eq!(
            text,
            format!(r#"{{"access_token":"{token}","expires_in":7200}}"#),
            "content-type {ct}"
        );
    }
}

#[tokio::test]
async fn stable_token_non_json_body_is_47001() {
    let t = TestMock::new().await;
    let form = format!(
        "grant_type=client_credential&appid={}&secret={}",
        t.app.appid, t.app.secret
    );
    let truncated = stable_body(&t, &json!({}));
    let truncated = &truncated[..truncated.len() - 1];
    for body in [form.as_str(), "not json", truncated] {
        let r = t.post("/cgi-bin/stable_token", body).await;
        assert_token_err(&r, 47001, "data format error", START);
    }
}

#[tokio::test]
async fn stable_token_validation_errors() {
    let t = TestMock::new().await;
    let cases = [
        (json!({ "appid": null }), 41002, "appid missing"),
        (json!({ "appid": "" }), 41002, "appid missing"),
        (
            json!({ "appid": "wx0000000000000000" }),
            40013,
            "invalid appid",
        ),
        (
            json!({ "appid": "wx0000000000000000", "grant_type": null }),
            40013,
            "invalid appid",
        ),
        (json!({ "secret": null }), 41004, "appsecret missing"),
        (json!({ "secret": "wrong" }), 40125, "invalid appsecret"),
        (json!({ "grant_type": null }), 40002, "invalid grant_type"),
        (
            json!({ "grant_type": "authorization_code" }),
            40002,
            "invalid grant_type",
        ),
    ];
    for (extra, code, text) in cases {
        let r = stable(&t, extra.clone()).await;
        assert_eq!(r.errcode(), code, "{extra}: {}", r.body);
        assert_token_err(&r, code, text, START);
    }
}

#[tokio::test]
async fn stable_token_is_reused_with_its_remaining_lifetime() {
    let t = TestMock::new().await;
    let token = issued(&stable(&t, json!({})).await, 7200);
    assert_eq!(
        issued(&stable(&t, json!({ "force_refresh": false })).await, 7200),
        token
    );

    t.advance(secs(1000));
    assert_eq!(issued(&stable(&t, json!({})).await, 6200), token);

    // 301 s left: still the same token.
    t.advance(secs(5899));
    assert_eq!(issued(&stable(&t, json!({})).await, 301), token);
    assert_eq!(token_errcode(&t, &token).await, 0);
}

#[tokio::test]
async fn stable_token_is_renewed_when_300s_or_less_remain() {
    let t = TestMock::new().await;
    let old = issued(&stable(&t, json!({})).await, 7200);

    t.advance(secs(6900));
    let new = issued(&stable(&t, json!({})).await, 7200);
    assert_ne!(new, old);
    // Both work while the old one lives out its last five minutes.
    assert_eq!(token_errcode(&t, &old).await, 0);
    assert_eq!(token_errcode(&t, &new).await, 0);

    t.advance(secs(100));
    assert_eq!(issued(&stable(&t, json!({})).await, 7100), new);
    t.advance(secs(199));
    assert_eq!(
        token_errcode(&t, &old).await,
        0,
        "old token at its last second"
    );

    t.advance(secs(1));
    let r = use_token(&t, &old).await;
    assert_token_err(&r, 42001, "access_token expired", START + 7200);
    assert_eq!(token_errcode(&t, &new).await, 0);
}

#[tokio::test]
async fn force_refresh_issues_a_new_token_and_voids_the_old_at_once() {
    let t = TestMock::new().await;
    let old = issued(&stable(&t, json!({})).await, 7200);
    t.advance(secs(100));

    let new = issued(&stable(&t, json!({ "force_refresh": true })).await, 7200);
    assert_ne!(new, old);
    let r = use_token(&t, &old).await;
    assert_token_err(&r, 40001, STABLE_HINT_40001, START + 100);
    assert_eq!(token_errcode(&t, &new).await, 0);

    // A normal call now returns the forced token.
    assert_eq!(issued(&stable(&t, json!({})).await, 7200), new);
}

#[tokio::test]
async fn second_force_within_30s_returns_the_same_token() {
    let t = TestMock::new().await;
    let first = issued(&stable(&t, json!({ "force_refresh": true })).await, 7200);

    t.advance(secs(10));
    let again = issued(&stable(&t, json!({ "force_refresh": true })).await, 7190);
    assert_eq!(again, first);

    t.advance(secs(19));
    let again = issued(&stable(&t, json!({ "force_refresh": true })).await, 7171);
    assert_eq!(again, first);
    assert_eq!(token_errcode(&t, &first).await, 0);

    // 30 s after the last real refresh, forcing works again.
    t.advance(secs(1));
    let second = issued(&stable(&t, json!({ "force_refresh": true })).await, 7200);
    assert_ne!(second, first);
    let r = use_token(&t, &first).await;
    assert_token_err(&r, 40001, STABLE_HINT_40001, START + 30);
    assert_eq!(token_errcode(&t, &second).await, 0);
}

#[tokio::test]
async fn string_force_refresh_is_accepted_by_default() {
    let t = TestMock::new().await;
    let old = issued(&stable(&t, json!({})).await, 7200);

    let same = issued(&stable(&t, json!({ "force_refresh": "false" })).await, 7200);
    assert_eq!(same, old, "\"false\" does not force");

    let new = issued(&stable(&t, json!({ "force_refresh": "true" })).await, 7200);
    assert_ne!(new, old, "\"true\" forces");
    assert_eq!(token_errcode(&t, &old).await, 40001);
    assert_eq!(token_errcode(&t, &new).await, 0);
}

#[tokio::test]
async fn string_force_refresh_is_rejected_when_not_lenient() {
    let t = TestMock::new().await;
    t.set_options(json!({ "lenient_force_refresh": false }))
        .await;
    let old = issued(&stable(&t, json!({})).await, 7200);

    let r = stable(&t, json!({ "force_refresh": "true" })).await;
    assert_token_err(&r, 47001, "data format error", START);
    assert_eq!(
        token_errcode(&t, &old).await,
        0,
        "a rejected call voids nothing"
    );

    // A real boolean is still fine.
    let new = issued(&stable(&t, json!({ "force_refresh": true })).await, 7200);
    assert_ne!(new, old);
    assert_eq!(token_errcode(&t, &old).await, 40001);
}

#[tokio::test]
async fn stable_and_basic_tokens_are_independent() {
    let t = TestMock::new().await;
    let stable_tok = issued(&stable(&t, json!({})).await, 7200);
    let b1 = issued(&basic(&t).await, 7200);
    let b2 = issued(&basic(&t).await, 7200);
    assert_ne!(stable_tok, b1);
    assert_ne!(stable_tok, b2);

    // cgi-bin/token calls do not replace the stable token.
    assert_eq!(issued(&stable(&t, json!({})).await, 7200), stable_tok);
    t.advance(secs(300));
    assert_eq!(token_errcode(&t, &stable_tok).await, 0);
    assert_eq!(
        token_errcode(&t, &b1).await,
        40001,
        "b1 was superseded by b2"
    );
    assert_eq!(token_errcode(&t, &b2).await, 0);

    // And a forced stable refresh does not touch the basic token.
    let stable_new = issued(&stable(&t, json!({ "force_refresh": true })).await, 7200);
    assert_ne!(stable_new, stable_tok);
    assert_eq!(token_errcode(&t, &b2).await, 0);
    assert_eq!(token_errcode(&t, &stable_tok).await, 40001);
    assert_eq!(issued(&stable(&t, json!({})).await, 7200), stable_new);
}
