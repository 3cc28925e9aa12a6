//! Soak: N logins through the in-process mock (and, with `--core`, through login-core too) on a
//! virtual clock that advances as they go, printing resident memory (VmRSS) and the mock's live
//! entries (`GET /__mock__/state` counts) every N/20 logins.
//!
//! ```sh
//! cargo run --release -p harness --example soak -- --logins 1000000
//! cargo run --release -p harness --example soak -- --logins 1000000 --fault-rate 0.01
//! cargo run --release -p harness --example soak -- --logins 1000000 --core
//! cargo run --release -p harness --example soak -- --logins 500000 --users 0 --no-counts
//! ```
//!
//! A mock-only login is `wx.login` (control plane) then `jscode2session` (vendor surface); with
//! `--core` it is `wx.login` then `POST /api/login` (login-core exchanges the code and writes a
//! user, an identity and a session to SQLite with `synchronous=FULL`). Persons are drawn from a
//! population of `--users` (0: every login is a new person). Every `--token-every` logins a
//! backend fetches a `cgi-bin/token`. With `--fault-rate`, the mock injects faults into
//! jscode2session and a login that meets one starts over, as a mini-program would; the run
//! checks that every injected fault was seen as one. The mock's counts come from
//! `GET /__mock__/state`; login-core's rows from its store, after a `purge_sessions` at each
//! sample. Exit status 1 if any login failed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use harness::bench::login_core::client_addr;
use harness::bench::memory_kib;
use harness::bench::mock::exchange_path;
use harness::context::{SharedClock, start_mock};
use login_core::{Deps, LoginCoreHandle};
use mock_server::MockHandle;
use mock_server::engine::AppView;
use serde_json::{Value, json};
use tokio::task::JoinSet;

#[derive(Debug, Parser)]
#[command(name = "soak")]
struct Args {
    /// Logins to run.
    #[arg(long, default_value_t = 1_000_000)]
    logins: u64,
    /// Persons logging in, in turn (0: every login is a new person).
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: u64,
    /// Logins per virtual second: the clock advances one second after each such batch.
    #[arg(long, default_value_t = 5)]
    per_second: u64,
    /// A cgi-bin/token fetch every this many logins (0: none).
    #[arg(long, default_value_t = 200)]
    token_every: u64,
    /// Rows of the table.
    #[arg(long, default_value_t = 20)]
    samples: u64,
    /// Log in through login-core (SQLite file in a temporary directory) rather than calling
    /// jscode2session directly.
    #[arg(long)]
    core: bool,
    /// login-core's idle session lifetime (its purge deletes sessions a day after they end).
    #[arg(long, default_value = "1h")]
    session_ttl: humantime::Duration,
    /// Probability that the mock injects a fault into a jscode2session call, shared equally by
    /// errcode -1, HTTP 500, a reset connection and a malformed body. A login that meets one
    /// starts over with a new wx.login (at most 10 tries).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Leave out the mock's counts: `GET /__mock__/state` lists every user, which with
    /// `--users 0` is itself large enough to move the RSS being measured.
    #[arg(long)]
    no_counts: bool,
}

/// Tries of one login before it counts as failed.
const MAX_TRIES: u32 = 10;

/// What one try of a login gave.
enum Outcome {
    Ok,
    /// An answer a fault explains (and that a client meets with a new try).
    Fault(String),
    /// 40029 (`code_invalid`) for a code that had expired in virtual time by the answer: the
    /// clock ran five minutes ahead while this login waited. A client logs in again.
    Expired,
    /// Anything else.
    Failed(String),
}

