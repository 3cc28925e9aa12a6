//! The dashboard at `/__mock__/ui/`: its files with their types and security headers, the
//! redirect, the screens' paths (the page itself) and what is not there; with a control token,
//! the files need none while every control-plane route still refuses a request without it.

use mock_server::config::Config;
use mock_server::control::{ROUTES, ui};
use mock_server::{Clock, Timestamp};
use reqwest::Method;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use serde_json::Value;

use crate::helpers::{START, TestMock};

const TOKEN: &str = "dashboard-s3cret";

async fn with_token() -> TestMock {
    TestMock::with_config(Config {
        seed: "test".into(),
        clock: Clock::manual(Timestamp::from_secs(START)),
        control_token: Some(TOKEN.into()),
        ..Config::default()
    })
    .await
}

/// Status, Content-Type, Content-Security-Policy and body of one request.
struct Answer {
    status: u16,
    content_type: Option<String>,
    csp: Option<String>,
    nosniff: bool,
    location: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.json()["error"]["code"], code);
    }
}

async fn send(t: &TestMock, method: Method, path: &str, token: Option<&str>) -> Answer {
    // Redirects are what some of these tests look at: never followed.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut req = http.request(method, t.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.expect("request completes");
    let header = |name| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Answer {
        status: res.status().as_u16(),
        content_type: header(CONTENT_TYPE),
        csp: header(CONTENT_SECURITY_POLICY),
        nosniff: res
            .headers()
            .get("x-content-type-options")
            .is_some_and(|v| v == "nosniff"),
        location: header(LOCATION),
        body: res.bytes().await.expect("body").to_vec(),
    }
}

#[tokio::test]
async fn every_file_is_served_with_its_type_and_a_strict_policy() {
    let t = TestMock::new().await;
    assert!(ui::ASSETS.len() >= 5, "the dashboard has its files");
    for a in ui::ASSETS {
        let r = send(&t, Method::GET, &format!("{}{}", ui::BASE, a.path), None).await;
        assert_eq!(r.status, 200, "{}", a.path);
        assert_eq!(
            r.content_type.as_deref(),
            Some(a.content_type),
            "{}",
            a.path
        );
        assert_eq!(r.csp.as_deref(), Some(ui::CSP), "{}", a.path);
        assert!(r.nosniff, "{}: X-Content-Type-Options: nosniff", a.path);
        assert_eq!(r.body, a.body, "{}: the embedded bytes", a.path);
    }
    // The types a browser needs to run them, whatever the table says.
    for (path, want) in [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("screens/journal.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = send(&t, Method::GET, &format!("/__mock__/ui/{path}"), None).await;
        assert_eq!(r.content_type.as_deref(), Some(want), "{path}");
    }
    // This origin only: no inline code, nothing from elsewhere, no framing.
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(ui::CSP.contains(directive), "{directive} in {}", ui::CSP);
    }
    assert!(!ui::CSP.contains("unsafe"), "{}", ui::CSP);
    assert!(!ui::CSP.contains("http"), "{}", ui::CSP);
}

#[tokio::test]
async fn the_screens_are_the_page_and_the_bare_path_redirects() {
    let t = TestMock::new().await;
    let r = send(&t, Method::GET, "/__mock__/ui", None).await;
    assert_eq!(r.status, 308);
    assert_eq!(r.location.as_deref(), Some("/__mock__/ui/"));

    let index = send(&t, Method::GET, "/__mock__/ui/", None).await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.content_type.as_deref(),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(index.body.clone()).expect("UTF-8");
    assert!(
        html.contains("<script type=\"module\" src=\"/__mock__/ui/app.js\">"),
        "{html}"
    );
    // Every screen's address answers the page (the page picks the screen from the path), as
    // does a screen it does not have (it says so itself).
    for screen in [
        "journal",
        "mini-program",
        "faults",
        "clock",
        "clock/",
        "no-such-screen",
    ] {
        let r = send(&t, Method::GET, &format!("/__mock__/ui/{screen}"), None).await;
        assert_eq!(r.status, 200, "{screen}");
        assert_eq!(r.body, index.body, "{screen}: the page");
        assert_eq!(r.csp.as_deref(), Some(ui::CSP), "{screen}");
    }
    // A file that is not there is the control plane's `not_found`, not the page.
    for missing in [
        "nope.js",
        "screens/nope.js",
        "style.css.map",
        "index.html/x.js",
    ] {
        let r = send(&t, Method::GET, &format!("/__mock__/ui/{missing}"), None).await;
        r.assert_error(404, "not_found");
    }
    // HEAD is answered like GET, without the body; other methods are refused.
    let head = send(&t, Method::HEAD, "/__mock__/ui/app.js", None).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for method in [Method::POST, Method::DELETE] {
        let r = send(&t, method.clone(), "/__mock__/ui/app.js", None).await;
        r.assert_error(405, "method_not_allowed");
        let r = send(&t, method, "/__mock__/ui/", None).await;
        r.assert_error(405, "method_not_allowed");
    }
}

#[tokio::test]
async fn with_a_token_the_files_need_none_and_every_control_route_still_does() {
    let t = with_token().await;
    // The files hold no data: served to anyone who can reach the mock.
    for path in ["/__mock__/ui", "/__mock__/ui/", "/__mock__/ui/journal"] {
        let r = send(&t, Method::GET, path, None).await;
        assert!(matches!(r.status, 200 | 308), "{path}: {}", r.status);
    }
    for a in ui::ASSETS {
        let r = send(&t, Method::GET, &format!("{}{}", ui::BASE, a.path), None).await;
        assert_eq!(r.status, 200, "{}", a.path);
    }
    // Every control-plane route, as before: 401 without the token or with another one; with
    // it, whatever the route answers, never 401.
    for (method, path) in ROUTES {
        let uri: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let uri = format!("/__mock__{uri}");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        for token in [None, Some("wrong"), Some("dashboard-s3cre")] {
            let r = send(&t, method.clone(), &uri, token).await;
            r.assert_error(401, "unauthorized");
        }
        let r = send(&t, method.clone(), &uri, Some(TOKEN)).await;
        assert_ne!(r.status, 401, "{method} {uri} with the token");
    }
    // What is not a route is refused first for want of the token, as before.
    send(&t, Method::GET, "/__mock__/nope", None)
        .await
        .assert_error(401, "unauthorized");
    send(&t, Method::GET, "/__mock__/nope", Some(TOKEN))
        .await
        .assert_error(404, "not_found");
    send(&t, Method::PUT, "/__mock__/state", None)
        .await
        .assert_error(401, "unauthorized");
    // The vendor surface never needed it.
    let r = send(&t, Method::GET, "/sns/jscode2session", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["errcode"], 41002);
}
