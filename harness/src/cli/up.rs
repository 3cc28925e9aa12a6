//! `harness up`: the mock (system clock) and login-core (SQLite file) for manual use: the way a
//! developer points a mini-program's backend, or a mini-program, at an offline WeChat. With
//! `--instances N`, N login-core processes on one PostgreSQL schema behind a round-robin proxy;
//! with `--mock URL`, login-core alone, on a mock that is already running.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use login_core::LoginCoreHandle;
use mock_server::MockHandle;

use super::{local_url, runtime};
use login_core::server::shutdown_signal;

/// The flags of `harness up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where the mock listens (WeChat's API and the control plane under /__mock__/).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100")]
    listen_mock: SocketAddr,
    /// Where login-core listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// login-core's data folder.
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
    /// The mock's seed: the same seed gives the same appids, secrets and openids.
    #[arg(long, default_value = "0")]
    seed: String,
    /// Use the mock already running at URL instead of starting one: login-core calls it as
    /// WeChat, serves the apps it has now (its default app first) and sends SMS through its
    /// gateway.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with_all = ["listen_mock", "seed", "open_control_plane", "instances", "database_url"]
    )]
    mock: Option<String>,
    /// Require `Authorization: Bearer <token>` on the mock's control plane; needed for a
    /// --listen-mock other than loopback (a phone on the LAN). With --mock: the running mock's
    /// token.
    #[arg(long, env = "MOCK_CONTROL_TOKEN")]
    control_token: Option<String>,
    /// Serve the mock's control plane without a token on a non-loopback address.
    #[arg(long)]
    open_control_plane: bool,
    /// How many login-core instances: more than one run as processes of their own on one
    /// PostgreSQL database (--database-url), behind a round-robin proxy at --listen.
    #[arg(long, value_name = "N", default_value = "1")]
    instances: u32,
    /// The PostgreSQL server the instances share (postgres://USER@HOST:PORT/DATABASE): they
    /// work in a new schema of it, dropped when `harness up` ends. Needed with --instances.
    #[arg(long, value_name = "URL", env = "HARNESS_DATABASE_URL")]
    database_url: Option<String>,
    /// With --instances: the instances count the limits in this Redis
    /// (redis://HOST:PORT/DB, login-core's limits.counters_url) rather than in the database,
    /// under a key prefix of this run's own.
    #[arg(
        long,
        value_name = "URL",
        env = "HARNESS_COUNTERS_URL",
        requires = "database_url"
    )]
    counters_url: Option<String>,
}

