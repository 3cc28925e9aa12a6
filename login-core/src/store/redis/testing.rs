//! Support for tests against a real Redis server (this crate's, its integration tests' and the
//! harness's benchmarks); the service never uses it.
//!
//! The server is named by the environment variable [`ENV`] (for example
//! `redis://127.0.0.1:6379/0`). Each test gets a key prefix of its own, with a random part,
//! and its keys are deleted when its [`TestCounters`] is dropped, also when the test fails.
//! Unset, the tests say they are skipped and pass, so that the workspace's tests need no
//! server; with `CI=true` they fail instead, naming the variable.

use super::RedisCounters;

/// The environment variable naming the test server.
pub const ENV: &str = "LOGIN_CORE_TEST_REDIS";

/// The test server's URL; `None` (after printing why) when the test is to be skipped.
///
/// # Panics
///
/// When [`ENV`] is unset and `CI` is `true`: CI must run these tests.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{ENV} is not set, and CI=true: Redis tests must run in CI \
             (set {ENV}=redis://127.0.0.1:6379/0)"
        ),
        _ => {
            eprintln!("skipped {test}: {ENV} is not set (e.g. {ENV}=redis://127.0.0.1:6379/0)");
            None
        }
    }
}

/// A prefix no other run uses: `lc-test:<random>`.
pub fn fresh_prefix() -> String {
    format!("lc-test:{:016x}", rand::random::<u64>())
}

/// Counters under a prefix of their own on the test server; their keys are deleted on drop.
#[derive(Debug)]
pub struct TestCounters {
    /// The server's URL.
    pub url: String,
    /// The keys' prefix.
    pub prefix: String,
    /// Counters connected to it.
    pub counters: RedisCounters,
}

impl TestCounters {
    /// Connects to the server [`ENV`] names under a fresh prefix; `None` when skipped.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached: a test failure.
    pub async fn create(test: &str) -> Option<TestCounters> {
        let url = server_url(test)?;
        let prefix = fresh_prefix();
        let counters = RedisCounters::connect(&url, &prefix)
            .await
            .unwrap_or_else(|e| panic!("{ENV}: {e}"));
        Some(TestCounters {
            url,
            prefix,
            counters,
        })
    }

    /// Other counters on the same server and prefix (another instance).
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn another(&self) -> RedisCounters {
        RedisCounters::connect(&self.url, &self.prefix)
            .await
            .unwrap_or_else(|e| panic!("{ENV}: {e}"))
    }
}

impl Drop for TestCounters {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), self.prefix.clone());
        // Its own thread and runtime: drop may run inside (or outside) a runtime.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let c = RedisCounters::connect(&url, &prefix)
                    .await
                    .map_err(|e| e.to_string())?;
                c.delete_all().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("could not delete the test keys under {}: {e}", self.prefix);
        }
    }
}
