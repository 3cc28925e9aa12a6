//! One method per action: the simulated mini-program (`wx.*`), raw requests to the backend,
//! the mock's WeChat surface and control plane, the clock, faults and journal checks.

// A `Failure` is built at most once per scenario run; its size on the error path is
// irrelevant, and boxing it would only add noise to every step.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::checks::Reply;
use super::world::World;
use super::{Failure, default_method, fail};
use crate::scenario::{Action, HttpCall, JournalCheck, Repeat, Step, WxCall};

/// How often `journal.wait` reads the journal again.
const JOURNAL_POLL: Duration = Duration::from_millis(10);

/// A request about to be sent, and how it is shown in a failure.
pub(super) struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub json: Option<Value>,
    pub text: Option<String>,
}

impl Outgoing {
    pub fn new(method: Method, url: String) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            json: None,
            text: None,
        }
    }

    fn shown(&self) -> String {
        let mut s = format!("{} {}", self.method, self.url);
        for (k, v) in &self.headers {
            s.push_str(&format!("\n{k}: {v}"));
        }
        if let Some(j) = &self.json {
            s.push_str(&format!("\n\n{j}"));
        } else if let Some(t) = &self.text {
            s.push_str(&format!("\n\n{t}"));
        }
        s
    }
}

/// Adds the request and the answer to a failure.
pub(super) fn with_exchange(mut f: Failure, out: &Outgoing, reply: Option<&Reply>) -> Failure {
    f.request.get_or_insert_with(|| out.shown());
    if let Some(r) = reply {
        f.response
            .get_or_insert_with(|| format!("HTTP {}\n{}", r.status, r.text));
    }
    f
}

impl World {
    pub(super) fn expand(&self, v: &Value) -> Result<Value, Failure> {
        self.vars.expand(v).map_err(|e| fail(e.to_string()))
    }

    pub(super) fn expand_text(&self, s: &str) -> Result<String, Failure> {
        self.vars.expand_text(s).map_err(|e| fail(e.to_string()))
    }

