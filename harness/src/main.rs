//! The `harness` command: `run` scenario files against login-core or a team's backend, `up`
//! the mock and login-core for manual use, print the scenario file `schema`, `bench` the
//! servers.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
