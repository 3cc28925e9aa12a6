//! Paths of the fixtures and a helper to run a few of them.

use std::path::PathBuf;

use harness::discover::{Filter, find};
use harness::run_many::{RunSummary, execute, plan};
use harness::runner::RunOptions;

/// `harness/tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Runs the fixtures below the given folders (embedded backend), with a filter.
pub async fn run_fixtures(folders: &[&str], filter: &Filter) -> RunSummary {
    let paths: Vec<PathBuf> = folders.iter().map(|f| fixture(f)).collect();
    let found = find(&paths).expect("fixtures exist");
    execute(plan(found, filter), &RunOptions::default(), 4, |_| {}).await
}

/// The app "a team's backend" is configured with (not one the mock starts with: the runner
/// adds it to the mock before every scenario).
pub const APPID: &str = "wx0123456789abcdef";
/// Its AppSecret.
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// "A team's backend": a login-core serving [`APPID`], calling WeChat at `wechat_base_url`,
/// on `clock` (the mock's, to share it) or the system clock.
pub async fn team_backend(
    wechat_base_url: &str,
    clock: Option<mock_server::Clock>,
) -> login_core::LoginCoreHandle {
    let mut config = login_core::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: "sqlite::memory:".into(),
        wechat_base_url: wechat_base_url.to_owned(),
        ..login_core::Config::default()
    };
    config.apps = vec![login_core::config::AppConfig {
        appid: login_core::ids::AppId::new(APPID),
        secret: login_core::ids::AppSecret::new(SECRET),
        open_platform: None,
        registration: login_core::config::Registration::default(),
    }];
    let mut deps = login_core::Deps::default();
    if let Some(c) = clock {
        deps.clock = std::sync::Arc::new(harness::context::SharedClock(c));
    }
    login_core::spawn_with(config, deps)
        .await
        .expect("login-core")
}

/// The profile of [`team_backend`]: login-core's, serving [`APPID`].
pub fn team_profile(base_url: String) -> harness::target::TargetProfile {
    let mut p = harness::target::TargetProfile::login_core(base_url);
    p.apps.insert(
        "default".into(),
        harness::target::TargetApp {
            appid: APPID.into(),
            secret: SECRET.into(),
            open_platform: None,
            registration: None,
        },
    );
    p
}
