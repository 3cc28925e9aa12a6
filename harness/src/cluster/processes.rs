//! A cluster of processes: each instance is `harness instance`, a process of its own running
//! login-core against a running mock, so an instance can be stopped (SIGTERM: it drains) or
//! killed (SIGKILL: mid-request) while the others serve.
//!
//! [`serve`] is what one such process does: it reads the apps and the SMS gateway from the
//! mock's control plane, serves on a PostgreSQL database, prints `login-core listening on
//! URL` first on stdout (as the `login-core` binary does), and on SIGTERM or Ctrl-C drains.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use login_core::server::Drained;
use login_core::store::postgres::testing::TestDatabase;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use base64::Engine as _;

use super::MAX_INSTANCES;
use super::proxy::Proxy;

/// The environment variable that hands an instance its server key (never on the command line,
/// where `ps` shows it).
pub const SERVER_KEY_ENV: &str = "HARNESS_INSTANCE_SERVER_KEY";

/// What one instance process is told.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    /// The mock's base URL: WeChat, the apps and the SMS gateway.
    pub mock: String,
    /// The PostgreSQL URL (its schema chosen in `options[search_path]`).
    pub database_url: String,
    /// Where the limits are counted when not in the database: a Redis URL, and the keys'
    /// prefix, the same for every instance of the cluster.
    pub counters: Option<(String, String)>,
    /// Its name in metrics.
    pub instance_id: String,
    /// Where to listen (port 0: any).
    pub listen: SocketAddr,
    /// How long requests in flight may take after SIGTERM.
    pub drain_timeout: Duration,
}

/// Serves one instance until SIGTERM or Ctrl-C, then drains: exit 0 when every request in
/// flight finished, 1 otherwise (or when it cannot start). The server key comes from
/// [`SERVER_KEY_ENV`].
pub async fn serve(spec: InstanceSpec) -> ExitCode {
    let fail = |what: String| {
        eprintln!("harness instance {}: {what}", spec.instance_id);
        ExitCode::FAILURE
    };
    let Ok(key) = std::env::var(SERVER_KEY_ENV) else {
        return fail(format!(
            "{SERVER_KEY_ENV} is not set: every instance needs the cluster's server key"
        ));
    };
    let base = match crate::context::running_mock_config(&spec.mock, None).await {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    let mut limits = base.limits.clone();
    if let Some((url, prefix)) = &spec.counters {
        limits.counters_url = Some(url.clone());
        limits.counters_prefix.clone_from(prefix);
    }
    let config = login_core::Config {
        limits,
        listen: spec.listen,
        database_url: spec.database_url.clone(),
        server_key: Some(login_core::config::ServerKeyText(key)),
        instance_id: Some(spec.instance_id.clone()),
        drain_timeout: spec.drain_timeout,
        ..base
    };
    let handle = match login_core::spawn(config).await {
        Ok(h) => h,
        Err(e) => return fail(e.to_string()),
    };
    // Before saying it listens: a SIGTERM right after that drains, not kills.
    let stop = login_core::server::shutdown_signal();
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "login-core listening on {}", handle.base_url())
            .and_then(|()| writeln!(out, "instance: {}", spec.instance_id))
            .and_then(|()| out.flush());
    }
    stop.await;
    match handle.drain(spec.drain_timeout).await {
        Drained::Done => ExitCode::SUCCESS,
        Drained::Cut => fail("requests were still running at the drain deadline".into()),
        Drained::Failed(e) => fail(e),
    }
}

/// One instance process.
#[derive(Debug)]
pub struct Instance {
    child: Child,
    url: String,
    /// Reads the rest of its stdout, so that the pipe stays open.
    _stdout: JoinHandle<()>,
}

impl Instance {
    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Instances as processes on one new schema, behind a proxy. Dropping it kills the processes
/// that still run, then drops the schema.
#[derive(Debug)]
pub struct Processes {
    /// The balancer.
    pub proxy: Proxy,
    instances: Vec<Instance>,
    // Dropped last: the processes are killed (kill_on_drop) before the schema goes.
    schema: TestDatabase,
}

impl Processes {
    /// Starts `n` instances of `exe instance` (the harness binary) against the mock at
    /// `mock`, on a new schema of the PostgreSQL server `server`, with a server key of their
    /// own, and a proxy on `listen` in front of them. With `counters` (a Redis URL) they count
    /// the limits there, under a key prefix of this cluster's own.
    pub async fn start(
        exe: &Path,
        mock: &str,
        server: &str,
        counters: Option<&str>,
        n: u32,
        listen: SocketAddr,
    ) -> Result<Processes, String> {
        if !(1..=MAX_INSTANCES).contains(&n) {
            return Err(format!("--instances {n}: give 1 to {MAX_INSTANCES}"));
        }
        let schema = TestDatabase::create_on(server).await?;
        // A key nobody can guess, drawn from the operating system by login-core.
        let key = base64::engine::general_purpose::STANDARD.encode(
            login_core::random::bytes::<32>(&login_core::random::OsRandom),
        );
        let mut instances = Vec::new();
        for i in 0..n {
            let mut command = Command::new(exe);
            command
                .args(["instance", "--mock", mock, "--listen", "127.0.0.1:0"])
                .args(["--database-url", &schema.url()])
                .args(["--instance-id", &format!("core-{i}")]);
            if let Some(url) = counters {
                command
                    .args(["--counters-url", url])
                    .args(["--counters-prefix", &format!("harness:{}", schema.schema())]);
            }
            let mut child = command
                .env(SERVER_KEY_ENV, &key)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut lines = BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .map_err(|_| format!("instance {i} did not start within 30 s"))?
                .map_err(|e| format!("instance {i}: {e}"))?
                .ok_or_else(|| format!("instance {i} exited before it listened"))?;
            let url = first
                .strip_prefix("login-core listening on ")
                .ok_or_else(|| format!("instance {i} said {first:?}"))?
                .to_owned();
            let stdout =
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            instances.push(Instance {
                child,
                url,
                _stdout: stdout,
            });
        }
        let listen_addr = listen;
        let proxy = Proxy::bind(
            listen_addr,
            instances.iter().map(|i| i.url.clone()).collect(),
        )
        .await
        .map_err(|e| format!("the proxy cannot listen on {listen_addr}: {e}"))?;
        Ok(Processes {
            proxy,
            instances,
            schema,
        })
    }

    /// The instances, in the proxy's order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// The schema they share.
    pub fn schema(&self) -> &TestDatabase {
        &self.schema
    }

    /// Kills instance `i` with SIGKILL, at once, whatever it is doing; its exit status.
    pub async fn kill(&mut self, i: usize) -> Result<ExitStatus, String> {
        let child = &mut self.instance(i)?.child;
        child.start_kill().map_err(|e| e.to_string())?;
        child.wait().await.map_err(|e| e.to_string())
    }

    /// Sends SIGTERM to every instance still running and waits for each to drain and exit;
    /// their exit statuses.
    pub async fn stop(&mut self) -> Vec<Result<ExitStatus, String>> {
        for instance in &self.instances {
            if let Some(pid) = instance.child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
        }
        let mut statuses = Vec::new();
        for instance in &mut self.instances {
            statuses.push(instance.child.wait().await.map_err(|e| e.to_string()));
        }
        statuses
    }

    fn instance(&mut self, i: usize) -> Result<&mut Instance, String> {
        let n = self.instances.len();
        self.instances
            .get_mut(i)
            .ok_or_else(|| format!("no instance {i} of {n}"))
    }
}

/// The harness binary, to start instances with.
pub fn harness_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot locate the harness binary: {e}"))
}
