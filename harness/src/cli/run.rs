//! `harness run`: find, filter, run in parallel, report.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use harness::context::DEFAULT_START;
use harness::discover::{Filter, find};
use harness::report::console::{Style, explain_with, line, status_word, summary_line};
use harness::run_many::{Entry, Plan, default_jobs, execute, plan};
use harness::runner::{Outcome, RunOptions};
use harness::target::TargetProfile;
use mock_server::{Clock, MockHandle, Timestamp};

use super::{USAGE, local_url, runtime};

/// The flags of `harness run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (every *.yaml / *.yml below) [default: scenarios].
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,
    /// Only scenarios whose name or file path contains TEXT (repeatable: any of them).
    #[arg(long = "name", value_name = "TEXT")]
    names: Vec<String>,
    /// Only scenarios with TAG (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Leave out scenarios with TAG (repeatable).
    #[arg(long = "skip-tag", value_name = "TAG")]
    skip_tags: Vec<String>,
    /// Scenarios run at once [default: 4 per CPU, at least 4]. Against a target, scenarios
    /// that move the clock, plant faults or count requests still run alone.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Write a JUnit XML report (one testsuite per folder).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write an HTML report: one self-contained page with every scenario drawn as a sequence
    /// diagram (mini-program, backend, WeChat) whose arrows open to the request and answer.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Your backend's base URL: run against it instead of the embedded login-core (overrides
    /// the profile's base_url).
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Target profile (YAML, version 2): the backend's routes, token, outcomes and apps
    /// [default with --target: login-core's].
    #[arg(long, value_name = "FILE")]
    target_profile: Option<PathBuf>,
    /// A running mock to use, for a target that reaches it there (never reset; its apps and
    /// clock are set up by the run).
    #[arg(long, value_name = "URL")]
    mock: Option<String>,
    /// The run's seed: with a target, every scenario's users, codes, openids and phone numbers
    /// are derived from it and the scenario's path [default: a fresh one per run, printed].
    #[arg(long, value_name = "TEXT")]
    seed: Option<String>,
    /// With a target and no --mock: where the in-process mock listens; your backend's WeChat
    /// base URL must point here.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9100")]
    mock_listen: SocketAddr,
    /// No line for passing scenarios: only failures and the summary.
    #[arg(short, long)]
    quiet: bool,
}

/// Where the scenarios are when no path is given: `scenarios` here, else the workspace's.
fn default_paths() -> Vec<PathBuf> {
    let here = PathBuf::from("scenarios");
    if here.exists() {
        return vec![here];
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    if workspace.exists() {
        return vec![workspace];
    }
    vec![here]
}

/// The target profile from `--target-profile` and `--target`; `None`: the embedded backend.
fn target(args: &RunArgs) -> Result<Option<TargetProfile>, String> {
    let mut profile = match &args.target_profile {
        Some(path) => Some(TargetProfile::load(path).map_err(|e| format!("--target-profile {e}"))?),
        None => None,
    };
    if let Some(url) = &args.target {
        match &mut profile {
            Some(p) => p.base_url = Some(url.clone()),
            None => profile = Some(TargetProfile::login_core(url.clone())),
        }
    }
    if let Some(p) = &mut profile {
        let base = p.base().trim_end_matches('/').to_owned();
        if base.is_empty() {
            return Err("the target profile has no base_url: give one, or --target URL".into());
        }
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "target {base:?}: expected an http:// or https:// URL (--target or the profile's base_url)"
            ));
        }
        p.base_url = Some(base);
    }
    Ok(profile)
}

/// Before the first scenario: does anything answer at the target's base URL? Any HTTP answer
/// will do; a refused connection is one clear error instead of one failure per scenario.
async fn preflight(profile: &TargetProfile, from_flag: bool) -> Result<(), String> {
    let base = profile.base();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(format!("{base}/")).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = if e.is_timeout() {
                "no answer within 5 s".to_owned()
            } else if e.is_connect() {
                "the connection was refused".to_owned()
            } else {
                e.without_url().to_string()
            };
            let source = if from_flag {
                "--target"
            } else {
                "the profile's base_url"
            };
            Err(format!(
                "cannot reach the target at {base} ({source}): {why}. Start your backend there, or point {source} at where it listens."
            ))
        }
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("harness: {message}");
    ExitCode::from(USAGE)
}

