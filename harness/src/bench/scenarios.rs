//! The scenario library's wall time (group `scenarios`): every scenario run as `harness run`
//! runs them, in parallel, each with its own servers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::report::{Results, Row, Target, Unit};
use crate::discover::{Filter, find};
use crate::run_many::{default_jobs, execute, plan};

/// `scenarios` here, else the workspace's.
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.exists() {
        return here;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    if workspace.exists() {
        return workspace;
    }
    here
}

/// Runs every scenario under `dir` (row `scenarios.wall`); those that do not pass are noted,
/// not failed.
pub async fn run(dir: &Path, res: &mut Results) {
    eprintln!("bench: the scenario library ({}) …", dir.display());
    let t = Instant::now();
    let found = match find(&[dir.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => {
            res.skip("scenario library", &e);
            return;
        }
    };
    let plan = plan(found, &Filter::default());
    let n = plan.items.len();
    let jobs = default_jobs();
    let summary = execute(plan, &Default::default(), jobs, |_| {}).await;
    let wall = t.elapsed();
    eprintln!(
        "bench:   {n} scenarios in {:.2} s, {} passed",
        wall.as_secs_f64(),
        summary.passed()
    );
    res.rows.push(
        Row::new(
            "scenarios.wall",
            &format!("scenario library: wall time ({n} scenarios, {jobs} at once)"),
            wall.as_secs_f64(),
            Unit::Seconds,
        )
        .target(Target::Below(3.0)),
    );
    if !summary.all_passed() {
        res.note(format!(
            "scenario library: {} of {n} did not pass (`harness run` shows why)",
            n - summary.passed()
        ));
    }
    res.run(
        "scenarios",
        json!({
            "scenarios": n,
            "passed": summary.passed(),
            "failed": summary.failed(),
            "errors": summary.errors(),
            "jobs": jobs,
            "wall_s": wall.as_secs_f64(),
        }),
    );
}
