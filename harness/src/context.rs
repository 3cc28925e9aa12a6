//! A test context: the mock and login-core in process, on random ports, sharing one virtual
//! clock; and a simulated mini-program client that attaches its token and logs in again when
//! the backend answers 401 `login_required`. The Rust API for teams writing tests in Rust.

use std::sync::Arc;
use std::time::Duration;

use login_core::clock::{Clock as CoreClock, UnixMs};
use login_core::random::SeededRandom;
use login_core::{Deps, LoginCoreHandle};
use mock_server::ids::AppId;
use mock_server::{Clock, MockHandle, Timestamp};
use serde_json::{Value, json};

/// 2024-08-22T01:14:57Z, the default start of the virtual clock.
pub const DEFAULT_START: i64 = 1_724_289_297;

/// login-core's view of the mock's clock: one clock drives both servers.
#[derive(Clone, Debug)]
pub struct SharedClock(pub Clock);

impl CoreClock for SharedClock {
    fn now(&self) -> UnixMs {
        UnixMs(self.0.now().millis())
    }
}

/// Why the context could not start.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The mock did not start.
    #[error("mock-server: {0}")]
    Mock(#[from] mock_server::StartError),
    /// login-core did not start.
    #[error("login-core: {0}")]
    Core(#[from] login_core::StartError),
    /// login-core's configuration patch is invalid.
    #[error("backend configuration: {0}")]
    Config(String),
}

/// Both servers, one clock.
#[derive(Debug)]
pub struct TestContext {
    /// The mock.
    pub mock: MockHandle,
    /// login-core.
    pub core: LoginCoreHandle,
}

impl TestContext {
    /// Starts both servers with the clock frozen at [`DEFAULT_START`], seed `test`, an in-memory
    /// store.
    pub async fn start() -> Result<Self, ContextError> {
        let mock = start_mock("test", DEFAULT_START).await?;
        let core = start_core(&mock, "test", None, &[]).await?;
        Ok(Self { mock, core })
    }

    /// The mock's default app.
    pub fn appid(&self) -> AppId {
        self.mock.default_app().appid
    }

    /// Moves the shared clock.
    pub fn advance(&self, d: Duration) {
        self.mock.clock().advance(d);
    }

    /// A simulated mini-program of `user` in the default app.
    pub fn client(&self, user: &str) -> MiniProgram {
        MiniProgram::new(&self.mock, &self.core.base_url(), self.appid(), user)
    }
}

/// Starts a mock with a frozen clock at `start_secs`.
pub async fn start_mock(seed: &str, start_secs: i64) -> Result<MockHandle, ContextError> {
    Ok(mock_server::spawn(mock_server::config::Config {
        seed: seed.into(),
        clock: Clock::manual(Timestamp::from_secs(start_secs)),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..mock_server::config::Config::default()
    })
    .await?)
}

/// Starts login-core on the mock's clock with an in-memory store and randomness seeded from
/// `seed` (so its login tokens repeat from run to run), serving every app the mock knows (those
/// in `phone_first` register by phone first) and sending SMS through the mock's gateway;
/// `patch` is merged into its configuration (TOML keys as JSON).
pub async fn start_core(
    mock: &MockHandle,
    seed: &str,
    patch: Option<&Value>,
    phone_first: &[String],
) -> Result<LoginCoreHandle, ContextError> {
    let config = core_config(mock, patch, phone_first)?;
    spawn_core(mock, config, core_seed(seed, 0)).await
}

/// The configuration [`start_core`] gives login-core: `patch` over the defaults, the mock as
/// WeChat (every app it knows, SMS through its gateway), an in-memory store, loopback port 0.
pub fn core_config(
    mock: &MockHandle,
    patch: Option<&Value>,
    phone_first: &[String],
) -> Result<login_core::Config, ContextError> {
    // Unset keys take login-core's defaults.
    let mut config: login_core::Config =
        serde_json::from_value(patch.cloned().unwrap_or_else(|| json!({})))
            .map_err(|e| ContextError::Config(e.to_string()))?;
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.database_url = "sqlite::memory:".into();
    config.wechat_base_url = mock.base_url();
    config.apps = mock_apps(mock);
    for app in &mut config.apps {
        if phone_first.iter().any(|a| a == app.appid.as_str()) {
            app.registration = login_core::config::Registration::PhoneRequired;
        }
    }
    if patch.and_then(|p| p.get("sms")).is_none() {
        sms_through_mock(&mut config, mock);
    }
    if patch.and_then(|p| p.pointer("/upstream/backoff")).is_none() {
        config.upstream.backoff = Duration::from_millis(1);
    }
    Ok(config)
}

/// The seed of login-core's randomness for a run's `seed`: instance `instance` of a cluster
/// draws its own numbers.
pub fn core_seed(seed: &str, instance: u64) -> u64 {
    mock_server::ids::Generator::new(seed)
        .number("login-core random", &[])
        .wrapping_add(instance)
}

/// Starts login-core with `config` on the mock's clock, its randomness seeded by `random`.
pub async fn spawn_core(
    mock: &MockHandle,
    config: login_core::Config,
    random: u64,
) -> Result<LoginCoreHandle, ContextError> {
    Ok(login_core::spawn_with(
        config,
        Deps {
            clock: Arc::new(SharedClock(mock.clock().clone())),
            random: Arc::new(SeededRandom::new(random)),
            ..Deps::default()
        },
    )
    .await?)
}

/// Every app the mock knows now, as login-core's configuration lists them: the mock's default
/// app first, so logins without an appid go to it.
pub fn mock_apps(mock: &MockHandle) -> Vec<login_core::config::AppConfig> {
    apps_of(mock.engine().state_view().apps)
}

/// login-core's configuration against the mock running at `url` (with its control token, if it
/// has one): WeChat at the mock, every app the mock knows now (its default app first) and SMS
/// through the mock's gateway. The rest is login-core's defaults.
pub async fn running_mock_config(
    url: &str,
    control_token: Option<&str>,
) -> Result<login_core::Config, String> {
    let url = url.trim_end_matches('/');
    let control = mock_server::ControlClient::new(url, control_token);
    let state = control
        .state()
        .await
        .map_err(|e| format!("cannot read the apps of the mock at {url}: {e}"))?;
    let gateway = control
        .sms_config()
        .await
        .map_err(|e| format!("cannot read the mock's SMS gateway: {e}"))?;
    let mut config = login_core::Config {
        wechat_base_url: url.to_owned(),
        apps: apps_of(state.apps),
        ..login_core::Config::default()
    };
    sms_through_gateway(
        &mut config,
        &gateway,
        &format!("{url}{}", mock_server::tencent::SMS_PATH),
    );
    Ok(config)
}

/// The mock's apps as login-core's configuration lists them, the mock's default app first.
fn apps_of(mut apps: Vec<mock_server::engine::AppView>) -> Vec<login_core::config::AppConfig> {
    apps.sort_by_key(|a| !a.default);
    apps.into_iter()
        .map(|a| login_core::config::AppConfig {
            appid: login_core::ids::AppId::new(a.appid.as_str()),
            secret: login_core::ids::AppSecret::new(a.secret.as_str()),
            open_platform: a
                .open_platform
                .map(|p| login_core::ids::PlatformId::new(p.as_str())),
            registration: login_core::config::Registration::default(),
        })
        .collect()
}

/// Points login-core's Tencent Cloud SMS adapter at the mock's gateway, with the gateway's
/// key, first SmsSdkAppId, first approved sign name and first approved verification template
/// (its parameters: the code, then the minutes, as many as it takes).
pub fn sms_through_mock(config: &mut login_core::Config, mock: &MockHandle) {
    sms_through_gateway(config, &mock.sms_config(), &mock.sms_url());
}

/// Like [`sms_through_mock`], from the gateway's configuration as the mock's control plane
/// shows it (`GET /__mock__/sms/config`) and its URL.
pub fn sms_through_gateway(
    config: &mut login_core::Config,
    gateway: &mock_server::tencent::SmsConfigView,
    sms_url: &str,
) {
    let template = gateway
        .templates
        .iter()
        .filter(|t| {
            t.spec.approved
                && t.spec.kind == mock_server::tencent::config::TemplateKind::Verification
        })
        .min_by_key(|t| t.params.abs_diff(2));
    let sign = gateway.sign_names.iter().find(|s| s.approved);
    let (Some(template), Some(sign), Some(sdk_app_id)) =
        (template, sign, gateway.sdk_app_ids.first())
    else {
        return;
    };
    config.sms.provider = login_core::config::SmsProvider::Tencent;
    let t = &mut config.sms.tencent;
    t.endpoint = sms_url.to_owned();
    t.secret_id.clone_from(&gateway.secret_id);
    t.secret_key = login_core::config::TencentSecretKey(gateway.secret_key.clone());
    t.sms_sdk_app_id.clone_from(sdk_app_id);
    t.sign_name.clone_from(&sign.name);
    t.template_id.clone_from(&template.spec.id);
    t.template_params = ["{code}", "{minutes}"]
        .into_iter()
        .take(template.params)
        .map(str::to_owned)
        .collect();
}

/// A simulated mini-program: `wx.login` through the mock, its token on every request, and a
/// new login when the backend answers 401 `login_required` (once per request).
#[derive(Debug, Clone)]
pub struct MiniProgram {
    control: mock_server::ControlClient,
    backend: String,
    appid: AppId,
    user: String,
    http: reqwest::Client,
    token: Option<String>,
}

/// An answer from the backend.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`null` when empty or not JSON).
    pub json: Value,
}

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP request failed.
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The mock refused a mini-program call.
    #[error("mini-program call failed: {0}")]
    Mock(#[from] mock_server::client::ClientError),
    /// Login did not give a token.
    #[error("login failed: HTTP {status}: {json}")]
    Login {
        /// Status.
        status: u16,
        /// Body.
        json: Value,
    },
}

