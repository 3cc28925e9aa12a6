//! The workspace's written conventions as tests: each rule below keeps a line of ARCHITECTURE.md
//! (quoted in its failure message) by reading every Rust file of the workspace. An exception is
//! an allow-list entry with its reason; an entry that no longer matches anything fails too, so the
//! lists only shrink.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A Rust source file of the workspace: its path relative to the root, and its lines.
struct Source {
    path: String,
    lines: Vec<String>,
}

impl Source {
    /// Lines of code with their 1-based numbers, comments left out (a line whose first
    /// non-blank characters are `//`).
    fn code(&self) -> impl Iterator<Item = (usize, &str)> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 1, l.as_str()))
            .filter(|(_, l)| !l.trim_start().starts_with("//"))
    }

    fn under(&self, prefix: &str) -> bool {
        self.path.starts_with(prefix)
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the harness lives in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under the workspace, build output and dependencies left out.
fn sources() -> Vec<Source> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<Source>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                // Build output (cargo marks its directories), dependencies, history.
                let skipped = path.join("CACHEDIR.TAG").exists()
                    || matches!(name.as_ref(), "node_modules" | ".git");
                if !skipped {
                    walk(&path, root, out);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                let rel = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(Source {
                    path: rel,
                    lines: text.lines().map(str::to_owned).collect(),
                });
            }
        }
    }
    let root = root();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(
        out.len() > 100,
        "found only {} Rust files under {}",
        out.len(),
        root.display()
    );
    out
}

/// One convention: what it keeps, and the violations it finds as `path:line: what`.
struct Rule {
    name: &'static str,
    /// The ARCHITECTURE.md line it keeps (checked to be there, word for word).
    keeps: &'static str,
    /// (path, reason) pairs the rule lets through.
    allowed: &'static [(&'static str, &'static str)],
    check: fn(&Source) -> Vec<String>,
}

/// Lines of code containing any of `needles`, as violations (this file names them all).
fn lines_with(src: &Source, needles: &[&str]) -> Vec<String> {
    if src.path == "harness/tests/tidy.rs" {
        return vec![];
    }
    src.code()
        .filter(|(_, l)| needles.iter().any(|n| l.contains(n)))
        .map(|(n, l)| format!("{}:{n}: {}", src.path, l.trim()))
        .collect()
}

