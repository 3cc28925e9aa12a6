//! Tests of [`WeChat`] over [`HttpWeChat`] against the in-process WeChat mock: code exchange,
//! retries of `-1`, token caching and refresh, stable tokens, checksession, phone numbers, the
//! transport faults the mock can inject, and what the observer is told.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_server::faults::{FaultSpec, Transport};
use mock_server::journal::JournalEntry;
use mock_server::{Clock, MockHandle, Timestamp};

use super::*;
use crate::clock::{ManualClock, UnixMs};
use crate::ids::AppSecret;
use crate::wechat::http::HttpWeChat;
use crate::wechat::{NoObserver, WeChatApi};

/// 2024-08-22T01:14:57Z, the mock tests' start time; both clocks start here.
const START: i64 = 0x66c6_9111;

/// What the observer was told: endpoint and outcome label (`ok` or the error's label).
#[derive(Default)]
struct Recorder(Mutex<Vec<(Endpoint, String)>>);

impl UpstreamObserver for Recorder {
    fn observe(&self, endpoint: Endpoint, outcome: Result<(), &WeChatError>, _: Duration) {
        let label = outcome.map_or_else(WeChatError::label, |()| "ok".into());
        self.0.lock().expect("not poisoned").push((endpoint, label));
    }
}

impl Recorder {
    fn seen(&self) -> Vec<(Endpoint, String)> {
        self.0.lock().expect("not poisoned").clone()
    }
}

struct Fixture {
    mock: MockHandle,
    clock: ManualClock,
    app: AppCredentials,
    wechat: Arc<WeChat>,
    observer: Arc<Recorder>,
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(4),
    }
}

impl Fixture {
    async fn new() -> Self {
        Self::with(TokenMode::Plain, fast_retries()).await
    }

    async fn with(mode: TokenMode, retry: RetryPolicy) -> Self {
        let mock = mock_server::spawn(mock_server::Config {
            seed: "login-core".into(),
            clock: Clock::manual(Timestamp::from_secs(START)),
            ..mock_server::Config::default()
        })
        .await
        .expect("mock starts");
        let default = mock.default_app();
        let app = AppCredentials {
            appid: AppId::new(default.appid.as_str()),
            secret: AppSecret::new(default.secret),
        };
        let clock = ManualClock::new(UnixMs(START * 1000));
        let api = HttpWeChat::new(
            &mock.base_url(),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .expect("valid base URL");
        let observer = Arc::new(Recorder::default());
        let wechat = Arc::new(WeChat::new(
            Arc::new(api),
            Arc::new(clock.clone()),
            mode,
            retry,
            observer.clone(),
        ));
        Self {
            mock,
            clock,
            app,
            wechat,
            observer,
        }
    }

    /// The default app with another secret than WeChat's.
    fn app_with_secret(&self, secret: &str) -> AppCredentials {
        AppCredentials {
            appid: self.app.appid.clone(),
            secret: AppSecret::new(secret),
        }
    }

    fn mock_appid(&self) -> mock_server::ids::AppId {
        mock_server::ids::AppId::new(self.app.appid.as_str())
    }

    /// Moves both clocks: login-core's and the mock's.
    fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.mock.clock().advance(d);
    }

    async fn login(&self, user: &str) -> mock_server::engine::LoginGrant {
        self.login_in(&self.mock_appid(), user).await
    }

    /// `wx.login` for `user` in the mock's app `appid`.
    async fn login_in(
        &self,
        appid: &mock_server::ids::AppId,
        user: &str,
    ) -> mock_server::engine::LoginGrant {
        self.mock
            .control()
            .wx_login(appid, user)
            .await
            .expect("wx.login succeeds")
    }

    async fn phone_code(&self, user: &str) -> mock_server::engine::PhoneGrant {
        self.mock
            .control()
            .wx_phone_code(&self.mock_appid(), user)
            .await
            .expect("getPhoneNumber succeeds")
    }

