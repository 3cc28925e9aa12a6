//! The HTTP surface as a whole: the OpenAPI document against the router, methods and unknown
//! paths, malformed bodies, limits, health and metrics endpoints, and response bodies checked
//! against the documented schemas (`openapi::problems`, the `jsonschema` crate).

use std::collections::BTreeSet;

use login_core::http::ROUTES;
use mock_server::opendata::{RuleEra, UserInfoApi, UserInfoGrant};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::openapi::problems;

async fn openapi(app: &TestApp) -> Value {
    // The document itself says where the session_key stays: skip `send`'s check.
    let r = app
        .send_unchecked(app.http.get(app.url("/openapi.json")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ct = r.header("content-type").expect("content type");
    assert!(ct.starts_with("application/json"), "{ct}");
    serde_json::from_str(&r.text).expect("/openapi.json is JSON")
}

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn openapi_paths_and_methods_equal_the_routes() {
    let app = TestApp::new().await;
    let doc = openapi(&app).await;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "{version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (key, op) in item.as_object().expect("path item") {
            if HTTP_METHODS.contains(&key.as_str()) {
                documented.insert((key.to_uppercase(), path.clone()));
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{key} {path} documents its responses"
                );
            }
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(routed.len(), ROUTES.len(), "ROUTES has no duplicates");
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not in ROUTES: {unrouted:?}"
    );

    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        assert!(resolve(&doc, &r).is_some(), "dangling $ref {r}");
    }
}

