//! `harness bench`: how fast the mock and login-core are on this machine, next to the limit (a
//! bare hyper server answering the same jscode2session body to the same load generator over the
//! same number of connections), on loopback, in one run. Prints a table (Markdown) with each
//! figure, its ratio to the bare server where that means something, the target and pass/fail;
//! `--json FILE` writes the same with every run's details.
//!
//! Groups (`--only`): `mock` (jscode2session with fresh codes, the 40029 path, the control
//! plane's wx/login), `login-core` (end-to-end durable logins), `cluster` (durable logins on
//! PostgreSQL with one and two instances, next to SQLite; needs `LOGIN_CORE_TEST_POSTGRES`,
//! not part of the default set), `startup` (the binaries from
//! process start to the first answer, and in-process spawns), `scenarios` (the library's wall
//! time). The bare server runs whenever `mock` or `login-core` does.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use harness::bench::load::Settings;
use harness::bench::report::Results;
use harness::bench::{cluster, login_core, machine, mock, runs, scenarios, startup};
use serde_json::json;

use super::{USAGE, runtime};

/// The flags of `harness bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measurement window of each load run (after its warm-up).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Warm-up before each window (not counted); with fresh codes it also measures the rate
    /// the codes are minted for.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Connections (closed-loop workers, one keep-alive connection each) of every load run;
    /// login-core's concurrent clients too.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    connections: u16,
    /// Write the results (and every run's details) as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Only these groups (comma-separated) [default: all].
    #[arg(long, value_name = "GROUPS", value_delimiter = ',', value_enum)]
    only: Vec<Group>,
    /// Process starts timed per binary (the median is reported).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    starts: u32,
    /// In-process spawns timed per server (the mean is reported).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
    spawns: u32,
    /// The scenario library to time [default: scenarios].
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
}

/// A group of measurements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Group {
    /// The mock under load (with the bare server).
    Mock,
    /// login-core end to end (with the bare server).
    LoginCore,
    /// login-core on PostgreSQL, one and two instances, next to SQLite (with the bare
    /// server); only when asked for, with LOGIN_CORE_TEST_POSTGRES naming the server.
    Cluster,
    /// Process starts and in-process spawns.
    Startup,
    /// The scenario library's wall time.
    Scenarios,
}

/// `harness bench`.
pub fn bench(args: BenchArgs) -> ExitCode {
    if args.duration.is_zero() {
        eprintln!("harness: --duration must be more than zero");
        return ExitCode::from(USAGE);
    }
    let all = args.only.is_empty();
    // The cluster group needs a PostgreSQL server: it runs when asked for by name.
    let wants = |g: Group| (all && g != Group::Cluster) || args.only.contains(&g);
    let library = args
        .scenarios
        .clone()
        .unwrap_or_else(scenarios::default_dir);
    if wants(Group::Scenarios) && !library.exists() {
        eprintln!(
            "harness: no scenario library at {} (give one with --scenarios DIR)",
            library.display()
        );
        return ExitCode::from(USAGE);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let machine = machine::machine();
    let settings = Settings {
        connections: usize::from(args.connections),
        warmup: args.warmup,
        duration: args.duration,
    };
    eprintln!(
        "bench: {} cores, load average {}; windows of {:.1} s after {:.1} s of warm-up, {} connections",
        machine["cores"],
        machine["loadavg_at_start"].as_str().unwrap_or("?"),
        settings.duration.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.connections
    );
    let started = Instant::now();
    let mut res = Results::default();
    rt.block_on(async {
        if wants(Group::Startup) {
            startup::binaries(args.starts, &mut res).await;
            startup::spawns(args.spawns, &mut res).await;
        }
        let bare = if wants(Group::Mock) || wants(Group::LoginCore) || wants(Group::Cluster) {
            runs::limit(&settings, &mut res).await
        } else {
            None
        };
        // login-core before the mock runs, so its resident memory is not inflated by the
        // heap the mock runs leave behind.
        if wants(Group::LoginCore) {
            if let Err(e) = login_core::run(&settings, bare.as_ref(), &mut res).await {
                res.skip("login-core end to end", &e);
            }
        }
        if wants(Group::Cluster) {
            cluster::run(&settings, bare.as_ref(), &mut res).await;
        }
        if wants(Group::Mock) {
            mock::runs(&settings, bare.as_ref(), &mut res).await;
        }
        if wants(Group::Scenarios) {
            scenarios::run(&library, &mut res).await;
        }
    });
    drop(rt);
    let total = started.elapsed();
    res.note(format!("whole bench: {:.1} s", total.as_secs_f64()));
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let _ = write!(std::io::stdout().lock(), "{}", res.markdown());
    let mut code = if res.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    if let Some(path) = &args.json {
        let shown = json!({
            "duration_s": settings.duration.as_secs_f64(),
            "warmup_s": settings.warmup.as_secs_f64(),
            "connections": settings.connections,
            "starts": args.starts,
            "spawns": args.spawns,
        });
        let doc = res.document(&command, &machine, shown, total);
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        match std::fs::write(path, text) {
            Ok(()) => eprintln!("bench: JSON written to {}", path.display()),
            Err(e) => {
                eprintln!("harness: cannot write {}: {e}", path.display());
                code = ExitCode::from(USAGE);
            }
        }
    }
    code
}
