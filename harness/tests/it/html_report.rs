//! The HTML report: one self-contained file with every scenario's steps drawn, the failure's
//! diff, hostile names escaped and session_keys redacted.

use std::path::{Path, PathBuf};

use harness::discover::{Filter, find};
use harness::report::html;
use harness::run_many::{RunSummary, execute, plan};
use harness::runner::RunOptions;

use crate::helpers::{fixture, run_fixtures};

/// Runs the scenarios below `paths` with their exchanges recorded.
async fn run_recorded(paths: &[PathBuf]) -> RunSummary {
    let found = find(paths).expect("scenarios exist");
    let mut options = RunOptions::default();
    options.record = true;
    execute(plan(found, &Filter::default()), &options, 4, |_| {}).await
}

/// The page of one scenario, from its `<section>` to the next.
fn section<'a>(page: &'a str, path: &str) -> &'a str {
    let marker = format!("<span class=\"path\">{path}</span>");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{path} in the page"));
    let start = page[..at].rfind("<section").expect("its section");
    let end = page[at..].find("</section>").map_or(page.len(), |e| at + e);
    &page[start..end]
}

/// Nothing in the page loads anything from anywhere: no tag that fetches, no `src`, no link
/// but to an anchor, no URL inside a tag, no `url(` or `@import` in the style.
fn assert_self_contained(page: &str) {
    const FETCHING: &[&str] = &[
        "link", "img", "iframe", "object", "embed", "audio", "video", "source", "base", "frame",
    ];
    let mut rest = page;
    while let Some(open) = rest.find('<') {
        let tail = &rest[open..];
        let close = tail.find('>').expect("every tag closes");
        let tag = &tail[..=close];
        let name = tag[1..]
            .split(|c: char| c.is_whitespace() || c == '>')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(!FETCHING.contains(&name.as_str()), "{tag}");
        for bad in ["src=", "http:", "https:", "url("] {
            assert!(!tag.contains(bad), "{bad} in {tag}");
        }
        if let Some(i) = tag.find("href=") {
            assert!(tag[i..].starts_with("href=\"#"), "a link out: {tag}");
        }
        rest = &tail[close + 1..];
        if name == "script" {
            let body_end = rest.find("</script>").expect("the script closes");
            let body = &rest[..body_end];
            for bad in [
                "http:",
                "https:",
                "import",
                "fetch(",
                "XMLHttpRequest",
                "src",
            ] {
                assert!(!body.contains(bad), "{bad} in the script");
            }
            rest = &rest[body_end..];
        }
        if name == "style" {
            let body_end = rest.find("</style>").expect("the style closes");
            let body = &rest[..body_end];
            assert!(
                !body.contains("url(") && !body.contains("@import"),
                "{body}"
            );
            rest = &rest[body_end..];
        }
    }
}

#[tokio::test]
async fn the_page_draws_every_step_and_the_failure() {
    let summary = run_recorded(&[fixture("pass"), fixture("fail")]).await;
    assert_eq!((summary.passed(), summary.failed()), (2, 1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("reports/deeper/report.html");
    html::write(&summary, &path).expect("written, folders created");
    let page = std::fs::read_to_string(&path).expect("read");
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..80]);
    assert!(page.trim_end().ends_with("</html>"));
    assert_self_contained(&page);
    assert_eq!(page.matches("<style>").count(), 1);
    assert_eq!(page.matches("<script>").count(), 1);
    assert_eq!(page.matches("<section class=\"scenario ").count(), 3);
    assert_eq!(page.matches("<div class=\"diagram\"").count(), 3);
    for (k, n) in [("passed", 2), ("failed", 1), ("skipped", 0), ("error", 0)] {
        assert!(
            page.contains(&format!("data-count=\"{k}\"><b>{n}</b>")),
            "{k}: {n}"
        );
    }
    assert!(page.contains("the embedded login-core"));

    // Every step of every scenario, with its label and its arrows.
    for entry in &summary.entries {
        let s = section(&page, &entry.found.relative_display());
        let scenario = harness::scenario::load(&entry.found.path).expect("loads");
        for (i, step) in scenario.steps.iter().enumerate() {
            let label = html_text(&harness::runner::label(step));
            assert!(
                s.contains(&format!("data-step=\"{}\"", i + 1)) && s.contains(&label),
                "step {} ({label}) of {}",
                i + 1,
                entry.found.relative_display()
            );
        }
        assert!(s.contains("class=\"arrow call"), "arrows in {s}");
    }

    // The first login: the mini-program asks WeChat for a code, the backend exchanges it.
    let first = section(&page, "pass/first-login.yaml");
    assert!(first.contains("POST /__mock__/wx/login"), "{first}");
    assert!(first.contains("POST /api/login"), "{first}");
    assert!(
        first.contains("data-from=\"app\" data-to=\"backend\""),
        "{first}"
    );
    assert!(first.contains("GET /sns/jscode2session?appid="), "{first}");
    assert!(first.contains("secret=«redacted»"), "{first}");
    assert!(
        first.contains("&quot;is_new&quot;: true"),
        "pretty body: {first}"
    );
    assert!(!first.contains("class=\"failure\""));

    // The failure: its step marked, the diff as lines, the request and the journal.
    let fail = section(&page, "fail/wrong-profile.yaml");
    assert!(fail.contains("data-status=\"failed\""));
    assert!(
        fail.contains("<div class=\"step failed\" id=\"s-1-step-3\""),
        "{fail}"
    );
    assert!(fail.contains("exchange c-backend failed"), "{fail}");
    assert!(fail.contains("expected vs actual"), "{fail}");
    assert!(
        fail.contains("<span class=\"d-del\">-    &quot;nickName&quot;: &quot;Alice&quot;</span>"),
        "{fail}"
    );
    assert!(fail.contains("mock journal (most recent last)"), "{fail}");
    assert!(
        fail.contains("<div class=\"step not-run\" id=\"s-1-step-4\""),
        "{fail}"
    );
    assert!(
        page.contains("<a href=\"#s-1\">"),
        "the failure listed at the top"
    );
}

