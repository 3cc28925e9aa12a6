//! Load runs as the groups take them: each with the cores the process kept busy ([`measured`]),
//! the limit (the bare server, [`limit`]) every other run is compared to, and single-use
//! workloads (fresh codes) run in two parts, calibration then window ([`fresh_run`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};

use super::bare;
use super::load::{self, Expect, Item, Report, Settings, Workload};
use super::machine::cpu_seconds;
use super::report::{Results, Unit, ms, report_json, show, summary, thousands};

/// A load run, with the cores the whole process (servers and load generator) kept busy
/// meanwhile.
pub async fn measured(addr: SocketAddr, work: Arc<Workload>, settings: &Settings) -> (Report, f64) {
    measured_spread(&[addr], work, settings).await
}

/// [`measured`] with the connections spread over `addrs` ([`load::run_spread`]).
pub async fn measured_spread(
    addrs: &[SocketAddr],
    work: Arc<Workload>,
    settings: &Settings,
) -> (Report, f64) {
    let (cpu, t) = (cpu_seconds(), Instant::now());
    let r = load::run_spread(addrs, work, settings).await;
    let busy = (cpu_seconds() - cpu) / t.elapsed().as_secs_f64().max(1e-9);
    (r, busy)
}

/// The limit: the bare hyper server under the same load (rows `bare.*`); `None`, with a note,
/// where it could not start.
pub async fn limit(settings: &Settings, res: &mut Results) -> Option<Report> {
    eprintln!("bench: bare hyper server …");
    let server = match bare::spawn().await {
        Ok(s) => s,
        Err(e) => {
            res.skip("bare hyper server", &e.to_string());
            return None;
        }
    };
    let work = Workload::fixed(
        Method::GET,
        "/sns/jscode2session?appid=wx655e895f04f02b94&secret=ed570c7507f7ae3fc512cfb94f876829&js_code=0CA2Bfqx3ZsxYbEEY9eWx5ZdjtsB2Vjf&grant_type=authorization_code",
        Expect::ok_containing("\"openid\""),
    );
    let (r, busy) = measured(server.addr(), Arc::new(work), settings).await;
    eprintln!("bench:   {}", summary(&r, busy));
    res.load_rows("bare", "bare hyper (limit)", &r, None);
    res.run(
        "bare",
        report_json(&r, json!({ "process_cpu_cores": busy })),
    );
    res.efficiency("bare", "bare hyper", &r, busy);
    if r.p99() >= Duration::from_millis(2) {
        res.note(format!(
            "the bare server's own p99 is {} at {} connections: on this machine the p99 < 2 ms target is out of reach for any server, so the mock's p99 verdicts say little",
            show(ms(r.p99()), Unit::Ms),
            settings.connections
        ));
    }
    Some(r)
}

/// What a fresh-code run measured, with the calibration run before it.
#[derive(Debug)]
pub struct FreshRun {
    /// The measured window.
    pub report: Report,
    /// The calibration run (the warm-up).
    pub calibration: Report,
    /// Items minted for both parts.
    pub minted: usize,
    /// Time spent minting them (outside the timings).
    pub mint_time: Duration,
    /// Items the window left unused.
    pub left: usize,
    /// Cores the process kept busy during the measured run.
    pub busy: f64,
}

/// Runs a single-use workload (its connections spread over `addrs`) in two parts: a calibration run over `settings.warmup` (the
/// warm-up) with `first` items, then the measured window with enough items for 1.5 times the
/// rate the calibration saw (and a 100 ms warm-up of its own, for the connections). Items are
/// made by `mint` before each part, outside the timings.
pub async fn fresh_run(
    addrs: &[SocketAddr],
    settings: &Settings,
    first: usize,
    workload: impl Fn(Vec<Item>) -> Workload,
    mut mint: impl FnMut(usize) -> Result<Vec<Item>, String>,
) -> Result<FreshRun, String> {
    let t = Instant::now();
    let items = mint(first)?;
    let mut mint_time = t.elapsed();
    let mut minted = items.len();
    let calibration = load::run_spread(
        addrs,
        Arc::new(workload(items)),
        &Settings {
            warmup: Duration::ZERO,
            duration: settings.warmup.max(Duration::from_millis(200)),
            ..settings.clone()
        },
    )
    .await;
    let window = settings.duration + Duration::from_millis(100);
    let n = (calibration.rate().max(100.0) * window.as_secs_f64() * 1.5) as usize
        + settings.connections * 4;
    let t = Instant::now();
    let items = mint(n)?;
    mint_time += t.elapsed();
    minted += items.len();
    let work = Arc::new(workload(items));
    let (report, busy) = measured_spread(
        addrs,
        work.clone(),
        &Settings {
            warmup: Duration::from_millis(100),
            ..settings.clone()
        },
    )
    .await;
    Ok(FreshRun {
        report,
        calibration,
        minted,
        mint_time,
        left: work.unused(),
        busy,
    })
}

/// A fresh-code run's details for the JSON: the window's, with the minting and the calibration.
pub fn fresh_json(f: &FreshRun) -> Value {
    report_json(
        &f.report,
        json!({
            "codes_minted": f.minted,
            "mint_s": f.mint_time.as_secs_f64(),
            "codes_left": f.left,
            "process_cpu_cores": f.busy,
            "calibration": report_json(&f.calibration, json!({})),
        }),
    )
}

/// A note on the codes of a fresh-code run: how many were minted, the calibration's rate, and
/// whether the window ran out of them.
pub fn fresh_note(what: &str, f: &FreshRun) -> String {
    let dry = match f.report.ran_dry {
        Some(d) => format!(
            "; the codes RAN OUT after {:.2} s of the window (figures cover that part)",
            d.as_secs_f64()
        ),
        None => format!("; {} left unused", thousands(f.left as u64)),
    };
    format!(
        "{what}: {} fresh codes minted in {:.2} s beforehand (not counted), warm-up/calibration {}{dry}",
        thousands(f.minted as u64),
        f.mint_time.as_secs_f64(),
        show(f.calibration.rate(), Unit::PerSecond),
    )
}
