//! The `login-core` binary: reads configuration (file, environment, flags), sets up tracing,
//! binds, serves until Ctrl-C or SIGTERM, then stops accepting and finishes the requests in
//! flight within `drain_timeout` (exit 0; 1 when some were cut).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use login_core::config::{
    AppConfig, Config, Registration, ServerKeyText, SmsProvider, TencentSecretKey,
};
use login_core::ids::{AppId, AppSecret, PlatformId};
use login_core::server::Drained;

/// A reference login service for WeChat mini-programs.
///
/// Against WeChat: `login-core --appid wx... --secret ...` or a config file. Against the offline
/// mock: the same, with --wechat-base-url at the mock (or `harness up --mock URL`, which reads
/// the mock's apps).
#[derive(Debug, Parser)]
#[command(name = "login-core", version)]
struct Args {
    /// TOML configuration file (see README); flags and environment override it.
    #[arg(long, env = "LOGIN_CORE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "LOGIN_CORE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Database URL: sqlite://PATH, sqlite::memory: or postgres://USER@HOST:PORT/DATABASE
    /// [default: sqlite://data/login-core.db].
    #[arg(long, env = "LOGIN_CORE_DATABASE_URL")]
    database_url: Option<String>,
    /// Where the rate limits' counters live, shared by the instances:
    /// redis://[USER:PASSWORD@]HOST[:PORT][/DB] [default: the database when PostgreSQL, else
    /// memory].
    #[arg(long, env = "LOGIN_CORE_COUNTERS_URL", hide_env_values = true)]
    counters_url: Option<String>,
    /// WeChat's base URL [default: https://api.weixin.qq.com].
    #[arg(long, env = "LOGIN_CORE_WECHAT_BASE_URL")]
    wechat_base_url: Option<String>,
    /// An app to serve (with --secret); added before the file's apps, so it is the default.
    #[arg(long, env = "LOGIN_CORE_APPID", requires = "secret")]
    appid: Option<String>,
    /// The AppSecret of --appid.
    #[arg(
        long,
        env = "LOGIN_CORE_SECRET",
        requires = "appid",
        hide_env_values = true
    )]
    secret: Option<String>,
    /// The open-platform account of --appid, if bound.
    #[arg(long, env = "LOGIN_CORE_OPEN_PLATFORM", requires = "appid")]
    open_platform: Option<String>,
    /// The server key sealing session keys at rest: base64 of 32 bytes
    /// [default: read from or created in data/server.key].
    #[arg(long, env = "LOGIN_CORE_SERVER_KEY", hide_env_values = true)]
    server_key: Option<String>,
    /// Keys values may still be sealed under after a rotation (comma-separated base64; they
    /// open, only the server key seals) [default: none, or the file's previous_server_keys].
    #[arg(
        long,
        env = "LOGIN_CORE_PREVIOUS_SERVER_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    previous_server_keys: Vec<String>,
    /// A name for this instance: every metric series carries it as `instance_id`
    /// [default: the file's instance_id, else HOSTNAME-PID].
    #[arg(long, env = "LOGIN_CORE_INSTANCE_ID")]
    instance_id: Option<String>,
    /// How long requests in flight may take to finish after SIGTERM (`30s`)
    /// [default: the file's drain_timeout, else 30s].
    #[arg(long, env = "LOGIN_CORE_DRAIN_TIMEOUT", value_parser = parse_duration)]
    drain_timeout: Option<Duration>,
    /// The registration policy of every app: `auto` or `phone_required` (overrides the file).
    #[arg(long, env = "LOGIN_CORE_REGISTRATION")]
    registration: Option<Registration>,
    /// Where SMS codes go: `none`, `log` (development, loopback only) or `tencent`.
    #[arg(long, env = "LOGIN_CORE_SMS_PROVIDER")]
    sms_provider: Option<SmsProvider>,
    /// The Tencent Cloud SMS endpoint [default: https://sms.tencentcloudapi.com].
    #[arg(long, env = "LOGIN_CORE_SMS_ENDPOINT")]
    sms_endpoint: Option<String>,
    /// The Tencent Cloud SecretId.
    #[arg(long, env = "LOGIN_CORE_SMS_SECRET_ID")]
    sms_secret_id: Option<String>,
    /// The Tencent Cloud SecretKey.
    #[arg(long, env = "LOGIN_CORE_SMS_SECRET_KEY", hide_env_values = true)]
    sms_secret_key: Option<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime_serde::re::humantime::parse_duration(text)
        .map_err(|e| format!("{e} (a duration such as 30s or 2m)"))
}

