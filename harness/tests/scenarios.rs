//! Every scenario file under `scenarios/` as its own test: `cargo test -p harness --test
//! scenarios -- login/` runs the ones whose path contains `login/`.

use std::path::{Path, PathBuf};

use harness::runner::{RunOptions, run_file};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let trials = match harness::discover::scenario_files(&root) {
        // No scenario found is a failure, not a suite of zero tests that passes.
        Ok(files) if files.is_empty() => vec![failing(format!(
            "no scenario files under {}",
            root.display()
        ))],
        Ok(files) => files
            .into_iter()
            .map(|path: PathBuf| {
                let name = path
                    .strip_prefix(&root)
                    .unwrap_or(&path)
                    .with_extension("")
                    .display()
                    .to_string();
                Trial::test(name, move || run(&path))
            })
            .collect(),
        Err(e) => vec![failing(format!(
            "cannot list the scenarios under {}: {e}",
            root.display()
        ))],
    };
    libtest_mimic::run(&args, trials).exit();
}

/// A test named `discovery` that fails with `why`.
fn failing(why: String) -> Trial {
    Trial::test("discovery", move || Err(Failed::from(why)))
}

fn run(path: &Path) -> Result<(), Failed> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    let report = rt.block_on(run_file(path, &RunOptions::default()));
    if report.passed() {
        Ok(())
    } else {
        Err(harness::report::console::explain(&report).into())
    }
}