/// `harness up`.
pub fn up(args: UpArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        if let Some(url) = &args.mock {
            return up_on_running_mock(&args, url).await;
        }
        let mock = match mock_server::spawn(mock_server::Config {
            listen: args.listen_mock,
            seed: args.seed.clone(),
            control_token: args.control_token.clone(),
            open_control_plane: args.open_control_plane,
            ..mock_server::Config::default()
        })
        .await
        {
            Ok(m) => m,
            Err(e) => {
                eprintln!("harness: mock-server: {e}");
                return ExitCode::FAILURE;
            }
        };
        if args.instances > 1 || args.database_url.is_some() {
            return up_cluster(&args, mock).await;
        }
        let core = match start_core_on_disk(&mock, args.listen, &args.data).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("harness: login-core: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The signal handlers go in before the banner says login-core is up: a SIGTERM right
        // after it must drain, not kill.
        let stop = shutdown_signal();
        print_banner(&mock, &core, &args.data);
        stop.await;
        eprintln!("harness: stopping (finishing requests in flight)");
        core.shutdown().await;
        mock.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// `harness up --mock URL`: login-core on the running mock, until a signal.
async fn up_on_running_mock(args: &UpArgs, url: &str) -> ExitCode {
    let config =
        match harness::context::running_mock_config(url, args.control_token.as_deref()).await {
            Ok(config) => login_core::Config {
                listen: args.listen,
                database_url: format!("sqlite://{}", args.data.join("login-core.db").display()),
                server_key_file: args.data.join("server.key"),
                ..config
            },
            Err(e) => {
                eprintln!("harness: {e}");
                return ExitCode::FAILURE;
            }
        };
    let apps: Vec<&str> = config.apps.iter().map(|a| a.appid.as_str()).collect();
    let apps = apps.join(", ");
    let core = match login_core::spawn(config.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("harness: login-core: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The signal handlers go in before the banner says login-core is up: a SIGTERM right
    // after it must drain, not kill.
    let stop = shutdown_signal();
    let c = local_url(core.addr());
    let banner = format!(
        "mock (WeChat API)  {wechat}    (running already)\n\
         login-core         {c}    (OpenAPI: {c}/openapi.json; data in {data})\n\
         apps               {apps}\n\n\
         Ctrl-C stops login-core; the mock keeps running.\n",
        wechat = config.wechat_base_url,
        data = args.data.display(),
    );
    {
        // A reader that went away (a closed pipe) is no reason to stop serving.
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    stop.await;
    eprintln!("harness: stopping (finishing requests in flight)");
    core.shutdown().await;
    ExitCode::SUCCESS
}

/// `harness up --instances N`: the processes, their proxy, until a signal; then each drains.
async fn up_cluster(args: &UpArgs, mock: MockHandle) -> ExitCode {
    let Some(server) = args
        .database_url
        .as_deref()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    else {
        eprintln!(
            "harness: --instances {} needs a PostgreSQL database the instances share: \
             pass --database-url postgres://USER@HOST:PORT/DATABASE (or HARNESS_DATABASE_URL)",
            args.instances
        );
        return ExitCode::from(super::USAGE);
    };
    let exe = match harness::cluster::processes::harness_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("harness: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mock_url = local_url(mock.addr());
    let mut cluster = match harness::cluster::processes::Processes::start(
        &exe,
        &mock_url,
        server,
        args.counters_url.as_deref(),
        args.instances,
        args.listen,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("harness: login-core cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Before the banner: a signal right after it drains the instances.
    let stop = shutdown_signal();
    let app = mock.default_app();
    let proxy = local_url(cluster.proxy.addr());
    println!("mock (WeChat API)  {mock_url}    use it in place of https://api.weixin.qq.com");
    println!("control plane      {mock_url}/__mock__/");
    println!(
        "login-core         {proxy}    (round-robin over {} instances; x-harness-instance: N pins one)",
        args.instances
    );
    for (i, instance) in cluster.instances().iter().enumerate() {
        println!(
            "  core-{i}           {}    (pid {})",
            instance.url(),
            instance.pid().unwrap_or_default()
        );
    }
    println!(
        "database           schema {} (dropped when this ends)",
        cluster.schema().schema()
    );
    println!(
        "default app        appid={} secret={}",
        app.appid.as_str(),
        app.secret.as_str()
    );
    println!();
    println!("Ctrl-C stops everything: each instance finishes its requests in flight.");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    stop.await;
    eprintln!("harness: stopping the instances (each drains), then the mock");
    let mut code = ExitCode::SUCCESS;
    for (i, status) in cluster.stop().await.into_iter().enumerate() {
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("harness: core-{i} ended with {s}");
                code = ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("harness: core-{i}: {e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    drop(cluster);
    mock.shutdown().await;
    code
}

/// login-core on the system clock with an SQLite file under `data`, calling the mock as WeChat
/// and serving every app the mock knows now (its default app first).
pub async fn start_core_on_disk(
    mock: &MockHandle,
    listen: SocketAddr,
    data: &Path,
) -> Result<LoginCoreHandle, String> {
    let mut config = login_core::Config {
        listen,
        database_url: format!("sqlite://{}", data.join("login-core.db").display()),
        server_key_file: data.join("server.key"),
        wechat_base_url: local_url(mock.addr()),
        ..login_core::Config::default()
    };
    config.apps = harness::context::mock_apps(mock);
    harness::context::sms_through_mock(&mut config, mock);
    login_core::spawn(config).await.map_err(|e| e.to_string())
}

fn print_banner(mock: &MockHandle, core: &LoginCoreHandle, data: &Path) {
    let m = local_url(mock.addr());
    let c = local_url(core.addr());
    let app = mock.default_app();
    let (appid, secret) = (app.appid.as_str(), app.secret.as_str());
    println!("mock (WeChat API)  {m}    use it in place of https://api.weixin.qq.com");
    println!("control plane      {m}/__mock__/    (OpenAPI: {m}/__mock__/openapi.json)");
    println!(
        "login-core         {c}    (OpenAPI: {c}/openapi.json; data in {})",
        data.display()
    );
    println!("default app        appid={appid} secret={secret}");
    println!(
        "SMS                login-core sends codes through the mock's Tencent Cloud SMS gateway ({m}/tencentcloud/sms); read them at {m}/__mock__/sms"
    );
    println!();
    println!("Try it: wx.login in the mini-program, then the login at the backend:");
    println!(
        "  code=$(curl -s -X POST {m}/__mock__/wx/login -d '{{\"user\":\"alice\"}}' | sed -E 's/.*\"code\":\"([^\"]*)\".*/\\1/')"
    );
    println!(
        "  curl -s -X POST {c}/api/login -H 'Content-Type: application/json' -d '{{\"code\":\"'$code'\"}}'"
    );
    println!();
    println!("Ctrl-C stops both.");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}
