//! `mock-server`: runs the WeChat (and Tencent Cloud SMS) mock until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mock_server::config::{Config, SeedFile};
use mock_server::server::{Shared, serve};
use tokio::net::TcpListener;

/// An offline mock of the WeChat mini-program server APIs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "MOCK_LISTEN", default_value = "127.0.0.1:9100")]
    listen: SocketAddr,
    /// Seed for identities, codes, tokens and fault probabilities.
    #[arg(long, env = "MOCK_SEED", default_value = "0")]
    seed: String,
    /// JSON file of options, apps and users loaded at start.
    #[arg(long, env = "MOCK_SEED_FILE")]
    seed_file: Option<PathBuf>,
    /// Refuse wx.login for users that were not created first.
    #[arg(long, env = "MOCK_STRICT")]
    strict: bool,
    /// Require `Authorization: Bearer <token>` on the control plane. Needed to listen on an
    /// address other than loopback.
    #[arg(long, env = "MOCK_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,
    /// Serve the control plane (every user's session_key, reset, faults, the clock) without a
    /// token on a non-loopback address: anyone on the network can use it.
    #[arg(long, env = "MOCK_OPEN_CONTROL_PLANE")]
    open_control_plane: bool,
    /// Accept, once each, `wx.login` codes the mock never minted (from a mini-program running
    /// without the wx-login-kit shim) as codes of the user `developer`: login only, open data
    /// cannot work. Same as the option `accept_foreign_codes`.
    #[arg(long, env = "MOCK_ACCEPT_FOREIGN_CODES")]
    accept_foreign_codes: bool,
    /// Without a command: serve.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Print one open-data payload (encryptedData, iv, ...) for given inputs, then exit.
    Fixture(mock_server::fixture::FixtureArgs),
}

fn load(args: &Args) -> Result<Config, String> {
    let mut seed_file = match &args.seed_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read seed file {}: {e}", path.display()))?;
            SeedFile::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => SeedFile::default(),
    };
    for (flag, option) in [
        (args.strict, "strict"),
        (args.accept_foreign_codes, "accept_foreign_codes"),
    ] {
        if flag {
            let mut opts = seed_file
                .options
                .take()
                .unwrap_or_else(|| serde_json::json!({}));
            if let Some(map) = opts.as_object_mut() {
                map.insert(option.into(), true.into());
            }
            seed_file.options = Some(opts);
        }
    }
    let config = Config {
        listen: args.listen,
        seed: args.seed.clone(),
        seed_file,
        control_token: args.control_token.clone(),
        open_control_plane: args.open_control_plane,
        ..Config::default()
    };
    config.check()?;
    Ok(config)
}

/// Ctrl-C or SIGTERM. The handlers are installed when this is called, before the start
/// lines are printed, so that a signal sent right after them stops the mock cleanly.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut term, mut int) = signals;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term.take()) => {},
                () = wait(int.take()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
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
    if let Some(Command::Fixture(fixture)) = &args.command {
        return match mock_server::fixture::run(fixture) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mock-server fixture: {e}");
                ExitCode::from(2)
            }
        };
    }
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-server: {e}");
            return ExitCode::from(2);
        }
    };
    let shared = match Shared::new(&config) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("mock-server: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mock-server: cannot listen on {}: {e}", config.listen);
            return ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().map_or(config.listen, |a| a);
    let app = shared.engine.default_app();
    let stop = shutdown_signal();
    // stdout carries the facts a script needs; logs go to stderr.
    println!("mock-server listening on http://{addr}");
    println!("default app: appid={} secret={}", app.appid, app.secret);
    println!(
        "control plane: http://{addr}/__mock__/ (OpenAPI at /__mock__/openapi.json) dashboard: http://{addr}/__mock__/ui/"
    );
    let sms = shared.engine.sms_config();
    // Written, not printed: a reader that stopped after the lines above must not stop the mock.
    let _ = writeln!(
        std::io::stdout(),
        "sms gateway: POST http://{addr}{} secret_id={} secret_key={} sdk_app_id={} sign_name={} templates={}",
        mock_server::tencent::SMS_PATH,
        sms.secret_id,
        sms.secret_key,
        sms.sdk_app_ids.first().map_or("", String::as_str),
        sms.sign_names.first().map_or("", |s| s.name.as_str()),
        sms.templates
            .iter()
            .map(|t| t.spec.id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    tracing::info!(%addr, appid = %app.appid, "mock-server started");
    match serve(listener, shared, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-server: {e}");
            ExitCode::from(1)
        }
    }
}
