//! The runner's reports: a failing step explained, a broken file as an error, filters.

use harness::discover::{Filter, find};
use harness::report::console::{Style, explain, line};
use harness::run_many::plan;
use harness::runner::{Outcome, RunOptions, run_file};

use crate::helpers::{fixture, run_fixtures};

#[tokio::test]
async fn a_failing_step_is_explained_with_request_diff_and_journal() {
    let path = fixture("fail/wrong-profile.yaml");
    let report = run_file(&path, &RunOptions::default()).await;
    let Outcome::Failed(f) = &report.outcome else {
        panic!("expected a failure: {report:?}");
    };
    assert_eq!((report.steps_passed, report.steps_total), (2, 4));
    assert_eq!(f.step, 3);
    assert_eq!(f.label, "alice has a nickname (wrong on purpose)");
    assert!(
        f.message.starts_with("the JSON differs at $.profile"),
        "{}",
        f.message
    );
    let request = f.request.as_deref().expect("the request is shown");
    assert!(
        request.starts_with("GET http://127.0.0.1:") && request.contains("/api/me"),
        "{request}"
    );
    assert!(request.contains("\nAuthorization: Bearer "), "{request}");
    let diff = f.diff.as_deref().expect("a diff");
    assert!(
        diff.contains("--- expected") && diff.contains("+++ actual"),
        "{diff}"
    );
    assert!(diff.contains("-    \"nickName\": \"Alice\""), "{diff}");
    assert!(diff.contains("+  \"profile\": null"), "{diff}");
    let response = f.response.as_deref().expect("the answer");
    assert!(response.starts_with("HTTP 200\n"), "{response}");
    assert_eq!(f.journal.len(), 1, "{:?}", f.journal);
    assert!(
        f.journal[0].contains("GET /sns/jscode2session -> 200 errcode=0"),
        "{:?}",
        f.journal
    );

    let text = explain(&report);
    let head = format!(
        "{}: step 3 of 4 (alice has a nickname (wrong on purpose)) failed: the JSON differs",
        path.display()
    );
    assert!(text.starts_with(&head), "{text}");
    for part in [
        "\nrequest:\n    GET http://127.0.0.1:",
        "\nexpected vs actual:\n    --- expected",
        "\nresponse:\n    HTTP 200",
        "\nmock journal (most recent last):\n    #1 ",
    ] {
        assert!(text.contains(part), "{part:?} missing in\n{text}");
    }
}

#[tokio::test]
async fn a_broken_file_is_an_error_naming_the_line() {
    let summary = run_fixtures(&["broken"], &Filter::default()).await;
    assert_eq!(summary.entries.len(), 1);
    assert_eq!(summary.errors(), 1);
    let e = &summary.entries[0];
    let Outcome::Error { message } = &e.report.outcome else {
        panic!("expected an error: {:?}", e.report);
    };
    let at = format!("{}:6:", fixture("broken/bad-yaml.yaml").display());
    assert!(message.starts_with(&at), "{message}");
    assert!(message.contains("flow mapping"), "{message}");
    assert_eq!(
        line(e, 0, Style::plain()),
        "ERROR bad-yaml.yaml",
        "a file that never ran has no name or time"
    );
    assert!(explain(&e.report).starts_with(&at));
}

#[tokio::test]
async fn passing_scenarios_pass_in_parallel() {
    let summary = run_fixtures(&["pass", "portable"], &Filter::default()).await;
    assert_eq!(summary.passed(), 3, "{summary:#?}");
    assert!(summary.all_passed());
    let paths: Vec<String> = summary
        .entries
        .iter()
        .map(|e| e.found.relative_display())
        .collect();
    assert_eq!(
        paths,
        [
            "pass/first-login.yaml",
            "pass/logout.yaml",
            "portable/login-and-me.yaml"
        ]
    );
}

