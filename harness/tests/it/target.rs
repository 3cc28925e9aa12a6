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
async fn scenarios_run_one_after_another_on_a_shared_mock() {
    let mock = mock().await;
    let core = team_backend(&mock.base_url(), Some(mock.clock().clone())).await;
    let options = RunOptions::target(team_profile(core.base_url()), mock.base_url(), None);
    let found = find(&[fixture("portable"), fixture("pass")]).expect("fixtures");
    // Asked for 8 at a time, but the shared mock is reset per scenario: one at a time.
    let summary = execute(plan(found, &Filter::default()), &options, 8, |_| {}).await;
    assert!(summary.all_passed(), "{summary:#?}");
    assert_eq!(summary.passed(), 3);
}
