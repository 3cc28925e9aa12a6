//! `harness record`: a session made by hand over HTTP against a mock in process (the
//! control plane's wx.login, a backend's jscode2session, a fault, a clock move, a code nobody
//! issued, a phone number), read back from the mock's journal, written as a scenario, parsed
//! and run against login-core; what it asserts failing when WeChat answers otherwise; the file's
//! shape against a golden copy; an empty journal, a bad --since, an unreachable mock and a
//! control token, from the library and from the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::record::{Options, RecordError, Recorded, Since, build, fetch};
use harness::report::console::explain;
use harness::runner::{Outcome, RunOptions, run_scenario};
use harness::scenario::{Action, Scenario};
use mock_server::{Clock, MockHandle, Timestamp};
use serde_json::{Value, json};

const START: i64 = 1_724_289_297;

/// A mock on a frozen clock, with a fixed seed (the golden file repeats).
async fn mock(token: Option<&str>) -> MockHandle {
    mock_server::spawn(mock_server::Config {
        seed: "record".into(),
        clock: Clock::manual(Timestamp::from_secs(START)),
        listen: ([127, 0, 0, 1], 0).into(),
        control_token: token.map(str::to_owned),
        ..mock_server::Config::default()
    })
    .await
    .expect("the mock starts")
}

/// A person with curl: the control plane as the mini-program, the vendor surface as a backend.
struct Hand {
    base: String,
    http: reqwest::Client,
    appid: String,
    secret: String,
}

impl Hand {
    fn new(m: &MockHandle) -> Self {
        let app = m.default_app();
        Self {
            base: m.base_url(),
            http: reqwest::Client::new(),
            appid: app.appid.as_str().to_owned(),
            secret: app.secret,
        }
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method.clone(), format!("{}/__mock__{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the control plane answers");
        assert!(
            resp.status().is_success(),
            "{method} {path}: {}",
            resp.status()
        );
        resp.json().await.expect("JSON")
    }

    async fn wx_login(&self, user: &str) -> String {
        self.wx_login_in(user, &self.appid).await
    }

    async fn wx_login_in(&self, user: &str, appid: &str) -> String {
        let body = json!({"user": user, "appid": appid});
        let grant = self.control(reqwest::Method::POST, "/wx/login", body).await;
        grant["code"].as_str().expect("a code").to_owned()
    }

    /// jscode2session; the answer's errcode (0 for a success).
    async fn exchange(&self, code: &str) -> i64 {
        self.exchange_in(code, &self.appid, &self.secret).await
    }

    async fn exchange_in(&self, code: &str, appid: &str, secret: &str) -> i64 {
        let url = format!(
            "{}/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code",
            self.base
        );
        let body: Value = self
            .http
            .get(url)
            .send()
            .await
            .expect("WeChat answers")
            .json()
            .await
            .expect("JSON");
        body["errcode"].as_i64().unwrap_or(0)
    }

    /// The getPhoneNumber button, then a backend's access token and getuserphonenumber.
    async fn phone(&self, user: &str) -> i64 {
        let grant = self
            .control(
                reqwest::Method::POST,
                "/wx/getPhoneNumber",
                json!({"user": user}),
            )
            .await;
        let token: Value = self
            .http
            .get(format!(
                "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                self.base, self.appid, self.secret
            ))
            .send()
            .await
            .expect("WeChat answers")
            .json()
            .await
            .expect("JSON");
        let answer: Value = self
            .http
            .post(format!(
                "{}/wxa/business/getuserphonenumber?access_token={}",
                self.base,
                token["access_token"].as_str().expect("a token")
            ))
            .json(&json!({"code": grant["code"]}))
            .send()
            .await
            .expect("WeChat answers")
            .json()
            .await
            .expect("JSON");
        answer["errcode"].as_i64().expect("errcode")
    }
}

/// The journey, by hand: every answer is the one the recorded scenario will expect.
async fn session(h: &Hand) {
    let alice = h.wx_login("alice").await;
    assert_eq!(h.exchange(&alice).await, 0);
    assert_eq!(h.exchange(&alice).await, 40163, "a code is good once");
    let fault = json!({"endpoint": "jscode2session", "errcode": 40029, "times": 1});
    h.control(reqwest::Method::POST, "/faults", fault).await;
    let bob = h.wx_login("bob").await;
    assert_eq!(h.exchange(&bob).await, 40029, "the fault fires");
    let carol = h.wx_login("carol").await;
    h.control(reqwest::Method::POST, "/clock", json!({"advance": "6m"}))
        .await;
    assert_eq!(h.exchange(&carol).await, 40029, "the code expired");
    assert_eq!(h.exchange("not-a-code").await, 40029, "nobody issued it");
    assert_eq!(h.phone("alice").await, 0);
}

