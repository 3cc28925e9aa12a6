//! `harness up`: the mock (system clock) and login-core (SQLite file) for manual use: the way a
//! developer points a mini-program's backend, or a mini-program, at an offline WeChat.

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
    /// Require `Authorization: Bearer <token>` on the mock's control plane; needed for a
    /// --listen-mock other than loopback (a phone on the LAN).
    #[arg(long, env = "MOCK_CONTROL_TOKEN")]
    control_token: Option<String>,
    /// Serve the mock's control plane without a token on a non-loopback address.
    #[arg(long)]
    open_control_plane: bool,
}

/// `harness up`.
pub fn up(args: UpArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
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
        let core = match start_core_on_disk(&mock, args.listen, &args.data).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("harness: login-core: {e}");
                return ExitCode::FAILURE;
            }
        };
        print_banner(&mock, &core, &args.data);
        shutdown_signal().await;
        eprintln!("harness: stopping (finishing requests in flight)");
        core.shutdown().await;
        mock.shutdown().await;
        ExitCode::SUCCESS
    })
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
