//! The HTML report (`--html FILE`): one self-contained page (inline CSS and script, no asset
//! from anywhere, readable from `file://`) with the run's summary, filters (failed only, tag,
//! folder) and, per scenario, a sequence diagram of its steps across three lifelines: the
//! mini-program, the backend under test and WeChat (the mock). Each arrow is labelled with its
//! method, path and status or errcode and opens to the request and the answer; a failed step
//! carries the expected-versus-actual diff the runner computed.
//!
//! The page is rendered whole here, in Rust, rather than drawn by a script from embedded JSON:
//! every piece of text then meets one escaping function in one context (HTML text and quoted
//! attributes), never the harder one of data inside a `<script>`; the page reads the same with
//! scripts off (arrows open with `<details>`); and the tests check the very HTML a browser
//! gets. The one inline script only hides and shows whole scenarios for the filters; it reads
//! nothing but the `data-*` attributes written here.
//!
//! The diagrams need the exchanges recorded ([`crate::runner::RunOptions::record`]); secrets
//! are redacted by the runner, and text that reaches the page unrecorded (a failure without a
//! trace) is redacted again by field name here.

mod diagram;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use crate::report::console::{human_duration, status_word};
use crate::run_many::{Entry, RunSummary};
use crate::runner::trace::redact;
use crate::runner::{Failure, Outcome};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Text for HTML: in an element or a quoted attribute.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `passed`, `failed`, `error` or `skipped`: the `data-status` of a scenario.
fn status_key(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed(_) => "failed",
        Outcome::Error { .. } => "error",
        Outcome::Skipped { .. } => "skipped",
    }
}

/// The whole page.
pub fn render(summary: &RunSummary) -> String {
    let mut out = String::with_capacity(64 * 1024 + summary.entries.len() * 16 * 1024);
    let title = format!(
        "harness: {} passed, {} failed",
        summary.passed(),
        summary.failed()
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    out.push_str("<header>\n<h1>Scenario report</h1>\n");
    summary_block(&mut out, summary);
    filters(&mut out, summary);
    out.push_str("</header>\n<main id=\"scenarios\">\n");
    for (i, entry) in summary.entries.iter().enumerate() {
        scenario(&mut out, i + 1, entry);
    }
    out.push_str("</main>\n");
    let _ = write!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// Writes the page to `path`, creating its folder.
pub fn write(summary: &RunSummary, path: &Path) -> Result<(), String> {
    super::write_file(path, &render(summary))
}

fn summary_block(out: &mut String, s: &RunSummary) {
    let target = s
        .target
        .clone()
        .unwrap_or_else(|| "the embedded login-core".into());
    let seed = s
        .seed
        .clone()
        .unwrap_or_else(|| "per scenario (its setup.seed, else its file name)".into());
    out.push_str("<section id=\"summary\" class=\"summary\">\n<div class=\"counts\">\n");
    for (class, label, n) in [
        ("passed", "passed", s.passed()),
        ("failed", "failed", s.failed()),
        ("skipped", "skipped", s.skipped()),
        ("error", "errors", s.errors()),
    ] {
        let _ = writeln!(
            out,
            "<div class=\"count {class}\" data-count=\"{class}\"><b>{n}</b> {label}</div>"
        );
    }
    out.push_str("</div>\n<dl class=\"facts\">\n");
    let facts = [
        ("scenarios", s.entries.len().to_string()),
        ("filtered out", s.filtered_out.to_string()),
        ("duration", human_duration(s.duration)),
        ("target", target),
        ("seed", seed),
    ];
    for (k, v) in facts {
        let _ = writeln!(
            out,
            "<div data-fact=\"{}\"><dt>{}</dt><dd>{}</dd></div>",
            esc(k),
            esc(k),
            esc(&v)
        );
    }
    out.push_str("</dl>\n");
    let bad: Vec<(usize, &Entry)> = s
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.report.ok())
        .map(|(i, e)| (i + 1, e))
        .collect();
    if !bad.is_empty() {
        out.push_str("<ul class=\"failures\">\n");
        for (i, e) in bad {
            let _ = writeln!(
                out,
                "<li><a href=\"#s-{i}\"><span class=\"badge {}\">{}</span> {}</a> {}</li>",
                status_key(&e.report.outcome),
                status_word(&e.report.outcome),
                esc(&e.found.relative_display()),
                esc(&one_line(&e.report.outcome)),
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "<p class=\"legend\"><span class=\"key app\">mini-program</span> \
         <span class=\"key backend\">backend under test</span> \
         <span class=\"key wechat\">WeChat (the mock)</span> \
         <span class=\"key harness\">the runner itself (mock control plane, direct WeChat calls)</span> \
         Click an arrow for the request and the answer.</p>\n</section>\n",
    );
}

/// What went wrong, on one line.
fn one_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(f) => format!(
            "step {} ({}): {}",
            f.step,
            f.label,
            f.message.lines().next().unwrap_or_default()
        ),
        Outcome::Error { message } => message.lines().next().unwrap_or_default().to_owned(),
        Outcome::Skipped { reason } => reason.clone(),
        Outcome::Passed => String::new(),
    }
}

fn filters(out: &mut String, s: &RunSummary) {
    let tags: BTreeSet<&str> = s
        .entries
        .iter()
        .flat_map(|e| e.report.tags.iter().map(String::as_str))
        .collect();
    let folders: BTreeSet<String> = s.entries.iter().map(|e| e.found.folder()).collect();
    out.push_str(
        "<nav id=\"filters\" class=\"filters\">\n\
         <label><input type=\"checkbox\" id=\"failed-only\"> failed only (and errors)</label>\n\
         <label>tag <select id=\"tag-filter\"><option value=\"\">all</option>",
    );
    for t in tags {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(t));
    }
    out.push_str(
        "</select></label>\n<label>folder <select id=\"folder-filter\"><option value=\"\">all</option>",
    );
    for f in folders {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", esc(&f));
    }
    let n = s.entries.len();
    let _ = write!(
        out,
        "</select></label>\n<button type=\"button\" id=\"expand-all\">open every arrow</button>\
         <button type=\"button\" id=\"collapse-all\">close every arrow</button>\n\
         <span id=\"shown\">{n} of {n} shown</span>\n</nav>\n"
    );
}

