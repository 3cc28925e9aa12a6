//! One mock and one login-core per test, on random ports, sharing the mock's frozen clock; one
//! method per client call so tests read like a mini-program's journey.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use login_core::clock::{Clock, UnixMs};
use login_core::config::{AppConfig, Config, Registration};
use login_core::random::SeededRandom;
use login_core::sms::{SmsError, SmsMessage, SmsReceipt, SmsSender};
use login_core::store::StoreStats;
use login_core::store::postgres::testing::TestDatabase;
use login_core::{Deps, LoginCoreHandle};
use mock_server::config::AppSpec;
use mock_server::engine::{LoginGrant, PhoneGrant};
use mock_server::faults::FaultSpec;
use mock_server::ids::{AppId, PlatformId};
use mock_server::journal::JournalEntry;
use mock_server::opendata::{RuleEra, Tamper, UserInfoApi, UserInfoGrant};
use mock_server::{MockHandle, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};

/// 2024-08-22T01:14:57Z.
pub const START: i64 = 0x66c6_9111;

/// login-core's view of the mock's clock: one clock drives both servers.
#[derive(Debug)]
pub struct SharedMockClock(pub mock_server::Clock);

impl Clock for SharedMockClock {
    fn now(&self) -> UnixMs {
        UnixMs(self.0.now().millis())
    }
}

/// An HTTP answer from login-core.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_owned())
    }

    /// Asserts the documented error shape, status and code; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "status of {}", self.text);
        let v = self.json();
        let obj = v.as_object().expect("object");
        assert_eq!(obj.len(), 1, "only `error` at the top: {}", self.text);
        let err = v["error"].as_object().expect("error object");
        assert_eq!(
            err.len(),
            2,
            "error has code and message only: {}",
            self.text
        );
        assert_eq!(v["error"]["code"], code, "code of {}", self.text);
        let message = v["error"]["message"].as_str().expect("message").to_owned();
        assert!(!message.is_empty());
        message
    }

    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {}", self.text);
        self.json()
    }
}

/// How to set a test up.
pub struct Setup {
    /// Extra apps created in the mock before login-core starts (login-core serves them all).
    pub extra_apps: Vec<AppSpec>,
    /// Bind the mock's default app to this open platform.
    pub default_platform: Option<&'static str>,
    /// Changes to login-core's config.
    pub configure: Box<dyn FnOnce(&mut Config) + Send>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            extra_apps: Vec::new(),
            default_platform: None,
            configure: Box::new(|_| {}),
        }
    }
}

/// Where login-core keeps its data in a test.
pub enum Database {
    /// A SQLite file in the test's temp directory.
    Sqlite,
    /// A PostgreSQL schema of the test's own (see `store::postgres::testing`).
    Postgres(TestDatabase),
}

pub struct TestApp {
    pub mock: MockHandle,
    pub core: LoginCoreHandle,
    pub http: reqwest::Client,
    /// The default app.
    pub appid: AppId,
    /// The SMS messages login-core sent.
    pub outbox: Arc<Outbox>,
    /// The seed of the running core's randomness: 7, then one more on every restart, so a
    /// restarted core never draws the tokens an earlier one drew.
    seed: u64,
    /// login-core's database URL (kept across restarts).
    database_url: String,
    _dir: tempfile::TempDir,
    /// The PostgreSQL schema, when the test runs on one: dropped after the core.
    schema: Option<TestDatabase>,
}

/// login-core's SMS gateway in the tests: keeps every message (the phones' inboxes), and fails
/// the next sends with the errors it is given.
#[derive(Debug, Default)]
pub struct Outbox {
    sent: Mutex<Vec<SmsMessage>>,
    failures: Mutex<VecDeque<SmsError>>,
}

impl Outbox {
    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<SmsMessage> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last code sent to `phone` (E.164).
    #[track_caller]
    pub fn last_code(&self, phone: &str) -> String {
        self.messages()
            .iter()
            .rev()
            .find(|m| m.phone.e164() == phone)
            .map(|m| m.code.expose().to_owned())
            .unwrap_or_else(|| panic!("no SMS to {phone}"))
    }

    /// The next send fails with `e`.
    pub fn fail_next(&self, e: SmsError) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(e);
    }
}

#[async_trait::async_trait]
impl SmsSender for Outbox {
    async fn send(&self, message: &SmsMessage) -> Result<SmsReceipt, SmsError> {
        let failure = self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        if let Some(e) = failure {
            return Err(e);
        }
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(SmsReceipt::default())
    }
}

