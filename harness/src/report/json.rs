//! The JSON report, for scripts:
//!
//! ```json
//! {
//!   "summary": {"passed": 62, "failed": 1, "errors": 0, "skipped": 3, "filtered_out": 0,
//!               "duration_ms": 2310.4, "target": "flask-wechatpy", "seed": "1a2b3c4d"},
//!   "scenarios": [
//!     {"file": "scenarios/login/first-login.yaml", "path": "login/first-login.yaml",
//!      "name": "...", "tags": ["login"], "outcome": {"status": "passed"},
//!      "duration": 41.2, "steps_passed": 5, "steps_total": 5}
//!   ]
//! }
//! ```
//!
//! `outcome.status` is `passed`, `failed` (with `step`, `label`, `message`, `rule`, `request`,
//! `diff`, `response` and `journal`), `error` (with `message`) or `skipped` (with `reason`).
//! Durations are in milliseconds.

use std::path::Path;

use serde_json::{Value, json};

use crate::run_many::RunSummary;

/// The report as a JSON value.
pub fn report(summary: &RunSummary) -> Value {
    let scenarios: Vec<Value> = summary
        .entries
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e.report).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("path".into(), json!(e.found.relative_display()));
            }
            v
        })
        .collect();
    json!({
        "summary": {
            "passed": summary.passed(),
            "failed": summary.failed(),
            "errors": summary.errors(),
            "skipped": summary.skipped(),
            "filtered_out": summary.filtered_out,
            "target": summary.target,
            "seed": summary.seed,
            "duration_ms": summary.duration.as_secs_f64() * 1000.0,
        },
        "scenarios": scenarios,
    })
}

/// Writes the report to `path` (pretty-printed), creating its folder.
pub fn write(summary: &RunSummary, path: &Path) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(&report(summary)).map_err(|e| e.to_string())?;
    text.push('\n');
    super::write_file(path, &text)
}