/// `api` of alice in the default app under the legacy rules.
async fn legacy_user_info(app: &TestApp, api: UserInfoApi) -> UserInfoGrant {
    app.user_info("alice", api, Some(RuleEra::Legacy), None)
        .await
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn other_methods(method: &str) -> [Method; 2] {
    if method == "GET" {
        [Method::POST, Method::DELETE]
    } else {
        [Method::GET, Method::PUT]
    }
}

#[tokio::test]
async fn every_route_answers_its_method_and_405_for_others() {
    let app = TestApp::new().await;
    for (method, path) in ROUTES {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let body = (*method == "POST").then(|| json!({}));
        let r = app
            .send_unchecked({
                let req = app.http.request(m.clone(), app.url(path));
                match &body {
                    Some(b) => req.json(b),
                    None => req,
                }
            })
            .await;
        assert!(
            r.status != 404 && r.status != 405,
            "{method} {path}: {} {}",
            r.status,
            r.text
        );
        for other in other_methods(method) {
            let r = app.request(other.clone(), path, None, None).await;
            let message = r.assert_error(405, "method_not_allowed");
            assert!(message.contains(path), "{other} {path}: {message}");
            let allow = r.header("allow");
            assert!(
                allow.as_deref().is_some_and(|a| a.contains(method)),
                "{other} {path}: a 405 names the allowed methods in Allow (RFC 9110 15.5.6), got {allow:?}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/api"),
        (Method::GET, "/api/users"),
        (Method::POST, "/api/login/extra"),
        (Method::GET, "/api/me/"),
        (Method::DELETE, "/nothing/here"),
    ] {
        let r = app.request(method.clone(), path, None, None).await;
        let message = r.assert_error(404, "not_found");
        assert!(message.contains(path), "{method} {path}: {message}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::configured(|c| c.limits.body_bytes = 1024).await;
    let (token, _) = app.login("alice").await;
    let big = json!({"code": "a".repeat(2000)}).to_string().into_bytes();
    assert!(big.len() > 2000);
    let r = app.post_json_bytes("/api/login", None, big.clone()).await;
    let message = r.assert_error(413, "payload_too_large");
    assert!(message.contains("1024"), "{message}");
    for path in ["/api/me/profile", "/api/me/phone"] {
        let r = app.post_json_bytes(path, Some(&token), big.clone()).await;
        r.assert_error(413, "payload_too_large");
    }
    // Just under the limit is read (and then judged on its content).
    let small = json!({"nickName": "a".repeat(900)})
        .to_string()
        .into_bytes();
    assert!(small.len() < 1024);
    let r = app
        .post_json_bytes("/api/me/profile", Some(&token), small)
        .await;
    r.assert_error(400, "invalid_field");
    app.login("alice").await;
}

/// A malformed body: where it goes, its bytes, and the error expected (status, code, and the
/// field the message must name).
struct Bad {
    path: &'static str,
    body: &'static [u8],
    code: &'static str,
    field: Option<&'static str>,
}

const fn bad(path: &'static str, body: &'static [u8], code: &'static str) -> Bad {
    Bad {
        path,
        body,
        code,
        field: None,
    }
}

const fn bad_field(path: &'static str, body: &'static [u8], field: &'static str) -> Bad {
    Bad {
        path,
        body,
        code: "invalid_field",
        field: Some(field),
    }
}

const LOGIN: &str = "/api/login";
const PROFILE: &str = "/api/me/profile";
const PHONE: &str = "/api/me/phone";

const MALFORMED: &[Bad] = &[
    bad(LOGIN, b"{", "invalid_json"),
    bad(LOGIN, b"", "invalid_json"),
    bad(LOGIN, b"{\"code\":\"\xff\"}", "invalid_json"),
    bad(LOGIN, b"\xef\xbb\xbf{\"code\":\"abc\"}", "invalid_json"),
    bad(LOGIN, b"{\"code\":\"abc\"} x", "invalid_json"),
    bad(LOGIN, b"{\"code\":\"abc\"}{}", "invalid_json"),
    bad(LOGIN, b"{'code':'abc'}", "invalid_json"),
    bad_field(LOGIN, b"[]", "body"),
    bad_field(LOGIN, b"\"code\"", "body"),
    bad_field(LOGIN, b"null", "body"),
    bad_field(LOGIN, b"42", "body"),
    bad_field(LOGIN, b"{\"code\":\"a\",\"code\":\"b\"}", "code"),
    bad_field(LOGIN, b"{}", "code"),
    bad_field(LOGIN, b"{\"code\":5}", "code"),
    bad_field(LOGIN, b"{\"code\":\"a\",\"extra\":1}", "extra"),
    bad_field(
        PROFILE,
        b"{\"nickName\":\"a\",\"nickName\":\"b\"}",
        "nickName",
    ),
    bad(PROFILE, b"{\"nickName\":\"\xc3\x28\"}", "invalid_json"),
    bad_field(PROFILE, b"[]", "body"),
    bad(PHONE, b"{\"code\":\"a\"", "invalid_json"),
    bad_field(PHONE, b"{\"code\":\"a\",\"code\":\"b\"}", "code"),
    bad_field(PHONE, b"{\"code\":null,\"code\":\"b\"}", "code"),
];

#[tokio::test]
async fn malformed_bodies_get_their_own_codes_and_the_server_stays_up() {
    let app = TestApp::new().await;
    let (token, _) = app.login("alice").await;
    let stats = app.stats().await;
    for case in MALFORMED {
        let shown = String::from_utf8_lossy(case.body).into_owned();
        let r = app
            .post_json_bytes(case.path, Some(&token), case.body.to_vec())
            .await;
        let message = r.assert_error(400, case.code);
        if let Some(f) = case.field {
            assert!(
                message.starts_with(&format!("field `{f}`")),
                "{} {shown:?}: names {f}: {message}",
                case.path
            );
        }
    }
    // Not JSON at all.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let r = app
            .post_bytes(LOGIN, None, ct, b"{\"code\":\"abc\"}".to_vec())
            .await;
        r.assert_error(415, "unsupported_media_type");
    }
    // A charset parameter is fine.
    let r = app
        .post_bytes(
            LOGIN,
            None,
            Some("application/json; charset=utf-8"),
            b"{\"code\":\"bogus\"}".to_vec(),
        )
        .await;
    r.assert_error(400, "code_invalid");
    assert_eq!(app.stats().await, stats, "nothing was written");
    assert_eq!(
        app.calls("jscode2session").await,
        2,
        "the first login and `bogus`"
    );
    assert_eq!(app.calls("getuserphonenumber").await, 0);
    // Still up: a whole login works.
    let (again, _) = app.login("alice").await;
    app.me(&again).await;
    app.get("/healthz", None).await.ok();
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/healthz", None).await.ok(),
        json!({"status": "ok"})
    );
    assert_eq!(
        app.get("/readyz", None).await.ok(),
        json!({"status": "ready"})
    );
}

#[tokio::test]
async fn metrics_count_logins_and_requests() {
    let app = TestApp::new().await;
    app.login("alice").await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ct = r.header("content-type").expect("content type");
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let lines: Vec<&str> = r.text.lines().collect();
    assert!(
        lines.contains(&"login_core_logins_total{result=\"new\"} 1"),
        "{}",
        r.text
    );
    assert!(
        lines.contains(
            &"login_core_http_requests_total{route=\"/api/login\",method=\"POST\",status=\"200\"} 1"
        ),
        "{}",
        r.text
    );
    assert_eq!(lines.last(), Some(&"# EOF"));

    // A returning login and a refused one are counted by result.
    app.login("alice").await;
    app.post("/api/login", None, json!({"code": "bogus"})).await;
    let text = app.get("/metrics", None).await.text;
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"login_core_logins_total{result=\"new\"} 1"),
        "{text}"
    );
    assert!(
        lines.contains(&"login_core_logins_total{result=\"returning\"} 1"),
        "{text}"
    );
    assert!(
        lines.contains(&"login_core_logins_total{result=\"code_invalid\"} 1"),
        "{text}"
    );
    assert!(
        lines.contains(
            &"login_core_http_requests_total{route=\"/api/login\",method=\"POST\",status=\"400\"} 1"
        ),
        "{text}"
    );
    assert!(!text.contains("session_key"));
}

