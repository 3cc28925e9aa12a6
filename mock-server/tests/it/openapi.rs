//! The control plane's OpenAPI document: `src/control/openapi.json` is what
//! `control::openapi::document()` makes (hand-written paths, schemas generated from the types),
//! it is what the server serves, it documents exactly the routes of `ROUTES`, and every answer
//! and accepted body validates against it (the `jsonschema` crate; the scripted sessions are in
//! `openapi_answers.rs`). After a change to a request or answer type or to
//! `openapi.paths.json`: `UPDATE_OPENAPI=1 cargo test -p mock-server --test it openapi`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use axum::response::IntoResponse;
use mock_server::Config;
use mock_server::config::AppKind;
use mock_server::control::{ControlError, ROUTES, openapi};
use mock_server::engine::EngineError;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestMock;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The generated document as the checked-in file holds it.
fn generated_text() -> String {
    let doc = openapi::document().unwrap_or_else(|e| panic!("the document: {e}"));
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON");
    text.push('\n');
    text
}

/// The document the server serves.
pub fn doc() -> Value {
    serde_json::from_str(mock_server::control::OPENAPI).expect("openapi.json is JSON")
}

/// What is wrong with `value` against `schema`, a schema of `doc` (its `$ref`s point into the
/// document's components); empty when it conforms.
pub fn problems(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root.as_object_mut()
        .unwrap_or_else(|| panic!("not a schema object: {schema}"))
        .insert("components".into(), doc["components"].clone());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{schema} is not a valid schema: {e}"));
    validator
        .iter_errors(value)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

/// A `#/...` reference inside the document.
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

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/control/openapi.json");
    let want = generated_text();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &want).expect("write the document");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let diff = similar::TextDiff::from_lines(&have, &want);
        panic!(
            "{} is not what the types and openapi.paths.json make; regenerate it with\n\n    \
             UPDATE_OPENAPI=1 cargo test -p mock-server --test it openapi\n\n{}",
            path.display(),
            diff.unified_diff()
                .context_radius(3)
                .header("checked in", "generated")
        );
    }
}

