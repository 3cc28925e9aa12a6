//! What a scenario said and heard, step by step, for reports that draw it (`--html`): every
//! request the runner sent (to the backend, the mock's WeChat surface or its control plane)
//! with its answer, and the WeChat calls the backend made meanwhile, read from the mock's
//! journal after each of its answers. Recorded only when [`super::RunOptions::record`] asks
//! for it; secrets (session_keys in any encoding, AppSecrets) are redacted before the trace
//! leaves the runner.

use std::sync::{Mutex, PoisonError};

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

use super::checks::{Reply, encodings};
use super::steps::Outgoing;
use super::world::World;
use super::{Failure, Outcome};
use crate::scenario::Step;

/// Exchanges kept per step; the rest are counted (a `repeat` may send hundreds).
const MAX_EXCHANGES: usize = 60;
/// WeChat calls kept per exchange.
const MAX_CALLS: usize = 20;
/// A body longer than this is cut (and says so).
const MAX_BODY: usize = 24 * 1024;
/// What a redacted secret is replaced with.
const REDACTED: &str = "«redacted»";
/// Fields whose values are secrets, wherever they appear.
const SECRET_FIELDS: &[&str] = &[
    "session_key",
    "sessionKey",
    "session-key",
    "secret",
    "appsecret",
];

/// A lifeline of the sequence diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The simulated mini-program (and the runner acting beside it).
    App,
    /// The backend under test.
    Backend,
    /// The mock playing WeChat.
    WeChat,
}

/// One request and its answer.
#[derive(Clone, Debug, Serialize)]
pub struct Exchange {
    /// Who sent it.
    pub from: Party,
    /// Who answered.
    pub to: Party,
    /// Sent by the runner itself (the mock's control plane, a direct WeChat call), not by
    /// the mini-program or the backend.
    pub harness: bool,
    /// HTTP method.
    pub method: String,
    /// Path and query, without the host.
    pub path: String,
    /// HTTP status; none when no answer came.
    pub status: Option<u16>,
    /// What the answer says beyond its status: `errcode 40029`, an error code, a fault.
    pub detail: Option<String>,
    /// The request as sent: request line, headers, body (JSON pretty-printed).
    pub request: String,
    /// The answer: status line, headers, body; or why there was none.
    pub response: String,
    /// The WeChat calls the backend made while answering (from the mock's journal).
    pub calls: Vec<Exchange>,
    /// Calls left out past the cap.
    pub calls_omitted: usize,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It passed.
    Passed,
    /// It failed: the scenario stopped here.
    Failed,
    /// An earlier step failed.
    NotRun,
}

/// One step of the scenario.
#[derive(Clone, Debug, Serialize)]
pub struct StepTrace {
    /// 1-based.
    pub number: usize,
    /// The action's name in the file (`wx.login`, `request`, ...).
    pub action: String,
    /// The step's label.
    pub label: String,
    /// How it ended.
    pub status: StepStatus,
    /// What was sent and answered, in order.
    pub exchanges: Vec<Exchange>,
    /// WeChat calls journaled during the step but after the backend's last answer (calls it
    /// gave up on arrive late).
    pub late_calls: Vec<Exchange>,
    /// Exchanges left out past the cap.
    pub omitted: usize,
}

/// A scenario run as it happened.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    /// Every step of the file, run or not.
    pub steps: Vec<StepTrace>,
    /// The failure (if any) with its secrets redacted, for reports that show it whole.
    pub failure: Option<Failure>,
}

/// The recording in progress, inside the world.
#[derive(Debug, Default)]
pub(super) struct Recorder {
    steps: Vec<StepTrace>,
    current: Vec<Exchange>,
    late: Vec<Exchange>,
    omitted: usize,
    /// The journal has been read up to this sequence number.
    cursor: u64,
}

impl Recorder {
    pub(super) fn new(cursor: u64) -> Mutex<Self> {
        Mutex::new(Self {
            cursor,
            ..Self::default()
        })
    }

