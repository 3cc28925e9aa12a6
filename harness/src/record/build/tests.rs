//! Unit tests of the mapping from a recording to steps, on recordings written by hand.

use mock_server::journal::{ControlEntry, JournalEntry};
use serde_json::{Value, json};

use super::*;
use crate::record::{MockApp, MockUser, MockWorld, Since};
use crate::target::OutcomeName;

const T0: i64 = 1_724_289_297_000;
const APPID: &str = "wxdefault0000000001";
const SECRET: &str = "secretsecretsecretsecretsecret01";

struct Rec {
    rec: Recording,
    /// The next control-plane sequence number.
    control_seq: u64,
}

impl Rec {
    fn new() -> Self {
        let world = MockWorld {
            apps: vec![MockApp {
                appid: APPID.into(),
                secret: SECRET.into(),
                default: true,
                ..MockApp::default()
            }],
            ..MockWorld::default()
        };
        Self {
            rec: Recording {
                source: "http://mock".into(),
                world,
                ..Recording::default()
            },
            control_seq: 0,
        }
    }

    /// A control-plane call at `secs` after T0.
    fn control(&mut self, secs: i64, method: &str, path: &str, body: Value, response: Value) {
        self.control_seq += 1;
        let entry: ControlEntry = serde_json::from_value(json!({
            "seq": self.control_seq, "after_seq": self.rec.vendor.last().map_or(0, |e| e.seq),
            "time_ms": T0 + secs * 1000, "time": "", "method": method, "path": path,
            "body": body, "status": 200, "response": response,
        }))
        .expect("control entry");
        self.rec.control.push(entry);
    }

    fn wx_login(&mut self, secs: i64, user: &str, code: &str) {
        self.control(
            secs,
            "POST",
            "/wx/login",
            json!({"user": user}),
            json!({"code": code, "errMsg": "login:ok", "mock": {"appid": APPID, "user": user}}),
        );
    }

    /// A jscode2session call at `secs` after T0.
    fn exchange(&mut self, secs: i64, code: &str, user: Option<&str>, errcode: i64) {
        self.exchange_as(secs, code, SECRET, user, Some(errcode), None);
    }

    fn exchange_as(
        &mut self,
        secs: i64,
        code: &str,
        secret: &str,
        user: Option<&str>,
        errcode: Option<i64>,
        fault: Option<&str>,
    ) {
        let params = json!({"appid": APPID, "secret": secret, "js_code": code,
            "grant_type": "authorization_code"});
        self.vendor(
            secs,
            "jscode2session",
            "/sns/jscode2session",
            params,
            "",
            user,
            errcode,
            fault,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn vendor(
        &mut self,
        secs: i64,
        endpoint: &str,
        path: &str,
        params: Value,
        body: &str,
        user: Option<&str>,
        errcode: Option<i64>,
        fault: Option<&str>,
    ) {
        let seq = self.rec.vendor.last().map_or(1, |e| e.seq + 1);
        let entry: JournalEntry = serde_json::from_value(json!({
            "seq": seq, "time_ms": T0 + secs * 1000, "time": "", "method": "GET",
            "path": path, "endpoint": endpoint, "query": "", "params": params,
            "body": body, "appid": APPID, "user": user,
            "status": if errcode.is_some() { 200 } else { 502 }, "errcode": errcode,
            "fault": fault, "response": "", "latency_us": 1, "rid": null,
        }))
        .expect("journal entry");
        self.rec.vendor.push(entry);
        self.rec.last_seq = seq;
    }

    fn build(&self) -> Recorded {
        build(&self.rec, &Options::default()).expect("builds")
    }
}

fn actions(r: &Recorded) -> Vec<&Action> {
    r.scenario.steps.iter().map(|s| &s.action).collect()
}

fn logins(r: &Recorded) -> Vec<&LoginCall> {
    actions(r)
        .into_iter()
        .filter_map(|a| match a {
            Action::Login(l) => Some(l),
            _ => None,
        })
        .collect()
}

fn outcome(l: &LoginCall) -> Option<OutcomeName> {
    l.expect.as_ref().and_then(|e| e.outcome)
}

/// The entries the final jscode2session check expects.
fn expected_exchanges(r: &Recorded) -> Value {
    r.scenario
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::Mock(m) if m.query.get("endpoint") == Some(&json!("jscode2session")) => {
                m.expect.as_ref().and_then(|e| e.json.clone())
            }
            _ => None,
        })
        .unwrap_or(Value::Null)
}

