//! Assembly and serving: [`build`] wires config and dependencies into the services, [`spawn`]
//! binds first and serves, returning a handle that stops the server on `Drop`.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError, SmsProvider};
use crate::crypto::{CodeKey, SealKey, key_from_base64};
use crate::http::{AppState, router};
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::random::{OsRandom, SharedRandom, bytes};
use crate::service::{Parts, Services};
use crate::sms::log::LogSms;
use crate::sms::tencent::TencentSms;
use crate::sms::{NoSms, SmsSender};
use crate::store::redis::RedisCounters;
use crate::store::{Counters, Store, StoreError};
use crate::wechat::http::HttpWeChat;
use crate::wechat::tokens::lock_wait;
use crate::wechat::{RetryPolicy, TokenVault, WeChat, WeChatApi};

/// What the service is given rather than configured: time, randomness and, optionally, a
/// WeChat implementation in place of the HTTP client and an SMS gateway in place of the
/// configured one.
#[derive(Clone)]
pub struct Deps {
    /// Time.
    pub clock: SharedClock,
    /// Randomness.
    pub random: SharedRandom,
    /// WeChat; `None`: HTTP to `config.wechat_base_url`.
    pub wechat: Option<Arc<dyn WeChatApi>>,
    /// The SMS gateway; `None`: the one `config.sms` names.
    pub sms: Option<Arc<dyn SmsSender>>,
}

