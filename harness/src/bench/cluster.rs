//! login-core on PostgreSQL, one and two instances (group `cluster`): durable logins
//! (`POST /api/login`, each a new person with a fresh code) against a new schema of the server
//! `LOGIN_CORE_TEST_POSTGRES` names, next to SQLite in the same run, so the figures compare
//! like with like on whatever else the machine is doing.
//!
//! Runs: SQLite (file, `synchronous=FULL`) straight to login-core; PostgreSQL with one
//! instance straight, then through the harness's round-robin proxy (what the proxy itself
//! costs), then two instances through the proxy, then two instances with the load
//! generator's connections spread over them (what a connection-level balancer does, at no
//! cost to these cores); then, when `LOGIN_CORE_TEST_REDIS` names a Redis server, one
//! instance and two (behind the proxy, and spread) again with the limits' counters in Redis
//! (`limits.counters_url`) instead of the database. Every login comes from its own client
//! address (`X-Forwarded-For`, trusted), as in the `login-core` group.
//!
//! Last, the recommended shape once more with people who logged in before (their identity
//! updated, a session added: the commonest login in production), each login still with a
//! fresh code and an address of its own; the other runs are all first logins.
//!
//! The targets (5,000 logins/s, p99 under 25 ms) are on two instances with the counters in
//! Redis and the connections spread, the shape README recommends: the proxy is a test tool in
//! the same process, on the same two cores, and what it costs is measured by its own rows
//! (one instance straight and behind it); a deployment's balancer runs elsewhere.

use hyper::Method;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use login_core::LoginCoreHandle;
use login_core::store::postgres::testing::TestDatabase;
use login_core::store::redis::RedisCounters;
use login_core::store::redis::testing::{ENV as REDIS_ENV, fresh_prefix};
use serde_json::{Value, json};

use super::load::{Expect, Item, Report, Settings, Workload};
use super::login_core::{client_addr, config};
use super::machine::cores;
use super::mock::{mint_codes, mint_codes_cycling, spawn_mock};
use super::report::{Results, Target, summary};
use super::runs::{FreshRun, fresh_json, fresh_run};
use crate::cluster::proxy::Proxy;

/// The PostgreSQL connections of a run, all instances together: each instance's pool holds
/// its share. A server runs best with a few busy backends per core (more only take turns and
/// switch): on the 2-core machine the figures were measured on, 8 in all beat 16 per
/// instance by about 40% in the median with two instances (BENCHMARKS.md). Size a deployment's pools
/// the same way, from the server's cores, not per instance.
const SERVER_CONNECTIONS: u32 = 8;

/// How the load reaches the instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Front {
    /// Straight to the one instance.
    Direct,
    /// Through the harness's round-robin proxy (per request, an L7 balancer).
    Proxy,
    /// The load generator's connections spread over the instances (an L4 balancer).
    Spread,
}

impl Front {
    /// Its part of a run's key.
    fn key(self) -> &'static str {
        match self {
            Front::Direct => "",
            Front::Proxy => "_proxy",
            Front::Spread => "_spread",
        }
    }

    /// Its part of a run's label.
    fn label(self) -> &'static str {
        match self {
            Front::Direct => "",
            Front::Proxy => " behind the proxy",
            Front::Spread => ", connections spread over them",
        }
    }
}

/// Where one run's logins are stored, and how they reach login-core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    Sqlite,
    Postgres {
        instances: u32,
        front: Front,
        /// The limits' counters in Redis rather than in the database.
        redis: bool,
        /// People who logged in before (the others: first logins).
        again: bool,
    },
}

impl Setup {
    fn key(self) -> String {
        match self {
            Setup::Sqlite => "cluster.sqlite".into(),
            Setup::Postgres {
                instances,
                front,
                redis,
                again,
            } => format!(
                "cluster.pg{instances}{}{}{}",
                front.key(),
                if redis { "_redis" } else { "" },
                if again { "_again" } else { "" }
            ),
        }
    }

    fn label(self) -> String {
        match self {
            Setup::Sqlite => "durable logins, SQLite file, 1 instance".into(),
            Setup::Postgres {
                instances,
                front,
                redis,
                again,
            } => format!(
                "durable logins{}, PostgreSQL, {instances} instance{}{}{}",
                if again {
                    " of people logging in again"
                } else {
                    ""
                },
                if instances == 1 { "" } else { "s" },
                front.label(),
                if redis { ", counters in Redis" } else { "" }
            ),
        }
    }
}

