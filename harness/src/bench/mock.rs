//! The mock under load (group `mock`): jscode2session with fresh single-use codes, the 40029
//! path (an unknown code, over and over), and the control plane's `POST /__mock__/wx/login`;
//! with the codes minted in process beforehand ([`mint_codes`]).

use std::sync::Arc;

use hyper::Method;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use mock_server::MockHandle;
use mock_server::engine::AppView;
use serde_json::{Value, json};

use super::load::{Expect, Item, Report, Settings, Workload};
use super::report::{Results, Target, report_json, summary};
use super::runs::{fresh_json, fresh_note, fresh_run, measured};

/// A mock with the default configuration (system clock, loopback, a free port).
pub async fn spawn_mock() -> Result<MockHandle, String> {
    mock_server::spawn(mock_server::Config::default())
        .await
        .map_err(|e| format!("mock-server: {e}"))
}

/// Mints `n` codes in process (the engine's wx.login), `per_user` per user, for users named
/// `{prefix}{k}` with `k` counting on from `next_user`.
pub fn mint_codes(
    mock: &MockHandle,
    prefix: &str,
    per_user: usize,
    next_user: &mut u64,
    n: usize,
) -> Result<Vec<String>, String> {
    let appid = mock.default_app().appid;
    let mut codes = Vec::with_capacity(n);
    while codes.len() < n {
        let user = mock_server::ids::UserHandle::new(format!("{prefix}{next_user}"));
        *next_user += 1;
        for _ in 0..per_user.min(n - codes.len()) {
            codes.push(mint_one(mock, &appid, &user)?);
        }
    }
    Ok(codes)
}

/// Mints `n` codes, one per user, for the `people` users `{prefix}0` to `{prefix}{people - 1}`
/// in turn, the k-th code for user `k % people`, with `k` counting on from `next`.
pub fn mint_codes_cycling(
    mock: &MockHandle,
    prefix: &str,
    people: u64,
    next: &mut u64,
    n: usize,
) -> Result<Vec<String>, String> {
    let appid = mock.default_app().appid;
    (0..n)
        .map(|_| {
            let user = mock_server::ids::UserHandle::new(format!("{prefix}{}", *next % people));
            *next += 1;
            mint_one(mock, &appid, &user)
        })
        .collect()
}

fn mint_one(
    mock: &MockHandle,
    appid: &mock_server::ids::AppId,
    user: &mock_server::ids::UserHandle,
) -> Result<String, String> {
    mock.engine()
        .wx_login(appid, user)
        .map(|grant| grant.code)
        .map_err(|e| format!("wx.login: {e}"))
}

/// The path (and query) of a jscode2session call exchanging `code` for `app`, as a backend
/// sends it.
pub fn exchange_path(app: &AppView, code: &str) -> String {
    format!(
        "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
        app.appid, app.secret
    )
}

/// The group's three runs (rows `mock.*`), each on a mock of its own; a run that cannot be
/// taken is noted and marks the bench failed.
pub async fn runs(settings: &Settings, bare: Option<&Report>, res: &mut Results) {
    if let Err(e) = exchange(settings, bare, res).await {
        res.skip("mock jscode2session (fresh codes)", &e);
    }
    eprintln!("bench: mock jscode2session 40029 (an unknown code) …");
    let figure = "mock jscode2session 40029";
    let names = ["mock.e40029", figure, figure];
    if let Err(e) = repeating(settings, bare, res, names, unknown_code).await {
        res.skip("mock jscode2session 40029", &e);
    }
    eprintln!("bench: mock control plane POST /__mock__/wx/login …");
    let names = [
        "mock.wx_login",
        "mock wx/login (control plane)",
        "mock wx/login",
    ];
    if let Err(e) = repeating(settings, bare, res, names, wx_logins).await {
        res.skip("mock wx/login", &e);
    }
}

async fn exchange(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: mock jscode2session with fresh codes …");
    let mock = spawn_mock().await?;
    let app = mock.default_app();
    let mut next_user = 0;
    // The quota is 100 exchanges per user and minute: 20 codes per user stay well under it.
    let f = fresh_run(
        &[mock.addr()],
        settings,
        (settings.warmup.as_secs_f64() * 40_000.0) as usize + 1000,
        |items| Workload::single_use(Method::GET, items, Expect::ok_containing("\"openid\"")),
        |n| {
            mint_codes(&mock, "bench", 20, &mut next_user, n)?
                .iter()
                .map(|c| Item::new(&exchange_path(&app, c), "").map_err(|e| e.to_string()))
                .collect()
        },
    )
    .await?;
    eprintln!("bench:   {}", summary(&f.report, f.busy));
    res.load_rows(
        "mock.exchange",
        "mock jscode2session, fresh codes",
        &f.report,
        bare,
    );
    res.target("mock.exchange.rate", Target::RatioAtLeast(0.70));
    res.target("mock.exchange.p99", Target::Below(2.0));
    res.run("mock.exchange", fresh_json(&f));
    res.efficiency(
        "mock.exchange",
        "mock jscode2session, fresh codes",
        &f.report,
        f.busy,
    );
    res.note(fresh_note("mock jscode2session", &f));
    mock.shutdown().await;
    Ok(())
}

/// A repeating workload on a mock of its own (rows `{key}.*`, p99 below 2 ms): `work` makes
/// the workload and the details the JSON adds to the run's; `figure` names the rows, `short`
/// the efficiency note.
async fn repeating(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
    [key, figure, short]: [&str; 3],
    work: impl FnOnce(&MockHandle) -> Result<(Workload, Value), String>,
) -> Result<(), String> {
    let mock = spawn_mock().await?;
    let (work, mut extra) = work(&mock)?;
    let (r, busy) = measured(mock.addr(), Arc::new(work), settings).await;
    eprintln!("bench:   {}", summary(&r, busy));
    res.load_rows(key, figure, &r, bare);
    res.target(&format!("{key}.p99"), Target::Below(2.0));
    if let Value::Object(m) = &mut extra {
        m.insert("process_cpu_cores".into(), busy.into());
    }
    res.run(key, report_json(&r, extra));
    res.efficiency(key, short, &r, busy);
    mock.shutdown().await;
    Ok(())
}

/// The 40029 path: jscode2session with a code never minted, over and over.
fn unknown_code(mock: &MockHandle) -> Result<(Workload, Value), String> {
    let path = exchange_path(&mock.default_app(), "0BenchUnknownCodeNeverMinted00000");
    let item = Item::new(&path, "").map_err(|e| e.to_string())?;
    let work = Workload::repeating(Method::GET, vec![item], Expect::ok_containing("40029"));
    Ok((work, json!({})))
}

/// The control plane's wx.login for 1000 users in turn.
fn wx_logins(_: &MockHandle) -> Result<(Workload, Value), String> {
    let items = (0..1000)
        .map(|i| Item::new("/__mock__/wx/login", format!(r#"{{"user":"w{i}"}}"#)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let work = Workload::repeating(Method::POST, items, Expect::ok_containing("\"code\""))
        .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok((work, json!({ "users": 1000 })))
}
