//! Serving: the router (control plane under `/__mock__/`, everything else to the vendor entry
//! point), a listener whose connections fault rules can drop or reset, and [`spawn`], which binds
//! first and returns a handle that stops the server on `Drop`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::client::ControlClient;
use crate::clock::Clock;
use crate::config::Config;
use crate::engine::{AppView, Engine, EngineError};
use crate::journal::Journal;
use crate::wire::RidSource;

/// What every handler shares.
pub struct Shared {
    /// Rules and state.
    pub engine: Engine,
    /// Request journal.
    pub journal: Journal,
    /// Request-id source for errmsg suffixes.
    pub rids: RidSource,
    /// Bearer token the control plane requires, if any.
    pub control_token: Option<String>,
}

impl Shared {
    /// Builds the shared state from a config.
    pub fn new(config: &Config) -> Result<Self, EngineError> {
        let engine = Engine::new(&config.seed, config.seed_file.clone(), config.clock.clone())?;
        let journal = Journal::new(engine.options().journal_capacity);
        let rids = RidSource::new(engine.generator().clone());
        Ok(Self {
            engine,
            journal,
            rids,
            control_token: config.control_token.clone(),
        })
    }
}

/// The whole HTTP surface.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/__mock__", crate::control::router(shared.clone()))
        .fallback(crate::vendor::entry)
        .with_state(shared)
}

const OPEN: u8 = 0;
const DROP: u8 = 1;
const RESET: u8 = 2;

/// Per-connection switch a fault rule flips to drop or reset the connection it arrived on.
#[derive(Clone, Debug)]
pub struct ConnCtl(Arc<AtomicU8>);

impl ConnCtl {
    /// Makes the connection fail on its next write; with `reset`, close with a TCP RST.
    pub fn cut(&self, reset: bool) {
        self.0
            .store(if reset { RESET } else { DROP }, Ordering::Relaxed);
    }
}

/// A TCP stream that fails its writes once its [`ConnCtl`] is cut.
pub struct CtlStream {
    inner: TcpStream,
    ctl: Arc<AtomicU8>,
}

impl CtlStream {
    fn check(&self) -> io::Result<()> {
        match self.ctl.load(Ordering::Relaxed) {
            OPEN => Ok(()),
            state => {
                if state == RESET {
                    // Linger zero turns the close into a RST.
                    let _ = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO));
                }
                Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "cut by fault rule",
                ))
            }
        }
    }
}

impl AsyncRead for CtlStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CtlStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A TCP listener handing out [`CtlStream`]s with `TCP_NODELAY` set.
pub struct CtlListener(TcpListener);

impl Listener for CtlListener {
    type Io = CtlStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    let ctl = Arc::new(AtomicU8::new(OPEN));
                    return (CtlStream { inner, ctl }, addr);
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, CtlListener>> for ConnCtl {
    fn connect_info(stream: IncomingStream<'_, CtlListener>) -> Self {
        ConnCtl(stream.io().ctl.clone())
    }
}

/// Serves on a bound listener until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(shared).into_make_service_with_connect_info::<ConnCtl>();
    axum::serve(CtlListener(listener), app)
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
