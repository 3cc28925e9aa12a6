//! Running one scenario: a fresh world (mock, backend, clock), each step in order, the
//! invariants after every step, and a report that says exactly what went wrong.

mod checks;
pub mod needs;
mod phone_login;
mod semantic;
pub mod shared;
mod steps;
pub mod trace;
mod world;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::context::DEFAULT_START;
use crate::scenario::generate::{self, Inputs};
use crate::scenario::vars::Vars;
use crate::scenario::{Scenario, Step};
use crate::target::TargetProfile;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
use shared::TargetRun;

/// How scenarios are run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// A team's backend instead of the embedded login-core.
    pub target: Option<TargetProfile>,
    /// The mock the target calls (needed with a target): one for the whole run, never reset.
    pub mock_url: Option<String>,
    /// The run's seed: with a target, every scenario's identities are salted with it and the
    /// scenario's path. Left out: a fresh one per run (see [`RunOptions::seed_used`]).
    pub seed: Option<String>,
    /// Record every exchange of every step in [`ScenarioReport::trace`] (for the HTML
    /// report); off, nothing extra is sent or kept.
    pub record: bool,
    /// The run's shared state, made by the first scenario that needs it.
    run: Arc<tokio::sync::OnceCell<Result<Arc<TargetRun>, String>>>,
}

impl RunOptions {
    /// Options for a team's backend that calls WeChat at `mock_url`.
    pub fn target(profile: TargetProfile, mock_url: String, seed: Option<String>) -> Self {
        Self {
            target: Some(profile),
            mock_url: Some(mock_url),
            seed,
            record: false,
            run: Arc::default(),
        }
    }

    /// The seed the run uses (a fresh one is drawn once if none was given).
    pub fn seed_used(&mut self) -> String {
        self.seed.get_or_insert_with(shared::fresh_seed).clone()
    }

    /// Readies the shared mock of a target run (once); an error says what is wrong with it.
    pub async fn prepare(&self) -> Result<(), String> {
        match &self.target {
            Some(_) => self.shared().await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// The shared run against the target, prepared once.
    async fn shared(&self) -> Result<Arc<TargetRun>, String> {
        let (Some(profile), Some(mock_url)) = (&self.target, &self.mock_url) else {
            return Err(
                "a target needs the mock it calls (--mock URL, or the mock the harness starts)"
                    .into(),
            );
        };
        let seed = self.seed.clone().unwrap_or_else(shared::fresh_seed);
        self.run
            .get_or_init(|| async move {
                TargetRun::prepare(mock_url, profile, seed)
                    .await
                    .map(Arc::new)
            })
            .await
            .clone()
    }
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
    /// For scenarios with generated inputs: the cases run and, on failure, the inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<Generated>,
    /// Every step's exchanges, when the run recorded them ([`RunOptions::record`]).
    #[serde(skip)]
    pub trace: Option<trace::Trace>,
}

/// What the property exploration of a scenario did.
#[derive(Clone, Debug, Serialize)]
pub struct Generated {
    /// Cases run (up to and including the failing one).
    pub cases_run: u32,
    /// Cases asked for.
    pub cases: u32,
    /// The simplest failing inputs found by shrinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<Inputs>,
    /// The inputs that failed first, before shrinking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failing: Option<Inputs>,
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
    /// It cannot run against this target: it needs something the profile leaves out.
    Skipped {
        /// Why, and what the profile would need.
        reason: String,
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
    /// The profile rule the expectation used, for semantic expectations (`outcomes.relogin:
    /// status 401`).
    pub rule: Option<String>,
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
    /// A scenario's report before any step ran.
    fn start(path: &Path, scenario: &Scenario, outcome: Outcome) -> Self {
        Self {
            file: path.to_owned(),
            name: scenario.name.clone(),
            tags: scenario.tags.clone(),
            outcome,
            duration: Duration::ZERO,
            steps_passed: 0,
            steps_total: scenario.steps.len(),
            generated: None,
            trace: None,
        }
    }

    /// The report of a file that could not be run at all (it did not load), named `name`.
    pub fn unrun(file: &Path, name: String, message: String) -> Self {
        Self {
            file: file.to_owned(),
            name,
            tags: Vec::new(),
            outcome: Outcome::Error { message },
            duration: Duration::ZERO,
            steps_passed: 0,
            steps_total: 0,
            generated: None,
            trace: None,
        }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }

    /// Whether it passed or was skipped with a reason: not a failure.
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Passed | Outcome::Skipped { .. })
    }
}

/// A failure with only a message (the runner fills in the step).
pub(crate) fn fail(message: impl Into<String>) -> Failure {
    Failure {
        step: 0,
        label: String::new(),
        message: message.into(),
        rule: None,
        request: None,
        diff: None,
        response: None,
        journal: Vec::new(),
    }
}

/// Loads and runs a scenario file.
pub async fn run_file(path: &Path, options: &RunOptions) -> ScenarioReport {
    match crate::scenario::load(path) {
        Ok(s) => run_scenario(path, &s, options).await,
        Err(e) => ScenarioReport::unrun(path, path.display().to_string(), e.to_string()),
    }
}

/// Runs a parsed scenario: once, or once per generated case (shrinking a failure).
pub async fn run_scenario(
    path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
) -> ScenarioReport {
    let started = Instant::now();
    if let Some(reason) = needs_of(scenario, options).skip {
        return ScenarioReport::start(path, scenario, Outcome::Skipped { reason });
    }
    let mut report = if scenario.generate.is_empty() {
        run_once(path, scenario, options, &Inputs::new()).await
    } else {
        // proptest's value trees are not `Send`: the exploration gets a thread and a runtime
        // of its own (the servers of each case live on it).
        let (p, s, o) = (path.to_owned(), scenario.clone(), options.clone());
        let explored = tokio::task::spawn_blocking(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .map(|rt| rt.block_on(explore(&p, &s, &o)))
        })
        .await;
        match explored {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => error_report(path, scenario, format!("cannot start a runtime: {e}")),
            Err(e) => error_report(path, scenario, format!("the exploration failed: {e}")),
        }
    };
    report.duration = started.elapsed();
    report
}