    fn push(&mut self, x: Exchange) {
        if self.current.len() < MAX_EXCHANGES {
            self.current.push(x);
        } else {
            self.omitted += 1;
        }
    }
}

/// The action's name as the file writes it.
fn action_name(step: &Step) -> String {
    match serde_json::to_value(&step.action) {
        Ok(Value::Object(m)) => m.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

impl World {
    fn recorder(&self) -> Option<std::sync::MutexGuard<'_, Recorder>> {
        self.trace
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records a request the runner sent (`send`), with the WeChat calls it caused.
    pub(super) async fn record_send(
        &self,
        out: &Outgoing,
        to_target: bool,
        sent: &Result<Reply, Failure>,
    ) {
        if self.trace.is_none() {
            return;
        }
        let control = format!("{}/__mock__", self.mock_url);
        let (to, harness) = if to_target {
            (Party::Backend, false)
        } else {
            (Party::WeChat, true)
        };
        let base = if to_target {
            self.target.base().to_owned()
        } else if out.url.starts_with(&control) {
            control.clone()
        } else {
            self.mock_url.clone()
        };
        let path = out.url.strip_prefix(&base).unwrap_or(&out.url).to_owned();
        let shown_path = if base == control {
            format!("/__mock__{path}")
        } else {
            path.clone()
        };
        let mut x = Exchange {
            from: Party::App,
            to,
            harness,
            method: out.method.to_string(),
            path: shown_path,
            status: None,
            detail: None,
            request: request_text(out),
            response: String::new(),
            calls: Vec::new(),
            calls_omitted: 0,
        };
        match sent {
            Ok(reply) => {
                x.status = Some(reply.status);
                x.detail = detail(&reply.json());
                x.response = response_text(reply);
            }
            Err(f) => {
                x.detail = Some("no answer".into());
                x.response = f.message.clone();
            }
        }
        let direct_wechat = !to_target && base != control;
        if to_target || direct_wechat {
            let mut calls = self.journal_calls().await;
            if direct_wechat {
                // The runner's own call is in the journal too: it is this exchange.
                let bare = path.split('?').next().unwrap_or_default();
                if let Some(i) = calls
                    .iter()
                    .position(|c| c.path.split('?').next() == Some(bare))
                {
                    calls.remove(i);
                }
                if let Some(mut r) = self.recorder() {
                    r.late.extend(calls);
                }
            } else {
                x.calls_omitted = calls.len().saturating_sub(MAX_CALLS);
                calls.truncate(MAX_CALLS);
                x.calls = calls;
            }
        }
        if let Some(mut r) = self.recorder() {
            r.push(x);
        }
    }

    /// Records a control-plane call (`control`): the mini-program's `wx.*` APIs, or the
    /// runner setting the mock up.
    pub(super) fn record_control(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        answer: &Result<Value, mock_server::ClientError>,
    ) {
        let Some(mut r) = self.recorder() else {
            return;
        };
        let mut request = format!("{method} /__mock__{path}");
        if let Some(b) = body {
            request.push_str("\n\n");
            request.push_str(&pretty(b));
        }
        let (status, detail, response) = match answer {
            Ok(v) => (Some(200), None, format!("HTTP 200\n\n{}", pretty(v))),
            Err(mock_server::ClientError::Api {
                status,
                code,
                message,
            }) => (
                Some(*status),
                Some(code.clone()),
                format!("HTTP {status}\n\n{code}: {message}"),
            ),
            Err(e) => (None, Some("no answer".into()), e.to_string()),
        };
        r.push(Exchange {
            from: Party::App,
            to: Party::WeChat,
            harness: !path.starts_with("/wx/"),
            method: method.to_string(),
            path: format!("/__mock__{path}"),
            status,
            detail,
            request,
            response,
            calls: Vec::new(),
            calls_omitted: 0,
        });
    }

    /// The WeChat calls journaled since the last read (this scenario's, on a shared mock).
    async fn journal_calls(&self) -> Vec<Exchange> {
        let Some(since) = self.recorder().map(|r| r.cursor) else {
            return Vec::new();
        };
        let Ok(page) = self
            .control
            .raw(Method::GET, &format!("/journal?since={since}"), None)
            .await
        else {
            return Vec::new();
        };
        if let Some(mut r) = self.recorder() {
            r.cursor = r.cursor.max(page["last_seq"].as_u64().unwrap_or(since));
        }
        let suffix = format!("-{}", self.salt);
        page["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| {
                !self.shared_mock || e["user"].as_str().is_none_or(|u| u.ends_with(&suffix))
            })
            .map(journal_exchange)
            .collect()
    }

    /// Closes a step: the WeChat calls that arrived after its last answer, and its status.
    pub(super) async fn record_step(&self, number: usize, step: &Step, passed: bool) {
        if self.trace.is_none() {
            return;
        }
        let late = self.journal_calls().await;
        let Some(mut r) = self.recorder() else {
            return;
        };
        let mut late_calls = std::mem::take(&mut r.late);
        late_calls.extend(late);
        let omitted = std::mem::take(&mut r.omitted) + late_calls.len().saturating_sub(MAX_CALLS);
        late_calls.truncate(MAX_CALLS);
        let exchanges = std::mem::take(&mut r.current);
        r.steps.push(StepTrace {
            number,
            action: action_name(step),
            label: super::label(step),
            status: if passed {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            },
            exchanges,
            late_calls,
            omitted,
        });
    }

    /// The finished trace, every secret the scenario met redacted; the steps after a failure
    /// are listed as not run.
    pub(super) fn take_trace(&mut self, steps: &[Step], outcome: &Outcome) -> Option<Trace> {
        let recorder = self.trace.take()?;
        let recorder = recorder
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut trace = Trace {
            steps: recorder.steps,
            failure: match outcome {
                Outcome::Failed(f) => Some(f.clone()),
                _ => None,
            },
        };
        for (i, step) in steps.iter().enumerate().skip(trace.steps.len()) {
            trace.steps.push(StepTrace {
                number: i + 1,
                action: action_name(step),
                label: super::label(step),
                status: StepStatus::NotRun,
                exchanges: Vec::new(),
                late_calls: Vec::new(),
                omitted: 0,
            });
        }
        let forms: Vec<String> = self
            .session_keys
            .iter()
            .flat_map(|k| encodings(k))
            .filter(|f| f.len() >= 8)
            .collect();
        let clean = |s: &mut String| *s = redact(s, &forms);
        for step in &mut trace.steps {
            for x in step.exchanges.iter_mut().chain(step.late_calls.iter_mut()) {
                redact_exchange(x, &clean);
            }
        }
        if let Some(f) = &mut trace.failure {
            for s in [&mut f.request, &mut f.diff, &mut f.response]
                .into_iter()
                .flatten()
            {
                clean(s);
            }
            clean(&mut f.message);
            f.journal.iter_mut().for_each(clean);
        }
        Some(trace)
    }
}

fn redact_exchange(x: &mut Exchange, clean: &impl Fn(&mut String)) {
    clean(&mut x.request);
    clean(&mut x.response);
    clean(&mut x.path);
    for c in &mut x.calls {
        redact_exchange(c, clean);
    }
}

/// A journal entry as a backend-to-WeChat exchange.
fn journal_exchange(e: &Value) -> Exchange {
    let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
    let query = text("query");
    let path = if query.is_empty() {
        text("path")
    } else {
        format!("{}?{query}", text("path"))
    };
    let status = e["status"].as_u64().and_then(|s| u16::try_from(s).ok());
    let mut detail = match (e["errcode"].as_i64(), e["tencent_code"].as_str()) {
        (_, Some(code)) => Some(code.to_owned()),
        (Some(code), _) => Some(format!("errcode {code}")),
        _ => None,
    };
    if let Some(fault) = e["fault"].as_str() {
        detail = Some(match detail {
            Some(d) => format!("{d}, {fault}"),
            None => fault.to_owned(),
        });
    }
    let mut request = format!("{} {path}", text("method"));
    if let Some(Value::Object(h)) = e.get("headers") {
        for (k, v) in h {
            request.push_str(&format!("\n{k}: {}", v.as_str().unwrap_or_default()));
        }
    }
    let body = text("body");
    if !body.is_empty() {
        request.push_str("\n\n");
        request.push_str(&body_text(&body));
    }
    let response = match status {
        Some(0) | None => "no answer: the connection was cut".to_owned(),
        Some(s) => format!("HTTP {s}\n\n{}", body_text(&text("response"))),
    };
    Exchange {
        from: Party::Backend,
        to: Party::WeChat,
        harness: false,
        method: text("method"),
        path,
        status: status.filter(|s| *s != 0),
        detail,
        request,
        response,
        calls: Vec::new(),
        calls_omitted: 0,
    }
}

/// `errcode N` or the error code an answer carries, if any.
fn detail(body: &Value) -> Option<String> {
    if let Some(code) = body["errcode"].as_i64().filter(|c| *c != 0) {
        return Some(format!("errcode {code}"));
    }
    ["/error/code", "/error", "/code"]
        .iter()
        .find_map(|p| body.pointer(p).and_then(Value::as_str))
        .map(str::to_owned)
}

fn request_text(out: &Outgoing) -> String {
    let mut s = format!("{} {}", out.method, out.url);
    for (k, v) in &out.headers {
        s.push_str(&format!("\n{k}: {v}"));
    }
    if let Some(j) = &out.json {
        s.push_str("\n\n");
        s.push_str(&pretty(j));
    } else if let Some(t) = &out.text {
        s.push_str("\n\n");
        s.push_str(&body_text(t));
    }
    s
}

fn response_text(reply: &Reply) -> String {
    let mut s = format!("HTTP {}", reply.status);
    for (k, v) in &reply.headers {
        s.push_str(&format!("\n{k}: {}", String::from_utf8_lossy(v.as_bytes())));
    }
    if !reply.text.is_empty() {
        s.push_str("\n\n");
        s.push_str(&body_text(&reply.text));
    }
    s
}

/// A body as people read it: JSON pretty-printed, anything else as is; cut past the cap.
fn body_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) if v.is_object() || v.is_array() => pretty(&v),
        _ => cut(text),
    }
}