/// This process's name among the instances: the host name and the process id.
fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "login-core".into());
    let mut id = format!("{host}-{}", std::process::id());
    id.truncate(64);
    id
}

fn load(args: &Args) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(u) = &args.database_url {
        config.database_url.clone_from(u);
    }
    if let Some(u) = &args.counters_url {
        config.limits.counters_url = Some(u.clone());
    }
    if let Some(u) = &args.wechat_base_url {
        config.wechat_base_url.clone_from(u);
    }
    if let Some(k) = &args.server_key {
        config.server_key = Some(ServerKeyText(k.clone()));
    }
    if let Some(id) = &args.instance_id {
        config.instance_id = Some(id.clone());
    }
    if config.instance_id.is_none() {
        config.instance_id = Some(default_instance_id());
    }
    if let Some(d) = args.drain_timeout {
        config.drain_timeout = d;
    }
    if !args.previous_server_keys.is_empty() {
        config.previous_server_keys = args
            .previous_server_keys
            .iter()
            .map(|k| ServerKeyText(k.clone()))
            .collect();
    }
    if let (Some(appid), Some(secret)) = (&args.appid, &args.secret) {
        config.apps.insert(
            0,
            AppConfig {
                appid: AppId::new(appid.as_str()),
                secret: AppSecret::new(secret.as_str()),
                open_platform: args.open_platform.as_deref().map(PlatformId::new),
                registration: Registration::default(),
            },
        );
    }
    if let Some(policy) = args.registration {
        for app in &mut config.apps {
            app.registration = policy;
        }
    }
    if let Some(p) = args.sms_provider {
        config.sms.provider = p;
    }
    if let Some(e) = &args.sms_endpoint {
        config.sms.tencent.endpoint.clone_from(e);
    }
    if let Some(id) = &args.sms_secret_id {
        config.sms.tencent.secret_id.clone_from(id);
    }
    if let Some(key) = &args.sms_secret_key {
        config.sms.tencent.secret_key = TencentSecretKey(key.clone());
    }
    if config.apps.is_empty() {
        return Err(
            "no apps configured: pass --appid and --secret, or a --config file with [[apps]] (against a running mock-server, `harness up --mock URL` reads its apps)"
                .into(),
        );
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("login-core: {e}");
            return ExitCode::from(2);
        }
    };
    let handle = match login_core::spawn(config.clone()).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("login-core: {e}");
            return ExitCode::from(1);
        }
    };
    // Listening for SIGTERM before saying the server is up: a signal right after drains.
    let stop = login_core::server::shutdown_signal();
    // stdout carries the facts a script needs; logs go to stderr. A reader that went away
    // (a closed pipe) is no reason to stop serving.
    let facts = format!(
        "login-core listening on {url}\napps: {apps}\nWeChat at {wechat}\nAPI: {url}/openapi.json\ninstance: {instance}\n",
        url = handle.base_url(),
        apps = config
            .apps
            .iter()
            .map(|a| a.appid.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        wechat = config.wechat_base_url,
        instance = config.instance_id.as_deref().unwrap_or_default(),
    );
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(facts.as_bytes()).and_then(|()| out.flush());
    }
    stop.await;
    match handle.drain(config.drain_timeout).await {
        Drained::Done => {
            tracing::info!("drained: every request in flight finished");
            ExitCode::SUCCESS
        }
        Drained::Cut => {
            tracing::error!(
                drain_timeout = ?config.drain_timeout,
                "requests were still running at the drain deadline; they were cut"
            );
            ExitCode::from(1)
        }
        Drained::Failed(e) => {
            eprintln!("login-core: {e}");
            ExitCode::from(1)
        }
    }
}