/// Shrinking stops after this many extra runs.
const SHRINK_BUDGET: u32 = 64;

/// Runs the generated cases; on the first failure, shrinks it.
async fn explore(path: &Path, scenario: &Scenario, options: &RunOptions) -> ScenarioReport {
    let cases = scenario.cases.unwrap_or(16).max(1);
    let strategy = match generate::strategy(&scenario.generate) {
        Ok(s) => s,
        Err(message) => return error_report(path, scenario, message),
    };
    // Seeded by the file's name: every run explores the same cases.
    let mut runner = TestRunner::new_with_rng(
        proptest::test_runner::Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(path)),
    );
    let mut last = None;
    for case in 1..=cases {
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => return error_report(path, scenario, format!("generate: {e}")),
        };
        let first = tree.current();
        let report = run_once(path, scenario, options, &first).await;
        if report.passed() {
            last = Some(report);
            continue;
        }
        if !matches!(report.outcome, Outcome::Failed(_)) {
            return report;
        }
        let (mut inputs, mut worst) = (first.clone(), report);
        let mut budget = SHRINK_BUDGET;
        let mut more = tree.simplify();
        while more && budget > 0 {
            budget -= 1;
            let candidate = tree.current();
            let r = run_once(path, scenario, options, &candidate).await;
            if matches!(r.outcome, Outcome::Failed(_)) {
                (inputs, worst) = (candidate, r);
                more = tree.simplify();
            } else {
                more = tree.complicate();
            }
        }
        if let Outcome::Failed(f) = &mut worst.outcome {
            f.message = format!(
                "with {} (case {case} of {cases}, shrunk from {}): {}",
                generate::describe(&inputs),
                generate::describe(&first),
                f.message
            );
        }
        worst.generated = Some(Generated {
            cases_run: case,
            cases,
            failing: Some(inputs),
            first_failing: Some(first),
        });
        return worst;
    }
    let mut report = last.unwrap_or_else(|| error_report(path, scenario, "no case ran".into()));
    report.generated = Some(Generated {
        cases_run: cases,
        cases,
        failing: None,
        first_failing: None,
    });
    report
}