/// The group: its runs, or a skip naming what is missing.
pub async fn run(settings: &Settings, bare: Option<&Report>, res: &mut Results) {
    let server = match crate::cluster::test_server() {
        Ok(Some(server)) => server,
        Ok(None) => {
            res.skip(
                "cluster (login-core on PostgreSQL)",
                &crate::cluster::skip_reason(),
            );
            return;
        }
        Err(e) => {
            res.skip("cluster (login-core on PostgreSQL)", &e);
            return;
        }
    };
    let pg = |instances, front, redis| Setup::Postgres {
        instances,
        front,
        redis,
        again: false,
    };
    let setups = [
        Setup::Sqlite,
        pg(1, Front::Direct, false),
        pg(1, Front::Proxy, false),
        pg(2, Front::Proxy, false),
        pg(2, Front::Spread, false),
        pg(1, Front::Direct, true),
        pg(2, Front::Proxy, true),
        pg(2, Front::Spread, true),
        Setup::Postgres {
            instances: 2,
            front: Front::Spread,
            redis: true,
            again: true,
        },
    ];
    let redis = std::env::var(REDIS_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty());
    for setup in setups {
        let counters = match (setup, &redis) {
            (Setup::Postgres { redis: true, .. }, None) => {
                res.skip(
                    &setup.label(),
                    &format!("{REDIS_ENV} is not set (e.g. {REDIS_ENV}=redis://127.0.0.1:6379/0)"),
                );
                continue;
            }
            (Setup::Postgres { redis: true, .. }, Some(url)) => Some(url.as_str()),
            _ => None,
        };
        if let Err(e) = one(setup, &server, counters, settings, bare, res).await {
            res.skip(&setup.label(), &e);
        }
    }
    // The recommended shape: counters in Redis (the runs with them in the database show why),
    // the balancer off these cores.
    let key = "cluster.pg2_spread_redis";
    res.target(&format!("{key}.rate"), Target::AtLeast(5000.0));
    res.target(&format!("{key}.p99"), Target::Below(25.0));
}

