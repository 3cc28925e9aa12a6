//! The JUnit XML report, for CI systems that show test results.
//!
//! Layout: one `<testsuite>` per folder (relative to the path the scenarios were found under;
//! `.` for files directly in it), one `<testcase>` per scenario with `classname` = the folder
//! and `name` = `file-stem: scenario name`. A failed step is a `<failure>` whose `message` is
//! `step N (label): what was wrong` and whose text is the full explanation (request, diff,
//! journal); a file that could not be loaded or set up is an `<error>`. Times are in seconds.

use std::collections::BTreeMap;
use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::console::explain;
use crate::run_many::{Entry, RunSummary};
use crate::runner::Outcome;

/// The report.
pub fn report(summary: &RunSummary) -> Report {
    let mut suites: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in &summary.entries {
        suites.entry(e.found.folder()).or_default().push(e);
    }
    let mut report = Report::new("harness");
    report.set_time(summary.duration);
    for (folder, entries) in suites {
        let mut suite = TestSuite::new(folder.as_str());
        suite.set_time(entries.iter().map(|e| e.report.duration).sum());
        for e in entries {
            suite.add_test_case(test_case(&folder, e));
        }
        report.add_test_suite(suite);
    }
    report
}

fn test_case(folder: &str, e: &Entry) -> TestCase {
    let r = &e.report;
    let stem = e
        .found
        .path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = if r.name == e.found.relative_display() {
        stem
    } else {
        format!("{stem}: {}", r.name)
    };
    let status = match &r.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Failed(f) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("step {} ({}): {}", f.step, f.label, f.message))
                .set_type("step failed")
                .set_description(explain(r));
            s
        }
        Outcome::Skipped { reason } => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(reason.as_str());
            s
        }
        Outcome::Error { message } => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(message.as_str())
                .set_type("error")
                .set_description(explain(r));
            s
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(folder).set_time(r.duration);
    case
}

/// The report as XML text.
pub fn to_xml(summary: &RunSummary) -> Result<String, String> {
    report(summary).to_string().map_err(|e| e.to_string())
}

/// Writes the report to `path`, creating its folder.
pub fn write(summary: &RunSummary, path: &Path) -> Result<(), String> {
    let xml = to_xml(summary)?;
    super::write_file(path, &xml)
}