fn pretty(v: &Value) -> String {
    let mut v = v.clone();
    hide_fields(&mut v);
    cut(&serde_json::to_string_pretty(&v).unwrap_or_default())
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_BODY {
        return text.to_owned();
    }
    let mut end = MAX_BODY;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… ({} more bytes not shown)",
        &text[..end],
        text.len() - end
    )
}

/// Replaces the values of secret fields, at any depth.
fn hide_fields(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if SECRET_FIELDS.contains(&k.as_str()) && !x.is_null() {
                    *x = Value::String(REDACTED.into());
                } else {
                    hide_fields(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(hide_fields),
        _ => {}
    }
}

/// A text with every known secret replaced: the session_keys' forms, then the values of
/// secret fields written as JSON (`"secret": "..."`) or as query parameters (`secret=...`).
pub(crate) fn redact(text: &str, forms: &[String]) -> String {
    let mut out = text.to_owned();
    for f in forms {
        if out.contains(f.as_str()) {
            out = out.replace(f.as_str(), REDACTED);
        }
    }
    for field in SECRET_FIELDS {
        out = redact_after(&out, &format!("\"{field}\":"), true);
        out = redact_after(&out, &format!("{field}="), false);
    }
    out
}

/// Replaces the value after each `marker`: a JSON string (`quoted`), or a query value up to
/// `&`, whitespace or a quote.
fn redact_after(text: &str, marker: &str, quoted: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let (head, tail) = rest.split_at(at + marker.len());
        // `session_key=` inside a longer name (`old_session_key=`) still names a session_key.
        out.push_str(head);
        let after_space = tail.trim_start();
        out.push_str(&tail[..tail.len() - after_space.len()]);
        if quoted {
            match after_space.strip_prefix('"') {
                Some(s) => {
                    let end = string_end(s);
                    if &s[..end] != REDACTED {
                        out.push('"');
                        out.push_str(REDACTED);
                        rest = &s[end..];
                        continue;
                    }
                    out.push('"');
                    rest = s;
                }
                None => rest = after_space,
            }
        } else {
            let end = after_space
                .find(|c: char| c == '&' || c == '"' || c.is_whitespace())
                .unwrap_or(after_space.len());
            if end > 0 && &after_space[..end] != REDACTED {
                out.push_str(REDACTED);
            } else {
                out.push_str(&after_space[..end]);
            }
            rest = &after_space[end..];
        }
    }
    out.push_str(rest);
    out
}

