//! The JUnit and JSON reports are well-formed and carry the failure.

use harness::discover::Filter;
use harness::report::{json, junit};
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};

use crate::helpers::run_fixtures;

#[tokio::test]
async fn junit_has_a_suite_per_folder_and_the_failure() {
    let summary = run_fixtures(&["pass", "fail", "broken"], &Filter::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("reports/junit.xml");
    junit::write(&summary, &path).expect("written, folder created");
    let xml = std::fs::read_to_string(&path).expect("read");
    assert!(xml.starts_with("<?xml"), "{xml}");
    let report = Report::deserialize_from_str(&xml).expect("well-formed JUnit");
    assert_eq!((report.tests, report.failures, report.errors), (4, 1, 1));
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["broken", "fail", "pass"]);

    let fail = &report.test_suites[1].test_cases[0];
    assert_eq!(
        fail.name.as_str(),
        "wrong-profile: A deliberately failing scenario"
    );
    assert_eq!(fail.classname.as_ref().map(|c| c.as_str()), Some("fail"));
    assert!(fail.time.is_some());
    let TestCaseStatus::NonSuccess {
        kind,
        message,
        description,
        ..
    } = &fail.status
    else {
        panic!("expected a failure: {:?}", fail.status);
    };
    assert_eq!(*kind, NonSuccessKind::Failure);
    let message = message.as_ref().expect("message").as_str();
    assert!(
        message.starts_with("step 3 (alice has a nickname (wrong on purpose)): the JSON differs"),
        "{message}"
    );
    let text = description.as_ref().expect("explanation").as_str();
    for part in [
        "request:",
        "GET http://127.0.0.1:",
        "-    \"nickName\": \"Alice\"",
        "mock journal",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }

    let broken = &report.test_suites[0].test_cases[0];
    assert_eq!(broken.name.as_str(), "bad-yaml");
    assert!(matches!(
        &broken.status,
        TestCaseStatus::NonSuccess { kind: NonSuccessKind::Error, message: Some(m), .. }
            if m.as_str().contains("bad-yaml.yaml:6:")
    ));

    let pass = &report.test_suites[2];
    assert_eq!(pass.test_cases.len(), 2);
    assert!(
        pass.test_cases
            .iter()
            .all(|c| matches!(c.status, TestCaseStatus::Success { .. }))
    );
    assert_eq!(
        pass.test_cases[0].name.as_str(),
        "first-login: A first login creates the user"
    );
}

#[tokio::test]
async fn json_has_the_summary_and_every_scenario() {
    let summary = run_fixtures(&["pass", "fail", "broken"], &Filter::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.json");
    json::write(&summary, &path).expect("written");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let s = &v["summary"];
    assert_eq!(
        (
            s["passed"].as_u64(),
            s["failed"].as_u64(),
            s["errors"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert!(s["duration_ms"].as_f64().is_some_and(|d| d > 0.0), "{s}");
    let scenarios = v["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 4);
    let fail = scenarios
        .iter()
        .find(|x| x["path"] == "fail/wrong-profile.yaml")
        .expect("the failing one");
    assert_eq!(fail["name"], "A deliberately failing scenario");
    assert_eq!(fail["tags"], serde_json::json!(["login", "failing"]));
    let o = &fail["outcome"];
    assert_eq!(o["status"], "failed");
    assert_eq!(o["step"], 3);
    assert_eq!(o["label"], "alice has a nickname (wrong on purpose)");
    assert!(
        o["message"]
            .as_str()
            .is_some_and(|m| m.contains("$.profile")),
        "{o}"
    );
    assert!(
        o["request"].as_str().is_some_and(|r| r.contains("/api/me")),
        "{o}"
    );
    assert!(
        o["diff"].as_str().is_some_and(|d| d.contains("nickName")),
        "{o}"
    );
    assert!(
        o["journal"][0]
            .as_str()
            .is_some_and(|j| j.contains("jscode2session")),
        "{o}"
    );
    assert!(fail["duration"].as_f64().is_some(), "{fail}");
    let broken = scenarios
        .iter()
        .find(|x| x["path"] == "broken/bad-yaml.yaml")
        .expect("the broken one");
    assert_eq!(broken["outcome"]["status"], "error");
    assert!(
        scenarios
            .iter()
            .filter(|x| x["outcome"]["status"] == "passed")
            .count()
            == 2
    );
}
