//! The phone-first scenarios against "a team's backend": a login-core with an app that
//! registers by phone and an SMS account of its own, which the profile hands to the mock's
//! SMS gateway before the run.

use std::path::PathBuf;

use harness::runner::{Outcome, RunOptions, run_file};
use harness::target::{Registration, SmsAccount, TargetApp, TargetProfile};
use login_core::config::{AppConfig, SmsProvider, TencentSecretKey};
use login_core::ids::{AppId, AppSecret};

use crate::target::mock;

const PHONE_FIRST: &str = "wx00aa11bb22cc33dd";
const PHONE_FIRST_SECRET: &str = "aa00bb11cc22dd33ee44ff5566778899";

/// The team's SMS account (not the mock gateway's own).
fn account() -> SmsAccount {
    SmsAccount {
        secret_id: "AKIDteamAccount00000000000000000000".into(),
        secret_key: "the-team-secret-key".into(),
        sdk_app_id: "1400777777".into(),
        sign_name: "团队签名".into(),
        template_id: "1777777".into(),
        template: Some("验证码{1}，{2}分钟内有效。".into()),
    }
}

/// A login-core serving one phone-first app and sending SMS with [`account`] to the mock.
async fn backend(mock: &mock_server::MockHandle) -> login_core::LoginCoreHandle {
    let a = account();
    let mut config = login_core::Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: "sqlite::memory:".into(),
        wechat_base_url: mock.base_url(),
        ..login_core::Config::default()
    };
    config.apps = vec![AppConfig {
        appid: AppId::new(PHONE_FIRST),
        secret: AppSecret::new(PHONE_FIRST_SECRET),
        open_platform: None,
        registration: login_core::config::Registration::PhoneRequired,
    }];
    config.sms.provider = SmsProvider::Tencent;
    let t = &mut config.sms.tencent;
    t.endpoint = mock.sms_url();
    t.secret_id = a.secret_id;
    t.secret_key = TencentSecretKey(a.secret_key);
    t.sms_sdk_app_id = a.sdk_app_id;
    t.sign_name = a.sign_name;
    t.template_id = a.template_id;
    let deps = login_core::Deps {
        clock: std::sync::Arc::new(harness::context::SharedClock(mock.clock().clone())),
        ..login_core::Deps::default()
    };
    login_core::spawn_with(config, deps)
        .await
        .expect("login-core")
}

fn profile(base_url: String, registration: Registration, sms: bool) -> TargetProfile {
    let mut p = TargetProfile::login_core(base_url);
    p.apps.insert(
        "phone_first".into(),
        TargetApp {
            appid: PHONE_FIRST.into(),
            secret: PHONE_FIRST_SECRET.into(),
            open_platform: None,
            registration: Some(registration),
        },
    );
    p.sms = sms.then(account);
    p
}

fn library(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/phone-first")
        .join(rel)
}

#[tokio::test]
async fn the_profiles_sms_account_lets_a_teams_backend_send_codes_through_the_mock() {
    let mock = mock().await;
    let core = backend(&mock).await;
    let scenario = library("new-number-registers-with-wechat-bound.yaml");

    // Without the account, the mock's gateway does not know the backend's key.
    let options = RunOptions::target(
        profile(core.base_url(), Registration::PhoneRequired, false),
        mock.base_url(),
        None,
    );
    let report = run_file(&scenario, &options).await;
    let Outcome::Failed(f) = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(f.label.contains("SMS code"), "{f:?}");
    let refused = mock
        .control()
        .journal("endpoint=sms_send&tencent_code=AuthFailure.SecretIdNotFound")
        .await
        .expect("journal");
    assert_eq!(refused.entries.len(), 1);

    // With it, the gateway knows the account, and the journey passes.
    let options = RunOptions::target(
        profile(core.base_url(), Registration::PhoneRequired, true),
        mock.base_url(),
        None,
    );
    let report = run_file(&scenario, &options).await;
    assert!(
        report.passed(),
        "{}",
        harness::report::console::explain(&report)
    );
    let gateway = mock.sms_config();
    assert!(gateway.sdk_app_ids.contains(&"1400777777".to_owned()));
    let sent = mock.control().sms_outbox("").await.expect("outbox");
    let last = sent.messages.last().expect("a message");
    assert_eq!(
        (last.sdk_app_id.as_str(), last.template_id.as_str()),
        ("1400777777", "1777777")
    );
    assert!(
        last.content.starts_with("【团队签名】验证码"),
        "{}",
        last.content
    );
}

#[tokio::test]
async fn a_phone_first_journey_is_skipped_where_the_app_creates_accounts() {
    let mock = mock().await;
    let core = backend(&mock).await;
    let options = RunOptions::target(
        profile(core.base_url(), Registration::Auto, true),
        mock.base_url(),
        None,
    );
    let report = run_file(
        &library("new-number-registers-with-wechat-bound.yaml"),
        &options,
    )
    .await;
    match &report.outcome {
        Outcome::Skipped { reason } => assert!(
            reason.contains("apps.phone_first.registration is `auto`"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}