impl Default for Deps {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            wechat: None,
            sms: None,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// The rate limits' counters (`limits.counters_url`) could not be reached.
    #[error("cannot reach the rate limits' counters: {0}")]
    Counters(StoreError),
    /// The server key is unusable.
    #[error("server key: {0}")]
    ServerKey(String),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

/// Builds the services: opens (and migrates) the store, loads the server key, wires WeChat.
pub async fn build(config: &Config, deps: Deps) -> Result<Arc<Services>, StartError> {
    config.validate()?;
    let store: Arc<dyn Store> =
        crate::store::open_with(&config.database_url, config.database.pool()).await?;
    let counters: Option<Arc<dyn Counters>> = match &config.limits.counters_url {
        Some(url) => Some(Arc::new(
            RedisCounters::connect(url, &config.limits.counters_prefix)
                .await
                .map_err(StartError::Counters)?,
        )),
        None => None,
    };
    let key = server_key(config, &deps)?;
    let sms: Arc<dyn SmsSender> = match (deps.sms.clone(), config.sms.provider) {
        (Some(sms), _) => sms,
        (None, SmsProvider::None) => Arc::new(NoSms),
        (None, SmsProvider::Log) => {
            tracing::warn!("sms.provider = \"log\": SMS codes are written to the log, not sent");
            Arc::new(LogSms)
        }
        (None, SmsProvider::Tencent) => Arc::new(
            TencentSms::new(&config.sms.tencent, deps.clock.clone())
                .map_err(ConfigError::Invalid)?,
        ),
    };
    let passwords = Arc::new(
        Passwords::new(&config.phone.password_hash, deps.random.as_ref())
            .map_err(ConfigError::Invalid)?,
    );
    let api: Arc<dyn WeChatApi> = match deps.wechat.clone() {
        Some(api) => api,
        None => Arc::new(
            HttpWeChat::new(
                &config.wechat_base_url,
                config.upstream.timeout,
                config.upstream.connect_timeout,
            )
            .map_err(|e| ConfigError::Invalid(format!("wechat_base_url: {e}")))?,
        ),
    };
    let metrics = Arc::new(Metrics::labelled(config.instance_id.as_deref()));
    let seal = SealKey::rotated(key, &previous_keys(config)?);
    let retry = RetryPolicy {
        attempts: config.upstream.attempts,
        base_delay: config.upstream.backoff,
        max_delay: config.upstream.backoff.saturating_mul(8),
    };
    // Tokens in the database when it is shared (sealed: they are credentials), else in memory.
    let vault = match store.shared_tokens() {
        Some(rows) => TokenVault {
            rows,
            seal: Some((seal.clone(), deps.random.clone())),
            lock_wait: lock_wait(config.upstream.timeout, retry.attempts, retry.max_delay),
        },
        None => TokenVault::memory(),
    };
    let wechat = WeChat::with_vault(
        api,
        deps.clock.clone(),
        config.upstream.access_token,
        retry,
        metrics.clone(),
        vault,
    );
    tracing::info!(
        key_id = %seal.current_id(),
        previous_keys = seal.previous_count(),
        "server key loaded"
    );
    let services = Services::new(
        config,
        Parts {
            store,
            counters,
            wechat,
            seal,
            clock: deps.clock,
            random: deps.random,
            metrics,
            sms,
            passwords,
            code_key: CodeKey::derive(&key),
        },
    )
    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok(Arc::new(services))
}

/// The server key: configured, or read from (or created in) `server_key_file`; a throwaway
/// key for in-memory databases. It seals session_keys and keys the hashes of SMS codes.
/// The previous server keys, each base64 of 32 bytes; an unreadable one refuses the start.
fn previous_keys(config: &Config) -> Result<Vec<[u8; 32]>, StartError> {
    config
        .previous_server_keys
        .iter()
        .enumerate()
        .map(|(i, text)| {
            key_from_base64(&text.0).ok_or_else(|| {
                StartError::ServerKey(format!(
                    "previous_server_keys[{i}] must be base64 of 32 bytes (`openssl rand -base64 32` makes one)"
                ))
            })
        })
        .collect()
}

fn server_key(config: &Config, deps: &Deps) -> Result<[u8; 32], StartError> {
    if let Some(text) = &config.server_key {
        return key_from_base64(&text.0)
            .ok_or_else(|| StartError::ServerKey("must be base64 of 32 bytes".into()));
    }
    if config.database_url.contains(":memory:") {
        return Ok(bytes(deps.random.as_ref()));
    }
    let path = &config.server_key_file;
    match std::fs::read_to_string(path) {
        Ok(text) => key_from_base64(&text).ok_or_else(|| {
            StartError::ServerKey(format!("{} must hold base64 of 32 bytes", path.display()))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key: [u8; 32] = bytes(deps.random.as_ref());
            write_key_file(path, &STANDARD.encode(key)).map_err(|e| {
                StartError::ServerKey(format!("cannot create {}: {e}", path.display()))
            })?;
            tracing::warn!(
                path = %path.display(),
                "created a new server key; keep it with the database (or set LOGIN_CORE_SERVER_KEY): without it stored session keys cannot be read"
            );
            Ok(key)
        }
        Err(e) => Err(StartError::ServerKey(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_key_file(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// How often ended sessions are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Serves on a bound listener until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A running login-core. Dropping it stops the server.
pub struct LoginCoreHandle {
    addr: SocketAddr,
    services: Arc<Services>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
    purge: JoinHandle<()>,
}

impl std::fmt::Debug for LoginCoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginCoreHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Starts login-core on `config.listen` (port 0 picks one) with the system clock and OS
/// randomness. Returns once it accepts connections.
pub async fn spawn(config: Config) -> Result<LoginCoreHandle, StartError> {
    spawn_with(config, Deps::default()).await
}

/// Like [`spawn`], with injected time, randomness or WeChat.
pub async fn spawn_with(config: Config, deps: Deps) -> Result<LoginCoreHandle, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    start(listener, config, deps).await
}

/// Like [`spawn_with`], on a listener the caller bound.
pub async fn start(
    listener: TcpListener,
    config: Config,
    deps: Deps,
) -> Result<LoginCoreHandle, StartError> {
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let clock = deps.clock.clone();
    let services = build(&config, deps).await?;
    let state = AppState {
        services: services.clone(),
        clock,
        body_limit: config.limits.body_bytes,
        trust_forwarded_for: config.limits.trust_forwarded_for,
    };
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async {
        let _ = rx.await;
    }));
    let purger = services.clone();
    let purge = tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = purger.purge_sessions().await {
                tracing::warn!(error = %e, "session purge failed");
            }
        }
    });
    Ok(LoginCoreHandle {
        addr,
        services,
        shutdown: Some(tx),
        task: Some(task),
        purge,
    })
}

impl LoginCoreHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The services, for in-process inspection.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Stops accepting, finishes in-flight requests and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Stops accepting connections at once, lets the requests in flight finish within
    /// `deadline`, then closes the database's connections. [`Drained::Cut`] when requests were
    /// still running at the deadline (they are dropped).
    pub async fn drain(mut self, deadline: Duration) -> Drained {
        self.purge.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let outcome = match self.task.take() {
            None => Drained::Done,
            Some(mut task) => match tokio::time::timeout(deadline, &mut task).await {
                Ok(Ok(Ok(()))) => Drained::Done,
                Ok(Ok(Err(e))) => Drained::Failed(e.to_string()),
                Ok(Err(e)) => Drained::Failed(e.to_string()),
                Err(_) => {
                    task.abort();
                    Drained::Cut
                }
            },
        };
        // Connections are closed only once no request can use them.
        if outcome != Drained::Cut {
            self.services.store().close().await;
        }
        outcome
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(mut self) -> io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// A sender that starts the graceful shutdown, for `main`'s signal handler.
    pub fn take_shutdown(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

/// How a [`LoginCoreHandle::drain`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drained {
    /// Every request in flight finished.
    Done,
    /// Requests were still running at the deadline.
    Cut,
    /// The server failed.
    Failed(String),
}

impl Drop for LoginCoreHandle {
    fn drop(&mut self) {
        self.purge.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Ctrl-C or SIGTERM (for binaries: `main` of login-core and the harness). The handlers are
/// installed when this is called, not when it is first awaited: call it before saying the
/// server is up, so that a signal sent right after that drains instead of killing.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = signals;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term.take()) => {},
                () = wait(int.take()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