/// Asserts `r` matches the schema documented for `method path` and its status.
#[track_caller]
fn assert_documented(doc: &Value, method: &str, path: &str, r: &Resp) {
    let response = &doc["paths"][path][method]["responses"][r.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path}: status {} is not documented",
        r.status
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {}: no JSON schema",
        r.status
    );
    let wrong = problems(doc, schema, &r.json());
    assert!(
        wrong.is_empty(),
        "{method} {path} {}: the answer breaks its schema: {wrong:#?}\n{}",
        r.status,
        r.text
    );
}

#[tokio::test]
async fn an_answer_that_breaks_its_schema_fails() {
    let app = TestApp::new().await;
    let doc = openapi(&app).await;
    let user = json!({"$ref": "#/components/schemas/User"});
    let good = json!({"id": 1, "phone_bound": false, "phone": null, "profile": null, "apps": []});
    assert_eq!(problems(&doc, &user, &good), Vec::<String>::new());
    for bad in [
        json!({"id": 1, "phone_bound": false, "phone": null, "profile": null}),
        json!({"id": 1, "phone_bound": false, "phone": null, "profile": null, "apps": [], "x": 1}),
        json!({"id": "1", "phone_bound": false, "phone": null, "profile": null, "apps": []}),
        json!({"id": 1, "phone_bound": false, "phone": {"countryCode": 86}, "profile": null, "apps": []}),
        json!({"id": 1, "phone_bound": false, "phone": null, "profile": {"nick": "a"}, "apps": [1]}),
    ] {
        assert!(
            !problems(&doc, &user, &bad).is_empty(),
            "{bad} should not conform"
        );
    }
}

