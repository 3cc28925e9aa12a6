//! A closed-loop load generator: `connections` workers, each with its own keep-alive HTTP/1.1
//! connection (hyper's client connection, `TCP_NODELAY`), each sending its next request as soon
//! as the previous answer has been read in full. A warm-up comes first; only requests that start
//! and finish inside the measurement window after it count. Every counted request's latency
//! (send to last body byte) is kept, so percentiles are exact.
//!
//! A [`Workload`] says what to send: one request over and over, a list in turn, or a list of
//! single-use requests (fresh codes). When a single-use list runs out, every worker stops and
//! the window ends there: [`Report::ran_dry`] says when.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper::http::uri::InvalidUri;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How to drive a workload.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Workers, each with its own connection (the concurrency).
    pub connections: usize,
    /// Load before the window, not counted.
    pub warmup: Duration,
    /// The measurement window.
    pub duration: Duration,
}

/// What a correct answer looks like.
#[derive(Clone, Debug)]
pub struct Expect {
    status: StatusCode,
    needle: Vec<u8>,
}

impl Expect {
    /// HTTP 200 with `needle` somewhere in the body.
    pub fn ok_containing(needle: &str) -> Self {
        Self::status_containing(StatusCode::OK, needle)
    }

    /// `status` with `needle` somewhere in the body.
    pub fn status_containing(status: StatusCode, needle: &str) -> Self {
        Self {
            status,
            needle: needle.as_bytes().to_vec(),
        }
    }

    fn accepts(&self, status: StatusCode, body: &[u8]) -> bool {
        status == self.status
            && (self.needle.is_empty() || body.windows(self.needle.len()).any(|w| w == self.needle))
    }
}

/// One request: path and query, body, and one header of its own (a client address, say).
#[derive(Clone, Debug)]
pub struct Item {
    uri: Uri,
    body: Bytes,
    header: Option<(HeaderName, HeaderValue)>,
}

impl Item {
    /// A request to `path` (origin form: `/path?query`) with `body` (empty for none).
    pub fn new(path: &str, body: impl Into<Bytes>) -> Result<Self, InvalidUri> {
        Ok(Self {
            uri: Uri::try_from(path)?,
            body: body.into(),
            header: None,
        })
    }

    /// The same with a header of its own.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.header = Some((name, value));
        self
    }
}

/// What to send and what to expect back.
#[derive(Debug)]
pub struct Workload {
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    items: Vec<Item>,
    single_use: bool,
    next: AtomicUsize,
    expect: Expect,
}

impl Workload {
    /// The same request (no body) over and over.
    pub fn fixed(method: Method, path: &'static str, expect: Expect) -> Self {
        Self::repeating(
            method,
            vec![Item {
                uri: Uri::from_static(path),
                body: Bytes::new(),
                header: None,
            }],
            expect,
        )
    }

    /// `items` in turn, over and over.
    pub fn repeating(method: Method, items: Vec<Item>, expect: Expect) -> Self {
        Self {
            method,
            headers: Vec::new(),
            items,
            single_use: false,
            next: AtomicUsize::new(0),
            expect,
        }
    }

    /// Each of `items` once (single-use codes); the run stops when they run out.
    pub fn single_use(method: Method, items: Vec<Item>, expect: Expect) -> Self {
        Self {
            single_use: true,
            ..Self::repeating(method, items, expect)
        }
    }

    /// A header on every request.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Items not yet sent (single-use workloads).
    pub fn unused(&self) -> usize {
        self.items
            .len()
            .saturating_sub(self.next.load(Ordering::Relaxed))
    }

    fn take(&self) -> Option<&Item> {
        if self.items.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if self.single_use {
            self.items.get(i)
        } else {
            self.items.get(i % self.items.len())
        }
    }

    fn request(&self, item: &Item, host: Option<&HeaderValue>) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(item.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = item.uri.clone();
        let headers = req.headers_mut();
        if let Some(host) = host {
            headers.insert(HOST, host.clone());
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some((name, value)) = &item.header {
            headers.insert(name.clone(), value.clone());
        }
        req
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Workers (connections).
    pub connections: usize,
    /// The window the figures cover: the configured one, or shorter if the workload ran dry.
    pub window: Duration,
    /// Latency of every correct answer in the window, sorted, in nanoseconds.
    pub latencies_ns: Vec<u64>,
    /// Wrong answers and transport errors in the window.
    pub errors: u64,
    /// The first wrong answer or error seen (warm-up included), for the report.
    pub first_error: Option<String>,
    /// When a single-use workload ran out, measured from the start of the window.
    pub ran_dry: Option<Duration>,
    /// Requests sent during the warm-up.
    pub warmup_requests: u64,
}

impl Report {
    /// Correct answers in the window.
    pub fn requests(&self) -> usize {
        self.latencies_ns.len()
    }

    /// Correct answers per second.
    pub fn rate(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.requests() as f64 / secs
        } else {
            0.0
        }
    }

    /// The `q` quantile (0..=1) of the latencies (nearest rank), zero without any.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.latencies_ns.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
        Duration::from_nanos(self.latencies_ns[rank - 1])
    }

