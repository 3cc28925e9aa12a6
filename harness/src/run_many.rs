//! Running many scenarios: load every file, keep those the filter selects, run them in
//! parallel (each in its own world: mock, login-core, store and clock), and collect the
//! reports as they finish.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use harness::discover::{Filter, find};
//! use harness::run_many::{default_jobs, execute, plan};
//! let found = find(&["scenarios".into()])?;
//! let plan = plan(found, &Filter::default());
//! let summary = execute(plan, &Default::default(), default_jobs(), |_| {}).await;
//! assert!(summary.all_passed());
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use crate::discover::{Filter, Found};
use crate::runner::{Outcome, RunOptions, ScenarioReport, run_scenario};
use crate::scenario::Scenario;

/// A selected file: its scenario, or why it could not be loaded.
#[derive(Debug)]
pub struct Planned {
    /// Where it is.
    pub found: Found,
    /// The parsed scenario, or the load error (file, line, column, message).
    pub scenario: Result<Scenario, String>,
}

/// What will run.
#[derive(Debug, Default)]
pub struct Plan {
    /// Selected files, in path order.
    pub items: Vec<Planned>,
    /// Loaded scenarios the filter left out.
    pub filtered_out: usize,
}

/// Loads every file and applies the filter. Files that do not load stay in the plan (they are
/// reported as errors) unless a `--name` filter excludes their path.
pub fn plan(found: Vec<Found>, filter: &Filter) -> Plan {
    let mut plan = Plan::default();
    for f in found {
        match crate::scenario::load(&f.path) {
            Ok(s) if filter.selects(&f, &s) => plan.items.push(Planned {
                found: f,
                scenario: Ok(s),
            }),
            Ok(_) => plan.filtered_out += 1,
            Err(e) if filter.selects_unloadable(&f) => plan.items.push(Planned {
                found: f,
                scenario: Err(e.to_string()),
            }),
            Err(_) => plan.filtered_out += 1,
        }
    }
    plan
}

/// One scenario's result, with where its file was found.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file.
    pub found: Found,
    /// What happened.
    pub report: ScenarioReport,
}

/// The results of a run.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Every selected scenario, in path order.
    pub entries: Vec<Entry>,
    /// Scenarios the filter left out.
    pub filtered_out: usize,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// The target's name (none: the embedded login-core).
    pub target: Option<String>,
    /// The run's seed, with a target.
    pub seed: Option<String>,
}

impl RunSummary {
    /// Scenarios that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }

    /// Scenarios with a failed step.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Scenarios that could not be loaded or set up.
    pub fn errors(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Error { .. }))
    }

    /// Scenarios the target cannot run, with their reasons.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }

    /// Whether no scenario failed or stopped with an error (skipped ones are not failures).
    pub fn all_passed(&self) -> bool {
        self.entries.iter().all(|e| e.report.ok())
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.entries.iter().filter(|e| f(&e.report.outcome)).count()
    }
}

/// The default parallelism: scenarios mostly wait on local HTTP, so four per CPU, at least 4.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_mul(4)
        .max(4)
}

/// Runs a plan, at most `jobs` scenarios at a time, calling `on_report` as each one finishes.
/// Against a target, scenarios that touch the shared mock's clock, options, faults or journal
/// wait for the others and run alone. Needs a Tokio runtime.
pub async fn execute(
    plan: Plan,
    options: &RunOptions,
    jobs: usize,
    mut on_report: impl FnMut(&Entry),
) -> RunSummary {
    let started = Instant::now();
    let jobs = jobs.max(1);
    let mut options = options.clone();
    let seed = if options.target.is_some() {
        Some(options.seed_used())
    } else {
        None
    };
    let target = options
        .target
        .as_ref()
        .map(crate::target::TargetProfile::display_name);
    // Made here, on the caller's runtime, before any scenario (a generated one runs on a
    // runtime of its own).
    let _ = options.prepare().await;
    let options = Arc::new(options);
    let mut entries = Vec::with_capacity(plan.items.len());
    let mut runnable = Vec::new();
    for item in plan.items {
        match item.scenario {
            Ok(s) => runnable.push((item.found, s)),
            Err(message) => {
                let entry = Entry {
                    report: error_report(&item.found, message),
                    found: item.found,
                };
                on_report(&entry);
                entries.push(entry);
            }
        }
    }
    let mut running = futures_util::stream::iter(runnable)
        .map(|(found, scenario)| {
            let options = options.clone();
            async move {
                let path = found.path.clone();
                let name = scenario.name.clone();
                let tags = scenario.tags.clone();
                let steps = scenario.steps.len();
                let task =
                    tokio::spawn(async move { run_scenario(&path, &scenario, &options).await });
                let report = match task.await {
                    Ok(r) => r,
                    Err(e) => {
                        let mut r = error_report(&found, format!("the runner crashed: {e}"));
                        r.name = name;
                        r.tags = tags;
                        r.steps_total = steps;
                        r
                    }
                };
                Entry { found, report }
            }
        })
        .buffer_unordered(jobs);
    while let Some(entry) = running.next().await {
        on_report(&entry);
        entries.push(entry);
    }
    entries.sort_by(|a, b| a.found.path.cmp(&b.found.path));
    RunSummary {
        entries,
        filtered_out: plan.filtered_out,
        duration: started.elapsed(),
        target,
        seed,
    }
}

/// The report of a file that could not be run at all.
fn error_report(found: &Found, message: String) -> ScenarioReport {
    ScenarioReport::unrun(&found.path, found.relative_display(), message)
}
