//! Checks that `openapi.json` documents exactly the control plane's routes.
//!
//! [`ROUTES`] is checked twice: against the document (same set of method and path) and against
//! the real router (every entry reaches a handler, not the `not_found` fallback). The answers of a
//! scripted session are then validated against the documented response schemas with a small
//! JSON Schema subset (`$ref`, `allOf`/`anyOf`/`oneOf`/`not`, `type`, `enum`, `const`,
//! `required`, `properties`, `additionalProperties`, `items`, `minimum`/`maximum`; no `pattern`
//! or `format`), so a renamed or added serde field shows up here too.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Request, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{ControlError, OPENAPI, ROUTES};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::engine::EngineError;
use crate::ids::{AppId, UserHandle};
use crate::journal::Record;
use crate::shared::Shared;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("openapi.json is JSON")
}

/// A local `$ref` (`#/components/...`).
fn lookup<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn operations(doc: &Value) -> Vec<(String, &str, &Value, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_uppercase(), path.as_str(), item, op));
            }
        }
    }
    out
}

fn route_set<'a>(
    routes: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeSet<(String, String)> {
    routes
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect()
}

#[test]
fn openapi_is_json_and_3_1() {
    let d = doc();
    assert_eq!(d["openapi"], "3.1.0");
    assert_eq!(d["servers"][0]["url"], "/__mock__");
    assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
}

#[test]
fn routes_and_document_list_the_same_operations() {
    let routes = route_set(ROUTES.iter().copied());
    assert_eq!(routes.len(), ROUTES.len(), "ROUTES lists a route twice");
    let d = doc();
    let documented = route_set(
        operations(&d)
            .iter()
            .map(|(m, p, _, _)| (m.as_str(), *p))
            .collect::<Vec<_>>(),
    );
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "in ROUTES but not in openapi.json: {undocumented:?}; in openapi.json but not in ROUTES: \
         {unrouted:?}"
    );
}

#[test]
fn document_is_self_consistent() {
    fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                    refs.push(r);
                }
                o.values().for_each(|x| walk(x, refs));
            }
            Value::Array(xs) => xs.iter().for_each(|x| walk(x, refs)),
            _ => {}
        }
    }
    let d = doc();
    let mut refs = Vec::new();
    walk(&d, &mut refs);
    for r in refs {
        assert!(lookup(&d, r).is_some(), "dangling $ref {r}");
    }
    let mut ids = BTreeSet::new();
    for (method, path, item, op) in operations(&d) {
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id), "operationId {id} used twice");
        assert!(op["summary"].is_string(), "{method} {path}: no summary");
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path}: every operation can answer 401 unauthorized"
        );
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = [&item["parameters"], &op["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .map(|p| match p.get("$ref").and_then(Value::as_str) {
                Some(r) => lookup(&d, r).expect("parameter $ref"),
                None => p,
            })
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(in_path, declared, "{method} {path}: path parameters");
    }
}

fn fresh(config: &Config) -> (Arc<Shared>, Router) {
    let shared = Arc::new(Shared::new(config).expect("valid config"));
    // The control plane as the server mounts it; vendor paths are not this check's concern.
    let app = Router::new()
        .nest("/__mock__", super::router(shared.clone()))
        .with_state(shared.clone());
    (shared.clone(), app)
}

/// Sends one request to `/__mock__{uri}`; the answer must be JSON.
async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/__mock__{uri}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(body.map_or_else(axum::body::Body::empty, |b| {
            axum::body::Body::from(b.to_string())
        }))
        .expect("valid request");
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {uri}: answer is not JSON ({e})"));
    (status, value)
}

