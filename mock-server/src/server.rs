//! Serving: the router (control plane under `/__mock__/`, everything else to the vendor entry
//! point) over the fault-aware listener (`listener.rs`), and [`spawn`], which binds first and
//! returns a handle that stops the server on `Drop`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::ControlClient;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::{AppView, Engine, EngineError};
use crate::listener::{ConnCtl, CtlListener};
pub use crate::shared::Shared;

/// The whole HTTP surface.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/__mock__", crate::control::router(shared.clone()))
        .fallback(crate::vendor::entry)
        .with_state(shared)
}

/// Serves on a bound listener until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(shared).into_make_service_with_connect_info::<ConnCtl>();
    axum::serve(CtlListener::new(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The seed file or options are invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] EngineError),
    /// The configuration cannot be honoured safely ([`Config::check`]).
    #[error("{0}")]
    Unsafe(String),
}

/// A running in-process mock server. Dropping it stops the server.
pub struct MockHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    control: ControlClient,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for MockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Starts a mock server on `config.listen` (port 0 picks one) and returns once it accepts
/// connections. Needs a Tokio runtime.
pub async fn spawn(config: Config) -> Result<MockHandle, StartError> {
    config.check().map_err(StartError::Unsafe)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    start(listener, config)
}

/// Like [`spawn`], on a listener the caller bound.
pub fn start(listener: TcpListener, config: Config) -> Result<MockHandle, StartError> {
    config.check().map_err(StartError::Unsafe)?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let shared = Arc::new(Shared::new(&config)?);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, shared.clone(), async {
        let _ = rx.await;
    }));
    let base = format!("http://{addr}");
    Ok(MockHandle {
        addr,
        control: ControlClient::new(&base, config.control_token.as_deref()),
        shared,
        shutdown: Some(tx),
        task: Some(task),
    })
}

impl MockHandle {
    /// `http://127.0.0.1:PORT`: the base URL to give a backend in place of
    /// `https://api.weixin.qq.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's clock (shared with every clone).
    pub fn clock(&self) -> &Clock {
        self.shared.engine.clock()
    }

    /// The engine, for in-process inspection.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// A client for the control plane.
    pub fn control(&self) -> &ControlClient {
        &self.control
    }

    /// The app the mock started with.
    pub fn default_app(&self) -> AppView {
        self.shared.engine.default_app()
    }

    /// `http://127.0.0.1:PORT/tencentcloud/sms`: the URL to give an SMS client in place of
    /// `https://sms.tencentcloudapi.com/`.
    pub fn sms_url(&self) -> String {
        format!("{}{}", self.base_url(), crate::tencent::SMS_PATH)
    }

    /// The SMS gateway's configuration (key, SmsSdkAppIds, sign names, templates).
    pub fn sms_config(&self) -> crate::tencent::SmsConfigView {
        self.shared.engine.sms_config()
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
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
