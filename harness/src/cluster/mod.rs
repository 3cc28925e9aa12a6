//! login-core as teams run it at scale: several instances on one PostgreSQL database (a schema
//! of their own, created for the run and dropped at its end) behind a round-robin proxy.
//!
//! - [`InProcess`]: the instances in this process, on the mock's virtual clock: what a scenario
//!   with `setup.instances` runs against.
//! - [`processes::Processes`]: each instance a process of its own (`harness instance`), on the
//!   system clock, which can be stopped or killed: `harness up --instances N` and the tests
//!   that kill an instance mid-login.
//! - [`proxy::Proxy`]: the balancer in front of either.
//!
//! The PostgreSQL server comes from `LOGIN_CORE_TEST_POSTGRES` for tests and scenarios (as
//! login-core's own tests), or from `harness up --database-url`.

pub mod processes;
pub mod proxy;

use base64::Engine as _;
use login_core::LoginCoreHandle;
use login_core::store::postgres::testing::{ENV, TestDatabase};
use mock_server::MockHandle;
use serde_json::Value;

use crate::context::{core_config, core_seed, spawn_core};
use proxy::Proxy;

/// The most instances a cluster may have: each holds a pool of connections to one server.
pub const MAX_INSTANCES: u32 = 8;

/// The PostgreSQL server tests and scenarios run clusters on: `Ok(None)` when
/// `LOGIN_CORE_TEST_POSTGRES` is unset (they are skipped, saying why), an error when it is
/// unset and `CI=true` (CI must run them).
pub fn test_server() -> Result<Option<String>, String> {
    match std::env::var(ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => Err(format!(
            "{ENV} is not set, and CI=true: clusters need PostgreSQL in CI \
             (set {ENV}=postgres://postgres@127.0.0.1:5432/test)"
        )),
        _ => Ok(None),
    }
}

/// Why a cluster is skipped when [`test_server`] names none.
pub fn skip_reason() -> String {
    format!(
        "runs several login-core instances, which share a PostgreSQL database: set {ENV} \
         (e.g. {ENV}=postgres://postgres@127.0.0.1:5432/test)"
    )
}

/// A server key for one cluster's instances (they must all have it): base64 of 32 bytes drawn
/// from `seed`, so a scenario's run repeats.
pub fn server_key(seed: u64) -> String {
    let random = login_core::random::SeededRandom::new(seed);
    base64::engine::general_purpose::STANDARD.encode(login_core::random::bytes::<32>(&random))
}

/// Instances in this process, on one schema, behind a proxy. Dropping it stops the proxy and
/// the instances, then drops the schema.
pub struct InProcess {
    /// The balancer: the backend's URL for clients.
    pub proxy: Proxy,
    /// The instances, in the proxy's order.
    pub cores: Vec<LoginCoreHandle>,
    // Dropped last: the instances' connections end before the schema goes.
    _schema: TestDatabase,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess")
            .field("proxy", &self.proxy)
            .field("instances", &self.cores.len())
            .finish_non_exhaustive()
    }
}

impl InProcess {
    /// Starts `instances` login-cores as [`crate::context::start_core`] configures one
    /// (`patch`, `phone_first`), on a new schema of `server`, with one server key, each named
    /// `core-N` and drawing its own random numbers, behind a new proxy.
    pub async fn start(
        mock: &MockHandle,
        seed: &str,
        patch: Option<&Value>,
        phone_first: &[String],
        instances: u32,
        server: &str,
    ) -> Result<InProcess, String> {
        if !(1..=MAX_INSTANCES).contains(&instances) {
            return Err(format!("instances: {instances}; give 1 to {MAX_INSTANCES}"));
        }
        let schema = TestDatabase::create_on(server).await?;
        let key = server_key(core_seed(seed, u64::from(MAX_INSTANCES)));
        let mut cores = Vec::new();
        for i in 0..instances {
            let mut config = core_config(mock, patch, phone_first).map_err(|e| e.to_string())?;
            config.database_url = schema.url();
            config.server_key = Some(login_core::config::ServerKeyText(key.clone()));
            config.instance_id = Some(format!("core-{i}"));
            // A few connections each: the instances share one server with the other tests.
            config.database.max_connections = Some(4);
            let core = spawn_core(mock, config, core_seed(seed, u64::from(i)))
                .await
                .map_err(|e| format!("instance {i}: {e}"))?;
            cores.push(core);
        }
        let proxy = Proxy::start(cores.iter().map(LoginCoreHandle::base_url).collect())
            .await
            .map_err(|e| format!("the proxy: {e}"))?;
        Ok(InProcess {
            proxy,
            cores,
            _schema: schema,
        })
    }
}
