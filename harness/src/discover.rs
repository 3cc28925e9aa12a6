//! Finding scenario files: every `*.yaml` / `*.yml` below the given paths, sorted, and the
//! filters by name and tag.

use std::path::{Path, PathBuf};

use crate::scenario::Scenario;

/// Scenario files at or below `path` (a file is returned as is), sorted by path.
pub fn scenario_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk(path, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// A scenario file found below one of the paths asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The file, as reachable from the current directory.
    pub path: PathBuf,
    /// The file relative to the deepest folder holding every path asked for (`scenarios/` for
    /// `harness run scenarios`; `scenarios/` too for `harness run scenarios/login
    /// scenarios/phone`). Reports show this and group by its folder.
    pub relative: PathBuf,
}

impl Found {
    /// The folder of [`Found::relative`], with `/` separators; `.` for files at the root.
    pub fn folder(&self) -> String {
        match self.relative.parent() {
            Some(p) if !p.as_os_str().is_empty() => slashes(p),
            _ => ".".into(),
        }
    }

    /// [`Found::relative`] with `/` separators.
    pub fn relative_display(&self) -> String {
        slashes(&self.relative)
    }
}

fn slashes(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every scenario file below `paths`, in order of the paths and then by path, each once.
/// A path that does not exist is an error naming it.
pub fn find(paths: &[PathBuf]) -> Result<Vec<Found>, String> {
    let mut base: Option<PathBuf> = None;
    let mut files = Vec::new();
    for root in paths {
        if !root.exists() {
            return Err(format!("{}: no such file or directory", root.display()));
        }
        let dir = if root.is_file() {
            root.parent().unwrap_or(Path::new("")).to_owned()
        } else {
            root.clone()
        };
        base = Some(match base {
            None => dir,
            Some(b) => common_ancestor(&b, &dir),
        });
        files.extend(scenario_files(root).map_err(|e| format!("{}: {e}", root.display()))?);
    }
    let base = base.unwrap_or_default();
    let mut out: Vec<Found> = Vec::new();
    for path in files {
        if out.iter().any(|f| f.path == path) {
            continue;
        }
        let relative = path.strip_prefix(&base).unwrap_or(&path).to_owned();
        out.push(Found { path, relative });
    }
    Ok(out)
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

/// Which scenarios to run: `--name` (any of, a substring of the scenario's name or of its
/// file's path), `--tag` (any of) and `--skip-tag` (none of). Empty lists select everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Substrings of the name or path; a scenario matching any is selected.
    pub names: Vec<String>,
    /// Tags; a scenario with any of them is selected.
    pub tags: Vec<String>,
    /// Tags; a scenario with any of them is left out.
    pub skip_tags: Vec<String>,
}

impl Filter {
    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.tags.is_empty() && self.skip_tags.is_empty()
    }

    /// Whether a loaded scenario is selected.
    pub fn selects(&self, found: &Found, scenario: &Scenario) -> bool {
        self.name_matches(found, Some(&scenario.name))
            && (self.tags.is_empty() || scenario.tags.iter().any(|t| self.tags.contains(t)))
            && !scenario.tags.iter().any(|t| self.skip_tags.contains(t))
    }

    /// Whether a file that could not be loaded is selected: only `--name` can judge it (by
    /// path); tag filters cannot, and a broken file must not hide behind them, so it is kept.
    pub fn selects_unloadable(&self, found: &Found) -> bool {
        self.name_matches(found, None)
    }

    fn name_matches(&self, found: &Found, name: Option<&str>) -> bool {
        if self.names.is_empty() {
            return true;
        }
        let path = slashes(&found.path);
        self.names
            .iter()
            .any(|n| path.contains(n.as_str()) || name.is_some_and(|s| s.contains(n.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str, tags: &[&str]) -> Scenario {
        Scenario {
            name: name.into(),
            description: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            generate: Default::default(),
            cases: None,
            setup: Default::default(),
            steps: Vec::new(),
        }
    }

    fn found(p: &str) -> Found {
        Found {
            path: PathBuf::from("scenarios").join(p),
            relative: PathBuf::from(p),
        }
    }

    #[test]
    fn filters_by_name_path_and_tags() {
        let f = found("login/first.yaml");
        let s = scenario("A first login", &["login", "smoke"]);
        assert!(Filter::default().selects(&f, &s));
        let by = |names: &[&str], tags: &[&str], skip: &[&str]| Filter {
            names: names.iter().map(|x| (*x).to_owned()).collect(),
            tags: tags.iter().map(|x| (*x).to_owned()).collect(),
            skip_tags: skip.iter().map(|x| (*x).to_owned()).collect(),
        };
        assert!(by(&["first login"], &[], &[]).selects(&f, &s));
        assert!(by(&["login/"], &[], &[]).selects(&f, &s));
        assert!(by(&["nope", "first"], &[], &[]).selects(&f, &s));
        assert!(!by(&["phone"], &[], &[]).selects(&f, &s));
        assert!(by(&[], &["phone", "smoke"], &[]).selects(&f, &s));
        assert!(!by(&[], &["phone"], &[]).selects(&f, &s));
        assert!(!by(&[], &[], &["smoke"]).selects(&f, &s));
        assert!(!by(&["first"], &["login"], &["smoke"]).selects(&f, &s));
        assert!(by(&[], &["phone"], &[]).selects_unloadable(&f));
        assert!(!by(&["phone"], &[], &[]).selects_unloadable(&f));
    }

    #[test]
    fn paths_are_relative_to_the_common_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for f in [
            "login/a.yaml",
            "login/b.yml",
            "phone/c.yaml",
            "phone/notes.txt",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, "name: x").expect("write");
        }
        let rel = |paths: &[PathBuf]| -> Vec<String> {
            find(paths)
                .expect("found")
                .iter()
                .map(Found::relative_display)
                .collect()
        };
        assert_eq!(
            rel(&[root.to_owned()]),
            ["login/a.yaml", "login/b.yml", "phone/c.yaml"]
        );
        assert_eq!(
            rel(&[root.join("phone"), root.join("login")]),
            ["phone/c.yaml", "login/a.yaml", "login/b.yml"]
        );
        assert_eq!(rel(&[root.join("login")]), ["a.yaml", "b.yml"]);
        assert_eq!(
            rel(&[root.join("login/a.yaml"), root.join("login")]),
            ["a.yaml", "b.yml"]
        );
        assert!(find(&[root.join("nope")]).is_err());
    }

    #[test]
    fn folders_use_slashes() {
        assert_eq!(found("login/a/b.yaml").folder(), "login/a");
        assert_eq!(found("b.yaml").folder(), ".");
        assert_eq!(found("login/a/b.yaml").relative_display(), "login/a/b.yaml");
    }
}
