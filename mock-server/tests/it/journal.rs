//! Tests: the request journal under `/__mock__/journal` (what each vendor request records,
//! filters, capacity with a drop count, clearing, and journal-based checks a backend test makes).

use std::time::Duration;

use mock_server::ids::AppId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{START, TestMock};

/// The whole page of `GET /__mock__/journal?{query}`.
async fn page(t: &TestMock, query: &str) -> Value {
    let (status, body) = t
        .control(Method::GET, &format!("/journal?{query}"), None)
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

async fn entries(t: &TestMock, query: &str) -> Vec<Value> {
    page(t, query).await["entries"]
        .as_array()
        .expect("entries array")
        .clone()
}

fn paths(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect()
}

fn exchange_query(appid: &str, secret: &str, code: &str) -> String {
    format!("appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code")
}

#[tokio::test]
async fn every_field_of_a_vendor_request_is_recorded() {
    let t = TestMock::new().await;
    let appid = t.app.appid.as_str().to_owned();
    let grant = t.login("alice").await;
    // Control-plane calls are not vendor requests: nothing is journaled yet.
    let empty = page(&t, "").await;
    assert_eq!(
        empty,
        json!({"entries": [], "recorded": 0, "dropped": 0, "capacity": 10000, "last_seq": 0})
    );

    let ok = t.exchange(&grant.code).await;
    t.advance(Duration::from_secs(90));
    let reused = t.exchange(&grant.code).await;
    reused.assert_err(40163);

    let all = entries(&t, "").await;
    assert_eq!(all.len(), 2);
    let e = &all[0];
    let mut keys: Vec<&str> = e
        .as_object()
        .expect("entry object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "appid",
            "body",
            "endpoint",
            "errcode",
            "fault",
            "latency_us",
            "method",
            "params",
            "path",
            "query",
            "response",
            "rid",
            "seq",
            "status",
            "time",
            "time_ms",
            "user"
        ]
    );
    assert_eq!(e["seq"], 1);
    assert_eq!(e["time_ms"], START * 1000);
    assert_eq!(e["time"], "2024-08-22T01:14:57Z");
    assert_eq!(e["method"], "GET");
    assert_eq!(e["path"], "/sns/jscode2session");
    assert_eq!(e["endpoint"], "jscode2session");
    assert_eq!(
        e["query"],
        exchange_query(&appid, &t.app.secret, &grant.code)
    );
    assert_eq!(
        e["params"],
        json!({
            "appid": appid, "secret": t.app.secret, "js_code": grant.code,
            "grant_type": "authorization_code"
        })
    );
    assert_eq!(e["body"], "");
    assert_eq!(e["appid"], appid.as_str());
    assert_eq!(e["user"], "alice");
    assert_eq!(e["status"], 200);
    assert_eq!(e["errcode"], 0);
    assert_eq!(e["fault"], Value::Null);
    assert_eq!(e["response"], ok.body.as_str());
    assert!(e["latency_us"].is_u64(), "{e}");
    // A success names no rid.
    assert_eq!(e["rid"], Value::Null);

    let e = &all[1];
    assert_eq!(e["seq"], 2);
    assert_eq!(e["time_ms"], START * 1000 + 90_000);
    assert_eq!(e["time"], "2024-08-22T01:16:27Z");
    assert_eq!(e["errcode"], 40163);
    assert_eq!(e["status"], 200);
    assert_eq!(e["user"], "alice");
    assert_eq!(e["response"], reused.body.as_str());
    // An error's rid is the one its errmsg ends with, and the journal finds the entry by it.
    let rid = reused.json()["errmsg"]
        .as_str()
        .and_then(|m| m.rsplit_once(", rid: "))
        .map(|(_, rid)| rid.to_owned())
        .expect("errmsg with a rid");
    assert_eq!(e["rid"], rid.as_str());
    let found = entries(&t, &format!("rid={rid}")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["seq"], 2);
    assert!(
        entries(&t, "rid=66c69111-00000000-00000000")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn post_bodies_and_unknown_paths_are_recorded() {
    let t = TestMock::new().await;
    let body = format!(
        r#"{{"grant_type":"client_credential","appid":"{}","secret":"{}"}}"#,
        t.app.appid, t.app.secret
    );
    let token = t.post("/cgi-bin/stable_token", &body).await;
    assert_eq!(token.errcode(), 0, "{}", token.body);
    let unknown = t.get("/sns/jsCode2Session?appid=wxfeed&x=1&x=2").await;
    unknown.assert_err(40066);

    let all = entries(&t, "").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["method"], "POST");
    assert_eq!(all[0]["endpoint"], "stable_token");
    assert_eq!(all[0]["body"], body.as_str());
    assert_eq!(all[0]["query"], "");
    assert_eq!(all[0]["params"], json!({}));
    assert_eq!(all[0]["appid"], t.app.appid.as_str());
    assert_eq!(all[0]["user"], Value::Null);
    assert_eq!(all[0]["response"], token.body.as_str());

    assert_eq!(all[1]["endpoint"], "unknown");
    assert_eq!(all[1]["path"], "/sns/jsCode2Session");
    assert_eq!(all[1]["query"], "appid=wxfeed&x=1&x=2");
    // First value of each name.
    assert_eq!(all[1]["params"], json!({"appid": "wxfeed", "x": "1"}));
    assert_eq!(all[1]["appid"], "wxfeed");
    assert_eq!(all[1]["errcode"], 40066);
}

#[tokio::test]
async fn filters_by_endpoint_appid_user_and_errcode() {
    let t = TestMock::new().await;
    let (status, app2) = t.control(Method::POST, "/apps", Some(json!({}))).await;
    assert_eq!(status, 201, "{app2}");
    let (appid2, secret2) = (
        app2["appid"].as_str().expect("appid").to_owned(),
        app2["secret"].as_str().expect("secret").to_owned(),
    );

    let alice = t.login("alice").await;
    let bob = t.login("bob").await;
    let alice2 = t.login_in(&AppId::new(appid2.clone()), "alice").await;
    assert_eq!(t.exchange(&alice.code).await.errcode(), 0);
    assert_eq!(t.exchange(&bob.code).await.errcode(), 0);
    let r = t
        .get(&format!(
            "/sns/jscode2session?{}",
            exchange_query(&appid2, &secret2, &alice2.code)
        ))
        .await;
    assert_eq!(r.errcode(), 0, "{}", r.body);
    t.exchange("0nosuchcode0000000000000000000000")
        .await
        .assert_err(40029);
    t.token().await;

    let count = |v: &Vec<Value>| v.len();
    assert_eq!(count(&entries(&t, "").await), 5);
    let by_name = entries(&t, "endpoint=jscode2session").await;
    assert_eq!(count(&by_name), 4);
    assert_eq!(entries(&t, "endpoint=/sns/jscode2session").await, by_name);
    let tokens = entries(&t, "endpoint=token").await;
    assert_eq!(paths(&tokens), ["/cgi-bin/token"]);
    assert_eq!(count(&entries(&t, "endpoint=checksession").await), 0);

    let in_app2 = entries(&t, &format!("appid={appid2}")).await;
    assert_eq!(count(&in_app2), 1);
    assert_eq!(in_app2[0]["params"]["js_code"], alice2.code.as_str());
    let home = entries(&t, &format!("appid={}", t.app.appid)).await;
    assert_eq!(count(&home), 4, "{home:?}");

    let of_alice = entries(&t, "user=alice").await;
    let codes: Vec<&Value> = of_alice.iter().map(|e| &e["params"]["js_code"]).collect();
    assert_eq!(codes, [&json!(alice.code), &json!(alice2.code)]);
    assert_eq!(count(&entries(&t, "user=bob").await), 1);
    assert_eq!(count(&entries(&t, "user=carol").await), 0);

    let bad = entries(&t, "errcode=40029").await;
    assert_eq!(count(&bad), 1);
    assert_eq!(bad[0]["user"], Value::Null);
    assert_eq!(count(&entries(&t, "errcode=0").await), 4);
    assert_eq!(
        count(
            &entries(
                &t,
                &format!("endpoint=jscode2session&user=alice&appid={appid2}")
            )
            .await
        ),
        1
    );

    // Counters describe the journal, not the filtered view.
    let filtered = page(&t, "user=bob").await;
    assert_eq!(filtered["recorded"], 5);
    assert_eq!(filtered["dropped"], 0);
}

#[tokio::test]
async fn unknown_or_malformed_filters_are_refused() {
    let t = TestMock::new().await;
    for query in ["nope=1", "endpoint=token&colour=red", "errcode=abc"] {
        let (status, body) = t
            .control(Method::GET, &format!("/journal?{query}"), None)
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_field", "{query}: {body}");
    }
    let (_, body) = t.control(Method::GET, "/journal?nope=1", None).await;
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("nope"), "{message}");
}