#[tokio::test]
async fn responses_match_the_documented_schemas() {
    let app = TestApp::new().await;
    let doc = openapi(&app).await;

    let r = app.try_login("alice").await;
    assert_documented(&doc, "post", "/api/login", &r);
    let token = token_of(&r.json());

    let r = app.get("/api/me", Some(&token)).await;
    assert_documented(&doc, "get", "/api/me", &r);
    let r = app.get("/api/session/check", Some(&token)).await;
    assert_documented(&doc, "get", "/api/session/check", &r);

    // A full profile (every field) and a plain one.
    let g = legacy_user_info(&app, UserInfoApi::GetUserInfo).await;
    let body = json!({"encryptedData": g.encrypted_data, "iv": g.iv, "rawData": g.raw_data, "signature": g.signature});
    let r = app.update_profile(&token, body).await;
    assert_documented(&doc, "post", "/api/me/profile", &r);
    let r = app
        .update_profile(&token, json!({"nickName": "小明"}))
        .await;
    assert_documented(&doc, "post", "/api/me/profile", &r);

    let grant = app.phone_grant("alice").await;
    let r = app.bind_phone_code(&token, &grant.code).await;
    assert_documented(&doc, "post", "/api/me/phone", &r);
    let r = app.get("/api/me", Some(&token)).await;
    assert_documented(&doc, "get", "/api/me", &r);

    let r = app.refresh(&token).await;
    assert_documented(&doc, "post", "/api/session/refresh", &r);
    let fresh = token_of(&r.json());

    // Errors are documented too.
    let r = app.get("/api/me", Some(&token)).await;
    assert_documented(&doc, "get", "/api/me", &r);
    let r = app.post("/api/login", None, json!({"code": "bogus"})).await;
    assert_documented(&doc, "post", "/api/login", &r);
    let r = app.bind_phone_code(&fresh, &grant.code).await;
    assert_documented(&doc, "post", "/api/me/phone", &r);
    let r = app.update_profile(&fresh, json!({"nickName": ""})).await;
    assert_documented(&doc, "post", "/api/me/profile", &r);
    let r = app.post("/api/logout", Some(&fresh), json!({})).await;
    assert_eq!(r.status, 204);
    assert!(doc["paths"]["/api/logout"]["post"]["responses"]["204"].is_object());
    let r = app.post("/api/logout", Some(&fresh), json!({})).await;
    assert_documented(&doc, "post", "/api/logout", &r);
    let r = app.get("/healthz", None).await;
    assert_documented(&doc, "get", "/healthz", &r);
    let r = app.get("/readyz", None).await;
    assert_documented(&doc, "get", "/readyz", &r);
}

#[tokio::test]
async fn a_json_array_is_not_a_body_even_when_its_items_fit_the_fields() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    // serde's derived Deserialize takes a sequence for a struct (fields by position), so this
    // would be read as {"code": code}. The API documents (and says) "the body must be a JSON
    // object".
    let body = serde_json::to_vec(&json!([code])).expect("json");
    let r = app.post_json_bytes("/api/login", None, body).await;
    let message = r.assert_error(400, "invalid_field");
    assert!(message.starts_with("field `body`"), "{message}");
    assert_eq!(app.calls("jscode2session").await, 0, "WeChat was not asked");
    assert_eq!(app.stats().await.users, 0);
    // The code is still good for a proper request.
    let token = token_of(&app.login_code(&code).await.ok());
    // The same on the other endpoints: a phone code and a nickname by position, and an
    // object inside an array.
    for (path, body) in [
        (PHONE, json!(["0123456789abcdef", null, null])),
        (LOGIN, json!([{"code": "abc"}])),
        (PROFILE, json!([null, null, null, null, "小明", null])),
    ] {
        let r = app
            .post_json_bytes(path, Some(&token), serde_json::to_vec(&body).expect("json"))
            .await;
        let message = r.assert_error(400, "invalid_field");
        assert!(
            message.starts_with("field `body`"),
            "{path} {body}: {message}"
        );
    }
    assert_eq!(app.calls("getuserphonenumber").await, 0);
    assert_eq!(app.me(&token).await["profile"], Value::Null);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_too() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let app = TestApp::configured(|c| c.limits.body_bytes = 1024).await;
    // No Content-Length: the limit must hold while reading, not only by the header.
    let body = json!({"code": "a".repeat(2000)}).to_string();
    let mut req = format!(
        "POST /api/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.core.addr()
    )
    .into_bytes();
    for chunk in body.as_bytes().chunks(500) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let mut conn = tokio::net::TcpStream::connect(app.core.addr())
        .await
        .expect("connects");
    conn.write_all(&req).await.expect("sent");
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.expect("answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.contains("\"code\":\"payload_too_large\""),
        "{answer}"
    );
    assert_eq!(app.calls("jscode2session").await, 0);
    app.login("alice").await;
}

