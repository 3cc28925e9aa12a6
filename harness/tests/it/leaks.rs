//! The leak invariant against backends we did not write: a tiny backend that exchanges the
//! code at the mock and then leaks the session_key in one encoding or another must fail the
//! scenario, naming the encoding; the same backend without the leak passes.

use std::convert::Infallible;
use std::net::SocketAddr;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use harness::runner::{Outcome, RunOptions, run_file};
use harness::target::TargetProfile;

/// How the backend leaks the key.
#[derive(Clone, Copy, Debug)]
enum Leak {
    None,
    JsonEscaped,
    UrlEncoded,
    Hex,
    Base64Url,
    Header,
}

fn leaked(key: &str, how: Leak) -> (String, Option<String>) {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap_or_default();
    let body = match how {
        Leak::None | Leak::Header => String::new(),
        Leak::JsonEscaped => key.replace('/', "\\/"),
        Leak::UrlEncoded => key
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D"),
        Leak::Hex => hex::encode_upper(&bytes),
        Leak::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes),
    };
    let header = matches!(how, Leak::Header).then(|| format!("k={key}"));
    (body, header)
}

/// `GET /login?code=...`: exchanges the code at the mock, answers a token and, maybe, the key.
async fn backend(mock: String, appid: String, secret: String, how: Leak) -> SocketAddr {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (mock, appid, secret) = (mock.clone(), appid.clone(), secret.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let (mock, appid, secret) = (mock.clone(), appid.clone(), secret.clone());
                    async move {
                        let code = req
                            .uri()
                            .query()
                            .and_then(|q| q.strip_prefix("code="))
                            .unwrap_or_default()
                            .to_owned();
                        let url = format!(
                            "{mock}/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"
                        );
                        let wx: serde_json::Value = match reqwest::get(&url).await {
                            Ok(r) => r.json().await.unwrap_or_default(),
                            Err(_) => serde_json::Value::Null,
                        };
                        let key = wx["session_key"].as_str().unwrap_or_default();
                        let (debug, header) = leaked(key, how);
                        let body = serde_json::json!({"token": "t-1", "debug": debug}).to_string();
                        let body = body.replace("\\\\/", "\\/");
                        let mut res = Response::new(Full::new(Bytes::from(body)));
                        if let Some(h) = header {
                            res.headers_mut()
                                .insert("x-debug", h.parse().expect("header value"));
                        }
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_key_leaked_in_any_encoding_fails_the_scenario() {
    let mock = crate::target::mock().await;
    let app = mock.default_app();
    let dir = tempfile::tempdir().expect("dir");
    let scenario = dir.path().join("login.yaml");
    std::fs::write(
        &scenario,
        "name: A user logs in\nsteps:\n  - login: { user: dora }\n",
    )
    .expect("write");
    // A key without `/` (or `+`) reads the same JSON-escaped (or in base64url) as plain.
    for (how, says) in [
        (Leak::None, None),
        (
            Leak::JsonEscaped,
            Some(&["JSON-escaped", "as WeChat sent it"][..]),
        ),
        (
            Leak::UrlEncoded,
            Some(&["URL-encoded", "as WeChat sent it"][..]),
        ),
        (Leak::Hex, Some(&["hex"][..])),
        (
            Leak::Base64Url,
            Some(&["base64url", "base64 without padding"][..]),
        ),
        (Leak::Header, Some(&["x-debug header"][..])),
    ] {
        let addr = backend(
            mock.base_url(),
            app.appid.to_string(),
            app.secret.as_str().to_owned(),
            how,
        )
        .await;
        let profile = TargetProfile::parse(
            std::path::Path::new("leaky.yaml"),
            &format!(
                "version: 2\nbase_url: http://{addr}\nroutes:\n  login: {{ method: GET, path: /login, code: {{ query: code }} }}\n"
            ),
        )
        .expect("profile");
        let options = RunOptions::target(profile, mock.base_url(), Some(format!("{how:?}")));
        let report = run_file(&scenario, &options).await;
        match (says, &report.outcome) {
            (None, Outcome::Passed) => {}
            (Some(words), Outcome::Failed(f)) => {
                assert!(
                    f.message.contains("invariant broken")
                        && words.iter().any(|w| f.message.contains(w)),
                    "{how:?}: {}",
                    f.message
                );
            }
            (_, other) => panic!("{how:?}: {other:?}"),
        }
    }
}
