//! Durability: the `login-core` binary under concurrent login load is killed with SIGKILL at
//! several points and restarted on the same database; every login answered 200 before a kill is
//! still a valid session of the same user, no person has two users, and the database holds
//! nothing half-written.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mock_server::ids::AppId;
use mock_server::{MockHandle, Timestamp};
use serde_json::{Value, json};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::task::JoinSet;

use crate::helpers::{START, mock_flags};

const BIN: &str = env!("CARGO_BIN_EXE_login-core");
/// A fixed server key (base64 of 32 bytes), so a restarted process opens the sealed keys.
const SERVER_KEY: &str = "ZHVyYWJpbGl0eS10ZXN0LXNlcnZlci1rZXktMzJieXQ=";
/// Concurrent login loops.
const WORKERS: usize = 16;
/// Persons every worker logs in again and again (racing each other), across every restart.
const SHARED: usize = 8;
/// Answered logins in a round after which the process is killed: the kill points.
const KILL_AFTER: [usize; 4] = [1, 50, 200, 500];

/// The `login-core` child; killed (SIGKILL) when dropped, however the test ends.
struct Core {
    child: std::process::Child,
    url: String,
}

impl Drop for Core {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Core {
    /// Starts the binary against the mock on `dir/core.db`, with the per-address login limit off
    /// (every request comes from 127.0.0.1) and the server key from the environment.
    async fn start(mock: &MockHandle, dir: &Path) -> Core {
        let config = dir.join("core.toml");
        std::fs::write(&config, "[limits]\nlogins_per_address_per_minute = 0\n").expect("config");
        let mut child = Command::new(BIN)
            .args(mock_flags(mock))
            .args(["--listen", "127.0.0.1:0"])
            .arg("--database-url")
            .arg(format!("sqlite://{}", dir.join("core.db").display()))
            .arg("--config")
            .arg(&config)
            .current_dir(dir)
            .env("LOGIN_CORE_SERVER_KEY", SERVER_KEY)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Drain stdout to the end, so the child never writes to a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let first = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .expect("reader")
            .expect("login-core prints its URL");
        let url = first
            .strip_prefix("login-core listening on ")
            .unwrap_or_else(|| panic!("first line names the URL: {first}"))
            .to_owned();
        Core { child, url }
    }

    /// SIGKILL, and checks that the signal is what ended the process.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL sent");
        let status = self.child.wait().expect("reaped");
        assert_eq!(status.signal(), Some(9), "ended by SIGKILL: {status:?}");
    }
}

/// A login answered 200.
#[derive(Clone, Debug)]
struct Answered {
    person: String,
    token: String,
    user_id: Value,
    is_new: bool,
}

/// What the login loops saw, over every round.
#[derive(Default)]
struct Tally {
    answered: Vec<Answered>,
    /// Persons whose login was sent (answered or not).
    attempted: BTreeSet<String>,
    /// Logins sent.
    sent: usize,
}

/// What the loops of one round share.
struct Round {
    index: usize,
    url: String,
    mock: Arc<MockHandle>,
    appid: AppId,
    http: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
    /// 200 answers in this round.
    answered: AtomicUsize,
    /// Set just before the kill: a failed request is expected from then on.
    killing: AtomicBool,
    /// Woken on every answer, so the test waits for the kill point without polling.
    progress: tokio::sync::Notify,
}

/// One login loop: new persons and shared persons in turn, until the server goes away.
async fn login_loop(round: Arc<Round>, worker: usize) {
    for n in 0.. {
        if round.killing.load(Ordering::SeqCst) {
            return;
        }
        let person = if n % 2 == 0 {
            format!("r{}w{worker}n{n}", round.index)
        } else {
            format!("shared{}", (worker + n) % SHARED)
        };
        let code = round
            .mock
            .control()
            .wx_login(&round.appid, &person)
            .await
            .expect("wx.login")
            .code;
        {
            let mut tally = round.tally.lock().expect("tally");
            tally.attempted.insert(person.clone());
            tally.sent += 1;
        }
        let sent = round
            .http
            .post(format!("{}/api/login", round.url))
            .json(&json!({ "code": code }))
            .send()
            .await;
        let answer = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.text().await.map(|text| (status, text))
            }
            Err(e) => Err(e),
        };
        let (status, text) = match answer {
            Ok(a) => a,
            Err(e) => {
                assert!(
                    round.killing.load(Ordering::SeqCst),
                    "a login failed before the kill: {e}"
                );
                return;
            }
        };
        assert_eq!(status, 200, "{person}: {text}");
        let body: Value = serde_json::from_str(&text).expect("JSON");
        round.tally.lock().expect("tally").answered.push(Answered {
            person,
            token: body["token"].as_str().expect("token").to_owned(),
            user_id: body["user"]["id"].clone(),
            is_new: body["user"]["is_new"].as_bool().expect("is_new"),
        });
        round.answered.fetch_add(1, Ordering::SeqCst);
        round.progress.notify_waiters();
    }
}

