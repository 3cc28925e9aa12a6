//! The load balancer in front of a cluster: an HTTP/1.1 proxy on loopback that sends each
//! request to the next instance in turn (round robin per request, as an L7 balancer does, so a
//! client's keep-alive connection meets every instance).
//!
//! - A request may pin its instance with `x-harness-instance: N` (0-based); the header is not
//!   forwarded. Every answer says which instance gave it, in the same header.
//! - An instance that refuses the connection (stopped, killed) is skipped: nothing was sent, so
//!   the next one gets the request. A request whose connection breaks after it was sent is
//!   answered 502, not sent again: the instance may have done it.
//! - Bodies are read whole (at most [`MAX_BODY`]); hop-by-hop headers are dropped and the
//!   client's address is appended to `X-Forwarded-For`.
//! - Requests go out on hyper's pooled client (keep-alive, `TCP_NODELAY`): the proxy shares
//!   the machine with what it measures, so it does no more per request than forwarding needs.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::http::uri::{Authority, PathAndQuery, Scheme};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The header naming the instance: pins a request, and says who answered.
pub const INSTANCE_HEADER: &str = "x-harness-instance";

/// Largest request body forwarded.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Headers of one hop only, never forwarded (RFC 9110 §7.6.1), and `host` (the client sets
/// the instance's).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

struct Shared {
    backends: Vec<String>,
    /// Each backend's `host:port`, parsed once.
    authorities: Vec<Authority>,
    next: AtomicUsize,
    served: Vec<AtomicU64>,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// A running proxy; dropping it stops it and every connection it holds.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("backends", &self.shared.backends)
            .finish_non_exhaustive()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Binds `127.0.0.1:0` and spreads requests over `backends` (base URLs,
    /// `http://127.0.0.1:PORT`). Needs a Tokio runtime.
    pub async fn start(backends: Vec<String>) -> io::Result<Proxy> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), backends).await
    }

    /// Like [`Proxy::start`], listening on `addr`.
    pub async fn bind(addr: SocketAddr, backends: Vec<String>) -> io::Result<Proxy> {
        if backends.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a proxy needs at least one instance",
            ));
        }
        let authorities = backends
            .iter()
            .map(|b| authority_of(b))
            .collect::<io::Result<Vec<_>>>()?;
        let backends: Vec<String> = backends
            .into_iter()
            .map(|b| b.trim_end_matches('/').to_owned())
            .collect();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            served: backends.iter().map(|_| AtomicU64::new(0)).collect(),
            backends,
            authorities,
            next: AtomicUsize::new(0),
            http,
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            // Owned here: aborting the accept loop drops every connection with it.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let shared = serving.clone();
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                let shared = shared.clone();
                                async move { Ok::<_, Infallible>(forward(&shared, peer, req).await) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(Proxy { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The instances' base URLs, in their order.
    pub fn backends(&self) -> &[String] {
        &self.shared.backends
    }

    /// Requests each instance answered (502s of broken connections included).
    pub fn served(&self) -> Vec<u64> {
        self.shared
            .served
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .collect()
    }
}

/// The `host:port` of a base URL `http://HOST:PORT` (no path: the proxy keeps the client's).
fn authority_of(base: &str) -> io::Result<Authority> {
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("instance {base:?}: {why}; give it as http://HOST:PORT"),
        )
    };
    let uri: Uri = base.parse().map_err(|e| bad(&format!("not a URL ({e})")))?;
    if uri.scheme() != Some(&Scheme::HTTP) {
        return Err(bad("the proxy speaks plain HTTP to instances"));
    }
    if uri.path_and_query().is_some_and(|pq| pq.as_str() != "/") {
        return Err(bad("a base URL has no path or query"));
    }
    uri.authority().cloned().ok_or_else(|| bad("no host"))
}