/// Two apps of one open-platform account.
pub fn sibling_app(appid: &str) -> AppSpec {
    AppSpec {
        appid: Some(AppId::new(appid)),
        secret: None,
        open_platform: Some(PlatformId::new("platform-1")),
        ..AppSpec::default()
    }
}

/// An app of its own (no open platform): its users get no unionid.
pub fn plain_app(appid: &str) -> AppSpec {
    AppSpec {
        appid: Some(AppId::new(appid)),
        ..AppSpec::default()
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(Setup::default()).await
    }

    pub async fn with(setup: Setup) -> Self {
        Self::on(Database::Sqlite, setup).await
    }

    /// Like [`TestApp::with`], on PostgreSQL: `None` (after saying so) when the tests are
    /// skipped because `LOGIN_CORE_TEST_POSTGRES` is unset.
    pub async fn on_postgres(test: &str, setup: Setup) -> Option<Self> {
        let schema = TestDatabase::create(test).await?;
        Some(Self::on(Database::Postgres(schema), setup).await)
    }

    /// A test app whose login-core keeps its data in `database`.
    pub async fn on(database: Database, setup: Setup) -> Self {
        let mock = mock_server::spawn(mock_server::config::Config {
            seed: "login-core".into(),
            clock: mock_server::Clock::manual(Timestamp::from_secs(START)),
            listen: "127.0.0.1:0".parse().expect("addr"),
            ..mock_server::config::Config::default()
        })
        .await
        .expect("mock starts");
        let appid = mock.default_app().appid;
        if let Some(p) = setup.default_platform {
            let (status, body) = control(
                &mock,
                reqwest::Method::PATCH,
                &format!("/apps/{appid}"),
                json!({"open_platform": p}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
        for spec in &setup.extra_apps {
            mock.control().create_app(spec).await.expect("app created");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, schema) = match database {
            Database::Sqlite => (
                format!("sqlite://{}", dir.path().join("core.db").display()),
                None,
            ),
            Database::Postgres(schema) => (schema.url(), Some(schema)),
        };
        let outbox = Arc::new(Outbox::default());
        let core = start_core(
            &mock,
            dir.path(),
            &database_url,
            7,
            outbox.clone(),
            setup.configure,
        )
        .await;
        Self {
            mock,
            core,
            http: reqwest::Client::new(),
            appid,
            outbox,
            seed: 7,
            database_url,
            _dir: dir,
            schema,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.core.base_url())
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        assert!(
            !text.contains("session_key") && !text.to_lowercase().contains("sessionkey"),
            "a response mentions a session_key: {text}"
        );
        Resp {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// `wx.login` in the mini-program: a fresh code for `user` in the default app.
    pub async fn wx_login(&self, user: &str) -> String {
        self.wx_login_in(&self.appid.clone(), user).await
    }

    pub async fn wx_login_in(&self, appid: &AppId, user: &str) -> String {
        self.mock
            .control()
            .wx_login(appid, user)
            .await
            .expect("wx.login")
            .code
    }

    /// `POST /api/login` with a code.
    pub async fn login_code(&self, code: &str) -> Resp {
        self.post("/api/login", None, json!({ "code": code })).await
    }

    /// `POST /api/login` with a code of the app `appid`.
    pub async fn login_code_in(&self, appid: &str, code: &str) -> Resp {
        self.post("/api/login", None, json!({ "code": code, "appid": appid }))
            .await
    }

    /// `user` tries to log in to the default app with a fresh code: whatever login-core says.
    pub async fn try_login(&self, user: &str) -> Resp {
        let code = self.wx_login(user).await;
        self.login_code(&code).await
    }

    /// A full login of `user` in the default app; returns the token and the answer.
    pub async fn login(&self, user: &str) -> (String, Value) {
        let body = self.try_login(user).await.ok();
        (token_of(&body), body)
    }

    pub async fn login_in(&self, appid: &AppId, user: &str) -> (String, Value) {
        let code = self.wx_login_in(appid, user).await;
        let body = self.login_code_in(appid.as_str(), &code).await.ok();
        (token_of(&body), body)
    }

    /// Moves the one clock both servers read.
    pub fn advance(&self, d: Duration) {
        self.mock.clock().advance(d);
    }

    pub async fn fault(&self, spec: Value) {
        let spec: FaultSpec = serde_json::from_value(spec).expect("fault spec");
        self.mock
            .control()
            .add_fault(&spec)
            .await
            .expect("fault added");
    }

    /// How many times the mock saw `endpoint`.
    pub async fn calls(&self, endpoint: &str) -> usize {
        let page = self
            .mock
            .control()
            .journal(&format!("endpoint={endpoint}"))
            .await
            .expect("journal");
        page.entries.len()
    }

    pub async fn stats(&self) -> StoreStats {
        self.core.services().store().stats().await.expect("stats")
    }

    pub async fn mock_control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, v) = control(&self.mock, method, path, body).await;
        assert!(status < 300, "mock control {path}: {status} {v}");
        v
    }
}

/// Every app the mock knows, as login-core's configuration lists them: the mock's default app
/// first, so logins without an appid go to it.
fn mock_apps(mock: &MockHandle) -> Vec<AppConfig> {
    let mut apps = mock.engine().state_view().apps;
    apps.sort_by_key(|a| !a.default);
    apps.into_iter()
        .map(|a| AppConfig {
            appid: login_core::ids::AppId::new(a.appid.as_str()),
            secret: login_core::ids::AppSecret::new(a.secret.as_str()),
            open_platform: a
                .open_platform
                .map(|p| login_core::ids::PlatformId::new(p.as_str())),
            registration: Registration::default(),
        })
        .collect()
}

/// The flags that run the login-core binary against `mock`: WeChat at the mock, serving the
/// mock's default app.
pub fn mock_flags(mock: &MockHandle) -> Vec<String> {
    let app = mock.default_app();
    vec![
        "--wechat-base-url".into(),
        mock.base_url(),
        "--appid".into(),
        app.appid.as_str().to_owned(),
        "--secret".into(),
        app.secret,
    ]
}

/// Starts a login-core on `database_url` and `dir/server.key`, serving the mock's apps, on the
/// mock's clock, with random numbers seeded by `seed`, sending SMS to `outbox`, hashing
/// passwords with little work.
pub async fn start_core(
    mock: &MockHandle,
    dir: &std::path::Path,
    database_url: &str,
    seed: u64,
    outbox: Arc<Outbox>,
    configure: impl FnOnce(&mut Config),
) -> LoginCoreHandle {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: database_url.to_owned(),
        server_key_file: dir.join("server.key"),
        wechat_base_url: mock.base_url(),
        apps: mock_apps(mock),
        ..Config::default()
    };
    config.upstream.backoff = Duration::from_millis(1);
    config.upstream.timeout = Duration::from_secs(2);
    // Tests count cgi-bin/token calls; stable_token (the default) has tests of its own.
    config.upstream.access_token = login_core::wechat::TokenMode::Plain;
    config.phone.password_hash = login_core::config::PasswordHashConfig {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    configure(&mut config);
    // The outbox stands in for the SMS gateway, unless the test configures Tencent's.
    let tencent = config.sms.provider == login_core::config::SmsProvider::Tencent;
    login_core::spawn_with(
        config,
        Deps {
            clock: Arc::new(SharedMockClock(mock.clock().clone())),
            random: Arc::new(SeededRandom::new(seed)),
            wechat: None,
            sms: (!tencent).then_some(outbox as Arc<dyn SmsSender>),
        },
    )
    .await
    .expect("login-core starts")
}

pub async fn control(
    mock: &MockHandle,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, format!("{}/__mock__{path}", mock.base_url()))
        .json(&body)
        .send()
        .await
        .expect("control request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------------
// Added for the session, profile, phone and api tests.

impl TestApp {
    /// Like [`TestApp::send`], without the session_key check: for documents that may name it
    /// (`/openapi.json` describes where the session_key stays).
    pub async fn send_unchecked(&self, req: reqwest::RequestBuilder) -> Resp {
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Resp {
            status,
            headers,
            text,
        }
    }

    /// Any method, an optional bearer token and an optional JSON body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    /// A POST with raw bytes and the given Content-Type (none when `None`).
    pub async fn post_bytes(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self.http.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// A GET with a raw `Authorization` header value.
    pub async fn get_with_authorization(&self, path: &str, authorization: &str) -> Resp {
        let req = self
            .http
            .get(self.url(path))
            .header(reqwest::header::AUTHORIZATION, authorization);
        self.send(req).await
    }

    /// Stops login-core (gracefully) and starts a new one on the same database file and server
    /// key file, with the same mock and clock; `configure` changes the new configuration (say,
    /// another `server_key`). The new core draws other random numbers than every earlier one.
    pub async fn restart_core(self, configure: impl FnOnce(&mut Config)) -> Self {
        let TestApp {
            mock,
            core,
            http,
            appid,
            outbox,
            seed,
            database_url,
            _dir,
            schema,
        } = self;
        core.shutdown().await;
        let seed = seed + 1;
        let core = start_core(
            &mock,
            _dir.path(),
            &database_url,
            seed,
            outbox.clone(),
            configure,
        )
        .await;
        Self {
            mock,
            core,
            http,
            appid,
            outbox,
            seed,
            database_url,
            _dir,
            schema,
        }
    }
}

impl TestApp {
    /// The PostgreSQL schema login-core works in, when it runs on one.
    pub fn schema(&self) -> Option<&TestDatabase> {
        self.schema.as_ref()
    }

    /// The directory holding login-core's database (`core.db`) and server key (`server.key`).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

// ---------------------------------------------------------------------------------------------
// Added for the login, upstream, transport and concurrency tests.

impl TestApp {
    /// `wx.login` with the mock's facts about the code (openid, unionid, session_key).
    pub async fn grant_in(&self, appid: &AppId, user: &str) -> LoginGrant {
        self.mock
            .control()
            .wx_login(appid, user)
            .await
            .expect("wx.login")
    }

    /// The mock's journal entries matching `query` (`endpoint=token`), oldest first.
    pub async fn journal_entries(&self, query: &str) -> Vec<JournalEntry> {
        self.mock
            .control()
            .journal(query)
            .await
            .expect("journal")
            .entries
    }

    /// Changes the mock's options (`{"login_quota_per_minute": 2}`).
    pub async fn set_mock_options(&self, patch: Value) {
        self.mock
            .control()
            .set_options(&patch)
            .await
            .expect("mock options changed");
    }

    /// The value of one series of `/metrics` (`name{labels}` exactly as exposed); 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let resp = self.get("/metrics", None).await;
        assert_eq!(resp.status, 200, "{}", resp.text);
        resp.text
            .lines()
            .find_map(|line| {
                line.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .map_or(0.0, |v| v.trim().parse().expect("a number"))
    }

    /// `login_core_upstream_errors_total` for an endpoint and errcode (or transport label).
    pub async fn upstream_errors(&self, endpoint: &str, errcode: &str) -> f64 {
        self.metric(&format!(
            "login_core_upstream_errors_total{{endpoint=\"{endpoint}\",errcode=\"{errcode}\"}}"
        ))
        .await
    }

    /// Asserts that login-core has stored nothing at all.
    pub async fn assert_nothing_stored(&self) {
        assert_eq!(
            self.stats().await,
            StoreStats::default(),
            "nothing is written"
        );
    }

    /// The bytes of every file of login-core's database (`core.db` and its `-wal`, `-shm`),
    /// by file name.
    pub fn database_files(&self) -> Vec<(String, Vec<u8>)> {
        ["core.db", "core.db-wal", "core.db-shm"]
            .into_iter()
            .filter_map(|name| {
                std::fs::read(self._dir.path().join(name))
                    .ok()
                    .map(|bytes| (name.to_owned(), bytes))
            })
            .collect()
    }
}

/// Seconds from `now_ms` to the next multiple of `period` seconds, as `Retry-After` counts them.
pub fn seconds_to_next(now_ms: i64, period: i64) -> u64 {
    let left = period * 1000 - now_ms.rem_euclid(period * 1000);
    u64::try_from((left + 999) / 1000).expect("positive")
}

// ---------------------------------------------------------------------------------------------
// The steps the journeys share: set-ups, the mini-program's buttons, the API's endpoints.

impl TestApp {
    /// A test app whose login-core configuration `configure` changes.
    pub async fn configured(configure: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        Self::with(Setup {
            configure: Box::new(configure),
            ..Setup::default()
        })
        .await
    }

    /// A test app whose default app is bound to the open platform `platform-1`, and whose mock
    /// also has `extra_app`.
    pub async fn on_platform_with(extra_app: AppSpec) -> Self {
        Self::with(Setup {
            default_platform: Some("platform-1"),
            extra_apps: vec![extra_app],
            ..Setup::default()
        })
        .await
    }

    /// A test app whose mock also has these apps (login-core serves them all).
    pub async fn with_apps(extra_apps: Vec<AppSpec>) -> Self {
        Self::with(Setup {
            extra_apps,
            ..Setup::default()
        })
        .await
    }

    /// `wx.login` of `user` in the default app, with the mock's facts about the code.
    pub async fn grant(&self, user: &str) -> LoginGrant {
        self.grant_in(&self.appid, user).await
    }

    /// `user` logs in to the default app; returns the token, the answer and the mock's facts.
    pub async fn login_with_grant(&self, user: &str) -> Login {
        let grant = self.grant(user).await;
        let body = self.login_code(&grant.code).await.ok();
        Login {
            token: token_of(&body),
            body,
            grant,
        }
    }

    /// The getPhoneNumber button of `user` in the default app: a code (and, once the user has
    /// logged in, the legacy encryptedData).
    pub async fn phone_grant(&self, user: &str) -> PhoneGrant {
        self.phone_grant_in(&self.appid, user).await
    }

    /// The getPhoneNumber button of `user` in `appid`.
    pub async fn phone_grant_in(&self, appid: &AppId, user: &str) -> PhoneGrant {
        self.mock
            .control()
            .wx_phone_code(appid, user)
            .await
            .expect("getPhoneNumber")
    }

    /// The legacy getPhoneNumber of `user` in the default app (encryptedData), tampered with
    /// if `tamper` says so.
    pub async fn legacy_phone(&self, user: &str, tamper: Option<Tamper>) -> PhoneGrant {
        self.mock
            .control()
            .wx_phone_number(&self.appid, user, tamper)
            .await
            .expect("getPhoneNumber")
    }

    /// The mini-program's `wx.getUserProfile` / `wx.getUserInfo` for `user` in the default app.
    pub async fn user_info(
        &self,
        user: &str,
        api: UserInfoApi,
        era: Option<RuleEra>,
        tamper: Option<Tamper>,
    ) -> UserInfoGrant {
        self.mock
            .control()
            .wx_user_info(&self.appid, user, api, era, tamper)
            .await
            .expect("user info")
    }

    /// `GET /api/me`, which must succeed.
    pub async fn me(&self, token: &str) -> Value {
        self.get("/api/me", Some(token)).await.ok()
    }

    /// `GET /api/session/check`, which must succeed.
    pub async fn check(&self, token: &str) -> Value {
        self.get("/api/session/check", Some(token)).await.ok()
    }

    /// `GET /api/session/check` through [`TestApp::send_unchecked`]: the `session_key_stale`
    /// error names the session_key.
    pub async fn check_unchecked(&self, token: &str) -> Resp {
        let req = self
            .http
            .get(self.url("/api/session/check"))
            .bearer_auth(token);
        self.send_unchecked(req).await
    }

    /// `POST /api/session/refresh`.
    pub async fn refresh(&self, token: &str) -> Resp {
        self.post("/api/session/refresh", Some(token), json!({}))
            .await
    }

    /// `POST /api/me/profile`.
    pub async fn update_profile(&self, token: &str, body: Value) -> Resp {
        self.post("/api/me/profile", Some(token), body).await
    }

    /// `POST /api/me/phone`.
    pub async fn bind_phone(&self, token: &str, body: Value) -> Resp {
        self.post("/api/me/phone", Some(token), body).await
    }

    /// `POST /api/me/phone` with a getPhoneNumber code.
    pub async fn bind_phone_code(&self, token: &str, code: &str) -> Resp {
        self.bind_phone(token, json!({ "code": code })).await
    }

    /// `user` presses getPhoneNumber in the default app and the session of `token` binds the
    /// code, which must succeed; returns the grant and the answer.
    pub async fn bind_phone_of(&self, token: &str, user: &str) -> (PhoneGrant, Value) {
        let grant = self.phone_grant(user).await;
        let body = self.bind_phone_code(token, &grant.code).await.ok();
        (grant, body)
    }

    /// A POST of raw bytes as `application/json`.
    pub async fn post_json_bytes(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> Resp {
        self.post_bytes(path, token, Some("application/json"), body)
            .await
    }

    /// The errcodes the mock answered on `endpoint`, oldest first.
    pub async fn errcodes(&self, endpoint: &str) -> Vec<Option<i64>> {
        self.journal_entries(&format!("endpoint={endpoint}"))
            .await
            .iter()
            .map(|e| e.errcode)
            .collect()
    }

    /// What is stored: (users, identities, sessions).
    pub async fn counts(&self) -> (u64, u64, u64) {
        let stats = self.stats().await;
        (stats.users, stats.identities, stats.sessions)
    }
}

/// A login through login-core, with what the mock knows about its code.
pub struct Login {
    /// The login token.
    pub token: String,
    /// login-core's answer.
    pub body: Value,
    /// The mock's facts about the code (openid, unionid, session_key).
    pub grant: LoginGrant,
}

/// The token of a login or refresh answer.
pub fn token_of(body: &Value) -> String {
    body["token"].as_str().expect("token").to_owned()
}

/// The body forwarding encrypted data as the mini-program got it: `encryptedData` and `iv`.
pub fn encrypted(data: &impl Serialize, iv: &impl Serialize) -> Value {
    json!({ "encryptedData": data, "iv": iv })
}

/// The JSON body of a request in the mock's journal.
pub fn request_body(entry: &JournalEntry) -> Value {
    serde_json::from_str(&entry.body).expect("JSON body")
}

// ---------------------------------------------------------------------------------------------
// The phone-first logins: registration tickets, SMS codes, passwords, WeChat numbers at login.

/// A configuration change: every app answers unknown WeChat users with a registration ticket.
pub fn phone_required(c: &mut Config) {
    for app in &mut c.apps {
        app.registration = login_core::config::Registration::PhoneRequired;
    }
}

/// `+86…` for a mainland number, as the outbox keys messages.
pub fn e164(number: &str) -> String {
    login_core::phone::PhoneNumber::parse(number)
        .expect("a number")
        .e164()
}

/// The ticket of a `registration_required` answer, which must be one.
#[track_caller]
pub fn ticket_of(r: &Resp) -> String {
    assert_eq!(r.status, 401, "{}", r.text);
    let v = r.json();
    assert_eq!(v["error"]["code"], "registration_required", "{}", r.text);
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(2),
        "`error` and `registration`: {}",
        r.text
    );
    v["registration"]["ticket"]
        .as_str()
        .expect("registration.ticket")
        .to_owned()
}

impl TestApp {
    /// `POST /api/sms/send` for a login code.
    pub async fn send_code(&self, phone: &str) -> Resp {
        self.post(
            "/api/sms/send",
            None,
            json!({"phone": phone, "purpose": "login"}),
        )
        .await
    }

    /// `POST /api/login/sms`.
    pub async fn sms_login(&self, phone: &str, code: &str, ticket: Option<&str>) -> Resp {
        let mut body = json!({"phone": phone, "code": code});
        if let Some(t) = ticket {
            body["ticket"] = json!(t);
        }
        self.post("/api/login/sms", None, body).await
    }

    /// A code is sent to `phone` (which must succeed) and typed in: whatever login-core says.
    pub async fn sms_login_fresh(&self, phone: &str, ticket: Option<&str>) -> Resp {
        self.send_code(phone).await.ok();
        let code = self.outbox.last_code(&e164(phone));
        self.sms_login(phone, &code, ticket).await
    }

    /// `POST /api/login/password`.
    pub async fn password_login(&self, phone: &str, password: &str, ticket: Option<&str>) -> Resp {
        let mut body = json!({"phone": phone, "password": password});
        if let Some(t) = ticket {
            body["ticket"] = json!(t);
        }
        self.post("/api/login/password", None, body).await
    }

    /// `user` logs in to `appid` with a fresh code and the getPhoneNumber code of the number
    /// WeChat has for them: `POST /api/login {code, phone_code}`.
    pub async fn login_with_phone_code_in(&self, appid: &AppId, user: &str) -> Resp {
        let code = self.wx_login_in(appid, user).await;
        let phone = self.phone_grant_in(appid, user).await;
        self.post(
            "/api/login",
            None,
            json!({"code": code, "phone_code": phone.code, "appid": appid.as_str()}),
        )
        .await
    }

    /// `user`'s WeChat number is `number` (mainland China); the user is created if new.
    pub async fn set_wechat_number(&self, user: &str, number: &str) {
        let phone = Some(Some(mock_server::config::PhoneSpec {
            country_code: "86".into(),
            number: number.into(),
        }));
        let handle = mock_server::ids::UserHandle::new(user);
        let spec = mock_server::UserSpec {
            handle: Some(handle.clone()),
            phone: phone.clone(),
            ..mock_server::UserSpec::default()
        };
        if self.mock.control().create_user(&spec).await.is_err() {
            let patch = mock_server::UserSpec {
                phone,
                ..mock_server::UserSpec::default()
            };
            self.mock
                .control()
                .patch_user(&handle, &patch)
                .await
                .expect("number changed");
        }
    }
}