impl MiniProgram {
    /// A client of `user` in `appid`, against the backend at `backend`.
    pub fn new(mock: &MockHandle, backend: &str, appid: AppId, user: &str) -> Self {
        Self {
            control: mock.control().clone(),
            backend: backend.trim_end_matches('/').to_owned(),
            appid,
            user: user.to_owned(),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    /// The current token, if logged in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `wx.login` and `POST /api/login`; keeps the token.
    pub async fn login(&mut self) -> Result<Answer, ClientError> {
        let grant = self.control.wx_login(&self.appid, &self.user).await?;
        let resp = self
            .http
            .post(format!("{}/api/login", self.backend))
            .json(&json!({"code": grant.code, "appid": self.appid}))
            .send()
            .await?;
        let answer = answer(resp).await?;
        match answer.json.get("token").and_then(Value::as_str) {
            Some(t) if answer.status == 200 => {
                self.token = Some(t.to_owned());
                Ok(answer)
            }
            _ => Err(ClientError::Login {
                status: answer.status,
                json: answer.json,
            }),
        }
    }

    /// A request with the token; on 401 `login_required` logs in and retries once.
    pub async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ClientError> {
        if self.token.is_none() {
            self.login().await?;
        }
        let first = self.send(method.clone(), path, body).await?;
        let needs_login = first.status == 401
            && first.json.pointer("/error/code").and_then(Value::as_str) == Some("login_required");
        if !needs_login {
            return Ok(first);
        }
        self.login().await?;
        self.send(method, path, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ClientError> {
        let mut req = self.http.request(method, format!("{}{path}", self.backend));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        answer(req.send().await?).await
    }
}

async fn answer(resp: reqwest::Response) -> Result<Answer, ClientError> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    Ok(Answer {
        status,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}