/// The server serves the checked-in file as it was built (which the test above pins to what the
/// types make).
#[tokio::test]
async fn the_served_document_is_the_checked_in_one() {
    let t = TestMock::new().await;
    let r = t.get("/__mock__/openapi.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert!(
        r.body == mock_server::control::OPENAPI,
        "another document is served"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_json_schema_2020_12() {
    let d = doc();
    assert_eq!(d["openapi"], "3.1.0");
    assert_eq!(d["servers"][0]["url"], "/__mock__");
    assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
    // Every component is a valid 2020-12 schema, and names its neighbours as components.
    let schemas = d["components"]["schemas"].as_object().expect("schemas");
    assert!(schemas.len() > 50, "{}", schemas.len());
    for (name, schema) in schemas {
        let mut root = schema.clone();
        root["components"] = d["components"].clone();
        assert!(
            jsonschema::meta::is_valid(schema),
            "{name} is not a JSON Schema"
        );
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let text = d.to_string();
    assert!(
        !text.contains("#/$defs/"),
        "a $ref points outside the components"
    );
}

#[test]
fn routes_and_document_list_the_same_operations() {
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(routes.len(), ROUTES.len(), "ROUTES lists a route twice");
    let d = doc();
    let documented: BTreeSet<(String, String)> = operations(&d)
        .iter()
        .map(|(m, p, _, _)| (m.clone(), (*p).to_owned()))
        .collect();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "in ROUTES but not in openapi.json: {undocumented:?}; in openapi.json but not in ROUTES: \
         {unrouted:?}"
    );
}

#[test]
fn the_document_is_self_consistent() {
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
    assert!(refs.len() > 100, "{}", refs.len());
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

#[tokio::test]
async fn every_route_reaches_a_handler() {
    let t = TestMock::new().await;
    for (method, path) in ROUTES {
        let uri: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let (status, body) = t.control(method.clone(), &uri, None).await;
        assert_ne!(
            body["error"]["code"], "not_found",
            "{method} {path} is in ROUTES but not routed ({status})"
        );
    }
    // The check can fail: what the router does not know is `not_found` or `method_not_allowed`.
    let (status, body) = t.control(Method::GET, "/nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    for (method, uri) in [(Method::PUT, "/state"), (Method::DELETE, "/apps/1")] {
        let (status, body) = t.control(method.clone(), uri, None).await;
        assert_eq!(status, 405, "{method} {uri}");
        assert_eq!(
            body["error"]["code"], "method_not_allowed",
            "{method} {uri}"
        );
    }
}

/// One value of every error variant. A new variant breaks the `match` below: add it to the list
/// and to `ErrorCode`.
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
            expected: AppKind::OfficialAccount,
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
    let documented: BTreeSet<&str> = codes["oneOf"]
        .as_array()
        .expect("ErrorCode's values")
        .iter()
        .filter_map(|v| v["const"].as_str())
        .collect();
    assert_eq!(
        documented.len(),
        codes["x-http-status"].as_object().map_or(0, |s| s.len()),
        "one status per code"
    );
    let error = json!({"$ref": "#/components/schemas/Error"});
    let mut given = BTreeSet::new();
    for e in every_error() {
        let res = e.into_response();
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON");
        let wrong = problems(&d, &error, &body);
        assert!(wrong.is_empty(), "{body}: {wrong:?}");
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

#[tokio::test]
async fn the_bearer_token_is_documented() {
    let t = TestMock::with_config(Config {
        control_token: Some("t0ken".into()),
        ..Config::default()
    })
    .await;
    let d = doc();
    let api = Api::new(&t);
    let answer = api.expect("GET", "/state", None, 401).await;
    assert_eq!(answer["error"]["code"], "unauthorized");
    api.expect("POST", "/wx/login", Some(json!({"user": "a"})), 401)
        .await;
    let api = Api {
        token: Some("t0ken".into()),
        ..api
    };
    api.expect("GET", "/state", None, 200).await;
    let scheme = &d["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
}

#[tokio::test]
async fn an_answer_that_breaks_its_schema_fails() {
    let t = TestMock::new().await;
    let api = Api::new(&t);
    let grant = api
        .expect("POST", "/wx/login", Some(json!({"user": "bob"})), 200)
        .await;
    let login = json!({"$ref": "#/components/schemas/LoginGrant"});
    assert_eq!(problems(&api.doc, &login, &grant), Vec::<String>::new());
    let mut renamed = grant.clone();
    let code = renamed["code"].take();
    renamed["login_code"] = code;
    let mut retyped = grant.clone();
    retyped["mock"]["expires_at"] = json!("soon");
    let mut other_text = grant.clone();
    other_text["errMsg"] = json!("login:fail");
    for broken in [renamed, retyped, other_text] {
        assert!(
            !problems(&api.doc, &login, &broken).is_empty(),
            "{broken} passes as a LoginGrant"
        );
    }
}

/// The control plane and its document: every answer is checked against the documented response
/// for its method, path and status, and every accepted body against the documented request body.
pub struct Api<'a> {
    pub t: &'a TestMock,
    pub doc: Value,
    pub token: Option<String>,
}

impl<'a> Api<'a> {
    pub fn new(t: &'a TestMock) -> Self {
        Api {
            t,
            doc: doc(),
            token: None,
        }
    }

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

    async fn send(&self, method: &str, uri: &str, body: Option<&Value>) -> (u16, Value) {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .t
            .http
            .request(method.clone(), self.t.url(&format!("/__mock__{uri}")));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {uri}: the answer is not JSON ({e}): {text}"));
        (status, value)
    }

    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (u16, Value) {
        let (status, answer) = self.send(method, uri, body.as_ref()).await;
        let op = self.operation(method, uri);
        let mut res = &op["responses"][status.to_string()];
        if let Some(r) = res.get("$ref").and_then(Value::as_str) {
            res = lookup(&self.doc, r).expect("response $ref");
        }
        assert!(
            res.is_object(),
            "{method} {uri}: status {status} is not documented; answer {answer}"
        );
        let schema = &res["content"]["application/json"]["schema"];
        let wrong = problems(&self.doc, schema, &answer);
        assert!(
            wrong.is_empty(),
            "{method} {uri} -> {status}: the answer breaks its schema: {wrong:#?}\n{answer:#}"
        );
        if (200..300).contains(&status)
            && let Some(b) = &body
        {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let wrong = problems(&self.doc, schema, b);
            assert!(
                wrong.is_empty(),
                "{method} {uri}: the server accepted {b} but the document refuses it: {wrong:?}"
            );
        }
        (status, answer)
    }

    pub async fn expect(&self, method: &str, uri: &str, body: Option<Value>, want: u16) -> Value {
        let (status, answer) = self.call(method, uri, body).await;
        assert_eq!(status, want, "{method} {uri}: {answer}");
        answer
    }

    /// A body that both the server and the document refuse.
    pub async fn refused(&self, method: &str, uri: &str, body: Value) {
        let (status, answer) = self.call(method, uri, Some(body.clone())).await;
        assert_eq!(status, 400, "{method} {uri} {body}: {answer}");
        let schema =
            &self.operation(method, uri)["requestBody"]["content"]["application/json"]["schema"];
        assert!(
            !problems(&self.doc, schema, &body).is_empty(),
            "{method} {uri}: the server refuses {body} ({answer}) but the document accepts it"
        );
    }
}
