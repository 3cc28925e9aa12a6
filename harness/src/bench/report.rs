//! What `harness bench` reports: the rows of its table (a figure, its ratio to the bare server,
//! its target and pass/fail), the notes and per-run details gathered on the way ([`Results`]),
//! the Markdown table and the JSON document.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::load::Report;

/// A goal for a figure, reported as pass/fail.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// The value must stay below.
    Below(f64),
    /// The value must reach.
    AtLeast(f64),
    /// The ratio to the bare server must reach.
    RatioAtLeast(f64),
}

/// The unit of a figure (how it is shown, and in the JSON as `per_second`, `ms`, ...).
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Requests per second.
    PerSecond,
    /// Milliseconds.
    Ms,
    /// Mebibytes.
    Mib,
    /// Seconds.
    Seconds,
}

/// One figure of the table (in the JSON: `key`, `figure`, `value`, `unit`, `ratio_to_bare`,
/// `target`, `pass`).
#[derive(Debug, Serialize)]
pub struct Row {
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
    /// A row without ratio or target.
    pub fn new(key: &str, figure: &str, value: f64, unit: Unit) -> Self {
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

    /// Sets the ratio to the bare server's figure `bare` (none where it is missing or zero).
    pub fn ratio(mut self, bare: Option<f64>) -> Self {
        self.ratio_to_bare = bare.filter(|b| *b > 0.0).map(|b| self.value / b);
        self
    }

    /// Sets the target and whether the value meets it.
    pub fn target(mut self, t: Target) -> Self {
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

    /// The ratio as the table shows it: a percentage for throughput, a multiple otherwise.
    pub fn shown_ratio(&self) -> String {
        match (self.ratio_to_bare, self.unit) {
            (None, _) => "—".into(),
            (Some(r), Unit::PerSecond) => format!("{:.0}%", r * 100.0),
            (Some(r), _) => format!("×{r:.1}"),
        }
    }
}

/// A value as the table shows it (`12,345/s`, `0.812 ms`, `20.5 MiB`, `1.23 s`).
pub fn show(v: f64, unit: Unit) -> String {
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

/// Where a row goes in the table: the limit, the mock, startup, spawn, login-core, its
/// clusters, scenarios.
pub fn order(key: &str) -> usize {
    [
        "bare",
        "mock",
        "startup",
        "spawn",
        "core",
        "cluster",
        "scenarios",
    ]
    .iter()
    .position(|p| key.split('.').next() == Some(*p))
    .unwrap_or(usize::MAX)
}

/// `n` with a comma every three digits (`12,345`).
pub fn thousands(n: u64) -> String {
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

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Everything a run produced.
#[derive(Debug, Default)]
pub struct Results {
    /// The table's rows.
    pub rows: Vec<Row>,
    /// Notes printed under the table (and on stderr as they come).
    pub notes: Vec<String>,
    /// Each run's details, by key, for the JSON.
    pub runs: Map<String, Value>,
    /// Whether a measurement could not be taken.
    pub failed: bool,
    /// The bare server's requests per CPU-second of the process.
    bare_per_cpu: Option<f64>,
}

impl Results {
    /// Adds a note (and prints it on stderr).
    pub fn note(&mut self, text: String) {
        eprintln!("bench: {text}");
        self.notes.push(text);
    }

    /// Notes that `what` could not be measured, and marks the run failed.
    pub fn skip(&mut self, what: &str, why: &str) {
        self.failed = true;
        self.note(format!("{what}: skipped: {why}"));
    }

    /// Rate, p50 and p99 rows of a load run, with their ratios to the bare server's.
    pub fn load_rows(&mut self, key: &str, figure: &str, r: &Report, bare: Option<&Report>) {
        type Of = fn(&Report) -> f64;
        let figures: [(&str, &str, Of, Unit); 3] = [
            ("rate", "req/s", Report::rate, Unit::PerSecond),
            ("p50", "p50", |r| ms(r.p50()), Unit::Ms),
            ("p99", "p99", |r| ms(r.p99()), Unit::Ms),
        ];
        for (name, label, value, unit) in figures {
            self.rows.push(
                Row::new(
                    &format!("{key}.{name}"),
                    &format!("{figure}: {label}"),
                    value(r),
                    unit,
                )
                .ratio(bare.map(value)),
            );
        }
    }

    /// Sets the target of the row `key`.
    pub fn target(&mut self, key: &str, t: Target) {
        if let Some(i) = self.rows.iter().position(|r| r.key == key) {
            let row = self.rows.remove(i);
            self.rows.insert(i, row.target(t));
        }
    }

    /// Keeps the details of the run `key` for the JSON.
    pub fn run(&mut self, key: &str, value: Value) {
        self.runs.insert(key.to_owned(), value);
    }

    /// Requests per CPU-second of the whole process (servers and load generator) in the run
    /// `key`, and their share of the bare server's: a comparison that depends less on how much
    /// of a shared machine each run got than the rates do.
    pub fn efficiency(&mut self, key: &str, figure: &str, r: &Report, busy: f64) {
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

    /// The rows sorted into the table's order ([`order`]), as Markdown, then the notes as a
    /// list.
    pub fn markdown(&mut self) -> String {
        self.rows.sort_by_key(|r| order(&r.key));
        let mut out = table(&self.rows);
        out.push('\n');
        for n in &self.notes {
            out.push_str(&format!("- {n}\n"));
        }
        out
    }

    /// The JSON report: the command line, the machine, the settings, the whole run's seconds,
    /// then the rows, every run's details and the notes.
    pub fn document(
        &self,
        command: &str,
        machine: &Value,
        settings: Value,
        total: Duration,
    ) -> Value {
        json!({
            "command": command,
            "machine": machine,
            "settings": settings,
            "total_s": total.as_secs_f64(),
            "rows": self.rows,
            "runs": self.runs,
            "notes": self.notes,
        })
    }
}

/// The table, as Markdown.
pub fn table(rows: &[Row]) -> String {
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

/// A load run's details for the JSON: counts, rate, percentiles, errors; `extra`'s fields added.
pub fn report_json(r: &Report, extra: Value) -> Value {
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

/// A load run in one line, with the cores the process kept `busy`.
pub fn summary(r: &Report, busy: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn rows_meet_their_targets() {
        let row = Row::new("mock.x.p99", "p99", 1.5, Unit::Ms).target(Target::Below(2.0));
        assert_eq!(row.target.as_deref(), Some("< 2 ms"));
        assert_eq!(row.pass, Some(true));
        let row = Row::new("mock.x.rate", "rate", 60.0, Unit::PerSecond)
            .ratio(Some(100.0))
            .target(Target::RatioAtLeast(0.7));
        assert_eq!(row.shown_ratio(), "60%");
        assert_eq!(row.pass, Some(false));
        let row = Row::new("core.x.rate", "rate", 6000.0, Unit::PerSecond)
            .target(Target::AtLeast(5000.0));
        assert_eq!(row.target.as_deref(), Some("≥ 5,000/s"));
        assert_eq!(row.pass, Some(true));
        let row = Row::new("core.x.p99", "p99", 3.0, Unit::Ms).ratio(Some(0.0));
        assert_eq!(row.shown_ratio(), "—");
    }

    #[test]
    fn the_table_is_aligned_markdown() {
        let mut res = Results::default();
        res.rows.push(
            Row::new("scenarios.wall", "wall", 1.0, Unit::Seconds).target(Target::Below(3.0)),
        );
        res.rows
            .push(Row::new("bare.rate", "bare", 12345.0, Unit::PerSecond));
        res.notes.push("a note".into());
        let text = res.markdown();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "| figure |    value | vs bare | target | result |"
        );
        assert_eq!(
            lines[1],
            "| ------ | -------: | ------: | -----: | -----: |"
        );
        assert_eq!(
            lines[2],
            "| bare   | 12,345/s |       — |      — |      — |"
        );
        assert_eq!(
            lines[3],
            "| wall   |   1.00 s |       — |  < 3 s |   pass |"
        );
        assert_eq!(lines[4], "- a note");
    }
}
