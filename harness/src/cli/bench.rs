//! `harness bench`: how fast the mock and login-core are on this machine, next to the limit (a
//! bare hyper server answering the same jscode2session body to the same load generator over the
//! same number of connections), on loopback, in one run. Prints a table (Markdown) with each
//! figure, its ratio to the bare server where that means something, the target and pass/fail;
//! `--json FILE` writes the same with every run's details.
//!
//! Groups (`--only`): `mock` (jscode2session with fresh codes, the 40029 path, the control
//! plane's wx/login), `login-core` (end-to-end durable logins), `startup` (the binaries from
//! process start to the first answer, and in-process spawns), `scenarios` (the library's wall
//! time). The bare server runs whenever `mock` or `login-core` does.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use harness::bench::load::{self, Expect, Item, Report, Settings, Workload};
use harness::bench::{bare, memory_kib};
use hyper::Method;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Value, json};

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
    /// Process starts and in-process spawns.
    Startup,
    /// The scenario library's wall time.
    Scenarios,
}

/// Goals from issue 7, reported as pass/fail.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The value must stay below.
    Below(f64),
    /// The value must reach.
    AtLeast(f64),
    /// The ratio to the bare server must reach.
    RatioAtLeast(f64),
}

#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Unit {
    PerSecond,
    Ms,
    Mib,
    Seconds,
}

/// One figure of the table.
#[derive(Debug, Serialize)]
struct Row {
    key: String,
    figure: String,
    value: f64,
    unit: Unit,
    /// Throughput: the share of the bare server's; latency: the multiple of the bare server's.
    ratio_to_bare: Option<f64>,
    target: Option<String>,
    pass: Option<bool>,
}

impl Row {
    fn new(key: &str, figure: &str, value: f64, unit: Unit) -> Self {
        Self {
            key: key.to_owned(),
            figure: figure.to_owned(),
            value,
            unit,
            ratio_to_bare: None,
            target: None,
            pass: None,
        }
    }

    fn ratio(mut self, bare: Option<f64>) -> Self {
        self.ratio_to_bare = bare.filter(|b| *b > 0.0).map(|b| self.value / b);
        self
    }

    fn target(mut self, t: Target) -> Self {
        let (text, pass) = match t {
            Target::Below(v) => (format!("< {}", goal(v, self.unit)), Some(self.value < v)),
            Target::AtLeast(v) => (format!("≥ {}", goal(v, self.unit)), Some(self.value >= v)),
            Target::RatioAtLeast(r) => (
                format!("≥ {:.0}% of bare", r * 100.0),
                self.ratio_to_bare.map(|x| x >= r),
            ),
        };
        self.target = Some(text);
        self.pass = pass;
        self
    }

    fn shown_ratio(&self) -> String {
        match (self.ratio_to_bare, self.unit) {
            (None, _) => "—".into(),
            (Some(r), Unit::PerSecond) => format!("{:.0}%", r * 100.0),
            (Some(r), _) => format!("×{r:.1}"),
        }
    }
}

fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSecond => format!("{}/s", thousands(v.round() as u64)),
        Unit::Ms if v < 1.0 => format!("{v:.3} ms"),
        Unit::Ms if v < 100.0 => format!("{v:.2} ms"),
        Unit::Ms => format!("{v:.0} ms"),
        Unit::Mib => format!("{v:.1} MiB"),
        Unit::Seconds => format!("{v:.2} s"),
    }
}

/// A target value as the issue states it (`2 ms`, `5,000/s`).
fn goal(v: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSecond => show(v, unit),
        Unit::Ms => format!("{v} ms"),
        Unit::Mib => format!("{v} MiB"),
        Unit::Seconds => format!("{v} s"),
    }
}