    /// `wx.login` for `user`: a fresh code.
    async fn fresh_code(&self, user: &str) -> JsCode {
        JsCode::new(self.login(user).await.code)
    }

    /// jscode2session of `code` for the default app.
    async fn exchange(&self, code: &JsCode) -> Result<CodeSession, WeChatError> {
        self.wechat.code2session(&self.app, code).await
    }

    /// Logs `user` in and exchanges the fresh code, which must fail.
    async fn failed_exchange(&self, user: &str) -> WeChatError {
        let code = self.fresh_code(user).await;
        self.exchange(&code).await.expect_err("the exchange fails")
    }

    /// Logs `user` in and exchanges the code: (openid, session_key).
    async fn session(&self, user: &str) -> (OpenId, SessionKey) {
        let code = self.fresh_code(user).await;
        let s = self.exchange(&code).await.expect("code exchanges");
        (s.openid, s.session_key)
    }

    /// The default app's access token, cached or fetched.
    async fn token(&self) -> AccessToken {
        self.wechat.access_token(&self.app).await.expect("token")
    }

    /// checksession of `key` for `openid` in the default app.
    async fn check(&self, openid: &OpenId, key: &SessionKey) -> Result<(), WeChatError> {
        self.wechat.check_session(&self.app, openid, key).await
    }

    /// getuserphonenumber of the phone `code` in the default app, for `openid` if given.
    async fn phone(&self, code: &str, openid: Option<&OpenId>) -> Result<PhoneInfo, WeChatError> {
        self.wechat
            .phone_number(&self.app, &PhoneCode::new(code), openid)
            .await
    }

    async fn fault(&self, spec: serde_json::Value) {
        let spec: FaultSpec = serde_json::from_value(spec).expect("a fault spec");
        self.mock
            .control()
            .add_fault(&spec)
            .await
            .expect("fault accepted");
    }

    /// Journal entries of one mock endpoint (`token`, `jscode2session`, ...), oldest first.
    async fn journal(&self, endpoint: &str) -> Vec<JournalEntry> {
        self.mock
            .control()
            .journal(&format!("endpoint={endpoint}"))
            .await
            .expect("journal readable")
            .entries
    }

    /// The JSON body of the `n`th request to `endpoint`.
    async fn body(&self, endpoint: &str, n: usize) -> serde_json::Value {
        serde_json::from_str(&self.journal(endpoint).await[n].body).expect("JSON body")
    }

    async fn calls(&self, endpoint: &str) -> Vec<Option<i64>> {
        self.journal(endpoint)
            .await
            .iter()
            .map(|e| e.errcode)
            .collect()
    }
}

fn api_error(code: i64) -> impl Fn(&WeChatError) -> bool {
    move |e| e.errcode() == Some(code)
}

/// What the observer should have been told, in order.
fn observed(calls: &[(Endpoint, &str)]) -> Vec<(Endpoint, String)> {
    calls
        .iter()
        .map(|(endpoint, label)| (*endpoint, (*label).to_owned()))
        .collect()
}

// --- jscode2session -------------------------------------------------------------------------

#[tokio::test]
async fn code2session_returns_openid_and_session_key() {
    let f = Fixture::new().await;
    let grant = f.login("alice").await;
    let s = f
        .exchange(&JsCode::new(grant.code.clone()))
        .await
        .expect("code exchanges");
    assert_eq!(s.openid.as_str(), grant.mock.openid.as_str());
    assert_eq!(s.session_key.expose(), grant.mock.session_key);
    assert!(s.session_key.aes_key().is_some());
    assert_eq!(s.unionid, None, "the default app has no open platform");
    assert_eq!(
        f.observer.seen(),
        observed(&[(Endpoint::Code2Session, "ok")])
    );
    // jscode2session needs no access token.
    assert!(f.journal("token").await.is_empty());
}

