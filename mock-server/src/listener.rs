//! A TCP listener whose connections fault rules can drop or reset: each accepted stream carries a
//! switch ([`ConnCtl`]) the vendor entry point flips, and the stream fails its writes from then on.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const OPEN: u8 = 0;
const DROP: u8 = 1;
const RESET: u8 = 2;

/// Per-connection switch a fault rule flips to drop or reset the connection it arrived on, and
/// the address the connection came from (`openapi/rid/get` answers it as `client_ip`).
#[derive(Clone, Debug)]
pub struct ConnCtl(Arc<AtomicU8>, IpAddr);

impl ConnCtl {
    /// Makes the connection fail on its next write; with `reset`, close with a TCP RST.
    pub fn cut(&self, reset: bool) {
        self.0
            .store(if reset { RESET } else { DROP }, Ordering::Relaxed);
    }

    /// The peer's address.
    pub fn peer(&self) -> IpAddr {
        self.1
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

impl CtlListener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        Self(listener)
    }
}

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
        ConnCtl(stream.io().ctl.clone(), stream.remote_addr().ip())
    }
}
