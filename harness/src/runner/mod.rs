//! Running one scenario: a fresh world (mock, backend, clock), each step in order, the
//! invariants after every step, and a report that says exactly what went wrong.

mod steps;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::context::DEFAULT_START;
use crate::scenario::vars::Vars;
use crate::scenario::{Scenario, Step};
use crate::target::TargetProfile;

/// How scenarios are run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// A team's backend instead of the embedded login-core.
    pub target: Option<TargetProfile>,
    /// A running mock (then scenarios run one at a time, resetting it first) instead of one in
    /// process per scenario.
    pub mock_url: Option<String>,
}

/// The result of one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// The file.
    pub file: PathBuf,
    /// The scenario's name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Passed, or how it failed.
    pub outcome: Outcome,
    /// Wall time.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// Steps completed.
    pub steps_passed: usize,
    /// Steps in the file.
    pub steps_total: usize,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// How a scenario ended.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Every step passed.
    Passed,
    /// A step failed.
    Failed(Failure),
    /// The file could not be loaded, or the world could not be set up.
    Error {
        /// What happened.
        message: String,
    },
}

/// Where and why a scenario failed.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// 1-based step number.
    pub step: usize,
    /// The step's label.
    pub label: String,
    /// What was wrong.
    pub message: String,
    /// The request sent, if the step sent one.
    pub request: Option<String>,
    /// Expected vs actual, as a unified diff.
    pub diff: Option<String>,
    /// The answer received.
    pub response: Option<String>,
    /// The mock's journal, most recent last.
    pub journal: Vec<String>,
}

impl ScenarioReport {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }
}

/// Loads and runs a scenario file.
pub async fn run_file(path: &Path, options: &RunOptions) -> ScenarioReport {
    match crate::scenario::load(path) {
        Ok(s) => run_scenario(path, &s, options).await,
        Err(e) => ScenarioReport {
            file: path.to_owned(),
            name: path.display().to_string(),
            tags: Vec::new(),
            outcome: Outcome::Error {
                message: e.to_string(),
            },
            duration: Duration::ZERO,
            steps_passed: 0,
            steps_total: 0,
        },
    }
}

/// Runs a parsed scenario.
pub async fn run_scenario(
    path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
) -> ScenarioReport {
    let started = Instant::now();
    let mut report = ScenarioReport {
        file: path.to_owned(),
        name: scenario.name.clone(),
        tags: scenario.tags.clone(),
        outcome: Outcome::Passed,
        duration: Duration::ZERO,
        steps_passed: 0,
        steps_total: scenario.steps.len(),
    };
    let seed = scenario.setup.seed.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
    });
    let mut world = match steps::World::build(scenario, &seed, options).await {
        Ok(w) => w,
        Err(message) => {
            report.outcome = Outcome::Error { message };
            report.duration = started.elapsed();
            return report;
        }
    };
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Err(mut failure) = world.run(step).await {
            failure.step = i + 1;
            failure.label = label(step);
            failure.journal = world.journal_lines().await;
            report.outcome = Outcome::Failed(failure);
            break;
        }
        report.steps_passed += 1;
    }
    report.duration = started.elapsed();
    report
}

/// A step's label: its `name`, else a summary of its action.
pub fn label(step: &Step) -> String {
    if let Some(n) = &step.name {
        return n.clone();
    }
    use crate::scenario::Action::*;
    match &step.action {
        WxLogin(c) => format!("wx.login as {}", c.user),
        WxGetPhoneNumber(c) => format!("wx.getPhoneNumber as {}", c.user),
        WxGetUserInfo(c) => format!("wx.getUserInfo as {}", c.user),
        WxGetUserProfile(c) => format!("wx.getUserProfile as {}", c.user),
        WxGetShareInfo(c) => format!("wx.getShareInfo as {}", c.user),
        WxGetWeRunData(c) => format!("wx.getWeRunData as {}", c.user),
        Login(c) => format!("login as {}", c.user),
        Request(c) => format!(
            "{} {}",
            c.method.as_deref().unwrap_or(default_method(c)),
            c.path
        ),
        WeChat(c) => format!(
            "WeChat {} {}",
            c.method.as_deref().unwrap_or(default_method(c)),
            c.path
        ),
        Mock(c) => format!(
            "mock {} {}",
            c.method.as_deref().unwrap_or(default_method(c)),
            c.path
        ),
        Clock(c) => match (&c.advance, &c.set) {
            (Some(a), _) => format!("clock +{a}"),
            (_, Some(s)) => format!("clock = {s}"),
            _ => "clock".into(),
        },
        Fault(v) => format!("fault {}", v.get("endpoint").unwrap_or(&Value::Null)),
        ClearFaults(_) => "clear faults".into(),
        Journal(j) => format!(
            "journal {}",
            j.endpoint.as_deref().unwrap_or("(all endpoints)")
        ),
    }
}

/// GET without a body, POST with one.
pub fn default_method(c: &crate::scenario::HttpCall) -> &'static str {
    if c.json.is_some() || c.body.is_some() {
        "POST"
    } else {
        "GET"
    }
}

/// The setup's clock start in Unix seconds.
fn start_secs(clock: Option<&Value>) -> Result<i64, String> {
    match clock {
        None => Ok(DEFAULT_START),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("setup.clock: {n} is not whole seconds")),
        Some(Value::String(s)) => mock_server::Timestamp::parse_rfc3339(s)
            .map(|t| t.secs())
            .ok_or_else(|| format!("setup.clock: {s:?} is not RFC 3339 (2024-08-22T01:14:57Z)")),
        Some(other) => Err(format!("setup.clock: expected a time, got {other}")),
    }
}

/// Variables every scenario starts with.
fn initial_vars(apps: &[(String, Value)]) -> Vars {
    let mut vars = Vars::default();
    let mut map = serde_json::Map::new();
    for (name, app) in apps {
        map.insert(name.clone(), app.clone());
    }
    vars.set("apps", Value::Object(map));
    if let Some((_, default)) = apps.iter().find(|(n, _)| n == "default") {
        vars.set("app", default.clone());
    }
    vars.set("now", json!(0));
    vars
}
