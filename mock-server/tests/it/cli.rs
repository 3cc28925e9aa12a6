//! The `mock-server` binary: starts with zero configuration on a port it picks, prints the URL,
//! the default app's credentials and the SMS gateway's defaults, loads a seed file, and stops
//! on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running {
    child: Child,
    lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on port 0 and reads the four lines it prints once it is listening.
fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("MOCK_LISTEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let out = child.stdout.take().unwrap();
    let lines = BufReader::new(out)
        .lines()
        .take(4)
        .map(Result::unwrap)
        .collect();
    Running { child, lines }
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
}

#[tokio::test]
async fn zero_configuration_start_login_and_graceful_stop() {
    let mut run = start(&[]);
    let base = run.lines[0]
        .strip_prefix("mock-server listening on ")
        .expect("first line names the URL")
        .to_owned();
    let appid = field(&run.lines[1], "appid=").to_owned();
    let secret = field(&run.lines[1], "secret=").to_owned();
    assert!(appid.starts_with("wx") && appid.len() == 18, "{appid}");
    assert_eq!(secret.len(), 32);

    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{base}/__mock__/wx/login"))
        .body(r#"{"user":"alice"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = login["code"].as_str().unwrap();
    let session: serde_json::Value = http
        .get(format!(
            "{base}/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["openid"], login["mock"]["openid"]);
    let (_, dashboard) = run.lines[2]
        .split_once("dashboard: ")
        .expect("the third line names the dashboard");
    let page = http.get(dashboard).send().await.unwrap();
    assert_eq!(page.status(), 200, "{dashboard}");
    assert!(
        page.text().await.unwrap().contains("<html"),
        "the dashboard's page"
    );

    let pid = run.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = run.child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[tokio::test]
async fn the_sms_gateway_serves_with_the_printed_defaults() {
    let run = start(&[]);
    let line = &run.lines[3];
    assert!(line.starts_with("sms gateway: POST http://"), "{line}");
    let url = line.split_whitespace().nth(3).expect("the URL").to_owned();
    let (id, secret) = (field(line, "secret_id="), field(line, "secret_key="));
    let app = field(line, "sdk_app_id=");
    let sign = field(line, "sign_name=");
    let template = field(line, "templates=").split(',').next().unwrap();
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let body = serde_json::json!({"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": app,
        "SignName": sign, "TemplateId": template, "TemplateParamSet": ["246810", "5"]})
    .to_string();
    // The binary runs on the system clock; sign with the time the mock will read.
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let key = mock_server::tencent::Key {
        secret_id: id,
        secret_key: secret,
    };
    let http = reqwest::Client::new();
    let mut req = http.post(&url).body(body.clone());
    for (name, value) in
        mock_server::tencent::send_sms_headers(&key, &host, "ap-guangzhou", now, body.as_bytes())
    {
        if name != "Host" {
            req = req.header(name, value);
        }
    }
    let answer: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        answer["Response"]["SendStatusSet"][0]["Code"], "Ok",
        "{answer}"
    );
    let control = mock_server::ControlClient::new(&format!("http://{host}"), None);
    assert_eq!(
        control
            .last_sms_code("13800138000")
            .await
            .unwrap()
            .as_deref(),
        Some("246810")
    );
    assert_eq!(
        control.clear_sms().await.unwrap(),
        serde_json::json!({"removed": 1})
    );
    assert_eq!(control.last_sms("+8613800138000").await.unwrap(), None);
}

#[tokio::test]
async fn the_seed_file_and_the_seed_decide_identities() {
    let dir = std::env::temp_dir().join(format!("mock-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seed.json");
    std::fs::write(
        &path,
        r#"{"options":{"strict":true},"apps":[{"appid":"wx1111222233334444","secret":"s"}],"users":[{"handle":"alice"}]}"#,
    )
    .unwrap();
    let a = start(&["--seed", "42", "--seed-file", path.to_str().unwrap()]);
    let b = start(&["--seed", "42"]);
    let c = start(&["--seed", "43"]);
    // The default app derives from the seed alone.
    assert_eq!(field(&a.lines[1], "appid="), field(&b.lines[1], "appid="));
    assert_ne!(field(&a.lines[1], "appid="), field(&c.lines[1], "appid="));

    let base = a.lines[0]
        .strip_prefix("mock-server listening on ")
        .unwrap();
    let http = reqwest::Client::new();
    let login = |user: &'static str| {
        http.post(format!("{base}/__mock__/wx/login"))
            .body(format!(
                r#"{{"appid":"wx1111222233334444","user":"{user}"}}"#
            ))
            .send()
    };
    assert_eq!(login("alice").await.unwrap().status(), 200);
    // Strict mode from the seed file: unknown users are refused.
    assert_eq!(login("mallory").await.unwrap().status(), 404);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_seed_file_is_refused_with_the_field_named() {
    let dir = std::env::temp_dir().join(format!("mock-badseed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seed.json");
    std::fs::write(&path, r#"{"users":[{"handle":"a","gender":"x"}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--seed-file",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("users[0].gender"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Opens a fixture payload with the strict reference decryptor.
fn open(
    key: &str,
    payload: &serde_json::Value,
) -> Result<serde_json::Value, mock_server::opendata::OpenDataError> {
    mock_server::opendata::decrypt_json(
        key,
        payload["iv"].as_str().unwrap(),
        payload["encryptedData"].as_str().unwrap(),
        "wx4f4bc4dec97d474b",
    )
}

fn fixture(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .arg("fixture")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_fixture_command_prints_payloads_a_strict_decryptor_accepts_or_rejects() {
    let key = "tiihtNczf5v6AKRyjwEUhQ==";
    let common = [
        "--appid",
        "wx4f4bc4dec97d474b",
        "--session-key",
        key,
        "--timestamp",
        "1477314187",
    ];
    let out = fixture(
        &[
            &common[..],
            &["user-info", "--unionid", "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grant: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let raw = grant["rawData"].as_str().unwrap();
    assert_eq!(
        grant["signature"],
        mock_server::opendata::raw_data_signature(raw, key)
    );
    let plain = open(key, &grant).unwrap();
    assert_eq!(plain["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
    assert_eq!(plain["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
    assert_eq!(plain["watermark"]["timestamp"], 1_477_314_187);

    let out = fixture(
        &[
            &common[..],
            &[
                "--tamper",
                "foreign-watermark",
                "phone",
                "--number",
                "13800138000",
            ],
        ]
        .concat(),
    );
    let payload: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = open(key, &payload).unwrap_err();
    assert!(
        matches!(
            err,
            mock_server::opendata::OpenDataError::AppIdMismatch { .. }
        ),
        "{err:?}"
    );

    let bad = fixture(&[&common[..], &["werun", "--steps", "1,2"]].concat());
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--steps needs 31 values, got 2"));
}

#[test]
fn an_open_control_plane_on_the_network_is_refused_at_start() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mock-server"))
            .args(args)
            .env_remove("MOCK_CONTROL_TOKEN")
            .env_remove("MOCK_OPEN_CONTROL_PLANE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("0.0.0.0:0 (not loopback)"), "{err}");
    assert!(
        err.contains("--control-token") && err.contains("--open-control-plane"),
        "{err}"
    );
    let (code, err) = run(&["--listen", "0.0.0.0:0", "--control-token", " "]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the control token is empty"), "{err}");
}

#[test]
fn help_names_the_control_token_variable_but_never_shows_its_value() {
    let out = Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .arg("--help")
        .env("MOCK_CONTROL_TOKEN", "s3cret-token-value")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("MOCK_CONTROL_TOKEN"), "{help}");
    assert!(!help.contains("s3cret-token-value"), "{help}");
}