fn error(status: StatusCode, code: &str, message: String) -> Response<Full<Bytes>> {
    let body = json!({"error": {"code": code, "message": message}}).to_string();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

async fn forward(
    shared: &Shared,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let n = shared.backends.len();
    let pinned = match req.headers().get(INSTANCE_HEADER) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<usize>().ok()) {
            Some(i) if i < n => Some(i),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_instance",
                    format!(
                        "{INSTANCE_HEADER}: {v:?} names no instance: give 0 to {}",
                        n - 1
                    ),
                );
            }
        },
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the proxy forwards bodies of at most {MAX_BODY} bytes: {e}"),
            );
        }
    };
    let target = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut headers = hyper::HeaderMap::with_capacity(parts.headers.len() + 1);
    for (name, value) in &parts.headers {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower) || lower == INSTANCE_HEADER {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    let forwarded = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prior) => format!("{prior}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    let first = pinned.unwrap_or_else(|| shared.next.fetch_add(1, Ordering::Relaxed) % n);
    // A pinned request goes to its instance only; others try each instance once.
    let tries = if pinned.is_some() { 1 } else { n };
    let mut refused = Vec::new();
    for k in 0..tries {
        let i = (first + k) % n;
        let uri = Uri::from_parts({
            let mut u = hyper::http::uri::Parts::default();
            u.scheme = Some(Scheme::HTTP);
            u.authority = Some(shared.authorities[i].clone());
            u.path_and_query = Some(target.clone());
            u
        });
        let Ok(uri) = uri else {
            // Scheme, authority and path were each valid: they always make a URI.
            return error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                format!("no URI for instance {i} and {target}"),
            );
        };
        let mut out = Request::new(Full::new(body.clone()));
        *out.method_mut() = parts.method.clone();
        *out.uri_mut() = uri;
        *out.headers_mut() = headers.clone();
        let answer = match shared.http.request(out).await {
            Err(e) if e.is_connect() => {
                refused.push(format!("instance {i}: {e}"));
                continue;
            }
            Err(e) => Err(e.to_string()),
            Ok(resp) => {
                let (head, body) = resp.into_parts();
                match body.collect().await {
                    Ok(b) => Ok((head, b.to_bytes())),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        shared.served[i].fetch_add(1, Ordering::Relaxed);
        let mut res = match answer {
            Ok((mut head, bytes)) => {
                for name in HOP_BY_HOP {
                    head.headers.remove(*name);
                }
                Response::from_parts(head, Full::new(bytes))
            }
            Err(e) => error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                format!("instance {i} broke the connection after the request was sent: {e}"),
            ),
        };
        res.headers_mut()
            .insert(INSTANCE_HEADER, HeaderValue::from(i));
        return res;
    }
    error(
        StatusCode::BAD_GATEWAY,
        "no_instance",
        format!(
            "no instance accepted the connection: {}",
            refused.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend answering `NAME PATH` and echoing the headers it was given.
    async fn backend(name: &'static str) -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| async move {
                        let headers: serde_json::Map<String, serde_json::Value> = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
                            .collect();
                        let path = req.uri().to_string();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let text = json!({
                            "name": name,
                            "path": path,
                            "headers": headers,
                            "body": String::from_utf8_lossy(&body.unwrap_or_default()),
                        });
                        let mut res = Response::new(Full::new(Bytes::from(text.to_string())));
                        *res.status_mut() = StatusCode::CREATED;
                        res.headers_mut()
                            .insert("x-backend", HeaderValue::from_static(name));
                        Ok::<_, Infallible>(res)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (url, task)
    }

    #[tokio::test]
    async fn requests_go_round_the_instances_or_where_they_are_pinned() {
        let (a, _ta) = backend("a").await;
        let (b, _tb) = backend("b").await;
        let proxy = Proxy::start(vec![a, b]).await.expect("starts");
        let http = reqwest::Client::new();
        let mut names = Vec::new();
        for _ in 0..4 {
            let r = http
                .post(format!("{}/api/x?y=1", proxy.base_url()))
                .header("x-forwarded-for", "10.0.0.1")
                .body("hi")
                .send()
                .await
                .expect("answered");
            assert_eq!(r.status(), 201);
            let instance = r.headers()[INSTANCE_HEADER]
                .to_str()
                .expect("ascii")
                .to_owned();
            let v: serde_json::Value = r.json().await.expect("json");
            assert_eq!(v["path"], "/api/x?y=1");
            assert_eq!(v["body"], "hi");
            assert_eq!(v["headers"]["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
            names.push((instance, v["name"].as_str().expect("name").to_owned()));
        }
        let want = [("0", "a"), ("1", "b"), ("0", "a"), ("1", "b")];
        assert_eq!(
            names,
            want.map(|(i, n)| (i.to_owned(), n.to_owned())).to_vec()
        );
        for _ in 0..3 {
            let r = http
                .get(proxy.base_url())
                .header(INSTANCE_HEADER, "1")
                .send()
                .await
                .expect("answered");
            let v: serde_json::Value = r.json().await.expect("json");
            assert_eq!(v["name"], "b");
            assert!(v["headers"].get(INSTANCE_HEADER).is_none(), "not forwarded");
        }
        assert_eq!(proxy.served(), vec![2, 5]);
        let r = http
            .get(proxy.base_url())
            .header(INSTANCE_HEADER, "2")
            .send()
            .await
            .expect("answered");
        assert_eq!(r.status(), 400);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "bad_instance");
        assert!(
            v["error"]["message"]
                .as_str()
                .expect("text")
                .contains("0 to 1")
        );
    }

    #[tokio::test]
    async fn an_instance_that_refuses_connections_is_skipped_unless_pinned() {
        let (a, _ta) = backend("a").await;
        // A port nobody listens on: bound, then closed.
        let dead = {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("binds");
            format!("http://{}", l.local_addr().expect("addr"))
        };
        let proxy = Proxy::start(vec![dead, a]).await.expect("starts");
        let http = reqwest::Client::new();
        for _ in 0..3 {
            let r = http.get(proxy.base_url()).send().await.expect("answered");
            assert_eq!(r.headers()[INSTANCE_HEADER], "1");
        }
        let r = http
            .get(proxy.base_url())
            .header(INSTANCE_HEADER, "0")
            .send()
            .await
            .expect("answered");
        assert_eq!(r.status(), 502);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["error"]["code"], "no_instance");
        assert!(Proxy::start(Vec::new()).await.is_err());
    }

    #[tokio::test]
    async fn an_instance_url_the_proxy_cannot_forward_to_is_refused_at_start() {
        for (base, says) in [
            ("https://127.0.0.1:1", "plain HTTP"),
            ("127.0.0.1:1", "plain HTTP"),
            ("http://127.0.0.1:1/api", "no path"),
            ("http://127.0.0.1:1/?x=1", "no path"),
            ("http://", "not a URL"),
            ("not a url", "not a URL"),
        ] {
            let err = Proxy::start(vec![base.to_owned()]).await.expect_err(base);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{base}");
            let text = err.to_string();
            assert!(
                text.contains(says) && text.contains("http://HOST:PORT"),
                "{base}: {text}"
            );
        }
        let ok = Proxy::start(vec!["http://127.0.0.1:1/".to_owned()]).await;
        assert!(ok.is_ok(), "a trailing slash is a base URL");
    }
}
