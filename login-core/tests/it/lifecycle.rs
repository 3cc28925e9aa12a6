//! Whole-server properties: graceful shutdown finishes in-flight requests; the binary, on
//! SIGTERM, refuses new connections at once, lets the requests in flight finish within its
//! drain deadline and exits 0 (1 when it had to cut some).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_login-core");

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let app = TestApp::new().await;
    let code = app.wx_login("alice").await;
    // WeChat takes 300 ms to answer: the login is in flight when shutdown starts.
    app.fault(json!({"endpoint": "jscode2session", "delay": "300ms", "times": 1}))
        .await;
    let url = app.url("/api/login");
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({ "code": code }))
            .send()
            .await
    });
    // Let the request reach the server before asking it to stop.
    while app.calls("jscode2session").await == 0 {
        tokio::task::yield_now().await;
    }
    let TestApp { core, mock, .. } = app;
    core.shutdown().await;
    let resp = pending
        .await
        .expect("task")
        .expect("the in-flight login completes");
    assert_eq!(resp.status(), 200);
    drop(mock);
}

/// A WeChat that holds every jscode2session answer until the test releases it, and says when
/// a request has arrived: the login is then in flight inside login-core, for certain.
struct HeldWeChat {
    url: String,
    arrived: tokio::sync::mpsc::UnboundedReceiver<()>,
    release: std::sync::Arc<tokio::sync::Notify>,
    _task: tokio::task::JoinHandle<()>,
}

impl HeldWeChat {
    async fn start() -> HeldWeChat {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, arrived) = tokio::sync::mpsc::unbounded_channel();
        let release = std::sync::Arc::new(tokio::sync::Notify::new());
        let held = release.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (tx, held) = (tx.clone(), held.clone());
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = tx.send(());
                    held.notified().await;
                    let body = r#"{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oHeldWeChat0000000000000000A"}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        HeldWeChat {
            url,
            arrived,
            release,
            _task: task,
        }
    }
}

/// The binary serving one app against `wechat`, with `--drain-timeout drain`; its logs are
/// read on a thread of their own. Killed when dropped.
struct Binary {
    child: std::process::Child,
    url: String,
    logs: Option<std::thread::JoinHandle<String>>,
    _dir: tempfile::TempDir,
}

impl Binary {
    fn start(wechat: &HeldWeChat, drain: &str) -> Binary {
        let dir = tempfile::tempdir().expect("dir");
        let mut child = Command::new(BIN)
            .args(["--appid", "wx1234567890abcdef", "--secret", "s3cr3t"])
            .args(["--wechat-base-url", &wechat.url, "--listen", "127.0.0.1:0"])
            .args(["--drain-timeout", drain])
            .current_dir(dir.path())
            .env_clear()
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let mut stderr = child.stderr.take().expect("stderr");
        let logs = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a line").expect("utf-8");
        // The rest of stdout is read too, so that the pipe stays open.
        std::thread::spawn(move || lines.for_each(drop));
        let url = first
            .strip_prefix("login-core listening on ")
            .unwrap_or_else(|| panic!("the URL: {first}"))
            .to_owned();
        Binary {
            child,
            url,
            logs: Some(logs),
            _dir: dir,
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the exit; the exit code and everything it logged.
    async fn exit(mut self) -> (Option<i32>, String) {
        let mut child = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("a placeholder"),
        );
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("ran")
            .expect("exit status");
        let logs = self.logs.take().expect("once").join().expect("reader");
        (status.code(), logs)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connections to `url`'s port are refused within two seconds of now.
async fn refuses_connections(url: &str) {
    let addr = url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{addr} still accepts connections after SIGTERM");
}

/// A login sent to the binary: returns once its jscode2session call has reached `wechat`,
/// with the task that awaits its answer.
async fn login_in_flight(
    wechat: &mut HeldWeChat,
    bin: &Binary,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let url = format!("{}/api/login", bin.url);
    let pending = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({ "code": "0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p" }))
            .send()
            .await
    });
    wechat
        .arrived
        .recv()
        .await
        .expect("the login reached WeChat");
    pending
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_refuses_new_connections_finishes_the_requests_in_flight_and_exits_0() {
    let mut wechat = HeldWeChat::start().await;
    let bin = Binary::start(&wechat, "10s");
    let pending = login_in_flight(&mut wechat, &bin).await;
    bin.terminate();
    // New connections are refused while the login is still held upstream.
    refuses_connections(&bin.url).await;
    assert!(!pending.is_finished());
    wechat.release.notify_one();
    let resp = pending.await.expect("task").expect("the login completes");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["user"]["is_new"], true);
    let (code, logs) = bin.exit().await;
    assert_eq!(code, Some(0), "{logs}");
    assert!(logs.contains("every request in flight finished"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_at_the_drain_deadline_is_cut_and_the_exit_status_says_so() {
    let mut wechat = HeldWeChat::start().await;
    let bin = Binary::start(&wechat, "200ms");
    let pending = login_in_flight(&mut wechat, &bin).await;
    let signalled = Instant::now();
    bin.terminate();
    let (code, logs) = bin.exit().await;
    assert_eq!(code, Some(1), "{logs}");
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "the deadline was kept: {:?}",
        signalled.elapsed()
    );
    assert!(logs.contains("drain deadline"), "{logs}");
    assert!(
        pending.await.expect("task").is_err(),
        "the cut request gets no answer"
    );
}
