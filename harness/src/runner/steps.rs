//! The world a scenario runs in, and one method per action.

// A `Failure` is built at most once per scenario run; its size on the error path is
// irrelevant, and boxing it would only add noise to every step.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use login_core::LoginCoreHandle;
use mock_server::MockHandle;

use super::{Failure, RunOptions, default_method, initial_vars, start_secs};
use crate::context::{start_core, start_mock};
use crate::matching::{check_path, contains, diff, project};
use crate::scenario::generate::Inputs;
use crate::scenario::vars::Vars;
use crate::scenario::{
    Action, Expect, HttpCall, JournalCheck, LoginCall, Repeat, Scenario, Step, WxCall,
};
use crate::target::TargetProfile;

/// A failure with only a message (the runner fills in the step).
fn fail(message: impl Into<String>) -> Failure {
    Failure {
        step: 0,
        label: String::new(),
        message: message.into(),
        request: None,
        diff: None,
        response: None,
        journal: Vec::new(),
    }
}

/// An HTTP answer.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// Mock, backend, variables.
pub(super) struct World {
    /// The in-process mock, when there is one.
    _mock: Option<MockHandle>,
    /// The embedded backend, when there is one.
    _core: Option<LoginCoreHandle>,
    mock_url: String,
    target: TargetProfile,
    http: reqwest::Client,
    vars: Vars,
    /// Every session_key the mock handed out: none may appear in a backend's answer.
    session_keys: BTreeSet<String>,
}