fn seed_bytes(path: &Path) -> [u8; 32] {
    use std::hash::{Hash, Hasher};
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::hash::DefaultHasher::new();
        (i, path.file_name()).hash(&mut h);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

fn error_report(path: &Path, scenario: &Scenario, message: String) -> ScenarioReport {
    ScenarioReport::start(path, scenario, Outcome::Error { message })
}

/// What a scenario needs from the target (login-core's shipped profile when embedded).
fn needs_of(scenario: &Scenario, options: &RunOptions) -> needs::Needs {
    let profile = options
        .target
        .as_ref()
        .unwrap_or_else(|| TargetProfile::shipped());
    needs::analyse(scenario, profile, options.target.is_none())
}

/// One run of a scenario with the given generated inputs.
async fn run_once(
    path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
    inputs: &Inputs,
) -> ScenarioReport {
    let mut report = ScenarioReport::start(path, scenario, Outcome::Passed);
    let seed = scenario.setup.seed.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
    });
    let embedded = options.target.is_none();
    let needs = needs_of(scenario, options);
    // Against a target, a scenario that talks to it uses the run's shared mock; one that only
    // checks the mock gets its own.
    let run = if embedded || !needs.backend {
        None
    } else {
        match options.shared().await {
            Ok(r) => Some(r),
            Err(message) => {
                report.outcome = Outcome::Error { message };
                return report;
            }
        }
    };
    let salt = match &run {
        Some(r) => shared::salt(&[
            &r.seed,
            &path.to_string_lossy(),
            &generate::describe(inputs),
        ]),
        None => String::new(),
    };
    // Scenarios touching shared state have the mock to themselves.
    let (_read, _write) = match &run {
        Some(r) if needs.exclusive => (None, Some(r.lock.clone().write_owned().await)),
        Some(r) => (Some(r.lock.clone().read_owned().await), None),
        None => (None, None),
    };
    if let (Some(hook), Some(_)) = (options.target.as_ref().and_then(|t| t.reset.as_ref()), &run) {
        if let Err(message) = reset_hook(hook, options.target.as_ref()).await {
            report.outcome = Outcome::Error { message };
            return report;
        }
    }
    let plan = world::Plan {
        scenario,
        seed: &seed,
        inputs,
        needs: &needs,
        salt,
        run,
        target: options.target.as_ref(),
    };
    let mut world = match world::World::build(plan).await {
        Ok(w) => w,
        Err(message) => {
            report.outcome = Outcome::Error { message };
            return report;
        }
    };
    if options.record {
        world.trace = Some(trace::Recorder::new(world.journal_since));
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let result = world.run(step).await;
        world.record_step(i + 1, step, result.is_ok()).await;
        if let Err(mut failure) = result {
            failure.step = i + 1;
            failure.label = label(step);
            failure.journal = world.journal_lines().await;
            report.outcome = Outcome::Failed(failure);
            break;
        }
        report.steps_passed += 1;
    }
    report.trace = world.take_trace(&scenario.steps, &report.outcome);
    if let Err(message) = world.finish().await {
        if report.passed() {
            report.outcome = Outcome::Error { message };
        }
    }
    report
}

/// Runs the profile's reset hook.
async fn reset_hook(
    hook: &crate::target::ResetHook,
    target: Option<&TargetProfile>,
) -> Result<(), String> {
    if let Some(cmd) = &hook.command {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .output()
            .await
            .map_err(|e| format!("reset hook `{cmd}`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "reset hook `{cmd}` failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    if let Some(url) = &hook.url {
        let url = if url.starts_with('/') {
            format!("{}{url}", target.map_or("", TargetProfile::base))
        } else {
            url.clone()
        };
        let m = hook.method.as_deref().unwrap_or("POST").to_uppercase();
        let m = reqwest::Method::from_bytes(m.as_bytes()).map_err(|e| e.to_string())?;
        let resp = reqwest::Client::new()
            .request(m.clone(), &url)
            .send()
            .await
            .map_err(|e| format!("reset hook {m} {url}: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("reset hook {m} {url} answered {}", resp.status()));
        }
    }
    Ok(())
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
        Repeat(r) => match &r.times {
            Value::String(s) => format!("repeat {s} times"),
            other => format!("repeat {other} times"),
        },
        Journal(j) => format!(
            "journal {}",
            j.endpoint.as_deref().unwrap_or("(all endpoints)")
        ),
        Whoami(c) => format!("whoami as {}", c.who()),
        Refresh(c) => format!("refresh as {}", c.who()),
        Logout(c) => format!("logout as {}", c.who()),
        SessionCheck(c) => format!("session check as {}", c.who()),
        SubmitProfile(c) => format!("submit profile as {}", c.session),
        SmsSend(c) => format!("ask for an SMS code to {}", c.phone),
        SmsInbox(c) => format!("read the SMS to {}", c.phone),
        LoginSms(c) => format!("log in with {} and an SMS code", c.phone),
        LoginPassword(c) => format!("log in with {} and a password", c.phone),
        BindPhone(c) => format!(
            "bind phone ({}) as {}",
            if c.code.is_some() {
                "code"
            } else {
                "encrypted data"
            },
            c.session
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