/// Every token answered so far opens `GET /api/me` of the same user.
async fn verify_sessions(url: &str, answered: &[Answered]) {
    let http = reqwest::Client::new();
    let mut set = JoinSet::new();
    for chunk in answered.chunks(answered.len().div_ceil(WORKERS).max(1)) {
        let (http, url, chunk) = (http.clone(), url.to_owned(), chunk.to_vec());
        set.spawn(async move {
            for a in chunk {
                let resp = http
                    .get(format!("{url}/api/me"))
                    .bearer_auth(&a.token)
                    .send()
                    .await
                    .expect("GET /api/me");
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.expect("JSON");
                assert_eq!(status, 200, "{}: token lost after a kill: {body}", a.person);
                assert_eq!(body["id"], a.user_id, "{}: another user", a.person);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("verifier");
    }
}

/// Per person, every 200 answer named the same user, and at most one said `is_new`.
fn one_user_per_person(answered: &[Answered]) -> BTreeMap<String, Value> {
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut new: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answered {
        users
            .entry(a.person.clone())
            .or_default()
            .insert(a.user_id.to_string());
        if a.is_new {
            *new.entry(&a.person).or_default() += 1;
        }
    }
    for (person, ids) in &users {
        assert_eq!(ids.len(), 1, "{person} has several users: {ids:?}");
    }
    for (person, n) in new {
        assert_eq!(n, 1, "{person} was created {n} times");
    }
    answered
        .iter()
        .map(|a| (a.person.clone(), a.user_id.clone()))
        .collect()
}

/// Opens the database read-only and checks it: integrity, foreign keys, and no half-written
/// login (a user without its identity, a session of another user than its identity's).
/// Returns (users, identities, sessions).
async fn check_database(file: &Path) -> (i64, i64, i64) {
    let mut db = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
        .expect("url")
        .read_only(true)
        .connect()
        .await
        .expect("database opens read-only");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let fk: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut db)
        .await
        .expect("foreign_key_check");
    assert!(fk.is_empty(), "rows break foreign keys: {fk:?}");
    for (what, sql) in [
        (
            "users without an identity",
            "SELECT count(*) FROM users WHERE id NOT IN (SELECT user_id FROM identities)",
        ),
        (
            "sessions of another user than their identity's",
            "SELECT count(*) FROM sessions s JOIN identities i USING (appid, openid) \
             WHERE s.user_id != i.user_id",
        ),
        (
            "identities without a sealed session_key",
            "SELECT count(*) FROM identities WHERE length(session_key) = 0",
        ),
    ] {
        let n: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut db)
            .await
            .expect(what);
        assert_eq!(n, 0, "{what}");
    }
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM identities), \
         (SELECT count(*) FROM sessions)",
    )
    .fetch_one(&mut db)
    .await
    .expect("counts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_answered_before_a_sigkill_survive_the_restart() {
    let started = Instant::now();
    let mock = Arc::new(
        mock_server::spawn(mock_server::config::Config {
            seed: "durability".into(),
            clock: mock_server::Clock::manual(Timestamp::from_secs(START)),
            ..mock_server::config::Config::default()
        })
        .await
        .expect("mock starts"),
    );
    // The clock is frozen: every login of a shared person falls in one quota minute.
    mock.control()
        .set_options(&json!({"login_quota_per_minute": 1_000_000}))
        .await
        .expect("options");
    let appid = mock.default_app().appid;
    let dir = tempfile::tempdir().expect("temp dir");
    let tally = Arc::new(Mutex::new(Tally::default()));

    for (index, kill_after) in KILL_AFTER.into_iter().enumerate() {
        let core = Core::start(&mock, dir.path()).await;
        // Everything answered before the previous kills is still there.
        let before = tally.lock().expect("tally").answered.clone();
        verify_sessions(&core.url, &before).await;

        let round = Arc::new(Round {
            index,
            url: core.url.clone(),
            mock: mock.clone(),
            appid: appid.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client"),
            tally: tally.clone(),
            answered: AtomicUsize::new(0),
            killing: AtomicBool::new(false),
            progress: tokio::sync::Notify::new(),
        });
        let loops: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(login_loop(round.clone(), w)))
            .collect();
        loop {
            // Register before checking, so an answer between the check and the wait still wakes.
            let woken = round.progress.notified();
            if round.answered.load(Ordering::SeqCst) >= kill_after {
                break;
            }
            woken.await;
        }
        round.killing.store(true, Ordering::SeqCst);
        core.kill();
        for l in loops {
            l.await.expect("login loop");
        }
        let t = tally.lock().expect("tally");
        println!(
            "kill {}: after {} answers in the round ({} answered, {} sent in all)",
            index + 1,
            round.answered.load(Ordering::SeqCst),
            t.answered.len(),
            t.sent
        );
    }

    // Restarted once more: every answered login is still a session of the same user ...
    let core = Core::start(&mock, dir.path()).await;
    let (answered, attempted) = {
        let t = tally.lock().expect("tally");
        (t.answered.clone(), t.attempted.clone())
    };
    verify_sessions(&core.url, &answered).await;
    let before_final = one_user_per_person(&answered);

    // ... and every person ever attempted logs in once more, to the user they had, if any.
    let http = reqwest::Client::new();
    let mut finals = Vec::new();
    for person in &attempted {
        let code = mock
            .control()
            .wx_login(&appid, person)
            .await
            .expect("wx.login")
            .code;
        let resp = http
            .post(format!("{}/api/login", core.url))
            .json(&json!({ "code": code }))
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), 200, "{person}");
        let body: Value = resp.json().await.expect("JSON");
        if let Some(id) = before_final.get(person) {
            assert_eq!(&body["user"]["id"], id, "{person} got another user");
        }
        finals.push(Answered {
            person: person.clone(),
            token: body["token"].as_str().expect("token").to_owned(),
            user_id: body["user"]["id"].clone(),
            is_new: body["user"]["is_new"].as_bool().expect("is_new"),
        });
    }
    // The session_keys sealed before the kills open with the same server key.
    for f in finals.iter().filter(|f| f.person.starts_with("shared")) {
        let resp = http
            .get(format!("{}/api/session/check", core.url))
            .bearer_auth(&f.token)
            .send()
            .await
            .expect("check");
        assert_eq!(resp.status(), 200, "{}", f.person);
    }
    let all: Vec<Answered> = answered.iter().chain(&finals).cloned().collect();
    let users = one_user_per_person(&all);
    let sent = tally.lock().expect("tally").sent + finals.len();
    core.kill();

    let (db_users, identities, sessions) = check_database(&dir.path().join("core.db")).await;
    let persons = i64::try_from(attempted.len()).expect("count");
    assert_eq!(users.len(), attempted.len());
    assert_eq!(db_users, persons, "one user per person");
    assert_eq!(
        identities, persons,
        "one identity per person in the one app"
    );
    let (all_n, sent_n) = (
        i64::try_from(all.len()).expect("count"),
        i64::try_from(sent).expect("count"),
    );
    // Each answered login made a session; a login in flight at a kill made one or none.
    assert!(
        (all_n..=sent_n).contains(&sessions),
        "{sessions} sessions for {all_n} answered and {sent_n} sent logins"
    );
    println!(
        "durability: {} kills survived; {sent_n} logins sent, {all_n} answered 200 and all \
         still valid; {persons} persons = {db_users} users; {sessions} sessions; {:.1?}",
        KILL_AFTER.len() + 1,
        started.elapsed()
    );
}
