//! Command-line parsing and the commands. Exit codes: 0 everything passed (or the
//! command did its job), 1 a scenario failed or errored (or a server could not start),
//! 2 a usage error (bad flag, no scenarios, bad target profile).

mod bench;
mod instance;
mod record;
mod run;
mod up;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Scenario runner and simulated mini-program for WeChat login backends.
///
/// Scenario files (YAML, one user journey each) run against the embedded reference backend
/// login-core or your own backend (`--target`), with an offline WeChat mock. See
/// scenarios/README.md for the format.
#[derive(Debug, Parser)]
#[command(name = "harness", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenario files and report: one line per scenario, failures explained, exit 1 on any
    /// failure.
    ///
    /// Every scenario gets its own mock and login-core, in process, on random ports, with a
    /// fresh store and one virtual clock, so scenarios run in parallel and never interfere.
    ///
    /// With --target (or a --target-profile with a base_url) the scenarios run against your
    /// backend instead, with one mock for the whole run (in process at --mock-listen, or a
    /// running one at --mock), never reset: every scenario meets users, codes and phone numbers
    /// of its own, so they run in parallel; those that move the clock, plant faults or count
    /// requests run alone. Your backend's WeChat base URL (https://api.weixin.qq.com) must point
    /// at that mock.
    ///
    /// Exit status: 0 all passed, 1 a scenario failed or could not run, 2 usage error (no
    /// scenarios, bad target profile, mock address taken).
    Run(run::RunArgs),
    /// Start the WeChat mock and login-core (SQLite) for manual use, until Ctrl-C.
    ///
    /// The mock runs on the system clock with a fixed seed (the same default appid and secret
    /// every time); login-core keeps its users and sessions in DIR/login-core.db (its server key
    /// in DIR/server.key) and serves the apps the mock has at start. Point a backend's WeChat
    /// base URL at the mock, or a client at login-core. Ctrl-C or SIGTERM stops both, finishing
    /// requests in flight.
    ///
    /// With --instances N (and --database-url postgres://...), N login-core processes share a
    /// new schema of that database (dropped at the end) behind a round-robin proxy at --listen.
    ///
    /// With --mock URL, no mock is started: login-core alone, on the mock running at URL (its
    /// apps, its SMS gateway).
    Up(up::UpArgs),
    /// One login-core instance of a cluster, as `harness up --instances` starts them.
    #[command(hide = true)]
    Instance(instance::InstanceArgs),
    /// Print the JSON Schema of scenario files (kept in scenarios/schema.json), or with
    /// --target-profile of target profiles (scenarios/target-profile.schema.json).
    Schema {
        /// The schema of target profiles instead.
        #[arg(long)]
        target_profile: bool,
    },
    /// Measure the mock and login-core on loopback next to a bare hyper server (the limit):
    /// throughput and latency under load, startup, spawn time, memory, the scenario library's
    /// wall time. Prints a Markdown table with targets and pass/fail.
    ///
    /// Every load run uses the same in-process load generator: N workers, each with its own
    /// keep-alive HTTP/1.1 connection, closed loop, a warm-up, then a fixed window. Startup
    /// needs the mock-server and login-core binaries next to this one
    /// (`cargo build --release -p harness -p mock-server -p login-core`).
    ///
    /// Exit status: 0 measured (targets missed are reported, not an error), 1 a measurement
    /// could not be taken, 2 usage error.
    Bench(bench::BenchArgs),
    /// Turn a session made by hand against a running mock into a scenario file.
    ///
    /// Reads the mock's journal: the control-plane calls that changed something (the
    /// mini-program's wx.login, getPhoneNumber and user-info calls, fault rules, clock moves,
    /// users, apps, options) and the WeChat requests your backend or curl made. Writes a
    /// scenario that replays them: the mini-program's calls as wx.* steps, each jscode2session
    /// as a login through the backend under test (getuserphonenumber as bind_phone) expecting
    /// what a correct backend answers to WeChat's recorded answer, faults and clock moves where
    /// they happened, and at the end checks that WeChat got the same calls, in order, with the
    /// same errcodes. Codes, openids, session keys and times are never asserted. Places that
    /// need a person are marked FILL IN.
    ///
    /// Exit status: 0 written, 1 the mock could not be read or holds nothing to record, 2 usage
    /// error (bad --since, bad --target profile, output exists).
    Record(record::RecordArgs),
}

/// Exit code of usage errors.
const USAGE: u8 = 2;

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            init_tracing("off");
            run::run(args)
        }
        Command::Up(args) => {
            init_tracing("info");
            up::up(args)
        }
        Command::Record(args) => {
            init_tracing("off");
            record::record(args)
        }
        Command::Instance(args) => {
            init_tracing("warn");
            instance::instance(args)
        }
        Command::Bench(args) => {
            init_tracing("off");
            bench::bench(args)
        }
        Command::Schema { target_profile } => {
            print!("{}", schema_text(target_profile));
            ExitCode::SUCCESS
        }
    }
}

/// A JSON Schema as `scenarios/` holds it: pretty-printed, with a final newline.
pub fn schema_text(target_profile: bool) -> String {
    let schema = if target_profile {
        harness::target::json_schema()
    } else {
        harness::scenario::json_schema()
    };
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Logs go to stderr; `RUST_LOG` overrides the default filter (`off` while running scenarios:
/// they provoke errors on purpose).
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A multi-threaded Tokio runtime, or the error as an exit code.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("harness: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

/// A server's URL for us to call: an unspecified bind address (`0.0.0.0`) is reached on
/// loopback.
fn local_url(addr: std::net::SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}