const WALL_CLOCK: &[&str] = &[
    "SystemTime::now",
    "Utc::now",
    "Local::now",
    "OffsetDateTime::now",
];
const OS_RANDOM: &[&str] = &[
    "OsRng",
    "thread_rng",
    "rand::random",
    "rand::rng()",
    "getrandom::",
];
const LONGEST_FILE: usize = 800;
/// login-core's layers above its domain.
const LAYERS: &[&str] = &["store", "http", "service", "wechat"];
/// The attributes that switch a test off or make it pass by failing (spelt in two parts, so this
/// file does not name them whole).
const SWITCHED_OFF: &[&str] = &[concat!("#[", "ignore"), concat!("#[", "should_panic")];

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            name: "every file says what it is for",
            keeps: "Every Rust file opens with a `//!` comment saying what it is for.",
            allowed: &[],
            check: |src| match src.lines.first() {
                Some(l) if l.starts_with("//!") => vec![],
                _ => vec![format!("{}:1: does not open with `//!`", src.path)],
            },
        },
        Rule {
            name: "the system clock only in the clock modules",
            keeps: "Nothing outside `clock.rs` reads the system clock; every expiry uses the virtual clock.",
            allowed: &[
                (
                    "mock-server/tests/it/cli.rs",
                    "checks that `--clock system` starts at the system's time",
                ),
                (
                    "login-core/src/store/postgres/testing.rs",
                    "test schemas carry their creation time, so a later run removes the ones a killed run left",
                ),
            ],
            check: |src| {
                if src.path.ends_with("src/clock.rs") {
                    return vec![];
                }
                lines_with(src, WALL_CLOCK)
            },
        },
        Rule {
            name: "OS randomness only in login-core's random.rs",
            keeps: "login-core reads dates only from its injected `Clock` and randomness only from its `Random`",
            allowed: &[
                (
                    "login-core/src/store/postgres/testing.rs",
                    "test schema names must differ between concurrent test processes on one server, whatever their seeds",
                ),
                (
                    "login-core/src/store/redis/testing.rs",
                    "test key prefixes must differ between concurrent test processes on one Redis, whatever their seeds",
                ),
            ],
            check: |src| {
                if src.path == "login-core/src/random.rs" {
                    return vec![];
                }
                lines_with(src, OS_RANDOM)
            },
        },
        Rule {
            name: "login-core's handlers touch neither SQL, WeChat nor the store",
            keeps: "login-core: handlers never touch SQL or WeChat; services never build HTTP responses:",
            allowed: &[],
            check: |src| {
                if !src.under("login-core/src/http/") {
                    return vec![];
                }
                lines_with(src, &["sqlx", "reqwest", "crate::store"])
            },
        },
        Rule {
            name: "login-core's services, store and WeChat client know no HTTP framework",
            keeps: "login-core: handlers never touch SQL or WeChat; services never build HTTP responses:",
            allowed: &[],
            check: |src| {
                let layered = ["service/", "store/", "wechat/"]
                    .iter()
                    .any(|d| src.under(&format!("login-core/src/{d}")));
                if !layered {
                    return vec![];
                }
                lines_with(src, &["axum"])
            },
        },
        Rule {
            name: "login-core's domain names no layer",
            keeps: "login-core: `domain` imports nothing of `store`, `http`, `service` or `wechat`",
            allowed: &[],
            check: |src| {
                let domain =
                    src.path == "login-core/src/domain.rs" || src.under("login-core/src/domain/");
                if !domain {
                    return vec![];
                }
                // Whole identifiers, so grouped (`crate::{clock, store}`) and multi-line
                // imports are caught too.
                src.code()
                    .filter(|(_, l)| {
                        l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .any(|word| LAYERS.contains(&word))
                    })
                    .map(|(n, l)| format!("{}:{n}: {}", src.path, l.trim()))
                    .collect()
            },
        },
        Rule {
            name: "the mock's engine knows no HTTP surface",
            keeps: "It imports neither the HTTP surfaces (`server`, `vendor`, `control`) nor `wire`.",
            allowed: &[],
            check: |src| {
                if !src.under("mock-server/src/engine/") {
                    return vec![];
                }
                lines_with(
                    src,
                    &[
                        "crate::server",
                        "crate::vendor",
                        "crate::control",
                        "crate::wire",
                        "axum",
                    ],
                )
            },
        },
        Rule {
            name: "the mock's request and answer vocabulary never imports the engine",
            keeps: "The modules that describe requests and answers (`endpoint`, `params`, `request`, `reply`,",
            allowed: &[],
            check: |src| {
                let describing = [
                    "endpoint.rs",
                    "params.rs",
                    "request.rs",
                    "reply.rs",
                    "catalogue.rs",
                    "wire.rs",
                    "faults.rs",
                    "journal.rs",
                    "users.rs",
                    "opendata/",
                ]
                .iter()
                .any(|m| src.under(&format!("mock-server/src/{m}")));
                if !describing {
                    return vec![];
                }
                lines_with(src, &["crate::engine"])
            },
        },
        Rule {
            name: "integration tests move clocks, never sleep",
            keeps: "Tests advance the virtual clock; integration tests never sleep, except where a real-time wait is the point (the allow-list says why)",
            allowed: &[],
            check: |src| {
                let integration = src.path.contains("/tests/") && !src.under("harness/tests/tidy");
                if !integration {
                    return vec![];
                }
                lines_with(src, &["sleep("])
            },
        },
        Rule {
            name: "no test is switched off",
            keeps: "Tests advance the virtual clock; integration tests never sleep, except where a real-time wait is the point (the allow-list says why)",
            allowed: &[],
            check: |src| lines_with(src, SWITCHED_OFF),
        },
        Rule {
            name: "files stay short enough to read",
            keeps: "No Rust file is longer than 800 lines unless the tidy test's allow-list says why.",
            allowed: &[
                (
                    "mock-server/tests/it/bad_input.rs",
                    "one table per surface, so the check that every endpoint and route meets every kind of bad input sees all cases at once",
                ),
                (
                    "login-core/tests/it/bad_input.rs",
                    "one table per surface, so the coverage check sees all cases at once",
                ),
                (
                    "mock-server/tests/it/sms.rs",
                    "Tencent Cloud's SendSms rules, each with its exact answer",
                ),
                (
                    "mock-server/tests/it/model/reference.rs",
                    "the reference model: WeChat's rules in one place, written from the reference",
                ),
                (
                    "mock-server/tests/it/model/runner.rs",
                    "the model test's runner: every action of the reference model as its HTTP call, one match",
                ),
                (
                    "login-core/tests/it/props_journeys.rs",
                    "the journey property test: its operations, model and runner share private types",
                ),
                (
                    "login-core/tests/it/props_phone.rs",
                    "the phone property test: its operations, model and runner share private types",
                ),
                (
                    "login-core/tests/it/props_opendata.rs",
                    "the open-data property test: its generators and oracle share private types",
                ),
                (
                    "login-core/tests/it/helpers.rs",
                    "the test app and its typed calls, used by every integration test",
                ),
                (
                    "harness/src/target/mod.rs",
                    "the target profile's types, defaults and validation: one public contract",
                ),
            ],
            check: |src| {
                if src.lines.len() > LONGEST_FILE {
                    vec![format!(
                        "{}: {} lines (more than {LONGEST_FILE})",
                        src.path,
                        src.lines.len()
                    )]
                } else {
                    vec![]
                }
            },
        },
    ]
}

#[test]
fn the_workspace_keeps_its_conventions() {
    let architecture = words(
        &std::fs::read_to_string(root().join("ARCHITECTURE.md"))
            .expect("ARCHITECTURE.md at the root"),
    );
    let sources = sources();
    let mut report = String::new();
    for rule in rules() {
        assert!(
            architecture.contains(&words(rule.keeps)),
            "rule `{}` keeps a line ARCHITECTURE.md no longer has: {:?}",
            rule.name,
            rule.keeps
        );
        let mut violations = Vec::new();
        let mut used = vec![false; rule.allowed.len()];
        for src in &sources {
            let found = (rule.check)(src);
            if found.is_empty() {
                continue;
            }
            match rule.allowed.iter().position(|(p, _)| *p == src.path) {
                Some(i) => used[i] = true,
                None => violations.extend(found),
            }
        }
        for ((path, _), used) in rule.allowed.iter().zip(used) {
            if !used {
                violations.push(format!(
                    "{path}: allowed, but no longer breaks the rule: remove it from the list"
                ));
            }
        }
        if !violations.is_empty() {
            let _ = writeln!(
                report,
                "\nrule `{}` (ARCHITECTURE.md: \"{}\"):",
                rule.name, rule.keeps
            );
            for v in violations {
                let _ = writeln!(report, "  {v}");
            }
        }
    }
    assert!(report.is_empty(), "conventions broken:{report}");
}

/// `text` with every run of whitespace (line breaks and indents included) as one space.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_allow_list_entry_says_why() {
    for rule in rules() {
        for (path, reason) in rule.allowed {
            assert!(
                reason.len() > 20,
                "rule `{}`: {path} needs a reason",
                rule.name
            );
        }
    }
}
