//! A scenario's sequence diagram in HTML and CSS: three lifelines (mini-program, backend,
//! WeChat), a block per step, and per exchange a `<details>` whose summary draws the call,
//! the WeChat calls the backend made meanwhile, and the return, and whose body shows the
//! request and the answer of each.

use std::fmt::Write as _;

use super::{esc, failure_block};
use crate::runner::trace::{Exchange, Party, StepStatus, StepTrace};
use crate::runner::{Failure, Outcome, ScenarioReport};

fn lane(p: Party) -> usize {
    match p {
        Party::App => 0,
        Party::Backend => 1,
        Party::WeChat => 2,
    }
}

/// The arrow's span and direction classes: `span-0-1 ltr`.
fn geometry(from: Party, to: Party) -> String {
    let (a, b) = (lane(from), lane(to));
    let (lo, hi) = (a.min(b), a.max(b));
    let dir = if a <= b { "ltr" } else { "rtl" };
    format!("span-{lo}-{hi} {dir}")
}

/// The colour of an exchange: which pair of lifelines it joins, or the runner's own.
fn colour(x: &Exchange) -> &'static str {
    if x.harness {
        return "c-harness";
    }
    match (x.from, x.to) {
        (Party::Backend, _) | (_, Party::Backend) if x.to == Party::WeChat => "c-vendor",
        (_, Party::Backend) | (Party::Backend, _) => "c-backend",
        _ => "c-wx",
    }
}

/// `200`, `401 login_required`, `200 errcode 40029`, `no answer`.
fn answer_label(x: &Exchange) -> String {
    match (x.status, &x.detail) {
        (Some(s), Some(d)) => format!("{s} {d}"),
        (Some(s), None) => s.to_string(),
        (None, Some(d)) => d.clone(),
        (None, None) => "no answer".into(),
    }
}

fn arrow(out: &mut String, kind: &str, from: Party, to: Party, colour: &str, text: &str) {
    let _ = write!(
        out,
        "<div class=\"arrow {kind} {} {colour}\" title=\"{1}\"><span class=\"line\"></span>\
         <span class=\"text\">{1}</span></div>",
        geometry(from, to),
        esc(text)
    );
}

/// The diagram of one scenario.
pub(super) fn render(
    out: &mut String,
    index: usize,
    r: &ScenarioReport,
    failure: Option<&Failure>,
) {
    let _ = writeln!(
        out,
        "<div class=\"diagram\" data-scenario=\"{index}\">\n\
         <div class=\"lane l0\"></div><div class=\"lane l1\"></div><div class=\"lane l2\"></div>\n\
         <div class=\"heads\"><div class=\"head app\">mini-program</div>\
         <div class=\"head backend\">backend under test</div>\
         <div class=\"head wechat\">WeChat (mock)</div></div>"
    );
    match &r.trace {
        Some(t) => {
            for step in &t.steps {
                step_block(out, index, step, failure);
            }
            if t.steps.is_empty() {
                note(out, "the scenario has no steps");
            }
        }
        None => {
            let why = match &r.outcome {
                Outcome::Skipped { .. } => "not run: skipped".to_owned(),
                Outcome::Error { .. } => "not run: the scenario could not be set up".to_owned(),
                _ => "the exchanges were not recorded".to_owned(),
            };
            note(out, &why);
            if let Some(f) = failure {
                failure_block(out, f);
            }
        }
    }
    out.push_str("</div>\n");
}

fn note(out: &mut String, text: &str) {
    let _ = writeln!(out, "<div class=\"note\">{}</div>", esc(text));
}

