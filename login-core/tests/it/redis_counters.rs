//! login-core with the limits counted in Redis (`limits.counters_url`), over HTTP: a Redis that
//! goes away fails logins with 503 `store_unavailable` (never a login without its limits),
//! `/readyz` says which dependency is missing, and both recover without a restart when Redis
//! comes back. Redis sits behind a forwarder the test can cut. Skipped, saying so, without
//! `LOGIN_CORE_TEST_REDIS`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use login_core::store::redis::testing::TestCounters;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::helpers::*;

/// A TCP forwarder to Redis on loopback that can be cut (every connection closed, new ones
/// closed at once) and restored.
struct Forwarder {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<tokio::sync::Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    async fn start(to: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("its address");
        let cut = Arc::new(AtomicBool::new(false));
        let links = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let (c, l) = (cut.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                l.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Forwarder {
            addr,
            cut,
            links,
            accept,
        }
    }

    async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.links.lock().await.abort_all();
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_goes_away_fails_logins_with_503_and_both_recover_without_a_restart() {
    let Some(t) = TestCounters::create("redis_counters::a_redis_that_goes_away").await else {
        return;
    };
    let info = redis::Client::open(t.url.as_str()).expect("the URL");
    let to = match info.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => tokio::net::lookup_host((host.as_str(), *port))
            .await
            .expect("resolves")
            .next()
            .expect("an address"),
        other => panic!("the test server must be reached over TCP, not {other}"),
    };
    let db = info.get_connection_info().redis_settings().db();
    let forwarder = Forwarder::start(to).await;
    let (url, prefix) = (format!("redis://{}/{db}", forwarder.addr), t.prefix.clone());
    let app = TestApp::with(Setup {
        configure: Box::new(move |c| {
            c.limits.counters_url = Some(url);
            c.limits.counters_prefix = prefix;
            c.database.ping_timeout = std::time::Duration::from_millis(300);
        }),
        ..Setup::default()
    })
    .await;
    assert_eq!(app.try_login("alice").await.status, 200);
    assert_eq!(app.get("/readyz", None).await.status, 200);

    forwarder.cut().await;
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.json()["database"], "ok", "{}", r.text);
    assert_eq!(r.json()["counters"], "unreachable", "{}", r.text);
    let r = app.try_login("bob").await;
    r.assert_error(503, "store_unavailable");
    assert_eq!(app.stats().await.users, 1, "no login without its limits");

    forwarder.restore();
    // The next calls reconnect; the first may still meet the broken connection.
    let mut answers = Vec::new();
    for _ in 0..3 {
        let status = app.try_login("bob").await.status;
        answers.push(status);
        if status == 200 {
            break;
        }
    }
    assert_eq!(answers.last(), Some(&200), "{answers:?}");
    assert!(answers.len() <= 2, "{answers:?}");
    assert_eq!(app.get("/readyz", None).await.status, 200);
    assert_eq!(app.stats().await.users, 2);
}