/// Counts over the whole run.
#[derive(Default)]
struct Tally {
    tries: u64,
    /// Fault answers seen, by kind.
    faults: BTreeMap<String, u64>,
    /// Logins that met a fault and then succeeded.
    survived: u64,
    /// Codes that expired in virtual time before their exchange (tried again).
    expired: u64,
    failures: BTreeMap<String, u64>,
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

/// What every login task shares.
struct Soak {
    args: Args,
    mock: MockHandle,
    app: AppView,
    core: Option<LoginCoreHandle>,
    http: reqwest::Client,
    next: AtomicU64,
    tally: std::sync::Mutex<Tally>,
}

impl Soak {
    fn person(&self, i: u64) -> (String, u64) {
        let n = if self.args.users == 0 {
            i
        } else {
            i % self.args.users
        };
        (format!("p{n}"), n)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fail(&self, what: String) {
        *self.tally().failures.entry(what).or_default() += 1;
    }

    /// One login, numbered `i`, tried again after a fault; then the periodic token fetch and
    /// the clock.
    async fn login(&self, i: u64) {
        let mut faulted = false;
        let mut done = false;
        for _ in 0..MAX_TRIES {
            let outcome = self.try_login(i).await;
            let mut tally = self.tally();
            tally.tries += 1;
            match outcome {
                Outcome::Ok => {
                    tally.survived += u64::from(faulted);
                    done = true;
                }
                Outcome::Fault(kind) => {
                    *tally.faults.entry(kind).or_default() += 1;
                    faulted = true;
                    continue;
                }
                Outcome::Expired => {
                    tally.expired += 1;
                    continue;
                }
                Outcome::Failed(what) => {
                    *tally.failures.entry(what).or_default() += 1;
                    done = true;
                }
            }
            break;
        }
        if !done {
            self.fail(format!("no success in {MAX_TRIES} tries"));
        }
        if self.args.token_every > 0 && (i + 1) % self.args.token_every == 0 {
            let url = format!(
                "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                self.mock.base_url(),
                self.app.appid,
                self.app.secret
            );
            match self.http.get(url).send().await {
                Ok(r) => match r.text().await {
                    Ok(body) if body.contains("access_token") => {}
                    Ok(body) => self.fail(format!("token: {body}")),
                    Err(e) => self.fail(format!("token: {e}")),
                },
                Err(e) => self.fail(format!("token: {e}")),
            }
        }
        if (i + 1) % self.args.per_second.max(1) == 0 {
            self.mock.clock().advance(Duration::from_secs(1));
        }
    }

    /// One try: a new wx.login code, exchanged directly or through login-core.
    async fn try_login(&self, i: u64) -> Outcome {
        let (person, n) = self.person(i);
        let grant = match self.mock.control().wx_login(&self.app.appid, &person).await {
            Ok(g) => g,
            Err(e) => return Outcome::Failed(format!("wx.login: {e}")),
        };
        let outcome = self.exchange_through(&grant.code, n).await;
        match outcome {
            Outcome::Failed(what)
                if (what.contains("40029") || what.contains("code_invalid"))
                    && self.mock.clock().now().secs() >= grant.mock.expires_at =>
            {
                Outcome::Expired
            }
            other => other,
        }
    }

    /// The code exchanged directly (jscode2session) or through login-core (`n`: the person).
    async fn exchange_through(&self, code: &str, n: u64) -> Outcome {
        let Some(core) = &self.core else {
            return self.exchange(code).await;
        };
        // One client address per person, so the per-address limiter tracks many keys.
        let addr = client_addr(n);
        let sent = self
            .http
            .post(format!("{}/api/login", core.base_url()))
            .header("x-forwarded-for", addr)
            .json(&json!({ "code": code }))
            .send()
            .await;
        let r = match sent {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("login-core: {e}")),
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        if status == 200 {
            return Outcome::Ok;
        }
        let code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.pointer("/error/code")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or(text);
        match (status, code.as_str()) {
            (502, "wechat_bad_gateway") | (503, "wechat_unavailable") | (504, "wechat_timeout") => {
                Outcome::Fault(format!("login-core {status} {code}"))
            }
            _ => Outcome::Failed(format!("login-core {status} {code}")),
        }
    }

    /// jscode2session as a backend calls it; the faults the soak injects are told apart from
    /// any other answer.
    async fn exchange(&self, code: &str) -> Outcome {
        let url = format!("{}{}", self.mock.base_url(), exchange_path(&self.app, code));
        let r = match self.http.get(url).send().await {
            Ok(r) => r,
            Err(_) => return Outcome::Fault("transport error".into()),
        };
        let status = r.status().as_u16();
        let body = match r.text().await {
            Ok(b) => b,
            Err(_) => return Outcome::Fault("transport error".into()),
        };
        if status != 200 {
            return Outcome::Fault(format!("HTTP {status}"));
        }
        let Ok(v) = serde_json::from_str::<Value>(&body) else {
            return Outcome::Fault("malformed body".into());
        };
        match v.get("errcode").and_then(Value::as_i64) {
            None if v.get("openid").is_some_and(Value::is_string) => Outcome::Ok,
            Some(-1) => Outcome::Fault("errcode -1".into()),
            _ => Outcome::Failed(format!("jscode2session: {body}")),
        }
    }

    /// Runs logins until `until` have been started.
    async fn run_until(self: &Arc<Self>, until: u64) {
        let mut set = JoinSet::new();
        for _ in 0..self.args.concurrency.max(1) {
            let soak = self.clone();
            set.spawn(async move {
                loop {
                    let i = soak.next.fetch_add(1, Ordering::SeqCst);
                    if i >= until {
                        soak.next.fetch_min(until, Ordering::SeqCst);
                        break;
                    }
                    soak.login(i).await;
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("login task");
        }
    }
}

/// Hits of each fault rule (`GET /__mock__/faults`), by what the rule does.
async fn fault_hits(soak: &Soak) -> BTreeMap<String, u64> {
    let list: Value = soak
        .http
        .get(format!("{}/__mock__/faults", soak.mock.base_url()))
        .send()
        .await
        .expect("GET /__mock__/faults")
        .json()
        .await
        .expect("JSON");
    list["faults"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let what = ["errcode", "http_status", "transport"]
                .iter()
                .find_map(|k| {
                    r.get(*k)
                        .filter(|v| !v.is_null())
                        .map(|v| format!("{k} {v}"))
                })
                .unwrap_or_default();
            (what, r["hits"].as_u64().unwrap_or(0))
        })
        .collect()
}

async fn start_core(mock: &MockHandle, dir: &std::path::Path, ttl: Duration) -> LoginCoreHandle {
    let mut config = harness::bench::login_core::config(mock, dir, "soak.db");
    config.sessions.ttl = ttl;
    config.sessions.max_lifetime = config.sessions.max_lifetime.max(ttl);
    login_core::spawn_with(
        config,
        Deps {
            clock: Arc::new(SharedClock(mock.clock().clone())),
            ..Deps::default()
        },
    )
    .await
    .expect("login-core starts")
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mock = start_mock("soak", harness::context::DEFAULT_START)
        .await
        .expect("mock starts");
    let app = mock.default_app();
    let dir = tempfile::tempdir().expect("temp dir");
    let core = if args.core {
        Some(start_core(&mock, dir.path(), args.session_ttl.into()).await)
    } else {
        None
    };
    let samples = args.samples.max(1);
    let (logins, core_mode) = (args.logins, args.core);
    println!(
        "soak: {logins} logins ({}), {} users, {} in flight, {} per virtual second, {} cores",
        if core_mode {
            "wx.login + login-core POST /api/login"
        } else {
            "wx.login + jscode2session"
        },
        if args.users == 0 {
            "all new".to_owned()
        } else {
            args.users.to_string()
        },
        args.concurrency,
        args.per_second,
        harness::bench::machine::cores()
    );
    let soak = Arc::new(Soak {
        args,
        mock,
        app,
        core,
        http: reqwest::Client::new(),
        next: AtomicU64::new(0),
        tally: std::sync::Mutex::default(),
    });
    if soak.args.fault_rate > 0.0 {
        let p = soak.args.fault_rate / 4.0;
        for fault in [
            json!({"errcode": -1}),
            json!({"http_status": 500}),
            json!({"transport": "reset"}),
            json!({"transport": "malformed"}),
        ] {
            let mut spec = json!({"endpoint": "jscode2session", "probability": p});
            if let (Value::Object(s), Value::Object(f)) = (&mut spec, fault) {
                s.extend(f);
            }
            let spec = serde_json::from_value(spec).expect("fault spec");
            soak.mock
                .control()
                .add_fault(&spec)
                .await
                .expect("fault added");
        }
    }

    let (rss_start, _) = memory_kib(None);
    let started = Instant::now();
    let mut header = String::from(
        "    logins  virtual_s   wall_s  logins/s  rss_MiB  codes  sessions  tokens  quota  journal(kept/dropped)",
    );
    if core_mode {
        header.push_str("  db_users  db_sessions  purged");
    }
    println!("{header}");
    println!(
        "{:>10}  {:>9}  {:>7}  {:>8}  {:>7}",
        0,
        0,
        "0.0",
        "-",
        mib(rss_start)
    );
    let mut last = (Instant::now(), 0u64);
    for k in 1..=samples {
        let until = logins * k / samples;
        soak.run_until(until).await;
        let (rss, _) = memory_kib(None);
        let counts = if soak.args.no_counts {
            None
        } else {
            let state = soak
                .mock
                .control()
                .state()
                .await
                .expect("GET /__mock__/state");
            Some(state.counts)
        };
        let journal = soak
            .mock
            .control()
            .journal("errcode=999999")
            .await
            .expect("journal");
        let c = |f: fn(&mock_server::engine::Counts) -> usize| {
            counts.as_ref().map_or("-".to_owned(), |c| f(c).to_string())
        };
        let rate = (until - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), until);
        let virtual_s = soak.mock.clock().now().secs() - harness::context::DEFAULT_START;
        let mut row = format!(
            "{until:>10}  {virtual_s:>9}  {:>7.1}  {rate:>8.0}  {:>7}  {:>5}  {:>8}  {:>6}  {:>5}  {:>10}/{}",
            started.elapsed().as_secs_f64(),
            mib(rss),
            c(|c| c.login_codes),
            c(|c| c.sessions),
            c(|c| c.access_tokens),
            c(|c| c.quota_windows),
            journal.recorded - journal.dropped,
            journal.dropped,
        );
        if let Some(core) = &soak.core {
            let purged = core.services().purge_sessions().await.expect("purge");
            let stats = core.services().store().stats().await.expect("stats");
            row.push_str(&format!(
                "  {:>8}  {:>11}  {:>6}",
                stats.users, stats.sessions, purged
            ));
        }
        println!("{row}");
    }
    let (rss_end, rss_peak) = memory_kib(None);
    let (tries, faults, survived, expired, failures) = {
        let t = soak.tally();
        (
            t.tries,
            t.faults.clone(),
            t.survived,
            t.expired,
            t.failures.clone(),
        )
    };
    let mut failed: u64 = failures.values().sum();
    println!(
        "done: {logins} logins in {:.1} s; RSS start {} MiB, peak {} MiB, end {} MiB",
        started.elapsed().as_secs_f64(),
        mib(rss_start),
        mib(rss_peak),
        mib(rss_end)
    );
    println!(
        "tries {tries}; fault answers {}; logins that met a fault and then succeeded {survived}; \
         codes expired in virtual time before their exchange {expired}; failed {failed}",
        faults.values().sum::<u64>()
    );
    for (what, n) in &faults {
        println!("  fault answer: {n} x {what}");
    }
    if soak.args.fault_rate > 0.0 {
        let rules = fault_hits(&soak).await;
        let injected: u64 = rules.values().sum();
        println!("faults injected by the mock: {injected}");
        for (rule, hits) in &rules {
            println!("  {hits} x {rule}");
        }
        // Directly, every injected fault is one fault answer; through login-core, a -1 may be
        // retried away, so there are at most as many.
        let seen: u64 = faults.values().sum();
        if (core_mode && seen > injected) || (!core_mode && seen != injected) {
            println!("  failed: {seen} fault answers for {injected} injected faults");
            failed += 1;
        }
    }
    for (what, n) in &failures {
        println!("  failed: {n} x {what}");
    }
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