    /// Median latency.
    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    /// 99th percentile latency.
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// Slowest answer.
    pub fn max(&self) -> Duration {
        self.quantile(1.0)
    }
}

/// The shared timeline: nanoseconds since `base`.
struct Window {
    base: Instant,
    start: u64,
    end: u64,
    /// When a single-use workload ran out (`u64::MAX`: not yet).
    dry: AtomicU64,
}

impl Window {
    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn over(&self, now: u64) -> bool {
        now >= self.end || self.dry.load(Ordering::Relaxed) != u64::MAX
    }
}

#[derive(Default)]
struct WorkerOut {
    /// (finished at, latency) of correct answers in the window.
    samples: Vec<(u64, u64)>,
    errors: u64,
    warmup: u64,
    first_error: Option<String>,
}

impl WorkerOut {
    fn error(&mut self, counted: bool, what: impl FnOnce() -> String) {
        if counted {
            self.errors += 1;
        }
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

/// Drives `work` against `addr` as `settings` say and reports the window (`work` can be looked
/// at afterwards: [`Workload::unused`]). Needs a Tokio runtime.
pub async fn run(addr: SocketAddr, work: Arc<Workload>, settings: &Settings) -> Report {
    run_spread(&[addr], work, settings).await
}

/// Like [`run`], with the workers' connections spread over `addrs` in turn (worker `i` talks
/// to `addrs[i % addrs.len()]`), as a connection-level (L4) balancer spreads them: each
/// request stays on its connection's server. No address: every worker reports the error.
pub async fn run_spread(addrs: &[SocketAddr], work: Arc<Workload>, settings: &Settings) -> Report {
    let base = Instant::now();
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let window = Arc::new(Window {
        base,
        start: nanos(settings.warmup),
        end: nanos(settings.warmup + settings.duration),
        dry: AtomicU64::new(u64::MAX),
    });
    let expected = (settings.duration.as_secs_f64() * 50_000.0 / settings.connections as f64)
        .clamp(1024.0, 1_000_000.0) as usize;
    let mut tasks = Vec::with_capacity(settings.connections);
    for i in 0..settings.connections.max(1) {
        let Some(&addr) = addrs.get(i % addrs.len().max(1)) else {
            tasks.push(tokio::spawn(async {
                WorkerOut {
                    first_error: Some("no address to send the load to".into()),
                    ..WorkerOut::default()
                }
            }));
            continue;
        };
        let host = HeaderValue::try_from(addr.to_string()).ok();
        let (work, window) = (work.clone(), window.clone());
        tasks.push(tokio::spawn(worker(addr, work, window, host, expected)));
    }
    let mut outs = Vec::with_capacity(tasks.len());
    for t in tasks {
        match t.await {
            Ok(out) => outs.push(out),
            Err(e) => outs.push(WorkerOut {
                first_error: Some(format!("worker panicked: {e}")),
                ..WorkerOut::default()
            }),
        }
    }
    let dry = window.dry.load(Ordering::Relaxed);
    let end = window.end.min(dry.max(window.start));
    let mut latencies_ns = Vec::with_capacity(outs.iter().map(|o| o.samples.len()).sum());
    let mut report = Report {
        connections: settings.connections,
        window: Duration::from_nanos(end - window.start),
        latencies_ns: Vec::new(),
        errors: 0,
        first_error: None,
        ran_dry: (dry != u64::MAX).then(|| Duration::from_nanos(dry.saturating_sub(window.start))),
        warmup_requests: 0,
    };
    for out in outs {
        latencies_ns.extend(
            out.samples
                .iter()
                .filter(|(done, _)| *done <= end)
                .map(|(_, l)| *l),
        );
        report.errors += out.errors;
        report.warmup_requests += out.warmup;
        if report.first_error.is_none() {
            report.first_error = out.first_error;
        }
    }
    latencies_ns.sort_unstable();
    report.latencies_ns = latencies_ns;
    report
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn worker(
    addr: SocketAddr,
    work: Arc<Workload>,
    window: Arc<Window>,
    host: Option<HeaderValue>,
    expected: usize,
) -> WorkerOut {
    let mut out = WorkerOut {
        samples: Vec::with_capacity(expected),
        ..WorkerOut::default()
    };
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let now = window.now();
        if window.over(now) {
            break;
        }
        let counted = now >= window.start;
        let mut sender = match conn.take() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => s,
                Err(e) => {
                    out.error(counted, || e);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        if let Err(e) = sender.ready().await {
            out.error(counted, || format!("connection closed: {e}"));
            continue;
        }
        let Some(item) = work.take() else {
            let _ = window.dry.fetch_min(window.now(), Ordering::Relaxed);
            break;
        };
        let req = work.request(item, host.as_ref());
        let sent = window.now();
        let answer = match sender.send_request(req).await {
            Ok(res) => {
                let status = res.status();
                match res.into_body().collect().await {
                    Ok(body) => Ok((status, body.to_bytes())),
                    Err(e) => Err(format!("reading the body: {e}")),
                }
            }
            Err(e) => Err(format!("sending: {e}")),
        };
        let done = window.now();
        let counted = sent >= window.start && done <= window.end;
        if sent < window.start {
            out.warmup += 1;
        }
        match answer {
            Ok((status, body)) if work.expect.accepts(status, &body) => {
                if counted {
                    out.samples.push((done, done - sent));
                }
                conn = Some(sender);
            }
            Ok((status, body)) => {
                out.error(counted, || {
                    let text = String::from_utf8_lossy(&body);
                    let text: String = text.chars().take(200).collect();
                    format!("HTTP {status}: {text}")
                });
                conn = Some(sender);
            }
            Err(e) => out.error(counted, || e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::bare;

    fn settings(ms: u64) -> Settings {
        Settings {
            connections: 4,
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(ms),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_correct_answers_and_errors() {
        let server = bare::spawn().await.expect("bare server");
        let ok = Workload::fixed(Method::GET, "/", Expect::ok_containing("openid"));
        let r = run(server.addr(), Arc::new(ok), &settings(200)).await;
        assert!(r.requests() > 0, "{r:?}");
        assert_eq!(r.errors, 0);
        assert!(r.ran_dry.is_none());
        assert!(r.p50() <= r.p99() && r.p99() <= r.max());
        let wrong = Workload::fixed(Method::GET, "/", Expect::ok_containing("errcode"));
        let r = run(server.addr(), Arc::new(wrong), &settings(100)).await;
        assert_eq!(r.requests(), 0);
        assert!(r.errors > 0);
        assert!(r.first_error.as_deref().is_some_and(|e| e.contains("200")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn single_use_items_run_dry() {
        let server = bare::spawn().await.expect("bare server");
        let items = (0..20)
            .map(|i| Item::new(&format!("/?code={i}"), "").expect("uri"))
            .collect();
        let work = Arc::new(Workload::single_use(
            Method::GET,
            items,
            Expect::ok_containing(""),
        ));
        let r = run(
            server.addr(),
            work.clone(),
            &Settings {
                warmup: Duration::ZERO,
                ..settings(2_000)
            },
        )
        .await;
        assert!(r.ran_dry.is_some(), "{r:?}");
        assert!(r.window < Duration::from_millis(2_000));
        assert!(r.requests() <= 20);
        assert_eq!(work.unused(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spread_connections_meet_every_address() {
        let server = bare::spawn().await.expect("bare server");
        // A port nobody listens on: bound, then closed.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
            l.local_addr().expect("addr")
        };
        let ok = Arc::new(Workload::fixed(
            Method::GET,
            "/",
            Expect::ok_containing("openid"),
        ));
        let r = run_spread(&[server.addr(), dead], ok.clone(), &settings(100)).await;
        assert!(r.requests() > 0, "half the workers reach the server: {r:?}");
        assert!(r.errors > 0, "the other half meet the dead address: {r:?}");
        assert!(
            r.first_error
                .as_deref()
                .is_some_and(|e| e.contains(&dead.to_string())),
            "{r:?}"
        );
        let r = run_spread(&[], ok, &settings(50)).await;
        assert_eq!(r.requests(), 0);
        assert_eq!(
            r.first_error.as_deref(),
            Some("no address to send the load to")
        );
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let r = Report {
            connections: 1,
            window: Duration::from_secs(1),
            latencies_ns: (1..=100).collect(),
            errors: 0,
            first_error: None,
            ran_dry: None,
            warmup_requests: 0,
        };
        assert_eq!(r.p50(), Duration::from_nanos(50));
        assert_eq!(r.p99(), Duration::from_nanos(99));
        assert_eq!(r.max(), Duration::from_nanos(100));
        assert!((r.rate() - 100.0).abs() < 1e-9);
    }
}