/// Where a JSON string's content ends (at its closing quote, or the end of the text).
fn string_end(s: &str) -> usize {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return i,
            _ => escaped = false,
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_in_every_shape() {
        let key = "/WAvHBn9NokBQvZLw9tbdg==".to_owned();
        let forms = encodings(&key);
        let text = format!(
            "GET /sns/jscode2session?appid=wx1&secret=ed570c75&js_code=x\n\n{{\n  \"session_key\": \"{key}\",\n  \"echo\": \"{}\"\n}}",
            forms[2]
        );
        let r = redact(&text, &forms);
        assert!(
            !r.contains("ed570c75") && !r.contains(&key) && !r.contains(&forms[2]),
            "{r}"
        );
        assert!(r.contains("secret=«redacted»&js_code=x"), "{r}");
        assert!(r.contains("\"session_key\": \"«redacted»\""), "{r}");
        // Idempotent, and a cut text does not panic.
        assert_eq!(redact(&r, &forms), r);
        assert_eq!(redact("\"secret\": \"abc", &[]), "\"secret\": \"«redacted»");
        assert_eq!(redact("secret=", &[]), "secret=");
        let mut v = json!({"mock": {"session_key": "k", "openid": "o"}, "list": [{"secret": 1}]});
        hide_fields(&mut v);
        assert_eq!(
            v,
            json!({"mock": {"session_key": REDACTED, "openid": "o"}, "list": [{"secret": REDACTED}]})
        );
    }

    #[test]
    fn bodies_are_pretty_and_cut() {
        assert_eq!(body_text("{\"a\":1}"), "{\n  \"a\": 1\n}");
        assert_eq!(body_text("plain"), "plain");
        let long = "é".repeat(MAX_BODY);
        let c = cut(&long);
        assert!(c.len() < long.len() && c.contains("more bytes not shown"));
        assert_eq!(
            detail(&json!({"errcode": 40029})),
            Some("errcode 40029".into())
        );
        assert_eq!(
            detail(&json!({"error": {"code": "login_required"}})),
            Some("login_required".into())
        );
        assert_eq!(detail(&json!({"errcode": 0})), None);
    }

    #[test]
    fn journal_entries_become_backend_calls() {
        let x = journal_exchange(&json!({
            "method": "GET", "path": "/sns/jscode2session", "query": "appid=a&secret=s",
            "body": "", "status": 200, "errcode": 40163, "fault": null,
            "response": "{\"errcode\":40163,\"errmsg\":\"code been used\"}"
        }));
        assert_eq!(
            (x.from, x.to, x.status),
            (Party::Backend, Party::WeChat, Some(200))
        );
        assert_eq!(x.detail.as_deref(), Some("errcode 40163"));
        assert!(
            x.response.contains("\"errmsg\": \"code been used\""),
            "{}",
            x.response
        );
        let cut_off = journal_exchange(&json!({"method": "GET", "path": "/x", "status": 0,
            "fault": "rule 1: drop"}));
        assert_eq!(cut_off.status, None);
        assert_eq!(cut_off.detail.as_deref(), Some("rule 1: drop"));
    }
}
