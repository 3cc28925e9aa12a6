//! The `harness` command: `run` scenario files against login-core or a team's backend, `up`
//! the mock and login-core for manual use, `record` a session made by hand as a scenario,
//! print the scenario file `schema`, `bench` the servers.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