async fn recorded(m: &MockHandle) -> Recorded {
    let rec = fetch(&m.base_url(), None, Since::Everything)
        .await
        .expect("the journal reads");
    build(&rec, &Options::default()).expect("a scenario")
}

fn parsed(r: &Recorded) -> Scenario {
    let text = r.to_yaml().expect("written");
    Scenario::parse(Path::new("recorded.yaml"), &text).expect("the file parses as a scenario")
}

async fn run(s: &Scenario) -> harness::runner::ScenarioReport {
    run_scenario(Path::new("recorded.yaml"), s, &RunOptions::default()).await
}

#[tokio::test]
async fn a_session_made_by_hand_replays_against_login_core() {
    let m = mock(None).await;
    session(&Hand::new(&m)).await;
    let r = recorded(&m).await;
    let s = parsed(&r);
    let logins: Vec<(String, Option<String>)> = s
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Login(l) => Some((
                l.user.clone(),
                l.expect
                    .as_ref()
                    .and_then(|e| e.outcome)
                    .map(|o| o.to_string()),
            )),
            _ => None,
        })
        .collect();
    let relogin = || Some("relogin".to_owned());
    assert_eq!(
        logins,
        [
            ("alice".into(), None),
            ("alice".into(), relogin()),
            ("bob".into(), relogin()),
            ("carol".into(), relogin()),
            ("nobody".into(), relogin()),
        ]
    );
    assert!(
        s.steps
            .iter()
            .any(|st| matches!(&st.action, Action::Fault(f)
        if f["errcode"] == 40029 && f["times"] == 1))
    );
    assert!(
        s.steps
            .iter()
            .any(|st| matches!(&st.action, Action::Clock(c)
        if c.advance.as_deref() == Some("6m")))
    );
    let checks: Vec<&Value> = s
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Mock(m) if m.path == "/journal" => m.expect.as_ref()?.json.as_ref(),
            _ => None,
        })
        .collect();
    assert_eq!(
        checks,
        [
            &json!({"entries": [
                {"errcode": 0, "user": "${handles.alice}"},
                {"errcode": 40163}, {"errcode": 40029}, {"errcode": 40029}, {"errcode": 40029}
            ]}),
            &json!({"entries": [{"errcode": 0, "user": "${handles.alice}"}]}),
        ]
    );
    assert_eq!(r.fill_ins(), 0, "{}", r.to_yaml().unwrap_or_default());
    let text = r.to_yaml().unwrap_or_default();
    let app = m.default_app();
    assert!(
        !text.contains(&app.secret) && !text.contains(app.appid.as_str()),
        "appids and secrets are the scenario's variables:\n{text}"
    );

    let report = run(&s).await;
    assert!(
        matches!(report.outcome, Outcome::Passed),
        "{}",
        explain(&report)
    );
}

#[tokio::test]
async fn what_a_recording_asserts_fails_when_wechat_answers_otherwise() {
    let m = mock(None).await;
    session(&Hand::new(&m)).await;
    let mut s = parsed(&recorded(&m).await);
    // Without the fault, bob's code is good: the backend logs him in, which the recording
    // says it must not.
    s.steps.retain(|st| !matches!(st.action, Action::Fault(_)));
    let report = run(&s).await;
    let Outcome::Failed(f) = &report.outcome else {
        panic!("expected a failure: {}", explain(&report));
    };
    assert!(f.label.starts_with("bob logs in"), "{}", f.label);
    assert!(
        f.message.contains("expected outcome `relogin`"),
        "{}",
        f.message
    );

    // Without bob's login step, WeChat gets one jscode2session fewer than recorded.
    let mut s = parsed(&recorded(&m).await);
    s.steps.retain(|st| {
        !(matches!(&st.action, Action::Login(l) if l.user == "bob")
            || matches!(st.action, Action::Fault(_)))
    });
    let report = run(&s).await;
    let Outcome::Failed(f) = &report.outcome else {
        panic!("expected a failure: {}", explain(&report));
    };
    assert!(
        f.label.contains("jscode2session calls, in order"),
        "{}",
        f.label
    );
}

