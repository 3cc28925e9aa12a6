//! `harness record`: reads a running mock's journal and writes the session it holds as a
//! scenario file (`harness::record`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use harness::record::{Options, Since, build, fetch};
use harness::target::TargetProfile;

use super::{USAGE, runtime};

/// The flags of `harness record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The running mock's base URL.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:9100")]
    mock: String,
    /// The mock's control-plane token, when it was started with one (the help never shows
    /// the environment's value).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MOCK_CONTROL_TOKEN",
        hide_env_values = true
    )]
    control_token: Option<String>,
    /// Record only what came after: a journal sequence number (the `last_seq` of
    /// GET /__mock__/journal, read before the journey) or a time of the mock's clock (RFC 3339)
    /// [default: everything the journal holds].
    #[arg(long, value_name = "SEQ|TIME")]
    since: Option<String>,
    /// The backend the scenario is for: `login-core`, or a target profile file (its apps keep
    /// their names; what the profile cannot run is reported).
    #[arg(long, value_name = "login-core|FILE", default_value = "login-core")]
    target: String,
    /// Write the scenario to FILE [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("harness record: {message}");
    ExitCode::from(USAGE)
}

/// Runs `harness record`.
pub fn record(args: RecordArgs) -> ExitCode {
    let since = match args.since.as_deref().map(str::parse::<Since>).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return usage(&e),
    };
    let target = if args.target == "login-core" {
        None
    } else {
        match TargetProfile::load(std::path::Path::new(&args.target)) {
            Ok(p) => Some(p),
            Err(e) => return usage(&format!("--target {e}")),
        }
    };
    if let Some(out) = &args.output {
        if out.exists() && !args.force {
            return usage(&format!(
                "{} exists: give --force to overwrite it, or another --output",
                out.display()
            ));
        }
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let recorded = rt.block_on(async {
        let rec = fetch(&args.mock, args.control_token.as_deref(), since).await?;
        build(&rec, &Options { target })
    });
    let recorded = match recorded {
        Ok(r) => r,
        Err(e) => {
            eprintln!("harness record: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = match recorded.to_yaml() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("harness record: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &recorded.warnings {
        eprintln!("harness record: warning: {w}");
    }
    let steps = recorded.scenario.steps.len();
    let marks = recorded.fill_ins();
    let todo = match marks {
        0 => "nothing marked FILL IN".to_owned(),
        1 => "1 place marked FILL IN needs you".to_owned(),
        n => format!("{n} places marked FILL IN need you"),
    };
    match &args.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Err(e) = std::fs::create_dir_all(dir) {
                    eprintln!("harness record: cannot create {}: {e}", dir.display());
                    return ExitCode::FAILURE;
                }
            }
            if let Err(e) = std::fs::write(path, &text) {
                eprintln!("harness record: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!(
                "harness record: wrote {} ({steps} steps; {todo}). Run it: harness run {}",
                path.display(),
                path.display()
            );
        }
        None => {
            if std::io::stdout().lock().write_all(text.as_bytes()).is_err() {
                return ExitCode::FAILURE;
            }
            eprintln!("harness record: {steps} steps; {todo}");
        }
    }
    ExitCode::SUCCESS
}
