//! login-core end to end under load (group `login-core`): durable logins (`POST /api/login`,
//! each a new person with a fresh code, SQLite file with `synchronous=FULL`), with the memory,
//! database size, CPU per login and the server's own latencies from its `/metrics`.

use std::net::SocketAddr;
use std::path::Path;

use hyper::Method;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use mock_server::MockHandle;
use serde_json::Value;

use super::load::{Expect, Item, Report, Settings, Workload};
use super::machine::{cores, memory_kib};
use super::mock::{mint_codes, spawn_mock};
use super::prometheus::server_breakdown;
use super::report::{Results, Row, Target, Unit, summary};
use super::runs::{fresh_json, fresh_note, fresh_run};

/// login-core on loopback (a free port) in front of `mock`, serving the mock's apps, with its
/// SQLite file `db_file` and its server key `server.key` in `dir`; trusting `X-Forwarded-For`,
/// so that every client address ([`client_addr`]) meets a limiter of its own.
pub fn config(mock: &MockHandle, dir: &Path, db_file: &str) -> login_core::Config {
    let mut config = login_core::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: format!("sqlite://{}", dir.join(db_file).display()),
        server_key_file: dir.join("server.key"),
        wechat_base_url: mock.base_url(),
        apps: crate::context::mock_apps(mock),
        ..login_core::Config::default()
    };
    config.limits.trust_forwarded_for = true;
    config
}

/// The client address of person `k` (`10.x.y.z`), for `X-Forwarded-For`.
pub fn client_addr(k: u64) -> String {
    format!("10.{}.{}.{}", (k >> 16) & 255, (k >> 8) & 255, k & 255)
}

/// What the CPU use of a login-core run says sets its pace, with `busy` of `cores` cores busy.
fn login_limit(busy: f64, cores: usize) -> &'static str {
    if busy < 1.0 {
        "the logins wait (on the disk), they do not compute"
    } else if busy < 0.9 * cores as f64 {
        "the cores are not saturated: the one login writer (a single SQLite connection, whose \
         thread writes the pages and syncs the WAL) sets the pace"
    } else {
        "CPU, not the disk, is the limit here"
    }
}

/// The group's run (rows `core.*`): login-core with a SQLite file in a temporary directory,
/// every login from a client address of its own.
pub async fn run(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: login-core end to end (POST /api/login, SQLite file, synchronous=FULL) …");
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mock = spawn_mock().await?;
    let db = dir.path().join("login-core.db");
    // Every login from its own client address, as behind a proxy: the per-address limiter
    // (120 a minute) sees many clients, not one.
    let config = config(&mock, dir.path(), "login-core.db");
    let core = login_core::spawn_with(config, login_core::Deps::default())
        .await
        .map_err(|e| format!("login-core: {e}"))?;
    let (rss_before, _) = memory_kib(None);
    let mut next_user = 0u64;
    let forwarded = HeaderName::from_static("x-forwarded-for");
    let f = fresh_run(
        &[core.addr()],
        settings,
        (settings.warmup.as_secs_f64() * 5_000.0) as usize + 500,
        |items| {
            Workload::single_use(Method::POST, items, Expect::ok_containing("\"token\""))
                .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        },
        |n| {
            let first = next_user;
            let codes = mint_codes(&mock, "person", 1, &mut next_user, n)?;
            codes
                .iter()
                .zip(first..)
                .map(|(c, k)| {
                    let item = Item::new("/api/login", format!(r#"{{"code":"{c}"}}"#))
                        .map_err(|e| e.to_string())?;
                    let value = HeaderValue::try_from(client_addr(k)).map_err(|e| e.to_string())?;
                    Ok(item.with_header(forwarded.clone(), value))
                })
                .collect()
        },
    )
    .await?;
    let (rss_after, hwm) = memory_kib(None);
    eprintln!("bench:   {}", summary(&f.report, f.busy));
    res.load_rows("core.login", "login-core durable logins", &f.report, bare);
    res.target("core.login.rate", Target::AtLeast(5000.0));
    res.target("core.login.p99", Target::Below(20.0));
    res.rows.push(Row::new(
        "core.rss_after",
        "login-core run: resident memory after (whole process)",
        rss_after as f64 / 1024.0,
        Unit::Mib,
    ));
    let breakdown = server_breakdown(&core.base_url()).await;
    let db_bytes = ["", "-wal"]
        .iter()
        .map(|s| {
            std::fs::metadata(format!("{}{s}", db.display()))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum::<u64>();
    let mut j = fresh_json(&f);
    if let Value::Object(m) = &mut j {
        m.insert("rss_before_kib".into(), rss_before.into());
        m.insert("rss_after_kib".into(), rss_after.into());
        m.insert("rss_high_water_kib".into(), hwm.into());
        m.insert("db_bytes".into(), db_bytes.into());
        m.insert("server_side".into(), breakdown.clone());
    }
    res.run("core.login", j);
    res.efficiency("core.login", "login-core durable logins", &f.report, f.busy);
    res.note(fresh_note("login-core (each login a new person)", &f));
    res.note(format!(
        "login-core run: the process (load generator, mock with its minted codes, login-core) held {:.1} MiB before the run, {:.1} MiB after, {:.1} MiB at its peak; database file and WAL {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        hwm as f64 / 1024.0,
        db_bytes as f64 / 1_048_576.0
    ));
    if let (Some(server), Some(up)) = (
        breakdown["api_login_mean_ms"].as_f64(),
        breakdown["jscode2session_mean_ms"].as_f64(),
    ) {
        res.note(format!(
            "login-core's own /metrics: POST /api/login takes {server:.2} ms on average inside the server, of which {up:.2} ms waiting for jscode2session; the other {:.2} ms are the store, sealing and the rest",
            server - up
        ));
    }
    res.note(format!(
        "login-core run: the whole process (load generator, mock, login-core) kept {:.2} of {} cores busy, {:.2} ms of CPU per login: {}",
        f.busy,
        cores(),
        f.busy * 1000.0 / f.report.rate().max(1e-9),
        login_limit(f.busy, cores().max(1))
    ));
    core.shutdown().await;
    mock.shutdown().await;
    Ok(())
}
