//! The limit: a bare hyper HTTP/1.1 server whose one handler answers every request with a fixed
//! jscode2session success body, as WeChat sends it (`text/plain`, compact JSON). No routing, no
//! parsing, no state: what loopback, hyper and the load generator allow on this machine.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The answer: a jscode2session success as the mock sends one (an openid and a session_key).
pub const BODY: &str =
    r#"{"session_key":"/WAvHBn9NokBQvZLw9tbdg==","openid":"oh3XvEocTqQoJ0qQvs6qIf1pAVLz"}"#;

/// A running bare server; dropping it stops accepting (open connections end with their
/// clients).
#[derive(Debug)]
pub struct BareServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl BareServer {
    /// The bound address (loopback, a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:0` and serves [`BODY`] to every request (`TCP_NODELAY` on, as the mock
/// sets it). Needs a Tokio runtime.
pub async fn spawn() -> io::Result<BareServer> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    Ok(BareServer { addr, task })
}

async fn answer(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(res)
}