#[tokio::test]
async fn apps_users_and_options_of_the_session_come_along() {
    let m = mock(None).await;
    let h = Hand::new(&m);
    let post = reqwest::Method::POST;
    h.control(
        reqwest::Method::PATCH,
        "/options",
        json!({"login_quota_per_minute": 1}),
    )
    .await;
    let shop = h
        .control(
            post.clone(),
            "/apps",
            json!({"name": "shop", "open_platform": "acme"}),
        )
        .await;
    let (shop_id, shop_secret) = (
        shop["appid"].as_str().expect("appid").to_owned(),
        shop["secret"].as_str().expect("secret").to_owned(),
    );
    h.control(
        post.clone(),
        "/users",
        json!({"handle": "mallory", "high_risk": true}),
    )
    .await;
    let code = h.wx_login_in("alice", &shop_id).await;
    assert_eq!(h.exchange_in(&code, &shop_id, &shop_secret).await, 0);
    let code = h.wx_login("mallory").await;
    assert_eq!(h.exchange(&code).await, 40226, "high risk");
    let code = h.wx_login("erin").await;
    assert_eq!(h.exchange(&code).await, 0);
    let code = h.wx_login("erin").await;
    assert_eq!(h.exchange(&code).await, 45011, "one a minute");

    let r = recorded(&m).await;
    let s = parsed(&r);
    assert_eq!(s.setup.mock, Some(json!({"login_quota_per_minute": 1})));
    assert_eq!(
        s.setup.users,
        [json!({"handle": "mallory", "high_risk": true})]
    );
    let apps: Vec<(&str, Option<&str>)> = s
        .setup
        .apps
        .iter()
        .map(|a| (a.name.as_str(), a.open_platform.as_deref()))
        .collect();
    assert_eq!(apps, [("shop", Some("acme"))]);
    let logins: Vec<(&str, Option<&str>, Option<String>)> = s
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Login(l) => Some((
                l.user.as_str(),
                l.app.as_deref(),
                l.expect
                    .as_ref()
                    .and_then(|e| e.outcome)
                    .map(|o| o.to_string()),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        logins,
        [
            ("alice", Some("shop"), None),
            ("mallory", None, Some("blocked".into())),
            ("erin", None, None),
            ("erin", None, Some("rate_limited".into())),
        ]
    );
    let report = run(&s).await;
    assert!(
        matches!(report.outcome, Outcome::Passed),
        "{}\n{}",
        explain(&report),
        r.to_yaml().unwrap_or_default()
    );
}

#[tokio::test]
async fn a_session_through_a_teams_backend_replays_against_it() {
    use crate::helpers::{APPID, SECRET, team_backend, team_profile};
    let m = mock(None).await;
    let core = team_backend(&m.base_url(), Some(m.clock().clone())).await;
    let h = Hand::new(&m);
    h.control(
        reqwest::Method::POST,
        "/apps",
        json!({"appid": APPID, "secret": SECRET}),
    )
    .await;
    // The mini-program asks the mock for a code and gives it to the backend, which calls WeChat.
    let backend_login = |code: String| {
        let url = format!("{}/api/login", core.base_url());
        let http = h.http.clone();
        async move {
            let resp = http
                .post(url)
                .json(&json!({"code": code}))
                .send()
                .await
                .expect("the backend answers");
            resp.status().as_u16()
        }
    };
    assert_eq!(
        backend_login(h.wx_login_in("alice", APPID).await).await,
        200
    );
    h.control(
        reqwest::Method::POST,
        "/faults",
        json!({"endpoint": "jscode2session", "errcode": 40029, "times": 1}),
    )
    .await;
    assert_eq!(backend_login(h.wx_login_in("bob", APPID).await).await, 400);

    let profile = team_profile(core.base_url());
    let rec = fetch(&m.base_url(), None, Since::Everything)
        .await
        .expect("the journal reads");
    let r = build(
        &rec,
        &Options {
            target: Some(profile.clone()),
        },
    )
    .expect("a scenario");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let s = parsed(&r);
    assert!(
        s.setup.apps.is_empty(),
        "the backend serves its app as `default`"
    );
    let logins: Vec<(&str, Option<&str>)> = s
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Login(l) => Some((l.user.as_str(), l.app.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(logins, [("alice", None), ("bob", None)]);
    let options = RunOptions::target(profile, m.base_url(), None);
    let report = run_scenario(Path::new("recorded.yaml"), &s, &options).await;
    assert!(
        matches!(report.outcome, Outcome::Passed),
        "{}\n{}",
        explain(&report),
        r.to_yaml().unwrap_or_default()
    );
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/recorded-session.yaml")
}

#[tokio::test]
async fn the_file_keeps_its_shape() {
    let m = mock(None).await;
    session(&Hand::new(&m)).await;
    let mut rec = fetch(&m.base_url(), None, Since::Everything)
        .await
        .expect("the journal reads");
    // The port changes from run to run; the rest of the file must not.
    rec.source = "http://127.0.0.1:9100".into();
    let text = build(&rec, &Options::default())
        .expect("a scenario")
        .to_yaml()
        .expect("written");
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write the golden file");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != text {
        let diff = similar::TextDiff::from_lines(&want, &text)
            .unified_diff()
            .header("golden", "written now")
            .to_string();
        panic!(
            "{} differs from what harness record writes now (if the change is meant, run this \
             test with UPDATE_GOLDEN=1):\n{diff}",
            path.display()
        );
    }
}

#[tokio::test]
async fn an_empty_journal_is_said_plainly() {
    let m = mock(None).await;
    let rec = fetch(&m.base_url(), None, Since::Everything)
        .await
        .expect("the journal reads");
    let Err(e) = build(&rec, &Options::default()) else {
        panic!("nothing to record");
    };
    assert!(matches!(e, RecordError::Empty(_)));
    let text = e.to_string();
    assert!(
        text.starts_with("nothing to record: the mock at http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("POST /__mock__/wx/login"), "{text}");

    // After a session, a --since past it holds nothing either.
    session(&Hand::new(&m)).await;
    let rec = fetch(&m.base_url(), None, Since::Seq(7))
        .await
        .expect("the journal reads");
    let e = build(&rec, &Options::default()).expect_err("nothing after #7");
    assert!(
        e.to_string().contains("its last WeChat request is #7"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_mock_and_a_control_token_are_said_plainly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let e = fetch(&url, None, Since::Everything)
        .await
        .expect_err("nobody listens");
    assert!(matches!(e, RecordError::Unreachable { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "cannot reach the mock at {url}: the connection was refused. Start it \
             (`mock-server --listen 127.0.0.1:9100`, or `harness up`), or point --mock at where \
             it listens."
        )
    );

    let m = mock(Some("s3cret")).await;
    let e = fetch(&m.base_url(), None, Since::Everything)
        .await
        .expect_err("the token is needed");
    assert!(e.to_string().contains("give --control-token"), "{e}");
    let e = fetch(&m.base_url(), Some("guess"), Since::Everything)
        .await
        .expect_err("a wrong token");
    assert!(e.to_string().contains("is not the mock's"), "{e}");
    // The control plane's own URL names the same mock.
    let url = format!("{}/__mock__/", m.base_url());
    fetch(&url, Some("s3cret"), Since::Everything)
        .await
        .expect("the right token reads the journal");
}

fn harness_bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MOCK_CONTROL_TOKEN")
        .output()
        .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_the_file_and_refuses_what_it_cannot_use() {
    let m = mock(None).await;
    session(&Hand::new(&m)).await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("journeys/recorded.yaml");
    let (url, out) = (m.base_url(), file.to_string_lossy().into_owned());
    let runs = tokio::task::spawn_blocking(move || {
        [
            harness_bin(&["record", "--mock", &url, "-o", &out]),
            harness_bin(&["record", "--mock", &url, "-o", &out]),
            harness_bin(&["record", "--mock", &url, "--since", "last tuesday"]),
            harness_bin(&["record", "--mock", &url, "--since", "7"]),
        ]
    })
    .await
    .expect("the runs finish");
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    assert_eq!(runs[0].status.code(), Some(0), "{}", text(&runs[0]));
    assert!(
        text(&runs[0]).contains("places marked FILL IN")
            || text(&runs[0]).contains("nothing marked FILL IN"),
        "{}",
        text(&runs[0])
    );
    assert!(text(&runs[0]).contains(&format!("Run it: harness run {}", file.display())));
    harness::scenario::load(&file).expect("the file written loads");

    assert_eq!(
        runs[1].status.code(),
        Some(2),
        "no overwrite: {}",
        text(&runs[1])
    );
    assert!(
        text(&runs[1]).contains("give --force"),
        "{}",
        text(&runs[1])
    );

    assert_eq!(runs[2].status.code(), Some(2), "{}", text(&runs[2]));
    assert!(
        text(&runs[2]).starts_with("harness record: --since \"last tuesday\": give a journal"),
        "{}",
        text(&runs[2])
    );

    assert_eq!(runs[3].status.code(), Some(1), "{}", text(&runs[3]));
    assert!(
        text(&runs[3]).contains("nothing to record"),
        "{}",
        text(&runs[3])
    );
    assert!(runs[3].stdout.is_empty(), "no file on stdout");
}
