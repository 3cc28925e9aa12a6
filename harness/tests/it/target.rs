//! Target mode: the scenarios against "a team's backend" (here a login-core configured with its
//! own app, as a team's server would be) with a mock at a known URL.

use harness::context::DEFAULT_START;
use harness::discover::{Filter, find};
use harness::run_many::{execute, plan};
use harness::runner::{RunOptions, run_file};
use mock_server::{Clock, MockHandle, Timestamp};

use crate::helpers::{APPID, fixture, team_backend, team_profile};

/// A mock on a random port with a fixed seed.
pub async fn mock() -> MockHandle {
    mock_server::spawn(mock_server::Config {
        seed: "team".into(),
        clock: Clock::manual(Timestamp::from_secs(DEFAULT_START)),
        ..mock_server::Config::default()
    })
    .await
    .expect("mock")
}

#[tokio::test]
async fn a_portable_scenario_passes_against_a_teams_backend() {
    let mock = mock().await;
    let core = team_backend(&mock.base_url(), Some(mock.clock().clone())).await;
    let options = RunOptions::target(team_profile(core.base_url()), mock.base_url(), None);
    let report = run_file(&fixture("portable/login-and-me.yaml"), &options).await;
    assert!(
        report.passed(),
        "{}",
        harness::report::console::explain(&report)
    );
    // The backend really called the mock, with its own credentials.
    let page = mock
        .control()
        .journal("endpoint=jscode2session")
        .await
        .expect("journal");
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].appid.as_deref(), Some(APPID));
}

#[tokio::test]
async fn every_run_meets_new_people_and_an_explicit_seed_repeats_one() {
    let mock = mock().await;
    let core = team_backend(&mock.base_url(), Some(mock.clock().clone())).await;
    let run = |seed: Option<&str>| {
        let options = RunOptions::target(
            team_profile(core.base_url()),
            mock.base_url(),
            seed.map(Into::into),
        );
        let found = find(&[fixture("portable"), fixture("pass")]).expect("fixtures");
        async move { execute(plan(found, &Filter::default()), &options, 8, |_| {}).await }
    };
    // The backend remembers everyone (one database for all runs), and the mock is never reset:
    // still, a first login is a first login in every scenario of every run.
    for _ in 0..2 {
        let summary = run(None).await;
        assert!(summary.all_passed(), "{summary:#?}");
        assert_eq!(summary.passed(), 3);
    }
    let first = run(Some("fixed")).await;
    assert!(first.all_passed(), "{first:#?}");
    assert_eq!(first.seed.as_deref(), Some("fixed"));
    // The same seed again is the same people: alice is no longer new.
    let again = run(Some("fixed")).await;
    assert_eq!(again.failed(), 1, "{again:#?}");
}

#[tokio::test]
async fn a_scenario_needing_a_route_the_profile_leaves_out_is_skipped_with_the_reason() {
    let mock = mock().await;
    let core = team_backend(&mock.base_url(), Some(mock.clock().clone())).await;
    let mut profile = team_profile(core.base_url());
    profile.routes.whoami = None;
    let options = RunOptions::target(profile, mock.base_url(), None);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("whoami.yaml");
    std::fs::write(
        &path,
        "name: who am I\nsteps:\n  - login: { user: a }\n  - whoami: { as: a, expect: { user: a } }\n",
    )
    .expect("write");
    let report = run_file(&path, &options).await;
    match &report.outcome {
        harness::runner::Outcome::Skipped { reason } => assert_eq!(
            reason,
            "needs the `whoami` route, which the profile leaves out (routes.whoami)"
        ),
        other => panic!("{other:?}"),
    }
    // With the route, it runs and passes.
    let options = RunOptions::target(team_profile(core.base_url()), mock.base_url(), None);
    let report = run_file(&path, &options).await;
    assert!(
        report.passed(),
        "{}",
        harness::report::console::explain(&report)
    );
}