    pub(super) async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let answer = self.control.raw(method.clone(), path, body.as_ref()).await;
        self.record_control(&method, path, body.as_ref(), &answer);
        answer.map_err(|e| fail(format!("mock {method} {path}: {e}")))
    }

    /// The appid of an app named in the scenario.
    pub(super) fn appid(&self, app: Option<&str>) -> Result<String, Failure> {
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
            Action::Whoami(c) => self.whoami(c).await,
            Action::Refresh(c) => self.refresh(c).await,
            Action::Logout(c) => self.session_action(c, "logout").await,
            Action::SessionCheck(c) => self.session_action(c, "session_check").await,
            Action::SubmitProfile(c) => self.submit_profile(c).await,
            Action::BindPhone(c) => self.bind_phone(c).await,
            Action::SmsSend(c) => self.sms_send(c).await,
            Action::SmsInbox(c) => self.sms_inbox(c).await,
            Action::LoginSms(c) => self.login_sms(c).await,
            Action::LoginPassword(c) => self.login_password(c).await,
            Action::Request(c) => {
                let base = self.target.base().to_owned();
                self.http_step(&base, c, true).await
            }
            Action::WeChat(c) => {
                let base = self.mock_url.clone();
                self.http_step(&base, c, false).await
            }
            Action::Mock(c) => {
                let mut c = c.clone();
                c.path = self.private_path(&self.expand_text(&c.path)?);
                if let Some(Value::String(u)) = c.query.get("user").cloned() {
                    c.query
                        .insert("user".into(), json!(self.handle(&self.expand_text(&u)?)));
                }
                // The journal as the scenario sees it: what came after its start.
                if c.path == "/journal" && !c.query.contains_key("since") {
                    c.query.insert("since".into(), json!(self.journal_since));
                }
                let base = format!("{}/__mock__", self.mock_url);
                self.http_step(&base, &c, false).await
            }
            Action::Clock(c) => {
                let body = match (&c.advance, &c.set) {
                    (Some(a), None) => json!({"advance": self.expand_text(a)?}),
                    (None, Some(s)) => json!({"set": self.expand(s)?}),
                    _ => return Err(fail("clock: give exactly one of `advance` or `set`")),
                };
                self.control(Method::POST, "/clock", Some(body)).await?;
                self.refresh_now().await
            }
            Action::Fault(spec) => {
                let mut spec = self.expand(spec)?;
                if let Some(u) = spec.get("user").and_then(Value::as_str) {
                    spec["user"] = json!(self.handle(u));
                }
                let rule = self.control(Method::POST, "/faults", Some(spec)).await?;
                if let Some(id) = rule["id"].as_u64() {
                    self.faults.push(id);
                }
                Ok(())
            }
            Action::ClearFaults(_) => {
                if self.shared_mock {
                    // Only this scenario's rules: others may have theirs.
                    for id in std::mem::take(&mut self.faults) {
                        let _ = self.control.remove_fault(id).await;
                    }
                    Ok(())
                } else {
                    self.faults.clear();
                    self.control(Method::DELETE, "/faults", None)
                        .await
                        .map(|_| ())
                }
            }
            Action::Journal(j) => self.journal(j).await,
            Action::Repeat(r) => self.repeat(r).await,
        }
    }

    /// A control-plane path with the scenario's user handles salted (`/users/alice`).
    fn private_path(&self, path: &str) -> String {
        match path.strip_prefix("/users/") {
            Some(rest) => {
                let (handle, tail) = rest.split_once('/').map_or((rest, ""), |(h, t)| (h, t));
                let sep = if tail.is_empty() { "" } else { "/" };
                format!("/users/{}{sep}{tail}", self.handle(handle))
            }
            None => path.to_owned(),
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

    pub(super) async fn wx(&mut self, c: &WxCall, api: &str) -> Result<(), Failure> {
        let user = self.expand_text(&c.user)?;
        let mut body = json!({"appid": self.appid(c.app.as_deref())?, "user": self.handle(&user)});
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

    async fn http_step(
        &mut self,
        base: &str,
        c: &HttpCall,
        to_target: bool,
    ) -> Result<(), Failure> {
        let method = c
            .method
            .clone()
            .unwrap_or_else(|| default_method(c).to_owned());
        let method = Method::from_bytes(method.to_uppercase().as_bytes())
            .map_err(|_| fail(format!("not an HTTP method: {method}")))?;
        let path = self.expand_text(&c.path)?;
        let mut out = Outgoing::new(method, format!("{base}{path}"));
        let mut query = Vec::new();
        for (k, v) in &c.query {
            let v = match self.expand(v)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            query.push((k.clone(), v));
        }
        add_query(&mut out.url, &query);
        for (k, v) in &c.headers {
            out.headers.push((k.clone(), self.expand_text(v)?));
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
            self.attach_token(&mut out, &token);
        }
        if let Some(j) = &c.json {
            out.json = Some(self.expand(j)?);
        } else if let Some(b) = &c.body {
            out.text = Some(self.expand_text(b)?);
        }
        let reply = self.send(&out, to_target).await?;
        if let Some(expect) = &c.expect {
            self.check_expect(expect, &reply, None)
                .map_err(|f| with_exchange(f, &out, Some(&reply)))?;
        }
        if !to_target && c.path.starts_with("/users/") {
            self.remember_keys(&reply.json());
        }
        let body = reply.json();
        for (name, path) in &c.save {
            let v = crate::matching::select_one(path, &body)
                .ok_or_else(|| fail(format!("save {name}: nothing at {path} in {}", reply.text)))?;
            self.vars.set(name, v);
        }
        Ok(())
    }

    /// Session keys a control-plane user view shows.
    fn remember_keys(&mut self, view: &Value) {
        for app in view["apps"].as_array().into_iter().flatten() {
            if let Some(k) = app["session_key"].as_str() {
                self.session_keys.insert(k.to_owned());
            }
        }
    }

    /// Puts the token where the profile says.
    pub(super) fn attach_token(&self, out: &mut Outgoing, token: &str) {
        match self.target.token_cookie() {
            Some(name) => out
                .headers
                .push(("cookie".into(), format!("{name}={token}"))),
            None => {
                let (header, prefix) = self.target.token_header();
                out.headers.push((header, format!("{prefix}{token}")));
            }
        }
    }

    /// Sends a request; for the system under test, checks the invariants.
    pub(super) async fn send(&self, out: &Outgoing, to_target: bool) -> Result<Reply, Failure> {
        let sent = self.transmit(out).await;
        self.record_send(out, to_target, &sent).await;
        let reply = sent?;
        if to_target {
            self.check_invariants(&reply)
                .map_err(|f| with_exchange(f, out, Some(&reply)))?;
        }
        Ok(reply)
    }

    /// Sends a request and reads the whole answer.
    async fn transmit(&self, out: &Outgoing) -> Result<Reply, Failure> {
        let mut req = self.http.request(out.method.clone(), &out.url);
        for (k, v) in &out.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(j) = &out.json {
            req = req.json(j);
        } else if let Some(t) = &out.text {
            req = req.body(t.clone());
        }
        let resp = req.send().await.map_err(|e| {
            with_exchange(
                fail(format!("the request failed: {}", e.without_url())),
                out,
                None,
            )
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| {
            with_exchange(
                fail(format!("reading the answer failed: {}", e.without_url())),
                out,
                None,
            )
        })?;
        let reply = Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        };
        Ok(reply)
    }

    /// The journal since the scenario started: on a shared mock, without other scenarios'
    /// users.
    async fn entries(&self, endpoint: Option<&str>) -> Result<Vec<Value>, Failure> {
        let mut q = format!("/journal?since={}", self.journal_since);
        if let Some(e) = endpoint {
            q.push_str(&format!("&endpoint={}", encode(e)));
        }
        let page = self.control(Method::GET, &q, None).await?;
        let mut entries = page["entries"].as_array().cloned().unwrap_or_default();
        if self.shared_mock {
            let suffix = format!("-{}", self.salt);
            entries.retain(|e| e["user"].as_str().is_none_or(|u| u.ends_with(&suffix)));
        }
        Ok(entries)
    }

    async fn journal(&self, j: &JournalCheck) -> Result<(), Failure> {
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
        let wait = match &j.wait {
            None => Duration::ZERO,
            Some(w) => {
                let text = self.expand(&json!(w))?;
                let text = text.as_str().unwrap_or_default();
                humantime::parse_duration(text).map_err(|e| {
                    fail(format!(
                        "journal.wait: {text:?} is not a duration ({e}); write it as \"2s\" or \"500ms\""
                    ))
                })?
            }
        };
        // A request is journaled when WeChat answers it: one the backend gave up on arrives
        // later, so with `wait` the journal is read again until the count is reached.
        let deadline = Instant::now() + wait;
        let entries = loop {
            let entries = self.entries(j.endpoint.as_deref()).await?;
            let reached = count.or(min).is_none_or(|c| entries.len() >= c);
            if reached || Instant::now() >= deadline {
                break entries;
            }
            tokio::time::sleep(JOURNAL_POLL).await;
        };
        let n = entries.len();
        if count.is_some_and(|c| c != n) || min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m)
        {
            return Err(fail(format!(
                "expected {} {what} requests since the scenario started, the mock received {n}{}",
                match (count, min, max) {
                    (Some(c), _, _) => c.to_string(),
                    (_, Some(a), Some(b)) => format!("{a} to {b}"),
                    (_, Some(a), None) => format!("at least {a}"),
                    (_, None, Some(b)) => format!("at most {b}"),
                    _ => String::new(),
                },
                if wait.is_zero() {
                    String::new()
                } else {
                    format!(" (waited {})", humantime::format_duration(wait))
                }
            )));
        }
        for (i, e) in entries.iter().enumerate() {
            let nth = i + 1;
            for (k, want) in &j.query {
                let want = match self.expand(want)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let got = e["params"].get(k).and_then(Value::as_str);
                if got != Some(want.as_str()) {
                    return Err(fail(format!(
                        "request {nth} of the scenario to {}: query {k} was {got:?}, expected {want:?}",
                        e["path"]
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
                        "request {nth} of the scenario to {}: answered errcode {got}, expected {code}",
                        e["path"]
                    )));
                }
            }
        }
        Ok(())
    }

    /// The scenario's part of the journal as lines, for failure reports (at most the last
    /// 20), numbered from the scenario's start.
    pub(super) async fn journal_lines(&self) -> Vec<String> {
        let Ok(entries) = self.entries(None).await else {
            return Vec::new();
        };
        let skip = entries.len().saturating_sub(20);
        entries
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, e)| {
                format!(
                    "#{} {} {} {} -> {} errcode={}{}",
                    i + 1,
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

/// Appends query parameters, percent-encoded.
pub(super) fn add_query(url: &mut String, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let q = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&q);
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