#[tokio::test]
async fn every_route_reaches_a_handler() {
    let (_, app) = fresh(&Config::default());
    for (method, path) in ROUTES {
        let uri: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let (status, body) = send(&app, method, &uri, None, None).await;
        assert_ne!(
            body["error"]["code"], "not_found",
            "{method} {path} is in ROUTES but not routed ({status})"
        );
    }
    // The check can fail: what the router does not know is `not_found` or `method_not_allowed`.
    let (status, body) = send(&app, "GET", "/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    for (method, uri) in [("PUT", "/state"), ("DELETE", "/apps/1")] {
        let (status, body) = send(&app, method, uri, None, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(
            body["error"]["code"], "method_not_allowed",
            "{method} {uri}"
        );
    }
}

/// One value of every error variant. A new variant breaks the `match` below: add it to the list
/// and to `ErrorCode` in openapi.json.
fn every_error() -> Vec<ControlError> {
    let all: Vec<ControlError> = vec![
        ControlError::InvalidBody("x".into()),
        ControlError::InvalidField {
            field: "x".into(),
            message: "x".into(),
        },
        ControlError::Unauthorized,
        ControlError::NoRoute {
            method: "GET".into(),
            path: "/x".into(),
        },
        ControlError::MethodNotAllowed {
            method: "PUT".into(),
            path: "/x".into(),
        },
        ControlError::UnknownFault(1),
        EngineError::UnknownApp("x".into()).into(),
        EngineError::UnknownUser("x".into()).into(),
        EngineError::AppExists("x".into()).into(),
        EngineError::UserExists("x".into()).into(),
        EngineError::NoPhone("x".into()).into(),
        EngineError::NoSession("x".into()).into(),
        EngineError::NoStaleKey("x".into()).into(),
        EngineError::PhoneQuotaExhausted("x".into()).into(),
        EngineError::Invalid {
            field: "x",
            message: "x".into(),
        }
        .into(),
        EngineError::WrongAppKind {
            appid: "x".into(),
            expected: crate::config::AppKind::OfficialAccount,
        }
        .into(),
        EngineError::UnknownPlatform("x".into()).into(),
        EngineError::PlatformExists("x".into()).into(),
        EngineError::NotAuthorized {
            platform: "x".into(),
            appid: "y".into(),
        }
        .into(),
    ];
    for e in &all {
        match e {
            ControlError::InvalidBody(_)
            | ControlError::InvalidField { .. }
            | ControlError::Unauthorized
            | ControlError::NoRoute { .. }
            | ControlError::MethodNotAllowed { .. }
            | ControlError::UnknownFault(_) => {}
            ControlError::Engine(e) => match e {
                EngineError::UnknownApp(_)
                | EngineError::UnknownUser(_)
                | EngineError::AppExists(_)
                | EngineError::UserExists(_)
                | EngineError::NoPhone(_)
                | EngineError::NoSession(_)
                | EngineError::NoStaleKey(_)
                | EngineError::PhoneQuotaExhausted(_)
                | EngineError::Invalid { .. }
                | EngineError::WrongAppKind { .. }
                | EngineError::UnknownPlatform(_)
                | EngineError::PlatformExists(_)
                | EngineError::NotAuthorized { .. } => {}
            },
        }
    }
    all
}

#[tokio::test]
async fn error_codes_and_statuses_are_documented() {
    let d = doc();
    let codes = &d["components"]["schemas"]["ErrorCode"];
    let documented: BTreeSet<&str> = codes["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut given = BTreeSet::new();
    for e in every_error() {
        let res = e.into_response();
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON");
        check(
            &d,
            &json!({"$ref": "#/components/schemas/Error"}),
            &body,
            "error",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let code = body["error"]["code"].as_str().expect("code").to_owned();
        assert_eq!(
            codes["x-http-status"][&code], status,
            "`{code}` answers HTTP {status}; ErrorCode's x-http-status disagrees"
        );
        given.insert(code);
    }
    let given: BTreeSet<&str> = given.iter().map(String::as_str).collect();
    assert_eq!(given, documented, "error codes given vs documented");
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

/// Validates `v` against `schema` (the subset of JSON Schema 2020-12 this document uses).
fn check(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let Some(s) = schema.as_object() else {
        return Ok(());
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = lookup(doc, r).ok_or_else(|| format!("dangling $ref {r}"))?;
        check(doc, target, v, at)?;
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(doc, sub, v, at)?;
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        let errors: Vec<String> = any
            .iter()
            .filter_map(|sub| check(doc, sub, v, at).err())
            .collect();
        if errors.len() == any.len() {
            return Err(format!("{at}: no anyOf branch matches: {errors:?}"));
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let n = one
            .iter()
            .filter(|sub| check(doc, sub, v, at).is_ok())
            .count();
        if n != 1 {
            return Err(format!("{at}: {v} matches {n} oneOf branches, not 1"));
        }
    }
    if let Some(not) = s.get("not")
        && check(doc, not, v, at).is_ok()
    {
        return Err(format!("{at}: {v} matches `not` {not}"));
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.iter().any(|t| has_type(v, t)) {
            return Err(format!("{at}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{at}: {v} is not {c}"));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{at}: {v} is below {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{at}: {v} is above {max}"));
        }
    }
    if let Value::Object(o) = v {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !o.contains_key(r) {
                return Err(format!("{at}: `{r}` is required"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            let at = format!("{at}.{k}");
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(sub), _) => check(doc, sub, x, &at)?,
                (None, Some(Value::Bool(false))) => return Err(format!("{at}: not allowed")),
                (None, Some(sub)) => check(doc, sub, x, &at)?,
                (None, None) => {}
            }
        }
    }
    if let (Value::Array(xs), Some(items)) = (v, s.get("items")) {
        for (i, x) in xs.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The router plus the document: every answer is checked against the documented response for
/// its method, path and status, and every accepted body against the documented request body.
struct Api {
    doc: Value,
    app: Router,
    token: Option<String>,
}

impl Api {
    fn template(&self, path: &str) -> &str {
        let parts: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .find(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                ts.len() == parts.len()
                    && ts
                        .iter()
                        .zip(&parts)
                        .all(|(t, p)| t == p || t.starts_with('{'))
            })
            .unwrap_or_else(|| panic!("{path} is not documented"))
    }

    fn operation(&self, method: &str, uri: &str) -> &Value {
        let path = uri.split('?').next().unwrap_or(uri);
        let op = &self.doc["paths"][self.template(path)][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        op
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, answer) =
            send(&self.app, method, uri, body.as_ref(), self.token.as_deref()).await;
        let op = self.operation(method, uri);
        let mut res = &op["responses"][status.as_str()];
        if let Some(r) = res.get("$ref").and_then(Value::as_str) {
            res = lookup(&self.doc, r).expect("response $ref");
        }
        assert!(
            res.is_object(),
            "{method} {uri}: status {status} is not documented; answer {answer}"
        );
        let schema = &res["content"]["application/json"]["schema"];
        check(&self.doc, schema, &answer, "answer")
            .unwrap_or_else(|e| panic!("{method} {uri} -> {status}: {e}\n{answer:#}"));
        if status.is_success()
            && let Some(b) = &body
        {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            check(&self.doc, schema, b, "body").unwrap_or_else(|e| {
                panic!("{method} {uri}: the server accepted {b} but the document refuses it: {e}")
            });
        }
        (status, answer)
    }

    async fn expect(&self, method: &str, uri: &str, body: Option<Value>, want: u16) -> Value {
        let (status, answer) = self.call(method, uri, body).await;
        assert_eq!(status.as_u16(), want, "{method} {uri}: {answer}");
        answer
    }

    /// A body that both the server and the document refuse.
    async fn refused(&self, method: &str, uri: &str, body: Value) {
        let (status, answer) = self.call(method, uri, Some(body.clone())).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {answer}"
        );
        let schema =
            &self.operation(method, uri)["requestBody"]["content"]["application/json"]["schema"];
        assert!(
            check(&self.doc, schema, &body, "body").is_err(),
            "{method} {uri}: the server refuses {body} ({answer}) but the document accepts it"
        );
    }
}

fn record(seq_hint: u64, full: bool) -> Record {
    Record {
        time: Timestamp::from_secs(1_724_289_297),
        method: Method::GET,
        target: format!("/sns/jscode2session?appid=wx1&js_code=c{seq_hint}"),
        endpoint: Endpoint::Jscode2session,
        body: Bytes::new(),
        appid: full.then(|| AppId::new("wx1")),
        user: full.then(|| UserHandle::new("bob")),
        status: if full { 200 } else { 0 },
        errcode: full.then_some(40029),
        tencent_code: None,
        headers: None,
        fault: full.then(|| "rule 1: errcode 40029".into()),
        response: Bytes::from_static(b"{\"errcode\":40029}"),
        latency_us: 12,
        rid: full.then(|| "66c69111-4157f271-729ca238".into()),
        client_ip: None,
    }
}

/// Sends one SMS through the engine, signed with the configured key.
fn send_sms(shared: &Shared, config: &Value, app: &str) {
    let body = json!({"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": app,
        "TemplateId": "1", "SignName": "登录验证", "TemplateParamSet": ["123456"]})
    .to_string();
    let key = crate::tencent::Key {
        secret_id: config["secret_id"].as_str().expect("secret_id"),
        secret_key: config["secret_key"].as_str().expect("secret_key"),
    };
    let now = shared.engine.clock().now().secs();
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in
        crate::tencent::send_sms_headers(&key, "mock", "ap-guangzhou", now, body.as_bytes())
    {
        headers.insert(name, value.parse().expect("header value"));
    }
    let req = crate::request::VendorRequest::parse(
        Endpoint::SmsSend,
        true,
        None,
        &headers,
        Bytes::from(body),
    );
    let answer = shared.engine.answer(&req);
    assert_eq!(answer.tencent, Some("Ok"), "{:?}", answer.result);
}

#[tokio::test]
async fn answers_match_the_documented_schemas() {
    let (shared, app) = fresh(&Config::default());
    let api = Api {
        doc: doc(),
        app,
        token: None,
    };

    api.expect("GET", "/openapi.json", None, 200).await;
    let state = api.expect("GET", "/state", None, 200).await;
    let default_app = state["apps"][0]["appid"]
        .as_str()
        .expect("appid")
        .to_owned();

    api.expect("GET", "/options", None, 200).await;
    let patch = json!({"session_key_ttl": "1h", "journal_capacity": 100, "quota_scope": "app"});
    api.expect("PATCH", "/options", Some(patch), 200).await;
    api.expect(
        "PATCH",
        "/options",
        Some(json!({"session_key_ttl": null})),
        200,
    )
    .await;

    let body = json!({"open_platform": "acct-1", "name": "second"});
    let second = api.expect("POST", "/apps", Some(body), 201).await;
    let second = second["appid"].as_str().expect("appid").to_owned();
    api.expect("POST", "/apps", Some(json!({"appid": second})), 409)
        .await;
    api.expect("GET", &format!("/apps/{second}"), None, 200)
        .await;
    api.expect("GET", "/apps/nope", None, 404).await;
    let body = json!({"name": null, "secret": "s3cret"});
    api.expect("PATCH", &format!("/apps/{second}"), Some(body), 200)
        .await;
    api.expect("PATCH", "/apps/nope", Some(json!({})), 404)
        .await;
    let body = json!({"appid": "other"});
    api.expect("PATCH", &format!("/apps/{second}"), Some(body), 400)
        .await;

    api.expect(
        "POST",
        "/users",
        Some(json!({"handle": "alice", "phone": null})),
        201,
    )
    .await;
    let carol = json!({"handle": "carol", "gender": 0, "high_risk": true,
        "phone": {"country_code": "1", "number": "5550100"}});
    api.expect("POST", "/users", Some(carol), 201).await;
    api.expect("POST", "/users", Some(json!({"handle": "alice"})), 409)
        .await;
    api.expect("GET", "/users/alice", None, 200).await;
    api.expect("GET", "/users/nobody", None, 404).await;
    let body = json!({"nickname": "C", "phone": null, "city": null});
    api.expect("PATCH", "/users/carol", Some(body), 200).await;
    api.expect("PATCH", "/users/nobody", Some(json!({})), 404)
        .await;

    api.expect("POST", "/wx/login", Some(json!({"user": "bob"})), 200)
        .await;
    let body = json!({"appid": second, "user": "bob"});
    let login = api.expect("POST", "/wx/login", Some(body), 200).await;
    assert!(login["mock"]["unionid"].is_string(), "{login}");
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/login", Some(body), 404).await;
    let body = json!({"appid": default_app, "user": "bob"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    api.expect(
        "POST",
        "/wx/getPhoneNumber",
        Some(json!({"user": "alice"})),
        409,
    )
    .await;
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 404)
        .await;
    let body = json!({"user": "bob", "tamper": "flipped_byte"});
    let phone = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert!(phone["encryptedData"].is_string(), "{phone}");
    let body = json!({"user": "bob", "tamper": "stale_key"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 409)
        .await;
    let body = json!({"user": "bob", "kind": "getRealtimePhoneNumber"});
    let phone = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert_eq!(phone["errMsg"], "getRealtimePhoneNumber:ok", "{phone}");
    let body = json!({"user": "bob", "deny": true});
    let phone = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert_eq!(phone, json!({"errMsg": "getPhoneNumber:fail user deny"}));
    let body = json!({"user": "bob", "kind": "fast"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 400)
        .await;
    let body = json!({"phone_quota": 1});
    let quota = api.expect("POST", "/apps", Some(body), 201).await;
    let quota = quota["appid"].as_str().expect("appid").to_owned();
    let body = json!({"appid": quota, "user": "bob"});
    api.expect("POST", "/wx/getPhoneNumber", Some(body.clone()), 200)
        .await;
    let refused = api
        .expect("POST", "/wx/getPhoneNumber", Some(body), 200)
        .await;
    assert_eq!(
        refused,
        json!({"errMsg": "getPhoneNumber:fail no quota", "errno": 1_400_001})
    );
    let app = api
        .expect("GET", &format!("/apps/{quota}"), None, 200)
        .await;
    assert_eq!(app["phone_quota"], 0, "{app}");
    api.expect("POST", "/apps", Some(json!({"phone_quota": -1})), 400)
        .await;
    let check = api
        .expect(
            "POST",
            "/wx/checkSession",
            Some(json!({"user": "bob"})),
            200,
        )
        .await;
    assert_eq!(check, json!({"errMsg": "checkSession:ok"}));
    let check = api
        .expect(
            "POST",
            "/wx/checkSession",
            Some(json!({"user": "zed"})),
            200,
        )
        .await;
    assert_eq!(
        check,
        json!({"errMsg": "checkSession:fail", "reason": "never_logged_in"})
    );
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/checkSession", Some(body), 404)
        .await;
    api.expect("POST", "/wx/checkSession", Some(json!({})), 400)
        .await;
    for route in ["/wx/getUserInfo", "/wx/getUserProfile"] {
        api.expect("POST", route, Some(json!({"user": "bob"})), 200)
            .await;
        let body = json!({"appid": second, "user": "bob", "era": "legacy", "tamper": null});
        api.expect("POST", route, Some(body), 200).await;
        let body = json!({"user": "bob", "tamper": "stale_key"});
        api.expect("POST", route, Some(body), 409).await;
        api.expect("POST", route, Some(json!({"user": "carol"})), 409)
            .await;
        let body = json!({"appid": "nope", "user": "bob"});
        api.expect("POST", route, Some(body), 404).await;
    }
    let body = json!({"user": "bob", "group": "family", "tamper": "wrong_iv_length"});
    api.expect("POST", "/wx/getShareInfo", Some(body), 200)
        .await;
    let body = json!({"user": "bob", "steps": vec![7; 31]});
    api.expect("POST", "/wx/getWeRunData", Some(body), 200)
        .await;
    api.expect(
        "POST",
        "/wx/getWeRunData",
        Some(json!({"user": "bob"})),
        200,
    )
    .await;
    let body = json!({"user": "bob", "steps": [1, 2, 3]});
    api.expect("POST", "/wx/getWeRunData", Some(body), 400)
        .await;
    let body = json!({"user": "carol", "group": "g"});
    api.expect("POST", "/wx/getShareInfo", Some(body), 409)
        .await;
    let body = json!({"user": "bob", "data": {"amount": 100}});
    let key = api
        .expect("POST", "/wx/getUserCryptoManager", Some(body), 200)
        .await;
    assert!(key["encryptedData"].is_string(), "{key}");
    let body = json!({"appid": second, "user": "bob", "data": null});
    let key = api
        .expect("POST", "/wx/getUserCryptoManager", Some(body), 200)
        .await;
    assert!(key.get("encryptedData").is_none(), "{key}");
    let body = json!({"user": "carol", "data": "text"});
    api.expect("POST", "/wx/getUserCryptoManager", Some(body), 409)
        .await;
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/wx/getUserCryptoManager", Some(body), 404)
        .await;
    let body = json!({"risk_rank": 2});
    let carol = api.expect("PATCH", "/users/carol", Some(body), 200).await;
    assert_eq!(carol["risk_rank"], 2, "{carol}");
    let body = json!({"risk_rank": null});
    let carol = api.expect("PATCH", "/users/carol", Some(body), 200).await;
    assert_eq!(carol["risk_rank"], 4, "carol is high-risk: {carol}");
    let body = json!({"checkencryptedmsg_unknown": "vaild_false"});
    api.expect("PATCH", "/options", Some(body), 200).await;
    let body = json!({"profile_era": "legacy"});
    let app = api.expect("POST", "/apps", Some(body), 201).await;
    assert_eq!(app["profile_era"], "legacy", "{app}");
    api.expect("PATCH", "/options", Some(json!({"strict": true})), 200)
        .await;
    api.expect("POST", "/wx/login", Some(json!({"user": "dave"})), 404)
        .await;
    api.expect(
        "POST",
        "/wx/checkSession",
        Some(json!({"user": "dave"})),
        404,
    )
    .await;
    let body = json!({"user": "dave", "deny": true});
    api.expect("POST", "/wx/getPhoneNumber", Some(body), 404)
        .await;
    let body = json!({"accept_foreign_codes": true, "foreign_code_user": "dev"});
    api.expect("PATCH", "/options", Some(body), 200).await;
    let body = json!({"foreign_code_user": ""});
    api.expect("PATCH", "/options", Some(body), 400).await;
    api.expect(
        "PATCH",
        "/options",
        Some(json!({"accept_foreign_codes": false})),
        200,
    )
    .await;

    // Payments: strict mode is on, so bob (known) pays and dave (unknown) cannot.
    let body = json!({"appid": second, "user": "bob"});
    let paid = api.expect("POST", "/payments", Some(body), 201).await;
    assert!(paid["unionid"].is_string(), "{paid}");
    let body = json!({"user": "bob", "mch_id": "1900000109", "out_trade_no": "A-1"});
    let paid = api.expect("POST", "/payments", Some(body), 201).await;
    assert!(paid.get("unionid").is_none(), "{paid}");
    api.expect("POST", "/payments", Some(json!({"user": "dave"})), 404)
        .await;
    let body = json!({"appid": "nope", "user": "bob"});
    api.expect("POST", "/payments", Some(body), 404).await;
    let body = json!({"user": "bob", "transaction_id": ""});
    api.expect("POST", "/payments", Some(body), 400).await;

    // Official accounts and their followers.
    let body = json!({"kind": "official_account", "open_platform": "acct-1"});
    let oa = api.expect("POST", "/apps", Some(body), 201).await;
    assert_eq!(oa["kind"], "official_account", "{oa}");
    let oa = oa["appid"].as_str().expect("appid").to_owned();
    let followers = format!("/apps/{oa}/followers");
    let body = json!({"user": "bob", "subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene": 98765,
        "qr_scene_str": "", "remark": "vip", "tagid_list": [128, 2]});
    let follower = api.expect("POST", &followers, Some(body), 200).await;
    assert!(follower["unionid"].is_string(), "{follower}");
    let body = json!({"user": "bob", "subscribe": false});
    let follower = api.expect("POST", &followers, Some(body), 200).await;
    assert_eq!(follower["subscribe_time"], Value::Null, "{follower}");
    api.expect("POST", &followers, Some(json!({"user": "dave"})), 404)
        .await;
    let body = json!({"user": "bob"});
    api.expect(
        "POST",
        &format!("/apps/{second}/followers"),
        Some(body),
        409,
    )
    .await;
    api.expect(
        "POST",
        "/apps/nope/followers",
        Some(json!({"user": "bob"})),
        404,
    )
    .await;
    let body = json!({"appid": oa, "user": "bob"});
    api.expect("POST", "/wx/login", Some(body.clone()), 409)
        .await;
    api.expect("POST", "/wx/getPhoneNumber", Some(body.clone()), 409)
        .await;
    api.expect("POST", "/payments", Some(body), 409).await;
    let body = json!({"kind": "mini_program"});
    api.expect("PATCH", &format!("/apps/{oa}"), Some(body), 400)
        .await;
    // (Longer remarks and more tags are refused too: the document says so with `maxLength` and
    // `maxItems`, which this check does not read.)
    for body in [
        json!({}),
        json!({"user": "bob", "subscribe_scene": "ADD_SCENE_NOWHERE"}),
        json!({"user": "bob", "qr_scene": -1}),
        json!({"user": "bob", "nickname": "x"}),
    ] {
        api.refused("POST", &followers, body).await;
    }

    api.expect("GET", "/clock", None, 200).await;
    let body = json!({"freeze": true, "set": 1_724_289_297});
    api.expect("POST", "/clock", Some(body), 200).await;
    let body = json!({"set": "2024-08-22T01:14:57Z", "advance": "301s"});
    let clock = api.expect("POST", "/clock", Some(body), 200).await;
    assert_eq!(clock["now_ms"], 1_724_289_598_000_i64);
    api.expect("POST", "/clock", Some(json!({"resume": true})), 200)
        .await;
    api.expect("POST", "/clock", Some(json!({})), 400).await;
    let body = json!({"freeze": true, "resume": true});
    api.expect("POST", "/clock", Some(body), 400).await;
    api.expect("POST", "/clock", Some(json!({"set": "yesterday"})), 400)
        .await;

    let faults = [
        json!({"endpoint": "jscode2session", "errcode": -1, "times": 1}),
        json!({"endpoint": "*", "http_status": 502, "probability": 0.5,
            "appid": second, "user": "bob", "consume_code": true}),
        json!({"endpoint": "token", "delay": "3s"}),
        json!({"endpoint": "/cgi-bin/token", "transport": "reset"}),
        json!({"endpoint": "sms_send", "tencent_error": "LimitExceeded.PhoneNumberDailyLimit",
            "appid": "1400000000", "times": 2}),
    ];
    for f in faults {
        api.expect("POST", "/faults", Some(f), 201).await;
    }
    api.expect("GET", "/faults", None, 200).await;
    api.expect("DELETE", "/faults/1", None, 200).await;
    api.expect("DELETE", "/faults/1", None, 404).await;
    api.expect("DELETE", "/faults/x", None, 400).await;
    api.expect("POST", "/faults", Some(json!({"endpoint": "*"})), 400)
        .await;
    let removed = api.expect("DELETE", "/faults", None, 200).await;
    assert_eq!(removed, json!({"removed": 4}));

    shared.journal.record(record(1, true));
    shared.journal.record(record(2, false));
    shared.journal.record(Record {
        method: Method::POST,
        target: "/tencentcloud/sms".into(),
        endpoint: Endpoint::SmsSend,
        errcode: None,
        tencent_code: Some("Ok"),
        headers: Some(vec![("x-tc-action".into(), "SendSms".into())]),
        ..record(3, true)
    });
    let page = api.expect("GET", "/journal", None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(3), "{page}");
    let page = api
        .expect(
            "GET",
            "/journal?endpoint=sms_send&tencent_code=Ok",
            None,
            200,
        )
        .await;
    assert_eq!(page["entries"][0]["headers"]["x-tc-action"], "SendSms");
    let page = api
        .expect("GET", "/journal?rid=66c69111-4157f271-729ca238", None, 200)
        .await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(2), "{page}");
    let uri = "/journal?endpoint=jscode2session&appid=wx1&user=bob&errcode=40029";
    let page = api.expect("GET", uri, None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
    api.expect("GET", "/journal?errcode=x", None, 400).await;
    api.expect("GET", "/journal?nope=1", None, 400).await;
    // The control plane's own changes so far, each after the vendor requests before it.
    let page = api.expect("GET", "/journal/control", None, 200).await;
    let calls = page["entries"].as_array().expect("entries");
    assert!(
        calls
            .iter()
            .any(|c| c["path"] == "/wx/login" && c["after_seq"] == 0),
        "{page}"
    );
    assert!(
        calls.iter().all(|c| c["method"] != "GET"),
        "reads are not journaled: {page}"
    );
    let since = page["last_seq"].as_u64().expect("last_seq");
    let page = api
        .expect("GET", &format!("/journal/control?since={since}"), None, 200)
        .await;
    assert_eq!(page["entries"], json!([]), "{page}");
    api.expect("GET", "/journal/control?since=x", None, 400)
        .await;
    api.expect("GET", "/journal/control?nope=1", None, 400)
        .await;
    api.expect("DELETE", "/journal", None, 200).await;
    let page = api.expect("GET", "/journal/control", None, 200).await;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["entries"][0]["path"], "/journal", "{page}");
    assert_eq!(page["entries"][0]["after_seq"], 3, "{page}");

    // The SMS gateway: configuration, a message sent, the outbox.
    let config = api.expect("GET", "/sms/config", None, 200).await;
    let body = json!({"limits": {"daily": null, "one_hour": 3},
        "sign_names": [{"name": "登录验证"}, {"name": "审核中", "approved": false}],
        "templates": [{"id": "1", "content": "code {1}"},
            {"id": "2", "content": "{1} shipped", "kind": "notification", "international": true,
             "approved": false}],
        "outbox_capacity": 50, "secret_id": config["secret_id"]});
    let config = api.expect("PATCH", "/sms/config", Some(body), 200).await;
    let app = config["sdk_app_ids"][0].as_str().expect("app").to_owned();
    send_sms(&shared, &config, &app);
    let outbox = api.expect("GET", "/sms", None, 200).await;
    assert_eq!(outbox["messages"][0]["code"], "123456", "{outbox}");
    let uri = "/sms?phone=%2B8613800138000&since=0&last=1&template_id=1";
    let outbox = api.expect("GET", uri, None, 200).await;
    assert_eq!(
        outbox["messages"].as_array().map(Vec::len),
        Some(1),
        "{outbox}"
    );
    api.expect("GET", "/sms?phone=12", None, 400).await;
    api.expect("GET", "/sms?nope=1", None, 400).await;
    let state = api.expect("GET", "/state", None, 200).await;
    assert_eq!(state["counts"]["sms_messages"], 1, "{state}");
    assert_eq!(state["sms"], config);
    api.expect("DELETE", "/sms", None, 200).await;

    let state = api.expect("GET", "/state", None, 200).await;
    assert!(state["counts"]["sessions"].as_u64() > Some(0), "{state}");
    api.expect("POST", "/reset", None, 200).await;

    // What the server refuses for its shape, the document refuses too.
    let appid = format!("/apps/{second}");
    let refused = [
        ("POST", "/apps", json!({"nope": 1})),
        ("POST", "/apps", json!({"name": 5})),
        ("PATCH", "/options", json!({"stirct": true})),
        ("PATCH", "/options", json!({"quota_scope": "planet"})),
        ("PATCH", "/options", json!({"journal_capacity": 0})),
        ("PATCH", "/options", json!({"strict": null})),
        ("POST", "/users", json!({"nickname": "x"})),
        ("POST", "/users", json!({"handle": "z", "gender": 3})),
        (
            "POST",
            "/users",
            json!({"handle": "z", "phone": {"number": "5550100"}}),
        ),
        (
            "POST",
            "/users",
            json!({"handle": "z", "phone": {"country_code": "1", "number": "1", "x": 1}}),
        ),
        ("PATCH", "/users/alice", json!({"high_risk": "yes"})),
        ("POST", "/users", json!({"handle": "z", "risk_rank": 5})),
        (
            "POST",
            "/users",
            json!({"handle": "z", "risk_rank": "high"}),
        ),
        (
            "PATCH",
            "/options",
            json!({"checkencryptedmsg_unknown": "maybe"}),
        ),
        (
            "POST",
            "/wx/getUserCryptoManager",
            json!({"user": "bob", "key": "x"}),
        ),
        ("POST", "/wx/getUserCryptoManager", json!({"data": 1})),
        ("POST", "/wx/login", json!({})),
        (
            "POST",
            "/wx/getPhoneNumber",
            json!({"user": "alice", "app": "x"}),
        ),
        (
            "POST",
            "/wx/getUserInfo",
            json!({"user": "bob", "era": "modern"}),
        ),
        ("POST", "/wx/getUserProfile", json!({"user": "bob", "x": 1})),
        ("POST", "/wx/getShareInfo", json!({"user": "bob"})),
        (
            "POST",
            "/wx/getWeRunData",
            json!({"user": "bob", "tamper": "bent"}),
        ),
        (
            "POST",
            "/wx/getWeRunData",
            json!({"user": "bob", "steps": [-1]}),
        ),
        ("POST", "/apps", json!({"profile_era": "future"})),
        ("POST", "/clock", json!({"advance": 5})),
        ("POST", "/clock", json!({"freez": true})),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "errcode": -1, "probability": 2}),
        ),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "http_status": 200}),
        ),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "errcode": -1, "times": 0}),
        ),
        (
            "POST",
            "/faults",
            json!({"endpoint": "*", "transport": "explode"}),
        ),
        ("POST", "/faults", json!({"errcode": -1})),
        (
            "POST",
            "/faults",
            json!({"endpoint": "sms_send", "tencent_error": "Nope"}),
        ),
        ("PATCH", "/sms/config", json!({"colour": "red"})),
        ("PATCH", "/sms/config", json!({"outbox_capacity": 0})),
        ("PATCH", "/sms/config", json!({"templates": [{"id": "1"}]})),
        ("PATCH", "/sms/config", json!({"limits": {"daily": -1}})),
        ("PATCH", "/sms/config", json!({"limits": {"weekly": 1}})),
        (
            "PATCH",
            "/sms/config",
            json!({"sign_names": [{"name": "x", "approved": "yes"}]}),
        ),
        (
            "PATCH",
            "/sms/config",
            json!({"templates": [{"id": "1", "content": "x", "kind": "marketing"}]}),
        ),
    ];
    for (method, uri, body) in refused {
        api.refused(method, uri, body).await;
    }
    api.refused("PATCH", &appid, json!({"secret": 5})).await;
    api.refused("PATCH", "/options", json!({"token_daily_limit": 0}))
        .await;
    api.refused("PATCH", "/options", json!({"stub_unmodelled": "yes"}))
        .await;
    api.refused("POST", "/apps", json!({"kind": "mini_game"}))
        .await;
}