fn step_block(out: &mut String, index: usize, step: &StepTrace, failure: Option<&Failure>) {
    let status = match step.status {
        StepStatus::Passed => "passed",
        StepStatus::Failed => "failed",
        StepStatus::NotRun => "not-run",
    };
    let _ = write!(
        out,
        "<div class=\"step {status}\" id=\"s-{index}-step-{0}\" data-step=\"{0}\">\
         <div class=\"step-head\"><span class=\"num\">{0}</span> \
         <span class=\"action\">{1}</span> <span class=\"label\">{2}</span>",
        step.number,
        esc(&step.action),
        esc(&step.label)
    );
    match step.status {
        StepStatus::Failed => out.push_str(" <span class=\"state\">failed</span>"),
        StepStatus::NotRun => out.push_str(" <span class=\"state\">not run</span>"),
        StepStatus::Passed => {}
    }
    out.push_str("</div>\n");
    let last = step.exchanges.len().saturating_sub(1);
    for (i, x) in step.exchanges.iter().enumerate() {
        let failed = step.status == StepStatus::Failed && i == last;
        exchange(out, x, failed);
    }
    for x in &step.late_calls {
        exchange(out, x, false);
    }
    if step.omitted > 0 {
        note(
            out,
            &format!("… and {} more exchanges, not shown", step.omitted),
        );
    }
    if step.exchanges.is_empty() && step.late_calls.is_empty() && step.status != StepStatus::NotRun
    {
        note(out, "no request");
    }
    if step.status == StepStatus::Failed {
        if let Some(f) = failure {
            failure_block(out, f);
        }
    }
    out.push_str("</div>\n");
}

fn exchange(out: &mut String, x: &Exchange, failed: bool) {
    let paint = colour(x);
    let mut classes = format!("exchange {paint}");
    if x.harness {
        classes.push_str(" harness");
    }
    if failed {
        classes.push_str(" failed");
    }
    let _ = write!(
        out,
        "<details class=\"{classes}\" data-from=\"{}\" data-to=\"{}\"><summary>",
        party(x.from),
        party(x.to)
    );
    let call = format!("{} {}", x.method, x.path);
    arrow(out, "call", x.from, x.to, paint, &call);
    for c in &x.calls {
        let cc = colour(c);
        arrow(
            out,
            "call",
            c.from,
            c.to,
            cc,
            &format!("{} {}", c.method, c.path),
        );
        arrow(out, "return", c.to, c.from, cc, &answer_label(c));
    }
    if x.calls_omitted > 0 {
        let _ = write!(
            out,
            "<div class=\"note\">… and {} more WeChat calls</div>",
            x.calls_omitted
        );
    }
    arrow(out, "return", x.to, x.from, paint, &answer_label(x));
    out.push_str("</summary>\n<div class=\"payload\">\n");
    panes(out, x, None);
    for (i, c) in x.calls.iter().enumerate() {
        panes(out, c, Some(i + 1));
    }
    out.push_str("</div></details>\n");
}

fn party(p: Party) -> &'static str {
    match p {
        Party::App => "app",
        Party::Backend => "backend",
        Party::WeChat => "wechat",
    }
}

fn panes(out: &mut String, x: &Exchange, call: Option<usize>) {
    if let Some(n) = call {
        let _ = write!(
            out,
            "<div class=\"call-title\">WeChat call {n} by the backend: {} {} → {}</div>",
            esc(&x.method),
            esc(&x.path),
            esc(&answer_label(x))
        );
    }
    let _ = writeln!(
        out,
        "<div class=\"panes\"><div class=\"pane request\"><h4>request</h4><pre>{}</pre></div>\
         <div class=\"pane response\"><h4>answer</h4><pre>{}</pre></div></div>",
        esc(&x.request),
        esc(&x.response)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(from: Party, to: Party, harness: bool) -> Exchange {
        Exchange {
            from,
            to,
            harness,
            method: "GET".into(),
            path: "/a?<b>".into(),
            status: Some(200),
            detail: None,
            request: "GET /a".into(),
            response: "HTTP 200".into(),
            calls: vec![],
            calls_omitted: 0,
        }
    }

    #[test]
    fn arrows_go_the_right_way_in_the_right_colour() {
        assert_eq!(geometry(Party::App, Party::Backend), "span-0-1 ltr");
        assert_eq!(geometry(Party::WeChat, Party::App), "span-0-2 rtl");
        assert_eq!(colour(&x(Party::App, Party::Backend, false)), "c-backend");
        assert_eq!(colour(&x(Party::Backend, Party::WeChat, false)), "c-vendor");
        assert_eq!(colour(&x(Party::App, Party::WeChat, false)), "c-wx");
        assert_eq!(colour(&x(Party::App, Party::WeChat, true)), "c-harness");
        let mut out = String::new();
        exchange(&mut out, &x(Party::App, Party::Backend, false), true);
        assert!(out.contains("exchange c-backend failed"), "{out}");
        assert!(out.contains("GET /a?&lt;b&gt;"), "{out}");
        assert!(!out.contains("<b>"), "{out}");
    }
}
