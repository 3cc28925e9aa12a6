//! The console report: one line per scenario; for a failure, the file and step, the request
//! sent, expected vs actual, and the mock's journal; a summary line at the end.

use std::fmt::Write as _;
use std::time::Duration;

use crate::run_many::{Entry, RunSummary};
use crate::runner::{Outcome, ScenarioReport};

/// Whether to colour the output (ANSI escapes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Colour on.
    pub color: bool,
}

const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";
const CYAN: &str = "36";
const BOLD: &str = "1";
const DIM: &str = "2";

impl Style {
    /// No colour.
    pub fn plain() -> Self {
        Self { color: false }
    }

    /// Colour when stdout is a terminal and `NO_COLOR` is unset (or empty).
    pub fn detect() -> Self {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `PASS`, `FAIL`, `ERROR` or `SKIP`.
pub fn status_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "PASS",
        Outcome::Failed(_) => "FAIL",
        Outcome::Error { .. } => "ERROR",
        Outcome::Skipped { .. } => "SKIP",
    }
}

fn status_painted(outcome: &Outcome, style: Style) -> String {
    let word = format!("{:<5}", status_word(outcome));
    let code = match outcome {
        Outcome::Passed => GREEN,
        Outcome::Failed(_) => RED,
        Outcome::Error { .. } => YELLOW,
        Outcome::Skipped { .. } => DIM,
    };
    style.paint(&format!("{BOLD};{code}"), &word)
}

/// A duration as people read it: `0.04 s`, `12.30 s`, `2 min 5 s`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

/// One line for a finished scenario: status, path relative to its root (padded to `width`),
/// name and time.
pub fn line(entry: &Entry, width: usize, style: Style) -> String {
    let r = &entry.report;
    let path = entry.found.relative_display();
    let mut out = format!("{} {path:<width$}", status_painted(&r.outcome, style));
    let name_differs = r.name != path;
    if name_differs {
        let _ = write!(out, "  {}", r.name);
    }
    if let Outcome::Skipped { reason } = &r.outcome {
        let _ = write!(
            out,
            "  {}",
            style.paint(DIM, &format!("(skipped: {reason})"))
        );
        return out.trim_end().to_owned();
    }
    let time = if matches!(r.outcome, Outcome::Error { .. }) && r.duration.is_zero() {
        String::new()
    } else {
        format!(
            "  {}",
            style.paint(DIM, &format!("({})", human_duration(r.duration)))
        )
    };
    out.push_str(&time);
    out.trim_end().to_owned()
}

/// The closing line: `62 passed, 1 failed in 2.31 s` (errors, skipped and filtered-out
/// scenarios are added when there are any).
pub fn summary_line(summary: &RunSummary, style: Style) -> String {
    let passed = summary.passed();
    let failed = summary.failed();
    let errors = summary.errors();
    let skipped = summary.skipped();
    let mut parts = vec![style.paint(GREEN, &format!("{passed} passed"))];
    let f = format!("{failed} failed");
    parts.push(if failed > 0 {
        style.paint(&format!("{BOLD};{RED}"), &f)
    } else {
        f
    });
    if errors > 0 {
        let e = format!("{errors} error{}", if errors == 1 { "" } else { "s" });
        parts.push(style.paint(&format!("{BOLD};{YELLOW}"), &e));
    }
    if skipped > 0 {
        parts.push(style.paint(DIM, &format!("{skipped} skipped")));
    }
    if summary.filtered_out > 0 {
        parts.push(format!("{} filtered out", summary.filtered_out));
    }
    format!(
        "{} in {}",
        parts.join(", "),
        human_duration(summary.duration)
    )
}

/// The full explanation of a failed scenario (empty for a pass), without colour.
pub fn explain(report: &ScenarioReport) -> String {
    explain_with(report, Style::plain())
}

