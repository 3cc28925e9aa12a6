//! What the machine is and what a process costs it: cores, CPU, kernel, compiler and load
//! average (for the report), CPU time and resident memory (from `/proc`, zeros elsewhere).

use std::process::Command;

use serde_json::{Value, json};

/// The cores this process may use (0 where unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// Cores, kernel, compiler, CPU and how busy the machine was at the start, as the JSON report
/// holds them (`cores`, `cpu`, `memory`, `uname`, `rustc`, `loadavg_at_start`).
pub fn machine() -> Value {
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
        "cores": cores(),
        "cpu": cpu,
        "memory": mem,
        "uname": run("uname", &["-a"]),
        "rustc": run("rustc", &["-V"]),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").ok().map(|s| s.trim().to_owned()),
    })
}

/// CPU time this process has used (user and system), in seconds, from `/proc/self/stat`
/// (USER_HZ ticks, 100 a second on Linux); zero where `/proc` is unavailable.
pub fn cpu_seconds() -> f64 {
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

/// Resident set size and its high-water mark of a process, in KiB, from `/proc/PID/status`
/// (`None` for the current process); zeros where `/proc` is unavailable.
pub fn memory_kib(pid: Option<u32>) -> (u64, u64) {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
