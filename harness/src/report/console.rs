//! The console report: one line per scenario; for a failure, the file and step, the request
//! sent, expected vs actual, and the mock's journal.

use std::fmt::Write as _;

use crate::runner::{Outcome, ScenarioReport};

/// The full explanation of a failed scenario (empty for a pass).
pub fn explain(report: &ScenarioReport) -> String {
    let mut out = String::new();
    match &report.outcome {
        Outcome::Passed => {}
        Outcome::Error { message } => {
            let _ = writeln!(out, "{}: {message}", report.file.display());
        }
        Outcome::Failed(f) => {
            let _ = writeln!(
                out,
                "{}: step {} of {} ({}) failed: {}",
                report.file.display(),
                f.step,
                report.steps_total,
                f.label,
                f.message
            );
            if let Some(r) = &f.request {
                let _ = writeln!(out, "\nrequest:\n{}", indent(r));
            }
            if let Some(d) = &f.diff {
                let _ = writeln!(out, "\nexpected vs actual:\n{}", indent(d));
            }
            if let Some(r) = &f.response {
                let _ = writeln!(out, "\nresponse:\n{}", indent(r));
            }
            if !f.journal.is_empty() {
                let _ = writeln!(out, "\nmock journal:\n{}", indent(&f.journal.join("\n")));
            }
        }
    }
    out
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