#[tokio::test]
async fn internal_errors_of_the_profile_endpoint_are_documented() {
    // With another server key the stored session_key cannot be opened: every endpoint that
    // needs it answers 500 `internal` (see server.rs: "without it stored session keys cannot
    // be read"). That status must be in the document like any other.
    let app = TestApp::new().await;
    let doc = openapi(&app).await;
    let (token, _) = app.login("alice").await;
    let g = legacy_user_info(&app, UserInfoApi::GetUserProfile).await;
    let phone = app.legacy_phone("alice", None).await;
    let other = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [1u8; 32]);
    let app = app
        .restart_core(move |c| {
            c.server_key = Some(login_core::config::ServerKeyText(other));
        })
        .await;
    let r = app
        .bind_phone(&token, encrypted(&phone.encrypted_data, &phone.iv))
        .await;
    r.assert_error(500, "internal");
    assert_documented(&doc, "post", "/api/me/phone", &r);
    let r = app
        .update_profile(&token, encrypted(&g.encrypted_data, &g.iv))
        .await;
    r.assert_error(500, "internal");
    assert_documented(&doc, "post", "/api/me/profile", &r);
}

#[tokio::test]
async fn phone_first_answers_match_the_documented_schemas() {
    let app = TestApp::configured(phone_required).await;
    let doc = openapi(&app).await;

    let r = app.try_login("alice").await;
    assert_documented(&doc, "post", "/api/login", &r);
    let ticket = ticket_of(&r);
    let r = app.send_code("13812340301").await;
    assert_documented(&doc, "post", "/api/sms/send", &r);
    let code = app.outbox.last_code(&e164("13812340301"));
    let r = app.sms_login("13812340301", "000000", None).await;
    if code != "000000" {
        assert_documented(&doc, "post", "/api/login/sms", &r);
    }
    let r = app.sms_login("13812340301", &code, Some(&ticket)).await;
    assert_documented(&doc, "post", "/api/login/sms", &r);
    let token = token_of(&r.json());
    let r = app.sms_login("13812340301", &code, Some(&ticket)).await;
    assert_documented(&doc, "post", "/api/login/sms", &r);
    let r = app.send_code("13812340301").await;
    assert_documented(&doc, "post", "/api/sms/send", &r);

    let r = app
        .password_login("13812340302", "a long password", None)
        .await;
    assert_documented(&doc, "post", "/api/login/password", &r);
    let plain = token_of(&r.json());
    let r = app
        .password_login("13812340302", "another password", None)
        .await;
    assert_documented(&doc, "post", "/api/login/password", &r);
    let bob = ticket_of(&app.try_login("bob").await);
    let r = app
        .password_login("13812340301", "a long password", Some(&bob))
        .await;
    assert_documented(&doc, "post", "/api/login/password", &r);

    app.set_wechat_number("carol", "13812340302").await;
    let r = app
        .login_with_phone_code_in(&app.appid.clone(), "carol")
        .await;
    assert_documented(&doc, "post", "/api/login", &r);
    app.set_wechat_number("dave", "13812340301").await;
    let r = app
        .login_with_phone_code_in(&app.appid.clone(), "dave")
        .await;
    r.assert_error(409, "phone_bound_to_other_wechat");
    assert_documented(&doc, "post", "/api/login", &r);

    let r = app.get("/api/session/check", Some(&token)).await;
    assert_documented(&doc, "get", "/api/session/check", &r);
    let r = app.get("/api/session/check", Some(&plain)).await;
    assert_documented(&doc, "get", "/api/session/check", &r);
    let r = app.bind_phone(&plain, json!({"code": "abc"})).await;
    assert_documented(&doc, "post", "/api/me/phone", &r);
    let r = app
        .update_profile(
            &plain,
            json!({"encryptedData": "AAAAAAAAAAAAAAAAAAAAAA==", "iv": "AAAAAAAAAAAAAAAAAAAAAA=="}),
        )
        .await;
    assert_documented(&doc, "post", "/api/me/profile", &r);
}