/// Where a row goes in the table: the limit, the mock, startup, spawn, login-core, scenarios.
fn order(key: &str) -> usize {
    ["bare", "mock", "startup", "spawn", "core", "scenarios"]
        .iter()
        .position(|p| key.split('.').next() == Some(*p))
        .unwrap_or(usize::MAX)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Everything a run produced.
#[derive(Debug, Default)]
struct Results {
    rows: Vec<Row>,
    notes: Vec<String>,
    runs: serde_json::Map<String, Value>,
    failed: bool,
    /// The bare server's requests per CPU-second of the process.
    bare_per_cpu: Option<f64>,
}

impl Results {
    fn note(&mut self, text: String) {
        eprintln!("bench: {text}");
        self.notes.push(text);
    }

    fn skip(&mut self, what: &str, why: &str) {
        self.failed = true;
        self.note(format!("{what}: skipped: {why}"));
    }

    /// Rate, p50 and p99 rows of a load run, with their ratios to the bare server's.
    fn load_rows(&mut self, key: &str, figure: &str, r: &Report, bare: Option<&Report>) {
        self.rows.push(
            Row::new(
                &format!("{key}.rate"),
                &format!("{figure}: req/s"),
                r.rate(),
                Unit::PerSecond,
            )
            .ratio(bare.map(Report::rate)),
        );
        self.rows.push(
            Row::new(
                &format!("{key}.p50"),
                &format!("{figure}: p50"),
                ms(r.p50()),
                Unit::Ms,
            )
            .ratio(bare.map(|b| ms(b.p50()))),
        );
        self.rows.push(
            Row::new(
                &format!("{key}.p99"),
                &format!("{figure}: p99"),
                ms(r.p99()),
                Unit::Ms,
            )
            .ratio(bare.map(|b| ms(b.p99()))),
        );
    }

    /// Sets the target of the row `key`.
    fn target(&mut self, key: &str, t: Target) {
        if let Some(i) = self.rows.iter().position(|r| r.key == key) {
            let row = self.rows.remove(i);
            self.rows.insert(i, row.target(t));
        }
    }

    fn run(&mut self, key: &str, value: Value) {
        self.runs.insert(key.to_owned(), value);
    }

    /// Requests per CPU-second of the whole process (servers and load generator) in the run
    /// `key`, and their share of the bare server's: a comparison that depends less on how much
    /// of a shared machine each run got than the rates do.
    fn efficiency(&mut self, key: &str, figure: &str, r: &Report, busy: f64) {
        let per_cpu = (busy > 0.01).then(|| r.rate() / busy);
        if let Some(Value::Object(run)) = self.runs.get_mut(key) {
            run.insert("requests_per_cpu_second".into(), per_cpu.into());
        }
        match (key, per_cpu, self.bare_per_cpu) {
            ("bare", _, _) => self.bare_per_cpu = per_cpu,
            (_, Some(x), Some(b)) => self.note(format!(
                "{figure}: {} requests per CPU-second of the process ({:.0}% of the bare server's {}), with {busy:.2} cores busy",
                thousands(x.round() as u64),
                x / b * 100.0,
                thousands(b.round() as u64)
            )),
            _ => {}
        }
    }
}

/// CPU time this process has used (user and system), in seconds, from `/proc/self/stat`
/// (USER_HZ ticks, 100 a second on Linux); zero where `/proc` is unavailable.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// A load run, with the cores the whole process (servers and load generator) kept busy
/// meanwhile.
async fn measured(addr: SocketAddr, work: Arc<Workload>, settings: &Settings) -> (Report, f64) {
    let (cpu, t) = (cpu_seconds(), Instant::now());
    let r = load::run(addr, work, settings).await;
    let busy = (cpu_seconds() - cpu) / t.elapsed().as_secs_f64().max(1e-9);
    (r, busy)
}

fn report_json(r: &Report, extra: Value) -> Value {
    let mut v = json!({
        "connections": r.connections,
        "window_s": r.window.as_secs_f64(),
        "requests": r.requests(),
        "rate_per_s": r.rate(),
        "p50_ms": ms(r.p50()),
        "p90_ms": ms(r.quantile(0.90)),
        "p99_ms": ms(r.p99()),
        "p999_ms": ms(r.quantile(0.999)),
        "max_ms": ms(r.max()),
        "errors": r.errors,
        "first_error": r.first_error,
        "ran_dry_after_s": r.ran_dry.map(|d| d.as_secs_f64()),
        "warmup_requests": r.warmup_requests,
    });
    if let (Value::Object(v), Value::Object(e)) = (&mut v, extra) {
        v.extend(e);
    }
    v
}

fn summary(r: &Report, busy: f64) -> String {
    let mut s = format!(
        "{} req/s, p50 {}, p99 {}, max {}, {} requests in {:.2} s, {} errors, {busy:.2} cores busy",
        thousands(r.rate().round() as u64),
        show(ms(r.p50()), Unit::Ms),
        show(ms(r.p99()), Unit::Ms),
        show(ms(r.max()), Unit::Ms),
        r.requests(),
        r.window.as_secs_f64(),
        r.errors
    );
    if let Some(e) = &r.first_error {
        s.push_str(&format!(" (first: {e})"));
    }
    s
}

/// `harness bench`.
pub fn bench(args: BenchArgs) -> ExitCode {
    if args.duration.is_zero() {
        eprintln!("harness: --duration must be more than zero");
        return ExitCode::from(USAGE);
    }
    let all = args.only.is_empty();
    let wants = |g: Group| all || args.only.contains(&g);
    let scenarios = args.scenarios.clone().unwrap_or_else(default_scenarios);
    if wants(Group::Scenarios) && !scenarios.exists() {
        eprintln!(
            "harness: no scenario library at {} (give one with --scenarios DIR)",
            scenarios.display()
        );
        return ExitCode::from(USAGE);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let machine = machine();
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
            startup(&args, &mut res).await;
            spawns(&args, &mut res).await;
        }
        let bare = if wants(Group::Mock) || wants(Group::LoginCore) {
            bare_run(&settings, &mut res).await
        } else {
            None
        };
        // login-core before the mock runs, so its resident memory is not inflated by the
        // heap the mock runs leave behind.
        if wants(Group::LoginCore) {
            if let Err(e) = login_core_run(&settings, bare.as_ref(), &mut res).await {
                res.skip("login-core end to end", &e);
            }
        }
        if wants(Group::Mock) {
            mock_runs(&settings, bare.as_ref(), &mut res).await;
        }
        if wants(Group::Scenarios) {
            scenarios_run(&scenarios, &mut res).await;
        }
    });
    drop(rt);
    let total = started.elapsed();
    res.note(format!("whole bench: {:.1} s", total.as_secs_f64()));
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    res.rows.sort_by_key(|r| order(&r.key));
    let table = table(&res.rows);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{table}");
    for n in &res.notes {
        let _ = writeln!(stdout, "- {n}");
    }
    drop(stdout);
    let mut code = if res.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    if let Some(path) = &args.json {
        let doc = json!({
            "command": command,
            "machine": machine,
            "settings": {
                "duration_s": settings.duration.as_secs_f64(),
                "warmup_s": settings.warmup.as_secs_f64(),
                "connections": settings.connections,
                "starts": args.starts,
                "spawns": args.spawns,
            },
            "total_s": total.as_secs_f64(),
            "rows": res.rows,
            "runs": res.runs,
            "notes": res.notes,
        });
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

/// The table, as Markdown.
fn table(rows: &[Row]) -> String {
    let mut lines = vec![[
        "figure".to_owned(),
        "value".to_owned(),
        "vs bare".to_owned(),
        "target".to_owned(),
        "result".to_owned(),
    ]];
    for r in rows {
        lines.push([
            r.figure.clone(),
            show(r.value, r.unit),
            r.shown_ratio(),
            r.target.clone().unwrap_or_else(|| "—".into()),
            match r.pass {
                Some(true) => "pass".into(),
                Some(false) => "FAIL".into(),
                None => "—".into(),
            },
        ]);
    }
    let mut widths = [0usize; 5];
    for l in &lines {
        for (w, c) in widths.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        out.push('|');
        for (j, (w, c)) in widths.iter().zip(l).enumerate() {
            let pad = w - c.chars().count();
            if j == 0 {
                out.push_str(&format!(" {c}{} |", " ".repeat(pad)));
            } else {
                out.push_str(&format!(" {}{c} |", " ".repeat(pad)));
            }
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for (j, w) in widths.iter().enumerate() {
                if j == 0 {
                    out.push_str(&format!(" {} |", "-".repeat(*w)));
                } else {
                    out.push_str(&format!(" {}: |", "-".repeat(w.saturating_sub(1))));
                }
            }
            out.push('\n');
        }
    }
    out.trim_end().to_owned()
}

/// Cores, kernel, compiler, CPU and how busy the machine was at the start.
fn machine() -> Value {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
    });
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .map(|r| r.trim().to_owned())
    });
    json!({
        "cores": cores,
        "cpu": cpu,
        "memory": mem,
        "uname": run("uname", &["-a"]),
        "rustc": run("rustc", &["-V"]),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_owned()),
    })
}