fn selected(filter: &Filter) -> (Vec<String>, usize) {
    let found = find(&[fixture("")]).expect("fixtures");
    let plan = plan(found, filter);
    let names = plan
        .items
        .iter()
        .map(|i| i.found.relative_display())
        .collect();
    (names, plan.filtered_out)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn filters_by_name_path_tag_and_skip_tag() {
    let (all, out) = selected(&Filter::default());
    assert_eq!(
        all,
        [
            "broken/bad-yaml.yaml",
            "fail/wrong-profile.yaml",
            "generated/reuse-limit.yaml",
            "pass/first-login.yaml",
            "pass/logout.yaml",
            "portable/login-and-me.yaml"
        ]
    );
    assert_eq!(out, 0);

    // By name (case-sensitive substring) or path; a broken file is judged by its path.
    let (names, out) = selected(&Filter {
        names: strings(&["deliberately", "logout"]),
        ..Filter::default()
    });
    assert_eq!(names, ["fail/wrong-profile.yaml", "pass/logout.yaml"]);
    assert_eq!(out, 4);
    let (names, _) = selected(&Filter {
        names: strings(&["fixtures/pass/"]),
        ..Filter::default()
    });
    assert_eq!(names, ["pass/first-login.yaml", "pass/logout.yaml"]);

    // By tag: any of; a broken file cannot be judged by tag and is kept.
    let (names, out) = selected(&Filter {
        tags: strings(&["sessions", "portable"]),
        ..Filter::default()
    });
    assert_eq!(
        names,
        [
            "broken/bad-yaml.yaml",
            "pass/logout.yaml",
            "portable/login-and-me.yaml"
        ]
    );
    assert_eq!(out, 3);

    // Skip tags win over everything.
    let (names, _) = selected(&Filter {
        tags: strings(&["login"]),
        skip_tags: strings(&["failing", "portable"]),
        ..Filter::default()
    });
    assert_eq!(names, ["broken/bad-yaml.yaml", "pass/first-login.yaml"]);
}

#[tokio::test]
async fn generated_inputs_shrink_to_the_simplest_failing_case() {
    let path = fixture("generated/reuse-limit.yaml");
    let report = run_file(&path, &RunOptions::default()).await;
    let Outcome::Failed(f) = &report.outcome else {
        panic!("expected a failure: {report:?}");
    };
    let generated = report.generated.as_ref().expect("exploration recorded");
    let failing = generated.failing.as_ref().expect("failing inputs");
    // Every case from three reuses on fails; shrinking finds the boundary and the shortest
    // user name.
    assert_eq!(failing["reuses"], serde_json::json!(3), "{failing:?}");
    assert_eq!(failing["user"], serde_json::json!("a"), "{failing:?}");
    assert!(
        f.message
            .starts_with("with reuses = 3, user = \"a\" (case "),
        "{}",
        f.message
    );
    assert!(f.message.contains("round 3 of 3"), "{}", f.message);
    assert!(
        f.message.contains("expected status 400, got 429"),
        "{}",
        f.message
    );
}

/// Runs a scenario given as text against the embedded login-core; its failure message.
async fn failure_of(text: &str) -> String {
    let path = std::path::Path::new("inline.yaml");
    let scenario = harness::scenario::Scenario::parse(path, text).expect("the scenario parses");
    let report = harness::runner::run_scenario(path, &scenario, &RunOptions::default()).await;
    match report.outcome {
        Outcome::Failed(f) => format!("step {}: {}", f.step, f.message),
        other => panic!("expected a failure: {other:?}"),
    }
}

#[tokio::test]
async fn a_session_call_gives_a_login_or_a_token_not_both() {
    let message = failure_of(
        "name: x\nsteps:\n  - login: { user: alice }\n  - whoami: { as: alice, token: abc }\n",
    )
    .await;
    assert_eq!(
        message,
        "step 2: give `as` (a saved login) or `token` (a token to send), not both"
    );
}

#[tokio::test]
async fn a_journal_wait_gives_up_at_its_limit_and_says_how_long_it_waited() {
    let message = failure_of(
        "name: x\nsteps:\n  - journal: { endpoint: jscode2session, count: 1, wait: 30ms }\n",
    )
    .await;
    assert_eq!(
        message,
        "step 1: expected 1 jscode2session requests since the scenario started, the mock received 0 (waited 30ms)"
    );
    let message = failure_of("name: x\nsteps:\n  - journal: { count: 1, wait: soon }\n").await;
    assert!(
        message.starts_with("step 1: journal.wait: \"soon\" is not a duration"),
        "{message}"
    );
}