fn scenario(out: &mut String, index: usize, entry: &Entry) {
    let r = &entry.report;
    let status = status_key(&r.outcome);
    let path = entry.found.relative_display();
    let _ = writeln!(
        out,
        "<section class=\"scenario {status}\" id=\"s-{index}\" data-status=\"{status}\" data-folder=\"{}\">",
        esc(&entry.found.folder())
    );
    let time = if r.duration.is_zero() {
        String::new()
    } else {
        format!("<span class=\"time\">{}</span>", human_duration(r.duration))
    };
    let _ = writeln!(
        out,
        "<h2><span class=\"badge {status}\">{}</span> <span class=\"path\">{}</span> \
         <span class=\"name\">{}</span> {time}</h2>",
        status_word(&r.outcome),
        esc(&path),
        esc(&r.name),
    );
    out.push_str("<div class=\"meta\">");
    for t in &r.tags {
        let _ = write!(
            out,
            "<span class=\"tag\" data-tag=\"{0}\">{0}</span>",
            esc(t)
        );
    }
    let _ = write!(
        out,
        "<span class=\"steps\">{} of {} steps passed</span>",
        r.steps_passed, r.steps_total
    );
    if let Some(g) = &r.generated {
        let _ = write!(
            out,
            "<span class=\"steps\">generated inputs: {} of {} cases run</span>",
            g.cases_run, g.cases
        );
    }
    out.push_str("</div>\n");
    match &r.outcome {
        Outcome::Error { message } => {
            let _ = writeln!(
                out,
                "<pre class=\"problem\">{}</pre>",
                esc(&redact(message, &[]))
            );
        }
        Outcome::Skipped { reason } => {
            let _ = writeln!(out, "<p class=\"problem\">skipped: {}</p>", esc(reason));
        }
        Outcome::Failed(f) => {
            let _ = writeln!(
                out,
                "<p class=\"problem\"><a href=\"#s-{index}-step-{}\">step {} ({})</a> failed: {}</p>",
                f.step,
                f.step,
                esc(&f.label),
                esc(&redact(&f.message, &[]))
            );
        }
        Outcome::Passed => {}
    }
    let failure = match (&r.trace, &r.outcome) {
        (Some(t), _) => t.failure.clone(),
        (None, Outcome::Failed(f)) => Some(unrecorded_failure(f)),
        _ => None,
    };
    diagram::render(out, index, r, failure.as_ref());
    out.push_str("</section>\n");
}