/// One run: a new mock, the instances, the load.
async fn one(
    setup: Setup,
    server: &str,
    counters: Option<&str>,
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: {} …", setup.label());
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mock = spawn_mock().await?;
    let schema = match setup {
        Setup::Sqlite => None,
        Setup::Postgres { .. } => Some(TestDatabase::create_on(server).await?),
    };
    let instances = match setup {
        Setup::Sqlite => 1,
        Setup::Postgres { instances, .. } => instances,
    };
    // A prefix of this run's own, its keys deleted after the run.
    let redis = match counters {
        Some(url) => {
            let prefix = fresh_prefix();
            let c = RedisCounters::connect(url, &prefix)
                .await
                .map_err(|e| format!("{REDIS_ENV}: {e}"))?;
            Some((url, prefix, c))
        }
        None => None,
    };
    let mut instances_up: Vec<LoginCoreHandle> = Vec::new();
    for i in 0..instances {
        let mut c = config(&mock, dir.path(), "login-core.db");
        if let Some(schema) = &schema {
            c.database_url = schema.url();
            c.instance_id = Some(format!("core-{i}"));
            c.database.max_connections = Some(SERVER_CONNECTIONS / instances);
        }
        if let Some((url, prefix, _)) = &redis {
            c.limits.counters_url = Some((*url).to_owned());
            c.limits.counters_prefix.clone_from(prefix);
        }
        instances_up.push(
            login_core::spawn_with(c, login_core::Deps::default())
                .await
                .map_err(|e| format!("login-core: {e}"))?,
        );
    }
    let proxy = match setup {
        Setup::Postgres {
            front: Front::Proxy,
            ..
        } => Some(
            Proxy::start(instances_up.iter().map(LoginCoreHandle::base_url).collect())
                .await
                .map_err(|e| format!("proxy: {e}"))?,
        ),
        _ => None,
    };
    let addrs: Vec<_> = match &proxy {
        Some(p) => vec![p.addr()],
        None => instances_up.iter().map(LoginCoreHandle::addr).collect(),
    };
    let again = matches!(setup, Setup::Postgres { again: true, .. });
    let forwarded = HeaderName::from_static("x-forwarded-for");
    // Every login from an address of its own: the k-th login's.
    let mut next_addr = 0u64;
    let mut item = |code: &str| -> Result<Item, String> {
        let item = Item::new("/api/login", format!(r#"{{"code":"{code}"}}"#))
            .map_err(|e| e.to_string())?;
        let value = HeaderValue::try_from(client_addr(next_addr)).map_err(|e| e.to_string())?;
        next_addr += 1;
        Ok(item.with_header(forwarded.clone(), value))
    };
    let workload = |items, expect: &str| {
        Workload::single_use(Method::POST, items, Expect::ok_containing(expect))
            .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
    };
    let mut next_user = 0u64;
    let people = if again {
        let people = people_again(settings);
        let codes = mint_codes(&mock, "person", 1, &mut next_user, people)?;
        let items = codes.iter().map(|c| item(c)).collect::<Result<_, _>>()?;
        first_logins(&addrs, workload(items, r#""is_new":true"#), settings).await?;
        Some(people as u64)
    } else {
        None
    };
    let answer = match people {
        Some(_) => r#""is_new":false"#,
        None => r#""is_new":true"#,
    };
    let f = fresh_run(
        &addrs,
        settings,
        (settings.warmup.as_secs_f64() * 5_000.0) as usize + 500,
        |items| workload(items, answer),
        |n| {
            let codes = match people {
                // The same people in turn, each login with a fresh code.
                Some(people) => mint_codes_cycling(&mock, "person", people, &mut next_user, n)?,
                None => mint_codes(&mock, "person", 1, &mut next_user, n)?,
            };
            codes.iter().map(|c| item(c)).collect()
        },
    )
    .await?;
    eprintln!("bench:   {}", summary(&f.report, f.busy));
    let key = setup.key();
    res.load_rows(
        &key,
        &format!("login-core {}", setup.label()),
        &f.report,
        bare,
    );
    res.run(&key, details(&f, &proxy));
    res.note(format!(
        "{}: {:.0} logins/s, p99 {:.2} ms, {:.2} of {} cores busy (load generator, mock, login-core{}; the PostgreSQL server's own CPU is not counted)",
        setup.label(),
        f.report.rate(),
        f.report.p99().as_secs_f64() * 1000.0,
        f.busy,
        cores(),
        if proxy.is_some() { ", proxy" } else { "" }
    ));
    drop(proxy);
    for core in instances_up {
        core.shutdown().await;
    }
    mock.shutdown().await;
    drop(schema);
    if let Some((_, _, c)) = redis {
        c.delete_all()
            .await
            .map_err(|e| format!("deleting the run's counters: {e}"))?;
    }
    Ok(())
}

/// How many people a run of people logging in again cycles through: many more than the
/// connections (no two workers log one person in at once), and enough that none reaches the
/// mock's quota of 100 exchanges a minute even at 20,000 logins a second over the whole run
/// (calibration and window): at most 50 each.
fn people_again(settings: &Settings) -> usize {
    let secs = (settings.warmup + settings.duration).as_secs_f64() + 0.2;
    let for_quota = (20_000.0 * secs.min(60.0) / 50.0).ceil() as usize;
    for_quota.max(settings.connections * 16)
}

/// The first logins of the people a run logs in again, not measured: every one must be a new
/// user.
async fn first_logins(
    addrs: &[std::net::SocketAddr],
    work: Workload,
    settings: &Settings,
) -> Result<(), String> {
    let r = super::load::run_spread(
        addrs,
        std::sync::Arc::new(work),
        &Settings {
            warmup: std::time::Duration::ZERO,
            // Until the people run out.
            duration: std::time::Duration::from_secs(600),
            ..settings.clone()
        },
    )
    .await;
    match (r.errors, r.first_error, r.ran_dry) {
        (0, None, Some(_)) => Ok(()),
        (errors, first, _) => Err(format!(
            "the first logins of the people to log in again: {errors} errors, the first: {}",
            first.unwrap_or_else(|| "none, but they did not all run".into())
        )),
    }
}

fn details(f: &FreshRun, proxy: &Option<Proxy>) -> Value {
    let mut j = fresh_json(f);
    if let (Value::Object(m), Some(p)) = (&mut j, proxy) {
        m.insert("served_per_instance".into(), json!(p.served()));
    }
    j
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Every run of the group measures logins without an error (with the counters in Redis
    /// too when `LOGIN_CORE_TEST_REDIS` is set), each of the kind it says (a run's answers
    /// must all say `is_new` true, or false for people logging in again, or they count as
    /// errors), the proxied instances both serve, and the targets sit on the recommended
    /// shape only. Skipped without `LOGIN_CORE_TEST_POSTGRES`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_run_logs_in_and_the_targets_sit_on_the_recommended_shape() {
        if !matches!(crate::cluster::test_server(), Ok(Some(_))) {
            eprintln!("skipped: {}", crate::cluster::skip_reason());
            return;
        }
        let redis = std::env::var(REDIS_ENV).is_ok_and(|u| !u.trim().is_empty());
        let settings = Settings {
            connections: 4,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(200),
        };
        let mut res = Results::default();
        run(&settings, None, &mut res).await;
        let skipped: Vec<&String> = res.notes.iter().filter(|n| n.contains("skipped")).collect();
        if redis {
            assert!(skipped.is_empty() && !res.failed, "{skipped:#?}");
        } else {
            // Only the Redis runs, each naming the variable to set.
            assert_eq!(skipped.len(), 4, "{skipped:#?}");
            assert!(
                skipped.iter().all(|n| n.contains(REDIS_ENV)),
                "{skipped:#?}"
            );
        }

        let mut keys = vec![
            "cluster.sqlite",
            "cluster.pg1",
            "cluster.pg1_proxy",
            "cluster.pg2_proxy",
            "cluster.pg2_spread",
        ];
        if redis {
            keys.extend([
                "cluster.pg1_redis",
                "cluster.pg2_proxy_redis",
                "cluster.pg2_spread_redis",
                "cluster.pg2_spread_redis_again",
            ]);
        }
        let rows = serde_json::to_value(&res.rows).expect("rows serialize");
        let row = |key: &str| {
            rows.as_array()
                .expect("a list")
                .iter()
                .find(|r| r["key"] == key)
                .cloned()
        };
        for key in &keys {
            let run = &res.runs[*key];
            assert_eq!(run["errors"], 0, "{key}: {run}");
            let rate = row(&format!("{key}.rate")).expect("a rate row");
            assert!(rate["value"].as_f64().expect("a number") > 0.0, "{key}");
        }
        assert_eq!(res.runs.len(), keys.len(), "{:?}", res.runs.keys());
        // Two instances behind the proxy: both served. Spread: the load generator's workers
        // alternate between the instances (as `load::run_spread` tests), so nothing to count.
        let served = &res.runs["cluster.pg2_proxy"]["served_per_instance"];
        let served: Vec<u64> = serde_json::from_value(served.clone()).expect("counts");
        assert!(
            served.len() == 2 && served.iter().all(|n| *n > 0),
            "{served:?}"
        );

        let targeted: Vec<String> = rows
            .as_array()
            .expect("a list")
            .iter()
            .filter(|r| !r["target"].is_null())
            .map(|r| r["key"].as_str().expect("a key").to_owned())
            .collect();
        let want: Vec<String> = if redis {
            vec![
                "cluster.pg2_spread_redis.rate".into(),
                "cluster.pg2_spread_redis.p99".into(),
            ]
        } else {
            Vec::new()
        };
        assert_eq!(targeted, want);
    }

    #[test]
    fn people_logging_in_again_stay_under_the_mocks_quota_and_outnumber_the_workers() {
        let settings = |connections, secs| Settings {
            connections,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(secs),
        };
        // 6.2 s at 20,000/s: 124,000 logins over 2,480 people, 50 each.
        assert_eq!(people_again(&settings(64, 5)), 2_480);
        // Long runs: a minute's worth at most per person.
        assert_eq!(people_again(&settings(64, 600)), 24_000);
        // Many workers: 16 people each.
        assert_eq!(people_again(&settings(1_000, 1)), 16_000);
    }
}