/// `scenarios` here, else the workspace's.
fn default_scenarios() -> PathBuf {
    let here = PathBuf::from("scenarios");
    if here.exists() {
        return here;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    if workspace.exists() {
        return workspace;
    }
    here
}

// ---------------------------------------------------------------------------------------------
// The limit

async fn bare_run(settings: &Settings, res: &mut Results) -> Option<Report> {
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

// ---------------------------------------------------------------------------------------------
// Fresh single-use codes

/// What a fresh-code run measured, with the calibration run before it.
struct FreshRun {
    report: Report,
    calibration: Report,
    minted: usize,
    mint_time: Duration,
    left: usize,
    /// Cores the process kept busy during the measured run.
    busy: f64,
}

/// Runs a single-use workload in two parts: a calibration run over `settings.warmup` (the
/// warm-up) with `first` items, then the measured window with enough items for 1.5 times the
/// rate the calibration saw (and a 100 ms warm-up of its own, for the connections). Items are
/// made by `mint` before each part, outside the timings.
async fn fresh_run(
    addr: SocketAddr,
    settings: &Settings,
    first: usize,
    workload: impl Fn(Vec<Item>) -> Workload,
    mut mint: impl FnMut(usize) -> Result<Vec<Item>, String>,
) -> Result<FreshRun, String> {
    let t = Instant::now();
    let items = mint(first)?;
    let mut mint_time = t.elapsed();
    let mut minted = items.len();
    let calibration = load::run(
        addr,
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
    let (report, busy) = measured(
        addr,
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

fn fresh_json(f: &FreshRun) -> Value {
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

fn fresh_note(what: &str, f: &FreshRun) -> String {
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

// ---------------------------------------------------------------------------------------------
// The mock

async fn spawn_mock() -> Result<mock_server::MockHandle, String> {
    mock_server::spawn(mock_server::Config::default())
        .await
        .map_err(|e| format!("mock-server: {e}"))
}

/// Mints `n` codes in process (the engine's wx.login), `per_user` per user, for users named
/// `{prefix}{k}` with `k` counting on from `next_user`.
fn mint_codes(
    mock: &mock_server::MockHandle,
    prefix: &str,
    per_user: usize,
    next_user: &mut u64,
    n: usize,
) -> Result<Vec<String>, String> {
    let appid = mock.default_app().appid;
    let mut codes = Vec::with_capacity(n);
    while codes.len() < n {
        let user = mock_server::ids::UserHandle::new(format!("{prefix}{next_user}"));
        *next_user += 1;
        for _ in 0..per_user.min(n - codes.len()) {
            let grant = mock
                .engine()
                .wx_login(&appid, &user)
                .map_err(|e| format!("wx.login: {e}"))?;
            codes.push(grant.code);
        }
    }
    Ok(codes)
}

fn exchange_path(app: &mock_server::engine::AppView, code: &str) -> String {
    format!(
        "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
        app.appid, app.secret
    )
}

async fn mock_runs(settings: &Settings, bare: Option<&Report>, res: &mut Results) {
    if let Err(e) = mock_exchange(settings, bare, res).await {
        res.skip("mock jscode2session (fresh codes)", &e);
    }
    if let Err(e) = mock_40029(settings, bare, res).await {
        res.skip("mock jscode2session 40029", &e);
    }
    if let Err(e) = mock_wx_login(settings, bare, res).await {
        res.skip("mock wx/login", &e);
    }
}

async fn mock_exchange(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: mock jscode2session with fresh codes …");
    let mock = spawn_mock().await?;
    let app = mock.default_app();
    let mut next_user = 0;
    // The quota is 100 exchanges per user and minute: 20 codes per user stay well under it.
    let f = fresh_run(
        mock.addr(),
        settings,
        (settings.warmup.as_secs_f64() * 40_000.0) as usize + 1000,
        |items| Workload::single_use(Method::GET, items, Expect::ok_containing("\"openid\"")),
        |n| {
            mint_codes(&mock, "bench", 20, &mut next_user, n)?
                .iter()
                .map(|c| Item::new(&exchange_path(&app, c), "").map_err(|e| e.to_string()))
                .collect()
        },
    )
    .await?;
    eprintln!("bench:   {}", summary(&f.report, f.busy));
    res.load_rows(
        "mock.exchange",
        "mock jscode2session, fresh codes",
        &f.report,
        bare,
    );
    res.target("mock.exchange.rate", Target::RatioAtLeast(0.70));
    res.target("mock.exchange.p99", Target::Below(2.0));
    res.run("mock.exchange", fresh_json(&f));
    res.efficiency(
        "mock.exchange",
        "mock jscode2session, fresh codes",
        &f.report,
        f.busy,
    );
    res.note(fresh_note("mock jscode2session", &f));
    mock.shutdown().await;
    Ok(())
}

async fn mock_40029(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: mock jscode2session 40029 (an unknown code) …");
    let mock = spawn_mock().await?;
    let app = mock.default_app();
    let item = Item::new(
        &exchange_path(&app, "0BenchUnknownCodeNeverMinted00000"),
        "",
    )
    .map_err(|e| e.to_string())?;
    let work = Workload::repeating(Method::GET, vec![item], Expect::ok_containing("40029"));
    let (r, busy) = measured(mock.addr(), Arc::new(work), settings).await;
    eprintln!("bench:   {}", summary(&r, busy));
    res.load_rows("mock.e40029", "mock jscode2session 40029", &r, bare);
    res.target("mock.e40029.p99", Target::Below(2.0));
    res.run(
        "mock.e40029",
        report_json(&r, json!({ "process_cpu_cores": busy })),
    );
    res.efficiency("mock.e40029", "mock jscode2session 40029", &r, busy);
    mock.shutdown().await;
    Ok(())
}

async fn mock_wx_login(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: mock control plane POST /__mock__/wx/login …");
    let mock = spawn_mock().await?;
    let items = (0..1000)
        .map(|i| Item::new("/__mock__/wx/login", format!(r#"{{"user":"w{i}"}}"#)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let work = Workload::repeating(Method::POST, items, Expect::ok_containing("\"code\""))
        .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let (r, busy) = measured(mock.addr(), Arc::new(work), settings).await;
    eprintln!("bench:   {}", summary(&r, busy));
    res.load_rows("mock.wx_login", "mock wx/login (control plane)", &r, bare);
    res.target("mock.wx_login.p99", Target::Below(2.0));
    res.run(
        "mock.wx_login",
        report_json(&r, json!({ "users": 1000, "process_cpu_cores": busy })),
    );
    res.efficiency("mock.wx_login", "mock wx/login", &r, busy);
    mock.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// login-core end to end

async fn login_core_run(
    settings: &Settings,
    bare: Option<&Report>,
    res: &mut Results,
) -> Result<(), String> {
    eprintln!("bench: login-core end to end (POST /api/login, SQLite file, synchronous=FULL) …");
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mock = spawn_mock().await?;
    let db = dir.path().join("login-core.db");
    let mut config = login_core::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: format!("sqlite://{}", db.display()),
        server_key_file: dir.path().join("server.key"),
        wechat_base_url: mock.base_url(),
        apps: harness::context::mock_apps(&mock),
        ..login_core::Config::default()
    };
    // Every login from its own client address, as behind a proxy: the per-address limiter
    // (120 a minute) sees many clients, not one.
    config.limits.trust_forwarded_for = true;
    let core = login_core::spawn_with(config, login_core::Deps::default())
        .await
        .map_err(|e| format!("login-core: {e}"))?;
    let (rss_before, _) = memory_kib(None);
    let mut next_user = 0u64;
    let forwarded = HeaderName::from_static("x-forwarded-for");
    let f = fresh_run(
        core.addr(),
        settings,
        (settings.warmup.as_secs_f64() * 5_000.0) as usize + 500,
        |items| {
            Workload::single_use(Method::POST, items, Expect::ok_containing("\"token\""))
                .with_header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        },
        |n| {
            let first = next_user;
            let codes = mint_codes(&mock, "person", 1, &mut next_user, n)?;
            codes
                .iter()
                .zip(first..)
                .map(|(c, k)| {
                    let addr = format!("10.{}.{}.{}", (k >> 16) & 255, (k >> 8) & 255, k & 255);
                    let item = Item::new("/api/login", format!(r#"{{"code":"{c}"}}"#))
                        .map_err(|e| e.to_string())?;
                    let value = HeaderValue::try_from(addr).map_err(|e| e.to_string())?;
                    Ok(item.with_header(forwarded.clone(), value))
                })
                .collect()
        },
    )
    .await?;
    let (rss_after, hwm) = memory_kib(None);
    eprintln!("bench:   {}", summary(&f.report, f.busy));
    res.load_rows("core.login", "login-core durable logins", &f.report, bare);
    res.target("core.login.rate", Target::AtLeast(5000.0));
    res.target("core.login.p99", Target::Below(20.0));
    res.rows.push(Row::new(
        "core.rss_after",
        "login-core run: resident memory after (whole process)",
        rss_after as f64 / 1024.0,
        Unit::Mib,
    ));
    let breakdown = server_breakdown(&core.base_url()).await;
    let db_bytes = ["", "-wal"]
        .iter()
        .map(|s| {
            std::fs::metadata(format!("{}{s}", db.display()))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum::<u64>();
    let mut j = fresh_json(&f);
    if let Value::Object(m) = &mut j {
        m.insert("rss_before_kib".into(), rss_before.into());
        m.insert("rss_after_kib".into(), rss_after.into());
        m.insert("rss_high_water_kib".into(), hwm.into());
        m.insert("db_bytes".into(), db_bytes.into());
        m.insert("server_side".into(), breakdown.clone());
    }
    res.run("core.login", j);
    res.efficiency("core.login", "login-core durable logins", &f.report, f.busy);
    res.note(fresh_note("login-core (each login a new person)", &f));
    res.note(format!(
        "login-core run: the process (load generator, mock with its minted codes, login-core) held {:.1} MiB before the run, {:.1} MiB after, {:.1} MiB at its peak; database file and WAL {:.1} MiB",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        hwm as f64 / 1024.0,
        db_bytes as f64 / 1_048_576.0
    ));
    if let (Some(server), Some(up)) = (
        breakdown["api_login_mean_ms"].as_f64(),
        breakdown["jscode2session_mean_ms"].as_f64(),
    ) {
        res.note(format!(
            "login-core's own /metrics: POST /api/login takes {server:.2} ms on average inside the server, of which {up:.2} ms waiting for jscode2session; the other {:.2} ms are the store, sealing and the rest",
            server - up
        ));
    }
    res.note(format!(
        "login-core run: the whole process (load generator, mock, login-core) kept {:.2} of {} cores busy, {:.2} ms of CPU per login: {}",
        f.busy,
        std::thread::available_parallelism().map_or(0, usize::from),
        f.busy * 1000.0 / f.report.rate().max(1e-9),
        login_limit(f.busy, std::thread::available_parallelism().map_or(1, usize::from))
    ));
    core.shutdown().await;
    mock.shutdown().await;
    Ok(())
}

/// Mean server-side latencies from login-core's Prometheus text (histogram sums and counts).
async fn server_breakdown(base: &str) -> Value {
    let text = match reqwest::get(format!("{base}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return Value::Null,
    };
    let total = |prefix: &str, must: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(must))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mean = |name: &str, must: &str| {
        let n = total(&format!("login_core_{name}_count"), must);
        (n > 0.0).then(|| total(&format!("login_core_{name}_sum"), must) / n * 1000.0)
    };
    json!({
        "api_login_mean_ms": mean("http_request_duration_seconds", "/api/login"),
        "jscode2session_mean_ms": mean("upstream_duration_seconds", "jscode2session"),
    })
}

// ---------------------------------------------------------------------------------------------
// Startup

/// A sibling binary of this executable (`cargo build --release` puts them side by side).
fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate harness: {e}"))?;
    let dir = exe.parent().ok_or("cannot locate harness's folder")?;
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it with `cargo build --release -p mock-server -p login-core`",
            path.display()
        ))
    }
}

/// A started child process; killed on drop.
struct Started {
    child: Child,
    /// Kept open: the server prints more lines after its first one.
    _stdout: BufReader<ChildStdout>,
    addr: String,
    elapsed: Duration,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the CPU use of a login-core run says sets its pace, with `busy` of `cores` cores busy.
fn login_limit(busy: f64, cores: usize) -> &'static str {
    if busy < 1.0 {
        "the logins wait (on the disk), they do not compute"
    } else if busy < 0.9 * cores as f64 {
        "the cores are not saturated: the one login writer (a single SQLite connection, whose \
         thread writes the pages and syncs the WAL) sets the pace"
    } else {
        "CPU, not the disk, is the limit here"
    }
}

/// Starts `cmd`, reads its address from its first stdout line (`… listening on http://ADDR`)
/// and polls `probe` until it answers 200: the time from just before the spawn to that answer.
fn start_timed(cmd: &mut Command, probe: &str) -> Result<Started, String> {
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let Some(out) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("no stdout".into());
    };
    let mut stdout = BufReader::new(out);
    let mut line = String::new();
    let read = stdout.read_line(&mut line);
    let addr = line
        .split("http://")
        .nth(1)
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let mut started = Started {
        child,
        _stdout: stdout,
        addr,
        elapsed: Duration::ZERO,
    };
    if read.is_err() || started.addr.is_empty() {
        return Err(format!("unexpected first line {line:?}"));
    }
    let deadline = t0 + Duration::from_secs(10);
    loop {
        if http_ok(&started.addr, probe) {
            started.elapsed = t0.elapsed();
            return Ok(started);
        }
        if let Ok(Some(status)) = started.child.try_wait() {
            return Err(format!("exited with {status} before answering"));
        }
        if Instant::now() > deadline {
            return Err(format!("no 200 from {probe} within 10 s"));
        }
    }
}

/// One GET over a new connection: whether it answered 200.
fn http_ok(addr: &str, path: &str) -> bool {
    let Ok(sock) = addr.parse::<SocketAddr>() else {
        return false;
    };
    let Ok(mut s) = TcpStream::connect(sock) else {
        return false;
    };
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && &head[..] == b"HTTP/1.1 200"
}

fn median(xs: &[Duration]) -> Duration {
    let mut xs = xs.to_vec();
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

fn mean(xs: &[Duration]) -> Duration {
    if xs.is_empty() {
        return Duration::ZERO;
    }
    xs.iter().sum::<Duration>() / u32::try_from(xs.len()).unwrap_or(u32::MAX)
}

fn spawn_note(what: &str, times: &[Duration]) -> String {
    format!(
        "{what}: first {}, median {}, slowest {} (of {})",
        show(ms(times.first().copied().unwrap_or_default()), Unit::Ms),
        show(ms(median(times)), Unit::Ms),
        show(
            ms(times.iter().max().copied().unwrap_or_default()),
            Unit::Ms
        ),
        times.len()
    )
}

fn ms_list(xs: &[Duration]) -> Vec<f64> {
    xs.iter().map(|d| ms(*d)).collect()
}

/// What the startup measurements found (taken on a blocking thread).
struct StartupFigures {
    mock: Result<Vec<Duration>, Skip>,
    mock_idle_kib: u64,
    core: Result<Vec<Duration>, Skip>,
    core_idle_kib: u64,
}

/// Why a startup row is missing.
enum Skip {
    /// The binary is not built: a note, not a failure.
    Missing(String),
    /// It did not start or answer.
    Failed(String),
}

impl Results {
    fn skip_startup(&mut self, what: &str, why: &Skip) {
        match why {
            Skip::Missing(e) => self.note(format!("{what}: skipped: {e}")),
            Skip::Failed(e) => self.skip(what, e),
        }
    }
}

/// Probe of the mock: the vendor surface answers 200 (41002, appid missing) once it serves.
const MOCK_PROBE: &str = "/sns/jscode2session";
/// Probe of login-core: ready once its database answers.
const CORE_PROBE: &str = "/readyz";
/// Idle time before reading a server's resident memory.
const SETTLE: Duration = Duration::from_millis(300);

fn measure_startup(starts: u32) -> StartupFigures {
    let mut figs = StartupFigures {
        mock: Err(Skip::Failed(String::new())),
        mock_idle_kib: 0,
        core: Err(Skip::Failed(String::new())),
        core_idle_kib: 0,
    };
    let mock_bin = match sibling("mock-server") {
        Ok(p) => p,
        Err(e) => {
            figs.core = Err(Skip::Missing(format!("needs the mock-server binary: {e}")));
            figs.mock = Err(Skip::Missing(e));
            return figs;
        }
    };
    let mut times = Vec::new();
    let mut last: Option<Started> = None;
    for _ in 0..starts {
        drop(last.take());
        match start_timed(
            Command::new(&mock_bin).args(["--listen", "127.0.0.1:0"]),
            MOCK_PROBE,
        ) {
            Ok(s) => {
                times.push(s.elapsed);
                last = Some(s);
            }
            Err(e) => {
                figs.mock = Err(Skip::Failed(format!("mock-server: {e}")));
                figs.core = Err(Skip::Failed("needs a running mock-server".into()));
                return figs;
            }
        }
    }
    figs.mock = Ok(times);
    let Some(mock) = last else {
        return figs;
    };
    std::thread::sleep(SETTLE);
    figs.mock_idle_kib = memory_kib(Some(mock.child.id())).0;
    let core_bin = match sibling("login-core") {
        Ok(p) => p,
        Err(e) => {
            figs.core = Err(Skip::Missing(e));
            return figs;
        }
    };
    let mock_url = format!("http://{}", mock.addr);
    let mut times = Vec::new();
    for i in 0..starts {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => {
                figs.core = Err(Skip::Failed(format!("temporary directory: {e}")));
                return figs;
            }
        };
        // A new database (migrations run) and a new server key, in a folder of its own.
        let db = format!(
            "sqlite://{}",
            dir.path().join("data/login-core.db").display()
        );
        let started = start_timed(
            Command::new(&core_bin)
                .args(["--mock", &mock_url, "--listen", "127.0.0.1:0"])
                .args(["--database-url", &db])
                .current_dir(dir.path()),
            CORE_PROBE,
        );
        match started {
            Ok(s) => {
                times.push(s.elapsed);
                if i + 1 == starts {
                    std::thread::sleep(SETTLE);
                    figs.core_idle_kib = memory_kib(Some(s.child.id())).0;
                }
            }
            Err(e) => {
                figs.core = Err(Skip::Failed(format!("login-core: {e}")));
                return figs;
            }
        }
    }
    figs.core = Ok(times);
    figs
}

async fn startup(args: &BenchArgs, res: &mut Results) {
    eprintln!("bench: startup of the mock-server and login-core binaries …");
    let starts = args.starts;
    let figs = match tokio::task::spawn_blocking(move || measure_startup(starts)).await {
        Ok(f) => f,
        Err(e) => {
            res.skip("startup", &e.to_string());
            return;
        }
    };
    match &figs.mock {
        Ok(times) => {
            res.rows.push(
                Row::new(
                    "startup.mock",
                    &format!("startup: mock-server binary to first 200 (median of {starts})"),
                    ms(median(times)),
                    Unit::Ms,
                )
                .target(Target::Below(15.0)),
            );
            res.rows.push(
                Row::new(
                    "startup.mock_idle_rss",
                    "mock-server binary: resident memory, idle after start",
                    figs.mock_idle_kib as f64 / 1024.0,
                    Unit::Mib,
                )
                .target(Target::Below(20.0)),
            );
            res.run(
                "startup.mock",
                json!({ "runs_ms": ms_list(times), "idle_rss_kib": figs.mock_idle_kib }),
            );
        }
        Err(e) => res.skip_startup("startup of mock-server", e),
    }
    match &figs.core {
        Ok(times) => {
            res.rows.push(
                Row::new(
                    "startup.core",
                    &format!(
                        "startup: login-core binary, new SQLite file, to first 200 (median of {starts})"
                    ),
                    ms(median(times)),
                    Unit::Ms,
                )
                .target(Target::Below(50.0)),
            );
            res.rows.push(Row::new(
                "startup.core_idle_rss",
                "login-core binary: resident memory, idle after start",
                figs.core_idle_kib as f64 / 1024.0,
                Unit::Mib,
            ));
            res.run(
                "startup.core",
                json!({ "runs_ms": ms_list(times), "idle_rss_kib": figs.core_idle_kib }),
            );
        }
        Err(e) => res.skip_startup("startup of login-core", e),
    }
}

async fn spawns(args: &BenchArgs, res: &mut Results) {
    eprintln!("bench: in-process spawns …");
    let n = args.spawns;
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        match spawn_mock().await {
            Ok(m) => {
                times.push(t.elapsed());
                m.shutdown().await;
            }
            Err(e) => {
                res.skip("mock_server::spawn", &e);
                return;
            }
        }
    }
    res.rows.push(
        Row::new(
            "spawn.mock",
            &format!("spawn: mock_server::spawn in process (mean of {n})"),
            ms(mean(&times)),
            Unit::Ms,
        )
        .target(Target::Below(1.0)),
    );
    res.run("spawn.mock", json!({ "runs_ms": ms_list(&times) }));
    res.note(spawn_note("mock_server::spawn", &times));
    let mock = match spawn_mock().await {
        Ok(m) => m,
        Err(e) => {
            res.skip("login_core::spawn_with", &e);
            return;
        }
    };
    let config = login_core::Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        database_url: "sqlite::memory:".into(),
        wechat_base_url: mock.base_url(),
        apps: harness::context::mock_apps(&mock),
        ..login_core::Config::default()
    };
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        match login_core::spawn_with(config.clone(), login_core::Deps::default()).await {
            Ok(core) => {
                times.push(t.elapsed());
                core.shutdown().await;
            }
            Err(e) => {
                res.skip("login_core::spawn_with", &e.to_string());
                return;
            }
        }
    }
    mock.shutdown().await;
    res.rows.push(
        Row::new(
            "spawn.core",
            &format!("spawn: login_core::spawn_with, in-memory SQLite (mean of {n})"),
            ms(mean(&times)),
            Unit::Ms,
        )
        .target(Target::Below(1.0)),
    );
    res.run("spawn.core", json!({ "runs_ms": ms_list(&times) }));
    res.note(spawn_note("login_core::spawn_with", &times));
}

// ---------------------------------------------------------------------------------------------
// The scenario library

async fn scenarios_run(dir: &Path, res: &mut Results) {
    use harness::discover::{Filter, find};
    use harness::run_many::{default_jobs, execute, plan};
    eprintln!("bench: the scenario library ({}) …", dir.display());
    let t = Instant::now();
    let found = match find(&[dir.to_path_buf()]) {
        Ok(f) => f,
        Err(e) => {
            res.skip("scenario library", &e);
            return;
        }
    };
    let plan = plan(found, &Filter::default());
    let n = plan.items.len();
    let jobs = default_jobs();
    let summary = execute(plan, &Default::default(), jobs, |_| {}).await;
    let wall = t.elapsed();
    eprintln!(
        "bench:   {n} scenarios in {:.2} s, {} passed",
        wall.as_secs_f64(),
        summary.passed()
    );
    res.rows.push(
        Row::new(
            "scenarios.wall",
            &format!("scenario library: wall time ({n} scenarios, {jobs} at once)"),
            wall.as_secs_f64(),
            Unit::Seconds,
        )
        .target(Target::Below(3.0)),
    );
    if !summary.all_passed() {
        res.note(format!(
            "scenario library: {} of {n} did not pass (`harness run` shows why)",
            n - summary.passed()
        ));
    }
    res.run(
        "scenarios",
        json!({
            "scenarios": n,
            "passed": summary.passed(),
            "failed": summary.failed(),
            "errors": summary.errors(),
            "jobs": jobs,
            "wall_s": wall.as_secs_f64(),
        }),
    );
}
