//! `harness instance` (hidden): one login-core instance of a cluster as a process of its own;
//! `harness up --instances N` and the cluster tests start these (see `cluster/processes.rs`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::runtime;
use harness::cluster::processes::{InstanceSpec, serve};

/// The flags of `harness instance`; the server key comes from `HARNESS_INSTANCE_SERVER_KEY`.
#[derive(Debug, Args)]
pub struct InstanceArgs {
    /// The running mock: WeChat's API, the apps, the SMS gateway.
    #[arg(long, value_name = "URL")]
    mock: String,
    /// The PostgreSQL database the cluster shares.
    #[arg(long, value_name = "URL")]
    database_url: String,
    /// Where the limits are counted (redis://HOST:PORT/DB) instead of the database.
    #[arg(long, value_name = "URL", requires = "counters_prefix")]
    counters_url: Option<String>,
    /// The keys' prefix in Redis, the same for every instance of the cluster.
    #[arg(long, value_name = "PREFIX", requires = "counters_url")]
    counters_prefix: Option<String>,
    /// This instance's name in metrics.
    #[arg(long, value_name = "NAME")]
    instance_id: String,
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// How long requests in flight may take to finish after SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    drain_timeout: Duration,
}

/// `harness instance`.
pub fn instance(args: InstanceArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(serve(InstanceSpec {
        mock: args.mock,
        database_url: args.database_url,
        counters: args.counters_url.zip(args.counters_prefix),
        instance_id: args.instance_id,
        listen: args.listen,
        drain_timeout: args.drain_timeout,
    }))
}