/// The text as the page writes it.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const HOSTILE: &str = r#"name: "</script><script>alert('name')</script><b>bold</b> & co"
description: a scenario whose every text tries to break the page
tags: ["<i>tag</i>", "\"quoted\""]
steps:
  - name: "<img src=x onerror=alert(1)>"
    wx.login: { user: alice, save: w }
  - name: "the session_key sent where the runner would not look for it"
    request:
      path: "/api/login?<b>=</script>"
      headers: { x-echo: "${w.mock.session_key}" }
      json: { code: "${w.code}", note: "</script><script>alert(2)</script>" }
  - name: the control plane shows the user's session_key
    mock: { path: /users/alice }
  - name: "fails on purpose: </pre></details></section>"
    request:
      path: /api/me
      expect: { status: 299 }
"#;

#[tokio::test]
async fn hostile_names_are_escaped_and_secrets_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("<folder>");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("hostile.yaml"), HOSTILE).expect("written");
    let summary = run_recorded(&[dir.path().to_owned()]).await;
    assert_eq!(
        summary.failed(),
        1,
        "{:?}",
        summary.entries[0].report.outcome
    );
    let page = html::render(&summary);
    assert_self_contained(&page);
    // Our one script and nothing else: no tag the scenario wrote survives.
    assert_eq!(page.matches("<script").count(), 1);
    assert_eq!(page.matches("</script>").count(), 1);
    for raw in [
        "<b>bold",
        "<i>tag",
        "<img",
        "</pre></details></section>",
        "<folder>",
    ] {
        assert!(!page.contains(raw), "{raw} unescaped");
    }
    for escaped in [
        "&lt;/script&gt;&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp; co",
        "data-tag=\"&lt;i&gt;tag&lt;/i&gt;\"",
        "data-tag=\"&quot;quoted&quot;\"",
        "data-folder=\"&lt;folder&gt;\"",
        "&lt;img src=x onerror=alert(1)&gt;",
        "fails on purpose: &lt;/pre&gt;&lt;/details&gt;&lt;/section&gt;",
    ] {
        assert!(page.contains(escaped), "{escaped} in the page");
    }
    // The session_key: under a field the runner knows, and by value anywhere else.
    assert!(page.contains("x-echo: «redacted»"), "redacted by value");
    assert!(page.contains("&quot;session_key&quot;: &quot;«redacted»&quot;"));
    assert!(!page.contains("x-echo: &quot;"));
    let s = section(&page, "&lt;folder&gt;/hostile.yaml");
    assert!(s.contains("data-step=\"4\""), "{s}");
    assert!(s.contains("expected status 299, got"), "{s}");
}

#[tokio::test]
async fn without_a_recording_the_page_still_explains_failures() {
    let summary = run_fixtures(&["fail", "broken"], &Filter::default()).await;
    let page = html::render(&summary);
    assert_self_contained(&page);
    assert_eq!(page.matches("<div class=\"diagram\"").count(), 2);
    assert!(page.contains("the exchanges were not recorded"));
    assert!(page.contains("not run: the scenario could not be set up"));
    assert!(page.contains("expected vs actual"));
    assert!(page.contains("bad-yaml.yaml:6:"));
    assert!(Path::new(&summary.entries[0].found.path).exists());
}

#[test]
fn the_binary_writes_the_page_beside_the_other_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("out/html/report.html");
    let json = dir.path().join("out/report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--quiet", "--html"])
        .arg(&page)
        .arg("--json")
        .arg(&json)
        .arg(fixture("pass"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("HTML report: {}", page.display())),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&page).expect("written, folders created");
    assert_eq!(html.matches("<div class=\"diagram\"").count(), 2);
    assert!(html.contains("POST /api/logout"), "the steps are drawn");
    // The JSON report stays as it was: no trace in it.
    let v = std::fs::read_to_string(&json).expect("json written");
    assert!(!v.contains("\"trace\"") && !v.contains("exchanges"), "{v}");
    // A page that cannot be written is an error naming it.
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, "").expect("written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["run", "--quiet", "--html"])
        .arg(blocked.join("report.html"))
        .arg(fixture("pass"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the HTML report"));
}
