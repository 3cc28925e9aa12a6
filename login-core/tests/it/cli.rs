//! The `login-core` binary: one flag to run against the mock, clear refusals of bad setups, and
//! no secret in its logs even at trace level.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_login-core");

/// Kills the child when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// Reading the child's stdout blocks a thread: the in-process mock must run on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_run_it_against_the_mock() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Child(
        Command::new(BIN)
            .args(mock_flags(&app.mock))
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let url = first
        .strip_prefix("login-core listening on ")
        .unwrap_or_else(|| panic!("first line names the URL: {first}"))
        .to_owned();
    let apps = lines.next().expect("a line").expect("utf-8");
    assert_eq!(apps, format!("apps: {}", app.appid));

    let code = app.wx_login("alice").await;
    let resp = reqwest::Client::new()
        .post(format!("{url}/api/login"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 200);
    // The defaults put the database and the server key under ./data.
    assert!(dir.path().join("data/login-core.db").exists());
    assert!(dir.path().join("data/server.key").exists());
}

#[test]
fn without_apps_it_refuses_to_start_and_says_what_to_give() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--appid") && err.contains("--mock"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing written");
}

#[test]
fn a_bad_config_file_is_named_with_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("core.toml");
    std::fs::write(&file, "[sessions]\nttl = \"forever\"\n").expect("write");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&file)
        .current_dir(dir.path())
        .env_clear()
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("core.toml") && err.contains("ttl"), "{err}");
}

/// Runs the binary in an empty folder with the apps given, on `database_url`, with `flags`.
fn run_with(dir: &tempfile::TempDir, database_url: &str, flags: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["--appid", "wx1234567890abcdef", "--secret", "s3cr3t"])
        .args(["--listen", "127.0.0.1:0", "--database-url", database_url])
        .args(flags)
        .current_dir(dir.path())
        .env_clear()
        .output()
        .expect("binary runs")
}

/// Runs the binary in an empty folder with the apps given and `--database-url url`.
fn run_with_database(dir: &tempfile::TempDir, url: &str) -> std::process::Output {
    run_with(dir, url, &[])
}

#[test]
fn a_database_url_of_no_supported_form_is_refused_before_anything_is_created() {
    // Such URLs were once taken as SQLite paths: `postgres:` became a folder.
    for url in [
        "postgres:/nowhere",
        "postgres://u:secret@host:notaport/db",
        "mysql://root:secret@127.0.0.1/login",
        "data/login-core.db",
        "sqlite:",
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let out = run_with_database(&dir, url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(
            err.contains("sqlite://PATH")
                && err.contains("sqlite::memory:")
                && err.contains("postgres://"),
            "{url}: the supported forms are named: {err}"
        );
        assert!(!err.contains("secret"), "{url}: {err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
        assert!(left.is_empty(), "{url}: nothing was created: {left:?}");
    }
}

#[test]
fn a_postgres_server_that_cannot_be_reached_stops_the_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("dir");
    let started = std::time::Instant::now();
    let out = run_with_database(
        &dir,
        &format!("postgres://postgres:secret@127.0.0.1:{port}/test"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach PostgreSQL") && err.contains(&format!("127.0.0.1:{port}/test")),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(
        !dir.path().join("postgres:").exists(),
        "not taken for a SQLite path"
    );
}

/// Runs the binary in an empty folder on an in-memory database with `--counters-url url`.
fn run_with_counters(dir: &tempfile::TempDir, url: &str) -> std::process::Output {
    run_with(dir, "sqlite::memory:", &["--counters-url", url])
}

#[test]
fn a_counters_url_of_no_supported_form_is_refused_naming_the_form() {
    for url in [
        "rediss://u:secret@127.0.0.1:6379",
        "memcached://127.0.0.1:11211",
        "127.0.0.1:6379",
        "redis://u:secret@127.0.0.1:6379/db",
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let out = run_with_counters(&dir, url);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(
            err.contains("limits.counters_url")
                && err.contains("redis://[USER:PASSWORD@]HOST[:PORT][/DB]"),
            "{url}: {err}"
        );
        assert!(!err.contains("secret"), "{url}: {err}");
    }
}

#[test]
fn a_redis_server_that_cannot_be_reached_stops_the_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("dir");
    let out = run_with_counters(&dir, &format!("redis://:secret@127.0.0.1:{port}/2"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach the rate limits' counters")
            && err.contains(&format!("Redis at 127.0.0.1:{port}/2")),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_logs_carry_no_secret_even_at_trace_level() {
    let app = TestApp::new().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Child(
        Command::new(BIN)
            .args(mock_flags(&app.mock))
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts"),
    );
    // Drain stderr as it comes, so a full pipe never blocks the server.
    let mut stderr = child.0.stderr.take().expect("stderr");
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = child.0.stdout.take().expect("stdout");
    let first = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("utf-8");
    let url = first
        .strip_prefix("login-core listening on ")
        .expect("the URL")
        .to_owned();
    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut req = http.post(format!("{url}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };

    let grant = app.grant("alice").await;
    let login: serde_json::Value = post("/api/login", None, json!({"code": grant.code}))
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["token"].as_str().expect("token").to_owned();
    // Error paths log too: a reused code, a session check, a phone binding.
    let reused = post("/api/login", None, json!({"code": grant.code}))
        .await
        .expect("reuse");
    assert_eq!(reused.status(), 400);
    let check = http
        .get(format!("{url}/api/session/check"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("check");
    assert_eq!(check.status(), 200);
    let phone = app.phone_grant("alice").await;
    let bound = post("/api/me/phone", Some(&token), json!({"code": phone.code}))
        .await
        .expect("phone");
    assert_eq!(bound.status(), 200);

    let _ = child.0.kill();
    let _ = child.0.wait();
    let logs = logs.join().expect("stderr reader");
    // The capture works: login-core's own lines and the HTTP client's traces are here.
    for expected in ["login_core::service::login", "is_new=true", "hyper"] {
        assert!(
            logs.contains(expected),
            "{expected} not in the logs: {logs}"
        );
    }
    let secret = app.mock.default_app().secret;
    for (what, value) in [
        ("session_key", grant.mock.session_key.as_str()),
        ("login code", grant.code.as_str()),
        ("login token", token.as_str()),
        ("phone code", phone.code.as_str()),
        ("app secret", secret.as_str()),
    ] {
        assert!(!logs.contains(value), "the {what} reached the logs");
    }
}

#[test]
fn previous_server_keys_from_the_environment_are_read_one_by_one() {
    let dir = tempfile::tempdir().expect("dir");
    let good = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let out = Command::new(BIN)
        .args(["--appid", "wx1", "--secret", "s", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_clear()
        .env("LOGIN_CORE_SERVER_KEY", good)
        .env(
            "LOGIN_CORE_PREVIOUS_SERVER_KEYS",
            format!("{good},bm90LWEta2V5"),
        )
        .output()
        .expect("binary runs");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("previous_server_keys[1] must be base64 of 32 bytes"),
        "{err}"
    );
    assert!(
        !err.contains("bm90LWEta2V5"),
        "the key is not echoed: {err}"
    );
}