/// A failure that did not go through the recorder: its secret fields redacted by name.
fn unrecorded_failure(f: &Failure) -> Failure {
    let mut f = f.clone();
    for s in [&mut f.request, &mut f.diff, &mut f.response]
        .into_iter()
        .flatten()
    {
        *s = redact(s, &[]);
    }
    f.message = redact(&f.message, &[]);
    f.journal = f.journal.iter().map(|l| redact(l, &[])).collect();
    f
}

/// The failure's explanation, for the failed step: what was wrong, the rule, the diff, the
/// request, the answer and the mock's journal.
fn failure_block(out: &mut String, f: &Failure) {
    out.push_str("<div class=\"failure\">\n");
    let _ = writeln!(
        out,
        "<p class=\"what\">step {} ({}) failed: {}</p>",
        f.step,
        esc(&f.label),
        esc(&f.message)
    );
    if let Some(rule) = &f.rule {
        let _ = writeln!(
            out,
            "<h4>profile rule</h4><pre class=\"rule\">{}</pre>",
            esc(rule)
        );
    }
    if let Some(d) = &f.diff {
        out.push_str("<h4>expected vs actual</h4><pre class=\"diff\">");
        for line in d.lines() {
            let t = line.trim_start();
            let class = if t.starts_with("---") || t.starts_with("+++") {
                "d-head"
            } else if t.starts_with('-') {
                "d-del"
            } else if t.starts_with('+') {
                "d-add"
            } else if t.starts_with("@@") {
                "d-hunk"
            } else {
                "d-same"
            };
            // One block per line: no newline between them, or each would count twice.
            let _ = write!(out, "<span class=\"{class}\">{}</span>", esc(line));
        }
        out.push_str("</pre>\n");
    }
    for (title, text) in [("request", &f.request), ("answer", &f.response)] {
        if let Some(t) = text {
            let _ = writeln!(out, "<h4>{title}</h4><pre>{}</pre>", esc(&pretty_tail(t)));
        }
    }
    if !f.journal.is_empty() {
        let _ = writeln!(
            out,
            "<h4>mock journal (most recent last)</h4><pre class=\"journal\">{}</pre>",
            esc(&f.journal.join("\n"))
        );
    }
    out.push_str("</div>\n");
}

/// A request or an answer as the runner wrote it (a head, then a body), its JSON body
/// pretty-printed.
fn pretty_tail(text: &str) -> String {
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, b),
        None => text.split_once('\n').unwrap_or((text, "")),
    };
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) if v.is_object() || v.is_array() => format!(
            "{head}\n\n{}",
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| body.to_owned())
        ),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_bodies_are_pretty() {
        assert_eq!(
            pretty_tail("HTTP 401\n{\"a\":1}"),
            "HTTP 401\n\n{\n  \"a\": 1\n}"
        );
        assert_eq!(
            pretty_tail("GET http://x/a\nh: 1\n\n[1]"),
            "GET http://x/a\nh: 1\n\n[\n  1\n]"
        );
        assert_eq!(pretty_tail("HTTP 500\nnot json"), "HTTP 500\nnot json");
        assert_eq!(pretty_tail(""), "");
    }

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            esc("</script><b x='1' y=\"2\">&"),
            "&lt;/script&gt;&lt;b x=&#39;1&#39; y=&quot;2&quot;&gt;&amp;"
        );
    }

    #[test]
    fn an_empty_run_renders() {
        let page = render(&RunSummary::default());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("0 of 0 shown"));
        assert!(page.trim_end().ends_with("</html>"));
    }
}