/// Prints a line; a closed stdout (`| head`) is not an error worth dying for.
fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `harness run`.
pub fn run(args: RunArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        default_paths()
    } else {
        args.paths.clone()
    };
    let profile = match target(&args) {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    if args.mock.is_some() && profile.is_none() {
        return usage(
            "--mock needs a target (--target URL or --target-profile): the embedded login-core always gets its own in-process mock",
        );
    }
    let found = match find(&paths) {
        Ok(f) => f,
        Err(e) => return usage(&e),
    };
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if found.is_empty() {
        return usage(&format!("no scenario files (*.yaml, *.yml) in {shown}"));
    }
    let filter = Filter {
        names: args.names.clone(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
    };
    let plan = plan(found, &filter);
    if plan.items.is_empty() {
        return usage(&format!(
            "no scenario in {shown} matches the filters ({} left out)",
            plan.filtered_out
        ));
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(run_plan(args, plan, profile, &shown))
}

async fn run_plan(
    args: RunArgs,
    plan: Plan,
    profile: Option<TargetProfile>,
    shown: &str,
) -> ExitCode {
    let style = Style::detect();
    if let Some(p) = &profile {
        if let Err(e) = preflight(p, args.target.is_some()).await {
            return usage(&e);
        }
    }
    let mut options = match profile {
        Some(p) => RunOptions::target(
            p,
            args.mock
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_owned())
                .unwrap_or_default(),
            args.seed.clone(),
        ),
        None => RunOptions::default(),
    };
    // A target reaches the mock at a known address: one mock for the whole run, never reset.
    let _mock: Option<MockHandle> = if options.target.is_some()
        && options.mock_url.as_deref().unwrap_or_default().is_empty()
    {
        match start_shared_mock(args.mock_listen).await {
            Ok(m) => {
                options.mock_url = Some(local_url(m.addr()));
                Some(m)
            }
            Err(e) => {
                return usage(&format!(
                    "{e} (is `harness up` or a mock-server running there? use it with --mock URL, or pick another --mock-listen)"
                ));
            }
        }
    } else {
        None
    };
    options.record = args.html.is_some();
    if let Err(e) = options.prepare().await {
        return usage(&e);
    }
    let jobs = args.jobs.map_or_else(default_jobs, usize::from);
    let seed = if options.target.is_some() {
        Some(options.seed_used())
    } else {
        None
    };
    let n = plan.items.len();
    if !args.quiet {
        let against = match (&options.target, &options.mock_url) {
            (Some(t), Some(m)) => format!(
                "against {} at {} (its WeChat base URL must be {m}), run seed {} (--seed to repeat)",
                t.display_name(),
                t.base(),
                seed.as_deref().unwrap_or_default()
            ),
            _ => "against the embedded login-core".to_owned(),
        };
        let left_out = if plan.filtered_out > 0 {
            format!(" ({} left out by the filters)", plan.filtered_out)
        } else {
            String::new()
        };
        let at_once = if jobs == 1 {
            "one at a time".to_owned()
        } else {
            format!("up to {jobs} at a time")
        };
        say(&format!(
            "running {n} scenario{} from {shown}{left_out} {against}, {at_once}\n",
            if n == 1 { "" } else { "s" }
        ));
    }
    let width = plan
        .items
        .iter()
        .map(|i| i.found.relative_display().chars().count())
        .max()
        .unwrap_or(0);
    let quiet = args.quiet;
    let summary = execute(plan, &options, jobs, |entry| {
        if !(quiet && entry.report.ok()) {
            say(&line(entry, width, style));
        }
    })
    .await;
    let failures: Vec<_> = summary.entries.iter().filter(|e| !e.report.ok()).collect();
    for e in &failures {
        say(&format!("\n{}\n", heading(e, style)));
        say(explain_with(&e.report, style).trim_end());
    }
    let mut code = if summary.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    say("");
    if let Some(path) = &args.junit {
        match harness::report::junit::write(&summary, path) {
            Ok(()) => say(&format!("JUnit report: {}", path.display())),
            Err(e) => {
                eprintln!("harness: cannot write the JUnit report: {e}");
                code = ExitCode::from(USAGE);
            }
        }
    }
    if let Some(path) = &args.json {
        match harness::report::json::write(&summary, path) {
            Ok(()) => say(&format!("JSON report: {}", path.display())),
            Err(e) => {
                eprintln!("harness: cannot write the JSON report: {e}");
                code = ExitCode::from(USAGE);
            }
        }
    }
    if let Some(path) = &args.html {
        match harness::report::html::write(&summary, path) {
            Ok(()) => say(&format!("HTML report: {}", path.display())),
            Err(e) => {
                eprintln!("harness: cannot write the HTML report: {e}");
                code = ExitCode::from(USAGE);
            }
        }
    }
    say(&summary_line(&summary, style));
    code
}

/// `── FAIL login/x.yaml: name`, above a failure's explanation.
fn heading(e: &Entry, style: Style) -> String {
    let path = e.found.relative_display();
    let mut text = format!("── {} {path}", status_word(&e.report.outcome));
    if e.report.name != path {
        text.push_str(": ");
        text.push_str(&e.report.name);
    }
    if style.color {
        let code = if matches!(e.report.outcome, Outcome::Error { .. }) {
            "1;33"
        } else {
            "1;31"
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text
    }
}

/// The mock a target talks to: seed `0` (the default app is the one `harness up` and
/// `mock-server` print), a virtual clock the runner sets per scenario.
async fn start_shared_mock(listen: SocketAddr) -> Result<MockHandle, mock_server::StartError> {
    mock_server::spawn(mock_server::Config {
        listen,
        seed: "0".into(),
        clock: Clock::manual(Timestamp::from_secs(DEFAULT_START)),
        ..mock_server::Config::default()
    })
    .await
}