#[tokio::test]
async fn code2session_returns_unionid_for_a_bound_app() {
    let f = Fixture::new().await;
    let view = f
        .mock
        .control()
        .create_app(&mock_server::AppSpec {
            open_platform: Some(mock_server::ids::PlatformId::new("platform-1")),
            ..Default::default()
        })
        .await
        .expect("app created");
    let grant = f.login_in(&view.appid, "alice").await;
    let app = AppCredentials {
        appid: AppId::new(view.appid.as_str()),
        secret: AppSecret::new(view.secret),
    };
    let s = f
        .wechat
        .code2session(&app, &JsCode::new(grant.code))
        .await
        .expect("code exchanges");
    let unionid = grant.mock.unionid.expect("bound app has a unionid");
    assert_eq!(s.unionid.map(|u| u.to_string()), Some(unionid.to_string()));
}

#[tokio::test]
async fn code2session_invalid_code_is_40029_without_retry() {
    let f = Fixture::new().await;
    let err = f
        .exchange(&JsCode::new("0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"))
        .await
        .expect_err("unknown code");
    assert!(api_error(40029)(&err), "{err:?}");
    assert_eq!(f.calls("jscode2session").await, vec![Some(40029)]);
}

#[tokio::test]
async fn code2session_reused_code_is_40163() {
    let f = Fixture::new().await;
    let code = f.fresh_code("alice").await;
    f.exchange(&code).await.expect("first use");
    let err = f.exchange(&code).await.expect_err("second use");
    assert!(api_error(40163)(&err), "{err:?}");
    assert_eq!(f.calls("jscode2session").await, vec![Some(0), Some(40163)]);
}

#[tokio::test]
async fn code2session_wrong_secret_is_40125_and_not_retried() {
    let f = Fixture::new().await;
    let code = f.fresh_code("alice").await;
    let app = f.app_with_secret("not-the-secret");
    let err = f
        .wechat
        .code2session(&app, &code)
        .await
        .expect_err("wrong secret");
    assert!(api_error(40125)(&err), "{err:?}");
    assert!(!err.to_string().contains("not-the-secret"));
    assert_eq!(f.calls("jscode2session").await.len(), 1);
}

#[tokio::test]
async fn code2session_retries_system_error_then_succeeds() {
    let f = Fixture::new().await;
    f.fault(serde_json::json!({"endpoint": "jscode2session", "errcode": -1, "times": 2}))
        .await;
    let grant = f.login("alice").await;
    let s = f
        .exchange(&JsCode::new(grant.code))
        .await
        .expect("third try succeeds");
    assert_eq!(s.openid.as_str(), grant.mock.openid.as_str());
    assert_eq!(
        f.calls("jscode2session").await,
        vec![Some(-1), Some(-1), Some(0)]
    );
    assert_eq!(
        f.observer.seen(),
        observed(&[
            (Endpoint::Code2Session, "-1"),
            (Endpoint::Code2Session, "-1"),
            (Endpoint::Code2Session, "ok"),
        ])
    );
}

#[tokio::test]
async fn code2session_gives_up_after_the_configured_attempts() {
    let retry = RetryPolicy {
        attempts: 4,
        ..fast_retries()
    };
    let f = Fixture::with(TokenMode::Plain, retry).await;
    f.fault(serde_json::json!({"endpoint": "jscode2session", "errcode": -1}))
        .await;
    let err = f.failed_exchange("alice").await;
    assert!(err.is_system_busy(), "{err:?}");
    assert_eq!(f.calls("jscode2session").await, vec![Some(-1); 4]);
    assert_eq!(f.observer.seen().len(), 4);
}

#[tokio::test]
async fn code2session_does_not_retry_other_errors() {
    let f = Fixture::new().await;
    f.fault(serde_json::json!({"endpoint": "jscode2session", "errcode": 45011}))
        .await;
    let err = f.failed_exchange("alice").await;
    assert!(api_error(45011)(&err), "{err:?}");
    assert_eq!(f.calls("jscode2session").await, vec![Some(45011)]);
}