#[tokio::test]
async fn the_bearer_token_is_documented() {
    let config = Config {
        control_token: Some("t0ken".into()),
        ..Config::default()
    };
    let (_, app) = fresh(&config);
    let mut api = Api {
        doc: doc(),
        app,
        token: None,
    };
    let answer = api.expect("GET", "/state", None, 401).await;
    assert_eq!(answer["error"]["code"], "unauthorized");
    api.expect("POST", "/wx/login", Some(json!({"user": "a"})), 401)
        .await;
    api.token = Some("t0ken".into());
    api.expect("GET", "/state", None, 200).await;
    let scheme = &api.doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
}

#[tokio::test]
async fn platform_and_plugin_answers_match_the_documented_schemas() {
    let (_, app) = fresh(&Config::default());
    let api = Api {
        doc: doc(),
        app,
        token: None,
    };
    let state = api.expect("GET", "/state", None, 200).await;
    let host = state["apps"][0]["appid"]
        .as_str()
        .expect("appid")
        .to_owned();
    let plugin = api.expect("POST", "/apps", Some(json!({})), 201).await;
    let plugin = plugin["appid"].as_str().expect("appid").to_owned();

    let generated = api.expect("POST", "/platforms", Some(json!({})), 201).await;
    assert!(
        generated["component_verify_ticket"]
            .as_str()
            .is_some_and(|t| t.starts_with("ticket@@@") && t.len() == 95),
        "{generated}"
    );
    let body = json!({"component_appid": "wxc0ffee", "component_appsecret": "s3cret",
        "name": "isv", "authorizations": [host]});
    let named = api.expect("POST", "/platforms", Some(body), 201).await;
    assert_eq!(named["authorizations"], json!([host]), "{named}");
    let body = json!({"component_appid": "wxc0ffee"});
    api.expect("POST", "/platforms", Some(body), 409).await;
    let body = json!({"authorizations": ["nope"]});
    api.expect("POST", "/platforms", Some(body), 404).await;
    api.expect("GET", "/platforms/wxc0ffee", None, 200).await;
    api.expect("GET", "/platforms/nope", None, 404).await;
    let body = json!({"appid": plugin});
    let both = api
        .expect(
            "POST",
            "/platforms/wxc0ffee/authorizations",
            Some(body),
            200,
        )
        .await;
    assert_eq!(both["authorizations"], json!([host, plugin]), "{both}");
    let body = json!({"appid": "nope"});
    api.expect(
        "POST",
        "/platforms/wxc0ffee/authorizations",
        Some(body),
        404,
    )
    .await;
    let body = json!({"appid": host});
    api.expect("POST", "/platforms/nope/authorizations", Some(body), 404)
        .await;
    let uri = format!("/platforms/wxc0ffee/authorizations/{plugin}");
    api.expect("DELETE", &uri, None, 200).await;
    api.expect("DELETE", &uri, None, 404).await;
    let pushed = api
        .expect("POST", "/platforms/wxc0ffee/ticket", None, 200)
        .await;
    assert_ne!(
        pushed["component_verify_ticket"],
        named["component_verify_ticket"]
    );
    api.expect("POST", "/platforms/nope/ticket", None, 404)
        .await;

    let body = json!({"user": "alice", "plugin_appid": plugin});
    let grant = api.expect("POST", "/wx/pluginLogin", Some(body), 200).await;
    assert_eq!(grant["mock"]["appid"], host, "{grant}");
    let body = json!({"appid": host, "user": "alice", "plugin_appid": "nope"});
    api.expect("POST", "/wx/pluginLogin", Some(body), 404).await;
    let body = json!({"user": "alice", "plugin_appid": host});
    api.expect("POST", "/wx/pluginLogin", Some(body), 400).await;

    let state = api.expect("GET", "/state", None, 200).await;
    assert_eq!(state["counts"]["platforms"], 2, "{state}");
    assert_eq!(state["counts"]["plugin_codes"], 1, "{state}");

    for (method, uri, body) in [
        ("POST", "/platforms", json!({"secret": "x"})),
        ("POST", "/platforms", json!({"authorizations": "wx1"})),
        ("POST", "/platforms", json!({"name": 5})),
        ("POST", "/platforms/wxc0ffee/authorizations", json!({})),
        ("POST", "/wx/pluginLogin", json!({"user": "alice"})),
        (
            "POST",
            "/wx/pluginLogin",
            json!({"user": "alice", "plugin_appid": 5}),
        ),
    ] {
        api.refused(method, uri, body).await;
    }
}
