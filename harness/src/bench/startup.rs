//! Startup timing (group `startup`): the mock-server and login-core binaries from just before
//! the process starts to their first 200 ([`start_timed`], the [`Started`] guard), with their
//! idle memory; and `mock_server::spawn` and `login_core::spawn_with` in process.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::machine::memory_kib;
use super::mock::spawn_mock;
use super::report::{Results, Row, Target, Unit, ms, show};

/// A sibling binary of this executable (`cargo build --release` puts them side by side).
pub fn sibling(name: &str) -> Result<PathBuf, String> {
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
#[derive(Debug)]
pub struct Started {
    child: Child,
    /// Kept open: the server prints more lines after its first one.
    stdout: BufReader<ChildStdout>,
    addr: String,
    elapsed: Duration,
}

impl Started {
    /// The next line the server printed, without its line end.
    fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line.trim_end().to_owned()),
            _ => None,
        }
    }

    /// The address from its first stdout line (`127.0.0.1:PORT`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// From just before the spawn to the first 200.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd`, reads its address from its first stdout line (`… listening on http://ADDR`)
/// and polls `probe` until it answers 200: the time from just before the spawn to that answer.
pub fn start_timed(cmd: &mut Command, probe: &str) -> Result<Started, String> {
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
        stdout,
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

fn skip_startup(res: &mut Results, what: &str, why: &Skip) {
    match why {
        Skip::Missing(e) => res.note(format!("{what}: skipped: {e}")),
        Skip::Failed(e) => res.skip(what, e),
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
    let Some(mut mock) = last else {
        return figs;
    };
    // Its second line: `default app: appid=APPID secret=SECRET`.
    let default_app = mock.next_line().and_then(|line| {
        let rest = line.strip_prefix("default app: appid=")?;
        let (appid, secret) = rest.split_once(" secret=")?;
        Some((appid.to_owned(), secret.to_owned()))
    });
    let Some((appid, secret)) = default_app else {
        figs.core = Err(Skip::Failed(
            "the mock did not print its default app".into(),
        ));
        return figs;
    };
    std::thread::sleep(SETTLE);
    figs.mock_idle_kib = memory_kib(Some(mock.id())).0;
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
                .args(["--wechat-base-url", &mock_url, "--appid", &appid])
                .args(["--listen", "127.0.0.1:0", "--database-url", &db])
                .env("LOGIN_CORE_SECRET", &secret)
                .current_dir(dir.path()),
            CORE_PROBE,
        );
        match started {
            Ok(s) => {
                times.push(s.elapsed);
                if i + 1 == starts {
                    std::thread::sleep(SETTLE);
                    figs.core_idle_kib = memory_kib(Some(s.id())).0;
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

/// The binaries' starts (rows `startup.*`), `starts` of each, the median reported; a binary not
/// built next to this one is noted, not failed.
pub async fn binaries(starts: u32, res: &mut Results) {
    eprintln!("bench: startup of the mock-server and login-core binaries …");
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
        Err(e) => skip_startup(res, "startup of mock-server", e),
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
        Err(e) => skip_startup(res, "startup of login-core", e),
    }
}

/// In-process spawns (rows `spawn.*`): `n` of `mock_server::spawn`, then `n` of
/// `login_core::spawn_with` on in-memory SQLite, the mean reported.
pub async fn spawns(n: u32, res: &mut Results) {
    eprintln!("bench: in-process spawns …");
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
    let figure = format!("spawn: mock_server::spawn in process (mean of {n})");
    spawn_rows(res, "spawn.mock", &figure, "mock_server::spawn", &times);
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
        apps: crate::context::mock_apps(&mock),
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
    let figure = format!("spawn: login_core::spawn_with, in-memory SQLite (mean of {n})");
    spawn_rows(res, "spawn.core", &figure, "login_core::spawn_with", &times);
}

/// The row (the mean, below 1 ms), the details and the note of in-process spawns of `what`.
fn spawn_rows(res: &mut Results, key: &str, figure: &str, what: &str, times: &[Duration]) {
    let row = Row::new(key, figure, ms(mean(times)), Unit::Ms);
    res.rows.push(row.target(Target::Below(1.0)));
    res.run(key, json!({ "runs_ms": ms_list(times) }));
    res.note(spawn_note(what, times));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mean_of_durations() {
        let xs = [3, 1, 2, 10].map(Duration::from_millis);
        assert_eq!(median(&xs), Duration::from_millis(3));
        assert_eq!(mean(&xs), Duration::from_millis(4));
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(mean(&[]), Duration::ZERO);
    }
}