#[tokio::test]
async fn code2session_reports_the_system_error_when_it_used_up_the_code() {
    let f = Fixture::new().await;
    f.fault(serde_json::json!({
        "endpoint": "jscode2session", "errcode": -1, "times": 1, "consume_code": true
    }))
    .await;
    let err = f.failed_exchange("alice").await;
    assert!(err.is_system_busy(), "{err:?}");
    assert_eq!(f.calls("jscode2session").await, vec![Some(-1), Some(40163)]);
}

#[tokio::test]
async fn code2session_transport_faults_are_not_retried() {
    let f = Fixture::new().await;
    f.fault(serde_json::json!({"endpoint": "jscode2session", "http_status": 502, "times": 1}))
        .await;
    let code = f.fresh_code("alice").await;
    let err = f.exchange(&code).await.expect_err("gateway error");
    assert!(matches!(err, WeChatError::Status(502)), "{err:?}");
    assert_eq!(f.journal("jscode2session").await.len(), 1);
    // The code was not spent: the user can try again.
    f.exchange(&code).await.expect("the same code exchanges");
}

// --- transport faults through the adapter ---------------------------------------------------

#[tokio::test]
async fn mock_transport_faults_are_classified() {
    let f = Fixture::new().await;
    let api = HttpWeChat::new(
        &f.mock.base_url(),
        Duration::from_millis(200),
        Duration::from_secs(2),
    )
    .expect("valid base URL");
    let cases = [
        (Transport::Drop, "connect"),
        (Transport::Reset, "connect"),
        (Transport::Truncate, "connect"),
        (Transport::Malformed, "bad_body"),
    ];
    for (transport, label) in cases {
        f.fault(
            serde_json::json!({"endpoint": "jscode2session", "transport": transport, "times": 1}),
        )
        .await;
        let code = f.login("alice").await.code;
        let err = api
            .code2session(&f.app, &JsCode::new(code.clone()))
            .await
            .expect_err("fault fires");
        assert_eq!(err.label(), label, "{transport:?}: {err:?}");
        let text = err.to_string();
        assert!(!text.contains(&code), "{text}");
        assert!(!text.contains(f.app.secret.expose()), "{text}");
    }
    f.fault(serde_json::json!({"endpoint": "jscode2session", "delay": "1s", "times": 1}))
        .await;
    let err = api
        .code2session(&f.app, &f.fresh_code("alice").await)
        .await
        .expect_err("too slow");
    assert!(
        matches!(err, WeChatError::Timeout(d) if d == Duration::from_millis(200)),
        "{err:?}"
    );
}

// --- access tokens ------------------------------------------------------------------------

#[tokio::test]
async fn access_token_is_cached_until_near_expiry() {
    let f = Fixture::new().await;
    let t1 = f.token().await;
    let again = f.token().await;
    assert_eq!(t1, again);
    assert_eq!(f.calls("token").await, vec![Some(0)]);
    assert_eq!(
        f.observer.seen(),
        observed(&[(Endpoint::AccessToken, "ok")])
    );
    // 7200 s tokens are refreshed five minutes early.
    f.advance(Duration::from_secs(6899));
    assert_eq!(f.token().await, t1);
    assert_eq!(f.journal("token").await.len(), 1);
    f.advance(Duration::from_secs(1));
    let t2 = f.token().await;
    assert_ne!(t1, t2);
    assert_eq!(f.journal("token").await.len(), 2);
    // The request carried the credentials in the query string, as WeChat wants them.
    let entry = &f.journal("token").await[0];
    assert_eq!(entry.params["grant_type"], "client_credential");
    assert_eq!(entry.params["appid"], f.app.appid.as_str());
}