#[test]
fn a_code_exchanged_once_folds_into_one_login() {
    let mut r = Rec::new();
    r.wx_login(0, "alice", "c1");
    r.exchange(0, "c1", Some("alice"), 0);
    let out = r.build();
    let l = logins(&out);
    assert_eq!(l.len(), 1);
    assert_eq!(
        (l[0].user.as_str(), &l[0].code, &l[0].save),
        ("alice", &None, &None)
    );
    assert_eq!(outcome(l[0]), None, "ok is the default");
    assert_eq!(
        expected_exchanges(&out),
        json!({"entries": [{"errcode": 0, "user": "${handles.alice}"}]})
    );
    assert_eq!(
        out.scenario.setup.clock,
        Some(json!("2024-08-22T01:14:57Z"))
    );
    assert_eq!(out.scenario.tags, ["recorded", "login"]);
    assert_eq!(out.fill_ins(), 0);
}

#[test]
fn a_code_used_twice_is_saved_and_the_second_use_logs_in_again() {
    let mut r = Rec::new();
    r.wx_login(0, "alice", "c1");
    r.exchange(0, "c1", Some("alice"), 0);
    r.exchange(0, "c1", Some("alice"), 40163);
    let out = r.build();
    let Action::WxLogin(w) = actions(&out)[0] else {
        panic!("{:?}", out.scenario.steps[0]);
    };
    assert_eq!(w.save.as_deref(), Some("alice_code1"));
    let l = logins(&out);
    assert_eq!(l[0].code.as_deref(), Some("${alice_code1.code}"));
    assert_eq!(l[1].code.as_deref(), Some("${alice_code1.code}"));
    assert_eq!(outcome(l[1]), Some(OutcomeName::Relogin));
    assert_eq!(
        l[1].save.as_deref(),
        Some("alice_refused1"),
        "alice keeps her session"
    );
    assert!(
        out.scenario.steps[2]
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with("errcode 40163 (the code was used before)")),
        "{:?}",
        out.scenario.steps[2]
    );
}

#[test]
fn time_that_passed_becomes_clock_steps_and_an_expired_code_is_named() {
    let mut r = Rec::new();
    r.wx_login(0, "carol", "c1");
    r.control(
        372,
        "POST",
        "/clock",
        json!({"advance": "6m"}),
        json!({"now_ms": T0 + 372_000}),
    );
    r.exchange(400, "c1", Some("carol"), 40029);
    let out = r.build();
    let clocks: Vec<&str> = actions(&out)
        .into_iter()
        .filter_map(|a| match a {
            Action::Clock(c) => c.advance.as_deref(),
            _ => None,
        })
        .collect();
    // 12 s passed on a running clock before the move, the move itself, 28 s after it.
    assert_eq!(clocks, ["12s", "6m", "28s"]);
    let l = logins(&out);
    assert_eq!(outcome(l[0]), Some(OutcomeName::Relogin));
    let name = out.scenario.steps.last().map(crate::runner::label);
    assert!(
        name.as_deref()
            .is_some_and(|n| n.contains("jscode2session")),
        "{name:?}"
    );
    assert!(
        out.scenario.steps.iter().any(|s| s
            .name
            .as_deref()
            .is_some_and(|n| n.ends_with("(the code expired)"))),
        "{:#?}",
        out.scenario.steps
    );
    assert_eq!(duration_text(93_784), "1d2h3m4s");
    assert_eq!(duration_text(60), "1m");
}

#[test]
fn an_unknown_code_and_a_request_no_backend_sends() {
    let mut r = Rec::new();
    r.exchange(0, "bo${gus}", None, 40029);
    r.exchange_as(0, "x", "wrong", None, Some(40125), None);
    let out = r.build();
    let l = logins(&out);
    assert_eq!(l[0].user, "nobody");
    assert_eq!(l[0].code.as_deref(), Some("bo$${gus}"), "sent as written");
    let Action::WeChat(w) = actions(&out)[1] else {
        panic!("{:?}", out.scenario.steps[1]);
    };
    assert_eq!(w.query["appid"], json!("${apps.default.appid}"));
    assert_eq!(w.query["secret"], json!("wrong"));
    assert_eq!(
        w.expect.as_ref().and_then(|e| e.json.clone()),
        Some(json!({"errcode": 40125}))
    );
    assert_eq!(
        expected_exchanges(&out),
        json!({"entries": [{"errcode": 40029}, {"errcode": 40125}]})
    );
}