impl World {
    pub(super) async fn build(
        scenario: &Scenario,
        seed: &str,
        options: &RunOptions,
        inputs: &Inputs,
    ) -> Result<Self, String> {
        // Generated inputs may appear in the setup too (a user's nickname, say).
        let mut given = Vars::default();
        for (k, v) in inputs {
            given.set(k, v.clone());
        }
        let expand = |v: &Value| given.expand(v).map_err(|e| format!("setup: {e}"));
        let setup = &scenario.setup;
        let setup_mock = setup.mock.as_ref().map(expand).transpose()?;
        let setup_backend = setup.backend.as_ref().map(expand).transpose()?;
        let setup_users = setup
            .users
            .iter()
            .map(expand)
            .collect::<Result<Vec<_>, _>>()?;
        let start = start_secs(setup.clock.as_ref())?;
        let http = reqwest::Client::new();
        let (mock, mock_url) = match &options.mock_url {
            Some(url) => {
                let url = url.trim_end_matches('/').to_owned();
                control(&http, &url, Method::POST, "/reset", Some(json!({}))).await?;
                control(
                    &http,
                    &url,
                    Method::POST,
                    "/clock",
                    Some(json!({"set": start, "freeze": true})),
                )
                .await?;
                (None, url)
            }
            None => {
                let m = start_mock(seed, start).await.map_err(|e| e.to_string())?;
                let url = m.base_url();
                (Some(m), url)
            }
        };
        if let Some(opts) = &setup_mock {
            control(
                &http,
                &mock_url,
                Method::PATCH,
                "/options",
                Some(opts.clone()),
            )
            .await?;
        }
        // The target's own app becomes the mock's app named `default`.
        let mut apps: Vec<(String, Value)> = Vec::new();
        let default_app = match options.target.as_ref().and_then(|t| t.app.as_ref()) {
            Some(app) => {
                // The app may exist already (the mock's own default app, say): then align it.
                let state = control(&http, &mock_url, Method::GET, "/state", None).await?;
                let known = state["apps"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["appid"] == app.appid.as_str()));
                if known {
                    let mut patch = json!({"secret": app.secret});
                    if let Some(p) = &app.open_platform {
                        patch["open_platform"] = json!(p);
                    }
                    control(
                        &http,
                        &mock_url,
                        Method::PATCH,
                        &format!("/apps/{}", app.appid),
                        Some(patch),
                    )
                    .await?
                } else {
                    control(
                        &http,
                        &mock_url,
                        Method::POST,
                        "/apps",
                        Some(json!({"appid": app.appid, "secret": app.secret, "open_platform": app.open_platform})),
                    )
                    .await?
                }
            }
            None => {
                let state = control(&http, &mock_url, Method::GET, "/state", None).await?;
                state["apps"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["default"] == true).cloned())
                    .ok_or("the mock has no default app")?
            }
        };
        apps.push(("default".into(), default_app));
        for app in &setup.apps {
            let body = json!({
                "appid": app.appid, "secret": app.secret,
                "open_platform": app.open_platform, "profile_era": app.profile_era,
            });
            let created = if app.name == "default" {
                let appid = apps[0].1["appid"].as_str().unwrap_or_default().to_owned();
                let mut patch = body;
                if let Value::Object(m) = &mut patch {
                    m.retain(|k, v| !v.is_null() && k != "appid");
                }
                control(
                    &http,
                    &mock_url,
                    Method::PATCH,
                    &format!("/apps/{appid}"),
                    Some(patch),
                )
                .await?
            } else {
                control(&http, &mock_url, Method::POST, "/apps", Some(body)).await?
            };
            match apps.iter_mut().find(|(n, _)| *n == app.name) {
                Some(slot) => slot.1 = created,
                None => apps.push((app.name.clone(), created)),
            }
        }
        for user in &setup_users {
            control(&http, &mock_url, Method::POST, "/users", Some(user.clone())).await?;
        }
        let (core, target) = match &options.target {
            Some(t) => (None, t.clone()),
            None => {
                let Some(m) = &mock else {
                    return Err("the embedded backend needs the in-process mock (drop --mock or give --target)".into());
                };
                let core = start_core(m, setup_backend.as_ref())
                    .await
                    .map_err(|e| e.to_string())?;
                let profile = TargetProfile::login_core(core.base_url());
                (Some(core), profile)
            }
        };
        let mut world = Self {
            _mock: mock,
            _core: core,
            mock_url,
            target,
            http,
            vars: {
                let mut vars = initial_vars(&apps);
                for (k, v) in inputs {
                    vars.set(k, v.clone());
                }
                vars
            },
            session_keys: BTreeSet::new(),
        };
        world.refresh_now().await?;
        Ok(world)
    }

    async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        control(&self.http, &self.mock_url, method, path, body)
            .await
            .map_err(fail)
    }

    async fn refresh_now(&mut self) -> Result<(), String> {
        let clock = control(&self.http, &self.mock_url, Method::GET, "/clock", None).await?;
        let ms = clock["now_ms"].as_i64().unwrap_or(0);
        self.vars.set("now", json!(ms.div_euclid(1000)));
        self.vars.set("now_ms", json!(ms));
        Ok(())
    }

    fn expand(&self, v: &Value) -> Result<Value, Failure> {
        self.vars.expand(v).map_err(|e| fail(e.to_string()))
    }

    fn expand_text(&self, s: &str) -> Result<String, Failure> {
        self.vars.expand_text(s).map_err(|e| fail(e.to_string()))
    }

    /// The appid of an app named in the scenario.
    fn appid(&self, app: Option<&str>) -> Result<String, Failure> {
        let name = app.unwrap_or("default");
        self.vars
            .get(&format!("apps.{name}.appid"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail(format!("no app named `{name}` in setup.apps")))
    }

    pub(super) async fn run(&mut self, step: &Step) -> Result<(), Failure> {
        match &step.action {
            Action::WxLogin(c) => self.wx(c, "login").await,
            Action::WxGetPhoneNumber(c) => self.wx(c, "getPhoneNumber").await,
            Action::WxGetUserInfo(c) => self.wx(c, "getUserInfo").await,
            Action::WxGetUserProfile(c) => self.wx(c, "getUserProfile").await,
            Action::WxGetShareInfo(c) => self.wx(c, "getShareInfo").await,
            Action::WxGetWeRunData(c) => self.wx(c, "getWeRunData").await,
            Action::Login(c) => self.login(c).await,
            Action::Request(c) => {
                let base = self.target.base_url.clone();
                self.http_step(&base, c, true).await
            }
            Action::WeChat(c) => {
                let base = self.mock_url.clone();
                self.http_step(&base, c, false).await
            }
            Action::Mock(c) => {
                let base = format!("{}/__mock__", self.mock_url);
                self.http_step(&base, c, false).await
            }
            Action::Clock(c) => {
                let body = match (&c.advance, &c.set) {
                    (Some(a), None) => json!({"advance": self.expand_text(a)?}),
                    (None, Some(s)) => json!({"set": self.expand(s)?}),
                    _ => return Err(fail("clock: give exactly one of `advance` or `set`")),
                };
                self.control(Method::POST, "/clock", Some(body)).await?;
                self.refresh_now().await.map_err(fail)
            }
            Action::Fault(spec) => {
                let spec = self.expand(spec)?;
                self.control(Method::POST, "/faults", Some(spec))
                    .await
                    .map(|_| ())
            }
            Action::ClearFaults(_) => self
                .control(Method::DELETE, "/faults", None)
                .await
                .map(|_| ()),
            Action::Journal(j) => self.journal(j).await,
            Action::Repeat(r) => self.repeat(r).await,
        }
    }

    async fn repeat(&mut self, r: &Repeat) -> Result<(), Failure> {
        let times = match self.expand(&r.times)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| fail(format!("repeat.times: {} is not a whole number", r.times)))?;
        for round in 1..=times {
            if let Some(v) = &r.var {
                self.vars.set(v, json!(round));
            }
            for (i, step) in r.steps.iter().enumerate() {
                Box::pin(self.run(step)).await.map_err(|mut f| {
                    f.message = format!(
                        "round {round} of {times}, step {} ({}): {}",
                        i + 1,
                        super::label(step),
                        f.message
                    );
                    f
                })?;
            }
        }
        Ok(())
    }

    async fn wx(&mut self, c: &WxCall, api: &str) -> Result<(), Failure> {
        let mut body =
            json!({"appid": self.appid(c.app.as_deref())?, "user": self.expand_text(&c.user)?});
        for (k, v) in [("era", &c.era), ("tamper", &c.tamper), ("group", &c.group)] {
            if let Some(v) = v {
                body[k] = json!(self.expand_text(v)?);
            }
        }
        if let Some(steps) = &c.steps {
            body["steps"] = json!(steps);
        }
        let answer = self
            .control(Method::POST, &format!("/wx/{api}"), Some(body))
            .await?;
        if let Some(k) = answer.pointer("/mock/session_key").and_then(Value::as_str) {
            self.session_keys.insert(k.to_owned());
        }
        self.vars.set(c.save.as_deref().unwrap_or(api), answer);
        Ok(())
    }

    async fn login(&mut self, c: &LoginCall) -> Result<(), Failure> {
        let wx = WxCall {
            user: c.user.clone(),
            app: c.app.clone(),
            save: Some("__login".into()),
            era: None,
            tamper: None,
            group: None,
            steps: None,
        };
        self.wx(&wx, "login").await?;
        let code = self
            .vars
            .get("__login.code")
            .cloned()
            .unwrap_or(Value::Null);
        let mut body = json!({ self.target.login.code_field.clone(): code });
        if let (Some(_), Some(field)) = (&c.app, &self.target.login.appid_field) {
            body[field] = json!(self.appid(c.app.as_deref())?);
        }
        let call = HttpCall {
            method: Some("POST".into()),
            path: self.target.login.path.clone(),
            query: Default::default(),
            headers: Default::default(),
            json: Some(body),
            body: None,
            auth: None,
            expect: Some(c.expect.clone().unwrap_or(Expect {
                status: Some(200),
                ..Expect::default()
            })),
            save: Default::default(),
        };
        let base = self.target.base_url.clone();
        let reply = self.send(&base, &call, true).await?;
        let mut saved = reply.json();
        if reply.status == 200 {
            let token = crate::matching::select_one(&self.target.login.token_path, &saved);
            if let (Some(t), Value::Object(m)) = (token, &mut saved) {
                m.insert("token".into(), t);
            }
        }
        self.vars.set(c.save.as_deref().unwrap_or(&c.user), saved);
        Ok(())
    }

    async fn http_step(
        &mut self,
        base: &str,
        c: &HttpCall,
        to_target: bool,
    ) -> Result<(), Failure> {
        let reply = self.send(base, c, to_target).await?;
        let body = reply.json();
        for (name, path) in &c.save {
            let v = crate::matching::select_one(path, &body)
                .ok_or_else(|| fail(format!("save {name}: nothing at {path} in {}", reply.text)))?;
            self.vars.set(name, v);
        }
        Ok(())
    }

    /// Sends a request, checks the invariants and the expectations.
    async fn send(&mut self, base: &str, c: &HttpCall, to_target: bool) -> Result<Reply, Failure> {
        let method = c
            .method
            .clone()
            .unwrap_or_else(|| default_method(c).to_owned());
        let method = Method::from_bytes(method.to_uppercase().as_bytes())
            .map_err(|_| fail(format!("not an HTTP method: {method}")))?;
        let path = self.expand_text(&c.path)?;
        let mut url = format!("{base}{path}");
        if !c.query.is_empty() {
            let mut pairs = Vec::new();
            for (k, v) in &c.query {
                let v = match self.expand(v)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                pairs.push((k.clone(), v));
            }
            let q = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&q);
        }
        let mut req = self.http.request(method.clone(), &url);
        let mut shown = format!("{method} {url}");
        for (k, v) in &c.headers {
            let v = self.expand_text(v)?;
            shown.push_str(&format!("\n{k}: {v}"));
            req = req.header(k.as_str(), v);
        }
        if let Some(auth) = &c.auth {
            let token = match self
                .vars
                .get(auth)
                .or_else(|| self.vars.get(&format!("{auth}.token")))
            {
                Some(Value::Object(m)) => m
                    .get("token")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                Some(Value::String(s)) => s.clone(),
                _ => self.expand_text(auth)?,
            };
            let value = format!("{}{token}", self.target.token.prefix);
            shown.push_str(&format!("\n{}: {value}", self.target.token.header));
            req = req.header(self.target.token.header.as_str(), value);
        }
        if let Some(j) = &c.json {
            let j = self.expand(j)?;
            shown.push_str(&format!("\n\n{j}"));
            req = req.json(&j);
        } else if let Some(b) = &c.body {
            let b = self.expand_text(b)?;
            shown.push_str(&format!("\n\n{b}"));
            req = req.body(b);
        }
        let with_request = |mut f: Failure| {
            f.request = Some(shown.clone());
            f
        };
        let resp = req
            .send()
            .await
            .map_err(|e| with_request(fail(format!("the request failed: {}", e.without_url()))))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| {
            with_request(fail(format!(
                "reading the answer failed: {}",
                e.without_url()
            )))
        })?;
        let reply = Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        };
        let with_reply = |f: Failure| {
            let mut f = with_request(f);
            f.response = Some(format!("HTTP {}\n{}", reply.status, reply.text));
            f
        };
        if to_target {
            self.check_invariants(&reply).map_err(with_reply)?;
        }
        if let Some(expect) = &c.expect {
            self.check_expect(expect, &reply).map_err(with_reply)?;
        }
        Ok(reply)
    }

    /// What must hold for every answer of the system under test.
    fn check_invariants(&self, reply: &Reply) -> Result<(), Failure> {
        if let Some(k) = self
            .session_keys
            .iter()
            .find(|k| reply.text.contains(k.as_str()))
        {
            return Err(fail(format!(
                "invariant broken: the answer contains a session_key the mock issued ({}...)",
                &k[..k.len().min(6)]
            )));
        }
        if has_key(&reply.json(), &["session_key", "sessionKey", "session-key"]) {
            return Err(fail(
                "invariant broken: the answer has a `session_key` field",
            ));
        }
        Ok(())
    }

    fn check_expect(&self, expect: &Expect, reply: &Reply) -> Result<(), Failure> {
        if let Some(s) = expect.status {
            if s != reply.status {
                return Err(fail(format!("expected status {s}, got {}", reply.status)));
            }
        }
        for (name, want) in &expect.headers {
            let want = self.expand_text(want)?;
            let got = reply
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok());
            if got != Some(want.as_str()) {
                return Err(fail(format!(
                    "header {name}: expected {want:?}, got {got:?}"
                )));
            }
        }
        if let Some(b) = &expect.body {
            let b = self.expand_text(b)?;
            if b != reply.text {
                let mut f = fail("the body differs");
                f.diff = Some(
                    similar::TextDiff::from_lines(&b, &reply.text)
                        .unified_diff()
                        .header("expected", "actual")
                        .to_string(),
                );
                return Err(f);
            }
        }
        let body = reply.json();
        if let Some(want) = &expect.json {
            let want = self.expand(want)?;
            if let Err(m) = contains(&want, &body) {
                let mut f = fail(format!("the JSON differs {m}"));
                f.diff = Some(diff(&want, &project(&want, &body)));
                return Err(f);
            }
        }
        for check in &expect.paths {
            let mut check = check.clone();
            check.path = self.expand_text(&check.path)?;
            if let Some(m) = &check.matches {
                check.matches = Some(self.expand_text(m)?);
            }
            for v in [&mut check.equals, &mut check.not_equals]
                .into_iter()
                .flatten()
            {
                *v = self.expand(v)?;
            }
            check_path(&check, &body).map_err(|m| fail(m.to_string()))?;
        }
        Ok(())
    }

    async fn journal(&self, j: &JournalCheck) -> Result<(), Failure> {
        let path = match &j.endpoint {
            Some(e) => format!("/journal?endpoint={}", encode(e)),
            None => "/journal".into(),
        };
        let page = self.control(Method::GET, &path, None).await?;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        // Control-plane calls are not journaled; only WeChat requests are.
        let n = entries.len();
        let what = j.endpoint.as_deref().unwrap_or("WeChat");
        let number = |field: &str, v: &Option<Value>| -> Result<Option<usize>, Failure> {
            v.as_ref()
                .map(|v| {
                    let v = self.expand(v)?;
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| fail(format!("journal.{field}: {v} is not a count")))
                })
                .transpose()
        };
        let (count, min, max) = (
            number("count", &j.count)?,
            number("min", &j.min)?,
            number("max", &j.max)?,
        );
        if count.is_some_and(|c| c != n) || min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m)
        {
            return Err(fail(format!(
                "expected {} {what} requests, the mock received {n}",
                match (count, min, max) {
                    (Some(c), _, _) => c.to_string(),
                    (_, Some(a), Some(b)) => format!("{a} to {b}"),
                    (_, Some(a), None) => format!("at least {a}"),
                    (_, None, Some(b)) => format!("at most {b}"),
                    _ => String::new(),
                }
            )));
        }
        for e in &entries {
            for (k, want) in &j.query {
                let want = match self.expand(want)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let got = e["params"].get(k).and_then(Value::as_str);
                if got != Some(want.as_str()) {
                    return Err(fail(format!(
                        "request #{} to {}: query {k} was {got:?}, expected {want:?}",
                        e["seq"], e["path"]
                    )));
                }
            }
            if let Some(code) = j.errcode {
                // A success body has no errcode; a cut connection or a garbled body has none
                // either, and must not pass for a success.
                let got = match e["errcode"].as_i64() {
                    Some(c) => Some(c),
                    None if e["status"] == 200 && e["fault"].is_null() => Some(0),
                    None => None,
                };
                if got != Some(code) {
                    let got = got.map_or_else(
                        || format!("no errcode (HTTP {}, {})", e["status"], e["fault"]),
                        |c| c.to_string(),
                    );
                    return Err(fail(format!(
                        "request #{} to {}: answered errcode {got}, expected {code}",
                        e["seq"], e["path"]
                    )));
                }
            }
        }
        Ok(())
    }

    /// The mock's journal as lines, for failure reports (at most the last 20).
    pub(super) async fn journal_lines(&self) -> Vec<String> {
        let Ok(page) = control(&self.http, &self.mock_url, Method::GET, "/journal", None).await
        else {
            return Vec::new();
        };
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        let skip = entries.len().saturating_sub(20);
        entries
            .iter()
            .skip(skip)
            .map(|e| {
                format!(
                    "#{} {} {} {} -> {} errcode={}{}",
                    e["seq"],
                    e["time"].as_str().unwrap_or(""),
                    e["method"].as_str().unwrap_or(""),
                    e["path"].as_str().unwrap_or(""),
                    e["status"],
                    e["errcode"].as_i64().map_or("-".into(), |c| c.to_string()),
                    e["fault"]
                        .as_str()
                        .map_or(String::new(), |f| format!(" ({f})")),
                )
            })
            .collect()
    }
}

fn has_key(v: &Value, names: &[&str]) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| names.contains(&k.as_str()) || has_key(v, names)),
        Value::Array(a) => a.iter().any(|v| has_key(v, names)),
        _ => false,
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A control-plane call; errors carry the control plane's message.
async fn control(
    http: &reqwest::Client,
    mock_url: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut req = http.request(method.clone(), format!("{mock_url}/__mock__{path}"));
    if let Some(b) = &body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("mock {method} {path}: {e}"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("mock {method} {path}: {e}"))?;
    if !status.is_success() {
        return Err(format!("mock {method} {path} refused ({status}): {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}
