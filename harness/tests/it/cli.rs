//! The `harness` binary: exit codes, console output, report files, target mode and `up`.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::{APPID, SECRET, fixture, team_backend};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn a_failing_scenario_exits_1_and_is_explained() {
    let out = harness(&["run", s(&fixture("fail")), s(&fixture("pass"))]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL  fail/wrong-profile.yaml  A deliberately failing scenario  ("),
        "{stdout}"
    );
    assert!(stdout.contains("PASS  pass/logout.yaml"), "{stdout}");
    assert!(
        stdout.contains("\n── FAIL fail/wrong-profile.yaml: A deliberately failing scenario\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("step 3 of 4 (alice has a nickname (wrong on purpose)) failed"),
        "{stdout}"
    );
    assert!(stdout.contains("expected vs actual:"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour when not a terminal");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("2 passed, 1 failed in "), "{last}");
}

#[test]
fn passing_scenarios_exit_0() {
    let out = harness(&["run", "-j", "2", s(&fixture("pass"))]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("running 2 scenarios from "),
        "a header: {stdout}"
    );
    assert!(stdout.contains("up to 2 at a time"), "{stdout}");
    assert!(
        stdout.contains("PASS  first-login.yaml  A first login"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("2 passed, 0 failed in "),
        "{stdout}"
    );
}

#[test]
fn quiet_shows_only_failures() {
    let out = harness(&["run", "--quiet", s(&fixture("pass")), s(&fixture("broken"))]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains("PASS"), "{stdout}");
    assert!(!stdout.contains("running"), "{stdout}");
    assert!(stdout.contains("ERROR broken/bad-yaml.yaml\n"), "{stdout}");
    assert!(stdout.contains("bad-yaml.yaml:6:"), "{stdout}");
    assert!(
        stdout.trim_end().ends_with(" error in ")
            || stdout.contains("2 passed, 0 failed, 1 error in "),
        "{stdout}"
    );
}

#[test]
fn filters_select_and_report_what_they_left_out() {
    let out = harness(&["run", "--tag", "sessions", s(&fixture("pass"))]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  logout.yaml"), "{stdout}");
    assert!(!stdout.contains("first-login"), "{stdout}");
    assert!(
        stdout.contains("1 passed, 0 failed, 1 filtered out in "),
        "{stdout}"
    );
    let out = harness(&[
        "run",
        "--name",
        "first",
        "--skip-tag",
        "smoke",
        s(&fixture("pass")),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("matches the filters"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = harness(&["run", s(empty.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("no scenario files"),
        "{:?}",
        text(&out)
    );

    let out = harness(&["run", s(&empty.path().join("missing"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no such file"), "{:?}", text(&out));

    let out = harness(&["run", "--mock", "http://127.0.0.1:9", s(&fixture("pass"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("--mock needs a target"),
        "{:?}",
        text(&out)
    );

    let profile = empty.path().join("profile.yaml");
    std::fs::write(
        &profile,
        "version: 2\nbase_url: http://x\nroutes:\n  login: { pth: /login }\n",
    )
    .expect("write");
    let out = harness(&["run", "--target-profile", s(&profile), s(&fixture("pass"))]);
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("profile.yaml:4:") && stderr.contains("pth"),
        "file, line and the unknown key: {stderr}"
    );

    std::fs::write(&profile, "version: 2\nbase_url: http://x\n").expect("write");
    let out = harness(&["run", "--target-profile", s(&profile), s(&fixture("pass"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("routes.login: missing"),
        "{:?}",
        text(&out)
    );

    // Nothing listens on a port just freed: one clear error, before any scenario.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = harness(&["run", "--target", &url, s(&fixture("pass"))]);
    assert_eq!(out.status.code(), Some(2));
    let (stdout, stderr) = text(&out);
    assert!(
        stderr.contains(&format!("cannot reach the target at {url} (--target)")),
        "{stderr}"
    );
    assert!(!stdout.contains("FAIL"), "no scenario ran: {stdout}");

    let out = harness(&["run", "--jobs", "0", s(&fixture("pass"))]);
    assert_eq!(out.status.code(), Some(2), "clap's usage errors too");
}

#[test]
fn junit_and_json_files_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("out/junit.xml");
    let json = dir.path().join("out/report.json");
    let out = harness(&[
        "run",
        "--junit",
        s(&junit),
        "--json",
        s(&json),
        s(&fixture("fail")),
        s(&fixture("pass")),
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("JUnit report: "), "{stdout}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("well-formed");
    assert_eq!((report.tests, report.failures), (3, 1));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("JSON");
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["passed"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn target_mode_with_a_profile_and_a_running_mock() {
    let mock = crate::target::mock().await;
    let core = team_backend(&mock.base_url(), Some(mock.clock().clone())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("team.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 2\nextends: login-core\nname: team\nbase_url: {}\n\
             routes:\n  login: {{ path: /api/login, code: {{ json: code }} }}\n\
             token: {{ path: $.token, header: Authorization, prefix: \"Bearer \" }}\n\
             apps:\n  default: {{ appid: {APPID}, secret: {SECRET} }}\n",
            core.base_url()
        ),
    )
    .expect("profile");
    let args = [
        "run".to_owned(),
        "--target-profile".into(),
        s(&profile).into(),
        "--mock".into(),
        mock.base_url(),
        s(&fixture("portable")).into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        harness(&args)
    })
    .await
    .expect("joined");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "against team at {} (its WeChat base URL must be {}), run seed ",
            core.base_url(),
            mock.base_url()
        )),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn target_mode_with_the_in_process_mock_at_a_known_address() {
    // A free port for the mock the binary starts; the backend is told about it beforehand.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mock_url = format!("http://127.0.0.1:{port}");
    let core = team_backend(&mock_url, None).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = dir.path().join("team.yaml");
    std::fs::write(
        &profile,
        format!(
            "version: 2\nextends: login-core\napps:\n  default: {{ appid: {APPID}, secret: {SECRET} }}\n"
        ),
    )
    .expect("profile");
    let args = [
        "run".to_owned(),
        "--target".into(),
        core.base_url(),
        "--target-profile".into(),
        s(&profile).into(),
        "--mock-listen".into(),
        format!("127.0.0.1:{port}"),
        s(&fixture("portable")).into(),
        s(&fixture("pass")).into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        harness(&args)
    })
    .await
    .expect("joined");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("(its WeChat base URL must be {mock_url})")),
        "{stdout}"
    );
    assert!(stdout.contains("3 passed, 0 failed in "), "{stdout}");
}

#[cfg(unix)]
#[test]
fn up_serves_the_mock_and_login_core_until_sigterm() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "up",
            "--listen-mock",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--data",
            s(data.path()),
        ])
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let done = line.starts_with("default app");
        banner.push(line);
        if done {
            break;
        }
    }
    let field = |prefix: &str| -> String {
        banner
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{prefix} in {banner:?}"))
            .to_owned()
    };
    let mock = field("mock (WeChat API)");
    let core = field("login-core");
    let appid = field("default app").replace("appid=", "");
    assert!(mock.starts_with("http://127.0.0.1:"), "{banner:?}");
    assert!(appid.starts_with("wx"), "{banner:?}");
    assert!(
        banner.iter().any(|l| l.contains("/__mock__/")),
        "{banner:?}"
    );

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let apps = rt.block_on(alice_logs_in(&mock, &core));
    assert_eq!(apps, serde_json::json!([appid]));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    assert!(status.success(), "graceful exit: {status:?}");
    assert!(data.path().join("login-core.db").exists());
    assert!(data.path().join("server.key").exists());
}

/// alice's `wx.login` at the mock, then her login at login-core (200): the apps of her user.
async fn alice_logs_in(mock: &str, core: &str) -> serde_json::Value {
    let http = reqwest::Client::new();
    let wx: serde_json::Value = http
        .post(format!("{mock}/__mock__/wx/login"))
        .json(&serde_json::json!({"user": "alice"}))
        .send()
        .await
        .expect("wx.login")
        .json()
        .await
        .expect("JSON");
    let login = http
        .post(format!("{core}/api/login"))
        .json(&serde_json::json!({"code": wx["code"]}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let body: serde_json::Value = login.json().await.expect("JSON");
    body["user"]["apps"].clone()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn up_with_mock_serves_login_core_alone_on_the_running_mock() {
    let mock = crate::target::mock().await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "up",
            "--mock",
            &mock.base_url(),
            "--listen",
            "127.0.0.1:0",
            "--data",
            s(data.path()),
        ])
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let banner = tokio::task::spawn_blocking(move || {
        let mut banner = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            let done = line.starts_with("apps");
            banner.push(line);
            if done {
                break;
            }
        }
        banner
    })
    .await
    .expect("joined");
    let field = |prefix: &str| -> String {
        banner
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{prefix} in {banner:?}"))
            .to_owned()
    };
    let core = field("login-core");
    let appid = mock.default_app().appid.as_str().to_owned();
    assert_eq!(
        field("apps").trim_end_matches(','),
        appid,
        "the mock's default app first: {banner:?}"
    );

    let apps = alice_logs_in(&mock.base_url(), &core).await;
    assert_eq!(apps, serde_json::json!([appid]));
    let http = reqwest::Client::new();

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().expect("exits"))
        .await
        .expect("joined");
    assert!(status.success(), "graceful exit: {status:?}");
    assert!(data.path().join("login-core.db").exists());
    let state = http
        .get(format!("{}/__mock__/state", mock.base_url()))
        .send()
        .await
        .expect("the mock still runs");
    assert_eq!(state.status(), 200);
}