#[tokio::test]
async fn capacity_keeps_the_newest_entries_and_counts_the_dropped() {
    let t = TestMock::new().await;
    let (status, opts) = t
        .control(
            Method::PATCH,
            "/options",
            Some(json!({"journal_capacity": 3})),
        )
        .await;
    assert_eq!(status, 200, "{opts}");
    assert_eq!(opts["journal_capacity"], 3);
    for i in 1..=5 {
        t.get(&format!("/x{i}")).await.assert_err(40066);
    }
    let p = page(&t, "").await;
    assert_eq!(
        paths(p["entries"].as_array().expect("entries")),
        ["/x3", "/x4", "/x5"]
    );
    let seqs: Vec<&Value> = p["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["seq"])
        .collect();
    assert_eq!(seqs, [&json!(3), &json!(4), &json!(5)]);
    assert_eq!(p["recorded"], 5);
    assert_eq!(p["dropped"], 2);
    assert_eq!(p["capacity"], 3);

    // Shrinking drops more at once.
    t.set_options(json!({"journal_capacity": 2})).await;
    let p = page(&t, "").await;
    assert_eq!(
        paths(p["entries"].as_array().expect("entries")),
        ["/x4", "/x5"]
    );
    assert_eq!(p["dropped"], 3);
    assert_eq!(p["capacity"], 2);

    let (status, body) = t
        .control(
            Method::PATCH,
            "/options",
            Some(json!({"journal_capacity": 0})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");
    assert_eq!(page(&t, "").await["capacity"], 2);
}

#[tokio::test]
async fn delete_clears_the_journal_and_sequence_numbers_go_on() {
    let t = TestMock::new().await;
    for i in 1..=3 {
        t.get(&format!("/x{i}")).await.assert_err(40066);
    }
    assert_eq!(
        t.control(Method::DELETE, "/journal", None).await,
        (200, json!({"ok": true}))
    );
    assert_eq!(
        page(&t, "").await,
        json!({"entries": [], "recorded": 0, "dropped": 0, "capacity": 10000, "last_seq": 3})
    );
    t.get("/x4").await.assert_err(40066);
    let p = page(&t, "").await;
    assert_eq!(p["recorded"], 1);
    assert_eq!(p["entries"][0]["seq"], 4);
    assert_eq!(p["entries"][0]["path"], "/x4");
}

#[tokio::test]
async fn backend_called_jscode2session_exactly_once_with_the_app_secret() {
    let t = TestMock::new().await;
    let grant = t.login("alice").await;
    // What a backend under test would do on login.
    let r = t.exchange(&grant.code).await;
    assert_eq!(r.errcode(), 0, "{}", r.body);

    let calls = entries(&t, "endpoint=jscode2session").await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call["method"], "GET");
    assert_eq!(call["params"]["appid"], t.app.appid.as_str());
    assert_eq!(call["params"]["secret"], t.app.secret.as_str());
    assert_eq!(call["params"]["js_code"], grant.code.as_str());
    assert_eq!(call["params"]["grant_type"], "authorization_code");
    assert_eq!(call["user"], "alice");
    assert_eq!(call["errcode"], 0);
    assert_eq!(
        serde_json::from_str::<Value>(call["response"].as_str().expect("response"))
            .expect("JSON response"),
        json!({"session_key": grant.mock.session_key, "openid": grant.mock.openid})
    );
}

#[tokio::test]
async fn since_reads_what_came_after_a_sequence_number() {
    let t = TestMock::new().await;
    for i in 1..=3 {
        t.get(&format!("/x{i}")).await.assert_err(40066);
    }
    let all = page(&t, "").await;
    assert_eq!(all["last_seq"], 3);
    let after = page(&t, "since=2").await;
    let seqs: Vec<&serde_json::Value> = after["entries"]
        .as_array()
        .map(|e| e.iter().map(|x| &x["seq"]).collect())
        .unwrap_or_default();
    assert_eq!(seqs, [&json!(3)]);
    assert_eq!(after["last_seq"], 3);
    assert_eq!(page(&t, "since=3").await["entries"], json!([]));
    let (status, body) = t.control(Method::GET, "/journal?since=-1", None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field", "{body}");
}

/// `GET /__mock__/journal/control?{query}`.
async fn control_page(t: &TestMock, query: &str) -> Value {
    let (status, body) = t
        .control(Method::GET, &format!("/journal/control?{query}"), None)
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

#[tokio::test]
async fn control_plane_changes_are_journaled_between_the_vendor_requests() {
    let t = TestMock::new().await;
    let (status, grant) = t
        .control(Method::POST, "/wx/login", Some(json!({"user": "alice"})))
        .await;
    assert_eq!(status, 200, "{grant}");
    let code = grant["code"].as_str().expect("code").to_owned();
    t.exchange(&code).await;
    let fault = json!({"endpoint": "jscode2session", "errcode": 40029, "times": 1});
    assert_eq!(
        t.control(Method::POST, "/faults", Some(fault.clone()))
            .await
            .0,
        201
    );
    let (status, _) = t
        .control(Method::POST, "/clock", Some(json!({"advance": "6m"})))
        .await;
    assert_eq!(status, 200);
    // Reads and refused changes are not journaled: they changed nothing.
    t.control(Method::GET, "/state", None).await;
    let (status, _) = t
        .control(Method::POST, "/wx/login", Some(json!({"usr": "bob"})))
        .await;
    assert_eq!(status, 400);
    assert_eq!(t.control(Method::DELETE, "/faults", None).await.0, 200);

    let page = control_page(&t, "").await;
    let calls = page["entries"].as_array().expect("entries");
    let shape: Vec<(&str, &str, u64, u64)> = calls
        .iter()
        .map(|c| {
            (
                c["method"].as_str().expect("method"),
                c["path"].as_str().expect("path"),
                c["seq"].as_u64().expect("seq"),
                c["after_seq"].as_u64().expect("after_seq"),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("POST", "/wx/login", 1, 0),
            ("POST", "/faults", 2, 1),
            ("POST", "/clock", 3, 1),
            ("DELETE", "/faults", 4, 1),
        ]
    );
    let login = &calls[0];
    assert_eq!(login["body"], json!({"user": "alice"}));
    assert_eq!(login["status"], 200);
    assert_eq!(login["response"]["code"], code.as_str());
    assert_eq!(login["time_ms"], START * 1000);
    assert_eq!(calls[1]["body"], fault);
    assert_eq!(calls[1]["status"], 201);
    assert_eq!(calls[1]["response"]["id"], 1);
    // A clock change is dated after it: its answer's time.
    assert_eq!(calls[2]["time_ms"], (START + 360) * 1000);
    assert_eq!(calls[2]["response"]["now_ms"], (START + 360) * 1000);
    // A route that reads no body journals none.
    assert_eq!(calls[3]["body"], Value::Null);
    assert_eq!(
        page,
        json!({"entries": calls, "recorded": 4, "dropped": 0, "capacity": 10000, "last_seq": 4})
    );
    assert_eq!(
        control_page(&t, "since=2").await["entries"]
            .as_array()
            .map(|e| e.iter().map(|c| c["seq"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(3), json!(4)])
    );
    // The vendor journal is untouched: its numbers count vendor requests only.
    assert_eq!(page_of_vendor(&t).await, (1, 1));

    let (status, body) = t
        .control(Method::GET, "/journal/control?since=-1", None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_field");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("invalid `query`: "), "{message}");

    // A clear empties both halves; the clear itself is then the first call.
    t.control(Method::DELETE, "/journal", None).await;
    let page = control_page(&t, "").await;
    assert_eq!(page["recorded"], 1, "{page}");
    assert_eq!(page["entries"][0]["path"], "/journal");
    assert_eq!(page["entries"][0]["seq"], 5);
}

/// The vendor journal's `recorded` and `last_seq`.
async fn page_of_vendor(t: &TestMock) -> (u64, u64) {
    let p = page(t, "").await;
    (
        p["recorded"].as_u64().expect("recorded"),
        p["last_seq"].as_u64().expect("last_seq"),
    )
}

#[tokio::test]
async fn the_control_journal_keeps_the_journal_capacity() {
    let t = TestMock::new().await;
    t.set_options(json!({"journal_capacity": 2})).await;
    for user in ["a", "b", "c"] {
        t.login(user).await;
    }
    let page = control_page(&t, "").await;
    let users: Vec<&Value> = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|c| &c["body"]["user"])
        .collect();
    assert_eq!(users, [&json!("b"), &json!("c")]);
    // The options change and the first login made room.
    assert_eq!(
        (page["recorded"].clone(), page["dropped"].clone()),
        (json!(4), json!(2))
    );
}