#[tokio::test]
async fn token_fetch_failure_is_returned_as_is() {
    let f = Fixture::new().await;
    let app = f.app_with_secret("wrong");
    let code = PhoneCode::new(f.phone_code("alice").await.code);
    let err = f
        .wechat
        .phone_number(&app, &code, None)
        .await
        .expect_err("no token");
    assert!(api_error(40125)(&err), "{err:?}");
    assert!(f.journal("getuserphonenumber").await.is_empty());
    assert_eq!(
        f.observer.seen(),
        observed(&[(Endpoint::AccessToken, "40125")])
    );
}

#[tokio::test]
async fn token_fetch_retries_system_error() {
    let f = Fixture::new().await;
    f.fault(serde_json::json!({"endpoint": "token", "errcode": -1, "times": 1}))
        .await;
    f.token().await;
    assert_eq!(f.calls("token").await, vec![Some(-1), Some(0)]);
}

#[tokio::test]
async fn expired_token_42001_is_refreshed_and_the_call_retried_once() {
    let f = Fixture::new().await;
    let t1 = f.token().await;
    // Only WeChat's clock moves: our cache still believes in the token.
    f.mock.clock().advance(Duration::from_secs(7201));
    let grant = f.phone_code("alice").await;
    let info = f
        .phone(&grant.code, None)
        .await
        .expect("retried with a new token");
    assert_eq!(info.pure_phone_number, grant.mock.phone.number);
    assert_eq!(
        f.calls("getuserphonenumber").await,
        vec![Some(42001), Some(0)]
    );
    assert_eq!(f.journal("token").await.len(), 2);
    let t2 = f.token().await;
    assert_ne!(t1, t2, "the refreshed token is cached");
    assert_eq!(f.journal("token").await.len(), 2);
    assert_eq!(
        f.observer.seen(),
        observed(&[
            (Endpoint::AccessToken, "ok"),
            (Endpoint::PhoneNumber, "42001"),
            (Endpoint::AccessToken, "ok"),
            (Endpoint::PhoneNumber, "ok"),
        ])
    );
}

#[tokio::test]
async fn rejected_token_40001_is_refreshed_once_then_the_error_returned() {
    let f = Fixture::new().await;
    let (openid, key) = f.session("alice").await;
    f.fault(serde_json::json!({"endpoint": "checksession", "errcode": 40001, "times": 1}))
        .await;
    f.check(&openid, &key)
        .await
        .expect("second try with a new token");
    assert_eq!(f.calls("checksession").await, vec![Some(40001), Some(0)]);
    assert_eq!(f.journal("token").await.len(), 2);

    // Rejected again after the refresh: no third try.
    f.fault(serde_json::json!({"endpoint": "checksession", "errcode": 42001}))
        .await;
    let err = f.check(&openid, &key).await.expect_err("always rejected");
    assert!(api_error(42001)(&err), "{err:?}");
    assert_eq!(f.journal("checksession").await.len(), 4);
    assert_eq!(f.journal("token").await.len(), 3);
}