#[test]
fn failures_a_backend_retries_are_not_asserted_exactly() {
    let mut r = Rec::new();
    r.control(
        0,
        "POST",
        "/faults",
        json!({"endpoint": "jscode2session", "errcode": -1, "times": 1}),
        json!({"id": 4}),
    );
    r.wx_login(0, "dave", "c1");
    r.exchange_as(0, "c1", SECRET, None, Some(-1), Some("rule 4: errcode -1"));
    r.exchange(0, "c1", Some("dave"), 0);
    r.wx_login(0, "erin", "c2");
    r.exchange_as(0, "c2", SECRET, None, None, None);
    let out = r.build();
    let l = logins(&out);
    assert_eq!(l.len(), 2, "a retry is the same login");
    assert_eq!(outcome(l[0]), None, "dave logs in after the retry");
    assert_eq!(
        l[1].expect.as_ref().map(|e| e.outcome),
        Some(None),
        "expect: {{}}"
    );
    assert_eq!(out.fill_ins(), 2, "erin's outcome and the count of calls");
    let Some(Action::Journal(j)) = actions(&out).last().copied() else {
        panic!("{:#?}", out.scenario.steps);
    };
    assert_eq!(j.min, Some(json!(2)));
}

#[test]
fn options_users_and_apps_go_to_the_setup_before_the_journey_and_to_steps_after() {
    let mut r = Rec::new();
    r.rec.world.options = serde_json::from_value(json!({
        "strict": false, "login_quota_per_minute": 2, "journal_capacity": 50,
    }))
    .expect("map");
    r.rec.world.users = vec![
        MockUser {
            handle: "mallory".into(),
            phone: Some(json!({"country_code": "86", "number": "13800000000"})),
            high_risk: true,
        },
        MockUser {
            handle: "alice".into(),
            phone: None,
            high_risk: true,
        },
    ];
    r.rec.world.apps.push(MockApp {
        appid: "wxshop".into(),
        secret: "s2".into(),
        name: Some("shop".into()),
        open_platform: Some("acme".into()),
        ..MockApp::default()
    });
    r.control(
        0,
        "PATCH",
        "/options",
        json!({"quota_scope": "app"}),
        json!({}),
    );
    r.control(
        0,
        "POST",
        "/users",
        json!({"handle": "bob", "nickname": "Bob"}),
        json!({"handle": "bob"}),
    );
    r.wx_login(0, "mallory", "c1");
    r.exchange(0, "c1", Some("mallory"), 40226);
    r.control(
        0,
        "PATCH",
        "/users/alice",
        json!({"high_risk": true}),
        json!({}),
    );
    r.control(
        0,
        "POST",
        "/payments",
        json!({"appid": "wxshop", "user": "bob"}),
        json!({}),
    );
    r.wx_login(0, "alice", "c2");
    r.exchange(0, "c2", Some("alice"), 40226);
    let out = r.build();
    let setup = &out.scenario.setup;
    assert_eq!(
        setup.mock,
        Some(json!({"quota_scope": "app", "login_quota_per_minute": 2})),
        "the journal's size is left out, defaults too"
    );
    assert_eq!(
        setup.users,
        vec![
            json!({"handle": "alice", "phone": null}),
            json!({"handle": "bob", "nickname": "Bob"}),
            json!({"handle": "mallory", "high_risk": true}),
        ],
        "alice became high-risk during the journey: only her missing phone is hers from the start"
    );
    let names: Vec<&str> = setup.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["shop"]);
    assert_eq!(setup.apps[0].open_platform.as_deref(), Some("acme"));
    let mocks: Vec<(&str, Option<&Value>)> = actions(&out)
        .into_iter()
        .filter_map(|a| match a {
            Action::Mock(m) if m.method.is_some() => Some((m.path.as_str(), m.json.as_ref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        mocks,
        [
            ("/users/alice", Some(&json!({"high_risk": true}))),
            (
                "/payments",
                Some(&json!({"appid": "${apps.shop.appid}", "user": "${handles.bob}"}))
            ),
        ]
    );
    let l = logins(&out);
    assert_eq!(outcome(l[0]), Some(OutcomeName::Blocked));
}

#[test]
fn binding_a_phone_number_needs_a_session_and_gets_one() {
    let mut r = Rec::new();
    r.control(
        0,
        "POST",
        "/wx/getPhoneNumber",
        json!({"user": "alice"}),
        json!({"code": "p1", "mock": {"appid": APPID, "user": "alice"}}),
    );
    r.vendor(
        0,
        "stable_token",
        "/cgi-bin/stable_token",
        json!({}),
        "",
        None,
        Some(0),
        None,
    );
    r.vendor(
        0,
        "getuserphonenumber",
        "/wxa/business/getuserphonenumber",
        json!({"access_token": "t"}),
        r#"{"code":"p1"}"#,
        Some("alice"),
        Some(0),
        None,
    );
    let out = r.build();
    let kinds: Vec<&str> = actions(&out)
        .into_iter()
        .map(|a| match a {
            Action::WxGetPhoneNumber(_) => "wx.getPhoneNumber",
            Action::Login(_) => "login",
            Action::BindPhone(_) => "bind_phone",
            Action::Mock(_) => "mock",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["wx.getPhoneNumber", "login", "bind_phone", "mock", "mock"]
    );
    let Action::BindPhone(p) = actions(&out)[2] else {
        unreachable!()
    };
    assert_eq!(p.session, "alice");
    assert_eq!(p.code, Some(json!("${alice_phone1.code}")));
    assert!(out.notes(1)[0].starts_with("Added:"), "{:?}", out.notes(1));
}

#[test]
fn the_window_and_what_is_not_a_step() {
    let mut r = Rec::new();
    r.wx_login(0, "alice", "c1");
    r.exchange(10, "c1", Some("alice"), 0);
    r.wx_login(20, "bob", "c2");
    r.exchange(30, "c2", Some("bob"), 0);
    let by_seq = r.rec.clone().since(Since::Seq(1));
    assert_eq!(by_seq.vendor.len(), 1);
    assert_eq!(
        by_seq.control.len(),
        1,
        "bob's wx.login came after request #1"
    );
    let by_time = r.rec.clone().since(Since::Time(T0 + 20_000));
    assert_eq!((by_time.vendor.len(), by_time.control.len()), (1, 1));
    let Err(RecordError::Empty(m)) =
        build(&r.rec.clone().since(Since::Seq(2)), &Options::default())
    else {
        panic!("nothing after #2");
    };
    assert!(
        m.contains("nothing to record") && m.contains("last WeChat request is #2"),
        "{m}"
    );

    let mut only_tokens = Rec::new();
    only_tokens.vendor(
        0,
        "token",
        "/cgi-bin/token",
        json!({}),
        "",
        None,
        Some(0),
        None,
    );
    let Err(RecordError::Empty(m)) = build(&only_tokens.rec, &Options::default()) else {
        panic!("a token alone is no journey");
    };
    assert!(
        m.contains("None of it becomes a step: GET /cgi-bin/token"),
        "{m}"
    );

    assert_eq!("42".parse::<Since>(), Ok(Since::Seq(42)));
    assert_eq!(
        "2024-08-22T01:14:57Z".parse::<Since>(),
        Ok(Since::Time(1_724_289_297_000))
    );
    let e = "yesterday".parse::<Since>().expect_err("not a since");
    assert!(
        e.contains("journal sequence number") && e.contains("RFC 3339"),
        "{e}"
    );
}

#[test]
fn a_fault_planted_before_the_recording_is_planted_again_or_asked_for() {
    let mut r = Rec::new();
    r.rec.world.faults = vec![json!({
        "id": 7, "endpoint": "jscode2session", "appid": APPID, "user": null, "errcode": 40029,
        "http_status": null, "transport": null, "delay": null, "times": 2, "probability": null,
        "consume_code": false, "hits": 1, "remaining": 1,
    })];
    r.wx_login(0, "alice", "c1");
    r.exchange_as(
        0,
        "c1",
        SECRET,
        Some("alice"),
        Some(40029),
        Some("rule 7: errcode 40029"),
    );
    r.wx_login(0, "bob", "c2");
    r.exchange_as(
        0,
        "c2",
        SECRET,
        Some("bob"),
        Some(40029),
        Some("rule 9: errcode 40029"),
    );
    let out = r.build();
    let faults: Vec<&Value> = actions(&out)
        .into_iter()
        .filter_map(|a| match a {
            Action::Fault(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(
        faults,
        [
            &json!({"endpoint": "jscode2session", "appid": "${apps.default.appid}",
            "errcode": 40029, "times": 2})
        ],
        "with the firings it had when the recording began"
    );
    let l = logins(&out);
    assert_eq!(outcome(l[0]), Some(OutcomeName::Relogin));
    assert_eq!(
        l[1].expect.as_ref().map(|e| e.outcome),
        Some(None),
        "rule 9 is gone"
    );
    assert_eq!(
        out.fill_ins(),
        3,
        "bob's rule, his outcome, the count of calls"
    );
}