/// The full explanation of a failed scenario (empty for a pass): the file and step, what was
/// wrong, the request sent, expected vs actual as a diff, the answer and the mock's journal.
pub fn explain_with(report: &ScenarioReport, style: Style) -> String {
    let mut out = String::new();
    let file = report.file.display().to_string();
    match &report.outcome {
        Outcome::Passed => {}
        Outcome::Skipped { reason } => {
            let _ = writeln!(out, "{file}: skipped: {reason}");
        }
        Outcome::Error { message } => {
            // Load errors already start with the file (and line).
            if message.starts_with(&file) {
                let _ = writeln!(out, "{}", style.paint(BOLD, message));
            } else {
                let _ = writeln!(out, "{}", style.paint(BOLD, &format!("{file}: {message}")));
            }
        }
        Outcome::Failed(f) => {
            let head = format!(
                "{file}: step {} of {} ({}) failed: {}",
                f.step, report.steps_total, f.label, f.message
            );
            let _ = writeln!(out, "{}", style.paint(BOLD, &head));
            let section = |out: &mut String, title: &str, body: String| {
                let _ = writeln!(out, "\n{}\n{}", style.paint(CYAN, title), body);
            };
            if let Some(r) = &f.rule {
                section(&mut out, "profile rule:", indent(r));
            }
            if let Some(r) = &f.request {
                section(&mut out, "request:", indent(r));
            }
            if let Some(d) = &f.diff {
                section(
                    &mut out,
                    "expected vs actual:",
                    paint_diff(&indent(d), style),
                );
            }
            if let Some(r) = &f.response {
                section(&mut out, "response:", indent(r));
            }
            if !f.journal.is_empty() {
                section(
                    &mut out,
                    "mock journal (most recent last):",
                    style.paint(DIM, &indent(&f.journal.join("\n"))),
                );
            }
        }
    }
    out
}

/// Colours a unified diff: removals red, additions green, hunk headers cyan.
fn paint_diff(diff: &str, style: Style) -> String {
    if !style.color {
        return diff.to_owned();
    }
    diff.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("---") || t.starts_with("+++") {
                style.paint(BOLD, l)
            } else if t.starts_with('-') {
                style.paint(RED, l)
            } else if t.starts_with('+') {
                style.paint(GREEN, l)
            } else if t.starts_with("@@") {
                style.paint(CYAN, l)
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Found;
    use crate::runner::Failure;
    use std::path::PathBuf;

    fn entry(outcome: Outcome) -> Entry {
        Entry {
            found: Found {
                path: PathBuf::from("scenarios/login/a.yaml"),
                relative: PathBuf::from("login/a.yaml"),
            },
            report: ScenarioReport {
                file: PathBuf::from("scenarios/login/a.yaml"),
                name: "A login".into(),
                tags: vec![],
                outcome,
                duration: Duration::from_millis(1234),
                steps_passed: 1,
                steps_total: 3,
                generated: None,
                trace: None,
            },
        }
    }

    fn failure() -> Failure {
        Failure {
            step: 2,
            label: "GET /api/me".into(),
            message: "expected status 200, got 401".into(),
            rule: Some("outcomes.ok: status 200".into()),
            request: Some("GET http://x/api/me".into()),
            diff: Some("--- expected\n+++ actual\n-  1\n+  2".into()),
            response: Some("HTTP 401\n{}".into()),
            journal: vec!["#1 GET /sns/jscode2session -> 200 errcode=0".into()],
        }
    }

    #[test]
    fn lines_and_summary() {
        let e = entry(Outcome::Passed);
        assert_eq!(
            line(&e, 14, Style::plain()),
            "PASS  login/a.yaml    A login  (1.23 s)"
        );
        let f = entry(Outcome::Failed(failure()));
        let colored = line(&f, 0, Style { color: true });
        assert!(colored.contains("\x1b[1;31mFAIL"), "{colored}");
        let summary = RunSummary {
            entries: vec![e, f],
            filtered_out: 0,
            duration: Duration::from_millis(2310),
            target: None,
            seed: None,
        };
        assert_eq!(
            summary_line(&summary, Style::plain()),
            "1 passed, 1 failed in 2.31 s"
        );
        assert_eq!(human_duration(Duration::from_secs(125)), "2 min 5 s");
    }

    #[test]
    fn explanations_have_every_part() {
        let f = entry(Outcome::Failed(failure()));
        let text = explain(&f.report);
        assert!(text.starts_with(
            "scenarios/login/a.yaml: step 2 of 3 (GET /api/me) failed: expected status 200"
        ));
        for part in [
            "profile rule:",
            "    outcomes.ok: status 200",
            "request:",
            "    GET http://x/api/me",
            "+  2",
            "HTTP 401",
            "#1 GET",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let colored = explain_with(&f.report, Style { color: true });
        assert!(colored.contains("\x1b[32m    +  2"), "{colored}");
        let e = entry(Outcome::Error {
            message: "scenarios/login/a.yaml:3:1: bad".into(),
        });
        assert_eq!(explain(&e.report), "scenarios/login/a.yaml:3:1: bad\n");
        assert_eq!(explain(&entry(Outcome::Passed).report), "");
        let s = entry(Outcome::Skipped {
            reason: "needs the `refresh` route".into(),
        });
        assert_eq!(
            line(&s, 0, Style::plain()),
            "SKIP  login/a.yaml  A login  (skipped: needs the `refresh` route)"
        );
    }
}