#[tokio::test]
async fn stable_mode_uses_stable_token_and_forces_after_a_rejection() {
    let f = Fixture::with(TokenMode::Stable, fast_retries()).await;
    let t1 = f.token().await;
    assert_eq!(f.token().await, t1);
    assert_eq!(f.journal("stable_token").await.len(), 1);
    assert!(f.journal("token").await.is_empty());
    let body = f.body("stable_token", 0).await;
    assert_eq!(body["grant_type"], "client_credential");
    assert_eq!(body["appid"], f.app.appid.as_str());
    assert_eq!(body["force_refresh"], false);

    f.fault(serde_json::json!({"endpoint": "getuserphonenumber", "errcode": 40001, "times": 1}))
        .await;
    let grant = f.phone_code("alice").await;
    let info = f
        .phone(&grant.code, None)
        .await
        .expect("retried with a forced token");
    assert_eq!(info.pure_phone_number, grant.mock.phone.number);
    assert_eq!(f.journal("stable_token").await.len(), 2);
    assert_eq!(f.body("stable_token", 1).await["force_refresh"], true);
    let t2 = f.token().await;
    assert_ne!(t1, t2);

    // Near expiry the normal call is used again, and the mock rotates the token.
    f.advance(Duration::from_secs(6950));
    let t3 = f.token().await;
    assert_ne!(t2, t3);
    assert_eq!(f.body("stable_token", 2).await["force_refresh"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_token_callers_make_one_upstream_call() {
    let f = Fixture::new().await;
    // Slow the token endpoint so every caller arrives while the first fetch is in flight.
    f.fault(serde_json::json!({"endpoint": "token", "delay": "100ms"}))
        .await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let wechat = f.wechat.clone();
        let app = f.app.clone();
        set.spawn(async move { wechat.access_token(&app).await });
    }
    let mut tokens = Vec::new();
    while let Some(r) = set.join_next().await {
        tokens.push(r.expect("task ran").expect("token"));
    }
    assert_eq!(tokens.len(), 64);
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(f.calls("token").await, vec![Some(0)]);
}

// --- checksession and phone numbers ---------------------------------------------------------

#[tokio::test]
async fn check_session_accepts_the_current_key_and_refuses_others() {
    let f = Fixture::new().await;
    let (openid, key) = f.session("alice").await;
    f.check(&openid, &key).await.expect("current key");
    let entry = &f.journal("checksession").await[0];
    assert_eq!(entry.params["sig_method"], "hmac_sha256");
    assert_eq!(
        entry.params["signature"],
        crate::crypto::login_signature(&key, b"")
    );

    let wrong = SessionKey::new("tiihtNczf5v6AKRyjwEUhQ==");
    let err = f.check(&openid, &wrong).await.expect_err("wrong key");
    assert!(api_error(87009)(&err), "{err:?}");

    // A new login rotates the key (no minimum period): the old one is refused.
    f.mock
        .control()
        .set_options(&serde_json::json!({"session_key_min_rotation": "0s"}))
        .await
        .expect("options accepted");
    let (_, new_key) = f.session("alice").await;
    assert_ne!(new_key, key);
    let err = f.check(&openid, &key).await.expect_err("rotated away");
    assert!(api_error(87009)(&err), "{err:?}");
    f.check(&openid, &new_key).await.expect("new key");
    // One token for all of it; 87009 is not retried.
    assert_eq!(f.journal("token").await.len(), 1);
    assert_eq!(
        f.calls("checksession").await,
        vec![Some(0), Some(87009), Some(87009), Some(0)]
    );
}

#[tokio::test]
async fn phone_number_returns_the_users_number() {
    let f = Fixture::new().await;
    let grant = f.phone_code("alice").await;
    let info = f.phone(&grant.code, None).await.expect("phone number");
    let phone = &grant.mock.phone;
    assert_eq!(info.pure_phone_number, phone.number);
    assert_eq!(info.country_code, phone.country_code);
    assert!(info.phone_number.ends_with(&phone.number), "{info:?}");
    assert_eq!(f.journal("getuserphonenumber").await[0].method, "POST");
    let body = f.body("getuserphonenumber", 0).await;
    assert_eq!(body, serde_json::json!({"code": grant.code}));

    // Single use.
    let err = f.phone(&grant.code, None).await.expect_err("used");
    assert!(api_error(40029)(&err), "{err:?}");
}

#[tokio::test]
async fn phone_number_checks_the_openid_when_given() {
    let f = Fixture::new().await;
    let grant = f.phone_code("alice").await;
    let other = OpenId::new("o-somebody-else-000000000000");
    let err = f
        .phone(&grant.code, Some(&other))
        .await
        .expect_err("not alice's openid");
    assert!(api_error(40029)(&err), "{err:?}");

    let grant = f.phone_code("alice").await;
    let openid = OpenId::new(grant.mock.openid.as_str());
    let info = f
        .phone(&grant.code, Some(&openid))
        .await
        .expect("alice's openid");
    assert_eq!(info.pure_phone_number, grant.mock.phone.number);
    let body = f.body("getuserphonenumber", 1).await;
    assert_eq!(
        body,
        serde_json::json!({"code": grant.code, "openid": openid.as_str()})
    );
}

#[tokio::test]
async fn phone_number_retries_system_error() {
    let f = Fixture::new().await;
    f.fault(serde_json::json!({"endpoint": "getuserphonenumber", "errcode": -1, "times": 2}))
        .await;
    let grant = f.phone_code("alice").await;
    f.phone(&grant.code, None).await.expect("third try");
    assert_eq!(
        f.calls("getuserphonenumber").await,
        vec![Some(-1), Some(-1), Some(0)]
    );
}

// --- policy details without a network ---------------------------------------------------------

#[test]
fn retry_policy_defaults_and_configuration() {
    assert_eq!(
        RetryPolicy::default(),
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    );
    let p: RetryPolicy =
        serde_json::from_str(r#"{"attempts": 5, "base_delay": "10ms"}"#).expect("valid");
    assert_eq!(p.attempts, 5);
    assert_eq!(p.base_delay, Duration::from_millis(10));
    assert_eq!(p.max_delay, Duration::from_secs(1));
    assert!(serde_json::from_str::<RetryPolicy>(r#"{"tries": 5}"#).is_err());
}

/// A port that always answers `-1`, counting calls.
#[derive(Default)]
struct AlwaysBusy(std::sync::atomic::AtomicU32);

#[async_trait::async_trait]
impl WeChatApi for AlwaysBusy {
    async fn code2session(
        &self,
        _: &AppCredentials,
        _: &JsCode,
    ) -> Result<CodeSession, WeChatError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(WeChatError::Api {
            errcode: -1,
            errmsg: "system error".into(),
        })
    }
    async fn access_token(
        &self,
        _: &AppCredentials,
        _: TokenRequest,
    ) -> Result<IssuedToken, WeChatError> {
        Err(WeChatError::Timeout(Duration::from_secs(1)))
    }
    async fn check_session(&self, _: &AccessToken, _: &OpenId, _: &str) -> Result<(), WeChatError> {
        Err(WeChatError::Status(500))
    }
    async fn phone_number(
        &self,
        _: &AccessToken,
        _: &PhoneCode,
        _: Option<&OpenId>,
    ) -> Result<PhoneInfo, WeChatError> {
        Err(WeChatError::Status(500))
    }
}

#[tokio::test]
async fn zero_attempts_still_tries_once_and_futures_are_send() {
    let api = Arc::new(AlwaysBusy::default());
    let wechat = WeChat::new(
        api.clone(),
        Arc::new(ManualClock::new(UnixMs(0))),
        TokenMode::Plain,
        RetryPolicy {
            attempts: 0,
            ..fast_retries()
        },
        Arc::new(NoObserver),
    );
    let app = AppCredentials {
        appid: AppId::new("wx1"),
        secret: AppSecret::new("s"),
    };
    let code = JsCode::new("c");
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    // The services run these inside axum handlers, which need Send futures.
    let err = assert_send(wechat.code2session(&app, &code))
        .await
        .expect_err("busy");
    assert!(err.is_system_busy());
    assert_eq!(api.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    let openid = OpenId::new("o");
    let key = SessionKey::new("k");
    let err = assert_send(wechat.check_session(&app, &openid, &key))
        .await
        .expect_err("no token");
    assert!(matches!(err, WeChatError::Timeout(_)), "{err:?}");
    let pc = PhoneCode::new("p");
    assert!(
        assert_send(wechat.phone_number(&app, &pc, None))
            .await
            .is_err()
    );
    assert!(assert_send(wechat.access_token(&app)).await.is_err());
}
